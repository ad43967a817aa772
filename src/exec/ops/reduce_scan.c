/* CumSum (exclusive, reverse; the axis as an input) and TopK (k as an input from opset 10, as an
 * attribute before; largest, sorted; equal values in the order of their indices; int64 indices). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/reduce_internal.h"

int cquant__op_cumsum(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__rd_need(node, x, "x"), n = 0, axis;
  int64_t a[1];
  if (st) return st;
  if (n_in < 2 || !in[1]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input axis is missing");
  if ((st = cquant__read_ints(node, in[1], "axis", a, 1, &n))) return st;
  if (n != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis must hold one value");
  if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input must have rank >= 1");
  if ((st = cquant__norm_axis(node, a[0], x->ndim, &axis))) return st;
  const int excl = cquant__attr_int(node, "exclusive", 0) != 0, rev = cquant__attr_int(node, "reverse", 0) != 0;
  int64_t outer = 1, len = x->shape[axis], inner = 1;
  for (int d = 0; d < x->ndim; d++)
    if (d < axis) outer *= x->shape[d];
    else if (d > axis) inner *= x->shape[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  const int is_f = cquant__is_float(x->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double fa = 0;
      uint64_t ia = 0;
      for (int64_t j = 0; j < len; j++) {
        const int64_t k = rev ? len - 1 - j : j, e = (o * len + k) * inner + i;
        if (x->dtype == CQUANT_DT_F32) {
          const double v = ((const float *)x->data)[e];
          if (!excl) fa += v;
          ((float *)out[0].data)[e] = (float)fa;
          if (excl) fa += v;
        } else if (is_f) {
          const double v = cquant__get_f64(x, e);
          if (!excl) fa += v;
          cquant__set_f64(&out[0], e, fa);
          if (excl) fa += v;
        } else {
          const uint64_t v = (uint64_t)cquant__get_i64(x, e);
          if (!excl) ia += v;
          cquant__set_i64(&out[0], e, (int64_t)ia);
          if (excl) ia += v;
        }
      }
    }
  return CQUANT_STATUS_OK;
}

typedef struct {
  double f;
  int64_t i, idx;
} entry_t;

/* Ascending order of float keys with NaN above everything. */
static int fcmp(double a, double b) {
  if (a != a) return b != b ? 0 : 1;
  if (b != b) return -1;
  return a < b ? -1 : a > b;
}
static int by_idx(const entry_t *a, const entry_t *b) { return a->idx < b->idx ? -1 : a->idx > b->idx; }
static int f_large(const void *p, const void *q) {
  int c = -fcmp(((const entry_t *)p)->f, ((const entry_t *)q)->f);
  return c ? c : by_idx(p, q);
}
static int f_small(const void *p, const void *q) {
  int c = fcmp(((const entry_t *)p)->f, ((const entry_t *)q)->f);
  return c ? c : by_idx(p, q);
}
static int i_large(const void *p, const void *q) {
  const int64_t a = ((const entry_t *)p)->i, b = ((const entry_t *)q)->i;
  return a != b ? (a > b ? -1 : 1) : by_idx(p, q);
}
static int i_small(const void *p, const void *q) {
  const int64_t a = ((const entry_t *)p)->i, b = ((const entry_t *)q)->i;
  return a != b ? (a < b ? -1 : 1) : by_idx(p, q);
}

int cquant__op_topk(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx;
  const cquant_array_t *x = in[0];
  int st = cquant__rd_need(node, x, "X"), axis;
  if (st) return st;
  int64_t k;
  if (n_in > 1 && in[1]) {
    int64_t kv[1];
    int n = 0;
    if ((st = cquant__read_ints(node, in[1], "K", kv, 1, &n))) return st;
    if (n != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "K must hold one value");
    k = kv[0];
  } else if (cquant__attr(node, "k")) {
    k = cquant__attr_int(node, "k", 0);
  } else {
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "k is missing (neither input K nor attribute k)");
  }
  if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input must have rank >= 1");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", -1), x->ndim, &axis))) return st;
  const int64_t len = x->shape[axis];
  if (k < 0 || k > len) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "k = %lld is outside [0, %lld]", (long long)k, (long long)len);
  const int largest = cquant__attr_int(node, "largest", 1) != 0, is_f = cquant__is_float(x->dtype);
  int64_t shape[CQUANT_MAX_DIMS], outer = 1, inner = 1;
  for (int d = 0; d < x->ndim; d++) {
    shape[d] = d == axis ? k : x->shape[d];
    if (d < axis) outer *= x->shape[d];
    if (d > axis) inner *= x->shape[d];
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  if (n_out > 1 && (st = cquant_array_alloc(&out[1], CQUANT_DT_S64, x->ndim, shape))) {
    cquant_array_free(&out[0]);
    return st;
  }
  if (!out[0].numel) return CQUANT_STATUS_OK;
  entry_t *e = malloc(sizeof(entry_t) * (size_t)len);
  if (!e) {
    cquant_array_free(&out[0]);
    if (n_out > 1) cquant_array_free(&out[1]);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  const size_t es = cquant__dtype_size(x->dtype);
  int (*cmp)(const void *, const void *) = is_f ? (largest ? f_large : f_small) : (largest ? i_large : i_small);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const int64_t base = o * len * inner + i;
      for (int64_t j = 0; j < len; j++) {
        e[j].idx = j;
        if (is_f) e[j].f = cquant__get_f64(x, base + j * inner);
        else e[j].i = cquant__rd_key_i64(x, base + j * inner);
      }
      qsort(e, (size_t)len, sizeof *e, cmp);
      for (int64_t j = 0; j < k; j++) {
        const int64_t dst = (o * k + j) * inner + i;
        memcpy((char *)out[0].data + (size_t)dst * es, (const char *)x->data + (size_t)(base + e[j].idx * inner) * es, es);
        if (n_out > 1) ((int64_t *)out[1].data)[dst] = e[j].idx;
      }
    }
  free(e);
  return CQUANT_STATUS_OK;
}
