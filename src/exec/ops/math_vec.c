/* float32 loops of the math family that real models run on every activation (Sigmoid, Tanh, and
 * through them SiLU-style QuickGelu and tanh-approximated Gelu), written so that the compiler
 * vectorizes them with the default flags (and LeakyRelu / PRelu's select): e^v by a polynomial, and every branch as an integer
 * select on the bits (a float compare keeps a loop scalar under -ftrapping-math). Accuracy: within
 * 3 ulp of the correctly rounded result over all float32 inputs checked (see the commit message). */
#include <string.h>
#include "exec/ops/math_internal.h"

static inline uint32_t bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}
static inline float from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* e^v for v <= 0 (or NaN, which stays NaN); 0 below -87.3365 (where e^v leaves the normal range).
 * v = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts), e^r by the degree-7 Cephes expf
 * polynomial, 2^n placed in the exponent bits from the rounding constant 1.5 * 2^23 t carries. */
static inline float exp_neg(float v) {
  const uint32_t vb = bits(v);
  const uint32_t keep = (uint32_t)0 - (uint32_t)!(vb > 0xC2AEAC50u && vb <= 0xFF800000u);
  const float t = v * 1.44269504088896341f + 12582912.0f, n = t - 12582912.0f;
  const float r = (v - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * r) * r + r + 1.0f;
  const float sc = from_bits((bits(t) - 0x4B400000u + 127u) << 23);
  return from_bits(bits(p * sc) & keep);
}

/* 1 / (1 + e^-x): e = e^-|x| <= 1, then 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0 (no
 * overflow, no cancellation). */
static inline float sigmoid1(float x) {
  const uint32_t xb = bits(x), neg = (uint32_t)0 - (xb >> 31);
  const float e = exp_neg(from_bits(xb | 0x80000000u));
  const float s = 1.0f / (1.0f + e), t = e * s;
  return from_bits((bits(s) & ~neg) | (bits(t) & neg));
}

/* tanh: below |x| = 0.625 the Cephes tanhf odd polynomial, above (1 - e) / (1 + e) with
 * e = e^-2|x|; the sign of x put back; NaN returned as it came. */
static inline float tanh1(float x) {
  const uint32_t xb = bits(x), ab = xb & 0x7FFFFFFFu;
  const float a = from_bits(ab), z = a * a;
  float ps = -5.70498872745e-3f;
  ps = ps * z + 2.06390887954e-2f;
  ps = ps * z - 5.37397155531e-2f;
  ps = ps * z + 1.33314422036e-1f;
  ps = ps * z - 3.33332819422e-1f;
  ps = ps * z * a + a;
  const float e = exp_neg(-2.0f * a), pl = (1.0f - e) / (1.0f + e);
  const uint32_t small = (uint32_t)0 - (uint32_t)(ab < 0x3F200000u), nan = (uint32_t)0 - (uint32_t)(ab > 0x7F800000u);
  const uint32_t r = ((bits(ps) & small) | (bits(pl) & ~small)) | (xb & 0x80000000u);
  return from_bits((r & ~nan) | (xb & nan));
}

void cquant__math_sigmoid_f32(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = sigmoid1(x[i]);
}

void cquant__math_tanh_f32(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = tanh1(x[i]);
}

/* x sigmoid(alpha x) (QuickGelu; SiLU for alpha 1). */
void cquant__math_quickgelu_f32(const float *x, float *y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoid1(alpha * x[i]);
}

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2 / pi) (x + 0.044715 x^3): the tanh-approximated
 * Gelu without the cancellation of 1 + tanh(u) for negative x. */
void cquant__math_gelu_tanh_f32(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v * sigmoid1(1.59576912160573071176f * (v + 0.044715f * v * v * v));
  }
}

/* x < 0 ? alpha x : x, selected by the sign bit (LeakyRelu; PRelu per slope value). */
void cquant__math_leakyrelu_f32(const float *x, float *y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) {
    const uint32_t xb = bits(x[i]), neg = (uint32_t)0 - (xb >> 31);
    y[i] = from_bits((xb & ~neg) | (bits(alpha * x[i]) & neg));
  }
}
