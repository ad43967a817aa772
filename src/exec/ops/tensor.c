/* Operators of the tensor family (shape and indexing; see exec_internal.h): the table, and the
 * small creating operators (Constant, Identity, Size, Range, EyeLike, Trilu, Tile). The rest live
 * in shape.c (reshapes, Transpose, Concat, Split, Slice, Gather, Expand, ConstantOfShape, Shape),
 * tensor_pad.c, tensor_index.c (GatherElements, GatherND, scatters), tensor_misc.c and
 * tensor_unique.c. Every operator works on every element type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/tensor_internal.h"

int cquant__op_tensor_constant(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const Onnx__AttributeProto *a;
  int st;
  if ((a = cquant__attr(node, "value")) && a->t) return cquant__tensor_from_proto(a->t, &out[0]);
  if (cquant__attr(node, "sparse_value")) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "sparse_value is not supported");
  if ((a = cquant__attr(node, "value_float"))) {
    if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, 0, NULL))) return st;
    *(float *)out[0].data = a->f;
    return CQUANT_STATUS_OK;
  }
  if ((a = cquant__attr(node, "value_int"))) {
    if ((st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 0, NULL))) return st;
    *(int64_t *)out[0].data = a->i;
    return CQUANT_STATUS_OK;
  }
  if ((a = cquant__attr(node, "value_floats"))) {
    const int64_t n = (int64_t)a->n_floats;
    if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, 1, &n))) return st;
    if (n) memcpy(out[0].data, a->floats, sizeof(float) * (size_t)n);
    return CQUANT_STATUS_OK;
  }
  if ((a = cquant__attr(node, "value_ints"))) {
    const int64_t n = (int64_t)a->n_ints;
    if ((st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 1, &n))) return st;
    if (n) memcpy(out[0].data, a->ints, sizeof(int64_t) * (size_t)n);
    return CQUANT_STATUS_OK;
  }
  if (cquant__attr(node, "value_string") || cquant__attr(node, "value_strings"))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "string constants are not supported");
  return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "no value attribute");
}

int cquant__op_tensor_identity(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (!in[0]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input is missing");
  return cquant__array_copy(in[0], &out[0]); /* a tensor, sequence or optional, deep */
}

int cquant__op_size(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  int st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 0, NULL);
  if (!st) *(int64_t *)out[0].data = in[0]->numel;
  return st;
}

/* Range: max(ceil((limit - start) / delta), 0) elements start + i delta; integers exactly. */
int cquant__op_range(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 3)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *s = in[0], *l = in[1], *d = in[2];
  int st;
  for (int i = 0; i < 3; i++)
    if (!in[i] || in[i]->numel != 1 || in[i]->dtype != s->dtype || in[i]->dtype == CQUANT_DT_BOOL)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "start, limit and delta must be single numbers of one type");
  int64_t n;
  if (cquant__is_float(s->dtype)) {
    const double a = cquant__get_f64(s, 0), b = cquant__get_f64(l, 0), c = cquant__get_f64(d, 0);
    if (!isfinite(a) || !isfinite(b) || !isfinite(c) || c == 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "start, limit and delta must be finite, delta non-zero");
    const double q = ceil((b - a) / c);
    if (q > 1e12) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the range has too many elements");
    n = q > 0 ? (int64_t)q : 0;
    if ((st = cquant_array_alloc(&out[0], s->dtype, 1, &n))) return st;
    if (s->dtype == CQUANT_DT_F32) {
      const float fa = *(const float *)s->data, fc = *(const float *)d->data;
      for (int64_t i = 0; i < n; i++) ((float *)out[0].data)[i] = fa + (float)i * fc;
    } else {
      for (int64_t i = 0; i < n; i++) cquant__set_f64(&out[0], i, a + (double)i * c);
    }
    return CQUANT_STATUS_OK;
  }
  const __int128 a = cquant__get_i64(s, 0), b = cquant__get_i64(l, 0), c = cquant__get_i64(d, 0);
  if (c == 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "delta is 0");
  const __int128 diff = b - a, q = c > 0 ? (diff > 0 ? (diff + c - 1) / c : 0) : (diff < 0 ? (-diff - c - 1) / -c : 0);
  if (q > ((__int128)1 << 40)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the range has too many elements");
  n = (int64_t)q;
  if ((st = cquant_array_alloc(&out[0], s->dtype, 1, &n))) return st;
  for (int64_t i = 0; i < n; i++) cquant__set_i64(&out[0], i, (int64_t)(a + (__int128)i * c));
  return CQUANT_STATUS_OK;
}

/* EyeLike: ones on diagonal k of a 2-D tensor shaped like the input (type: dtype or the input's). */
int cquant__op_eyelike(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  if (x->ndim != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input must be 2-D");
  cquant_dtype_t dt = x->dtype;
  const Onnx__AttributeProto *a = cquant__attr(node, "dtype");
  if (a) {
    const int t = cquant__dtype_from_onnx((int32_t)a->i);
    if (t < 0) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "dtype %lld is not supported", (long long)a->i);
    dt = (cquant_dtype_t)t;
  }
  int st = cquant_array_alloc(&out[0], dt, 2, x->shape);
  if (st) return st;
  const int64_t k = cquant__attr_int(node, "k", 0), R = x->shape[0], C = x->shape[1];
  if (k >= C || k <= -R) return CQUANT_STATUS_OK;
  for (int64_t i = k < 0 ? -k : 0; i < R && i + k < C; i++) cquant__set_i64(&out[0], i * C + i + k, 1);
  return CQUANT_STATUS_OK;
}

/* Trilu: the upper (j - i >= k) or lower (j - i <= k) triangle of each matrix, the rest zero. */
int cquant__op_trilu(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int st;
  if (x->ndim < 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input must have rank 2 or more");
  int64_t k = 0;
  if (n_in > 1 && in[1]) {
    int nk;
    if ((st = cquant__read_ints(node, in[1], "k", &k, 1, &nk))) return st;
    if (nk != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "k must hold one value");
  }
  const int upper = (int)cquant__attr_int(node, "upper", 1);
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  if (!x->numel) return CQUANT_STATUS_OK;
  memcpy(out[0].data, x->data, x->nbytes);
  const int64_t R = x->shape[x->ndim - 2], C = x->shape[x->ndim - 1], lim = R + C;
  k = k > lim ? lim : k < -lim ? -lim : k;
  const size_t es = cquant__dtype_size(x->dtype);
  for (int64_t m = 0; m < x->numel / (R * C); m++)
    for (int64_t i = 0; i < R; i++) {
      char *row = (char *)out[0].data + (size_t)((m * R + i) * C) * es;
      int64_t z0, z1; /* the zeroed columns [z0, z1) */
      if (upper) z0 = 0, z1 = i + k;
      else z0 = i + k + 1, z1 = C;
      z0 = z0 < 0 ? 0 : z0 > C ? C : z0;
      z1 = z1 < 0 ? 0 : z1 > C ? C : z1;
      if (z1 > z0) memset(row + (size_t)z0 * es, 0, (size_t)(z1 - z0) * es);
    }
  return CQUANT_STATUS_OK;
}

/* Tile: the input repeated along each axis; a view of rank 2r, (repeat, axis) per axis. */
int cquant__op_tile(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t rep[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], xs[CQUANT_MAX_DIMS], vs[2 * CQUANT_MAX_DIMS], vst[2 * CQUANT_MAX_DIMS];
  int nr, st;
  if (n_in > 2 && in[2]) { /* Tile-1: tiles copies along axis */
    int64_t tiles, axis;
    int n1, n2, ax;
    if ((st = cquant__read_ints(node, in[1], "tiles", &tiles, 1, &n1)) || (st = cquant__read_ints(node, in[2], "axis", &axis, 1, &n2))) return st;
    if (n1 != 1 || n2 != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "tiles and axis must be single values");
    if ((st = cquant__norm_axis(node, axis, x->ndim, &ax))) return st;
    if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot tile a scalar along an axis");
    nr = x->ndim;
    for (int d = 0; d < nr; d++) rep[d] = d == ax ? tiles : 1;
  } else if ((st = cquant__read_ints(node, in[1], "repeats", rep, CQUANT_MAX_DIMS, &nr))) {
    return st;
  }
  if (nr != x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "repeats has %d values for rank %d", nr, x->ndim);
  cquant__tensor_strides(x->ndim, x->shape, xs);
  for (int d = 0; d < x->ndim; d++) {
    if (rep[d] < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "repeats[%d] = %lld is negative", d, (long long)rep[d]);
    if (x->shape[d] && rep[d] > ((int64_t)1 << 40) / x->shape[d]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "repeats[%d] is too large", d);
    shape[d] = x->shape[d] * rep[d];
    vs[2 * d] = rep[d], vst[2 * d] = 0;
    vs[2 * d + 1] = x->shape[d], vst[2 * d + 1] = xs[d];
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  cquant__tensor_copy(out[0].data, x->data, cquant__dtype_size(x->dtype), 2 * x->ndim, vs, vst);
  return CQUANT_STATUS_OK;
}

const cquant__op_t cquant__ops_tensor[] = {
    {"Reshape", cquant__op_reshape_like, 1, 2, 1, 1, 0},
    {"Flatten", cquant__op_reshape_like, 1, 1, 1, 1, 0},
    {"Squeeze", cquant__op_reshape_like, 1, 2, 1, 1, 0},
    {"Unsqueeze", cquant__op_reshape_like, 1, 2, 1, 1, 0},
    {"Transpose", cquant__op_transpose, 1, 1, 1, 1, 0},
    {"Concat", cquant__op_concat, 1, 4096, 1, 1, 0},
    {"Split", cquant__op_split, 1, 2, 1, 64, 0},
    {"Slice", cquant__op_slice, 1, 5, 1, 1, 0},
    {"Pad", cquant__op_pad, 1, 4, 1, 1, 0},
    {"Expand", cquant__op_expand, 2, 2, 1, 1, 0},
    {"Tile", cquant__op_tile, 2, 3, 1, 1, 0},
    {"Range", cquant__op_range, 3, 3, 1, 1, 0},
    {"Shape", cquant__op_shape, 1, 1, 1, 1, 0},
    {"Size", cquant__op_size, 1, 1, 1, 1, 0},
    {"ConstantOfShape", cquant__op_constant_of_shape, 1, 1, 1, 1, 0},
    {"Constant", cquant__op_tensor_constant, 0, 0, 1, 1, 0},
    {"Identity", cquant__op_tensor_identity, 1, 1, 1, 1, 1}, /* containers too */
    {"Gather", cquant__op_gather, 2, 2, 1, 1, 0},
    {"GatherElements", cquant__op_gather_elements, 2, 2, 1, 1, 0},
    {"GatherND", cquant__op_gather_nd, 2, 2, 1, 1, 0},
    {"Scatter", cquant__op_scatter_elements, 3, 3, 1, 1, 0},
    {"ScatterElements", cquant__op_scatter_elements, 3, 3, 1, 1, 0},
    {"ScatterND", cquant__op_scatter_nd, 3, 3, 1, 1, 0},
    {"Trilu", cquant__op_trilu, 1, 2, 1, 1, 0},
    {"OneHot", cquant__op_onehot, 3, 3, 1, 1, 0},
    {"NonZero", cquant__op_nonzero, 1, 1, 1, 1, 0},
    {"Compress", cquant__op_compress, 2, 2, 1, 1, 0},
    {"DepthToSpace", cquant__op_depth_to_space, 1, 1, 1, 1, 0},
    {"SpaceToDepth", cquant__op_space_to_depth, 1, 1, 1, 1, 0},
    {"EyeLike", cquant__op_eyelike, 1, 1, 1, 1, 0},
    {"Unique", cquant__op_unique, 1, 1, 1, 4, 0},
    {"ReverseSequence", cquant__op_reverse_sequence, 2, 2, 1, 1, 0},
    {"CenterCropPad", cquant__op_center_crop_pad, 2, 2, 1, 1, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
