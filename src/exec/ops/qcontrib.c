/* Quantized operators of ONNX Runtime's com.microsoft domain that the QLinear form of a model
 * needs (QGemm, QLinearAdd, QLinearGlobalAveragePool), with ONNX Runtime's semantics, and Relu on
 * 8-bit tensors (opset 14 allows int8). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "exec/exec_internal.h"

static int is8(const cquant_array_t *a) { return a && (a->dtype == CQUANT_DT_U8 || a->dtype == CQUANT_DT_S8); }

/* QGemm: Y = A B (+ C) with A (M x K) and B (K x N, or N x K with transB) 8-bit, C int32 at scale
 * s_a s_b; y_scale given: requantized to y's type (eq. 23), else float32 (acc s_a s_b[n]). */
int cquant__op_qgemm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out;
  const cquant_array_t *a = in[0], *b = in[3], *c = n_in > 6 ? in[6] : NULL;
  const cquant_array_t *ys = n_in > 7 ? in[7] : NULL, *yz = n_in > 8 ? in[8] : NULL;
  float sa, sy = 1;
  int32_t za, zy = 0;
  cquant_dtype_t d, ydt = CQUANT_DT_F32;
  int st;
  if (!is8(a) || !is8(b) || a->ndim != 2 || b->ndim != 2) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "A and B must be 2-D uint8 or int8");
  if (cquant__attr_int(node, "transA", 0)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "transA=1 is not supported");
  const Onnx__AttributeProto *al = cquant__attr(node, "alpha");
  const float alpha = al && al->has_f ? al->f : 1.0f;
  if ((st = cquant__scalar_qp(node, in[1], in[2], "a_scale/a_zero_point", &sa, &za, &d))) return st;
  if (ys && (st = cquant__scalar_qp(node, ys, yz, "y_scale/y_zero_point", &sy, &zy, &ydt))) return st;
  const int transB = (int)cquant__attr_int(node, "transB", 0);
  const int64_t M = a->shape[0], K = a->shape[1], N = transB ? b->shape[0] : b->shape[1];
  if ((transB ? b->shape[1] : b->shape[0]) != K)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld", (long long)K, (long long)(transB ? b->shape[1] : b->shape[0]));
  const float *sb;
  int64_t nsb, nzb;
  int32_t *zb;
  if ((st = cquant__scales(node, in[4], "b_scale", &sb, &nsb))) return st;
  if ((st = cquant__zero_points(node, in[5], "b_zero_point", &zb, &nzb, &d))) return st;
  if ((nsb != 1 && nsb != N) || (nzb != 1 && nzb != N)) {
    free(zb);
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "b_scale and b_zero_point need 1 or %lld entries", (long long)N);
  }
  if (c && (c->dtype != CQUANT_DT_S32 || (c->numel != N && c->numel != 1))) {
    free(zb);
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "C must be int32 with %lld entries", (long long)N);
  }
  /* weights as K x N, packed; constant weights once per model and node (the node's cache) */
  cquant_qgemm_weights_t *w = NULL, *own = NULL;
  const int cacheable = cquant__input_is_const(ctx, 3) && (n_in < 6 || !in[5] || cquant__input_is_const(ctx, 5));
  if (cacheable) w = cquant__cache_get(ctx, b->data);
  if (!w) {
    const void *bk = b->data;
    void *tmp = NULL;
    if (transB) {
      if (!(tmp = malloc((size_t)(K * N) + 1))) { free(zb); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }
      for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) ((uint8_t *)tmp)[k * N + n] = ((const uint8_t *)b->data)[n * K + k];
      bk = tmp;
    }
    st = cquant_qgemm_pack(bk, b->dtype == CQUANT_DT_S8, K, N, N, zb, nzb == N, &own);
    free(tmp);
    if (st) { free(zb); return st; }
    w = own;
    if (cacheable && (w = cquant__cache_put(ctx, b->data, own, (void (*)(void *))cquant_qgemm_weights_free))) own = NULL;
    else w = own;
  }
  free(zb);
  float *mult = malloc(sizeof(float) * (size_t)N);
  int32_t *bias = c ? malloc(sizeof(int32_t) * (size_t)N) : NULL;
  if (!mult || (c && !bias)) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  int64_t oshape[2] = {M, N};
  if (!st) st = cquant_array_alloc(&out[0], ydt, 2, oshape);
  if (!st) {
    for (int64_t n = 0; n < N; n++) {
      mult[n] = alpha * sa * sb[nsb == 1 ? 0 : n] / (ydt == CQUANT_DT_F32 ? 1.0f : sy);
      if (bias) bias[n] = ((const int32_t *)c->data)[c->numel == 1 ? 0 : n];
    }
    cquant_epilogue_t e;
    memset(&e, 0, sizeof e);
    e.bias = bias;
    e.per_column = 1;
    if (ydt == CQUANT_DT_F32) {
      e.kind = CQUANT_EPI_F32;
      e.scale = mult;
    } else {
      e.kind = CQUANT_EPI_REQUANT_F;
      e.mult = mult;
      e.zo = zy;
      e.out_signed = ydt == CQUANT_DT_S8;
      e.lo = e.out_signed ? -128 : 0;
      e.hi = e.out_signed ? 127 : 255;
    }
    st = cquant_qgemm_ex(a->data, a->dtype == CQUANT_DT_S8, M, K, za, w, &e, out[0].data, N);
    if (st) cquant_array_free(&out[0]);
  }
  free(mult);
  free(bias);
  cquant_qgemm_weights_free(own);
  return st;
}

/* QLinearAdd: C = A + B (same shapes), in integers (eq. 26). */
int cquant__op_qlinear_add(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out;
  const cquant_array_t *a = in[0], *b = in[3];
  float sa, sb, sc;
  int32_t za, zb, zc;
  cquant_dtype_t da, db, dc;
  int st;
  if (!is8(a) || !is8(b) || a->dtype != b->dtype) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "A and B must be uint8 or int8 of one type");
  if ((st = cquant__scalar_qp(node, in[1], in[2], "A_scale/A_zero_point", &sa, &za, &da)) ||
      (st = cquant__scalar_qp(node, in[4], in[5], "B_scale/B_zero_point", &sb, &zb, &db)) ||
      (st = cquant__scalar_qp(node, in[6], n_in > 7 ? in[7] : NULL, "C_scale/C_zero_point", &sc, &zc, &dc)))
    return st;
  if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "A and B must have the same shape (broadcasting is not supported yet)");
  if (dc != a->dtype) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "C must have A's type");
  if ((st = cquant_array_alloc(&out[0], a->dtype, a->ndim, a->shape))) return st;
  /* constant parameters: the exact table of all input pairs, made once per model and node */
  int cacheable = 1;
  for (int k = 1; k < 8; k++)
    if (k != 3 && k < n_in && in[k]) cacheable &= cquant__input_is_const(ctx, k);
  const uint8_t *tab = cacheable ? cquant__cache_get(ctx, in[1]->data) : NULL;
  if (cacheable && !tab) {
    uint8_t *t = malloc(65536);
    if (t && !cquant__qadd_table(sa, za, sb, zb, a->dtype == CQUANT_DT_S8, sc, zc, t) && (tab = cquant__cache_put(ctx, in[1]->data, t, free))) t = NULL;
    free(t);
  }
  if (tab) cquant__qadd_by_table(tab, a->data, b->data, a->numel, out[0].data);
  else if ((st = cquant_qadd(a->data, sa, za, b->data, sb, zb, a->dtype == CQUANT_DT_S8, a->numel, sc, zc, out[0].data))) cquant_array_free(&out[0]);
  return st;
}

/* QLinearGlobalAveragePool (NCHW): y = saturate(round_half_even((sum - n z_x) s_x / (n s_y)) + z_y). */
int cquant__op_qlinear_gap(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  float sx, sy;
  int32_t zx, zy;
  cquant_dtype_t dx, dy;
  int st;
  if (!is8(x) || x->ndim < 3) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "X must be uint8 or int8 with at least 3 dimensions");
  const int cl = (int)cquant__attr_int(node, "channels_last", 0);
  if ((st = cquant__scalar_qp(node, in[1], in[2], "x_scale/x_zero_point", &sx, &zx, &dx)) ||
      (st = cquant__scalar_qp(node, in[3], in[4], "y_scale/y_zero_point", &sy, &zy, &dy)))
    return st;
  if (dy != x->dtype) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "Y must have X's type");
  if (cl && x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "channels_last needs a 4-D X");
  const int64_t C = cl ? x->shape[3] : x->shape[1];
  int64_t shape[CQUANT_MAX_DIMS];
  int64_t plane = 1;
  for (int d = 0; d < x->ndim; d++) shape[d] = 1;
  shape[0] = x->shape[0];
  shape[cl ? 3 : 1] = C;
  for (int d = cl ? 1 : 2; d < (cl ? 3 : x->ndim); d++) plane *= x->shape[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  const int sg = x->dtype == CQUANT_DT_S8;
  const float m = sx / (sy * (float)plane);
  const int64_t planes = x->shape[0] * C;
  int32_t *acc = malloc(sizeof(int32_t) * (size_t)(planes ? planes : 1));
  if (!acc) { cquant_array_free(&out[0]); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }
  cquant__kernels()->gap_sum_8(x->data, sg, cl, x->shape[0], C, plane, zx, acc);
  cquant__requant_f(acc, planes, m, zy, x->dtype, out[0].data);
  free(acc);
  return 0;
}

/* NhwcMaxPool (com.microsoft): max pooling of uint8/int8 N x H x W x C, kernel_shape, strides, pads;
 * every output pixel's channels at once. */
int cquant__op_nhwc_maxpool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  if (!is8(x) || x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "X must be 4-D uint8 or int8 (NHWC)");
  const Onnx__AttributeProto *a = cquant__attr(node, "kernel_shape");
  if (!a || a->n_ints != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape needs 2 values");
  const int64_t kh = a->ints[0], kw = a->ints[1];
  int64_t sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  if ((a = cquant__attr(node, "strides")) && a->n_ints == 2) sh = a->ints[0], sw = a->ints[1];
  if ((a = cquant__attr(node, "pads")) && a->n_ints == 4) pt = a->ints[0], pl = a->ints[1], pb = a->ints[2], pr = a->ints[3];
  const int64_t N = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || pt < 0 || pl < 0 || pb < 0 || pr < 0)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad kernel, strides or pads");
  const int64_t oh = (H + pt + pb - kh) / sh + 1, ow = (W + pl + pr - kw) / sw + 1;
  if (oh < 1 || ow < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the window does not fit");
  int64_t shape[4] = {N, oh, ow, C};
  int st = cquant_array_alloc(&out[0], x->dtype, 4, shape);
  if (st) return st;
  cquant__kernels()->maxpool_nhwc_8(x->data, x->dtype == CQUANT_DT_S8, N, H, W, C, kh, kw, sh, sw, pt, pl, oh, ow, out[0].data);
  return 0;
}

/* Relu: float through the elementwise code; int8 max(x, 0); uint8 unchanged. */
int cquant__op_relu(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  if (!is8(x)) return cquant__op_elementwise(ctx, node, in, n_in, out, n_out);
  int st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape);
  if (st) return st;
  if (x->dtype == CQUANT_DT_U8) memcpy(out[0].data, x->data, x->nbytes);
  else cquant__kernels()->relu_s8(x->data, x->numel, out[0].data);
  return 0;
}
