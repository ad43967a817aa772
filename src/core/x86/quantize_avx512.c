/* AVX-512 quantize / dequantize / fake-quantize kernels: sixteen lanes, tails handled with
 * masked loads and stores (no scalar loop). Bit-identical to ref/quantize_ref.c: vdivps or
 * vmulps, vrndscaleps imm 8, vmaxps with the bound second (NaN goes to the bound), vminps,
 * vcvtps2dq, then vpmovsdb / vpmovusdb / vpmovsdw to narrow (values are already in range). */
#include <immintrin.h>
#include <math.h>
#include "core/internal.h"

#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#ifndef PF_DIST
#define PF_DIST 4096 /* floats ahead to prefetch in the streaming loops (4 KiB) */
#endif

static inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* clamp(round_half_even(x / s), lo, hi) exactly as vdivps + vrndscaleps + vmaxps/vminps give it,
 * mostly without dividing (docs/quantization.md, sec. 4, eq. 21). v = x * (1/s) lies within
 * |v| 2^-22 of the correctly rounded quotient d. Clamping v to [lo, hi] first is harmless (lo, hi
 * are integers, and past them d saturates just as v does) and bounds |v| by B = max(|lo|, |hi|).
 * round(v) = round(d) unless v is within |v| 2^-21 of a half-integer, so a lane passes when
 * |v - round(v)| + c |v| < t, with (c, t) = (0, 0.5 - B 2^-21) for narrow types, (2^-21, 0.5) for
 * wide ones, and t = -1 (never) when 1/s is not finite. A vector with a failing lane (a near tie)
 * uses vdivps. NaN: vmaxps gives lo, as the reference. */
typedef struct {
  __m512 c, t;
} divchk_t;

static inline divchk_t div_check(float inv, int32_t lo, int32_t hi) {
  const float b = fmaxf(fabsf((float)lo), fabsf((float)hi));
  divchk_t d;
  if (!(inv <= 3.4028234663852886e38f)) {
    d.c = _mm512_setzero_ps();
    d.t = _mm512_set1_ps(-1.0f);
  } else if (b <= 4096.0f) {
    d.c = _mm512_setzero_ps();
    d.t = _mm512_set1_ps(0.5f - b * 0x1p-21f);
  } else {
    d.c = _mm512_set1_ps(0x1p-21f);
    d.t = _mm512_set1_ps(0.5f);
  }
  return d;
}

static inline __m512 qround16(__m512 x, __m512 s, __m512 inv, __m512 lo, __m512 hi, int recip, divchk_t dc) {
  if (recip) return _mm512_min_ps(_mm512_max_ps(_mm512_roundscale_ps(_mm512_mul_ps(x, inv), RNE), lo), hi);
  const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x, inv), lo), hi);
  const __m512 k = _mm512_roundscale_ps(v, RNE);
  const __m512 near = _mm512_fmadd_ps(_mm512_abs_ps(v), dc.c, _mm512_abs_ps(_mm512_sub_ps(v, k)));
  if (__builtin_expect(_mm512_cmp_ps_mask(near, dc.t, _CMP_LT_OQ) == 0xffff, 1)) return k;
  return _mm512_min_ps(_mm512_max_ps(_mm512_roundscale_ps(_mm512_div_ps(x, s), RNE), lo), hi);
}

static inline __m512i qdiv16(__m512 x, __m512 s, __m512 inv, __m512 lo, __m512 hi, int recip, divchk_t dc) {
  return _mm512_cvtps_epi32(qround16(x, s, inv, lo, hi, recip, dc));
}

static inline void store_s8(void *q, __mmask16 m, __m512i v) { _mm512_mask_cvtsepi32_storeu_epi8(q, m, v); }
static inline void store_u8(void *q, __mmask16 m, __m512i v) { _mm512_mask_cvtusepi32_storeu_epi8(q, m, v); }
static inline void store_s16(void *q, __mmask16 m, __m512i v) { _mm512_mask_cvtsepi32_storeu_epi16(q, m, v); }

/* 64 bytes of output from four (bytes) or two (int16) vectors of int32 lanes already in range:
 * vpackssdw/vpacksswb (vpackuswb) work within 128-bit lanes, vpermd/vpermq restore the order. */
static inline __m512i pack64_s8(const __m512i *v) {
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __m512i ab = _mm512_packs_epi32(v[0], v[1]), cd = _mm512_packs_epi32(v[2], v[3]);
  return _mm512_permutexvar_epi32(idx, _mm512_packs_epi16(ab, cd));
}
static inline __m512i pack64_u8(const __m512i *v) {
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __m512i ab = _mm512_packs_epi32(v[0], v[1]), cd = _mm512_packs_epi32(v[2], v[3]);
  return _mm512_permutexvar_epi32(idx, _mm512_packus_epi16(ab, cd));
}
static inline __m512i pack64_s16(const __m512i *v) {
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), _mm512_packs_epi32(v[0], v[1]));
}

/* Elements before dst + i reaches a 64-byte boundary. */
static inline size_t head_to_align(const void *dst, size_t esize, size_t n) {
  size_t h = ((64 - ((uintptr_t)dst & 63)) & 63) / esize;
  return h < n ? h : n;
}

#define CQUANT__Q512(suffix, T)                                                                  \
  static void q_run_##suffix(const float *x, size_t n, const cquant__qrun_t *p, void *out) {     \
    T *q = (T *)out;                                                                             \
    const __m512 s = _mm512_set1_ps(p->scale), vi = _mm512_set1_ps(1.0f / p->scale);             \
    const __m512 lo = _mm512_set1_ps((float)(p->qmin - p->zero_point));                          \
    const __m512 hi = _mm512_set1_ps((float)(p->qmax - p->zero_point));                          \
    const __m512i z = _mm512_set1_epi32(p->zero_point);                                          \
    const int recip = p->rounding == CQUANT_ROUND_RECIP;                                         \
    const divchk_t dc = div_check(1.0f / p->scale, p->qmin - p->zero_point, p->qmax - p->zero_point); \
    const size_t per_line = 64 / sizeof(T); /* elements per 64-byte output line */              \
    size_t i = 0;                                                                                \
    const int nt = p->stream && n >= 4096 && ((uintptr_t)q % sizeof(T)) == 0;                    \
    if (nt) {                                                                                    \
      /* unaligned head, then whole lines written with vmovntdq (no read-for-ownership) */       \
      for (size_t h = head_to_align(q, sizeof(T), n); i < h; i += 16) {                          \
        __mmask16 m = tail_mask(h - i);                                                          \
        __m512i v = qdiv16(_mm512_maskz_loadu_ps(m, x + i), s, vi, lo, hi, recip, dc);               \
        store_##suffix(q + i, m, _mm512_add_epi32(v, z));                                        \
      }                                                                                          \
      i = head_to_align(q, sizeof(T), n);                                                        \
      for (; i + per_line <= n; i += per_line) {                                                 \
        __m512i v[4];                                                                            \
        for (size_t u = 0; u < per_line / 16; u++)                                               \
          _mm_prefetch((const char *)(x + i + 16 * u + PF_DIST), _MM_HINT_T0);                   \
        for (size_t u = 0; u < per_line / 16; u++)                                               \
          v[u] = _mm512_add_epi32(qdiv16(_mm512_loadu_ps(x + i + 16 * u), s, vi, lo, hi, recip, dc), z); \
        _mm512_stream_si512((void *)(q + i), pack64_##suffix(v));                                \
      }                                                                                          \
    }                                                                                            \
    for (; i + 64 <= n; i += 64) {                                                               \
      for (int u = 0; u < 4; u++) {                                                              \
        __m512i v = qdiv16(_mm512_loadu_ps(x + i + 16 * u), s, vi, lo, hi, recip, dc);               \
        store_##suffix(q + i + 16 * u, 0xffff, _mm512_add_epi32(v, z));                          \
      }                                                                                          \
    }                                                                                            \
    for (; i < n; i += 16) {                                                                     \
      __mmask16 m = tail_mask(n - i);                                                            \
      __m512i v = qdiv16(_mm512_maskz_loadu_ps(m, x + i), s, vi, lo, hi, recip, dc);                 \
      store_##suffix(q + i, m, _mm512_add_epi32(v, z));                                          \
    }                                                                                            \
    if (nt) _mm_sfence();                                                                        \
  }                                                                                              \
  static void q_vec_##suffix(const float *x, size_t n, const float *scale, const int32_t *zp,    \
                             int32_t qmin, int32_t qmax, cquant_round_t rnd, void *out) {        \
    T *q = (T *)out;                                                                             \
    const __m512i vmin = _mm512_set1_epi32(qmin), vmax = _mm512_set1_epi32(qmax);                \
    const int recip = rnd == CQUANT_ROUND_RECIP;                                                 \
    divchk_t dc = div_check(1.0f, 0, qmax - qmin); /* |q - z| <= qmax - qmin for any z */       \
    for (size_t i = 0; i < n; i += 16) {                                                         \
      __mmask16 m = tail_mask(n - i);                                                            \
      /* Masked-off lanes load scale 1 so no division by zero is ever formed. */                 \
      __m512 s = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, scale + i);                       \
      __m512i z = _mm512_maskz_loadu_epi32(m, zp + i);                                           \
      __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmin, z));                                 \
      __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmax, z));                                 \
      __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), s);                                       \
      /* a lane whose 1/s overflowed: the whole vector divides */                                \
      divchk_t dv = dc;                                                                          \
      if (_mm512_cmp_ps_mask(inv, _mm512_set1_ps(3.4028234663852886e38f), _CMP_LE_OQ) != 0xffff) dv.t = _mm512_set1_ps(-1.0f); \
      __m512i v = qdiv16(_mm512_maskz_loadu_ps(m, x + i), s, inv, lo, hi, recip, dv);                \
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
  static void dq_run_##suffix(const void *in, size_t n, float scale, int32_t zp, int stream, float *y) { \
    const T *q = (const T *)in;                                                                  \
    const __m512 s = _mm512_set1_ps(scale);                                                      \
    const __m512i z = _mm512_set1_epi32(zp);                                                     \
    size_t i = 0;                                                                                \
    const int nt = stream && n >= 4096 && ((uintptr_t)y & 3) == 0;                               \
    if (nt) {                                                                                    \
      for (size_t h = head_to_align(y, 4, n); i < h; i += 16) {                                  \
        __mmask16 m = tail_mask(h - i);                                                          \
        __m512i d = _mm512_sub_epi32(load_##suffix(q + i, m), z);                                \
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(d), s));                \
      }                                                                                          \
      for (i = head_to_align(y, 4, n); i + 16 <= n; i += 16) {                                   \
        __m512i d = _mm512_sub_epi32(load_##suffix(q + i, 0xffff), z);                           \
        _mm512_stream_ps(y + i, _mm512_mul_ps(_mm512_cvtepi32_ps(d), s));                        \
      }                                                                                          \
    }                                                                                            \
    for (; i < n; i += 16) {                                                                     \
      __mmask16 m = tail_mask(n - i);                                                            \
      __m512i d = _mm512_sub_epi32(load_##suffix(q + i, m), z);                                  \
      _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(d), s));                  \
    }                                                                                            \
    if (nt) _mm_sfence();                                                                        \
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
  const divchk_t dc = div_check(1.0f / p->scale, p->qmin - p->zero_point, p->qmax - p->zero_point);
/* the second clamp gives a zero the sign the reference's clamp gives it (vminps(-0, +0) = +0) */
#define FQ16(xv) _mm512_mul_ps(_mm512_min_ps(_mm512_max_ps(qround16(xv, s, vi, lo, hi, recip, dc), lo), hi), s)
  size_t i = 0;
  const int nt = p->stream && n >= 4096 && ((uintptr_t)y & 3) == 0;
  if (nt) {
    for (size_t h = head_to_align(y, 4, n); i < h; i += 16) {
      __mmask16 m = tail_mask(h - i);
      _mm512_mask_storeu_ps(y + i, m, FQ16(_mm512_maskz_loadu_ps(m, x + i)));
    }
    for (i = head_to_align(y, 4, n); i + 16 <= n; i += 16) _mm512_stream_ps(y + i, FQ16(_mm512_loadu_ps(x + i)));
  }
  for (; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, FQ16(_mm512_maskz_loadu_ps(m, x + i)));
  }
#undef FQ16
  if (nt) _mm_sfence();
}

static void fq_vec(const float *x, size_t n, const float *scale, const int32_t *zp, int32_t qmin,
                   int32_t qmax, cquant_round_t rnd, float *y) {
  const __m512i vmin = _mm512_set1_epi32(qmin), vmax = _mm512_set1_epi32(qmax);
  const int recip = rnd == CQUANT_ROUND_RECIP;
  const divchk_t dc = div_check(1.0f, 0, qmax - qmin);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 s = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, scale + i);
    __m512i z = _mm512_maskz_loadu_epi32(m, zp + i);
    __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmin, z));
    __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vmax, z));
    __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), s);
    divchk_t dv = dc;
    if (_mm512_cmp_ps_mask(inv, _mm512_set1_ps(3.4028234663852886e38f), _CMP_LE_OQ) != 0xffff) dv.t = _mm512_set1_ps(-1.0f);
    __m512 v = _mm512_min_ps(_mm512_max_ps(qround16(xv, s, inv, lo, hi, recip, dv), lo), hi); /* signed zeros as the reference */
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
  cquant__fp8_init_avx512(k);
}
