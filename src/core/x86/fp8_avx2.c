/* AVX2 scaled-FP8 kernels (eq. 16): the encoder of ref/convert_ref.c (eq. 2, 4) on eight lanes
 * (vpsrlvd / vpsllvd for the per-lane shift), decoding by a table gather. Bit-identical to the
 * reference. */
#include <immintrin.h>
#include "core/internal.h"

typedef struct {
  int mbits, bias, max_enc, nan_enc, ovf_enc;
} fmt_t;
static const fmt_t FMT[2] = {{3, 7, 0x7e, 0x7f, 0x7f}, {2, 15, 0x7b, 0x7e, 0x7c}};

static inline __m256i sel(__m256i mask, __m256i a, __m256i b) { return _mm256_blendv_epi8(b, a, mask); } /* mask ? a : b */

static inline __m256i encode8(__m256 v, const fmt_t *f, cquant_fp8_mode_t mode) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80));
  const __m256i ax = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256i e = _mm256_srli_epi32(ax, 23);
  const __m256i mant = _mm256_or_si256(_mm256_and_si256(ax, _mm256_set1_epi32(0x7fffff)), _mm256_set1_epi32(0x800000));
  const __m256i E = _mm256_sub_epi32(e, _mm256_set1_epi32(127));
  const __m256i emin = _mm256_set1_epi32(1 - f->bias);
  __m256i shift = _mm256_add_epi32(_mm256_set1_epi32(23 - f->mbits), _mm256_max_epi32(_mm256_sub_epi32(emin, E), _mm256_setzero_si256()));
  shift = _mm256_min_epi32(shift, _mm256_set1_epi32(31));
  const __m256i normal = _mm256_cmpgt_epi32(E, _mm256_sub_epi32(emin, _mm256_set1_epi32(1))); /* E >= emin */
  const __m256i base = _mm256_and_si256(normal, _mm256_slli_epi32(_mm256_add_epi32(E, _mm256_set1_epi32(f->bias - 1)), f->mbits));
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i r = _mm256_srlv_epi32(mant, shift);
  const __m256i rem = _mm256_and_si256(mant, _mm256_sub_epi32(_mm256_sllv_epi32(one, shift), one));
  const __m256i half = _mm256_sllv_epi32(one, _mm256_sub_epi32(shift, one));
  const __m256i up = _mm256_or_si256(_mm256_cmpgt_epi32(rem, half),
                                     _mm256_and_si256(_mm256_cmpeq_epi32(rem, half), _mm256_cmpeq_epi32(_mm256_and_si256(r, one), one)));
  __m256i enc = _mm256_sub_epi32(_mm256_add_epi32(base, r), up); /* up is -1 where rounding up */
  const __m256i over = _mm256_set1_epi32(mode == CQUANT_FP8_SATURATE ? f->max_enc : f->ovf_enc);
  enc = sel(_mm256_cmpgt_epi32(enc, _mm256_set1_epi32(f->max_enc)), over, enc);
  enc = _mm256_andnot_si256(_mm256_cmpeq_epi32(e, _mm256_setzero_si256()), enc); /* zero, f32 subnormal */
  const __m256i inf = _mm256_set1_epi32(0x7f800000);
  enc = sel(_mm256_cmpeq_epi32(ax, inf), over, enc);
  enc = sel(_mm256_cmpgt_epi32(ax, inf), _mm256_set1_epi32(f->nan_enc), enc);
  return _mm256_or_si256(enc, sign);
}

static void fp8_q(const float *x, size_t n, const float *scale, int vec, int fmt, cquant_fp8_mode_t mode,
                  cquant_round_t rnd, uint8_t *q) {
  const fmt_t *f = &FMT[fmt];
  const __m256 s1 = _mm256_set1_ps(scale[0]), inv1 = _mm256_set1_ps(1.0f / scale[0]);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv = _mm256_loadu_ps(x + i);
    __m256 s = vec ? _mm256_loadu_ps(scale + i) : s1;
    __m256 v = rnd == CQUANT_ROUND_RECIP ? _mm256_mul_ps(xv, vec ? _mm256_div_ps(_mm256_set1_ps(1.0f), s) : inv1)
                                         : _mm256_div_ps(xv, s);
    __m256i b = encode8(v, f, mode);
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    _mm_storel_epi64((__m128i *)(q + i), _mm_packus_epi16(w, w));
  }
  for (; i < n; i++) {
    const float s = scale[vec ? i : 0];
    const float v = rnd == CQUANT_ROUND_RECIP ? x[i] * (1.0f / s) : x[i] / s;
    q[i] = fmt ? cquant_f32_to_f8e5m2(v, mode) : cquant_f32_to_f8e4m3(v, mode);
  }
}

static float table[2][256];

static void fp8_dq(const uint8_t *q, size_t n, const float *scale, int vec, int fmt, float *y) {
  const float *t = table[fmt];
  const __m256 s1 = _mm256_set1_ps(scale[0]);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + i)));
    __m256 s = vec ? _mm256_loadu_ps(scale + i) : s1;
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_i32gather_ps(t, idx, 4), s));
  }
  for (; i < n; i++) y[i] = t[q[i]] * scale[vec ? i : 0];
}

void cquant__fp8_init_avx2(cquant__kernels_t *k) {
  for (int c = 0; c < 256; c++) {
    table[0][c] = cquant_f8e4m3_to_f32((uint8_t)c);
    table[1][c] = cquant_f8e5m2_to_f32((uint8_t)c);
  }
  k->fp8_q = fp8_q;
  k->fp8_dq = fp8_dq;
}
