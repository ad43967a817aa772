/* e^x in float32 for the loops real models run on every activation (Sigmoid, Tanh, Erf, Mish, the
 * Gelus in math_vec.c; Softmax in reduce_softmax.c), in operations the compiler vectorizes with the
 * default flags (no float compare: under -ftrapping-math a float select keeps a loop scalar). */
#ifndef CQUANT_EXEC_VEXP_H
#define CQUANT_EXEC_VEXP_H

#include <stdint.h>
#include <string.h>

static inline uint32_t cquant__f32_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}
static inline float cquant__f32_from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* e^x within 2 ulp for x in [-87.33, 88.37]; 0 below -87.3365 (where e^x leaves the normal range)
 * and for -inf; NaN stays NaN. x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts), e^r by the
 * degree-7 Cephes expf polynomial, 2^n placed in the exponent bits from the rounding constant
 * 1.5 * 2^23 that t carries. */
static inline float cquant__vexp_f32(float x) {
  const uint32_t xb = cquant__f32_bits(x);
  const uint32_t keep = (uint32_t)0 - (uint32_t)!(xb > 0xC2AEAC50u && xb <= 0xFF800000u);
  const float t = x * 1.44269504088896341f + 12582912.0f, n = t - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * r) * r + r + 1.0f;
  const float sc = cquant__f32_from_bits((cquant__f32_bits(t) - 0x4B400000u + 127u) << 23);
  return cquant__f32_from_bits(cquant__f32_bits(p * sc) & keep);
}

#endif
