/* Quantized layers and elementwise operators in integer arithmetic (docs/quantization.md, sec. 7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "intops/fixedpoint.h"
#include "intops/intops.h"

static inline int32_t ld(const void *p, int64_t i, int s) { return s ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i]; }
static inline void st8(void *p, int64_t i, int s, int32_t v) {
  if (s) ((int8_t *)p)[i] = (int8_t)v;
  else ((uint8_t *)p)[i] = (uint8_t)v;
}

int cquant_qlinear(const void *x, int x_signed, int64_t M, float x_scale, int32_t x_zp, const cquant_qgemm_weights_t *w,
                   const float *w_scale, int per_channel, const int32_t *bias, float y_scale, int32_t y_zp, int y_signed,
                   int relu, void *y) {
  if (!w || !w_scale || !(x_scale > 0) || !(y_scale > 0)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qlinear: bad scales or weights");
  const int64_t nm = per_channel ? w->N : 1;
  int32_t *m0 = malloc(sizeof(int32_t) * (size_t)nm), *sh = malloc(sizeof(int32_t) * (size_t)nm);
  int st = m0 && sh ? CQUANT_STATUS_OK : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qlinear: out of memory");
  for (int64_t i = 0; i < nm && !st; i++) {
    int s;
    if (!(w_scale[i] > 0)) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qlinear: w_scale[%lld] = %g", (long long)i, w_scale[i]);
    else st = cquant_quantize_multiplier((double)x_scale * (double)w_scale[i] / (double)y_scale, &m0[i], &s); /* eq. 24 */
    if (!st) sh[i] = s;
  }
  if (!st) {
    const int32_t tmin = y_signed ? -128 : 0, tmax = y_signed ? 127 : 255;
    cquant_epilogue_t e = {CQUANT_EPI_REQUANT, bias, per_channel, m0, sh, NULL, NULL, y_zp, y_signed,
                           relu ? (y_zp > tmin ? y_zp : tmin) : tmin, tmax};
    st = cquant_qgemm_ex(x, x_signed, M, w->K, x_zp, w, &e, y, w->N);
  }
  free(m0);
  free(sh);
  return st;
}

/* eq. 26's parameters: the two input tables (each input's rescaled value depends only on its
 * 8-bit code) and the output multiplier. */
static int qadd_setup(float s1, int32_t z1, float s2, int32_t z2, int is_signed, float sy, int32_t t1[256], int32_t t2[256], int32_t *mo, int *eo) {
  const int left = 20;
  const double twice_max = 2.0 * fmax(s1, s2);
  int32_t m1, m2;
  int e1, e2, st;
  if ((st = cquant_quantize_multiplier(s1 / twice_max, &m1, &e1)) || (st = cquant_quantize_multiplier(s2 / twice_max, &m2, &e2)) ||
      (st = cquant_quantize_multiplier(twice_max / ((double)(1 << left) * sy), mo, eo)))
    return st;
  for (int v = 0; v < 256; v++) {
    const int32_t q = is_signed ? (int32_t)(int8_t)v : v;
    t1[v] = cquant_mul_by_quantized_multiplier((q - z1) * (1 << left), m1, e1);
    t2[v] = cquant_mul_by_quantized_multiplier((q - z2) * (1 << left), m2, e2);
  }
  return 0;
}

int cquant__qadd_table(float s1, int32_t z1, float s2, int32_t z2, int is_signed, float sy, int32_t zy, uint8_t *tab) {
  if (!tab || !(s1 > 0) || !(s2 > 0) || !(sy > 0)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qadd: bad arguments");
  int32_t t1[256], t2[256], mo;
  int eo, st;
  if ((st = qadd_setup(s1, z1, s2, z2, is_signed, sy, t1, t2, &mo, &eo))) return st;
  const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
#pragma omp parallel for schedule(static)
  for (int v = 0; v < 65536; v++) {
    const int32_t q = cquant__mbqm(t1[v >> 8] + t2[v & 255], mo, eo) + zy;
    tab[v] = (uint8_t)(q < lo ? lo : (q > hi ? hi : q));
  }
  return 0;
}

/* eq. 26b for one pair of dequantized values (DequantizeLinear's float32 products): the float32
 * sum, then QuantizeLinear's round_half_even(x / sy) + zy, saturated to [flo, fhi] + zy. */
static inline uint8_t qdq_add(float d1, float d2, float sy, float flo, float fhi, int32_t zy) {
  return (uint8_t)((int32_t)cquant__clampf(cquant__div_round(d1 + d2, sy, 0, CQUANT_ROUND_DIV), flo, fhi) + zy);
}

/* DequantizeLinear of every 8-bit code: (q - z) s in float32. */
static void dq_codes(float s, int32_t z, int is_signed, float d[256]) {
  for (int v = 0; v < 256; v++) d[v] = (float)((is_signed ? (int32_t)(int8_t)v : v) - z) * s;
}

int cquant__qadd_table_qdq(float s1, int32_t z1, float s2, int32_t z2, int is_signed, float sy, int32_t zy, uint8_t *tab) {
  if (!tab || !(s1 > 0) || !(s2 > 0) || !(sy > 0)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qadd: bad arguments");
  float d1[256], d2[256];
  dq_codes(s1, z1, is_signed, d1);
  dq_codes(s2, z2, is_signed, d2);
  const float flo = cquant__lo_bound(is_signed ? -128 : 0, zy), fhi = cquant__hi_bound(is_signed ? 127 : 255, zy);
  for (int v = 0; v < 65536; v++) tab[v] = qdq_add(d1[v >> 8], d2[v & 255], sy, flo, fhi, zy);
  return 0;
}

int cquant__qadd_qdq(const void *x1, float s1, int32_t z1, const void *x2, float s2, int32_t z2, int is_signed, int64_t n, float sy,
                     int32_t zy, void *y) {
  if (!x1 || !x2 || !y || !(s1 > 0) || !(s2 > 0) || !(sy > 0)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qadd: bad arguments");
  float d1[256], d2[256];
  dq_codes(s1, z1, is_signed, d1);
  dq_codes(s2, z2, is_signed, d2);
  const float flo = cquant__lo_bound(is_signed ? -128 : 0, zy), fhi = cquant__hi_bound(is_signed ? 127 : 255, zy);
  const uint8_t *a8 = x1, *b8 = x2;
  uint8_t *o = y;
  for (int64_t i = 0; i < n; i++) o[i] = qdq_add(d1[a8[i]], d2[b8[i]], sy, flo, fhi, zy);
  return 0;
}

void cquant__qadd_by_table(const uint8_t *tab, const void *x1, const void *x2, int64_t n, void *y) {
  const uint8_t *a8 = x1, *b8 = x2;
  uint8_t *o = y;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) o[i] = tab[(a8[i] << 8) | b8[i]];
}

int cquant_qadd(const void *x1, float s1, int32_t z1, const void *x2, float s2, int32_t z2, int is_signed, int64_t n,
                float sy, int32_t zy, void *y) {
  if (!x1 || !x2 || !y || !(s1 > 0) || !(s2 > 0) || !(sy > 0)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qadd: bad arguments");
  /* eq. 26: both inputs to the scale 2 max(s1, s2) / 2^20, add, then to sy */
  int32_t t1[256], t2[256], mo;
  int eo, st;
  if ((st = qadd_setup(s1, z1, s2, z2, is_signed, sy, t1, t2, &mo, &eo))) return st;
  const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  const uint8_t *a8 = x1, *b8 = x2;
  if (n >= 4 * 65536) { /* every (x1, x2) pair once: a 64 KiB table of the exact results */
    uint8_t *tab = malloc(65536);
    if (tab && !cquant__qadd_table(s1, z1, s2, z2, is_signed, sy, zy, tab)) {
      cquant__qadd_by_table(tab, x1, x2, n, y);
      free(tab);
      return CQUANT_STATUS_OK;
    }
    free(tab);
  }
  uint8_t *o = y;
  const int right = eo > 0 ? 0 : (-eo > 31 ? 31 : -eo), left2 = eo > 0 ? eo : 0;
#pragma omp parallel for schedule(static) if (n > 16384)
  for (int64_t i = 0; i < n; i++) {
    const int32_t sum = t1[a8[i]] + t2[b8[i]];
    /* cquant__mbqm(sum, mo, eo) with the shift split hoisted out of the loop */
    const int64_t xl = (int64_t)sum * ((int64_t)1 << left2);
    const int32_t xs = xl > INT32_MAX ? INT32_MAX : (xl < INT32_MIN ? INT32_MIN : (int32_t)xl);
    int32_t q = cquant__rdivpot(cquant__srdhm(xs, mo), right) + zy;
    q = q < lo ? lo : (q > hi ? hi : q);
    o[i] = (uint8_t)q; /* int8 results as their two's-complement byte */
  }
  return CQUANT_STATUS_OK;
}

int cquant_qpool2d(const void *x, int is_signed, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                   int64_t sh, int64_t sw, int64_t pad_t, int64_t pad_l, int64_t pad_b, int64_t pad_r, int average,
                   void *y, int64_t *oh_out, int64_t *ow_out) {
  if (!x || !y || n < 1 || c < 1 || h < 1 || w < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || pad_t < 0 || pad_l < 0 || pad_b < 0 ||
      pad_r < 0 || pad_t >= kh || pad_b >= kh || pad_l >= kw || pad_r >= kw)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "pool: bad window, stride or padding");
  const int64_t oh = (h + pad_t + pad_b - kh) / sh + 1, ow = (w + pad_l + pad_r - kw) / sw + 1;
  if (oh < 1 || ow < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "pool: the window does not fit the input");
  if (!average && kh == 2 && kw == 2 && sh == 2 && sw == 2 && !pad_t && !pad_l && !pad_b && !pad_r) {
    /* the common 2x2 / 2 max pooling without padding: the same maxima, planes over threads */
#pragma omp parallel for schedule(static) if (n * c * h * w > 65536)
    for (int64_t p = 0; p < n * c; p++)
      for (int64_t oy = 0; oy < oh; oy++) {
        if (is_signed) {
          const int8_t *r0 = (const int8_t *)x + (p * h + 2 * oy) * w, *r1 = r0 + w;
          int8_t *o = (int8_t *)y + (p * oh + oy) * ow;
          for (int64_t ox = 0; ox < ow; ox++) {
            const int8_t a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1], b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
            o[ox] = a > b ? a : b;
          }
        } else {
          const uint8_t *r0 = (const uint8_t *)x + (p * h + 2 * oy) * w, *r1 = r0 + w;
          uint8_t *o = (uint8_t *)y + (p * oh + oy) * ow;
          for (int64_t ox = 0; ox < ow; ox++) {
            const uint8_t a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1], b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
            o[ox] = a > b ? a : b;
          }
        }
      }
    if (oh_out) *oh_out = oh;
    if (ow_out) *ow_out = ow;
    return CQUANT_STATUS_OK;
  }
#pragma omp parallel for schedule(static) if (n * c * h * w > 65536)
  for (int64_t p = 0; p < n * c; p++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        int32_t best = INT32_MIN;
        int64_t sum = 0, cnt = 0, ky0, ky1, kx0, kx1;
        cquant__pool_taps(oy, sh, pad_t, kh, h, &ky0, &ky1);
        cquant__pool_taps(ox, sw, pad_l, kw, w, &kx0, &kx1);
        for (int64_t ky = ky0; ky < ky1; ky++) {
          const int64_t iy = oy * sh - pad_t + ky;
          for (int64_t kx = kx0; kx < kx1; kx++) {
            const int64_t ix = ox * sw - pad_l + kx;
            const int32_t v = ld(x, (p * h + iy) * w + ix, is_signed);
            best = v > best ? v : best;
            sum += v;
            cnt++;
          }
        }
        int32_t r = best;
        if (average) r = (int32_t)(sum >= 0 ? (sum + cnt / 2) / cnt : -((-sum + cnt / 2) / cnt)); /* half away from zero */
        st8(y, (p * oh + oy) * ow + ox, is_signed, r);
      }
  if (oh_out) *oh_out = oh;
  if (ow_out) *ow_out = ow;
  return CQUANT_STATUS_OK;
}

int cquant_qclamp(const void *x, int is_signed, int64_t n, float s, int32_t z, float lo, float hi, void *y) {
  if (!x || !y || !(s > 0) || lo > hi) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qclamp: bad arguments");
  const int32_t tmin = is_signed ? -128 : 0, tmax = is_signed ? 127 : 255;
  /* the bounds in the quantized domain (eq. 13), saturated to the type */
  double qlo = isinf(lo) ? tmin : rint((double)lo / s) + z, qhi = isinf(hi) ? tmax : rint((double)hi / s) + z;
  const int32_t a = qlo < tmin ? tmin : (qlo > tmax ? tmax : (int32_t)qlo), b = qhi < tmin ? tmin : (qhi > tmax ? tmax : (int32_t)qhi);
  for (int64_t i = 0; i < n; i++) {
    int32_t v = ld(x, i, is_signed);
    st8(y, i, is_signed, v < a ? a : (v > b ? b : v));
  }
  return CQUANT_STATUS_OK;
}
