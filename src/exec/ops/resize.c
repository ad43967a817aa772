/* Resize (opset 11-18: nearest and linear, the coordinate transformation and rounding modes
 * exporters use) and Upsample (opset 7-9). Checked against ONNX Runtime (tests/ort_compare.py). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"

static int str_attr(const Onnx__NodeProto *node, const char *name, const char *dflt, char *out, size_t cap) {
  const Onnx__AttributeProto *a = cquant__attr(node, name);
  size_t l = a && a->has_s ? a->s.len : strlen(dflt);
  if (l >= cap) l = cap - 1;
  memcpy(out, a && a->has_s ? (const char *)a->s.data : dflt, l);
  out[l] = 0;
  return 0;
}

enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC };
enum { NR_PREFER_FLOOR, NR_PREFER_CEIL, NR_FLOOR, NR_CEIL };

/* The input coordinate of output coordinate x along an axis (ONNX Resize's formulas). */
static double src_coord(int ct, double x, double scale, int64_t in_len, int64_t out_len) {
  switch (ct) {
    case CT_HALF_PIXEL: return (x + 0.5) / scale - 0.5;
    case CT_PYTORCH_HALF_PIXEL: return out_len > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return out_len == 1 ? 0.0 : x * (double)(in_len - 1) / (double)(out_len - 1);
    default: return x / scale;
  }
}

static int64_t nearest(int nr, double c, int64_t in_len) {
  double r;
  switch (nr) {
    case NR_PREFER_CEIL: r = c == floor(c) + 0.5 ? ceil(c) : round(c); break;
    case NR_FLOOR: r = floor(c); break;
    case NR_CEIL: r = ceil(c); break;
    default: r = c == floor(c) + 0.5 ? floor(c) : round(c); break;
  }
  return r < 0 ? 0 : (r > (double)(in_len - 1) ? in_len - 1 : (int64_t)r);
}

/* x (float32, any rank) resized to shape with per-axis scales; linear on the last two axes only
 * (the other axes must keep their size). */
static int resize(const Onnx__NodeProto *node, const cquant_array_t *x, const int64_t *shape, const double *scale, int linear, int ct, int nr,
                  cquant_array_t *out) {
  if (x->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "float32 only");
  const int nd = x->ndim;
  for (int d = 0; d < nd; d++)
    if (shape[d] < 1 || !(scale[d] > 0)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad output size or scale on axis %d", d);
  if (linear)
    for (int d = 0; d < nd - 2; d++)
      if (shape[d] != x->shape[d]) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "linear resize of axes other than the last two");
  int st = cquant_array_alloc(out, CQUANT_DT_F32, nd, shape);
  if (st) return st;
  /* per-axis source indices (nearest) or index pairs and weights (linear) */
  int64_t total = 0, off[CQUANT_MAX_DIMS];
  for (int d = 0; d < nd; d++) off[d] = total, total += shape[d];
  int64_t *i0 = malloc(sizeof(int64_t) * (size_t)(2 * total + 1));
  float *wt = malloc(sizeof(float) * (size_t)(total + 1));
  if (!i0 || !wt) {
    free(i0), free(wt), cquant_array_free(out);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "Resize: out of memory");
  }
  int64_t *i1 = i0 + total;
  for (int d = 0; d < nd; d++)
    for (int64_t o = 0; o < shape[d]; o++) {
      const double c = src_coord(ct, (double)o, scale[d], x->shape[d], shape[d]);
      if (!linear || d < nd - 2) {
        i0[off[d] + o] = i1[off[d] + o] = linear ? o : nearest(nr, c, x->shape[d]);
        wt[off[d] + o] = 0;
      } else {
        const double cc = c < 0 ? 0 : (c > (double)(x->shape[d] - 1) ? (double)(x->shape[d] - 1) : c);
        const int64_t f = (int64_t)floor(cc);
        i0[off[d] + o] = f;
        i1[off[d] + o] = f + 1 < x->shape[d] ? f + 1 : f;
        wt[off[d] + o] = (float)(cc - (double)f);
      }
    }
  const float *xd = x->data;
  float *y = out->data;
  int64_t xs[CQUANT_MAX_DIMS], s = 1;
  for (int d = nd - 1; d >= 0; d--) xs[d] = s, s *= x->shape[d];
  for (int64_t i = 0; i < out->numel; i++) {
    int64_t rem = i, base = 0, c[CQUANT_MAX_DIMS];
    for (int d = nd - 1; d >= 0; d--) {
      c[d] = rem % shape[d];
      rem /= shape[d];
    }
    if (!linear || nd < 2) {
      for (int d = 0; d < nd; d++) base += i0[off[d] + c[d]] * xs[d];
      y[i] = xd[base];
      continue;
    }
    for (int d = 0; d < nd - 2; d++) base += i0[off[d] + c[d]] * xs[d];
    const int a = nd - 2, b = nd - 1;
    const int64_t y0 = i0[off[a] + c[a]], y1 = i1[off[a] + c[a]], x0 = i0[off[b] + c[b]], x1 = i1[off[b] + c[b]];
    const float wy = wt[off[a] + c[a]], wx = wt[off[b] + c[b]];
    const float v00 = xd[base + y0 * xs[a] + x0], v01 = xd[base + y0 * xs[a] + x1], v10 = xd[base + y1 * xs[a] + x0], v11 = xd[base + y1 * xs[a] + x1];
    const float top = v00 + (v01 - v00) * wx, bot = v10 + (v11 - v10) * wx;
    y[i] = top + (bot - top) * wy;
  }
  free(i0), free(wt);
  return 0;
}

static int modes(const Onnx__NodeProto *node, int *linear, int *ct, int *nr) {
  char mode[32], ctm[32], nrm[32];
  str_attr(node, "mode", "nearest", mode, sizeof mode);
  str_attr(node, "coordinate_transformation_mode", !strcmp(node->op_type, "Upsample") ? "asymmetric" : "half_pixel", ctm, sizeof ctm);
  str_attr(node, "nearest_mode", !strcmp(node->op_type, "Upsample") ? "floor" : "round_prefer_floor", nrm, sizeof nrm);
  if (!strcmp(mode, "nearest")) *linear = 0;
  else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) *linear = 1;
  else return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "mode '%s' is not supported (nearest, linear)", mode);
  if (!strcmp(ctm, "half_pixel")) *ct = CT_HALF_PIXEL;
  else if (!strcmp(ctm, "pytorch_half_pixel")) *ct = CT_PYTORCH_HALF_PIXEL;
  else if (!strcmp(ctm, "align_corners")) *ct = CT_ALIGN_CORNERS;
  else if (!strcmp(ctm, "asymmetric")) *ct = CT_ASYMMETRIC;
  else return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "coordinate_transformation_mode '%s' is not supported", ctm);
  if (!strcmp(nrm, "round_prefer_floor")) *nr = NR_PREFER_FLOOR;
  else if (!strcmp(nrm, "round_prefer_ceil")) *nr = NR_PREFER_CEIL;
  else if (!strcmp(nrm, "floor")) *nr = NR_FLOOR;
  else if (!strcmp(nrm, "ceil")) *nr = NR_CEIL;
  else return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "nearest_mode '%s' is not supported", nrm);
  if (cquant__attr(node, "axes")) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the axes attribute (opset 18) is not supported yet");
  const Onnx__AttributeProto *k = cquant__attr(node, "keep_aspect_ratio_policy");
  if (k && k->has_s && (k->s.len != 7 || memcmp(k->s.data, "stretch", 7)))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "keep_aspect_ratio_policy other than stretch is not supported");
  return 0;
}

/* Resize-11+: X, roi, scales, sizes (the last two optional; one of them given, non-empty). */
int cquant__op_resize(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out;
  const cquant_array_t *x = in[0], *sc = n_in > 2 ? in[2] : NULL, *sz = n_in > 3 ? in[3] : NULL;
  int linear, ct, nr, st;
  if ((st = modes(node, &linear, &ct, &nr))) return st;
  int64_t shape[CQUANT_MAX_DIMS];
  double scale[CQUANT_MAX_DIMS];
  if (sz && sz->numel) {
    if ((sz->dtype != CQUANT_DT_S64) || sz->numel != x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sizes needs %d int64 values", x->ndim);
    for (int d = 0; d < x->ndim; d++) {
      shape[d] = ((const int64_t *)sz->data)[d];
      scale[d] = (double)shape[d] / (double)x->shape[d];
    }
  } else if (sc && sc->numel) {
    if (sc->dtype != CQUANT_DT_F32 || sc->numel != x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scales needs %d float values", x->ndim);
    for (int d = 0; d < x->ndim; d++) {
      scale[d] = ((const float *)sc->data)[d];
      shape[d] = (int64_t)floor((double)x->shape[d] * scale[d]);
    }
  } else return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "neither scales nor sizes is given");
  return resize(node, x, shape, scale, linear, ct, nr, &out[0]);
}

/* Upsample-7/9: scales as attribute (7) or input (9); asymmetric coordinates, floor for nearest. */
int cquant__op_upsample(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out;
  const cquant_array_t *x = in[0];
  int linear, ct, nr, st;
  if ((st = modes(node, &linear, &ct, &nr))) return st;
  double scale[CQUANT_MAX_DIMS];
  int64_t shape[CQUANT_MAX_DIMS];
  const Onnx__AttributeProto *a = cquant__attr(node, "scales");
  if (n_in > 1 && in[1]) {
    if (in[1]->dtype != CQUANT_DT_F32 || in[1]->numel != x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scales needs %d float values", x->ndim);
    for (int d = 0; d < x->ndim; d++) scale[d] = ((const float *)in[1]->data)[d];
  } else if (a && (int)a->n_floats == x->ndim) {
    for (int d = 0; d < x->ndim; d++) scale[d] = a->floats[d];
  } else return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scales needs %d values", x->ndim);
  for (int d = 0; d < x->ndim; d++) shape[d] = (int64_t)floor((double)x->shape[d] * scale[d]);
  return resize(node, x, shape, scale, linear, CT_ASYMMETRIC, NR_FLOOR, &out[0]);
}
