/* AVX-512 VNNI integer GEMM micro-kernel: up to 8 rows x 32 columns, 16 zmm accumulators.
 * vpdpbusd adds, per int32 lane, the four products of 4 uint8 of A (one row, broadcast) with
 * 4 int8 of the packed B panel (one column). Exact: the products and the sums are in int32. */
#include <immintrin.h>
#include <string.h>
#include "intops/intops.h"
#include "intops/x86/correct_avx512.h"

/* 4 bytes of row r at k (K - k >= 4), or the last 1-3 bytes zero-padded (the packed B is zero there). */
static inline uint32_t a4(const uint8_t *row, int64_t k, int64_t K) {
  uint32_t v = 0;
  memcpy(&v, row + k, (size_t)(K - k >= 4 ? 4 : K - k));
  return v;
}

static inline __attribute__((always_inline)) void tile(const uint8_t *A, int64_t lda, uint32_t axor, const int mr, int64_t K,
                                                       const int8_t *panel, const int32_t *colterm, const int32_t *zb,
                                                       const int32_t *rowsum, int nr, int32_t *C, int64_t ldc) {
  __m512i acc0[8], acc1[8];
  for (int r = 0; r < mr; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
  const int64_t kfull = K / 4 * 4;
  const int8_t *b = panel;
  for (int64_t k = 0; k < kfull; k += 4, b += 128) {
    const __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 64);
    for (int r = 0; r < mr; r++) {
      uint32_t w;
      memcpy(&w, A + r * lda + k, 4);
      const __m512i a = _mm512_set1_epi32((int)(w ^ axor));
      acc0[r] = _mm512_dpbusd_epi32(acc0[r], a, b0);
      acc1[r] = _mm512_dpbusd_epi32(acc1[r], a, b1);
    }
  }
  if (kfull < K) { /* the last 1-3 values of k: A zero-padded, B's padding is zero too */
    const __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 64);
    const uint32_t live = (uint32_t)((1ull << (8 * (K - kfull))) - 1);
    for (int r = 0; r < mr; r++) {
      const __m512i a = _mm512_set1_epi32((int)((a4(A + r * lda, kfull, K) ^ axor) & live));
      acc0[r] = _mm512_dpbusd_epi32(acc0[r], a, b0);
      acc1[r] = _mm512_dpbusd_epi32(acc1[r], a, b1);
    }
  }
  /* C = dot + colterm[n] - zb[n] rowsum[r] (eq. 22a), columns < nr */
  const cquant__corr_t corr = cquant__corr_init(colterm, zb, nr);
  for (int r = 0; r < mr; r++) cquant__corr_store(&corr, acc0[r], acc1[r], rowsum[r], C + r * ldc);
}

void cquant__qgemm_panel_vnni(const uint8_t *A, int64_t lda, uint32_t axor, int mr, int64_t K, const int8_t *panel,
                              const int32_t *colterm, const int32_t *zb, const int32_t *rowsum, int nr, int32_t *C, int64_t ldc) {
  switch (mr) { /* a specialised tile for every row count */
    case 8: tile(A, lda, axor, 8, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 7: tile(A, lda, axor, 7, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 6: tile(A, lda, axor, 6, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 5: tile(A, lda, axor, 5, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 4: tile(A, lda, axor, 4, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 3: tile(A, lda, axor, 3, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    case 2: tile(A, lda, axor, 2, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
    default: tile(A, lda, axor, 1, K, panel, colterm, zb, rowsum, nr, C, ldc); break;
  }
}
