/* Float operators with ONNX (numpy) broadcasting: Add, Sub, Mul, Div, Min, Max, Clip, Round, Relu;
 * ReduceMin/ReduceMax; Constant, Identity, Cast. Enough for the graphs exporters emit around
 * quantization (DynamicQuantizeLinear expanded, for one); the float executor grows in issue 5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "exec/exec_internal.h"

/* Output shape of a multidirectional broadcast, and each input's strides in it (0 = broadcast). */
static int broadcast(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n, int *ndim, int64_t *shape,
                     int64_t strides[][CQUANT_MAX_DIMS]) {
  int r = 0;
  for (int i = 0; i < n; i++) r = in[i]->ndim > r ? in[i]->ndim : r;
  for (int d = 0; d < r; d++) shape[d] = 1;
  for (int i = 0; i < n; i++)
    for (int d = 0; d < in[i]->ndim; d++) {
      int o = d + r - in[i]->ndim;
      int64_t v = in[i]->shape[d];
      if (v != 1 && shape[o] != 1 && v != shape[o])
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shapes do not broadcast (%lld vs %lld)", (long long)v, (long long)shape[o]);
      if (v != 1) shape[o] = v;
    }
  for (int i = 0; i < n; i++) {
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

static int64_t offset_of(int64_t flat, int ndim, const int64_t *shape, const int64_t *stride) {
  int64_t off = 0;
  for (int d = ndim - 1; d >= 0; d--) {
    off += (flat % shape[d]) * stride[d];
    flat /= shape[d];
  }
  return off;
}

int cquant__op_elementwise(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const char *op = node->op_type;
  const cquant_array_t *args[16];
  int n = 0;
  for (int i = 0; i < n_in; i++) {
    if (!in[i]) continue; /* Clip's omitted bounds */
    if (in[i]->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input %d is %s; float32 only", i, cquant_dtype_info(in[i]->dtype)->name);
    args[n++] = in[i];
  }
  if (!strcmp(op, "Clip")) { /* bounds are scalars: apply directly */
    float lo = -INFINITY, hi = INFINITY;
    if (n_in > 1 && in[1]) { if (in[1]->numel != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "min must be a scalar"); lo = *(const float *)in[1]->data; }
    if (n_in > 2 && in[2]) { if (in[2]->numel != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "max must be a scalar"); hi = *(const float *)in[2]->data; }
    if (!in[0]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "no input");
    int st = cquant_array_alloc(&out[0], CQUANT_DT_F32, in[0]->ndim, in[0]->shape);
    if (st) return st;
    const float *x = in[0]->data;
    float *y = out[0].data;
    for (int64_t i = 0; i < in[0]->numel; i++) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
    return CQUANT_STATUS_OK;
  }
  int ndim = 0;
  int64_t shape[CQUANT_MAX_DIMS], strides[16][CQUANT_MAX_DIMS];
  int st = broadcast(node, args, n, &ndim, shape, strides);
  if (st || (st = cquant_array_alloc(&out[0], CQUANT_DT_F32, ndim, shape))) return st;
  float *y = out[0].data;
  const int kind = !strcmp(op, "Add") ? 0 : !strcmp(op, "Sub") ? 1 : !strcmp(op, "Mul") ? 2 : !strcmp(op, "Div") ? 3
                 : !strcmp(op, "Min") ? 4 : !strcmp(op, "Max") ? 5 : !strcmp(op, "Round") ? 6 : 7 /* Relu */;
  /* fast paths: no broadcasting (every operand has the output's element count) */
  int same = 1;
  for (int k = 0; k < n; k++) same &= args[k]->numel == out[0].numel;
  if (same && n == 1 && kind == 7) {
    const float *x = args[0]->data;
    for (int64_t i = 0; i < out[0].numel; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
    return CQUANT_STATUS_OK;
  }
  if (same && n == 2 && kind <= 3) {
    const float *a = args[0]->data, *b = args[1]->data;
    const int64_t ne = out[0].numel;
    switch (kind) {
      case 0: for (int64_t i = 0; i < ne; i++) y[i] = a[i] + b[i]; break;
      case 1: for (int64_t i = 0; i < ne; i++) y[i] = a[i] - b[i]; break;
      case 2: for (int64_t i = 0; i < ne; i++) y[i] = a[i] * b[i]; break;
      default: for (int64_t i = 0; i < ne; i++) y[i] = a[i] / b[i]; break;
    }
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < out[0].numel; i++) {
    float v = ((const float *)args[0]->data)[offset_of(i, ndim, shape, strides[0])];
    for (int k = 1; k < n; k++) {
      const float b = ((const float *)args[k]->data)[offset_of(i, ndim, shape, strides[k])];
      switch (kind) {
        case 0: v = v + b; break;
        case 1: v = v - b; break;
        case 2: v = v * b; break;
        case 3: v = v / b; break;
        case 4: v = (v < b || isnan(v)) ? v : b; break; /* NaN propagates, as numpy.minimum */
        default: v = (v > b || isnan(v)) ? v : b; break;
      }
    }
    if (kind == 6) v = roundevenf(v);
    if (kind == 7) v = v > 0 ? v : 0.0f;
    y[i] = v;
  }
  return CQUANT_STATUS_OK;
}

/* The output index of element i of x: its coordinates with the reduced axes at 0. */
static int64_t reduced_index(const cquant_array_t *x, int64_t i, const int *reduce, const int64_t *full) {
  int64_t rem = i, o = 0, mul = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    const int64_t c = rem % x->shape[d];
    rem /= x->shape[d];
    if (!reduce[d]) o += c * mul;
    mul *= full[d];
  }
  return o;
}

int cquant__op_reduce(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  if (!x || x->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "float32 only");
  if (!x->numel) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "reducing an empty tensor");
  const int is_max = !strcmp(node->op_type, "ReduceMax"), is_mean = !strcmp(node->op_type, "ReduceMean"), is_sum = !strcmp(node->op_type, "ReduceSum");
  int reduce[CQUANT_MAX_DIMS] = {0}, any = 0;
  const Onnx__AttributeProto *a = cquant__attr(node, "axes");
  int64_t axes[CQUANT_MAX_DIMS];
  int nax = 0;
  const cquant_array_t *ai = n_in > 1 ? in[1] : NULL; /* axes as an input (ReduceSum-13, all reductions from 18) */
  if (ai && ai->numel) {
    if ((ai->dtype != CQUANT_DT_S64 && ai->dtype != CQUANT_DT_S32) || ai->ndim > 1 || ai->numel > CQUANT_MAX_DIMS)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axes must be a 1-D integer tensor");
    for (int64_t i = 0; i < ai->numel; i++) axes[nax++] = ai->dtype == CQUANT_DT_S64 ? ((const int64_t *)ai->data)[i] : ((const int32_t *)ai->data)[i];
  } else
    for (size_t i = 0; a && i < a->n_ints && nax < CQUANT_MAX_DIMS; i++) axes[nax++] = a->ints[i];
  for (int i = 0; i < nax; i++) {
    int64_t ax = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
    if (ax < 0 || ax >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld out of range", (long long)axes[i]);
    reduce[ax] = any = 1;
  }
  if (!any && cquant__attr_int(node, "noop_with_empty_axes", 0)) { /* an identity */
    int st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape);
    if (!st) memcpy(out[0].data, x->data, x->nbytes);
    return st;
  }
  if (!any) for (int d = 0; d < x->ndim; d++) reduce[d] = 1;
  const int keep = (int)cquant__attr_int(node, "keepdims", 1);
  int64_t oshape[CQUANT_MAX_DIMS], full[CQUANT_MAX_DIMS];
  int on = 0;
  for (int d = 0; d < x->ndim; d++) {
    full[d] = reduce[d] ? 1 : x->shape[d];
    if (!reduce[d] || keep) oshape[on++] = full[d];
  }
  int st = cquant_array_alloc(&out[0], CQUANT_DT_F32, on, oshape);
  if (st) return st;
  float *y = out[0].data;
  const float *xd = x->data;
  if (is_mean || is_sum) { /* sums in double, then one rounding */
    double *acc = calloc((size_t)out[0].numel + 1, sizeof(double));
    if (!acc) { cquant_array_free(&out[0]); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }
    for (int64_t i = 0; i < x->numel; i++) acc[reduced_index(x, i, reduce, full)] += xd[i];
    const double cnt = (double)x->numel / (double)(out[0].numel ? out[0].numel : 1);
    for (int64_t i = 0; i < out[0].numel; i++) y[i] = (float)(is_mean ? acc[i] / cnt : acc[i]);
    free(acc);
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < out[0].numel; i++) y[i] = is_max ? -INFINITY : INFINITY;
  for (int64_t i = 0; i < x->numel; i++) {
    const int64_t o = reduced_index(x, i, reduce, full);
    const float v = xd[i];
    if (isnan(v) || (is_max ? v > y[o] : v < y[o])) y[o] = isnan(y[o]) ? y[o] : v;
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
