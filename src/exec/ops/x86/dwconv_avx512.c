/* Float32 depthwise convolution rows, AVX-512 (16 lanes): the reference's operations in its order,
 * vmulps then vaddps per tap (no FMA), 64 outputs per step in four accumulators, a masked tail. */
#include <immintrin.h>
#include "core/internal.h"

static void dw_row_f32(const float *const *r, const float *w, int taps, float b, int64_t n, float *y) {
  int64_t i = 0;
  const __m512 vb = _mm512_set1_ps(b);
  for (; i + 64 <= n; i += 64) {
    __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
    for (int t = 0; t < taps; t++) {
      const __m512 wt = _mm512_set1_ps(w[t]); /* vbroadcastss */
      const float *s = r[t] + i;
      a0 = _mm512_add_ps(a0, _mm512_mul_ps(wt, _mm512_loadu_ps(s)));
      a1 = _mm512_add_ps(a1, _mm512_mul_ps(wt, _mm512_loadu_ps(s + 16)));
      a2 = _mm512_add_ps(a2, _mm512_mul_ps(wt, _mm512_loadu_ps(s + 32)));
      a3 = _mm512_add_ps(a3, _mm512_mul_ps(wt, _mm512_loadu_ps(s + 48)));
    }
    _mm512_storeu_ps(y + i, a0);
    _mm512_storeu_ps(y + i + 16, a1);
    _mm512_storeu_ps(y + i + 32, a2);
    _mm512_storeu_ps(y + i + 48, a3);
  }
  for (; i < n; i += 16) { /* 16 at a time, the last ones masked (vmovups with a k mask: no read past n) */
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 a0 = vb;
    for (int t = 0; t < taps; t++) a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(m, r[t] + i)));
    _mm512_mask_storeu_ps(y + i, m, a0);
  }
}

void cquant__fconv_init_avx512(cquant__kernels_t *k) { k->dw_row_f32 = dw_row_f32; }
