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

/* What the GEMM writes (eq. 22-25). acc = the int32 sum of eq. 22, plus bias[n] when bias is set. */
typedef enum {
  CQUANT_EPI_S32 = 0,       /* int32 acc */
  CQUANT_EPI_REQUANT = 1,   /* uint8/int8: clamp(MBQM(acc, m0[n], shift[n]) + zo, lo, hi), eq. 25 */
  CQUANT_EPI_REQUANT_F = 2, /* uint8/int8: clamp(round_half_even(acc * mult[n]) + zo, lo, hi), eq. 23 */
  CQUANT_EPI_F32 = 3        /* float32: acc * scale[n] (dequantized) */
} cquant_epilogue_kind_t;

typedef struct {
  cquant_epilogue_kind_t kind;
  const int32_t *bias;        /* N entries, or NULL */
  int per_column;             /* m0/shift/mult/scale have N entries (1 otherwise) */
  const int32_t *m0;          /* REQUANT */
  const int32_t *shift;       /* REQUANT */
  const float *mult;          /* REQUANT_F */
  const float *scale;         /* F32 */
  int32_t zo;                 /* output zero-point */
  int out_signed;             /* int8 (1) or uint8 (0) output */
  int32_t lo, hi;             /* clamp after adding zo: the type's range, or narrower for a fused
                                 ReLU (lo = zo) / ReLU6; lo > hi is INVALID_ARGUMENT */
} cquant_epilogue_t;

/* The GEMM with an epilogue applied block by block while the int32 results are in cache. C's
 * element type follows the epilogue (int32, uint8/int8, float32); ldc in elements. */
int cquant_qgemm_ex(const void *A, int a_signed, int64_t M, int64_t lda, int32_t za, const cquant_qgemm_weights_t *w,
                    const cquant_epilogue_t *epi, void *C, int64_t ldc);

/* ---- quantized layers and elementwise operators (uint8 or int8, integer arithmetic only) ------- */

/* A quantized linear (fully connected) layer: y = saturate(round(x W s_x s_w[n] / s_y) + z_y) with
 * int32 bias at scale s_x s_w[n]: the GEMM with a fixed-point requantizing epilogue (eq. 25).
 * w_scale has N entries when per_channel, else 1. relu fuses max(y, z_y). */
int cquant_qlinear(const void *x, int x_signed, int64_t M, float x_scale, int32_t x_zp, const cquant_qgemm_weights_t *w,
                   const float *w_scale, int per_channel, const int32_t *bias, float y_scale, int32_t y_zp, int y_signed,
                   int relu, void *y);

/* y = x1 + x2 with their own scales and zero-points, in integers (TFLite's quantized add: inputs
 * shifted left 20 bits, brought to a common scale by fixed-point multipliers, eq. 26). n elements,
 * all three tensors of the same 8-bit type. */
int cquant_qadd(const void *x1, float s1, int32_t z1, const void *x2, float s2, int32_t z2, int is_signed, int64_t n,
                float sy, int32_t zy, void *y);

/* Max / average pooling over NCHW planes of quantized values (input and output share scale and
 * zero-point, so max works on q directly and the average rounds half away from zero). Windows
 * kh x kw, strides, zero or more padding (ignored by max; average counts only real elements).
 * Global average pooling: kh = h, kw = w, no padding. */
int cquant_qpool2d(const void *x, int is_signed, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                   int64_t sh, int64_t sw, int64_t pad_t, int64_t pad_l, int64_t pad_b, int64_t pad_r, int average,
                   void *y, int64_t *oh, int64_t *ow);

/* ReLU / clamp on quantized values: y = clamp(x, q(lo), q(hi)) where q(r) = round(r / s) + z, and
 * lo = 0, hi = +inf for ReLU. */
int cquant_qclamp(const void *x, int is_signed, int64_t n, float s, int32_t z, float lo, float hi, void *y);

/* Which kernel packed w: "amx", "vnni", "avx2" or "ref". */
const char *cquant_qgemm_kernel_name(const cquant_qgemm_weights_t *w);

#ifdef __cplusplus
}
#endif
#endif
