/* The shape arithmetic exporters emit around real layers: Gather, Slice, Pad (constant), Expand,
 * ConstantOfShape. Any element type unless said. */
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"

static int ints_of(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int64_t *v, int max, int *n) {
  if (!a || (a->dtype != CQUANT_DT_S64 && a->dtype != CQUANT_DT_S32) || a->ndim > 1 || a->numel > max)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a 1-D integer tensor of at most %d values", what, max);
  for (int64_t i = 0; i < a->numel; i++) v[i] = a->dtype == CQUANT_DT_S64 ? ((const int64_t *)a->data)[i] : ((const int32_t *)a->data)[i];
  *n = (int)a->numel;
  return CQUANT_STATUS_OK;
}

int cquant__op_gather(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0], *idx = in[1];
  int64_t axis = cquant__attr_int(node, "axis", 0);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
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
