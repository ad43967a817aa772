/* ReduceMin, ReduceMax, ReduceMean, ReduceSum over float32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "exec/exec_internal.h"

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
