/* The float32 convolution epilogue (conv_fuse.h), AVX-512: the reference's operations per element,
 * 16 at a time, the last ones under a k mask. The residual add is vaddps; the clamps are
 * vmaxps/vminps with the bound first (vmaxps(lo, v) = lo > v ? lo : v, the reference's
 * v < lo ? lo : v, NaN kept; vminps(hi, v) likewise); products and quotients are vmulps/vdivps,
 * no FMA. LeakyRelu, Sigmoid and SiLU go to the reference (their loops are the math family's). */
#include <immintrin.h>
#include <stdint.h>
#include "exec/ops/conv_internal.h"

static inline __m512 clamp16(__m512 v, __m512 lo, __m512 hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }

void cquant__conv_epi_avx512(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n);

void cquant__conv_epi_avx512(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n) {
  const int act = e->act;
  if (act != CQUANT__EPI_NONE && act != CQUANT__EPI_RELU && act != CQUANT__EPI_CLIP && act != CQUANT__EPI_HSIG && act != CQUANT__EPI_HSWISH &&
      act != CQUANT__EPI_HSIG_MUL) {
    cquant__conv_epi_ref(e, y, add, n);
    return;
  }
  const __m512 a = _mm512_set1_ps(e->a), b = _mm512_set1_ps(e->b), zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  const __m512 three = _mm512_set1_ps(3.0f), six = _mm512_set1_ps(6.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(k, y + i);
    if (add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, add + i));
    switch (act) {
      case CQUANT__EPI_RELU: v = _mm512_max_ps(v, zero); break; /* v > 0 ? v : +0 */
      case CQUANT__EPI_CLIP: v = clamp16(v, a, b); break;
      case CQUANT__EPI_HSIG: v = clamp16(_mm512_add_ps(_mm512_mul_ps(a, v), b), zero, one); break;
      case CQUANT__EPI_HSWISH: v = _mm512_div_ps(_mm512_mul_ps(v, clamp16(_mm512_add_ps(v, three), zero, six)), six); break;
      case CQUANT__EPI_HSIG_MUL: v = _mm512_mul_ps(v, clamp16(_mm512_add_ps(_mm512_mul_ps(a, v), b), zero, one)); break;
      default: break;
    }
    _mm512_mask_storeu_ps(y + i, k, v);
  }
}
