/* Max, Min, Sum and Mean: any number of inputs of one type, broadcast together (numpy rules, from
 * opset 8; equal shapes before, which the same rules accept). The first input is broadcast into
 * the output, the others are folded into it one by one with the kernels of binary.c; Max and Min
 * propagate NaN as numpy does. float16 and bfloat16 accumulate in float32 and round once. */
#include <stdlib.h>
#include <string.h>
#include "exec/ops/binary_internal.h"

/* y = operand 1 (operand 0 is the output itself, only there for its shape). */
static void take_b(void *u, const char *const *p, const int64_t *s, char *y, int64_t n) {
  const size_t es = *(const size_t *)u;
  if (s[1]) {
    memcpy(y, p[1], (size_t)n * es);
    return;
  }
  for (int64_t i = 0; i < n; i++) memcpy(y + (size_t)i * es, p[1], es);
}

enum { V_MAX, V_MIN, V_SUM, V_MEAN };

static int variadic(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int what) {
  if (n_in < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "needs at least one input");
  for (int k = 0; k < n_in; k++) {
    if (!in[k]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d is missing", k);
    if (in[k]->dtype != in[0]->dtype)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d is %s but input 0 is %s (the types must match)", k,
                                bin_tname(in[k]->dtype), bin_tname(in[0]->dtype));
  }
  const cquant_dtype_t dt = in[0]->dtype;
  const int half = dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16;
  const cquant_dtype_t wt = half ? CQUANT_DT_F32 : dt; /* the type the work runs in */
  bin_run_fn fn = cquant__bin_arith_kernel(what == V_MAX ? BIN_MAX : what == V_MIN ? BIN_MIN : BIN_ADD, wt);
  if (!fn) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s tensors are not supported", bin_tname(dt));
  int ndim, st;
  int64_t shape[CQUANT_MAX_DIMS];
  if ((st = cquant__broadcast(node, in, n_in, &ndim, shape, NULL))) return st;
  cquant_array_t acc, tmp;
  memset(&acc, 0, sizeof acc);
  memset(&tmp, 0, sizeof tmp);
  cquant_array_t *y = half ? &acc : &out[0];
  if ((st = cquant_array_alloc(y, wt, ndim, shape))) return st;
  const size_t es = cquant__dtype_size(wt);
  for (int k = 0; k < n_in && !st; k++) {
    const cquant_array_t *x;
    if ((st = cquant__bin_to_f32(in[k], &tmp, &x))) break;
    const cquant_array_t *ops[2] = {y, x};
    bin_plan_t p;
    int nd2;
    int64_t sh2[CQUANT_MAX_DIMS];
    if (!(st = cquant__bin_plan(node, ops, 2, &nd2, sh2, &p))) cquant__bin_loop(&p, ops, y->data, es, k ? fn : take_b, (void *)&es);
    cquant_array_free(&tmp);
  }
  if (!st && what == V_MEAN && n_in > 1) { /* divide by the count, in the work type */
    union {
      float f;
      double d;
      int64_t i64;
      uint64_t u64;
      int32_t i32;
      uint32_t u32;
      int16_t i16;
      uint16_t u16;
      int8_t i8;
      uint8_t u8;
    } v;
    memset(&v, 0, sizeof v);
    if (wt == CQUANT_DT_F32) v.f = (float)n_in;
    else if (wt == CQUANT_DT_F64) v.d = n_in;
    else bin_st_i64(&v, wt, 0, n_in);
    cquant_array_t cnt;
    memset(&cnt, 0, sizeof cnt);
    cnt.dtype = wt, cnt.numel = 1, cnt.nbytes = es, cnt.data = &v;
    const cquant_array_t *ops[2] = {y, &cnt};
    bin_plan_t p;
    int nd2;
    int64_t sh2[CQUANT_MAX_DIMS];
    if (!(st = cquant__bin_plan(node, ops, 2, &nd2, sh2, &p))) cquant__bin_loop(&p, ops, y->data, es, cquant__bin_arith_kernel(BIN_DIV, wt), NULL);
  }
  if (!st && half) st = cquant__bin_from_f32(&acc, dt, &out[0]);
  cquant_array_free(&acc);
  return st;
}

int cquant__bin_op_max(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return variadic(node, in, n_in, out, V_MAX);
}
int cquant__bin_op_min(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return variadic(node, in, n_in, out, V_MIN);
}
int cquant__bin_op_sum(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return variadic(node, in, n_in, out, V_SUM);
}
int cquant__bin_op_mean(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return variadic(node, in, n_in, out, V_MEAN);
}
