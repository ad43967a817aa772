/* Export of the trained model: the float model with the trained initializers (BatchNorm kept),
 * and the QDQ model built with PTQ's primitives (src/graph/qdq_insert.c, PTQ's plan and clean-up):
 * BatchNorm folded with its running statistics (docs/quantization.md eq. 27), weights quantized
 * per output channel with the trained scales, biases in int32 at s_x s_w (eq. 28), a Q/DQ pair with
 * the trained activation parameters on every planned tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/io.h"
#include "graph/graph.h"
#include "graph/passes.h"
#include "ptq/ptq_internal.h"
#include "qat/qat_internal.h"

/* The work model's graph with every float initializer replaced by the session's value. */
static int trained_graph(cquant_qat_t *q, cquant__graph_t *g) {
  int st = cquant__graph_from_model(q->work, g);
  for (int i = 0; i < q->work->n_inits && !st; i++) {
    const qat_val_t *v = &q->val[i]; /* the initializers are the first values (build.c) */
    if (!v->is_init || v->cst) continue;
    cquant_array_t a;
    if ((st = cquant_array_alloc(&a, CQUANT_DT_F32, v->ndim, v->shape))) break;
    memcpy(a.data, v->x, sizeof(float) * (size_t)v->numel);
    if ((st = cquant__graph_init_add(g, v->name, &a))) cquant_array_free(&a);
  }
  return st;
}

int cquant__qat_float_model(cquant_qat_t *q, cquant_onnx_model_t **out) {
  cquant__graph_t g;
  int st = trained_graph(q, &g);
  if (!st) st = cquant__graph_load(&g, out);
  cquant__graph_free(&g);
  return st;
}

int cquant_qat_export_float(cquant_qat_t *q, void **buf, size_t *len) {
  if (!q || !buf || !len) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  cquant_onnx_model_t *m;
  int st = cquant__qat_float_model(q, &m);
  if (!st) st = cquant_onnx_serialize(m, buf, len);
  cquant_onnx_free(m);
  return st;
}

static const qat_node_t *act_fq(const cquant_qat_t *q, const char *t) {
  for (int i = 0; i < q->n_node; i++)
    if (q->node[i].op == QOP_FQ && !q->node[i].fq->weight && !strcmp(q->val[q->node[i].in[0]].name, t)) return &q->node[i];
  return NULL;
}

static const qat_node_t *weight_fq(const cquant_qat_t *q, const char *label) {
  for (int i = 0; i < q->n_node; i++)
    if (q->node[i].op == QOP_FQ && q->node[i].fq->weight && !strcmp(q->node[i].label, label)) return &q->node[i];
  return NULL;
}

/* An activation's parameters: scale and the rounded offset (the zero-point). */
static int act_params(const cquant_qat_t *q, const cquant__ptq_plan_t *pl, int npl, const char *t, float *s, int32_t *z) {
  int i = cquant__ptq_plan_find(pl, npl, t);
  if (i < 0) return -1;
  const qat_node_t *f = act_fq(q, pl[i].src ? pl[i].src : pl[i].t);
  if (!f) return -1;
  *s = q->val[f->in[1]].x[0];
  float zr = nearbyintf(q->val[f->in[2]].x[0]);
  *z = (int32_t)(zr < f->fq->qmin ? f->fq->qmin : zr > f->fq->qmax ? f->fq->qmax : zr);
  return 0;
}

static int quantize_layer(cquant_qat_t *q, cquant__graph_t *g, int ni, const cquant__ptq_plan_t *pl, int npl) {
  const Onnx__NodeProto *n0 = g->node[ni];
  int wi, st;
  if (cquant__ptq_quantizable(g, n0, &wi) != 1) return 0;
  const char *label = cquant__node_label(n0);
  const qat_node_t *f = weight_fq(q, label);
  if (!f) return 0;
  const cquant_array_t *w = &g->init[wi];
  const int axis = cquant__ptq_weight_axis(n0);
  if (axis != 0 || w->shape[0] != f->fq->C) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "qat: '%s': weights do not match the trained layer", label);
  const int64_t C = f->fq->C, per = w->numel / C;
  float *scale = malloc(sizeof(float) * (size_t)C);
  cquant_array_t qw;
  if (!scale) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  if ((st = cquant_array_alloc(&qw, CQUANT_DT_S8, w->ndim, w->shape))) { free(scale); return st; }
  /* the weights the forward quantizes (W s_c with the simulated folding: eq. 19-20, computed as the
   * forward computes them) rather than the clean-up's folded ones, which can differ in the last bit
   * and then round to another step */
  const qat_val_t *fin = &q->val[f->in[0]];
  const float *wf = fin->numel == w->numel ? fin->x : w->data;
  for (int64_t c = 0; c < C; c++) {
    float s = q->val[f->in[1]].x[c];
    if (!f->fq->lsq) { /* STE: the scale of the exported (folded) weights, as the forward computes it */
      float amax = 0;
      for (int64_t i = 0; i < per; i++) amax = fabsf(wf[c * per + i]) > amax ? fabsf(wf[c * per + i]) : amax;
      s = amax > 0 ? f->fq->ratio[c] * amax / f->fq->qmax : 1e-8f;
    }
    scale[c] = s;
    const float inv = 1.0f / s; /* eq. 2 in the forward's arithmetic (fakequant.c) */
    for (int64_t i = 0; i < per; i++) {
      float v = nearbyintf(wf[c * per + i] * inv);
      v = v < f->fq->qmin ? f->fq->qmin : v > f->fq->qmax ? f->fq->qmax : v;
      ((int8_t *)qw.data)[c * per + i] = (int8_t)v;
    }
  }
  const char *wdq = NULL, *bdq = NULL;
  st = cquant__graph_add_const_dq(g, cquant__graph_str(g, "%s_W", label), &qw, scale, CQUANT_DT_S8, C, axis, &wdq);
  cquant_array_free(&qw);
  float sx;
  int32_t zx;
  const int bi = n0->n_input > 2 && *n0->input[2] ? cquant__graph_init_find(g, n0->input[2]) : -1;
  /* eq. 28 (8- and 4-bit activations): the int32 bias the forward simulated (fakequant.c) */
  if (!st && bi >= 0 && q->opt.act_bits && act_params(q, pl, npl, n0->input[0], &sx, &zx) == 0) {
    cquant_array_t bq;
    float *bs = malloc(sizeof(float) * (size_t)C);
    int64_t sh[1] = {C};
    if (!bs || (st = cquant_array_alloc(&bq, CQUANT_DT_S32, 1, sh))) {
      free(bs), free(scale);
      return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
    }
    cquant__bias_quantize(g->init[bi].data, C, sx, scale, C, bq.data, bs);
    st = cquant__graph_add_const_dq(g, cquant__graph_str(g, "%s_B", label), &bq, bs, CQUANT_DT_S32, C, 0, &bdq);
    free(bs);
    cquant_array_free(&bq);
  }
  free(scale);
  if (st) return st;
  Onnx__NodeProto *n = cquant__graph_edit_node(g, ni);
  if (!n) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  n->input[1] = (char *)wdq;
  if (bdq) n->input[2] = (char *)bdq;
  return 0;
}

static int qdq_graph(cquant_qat_t *q, cquant__graph_t *g) {
  /* the weights as the forward fake-quantizes them, from the trained values (the last forward ran
   * before the last update) */
  for (int i = 0; i < q->n_node; i++)
    if (q->node[i].op == QOP_BNSCALE || q->node[i].op == QOP_CHMUL) {
      const int st = cquant__qat_elem_fwd(q, &q->node[i]);
      if (st) return st;
    } else if (q->node[i].op == QOP_FQ && q->node[i].fq->weight && q->node[i].fq->lsq && q->node[i].fq->initialized) {
      cquant__qat_fq_fold_scale(q, &q->node[i]); /* eq. 9a with the last running statistics */
    }
  int st = trained_graph(q, g);
  if (!st) st = cquant__pass_cleanup(g, NULL);
  if (st) return st;
  cquant__ptq_plan_t *pl;
  int npl;
  if ((st = cquant__ptq_make_plan(q->ptq, g, &pl, &npl))) return st;
  const int n_orig = g->n_node;
  for (int i = 0; i < n_orig && !st; i++)
    if (g->node[i] && q->opt.weight_bits) st = quantize_layer(q, g, i, pl, npl);
  for (int i = 0; i < npl && !st && q->opt.act_bits; i++) {
    float s;
    int32_t z;
    if (act_params(q, pl, npl, pl[i].t, &s, &z)) continue;
    st = cquant__graph_insert_qdq(g, pl[i].t, s, z, CQUANT_DT_U8);
  }
  free(pl);
  if (!st && g->opset < 13) g->opset = 13;
  char desc[256];
  snprintf(desc, sizeof desc, "quantization-aware training (%s, %lld steps): weights int%d per output channel (symmetric, in int8), activations %s per tensor",
           q->opt.lsq ? "LSQ" : "STE", (long long)q->step, q->opt.weight_bits, q->opt.act_bits == 8 ? "uint8" : q->opt.act_bits ? "uint8 container" : "float");
  if (!st) st = cquant__graph_add_meta(g, "cquant.qat", desc);
  return st;
}

/* 4-bit activations: every activation zero-point initializer (uint8 as the graph writes it)
 * becomes UINT4 (ONNX type 21, packed two per byte, low nibble first) and the default opset 21,
 * whose QuantizeLinear/DequantizeLinear take 4-bit types; the serialised model is rewritten with
 * protobuf-c (the graph IR stores no 4-bit initializers). */
static int to_uint4(void **buf, size_t *len) {
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, *len, *buf);
  if (!mp || !mp->graph) {
    if (mp) onnx__model_proto__free_unpacked(mp, NULL);
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "qat: cannot re-read the exported model");
  }
  for (size_t i = 0; i < mp->graph->n_initializer; i++) {
    Onnx__TensorProto *t = mp->graph->initializer[i];
    const size_t L = strlen(t->name), S = strlen("_zero_point");
    if (L <= S || strcmp(t->name + L - S, "_zero_point") || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 || t->n_dims) continue;
    const int v = t->has_raw_data && t->raw_data.len ? t->raw_data.data[0] : t->n_int32_data ? t->int32_data[0] : 0;
    if (!(t->has_raw_data && t->raw_data.len)) { /* freed with the message (protobuf-c's default allocator) */
      uint8_t *b = malloc(1);
      if (!b) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
      }
      free(t->raw_data.data);
      t->raw_data.data = b;
    }
    free(t->int32_data);
    t->int32_data = NULL, t->n_int32_data = 0;
    t->data_type = 21; /* UINT4 */
    t->has_raw_data = 1, t->raw_data.len = 1, t->raw_data.data[0] = (uint8_t)(v & 15);
  }
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    Onnx__OperatorSetIdProto *o = mp->opset_import[i];
    if ((!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) && o->version < 21) o->version = 21;
  }
  if (mp->ir_version < 10) mp->ir_version = 10; /* INT4/UINT4 */
  const size_t nl = onnx__model_proto__get_packed_size(mp);
  void *nb = malloc(nl ? nl : 1);
  if (!nb) {
    onnx__model_proto__free_unpacked(mp, NULL);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  }
  onnx__model_proto__pack(mp, nb);
  onnx__model_proto__free_unpacked(mp, NULL);
  free(*buf);
  *buf = nb, *len = nl;
  return 0;
}

int cquant_qat_export(cquant_qat_t *q, void **buf, size_t *len) {
  if (!q || !buf || !len) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  if (q->opt.act_bits && q->opt.act_bits != 8 && q->opt.act_bits != 4)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "qat: export of %d-bit activations (ONNX has 4- and 8-bit types)", q->opt.act_bits);
  cquant__graph_t g;
  cquant_onnx_model_t *m = NULL;
  int st = qdq_graph(q, &g);
  if (!st) st = cquant__graph_load(&g, &m);
  cquant__graph_free(&g);
  if (!st) st = cquant_onnx_serialize(m, buf, len);
  cquant_onnx_free(m);
  if (!st && q->opt.act_bits == 4 && (st = to_uint4(buf, len))) free(*buf), *buf = NULL;
  return st;
}

int cquant_qat_save(cquant_qat_t *q, const char *path, size_t *bytes) {
  if (!q || !path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  void *buf = NULL;
  size_t len = 0;
  int st = cquant_qat_export(q, &buf, &len);
  if (!st) st = cquant_file_write_atomic(path, buf, len);
  free(buf);
  if (!st && bytes) *bytes = len;
  return st;
}
