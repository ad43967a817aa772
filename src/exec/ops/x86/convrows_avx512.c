/* Dense float32 convolution rows with few taps, AVX-512 (16 lanes): the reference's operations in
 * its order (conv_small.c), one vfmadd231ps per tap, for blocks of 8 output channels by 32 outputs
 * (16 accumulators; each tap's weight broadcast once and used on both vectors). The last outputs of
 * a row are loaded and stored with k masks (vmovups never touches the masked-off addresses). */
#include <immintrin.h>
#include <stdint.h>
#include "core/internal.h"

static inline __mmask16 tail16(int64_t rem) { return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1); }

/* Outputs [i, i + 32) (lanes under k0, k1) of channels [o, o + 8). The accumulators are named
 * variables: with arrays GCC stores them to the stack on every tap. */
#define ACC_DECL(j) __m512 p##j = bv(b, o + j), q##j = p##j;
#define ACC_TAP(j)                                        \
  {                                                       \
    const __m512 wj = _mm512_set1_ps(wo[j * K + t]);      \
    p##j = _mm512_fmadd_ps(wj, v0, p##j);                 \
    q##j = _mm512_fmadd_ps(wj, v1, q##j);                 \
  }
#define ACC_STORE(j)                                                \
  _mm512_mask_storeu_ps(y + (o + j) * ys + i, k0, p##j);            \
  _mm512_mask_storeu_ps(y + (o + j) * ys + i + 16, k1, q##j);
#define ALL8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

static inline __m512 bv(const float *b, int64_t o) { return b ? _mm512_set1_ps(b[o]) : _mm512_setzero_ps(); }

static inline void block8(const float *const *r, const float *w, const float *b, int64_t K, int64_t o, int64_t i, __mmask16 k0, __mmask16 k1, float *y,
                          int64_t ys) {
  ALL8(ACC_DECL)
  const float *wo = w + o * K;
  for (int64_t t = 0; t < K; t++) {
    const __m512 v0 = _mm512_maskz_loadu_ps(k0, r[t] + i), v1 = _mm512_maskz_loadu_ps(k1, r[t] + i + 16);
    ALL8(ACC_TAP)
  }
  ALL8(ACC_STORE)
}

/* The same for one channel o. */
static inline void block1(const float *const *r, const float *w, const float *b, int64_t K, int64_t o, int64_t i, __mmask16 k0, __mmask16 k1, float *y,
                          int64_t ys) {
  __m512 a0 = b ? _mm512_set1_ps(b[o]) : _mm512_setzero_ps(), a1 = a0;
  const float *wo = w + o * K;
  for (int64_t t = 0; t < K; t++) {
    const __m512 wj = _mm512_set1_ps(wo[t]);
    a0 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(k0, r[t] + i), a0);
    a1 = _mm512_fmadd_ps(wj, _mm512_maskz_loadu_ps(k1, r[t] + i + 16), a1);
  }
  _mm512_mask_storeu_ps(y + o * ys + i, k0, a0);
  _mm512_mask_storeu_ps(y + o * ys + i + 16, k1, a1);
}

static void conv_rows_f32(const float *const *r, const float *w, const float *b, int64_t K, int64_t m, int64_t n, float *y, int64_t ys) {
  for (int64_t i = 0; i < n; i += 32) {
    const __mmask16 k0 = tail16(n - i), k1 = tail16(n - i - 16);
    int64_t o = 0;
    for (; o + 8 <= m; o += 8) block8(r, w, b, K, o, i, k0, k1, y, ys);
    for (; o < m; o++) block1(r, w, b, K, o, i, k0, k1, y, ys);
  }
}

void cquant__conv_epi_avx512(const struct cquant__conv_epi *e, float *y, const float *add, int64_t n); /* convepi_avx512.c */

void cquant__fdense_init_avx512(cquant__kernels_t *k) {
  k->conv_rows_f32 = conv_rows_f32;
  k->conv_epi_f32 = cquant__conv_epi_avx512;
}
