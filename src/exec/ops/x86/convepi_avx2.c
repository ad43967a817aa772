/* The float32 convolution epilogue (conv_fuse.h), AVX2: convepi_avx512.c's operations, 8 at a time,
 * the last ones through vmaskmovps (masked-off lanes are neither read nor written). vmaxps/vminps
 * take the bound first, as there, so NaN is kept as the reference keeps it; no FMA. LeakyRelu,
 * Sigmoid and SiLU go to the reference. */
#include <immintrin.h>
#include <stdint.h>
#include "exec/ops/conv_internal.h"
#include "exec/ops/x86/avx2_tail.h"

static inline __m256 clamp8(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }

void cquant__conv_epi_avx2(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n);

void cquant__conv_epi_avx2(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n) {
  const int act = e->act;
  if (act != CQUANT__EPI_NONE && act != CQUANT__EPI_RELU && act != CQUANT__EPI_CLIP && act != CQUANT__EPI_HSIG && act != CQUANT__EPI_HSWISH &&
      act != CQUANT__EPI_HSIG_MUL) {
    cquant__conv_epi_ref(e, y, add, n);
    return;
  }
  const __m256 a = _mm256_set1_ps(e->a), b = _mm256_set1_ps(e->b), zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  const __m256 three = _mm256_set1_ps(3.0f), six = _mm256_set1_ps(6.0f);
  for (int64_t i = 0; i < n; i += 8) {
    const int full = n - i >= 8;
    const __m256i k = cquant__tail8(n - i);
    __m256 v = full ? _mm256_loadu_ps(y + i) : _mm256_maskload_ps(y + i, k);
    if (add) v = _mm256_add_ps(v, full ? _mm256_loadu_ps(add + i) : _mm256_maskload_ps(add + i, k));
    switch (act) {
      case CQUANT__EPI_RELU: v = _mm256_max_ps(v, zero); break; /* v > 0 ? v : +0 */
      case CQUANT__EPI_CLIP: v = clamp8(v, a, b); break;
      case CQUANT__EPI_HSIG: v = clamp8(_mm256_add_ps(_mm256_mul_ps(a, v), b), zero, one); break;
      case CQUANT__EPI_HSWISH: v = _mm256_div_ps(_mm256_mul_ps(v, clamp8(_mm256_add_ps(v, three), zero, six)), six); break;
      case CQUANT__EPI_HSIG_MUL: v = _mm256_mul_ps(v, clamp8(_mm256_add_ps(_mm256_mul_ps(a, v), b), zero, one)); break;
      default: break;
    }
    if (full) _mm256_storeu_ps(y + i, v);
    else _mm256_maskstore_ps(y + i, k, v);
  }
}
