/* Float32 depthwise convolution rows, AVX2 (8 lanes): the reference's operations in its order,
 * vmulps then vaddps per tap (no FMA), 32 outputs per step in four accumulators. */
#include <immintrin.h>
#include "core/internal.h"

static void dw_row_f32(const float *const *r, const float *w, int taps, float b, int64_t n, float *y) {
  int64_t i = 0;
  const __m256 vb = _mm256_set1_ps(b);
  for (; i + 32 <= n; i += 32) {
    __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
    for (int t = 0; t < taps; t++) {
      const __m256 wt = _mm256_broadcast_ss(w + t); /* vbroadcastss */
      const float *s = r[t] + i;
      a0 = _mm256_add_ps(a0, _mm256_mul_ps(wt, _mm256_loadu_ps(s)));
      a1 = _mm256_add_ps(a1, _mm256_mul_ps(wt, _mm256_loadu_ps(s + 8)));
      a2 = _mm256_add_ps(a2, _mm256_mul_ps(wt, _mm256_loadu_ps(s + 16)));
      a3 = _mm256_add_ps(a3, _mm256_mul_ps(wt, _mm256_loadu_ps(s + 24)));
    }
    _mm256_storeu_ps(y + i, a0);
    _mm256_storeu_ps(y + i + 8, a1);
    _mm256_storeu_ps(y + i + 16, a2);
    _mm256_storeu_ps(y + i + 24, a3);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 a0 = vb;
    for (int t = 0; t < taps; t++) a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_broadcast_ss(w + t), _mm256_loadu_ps(r[t] + i)));
    _mm256_storeu_ps(y + i, a0);
  }
  for (; i < n; i++) { /* the tail as the reference */
    float a = b;
    for (int t = 0; t < taps; t++) a = a + w[t] * r[t][i];
    y[i] = a;
  }
}

void cquant__fconv_init_avx2(cquant__kernels_t *k) { k->dw_row_f32 = dw_row_f32; }
