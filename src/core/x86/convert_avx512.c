/* AVX-512 float16 / bfloat16 array conversions with masked tails. Bit-identical to the reference. */
#include <immintrin.h>
#include "core/internal.h"

static inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static void f32_to_f16(const float *x, size_t n, uint16_t *y) {
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_mask_storeu_epi16(y + i, m, h);
  }
}

static void f16_to_f32(const uint16_t *x, size_t n, float *y) {
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
  }
}

static void f32_to_bf16(const float *x, size_t n, uint16_t *y) {
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, x + i));
    __m512i hi = _mm512_srli_epi32(u, 16);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(hi, one)), 16);
    __mmask16 isnan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs_mask), inf);
    r = _mm512_mask_or_epi32(r, isnan, hi, _mm512_set1_epi32(0x40));
    _mm512_mask_cvtepi32_storeu_epi16(y + i, m, r);
  }
}

static void bf16_to_f32(const uint16_t *x, size_t n, float *y) {
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
    _mm512_mask_storeu_epi32(y + i, m, _mm512_slli_epi32(w, 16));
  }
}

void cquant__convert_init_avx512(cquant__kernels_t *k) {
  k->f32_to_f16 = f32_to_f16;
  k->f16_to_f32 = f16_to_f32;
  k->f32_to_bf16 = f32_to_bf16;
  k->bf16_to_f32 = bf16_to_f32;
}
