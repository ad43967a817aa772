/* Float32 depthwise convolution (C / group == 1): whole planes per kernel call (the dw_f32 entry of
 * the kernel tables), padding read as +0 where a tap leaves the input, with no padded copy of the
 * plane. The scalar reference is here; x86/dwconv_avx2.c and dwconv_avx512.c do the same
 * operations in the same order, several outputs at a time. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "cquant/quantize.h"
#include "exec/ops/conv_internal.h"

/* The reference: every output in turn, its taps in row-major order. */
static void dw_f32_ref(const cquant__dw_geom_t *g, const float *x, const float *w, const float *b, int64_t nch, float *y) {
  const int taps = g->kh * g->kw;
  for (int64_t c = 0; c < nch; c++) {
    const float *xc = x + c * g->h * g->w, *wc = w + c * taps;
    float *yc = y + c * g->oh * g->ow;
    const float bc = b ? b[c] : 0.0f;
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        float a = bc;
        for (int ky = 0; ky < g->kh; ky++) {
          const int64_t iy = oy * g->sh + (int64_t)ky * g->dh - g->pt;
          for (int kx = 0; kx < g->kw; kx++) {
            const int64_t ix = ox * g->sw + (int64_t)kx * g->dw - g->pl;
            const float v = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? xc[iy * g->w + ix] : 0.0f;
            a = a + wc[ky * g->kw + kx] * v;
          }
        }
        yc[oy * g->ow + ox] = cquant__dw_act(g, a);
      }
  }
}

void cquant__fconv_init_ref(cquant__kernels_t *k) { k->dw_f32 = dw_f32_ref; }

int cquant__conv_threads(double work) {
  const int t = cquant_get_num_threads();
  /* 10^6 multiply-adds (~0.1 ms) or more: small operators stay on one thread, where a helper thread
   * the scheduler runs late could only make them slower */
  return work >= 1e6 ? t : 1;
}

/* the run of k where 0 <= o + k sw < w, within [0, len) */
static void inside(int64_t o, int64_t w, int64_t sw, int64_t len, int64_t *lo, int64_t *hi) {
  int64_t l = o >= 0 ? 0 : (-o + sw - 1) / sw, h = w - 1 - o < 0 ? 0 : (w - 1 - o) / sw + 1;
  l = l > len ? len : l;
  *lo = l;
  *hi = h > len ? len : h < l ? l : h;
}

void cquant__pad_split_row(const float *src, int64_t w, int64_t pl, int64_t sw, int64_t len, float pad, float *dst) {
  if (sw == 2) { /* both phases in one pass over the pairs inside (vectorizes as an interleaved load) */
    int64_t lo0, hi0, lo1, hi1;
    inside(-pl, w, 2, len, &lo0, &hi0);
    inside(1 - pl, w, 2, len, &lo1, &hi1);
    const int64_t lo = lo0 > lo1 ? lo0 : lo1, hmin = hi0 < hi1 ? hi0 : hi1, hi = hmin < lo ? lo : hmin;
    float *d0 = dst, *d1 = dst + len;
    for (int64_t k = 0; k < lo; k++) {
      d0[k] = k >= lo0 && k < hi0 ? src[2 * k - pl] : pad;
      d1[k] = k >= lo1 && k < hi1 ? src[2 * k + 1 - pl] : pad;
    }
    const float *s = src + (2 * lo - pl); /* inside: 2 lo - pl >= 0 */
    for (int64_t k = 0; k < hi - lo; k++) {
      d0[lo + k] = s[2 * k];
      d1[lo + k] = s[2 * k + 1];
    }
    for (int64_t k = hi; k < len; k++) {
      d0[k] = k >= lo0 && k < hi0 ? src[2 * k - pl] : pad;
      d1[k] = k >= lo1 && k < hi1 ? src[2 * k + 1 - pl] : pad;
    }
    return;
  }
  for (int64_t j = 0; j < sw; j++, dst += len) {
    const int64_t o = j - pl; /* k is inside when 0 <= o + k sw < w */
    int64_t lo, hi;
    inside(o, w, sw, len, &lo, &hi);
    for (int64_t k = 0; k < lo; k++) dst[k] = pad;
    if (sw == 1) memcpy(dst + lo, src + o + lo, sizeof(float) * (size_t)(hi - lo));
    else
      for (int64_t k = lo; k < hi; k++) dst[k] = src[o + k * sw];
    for (int64_t k = hi; k < len; k++) dst[k] = pad;
  }
}

typedef struct {
  const cquant__dw_geom_t *g;
  const float *x, *w, *b;
  float *y;
  int64_t c, m, mg, per_unit; /* input channels, output channels, outputs per group, output channels per unit */
} dw_job_t;

/* unit = one image and a run of per_unit output channels */
static void dw_unit(void *vj, int64_t q, int worker) {
  (void)worker;
  const dw_job_t *j = vj;
  const cquant__dw_geom_t *g = j->g;
  const int64_t units_n = (j->m + j->per_unit - 1) / j->per_unit, n = q / units_n, o0 = (q % units_n) * j->per_unit;
  const int64_t o1 = o0 + j->per_unit < j->m ? o0 + j->per_unit : j->m, taps = (int64_t)g->kh * g->kw, hw = g->h * g->w;
  const float *xn = j->x + n * j->c * hw;
  float *yn = j->y + n * j->m * g->oh * g->ow;
  if (j->mg == 1) { /* output channel o reads input plane o: one call for the run */
    cquant__kernels()->dw_f32(g, xn + o0 * hw, j->w + o0 * taps, j->b ? j->b + o0 : NULL, o1 - o0, yn + o0 * g->oh * g->ow);
    return;
  }
  for (int64_t o = o0; o < o1; o++) /* several outputs per input plane: one plane at a time */
    cquant__kernels()->dw_f32(g, xn + (o / j->mg) * hw, j->w + o * taps, j->b ? j->b + o : NULL, 1, yn + o * g->oh * g->ow);
}

int cquant__conv_dw_f32_act(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, int act, float lo, float hi, float *y) {
  const cquant__dw_geom_t g = {.h = p->h, .w = p->w, .oh = p->oh, .ow = p->ow, .pt = p->pad_t, .pl = p->pad_l, .kh = (int)p->kh, .kw = (int)p->kw,
                               .sh = (int)p->stride_h, .sw = (int)p->stride_w, .dh = (int)p->dil_h, .dw = (int)p->dil_w, .act = act, .lo = lo, .hi = hi};
  dw_job_t j = {.g = &g, .x = x, .w = w, .b = b, .y = y, .c = p->c, .m = p->m, .mg = p->m / p->group};
  const double work = (double)p->n * (double)p->m * (double)(p->oh * p->ow) * (double)(p->kh * p->kw);
  const int threads = cquant__conv_threads(work);
  /* about four units a thread (a late helper costs one unit), whole channels each */
  j.per_unit = threads > 1 ? (p->m * p->n + 4 * threads - 1) / (4 * threads) : p->m;
  j.per_unit = j.per_unit < 1 ? 1 : j.per_unit > p->m ? p->m : j.per_unit;
  cquant__par_run(threads, p->n * ((p->m + j.per_unit - 1) / j.per_unit), dw_unit, &j);
  return CQUANT_STATUS_OK;
}

int cquant__conv_dw_f32(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, float *y) {
  return cquant__conv_dw_f32_act(p, x, w, b, 0, 0.0f, 0.0f, y);
}
