/* OneHot, NonZero, Compress, DepthToSpace, SpaceToDepth and ReverseSequence, for every element
 * type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/tensor_internal.h"

/* OneHot: output rank r + 1, the new axis of length depth at axis; values = [off, on]; an index
 * in [-depth, depth) counts from the end when negative, any other index leaves its row off. */
int cquant__op_onehot(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 3)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *idx = in[0], *dep = in[1], *val = in[2];
  int st, axis;
  if (dep->numel != 1 || dep->ndim > 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "depth must hold one value");
  if (val->numel != 2 || val->ndim != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "values must be [off, on]");
  if (idx->dtype == CQUANT_DT_BOOL) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "indices must be numbers");
  const double dd = cquant__get_f64(dep, 0);
  if (!(dd >= 0) || dd > 1e12) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "depth %g is out of range", dd);
  const int64_t depth = (int64_t)dd;
  if (idx->ndim + 1 > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the result's rank is above %d", CQUANT_MAX_DIMS);
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", -1), idx->ndim + 1, &axis))) return st;
  int64_t shape[CQUANT_MAX_DIMS], outer = 1, inner = 1;
  for (int d = 0, s = 0; d <= idx->ndim; d++) shape[d] = d == axis ? depth : idx->shape[s++];
  for (int d = 0; d < axis; d++) outer *= idx->shape[d];
  for (int d = axis; d < idx->ndim; d++) inner *= idx->shape[d];
  if ((st = cquant_array_alloc(&out[0], val->dtype, idx->ndim + 1, shape))) return st;
  const size_t es = cquant__dtype_size(val->dtype);
  const char *off = val->data, *on = off + es;
  char *y = out[0].data;
  for (int64_t i = 0; i < out[0].numel; i++) memcpy(y + (size_t)i * es, off, es);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t q = 0; q < inner; q++) {
      const int64_t i = o * inner + q;
      int64_t k;
      if (cquant__is_float(idx->dtype)) {
        const double v = cquant__get_f64(idx, i);
        if (!(v > -(double)depth - 1 && v < (double)depth)) continue;
        k = (int64_t)v;
      } else {
        k = cquant__get_i64(idx, i);
        if (idx->dtype == CQUANT_DT_U64 && k < 0) continue;
      }
      if (k < 0) k += depth;
      if (k < 0 || k >= depth) continue;
      memcpy(y + (size_t)((o * depth + k) * inner + q) * es, on, es);
    }
  return CQUANT_STATUS_OK;
}

/* Element i of a is not zero (floats: -0 is zero, NaN is not). */
static int nonzero_at(const cquant_array_t *a, int64_t i) {
  const int fl = cquant__is_float(a->dtype);
  switch (cquant__dtype_size(a->dtype)) {
    case 1: return (((const uint8_t *)a->data)[i] & (fl ? 0x7f : 0xff)) != 0;
    case 2: return (((const uint16_t *)a->data)[i] & (fl ? 0x7fff : 0xffff)) != 0;
    case 4: return (((const uint32_t *)a->data)[i] & (fl ? 0x7fffffffu : 0xffffffffu)) != 0;
    default: return (((const uint64_t *)a->data)[i] & (fl ? 0x7fffffffffffffffull : ~0ull)) != 0;
  }
}

/* NonZero: the coordinates of the non-zero elements, [rank, count] int64 (a scalar as rank 1). */
int cquant__op_nonzero(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t cnt = 0;
  for (int64_t i = 0; i < x->numel; i++) cnt += nonzero_at(x, i);
  const int r = x->ndim ? x->ndim : 1;
  int64_t shape[2] = {r, cnt};
  int st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 2, shape);
  if (st) return st;
  int64_t *y = out[0].data, j = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    if (!nonzero_at(x, i)) continue;
    int64_t rem = i;
    for (int d = x->ndim - 1; d >= 0; d--) {
      y[d * cnt + j] = rem % x->shape[d];
      rem /= x->shape[d];
    }
    if (!x->ndim) y[j] = 0;
    j++;
  }
  return CQUANT_STATUS_OK;
}

/* Compress: the slices along axis (or the elements of the flattened input) whose condition is
 * true; a condition shorter than the axis selects nothing past its end. */
int cquant__op_compress(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0], *c = in[1];
  int st, axis = -1;
  if (c->ndim != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "condition must be 1-D");
  if (cquant__attr(node, "axis")) {
    if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis given for a scalar");
    if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), x->ndim, &axis))) return st;
  }
  const int64_t len = axis >= 0 ? x->shape[axis] : x->numel;
  int64_t cnt = 0;
  for (int64_t i = 0; i < c->numel; i++)
    if (nonzero_at(c, i)) {
      if (i >= len) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "condition selects index %lld past the axis of %lld", (long long)i, (long long)len);
      cnt++;
    }
  int64_t shape[CQUANT_MAX_DIMS], outer = 1, inner = 1;
  int nd = 1;
  if (axis >= 0) {
    nd = x->ndim;
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = cnt;
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  } else {
    shape[0] = cnt;
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, nd, shape))) return st;
  const size_t row = (size_t)inner * cquant__dtype_size(x->dtype);
  char *y = out[0].data;
  for (int64_t o = 0; o < outer && row; o++)
    for (int64_t i = 0; i < c->numel && i < len; i++)
      if (nonzero_at(c, i)) {
        memcpy(y, (const char *)x->data + (size_t)(o * len + i) * row, row);
        y += row;
      }
  return CQUANT_STATUS_OK;
}

static int block_size(const Onnx__NodeProto *node, const cquant_array_t *x, int64_t *b) {
  if (x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input must be 4-D (NCHW)");
  *b = cquant__attr_int(node, "blocksize", 0);
  if (*b < 1 || *b > 65536) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "blocksize %lld is out of range", (long long)*b);
  return CQUANT_STATUS_OK;
}

/* DepthToSpace: [N, C, H, W] -> [N, C / b^2, H b, W b]; the output viewed as [N, C', H, b, W, b]
 * reads input channel (i b + j) C' + c (DCR) or c b^2 + i b + j (CRD). */
int cquant__op_depth_to_space(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t b = 0;
  int st;
  if ((st = block_size(node, x, &b))) return st;
  const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  if (C % (b * b)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%lld channels do not divide by blocksize^2", (long long)C);
  const int crd = cquant__tensor_attr_is(node, "mode", "CRD", 0);
  if (!crd && !cquant__tensor_attr_is(node, "mode", "DCR", 1)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "mode must be DCR or CRD");
  const int64_t Co = C / (b * b), HW = H * W;
  int64_t shape[4] = {N, Co, H * b, W * b};
  const int64_t vs[6] = {N, Co, H, b, W, b};
  const int64_t vst[6] = {C * HW, crd ? b * b * HW : HW, W, crd ? b * HW : b * Co * HW, 1, crd ? HW : Co * HW};
  if ((st = cquant_array_alloc(&out[0], x->dtype, 4, shape))) return st;
  cquant__tensor_copy(out[0].data, x->data, cquant__dtype_size(x->dtype), 6, vs, vst);
  return CQUANT_STATUS_OK;
}

/* SpaceToDepth: [N, C, H, W] -> [N, C b^2, H / b, W / b], output channel (i b + j) C + c. */
int cquant__op_space_to_depth(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t b = 0;
  int st;
  if ((st = block_size(node, x, &b))) return st;
  const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  if (H % b || W % b) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "H and W must divide by blocksize");
  int64_t shape[4] = {N, C * b * b, H / b, W / b};
  const int64_t vs[6] = {N, b, b, C, H / b, W / b};
  const int64_t vst[6] = {C * H * W, W, 1, H * W, b * W, b};
  if ((st = cquant_array_alloc(&out[0], x->dtype, 4, shape))) return st;
  cquant__tensor_copy(out[0].data, x->data, cquant__dtype_size(x->dtype), 6, vs, vst);
  return CQUANT_STATUS_OK;
}

/* ReverseSequence: for each batch entry b, its first sequence_lens[b] steps along time_axis
 * reversed, the rest copied. */
int cquant__op_reverse_sequence(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0], *sl = in[1];
  int st;
  if (x->ndim < 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input must have rank 2 or more");
  if ((st = cquant__tensor_need_index(node, sl, "sequence_lens"))) return st;
  const int64_t ta = cquant__attr_int(node, "time_axis", 0), ba = cquant__attr_int(node, "batch_axis", 1);
  if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0))) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "time_axis and batch_axis must be 0 and 1");
  const int64_t T = x->shape[ta], B = x->shape[ba];
  if (sl->ndim != 1 || sl->numel != B) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sequence_lens must hold %lld values", (long long)B);
  for (int64_t b = 0; b < B; b++) {
    const int64_t n = cquant__tensor_idx(sl, b);
    if (n < 0 || n > T) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is out of [0, %lld]", (long long)b, (long long)n, (long long)T);
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  if (!x->numel) return CQUANT_STATUS_OK;
  memcpy(out[0].data, x->data, x->nbytes);
  const size_t row = (size_t)(x->numel / (T * B)) * cquant__dtype_size(x->dtype);
  for (int64_t b = 0; b < B; b++) {
    const int64_t n = cquant__tensor_idx(sl, b);
    for (int64_t t = 0; t < n; t++) {
      const int64_t o = ta == 0 ? t * B + b : b * T + t, i = ta == 0 ? (n - 1 - t) * B + b : b * T + (n - 1 - t);
      memcpy((char *)out[0].data + (size_t)o * row, (const char *)x->data + (size_t)i * row, row);
    }
  }
  return CQUANT_STATUS_OK;
}
