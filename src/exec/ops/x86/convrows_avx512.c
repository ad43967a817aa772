/* Dense float32 convolution rows with few taps, AVX-512 (16 lanes): the reference's operations in
 * its order (conv_small.c), one vfmadd231ps per tap, for blocks of 8 output channels by 32 outputs
 * (16 accumulators; each tap's weight broadcast once and used on both vectors). Each chunk of taps
 * (CQUANT__SGEMM_KC at most) sums from zero and is then added to the bias or to the row stored so
 * far. The last outputs of a row are loaded and stored with k masks (vmovups never touches the
 * masked-off addresses). */
#include <immintrin.h>
#include <stdint.h>
#include "core/internal.h"
#include "exec/ops/conv_par.h"

static inline __mmask16 tail16(int64_t rem) { return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1); }

/* Outputs [i, i + 32) (lanes under k0, k1) of channels [o, o + 8). The accumulators are named
 * variables: with arrays GCC stores them to the stack on every tap. */
#define ACC_DECL(j) __m512 p##j = _mm512_setzero_ps(), q##j = p##j;
#define ACC_TAP(j)                                        \
  {                                                       \
    const __m512 wj = _mm512_set1_ps(wo[j * lw + t]);     \
    p##j = _mm512_fmadd_ps(wj, v0, p##j);                 \
    q##j = _mm512_fmadd_ps(wj, v1, q##j);                 \
  }
#define ACC_STORE(j)                                                                                \
  if (c || acc) {                                                                                   \
    p##j = _mm512_add_ps(_mm512_maskz_loadu_ps(k0, y + (o + j) * ys + i), p##j);                    \
    q##j = _mm512_add_ps(_mm512_maskz_loadu_ps(k1, y + (o + j) * ys + i + 16), q##j);               \
  } else if (b) {                                                                                   \
    p##j = _mm512_add_ps(_mm512_set1_ps(b[o + j]), p##j);                                           \
    q##j = _mm512_add_ps(_mm512_set1_ps(b[o + j]), q##j);                                           \
  }                                                                                                 \
  _mm512_mask_storeu_ps(y + (o + j) * ys + i, k0, p##j);                                            \
  _mm512_mask_storeu_ps(y + (o + j) * ys + i + 16, k1, q##j);
#define ALL8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

/* taps [t0, t1), chunk c of the row */
static inline void block8(const float *const *r, const float *w, int64_t lw, const float *b, int64_t t0, int64_t t1, int64_t c, int acc, int64_t o, int64_t i,
                          __mmask16 k0, __mmask16 k1, float *y, int64_t ys) {
  ALL8(ACC_DECL)
  const float *wo = w + o * lw;
  for (int64_t t = t0; t < t1; t++) {
    const __m512 v0 = _mm512_maskz_loadu_ps(k0, r[t] + i), v1 = _mm512_maskz_loadu_ps(k1, r[t] + i + 16);
    ALL8(ACC_TAP)
  }
  ALL8(ACC_STORE)
}

/* The same for one channel o. */
static inline void block1(const float *const *r, const float *w, int64_t lw, const float *b, int64_t t0, int64_t t1, int64_t c, int acc, int64_t o, int64_t i,
                          __mmask16 k0, __mmask16 k1, float *y, int64_t ys) {
  __m512 p0 = _mm512_setzero_ps(), q0 = p0;
  const float *wo = w + o * lw;
  for (int64_t t = t0; t < t1; t++) {
    const __m512 wj = _mm512_set1_ps(wo[t]);
    p0 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(k0, r[t] + i), p0);
    q0 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(k1, r[t] + i + 16), q0);
  }
  ACC_STORE(0)
}

static void conv_rows_f32(const float *const *r, const float *w, int64_t lw, const float *b, int64_t K, int64_t m, int64_t n, float *y, int64_t ys,
                          int acc) {
  const int64_t nk = cquant__sgemm_chunks(K);
  for (int64_t i = 0; i < n; i += 32) {
    const __mmask16 k0 = tail16(n - i), k1 = tail16(n - i - 16);
    int64_t o = 0;
    for (; o + 8 <= m; o += 8)
      for (int64_t c = 0; c < nk; c++) block8(r, w, lw, b, K * c / nk, K * (c + 1) / nk, c, acc, o, i, k0, k1, y, ys);
    for (; o < m; o++)
      for (int64_t c = 0; c < nk; c++) block1(r, w, lw, b, K * c / nk, K * (c + 1) / nk, c, acc, o, i, k0, k1, y, ys);
  }
}

void cquant__conv_epi_avx512(const struct cquant__conv_epi *e, float *y, const float *add, int64_t n); /* convepi_avx512.c */

void cquant__fdense_init_avx512(cquant__kernels_t *k) {
  k->conv_rows_f32 = conv_rows_f32;
  k->conv_epi_f32 = cquant__conv_epi_avx512;
}
