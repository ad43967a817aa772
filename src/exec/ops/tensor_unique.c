/* Unique: the distinct elements (or slices along axis) of a tensor, sorted or in order of first
 * occurrence, with the first index of each, the inverse map and the counts. Slices compare
 * lexicographically by value (NaN after every number, NaN equal to NaN; -0 equal to 0). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/tensor_internal.h"

typedef struct {
  const cquant_array_t *x;
  int64_t n, inner, L; /* slices: n of L elements, (o, i) at (o n + s) inner + i */
} uctx_t;

static int cmp_el(const cquant_array_t *x, int64_t a, int64_t b) {
  if (x->dtype == CQUANT_DT_U64) {
    const uint64_t u = ((const uint64_t *)x->data)[a], v = ((const uint64_t *)x->data)[b];
    return (u > v) - (u < v);
  }
  if (cquant__is_float(x->dtype)) {
    const double u = cquant__get_f64(x, a), v = cquant__get_f64(x, b);
    if (isnan(u) || isnan(v)) return isnan(u) - isnan(v);
    return (u > v) - (u < v);
  }
  const int64_t u = cquant__get_i64(x, a), v = cquant__get_i64(x, b);
  return (u > v) - (u < v);
}

static int cmp_slice(const uctx_t *c, int64_t a, int64_t b) {
  if (a == b) return 0;
  for (int64_t p = 0; p < c->L; p++) {
    const int64_t o = p / c->inner, i = p % c->inner;
    const int r = cmp_el(c->x, (o * c->n + a) * c->inner + i, (o * c->n + b) * c->inner + i);
    if (r) return r;
  }
  return 0;
}

/* Stable bottom-up merge sort of v[0..n) (tmp: n entries): by slice (c) or by key[] when c is NULL. */
static void msort(int64_t *v, int64_t *tmp, int64_t n, const uctx_t *c, const int64_t *key) {
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      const int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        const int le = c ? cmp_slice(c, v[i], v[j]) <= 0 : key[v[i]] <= key[v[j]];
        tmp[k++] = le ? v[i++] : v[j++];
      }
      while (i < mid) tmp[k++] = v[i++];
      while (j < hi) tmp[k++] = v[j++];
    }
    memcpy(v, tmp, sizeof(int64_t) * (size_t)n);
  }
}

int cquant__op_unique(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int st, axis = -1;
  if (cquant__attr(node, "axis")) {
    if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis given for a scalar");
    if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), x->ndim, &axis))) return st;
  }
  const int sorted = (int)cquant__attr_int(node, "sorted", 1);
  uctx_t c = {x, x->numel, 1, 1};
  int64_t outer = 1;
  if (axis >= 0) {
    c.n = x->shape[axis];
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) c.inner *= x->shape[d];
    c.L = outer * c.inner;
  }
  const int64_t n = c.n;
  int64_t *buf = malloc(sizeof(int64_t) * (size_t)(6 * n + 1));
  if (!buf) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  int64_t *perm = buf, *tmp = buf + n, *grp = buf + 2 * n, *first = buf + 3 * n, *count = buf + 4 * n, *order = buf + 5 * n;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  if (c.L) msort(perm, tmp, n, &c, NULL);
  int64_t u = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!i || (c.L && cmp_slice(&c, perm[i - 1], perm[i]))) {
      first[u] = perm[i]; /* stable: the first in each run is the first occurrence */
      count[u++] = 0;
    }
    grp[perm[i]] = u - 1;
    count[u - 1]++;
  }
  for (int64_t g = 0; g < u; g++) order[g] = g;
  if (!sorted) msort(order, tmp, u, NULL, first); /* groups in order of first occurrence */
  for (int64_t k = 0; k < u; k++) tmp[order[k]] = k; /* tmp: group -> output position */
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 1;
  if (axis >= 0) {
    nd = x->ndim;
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = u;
  } else {
    shape[0] = u;
  }
  st = cquant_array_alloc(&out[0], x->dtype, nd, shape);
  for (int k = 1; k < n_out && !st; k++) st = cquant_array_alloc(&out[k], CQUANT_DT_S64, 1, k == 2 ? &n : &u);
  if (st) {
    free(buf);
    return cquant__tensor_fail(out, n_out, st);
  }
  const size_t es = cquant__dtype_size(x->dtype), row = (size_t)c.inner * es;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < u && row; k++)
      memcpy((char *)out[0].data + (size_t)(o * u + k) * row, (const char *)x->data + (size_t)(o * n + first[order[k]]) * row, row);
  for (int64_t k = 0; k < u; k++) {
    if (n_out > 1) ((int64_t *)out[1].data)[k] = first[order[k]];
    if (n_out > 3) ((int64_t *)out[3].data)[k] = count[order[k]];
  }
  if (n_out > 2)
    for (int64_t i = 0; i < n; i++) ((int64_t *)out[2].data)[i] = tmp[grp[i]];
  free(buf);
  return CQUANT_STATUS_OK;
}
