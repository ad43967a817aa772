/* Post-training quantization of ONNX models (include/cquant/ptq.h, docs/onnx.md).
 *
 * Which tensors are quantized (the plan): the activation inputs of every quantizable node (Conv,
 * Gemm and MatMul with constant weights, Add, GlobalAveragePool) and its output, taken after a
 * ReLU that is the output's only reader (Conv+ReLU is one layer: the range is the ReLU's); graph
 * outputs stay float. Nodes that only move or select values (MaxPool, Flatten, Reshape, Squeeze,
 * Unsqueeze, Transpose) pass their input's parameters on to their output, so they run on the
 * integers unchanged. Weights: per output channel, symmetric, narrow range (eq. 8-11); biases
 * int32 at scale s_x s_w (eq. 28). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/error_report.h"
#include "cquant/ptq.h"
#include "cquant/quantize.h"
#include "graph/graph.h"
#include "graph/passes.h"

typedef struct {
  const char *name;  /* owned by the cleaned model */
  cquant_observer_t *obs[CQUANT_CALIB_COUNT];
} act_t;

typedef struct {
  const char *node, *op, *input, *input2, *output, *weight;
  int w_axis; /* the weights' output-channel axis */
  int excluded;
} layer_t;

struct cquant_ptq {
  const cquant_onnx_model_t *orig;
  cquant_onnx_model_t *clean;
  cquant_ptq_options_t opt;
  act_t *act;
  int n_act;
  layer_t *layer;
  int n_layer;
  const char *input;
};

typedef struct {
  const char *t;
  const char *src; /* NULL: calibrated; else the tensor whose parameters it shares */
} plan_t;

void cquant_ptq_options_default(cquant_ptq_options_t *o) {
  memset(o, 0, sizeof *o);
  o->weight_dtype = CQUANT_DT_S8;
  o->methods = 1u << CQUANT_CALIB_MINMAX;
  o->percentile = 99.99;
}

static const char *node_label(const Onnx__NodeProto *n) {
  return n->name && *n->name ? n->name : (n->n_output ? n->output[0] : "?");
}

/* The output-channel axis of a layer's weights: Conv M x C x kH x kW and Gemm with transB N x K
 * along 0; MatMul and Gemm K x N along 1. */
static int weight_axis(const Onnx__NodeProto *n) {
  return !strcmp(n->op_type, "Conv") || (!strcmp(n->op_type, "Gemm") && cquant__attr_int(n, "transB", 0)) ? 0 : 1;
}

static int attr_is(const Onnx__NodeProto *n, const char *name, int64_t want, int64_t dflt) { return cquant__attr_int(n, name, dflt) == want; }
static float attr_f(const Onnx__NodeProto *n, const char *name, float dflt) {
  const Onnx__AttributeProto *a = cquant__attr(n, name);
  return a && a->has_f ? a->f : dflt;
}

/* 1: quantizable layer with weights (weight index in *w); 2: quantizable without weights
 * (Add, GlobalAveragePool); 0: not. */
static int quantizable(const cquant__graph_t *g, const Onnx__NodeProto *n, int *w) {
  const char *op = n->op_type;
  *w = -1;
  if (n->domain && *n->domain) return 0;
  if (!strcmp(op, "Conv") && n->n_input >= 2) {
    int wi = cquant__graph_init_find(g, n->input[1]);
    int bi = n->n_input > 2 && *n->input[2] ? cquant__graph_init_find(g, n->input[2]) : -2;
    if (wi < 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 4 || bi == -1) return 0;
    if (bi >= 0 && (g->init[bi].dtype != CQUANT_DT_F32 || g->init[bi].numel != g->init[wi].shape[0])) return 0;
    if (cquant__graph_init_find(g, n->input[0]) >= 0) return 0;
    *w = wi;
    return 1;
  }
  if (!strcmp(op, "Gemm") && n->n_input >= 2) {
    int wi = cquant__graph_init_find(g, n->input[1]);
    int bi = n->n_input > 2 && *n->input[2] ? cquant__graph_init_find(g, n->input[2]) : -2;
    if (wi < 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 2 || bi == -1) return 0;
    if (!attr_is(n, "transA", 0, 0) || attr_f(n, "alpha", 1.0f) != 1.0f || attr_f(n, "beta", 1.0f) != 1.0f) return 0;
    const int64_t N = attr_is(n, "transB", 1, 0) ? g->init[wi].shape[0] : g->init[wi].shape[1];
    if (bi >= 0 && (g->init[bi].dtype != CQUANT_DT_F32 || g->init[bi].numel != N || g->init[bi].ndim != 1)) return 0;
    if (cquant__graph_init_find(g, n->input[0]) >= 0) return 0;
    *w = wi;
    return 1;
  }
  if (!strcmp(op, "MatMul")) {
    int wi = cquant__graph_init_find(g, n->input[1]);
    if (wi < 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 2 || cquant__graph_init_find(g, n->input[0]) >= 0) return 0;
    *w = wi;
    return 1;
  }
  if (!strcmp(op, "Add") && n->n_input == 2)
    return cquant__graph_init_find(g, n->input[0]) < 0 && cquant__graph_init_find(g, n->input[1]) < 0 ? 2 : 0;
  if (!strcmp(op, "GlobalAveragePool")) return cquant__graph_init_find(g, n->input[0]) < 0 ? 2 : 0;
  return 0;
}

static int passthrough(const Onnx__NodeProto *n) {
  const char *op = n->op_type;
  if (n->domain && *n->domain) return 0;
  if (!strcmp(op, "MaxPool")) return n->n_output == 1;
  return !strcmp(op, "Flatten") || !strcmp(op, "Reshape") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") ||
         !strcmp(op, "Transpose");
}

/* The node's output after a ReLU that is its only reader. */
static const char *fused_output(const cquant__graph_t *g, const Onnx__NodeProto *n) {
  const char *o = n->output[0];
  int c[2];
  if (cquant__graph_is_output(g, o) || cquant__graph_consumers(g, o, c, 2) != 1) return o;
  const Onnx__NodeProto *r = g->node[c[0]];
  if (r->domain && *r->domain) return o;
  if (!strcmp(r->op_type, "Relu")) return r->output[0];
  if (!strcmp(r->op_type, "Clip")) { /* ReLU6 and friends: bounds constant (inputs or opset-6 attributes) */
    int ok = 1;
    for (size_t k = 1; k < r->n_input; k++) ok &= !*r->input[k] || cquant__graph_init_find(g, r->input[k]) >= 0;
    if (ok) return r->output[0];
  }
  return o;
}

static int excluded(const cquant_ptq_t *p, const Onnx__NodeProto *n) {
  for (int i = 0; i < p->n_layer; i++)
    if (p->layer[i].excluded && !strcmp(p->layer[i].node, node_label(n))) return 1;
  return 0;
}

static int plan_find(const plan_t *pl, int n, const char *t) {
  for (int i = 0; i < n; i++)
    if (!strcmp(pl[i].t, t)) return i;
  return -1;
}

/* The plan for graph g (nodes in topological order). *out is malloc'd. */
static int make_plan(const cquant_ptq_t *p, const cquant__graph_t *g, plan_t **out, int *n_out) {
  plan_t *pl = calloc((size_t)g->n_node * 4 + 4, sizeof *pl);
  if (!pl) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  int n = 0, w;
  for (int i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *nd = g->node[i];
    if (!nd) continue;
    int q = quantizable(g, nd, &w);
    if (q && !excluded(p, nd)) {
      const int n_act = q == 2 && !strcmp(nd->op_type, "Add") ? 2 : 1;
      for (int k = 0; k < n_act; k++)
        if (plan_find(pl, n, nd->input[k]) < 0) pl[n++] = (plan_t){nd->input[k], NULL};
      const char *o = fused_output(g, nd);
      if (!cquant__graph_is_output(g, o) && plan_find(pl, n, o) < 0) pl[n++] = (plan_t){o, NULL};
    } else if (passthrough(nd)) {
      int s = plan_find(pl, n, nd->input[0]);
      if (s >= 0 && !cquant__graph_is_output(g, nd->output[0]) && plan_find(pl, n, nd->output[0]) < 0)
        pl[n++] = (plan_t){nd->output[0], pl[s].src ? pl[s].src : pl[s].t};
    }
  }
  *out = pl;
  *n_out = n;
  return 0;
}

static cquant_dtype_t act_dtype(const cquant_ptq_t *p) { return p->opt.symmetric_act ? CQUANT_DT_S8 : CQUANT_DT_U8; }
static unsigned act_flags(const cquant_ptq_t *p) { return p->opt.symmetric_act ? CQUANT_QF_SYMMETRIC : 0; }

static act_t *find_act(cquant_ptq_t *p, const char *name) {
  for (int i = 0; i < p->n_act; i++)
    if (!strcmp(p->act[i].name, name)) return &p->act[i];
  return NULL;
}

void cquant_ptq_free(cquant_ptq_t *p) {
  if (!p) return;
  for (int i = 0; i < p->n_act; i++)
    for (int m = 0; m < CQUANT_CALIB_COUNT; m++) cquant_observer_destroy(p->act[i].obs[m]);
  free(p->act);
  free(p->layer);
  cquant_onnx_free(p->clean);
  free(p);
}

int cquant_ptq_create(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, cquant_ptq_t **out) {
  if (!m || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  *out = NULL;
  if (cquant_onnx_num_inputs(m) != 1) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: the model has %d inputs; one is supported", cquant_onnx_num_inputs(m));
  cquant_ptq_t *p = calloc(1, sizeof *p);
  if (!p) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  p->orig = m;
  if (o) p->opt = *o;
  else cquant_ptq_options_default(&p->opt);
  if (!p->opt.methods) p->opt.methods = 1u << CQUANT_CALIB_MINMAX;
  if (p->opt.weight_dtype != CQUANT_DT_S8 && p->opt.weight_dtype != CQUANT_DT_S4) {
    free(p);
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: weights must be int8 or int4");
  }
  cquant__graph_t g;
  int st = cquant__graph_from_model(m, &g);
  if (st) { free(p); return st; }
  if (!(st = cquant__pass_cleanup(&g, NULL))) st = cquant__graph_load(&g, &p->clean);
  cquant__graph_free(&g);
  if (st) { free(p); return st; }
  p->input = cquant_onnx_input_name(p->clean, 0);
  /* layers and plan on the cleaned model */
  if ((st = cquant__graph_from_model(p->clean, &g))) { cquant_ptq_free(p); return st; }
  p->layer = calloc((size_t)g.n_node + 1, sizeof *p->layer);
  if (!p->layer) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  for (int i = 0; i < g.n_node && !st; i++) {
    const Onnx__NodeProto *nd = g.node[i];
    int w, q = quantizable(&g, nd, &w);
    if (!q) continue;
    layer_t *L = &p->layer[p->n_layer++];
    L->node = node_label(nd);
    L->op = nd->op_type;
    L->input = nd->input[0];
    L->input2 = !strcmp(nd->op_type, "Add") ? nd->input[1] : NULL;
    L->output = fused_output(&g, nd);
    L->weight = w >= 0 ? nd->input[1] : NULL;
    L->w_axis = weight_axis(nd);
  }
  for (int e = 0; e < p->opt.n_exclude && !st; e++) {
    int found = 0;
    for (int i = 0; i < p->n_layer; i++)
      if (!strcmp(p->layer[i].node, p->opt.exclude[e])) p->layer[i].excluded = found = 1;
    if (!found) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "--exclude: no quantizable node is named '%s'", p->opt.exclude[e]);
  }
  p->opt.exclude = NULL, p->opt.n_exclude = 0;
  plan_t *pl = NULL;
  int npl = 0;
  if (!st) st = make_plan(p, &g, &pl, &npl);
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
    if (find_act(p, obs[i])) continue;
    act_t *a = &p->act[p->n_act++];
    a->name = obs[i];
    for (int mth = 0; mth < CQUANT_CALIB_COUNT && !st; mth++) {
      if (!(p->opt.methods & (1u << mth))) continue;
      cquant_calib_config_t cfg;
      cquant_calib_config_default(&cfg, (cquant_calib_method_t)mth);
      cfg.dtype = act_dtype(p);
      cfg.flags = act_flags(p);
      cfg.keep_histogram = p->opt.keep_histograms;
      if (mth == CQUANT_CALIB_PERCENTILE) cfg.percentile = p->opt.percentile;
      st = cquant_observer_create(&cfg, &a->obs[mth]);
    }
  }
  free(obs);
  free(pl);
  cquant__graph_free(&g);
  if (st) { cquant_ptq_free(p); return st; }
  *out = p;
  return 0;
}

const cquant_onnx_model_t *cquant_ptq_float_model(const cquant_ptq_t *p) { return p ? p->clean : NULL; }

static int observe_cb(void *user, const char *name, const cquant_array_t *v) {
  cquant_ptq_t *p = user;
  act_t *a = find_act(p, name);
  if (!a) return 0;
  if (v->dtype != CQUANT_DT_F32) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: tensor '%s' is %s, not float32", name, cquant_dtype_info(v->dtype)->name);
  if (!v->numel) return 0;
  for (int m = 0; m < CQUANT_CALIB_COUNT; m++) {
    if (!a->obs[m]) continue;
    int st = v->ndim ? cquant_observer_update(a->obs[m], v->data, v->ndim, v->shape)
                     : cquant_observer_update(a->obs[m], v->data, 1, (const int64_t[]){1});
    if (st) return cquant__error_prefix(st, name);
  }
  return 0;
}

int cquant_ptq_calibrate(cquant_ptq_t *p, const cquant_array_t *batch) {
  if (!p || !batch) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  const int n_out = cquant_onnx_num_outputs(p->clean);
  cquant_array_t *outs = calloc((size_t)n_out + 1, sizeof *outs);
  if (!outs) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  int st = cquant_onnx_run_observed(p->clean, 1, &p->input, batch, outs, observe_cb, p);
  for (int i = 0; i < n_out && !st; i++) cquant_array_free(&outs[i]);
  free(outs);
  return st;
}

int cquant_ptq_exclude(cquant_ptq_t *p, const char *node, int ex) {
  for (int i = 0; i < p->n_layer; i++)
    if (!strcmp(p->layer[i].node, node)) {
      p->layer[i].excluded = ex;
      return 0;
    }
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "no quantizable node is named '%s'", node);
}

int cquant_ptq_num_layers(const cquant_ptq_t *p) { return p ? p->n_layer : 0; }

int cquant_ptq_layer(const cquant_ptq_t *p, int i, cquant_ptq_layer_t *out) {
  if (!p || i < 0 || i >= p->n_layer) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: layer %d out of range", i);
  const layer_t *L = &p->layer[i];
  *out = (cquant_ptq_layer_t){L->node, L->op, L->input, L->output, L->weight, L->excluded};
  return 0;
}

static int act_range(act_t *a, cquant_calib_method_t method, float *lo, float *hi) {
  if ((unsigned)method >= CQUANT_CALIB_COUNT || !a->obs[method])
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: method %s was not observed", cquant_calib_method_name(method));
  int st = cquant_observer_ranges(a->obs[method], lo, hi, 1);
  if (st) return cquant__error_prefix(st, a->name);
  return 0;
}

int cquant_ptq_act_qparams(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, float *rmin, float *rmax, float *scale,
                           int32_t *zp) {
  act_t *a = find_act(p, tensor);
  if (!a) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: tensor '%s' is not observed", tensor);
  float lo, hi;
  int st = act_range(a, method, &lo, &hi);
  if (st) return st;
  if (rmin) *rmin = lo;
  if (rmax) *rmax = hi;
  float s;
  int32_t z;
  if ((st = cquant_qparams_from_range(lo, hi, 8, p->opt.symmetric_act, act_flags(p), &s, &z))) return cquant__error_prefix(st, tensor);
  if (scale) *scale = s;
  if (zp) *zp = z;
  return 0;
}

int cquant_ptq_plot_histogram(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, const char *path) {
  act_t *a = find_act(p, tensor);
  if (!a || (unsigned)method >= CQUANT_CALIB_COUNT || !a->obs[method])
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: tensor '%s' has no %s observer", tensor, cquant_calib_method_name(method));
  char title[256];
  snprintf(title, sizeof title, "%s (%s)", tensor, cquant_calib_method_name(method));
  return cquant_observer_plot_svg(a->obs[method], path, title);
}

/* ---- export ------------------------------------------------------------------------------- */

static int add_qdq(cquant__graph_t *g, const char *t, float s, int32_t z, cquant_dtype_t dt) {
  const char *sn = cquant__graph_scalar(g, cquant__graph_str(g, "%s_scale", t), CQUANT_DT_F32, s);
  const char *zn = cquant__graph_scalar(g, cquant__graph_str(g, "%s_zero_point", t), dt, z);
  const char *tq = cquant__graph_str(g, "%s_quantized", t), *tdq = cquant__graph_str(g, "%s_dequantized", t);
  if (!sn || !zn || !tq || !tdq) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  int st = cquant__graph_rename_uses(g, t, tdq, 0);
  if (st) return st;
  const char *qi[3] = {t, sn, zn}, *di[3] = {tq, sn, zn};
  if (!cquant__graph_add_node(g, "QuantizeLinear", "", cquant__graph_str(g, "%s_QuantizeLinear", t), 3, qi, 1, &tq) ||
      !cquant__graph_add_node(g, "DequantizeLinear", "", cquant__graph_str(g, "%s_DequantizeLinear", t), 3, di, 1, &tdq))
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  return 0;
}

/* A constant quantized along `axis` behind a DequantizeLinear: q (dtype), scales and zero-points
 * (zdt) as 1-D initializers. Returns the DequantizeLinear's output name in *dq. */
static int add_const_dq(cquant__graph_t *g, const char *base, cquant_array_t *q, const float *scale, cquant_dtype_t zdt, int64_t C, int axis,
                        const char **dq) {
  cquant_array_t s, z;
  int64_t sh[1] = {C};
  int st;
  if ((st = cquant_array_alloc(&s, CQUANT_DT_F32, 1, sh))) return st;
  if ((st = cquant_array_alloc(&z, zdt, 1, sh))) { cquant_array_free(&s); return st; }
  memcpy(s.data, scale, sizeof(float) * (size_t)C);
  const char *qn = cquant__graph_str(g, "%s_quantized", base), *sn = cquant__graph_str(g, "%s_scale", base),
             *zn = cquant__graph_str(g, "%s_zero_point", base), *dn = cquant__graph_str(g, "%s_dequantized", base);
  if (!qn || !sn || !zn || !dn || (st = cquant__graph_init_add(g, qn, q)) || (st = cquant__graph_init_add(g, sn, &s)) ||
      (st = cquant__graph_init_add(g, zn, &z))) {
    cquant_array_free(&s), cquant_array_free(&z);
    return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  const char *in[3] = {qn, sn, zn};
  Onnx__NodeProto *n = cquant__graph_add_node(g, "DequantizeLinear", "", cquant__graph_str(g, "%s_DequantizeLinear", base), 3, in, 1, &dn);
  if (!n || cquant__node_set_int(g, n, "axis", axis)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  *dq = dn;
  return 0;
}

/* Weight parameters per output channel (eq. 8-11, min-max or the per-channel MSE search). */
static int weight_qparams(const cquant_ptq_t *p, const cquant_array_t *w, int axis, cquant_qparams_t **qp) {
  const unsigned flags = CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE;
  const int mse = p->opt.weight_mse || p->opt.weight_dtype == CQUANT_DT_S4;
  if (!mse) {
    int st = cquant_qparams_create(p->opt.weight_dtype, CQUANT_PER_CHANNEL, axis, 0, flags, w->ndim, w->shape, qp);
    if (!st && (st = cquant_qparams_minmax(*qp, w->data))) cquant_qparams_destroy(*qp);
    return st;
  }
  cquant_calib_config_t cfg;
  cquant_calib_config_default(&cfg, CQUANT_CALIB_MSE);
  cfg.dtype = p->opt.weight_dtype;
  cfg.flags = flags;
  cfg.axis = axis;
  cquant_observer_t *o;
  int st = cquant_observer_create(&cfg, &o);
  if (st) return st;
  if (!(st = cquant_observer_update(o, w->data, w->ndim, w->shape))) st = cquant_observer_qparams(o, w->ndim, w->shape, qp);
  cquant_observer_destroy(o);
  return st;
}

/* The scale of a planned activation tensor (following shared parameters to their source). */
static int plan_scale(cquant_ptq_t *p, const plan_t *pl, int npl, const char *t, cquant_calib_method_t method, float *s, int32_t *z) {
  int i = plan_find(pl, npl, t);
  if (i < 0) return -1;
  return cquant_ptq_act_qparams(p, pl[i].src ? pl[i].src : pl[i].t, method, NULL, NULL, s, z);
}

static int quantize_layer(cquant_ptq_t *p, cquant__graph_t *g, int ni, const plan_t *pl, int npl, cquant_calib_method_t method) {
  const Onnx__NodeProto *n0 = g->node[ni];
  int wi, st;
  if (quantizable(g, n0, &wi) != 1) return 0;
  const int axis = weight_axis(n0);
  const cquant_array_t *w = &g->init[wi];
  const int64_t C = w->shape[axis];
  cquant_qparams_t *qp;
  if ((st = weight_qparams(p, w, axis, &qp))) return cquant__error_prefix(st, node_label(n0));
  cquant_array_t q;
  if ((st = cquant_array_alloc(&q, CQUANT_DT_S8, w->ndim, w->shape))) { cquant_qparams_destroy(qp); return st; }
  if ((st = cquant_quantize(w->data, qp, CQUANT_LAYOUT_UNPACKED, q.data))) {
    cquant_array_free(&q), cquant_qparams_destroy(qp);
    return cquant__error_prefix(st, node_label(n0));
  }
  float sx;
  int32_t zx;
  const int has_x = plan_scale(p, pl, npl, n0->input[0], method, &sx, &zx) == 0;
  const char *wdq = NULL, *bdq = NULL;
  const char *label = node_label(n0);
  if ((st = add_const_dq(g, cquant__graph_str(g, "%s_W", label), &q, qp->scale, CQUANT_DT_S8, C, axis, &wdq))) {
    cquant_array_free(&q), cquant_qparams_destroy(qp);
    return st;
  }
  cquant_array_free(&q);
  const int bi = n0->n_input > 2 && *n0->input[2] ? cquant__graph_init_find(g, n0->input[2]) : -1;
  /* eq. 28: b_q = round(b / (s_x s_w)) in int32. TensorRT's form (--symmetric-act) keeps the bias
   * float: its builder folds it into the layer; the integer rewrite quantizes it the same way */
  if (bi >= 0 && has_x && !p->opt.symmetric_act) {
    cquant_array_t bq;
    float *bs = malloc(sizeof(float) * (size_t)C);
    int64_t sh[1] = {C};
    if (!bs || (st = cquant_array_alloc(&bq, CQUANT_DT_S32, 1, sh))) {
      free(bs), cquant_qparams_destroy(qp);
      return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    }
    for (int64_t c = 0; c < C; c++) {
      bs[c] = sx * qp->scale[c];
      double v = rint((double)((const float *)g->init[bi].data)[c] / (double)bs[c]);
      ((int32_t *)bq.data)[c] = (int32_t)(v > 2147483647.0 ? 2147483647.0 : v < -2147483648.0 ? -2147483648.0 : v);
    }
    st = add_const_dq(g, cquant__graph_str(g, "%s_B", label), &bq, bs, CQUANT_DT_S32, C, 0, &bdq);
    free(bs);
    cquant_array_free(&bq);
    if (st) { cquant_qparams_destroy(qp); return st; }
  }
  cquant_qparams_destroy(qp);
  Onnx__NodeProto *n = cquant__graph_edit_node(g, ni);
  if (!n) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  n->input[1] = (char *)wdq;
  if (bdq) n->input[2] = (char *)bdq;
  return 0;
}

static int export_qdq(cquant_ptq_t *p, cquant_calib_method_t method, cquant__graph_t *g) {
  int st = cquant__graph_from_model(p->clean, g);
  if (st) return st;
  plan_t *pl;
  int npl;
  if ((st = make_plan(p, g, &pl, &npl))) return st;
  const int n_orig = g->n_node;
  /* weights first (their bias scales need the input's scale), then activations */
  for (int i = 0; i < n_orig && !st; i++)
    if (!excluded(p, g->node[i])) st = quantize_layer(p, g, i, pl, npl, method);
  for (int i = 0; i < npl && !st; i++) {
    float s;
    int32_t z;
    if ((st = plan_scale(p, pl, npl, pl[i].t, method, &s, &z))) break;
    st = add_qdq(g, pl[i].t, s, z, act_dtype(p));
  }
  free(pl);
  if (!st && g->opset < 13) g->opset = 13; /* per-axis DequantizeLinear */
  char desc[256];
  snprintf(desc, sizeof desc, "weights %s per output channel (symmetric, %s); activations %s per tensor (%s)",
           p->opt.weight_dtype == CQUANT_DT_S4 ? "int4 (in int8, -7..7)" : "int8",
           p->opt.weight_mse || p->opt.weight_dtype == CQUANT_DT_S4 ? "MSE range" : "min-max range",
           p->opt.symmetric_act ? "int8 symmetric" : "uint8 asymmetric", cquant_calib_method_name(method));
  if (!st) st = cquant__graph_add_meta(g, "cquant.ptq", desc);
  return st;
}

int cquant_ptq_weight_error(cquant_ptq_t *p, int i, cquant_error_report_t *rep, float *smin, float *smax) {
  if (!p || i < 0 || i >= p->n_layer || !p->layer[i].weight) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: layer %d has no weights", i);
  const cquant_array_t *w = cquant__onnx_init(p->clean, p->layer[i].weight);
  if (!w) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: weights '%s' not found", p->layer[i].weight);
  cquant_qparams_t *qp;
  int st = weight_qparams(p, w, p->layer[i].w_axis, &qp);
  if (st) return st;
  float *y = malloc(sizeof(float) * (size_t)(w->numel ? w->numel : 1));
  if (!y) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  if (!st) st = cquant_fake_quantize(w->data, qp, y);
  if (!st) st = cquant_error_report(w->data, y, (size_t)w->numel, qp, rep);
  if (!st) {
    *smin = *smax = qp->scale[0];
    for (int64_t c = 1; c < qp->count; c++) {
      *smin = qp->scale[c] < *smin ? qp->scale[c] : *smin;
      *smax = qp->scale[c] > *smax ? qp->scale[c] : *smax;
    }
  }
  free(y);
  cquant_qparams_destroy(qp);
  return st;
}

int cquant_ptq_act_error(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, const cquant_array_t *x, cquant_error_accum_t *acc) {
  float s;
  int32_t z;
  int st = cquant_ptq_act_qparams(p, tensor, method, NULL, NULL, &s, &z);
  if (st) return st;
  cquant_qparams_t *qp;
  const int64_t n = x->numel;
  if ((st = cquant_qparams_create(act_dtype(p), CQUANT_PER_TENSOR, 0, 0, act_flags(p), 1, &n, &qp))) return st;
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

int cquant_ptq_export(cquant_ptq_t *p, cquant_calib_method_t method, cquant_ptq_format_t format, void **buf, size_t *len) {
  if (!p || !buf || !len) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  cquant__graph_t g;
  int st = export_qdq(p, method, &g);
  if (!st) st = cquant__graph_pack(&g, buf, len);
  cquant__graph_free(&g);
  if (st || format == CQUANT_PTQ_QDQ) return st;
  cquant_onnx_model_t *qdq;
  st = cquant_onnx_load_buffer(*buf, *len, &qdq);
  free(*buf);
  *buf = NULL;
  if (st) return st;
  if (!(st = cquant__integerize_graph(qdq, &g, NULL))) st = cquant__graph_pack(&g, buf, len);
  cquant__graph_free(&g);
  cquant_onnx_free(qdq);
  return st;
}

int cquant_ptq_trt_cache(cquant_ptq_t *p, cquant_calib_method_t method, char **text) {
  size_t cap = 64 + (size_t)p->n_act * 80, n = 0;
  for (int i = 0; i < p->n_act; i++) cap += strlen(p->act[i].name);
  char *t = malloc(cap);
  if (!t) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  n += (size_t)snprintf(t + n, cap - n, "TRT-8601-%s\n", method == CQUANT_CALIB_ENTROPY ? "EntropyCalibration2" : "MinMaxCalibration");
  for (int i = 0; i < p->n_act; i++) {
    float lo, hi;
    int st = act_range(&p->act[i], method, &lo, &hi);
    if (st) { free(t); return st; }
    float amax = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi), s = amax / 127.0f;
    if (!(s > 0)) s = 1.0f / 127.0f;
    uint32_t bits;
    memcpy(&bits, &s, 4);
    n += (size_t)snprintf(t + n, cap - n, "%s: %08x\n", p->act[i].name, bits);
  }
  *text = t;
  return 0;
}

