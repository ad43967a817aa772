/* AVX2 integer GEMM micro-kernel, exact: vpmaddubsw would add two uint8 x int8 products into a
 * saturating int16 (255 x -128 x 2 does not fit), so instead B is packed as int16 pairs and A comes
 * widened to int16 pairs (one int32 word per two k, made once per call by the driver), and vpmaddwd
 * adds two int16 products into int32 exactly. Up to 8 rows x 16 columns. */
#include <immintrin.h>
#include <string.h>
#include "intops/intops.h"

static inline __attribute__((always_inline)) void tile(const uint32_t *AW, int64_t ldw, const int mr, int64_t K,
                                                       const int8_t *panel, const int32_t *colterm, const int32_t *zb,
                                                       const int32_t *rowsum, int nr, int32_t *C, int64_t ldc) {
  __m256i acc0[8], acc1[8];
  for (int r = 0; r < mr; r++) acc0[r] = acc1[r] = _mm256_setzero_si256();
  const int16_t *b = (const int16_t *)panel;
  for (int64_t g = 0; g < (K + 1) / 2; g++, b += 32) {
    const __m256i b0 = _mm256_load_si256((const __m256i *)b), b1 = _mm256_load_si256((const __m256i *)(b + 16));
    for (int r = 0; r < mr; r++) {
      const __m256i a = _mm256_set1_epi32((int)AW[r * ldw + g]); /* (A'[2g], A'[2g+1]) as int16: vpbroadcastd */
      acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(a, b0));
      acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(a, b1));
    }
  }
  int32_t ct[16] = {0}, z[16] = {0};
  memcpy(ct, colterm, sizeof(int32_t) * (size_t)nr);
  memcpy(z, zb, sizeof(int32_t) * (size_t)nr);
  const __m256i ct0 = _mm256_loadu_si256((const __m256i *)ct), ct1 = _mm256_loadu_si256((const __m256i *)(ct + 8));
  const __m256i z0 = _mm256_loadu_si256((const __m256i *)z), z1 = _mm256_loadu_si256((const __m256i *)(z + 8));
  for (int r = 0; r < mr; r++) {
    const __m256i rs = _mm256_set1_epi32(rowsum[r]);
    int32_t out[16];
    _mm256_storeu_si256((__m256i *)out, _mm256_sub_epi32(_mm256_add_epi32(acc0[r], ct0), _mm256_mullo_epi32(z0, rs)));
    _mm256_storeu_si256((__m256i *)(out + 8), _mm256_sub_epi32(_mm256_add_epi32(acc1[r], ct1), _mm256_mullo_epi32(z1, rs)));
    memcpy(C + r * ldc, out, sizeof(int32_t) * (size_t)nr);
  }
}

void cquant__qgemm_panel_avx2(const uint32_t *AW, int64_t ldw, int mr, int64_t K, const int8_t *panel,
                              const int32_t *colterm, const int32_t *zb, const int32_t *rowsum, int nr, int32_t *C, int64_t ldc) {
  switch (mr) {
    case 8: tile(AW, ldw, 8, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 7: tile(AW, ldw, 7, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 6: tile(AW, ldw, 6, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 5: tile(AW, ldw, 5, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 4: tile(AW, ldw, 4, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 3: tile(AW, ldw, 3, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 2: tile(AW, ldw, 2, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    default: tile(AW, ldw, 1, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
  }
}
