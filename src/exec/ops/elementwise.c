/* Legacy elementwise entry points: cquant__op_elementwise (Add, Sub, Mul, Div, Min, Max through
 * the binary family; Clip, Round, Relu on float32) and Relu (float32, and 8-bit through the kernel
 * table), which the math family calls. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "cquant/intops.h"
#include "cquant/quantize.h"
#include "intops/intops.h"
#include "core/internal.h"
#include "exec/exec_internal.h"
#include "exec/ops/binary_internal.h"
#include "exec/ops/conv_par.h"

/* The legacy entry point: the arithmetic goes to the binary family (every element type,
 * broadcasting); Clip (scalar bounds), Round and Relu stay here for float32. */
/* Elements [u per, (u + 1) per) of Round (kind 0), Relu (1) or Clip to [lo, hi] (2). */
typedef struct {
  const float *a;
  float *y, lo, hi;
  int64_t n, per;
  int kind;
} ew_job_t;

static void ew_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const ew_job_t *j = vj;
  const int64_t i0 = u * j->per, n = (i0 + j->per < j->n ? i0 + j->per : j->n) - i0;
  const float *a = j->a + i0, lo = j->lo, hi = j->hi;
  float *y = j->y + i0;
  if (j->kind == 0)
    for (int64_t i = 0; i < n; i++) y[i] = roundevenf(a[i]);
  else if (j->kind == 1)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] > 0 ? a[i] : 0.0f;
  else
    for (int64_t i = 0; i < n; i++) y[i] = a[i] < lo ? lo : (a[i] > hi ? hi : a[i]);
}

int cquant__op_elementwise(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const char *op = node->op_type;
  if (!strcmp(op, "Add")) return cquant__bin_op_add(ctx, node, in, n_in, out, n_out);
  if (!strcmp(op, "Sub")) return cquant__bin_op_sub(ctx, node, in, n_in, out, n_out);
  if (!strcmp(op, "Mul")) return cquant__bin_op_mul(ctx, node, in, n_in, out, n_out);
  if (!strcmp(op, "Div")) return cquant__bin_op_div(ctx, node, in, n_in, out, n_out);
  if (!strcmp(op, "Min")) return cquant__bin_op_min(ctx, node, in, n_in, out, n_out);
  if (!strcmp(op, "Max")) return cquant__bin_op_max(ctx, node, in, n_in, out, n_out);
  int st;
  if (n_in < 1 || (st = cquant__need_f32(node, in[0], "X"))) return n_in < 1 ? cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "no input") : st;
  const cquant_array_t *x = in[0];
  float lo = -INFINITY, hi = INFINITY;
  if (!strcmp(op, "Clip")) { /* bounds are scalars */
    for (int k = 1; k < 3 && k < n_in; k++) {
      if (!in[k]) continue;
      if ((st = cquant__need_f32(node, in[k], k == 1 ? "min" : "max"))) return st;
      if (in[k]->numel != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a scalar", k == 1 ? "min" : "max");
      *(k == 1 ? &lo : &hi) = *(const float *)in[k]->data;
    }
  } else if (strcmp(op, "Round") && strcmp(op, "Relu")) {
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "not an elementwise operator");
  }
  if ((st = cquant__array_alloc_uninit(&out[0], CQUANT_DT_F32, x->ndim, x->shape))) return st; /* every element is written */
  ew_job_t j = {.a = x->data, .y = out[0].data, .n = x->numel, .lo = lo, .hi = hi, .kind = !strcmp(op, "Round") ? 0 : !strcmp(op, "Relu") ? 1 : 2};
  /* 2^17 elements or more: runs of 64-element multiples over the pool, about four a thread */
  const int threads = j.n >= (1 << 17) ? cquant_get_num_threads() : 1;
  j.per = threads > 1 ? ((j.n + 4 * threads - 1) / (4 * threads) + 63) / 64 * 64 : j.n;
  j.per = j.per < 1 ? 1 : j.per;
  cquant__par_run(threads, (j.n + j.per - 1) / j.per, ew_unit, &j);
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
