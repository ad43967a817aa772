/* Scalar references of the 8-bit pooling and activation kernels: NHWC max pooling, global average
 * pooling's sums and int8 ReLU (the oracle every SIMD variant equals). */
#include <stdint.h>
#include <string.h>
#include "core/internal.h"
#include "intops/intops.h"

/* Every output pixel's channels at once; int8 is compared as uint8 after flipping the sign bit. */
static void maxpool_nhwc_8_ref(const uint8_t *x, int x8_signed, int64_t N, int64_t H, int64_t W, int64_t C, int64_t kh, int64_t kw,
                               int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t oh, int64_t ow, uint8_t *y) {
  const uint8_t flip = x8_signed ? 0x80 : 0;
#pragma omp parallel for schedule(static) if (N * oh * ow * C > 65536)
  for (int64_t r = 0; r < N * oh; r++) {
    const int64_t n = r / oh, oy = r % oh;
    for (int64_t ox = 0; ox < ow; ox++) {
      uint8_t *o = y + ((n * oh + oy) * ow + ox) * C;
      memset(o, 0, (size_t)C);
      int64_t ky0, ky1, kx0, kx1;
      cquant__pool_taps(oy, sh, pt, kh, H, &ky0, &ky1);
      cquant__pool_taps(ox, sw, pl, kw, W, &kx0, &kx1);
      for (int64_t ky = ky0; ky < ky1; ky++) {
        const int64_t iy = oy * sh - pt + ky;
        for (int64_t kx = kx0; kx < kx1; kx++) {
          const int64_t ix = ox * sw - pl + kx;
          const uint8_t *xr = x + ((n * H + iy) * W + ix) * C;
          for (int64_t c = 0; c < C; c++) {
            const uint8_t v = (uint8_t)(xr[c] ^ flip);
            o[c] = v > o[c] ? v : o[c];
          }
        }
      }
      if (flip)
        for (int64_t c = 0; c < C; c++) o[c] ^= flip;
    }
  }
}

static void gap_sum_8_ref(const uint8_t *x, int x8_signed, int channels_last, int64_t N, int64_t C, int64_t plane, int32_t zx,
                          int32_t *acc) {
  const int8_t *xs = (const int8_t *)x;
  for (int64_t p = 0; p < N * C; p++) {
    int64_t s = 0;
    const int64_t n = p / C, c = p % C;
    if (channels_last) { /* NHWC: channel c of image n, every pixel */
      for (int64_t i = 0; i < plane; i++) {
        const int64_t k = (n * plane + i) * C + c;
        s += x8_signed ? xs[k] : x[k];
      }
    } else if (x8_signed)
      for (int64_t i = 0; i < plane; i++) s += xs[p * plane + i];
    else
      for (int64_t i = 0; i < plane; i++) s += x[p * plane + i];
    s -= (int64_t)zx * plane;
    acc[p] = (int32_t)(s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s);
  }
}

static void relu_s8_ref(const int8_t *x, int64_t n, int8_t *y) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

void cquant__intops_init_ref(cquant__kernels_t *k) {
  k->maxpool_nhwc_8 = maxpool_nhwc_8_ref;
  k->gap_sum_8 = gap_sum_8_ref;
  k->relu_s8 = relu_s8_ref;
}
