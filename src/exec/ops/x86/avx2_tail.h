/* The vmaskmovps mask of the first rem lanes of 8 (rem clamped to 0..8): masked-off lanes are
 * neither read nor written. Shared by the AVX2 float kernels of this folder. */
#ifndef CQUANT_AVX2_TAIL_H
#define CQUANT_AVX2_TAIL_H
#include <immintrin.h>
#include <stdint.h>

static inline __m256i cquant__tail8(int64_t rem) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(rem < 0 ? 0 : rem > 8 ? 8 : rem)), lane);
}

#endif
