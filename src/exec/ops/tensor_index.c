/* Indexing operators for every element type: GatherElements, GatherND, Scatter/ScatterElements and
 * ScatterND (reduction none, add, mul, max, min). Every index is bounds-checked: an index out of
 * range is an error, never an access outside the tensor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/tensor_internal.h"

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static void mv(char *dst, const char *src, size_t es) {
  switch (es) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es);
  }
}

static int reduction(const Onnx__NodeProto *node, int *red) {
  const Onnx__AttributeProto *a = cquant__attr(node, "reduction");
  *red = RED_NONE;
  if (!a || !a->has_s || cquant__tensor_attr_is(node, "reduction", "none", 0)) return CQUANT_STATUS_OK;
  if (cquant__tensor_attr_is(node, "reduction", "add", 0)) *red = RED_ADD;
  else if (cquant__tensor_attr_is(node, "reduction", "mul", 0)) *red = RED_MUL;
  else if (cquant__tensor_attr_is(node, "reduction", "max", 0)) *red = RED_MAX;
  else if (cquant__tensor_attr_is(node, "reduction", "min", 0)) *red = RED_MIN;
  else return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "reduction must be none, add, mul, max or min");
  return CQUANT_STATUS_OK;
}

/* o[i] = o[i] (red) u[j]; floats in float32 (float32) or double, integers in wrapping int64. */
static void apply(cquant_array_t *o, int64_t i, const cquant_array_t *u, int64_t j, int red) {
  const size_t es = cquant__dtype_size(o->dtype);
  if (red == RED_NONE) {
    mv((char *)o->data + (size_t)i * es, (const char *)u->data + (size_t)j * es, es);
  } else if (o->dtype == CQUANT_DT_F32) {
    float *a = (float *)o->data + i, b = ((const float *)u->data)[j];
    *a = red == RED_ADD ? *a + b : red == RED_MUL ? *a * b : red == RED_MAX ? (b > *a || isnan(b) ? b : *a) : (b < *a || isnan(b) ? b : *a);
  } else if (cquant__is_float(o->dtype)) {
    const double a = cquant__get_f64(o, i), b = cquant__get_f64(u, j);
    cquant__set_f64(o, i, red == RED_ADD ? a + b : red == RED_MUL ? a * b : red == RED_MAX ? (b > a || isnan(b) ? b : a) : (b < a || isnan(b) ? b : a));
  } else {
    const int64_t a = cquant__get_i64(o, i), b = cquant__get_i64(u, j);
    const int uns = o->dtype == CQUANT_DT_U64;
    const int gt = uns ? (uint64_t)b > (uint64_t)a : b > a;
    int64_t v;
    switch (red) {
      case RED_ADD: v = (int64_t)((uint64_t)a + (uint64_t)b); break;
      case RED_MUL: v = (int64_t)((uint64_t)a * (uint64_t)b); break;
      case RED_MAX: v = gt ? b : a; break;
      default: v = (!gt && a != b) ? b : a; break;
    }
    cquant__set_i64(o, i, v);
  }
}

/* Checks GatherElements/ScatterElements shapes: same rank, indices no larger off the axis. */
static int elements_check(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *idx, int *axis) {
  int st;
  if ((st = cquant__tensor_need_index(node, idx, "indices"))) return st;
  if (!x->ndim || idx->ndim != x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "data and indices must have the same rank (1 or more)");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), x->ndim, axis))) return st;
  for (int d = 0; d < x->ndim; d++)
    if (d != *axis && idx->shape[d] > x->shape[d])
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "indices have %lld at axis %d, data %lld", (long long)idx->shape[d], d, (long long)x->shape[d]);
  return CQUANT_STATUS_OK;
}

/* The element of x that indices element i addresses (its coordinates, the axis one replaced). */
static int elements_offset(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *idx, int axis, const int64_t *xs, int64_t i, int64_t *off) {
  int64_t rem = i, o = 0, k;
  for (int d = x->ndim - 1; d >= 0; d--) {
    const int64_t c = rem % idx->shape[d];
    rem /= idx->shape[d];
    if (d != axis) o += c * xs[d];
  }
  int st = cquant__tensor_index(node, cquant__tensor_idx(idx, i), x->shape[axis], "index", &k);
  *off = o + k * xs[axis];
  return st;
}

int cquant__op_gather_elements(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0], *idx = in[1];
  int axis, st;
  int64_t xs[CQUANT_MAX_DIMS];
  if ((st = elements_check(node, x, idx, &axis))) return st;
  if ((st = cquant_array_alloc(&out[0], x->dtype, idx->ndim, idx->shape))) return st;
  cquant__tensor_strides(x->ndim, x->shape, xs);
  const size_t es = cquant__dtype_size(x->dtype);
  for (int64_t i = 0; i < idx->numel; i++) {
    int64_t off;
    if ((st = elements_offset(node, x, idx, axis, xs, i, &off))) return cquant__tensor_fail(out, 1, st);
    mv((char *)out[0].data + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
  }
  return CQUANT_STATUS_OK;
}

/* Scatter (opset 9/10) and ScatterElements: a copy of data with updates written (or reduced) at
 * the indexed elements, in index order. */
int cquant__op_scatter_elements(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 3)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0], *idx = in[1], *u = in[2];
  int axis, st, red;
  int64_t xs[CQUANT_MAX_DIMS];
  if ((st = reduction(node, &red)) || (st = elements_check(node, x, idx, &axis))) return st;
  if (u->dtype != x->dtype || u->ndim != idx->ndim || memcmp(u->shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "updates must have the type of data and the shape of indices");
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  if (x->nbytes) memcpy(out[0].data, x->data, x->nbytes);
  cquant__tensor_strides(x->ndim, x->shape, xs);
  for (int64_t i = 0; i < idx->numel; i++) {
    int64_t off;
    if ((st = elements_offset(node, x, idx, axis, xs, i, &off))) return cquant__tensor_fail(out, 1, st);
    apply(&out[0], off, u, i, red);
  }
  return CQUANT_STATUS_OK;
}

/* The element offset in x of index tuple g (m values from idx at g * m, axes b..b+m-1). */
static int nd_offset(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *idx, int b, int m, const int64_t *xs, int64_t g, int64_t *off) {
  int64_t o = 0, k;
  int st;
  for (int j = 0; j < m; j++) {
    if ((st = cquant__tensor_index(node, cquant__tensor_idx(idx, g * m + j), x->shape[b + j], "index", &k))) return st;
    o += k * xs[b + j];
  }
  *off = o;
  return CQUANT_STATUS_OK;
}

/* GatherND: slices of data addressed by the last axis of indices, after batch_dims shared axes. */
int cquant__op_gather_nd(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0], *idx = in[1];
  int st;
  if ((st = cquant__tensor_need_index(node, idx, "indices"))) return st;
  const int64_t b64 = cquant__attr_int(node, "batch_dims", 0);
  const int r = x->ndim, q = idx->ndim;
  if (q < 1 || r < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "data and indices must have rank 1 or more");
  if (b64 < 0 || b64 >= q || b64 >= r) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "batch_dims %lld is out of range", (long long)b64);
  const int b = (int)b64;
  const int64_t m64 = idx->shape[q - 1];
  if (m64 > r - b) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "index tuples of %lld values for %d axes", (long long)m64, r - b);
  const int m = (int)m64;
  for (int d = 0; d < b; d++)
    if (idx->shape[d] != x->shape[d]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "batch axis %d differs between data and indices", d);
  int64_t shape[CQUANT_MAX_DIMS], xs[CQUANT_MAX_DIMS];
  int nd = 0;
  if (q - 1 + r - b - m > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the result's rank is above %d", CQUANT_MAX_DIMS);
  for (int d = 0; d < q - 1; d++) shape[nd++] = idx->shape[d];
  for (int d = b + m; d < r; d++) shape[nd++] = x->shape[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, nd, shape))) return st;
  cquant__tensor_strides(r, x->shape, xs);
  int64_t B = 1, S = 1;
  for (int d = 0; d < b; d++) B *= idx->shape[d];
  for (int d = b + m; d < r; d++) S *= x->shape[d];
  const int64_t T = m ? idx->numel / m : out[0].numel / (S ? S : 1), G = B ? T / B : 0, XB = b ? xs[b - 1] : 0;
  const size_t es = cquant__dtype_size(x->dtype), row = (size_t)S * es;
  for (int64_t t = 0; t < T && row; t++) {
    int64_t off;
    if ((st = nd_offset(node, x, idx, b, m, xs, t, &off))) return cquant__tensor_fail(out, 1, st);
    memcpy((char *)out[0].data + (size_t)t * row, (const char *)x->data + (size_t)((G ? t / G : 0) * XB + off) * es, row);
  }
  return CQUANT_STATUS_OK;
}

/* ScatterND: a copy of data with update slices written (or reduced) at the index tuples. */
int cquant__op_scatter_nd(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 3)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0], *idx = in[1], *u = in[2];
  int st, red;
  if ((st = reduction(node, &red)) || (st = cquant__tensor_need_index(node, idx, "indices"))) return st;
  const int r = x->ndim, q = idx->ndim;
  if (q < 1 || r < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "data and indices must have rank 1 or more");
  const int64_t k64 = idx->shape[q - 1];
  if (k64 > r) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "index tuples of %lld values for rank %d", (long long)k64, r);
  const int k = (int)k64;
  /* updates: indices.shape[:-1] + data.shape[k:] */
  int ok = u->dtype == x->dtype && u->ndim == q - 1 + r - k;
  for (int d = 0; ok && d < q - 1; d++) ok = u->shape[d] == idx->shape[d];
  for (int d = k; ok && d < r; d++) ok = u->shape[q - 1 + d - k] == x->shape[d];
  if (!ok) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "updates must have data's type and shape indices.shape[:-1] + data.shape[k:]");
  int64_t xs[CQUANT_MAX_DIMS], S = 1;
  if ((st = cquant_array_alloc(&out[0], x->dtype, r, x->shape))) return st;
  if (x->nbytes) memcpy(out[0].data, x->data, x->nbytes);
  cquant__tensor_strides(r, x->shape, xs);
  for (int d = k; d < r; d++) S *= x->shape[d];
  const int64_t T = S ? u->numel / S : 0;
  const size_t es = cquant__dtype_size(x->dtype);
  for (int64_t t = 0; t < T; t++) {
    int64_t off;
    if ((st = nd_offset(node, x, idx, 0, k, xs, t, &off))) return cquant__tensor_fail(out, 1, st);
    if (red == RED_NONE) memcpy((char *)out[0].data + (size_t)off * es, (const char *)u->data + (size_t)(t * S) * es, (size_t)S * es);
    else
      for (int64_t s = 0; s < S; s++) apply(&out[0], off + s, u, t * S + s, red);
  }
  return CQUANT_STATUS_OK;
}
