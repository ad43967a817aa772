/* Helpers every operator family shares: element access for any element type, multidirectional
 * broadcasting, attributes, and integer tensors read as int64 (shapes, axes, indices). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "exec/exec_internal.h"
#include "exec/ops/binary_internal.h"

int cquant__broadcast(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n, int *ndim, int64_t *shape,
                      int64_t strides[][CQUANT_MAX_DIMS]) {
  int r = 0;
  for (int i = 0; i < n; i++) r = in[i]->ndim > r ? in[i]->ndim : r;
  for (int d = 0; d < r; d++) shape[d] = 1;
  for (int i = 0; i < n; i++)
    for (int d = 0; d < in[i]->ndim; d++) {
      int o = d + r - in[i]->ndim;
      int64_t v = in[i]->shape[d];
      if (v != 1 && shape[o] != 1 && v != shape[o])
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shapes do not broadcast (%lld vs %lld at axis %d)", (long long)v,
                                  (long long)shape[o], o);
      if (v != 1) shape[o] = v;
    }
  for (int i = 0; i < n && strides; i++) {
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
      int id = d - (r - in[i]->ndim);
      int64_t v = id >= 0 ? in[i]->shape[id] : 1;
      strides[i][d] = v == 1 ? 0 : s;
      s *= v;
    }
  }
  *ndim = r;
  return CQUANT_STATUS_OK;
}

int64_t cquant__offset_of(int64_t flat, int ndim, const int64_t *shape, const int64_t *stride) {
  int64_t off = 0;
  for (int d = ndim - 1; d >= 0; d--) {
    off += (flat % shape[d]) * stride[d];
    flat /= shape[d];
  }
  return off;
}

/* The binary family's typed loads, over an array (one definition of every element type's meaning). */
double cquant__get_f64(const cquant_array_t *a, int64_t i) { return bin_ld_f64(a->data, a->dtype, i); }
int64_t cquant__get_i64(const cquant_array_t *a, int64_t i) { return bin_ld_i64(a->data, a->dtype, i); }

void cquant__set_f64(cquant_array_t *a, int64_t i, double v) {
  void *p = a->data;
  switch (a->dtype) {
    case CQUANT_DT_F32: ((float *)p)[i] = (float)v; break;
    case CQUANT_DT_F64: ((double *)p)[i] = v; break;
    case CQUANT_DT_F16: ((uint16_t *)p)[i] = cquant_f32_to_f16((float)v); break;
    case CQUANT_DT_BF16: ((uint16_t *)p)[i] = cquant_f32_to_bf16((float)v); break;
    case CQUANT_DT_F8E4M3: ((uint8_t *)p)[i] = cquant_f32_to_f8e4m3((float)v, CQUANT_FP8_SATURATE); break;
    case CQUANT_DT_F8E5M2: ((uint8_t *)p)[i] = cquant_f32_to_f8e5m2((float)v, CQUANT_FP8_SATURATE); break;
    case CQUANT_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case CQUANT_DT_U64: /* negative values wrap through int64 like the other integers; NaN 0, beyond the range saturated */
      ((uint64_t *)p)[i] = isnan(v) ? 0
                           : v < 0   ? (uint64_t)(v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v)
                           : v >= 1.8446744073709552e19 ? UINT64_MAX
                                                        : (uint64_t)v;
      break;
    default: /* integers: C conversion of the truncated value, wrapping like a cast through int64 */
      cquant__set_i64(a, i, isnan(v) ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v);
      break;
  }
}

void cquant__set_i64(cquant_array_t *a, int64_t i, int64_t v) {
  void *p = a->data;
  switch (a->dtype) {
    case CQUANT_DT_S8: case CQUANT_DT_S4: case CQUANT_DT_S2: ((int8_t *)p)[i] = (int8_t)v; break;
    case CQUANT_DT_U8: case CQUANT_DT_U4: case CQUANT_DT_U2: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case CQUANT_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case CQUANT_DT_S16: ((int16_t *)p)[i] = (int16_t)v; break;
    case CQUANT_DT_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case CQUANT_DT_S32: ((int32_t *)p)[i] = (int32_t)v; break;
    case CQUANT_DT_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case CQUANT_DT_S64: ((int64_t *)p)[i] = v; break;
    case CQUANT_DT_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: cquant__set_f64(a, i, (double)v); break;
  }
}

int cquant__is_float(cquant_dtype_t dt) { return cquant_dtype_info(dt) && cquant_dtype_info(dt)->is_float; }

int cquant__read_ints(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int64_t *out, int max, int *n) {
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is missing", what);
  if (cquant__is_float(a->dtype) || a->dtype == CQUANT_DT_BOOL)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be an integer tensor, got %s", what, cquant_dtype_info(a->dtype)->name);
  if (a->ndim > 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a scalar or 1-D", what);
  if (a->numel > max) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s has %lld entries (at most %d)", what, (long long)a->numel, max);
  for (int64_t i = 0; i < a->numel; i++) out[i] = cquant__get_i64(a, i);
  *n = (int)a->numel;
  return CQUANT_STATUS_OK;
}

float cquant__attr_float(const Onnx__NodeProto *node, const char *name, float dflt) {
  const Onnx__AttributeProto *a = cquant__attr(node, name);
  return a && (a->has_f || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) ? a->f : dflt;
}

const char *cquant__attr_string(const Onnx__NodeProto *node, const char *name, const char *dflt) {
  const Onnx__AttributeProto *a = cquant__attr(node, name);
  static __thread char buf[256];
  if (!a || !a->has_s) return dflt;
  size_t n = a->s.len < sizeof buf - 1 ? a->s.len : sizeof buf - 1;
  if (n) memcpy(buf, a->s.data, n); /* an empty string may have no data */
  buf[n] = 0;
  return buf;
}

int cquant__attr_ints(const Onnx__NodeProto *node, const char *name, int64_t *out, int max, int *n) {
  const Onnx__AttributeProto *a = cquant__attr(node, name);
  *n = -1;
  if (!a) return CQUANT_STATUS_OK;
  if (a->n_ints > (size_t)max) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "attribute %s has %zu entries (at most %d)", name, a->n_ints, max);
  for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
  *n = (int)a->n_ints;
  return CQUANT_STATUS_OK;
}

int cquant__norm_axis(const Onnx__NodeProto *node, int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= (rank ? rank : 1))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return CQUANT_STATUS_OK;
}

int cquant__opset(const cquant__opctx_t *ctx) { return !ctx ? 21 : ctx->m ? ctx->m->opset : ctx->opset > 0 ? ctx->opset : 21; }
