/* Float32 depthwise convolution (C / group == 1): a direct kernel per output row instead of im2col
 * and a GEMM of one row. The scalar reference of the row kernel is here; the AVX2 and AVX-512
 * variants in x86/dwconv_*.c do the same operations in the same order. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "cquant/quantize.h"
#include "exec/ops/conv_internal.h"

static void dw_row_f32_ref(const float *const *r, const float *w, int taps, float b, int64_t n, float *y) {
  for (int64_t i = 0; i < n; i++) {
    float a = b;
    for (int t = 0; t < taps; t++) a = a + w[t] * r[t][i];
    y[i] = a;
  }
}

void cquant__fconv_init_ref(cquant__kernels_t *k) { k->dw_row_f32 = dw_row_f32_ref; }

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

/* The padded input plane with its columns split by phase modulo the stride: phase row (ry, j) holds
 * padded columns j, j + sw, j + 2 sw, ... of padded row ry (zero outside the input). */
static void dw_fill(const cquant__conv2d_t *p, const float *plane, int64_t hn, int64_t len, float *buf) {
  const int64_t sw = p->stride_w;
  for (int64_t ry = 0; ry < hn; ry++) {
    const int64_t iy = ry - p->pad_t;
    float *dst = buf + ry * sw * len;
    if (iy < 0 || iy >= p->h) memset(dst, 0, sizeof(float) * (size_t)(sw * len));
    else cquant__pad_split_row(plane + iy * p->w, p->w, p->pad_l, sw, len, 0.0f, dst);
  }
}

typedef struct {
  const cquant__conv2d_t *p;
  const float *x, *w, *b;
  float *y;
  int64_t hn, len, taps;
  void **scratch; /* per worker: the padded plane, then the tap pointers */
  _Atomic int oom;
} dw_job_t;

/* unit = one input plane (image, group) and its output channels */
static void dw_unit(void *vj, int64_t q, int worker) {
  dw_job_t *j = vj;
  const cquant__conv2d_t *p = j->p;
  const int64_t mg = p->m / p->group, sw = p->stride_w, len = j->len, taps = j->taps;
  if (!j->scratch[worker]) j->scratch[worker] = malloc(sizeof(float) * (size_t)(j->hn * sw * len) + sizeof(float *) * (size_t)taps + 64);
  if (!j->scratch[worker]) { j->oom = 1; return; }
  const float **r = j->scratch[worker];
  float *buf = (float *)(r + taps);
  const int64_t n = q / p->group, g = q % p->group;
  dw_fill(p, j->x + (n * p->c + g) * p->h * p->w, j->hn, len, buf);
  for (int64_t jj = 0; jj < mg; jj++) {
    const int64_t o = g * mg + jj;
    const float *wo = j->w + o * taps;
    const float bo = j->b ? j->b[o] : 0.0f;
    float *yo = j->y + (n * p->m + o) * p->oh * p->ow;
    for (int64_t oy = 0; oy < p->oh; oy++) {
      for (int64_t ky = 0; ky < p->kh; ky++)
        for (int64_t kx = 0; kx < p->kw; kx++) {
          const int64_t ry = oy * p->stride_h + ky * p->dil_h, c0 = kx * p->dil_w;
          r[ky * p->kw + kx] = buf + (ry * sw + c0 % sw) * len + c0 / sw;
        }
      cquant__kernels()->dw_row_f32(r, wo, (int)taps, bo, p->ow, yo + oy * p->ow);
    }
  }
}

int cquant__conv_dw_f32(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, float *y) {
  const int64_t taps = p->kh * p->kw, sw = p->stride_w;
  const int64_t wn = (p->ow - 1) * sw + (p->kw - 1) * p->dil_w + 1;
  dw_job_t j = {.p = p, .x = x, .w = w, .b = b, .y = y, .taps = taps, .len = (wn + sw - 1) / sw};
  j.hn = (p->oh - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
  int threads = cquant__conv_threads((double)p->n * (double)p->m * (double)(p->oh * p->ow) * (double)taps);
  threads = threads < 64 ? threads : 64;
  void *scratch[64] = {0};
  j.scratch = scratch;
  cquant__par_run(threads, p->n * p->group, dw_unit, &j);
  for (int i = 0; i < 64; i++) free(scratch[i]);
  return j.oom ? CQUANT_STATUS_OUT_OF_MEMORY : CQUANT_STATUS_OK;
}
