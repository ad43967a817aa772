/* Fixed-point requantization (docs/quantization.md, eq. 24-25), bit-exact with gemmlowp's
 * fixedpoint.h (tests/test_requant_gemmlowp.cc checks millions of cases against it). */
#include <math.h>
#include "core/internal.h"
#include "cquant/intops.h"

int cquant_quantize_multiplier(double m, int32_t *m0, int *shift) {
  if (!m0 || !shift) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "quantize multiplier: NULL output");
  if (!(m >= 0) || !(m < 2147483648.0))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "multiplier %g outside [0, 2^31)", m);
  if (m == 0) {
    *m0 = 0;
    *shift = 0;
    return CQUANT_STATUS_OK;
  }
  int e;
  const double q = frexp(m, &e); /* m = q 2^e, q in [0.5, 1) */
  int64_t qf = llround(q * 2147483648.0);
  if (qf == ((int64_t)1 << 31)) { /* rounding reached 1.0 */
    qf /= 2;
    e++;
  }
  if (e < -31) { /* below what a shift of 31 can express: the product is 0 for every int32 */
    qf = 0;
    e = 0;
  }
  *m0 = (int32_t)qf;
  *shift = e;
  return CQUANT_STATUS_OK;
}

int32_t cquant_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX; /* the one product that overflows */
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero, as gemmlowp */
}

int32_t cquant_rdivpot(int32_t x, int e) {
  const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}

int32_t cquant_mul_by_quantized_multiplier(int32_t x, int32_t m0, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  int64_t xl = (int64_t)x * ((int64_t)1 << left); /* saturating, as gemmlowp's SaturatingRoundingMultiplyByPOT */
  const int32_t xs = xl > INT32_MAX ? INT32_MAX : (xl < INT32_MIN ? INT32_MIN : (int32_t)xl);
  return cquant_rdivpot(cquant_srdhm(xs, m0), right > 31 ? 31 : right);
}
