/* BatchNormalization (inference) and Softmax on float32; Constant, Identity and Cast. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "cquant/convert.h"
#include "exec/exec_internal.h"

int cquant__op_batchnorm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  for (int i = 0; i < 5; i++)
    if ((st = cquant__need_f32(node, in[i], i ? "a parameter" : "X"))) return st;
  const cquant_array_t *x = in[0];
  const int64_t C = x->ndim > 1 ? x->shape[1] : 1;
  for (int i = 1; i < 5; i++)
    if (in[i]->numel != C) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "parameters must have %lld entries", (long long)C);
  const Onnx__AttributeProto *e = cquant__attr(node, "epsilon");
  const float eps = e && e->has_f ? e->f : 1e-5f;
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, x->ndim, x->shape))) return st;
  const float *s = in[1]->data, *b = in[2]->data, *mean = in[3]->data, *var = in[4]->data, *xd = x->data;
  float *y = out[0].data;
  const int64_t inner = x->numel / (x->shape[0] * C);
  for (int64_t n = 0; n < x->shape[0]; n++)
    for (int64_t c = 0; c < C; c++) {
      const float k = s[c] / sqrtf(var[c] + eps), off = b[c] - mean[c] * k;
      for (int64_t i = 0; i < inner; i++) y[(n * C + c) * inner + i] = xd[(n * C + c) * inner + i] * k + off;
    }
  return CQUANT_STATUS_OK;
}

int cquant__op_softmax(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = cquant__need_f32(node, in[0], "X"))) return st;
  const cquant_array_t *x = in[0];
  int64_t axis = cquant__attr_int(node, "axis", -1);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, x->ndim, x->shape))) return st;
  int64_t outer = 1, len = x->shape[axis], inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = (int)axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  const float *xd = x->data;
  float *y = out[0].data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *xr = xd + o * len * inner + i;
      float *yr = y + o * len * inner + i, mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < len; k++) mx = xr[k * inner] > mx ? xr[k * inner] : mx;
      for (int64_t k = 0; k < len; k++) sum += (yr[k * inner] = expf(xr[k * inner] - mx));
      for (int64_t k = 0; k < len; k++) yr[k * inner] /= sum;
    }
  return CQUANT_STATUS_OK;
}

int cquant__op_constant(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const Onnx__AttributeProto *a = cquant__attr(node, "value");
  if (!a || !a->t) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "only the 'value' tensor attribute is supported");
  int st = cquant__tensor_from_proto(a->t, &out[0]);
  return st;
}

int cquant__op_identity(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st = cquant_array_alloc(&out[0], in[0]->dtype, in[0]->ndim, in[0]->shape);
  if (!st && in[0]->nbytes) memcpy(out[0].data, in[0]->data, in[0]->nbytes);
  return st;
}

static double get(const cquant_array_t *a, int64_t i) {
  switch (a->dtype) {
    case CQUANT_DT_F32: return ((const float *)a->data)[i];
    case CQUANT_DT_U8: return ((const uint8_t *)a->data)[i];
    case CQUANT_DT_S8: return ((const int8_t *)a->data)[i];
    case CQUANT_DT_S16: return ((const int16_t *)a->data)[i];
    case CQUANT_DT_S32: return ((const int32_t *)a->data)[i];
    case CQUANT_DT_F16: return cquant_f16_to_f32(((const uint16_t *)a->data)[i]);
    default: return (double)((const int64_t *)a->data)[i];
  }
}

/* Cast: to a float, exactly; to an integer, truncation toward zero as C (and numpy) convert, with
 * out-of-range values saturated rather than left undefined. */
int cquant__op_cast(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int to = cquant__dtype_from_onnx((int32_t)cquant__attr_int(node, "to", -1));
  if (to < 0) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "target type %lld", (long long)cquant__attr_int(node, "to", -1));
  int st = cquant_array_alloc(&out[0], (cquant_dtype_t)to, in[0]->ndim, in[0]->shape);
  if (st) return st;
  const cquant_dtype_info_t *info = cquant_dtype_info((cquant_dtype_t)to);
  for (int64_t i = 0; i < in[0]->numel; i++) {
    double v = get(in[0], i);
    if (to == CQUANT_DT_F32) { ((float *)out[0].data)[i] = (float)v; continue; }
    if (to == CQUANT_DT_F16) { ((uint16_t *)out[0].data)[i] = cquant_f32_to_f16((float)v); continue; } /* nearest even */
    v = isnan(v) ? 0 : trunc(v);
    v = v < (double)info->qmin ? (double)info->qmin : (v > (double)info->qmax ? (double)info->qmax : v);
    switch (to) {
      case CQUANT_DT_U8: ((uint8_t *)out[0].data)[i] = (uint8_t)v; break;
      case CQUANT_DT_S8: ((int8_t *)out[0].data)[i] = (int8_t)v; break;
      case CQUANT_DT_S16: ((int16_t *)out[0].data)[i] = (int16_t)v; break;
      case CQUANT_DT_S32: ((int32_t *)out[0].data)[i] = (int32_t)v; break;
      default: ((int64_t *)out[0].data)[i] = (int64_t)v; break;
    }
  }
  return CQUANT_STATUS_OK;
}
