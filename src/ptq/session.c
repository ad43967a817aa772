/* The PTQ session (include/cquant/ptq.h, docs/onnx.md): the cleaned float model, its layers, one
 * observer per planned tensor and method, calibration, and the parameters each method gives.
 * What is quantized: src/ptq/plan.c.
 *
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "exec/exec_internal.h"
#include "graph/passes.h"
#include "ptq/ptq_internal.h"

void cquant_ptq_options_default(cquant_ptq_options_t *o) {
  memset(o, 0, sizeof *o);
  o->weight_dtype = CQUANT_DT_S8;
  o->methods = 1u << CQUANT_CALIB_MINMAX;
  o->percentile = 99.99;
  o->weight_mse = -1;
  o->smooth_alpha = 0.5f;
  o->act_matmul = 1;
}

cquant_dtype_t cquant__ptq_act_dtype(const cquant_ptq_t *p) { return p->opt.symmetric_act ? CQUANT_DT_S8 : CQUANT_DT_U8; }
unsigned cquant__ptq_act_flags(const cquant_ptq_t *p) { return p->opt.symmetric_act ? CQUANT_QF_SYMMETRIC : 0; }

cquant__ptq_act_t *cquant__ptq_find_act(cquant_ptq_t *p, const char *name) {
  for (int i = 0; i < p->n_act; i++)
    if (!strcmp(p->act[i].name, name)) return &p->act[i];
  return NULL;
}

static void drop_built(cquant_ptq_t *p);

void cquant_ptq_free(cquant_ptq_t *p) {
  if (!p) return;
  drop_built(p);
  cquant__ptq_smooth_free(p->smooth);
  cquant_ptq_overrides_free(p->overrides);
  for (int i = 0; i < p->n_note; i++) free(p->note[i].node), free(p->note[i].into), free(p->note[i].next);
  free(p->note);
  cquant_onnx_free(p->clean);
  free(p);
}

cquant__ptq_note_t *cquant__ptq_note(cquant_ptq_t *p, const char *node) {
  for (int i = 0; i < p->n_note; i++)
    if (!strcmp(p->note[i].node, node)) return &p->note[i];
  cquant__ptq_note_t *nn = realloc(p->note, sizeof *nn * (size_t)(p->n_note + 1));
  if (!nn) return NULL;
  p->note = nn;
  cquant__ptq_note_t *e = &nn[p->n_note];
  memset(e, 0, sizeof *e);
  if (!(e->node = strdup(node))) return NULL;
  p->n_note++;
  return e;
}

const cquant__ptq_note_t *cquant__ptq_note_find(const cquant_ptq_t *p, const char *node) {
  for (int i = 0; i < p->n_note; i++)
    if (!strcmp(p->note[i].node, node)) return &p->note[i];
  return NULL;
}

/* Drops the layers and observers made by cquant__ptq_build. */
static void drop_built(cquant_ptq_t *p) {
  for (int i = 0; i < p->n_act; i++) {
    for (int m = 0; m < CQUANT_CALIB_COUNT; m++) cquant_observer_destroy(p->act[i].obs[m]);
    free(p->act[i].mean_sum);
    cquant_observer_destroy(p->act[i].own);
  }
  free(p->act);
  p->act = NULL, p->n_act = 0;
  for (int i = 0; i < p->n_layer; i++) {
    cquant_qparams_destroy(p->layer[i].wqp);
    cquant_array_free(&p->layer[i].wq);
  }
  free(p->layer);
  p->layer = NULL, p->n_layer = 0;
}

int cquant__ptq_build(cquant_ptq_t *p, int n_ex, const char *const *ex, int strict) {
  cquant__graph_t g;
  int st;
  drop_built(p);
  p->input = cquant_onnx_input_name(p->clean, 0);
  if ((st = cquant__graph_from_model(p->clean, &g))) return st;
  p->layer = calloc((size_t)g.n_node + 1, sizeof *p->layer);
  if (!p->layer) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  for (int i = 0; i < g.n_node && !st; i++) {
    const Onnx__NodeProto *nd = g.node[i];
    int w, q = cquant__ptq_quantizable(&g, nd, &w);
    cquant__ptq_extra_t x;
    if (!q && !cquant__ptq_extra_layer(&p->opt, &g, nd, &x)) continue;
    cquant__ptq_layer_t *L = &p->layer[p->n_layer++];
    L->node = cquant__node_label(nd);
    L->op = nd->op_type;
    L->input = nd->input[0];
    L->input2 = !strcmp(nd->op_type, "Add") ? nd->input[1] : NULL;
    L->output = cquant__ptq_fused_output(&g, nd);
    L->weight = w >= 0 ? nd->input[1] : NULL;
    L->w_axis = cquant__ptq_weight_axis(nd);
    if (!q) /* a layer by option (act_matmul, quantize_ops) */
      L->op = x.op, L->input = x.in[0], L->input2 = x.n_in > 1 ? x.in[1] : NULL, L->output = x.out;
    L->w_dtype = p->opt.weight_dtype;
    L->w_group = p->opt.weight_group;
    L->groups = !strcmp(nd->op_type, "Conv") ? cquant__attr_int(nd, "group", 1) : 1;
    L->trans_b = !strcmp(nd->op_type, "Gemm") && cquant__attr_int(nd, "transB", 0);
  }
  for (int e = 0; e < n_ex && !st; e++) {
    int found = 0;
    for (int i = 0; i < p->n_layer; i++)
      if (!strcmp(p->layer[i].node, ex[e])) p->layer[i].excluded = found = 1;
    if (!found && strict) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "--exclude: no quantizable node is named '%s'", ex[e]);
  }
  cquant__ptq_plan_t *pl = NULL;
  int npl = 0;
  if (!st) st = cquant__ptq_make_plan(p, &g, &pl, &npl);
  /* observed: every planned tensor, shared ones too, and every layer's input and output, so that
   * any later exclusion (accuracy-driven fallback) finds its new ranges already measured */
  const char **obs = calloc((size_t)npl + 3 * (size_t)p->n_layer + 1, sizeof(char *));
  int nobs = 0;
  if (!st && !obs) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  for (int i = 0; i < npl && !st; i++) obs[nobs++] = pl[i].t;
  for (int i = 0; i < p->n_layer && !st; i++) {
    obs[nobs++] = p->layer[i].input;
    if (p->layer[i].input2) obs[nobs++] = p->layer[i].input2;
    if (!cquant__graph_is_output(&g, p->layer[i].output)) obs[nobs++] = p->layer[i].output;
  }
  if (!st) {
    p->act = calloc((size_t)nobs + 1, sizeof *p->act);
    if (!p->act) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  for (int i = 0; i < nobs && !st; i++) {
    if (cquant__ptq_find_act(p, obs[i])) continue;
    cquant__ptq_act_t *a = &p->act[p->n_act++];
    a->name = obs[i];
    for (int mth = 0; mth < CQUANT_CALIB_COUNT && !st; mth++) {
      if (!(p->opt.methods & (1u << mth))) continue;
      cquant_calib_config_t cfg;
      cquant_calib_config_default(&cfg, (cquant_calib_method_t)mth);
      cfg.dtype = cquant__ptq_act_dtype(p);
      cfg.flags = cquant__ptq_act_flags(p);
      cfg.keep_histogram = p->opt.keep_histograms;
      if (mth == CQUANT_CALIB_PERCENTILE) cfg.percentile = p->opt.percentile;
      st = cquant_observer_create(&cfg, &a->obs[mth]);
    }
  }
  /* bias correction: the per-channel mean of every weight layer's input (eq. 42): NCHW axis 1 for
   * Conv, the last axis for Gemm and MatMul */
  for (int i = 0; i < p->n_layer && !st && p->opt.bias_correction; i++) {
    cquant__ptq_act_t *a = p->layer[i].weight ? cquant__ptq_find_act(p, p->layer[i].input) : NULL;
    if (a && !a->want_mean) a->want_mean = 1, a->mean_axis = !strcmp(p->layer[i].op, "Conv") ? 1 : -1;
  }
  free(obs);
  free(pl);
  /* Softmax quantized: its output's parameters are those of [0, 1] (eq. 47), not calibrated */
  for (int i = 0; i < p->n_layer && !st; i++) {
    cquant__ptq_act_t *a = strcmp(p->layer[i].op, "Softmax") ? NULL : cquant__ptq_find_act(p, p->layer[i].output);
    if (a) a->fixed = 1;
  }
  if (!st && p->opt.overrides) st = cquant__ptq_apply_overrides(p, &g);
  cquant__graph_free(&g);
  return st;
}

int cquant_ptq_create(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, cquant_ptq_t **out) {
  if (!m || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  *out = NULL;
  if (cquant_onnx_num_inputs(m) < 1) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: the model has no input");
  cquant_ptq_t *p = calloc(1, sizeof *p);
  if (!p) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  p->orig = m;
  if (o) p->opt = *o;
  else cquant_ptq_options_default(&p->opt);
  if (!p->opt.methods) p->opt.methods = 1u << CQUANT_CALIB_MINMAX;
  if (!p->opt.n_order) /* the observed methods in enum order */
    for (int k = 0; k < CQUANT_CALIB_COUNT; k++)
      if (p->opt.methods & (1u << k)) p->opt.order[p->opt.n_order++] = (cquant_calib_method_t)k;
  for (int k = 0; k < p->opt.n_order; k++)
    if ((unsigned)p->opt.order[k] >= CQUANT_CALIB_COUNT || !(p->opt.methods & (1u << p->opt.order[k]))) {
      const int bad = (int)p->opt.order[k];
      free(p);
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: method %d in the order is not observed", bad);
    }
  int cst = cquant__ptq_check_options(&p->opt); /* weight and activation formats; settles weight_mse */
  if (cst) {
    free(p);
    return cst;
  }
  cquant__graph_t g;
  int st = cquant__graph_from_model(m, &g);
  if (st) { free(p); return st; }
  if (!(st = cquant__pass_cleanup(&g, NULL))) st = cquant__graph_load(&g, &p->clean);
  cquant__graph_free(&g);
  if (st) { free(p); return st; }
  /* cross-layer equalization needs the weights only: done on the cleaned model, before anything is
   * observed */
  if (!(st = cquant__ptq_overrides_copy(p->opt.overrides, &p->overrides))) p->opt.overrides = p->overrides;
  if (!st && p->opt.cle) st = cquant__ptq_equalize(p);
  if (!st) st = cquant__ptq_build(p, p->opt.n_exclude, p->opt.exclude, 1);
  if (!st) st = cquant__ptq_check_opset(p); /* a refusal of the file's opset before any data is read */
  p->opt.exclude = NULL, p->opt.n_exclude = 0;
  /* SmoothQuant waits for its statistics pass (cquant_ptq_smooth_observe / _apply) */
  if (!st && p->opt.smooth) st = cquant__ptq_smooth_init(p);
  if (st) { cquant_ptq_free(p); return st; }
  *out = p;
  return 0;
}

const cquant_onnx_model_t *cquant_ptq_float_model(const cquant_ptq_t *p) { return p ? p->clean : NULL; }

/* Every layer that reads or writes tensor `name` stays float. */
static void keep_float(cquant_ptq_t *p, const char *name) {
  for (int i = 0; i < p->n_layer; i++) {
    cquant__ptq_layer_t *L = &p->layer[i];
    if (!strcmp(L->input, name) || (L->input2 && !strcmp(L->input2, name)) || !strcmp(L->output, name)) L->excluded = 1;
  }
}

/* Bias correction's statistics: per-channel sums along a->mean_axis (eq. 42). */
static void accumulate_mean(cquant__ptq_act_t *a, const cquant_array_t *v) {
  const int ax = a->mean_axis < 0 ? v->ndim - 1 : a->mean_axis;
  if (ax < 0 || ax >= v->ndim) {
    a->mean_bad = 1;
    return;
  }
  const int64_t C = v->shape[ax];
  if (a->mean_sum && a->mean_c != C) {
    a->mean_bad = 1;
    return;
  }
  if (!a->mean_sum) {
    if (!(a->mean_sum = calloc((size_t)C + 1, sizeof(double)))) {
      a->mean_bad = 1;
      return;
    }
    a->mean_c = C;
  }
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < ax; d++) outer *= v->shape[d];
  for (int d = ax + 1; d < v->ndim; d++) inner *= v->shape[d];
  const float *x = v->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < C; c++) {
      const float *r = x + (o * C + c) * inner;
      double acc = 0;
      for (int64_t k = 0; k < inner; k++) acc += r[k];
      a->mean_sum[c] += acc;
    }
  a->mean_n += outer * inner;
}

static int observe_cb(void *user, const char *name, const cquant_array_t *v) {
  cquant_ptq_t *p = user;
  cquant__ptq_act_t *a = cquant__ptq_find_act(p, name);
  if (!a) return 0;
  if (v->dtype != CQUANT_DT_F32) { /* integer arithmetic (shapes, indices) in a quantizable op's place: that layer stays float */
    if (!a->nonfloat) keep_float(p, name);
    a->nonfloat = 1;
    return 0;
  }
  if (!v->numel) return 0;
  if (a->want_mean && !a->mean_bad) accumulate_mean(a, v);
  a->range_ok = 0; /* new data: the cached ranges are stale */
  if (a->own) {
    int st = v->ndim ? cquant_observer_update(a->own, v->data, v->ndim, v->shape) : cquant_observer_update(a->own, v->data, 1, (const int64_t[]){1});
    if (st) return cquant__error_prefix(st, name);
  }
  for (int m = 0; m < CQUANT_CALIB_COUNT; m++) {
    if (!a->obs[m]) continue;
    int st = v->ndim ? cquant_observer_update(a->obs[m], v->data, v->ndim, v->shape)
                     : cquant_observer_update(a->obs[m], v->data, 1, (const int64_t[]){1});
    if (st) return cquant__error_prefix(st, name);
  }
  return 0;
}

int cquant_ptq_calibrate_inputs(cquant_ptq_t *p, int n, const char *const *names, const cquant_array_t *inputs) {
  if (!p || n < 1 || !names || !inputs) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  if (p->smooth)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT,
                         "ptq: SmoothQuant is pending: feed its statistics (cquant_ptq_smooth_observe) and apply it (cquant_ptq_smooth_apply) before calibrating");
  return cquant__ptq_run_observed(p, n, names, inputs, observe_cb);
}

int cquant__ptq_run_observed(cquant_ptq_t *p, int n, const char *const *names, const cquant_array_t *inputs, cquant_onnx_observe_fn cb) {
  const int n_out = cquant_onnx_num_outputs(p->clean);
  cquant_array_t *outs = calloc((size_t)n_out + 1, sizeof *outs);
  if (!outs) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  int st = cquant_onnx_run_observed(p->clean, n, names, inputs, outs, cb, p);
  for (int i = 0; i < n_out; i++) cquant_array_free(&outs[i]);
  free(outs);
  return st;
}

int cquant_ptq_calibrate(cquant_ptq_t *p, const cquant_array_t *batch) {
  if (!p || !batch) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  if (cquant_onnx_num_inputs(p->clean) != 1)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: the model has %d inputs: calibrate with one value per input (cquant_ptq_calibrate_inputs)",
                         cquant_onnx_num_inputs(p->clean));
  cquant_array_t v;
  int st = cquant_data_fit(p->clean, 0, batch, &v);
  return st ? st : cquant_ptq_calibrate_inputs(p, 1, &p->input, &v);
}


/* One pass over d: every batch to cquant_ptq_calibrate_inputs, or (stats) to
 * cquant_ptq_smooth_observe. *n gets the samples. */
static int data_pass(cquant_ptq_t *p, cquant_data_t *d, int stats, int64_t *n_out) {
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first, n = 0;
  const int k_in = cquant_data_num_inputs(d);
  int k = 0, st = cquant_data_rewind(d);
  if (!st && k_in == 1 && cquant_onnx_num_inputs(p->clean) > 1)
    st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: the model has %d inputs: give one source per input (NAME=SOURCE)", cquant_data_name(d),
                       cquant_onnx_num_inputs(p->clean));
  if (!st && k_in > CQUANT_DATA_MAX_FEEDS) st = cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s: more than %d inputs", cquant_data_name(d), CQUANT_DATA_MAX_FEEDS);
  while (!st && (k = cquant_data_next(d, &x, &labels, &first)) > 0) {
    if (!n && (st = k_in > 1 ? cquant_data_check_inputs(p->clean, d) : cquant_data_check_shape(p->clean, x, cquant_data_name(d)))) break;
    const char *names[CQUANT_DATA_MAX_FEEDS];
    cquant_array_t vals[CQUANT_DATA_MAX_FEEDS];
    int nf;
    if (!(st = cquant_data_feeds(p->clean, d, x, CQUANT_DATA_MAX_FEEDS, names, vals, &nf)))
      st = stats ? cquant_ptq_smooth_observe(p, nf, names, vals) : cquant_ptq_calibrate_inputs(p, nf, names, vals);
    if (st) {
      cquant__error_prefix(st, cquant_data_name(d));
      break;
    }
    n += x->ndim ? x->shape[0] : 1;
  }
  if (!st && k < 0) st = k;
  if (!st && !n) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: no calibration data", cquant_data_name(d));
  *n_out = n;
  return st;
}

int cquant_ptq_calibrate_data(cquant_ptq_t *p, cquant_data_t *d, int64_t *n_samples, double *seconds) {
  if (!p || !d) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  int64_t n = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* SmoothQuant: a first pass for its statistics and the rewrite; then the calibration proper on the
   * smoothed model (the smoothed activations' ranges cannot be derived from the first pass for the
   * histogram methods) */
  int st = p->smooth ? data_pass(p, d, 1, &n) : 0;
  if (!st && p->smooth) st = cquant_ptq_smooth_apply(p);
  if (!st) st = data_pass(p, d, 0, &n);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  /* tensors no run produced (a branch of an If that the data never took, an empty tensor every
   * time): the layers that read or write them stay float, as for integer tensors */
  for (int i = 0; !st && i < p->n_act; i++) {
    cquant__ptq_act_t *a = &p->act[i];
    int seen = 0;
    for (int m = 0; m < CQUANT_CALIB_COUNT && !seen; m++)
      if (a->obs[m]) {
        cquant_observer_stats_t os;
        cquant_observer_stats(a->obs[m], &os);
        seen = os.seen > 0;
      }
    if (seen || a->nonfloat) continue;
    a->nonfloat = 1;
    keep_float(p, a->name);
  }
  if (n_samples) *n_samples = n;
  if (seconds) *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  return st;
}

int cquant__ptq_layer_index(const cquant_ptq_t *p, const char *node) {
  for (int i = 0; i < p->n_layer; i++)
    if (!strcmp(p->layer[i].node, node)) return i;
  return -1;
}

int cquant_ptq_exclude(cquant_ptq_t *p, const char *node, int ex) {
  const int i = p && node ? cquant__ptq_layer_index(p, node) : -1;
  if (i < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "no quantizable node is named '%s'", node ? node : "(null)");
  p->layer[i].excluded = ex;
  return 0;
}

int cquant_ptq_num_layers(const cquant_ptq_t *p) { return p ? p->n_layer : 0; }

int cquant_ptq_layer(const cquant_ptq_t *p, int i, cquant_ptq_layer_t *out) {
  if (!p || i < 0 || i >= p->n_layer) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: layer %d out of range", i);
  const cquant__ptq_layer_t *L = &p->layer[i];
  *out = (cquant_ptq_layer_t){L->node, L->op, L->input, L->output, L->weight, L->excluded};
  return 0;
}

int cquant__ptq_act_range(cquant__ptq_act_t *a, cquant_calib_method_t method, float *lo, float *hi) {
  if (a->fixed) { /* eq. 47 */
    *lo = 0.0f, *hi = 1.0f;
    return 0;
  }
  if (a->own) { /* a per-node override: its method, whatever is asked */
    int st = cquant_observer_ranges(a->own, lo, hi, 1);
    return st ? cquant__error_prefix(st, a->name) : 0;
  }
  if ((unsigned)method >= CQUANT_CALIB_COUNT || !a->obs[method])
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: method %s was not observed", cquant_calib_method_name(method));
  if (a->range_ok & (1u << method)) { /* computed since the last observation */
    *lo = a->range_lo[method], *hi = a->range_hi[method];
    return 0;
  }
  int st = cquant_observer_ranges(a->obs[method], lo, hi, 1);
  if (st) return cquant__error_prefix(st, a->name);
  a->range_lo[method] = *lo, a->range_hi[method] = *hi;
  a->range_ok |= 1u << method;
  return 0;
}

int cquant_ptq_act_qparams(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, float *rmin, float *rmax, float *scale,
                           int32_t *zp) {
  cquant__ptq_act_t *a = cquant__ptq_find_act(p, tensor);
  if (!a) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: tensor '%s' is not observed", tensor);
  float lo, hi;
  int st = cquant__ptq_act_range(a, method, &lo, &hi);
  if (st) return st;
  if (rmin) *rmin = lo;
  if (rmax) *rmax = hi;
  float s;
  int32_t z = 0;
  if (a->fixed && p->opt.act == CQUANT_PTQ_ACT_INT8) /* eq. 47: Softmax's [0, 1] as ONNX Runtime fixes it: 1/256 (uint8), 1/128 (int8, z = 0) */
    s = p->opt.symmetric_act ? 1.0f / 128.0f : 1.0f / 256.0f;
  else if (p->opt.act == CQUANT_PTQ_ACT_FP8E4M3) { /* eq. 16: s = amax / 448, no zero-point */
    const float amax = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
    s = amax > 0.0f ? amax / 448.0f : 1.0f; /* as cquant_qparams_minmax does for FP8 */
  } else if ((st = cquant_qparams_from_range(lo, hi, 8, p->opt.symmetric_act, cquant__ptq_act_flags(p), &s, &z)))
    return cquant__error_prefix(st, tensor);
  if (scale) *scale = s;
  if (zp) *zp = z;
  return 0;
}

int cquant_ptq_plot_histogram(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, const char *path) {
  cquant__ptq_act_t *a = cquant__ptq_find_act(p, tensor);
  if (!a || (unsigned)method >= CQUANT_CALIB_COUNT || !a->obs[method])
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: tensor '%s' has no %s observer", tensor, cquant_calib_method_name(method));
  char title[256];
  snprintf(title, sizeof title, "%s (%s)", tensor, cquant_calib_method_name(method));
  return cquant_observer_plot_svg(a->obs[method], path, title);
}

int cquant_ptq_act_error(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, const cquant_array_t *x, cquant_error_accum_t *acc) {
  float s;
  int32_t z;
  int st = cquant_ptq_act_qparams(p, tensor, method, NULL, NULL, &s, &z);
  if (st) return st;
  cquant_qparams_t *qp;
  const int64_t n = x->numel;
  const int fp8 = p->opt.act == CQUANT_PTQ_ACT_FP8E4M3;
  if ((st = cquant_qparams_create(fp8 ? CQUANT_DT_F8E4M3 : cquant__ptq_act_dtype(p), CQUANT_PER_TENSOR, 0, 0, fp8 ? 0 : cquant__ptq_act_flags(p), 1, &n,
                                  &qp)))
    return st;
  qp->scale[0] = s;
  qp->zero_point[0] = z;
  float *y = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!y) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  if (!st) st = cquant_fake_quantize(x->data, qp, y);
  if (!st) st = cquant_error_accum_add(acc, x->data, y, (size_t)n, qp);
  free(y);
  cquant_qparams_destroy(qp);
  return st;
}

