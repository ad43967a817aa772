/* float32 loops of the math family that real models run on every activation (Sigmoid, Tanh, Erf,
 * Mish, and through them SiLU-style QuickGelu and both Gelus), written so that the compiler vectorizes
 * them with the default flags (and LeakyRelu / PRelu's select): e^v and erf by polynomials, and
 * every branch as an integer select on the bits (a float compare keeps a loop scalar under
 * -ftrapping-math). Checked over every float32 input against libm in double: Sigmoid <= 3 ulp,
 * Tanh <= 2 ulp, Erf <= 3 ulp, Mish <= 5 ulp; the Gelus within 1e-4 relative (2e-5 for tanh-Gelu), where the
 * exact value is below 5e-8 in magnitude, and a few ulp elsewhere. */
#include <string.h>
#include "core/internal.h"
#include "exec/ops/math_internal.h"
#include "exec/ops/vexp.h"

/* Sigmoid, Tanh, Erf and Gelu are also built for AVX2 and AVX-512 (x86/mathvec_avx2.c and
 * x86/mathvec_avx512.c include this file with MV naming them _avx2, _avx512): the same C, the
 * same IEEE operations in the same order (no FMA: -ffp-contract=off), 8 or 16 at a time, so every
 * variant equals the _ref built here bit for bit; cquant__math_*_f32 call the active table's. */
#ifndef MV
#define MV(f) f##_ref
#define MATH_VEC_REF 1
#endif


/* 1 / (1 + e^-x): e = e^-|x| <= 1, then 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0 (no
 * overflow, no cancellation). */
static inline float sigmoid1(float x) {
  const uint32_t xb = cquant__f32_bits(x), neg = (uint32_t)0 - (xb >> 31);
  const float e = cquant__vexp_f32(cquant__f32_from_bits(xb | 0x80000000u));
  const float s = 1.0f / (1.0f + e), t = e * s;
  return cquant__f32_from_bits((cquant__f32_bits(s) & ~neg) | (cquant__f32_bits(t) & neg));
}

/* tanh: below |x| = 0.625 the Cephes tanhf odd polynomial, above (1 - e) / (1 + e) with
 * e = e^-2|x|; the sign of x put back; NaN returned as it came. */
static inline float tanh1(float x) {
  const uint32_t xb = cquant__f32_bits(x), ab = xb & 0x7FFFFFFFu;
  const float a = cquant__f32_from_bits(ab), z = a * a;
  float ps = -5.70498872745e-3f;
  ps = ps * z + 2.06390887954e-2f;
  ps = ps * z - 5.37397155531e-2f;
  ps = ps * z + 1.33314422036e-1f;
  ps = ps * z - 3.33332819422e-1f;
  ps = ps * z * a + a;
  const float e = cquant__vexp_f32(-2.0f * a), pl = (1.0f - e) / (1.0f + e);
  const uint32_t small = (uint32_t)0 - (uint32_t)(ab < 0x3F200000u), nan = (uint32_t)0 - (uint32_t)(ab > 0x7F800000u);
  const uint32_t r = ((cquant__f32_bits(ps) & small) | (cquant__f32_bits(pl) & ~small)) | (xb & 0x80000000u);
  return cquant__f32_from_bits((r & ~nan) | (xb & nan));
}

/* erf(a) and erfc(a) for a = |x| (NaN stays NaN). Below 1: a times the Taylor series of
 * erf(a) / a in z = a^2 to degree 10 (truncation below 2e-9). From 1 to 4: erfc(a) =
 * e^-z h(a), h = erfc(a) e^(a^2) by its degree-12 Chebyshev interpolant on [1, 4] (at the 13
 * Chebyshev nodes, from libm erfc in double, converted to powers of t, rounded to float) in
 * t = (a - 2.5) / 1.5 (2e-7 relative in float); from 4 on, h by its asymptotic series
 * 1 / (a sqrt(pi)) (1 - 1/(2a^2) + 3/(4a^4) - 15/(8a^6)) (1e-4 relative, where erfc < 2e-8). */
static inline void erf_parts(float a, float *erf_a, float *erfc_a) {
  const uint32_t ab = cquant__f32_bits(a);
  const float z = a * a;
  float ps = 1.480719282e-08f;
  ps = ps * z - 1.636584469e-07f;
  ps = ps * z + 1.646211437e-06f;
  ps = ps * z - 1.492565036e-05f;
  ps = ps * z + 1.205533298e-04f;
  ps = ps * z - 8.548327023e-04f;
  ps = ps * z + 5.223977625e-03f;
  ps = ps * z - 2.686617065e-02f;
  ps = ps * z + 1.128379167e-01f;
  ps = ps * z - 3.761263890e-01f;
  ps = (ps * z + 1.128379167e+00f) * a;
  const float t = (a - 2.5f) * 0.666666667f;
  float h = 1.336583603e-05f;
  h = h * t - 3.688891062e-05f;
  h = h * t + 5.630357592e-05f;
  h = h * t - 1.440577931e-04f;
  h = h * t + 4.129869230e-04f;
  h = h * t - 1.017008940e-03f;
  h = h * t + 2.402487431e-03f;
  h = h * t - 5.567380323e-03f;
  h = h * t + 1.248952042e-02f;
  h = h * t - 2.700571687e-02f;
  h = h * t + 5.611048819e-02f;
  h = h * t - 1.115210051e-01f;
  h = h * t + 2.108063641e-01f;
  const float ia = 1.0f / a, iz = ia * ia;
  const float hs = 0.5641895835f * ia * (1.0f - iz * (0.5f - iz * (0.75f - iz * 1.875f)));
  const uint32_t mid = (uint32_t)0 - (uint32_t)(ab < 0x40800000u), small = (uint32_t)0 - (uint32_t)(ab < 0x3F800000u);
  const float ec = cquant__vexp_f32(-z) * cquant__f32_from_bits((cquant__f32_bits(h) & mid) | (cquant__f32_bits(hs) & ~mid));
  *erf_a = cquant__f32_from_bits((cquant__f32_bits(ps) & small) | (cquant__f32_bits(1.0f - ec) & ~small));
  *erfc_a = cquant__f32_from_bits((cquant__f32_bits(1.0f - ps) & small) | (cquant__f32_bits(ec) & ~small));
}

void MV(cquant__math_erf_f32)(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const uint32_t xb = cquant__f32_bits(x[i]), nan = (uint32_t)0 - (uint32_t)((xb & 0x7FFFFFFFu) > 0x7F800000u);
    float e, ec;
    erf_parts(cquant__f32_from_bits(xb & 0x7FFFFFFFu), &e, &ec);
    y[i] = cquant__f32_from_bits(((cquant__f32_bits(e) | (xb & 0x80000000u)) & ~nan) | (xb & nan));
  }
}

/* 0.5 x (1 + erf(x / sqrt 2)): for x < 0 as 0.5 x erfc(|x| / sqrt 2), without the cancellation
 * of 1 + erf. */
void MV(cquant__math_gelu_f32)(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const uint32_t neg = (uint32_t)0 - (cquant__f32_bits(v) >> 31);
    float e, ec;
    erf_parts(cquant__f32_from_bits(cquant__f32_bits(v) & 0x7FFFFFFFu) * 0.707106781f, &e, &ec);
    y[i] = 0.5f * v * cquant__f32_from_bits((cquant__f32_bits(1.0f + e) & ~neg) | (cquant__f32_bits(ec) & neg));
  }
}

void MV(cquant__math_sigmoid_f32)(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = sigmoid1(x[i]);
}

void MV(cquant__math_tanh_f32)(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = tanh1(x[i]);
}

#ifdef MATH_VEC_REF
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
    const uint32_t xb = cquant__f32_bits(x[i]), neg = (uint32_t)0 - (xb >> 31);
    y[i] = cquant__f32_from_bits((xb & ~neg) | (cquant__f32_bits(alpha * x[i]) & neg));
  }
}

/* Mish: x tanh(softplus(x)) = x t, with u = e^-|x|: t = (1 + 2u) / (1 + 2u + 2u^2) for x > 0 and
 * u (u + 2) / (u (u + 2) + 2) for x <= 0 (sums of positive terms: no cancellation, no overflow). */
void cquant__math_mish_f32(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const uint32_t neg = (uint32_t)0 - (cquant__f32_bits(v) >> 31);
    const float u = cquant__vexp_f32(cquant__f32_from_bits(cquant__f32_bits(v) | 0x80000000u));
    const float a = 1.0f + 2.0f * u, tp = a / (a + 2.0f * u * u), b = u * (u + 2.0f), tn = b / (b + 2.0f);
    y[i] = v * cquant__f32_from_bits((cquant__f32_bits(tp) & ~neg) | (cquant__f32_bits(tn) & neg));
  }
}

void cquant__math_sigmoid_f32(const float *x, float *y, int64_t n) { cquant__kernels()->sigmoid_f32(x, y, n); }
void cquant__math_tanh_f32(const float *x, float *y, int64_t n) { cquant__kernels()->tanh_f32(x, y, n); }
void cquant__math_erf_f32(const float *x, float *y, int64_t n) { cquant__kernels()->erf_f32(x, y, n); }
void cquant__math_gelu_f32(const float *x, float *y, int64_t n) { cquant__kernels()->gelu_f32(x, y, n); }
#endif

void MV(cquant__mathvec_init)(cquant__kernels_t *k) {
  k->sigmoid_f32 = MV(cquant__math_sigmoid_f32);
  k->tanh_f32 = MV(cquant__math_tanh_f32);
  k->erf_f32 = MV(cquant__math_erf_f32);
  k->gelu_f32 = MV(cquant__math_gelu_f32);
}
