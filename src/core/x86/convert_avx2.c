/* AVX2 + F16C float16 / bfloat16 array conversions. Bit-identical to ref/convert_ref.c. */
#include <immintrin.h>
#include "core/internal.h"

/* vcvtps2ph imm 0: round to nearest even, NaN quieted with its top payload bits kept. */
static void f32_to_f16(const float *x, size_t n, uint16_t *y) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) y[i] = cquant_f32_to_f16(x[i]);
}

static void f16_to_f32(const uint16_t *x, size_t n, float *y) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
  for (; i < n; i++) y[i] = cquant_f16_to_f32(x[i]);
}

/* eq. 3 on eight lanes: (u + 0x7fff + ((u >> 16) & 1)) >> 16, NaN -> (u >> 16) | 0x40. */
static inline __m256i bf16_8(__m256 v) {
  __m256i u = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
  __m256i nanv = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  __m256i isnan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
  return _mm256_blendv_epi8(r, nanv, isnan);
}

static void f32_to_bf16(const float *x, size_t n, uint16_t *y) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i a = bf16_8(_mm256_loadu_ps(x + i)), b = bf16_8(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_si256((__m256i *)(y + i), _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8));
  }
  for (; i < n; i++) y[i] = cquant_f32_to_bf16(x[i]);
}

static void bf16_to_f32(const uint16_t *x, size_t n, float *y) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
    _mm256_storeu_si256((__m256i *)(y + i), _mm256_slli_epi32(w, 16));
  }
  for (; i < n; i++) y[i] = cquant_bf16_to_f32(x[i]);
}

void cquant__convert_init_avx2(cquant__kernels_t *k) {
  k->f32_to_f16 = f32_to_f16;
  k->f16_to_f32 = f16_to_f32;
  k->f32_to_bf16 = f32_to_bf16;
  k->bf16_to_f32 = bf16_to_f32;
}
