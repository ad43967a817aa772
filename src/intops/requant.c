/* Fixed-point requantization (docs/quantization.md, eq. 24-25), bit-exact with gemmlowp's
 * fixedpoint.h (tests/test_requant_gemmlowp.cc checks millions of cases against it). */
#include <math.h>
#include "core/internal.h"
#include "cquant/intops.h"
#include "intops/fixedpoint.h"

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

int32_t cquant_srdhm(int32_t a, int32_t b) { return cquant__srdhm(a, b); }

int32_t cquant_rdivpot(int32_t x, int e) { return cquant__rdivpot(x, e); }

int32_t cquant_mul_by_quantized_multiplier(int32_t x, int32_t m0, int shift) { return cquant__mbqm(x, m0, shift); }
