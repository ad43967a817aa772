/* QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear with ONNX semantics, on the core kernels
 * (docs/quantization.md, eq. 13-16; division, round half to even, saturation).
 *
 * The forms ONNX Runtime runs: per-tensor (a scalar or one-element scale), per-axis (a 1-D scale
 * along `axis`) and blocked (opset 21 `block_size`: the scale has x's rank, with axis dimension
 * ceil(len / block_size), the last block of an axis may be short); element types uint8, int8,
 * uint4, int4 (opset 21; one value per byte in an array, packed only in files), int16, and
 * float8e4m3fn / float8e5m2 (opset 19, `saturate`; their zero-point must be 0), plus int32 for
 * DequantizeLinear. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"

static int is_fp8(cquant_dtype_t dt) { return dt == CQUANT_DT_F8E4M3 || dt == CQUANT_DT_F8E5M2; }

/* The types QuantizeLinear writes (and DequantizeLinear reads, with int32). */
static int q_type(cquant_dtype_t dt) {
  return dt == CQUANT_DT_U8 || dt == CQUANT_DT_S8 || dt == CQUANT_DT_U4 || dt == CQUANT_DT_S4 || dt == CQUANT_DT_S16 || is_fp8(dt);
}

static void shape_str(const int64_t *d, int n, char *buf, size_t len) {
  size_t k = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < n && k < len; i++) k += (size_t)snprintf(buf + k, len - k, i ? ", %lld" : "%lld", (long long)d[i]);
  if (k < len) snprintf(buf + k, len - k, "]");
}

/* The parameters of QuantizeLinear / DequantizeLinear for x: the scale (in[1]), the optional
 * zero-point (in[2], the same shape; absent: zeros of type *dt as passed in) and the layout the
 * scale's shape and `block_size` give. *dt becomes the zero-point's type. Errors name the node. */
static int linear_qp(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *const *in, int n_in, const char *sname,
                     const char *zname, cquant_dtype_t *dt, cquant_qparams_t **qp) {
  const cquant_array_t *s = in[1], *z = n_in > 2 ? in[2] : NULL;
  char a[96], b[96];
  *qp = NULL;
  if (!s || s->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s must be float32", sname);
  if (!s->numel) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is empty", sname);
  const float *sv = s->data;
  for (int64_t i = 0; i < s->numel; i++)
    if (!(sv[i] > 0) || !isfinite(sv[i]))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s[%lld] = %g: scales must be finite and > 0", sname, (long long)i, sv[i]);
  if (z) {
    int same = z->ndim == s->ndim;
    for (int d = 0; same && d < s->ndim; d++) same = z->shape[d] == s->shape[d];
    if (!same) {
      shape_str(s->shape, s->ndim, a, sizeof a), shape_str(z->shape, z->ndim, b, sizeof b);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has shape %s, %s %s", sname, a, zname, b);
    }
    *dt = z->dtype;
  }
  const int64_t block = cquant__attr_int(node, "block_size", 0);
  int64_t axis = cquant__attr_int(node, "axis", 1);
  if (axis < 0) axis += x->ndim;
  cquant_granularity_t gr;
  if (block < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "block_size %lld is negative", (long long)block);
  if (block > 0) {
    if (s->ndim != x->ndim || axis < 0 || axis >= x->ndim) {
      shape_str(x->shape, x->ndim, a, sizeof a), shape_str(s->shape, s->ndim, b, sizeof b);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "blocked quantization (block_size %lld) of x %s along axis %lld needs a %s of x's rank, got %s",
                                (long long)block, a, (long long)cquant__attr_int(node, "axis", 1), sname, b);
    }
    gr = CQUANT_PER_GROUP;
  } else if (s->numel == 1 && s->ndim <= 1) {
    gr = CQUANT_PER_TENSOR, axis = 0;
  } else if (s->ndim == 1) {
    if (axis < 0 || axis >= x->ndim || x->shape[axis] != s->numel)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "a 1-D %s of %lld entries does not match axis %lld of the input", sname,
                                (long long)s->numel, (long long)cquant__attr_int(node, "axis", 1));
    gr = CQUANT_PER_CHANNEL;
  } else {
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a scalar or 1-D (or have x's rank, with block_size)", sname);
  }
  int st = cquant_qparams_create(*dt, gr, (int)axis, block, CQUANT_QF_ALLOW_SHORT_GROUP, x->ndim, x->shape, qp);
  if (st) return st;
  if (gr == CQUANT_PER_GROUP) { /* the scale's shape: x's, with the axis divided by block_size, rounded up */
    int64_t ps[CQUANT_MAX_DIMS];
    cquant_qparams_param_shape(*qp, ps);
    int same = 1;
    for (int d = 0; d < x->ndim; d++) same &= ps[d] == s->shape[d];
    if (!same) {
      shape_str(s->shape, s->ndim, a, sizeof a), shape_str(ps, x->ndim, b, sizeof b);
      st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has shape %s; block_size %lld along axis %lld needs %s", sname, a,
                              (long long)block, (long long)axis, b);
    }
  }
  if (!st) memcpy((*qp)->scale, sv, sizeof(float) * (size_t)s->numel);
  for (int64_t i = 0; z && !st && i < z->numel; i++) {
    int32_t v;
    switch (z->dtype) {
      case CQUANT_DT_U8: case CQUANT_DT_U4: v = ((const uint8_t *)z->data)[i]; break;
      case CQUANT_DT_S8: case CQUANT_DT_S4: v = ((const int8_t *)z->data)[i]; break;
      case CQUANT_DT_S16: v = ((const int16_t *)z->data)[i]; break;
      case CQUANT_DT_S32: v = ((const int32_t *)z->data)[i]; break;
      default: /* float8: +0 or -0 */
        v = ((const uint8_t *)z->data)[i] & 0x7f;
        if (v) st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s[%lld] is not 0: a float8 zero-point must be 0", zname, (long long)i);
        v = 0;
        break;
    }
    (*qp)->zero_point[i] = v;
  }
  if (!st) st = cquant_qparams_validate(*qp);
  if (st) {
    cquant_qparams_destroy(*qp);
    *qp = NULL;
  }
  return st;
}

/* Scaled FP8 with the node's saturation (eq. 16): runs of the tensor with one scale, or a row of
 * scales (blocked, off the last axis), through the kernel table (cquant_quantize always saturates). */
static void fp8_quantize(const float *x, const cquant_qparams_t *qp, cquant_fp8_mode_t mode, uint8_t *q) {
  const cquant__kernels_t *k = cquant__kernels();
  const int fmt = qp->dtype == CQUANT_DT_F8E5M2;
  int64_t outer, len, inner;
  cquant__split_shape(qp, &outer, &len, &inner);
  if (qp->granularity == CQUANT_PER_TENSOR) {
    k->fp8_q(x, (size_t)(outer * len * inner), qp->scale, 0, fmt, mode, CQUANT_ROUND_DIV, q);
    return;
  }
  const int64_t G = qp->granularity == CQUANT_PER_GROUP ? qp->group_size : 1, ng = (len + G - 1) / G;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t a = 0; a < len; a++) {
      const int64_t off = (o * len + a) * inner;
      if (qp->granularity == CQUANT_PER_CHANNEL) k->fp8_q(x + off, (size_t)inner, qp->scale + a, 0, fmt, mode, CQUANT_ROUND_DIV, q + off);
      else k->fp8_q(x + off, (size_t)inner, qp->scale + (o * ng + a / G) * inner, 1, fmt, mode, CQUANT_ROUND_DIV, q + off);
    }
}

int cquant__op_quantize_linear(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0];
  if (!x || x->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "x must be float32");
  /* no zero-point: opset 21's output_dtype (an ONNX element type), else uint8 */
  const int64_t od = cquant__attr_int(node, "output_dtype", 0);
  int odt = od ? cquant__dtype_from_onnx((int32_t)od) : CQUANT_DT_U8;
  if (odt < 0 || !q_type((cquant_dtype_t)odt))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "output_dtype %lld is not a type QuantizeLinear writes here", (long long)od);
  cquant_dtype_t dt = (cquant_dtype_t)odt;
  cquant_qparams_t *qp;
  int st = linear_qp(node, x, in, n_in, "y_scale", "y_zero_point", &dt, &qp);
  if (st) return st;
  if (!q_type(dt))
    st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "y_zero_point has type %s (uint8, int8, uint4, int4, int16, float8e4m3fn or float8e5m2 expected)",
                            cquant_dtype_info(dt)->name);
  else if (od && (int)dt != odt)
    st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "output_dtype %lld differs from y_zero_point's type %s", (long long)od, cquant_dtype_info(dt)->name);
  else if (!(st = cquant__array_alloc_uninit(&out[0], dt, x->ndim, x->shape))) {
    if (is_fp8(dt)) {
      const int64_t sat = cquant__attr_int(node, "saturate", 1);
      fp8_quantize(x->data, qp, sat ? CQUANT_FP8_SATURATE : CQUANT_FP8_NONSATURATE, out[0].data);
    } else {
      st = cquant_quantize(x->data, qp, CQUANT_LAYOUT_UNPACKED, out[0].data);
    }
  }
  cquant_qparams_destroy(qp);
  if (st) cquant_array_free(&out[0]);
  return st;
}

int cquant__op_dequantize_linear(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0];
  if (!x || !(q_type(x->dtype) || x->dtype == CQUANT_DT_S32))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "x has type %s (uint8, int8, uint4, int4, int16, int32, float8e4m3fn or float8e5m2 expected)",
                              x ? cquant_dtype_info(x->dtype)->name : "(none)");
  cquant_dtype_t dt = x->dtype; /* an absent x_zero_point means zeros of x's type */
  cquant_qparams_t *qp;
  int st = linear_qp(node, x, in, n_in, "x_scale", "x_zero_point", &dt, &qp);
  if (st) return st;
  if (dt != x->dtype)
    st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "x_zero_point has type %s, x %s", cquant_dtype_info(dt)->name, cquant_dtype_info(x->dtype)->name);
  else if (!(st = cquant__array_alloc_uninit(&out[0], CQUANT_DT_F32, x->ndim, x->shape)))
    st = cquant_dequantize(x->data, qp, CQUANT_LAYOUT_UNPACKED, out[0].data);
  cquant_qparams_destroy(qp);
  if (st) cquant_array_free(&out[0]);
  return st;
}

/* ONNX DynamicQuantizeLinear (uint8): the range widened to 0, s = (max - min) / 255,
 * z = saturate(round(0 - min / s)), then QuantizeLinear; all in float32. */
int cquant__op_dynamic_quantize_linear(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  if (!x || x->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "x must be float32");
  const float *xd = x->data;
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < x->numel; i++) {
    if (isnan(xd[i])) return cquant__node_error(node, CQUANT_STATUS_NOT_FINITE, "x[%lld] is NaN", (long long)i);
    mn = xd[i] < mn ? xd[i] : mn;
    mx = xd[i] > mx ? xd[i] : mx;
  }
  float s = (mx - mn) / 255.0f;
  if (!(s > 0) || !isfinite(s)) s = 1.0f; /* all zeros: any scale represents them; ONNX leaves it undefined */
  float zf = roundevenf(0.0f - mn / s);
  int32_t z = zf < 0 ? 0 : zf > 255 ? 255 : (int32_t)zf;
  cquant_qparams_t *qp;
  int st = cquant_qparams_create(CQUANT_DT_U8, CQUANT_PER_TENSOR, 0, 0, 0, x->ndim, x->shape, &qp);
  if (st) return st;
  qp->scale[0] = s;
  qp->zero_point[0] = z;
  int64_t one = 1;
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_U8, x->ndim, x->shape)) || (st = cquant_quantize(xd, qp, CQUANT_LAYOUT_UNPACKED, out[0].data)) ||
      (st = cquant_array_alloc(&out[1], CQUANT_DT_F32, 0, &one)) || (st = cquant_array_alloc(&out[2], CQUANT_DT_U8, 0, &one))) {
    cquant_qparams_destroy(qp);
    for (int i = 0; i < 3; i++) cquant_array_free(&out[i]);
    return st;
  }
  *(float *)out[1].data = s;
  *(uint8_t *)out[2].data = (uint8_t)z;
  cquant_qparams_destroy(qp);
  return CQUANT_STATUS_OK;
}
