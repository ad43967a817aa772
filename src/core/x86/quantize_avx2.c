/* AVX2 quantize / dequantize / fake-quantize kernels. Bit-identical to ref/quantize_ref.c:
 * the same IEEE operations in the same order (vdivps or vmulps, vroundps imm 8, vmaxps with the
 * bound second so NaN goes to the bound, vminps, vcvtps2dq), only eight lanes at a time. */
#include <immintrin.h>
#include "core/internal.h"

#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* round_half_even(x / s) exactly as vdivps + vroundps would give it, dividing only for a vector
 * with a lane near a tie (see quantize_avx512.c and docs/quantization.md, sec. 4). */
static inline __m256 round_div8(__m256 x, __m256 s, __m256 inv) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 v = _mm256_mul_ps(x, inv);
  const __m256 k = _mm256_round_ps(v, RNE);
  const __m256 av = _mm256_and_ps(v, absmask);
  const __m256 margin = _mm256_sub_ps(_mm256_set1_ps(0.5f), _mm256_and_ps(_mm256_sub_ps(v, k), absmask));
  __m256 ok = _mm256_or_ps(_mm256_cmp_ps(margin, _mm256_mul_ps(av, _mm256_set1_ps(0x1p-21f)), _CMP_GT_OQ),
                           _mm256_cmp_ps(av, _mm256_set1_ps(0x1p20f), _CMP_GT_OQ));
  ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_and_ps(inv, absmask), _mm256_set1_ps(3.4028234663852886e38f), _CMP_LE_OQ));
  if (__builtin_expect(_mm256_movemask_ps(ok) == 0xff, 1)) return k;
  return _mm256_round_ps(_mm256_div_ps(x, s), RNE);
}

/* Rounded, clamped quotients of 8 floats as int32 (without z). */
static inline __m256i qdiv8(__m256 x, __m256 s, __m256 inv, __m256 lo, __m256 hi, int recip) {
  __m256 v = recip ? _mm256_round_ps(_mm256_mul_ps(x, inv), RNE) : round_div8(x, s, inv);
  v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
  return _mm256_cvtps_epi32(v);
}

/* Narrowing of 32 int32 lanes (already in range) to bytes or 16 int32 lanes to int16.
 * vpackssdw / vpacksswb / vpackuswb work per 128-bit lane; vpermd restores the order. */
static inline __m256i narrow_s8(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
static inline __m256i narrow_u8(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  return _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
static inline __m256i narrow_s16(__m256i a, __m256i b) {
  return _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8);
}

/* ---- quantize, one (s, z) ---------------------------------------------------------------- */

#define CQUANT__Q_RUN_BYTES(suffix, T, NARROW)                                                  \
  static void q_run_##suffix(const float *x, size_t n, const cquant__qrun_t *p, void *out) {    \
    T *q = (T *)out;                                                                            \
    const float inv = 1.0f / p->scale;                                                          \
    const float flo = (float)(p->qmin - p->zero_point), fhi = (float)(p->qmax - p->zero_point); \
    const __m256 s = _mm256_set1_ps(p->scale), vi = _mm256_set1_ps(inv);                        \
    const __m256 lo = _mm256_set1_ps(flo), hi = _mm256_set1_ps(fhi);                            \
    const __m256i z = _mm256_set1_epi32(p->zero_point);                                         \
    const int recip = p->rounding == CQUANT_ROUND_RECIP;                                        \
    size_t i = 0;                                                                               \
    for (; i + 32 <= n; i += 32) {                                                              \
      __m256i a = _mm256_add_epi32(qdiv8(_mm256_loadu_ps(x + i), s, vi, lo, hi, recip), z);     \
      __m256i b = _mm256_add_epi32(qdiv8(_mm256_loadu_ps(x + i + 8), s, vi, lo, hi, recip), z); \
      __m256i c = _mm256_add_epi32(qdiv8(_mm256_loadu_ps(x + i + 16), s, vi, lo, hi, recip), z); \
      __m256i d = _mm256_add_epi32(qdiv8(_mm256_loadu_ps(x + i + 24), s, vi, lo, hi, recip), z); \
      _mm256_storeu_si256((__m256i *)(q + i), NARROW(a, b, c, d));                              \
    }                                                                                           \
    for (; i < n; i++) {                                                                        \
      float r = cquant__clampf(cquant__div_round(x[i], p->scale, inv, p->rounding), flo, fhi);  \
      q[i] = (T)((int32_t)r + p->zero_point);                                                   \
    }                                                                                           \
  }

CQUANT__Q_RUN_BYTES(s8, int8_t, narrow_s8)
CQUANT__Q_RUN_BYTES(u8, uint8_t, narrow_u8)

static void q_run_s16(const float *x, size_t n, const cquant__qrun_t *p, void *out) {
  int16_t *q = (int16_t *)out;
  const float inv = 1.0f / p->scale;
  const float flo = (float)(p->qmin - p->zero_point), fhi = (float)(p->qmax - p->zero_point);
  const __m256 s = _mm256_set1_ps(p->scale), vi = _mm256_set1_ps(inv);
  const __m256 lo = _mm256_set1_ps(flo), hi = _mm256_set1_ps(fhi);
  const __m256i z = _mm256_set1_epi32(p->zero_point);
  const int recip = p->rounding == CQUANT_ROUND_RECIP;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i a = _mm256_add_epi32(qdiv8(_mm256_loadu_ps(x + i), s, vi, lo, hi, recip), z);
    __m256i b = _mm256_add_epi32(qdiv8(_mm256_loadu_ps(x + i + 8), s, vi, lo, hi, recip), z);
    _mm256_storeu_si256((__m256i *)(q + i), narrow_s16(a, b));
  }
  for (; i < n; i++) {
    float r = cquant__clampf(cquant__div_round(x[i], p->scale, inv, p->rounding), flo, fhi);
    q[i] = (int16_t)((int32_t)r + p->zero_point);
  }
}

/* ---- quantize, one (s, z) per element ---------------------------------------------------- */

static inline __m256i qvec8(const float *x, const float *scale, const int32_t *zp, __m256i qmin,
                            __m256i qmax, int recip) {
  __m256 s = _mm256_loadu_ps(scale);
  __m256i z = _mm256_loadu_si256((const __m256i *)zp);
  __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(qmin, z));
  __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(qmax, z));
  __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), s);
  return _mm256_add_epi32(qdiv8(_mm256_loadu_ps(x), s, inv, lo, hi, recip), z);
}

#define CQUANT__Q_VEC_TAIL(T)                                                                 \
  for (; i < n; i++) {                                                                        \
    const float lo = (float)(qmin - zp[i]), hi = (float)(qmax - zp[i]);                       \
    float r = cquant__clampf(cquant__div_round(x[i], scale[i], 1.0f / scale[i], rnd), lo, hi); \
    q[i] = (T)((int32_t)r + zp[i]);                                                           \
  }

#define CQUANT__Q_VEC_BYTES(suffix, T, NARROW)                                                    \
  static void q_vec_##suffix(const float *x, size_t n, const float *scale, const int32_t *zp,     \
                             int32_t qmin, int32_t qmax, cquant_round_t rnd, void *out) {         \
    T *q = (T *)out;                                                                              \
    const __m256i vmin = _mm256_set1_epi32(qmin), vmax = _mm256_set1_epi32(qmax);                 \
    const int recip = rnd == CQUANT_ROUND_RECIP;                                                  \
    size_t i = 0;                                                                                 \
    for (; i + 32 <= n; i += 32) {                                                                \
      __m256i a = qvec8(x + i, scale + i, zp + i, vmin, vmax, recip);                             \
      __m256i b = qvec8(x + i + 8, scale + i + 8, zp + i + 8, vmin, vmax, recip);                 \
      __m256i c = qvec8(x + i + 16, scale + i + 16, zp + i + 16, vmin, vmax, recip);              \
      __m256i d = qvec8(x + i + 24, scale + i + 24, zp + i + 24, vmin, vmax, recip);              \
      _mm256_storeu_si256((__m256i *)(q + i), NARROW(a, b, c, d));                                \
    }                                                                                             \
    CQUANT__Q_VEC_TAIL(T)                                                                         \
  }

CQUANT__Q_VEC_BYTES(s8, int8_t, narrow_s8)
CQUANT__Q_VEC_BYTES(u8, uint8_t, narrow_u8)

static void q_vec_s16(const float *x, size_t n, const float *scale, const int32_t *zp,
                      int32_t qmin, int32_t qmax, cquant_round_t rnd, void *out) {
  int16_t *q = (int16_t *)out;
  const __m256i vmin = _mm256_set1_epi32(qmin), vmax = _mm256_set1_epi32(qmax);
  const int recip = rnd == CQUANT_ROUND_RECIP;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i a = qvec8(x + i, scale + i, zp + i, vmin, vmax, recip);
    __m256i b = qvec8(x + i + 8, scale + i + 8, zp + i + 8, vmin, vmax, recip);
    _mm256_storeu_si256((__m256i *)(q + i), narrow_s16(a, b));
  }
  CQUANT__Q_VEC_TAIL(int16_t)
}

/* ---- dequantize -------------------------------------------------------------------------- */

static inline __m256i load8_s8(const void *p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
static inline __m256i load8_u8(const void *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
static inline __m256i load8_s16(const void *p) { return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)p)); }

#define CQUANT__DQ(suffix, T)                                                                   \
  static void dq_run_##suffix(const void *in, size_t n, float scale, int32_t zp, int stream, float *y) {    \
    const T *q = (const T *)in;                                                                 \
    const __m256 s = _mm256_set1_ps(scale);                                                     \
    const __m256i z = _mm256_set1_epi32(zp);                                                    \
    size_t i = 0;                                                                               \
    for (; i + 8 <= n; i += 8)                                                                  \
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8_##suffix(q + i), z)), s)); \
    for (; i < n; i++) y[i] = (float)((int32_t)q[i] - zp) * scale;                              \
  }                                                                                             \
  static void dq_vec_##suffix(const void *in, size_t n, const float *scale, const int32_t *zp,  \
                              float *y) {                                                       \
    const T *q = (const T *)in;                                                                 \
    size_t i = 0;                                                                               \
    for (; i + 8 <= n; i += 8) {                                                                \
      __m256i d = _mm256_sub_epi32(load8_##suffix(q + i), _mm256_loadu_si256((const __m256i *)(zp + i))); \
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_loadu_ps(scale + i))); \
    }                                                                                           \
    for (; i < n; i++) y[i] = (float)((int32_t)q[i] - zp[i]) * scale[i];                        \
  }

CQUANT__DQ(s8, int8_t)
CQUANT__DQ(u8, uint8_t)
CQUANT__DQ(s16, int16_t)

/* ---- fake-quantize ----------------------------------------------------------------------- */

static void fq_run(const float *x, size_t n, const cquant__qrun_t *p, float *y) {
  const float inv = 1.0f / p->scale;
  const float flo = (float)(p->qmin - p->zero_point), fhi = (float)(p->qmax - p->zero_point);
  const __m256 s = _mm256_set1_ps(p->scale), vi = _mm256_set1_ps(inv);
  const __m256 lo = _mm256_set1_ps(flo), hi = _mm256_set1_ps(fhi);
  const int recip = p->rounding == CQUANT_ROUND_RECIP;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv = _mm256_loadu_ps(x + i);
    __m256 v = recip ? _mm256_round_ps(_mm256_mul_ps(xv, vi), RNE) : round_div8(xv, s, vi);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, s));
  }
  for (; i < n; i++)
    y[i] = cquant__clampf(cquant__div_round(x[i], p->scale, inv, p->rounding), flo, fhi) * p->scale;
}

static void fq_vec(const float *x, size_t n, const float *scale, const int32_t *zp, int32_t qmin,
                   int32_t qmax, cquant_round_t rnd, float *y) {
  const __m256i vmin = _mm256_set1_epi32(qmin), vmax = _mm256_set1_epi32(qmax);
  const int recip = rnd == CQUANT_ROUND_RECIP;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 s = _mm256_loadu_ps(scale + i);
    __m256i z = _mm256_loadu_si256((const __m256i *)(zp + i));
    __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(vmin, z));
    __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(vmax, z));
    __m256 xv = _mm256_loadu_ps(x + i);
    __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), s);
    __m256 v = recip ? _mm256_round_ps(_mm256_mul_ps(xv, inv), RNE) : round_div8(xv, s, inv);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, s));
  }
  for (; i < n; i++) {
    const float lo = (float)(qmin - zp[i]), hi = (float)(qmax - zp[i]);
    y[i] = cquant__clampf(cquant__div_round(x[i], scale[i], 1.0f / scale[i], rnd), lo, hi) * scale[i];
  }
}

/* ---- min / max of the finite elements ----------------------------------------------------- */

static size_t minmax(const float *x, size_t n, float *mn, float *mx) {
  const __m256 inf = _mm256_set1_ps(__builtin_inff()), ninf = _mm256_set1_ps(-__builtin_inff());
  const __m256i expm = _mm256_set1_epi32(0x7f800000);
  __m256 lo = inf, hi = ninf;
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    /* not finite <=> exponent bits all ones (vpand + vpcmpeqd); those lanes are replaced */
    __m256i nf = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), expm), expm);
    bad = _mm256_sub_epi32(bad, nf);
    lo = _mm256_min_ps(_mm256_blendv_ps(v, inf, _mm256_castsi256_ps(nf)), lo);
    hi = _mm256_max_ps(_mm256_blendv_ps(v, ninf, _mm256_castsi256_ps(nf)), hi);
  }
  float l[8], h[8];
  int32_t b[8];
  _mm256_storeu_ps(l, lo);
  _mm256_storeu_ps(h, hi);
  _mm256_storeu_si256((__m256i *)b, bad);
  float rl = __builtin_inff(), rh = -__builtin_inff();
  size_t nb = 0;
  for (int j = 0; j < 8; j++) {
    rl = l[j] < rl ? l[j] : rl;
    rh = h[j] > rh ? h[j] : rh;
    nb += (size_t)(uint32_t)b[j];
  }
  for (; i < n; i++) {
    float v = x[i];
    if (!__builtin_isfinite(v)) { nb++; continue; }
    rl = v < rl ? v : rl;
    rh = v > rh ? v : rh;
  }
  *mn = rl;
  *mx = rh;
  return nb;
}

void cquant__kernels_init_avx2(cquant__kernels_t *k) {
  k->q_run[CQUANT__C_S8] = q_run_s8;
  k->q_run[CQUANT__C_U8] = q_run_u8;
  k->q_run[CQUANT__C_S16] = q_run_s16;
  k->q_vec[CQUANT__C_S8] = q_vec_s8;
  k->q_vec[CQUANT__C_U8] = q_vec_u8;
  k->q_vec[CQUANT__C_S16] = q_vec_s16;
  k->dq_run[CQUANT__C_S8] = dq_run_s8;
  k->dq_run[CQUANT__C_U8] = dq_run_u8;
  k->dq_run[CQUANT__C_S16] = dq_run_s16;
  k->dq_vec[CQUANT__C_S8] = dq_vec_s8;
  k->dq_vec[CQUANT__C_U8] = dq_vec_u8;
  k->dq_vec[CQUANT__C_S16] = dq_vec_s16;
  k->fq_run = fq_run;
  k->fq_vec = fq_vec;
  k->minmax = minmax;
  cquant__convert_init_avx2(k);
  cquant__fp8_init_avx2(k);
}
