/* AVX2 depthwise convolution on NHWC data: one output pixel's channels, eight at a time, summed over
 * the kernel taps that fall inside the image (int32 products of x - z_x and w - z_w, exactly the
 * scalar loop's; integer arithmetic, so the order of the additions does not matter). */
#include <immintrin.h>
#include "intops/intops.h"

void cquant__dw_pixel_avx2(int32_t *acc, const uint8_t *const *xs, const int32_t *const *ws, int ntaps, int64_t C, int32_t zx, int x_signed) {
  const __m256i vz = _mm256_set1_epi32(zx);
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    __m256i a = _mm256_setzero_si256();
    for (int t = 0; t < ntaps; t++) {
      const __m128i b = _mm_loadl_epi64((const __m128i *)(xs[t] + c));
      const __m256i xv = _mm256_sub_epi32(x_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b), vz);
      a = _mm256_add_epi32(a, _mm256_mullo_epi32(xv, _mm256_loadu_si256((const __m256i *)(ws[t] + c))));
    }
    _mm256_storeu_si256((__m256i *)(acc + c), a);
  }
  for (; c < C; c++) {
    int32_t s = 0;
    for (int t = 0; t < ntaps; t++) s += ((x_signed ? (int32_t)(int8_t)xs[t][c] : (int32_t)xs[t][c]) - zx) * ws[t][c];
    acc[c] = s;
  }
}
