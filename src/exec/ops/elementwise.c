/* Elementwise operators: Add, Sub, Mul, Div, Min, Max, Clip, Round with ONNX (numpy)
 * broadcasting; Relu (float32, and 8-bit through the kernel table); LeakyRelu, Sigmoid, Tanh,
 * HardSwish. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "cquant/intops.h"
#include "intops/intops.h"
#include "exec/exec_internal.h"

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
  int st = cquant__broadcast(node, args, n, &ndim, shape, strides);
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
    float v = ((const float *)args[0]->data)[cquant__offset_of(i, ndim, shape, strides[0])];
    for (int k = 1; k < n; k++) {
      const float b = ((const float *)args[k]->data)[cquant__offset_of(i, ndim, shape, strides[k])];
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

int cquant__op_unary(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = cquant__need_f32(node, in[0], "X"))) return st;
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, in[0]->ndim, in[0]->shape))) return st;
  const float *x = in[0]->data;
  float *y = out[0].data;
  const char *op = node->op_type;
  const Onnx__AttributeProto *al = cquant__attr(node, "alpha");
  const float alpha = al && al->has_f ? al->f : 0.01f;
  for (int64_t i = 0; i < in[0]->numel; i++) {
    const float v = x[i];
    if (!strcmp(op, "LeakyRelu")) y[i] = v >= 0 ? v : alpha * v;
    else if (!strcmp(op, "Sigmoid")) y[i] = 1.0f / (1.0f + expf(-v));
    else if (!strcmp(op, "Tanh")) y[i] = tanhf(v);
    else if (!strcmp(op, "HardSwish")) { float r = v + 3.0f; r = r < 0 ? 0 : (r > 6 ? 6 : r); y[i] = v * r / 6.0f; }
    else y[i] = v;
  }
  return CQUANT_STATUS_OK;
}

static int is8(const cquant_array_t *a) { return a && (a->dtype == CQUANT_DT_U8 || a->dtype == CQUANT_DT_S8); }

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
