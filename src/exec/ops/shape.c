/* Operators that move or create values without arithmetic: Flatten, Reshape, Squeeze, Unsqueeze,
 * Transpose, Concat, Shape, Gather, Slice, Pad, Expand, ConstantOfShape, Split. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "exec/exec_internal.h"

/* Flatten, Reshape, Squeeze, Unsqueeze: the same bytes under another shape. */
int cquant__op_reshape_like(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  const char *op = node->op_type;
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 0;
  if (!strcmp(op, "Flatten")) {
    int64_t axis = cquant__attr_int(node, "axis", 1);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis > x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
    int64_t a = 1;
    for (int d = 0; d < axis; d++) a *= x->shape[d];
    shape[0] = a;
    shape[1] = a ? x->numel / a : 0;
    nd = 2;
  } else if (!strcmp(op, "Reshape")) {
    const cquant_array_t *s = n_in > 1 ? in[1] : NULL;
    if (!s || s->dtype != CQUANT_DT_S64 || s->ndim != 1 || s->numel > CQUANT_MAX_DIMS)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shape must be a 1-D int64 tensor");
    int64_t known = 1, infer = -1;
    nd = (int)s->numel;
    for (int d = 0; d < nd; d++) {
      int64_t v = ((const int64_t *)s->data)[d];
      if (v == 0) v = d < x->ndim ? x->shape[d] : 0;
      if (v == -1) {
        if (infer >= 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "more than one -1 in shape");
        infer = d;
        v = 1;
      } else if (v < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "negative dimension in shape");
      shape[d] = v;
      known *= v;
    }
    if (infer >= 0) shape[infer] = known ? x->numel / known : 0;
  } else { /* Squeeze / Unsqueeze: axes from the attribute (opset < 13) or the second input */
    int64_t axes[CQUANT_MAX_DIMS];
    int na = 0;
    const Onnx__AttributeProto *a = cquant__attr(node, "axes");
    if (a) for (size_t i = 0; i < a->n_ints && na < CQUANT_MAX_DIMS; i++) axes[na++] = a->ints[i];
    else if (n_in > 1 && in[1] && in[1]->dtype == CQUANT_DT_S64)
      for (int64_t i = 0; i < in[1]->numel && na < CQUANT_MAX_DIMS; i++) axes[na++] = ((const int64_t *)in[1]->data)[i];
    const int unsq = !strcmp(op, "Unsqueeze");
    const int rank = unsq ? x->ndim + na : x->ndim;
    if (rank > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "rank above %d", CQUANT_MAX_DIMS);
    int mark[CQUANT_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
      int64_t ax = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (ax < 0 || ax >= rank) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld out of range", (long long)axes[i]);
      mark[ax] = 1;
    }
    if (unsq) {
      for (int d = 0, s = 0; d < rank; d++) shape[nd++] = mark[d] ? 1 : x->shape[s++];
    } else {
      for (int d = 0; d < x->ndim; d++) {
        if ((na ? mark[d] : x->shape[d] == 1)) {
          if (x->shape[d] != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot squeeze a dimension of %lld", (long long)x->shape[d]);
          continue;
        }
        shape[nd++] = x->shape[d];
      }
    }
  }
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= shape[d];
  if (n != x->numel) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the new shape holds %lld elements, the input %lld", (long long)n, (long long)x->numel);
  int st = cquant_array_alloc(&out[0], x->dtype, nd, shape);
  if (!st && x->nbytes) memcpy(out[0].data, x->data, x->nbytes);
  return st;
}

int cquant__op_transpose(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int64_t perm[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], stride[CQUANT_MAX_DIMS];
  const Onnx__AttributeProto *a = cquant__attr(node, "perm");
  for (int d = 0; d < x->ndim; d++) perm[d] = a && (int)a->n_ints == x->ndim ? a->ints[d] : x->ndim - 1 - d;
  int64_t s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) { stride[d] = s; s *= x->shape[d]; }
  for (int d = 0; d < x->ndim; d++) {
    if (perm[d] < 0 || perm[d] >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad perm");
    shape[d] = x->shape[perm[d]];
  }
  int st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape);
  if (st) return st;
  const size_t es = cquant__dtype_size(x->dtype);
  if (es == 1 && x->ndim == 4 && perm[0] == 0 && ((perm[1] == 2 && perm[2] == 3 && perm[3] == 1) || (perm[1] == 3 && perm[2] == 1 && perm[3] == 2))) {
    /* NCHW <-> NHWC of bytes (the integer runtime's layout changes): plane transposes */
    const int to_nhwc = perm[1] == 2;
    const int64_t N = x->shape[0], C = to_nhwc ? x->shape[1] : x->shape[3], HW = to_nhwc ? x->shape[2] * x->shape[3] : x->shape[1] * x->shape[2];
    const uint8_t *src = x->data;
    uint8_t *dst = out[0].data;
#pragma omp parallel for schedule(static) if (x->numel > 65536)
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < HW; i++) {
          if (to_nhwc) dst[(n * HW + i) * C + c] = src[(n * C + c) * HW + i];
          else dst[(n * C + c) * HW + i] = src[(n * HW + i) * C + c];
        }
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t rem = i, src = 0;
    for (int d = x->ndim - 1; d >= 0; d--) {
      src += (rem % shape[d]) * stride[perm[d]];
      rem /= shape[d];
    }
    memcpy((char *)out[0].data + i * es, (const char *)x->data + src * es, es);
  }
  return CQUANT_STATUS_OK;
}

/* The node's axis attribute (default 0, negative from the end) in [0, ndim); 1 when out of range. */
static int node_axis(const Onnx__NodeProto *node, int ndim, int64_t *axis) {
  *axis = cquant__attr_int(node, "axis", 0);
  if (*axis < 0) *axis += ndim;
  return *axis < 0 || *axis >= ndim;
}

int cquant__op_concat(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int64_t axis;
  if (node_axis(node, x->ndim, &axis)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
  int64_t shape[CQUANT_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[axis] = 0;
  for (int i = 0; i < n_in; i++) {
    if (!in[i] || in[i]->ndim != x->ndim || in[i]->dtype != x->dtype) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs differ in rank or type");
    for (int d = 0; d < x->ndim; d++)
      if (d != axis && in[i]->shape[d] != x->shape[d]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs differ off the axis");
    shape[axis] += in[i]->shape[axis];
  }
  int st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape);
  if (st) return st;
  int64_t outer = 1, inner = cquant__dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = (int)axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  char *dst = out[0].data;
  for (int64_t o = 0; o < outer; o++)
    for (int i = 0; i < n_in; i++) {
      const size_t chunk = (size_t)(in[i]->shape[axis] * inner);
      memcpy(dst, (const char *)in[i]->data + o * chunk, chunk);
      dst += chunk;
    }
  return CQUANT_STATUS_OK;
}

int cquant__op_shape(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int64_t n = in[0]->ndim;
  int st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 1, &n);
  if (!st) memcpy(out[0].data, in[0]->shape, sizeof(int64_t) * (size_t)n);
  return st;
}

static int ints_of(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int64_t *v, int max, int *n) {
  if (!a || (a->dtype != CQUANT_DT_S64 && a->dtype != CQUANT_DT_S32) || a->ndim > 1 || a->numel > max)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a 1-D integer tensor of at most %d values", what, max);
  for (int64_t i = 0; i < a->numel; i++) v[i] = a->dtype == CQUANT_DT_S64 ? ((const int64_t *)a->data)[i] : ((const int32_t *)a->data)[i];
  *n = (int)a->numel;
  return CQUANT_STATUS_OK;
}

int cquant__op_gather(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0], *idx = in[1];
  int64_t axis;
  if (node_axis(node, x->ndim, &axis)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
  if (idx->dtype != CQUANT_DT_S64 && idx->dtype != CQUANT_DT_S32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "indices must be int64 or int32");
  if (x->ndim - 1 + idx->ndim > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "result rank too large");
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < axis; d++) shape[nd++] = x->shape[d];
  for (int d = 0; d < idx->ndim; d++) shape[nd++] = idx->shape[d];
  for (int d = (int)axis + 1; d < x->ndim; d++) shape[nd++] = x->shape[d];
  int st = cquant_array_alloc(&out[0], x->dtype, nd, shape);
  if (st) return st;
  int64_t outer = 1, inner = (int64_t)cquant__dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = (int)axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  const int64_t len = x->shape[axis];
  char *dst = out[0].data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < idx->numel; i++) {
      int64_t k = idx->dtype == CQUANT_DT_S64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
      if (k < 0) k += len;
      if (k < 0 || k >= len) {
        cquant_array_free(&out[0]);
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "index %lld out of range for %lld", (long long)k, (long long)len);
      }
      memcpy(dst, (const char *)x->data + (o * len + k) * inner, (size_t)inner);
      dst += inner;
    }
  return CQUANT_STATUS_OK;
}

int cquant__op_slice(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int64_t starts[CQUANT_MAX_DIMS], ends[CQUANT_MAX_DIMS], axes[CQUANT_MAX_DIMS], steps[CQUANT_MAX_DIMS];
  int ns = 0, ne = 0, na = 0, nst = 0, st;
  if (n_in < 3) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "Slice with attributes (opset < 10) is not supported");
  if ((st = ints_of(node, in[1], "starts", starts, CQUANT_MAX_DIMS, &ns)) || (st = ints_of(node, in[2], "ends", ends, CQUANT_MAX_DIMS, &ne))) return st;
  if (ns != ne) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "starts and ends differ in length");
  if (n_in > 3 && in[3] && (st = ints_of(node, in[3], "axes", axes, CQUANT_MAX_DIMS, &na))) return st;
  if (n_in > 4 && in[4] && (st = ints_of(node, in[4], "steps", steps, CQUANT_MAX_DIMS, &nst))) return st;
  int64_t b[CQUANT_MAX_DIMS], stp[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) { b[d] = 0; stp[d] = 1; shape[d] = x->shape[d]; }
  for (int i = 0; i < ns; i++) {
    int64_t ax = na ? axes[i] : i;
    if (ax < 0) ax += x->ndim;
    if (ax < 0 || ax >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
    const int64_t dim = x->shape[ax], step = nst ? steps[i] : 1;
    if (step == 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "step 0");
    int64_t s0 = starts[i] < 0 ? starts[i] + dim : starts[i], e0 = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      s0 = s0 < 0 ? 0 : (s0 > dim ? dim : s0);
      e0 = e0 < 0 ? 0 : (e0 > dim ? dim : e0);
      shape[ax] = e0 > s0 ? (e0 - s0 + step - 1) / step : 0;
    } else {
      s0 = s0 < 0 ? -1 : (s0 > dim - 1 ? dim - 1 : s0);
      e0 = e0 < -1 ? -1 : (e0 > dim - 1 ? dim - 1 : e0);
      shape[ax] = s0 > e0 ? (s0 - e0 - step - 1) / (-step) : 0;
    }
    b[ax] = s0;
    stp[ax] = step;
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  const size_t es = cquant__dtype_size(x->dtype);
  int64_t xs[CQUANT_MAX_DIMS], s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) { xs[d] = s; s *= x->shape[d]; }
  for (int64_t i = 0; i < out[0].numel; i++) {
    int64_t rem = i, src = 0;
    for (int d = x->ndim - 1; d >= 0; d--) {
      src += (b[d] + (rem % shape[d]) * stp[d]) * xs[d];
      rem /= shape[d];
    }
    memcpy((char *)out[0].data + i * (int64_t)es, (const char *)x->data + src * (int64_t)es, es);
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_pad(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  if (x->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "float32 only");
  const Onnx__AttributeProto *m = cquant__attr(node, "mode");
  int mode = 0; /* constant, reflect, edge */
  if (m && m->has_s) {
    if (m->s.len == 7 && !memcmp(m->s.data, "reflect", 7)) mode = 1;
    else if (m->s.len == 4 && !memcmp(m->s.data, "edge", 4)) mode = 2;
    else if (!(m->s.len == 8 && !memcmp(m->s.data, "constant", 8)))
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "mode '%.*s' is not supported (constant, reflect, edge)", (int)m->s.len, (const char *)m->s.data);
  }
  int64_t pads[2 * CQUANT_MAX_DIMS];
  int np = 0, st;
  const Onnx__AttributeProto *pa = cquant__attr(node, "pads");
  if (pa) { for (size_t i = 0; i < pa->n_ints && i < 2 * CQUANT_MAX_DIMS; i++) pads[np++] = pa->ints[i]; }
  else if (n_in > 1 && in[1] && (st = ints_of(node, in[1], "pads", pads, 2 * CQUANT_MAX_DIMS, &np))) return st;
  if (np != 2 * x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "pads needs %d values", 2 * x->ndim);
  float value = 0.0f;
  if (n_in > 2 && in[2] && in[2]->numel == 1 && in[2]->dtype == CQUANT_DT_F32) value = *(const float *)in[2]->data;
  int64_t shape[CQUANT_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) {
    if (pads[d] < 0 || pads[d + x->ndim] < 0) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "negative pads");
    if (mode == 1 && (pads[d] >= x->shape[d] || pads[d + x->ndim] >= x->shape[d]) && (pads[d] || pads[d + x->ndim]))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "reflect pads must be smaller than the axis (%lld)", (long long)x->shape[d]);
    if (mode == 2 && !x->shape[d] && (pads[d] || pads[d + x->ndim])) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "edge padding of an empty axis");
    shape[d] = x->shape[d] + pads[d] + pads[d + x->ndim];
  }
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, x->ndim, shape))) return st;
  float *y = out[0].data;
  for (int64_t i = 0; i < out[0].numel; i++) {
    int64_t rem = i, src = 0, mul = 1;
    int inside = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
      int64_t c = rem % shape[d] - pads[d];
      rem /= shape[d];
      const int64_t n = x->shape[d];
      if (mode == 1 && n > 1) c = c < 0 ? -c : (c >= n ? 2 * (n - 1) - c : c); /* mirror without the edge */
      else if (mode) c = c < 0 ? 0 : (c >= n ? n - 1 : c);                     /* edge (and reflect of one element) */
      if (c < 0 || c >= n) inside = 0;
      src += c * mul;
      mul *= x->shape[d];
    }
    y[i] = inside ? ((const float *)x->data)[src] : value;
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_expand(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int64_t target[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS];
  int nt = 0, st;
  if ((st = ints_of(node, in[1], "shape", target, CQUANT_MAX_DIMS, &nt))) return st;
  const int r = nt > x->ndim ? nt : x->ndim;
  for (int d = 0; d < r; d++) {
    const int dx = d - (r - x->ndim), dt = d - (r - nt);
    const int64_t a = dx >= 0 ? x->shape[dx] : 1, b = dt >= 0 ? target[dt] : 1;
    if (a != b && a != 1 && b != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shapes do not broadcast");
    shape[d] = a == 1 ? b : a;
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, r, shape))) return st;
  const size_t es = cquant__dtype_size(x->dtype);
  for (int64_t i = 0; i < out[0].numel; i++) {
    int64_t rem = i, src = 0, mul = 1;
    for (int d = r - 1; d >= 0; d--) {
      const int dx = d - (r - x->ndim);
      const int64_t c = rem % shape[d];
      rem /= shape[d];
      if (dx >= 0) {
        src += (x->shape[dx] == 1 ? 0 : c) * mul;
        mul *= x->shape[dx];
      }
    }
    memcpy((char *)out[0].data + i * (int64_t)es, (const char *)x->data + src * (int64_t)es, es);
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_constant_of_shape(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 0, st;
  if ((st = ints_of(node, in[0], "shape", shape, CQUANT_MAX_DIMS, &nd))) return st;
  cquant_array_t v;
  memset(&v, 0, sizeof v);
  const Onnx__AttributeProto *a = cquant__attr(node, "value");
  if (a && a->t && (st = cquant__tensor_from_proto(a->t, &v))) return st;
  const cquant_dtype_t dt = a && a->t ? v.dtype : CQUANT_DT_F32;
  if ((st = cquant_array_alloc(&out[0], dt, nd, shape))) { cquant_array_free(&v); return st; }
  const size_t es = cquant__dtype_size(dt);
  if (a && a->t && v.numel == 1)
    for (int64_t i = 0; i < out[0].numel; i++) memcpy((char *)out[0].data + i * (int64_t)es, v.data, es);
  cquant_array_free(&v);
  return CQUANT_STATUS_OK;
}

/* Split: along axis into the sizes of the 'split' attribute (opset < 13) or input (13+), or into
 * equal parts (the last smaller when it does not divide, as opset 18 allows). */
int cquant__op_split(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int64_t axis;
  if (node_axis(node, x->ndim, &axis)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
  int64_t sizes[64];
  if (n_out > 64) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "more than 64 outputs");
  const Onnx__AttributeProto *a = cquant__attr(node, "split");
  const cquant_array_t *s = n_in > 1 ? in[1] : NULL;
  int64_t total = 0;
  if (s && s->numel) {
    if ((s->dtype != CQUANT_DT_S64 && s->dtype != CQUANT_DT_S32) || s->numel != n_out)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split needs %d integer values", n_out);
    for (int i = 0; i < n_out; i++) sizes[i] = s->dtype == CQUANT_DT_S64 ? ((const int64_t *)s->data)[i] : ((const int32_t *)s->data)[i];
  } else if (a && a->n_ints) {
    if ((int)a->n_ints != n_out) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split needs %d values", n_out);
    for (int i = 0; i < n_out; i++) sizes[i] = a->ints[i];
  } else {
    const int64_t part = (x->shape[axis] + n_out - 1) / n_out;
    for (int i = 0; i < n_out; i++) {
      const int64_t left = x->shape[axis] - part * i;
      sizes[i] = left < part ? (left > 0 ? left : 0) : part;
    }
  }
  for (int i = 0; i < n_out; i++) {
    if (sizes[i] < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "negative split size");
    total += sizes[i];
  }
  if (total != x->shape[axis])
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split sizes add up to %lld, the axis has %lld", (long long)total, (long long)x->shape[axis]);
  const size_t es = cquant__dtype_size(x->dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = (int)axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  int64_t start = 0;
  for (int i = 0; i < n_out; i++) {
    int64_t shape[CQUANT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = sizes[i];
    int st = cquant_array_alloc(&out[i], x->dtype, x->ndim, shape);
    if (st) {
      for (int j = 0; j < i; j++) cquant_array_free(&out[j]);
      return st;
    }
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)out[i].data + (size_t)(o * sizes[i] * inner) * es, (const char *)x->data + (size_t)((o * x->shape[axis] + start) * inner) * es,
             (size_t)(sizes[i] * inner) * es);
    start += sizes[i];
  }
  return 0;
}
