/* Accuracy-driven fallback (cquant_ptq_fallback, docs/calibration.md eq. F1-F3) against the former
 * greedy loop (cquant_ptq_fallback_greedy): at most L + 10 evaluations, the budget met whenever the
 * greedy loop meets it, no more layers in float than the greedy loop keeps, and the sensitivity
 * reused in the report. On the shipped models/fmnist_cnn.onnx and models/fmnist_resnet.onnx with
 * int4 weights (Debian's fashion-mnist data) and on a 56-layer MLP built here whose labels are its
 * own float predictions (top-1 = agreement with the float model). Prints the evaluation counts. */
#include "onnx_build.h"

/* The figures of one comparison. */
typedef struct {
  int L, evals, kept, met, greedy_evals, greedy_kept, greedy_met;
  double fl, base, top1, greedy_top1;
} cmp_t;

static void clear_exclusions(cquant_ptq_t *p, const cquant_ptq_result_t *r) {
  for (int k = 0; k < r->n_fallback; k++) cquant_ptq_exclude(p, r->fallback[k].node, 0);
}

/* Calibrates, chooses, runs both fallbacks from the same start with budget drop0 * frac (or
 * `budget` when >= 0) and checks what both promise. */
static void compare(const char *what, const cquant_onnx_model_t *m, cquant_dtype_t wdt, cquant_data_t *cal, cquant_data_t *ev, double frac,
                    double budget, cmp_t *c) {
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  o.weight_dtype = wdt, o.weight_mse = 0;
  cquant_ptq_t *p = NULL;
  memset(c, 0, sizeof *c);
  CHECKF(cquant_ptq_create(m, &o, &p) == 0, "%s", cquant_last_error());
  if (!p) return;
  CHECKF(cquant_ptq_calibrate_data(p, cal, NULL, NULL) == 0, "%s", cquant_last_error());
  cquant_ptq_result_t r = {0}, g;
  CHECKF(cquant_ptq_choose(p, ev, &r) == 0, "%s", cquant_last_error());
  g = r;
  c->L = cquant_ptq_num_layers(p);
  c->fl = r.float_eval.top1, c->base = r.final.integer.top1;
  const double P = budget >= 0 ? budget : (c->fl - c->base) * frac;
  CHECKF(c->fl - c->base > P, "%s: the start already meets the budget (float %.2f, integer %.2f)", what, c->fl, c->base);

  CHECKF(cquant_ptq_fallback(p, ev, P, &r) == 0, "%s", cquant_last_error());
  c->evals = r.n_fallback_evals, c->kept = r.n_fallback, c->met = r.fallback_met, c->top1 = r.final.integer.top1;
  CHECKF(c->evals <= c->L + 10, "%s: %d evaluations for %d layers", what, c->evals, c->L);
  CHECK(r.fallback_met == (c->fl - c->top1 <= P));
  /* the sensitivity: every layer measured and ranked once, the chosen ones the top of the ranking */
  int ranks = 0;
  for (int i = 0; i < c->L && r.sensitivity_rank; i++) ranks += r.sensitivity_rank[i] >= 0;
  CHECK(r.sensitivity && r.sensitivity_rank && ranks == c->L);
  for (int k = 0; k < r.n_fallback && r.sensitivity_rank; k++) {
    cquant_ptq_layer_t ly;
    int found = 0;
    for (int i = 0; i < c->L; i++)
      if (!cquant_ptq_layer(p, i, &ly) && !strcmp(ly.node, r.fallback[k].node)) {
        found = 1;
        CHECK(r.sensitivity_rank[i] == k && ly.excluded);
      }
    CHECK(found);
  }
  if (getenv("FB_DEBUG")) {
    for (int i = 0; i < c->L; i++) printf("    layer %d: alone-quantized %.2f rank %d\n", i, r.sensitivity[i], r.sensitivity_rank[i]);
  }
  /* the report carries the same numbers */
  if (cquant_data_rewind(ev) == 0) {
    const cquant_array_t *x;
    const int64_t *lab;
    int64_t first;
    cquant_ptq_report_t *rep = NULL;
    char *json = NULL;
    CHECK(cquant_data_next(ev, &x, &lab, &first) == 1);
    CHECKF(cquant_ptq_report(p, r.method, x, &r, &rep) == 0, "%s", cquant_last_error());
    for (int i = 0; rep && i < rep->n_layers; i++) {
      CHECK(rep->layers[i].has_sensitivity && rep->layers[i].sensitivity_rank == r.sensitivity_rank[i]);
      CHECK(fabs(rep->layers[i].sensitivity_drop - (c->fl - r.sensitivity[i])) < 1e-9);
    }
    CHECK(rep && cquant_ptq_report_json(rep, &json) == 0 && json && strstr(json, "\"sensitivity\"") && strstr(json, "\"rank\""));
    free(json);
    cquant_ptq_report_free(rep);
  }

  clear_exclusions(p, &r);
  g.fallback = NULL, g.n_fallback = 0, g.sensitivity = NULL, g.sensitivity_rank = NULL;
  CHECKF(cquant_ptq_fallback_greedy(p, ev, P, &g) == 0, "%s", cquant_last_error());
  c->greedy_evals = g.n_fallback_evals, c->greedy_kept = g.n_fallback, c->greedy_met = g.fallback_met, c->greedy_top1 = g.final.integer.top1;
  if (c->greedy_met) CHECKF(c->met && c->kept <= c->greedy_kept, "%s: %d layers in float (met %d) against greedy %d", what, c->kept, c->met, c->greedy_kept);
  printf("  %s: L=%d, float %.2f%%, integer %.2f%%, budget %.2f pt: bisection %d evaluations, %d in float, %.2f%% (met %d); "
         "greedy %d evaluations, %d in float, %.2f%% (met %d)\n",
         what, c->L, c->fl, c->base, P, c->evals, c->kept, c->top1, c->met, c->greedy_evals, c->greedy_kept, c->greedy_top1, c->greedy_met);
  free(r.fallback), free(r.sensitivity), free(r.sensitivity_rank);
  free(g.fallback);
  cquant_ptq_free(p);
}

static void shipped(const char *file, double frac) {
  char path[512];
  snprintf(path, sizeof path, "%s/models/%s", CQUANT_SOURCE_DIR, file);
  cquant_onnx_model_t *m = NULL;
  CHECKF(cquant_onnx_load(path, &m) == 0, "%s", cquant_last_error());
  if (!m) return;
  double mean = 0, std = 1;
  CHECK(cquant_model_normalization(m, &mean, &std) == 0);
  cquant_data_t *cal = NULL, *ev = NULL;
  CHECKF(cquant_data_open("fashion-mnist:train:500", (float)mean, (float)std, 100, &cal) == 0, "%s", cquant_last_error());
  CHECKF(cquant_data_open("fashion-mnist:test:500", (float)mean, (float)std, 250, &ev) == 0, "%s", cquant_last_error());
  cmp_t c;
  if (cal && ev) compare(file, m, CQUANT_DT_S4, cal, ev, frac, -1, &c);
  cquant_data_close(cal);
  cquant_data_close(ev);
  cquant_onnx_free(m);
}

static void test_cnn(void) { shipped("fmnist_cnn.onnx", 0.3); }
static void test_resnet(void) { shipped("fmnist_resnet.onnx", 0.3); }

/* ---- a 56-layer MLP (Gemm + Relu, width 32) on random inputs; labels: its float predictions ---- */
#define DEPTH 56
#define WIDTH 32
#define NBATCH 4
#define BATCH 128
static cquant_array_t xb[NBATCH], lb[NBATCH];
typedef struct {
  int i;
} src_t;
static int src_next(void *user, const cquant_array_t **x, const cquant_array_t **l) {
  src_t *s = user;
  if (s->i >= NBATCH) return 0;
  *x = &xb[s->i], *l = &lb[s->i];
  s->i++;
  return 1;
}
static int src_rewind(void *user) {
  ((src_t *)user)->i = 0;
  return 0;
}

static cquant_onnx_model_t *deep_mlp(void) {
  static const int64_t wd[2] = {WIDTH, WIDTH}, wo[2] = {WIDTH, 10};
  Onnx__NodeProto *nodes[2 * DEPTH];
  Onnx__TensorProto *inits[DEPTH];
  const char *prev = "x";
  int nn = 0;
  for (int l = 0; l < DEPTH; l++) {
    char *w = tb_malloc(16), *y = tb_malloc(16), *a = tb_malloc(16);
    snprintf(w, 16, "w%d", l), snprintf(y, 16, "gemm%d", l), snprintf(a, 16, "relu%d", l);
    const int last = l == DEPTH - 1;
    /* uniform in +-1.9/sqrt(32): He's bound (sqrt(6/32)) makes every sample's logits agree on one
     * class; with this one the float predictions spread over the classes */
    const float lim = 1.9f / sqrtf((float)WIDTH);
    inits[l] = tensor(w, 2, last ? wo : wd, -lim, lim);
    const char **in = tb_malloc(2 * sizeof *in);
    in[0] = prev, in[1] = w;
    nodes[nn++] = node("Gemm", 2, in, last ? "logits" : y);
    if (!last) {
      const char **ri = tb_malloc(sizeof *ri);
      ri[0] = y;
      nodes[nn++] = node("Relu", 1, ri, a);
      prev = a;
    }
  }
  static const char *ins[1] = {"x"}, *outs[1] = {"logits"};
  return load_model(graph("deep_mlp", nn, nodes, 1, ins, 1, outs, DEPTH, inits));
}

static void test_deep(void) {
  cquant_onnx_model_t *m = deep_mlp();
  CHECK(m != NULL);
  if (!m) return;
  for (int b = 0; b < NBATCH; b++) {
    const int64_t sh[2] = {BATCH, WIDTH}, ls[1] = {BATCH};
    CHECK(cquant_array_alloc(&xb[b], CQUANT_DT_F32, 2, sh) == 0 && cquant_array_alloc(&lb[b], CQUANT_DT_S64, 1, ls) == 0);
    for (int64_t i = 0; i < BATCH * WIDTH; i++) ((float *)xb[b].data)[i] = th_gauss();
    memset(lb[b].data, 0, sizeof(int64_t) * BATCH);
  }
  src_t s = {0};
  cquant_data_callbacks_t cb = {&s, src_next, src_rewind, "deep"};
  cquant_data_t *d = NULL;
  CHECK(cquant_data_from_callbacks(&cb, &d) == 0);
  int32_t pred[NBATCH * BATCH];
  cquant_eval_result_t er;
  CHECKF(d && cquant_eval_top1(m, d, &er, pred) == 0, "%s", cquant_last_error());
  for (int b = 0; b < NBATCH; b++)
    for (int i = 0; i < BATCH; i++) ((int64_t *)lb[b].data)[i] = pred[b * BATCH + i];
  cmp_t c;
  if (d) compare("56-layer MLP (labels: float predictions)", m, CQUANT_DT_S4, d, d, 0.25, -1, &c);
  CHECK(c.L == DEPTH && c.fl == 100.0);
  cquant_data_close(d);
  cquant_onnx_free(m);
  for (int b = 0; b < NBATCH; b++) cquant_array_free(&xb[b]), cquant_array_free(&lb[b]);
}

/* Argument checks; a budget no configuration meets keeps the best one evaluated. */
static void test_errors(void) {
  cquant_ptq_result_t r = {0};
  CHECK(cquant_ptq_fallback(NULL, NULL, 1, &r) == CQUANT_STATUS_INVALID_ARGUMENT);
}

TH_MAIN(T(test_errors), T(test_cnn), T(test_resnet), T(test_deep))
