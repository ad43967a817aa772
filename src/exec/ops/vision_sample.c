/* Sampling operators: GridSample (opset 16 2-D, opset 20 N-D: linear/bilinear, nearest,
 * cubic/bicubic; padding zeros, border, reflection; align_corners) and RoiAlign (opset 10/16:
 * avg and max, half_pixel and output_half_pixel coordinates). Computed in double, stored in the
 * input's type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/quantize.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/vision_internal.h"

static int oom(const Onnx__NodeProto *node) { return cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }

enum { GS_LINEAR, GS_NEAREST, GS_CUBIC };
enum { PAD_ZEROS, PAD_BORDER, PAD_REFLECTION };

/* Reflects x by the nearer border until it lies in [lo, hi]. */
static double reflect(double x, double lo, double hi) {
  const double rng = hi - lo;
  if (!(rng > 0)) return lo;
  if (x < lo) {
    const double dx = lo - x, n = floor(dx / rng), r = dx - n * rng;
    return fmod(n, 2.0) == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi, n = floor(dx / rng), r = dx - n * rng;
    return fmod(n, 2.0) == 0 ? hi - r : lo + r;
  }
  return x;
}

/* Keys' cubic convolution weights of the four taps around a point at fraction t, a = -0.75. */
static void cubic_w(double t, double a, double *w) {
  const double x0 = t + 1, x1 = t, x2 = 1 - t, x3 = 2 - t;
  w[0] = ((a * x0 - 5 * a) * x0 + 8 * a) * x0 - 4 * a;
  w[1] = ((a + 2) * x1 - (a + 3)) * x1 * x1 + 1;
  w[2] = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1;
  w[3] = ((a * x3 - 5 * a) * x3 + 8 * a) * x3 - 4 * a;
}

/* The element index of tap i on an axis of length d, or -1 for a zero (padding). */
static int64_t tap_index(int64_t i, int64_t d, int pad, double lo, double hi) {
  if (i >= 0 && i < d) return i;
  if (pad == PAD_ZEROS) return -1;
  if (pad == PAD_BORDER) return i < 0 ? 0 : d - 1;
  const int64_t r = (int64_t)reflect((double)i, lo, hi);
  return r < 0 ? 0 : (r >= d ? d - 1 : r);
}

CQUANT__VISION_OP(cquant__op_grid_sample) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0], *grid = n_in > 1 ? in[1] : NULL;
  int st;
  if (!x || !grid) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X and grid are required");
  if ((st = cquant__vision_need_float(node, grid, "grid"))) return st;
  const int r = x->ndim - 2;
  if (r < 1 || r > 6 || grid->ndim != x->ndim || grid->shape[0] != x->shape[0] || grid->shape[grid->ndim - 1] != r)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must be N x C x D1..Dr and grid N x O1..Or x r");
  const char *m = cquant__attr_string(node, "mode", cquant__opset(ctx) >= 20 ? "linear" : "bilinear");
  const int mode = !strcmp(m, "bilinear") || !strcmp(m, "linear") ? GS_LINEAR : !strcmp(m, "nearest") ? GS_NEAREST
                 : !strcmp(m, "bicubic") || !strcmp(m, "cubic") ? GS_CUBIC : -1;
  if (mode < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "unknown mode '%s'", m);
  const char *pm = cquant__attr_string(node, "padding_mode", "zeros");
  const int pad = !strcmp(pm, "zeros") ? PAD_ZEROS : !strcmp(pm, "border") ? PAD_BORDER : !strcmp(pm, "reflection") ? PAD_REFLECTION : -1;
  if (pad < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "unknown padding_mode '%s'", pm);
  const int align = cquant__attr_int(node, "align_corners", 0) != 0;
  int64_t yshape[CQUANT_MAX_DIMS];
  yshape[0] = x->shape[0], yshape[1] = x->shape[1];
  double total = (double)yshape[0] * (double)yshape[1];
  for (int d = 0; d < r; d++) yshape[2 + d] = grid->shape[1 + d], total *= (double)yshape[2 + d];
  if (total > (double)((int64_t)1 << 30)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "an output of %.0f elements is too large", total);
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, yshape))) return st;
  const int K = mode == GS_NEAREST ? 1 : mode == GS_LINEAR ? 2 : 4;
  int T = 1;
  for (int d = 0; d < r; d++) T *= K;
  int64_t *toff = malloc(sizeof(int64_t) * (size_t)T);
  double *tw = malloc(sizeof(double) * (size_t)T);
  if (!toff || !tw) {
    free(toff), free(tw), cquant_array_free(&out[0]);
    return oom(node);
  }
  const int64_t N = x->shape[0], C = x->shape[1];
  int64_t S = 1, O = 1, xs[CQUANT_MAX_DIMS];
  for (int d = r - 1; d >= 0; d--) xs[d] = S, S *= x->shape[2 + d];
  for (int d = 0; d < r; d++) O *= yshape[2 + d];
  const int f32 = x->dtype == CQUANT_DT_F32;
  const float *xd = x->data;
  float *yd = out[0].data;
  for (int64_t n = 0; n < N; n++)
    for (int64_t o = 0; o < O; o++) {
      int64_t idx[CQUANT_MAX_DIMS][4];
      double w[CQUANT_MAX_DIMS][4];
      for (int d = 0; d < r; d++) {
        const int64_t len = x->shape[2 + d];
        const double g = cquant__get_f64(grid, (n * O + o) * r + (r - 1 - d)); /* the grid lists the last axis first */
        const double lo = align ? 0.0 : -0.5, hi = align ? (double)len - 1 : (double)len - 0.5;
        double c = align ? (g + 1) / 2 * (double)(len - 1) : ((g + 1) * (double)len - 1) / 2;
        if (mode == GS_NEAREST) c = r == 3 ? round(c) : nearbyint(c);
        if (c < lo || c > hi) {
          if (pad == PAD_BORDER) c = c < 0 ? 0 : (c > (double)(len - 1) ? (double)(len - 1) : c);
          else if (pad == PAD_REFLECTION) c = reflect(c, lo, hi);
        }
        if (!isfinite(c)) c = -1e9; /* NaN or infinite coordinates read padding */
        if (c < -1e9) c = -1e9;
        if (c > 1e18) c = 1e18;
        const int64_t f = (int64_t)floor(c);
        const double t = c - (double)f;
        if (mode == GS_NEAREST) {
          idx[d][0] = tap_index((int64_t)c, len, pad, lo, hi), w[d][0] = 1;
        } else if (mode == GS_LINEAR) {
          idx[d][0] = tap_index(f, len, pad, lo, hi), w[d][0] = 1 - t;
          idx[d][1] = tap_index(f + 1, len, pad, lo, hi), w[d][1] = t;
        } else {
          cubic_w(t, -0.75, w[d]);
          for (int k = 0; k < 4; k++) idx[d][k] = tap_index(f - 1 + k, len, pad, lo, hi);
        }
      }
      /* the taps of the tensor product, padding taps left out */
      int nt = 0;
      for (int t = 0; t < T; t++) {
        int rem = t, ok = 1;
        int64_t off = 0;
        double wt = 1;
        for (int d = r - 1; d >= 0; d--) {
          const int k = rem % K;
          rem /= K;
          if (idx[d][k] < 0) { ok = 0; break; }
          off += idx[d][k] * xs[d], wt *= w[d][k];
        }
        if (ok) toff[nt] = off, tw[nt] = wt, nt++;
      }
      for (int64_t c = 0; c < C; c++) {
        const int64_t base = (n * C + c) * S;
        double v = 0;
        if (f32)
          for (int t = 0; t < nt; t++) v += tw[t] * xd[base + toff[t]];
        else
          for (int t = 0; t < nt; t++) v += tw[t] * cquant__get_f64(x, base + toff[t]);
        if (f32) yd[(n * C + c) * O + o] = (float)v;
        else cquant__set_f64(&out[0], (n * C + c) * O + o, v);
      }
    }
  free(toff), free(tw);
  return CQUANT_STATUS_OK;
}

/* One bilinear sample of RoiAlign: four element offsets and weights (all 0 outside). */
typedef struct {
  int64_t p[4];
  double w[4];
} sample_t;

static void roi_sample(double y, double x, int64_t H, int64_t W, sample_t *s) {
  memset(s, 0, sizeof *s);
  if (H < 1 || W < 1) return;
  if (!(y >= -1.0 && y <= (double)H && x >= -1.0 && x <= (double)W)) return;
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
  if (y0 >= H - 1) y0 = y1 = H - 1, y = (double)y0;
  else y1 = y0 + 1;
  if (x0 >= W - 1) x0 = x1 = W - 1, x = (double)x0;
  else x1 = x0 + 1;
  const double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
  s->p[0] = y0 * W + x0, s->p[1] = y0 * W + x1, s->p[2] = y1 * W + x0, s->p[3] = y1 * W + x1;
  s->w[0] = hy * hx, s->w[1] = hy * lx, s->w[2] = ly * hx, s->w[3] = ly * lx;
}

/* Channel c of roi r (its samples smp, per output bin), an item of cquant__par_for: each output the average (or max) of its bin's bilinear samples, in double;
 * float32 X read directly, the other float types through cquant__get_f64 (the same values). */
typedef struct {
  const cquant_array_t *x;
  cquant_array_t *y;
  const sample_t *smp;
  int64_t per, C, HW, P, b, r;
  double cnt;
  int maxm;
} roi_job_t;

static void roi_channel(const void *vj, int64_t c) {
  const roi_job_t *j = vj;
  const float *xf = j->x->dtype == CQUANT_DT_F32 ? j->x->data : NULL;
  float *yf = j->y->dtype == CQUANT_DT_F32 ? j->y->data : NULL;
  const int64_t base = (j->b * j->C + c) * j->HW;
  for (int64_t pb = 0; pb < j->P; pb++) {
    double v = 0;
    for (int64_t s = 0; s < j->per; s++) {
      const sample_t *q = &j->smp[pb * j->per + s];
      double xv[4];
      for (int k = 0; k < 4; k++) xv[k] = xf ? (double)xf[base + q->p[k]] : cquant__get_f64(j->x, base + q->p[k]);
      if (j->maxm) {
        double m = q->w[0] * xv[0];
        for (int k = 1; k < 4; k++) m = fmax(m, q->w[k] * xv[k]);
        v = s ? fmax(v, m) : m;
      } else {
        for (int k = 0; k < 4; k++) v += q->w[k] * xv[k];
      }
    }
    const int64_t o = (j->r * j->C + c) * j->P + pb;
    if (yf) yf[o] = (float)(j->maxm ? v : v / j->cnt);
    else cquant__set_f64(j->y, o, j->maxm ? v : v / j->cnt);
  }
}

CQUANT__VISION_OP(cquant__op_roi_align) {
  (void)n_out;
  const cquant_array_t *x = in[0], *rois = n_in > 1 ? in[1] : NULL, *bi = n_in > 2 ? in[2] : NULL;
  int st;
  if ((st = cquant__vision_need_float(node, x, "X")) || (st = cquant__vision_need_float(node, rois, "rois"))) return st;
  if (!bi || cquant__is_float(bi->dtype) || bi->dtype == CQUANT_DT_BOOL)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "batch_indices must be an integer tensor");
  if (x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must be N x C x H x W");
  if (rois->ndim != 2 || rois->shape[1] != 4) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "rois must be num_rois x 4");
  const int64_t R = rois->shape[0], N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  if (bi->numel != R) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "batch_indices must hold num_rois entries");
  const char *mo = cquant__attr_string(node, "mode", "avg");
  const int maxm = !strcmp(mo, "max");
  if (!maxm && strcmp(mo, "avg")) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "mode must be avg or max, got '%s'", mo);
  const char *ct = cquant__attr_string(node, "coordinate_transformation_mode", cquant__opset(ctx) >= 16 ? "half_pixel" : "output_half_pixel");
  const int half = !strcmp(ct, "half_pixel");
  if (!half && strcmp(ct, "output_half_pixel"))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "unknown coordinate_transformation_mode '%s'", ct);
  const int64_t OH = cquant__attr_int(node, "output_height", 1), OW = cquant__attr_int(node, "output_width", 1);
  const int64_t sr = cquant__attr_int(node, "sampling_ratio", 0);
  const double scale = cquant__attr_float(node, "spatial_scale", 1.0f);
  if (OH < 1 || OW < 1 || OH > (1 << 20) || OW > (1 << 20) || sr < 0 || sr > (1 << 20))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "output_height, output_width must be >= 1 and sampling_ratio >= 0");
  const int64_t yshape[4] = {R, C, OH, OW};
  if ((double)R * (double)C * (double)OH * (double)OW > (double)((int64_t)1 << 30))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "an output of %lld x %lld x %lld x %lld is too large", (long long)R, (long long)C, (long long)OH, (long long)OW);
  if ((st = cquant_array_alloc(&out[0], x->dtype, 4, yshape))) return st;
  sample_t *smp = NULL;
  size_t smp_cap = 0;
  const double off = half ? 0.5 : 0.0;
  for (int64_t r = 0; r < R && !st; r++) {
    const int64_t b = cquant__get_i64(bi, r);
    if (b < 0 || b >= N) { st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "batch index %lld is out of range", (long long)b); break; }
    const double x1 = cquant__get_f64(rois, 4 * r) * scale - off, y1 = cquant__get_f64(rois, 4 * r + 1) * scale - off;
    const double x2 = cquant__get_f64(rois, 4 * r + 2) * scale - off, y2 = cquant__get_f64(rois, 4 * r + 3) * scale - off;
    double rw = x2 - x1, rh = y2 - y1;
    if (!half) rw = fmax(rw, 1.0), rh = fmax(rh, 1.0);
    if (!isfinite(rw) || !isfinite(rh) || !isfinite(x1) || !isfinite(y1)) { st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "roi %lld is not finite", (long long)r); break; }
    const double bh = rh / (double)OH, bw = rw / (double)OW;
    const double gh_d = sr > 0 ? (double)sr : ceil(rh / (double)OH), gw_d = sr > 0 ? (double)sr : ceil(rw / (double)OW);
    const int64_t gh = gh_d > 0 ? (int64_t)fmin(gh_d, 1e9) : 0, gw = gw_d > 0 ? (int64_t)fmin(gw_d, 1e9) : 0;
    if (gh && gw && (double)gh * (double)gw * (double)OH * (double)OW > (double)(1 << 26)) {
      st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "roi %lld needs too many samples", (long long)r);
      break;
    }
    const size_t ns = (size_t)(gh * gw * OH * OW);
    if (ns > smp_cap) {
      sample_t *s2 = realloc(smp, sizeof(sample_t) * ns);
      if (!s2) { st = oom(node); break; }
      smp = s2, smp_cap = ns;
    }
    size_t k = 0;
    for (int64_t ph = 0; ph < OH; ph++)
      for (int64_t pw = 0; pw < OW; pw++)
        for (int64_t iy = 0; iy < gh; iy++) {
          const double yy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
          for (int64_t ix = 0; ix < gw; ix++) roi_sample(yy, x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw, H, W, &smp[k++]);
        }
    roi_job_t j = {.x = x, .y = &out[0], .smp = smp, .per = gh * gw, .cnt = gh * gw > 0 ? (double)(gh * gw) : 1.0, .C = C, .HW = H * W,
                   .P = OH * OW, .b = b, .r = r, .maxm = maxm};
    /* channels over the pool where the roi's samples are many (a keypoint head's 14 x 14 bins) */
    cquant__par_for((double)C * (double)j.P * (double)(j.per > 0 ? j.per : 1) >= 1e5 ? cquant_get_num_threads() : 1, C, roi_channel, &j);
  }
  free(smp);
  if (st) cquant_array_free(&out[0]);
  return st;
}
