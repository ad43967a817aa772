/* Dynamic quantization (cquant_ptq_dynamic, `cquant ptq --mode dynamic`): int8 weights for MatMul
 * and Gemm, activations quantized per tensor at run time, in the form ONNX Runtime's
 * quantize_dynamic writes (docs/quantization.md, eq. 30-33):
 *
 *   x -> DynamicQuantizeLinear -> x_quantized, x_scale, x_zero_point       (eq. 30, one per x)
 *   MatMulInteger(x_quantized, W_quantized, x_zero_point, W_zero_point)    (eq. 32)
 *   -> Cast(float) -> Mul(., Mul(x_scale, W_scale)) [-> Add(., beta C)]     (eq. 33)
 *
 * W_quantized is K x N int8, symmetric narrow range per output column or per tensor (eq. 31). ONNX
 * Runtime fuses the chain into DynamicQuantizeMatMul; cquant's executor runs it node by node (the
 * integer GEMM of src/intops for MatMulInteger). No calibration data is involved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "graph/passes.h"
#include "ptq/ptq_internal.h"

/* A quantized activation (the outputs of its DynamicQuantizeLinear) or weight (initializer names). */
typedef struct {
  const char *src;    /* activation or weight name */
  int transposed;     /* weights: stored as the transpose of src */
  const char *q, *scale, *zp;
} dq_entry_t;

typedef struct {
  cquant__graph_t *g;
  const cquant_ptq_options_t *o;
  dq_entry_t *act, *wt;
  int n_act, n_wt;
  cquant_ptq_dynamic_stats_t st;
} dq_ctx_t;

/* 1 when the graph already has a value or initializer of this name. */
static int name_taken(const cquant__graph_t *g, const char *name) {
  if (cquant__graph_init_find(g, name) >= 0 || cquant__graph_producer(g, name) >= 0 || cquant__graph_is_output(g, name)) return 1;
  const Onnx__GraphProto *sg = g->src->graph;
  for (size_t i = 0; i < sg->n_input; i++)
    if (sg->input[i]->name && !strcmp(sg->input[i]->name, name)) return 1;
  int c;
  return cquant__graph_consumers(g, name, &c, 1) > 0;
}

/* base + suffix, with "_1", "_2", ... appended while the name is taken. NULL when out of memory. */
static const char *fresh(cquant__graph_t *g, const char *base, const char *suffix) {
  const char *s = cquant__graph_str(g, "%s%s", base, suffix);
  for (int k = 1; s && name_taken(g, s); k++) s = cquant__graph_str(g, "%s%s_%d", base, suffix, k);
  return s;
}

static int oom(void) { return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory"); }

/* The DynamicQuantizeLinear of activation x (made on first use; eq. 30). */
static int quantize_act(dq_ctx_t *c, const char *x, const dq_entry_t **out) {
  for (int i = 0; i < c->n_act; i++)
    if (!strcmp(c->act[i].src, x)) {
      *out = &c->act[i];
      return 0;
    }
  dq_entry_t *e = &c->act[c->n_act];
  e->src = x;
  e->q = fresh(c->g, x, "_quantized");
  e->scale = e->q ? fresh(c->g, x, "_scale") : NULL;
  e->zp = e->scale ? fresh(c->g, x, "_zero_point") : NULL;
  const char *outs[3] = {e->q, e->scale, e->zp};
  if (!e->zp || !cquant__graph_add_node(c->g, "DynamicQuantizeLinear", "", fresh(c->g, x, "_QuantizeLinear"), 1, &x, 3, outs)) return oom();
  c->n_act++;
  c->st.n_dynamic_quant++;
  *out = e;
  return 0;
}

/* Whether the weight ranges are chosen by MSE: as static PTQ, by default for int4 only. */

/* Per-column (axis 1) or per-tensor parameters of the K x N float weights w (eq. 31). */
static int weight_qparams(const cquant_ptq_options_t *o, const float *w, const int64_t shape[2], cquant_qparams_t **qp) {
  const unsigned flags = CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE | (o->weight_reduce_range ? CQUANT_QF_REDUCE_RANGE : 0); /* eq. 11b */
  const cquant_granularity_t gr = o->weight_per_tensor ? CQUANT_PER_TENSOR : CQUANT_PER_CHANNEL;
  if (!cquant__ptq_weight_mse(o, 0)) {
    int st = cquant_qparams_create(o->weight_dtype, gr, 1, 0, flags, 2, shape, qp);
    if (!st && (st = cquant_qparams_minmax(*qp, w))) cquant_qparams_destroy(*qp);
    return st;
  }
  cquant_calib_config_t cfg;
  cquant_calib_config_default(&cfg, CQUANT_CALIB_MSE);
  cfg.dtype = o->weight_dtype;
  cfg.flags = flags;
  cfg.axis = o->weight_per_tensor ? -1 : 1;
  cquant_observer_t *ob;
  int st = cquant_observer_create(&cfg, &ob);
  if (st) return st;
  if (!(st = cquant_observer_update(ob, w, 2, shape))) st = cquant_observer_qparams(ob, 2, shape, qp);
  cquant_observer_destroy(ob);
  return st;
}

/* The quantized K x N weights of initializer wi (transposed: wi holds N x K), their scales times
 * alpha, and zero-points (made once per weight, form and alpha). */
static int quantize_weight(dq_ctx_t *c, int wi, int transposed, float alpha, const char *node, const dq_entry_t **out) {
  cquant__graph_t *g = c->g;
  const char *wname = g->init_name[wi];
  for (int i = 0; i < c->n_wt; i++)
    if (!strcmp(c->wt[i].src, wname) && c->wt[i].transposed == transposed && alpha == 1.0f) {
      *out = &c->wt[i];
      return 0;
    }
  const cquant_array_t *w = &g->init[wi];
  const int64_t K = transposed ? w->shape[1] : w->shape[0], N = transposed ? w->shape[0] : w->shape[1];
  const int64_t shape[2] = {K, N};
  const float *wd = w->data;
  float *wt = NULL;
  if (transposed) {
    if (!(wt = malloc(sizeof(float) * (size_t)w->numel))) return oom(); /* numel > 0: rewritable() */
    for (int64_t k = 0; k < K; k++)
      for (int64_t n = 0; n < N; n++) wt[k * N + n] = wd[n * K + k];
    wd = wt;
  }
  cquant_qparams_t *qp = NULL;
  cquant_array_t q = {0}, s = {0}, z = {0};
  int st = weight_qparams(c->o, wd, shape, &qp);
  if (st) st = cquant__error_prefix(st, node);
  if (!st && !(st = cquant_array_alloc(&q, CQUANT_DT_S8, 2, shape))) st = cquant_quantize(wd, qp, CQUANT_LAYOUT_UNPACKED, q.data);
  free(wt);
  const int64_t C = qp ? qp->count : 0, cs[1] = {C};
  const int nd = c->o->weight_per_tensor ? 0 : 1;
  if (!st) st = cquant_array_alloc(&s, CQUANT_DT_F32, nd, cs);
  if (!st) st = cquant_array_alloc(&z, CQUANT_DT_S8, nd, cs); /* zeros: symmetric */
  if (!st)
    for (int64_t i = 0; i < C; i++) ((float *)s.data)[i] = alpha * qp->scale[i];
  cquant_qparams_destroy(qp);
  const char *base = transposed ? cquant__graph_str(g, "%s_T", wname) : wname;
  if (!st && alpha != 1.0f) base = base ? cquant__graph_str(g, "%s_%s", base, node) : NULL;
  dq_entry_t *e = &c->wt[c->n_wt];
  e->src = wname;
  e->transposed = transposed;
  if (!st) { /* the three names differ in their suffixes: none can take another's */
    e->q = base ? fresh(g, base, "_quantized") : NULL;
    e->scale = base ? fresh(g, base, "_scale") : NULL;
    e->zp = base ? fresh(g, base, "_zero_point") : NULL;
    if (!e->q || !e->scale || !e->zp) st = oom();
  }
  if (!st && !(st = cquant__graph_init_add(g, e->q, &q)) && !(st = cquant__graph_init_add(g, e->scale, &s))) st = cquant__graph_init_add(g, e->zp, &z);
  cquant_array_free(&q), cquant_array_free(&s), cquant_array_free(&z);
  if (st) return st;
  if (alpha == 1.0f) c->n_wt++; /* alpha-scaled parameters are this node's own */
  *out = e;
  return 0;
}

static float attr_f(const Onnx__NodeProto *n, const char *name, float dflt) {
  const Onnx__AttributeProto *a = cquant__attr(n, name);
  return a && a->has_f ? a->f : dflt;
}

/* The weight initializer of a MatMul/Gemm this pass rewrites (-1: the node stays float). For Gemm,
 * *bias gets C ("" when absent) and *beta_c says whether C must be scaled by beta. */
static int rewritable(const cquant__graph_t *g, const Onnx__NodeProto *n, int *transposed, float *alpha, const char **bias, int *scale_c) {
  const int gemm = !strcmp(n->op_type, "Gemm");
  *transposed = 0, *alpha = 1.0f, *bias = "", *scale_c = 0;
  if (n->n_input < 2 || !*n->input[0] || cquant__graph_init_find(g, n->input[0]) >= 0) return -1;
  const int wi = cquant__graph_init_find(g, n->input[1]);
  if (wi < 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 2 || !g->init[wi].numel) return -1;
  if (!gemm) return n->n_input == 2 ? wi : -1;
  if (cquant__attr_int(n, "transA", 0)) return -1;
  *transposed = cquant__attr_int(n, "transB", 0) != 0;
  *alpha = attr_f(n, "alpha", 1.0f);
  const float beta = attr_f(n, "beta", 1.0f);
  if (n->n_input > 2 && *n->input[2] && beta != 0.0f) {
    *bias = n->input[2];
    if (beta != 1.0f) {
      const int ci = cquant__graph_init_find(g, *bias);
      if (ci < 0 || g->init[ci].dtype != CQUANT_DT_F32) return -1;
      *scale_c = 1;
    }
  }
  return wi;
}

static int excluded(const cquant_ptq_options_t *o, const Onnx__NodeProto *n) {
  for (int e = 0; e < o->n_exclude; e++)
    if (!strcmp(o->exclude[e], cquant__node_label(n))) return 1;
  return 0;
}

/* Rewrites node i (eq. 30-33). */
static int rewrite(dq_ctx_t *c, int i, int wi, int transposed, float alpha, const char *bias, int scale_c) {
  cquant__graph_t *g = c->g;
  const Onnx__NodeProto *n = g->node[i];
  const char *label = cquant__node_label(n), *x = n->input[0], *y = n->output[0];
  const dq_entry_t *a = NULL, *w = NULL;
  int st;
  if ((st = quantize_act(c, x, &a)) || (st = quantize_weight(c, wi, transposed, alpha, label, &w))) return st;
  if (scale_c) { /* beta C as a constant of its own */
    const int ci = cquant__graph_init_find(g, bias);
    const float beta = attr_f(n, "beta", 1.0f);
    cquant_array_t b;
    if ((st = cquant_array_alloc(&b, CQUANT_DT_F32, g->init[ci].ndim, g->init[ci].shape))) return st;
    for (int64_t k = 0; k < b.numel; k++) ((float *)b.data)[k] = beta * ((const float *)g->init[ci].data)[k];
    const char *bn = fresh(g, label, "_beta_C");
    if (!bn) { cquant_array_free(&b); return oom(); }
    if ((st = cquant__graph_init_add(g, bn, &b))) { cquant_array_free(&b); return st; }
    bias = bn;
  }
  const char *base = cquant__graph_str(g, "%s_quant", label);
  const char *acc = fresh(g, y, "_output_quantized");
  const char *accf = acc ? fresh(g, acc, "_cast_output") : NULL;
  const char *sm = base ? fresh(g, base, "_scales_mul:0") : NULL;
  const char *scaled = *bias ? fresh(g, y, "_scaled") : y;
  if (!base || !acc || !accf || !sm || !scaled) return oom();
  const char *mi[4] = {a->q, w->q, a->zp, w->zp}, *si[2] = {a->scale, w->scale}, *oi[2] = {accf, sm}, *bi[2] = {scaled, bias};
  cquant__graph_remove(g, i); /* y is now free to be written by the new nodes */
  Onnx__NodeProto *cast;
  if (!cquant__graph_add_node(g, "MatMulInteger", "", base, 4, mi, 1, &acc) ||
      !(cast = cquant__graph_add_node(g, "Cast", "", cquant__graph_str(g, "%s_cast", acc), 1, &acc, 1, &accf)) ||
      cquant__node_set_int(g, cast, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) ||
      !cquant__graph_add_node(g, "Mul", "", cquant__graph_str(g, "%s_scales_mul", base), 2, si, 1, &sm) ||
      !cquant__graph_add_node(g, "Mul", "", cquant__graph_str(g, "%s_output_scale_mul", base), 2, oi, 1, &scaled) ||
      (*bias && !cquant__graph_add_node(g, "Add", "", cquant__graph_str(g, "%s_bias_add", base), 2, bi, 1, &y)))
    return oom();
  if (!strcmp(n->op_type, "Gemm")) c->st.n_gemm++;
  else c->st.n_matmul++;
  return 0;
}

static int run_pass(cquant__graph_t *g, const cquant_ptq_options_t *o, cquant_ptq_dynamic_stats_t *stats) {
  dq_ctx_t c = {g, o, NULL, NULL, 0, 0, {0, 0, 0, 0}};
  const int n_orig = g->n_node;
  int st = 0;
  for (int e = 0; e < o->n_exclude && !st; e++) {
    int found = 0;
    for (int i = 0; i < n_orig && !found; i++) {
      const Onnx__NodeProto *n = g->node[i];
      found = n && (!n->domain || !*n->domain) && (!strcmp(n->op_type, "MatMul") || !strcmp(n->op_type, "Gemm")) &&
              !strcmp(cquant__node_label(n), o->exclude[e]);
    }
    if (!found) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "--exclude: no MatMul or Gemm node is named '%s'", o->exclude[e]);
  }
  if (!st && (!(c.act = calloc((size_t)n_orig + 1, sizeof *c.act)) || !(c.wt = calloc((size_t)n_orig + 1, sizeof *c.wt)))) st = oom();
  for (int i = 0; i < n_orig && !st; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n || (n->domain && *n->domain) || (strcmp(n->op_type, "MatMul") && strcmp(n->op_type, "Gemm"))) continue;
    int tr, sc;
    float alpha;
    const char *bias;
    const int wi = rewritable(g, n, &tr, &alpha, &bias, &sc);
    if (wi < 0 || excluded(o, n)) c.st.n_kept++;
    else st = rewrite(&c, i, wi, tr, alpha, bias, sc);
  }
  free(c.act);
  free(c.wt);
  if (!st && !c.st.n_matmul && !c.st.n_gemm)
    st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq --mode dynamic: no MatMul or Gemm with a constant 2-D float32 weight to quantize%s",
                       c.st.n_kept ? " (every one is excluded or of a form kept in float)" : "");
  if (!st && g->opset < 11) g->opset = 11; /* DynamicQuantizeLinear */
  if (!st) {
    char desc[160];
    snprintf(desc, sizeof desc, "dynamic: weights %s %s (symmetric, %s); activations uint8 per tensor at run time (DynamicQuantizeLinear)",
             o->weight_dtype == CQUANT_DT_S4 ? "int4 (in int8, -7..7)" : o->weight_reduce_range ? "int8 in 7 bits (-63..63)" : "int8", o->weight_per_tensor ? "per tensor" : "per output channel",
             cquant__ptq_weight_mse(o, 0) ? "MSE range" : "min-max range");
    st = cquant__graph_add_meta(g, "cquant.ptq", desc);
  }
  *stats = c.st;
  return st;
}

int cquant_ptq_dynamic(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, cquant_onnx_model_t **out, cquant_ptq_dynamic_stats_t *stats) {
  if (!m || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  *out = NULL;
  cquant_ptq_options_t def;
  if (!o) {
    cquant_ptq_options_default(&def);
    o = &def;
  }
  if (o->weight_dtype != CQUANT_DT_S8 && o->weight_dtype != CQUANT_DT_S4)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq --mode dynamic: weights must be int8 or int4");
  if (o->weight_reduce_range && o->weight_dtype != CQUANT_DT_S8)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: a reduced weight range is an int8 setting (7 bits); the weights are int4");
  if (o->weight_group || o->weight_packed || o->act != CQUANT_PTQ_ACT_INT8)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq --mode dynamic: weights per channel or per tensor in int8 values, activations uint8 (no groups, packed int4 or other activation types)");
  if (o->symmetric_act)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq --mode dynamic: activations are uint8 (DynamicQuantizeLinear); symmetric int8 activations are static only");
  if (o->smooth || o->bias_correction || o->cle)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq --mode dynamic: SmoothQuant, bias correction and cross-layer equalization are static only (they need calibration statistics)");
  if (o->n_exclude && !o->exclude) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL exclude list");
  cquant_ptq_dynamic_stats_t s;
  memset(&s, 0, sizeof s);
  cquant__graph_t g;
  int st = cquant__graph_from_model(m, &g);
  if (st) return st;
  if (!(st = cquant__pass_cleanup(&g, NULL)) && !(st = run_pass(&g, o, &s))) st = cquant__graph_load(&g, out);
  cquant__graph_free(&g);
  if (!st && stats) *stats = s;
  return st;
}
