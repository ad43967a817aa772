/* Internal: the fixed-point requantization primitives (eq. 24-25) as inline functions, for the
 * loops that apply them per element; src/intops/requant.c exports the same functions. */
#ifndef CQUANT_FIXEDPOINT_H
#define CQUANT_FIXEDPOINT_H

#include <stdint.h>

/* Saturating rounding doubling high multiply: round(a b / 2^31), saturating only for a = b = -2^31. */
static inline int32_t cquant__srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX; /* the one product that overflows */
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero, as gemmlowp */
}

/* Rounding divide by 2^e, ties away from zero. */
static inline int32_t cquant__rdivpot(int32_t x, int e) {
  const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* x M with M = m0 2^shift / 2^31 (eq. 25); the left shift saturates. */
static inline int32_t cquant__mbqm(int32_t x, int32_t m0, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  int64_t xl = (int64_t)x * ((int64_t)1 << left); /* saturating, as gemmlowp's SaturatingRoundingMultiplyByPOT */
  const int32_t xs = xl > INT32_MAX ? INT32_MAX : (xl < INT32_MIN ? INT32_MIN : (int32_t)xl);
  return cquant__rdivpot(cquant__srdhm(xs, m0), right > 31 ? 31 : right);
}

#endif
