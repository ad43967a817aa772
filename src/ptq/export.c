/* PTQ export: the QDQ model (weights and biases behind DequantizeLinear, a Q/DQ pair on every
 * planned activation), the QLinear operator form, the TensorRT calibration cache, and writing
 * them. Models are built in memory (src/graph) and serialised once, when written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/io.h"
#include "exec/exec_internal.h"
#include "graph/passes.h"
#include "ptq/ptq_internal.h"

/* The scale of a planned activation tensor (following shared parameters to their source); -1 when
 * the tensor is not planned. */
static int plan_scale(cquant_ptq_t *p, const cquant__ptq_plan_t *pl, int npl, const char *t, cquant_calib_method_t method, float *s,
                      int32_t *z) {
  int i = cquant__ptq_plan_find(pl, npl, t);
  if (i < 0) return -1;
  return cquant_ptq_act_qparams(p, pl[i].src ? pl[i].src : pl[i].t, method, NULL, NULL, s, z);
}

/* The element type the weights are written as: int4 in int8 (-7..7) unless packed (weight_packed,
 * or a group size: the file is opset 21 then, also for its layers that stay per channel), int2 in
 * int8 (-2..1). */
static cquant_dtype_t weight_storage(const cquant_ptq_t *p, const cquant__ptq_layer_t *L) {
  switch (L->w_dtype) { /* the layer's type and group size (the options', or a per-node override's) */
    case CQUANT_DT_S4: return p->opt.weight_group || L->w_group || p->opt.weight_packed ? CQUANT_DT_S4 : CQUANT_DT_S8;
    case CQUANT_DT_S2: return CQUANT_DT_S8;
    default: return L->w_dtype;
  }
}

/* The opset a weight DequantizeLinear needs: 21 for block_size and INT4/UINT4, 19 for float8, 13
 * for per-axis parameters. */
static int64_t weight_opset(cquant_dtype_t storage, int64_t G) {
  if (G || storage == CQUANT_DT_S4 || storage == CQUANT_DT_U4) return 21;
  return storage == CQUANT_DT_F8E4M3 ? 19 : 13;
}

/* The constant q (moved into the graph; *q is emptied) behind a DequantizeLinear with the
 * parameters qp (eq. 34): per channel 1-D scale and zero-point along qp->axis; per group scale and
 * zero-point of the weight's rank with qp->axis divided into ceil(K / G) (ONNX's blocked layout,
 * the layout of qp) and block_size G. The zero-point has q's element type (int4/uint4 values one
 * per byte, packed when saved; float8: the bits of +0). */
static int add_weight_dq(cquant__graph_t *g, const char *base, cquant_array_t *q, const cquant_qparams_t *qp, const char **dq) {
  cquant_array_t s = {0}, z = {0};
  int64_t ps[CQUANT_MAX_DIMS];
  cquant_qparams_param_shape(qp, ps);
  const int grouped = qp->granularity == CQUANT_PER_GROUP, pt = qp->granularity == CQUANT_PER_TENSOR;
  const int nd = grouped ? qp->ndim : pt ? 0 : 1; /* per tensor: scalar parameters, no axis */
  const int64_t *sh = grouped ? ps : &qp->count;
  int st = cquant_array_alloc(&s, CQUANT_DT_F32, nd, sh);
  if (!st) st = cquant_array_alloc(&z, q->dtype, nd, sh);
  if (st) {
    cquant_array_free(&s);
    return st;
  }
  memcpy(s.data, qp->scale, sizeof(float) * (size_t)qp->count);
  for (int64_t k = 0; k < qp->count; k++) /* one byte per value: int8, int4, uint4; float8 0 = +0 */
    ((uint8_t *)z.data)[k] = q->dtype == CQUANT_DT_F8E4M3 ? 0 : (uint8_t)qp->zero_point[k];
  const char *qn = cquant__graph_str(g, "%s_quantized", base), *sn = cquant__graph_str(g, "%s_scale", base),
             *zn = cquant__graph_str(g, "%s_zero_point", base), *dn = cquant__graph_str(g, "%s_dequantized", base);
  if (!qn || !sn || !zn || !dn || (st = cquant__graph_init_add(g, qn, q)) || (st = cquant__graph_init_add(g, sn, &s)) ||
      (st = cquant__graph_init_add(g, zn, &z))) {
    cquant_array_free(&s), cquant_array_free(&z);
    return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  const char *in[3] = {qn, sn, zn};
  Onnx__NodeProto *n = cquant__graph_add_node(g, "DequantizeLinear", "", cquant__graph_str(g, "%s_DequantizeLinear", base), 3, in, 1, &dn);
  if (!n || (!pt && cquant__node_set_int(g, n, "axis", qp->axis)) || (grouped && cquant__node_set_int(g, n, "block_size", qp->group_size)))
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  *dq = dn;
  return 0;
}

/* Like cquant__graph_insert_qdq, for float8e4m3fn (opset 19): scale s, zero-point +0 of type
 * float8e4m3fn; QuantizeLinear saturates (its default). */
static int insert_qdq_fp8(cquant__graph_t *g, const char *t, float s) {
  cquant_array_t z;
  const char *sn = cquant__graph_scalar(g, cquant__graph_str(g, "%s_scale", t), CQUANT_DT_F32, s);
  const char *zn = cquant__graph_str(g, "%s_zero_point", t);
  const char *tq = cquant__graph_str(g, "%s_quantized", t), *tdq = cquant__graph_str(g, "%s_dequantized", t);
  if (!sn || !zn || !tq || !tdq) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  int st = cquant_array_alloc(&z, CQUANT_DT_F8E4M3, 0, NULL); /* zeroed: the bits of +0 */
  if (st) return st;
  if ((st = cquant__graph_init_add(g, zn, &z))) {
    cquant_array_free(&z);
    return st;
  }
  if ((st = cquant__graph_rename_uses(g, t, tdq, 0))) return st;
  const char *qi[3] = {t, sn, zn}, *di[3] = {tq, sn, zn};
  if (!cquant__graph_add_node(g, "QuantizeLinear", "", cquant__graph_str(g, "%s_QuantizeLinear", t), 3, qi, 1, &tq) ||
      !cquant__graph_add_node(g, "DequantizeLinear", "", cquant__graph_str(g, "%s_DequantizeLinear", t), 3, di, 1, &tdq))
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  return 0;
}

/* Bias correction of a MatMul (eq. 43): it has no bias input, so the per-channel constant of the Add
 * that is its only reader takes the correction, or an Add of -delta is put after it. */
static int correct_matmul(cquant__graph_t *g, int ni, const float *delta, int64_t N) {
  const char *t = g->node[ni]->output[0], *label = cquant__node_label(g->node[ni]);
  int c[2];
  if (!cquant__graph_is_output(g, t) && cquant__graph_consumers(g, t, c, 2) == 1 && !strcmp(g->node[c[0]]->op_type, "Add") &&
      (!g->node[c[0]]->domain || !*g->node[c[0]]->domain) && g->node[c[0]]->n_input == 2) {
    const Onnx__NodeProto *A = g->node[c[0]];
    const int k = !strcmp(A->input[0], t) ? 1 : 0, bi = cquant__graph_init_find(g, A->input[k]);
    const cquant_array_t *b = bi >= 0 ? &g->init[bi] : NULL;
    if (b && b->dtype == CQUANT_DT_F32 && (b->numel == 1 || (b->numel == N && b->shape[b->ndim - 1] == N))) {
      cquant_array_t nb;
      const cquant_array_t old = *b;
      int st = old.numel == 1 ? cquant_array_alloc(&nb, CQUANT_DT_F32, 1, &N) : cquant_array_alloc(&nb, CQUANT_DT_F32, old.ndim, old.shape);
      if (st) return st;
      for (int64_t j = 0; j < N; j++) ((float *)nb.data)[j] = ((const float *)old.data)[old.numel == 1 ? 0 : j] - delta[j];
      Onnx__NodeProto *e = cquant__graph_edit_node(g, c[0]);
      const char *nm = e ? cquant__graph_str(g, "%s_bias_corrected", label) : NULL;
      if (!nm || (st = cquant__graph_init_add(g, nm, &nb))) {
        cquant_array_free(&nb);
        return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      }
      e->input[k] = (char *)nm;
      return 0;
    }
  }
  cquant_array_t nb;
  int st = cquant_array_alloc(&nb, CQUANT_DT_F32, 1, &N);
  if (st) return st;
  for (int64_t j = 0; j < N; j++) ((float *)nb.data)[j] = -delta[j];
  const char *nm = cquant__graph_str(g, "%s_bias_correction", label), *pre = cquant__graph_str(g, "%s_uncorrected", t);
  Onnx__NodeProto *m = cquant__graph_edit_node(g, ni);
  if (!nm || !pre || !m || (st = cquant__graph_init_add(g, nm, &nb))) {
    cquant_array_free(&nb);
    return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  m->output[0] = (char *)pre;
  const char *in[2] = {pre, nm};
  if (!cquant__graph_add_node(g, "Add", "", cquant__graph_str(g, "%s_BiasCorrection", label), 2, in, 1, &t))
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  return 0;
}

/* Layer ni's weights (and bias) behind DequantizeLinear; *opset gets the opset this needs. */
static int quantize_layer(cquant_ptq_t *p, cquant__graph_t *g, int ni, const cquant__ptq_plan_t *pl, int npl, cquant_calib_method_t method,
                          int64_t *opset) {
  const Onnx__NodeProto *n0 = g->node[ni];
  int wi, st;
  if (cquant__ptq_quantizable(g, n0, &wi) != 1) return 0;
  const char *label = cquant__node_label(n0);
  const int li = cquant__ptq_layer_index(p, label);
  if (li < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: '%s' is not a layer of the session", label);
  const cquant_qparams_t *qp;
  const cquant_array_t *wq;
  if ((st = cquant__ptq_layer_weights(p, li, &qp, &wq))) return st;
  const int64_t G = qp->granularity == CQUANT_PER_GROUP ? qp->group_size : 0;
  const cquant_dtype_t storage = weight_storage(p, &p->layer[li]);
  const int axis = p->layer[li].w_axis;
  const int64_t C = wq->shape[axis];
  cquant_array_t q; /* a copy the graph takes over: the session keeps its own */
  if ((st = cquant_array_alloc(&q, storage, wq->ndim, wq->shape))) return st;
  memcpy(q.data, wq->data, wq->nbytes); /* one value per byte either way */
  float sx;
  int32_t zx;
  const int has_x = p->opt.act == CQUANT_PTQ_ACT_INT8 && plan_scale(p, pl, npl, n0->input[0], method, &sx, &zx) == 0;
  const char *wdq = NULL, *bdq = NULL;
  if (storage == CQUANT_DT_S8 && !G && qp->granularity != CQUANT_PER_TENSOR) /* per channel in int8 (int8, int4, int2 values) */
    st = cquant__graph_add_const_dq(g, cquant__graph_str(g, "%s_W", label), &q, qp->scale, CQUANT_DT_S8, C, axis, &wdq);
  else st = add_weight_dq(g, cquant__graph_str(g, "%s_W", label), &q, qp, &wdq);
  cquant_array_free(&q);
  if (st) return st;
  const int64_t need = weight_opset(storage, G);
  if (need > *opset) *opset = need;
  int bi = n0->n_input > 2 && *n0->input[2] ? cquant__graph_init_find(g, n0->input[2]) : -1;
  /* bias correction (eq. 43): b - (W_q - W) E[x], a bias made where there is none */
  const char *bias_corrected = NULL;
  if (p->opt.bias_correction) {
    float *delta = NULL;
    int64_t nd = 0;
    if ((st = cquant__ptq_bias_delta(p, li, &delta, &nd)) < 0) return st;
    st = 0;
    if (delta && !strcmp(n0->op_type, "MatMul")) st = correct_matmul(g, ni, delta, nd);
    else if (delta) {
      cquant_array_t nb;
      if (bi >= 0 && g->init[bi].numel != nd) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: '%s': bias and weight disagree", label);
      if (!st) st = cquant_array_alloc(&nb, CQUANT_DT_F32, 1, &nd);
      for (int64_t o = 0; o < nd && !st; o++) ((float *)nb.data)[o] = (bi >= 0 ? ((const float *)g->init[bi].data)[o] : 0.0f) - delta[o];
      if (!st && !(bias_corrected = cquant__graph_str(g, "%s_bias_corrected", label))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      if (!st && (st = cquant__graph_init_add(g, bias_corrected, &nb))) cquant_array_free(&nb);
      if (!st) bi = cquant__graph_init_find(g, bias_corrected);
    }
    free(delta);
    if (st) return st;
  }
  /* eq. 28 in int32 (per-channel integer weights and integer activations only: a group or float8
   * scale has no single s_w per output channel). TensorRT's form (--symmetric-act) keeps the bias
   * float: its builder folds it into the layer; the integer rewrite quantizes it the same way */
  if (bi >= 0 && has_x && !p->opt.symmetric_act && !G && storage != CQUANT_DT_F8E4M3) {
    cquant_array_t bq;
    float *bs = malloc(sizeof(float) * (size_t)C);
    int64_t sh[1] = {C};
    if (!bs || (st = cquant_array_alloc(&bq, CQUANT_DT_S32, 1, sh))) {
      free(bs);
      return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    }
    cquant__bias_quantize(g->init[bi].data, C, sx, qp->scale, qp->count, bq.data, bs); /* count: C, or 1 per tensor */
    st = cquant__graph_add_const_dq(g, cquant__graph_str(g, "%s_B", label), &bq, bs, CQUANT_DT_S32, C, 0, &bdq);
    free(bs);
    cquant_array_free(&bq);
    if (st) return st;
  }
  Onnx__NodeProto *n = cquant__graph_edit_node(g, ni);
  if (!n) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  n->input[1] = (char *)wdq;
  if ((bdq || bias_corrected) && n->n_input < 3) { /* a Conv/Gemm given a bias by the correction */
    char **in = cquant__graph_alloc(g, sizeof(char *) * 3);
    if (!in) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    in[0] = n->input[0], in[1] = n->input[1], in[2] = "";
    n->input = in;
    n->n_input = 3;
  }
  if (bdq) n->input[2] = (char *)bdq;
  else if (bias_corrected) n->input[2] = (char *)bias_corrected;
  return 0;
}

/* What the file holds, for its cquant.ptq metadata and for errors ("int4 group:32 weights"). */
static void describe_weights(const cquant_ptq_t *p, char *buf, size_t n) {
  const cquant_dtype_t dt = p->opt.weight_dtype;
  const char *t = dt == CQUANT_DT_S4 ? "int4" : dt == CQUANT_DT_U4 ? "uint4" : dt == CQUANT_DT_S2 ? "int2" : dt == CQUANT_DT_F8E4M3 ? "fp8e4m3" : "int8";
  if (p->opt.weight_group) snprintf(buf, n, "%s group:%lld weights", t, (long long)p->opt.weight_group);
  else snprintf(buf, n, "%s per-channel weights", t);
}

static const char *act_text(const cquant_ptq_t *p) {
  if (p->opt.act == CQUANT_PTQ_ACT_NONE) return "float (weight-only)";
  if (p->opt.act == CQUANT_PTQ_ACT_FP8E4M3) return "float8e4m3fn per tensor (s = amax / 448)";
  return p->opt.symmetric_act ? "int8 symmetric per tensor" : "uint8 asymmetric per tensor";
}

/* What needs the newer opset, for the upgrade's messages: "int4 group:32 weights with fp8e4m3
 * activations" and the like. */
static void upgrade_why(const cquant_ptq_t *p, char *buf, size_t n) {
  char wdesc[64];
  describe_weights(p, wdesc, sizeof wdesc);
  snprintf(buf, n, "%s%s", wdesc, p->opt.act == CQUANT_PTQ_ACT_FP8E4M3 ? " with fp8e4m3 activations" : "");
}

/* 1 when a quantized layer with weights (Conv, Gemm, MatMul) or an activation-activation MatMul
 * reads t. fp8 files quantize these inputs only, the FP8 recipe of TensorRT and NVIDIA's ModelOpt
 * (the GEMM and batched-GEMM inputs; outputs, Add and
 * pooling stay float): ONNX Runtime's QDQ clean-ups treat a float8 pair like an int8 one and would
 * otherwise leave MaxPool on float8 or make a QLinearAdd of it, which it does not run. */
static int read_by_weight_layer(const cquant_ptq_t *p, const cquant__graph_t *g, const char *t) {
  int c[64];
  const int n = cquant__graph_consumers(g, t, c, 64);
  for (int k = 0; k < n && k < 64; k++) { /* by name: the layers' weight inputs are rewritten by now */
    const int li = cquant__ptq_layer_index(p, cquant__node_label(g->node[c[k]]));
    const cquant__ptq_layer_t *L = li >= 0 ? &p->layer[li] : NULL;
    if (L && !L->excluded && (L->weight || (L->input2 && !strcmp(L->op, "MatMul")))) return 1; /* also act-act MatMul (q k^T, p v) */
  }
  return 0;
}

/* Before any data is seen: the opset the file will need (its weights' formats, fp8 activations)
 * and whether the model can be raised to it, so that a refusal comes before calibration. The
 * upgrade runs on a scratch copy of the cleaned model. */
int cquant__ptq_check_opset(cquant_ptq_t *p) {
  int64_t need = p->opt.act == CQUANT_PTQ_ACT_FP8E4M3 ? 19 : 13;
  for (int i = 0; i < p->n_layer; i++) {
    const cquant__ptq_layer_t *L = &p->layer[i];
    if (L->excluded || !L->weight) continue;
    const int64_t n = weight_opset(weight_storage(p, L), L->w_per_tensor ? 0 : L->w_group);
    if (n > need) need = n;
  }
  if (need <= 13) return 0; /* every model is written at opset 13 or above without a rewrite */
  cquant__graph_t g;
  int st = cquant__graph_from_model(p->clean, &g);
  if (st) return st;
  if (g.opset < need) {
    char why[128];
    upgrade_why(p, why, sizeof why);
    st = cquant__ptq_upgrade_opset(&g, need, why);
  }
  cquant__graph_free(&g);
  return st;
}

/* The QDQ graph of method m (g is made here; freed by the caller also on error). */
static int export_qdq(cquant_ptq_t *p, cquant_calib_method_t method, cquant__graph_t *g) {
  int st = cquant__graph_from_model(p->clean, g);
  if (st) return st;
  cquant__ptq_plan_t *pl;
  int npl;
  if ((st = cquant__ptq_make_plan(p, g, &pl, &npl))) return st;
  const int n_orig = g->n_node;
  int64_t need = 13; /* per-axis DequantizeLinear */
  /* weights first (their bias scales need the input's scale), then activations */
  for (int i = 0; i < n_orig && !st; i++)
    if (!cquant__ptq_excluded(p, g->node[i])) st = quantize_layer(p, g, i, pl, npl, method, &need);
  for (int i = 0; i < npl && !st && p->opt.act != CQUANT_PTQ_ACT_NONE; i++) {
    float s;
    int32_t z;
    if (p->opt.act == CQUANT_PTQ_ACT_FP8E4M3 && !read_by_weight_layer(p, g, pl[i].t)) continue;
    if ((st = plan_scale(p, pl, npl, pl[i].t, method, &s, &z))) break;
    st = p->opt.act == CQUANT_PTQ_ACT_FP8E4M3 ? insert_qdq_fp8(g, pl[i].t, s) : cquant__graph_insert_qdq(g, pl[i].t, s, z, cquant__ptq_act_dtype(p));
  }
  free(pl);
  if (p->opt.act == CQUANT_PTQ_ACT_FP8E4M3 && need < 19) need = 19;
  char wdesc[64], desc[448];
  describe_weights(p, wdesc, sizeof wdesc);
  if (!st && need <= 13 && g->opset < 13) g->opset = 13; /* as before: int8 files */
  if (!st && need > 13) {
    char why[128];
    upgrade_why(p, why, sizeof why);
    st = cquant__ptq_upgrade_opset(g, need, why);
  }
  snprintf(desc, sizeof desc, "weights: %s (%s%s%s); activations: %s (%s)", wdesc,
           p->opt.weight_dtype == CQUANT_DT_F8E4M3 ? "s = amax / 448" : p->opt.weight_dtype == CQUANT_DT_U4 ? "asymmetric" : "symmetric",
           p->opt.weight_dtype == CQUANT_DT_F8E4M3                                              ? ""
           : cquant__ptq_weight_mse(&p->opt, 0) == cquant__ptq_weight_mse(&p->opt, p->opt.weight_group) ? (cquant__ptq_weight_mse(&p->opt, 0) ? ", MSE range" : ", min-max range")
                                                                                             : ", min-max range per group, MSE per channel",
           p->opt.weight_dtype == CQUANT_DT_S4 && !p->opt.weight_group && !p->opt.weight_packed ? ", int4 values in int8" : "", act_text(p),
           cquant_calib_method_name(method));
  int n_ovr = 0, n_extra = 0;
  for (int i = 0; i < p->n_layer; i++) n_ovr += p->layer[i].overridden, n_extra += !p->layer[i].weight && strcmp(p->layer[i].op, "Add") && strcmp(p->layer[i].op, "GlobalAveragePool");
  if (n_ovr || n_extra) {
    const size_t k = strlen(desc);
    snprintf(desc + k, sizeof desc - k, "; %d per-node overrides; %d layers by option (act-act MatMul, --quantize-ops)", n_ovr, n_extra);
  }
  if (!st) st = cquant__graph_add_meta(g, "cquant.ptq", desc);
  return st;
}

int cquant__ptq_model(cquant_ptq_t *p, cquant_calib_method_t m, cquant_ptq_format_t f, cquant_onnx_model_t **out) {
  *out = NULL;
  if (f != CQUANT_PTQ_QDQ && f != CQUANT_PTQ_QOP) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: format %d is not a model", (int)f);
  if (f == CQUANT_PTQ_QOP && (p->opt.act != CQUANT_PTQ_ACT_INT8 || p->opt.weight_group || p->opt.weight_packed ||
                             (p->opt.weight_dtype != CQUANT_DT_S8 && p->opt.weight_dtype != CQUANT_DT_S4)))
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: the QLinear form holds int8 activations and per-channel int8/int4 weights; write these formats as QDQ");
  for (int i = 0; f == CQUANT_PTQ_QOP && i < p->n_layer; i++) /* per-node overrides */
    if (p->layer[i].w_group || (p->layer[i].w_dtype != CQUANT_DT_S8 && p->layer[i].w_dtype != CQUANT_DT_S4))
      return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: '%s': the QLinear form holds per-channel int8/int4 weights; write these formats as QDQ", p->layer[i].node);
  cquant__graph_t g;
  int st = export_qdq(p, m, &g);
  cquant_onnx_model_t *qdq = NULL;
  if (!st) st = cquant__graph_load(&g, &qdq);
  cquant__graph_free(&g);
  if (st || f == CQUANT_PTQ_QDQ) {
    *out = qdq;
    return st;
  }
  if (!(st = cquant__integerize_graph(qdq, &g, NULL))) st = cquant__graph_load(&g, out);
  cquant__graph_free(&g);
  cquant_onnx_free(qdq); /* *out holds its own reference */
  return st;
}

int cquant_ptq_export(cquant_ptq_t *p, cquant_calib_method_t method, cquant_ptq_format_t format, void **buf, size_t *len) {
  if (!p || !buf || !len) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  cquant_onnx_model_t *m;
  int st = cquant__ptq_model(p, method, format, &m);
  if (!st) st = cquant_onnx_serialize(m, buf, len);
  cquant_onnx_free(m);
  return st;
}

int cquant_ptq_trt_cache(cquant_ptq_t *p, cquant_calib_method_t method, char **text) {
  if (!p || !text) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  size_t cap = 64 + (size_t)p->n_act * 80, n = 0;
  for (int i = 0; i < p->n_act; i++) cap += strlen(p->act[i].name);
  char *t = malloc(cap);
  if (!t) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  n += (size_t)snprintf(t + n, cap - n, "TRT-8601-%s\n", method == CQUANT_CALIB_ENTROPY ? "EntropyCalibration2" : "MinMaxCalibration");
  for (int i = 0; i < p->n_act; i++) {
    float lo, hi;
    int st = cquant__ptq_act_range(&p->act[i], method, &lo, &hi);
    if (st) {
      free(t);
      return st;
    }
    float amax = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi), s = amax / 127.0f;
    if (!(s > 0)) s = 1.0f / 127.0f;
    uint32_t bits;
    memcpy(&bits, &s, 4);
    n += (size_t)snprintf(t + n, cap - n, "%s: %08x\n", p->act[i].name, bits);
  }
  *text = t;
  return 0;
}

/* OUT.onnx -> OUT.cache; other names get ".cache" appended. */
static char *cache_path(const char *path) {
  size_t ol = strlen(path);
  char *c = malloc(ol + 8);
  if (!c) return NULL;
  memcpy(c, path, ol + 1);
  if (ol > 5 && !strcmp(c + ol - 5, ".onnx")) c[ol - 5] = 0;
  strcat(c, ".cache");
  return c;
}

/* The QLinear form and the TensorRT cache hold int8 activations and per-channel int8/int4 weights
 * stored as int8 values; the other formats are QDQ only. */
int cquant__ptq_format_check(const cquant_ptq_options_t *o, cquant_ptq_format_t f) {
  if (f == CQUANT_PTQ_QDQ) return 0;
  if (o->weight_group || o->weight_packed || o->act != CQUANT_PTQ_ACT_INT8 || (o->weight_dtype != CQUANT_DT_S8 && o->weight_dtype != CQUANT_DT_S4))
    return cquant__error(CQUANT_STATUS_UNSUPPORTED,
                         "ptq: the %s format holds int8 activations and per-channel int8/int4 weights: write per-group, packed, uint4, int2, "
                         "fp8 or weight-only files as QDQ",
                         f == CQUANT_PTQ_QOP ? "QLinear operator" : "TensorRT cache");
  return 0;
}

int cquant_ptq_save(cquant_ptq_t *p, cquant_calib_method_t m, cquant_ptq_format_t f, const char *path, size_t *bytes) {
  if (!p || !path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  int fst = cquant__ptq_format_check(&p->opt, f);
  if (fst) return fst;
  void *buf = NULL;
  size_t len = 0;
  int st;
  if (f == CQUANT_PTQ_TRT_CACHE && p->opt.act != CQUANT_PTQ_ACT_INT8)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: a TensorRT calibration cache is for int8 activations");
  if (f == CQUANT_PTQ_TRT_CACHE) {
    char *cache = NULL, *cpath = cache_path(path);
    if (!cpath) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    st = cquant_ptq_trt_cache(p, m, &cache);
    /* TensorRT reads the float model plus the cache: the cleaned float model is written */
    if (!st) st = cquant_onnx_serialize(p->clean, &buf, &len);
    if (!st) st = cquant_file_write_atomic(path, buf, len);
    if (!st) st = cquant_file_write_atomic(cpath, cache, strlen(cache));
    free(cache);
    free(cpath);
  } else {
    cquant_onnx_model_t *qm;
    if (!(st = cquant__ptq_model(p, m, f, &qm))) st = cquant_onnx_serialize(qm, &buf, &len);
    cquant_onnx_free(qm);
    if (!st) st = cquant_file_write_atomic(path, buf, len);
  }
  free(buf);
  if (!st && bytes) *bytes = len;
  return st;
}
