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

static int quantize_layer(cquant_ptq_t *p, cquant__graph_t *g, int ni, const cquant__ptq_plan_t *pl, int npl, cquant_calib_method_t method) {
  const Onnx__NodeProto *n0 = g->node[ni];
  int wi, st;
  if (cquant__ptq_quantizable(g, n0, &wi) != 1) return 0;
  const char *label = cquant__node_label(n0);
  const int li = cquant__ptq_layer_index(p, label);
  if (li < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: '%s' is not a layer of the session", label);
  const cquant_qparams_t *qp;
  const cquant_array_t *wq;
  if ((st = cquant__ptq_layer_weights(p, li, &qp, &wq))) return st;
  const int axis = p->layer[li].w_axis;
  const int64_t C = wq->shape[axis];
  cquant_array_t q; /* a copy the graph takes over: the session keeps its own */
  if ((st = cquant_array_alloc(&q, CQUANT_DT_S8, wq->ndim, wq->shape))) return st;
  memcpy(q.data, wq->data, wq->nbytes);
  float sx;
  int32_t zx;
  const int has_x = plan_scale(p, pl, npl, n0->input[0], method, &sx, &zx) == 0;
  const char *wdq = NULL, *bdq = NULL;
  st = cquant__graph_add_const_dq(g, cquant__graph_str(g, "%s_W", label), &q, qp->scale, CQUANT_DT_S8, C, axis, &wdq);
  cquant_array_free(&q);
  if (st) return st;
  const int bi = n0->n_input > 2 && *n0->input[2] ? cquant__graph_init_find(g, n0->input[2]) : -1;
  /* eq. 28 in int32. TensorRT's form (--symmetric-act) keeps the bias float: its builder folds it
   * into the layer; the integer rewrite quantizes it the same way */
  if (bi >= 0 && has_x && !p->opt.symmetric_act) {
    cquant_array_t bq;
    float *bs = malloc(sizeof(float) * (size_t)C);
    int64_t sh[1] = {C};
    if (!bs || (st = cquant_array_alloc(&bq, CQUANT_DT_S32, 1, sh))) {
      free(bs);
      return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    }
    cquant__bias_quantize(g->init[bi].data, C, sx, qp->scale, C, bq.data, bs);
    st = cquant__graph_add_const_dq(g, cquant__graph_str(g, "%s_B", label), &bq, bs, CQUANT_DT_S32, C, 0, &bdq);
    free(bs);
    cquant_array_free(&bq);
    if (st) return st;
  }
  Onnx__NodeProto *n = cquant__graph_edit_node(g, ni);
  if (!n) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  n->input[1] = (char *)wdq;
  if (bdq) n->input[2] = (char *)bdq;
  return 0;
}

/* The QDQ graph of method m (g is made here; freed by the caller also on error). */
static int export_qdq(cquant_ptq_t *p, cquant_calib_method_t method, cquant__graph_t *g) {
  int st = cquant__graph_from_model(p->clean, g);
  if (st) return st;
  cquant__ptq_plan_t *pl;
  int npl;
  if ((st = cquant__ptq_make_plan(p, g, &pl, &npl))) return st;
  const int n_orig = g->n_node;
  /* weights first (their bias scales need the input's scale), then activations */
  for (int i = 0; i < n_orig && !st; i++)
    if (!cquant__ptq_excluded(p, g->node[i])) st = quantize_layer(p, g, i, pl, npl, method);
  for (int i = 0; i < npl && !st; i++) {
    float s;
    int32_t z;
    if ((st = plan_scale(p, pl, npl, pl[i].t, method, &s, &z))) break;
    st = cquant__graph_insert_qdq(g, pl[i].t, s, z, cquant__ptq_act_dtype(p));
  }
  free(pl);
  if (!st && g->opset < 13) g->opset = 13; /* per-axis DequantizeLinear */
  char desc[256];
  snprintf(desc, sizeof desc, "weights %s per output channel (symmetric, %s); activations %s per tensor (%s)",
           p->opt.weight_dtype == CQUANT_DT_S4 ? "int4 (in int8, -7..7)" : "int8", p->opt.weight_mse ? "MSE range" : "min-max range",
           p->opt.symmetric_act ? "int8 symmetric" : "uint8 asymmetric", cquant_calib_method_name(method));
  if (!st) st = cquant__graph_add_meta(g, "cquant.ptq", desc);
  return st;
}

int cquant__ptq_model(cquant_ptq_t *p, cquant_calib_method_t m, cquant_ptq_format_t f, cquant_onnx_model_t **out) {
  *out = NULL;
  if (f != CQUANT_PTQ_QDQ && f != CQUANT_PTQ_QOP) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: format %d is not a model", (int)f);
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

int cquant_ptq_save(cquant_ptq_t *p, cquant_calib_method_t m, cquant_ptq_format_t f, const char *path, size_t *bytes) {
  if (!p || !path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  void *buf = NULL;
  size_t len = 0;
  int st;
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
