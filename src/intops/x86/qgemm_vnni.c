/* AVX-512 VNNI integer GEMM micro-kernel: up to 8 rows x 32 columns, 16 zmm accumulators.
 * vpdpbusd adds, per int32 lane, the four products of 4 uint8 of A (one row, broadcast) with
 * 4 int8 of the packed B panel (one column). Exact: the products and the sums are in int32. */
#include <immintrin.h>
#include <string.h>
#include "intops/intops.h"

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
  /* C = dot + colterm[n] - zb[n] rowsum[r] (eq. 22), columns < nr */
  const __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
  const __m512i ct0 = _mm512_maskz_loadu_epi32(m0, colterm), ct1 = _mm512_maskz_loadu_epi32(m1, colterm + 16);
  const __m512i z0 = _mm512_maskz_loadu_epi32(m0, zb), z1 = _mm512_maskz_loadu_epi32(m1, zb + 16);
  for (int r = 0; r < mr; r++) {
    const __m512i rs = _mm512_set1_epi32(rowsum[r]);
    __m512i c0 = _mm512_sub_epi32(_mm512_add_epi32(acc0[r], ct0), _mm512_mullo_epi32(z0, rs));
    __m512i c1 = _mm512_sub_epi32(_mm512_add_epi32(acc1[r], ct1), _mm512_mullo_epi32(z1, rs));
    _mm512_mask_storeu_epi32(C + r * ldc, m0, c0);
    if (m1) _mm512_mask_storeu_epi32(C + r * ldc + 16, m1, c1);
  }
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
