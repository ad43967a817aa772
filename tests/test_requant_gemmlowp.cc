// Fixed-point requantization against gemmlowp's fixedpoint.h (Debian's libgemmlowp-dev, header
// only): SaturatingRoundingDoublingHighMul, RoundingDivideByPOT and SaturatingRoundingMultiplyByPOT
// composed as TFLite's MultiplyByQuantizedMultiplier, on millions of random accumulators and
// multipliers, plus the extremes. Every result must be equal.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <gemmlowp/fixedpoint/fixedpoint.h>
#include "cquant/intops.h"

static uint64_t s = 0x9e3779b97f4a7c15ull;
static uint64_t rnd() { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return s * 2685821657736338717ull; }

template <int E> static int32_t mul_pot(int32_t x) { return gemmlowp::SaturatingRoundingMultiplyByPOT<E>(x); }
typedef int32_t (*pot_fn)(int32_t);
template <int... E> struct table { static constexpr pot_fn fns[] = {mul_pot<E>...}; };
template <int... E> constexpr pot_fn table<E...>::fns[];
static const pot_fn *pots = table<0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31>::fns;

static int32_t oracle(int32_t x, int32_t m0, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return gemmlowp::RoundingDivideByPOT(gemmlowp::SaturatingRoundingDoublingHighMul(pots[left](x), m0), right);
}

int main() {
  int passed = 0, failed = 0;
  long bad = 0, n = 0;
  // 1. the primitives on random and extreme values
  const int32_t ext[] = {0, 1, -1, 2, -2, INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 1 << 30, -(1 << 30), 12345, -12345};
  for (int i = 0; i < 4000000; i++) {
    int32_t a = i < 169 ? ext[i % 13] : (int32_t)rnd(), b = i < 169 ? ext[i / 13] : (int32_t)rnd();
    if (i % 3 == 0) a >>= rnd() % 31;
    bad += cquant_srdhm(a, b) != gemmlowp::SaturatingRoundingDoublingHighMul(a, b);
    int e = (int)(rnd() % 32);
    bad += cquant_rdivpot(a, e) != gemmlowp::RoundingDivideByPOT(a, e);
    n += 2;
  }
  printf("%s primitives: %ld comparisons, %ld differ\n", bad ? "FAIL" : "ok  ", n, bad);
  bad ? failed++ : passed++;
  // 2. multipliers M in (0, 2^8) as real requantization uses them (S_i S_w / S_o mostly below 1),
  //    accumulators over the whole int32 range and typical small ones
  bad = n = 0;
  long badm = 0;
  for (int i = 0; i < 4000000; i++) {
    double m = std::ldexp(0.5 + (double)(rnd() >> 11) / 9007199254740992.0 * 0.5, (int)(rnd() % 40) - 32);
    int32_t m0;
    int shift;
    if (cquant_quantize_multiplier(m, &m0, &shift)) { badm++; continue; }
    double back = (double)m0 * std::ldexp(1.0, shift - 31);
    if (m0 && std::fabs(back - m) > m * std::ldexp(1.0, -30)) badm++;
    int32_t acc = (i & 1) ? (int32_t)rnd() : (int32_t)(rnd() % 2000001) - 1000000;
    bad += cquant_mul_by_quantized_multiplier(acc, m0, shift) != oracle(acc, m0, shift);
    n++;
  }
  printf("%s multiply by quantized multiplier: %ld cases, %ld differ; %ld multipliers badly decomposed\n", bad || badm ? "FAIL" : "ok  ", n, bad, badm);
  bad || badm ? failed++ : passed++;
  // 3. decomposition edge cases
  int32_t m0;
  int sh;
  int ok = cquant_quantize_multiplier(0.0, &m0, &sh) == 0 && m0 == 0 && cquant_quantize_multiplier(1.0, &m0, &sh) == 0 &&
           m0 == (1 << 30) && sh == 1 && cquant_quantize_multiplier(-1.0, &m0, &sh) != 0 &&
           cquant_quantize_multiplier(NAN, &m0, &sh) != 0 && cquant_quantize_multiplier(std::ldexp(1.0, -40), &m0, &sh) == 0 &&
           m0 == 0 && cquant_quantize_multiplier(0.9999999999999, &m0, &sh) == 0 && m0 == (1 << 30) && sh == 1;
  printf("%s multiplier edge cases\n", ok ? "ok  " : "FAIL");
  ok ? passed++ : failed++;
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
