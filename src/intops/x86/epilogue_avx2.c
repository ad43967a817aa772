/* AVX2 form of the float requantizing epilogue (eq. 23 with the rounding of docs/quantization.md
 * sec. 8): eight accumulators at a time. Equal to the scalar loop in src/intops/epilogue.c bit for
 * bit: the same float32 products and the same additions, min/max instead of the compare-selects
 * (no NaN can occur), exact conversions. */
#include <immintrin.h>
#include "intops/intops.h"

void cquant__requant_f_avx2(const int32_t *acc, const int32_t *bias, const float *mult, int per_column, int out_signed, int32_t zo,
                            int32_t lo, int32_t hi, int64_t n, void *out) {
  const __m256 lim_lo = _mm256_set1_ps(-2097152.0f), lim_hi = _mm256_set1_ps(2097152.0f), magic = _mm256_set1_ps(12582912.0f);
  const __m256i vzo = _mm256_set1_epi32(zo), vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
  const __m256 m0 = _mm256_set1_ps(mult[0]);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(acc + j));
    if (bias) a = _mm256_add_epi32(a, _mm256_loadu_si256((const __m256i *)(bias + j)));
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), per_column ? _mm256_loadu_ps(mult + j) : m0);
    v = _mm256_min_ps(_mm256_max_ps(v, lim_lo), lim_hi);
    v = _mm256_sub_ps(_mm256_add_ps(v, magic), magic);
    __m256i q = _mm256_add_epi32(_mm256_cvttps_epi32(v), vzo);
    q = _mm256_min_epi32(_mm256_max_epi32(q, vlo), vhi);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)); /* fits int16 */
    const __m128i b = out_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    _mm_storel_epi64((__m128i *)((char *)out + j), b);
  }
  for (; j < n; j++) {
    const int32_t a = (int32_t)((uint32_t)acc[j] + (uint32_t)(bias ? bias[j] : 0));
    float v = (float)a * mult[per_column ? j : 0];
    v = v < -2097152.0f ? -2097152.0f : (v > 2097152.0f ? 2097152.0f : v);
    v = (v + 12582912.0f) - 12582912.0f;
    int32_t q = (int32_t)v + zo;
    q = q < lo ? lo : (q > hi ? hi : q);
    if (out_signed) ((int8_t *)out)[j] = (int8_t)q;
    else ((uint8_t *)out)[j] = (uint8_t)q;
  }
}
