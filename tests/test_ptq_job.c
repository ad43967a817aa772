/* The PTQ job through the library API (include/cquant/ptq.h, data.h): a source made of callbacks
 * gives the same file as the same batches read from a folder spec; the step-by-step calls give the
 * same file as the one-call job; results and errors are what the API promises. Uses the shipped
 * models/fmnist_cnn.onnx and Debian's fashion-mnist data. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cquant/cquant.h"
#include "harness.h"

double cquant__mcnemar_p(int64_t n_ab, int64_t n_ba); /* src/ptq/ptq_internal.h */

#define MODEL CQUANT_SOURCE_DIR "/models/fmnist_cnn.onnx"
#define NB 4   /* batches */
#define BS 50  /* samples per batch */

static char tmpdir[] = "/tmp/cquant_job.XXXXXX";
static cquant_array_t images, labels;
static cquant_array_t batch[NB], lab[NB], pred_lab[NB];

static int load_data(void) {
  if (images.data) return 0;
  if (!mkdtemp(tmpdir)) return -1;
  if (cquant_dataset_load("fashion-mnist:train:200", NULL, 0.2860f, 0.3530f, &images, &labels)) return -1;
  for (int b = 0; b < NB; b++) {
    int64_t sh[4] = {BS, 1, 28, 28}, ls[1] = {BS};
    if (cquant_array_alloc(&batch[b], CQUANT_DT_F32, 4, sh) || cquant_array_alloc(&lab[b], CQUANT_DT_S64, 1, ls)) return -1;
    memcpy(batch[b].data, (const float *)images.data + (int64_t)b * BS * 784, sizeof(float) * BS * 784);
    memcpy(lab[b].data, (const int64_t *)labels.data + (int64_t)b * BS, sizeof(int64_t) * BS);
    char path[256];
    snprintf(path, sizeof path, "%s/b%d.npy", tmpdir, b);
    if (cquant_npy_save(path, CQUANT_DT_F32, 4, sh, batch[b].data)) return -1;
  }
  return 0;
}

typedef struct {
  int i, fail_at, with_labels; /* with_labels 2: the float model's predictions as labels */
} cb_state_t;

static int cb_next(void *user, const cquant_array_t **x, const cquant_array_t **l) {
  cb_state_t *s = user;
  if (s->i == s->fail_at) return cquant_set_error(CQUANT_STATUS_IO, "the source broke");
  if (s->i >= NB) return 0;
  *x = &batch[s->i];
  if (s->with_labels) *l = s->with_labels == 2 ? &pred_lab[s->i] : &lab[s->i];
  s->i++;
  return 1;
}
static int cb_rewind(void *user) {
  ((cb_state_t *)user)->i = 0;
  return 0;
}

static int read_file(const char *path, void **buf, size_t *len) { return cquant_file_read(path, buf, len); }

static int same_files(const char *a, const char *b) {
  void *x = NULL, *y = NULL;
  size_t nx = 0, ny = 0;
  int same = !read_file(a, &x, &nx) && !read_file(b, &y, &ny) && nx == ny && nx > 0 && !memcmp(x, y, nx);
  free(x), free(y);
  return same;
}

static void test_callbacks_equal_folder(void) {
  CHECK(load_data() == 0);
  cquant_onnx_model_t *m;
  CHECK(cquant_onnx_load(MODEL, &m) == 0);
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  char out1[300], out2[300];
  snprintf(out1, sizeof out1, "%s/cb.onnx", tmpdir);
  snprintf(out2, sizeof out2, "%s/dir.onnx", tmpdir);
  cb_state_t s = {0, -1, 0};
  cquant_data_callbacks_t cb = {&s, cb_next, cb_rewind, "batches"};
  cquant_data_t *d1, *d2;
  CHECK(cquant_data_from_callbacks(&cb, &d1) == 0);
  CHECK(cquant_data_open(tmpdir, 0, 1, 0, &d2) == 0);
  cquant_ptq_job_t j1 = {d1, NULL, out1, CQUANT_PTQ_QDQ, -1, 0, NULL, NULL}, j2 = {d2, NULL, out2, CQUANT_PTQ_QDQ, -1, 0, NULL, NULL};
  cquant_ptq_result_t *r1 = NULL, *r2 = NULL;
  CHECKF(cquant_ptq_run_job(m, &o, &j1, &r1) == 0, "%s", cquant_last_error());
  CHECKF(cquant_ptq_run_job(m, &o, &j2, &r2) == 0, "%s", cquant_last_error());
  CHECK(r1 && r1->n_calib == NB * BS && r1->n_layers == 4 && r1->output_bytes > 0 && !r1->report);
  CHECK(same_files(out1, out2));
  cquant_ptq_result_free(r1);
  cquant_ptq_result_free(r2);
  cquant_data_close(d1);
  cquant_data_close(d2);
  cquant_onnx_free(m);
}

static void test_steps_equal_job(void) {
  CHECK(load_data() == 0);
  cquant_onnx_model_t *m;
  CHECK(cquant_onnx_load(MODEL, &m) == 0);
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  o.methods = 1u << CQUANT_CALIB_ENTROPY | 1u << CQUANT_CALIB_MINMAX;
  o.order[0] = CQUANT_CALIB_ENTROPY, o.order[1] = CQUANT_CALIB_MINMAX, o.n_order = 2;
  char out1[300], out2[300], rep[300];
  snprintf(out1, sizeof out1, "%s/job.onnx", tmpdir);
  snprintf(out2, sizeof out2, "%s/steps.onnx", tmpdir);
  snprintf(rep, sizeof rep, "%s/report.json", tmpdir);
  cb_state_t se = {0, -1, 1};
  cquant_data_callbacks_t cbe = {&se, cb_next, cb_rewind, "eval"};
  cquant_data_t *cal, *ev;
  CHECK(cquant_data_open(tmpdir, 0, 1, 0, &cal) == 0);
  CHECK(cquant_data_from_callbacks(&cbe, &ev) == 0);
  cquant_ptq_job_t j = {cal, ev, out1, CQUANT_PTQ_QDQ, -1, 1, rep, NULL};
  cquant_ptq_result_t *r = NULL;
  CHECKF(cquant_ptq_run_job(m, &o, &j, &r) == 0, "%s", cquant_last_error());
  CHECK(r && r->evaluated && r->n_methods == 2 && r->methods[0].method == CQUANT_CALIB_ENTROPY && r->best >= 0);
  CHECK(r && r->float_eval.n == NB * BS && r->float_eval.top1 > 50 && r->final.integer.top1 > 50);
  CHECK(r && r->method == r->methods[r->best].method && r->methods[r->best].integer.top1 >= r->methods[1 - r->best].integer.top1);
  CHECK(r && r->report && r->report->n_layers == 4 && r->report->has_top1 && r->report->has_input);
  for (int i = 0; r && r->report && i < r->report->n_layers; i++)
    CHECK(r->report->layers[i].has_output_sqnr && r->report->layers[i].output_sqnr_db > 10 && r->report->layers[i].has_weights);
  struct stat sb;
  CHECK(stat(rep, &sb) == 0 && sb.st_size > 100);
  /* the same by steps */
  cquant_ptq_t *p;
  CHECK(cquant_ptq_create(m, &o, &p) == 0);
  int64_t n = 0;
  CHECK(cquant_ptq_calibrate_data(p, cal, &n, NULL) == 0 && n == NB * BS);
  cquant_ptq_result_t rs;
  memset(&rs, 0, sizeof rs);
  CHECK(cquant_ptq_choose(p, ev, &rs) == 0 && rs.method == r->method);
  CHECK(rs.final.integer.top1 == r->final.integer.top1);
  CHECK(cquant_ptq_save(p, rs.method, CQUANT_PTQ_QDQ, out2, NULL) == 0);
  CHECK(same_files(out1, out2));
  /* exporting again after an exclusion and back gives the same bytes (cached weights reused) */
  cquant_ptq_layer_t ly;
  CHECK(cquant_ptq_layer(p, 0, &ly) == 0);
  CHECK(cquant_ptq_exclude(p, ly.node, 1) == 0);
  CHECK(cquant_ptq_save(p, rs.method, CQUANT_PTQ_QDQ, out2, NULL) == 0);
  CHECK(!same_files(out1, out2));
  CHECK(cquant_ptq_exclude(p, ly.node, 0) == 0);
  CHECK(cquant_ptq_save(p, rs.method, CQUANT_PTQ_QDQ, out2, NULL) == 0);
  CHECK(same_files(out1, out2));
  cquant_ptq_free(p);
  cquant_ptq_result_free(r);
  cquant_data_close(cal);
  cquant_data_close(ev);
  cquant_onnx_free(m);
}

/* Method m's file, from the public API, run in integer execution on ev: its SQNR against the float
 * model fl (the reference of the choice's measurement; fl non-NULL) or its predicted classes (pred). */
static double file_eval(cquant_ptq_t *p, const cquant_onnx_model_t *fl, cquant_calib_method_t m, cquant_data_t *ev, int32_t *pred) {
  char path[300];
  snprintf(path, sizeof path, "%s/file_eval.onnx", tmpdir);
  cquant_onnx_model_t *q = NULL, *im = NULL;
  cquant_eval_result_t e = {0};
  int n;
  CHECK(cquant_ptq_save(p, m, CQUANT_PTQ_QDQ, path, NULL) == 0 && cquant_onnx_load(path, &q) == 0);
  CHECK(q && cquant_onnx_integerize(q, &im, &n) == 0 && (fl ? cquant_eval_sqnr(fl, im, ev, &e) : cquant_eval_top1(im, ev, &e, pred)) == 0);
  cquant_onnx_free(im);
  cquant_onnx_free(q);
  unlink(path);
  return e.sqnr_db;
}

/* A session choosing between percentile pct (first) and min-max (second), calibrated on cal. */
static cquant_ptq_t *percentile_minmax(const cquant_onnx_model_t *m, double pct, cquant_data_t *cal) {
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  o.methods = 1u << CQUANT_CALIB_PERCENTILE | 1u << CQUANT_CALIB_MINMAX;
  o.percentile = pct;
  o.order[0] = CQUANT_CALIB_PERCENTILE, o.order[1] = CQUANT_CALIB_MINMAX, o.n_order = 2;
  cquant_ptq_t *p = NULL;
  CHECK(cquant_ptq_create(m, &o, &p) == 0 && cquant_ptq_calibrate_data(p, cal, NULL, NULL) == 0);
  return p;
}

/* The labels the callback source gives with with_labels 2: y[i] for sample i (pred_lab, freed by the
 * caller). */
static void set_labels(const int32_t *y) {
  for (int b = 0; b < NB; b++) {
    int64_t ls[1] = {BS};
    CHECK(cquant_array_alloc(&pred_lab[b], CQUANT_DT_S64, 1, ls) == 0);
    for (int i = 0; i < BS; i++) ((int64_t *)pred_lab[b].data)[i] = y[b * BS + i];
  }
}

/* Equal integer top-1s go to the method whose integer output is closer to float (eq. M1), not to
 * the earlier one. The labels are the float model's own predictions, on which both methods here
 * score 100%: percentile 99 (clips the tail of every activation: lower SQNR) first, min-max second. */
static void test_tie_broken_by_sqnr(void) {
  CHECK(load_data() == 0);
  cquant_onnx_model_t *m;
  CHECK(cquant_onnx_load(MODEL, &m) == 0);
  cb_state_t se = {0, -1, 1};
  cquant_data_callbacks_t cbe = {&se, cb_next, cb_rewind, "eval"};
  cquant_data_t *ev, *cal;
  CHECK(cquant_data_from_callbacks(&cbe, &ev) == 0);
  int32_t pred[NB * BS];
  cquant_eval_result_t fe;
  CHECK(cquant_eval_top1(m, ev, &fe, pred) == 0 && fe.n == NB * BS);
  set_labels(pred);
  se.with_labels = 2;
  CHECK(cquant_data_open(tmpdir, 0, 1, 0, &cal) == 0);
  cquant_ptq_t *p = percentile_minmax(m, 99.0, cal);
  cquant_ptq_result_t r;
  memset(&r, 0, sizeof r);
  CHECKF(cquant_ptq_choose(p, ev, &r) == 0, "%s", cquant_last_error());
  CHECK(r.n_methods == 2 && r.float_eval.top1 == 100.0);
  CHECKF(r.methods[0].integer.top1 == r.methods[1].integer.top1, "%.2f %.2f", r.methods[0].integer.top1, r.methods[1].integer.top1);
  CHECK(r.methods[0].tie_measured && r.methods[1].tie_measured);
  const double s0 = file_eval(p, m, CQUANT_CALIB_PERCENTILE, ev, NULL), s1 = file_eval(p, m, CQUANT_CALIB_MINMAX, ev, NULL);
  CHECKF(fabs(r.methods[0].tie_sqnr_db - s0) < 0.05 && fabs(r.methods[1].tie_sqnr_db - s1) < 0.05, "%.3f %.3f / %.3f %.3f",
         r.methods[0].tie_sqnr_db, s0, r.methods[1].tie_sqnr_db, s1);
  CHECKF(s1 > s0 + 1, "minmax %.2f dB, percentile 99 %.2f dB", s1, s0);
  CHECK(r.best == 1 && r.method == CQUANT_CALIB_MINMAX && r.final.method == CQUANT_CALIB_MINMAX);
  /* a lead beyond chance measures nothing more: percentile 10 clips nearly everything (a top-1 far lower) */
  cquant_ptq_free(p);
  p = percentile_minmax(m, 10.0, cal);
  memset(&r, 0, sizeof r);
  CHECK(cquant_ptq_choose(p, ev, &r) == 0 && r.n_methods == 2);
  CHECKF(r.methods[0].integer.top1 < r.methods[1].integer.top1, "%.2f %.2f", r.methods[0].integer.top1, r.methods[1].integer.top1);
  CHECK(!r.methods[0].tie_measured && !r.methods[1].tie_measured && r.best == 1);
  cquant_ptq_free(p);
  for (int b = 0; b < NB; b++) cquant_array_free(&pred_lab[b]);
  cquant_data_close(cal);
  cquant_data_close(ev);
  cquant_onnx_free(m);
}

/* McNemar's exact p (eq. M2) from the binomial terms C(m, i) / 2^m made by the recurrence
 * log t(i + 1) = log t(i) + log(m - i) - log(i + 1) from log t(0) = -m log 2 (no log-gamma, as the
 * library uses; the log keeps m in the millions from underflowing). */
static double binom_p(int64_t a, int64_t b) {
  const int64_t m = a + b, k = a < b ? a : b;
  if (a == b) return 1.0;
  double lt = -(double)m * log(2.0), sum = 0;
  for (int64_t i = 0; i <= k; i++) sum += exp(lt), lt += log((double)(m - i)) - log((double)(i + 1));
  return 2 * sum < 1 ? 2 * sum : 1.0;
}

static void test_mcnemar(void) {
  CHECK(fabs(cquant__mcnemar_p(5, 1) - 14.0 / 64) < 1e-12); /* 2 (C(6,0) + C(6,1)) / 2^6 */
  CHECK(cquant__mcnemar_p(0, 0) == 1.0 && cquant__mcnemar_p(7, 7) == 1.0 && cquant__mcnemar_p(0, 1) == 1.0);
  CHECK(fabs(cquant__mcnemar_p(10, 0) - 2.0 / 1024) < 1e-15);
  const int64_t cases[][2] = {{40, 60}, {60, 40}, {201, 223}, {300, 380}, {3, 17}, {500, 501}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const double got = cquant__mcnemar_p(cases[i][0], cases[i][1]), want = binom_p(cases[i][0], cases[i][1]);
    CHECKF(fabs(got - want) <= 1e-9 * want + 1e-300, "%lld / %lld: %.12g, want %.12g", (long long)cases[i][0], (long long)cases[i][1], got, want);
  }
  CHECK(cquant__mcnemar_p(300, 380) < 0.01 && cquant__mcnemar_p(201, 223) > 0.3); /* 680 discordant: 80 apart is beyond chance, 22 of 424 is not */
  /* a million discordant samples (p near the 0.05 of eq. M1; normal approximation 2 (1 - Phi(1.999)) = 0.0456) */
  const double big = cquant__mcnemar_p(499000, 501000), want = binom_p(499000, 501000);
  CHECKF(fabs(big - want) <= 1e-6 * want && fabs(big - 0.0456) < 1e-3, "%.9f, want %.9f", big, want);
}

/* A top-1 lead within chance does not decide (eq. M1). Labels are min-max's own integer predictions
 * except on F of the D samples where percentile 60 (clips much of every range: the lower SQNR) gives
 * another class, which take percentile's: percentile is right on F of them, min-max on D - F, and
 * McNemar's p of min-max against percentile is that of the split D - F / F. F = D / 2 + 1 (a lead of
 * 1 or 2 samples) and the largest F whose p is still >= 0.05: min-max is chosen by SQNR. The next F
 * (p < 0.05) and F = D: a lead beyond chance, percentile is chosen and no SQNR is measured. The two
 * middle cases pin the rule's threshold to 0.05 within one sample. */
static void test_chance_lead_goes_to_sqnr(void) {
  CHECK(load_data() == 0);
  cquant_onnx_model_t *m;
  CHECK(cquant_onnx_load(MODEL, &m) == 0);
  cb_state_t se = {0, -1, 1};
  cquant_data_callbacks_t cbe = {&se, cb_next, cb_rewind, "eval"};
  cquant_data_t *ev, *cal;
  CHECK(cquant_data_from_callbacks(&cbe, &ev) == 0);
  int32_t pp[NB * BS], pm[NB * BS], y[NB * BS];
  CHECK(cquant_data_open(tmpdir, 0, 1, 0, &cal) == 0);
  cquant_ptq_t *p = percentile_minmax(m, 60.0, cal);
  file_eval(p, NULL, CQUANT_CALIB_PERCENTILE, ev, pp);
  file_eval(p, NULL, CQUANT_CALIB_MINMAX, ev, pm);
  int d = 0;
  for (int i = 0; i < NB * BS; i++) d += pp[i] != pm[i];
  CHECKF(d >= 10, "percentile 60 and min-max differ on %d samples", d);
  int f_hi = d / 2 + 1;
  while (f_hi < d && binom_p(d - (f_hi + 1), f_hi + 1) >= CQUANT_PTQ_CHOICE_P) f_hi++;
  const int flips[4] = {d / 2 + 1, f_hi, f_hi + 1, d};
  for (int c = 0; c < 4; c++) {
    for (int j = 0, f = 0; j < NB * BS; j++) {
      const int flip = pp[j] != pm[j] && f < flips[c];
      y[j] = flip ? pp[j] : pm[j];
      f += flip;
    }
    set_labels(y);
    se.with_labels = 2;
    cquant_ptq_result_t r;
    memset(&r, 0, sizeof r);
    CHECKF(cquant_ptq_choose(p, ev, &r) == 0, "%s", cquant_last_error());
    const cquant_ptq_method_eval_t *e0 = &r.methods[0], *e1 = &r.methods[1];
    const int64_t won = d - flips[c], lost = flips[c]; /* min-max against percentile */
    const double want_p = binom_p(won, lost);
    CHECKF(e0->integer.top1 > e1->integer.top1, "F %d: %.2f %.2f", flips[c], e0->integer.top1, e1->integer.top1);
    CHECKF(e0->mcnemar_p == 1.0 && e1->mcnemar_won == won && e1->mcnemar_lost == lost && fabs(e1->mcnemar_p - want_p) < 1e-9 * want_p,
           "F %d: %lld / %lld p %.4f; want %lld / %lld p %.4f", flips[c], (long long)e1->mcnemar_won, (long long)e1->mcnemar_lost, e1->mcnemar_p,
           (long long)won, (long long)lost, want_p);
    if (c < 2) {
      CHECKF(want_p >= CQUANT_PTQ_CHOICE_P, "F %d: p %.4f", flips[c], want_p);
      CHECK(e0->tie_measured && e1->tie_measured);
      CHECKF(e1->tie_sqnr_db > e0->tie_sqnr_db + 1, "minmax %.2f dB, percentile 60 %.2f dB", e1->tie_sqnr_db, e0->tie_sqnr_db);
      CHECKF(r.best == 1 && r.method == CQUANT_CALIB_MINMAX && r.final.method == CQUANT_CALIB_MINMAX, "F %d, p %.4f", flips[c], want_p);
    } else {
      CHECKF(want_p < CQUANT_PTQ_CHOICE_P, "F %d: p %.4f", flips[c], want_p);
      CHECKF(!e0->tie_measured && !e1->tie_measured && r.best == 0 && r.method == CQUANT_CALIB_PERCENTILE, "F %d, p %.4f", flips[c], want_p);
    }
    for (int b = 0; b < NB; b++) cquant_array_free(&pred_lab[b]);
  }
  cquant_ptq_free(p);
  cquant_data_close(cal);
  cquant_data_close(ev);
  cquant_onnx_free(m);
}

static void test_errors(void) {
  CHECK(load_data() == 0);
  cquant_onnx_model_t *m;
  CHECK(cquant_onnx_load(MODEL, &m) == 0);
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  char out[300];
  snprintf(out, sizeof out, "%s/never.onnx", tmpdir);
  /* a source that fails: its status and message come back, nothing is written */
  cb_state_t s = {0, 2, 0};
  cquant_data_callbacks_t cb = {&s, cb_next, NULL, "broken"};
  cquant_data_t *d;
  CHECK(cquant_data_from_callbacks(&cb, &d) == 0);
  cquant_ptq_job_t j = {d, NULL, out, CQUANT_PTQ_QDQ, -1, 0, NULL, NULL};
  cquant_ptq_result_t *r = (cquant_ptq_result_t *)&s;
  CHECK(cquant_ptq_run_job(m, &o, &j, &r) == CQUANT_STATUS_IO && r == NULL);
  CHECK(strstr(cquant_last_error(), "the source broke") != NULL);
  CHECK(access(out, F_OK) != 0);
  /* a one-pass source cannot be rewound */
  CHECK(cquant_data_rewind(d) == CQUANT_STATUS_UNSUPPORTED);
  cquant_data_close(d);
  /* max_drop needs evaluation data; several methods need it too */
  CHECK(cquant_data_open(tmpdir, 0, 1, 0, &d) == 0);
  j.calib = d;
  j.max_drop = 1;
  CHECK(cquant_ptq_run_job(m, &o, &j, &r) == CQUANT_STATUS_INVALID_ARGUMENT);
  j.max_drop = -1;
  o.methods |= 1u << CQUANT_CALIB_MSE;
  CHECK(cquant_ptq_run_job(m, &o, &j, &r) == CQUANT_STATUS_INVALID_ARGUMENT);
  /* an order naming an unobserved method */
  cquant_ptq_options_default(&o);
  o.order[0] = CQUANT_CALIB_MSE, o.n_order = 1;
  CHECK(cquant_ptq_run_job(m, &o, &j, &r) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(access(out, F_OK) != 0);
  /* evaluation data without labels: the metric is the output SQNR against the float model; a
   * max_drop budget (top-1 points) is refused with it and nothing is written */
  cquant_ptq_options_default(&o);
  cquant_data_t *ev;
  CHECK(cquant_data_open(tmpdir, 0, 1, 0, &ev) == 0);
  j.eval = ev;
  j.max_drop = 1;
  CHECK(cquant_ptq_run_job(m, &o, &j, &r) == CQUANT_STATUS_INVALID_ARGUMENT && strstr(cquant_last_error(), "labelled"));
  CHECK(access(out, F_OK) != 0);
  j.max_drop = -1;
  CHECK(cquant_ptq_run_job(m, &o, &j, &r) == 0 && r->evaluated && r->float_eval.metric_sqnr && r->final.integer.metric_sqnr &&
        r->final.integer.sqnr_db > 10 && isinf(r->float_eval.sqnr_db));
  if (r) cquant_ptq_result_free(r);
  r = NULL;
  CHECK(access(out, F_OK) == 0);
  unlink(out);
  j.eval = NULL;
  cquant_data_close(ev);
  cquant_data_close(d);
  /* a missing spec names itself */
  CHECK(cquant_data_open("/nonexistent/data", 0, 1, 0, &d) == CQUANT_STATUS_IO && strstr(cquant_last_error(), "/nonexistent/data"));
  cquant_onnx_free(m);
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"callbacks_equal_folder", test_callbacks_equal_folder},
      {"steps_equal_job", test_steps_equal_job},
      {"tie_broken_by_sqnr", test_tie_broken_by_sqnr},
      {"mcnemar", test_mcnemar},
      {"chance_lead_goes_to_sqnr", test_chance_lead_goes_to_sqnr},
      {"errors", test_errors},
  };
  int rc = th_run(cases, (int)(sizeof cases / sizeof *cases), argc, argv);
  for (int b = 0; b < NB; b++) {
    char path[256];
    snprintf(path, sizeof path, "%s/b%d.npy", tmpdir, b);
    unlink(path);
    cquant_array_free(&batch[b]);
    cquant_array_free(&lab[b]);
  }
  cquant_array_free(&images);
  cquant_array_free(&labels);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) rc = rc ? rc : 0;
  return rc;
}
