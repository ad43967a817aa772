/* Resize (opset 10-19: nearest, linear and cubic; every coordinate transformation mode;
 * tf_crop_and_resize with roi and extrapolation_value; exclude_outside; antialias; axes and
 * keep_aspect_ratio_policy) and Upsample (opset 7-9). float32 nearest (any rank) and linear on
 * the last two axes keep their direct loops; everything else runs as one separable pass per
 * resized axis in double, each output element the weighted sum of its taps along that axis. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "exec/ops/conv_par.h"

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN, CT_TF_CROP_AND_RESIZE,
       CT_HALF_PIXEL_SYMMETRIC };
enum { NR_PREFER_FLOOR, NR_PREFER_CEIL, NR_FLOOR, NR_CEIL, NR_SIMPLE };

typedef struct {
  int mode, ct, nr;
  double a;      /* cubic_coeff_a */
  int exclude;   /* exclude_outside */
  int antialias;
  double extrap; /* extrapolation_value (tf_crop_and_resize) */
} rs_t;

static int oom(const Onnx__NodeProto *node) { return cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "Resize: out of memory"); }

/* The input coordinate of output coordinate x along an axis (ONNX Resize's formulas); the
 * resized length is scale * in_len, as a real number; roi: this axis' start and end
 * (tf_crop_and_resize). */
static double src_coord(int ct, double x, double scale, int64_t in_len, int64_t out_len, const double *roi) {
  const double out_f = scale * (double)in_len;
  switch (ct) {
    case CT_HALF_PIXEL: return (x + 0.5) / scale - 0.5;
    case CT_PYTORCH_HALF_PIXEL: return out_len > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return out_f == 1 ? 0.0 : x * (double)(in_len - 1) / (out_f - 1);
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / scale;
    case CT_TF_CROP_AND_RESIZE:
      return out_f == 1 ? (roi[1] - roi[0]) * (double)(in_len - 1) / 2 + roi[0] * (double)(in_len - 1)
                        : x * (roi[1] - roi[0]) * (double)(in_len - 1) / (out_f - 1) + roi[0] * (double)(in_len - 1);
    case CT_HALF_PIXEL_SYMMETRIC: {
      const double adj = (double)out_len / out_f, center = (double)in_len / 2;
      return center * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    default: return x / scale;
  }
}

static int64_t nearest(int nr, double c, int64_t in_len, int down) {
  double r;
  switch (nr) {
    case NR_PREFER_CEIL: r = c == floor(c) + 0.5 ? ceil(c) : round(c); break;
    case NR_FLOOR: r = floor(c); break;
    case NR_CEIL: r = ceil(c); break;
    case NR_SIMPLE: r = down ? ceil(c) : trunc(c); break; /* ONNX Runtime's rule before opset 11 */
    default: r = c == floor(c) + 0.5 ? floor(c) : round(c); break;
  }
  return !(r >= 0) ? 0 : (r > (double)(in_len - 1) ? in_len - 1 : (int64_t)r);
}

/* The direct float32 loops (resize_f32) as units of cquant__par_run. */
typedef struct {
  const float *x;
  float *y;
  int nd;
  const int64_t *shape, *xs, *off, *i0, *i1;
  const float *wt;
  int64_t ih, iw, units, per;
  _Atomic int oom;
} rs_job_t;

/* nearest: output rows [u per, (u + 1) per) of the last axis, each a gather through its index table */
static void rs_nearest_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  rs_job_t *j = vj;
  const int nd = j->nd;
  const int64_t ow = j->shape[nd - 1], r0 = u * j->per, r1 = r0 + j->per < j->units ? r0 + j->per : j->units;
  const int64_t *ix = j->i0 + j->off[nd - 1];
  for (int64_t r = r0; r < r1; r++) {
    int64_t rem = r, base = 0;
    for (int d = nd - 2; d >= 0; d--) { /* the row's source offset over the leading axes */
      base += j->i0[j->off[d] + rem % j->shape[d]] * j->xs[d];
      rem /= j->shape[d];
    }
    const float *src = j->x + base;
    float *dst = j->y + r * ow;
    for (int64_t o = 0; o < ow; o++) dst[o] = src[ix[o]];
  }
}

/* linear: plane u. Each input row a y tap meets is interpolated along x once (h[row]: the top and
 * bottom values of the per-pixel formula, top = v00 + (v01 - v00) wx), then each output row is
 * top + (bottom - top) wy over contiguous rows: the same operations, so the same bits. */
static void rs_linear_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  rs_job_t *j = vj;
  const int nd = j->nd, a = nd - 2, b = nd - 1;
  const int64_t oh = j->shape[a], ow = j->shape[b], ih = j->ih, iw = j->iw;
  const int64_t *y0 = j->i0 + j->off[a], *y1 = j->i1 + j->off[a], *x0 = j->i0 + j->off[b], *x1 = j->i1 + j->off[b];
  const float *wy = j->wt + j->off[a], *wx = j->wt + j->off[b], *xp = j->x + u * ih * iw;
  float *yp = j->y + u * oh * ow;
  float *h = malloc(sizeof(float) * (size_t)(ih * ow) + 1);
  char *done = calloc((size_t)ih + 1, 1);
  if (!h || !done) {
    free(h), free(done);
    j->oom = 1;
    return;
  }
  for (int64_t oy = 0; oy < oh; oy++) {
    const int64_t r[2] = {y0[oy], y1[oy]};
    for (int k = 0; k < 2; k++) {
      if (done[r[k]]) continue;
      done[r[k]] = 1;
      const float *src = xp + r[k] * iw;
      float *hr = h + r[k] * ow;
      for (int64_t o = 0; o < ow; o++) {
        const float v0 = src[x0[o]], v1 = src[x1[o]];
        hr[o] = v0 + (v1 - v0) * wx[o];
      }
    }
    const float *top = h + r[0] * ow, *bot = h + r[1] * ow, w = wy[oy];
    float *dst = yp + oy * ow;
    for (int64_t o = 0; o < ow; o++) dst[o] = top[o] + (bot[o] - top[o]) * w;
  }
  free(h), free(done);
}

/* float32 nearest (any rank) or linear (the last two axes only): direct loops. */
static int resize_f32(const Onnx__NodeProto *node, const cquant_array_t *x, const int64_t *shape, const double *scale, const rs_t *p,
                      cquant_array_t *out) {
  const int nd = x->ndim, linear = p->mode == RS_LINEAR;
  int st = cquant__array_alloc_uninit(out, CQUANT_DT_F32, nd, shape); /* every element is written */
  if (st) return st;
  /* per-axis source indices (nearest) or index pairs and weights (linear) */
  int64_t total = 0, off[CQUANT_MAX_DIMS];
  for (int d = 0; d < nd; d++) off[d] = total, total += shape[d];
  int64_t *i0 = malloc(sizeof(int64_t) * (size_t)(2 * total + 1));
  float *wt = malloc(sizeof(float) * (size_t)(total + 1));
  if (!i0 || !wt) {
    free(i0), free(wt), cquant_array_free(out);
    return oom(node);
  }
  int64_t *i1 = i0 + total;
  for (int d = 0; d < nd; d++)
    for (int64_t o = 0; o < shape[d]; o++) {
      const double c = src_coord(p->ct, (double)o, scale[d], x->shape[d], shape[d], NULL);
      if (!linear || d < nd - 2) {
        i0[off[d] + o] = i1[off[d] + o] = linear ? o : nearest(p->nr, c, x->shape[d], scale[d] < 1);
        wt[off[d] + o] = 0;
      } else {
        const double cc = !(c >= 0) ? 0 : (c > (double)(x->shape[d] - 1) ? (double)(x->shape[d] - 1) : c);
        const int64_t f = (int64_t)floor(cc);
        i0[off[d] + o] = f;
        i1[off[d] + o] = f + 1 < x->shape[d] ? f + 1 : f;
        wt[off[d] + o] = (float)(cc - (double)f);
      }
    }
  const float *xd = x->data;
  int64_t xs[CQUANT_MAX_DIMS], s = 1;
  for (int d = nd - 1; d >= 0; d--) xs[d] = s, s *= x->shape[d];
  rs_job_t j = {.x = xd, .y = out->data, .nd = nd, .shape = shape, .xs = xs, .off = off, .i0 = i0, .i1 = i1, .wt = wt};
  j.ih = nd >= 2 ? x->shape[nd - 2] : 1, j.iw = x->shape[nd - 1];
  if (!out->numel) {
  } else if (!linear || nd < 2) { /* nearest: rows of the last axis, each a gather through its index table */
    j.units = shape[nd - 1] ? out->numel / shape[nd - 1] : 0;
    j.per = j.units / 64 + 1;
    const int threads = out->numel >= (1 << 17) ? cquant_get_num_threads() : 1;
    cquant__par_run(threads, (j.units + j.per - 1) / j.per, rs_nearest_unit, &j);
  } else { /* linear on the last two axes: planes */
    j.units = out->numel / (shape[nd - 2] * shape[nd - 1]);
    j.per = 1;
    const int threads = out->numel >= (1 << 16) ? cquant_get_num_threads() : 1;
    cquant__par_run(threads, j.units, rs_linear_unit, &j);
  }
  if (j.oom) {
    free(i0), free(wt), cquant_array_free(out);
    return oom(node);
  }
  free(i0), free(wt);
  return 0;
}

/* The taps of one axis: output o reads idx[k] with weight w[k] for k in [first[o], first[o+1]);
 * out_of_roi[o]: the extrapolation value instead (tf_crop_and_resize). */
typedef struct {
  int64_t *first, *idx;
  double *w;
  uint8_t *outside;
} taps_t;

static double kernel(int mode, double u, double a) {
  u = fabs(u);
  if (mode == RS_LINEAR) return u < 1 ? 1 - u : 0;
  if (u <= 1) return ((a + 2) * u - (a + 3)) * u * u + 1;
  if (u < 2) return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a;
  return 0;
}

static int axis_taps(const Onnx__NodeProto *node, const rs_t *p, int64_t in_len, int64_t out_len, double scale, const double *roi,
                     taps_t *t) {
  /* half-width of the filter in input pixels: 1 (linear), 2 (cubic), widened 1/scale times when
   * antialiasing a downsampling axis */
  const double s = p->antialias && scale < 1 ? scale : 1.0;
  if (1 / s > (double)(1 << 20)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the antialias filter is too wide (scale %g)", scale);
  const int64_t m = p->mode == RS_NEAREST ? 0 : 1 - ((int64_t)floor((p->mode == RS_LINEAR ? -1 : -2) / s) + 1);
  const int64_t per = p->mode == RS_NEAREST ? 1 : 2 * m;
  if ((double)out_len * (double)per > (double)((int64_t)1 << 34))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "too many interpolation taps (%lld outputs of %lld)", (long long)out_len, (long long)per);
  t->first = malloc(sizeof(int64_t) * (size_t)(out_len + 1));
  t->idx = malloc(sizeof(int64_t) * (size_t)(out_len * per + 1));
  t->w = malloc(sizeof(double) * (size_t)(out_len * per + 1));
  t->outside = calloc((size_t)out_len + 1, 1);
  if (!t->first || !t->idx || !t->w || !t->outside) return oom(node);
  int64_t k = 0;
  for (int64_t o = 0; o < out_len; o++) {
    t->first[o] = k;
    const double c = src_coord(p->ct, (double)o, scale, in_len, out_len, roi);
    if (p->ct == CT_TF_CROP_AND_RESIZE && !(c >= 0 && c <= (double)(in_len - 1))) {
      t->outside[o] = 1;
      continue;
    }
    if (p->mode == RS_NEAREST) {
      t->idx[k] = nearest(p->nr, c, in_len, scale < 1), t->w[k] = 1, k++;
      continue;
    }
    const double cc = isfinite(c) ? (c < -1e15 ? -1e15 : c > 1e15 ? 1e15 : c) : 0;
    const int64_t f = (int64_t)floor(cc);
    double sum = 0;
    const int64_t k0 = k;
    for (int64_t i = f - m + 1; i <= f + m; i++) {
      double w = kernel(p->mode, ((double)i - cc) * s, p->a);
      if (p->exclude && (i < 0 || i >= in_len)) w = 0;
      t->idx[k] = i < 0 ? 0 : (i >= in_len ? in_len - 1 : i), t->w[k] = w, k++;
      sum += w;
    }
    if ((p->antialias || p->exclude) && sum != 0)
      for (int64_t j = k0; j < k; j++) t->w[j] /= sum;
  }
  t->first[out_len] = k;
  return CQUANT_STATUS_OK;
}

static void taps_free(taps_t *t) { free(t->first), free(t->idx), free(t->w), free(t->outside); }

/* Any element type, any rank: one separable pass per axis whose taps are not the identity. */
static int resize_general(const Onnx__NodeProto *node, const cquant_array_t *x, const int64_t *shape, const double *scale, const double *roi,
                          const rs_t *p, cquant_array_t *out) {
  const int nd = x->ndim;
  double total = 1;
  for (int d = 0; d < nd; d++) total *= (double)shape[d];
  if (total > (double)((int64_t)1 << 28) || (double)x->numel > (double)((int64_t)1 << 28))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "this resize (%.0f elements out) is too large for the general path", total);
  int st = cquant_array_alloc(out, x->dtype, nd, shape);
  if (st || !out->numel) return st;
  if (!x->numel) return cquant_array_free(out), cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot resize an empty input");
  taps_t taps[CQUANT_MAX_DIMS];
  memset(taps, 0, sizeof taps);
  int order[CQUANT_MAX_DIMS], n_ax = 0;
  int64_t biggest = x->numel, cur[CQUANT_MAX_DIMS];
  for (int d = 0; d < nd; d++) {
    if ((st = axis_taps(node, p, x->shape[d], shape[d], scale[d], roi ? roi + 2 * d : NULL, &taps[d]))) goto done;
    int ident = shape[d] == x->shape[d];
    for (int64_t o = 0; o < shape[d] && ident; o++) {
      ident = !taps[d].outside[o];
      for (int64_t k = taps[d].first[o]; k < taps[d].first[o + 1] && ident; k++)
        ident = taps[d].w[k] == 0 || (taps[d].idx[k] == o && taps[d].w[k] == 1);
    }
    if (!ident) order[n_ax++] = d;
  }
  /* downsampling axes first: the intermediates stay small */
  for (int i = 1; i < n_ax; i++)
    for (int j = i; j > 0 && (double)shape[order[j]] / (double)x->shape[order[j]] < (double)shape[order[j - 1]] / (double)x->shape[order[j - 1]]; j--) {
      const int tmp = order[j];
      order[j] = order[j - 1], order[j - 1] = tmp;
    }
  for (int d = 0; d < nd; d++) cur[d] = x->shape[d];
  for (int i = 0; i < n_ax; i++) {
    cur[order[i]] = shape[order[i]];
    double n = 1;
    for (int d = 0; d < nd; d++) n *= (double)cur[d];
    if (n > (double)((int64_t)1 << 28)) { /* two double buffers of this size */
      st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the intermediate of the resize is too large");
      goto done;
    }
    if ((int64_t)n > biggest) biggest = (int64_t)n;
  }
  double *a = malloc(sizeof(double) * (size_t)biggest), *b = malloc(sizeof(double) * (size_t)biggest);
  if (!a || !b) {
    free(a), free(b);
    st = oom(node);
    goto done;
  }
  if (x->dtype == CQUANT_DT_F32)
    for (int64_t i = 0; i < x->numel; i++) a[i] = ((const float *)x->data)[i];
  else
    for (int64_t i = 0; i < x->numel; i++) a[i] = cquant__get_f64(x, i);
  for (int d = 0; d < nd; d++) cur[d] = x->shape[d];
  for (int i = 0; i < n_ax; i++) {
    const int ax = order[i];
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= cur[d];
    for (int d = ax + 1; d < nd; d++) inner *= cur[d];
    const int64_t il = cur[ax], ol = shape[ax];
    const taps_t *t = &taps[ax];
    for (int64_t ob = 0; ob < outer; ob++)
      for (int64_t o = 0; o < ol; o++) {
        double *dst = b + (ob * ol + o) * inner;
        if (t->outside[o]) {
          for (int64_t j = 0; j < inner; j++) dst[j] = p->extrap;
          continue;
        }
        for (int64_t j = 0; j < inner; j++) dst[j] = 0;
        for (int64_t k = t->first[o]; k < t->first[o + 1]; k++) {
          const double w = t->w[k];
          if (w == 0) continue;
          const double *src = a + (ob * il + t->idx[k]) * inner;
          for (int64_t j = 0; j < inner; j++) dst[j] += w * src[j];
        }
      }
    cur[ax] = ol;
    double *tmp = a;
    a = b, b = tmp;
  }
  if (out->dtype == CQUANT_DT_F32)
    for (int64_t i = 0; i < out->numel; i++) ((float *)out->data)[i] = (float)a[i];
  else if (cquant__is_float(out->dtype))
    for (int64_t i = 0; i < out->numel; i++) cquant__set_f64(out, i, a[i]);
  else { /* integers: truncated as the reference's astype, saturated to the type's range */
    const cquant_dtype_info_t *info = cquant_dtype_info(out->dtype);
    const double lo = info->min_normal, hi = info->max;
    for (int64_t i = 0; i < out->numel; i++) cquant__set_f64(out, i, a[i] < lo ? lo : (a[i] > hi ? hi : a[i]));
  }
  free(a), free(b);
done:
  for (int d = 0; d < nd; d++) taps_free(&taps[d]);
  if (st) cquant_array_free(out);
  return st;
}

/* float32 cubic on the last two axes of a 2-D or 4-D tensor, in ONNX Runtime's float arithmetic and
 * order (its CPU ResizeBiCubic): coordinates and Keys coefficients in float, each output the sum over
 * the 4 rows of (row's sum over 4 columns of coefficient * pixel) * row coefficient, edges clamped.
 * The general path computes the same interpolation in double; this one gives ORT's bits, so that the
 * ArgMax over an upsampled heatmap (torchvision's keypoint head) picks the same pixel. Not for
 * align_corners: there ORT divides by the integer output length where ONNX's definition (and the
 * general path) divides by scale * input length, and the backend tests follow the definition. */
static float cubic_coord_f32(int ct, int64_t o, float scale, int64_t in_len, int64_t out_len) {
  const float x = (float)o;
  if (scale == 1.0f) return x;
  switch (ct) {
    case CT_HALF_PIXEL: return (x + 0.5f) / scale - 0.5f;
    case CT_PYTORCH_HALF_PIXEL: return out_len > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5f) / scale;
    default: return x / scale; /* asymmetric */
  }
}

static void cubic_coeffs_f32(float s, float a, float *c) {
  const float t = fabsf(s);
  c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
  c[3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
}

/* per output coordinate: the first of its 4 taps and their coefficients (renormalized over the
 * inside taps with exclude_outside) */
static void cubic_axis_f32(const rs_t *p, float scale, int64_t in_len, int64_t out_len, int64_t *first, float *coef, float *sum) {
  for (int64_t o = 0; o < out_len; o++) {
    const float c = cubic_coord_f32(p->ct, o, scale, in_len, out_len), f = floorf(c);
    float *k = coef + 4 * o;
    first[o] = (int64_t)f - 1;
    cubic_coeffs_f32(c - f, (float)p->a, k);
    sum[o] = 1;
    if (p->exclude) {
      sum[o] = 0;
      for (int i = 0; i < 4; i++) {
        const int64_t v = first[o] + i;
        if (v < 0 || v >= in_len) k[i] = 0.0f;
        sum[o] += k[i];
      }
    }
  }
}

static int resize_cubic_f32(const Onnx__NodeProto *node, const cquant_array_t *x, const int64_t *shape, const double *scale, const rs_t *p,
                            cquant_array_t *out) {
  const int nd = x->ndim;
  const int64_t ih = x->shape[nd - 2], iw = x->shape[nd - 1], oh = shape[nd - 2], ow = shape[nd - 1];
  int st = cquant__array_alloc_uninit(out, CQUANT_DT_F32, nd, shape);
  if (st || !out->numel) return st;
  int64_t *fy = malloc(sizeof(int64_t) * (size_t)(oh + ow)), *fx = fy ? fy + oh : NULL;
  float *cy = malloc(sizeof(float) * (size_t)(5 * (oh + ow))), *cx = cy ? cy + 4 * oh : NULL;
  if (!fy || !cy) {
    free(fy), free(cy), cquant_array_free(out);
    return oom(node);
  }
  float *sy = cx + 4 * ow, *sx = sy + oh;
  cubic_axis_f32(p, (float)scale[nd - 2], ih, oh, fy, cy, sy);
  cubic_axis_f32(p, (float)scale[nd - 1], iw, ow, fx, cx, sx);
  const int64_t planes = x->numel / (ih * iw);
  for (int64_t q = 0; q < planes; q++) {
    const float *xp = (const float *)x->data + q * ih * iw;
    float *yp = (float *)out->data + q * oh * ow;
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        float r = 0;
        for (int i = 0; i < 4; i++) {
          int64_t yy = fy[oy] + i;
          yy = yy < 0 ? 0 : yy >= ih ? ih - 1 : yy;
          float rowv = 0;
          for (int j = 0; j < 4; j++) {
            int64_t xx = fx[ox] + j;
            xx = xx < 0 ? 0 : xx >= iw ? iw - 1 : xx;
            rowv += cx[4 * ox + j] / sx[ox] * xp[yy * iw + xx];
          }
          r += rowv * cy[4 * oy + i] / sy[oy];
        }
        yp[oy * ow + ox] = r;
      }
  }
  free(fy), free(cy);
  return CQUANT_STATUS_OK;
}

static int run(const Onnx__NodeProto *node, const cquant_array_t *x, const int64_t *shape, const double *scale, const double *roi, const rs_t *p,
               cquant_array_t *out) {
  for (int d = 0; d < x->ndim; d++)
    if (shape[d] < 0 || !(scale[d] > 0) || !isfinite(scale[d]))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad output size %lld or scale %g on axis %d", (long long)shape[d], scale[d], d);
  double total = 1;
  for (int d = 0; d < x->ndim; d++) total *= (double)shape[d];
  if (total > (double)((int64_t)1 << 30)) /* 4 GiB of float32: refused before any allocation */
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "an output of %.0f elements is too large", total);
  int fast = x->dtype == CQUANT_DT_F32 && !p->antialias && p->ct != CT_TF_CROP_AND_RESIZE && x->numel > 0 &&
             (p->mode == RS_NEAREST || (p->mode == RS_LINEAR && x->ndim >= 2));
  if (fast && p->mode == RS_LINEAR)
    for (int d = 0; d < x->ndim - 2; d++) fast &= shape[d] == x->shape[d];
  if (fast) return resize_f32(node, x, shape, scale, p, out);
  int cubic = x->dtype == CQUANT_DT_F32 && p->mode == RS_CUBIC && !p->antialias && (x->ndim == 2 || x->ndim == 4) && x->numel > 0 &&
              (p->ct == CT_HALF_PIXEL || p->ct == CT_PYTORCH_HALF_PIXEL || p->ct == CT_ASYMMETRIC || p->ct == CT_TF_HALF_PIXEL_FOR_NN);
  for (int d = 0; cubic && d < x->ndim - 2; d++) cubic = shape[d] == x->shape[d];
  if (cubic) return resize_cubic_f32(node, x, shape, scale, p, out);
  return resize_general(node, x, shape, scale, roi, p, out);
}

static int modes(const Onnx__NodeProto *node, int opset, rs_t *p) {
  const int old = !strcmp(node->op_type, "Upsample") || opset < 11;
  const char *mode = cquant__attr_string(node, "mode", "nearest");
  if (!strcmp(mode, "nearest")) p->mode = RS_NEAREST;
  else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) p->mode = RS_LINEAR;
  else if (!strcmp(mode, "cubic") && !old) p->mode = RS_CUBIC;
  else return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "mode '%s' is not supported (nearest, linear, cubic)", mode);
  if (old) {
    p->ct = CT_ASYMMETRIC, p->nr = NR_SIMPLE;
  } else {
    const char *ctm = cquant__attr_string(node, "coordinate_transformation_mode", "half_pixel");
    static const char *const cts[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                                      "tf_crop_and_resize", "half_pixel_symmetric"};
    p->ct = -1;
    for (int i = 0; i < 7; i++)
      if (!strcmp(ctm, cts[i])) p->ct = i;
    if (p->ct < 0) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "coordinate_transformation_mode '%s' is not supported", ctm);
    const char *nrm = cquant__attr_string(node, "nearest_mode", "round_prefer_floor");
    static const char *const nrs[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    p->nr = -1;
    for (int i = 0; i < 4; i++)
      if (!strcmp(nrm, nrs[i])) p->nr = i;
    if (p->nr < 0) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "nearest_mode '%s' is not supported", nrm);
  }
  p->a = cquant__attr_float(node, "cubic_coeff_a", -0.75f);
  p->exclude = cquant__attr_int(node, "exclude_outside", 0) != 0;
  p->antialias = cquant__attr_int(node, "antialias", 0) != 0 && p->mode != RS_NEAREST;
  p->extrap = cquant__attr_float(node, "extrapolation_value", 0.0f);
  return CQUANT_STATUS_OK;
}

/* Output sizes from scales: floor(in * scale), checked. */
static int sizes_from_scales(const Onnx__NodeProto *node, const cquant_array_t *x, const double *scale, int64_t *shape) {
  for (int d = 0; d < x->ndim; d++) {
    const double v = floor((double)x->shape[d] * scale[d]);
    if (!(scale[d] > 0) || !(v < 1e12)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scale %g on axis %d is invalid", scale[d], d);
    shape[d] = (int64_t)v;
  }
  return CQUANT_STATUS_OK;
}

/* Resize-10: X, scales. Resize-11+: X, roi?, scales?, sizes? (one of scales and sizes). */
int cquant__op_resize(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out;
  const int opset = cquant__opset(ctx);
  const cquant_array_t *x = in[0];
  const cquant_array_t *ro = opset >= 11 && n_in > 1 ? in[1] : NULL, *sc = opset >= 11 ? (n_in > 2 ? in[2] : NULL) : (n_in > 1 ? in[1] : NULL),
                       *sz = opset >= 11 && n_in > 3 ? in[3] : NULL;
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X is missing");
  const int nd = x->ndim;
  rs_t p;
  int st;
  if ((st = modes(node, opset, &p))) return st;
  int64_t axes[CQUANT_MAX_DIMS];
  int na;
  if ((st = cquant__attr_ints(node, "axes", axes, CQUANT_MAX_DIMS, &na))) return st;
  int ax[CQUANT_MAX_DIMS], seen[CQUANT_MAX_DIMS] = {0};
  if (na < 0) {
    na = nd;
    for (int d = 0; d < nd; d++) ax[d] = d;
  } else {
    for (int i = 0; i < na; i++) {
      if ((st = cquant__norm_axis(node, axes[i], nd, &ax[i]))) return st;
      if (seen[ax[i]]++) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d is repeated in axes", ax[i]);
    }
  }
  int64_t shape[CQUANT_MAX_DIMS];
  double scale[CQUANT_MAX_DIMS], roi[2 * CQUANT_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = x->shape[d], scale[d] = 1, roi[2 * d] = 0, roi[2 * d + 1] = 1;
  if (sz && sz->numel) {
    int64_t v[CQUANT_MAX_DIMS];
    int n;
    if ((st = cquant__read_ints(node, sz, "sizes", v, CQUANT_MAX_DIMS, &n))) return st;
    if (n != na) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sizes has %d values (%d expected)", n, na);
    for (int i = 0; i < na; i++) {
      if (v[i] < 0 || v[i] > ((int64_t)1 << 40)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sizes[%d] = %lld is invalid", i, (long long)v[i]);
      if (!x->shape[ax[i]] && v[i]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot resize an empty axis");
      shape[ax[i]] = v[i];
      scale[ax[i]] = x->shape[ax[i]] ? (double)v[i] / (double)x->shape[ax[i]] : 1;
    }
    const char *k = cquant__attr_string(node, "keep_aspect_ratio_policy", "stretch");
    const int larger = !strcmp(k, "not_smaller");
    if (larger || !strcmp(k, "not_larger")) {
      double s = scale[ax[0]];
      for (int i = 1; i < na; i++) s = larger ? fmax(s, scale[ax[i]]) : fmin(s, scale[ax[i]]);
      for (int i = 0; i < na; i++) {
        scale[ax[i]] = s;
        shape[ax[i]] = (int64_t)(s * (double)x->shape[ax[i]] + 0.5);
      }
    } else if (strcmp(k, "stretch"))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "unknown keep_aspect_ratio_policy '%s'", k);
  } else if (sc && sc->numel) {
    if (!cquant__is_float(sc->dtype) || sc->numel != na) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scales needs %d float values", na);
    for (int i = 0; i < na; i++) scale[ax[i]] = cquant__get_f64(sc, i);
    if ((st = sizes_from_scales(node, x, scale, shape))) return st;
  } else
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "neither scales nor sizes is given");
  if (p.ct == CT_TF_CROP_AND_RESIZE) {
    if (!ro || !cquant__is_float(ro->dtype) || ro->numel != 2 * na)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "tf_crop_and_resize needs a float roi of %d values", 2 * na);
    for (int i = 0; i < na; i++) roi[2 * ax[i]] = cquant__get_f64(ro, i), roi[2 * ax[i] + 1] = cquant__get_f64(ro, na + i);
  }
  return run(node, x, shape, scale, roi, &p, &out[0]);
}

/* Upsample-7/9: scales as attribute (7) or input (9). */
int cquant__op_upsample(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out, (void)ctx;
  const cquant_array_t *x = in[0];
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X is missing");
  rs_t p;
  int st;
  if ((st = modes(node, 9, &p))) return st;
  double scale[CQUANT_MAX_DIMS];
  int64_t shape[CQUANT_MAX_DIMS];
  const Onnx__AttributeProto *a = cquant__attr(node, "scales");
  if (n_in > 1 && in[1]) {
    if (!cquant__is_float(in[1]->dtype) || in[1]->numel != x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scales needs %d float values", x->ndim);
    for (int d = 0; d < x->ndim; d++) scale[d] = cquant__get_f64(in[1], d);
  } else if (a && (int)a->n_floats == x->ndim) {
    for (int d = 0; d < x->ndim; d++) scale[d] = a->floats[d];
  } else
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scales needs %d values", x->ndim);
  if ((st = sizes_from_scales(node, x, scale, shape))) return st;
  return run(node, x, shape, scale, NULL, &p, &out[0]);
}
