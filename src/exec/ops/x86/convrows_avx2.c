/* Dense float32 convolution rows with few taps, AVX2 + FMA (8 lanes): the reference's operations in
 * its order (conv_small.c), one vfmadd231ps per tap, for blocks of 4 output channels by 16 outputs
 * (8 accumulators). Each chunk of taps (CQUANT__SGEMM_KC at most) sums from zero and is then added
 * to the bias or to the row stored so far. The last outputs of a row go through vmaskmovps
 * (masked-off lanes are neither read nor written). */
#include <immintrin.h>
#include <stdint.h>
#include "core/internal.h"
#include "exec/ops/conv_par.h"

static inline __m256i tail8(int64_t rem) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(rem < 0 ? 0 : rem > 8 ? 8 : rem)), lane);
}

/* The accumulators are named variables: with arrays GCC stores them to the stack on every tap. */
#define ACC_DECL(j) __m256 p##j = _mm256_setzero_ps(), q##j = p##j;
#define ACC_TAP(j)                                        \
  {                                                       \
    const __m256 wj = _mm256_set1_ps(wo[j * lw + t]);     \
    p##j = _mm256_fmadd_ps(wj, v0, p##j);                 \
    q##j = _mm256_fmadd_ps(wj, v1, q##j);                 \
  }
#define ACC_STORE(j)                                                                  \
  if (c || acc) {                                                                     \
    p##j = _mm256_add_ps(_mm256_maskload_ps(y + (o + j) * ys + i, k0), p##j);         \
    q##j = _mm256_add_ps(_mm256_maskload_ps(y + (o + j) * ys + i + 8, k1), q##j);     \
  } else if (b) {                                                                     \
    p##j = _mm256_add_ps(_mm256_set1_ps(b[o + j]), p##j);                             \
    q##j = _mm256_add_ps(_mm256_set1_ps(b[o + j]), q##j);                             \
  }                                                                                   \
  _mm256_maskstore_ps(y + (o + j) * ys + i, k0, p##j);                                \
  _mm256_maskstore_ps(y + (o + j) * ys + i + 8, k1, q##j);
#define ALL4(M) M(0) M(1) M(2) M(3)

/* taps [t0, t1), chunk c of the row */
static inline void block4(const float *const *r, const float *w, int64_t lw, const float *b, int64_t t0, int64_t t1, int64_t c, int acc, int64_t o, int64_t i,
                          __m256i k0, __m256i k1, float *y, int64_t ys) {
  ALL4(ACC_DECL)
  const float *wo = w + o * lw;
  for (int64_t t = t0; t < t1; t++) {
    const __m256 v0 = _mm256_maskload_ps(r[t] + i, k0), v1 = _mm256_maskload_ps(r[t] + i + 8, k1);
    ALL4(ACC_TAP)
  }
  ALL4(ACC_STORE)
}

static inline void block1(const float *const *r, const float *w, int64_t lw, const float *b, int64_t t0, int64_t t1, int64_t c, int acc, int64_t o, int64_t i,
                          __m256i k0, __m256i k1, float *y, int64_t ys) {
  __m256 p0 = _mm256_setzero_ps(), q0 = p0;
  const float *wo = w + o * lw;
  for (int64_t t = t0; t < t1; t++) {
    const __m256 wj = _mm256_set1_ps(wo[t]);
    p0 = _mm256_fmadd_ps(wj, _mm256_maskload_ps(r[t] + i, k0), p0);
    q0 = _mm256_fmadd_ps(wj, _mm256_maskload_ps(r[t] + i + 8, k1), q0);
  }
  ACC_STORE(0)
}

static void conv_rows_f32(const float *const *r, const float *w, int64_t lw, const float *b, int64_t K, int64_t m, int64_t n, float *y, int64_t ys,
                          int acc) {
  const int64_t nk = cquant__sgemm_chunks(K);
  for (int64_t i = 0; i < n; i += 16) {
    const __m256i k0 = tail8(n - i), k1 = tail8(n - i - 8);
    int64_t o = 0;
    for (; o + 4 <= m; o += 4)
      for (int64_t c = 0; c < nk; c++) block4(r, w, lw, b, K * c / nk, K * (c + 1) / nk, c, acc, o, i, k0, k1, y, ys);
    for (; o < m; o++)
      for (int64_t c = 0; c < nk; c++) block1(r, w, lw, b, K * c / nk, K * (c + 1) / nk, c, acc, o, i, k0, k1, y, ys);
  }
}

void cquant__fdense_init_avx2(cquant__kernels_t *k) { k->conv_rows_f32 = conv_rows_f32; }
