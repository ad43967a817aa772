/* Operators that move values without arithmetic, for every element type: Flatten, Reshape,
 * Squeeze, Unsqueeze, Transpose, Concat, Shape, Gather, Slice, Expand, ConstantOfShape, Split.
 * (Pad is in tensor_pad.c.) Elements move by width (cquant__tensor_copy), never by type. */
#include <stdlib.h>
#include <string.h>
#include "cquant/quantize.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/tensor_internal.h"

static int copy_to(cquant_array_t *out, const cquant_array_t *x, int nd, const int64_t *shape) {
  int st = cquant_array_alloc(out, x->dtype, nd, shape);
  if (!st && x->nbytes) memcpy(out->data, x->data, x->nbytes);
  return st;
}

static int reshape_shape(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *const *in, int n_in, int64_t *shape, int *nd) {
  int st;
  if (n_in > 1 && in[1]) {
    if ((st = cquant__read_ints(node, in[1], "shape", shape, CQUANT_MAX_DIMS, nd))) return st;
  } else { /* Reshape-1: the shape attribute */
    if (!cquant__attr(node, "shape")) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the shape input is missing");
    if ((st = cquant__attr_ints(node, "shape", shape, CQUANT_MAX_DIMS, nd))) return st;
  }
  const int allowzero = (int)cquant__attr_int(node, "allowzero", 0);
  int64_t known = 1;
  int infer = -1;
  for (int d = 0; d < *nd; d++) {
    if (shape[d] == 0 && !allowzero) {
      if (d >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shape[%d] = 0 copies a dimension the input lacks", d);
      shape[d] = x->shape[d];
    }
    if (shape[d] == -1) {
      if (infer >= 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "more than one -1 in the shape");
      infer = d;
    } else if (shape[d] < 0) {
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shape[%d] = %lld is negative", d, (long long)shape[d]);
    } else {
      if (shape[d] && known > INT64_MAX / shape[d]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the shape is too large");
      known *= shape[d];
    }
  }
  if (infer >= 0) {
    if (!known || x->numel % known)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot infer the -1 of the shape: %lld elements into blocks of %lld",
                                (long long)x->numel, (long long)known);
    shape[infer] = x->numel / known;
  }
  return CQUANT_STATUS_OK;
}

/* Flatten, Reshape, Squeeze, Unsqueeze: the same bytes under another shape. */
int cquant__op_reshape_like(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  const char *op = node->op_type;
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 0, st;
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input is missing");
  if (!strcmp(op, "Flatten")) {
    int64_t axis = cquant__attr_int(node, "axis", 1);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis > x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)cquant__attr_int(node, "axis", 1), x->ndim);
    shape[0] = shape[1] = 1;
    for (int d = 0; d < x->ndim; d++) shape[d >= axis] *= x->shape[d];
    nd = 2;
  } else if (!strcmp(op, "Reshape")) {
    if ((st = reshape_shape(node, x, in, n_in, shape, &nd))) return st;
  } else { /* Squeeze / Unsqueeze: axes from the attribute (opset < 13) or the second input */
    int64_t axes[CQUANT_MAX_DIMS];
    int na;
    if ((st = cquant__tensor_axes(node, in, n_in, 1, axes, &na))) return st;
    const int unsq = !strcmp(op, "Unsqueeze");
    if (!unsq && na == 0) na = -1; /* empty axes: every axis of 1, as when absent (ONNX Runtime does the same) */
    if (unsq && na < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axes are missing");
    const int rank = unsq ? x->ndim + na : x->ndim;
    if (rank > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "rank %d is above %d", rank, CQUANT_MAX_DIMS);
    int mark[CQUANT_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
      int64_t ax = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (ax < 0 || ax >= rank) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)axes[i], rank);
      if (mark[ax] && unsq) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld is repeated", (long long)axes[i]);
      mark[ax] = 1;
    }
    if (unsq) {
      for (int d = 0, s = 0; d < rank; d++) shape[nd++] = mark[d] ? 1 : x->shape[s++];
    } else {
      for (int d = 0; d < x->ndim; d++) {
        if (na >= 0 ? mark[d] : x->shape[d] == 1) {
          if (x->shape[d] != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot squeeze axis %d of %lld", d, (long long)x->shape[d]);
          continue;
        }
        shape[nd++] = x->shape[d];
      }
    }
  }
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= shape[d];
  if (n != x->numel)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the new shape holds %lld elements, the input %lld", (long long)n, (long long)x->numel);
  return copy_to(&out[0], x, nd, shape);
}

int cquant__op_transpose(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t perm[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], xs[CQUANT_MAX_DIMS], ss[CQUANT_MAX_DIMS];
  int np, st, seen[CQUANT_MAX_DIMS] = {0};
  if ((st = cquant__attr_ints(node, "perm", perm, CQUANT_MAX_DIMS, &np))) return st;
  if (np < 0 || (np == 0 && x->ndim)) { /* absent (or an empty list): reversed axes */
    for (int d = 0; d < x->ndim; d++) perm[d] = x->ndim - 1 - d;
  } else if (np != x->ndim) {
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "perm has %d entries for rank %d", np, x->ndim);
  }
  cquant__tensor_strides(x->ndim, x->shape, xs);
  for (int d = 0; d < x->ndim; d++) {
    if (perm[d] < 0 || perm[d] >= x->ndim || seen[perm[d]]++)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "perm is not a permutation of 0..%d", x->ndim - 1);
    shape[d] = x->shape[perm[d]];
    ss[d] = xs[perm[d]];
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  cquant__tensor_copy(out[0].data, x->data, cquant__dtype_size(x->dtype), x->ndim, shape, ss);
  return CQUANT_STATUS_OK;
}

/* Concat's output bytes [u per, (u + 1) per): each output row (one index of the axes before
 * `axis`) holds every input's slice of that row in turn. */
typedef struct {
  const cquant_array_t *const *in;
  int n_in, axis;
  char *dst;
  int64_t inner, row; /* bytes of one index of the axis and after it; of one output row */
  size_t total, per;
} concat_job_t;

static void concat_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const concat_job_t *j = vj;
  size_t at = (size_t)u * j->per;
  const size_t end = at + j->per < j->total ? at + j->per : j->total;
  while (at < end) {
    const size_t o = at / (size_t)j->row;
    size_t off = at - o * (size_t)j->row; /* within the row: find the input */
    int i = 0;
    size_t chunk = (size_t)(j->in[0]->shape[j->axis] * j->inner);
    while (off >= chunk) off -= chunk, chunk = (size_t)(j->in[++i]->shape[j->axis] * j->inner);
    const size_t n = chunk - off < end - at ? chunk - off : end - at;
    memcpy(j->dst + at, (const char *)j->in[i]->data + o * chunk + off, n);
    at += n;
  }
}

int cquant__op_concat(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int axis, st;
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input 0 is missing");
  if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot concatenate scalars");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", cquant__opset(ctx) < 4 ? 1 : 0), x->ndim, &axis))) return st;
  int64_t shape[CQUANT_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[axis] = 0;
  for (int i = 0; i < n_in; i++) {
    if (!in[i]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d is missing", i);
    if (in[i]->ndim != x->ndim || in[i]->dtype != x->dtype) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d differs from input 0 in rank or type", i);
    for (int d = 0; d < x->ndim; d++)
      if (d != axis && in[i]->shape[d] != x->shape[d])
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d has %lld at axis %d, input 0 %lld", i, (long long)in[i]->shape[d], d, (long long)x->shape[d]);
    shape[axis] += in[i]->shape[axis];
  }
  if ((st = cquant__array_alloc_uninit(&out[0], x->dtype, x->ndim, shape))) return st; /* the copies below write every byte */
  int64_t inner = (int64_t)cquant__dtype_size(x->dtype);
  for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  concat_job_t j = {.in = in, .n_in = n_in, .dst = out[0].data, .inner = inner, .axis = axis, .row = shape[axis] * inner, .total = out[0].nbytes};
  /* a large output (a squeeze-and-expand block's 1.5 MB) in runs of bytes over the pool; each
   * byte is a copy whichever thread makes it */
  const int threads = j.total >= ((size_t)1 << 19) ? cquant_get_num_threads() : 1;
  const int64_t units = threads > 1 ? 4 * (int64_t)threads : 1;
  j.per = ((j.total + (size_t)units - 1) / (size_t)units + 63) / 64 * 64;
  j.per = j.per ? j.per : 1;
  cquant__par_run(threads, (int64_t)((j.total + j.per - 1) / j.per), concat_unit, &j);
  return CQUANT_STATUS_OK;
}

/* Shape: the dimensions from start to end (opset 15; negative from the end, clamped). */
int cquant__op_shape(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const int r = in[0]->ndim;
  int64_t s = cquant__attr_int(node, "start", 0), e = cquant__attr_int(node, "end", r);
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : s > r ? r : s;
  e = e < 0 ? 0 : e > r ? r : e;
  int64_t n = e > s ? e - s : 0;
  int st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 1, &n);
  if (!st && n) memcpy(out[0].data, in[0]->shape + s, sizeof(int64_t) * (size_t)n);
  return st;
}

int cquant__op_gather(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0], *idx = in[1];
  int axis, st;
  if (!x || !idx) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "an input is missing");
  if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "data must have rank 1 or more");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), x->ndim, &axis))) return st;
  if ((st = cquant__tensor_need_index(node, idx, "indices"))) return st;
  if (x->ndim - 1 + idx->ndim > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the result's rank is above %d", CQUANT_MAX_DIMS);
  const int64_t len = x->shape[axis];
  for (int64_t i = 0; i < idx->numel; i++) {
    int64_t k;
    if ((st = cquant__tensor_index(node, cquant__tensor_idx(idx, i), len, "index", &k))) return st;
  }
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < axis; d++) shape[nd++] = x->shape[d];
  for (int d = 0; d < idx->ndim; d++) shape[nd++] = idx->shape[d];
  for (int d = axis + 1; d < x->ndim; d++) shape[nd++] = x->shape[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, nd, shape))) return st;
  const size_t es = cquant__dtype_size(x->dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  char *dst = out[0].data;
  const char *src = x->data;
  if (inner == 1 && es == 4) { /* gathering single float32/int32 values */
    uint32_t *y = (uint32_t *)dst;
    const uint32_t *xv = (const uint32_t *)src;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < idx->numel; i++) {
        const int64_t k = cquant__tensor_idx(idx, i);
        *y++ = xv[o * len + (k < 0 ? k + len : k)];
      }
    return CQUANT_STATUS_OK;
  }
  const size_t row = (size_t)inner * es;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < idx->numel; i++) {
      int64_t k = cquant__tensor_idx(idx, i);
      if (k < 0) k += len;
      if (row) memcpy(dst, src + (size_t)(o * len + k) * row, row);
      dst += row;
    }
  return CQUANT_STATUS_OK;
}

/* Slice: starts/ends/axes attributes before opset 10, then inputs with steps. Indices are
 * clamped as ONNX says (positive steps into [0, dim], negative into [-1, dim - 1]). */
int cquant__op_slice(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t starts[CQUANT_MAX_DIMS], ends[CQUANT_MAX_DIMS], axes[CQUANT_MAX_DIMS], steps[CQUANT_MAX_DIMS];
  int ns = 0, ne = 0, na = -1, nst = -1, st;
  if (n_in < 3 && cquant__attr(node, "starts")) {
    if ((st = cquant__attr_ints(node, "starts", starts, CQUANT_MAX_DIMS, &ns)) || (st = cquant__attr_ints(node, "ends", ends, CQUANT_MAX_DIMS, &ne)) ||
        (st = cquant__attr_ints(node, "axes", axes, CQUANT_MAX_DIMS, &na)))
      return st;
  } else {
    if (n_in < 3 || !in[1] || !in[2]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "starts and ends are missing");
    if ((st = cquant__tensor_need_index(node, in[1], "starts")) || (st = cquant__tensor_need_index(node, in[2], "ends")) ||
        (st = cquant__read_ints(node, in[1], "starts", starts, CQUANT_MAX_DIMS, &ns)) || (st = cquant__read_ints(node, in[2], "ends", ends, CQUANT_MAX_DIMS, &ne)))
      return st;
    if (n_in > 3 && in[3] && (st = cquant__read_ints(node, in[3], "axes", axes, CQUANT_MAX_DIMS, &na))) return st;
    if (n_in > 4 && in[4] && (st = cquant__read_ints(node, in[4], "steps", steps, CQUANT_MAX_DIMS, &nst))) return st;
  }
  if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "starts, ends, axes and steps differ in length");
  int64_t b[CQUANT_MAX_DIMS], stp[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], xs[CQUANT_MAX_DIMS];
  int seen[CQUANT_MAX_DIMS] = {0};
  for (int d = 0; d < x->ndim; d++) b[d] = 0, stp[d] = 1, shape[d] = x->shape[d];
  for (int i = 0; i < ns; i++) {
    int ax;
    if ((st = cquant__norm_axis(node, na >= 0 ? axes[i] : i, x->ndim, &ax))) return st;
    if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot slice a scalar");
    if (seen[ax]++) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d is repeated", ax);
    const int64_t dim = x->shape[ax], step = nst >= 0 ? steps[i] : 1;
    if (step == 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "step 0 at axis %d", ax);
    int64_t s0 = starts[i] < 0 ? starts[i] + dim : starts[i], e0 = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      s0 = s0 < 0 ? 0 : s0 > dim ? dim : s0;
      e0 = e0 < 0 ? 0 : e0 > dim ? dim : e0;
      shape[ax] = e0 > s0 ? (e0 - s0 - 1) / step + 1 : 0;
    } else {
      s0 = s0 < 0 ? -1 : s0 > dim - 1 ? dim - 1 : s0;
      e0 = e0 < -1 ? -1 : e0 > dim - 1 ? dim - 1 : e0;
      shape[ax] = s0 > e0 ? (s0 - e0 - 1) / (step == INT64_MIN ? INT64_MAX : -step) + 1 : 0;
    }
    b[ax] = shape[ax] ? s0 : 0;
    stp[ax] = step;
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  if (!out[0].numel) return CQUANT_STATUS_OK;
  const size_t es = cquant__dtype_size(x->dtype);
  cquant__tensor_strides(x->ndim, x->shape, xs);
  int64_t off = 0, ss[CQUANT_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) {
    off += b[d] * xs[d];
    ss[d] = shape[d] > 1 ? stp[d] * xs[d] : 0; /* one element: its step does not matter (and may be huge) */
  }
  cquant__tensor_copy(out[0].data, (const char *)x->data + (size_t)off * es, es, x->ndim, shape, ss);
  return CQUANT_STATUS_OK;
}

/* Expand: numpy broadcasting of the input to the shape (either side may be 1). */
int cquant__op_expand(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t target[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], xs[CQUANT_MAX_DIMS], ss[CQUANT_MAX_DIMS];
  int nt = 0, st;
  if ((st = cquant__read_ints(node, in[1], "shape", target, CQUANT_MAX_DIMS, &nt))) return st;
  const int r = nt > x->ndim ? nt : x->ndim;
  cquant__tensor_strides(x->ndim, x->shape, xs);
  for (int d = 0; d < r; d++) {
    const int dx = d - (r - x->ndim), dt = d - (r - nt);
    const int64_t a = dx >= 0 ? x->shape[dx] : 1, b = dt >= 0 ? target[dt] : 1;
    if (b < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shape[%d] = %lld is negative", dt, (long long)b);
    if (a != b && a != 1 && b != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%lld does not broadcast to %lld at axis %d", (long long)a, (long long)b, d);
    shape[d] = a == 1 ? b : a;
    ss[d] = a == 1 ? 0 : xs[dx];
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, r, shape))) return st;
  cquant__tensor_copy(out[0].data, x->data, cquant__dtype_size(x->dtype), r, shape, ss);
  return CQUANT_STATUS_OK;
}

/* Fills a of n elements of es bytes with the element at v (doubling memcpy). */
static void fill(void *a, int64_t n, const void *v, size_t es) {
  if (!n) return;
  int zero = 1;
  for (size_t i = 0; i < es; i++) zero &= !((const uint8_t *)v)[i];
  if (zero) { /* cquant_array_alloc zeroed it */
    memset(a, 0, (size_t)n * es);
    return;
  }
  memcpy(a, v, es);
  for (int64_t have = 1; have < n;) {
    const int64_t k = have < n - have ? have : n - have;
    memcpy((char *)a + (size_t)have * es, a, (size_t)k * es);
    have += k;
  }
}

int cquant__op_constant_of_shape(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 0, st;
  if ((st = cquant__read_ints(node, in[0], "shape", shape, CQUANT_MAX_DIMS, &nd))) return st;
  if (in[0]->ndim != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the shape must be 1-D");
  cquant_array_t v;
  memset(&v, 0, sizeof v);
  const Onnx__AttributeProto *a = cquant__attr(node, "value");
  if (a && a->t) {
    if ((st = cquant__tensor_from_proto(a->t, &v))) return st;
    if (v.numel != 1) {
      cquant_array_free(&v);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "value must hold one element");
    }
  }
  const cquant_dtype_t dt = a && a->t ? v.dtype : CQUANT_DT_F32;
  if ((st = cquant_array_alloc(&out[0], dt, nd, shape))) {
    cquant_array_free(&v);
    return st;
  }
  if (a && a->t) fill(out[0].data, out[0].numel, v.data, cquant__dtype_size(dt));
  cquant_array_free(&v);
  return CQUANT_STATUS_OK;
}

/* Split: along axis into the sizes of the 'split' attribute (opset < 13) or input (13+), or into
 * num_outputs parts (opset 18: ceil(dim / n) each, the last smaller), or equal parts. */
int cquant__op_split(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int axis, st, ns = -1;
  if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot split a scalar");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), x->ndim, &axis))) return st;
  if (n_out > 64) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "more than 64 outputs");
  int64_t sizes[64], total = 0;
  const int64_t dim = x->shape[axis];
  if (n_in > 1 && in[1]) {
    if ((st = cquant__read_ints(node, in[1], "split", sizes, 64, &ns))) return st;
  } else if (cquant__attr(node, "split")) {
    if ((st = cquant__attr_ints(node, "split", sizes, 64, &ns))) return st;
  }
  if (ns >= 0) {
    if (ns != n_out) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split has %d sizes for %d outputs", ns, n_out);
  } else {
    const int64_t parts = cquant__attr_int(node, "num_outputs", n_out);
    if (parts != n_out) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "num_outputs is %lld, the node has %d outputs", (long long)parts, n_out);
    const int64_t part = (dim + n_out - 1) / n_out;
    for (int i = 0; i < n_out; i++) sizes[i] = i < n_out - 1 ? part : dim - part * (n_out - 1);
  }
  for (int i = 0; i < n_out; i++) {
    if (sizes[i] < 0 || sizes[i] > dim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split size %lld for an axis of %lld", (long long)sizes[i], (long long)dim);
    total += sizes[i];
  }
  if (total != dim)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split sizes add up to %lld, the axis has %lld", (long long)total, (long long)dim);
  const size_t es = cquant__dtype_size(x->dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  int64_t start = 0;
  for (int i = 0; i < n_out; i++) {
    int64_t shape[CQUANT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = sizes[i];
    if ((st = cquant_array_alloc(&out[i], x->dtype, x->ndim, shape))) return cquant__tensor_fail(out, i, st);
    const size_t chunk = (size_t)(sizes[i] * inner) * es;
    for (int64_t o = 0; o < outer && chunk; o++)
      memcpy((char *)out[i].data + (size_t)o * chunk, (const char *)x->data + (size_t)((o * dim + start) * inner) * es, chunk);
    start += sizes[i];
  }
  return CQUANT_STATUS_OK;
}
