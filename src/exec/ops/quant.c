/* QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear with ONNX semantics, on the core kernels
 * (docs/quantization.md, eq. 13-14; division, round half to even, saturation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"

/* The parameters of QuantizeLinear / DequantizeLinear for x: the scale (in[1]) and the optional
 * zero-point (in[2]; absent: zeros of type *zdt as passed in). A scalar scale gives per-tensor, a
 * 1-D one per-axis along `axis` (ONNX attribute, default 1, negative counts from the end). The
 * parameters' dtype is the zero-point's. Errors are prefixed with the node by the executor. */
static int linear_qp(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *const *in, int n_in,
                     const char *sname, const char *zname, cquant_dtype_t *zdt, cquant_qparams_t **qp) {
  const float *s;
  int64_t ns, nz;
  int32_t *z;
  cquant_dtype_t dflt = *zdt;
  const cquant_array_t *zt = n_in > 2 ? in[2] : NULL;
  int st = cquant__scales(node, in[1], sname, &s, &ns);
  if (st || (st = cquant__zero_points(node, zt, zname, &z, &nz, zdt))) return st;
  if (!zt) { /* absent: one 0 per scale */
    free(z);
    if (!(z = calloc((size_t)ns, sizeof(int32_t)))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
    nz = ns;
    *zdt = dflt;
  }
  int64_t axis = cquant__attr_int(node, "axis", 1);
  if (axis < 0) axis += x->ndim;
  const int per_axis = in[1]->ndim == 1;
  if (nz != ns)
    st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scale has %lld entries, zero point %lld", (long long)ns, (long long)nz);
  else if (per_axis && (axis < 0 || axis >= x->ndim || x->shape[axis] != ns))
    st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "a 1-D scale of %lld entries does not match axis %lld of the input",
                            (long long)ns, (long long)axis);
  else if (!(st = cquant_qparams_create(*zdt, per_axis ? CQUANT_PER_CHANNEL : CQUANT_PER_TENSOR, (int)axis, 0, 0, x->ndim, x->shape, qp))) {
    memcpy((*qp)->scale, s, sizeof(float) * (size_t)ns);
    memcpy((*qp)->zero_point, z, sizeof(int32_t) * (size_t)ns);
    if ((st = cquant_qparams_validate(*qp))) {
      cquant_qparams_destroy(*qp);
      *qp = NULL;
    }
  }
  free(z);
  return st;
}

int cquant__op_quantize_linear(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  if (!x || x->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "x must be float32");
  cquant_dtype_t zdt = CQUANT_DT_U8; /* an absent y_zero_point means uint8 */
  cquant_qparams_t *qp;
  int st = linear_qp(node, x, in, n_in, "y_scale", "y_zero_point", &zdt, &qp);
  if (st) return st;
  if (zdt != CQUANT_DT_U8 && zdt != CQUANT_DT_S8) st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "y_zero_point must be uint8 or int8");
  else if (!(st = cquant_array_alloc(&out[0], zdt, x->ndim, x->shape))) st = cquant_quantize(x->data, qp, CQUANT_LAYOUT_UNPACKED, out[0].data);
  cquant_qparams_destroy(qp);
  if (st) cquant_array_free(&out[0]);
  return st;
}

int cquant__op_dequantize_linear(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  if (!x || (x->dtype != CQUANT_DT_U8 && x->dtype != CQUANT_DT_S8 && x->dtype != CQUANT_DT_S32))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "x must be uint8, int8 or int32");
  cquant_dtype_t zdt = x->dtype; /* an absent x_zero_point means zeros of x's type */
  cquant_qparams_t *qp;
  int st = linear_qp(node, x, in, n_in, "x_scale", "x_zero_point", &zdt, &qp);
  if (st) return st;
  if (zdt != x->dtype) st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "x_zero_point type differs from x");
  else if (!(st = cquant_array_alloc(&out[0], CQUANT_DT_F32, x->ndim, x->shape))) st = cquant_dequantize(x->data, qp, CQUANT_LAYOUT_UNPACKED, out[0].data);
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
