/* AVX-512 quantize / dequantize / fake-quantize kernels: sixteen lanes, tails handled with
 * masked loads and stores (no scalar loop). Bit-identical to ref/quantize_ref.c: vdivps or
 * vmulps, vrndscaleps imm 8, vmaxps with the bound second (NaN goes to the bound), vminps,
 * vcvtps2dq, then vpmovsdb / vpmovusdb / vpmovsdw to narrow (values are already in range). */
#include <immintrin.h>
#include "core/internal.h"

#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static inline __m512i qdiv16(__m512 x, __m512 s, __m512 inv, __m512 lo, __m512 hi, int recip) {
  __m512 v = recip ? _mm512_mul_ps(x, inv) : _mm512_div_ps(x, s);
  v = _mm512_roundscale_ps(v, RNE);
  v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
  return _mm512_cvtps_epi32(v);
}

static inline void store_s8(void *q, __mmask16 m, __m512i v) { _mm512_mask_cvtsepi32_storeu_epi8(q, m, v); }
static inline void store_u8(void *q, __mmask16 m, __m512i v) { _mm512_mask_cvtusepi32_storeu_epi8(q, m, v); }
static inline void store_s16(void *q, __mmask16 m, __m512i v) { _mm512_mask_cvtsepi32_storeu_epi16(q, m, v); }

#define CQUANT__Q512(suffix, T)                                                                  \
  static void q_run_##suffix(const float *x, size_t n, const cquant__qrun_t *p, void *out) {     \
    T *q = (T *)out;                                                                             \
    const __m512 s = _mm512_set1_ps(p->scale), vi = _mm512_set1_ps(1.0f / p->scale);             \
    const __m512 lo = _mm512_set1_ps((float)(p->qmin - p->zero_point));                          \
    const __m512 hi = _mm512_set1_ps((float)(p->qmax - p->zero_point));                          \
    const __m512i z = _mm512_set1_epi32(p->zero_point);                                          \
    const int recip = p->rounding == CQUANT_ROUND_RECIP;                                         \
    size_t i = 0;                                                                                \
    for (; i + 64 <= n; i += 64) {                                                               \
      for (int u = 0; u < 4; u++) {                                                              \
        __m512i v = qdiv16(_mm512_loadu_ps(x + i + 16 * u), s, vi, lo, hi, recip);               \
        store_##suffix(q + i + 16 * u, 0xffff, _mm512_add_epi32(v, z));                          \
      }                                                                                          \
    }                                                                                            \
    for (; i < n; i += 16) {                                                                     \
      __mmask16 m = tail_mask(n - i);                                                            \
      __m512i v = qdiv16(_mm512_maskz_loadu_ps(m, x + i), s, vi, lo, hi, recip);                 \
      store_##suffix(q + i, m, _mm512_add_epi32(v, z));                                          \
    }                                                                                            \
  }                                                                                              \
  static void q_vec_##suffix(const float *x, size_t n, const float *scale, const int32_t *zp,    \
                             int32_t qmin, int32_t qmax, cquant_round_t rnd, void *out) {        \
    T *q = (T *)out;                                                                             \
    const __m512i vmin = _mm512_set1_epi32(qmin), vmax = _mm512_set1_epi32(qmax);                \
    const int recip = rnd == CQUANT_ROUND_RECIP;                                                 \
    for (size_t i = 0; i < n; i += 16) {                                                         \
      __mmask16 m = tail_mask(n - i);                                                            \
      /* Masked-off lanes load scale 1 so no division by zero is ever formed. */                 \
      __m512 s = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, scale + i);                       \
      __m512i z = _mm512_maskz_loadu_epi32(m, zp + i);                                           \
      __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmin, z));                                 \
      __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmax, z));                                 \
      __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), s);                                       \
      __m512i v = qdiv16(_mm512_maskz_loadu_ps(m, x + i), s, inv, lo, hi, recip);                \
      store_##suffix(q + i, m, _mm512_add_epi32(v, z));                                          \
    }                                                                                            \
  }

CQUANT__Q512(s8, int8_t)
CQUANT__Q512(u8, uint8_t)
CQUANT__Q512(s16, int16_t)

static inline __m512i load_s8(const void *p, __mmask16 m) { return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)); }
static inline __m512i load_u8(const void *p, __mmask16 m) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)); }
static inline __m512i load_s16(const void *p, __mmask16 m) { return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, p)); }

#define CQUANT__DQ512(suffix, T)                                                                 \
  static void dq_run_##suffix(const void *in, size_t n, float scale, int32_t zp, float *y) {     \
    const T *q = (const T *)in;                                                                  \
    const __m512 s = _mm512_set1_ps(scale);                                                      \
    const __m512i z = _mm512_set1_epi32(zp);                                                     \
    for (size_t i = 0; i < n; i += 16) {                                                         \
      __mmask16 m = tail_mask(n - i);                                                            \
      __m512i d = _mm512_sub_epi32(load_##suffix(q + i, m), z);                                  \
      _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(d), s));                  \
    }                                                                                            \
  }                                                                                              \
  static void dq_vec_##suffix(const void *in, size_t n, const float *scale, const int32_t *zp,   \
                              float *y) {                                                        \
    const T *q = (const T *)in;                                                                  \
    for (size_t i = 0; i < n; i += 16) {                                                         \
      __mmask16 m = tail_mask(n - i);                                                            \
      __m512i d = _mm512_sub_epi32(load_##suffix(q + i, m), _mm512_maskz_loadu_epi32(m, zp + i)); \
      __m512 s = _mm512_maskz_loadu_ps(m, scale + i);                                            \
      _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(d), s));                  \
    }                                                                                            \
  }

CQUANT__DQ512(s8, int8_t)
CQUANT__DQ512(u8, uint8_t)
CQUANT__DQ512(s16, int16_t)

static void fq_run(const float *x, size_t n, const cquant__qrun_t *p, float *y) {
  const __m512 s = _mm512_set1_ps(p->scale), vi = _mm512_set1_ps(1.0f / p->scale);
  const __m512 lo = _mm512_set1_ps((float)(p->qmin - p->zero_point));
  const __m512 hi = _mm512_set1_ps((float)(p->qmax - p->zero_point));
  const int recip = p->rounding == CQUANT_ROUND_RECIP;
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    __m512 v = recip ? _mm512_mul_ps(xv, vi) : _mm512_div_ps(xv, s);
    v = _mm512_min_ps(_mm512_max_ps(_mm512_roundscale_ps(v, RNE), lo), hi);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, s));
  }
}

static void fq_vec(const float *x, size_t n, const float *scale, const int32_t *zp, int32_t qmin,
                   int32_t qmax, cquant_round_t rnd, float *y) {
  const __m512i vmin = _mm512_set1_epi32(qmin), vmax = _mm512_set1_epi32(qmax);
  const int recip = rnd == CQUANT_ROUND_RECIP;
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 s = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, scale + i);
    __m512i z = _mm512_maskz_loadu_epi32(m, zp + i);
    __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmin, z));
    __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmax, z));
    __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    __m512 v = recip ? _mm512_mul_ps(xv, _mm512_div_ps(_mm512_set1_ps(1.0f), s)) : _mm512_div_ps(xv, s);
    v = _mm512_min_ps(_mm512_max_ps(_mm512_roundscale_ps(v, RNE), lo), hi);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, s));
  }
}

/* min / max of the finite elements: vfpclassps finds NaN and +-Inf (imm 0x99). */
static size_t minmax(const float *x, size_t n, float *mn, float *mx) {
  const __m512 inf = _mm512_set1_ps(__builtin_inff()), ninf = _mm512_set1_ps(-__builtin_inff());
  __m512 lo = inf, hi = ninf;
  size_t bad = 0;
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    __mmask16 nf = _mm512_fpclass_ps_mask(v, 0x99) & m;
    __mmask16 ok = m & (__mmask16)~nf;
    bad += (size_t)__builtin_popcount(nf);
    lo = _mm512_mask_min_ps(lo, ok, v, lo);
    hi = _mm512_mask_max_ps(hi, ok, v, hi);
  }
  *mn = _mm512_reduce_min_ps(lo);
  *mx = _mm512_reduce_max_ps(hi);
  return bad;
}

void cquant__kernels_init_avx512(cquant__kernels_t *k) {
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
  cquant__convert_init_avx512(k);
}
