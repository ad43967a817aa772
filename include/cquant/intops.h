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

/* ---- integer GEMM (eq. 22) ------------------------------------------------------------------ */

typedef struct cquant_qgemm_weights cquant_qgemm_weights_t;

/* Packs weights B (K x N, row-major, leading dimension ldb >= N; int8 or uint8) and their
 * zero-points (zb[0] for all columns, or zb[n] per column) once, into the layout of the fastest
 * kernel this CPU has (AVX-512 VNNI, AVX2, or the reference). Column sums are precomputed. */
int cquant_qgemm_pack(const void *B, int b_signed, int64_t K, int64_t N, int64_t ldb, const int32_t *zb,
                      int zb_per_col, cquant_qgemm_weights_t **out);
void cquant_qgemm_weights_free(cquant_qgemm_weights_t *w);

/* C (M x N, int32, leading dimension ldc) = sum_k (A[m][k] - za)(B[k][n] - zb[n]) for A (M x K,
 * uint8 or int8, leading dimension lda), exactly as the int32 arithmetic of eq. 22 (wrapping past
 * 2^31, as any int32 accumulator). Threads: cquant_set_num_threads. Deterministic. */
int cquant_qgemm(const void *A, int a_signed, int64_t M, int64_t lda, int32_t za, const cquant_qgemm_weights_t *w,
                 int32_t *C, int64_t ldc);

/* Which kernel packed w: "vnni", "avx2" or "ref". */
const char *cquant_qgemm_kernel_name(const cquant_qgemm_weights_t *w);

#ifdef __cplusplus
}
#endif
#endif
