/* Integer-only arithmetic (docs/quantization.md, sec. 6): fixed-point requantization as gemmlowp and
 * TFLite define it. */
#ifndef CQUANT_INTOPS_H_PUBLIC
#define CQUANT_INTOPS_H_PUBLIC

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Decomposes a real multiplier M >= 0 into a Q31 m0 in [2^30, 2^31) and a shift with
 * M = m0 2^(shift - 31) (eq. 24); M = 0 gives m0 = 0. Returns INVALID_ARGUMENT for M < 0, NaN or
 * M >= 2^31 (no int32 result could hold it). */
int cquant_quantize_multiplier(double m, int32_t *m0, int *shift);

/* round(a b / 2^31) with ties away from zero, saturated: gemmlowp's
 * SaturatingRoundingDoublingHighMul (x86: the 64-bit product, then the nudged division). */
int32_t cquant_srdhm(int32_t a, int32_t b);

/* x / 2^e rounded to nearest, ties away from zero, 0 <= e <= 31: gemmlowp's RoundingDivideByPOT. */
int32_t cquant_rdivpot(int32_t x, int e);

/* x M for M = m0 2^(shift - 31), eq. 25: a saturating left shift for shift > 0, the doubling high
 * multiply, then a rounding right shift for shift < 0 (TFLite's MultiplyByQuantizedMultiplier). */
int32_t cquant_mul_by_quantized_multiplier(int32_t x, int32_t m0, int shift);

#ifdef __cplusplus
}
#endif
#endif
