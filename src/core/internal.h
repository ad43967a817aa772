/* Internal declarations shared by the core: error helper and the kernel tables. */
#ifndef CQUANT_CORE_INTERNAL_H
#define CQUANT_CORE_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "cquant/cquant.h"

#if defined(__GNUC__)
#define CQUANT__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CQUANT__PRINTF(a, b)
#endif

/* Records a detail message for cquant_last_error and returns status. */
int cquant__error(int status, const char *fmt, ...) CQUANT__PRINTF(2, 3);
/* Prepends "prefix: " to the current detail message and returns status. */
int cquant__error_prefix(int status, const char *prefix);

/* Parameters of one run of elements that share a scale and zero-point (docs eq. 13-15). */
typedef struct {
  float scale;
  int32_t zero_point;
  int32_t qmin, qmax;
  cquant_round_t rounding;
  int stream; /* a hint: the output is large, write it with non-temporal stores (no cache fill) */
} cquant__qrun_t;

/* The geometry of a float32 depthwise convolution plane (the dw_f32 kernel): input h x w, output
 * oh x ow, taps kh x kw, strides sh, sw, dilations dh, dw, top and left padding pt, pl. act after
 * the sum: 0 none, 1 Relu (a > 0 ? a : +0), 2 Clip (v = a < lo ? lo : a, then v > hi ? hi : v;
 * NaN stays NaN). */
typedef struct cquant__dw_geom {
  int64_t h, w, oh, ow, pt, pl;
  int kh, kw, sh, sw, dh, dw;
  int act;
  float lo, hi;
} cquant__dw_geom_t;

/* g->act applied to one sum (the scalar form every dw_f32 variant equals). */
static inline float cquant__dw_act(const cquant__dw_geom_t *g, float a) {
  if (g->act == 1) return a > 0 ? a : 0.0f;
  if (g->act == 2) {
    const float v = a < g->lo ? g->lo : a;
    return v > g->hi ? g->hi : v;
  }
  return a;
}

struct cquant__conv_epi; /* src/exec/ops/conv_internal.h */

/* Kernels. "run": n elements, one (scale, zero-point). "vec": n elements, element i uses
 * scale[i], zero_point[i] (the channel axis is the innermost one). Inputs are checked by the
 * caller; kernels only assert. Containers: s8 holds s8/s4/s2, u8 holds u8/u4/u2, s16 holds s16. */
typedef void (*cquant__q_run_fn)(const float *x, size_t n, const cquant__qrun_t *p, void *q);
typedef void (*cquant__q_vec_fn)(const float *x, size_t n, const float *scale, const int32_t *zp,
                                 int32_t qmin, int32_t qmax, cquant_round_t r, void *q);
typedef void (*cquant__dq_run_fn)(const void *q, size_t n, float scale, int32_t zp, int stream, float *y);
typedef void (*cquant__dq_vec_fn)(const void *q, size_t n, const float *scale, const int32_t *zp,
                                  float *y);
typedef void (*cquant__fq_run_fn)(const float *x, size_t n, const cquant__qrun_t *p, float *y);
typedef void (*cquant__fq_vec_fn)(const float *x, size_t n, const float *scale, const int32_t *zp,
                                  int32_t qmin, int32_t qmax, cquant_round_t r, float *y);
typedef void (*cquant__cvt_from_f32_fn)(const float *x, size_t n, uint16_t *y);
typedef void (*cquant__cvt_to_f32_fn)(const uint16_t *x, size_t n, float *y);

/* Containers. s32 has only the reference kernels (its bounds need 64-bit arithmetic). */
enum { CQUANT__C_S8 = 0, CQUANT__C_U8 = 1, CQUANT__C_S16 = 2, CQUANT__C_S32 = 3, CQUANT__C_COUNT = 4 };

typedef struct {
  cquant__q_run_fn q_run[CQUANT__C_COUNT];
  cquant__q_vec_fn q_vec[CQUANT__C_COUNT];
  cquant__dq_run_fn dq_run[CQUANT__C_COUNT];
  cquant__dq_vec_fn dq_vec[CQUANT__C_COUNT];
  cquant__fq_run_fn fq_run;
  cquant__fq_vec_fn fq_vec;
  cquant__cvt_from_f32_fn f32_to_f16, f32_to_bf16;
  cquant__cvt_to_f32_fn f16_to_f32, bf16_to_f32;
  /* scaled FP8 (eq. 16): q[i] = fp8(x[i] / s) with s = scale[vec ? i : 0]; fmt 0 = e4m3fn, 1 = e5m2.
   * Dequantize: y[i] = value(q[i]) * s. */
  void (*fp8_q)(const float *x, size_t n, const float *scale, int vec, int fmt, cquant_fp8_mode_t mode,
                cquant_round_t r, uint8_t *q);
  void (*fp8_dq)(const uint8_t *q, size_t n, const float *scale, int vec, int fmt, float *y);
  /* histogram counting (docs/calibration.md, eq. C1): bin k = floor(x * inv) - kmin is counted in
   * cnt[(i % 4) * (nbins + 1) + k] (four interleaved tables); values outside [0, nbins) and NaN/Inf
   * go to entry nbins of their table. Also gives the min and max of the finite values (+inf/-inf
   * when none) and returns how many were not finite. */
  size_t (*hist_count)(const float *x, size_t n, float inv, int64_t kmin, int64_t nbins, uint32_t *cnt,
                       float *mn, float *mx);
  /* min and max of the finite elements (+inf / -inf when none); returns how many were not finite */
  size_t (*minmax)(const float *x, size_t n, float *mn, float *mx);
  /* 8-bit integer pooling and activation kernels (src/intops/ref/qpool_ref.c); x8_signed: the bytes
   * are int8 (else uint8). Max pooling of N x H x W x C (NHWC), window kh x kw, strides sh, sw, top
   * and left padding pt, pl (padding never wins), y N x oh x ow x C; every window holds at least
   * one input pixel. */
  void (*maxpool_nhwc_8)(const uint8_t *x, int x8_signed, int64_t N, int64_t H, int64_t W, int64_t C, int64_t kh, int64_t kw,
                         int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t oh, int64_t ow, uint8_t *y);
  /* Global average pooling's sums: acc[n C + c] = saturate_int32(sum over the plane pixels of
   * x - zx) for NCHW (channels_last 0: N x C x plane) or NHWC (N x plane x C). */
  void (*gap_sum_8)(const uint8_t *x, int x8_signed, int channels_last, int64_t N, int64_t C, int64_t plane, int32_t zx, int32_t *acc);
  /* y[i] = max(x[i], 0) on int8. */
  void (*relu_s8)(const int8_t *x, int64_t n, int8_t *y);
  /* Float32 depthwise convolution of nch planes (src/exec/ops/conv_dw.c, geometry in g): plane c
   * of x (h x w) with the kh x kw taps w[c taps ..] gives plane c of y (oh x ow). Each output is
   * a = b[c] (+0 when b is NULL), then for every tap in row-major order a = a + w[t] * v, v the
   * input the tap meets or +0.0f outside the input (a product, then a sum: no FMA), then g->act. */
  void (*dw_f32)(const struct cquant__dw_geom *g, const float *x, const float *w, const float *b, int64_t nch, float *y);
  /* n outputs of each of m output channels of a dense float32 convolution with K taps per output,
   * or an sgemm's block (src/exec/ops/conv_small.c, conv_par.c): for o < m, i < n, the taps in
   * the chunks of cquant__sgemm_chunks(K) (conv_par.h), each chunk c summed s_c = fmaf(w[o lw + t],
   * r[t][i], s_c) from 0 in t order (one rounding each); then a = s_0 plus, first, y[o ys + i]
   * itself when acc, else b[o] when b is not NULL; then a = a + s_1, ...; y[o ys + i] = a. r[t]
   * points at the n inputs tap t meets, already padded and de-strided (an sgemm: row t of B). */
  void (*conv_rows_f32)(const float *const *r, const float *w, int64_t lw, const float *b, int64_t K, int64_t m, int64_t n, float *y, int64_t ys, int acc);
  /* The epilogue of a float32 convolution over n outputs (src/exec/ops/conv_fuse.c, whose
   * cquant__conv_epi_t e says what it is): y[i] = act(y[i] + add[i]) (no add when add is NULL). */
  void (*conv_epi_f32)(const struct cquant__conv_epi *e, float *y, const float *add, int64_t n);
  /* y[i] = f(x[i]) for i < n, f = sigmoid, tanh, erf, or Gelu 0.5 x (1 + erf(x / sqrt 2))
   * (src/exec/ops/math_vec.c: its polynomials and selects, in the same IEEE operations every ISA). */
  void (*sigmoid_f32)(const float *x, float *y, int64_t n);
  void (*tanh_f32)(const float *x, float *y, int64_t n);
  void (*erf_f32)(const float *x, float *y, int64_t n);
  void (*gelu_f32)(const float *x, float *y, int64_t n);
} cquant__kernels_t;

/* The table for one ISA (every entry filled: missing variants fall back to the reference),
 * or NULL when this CPU lacks the ISA. */
const cquant__kernels_t *cquant__kernels_for(cquant_isa_t isa);
/* 1 when the CPU has AVX512_VNNI (vpdpbusd) on top of the AVX-512 level. */
int cquant__has_vnni(void);
/* The environment variables, read once on first use (src/core/env.c). Tests may change a field
 * (single-threaded, between calls) to take another path. */
typedef struct {
  int isa_cap; /* CQUANT_ISA=ref|avx2|avx512 as a cquant_isa_t, -1 when unset or not a name */
  int no_amx;  /* CQUANT_NO_AMX set (any value): the integer GEMM never uses AMX tiles */
  int nchw;    /* CQUANT_NCHW=1...: the integer rewrite keeps NCHW (no channels-last execution) */
} cquant__env_t;
cquant__env_t *cquant__env(void);
/* The table of the active ISA. */
const cquant__kernels_t *cquant__kernels(void);

/* Per-ISA fillers: each overwrites the entries it implements. */
void cquant__kernels_init_ref(cquant__kernels_t *k);
void cquant__convert_init_ref(cquant__kernels_t *k);
void cquant__kernels_init_avx2(cquant__kernels_t *k);
void cquant__convert_init_avx2(cquant__kernels_t *k);
void cquant__fp8_init_avx2(cquant__kernels_t *k);
void cquant__kernels_init_avx512(cquant__kernels_t *k);
void cquant__convert_init_avx512(cquant__kernels_t *k);
void cquant__fp8_init_avx512(cquant__kernels_t *k);
void cquant__calib_init_ref(cquant__kernels_t *k);
void cquant__calib_init_avx2(cquant__kernels_t *k);
void cquant__calib_init_avx512(cquant__kernels_t *k);
void cquant__intops_init_ref(cquant__kernels_t *k);
void cquant__fconv_init_ref(cquant__kernels_t *k);
void cquant__fconv_init_avx2(cquant__kernels_t *k);
void cquant__fconv_init_avx512(cquant__kernels_t *k);
void cquant__mathvec_init_ref(cquant__kernels_t *k);
void cquant__mathvec_init_avx2(cquant__kernels_t *k);
void cquant__mathvec_init_avx512(cquant__kernels_t *k);
void cquant__fdense_init_ref(cquant__kernels_t *k);
void cquant__fdense_init_avx2(cquant__kernels_t *k);
void cquant__fdense_init_avx512(cquant__kernels_t *k);

/* cquant_array_alloc without zero-filling (src/core/array.c): the caller writes every element. */
int cquant__array_alloc_uninit(cquant_array_t *a, cquant_dtype_t dt, int ndim, const int64_t *shape);

/* Splits a tensor around the parameters' axis: outer x len x inner (per-tensor: n x 1 x 1). */
void cquant__split_shape(const cquant_qparams_t *qp, int64_t *outer, int64_t *len, int64_t *inner);

/* Sub-byte packing (element 0 in the low bits). */
void cquant__pack_bits(const uint8_t *src, size_t n, int bits, uint8_t *dst);
void cquant__unpack_bits(const uint8_t *src, size_t n, int bits, int is_signed, uint8_t *dst);

/* The rounding step of eq. 13, shared by every scalar path: the quotient, rounded half to even. */
static inline float cquant__div_round(float x, float scale, float inv, cquant_round_t r) {
  float v = (r == CQUANT_ROUND_RECIP) ? x * inv : x / scale;
  return roundevenf(v); /* C2x/glibc; roundss with imm 8 where SSE4.1 is enabled */
}
/* The integer grid of a bits-wide type: eq. 11 (narrow) and eq. 11b (reduced: one bit fewer). */
static inline void cquant__qgrid(int bits, int is_signed, unsigned flags, int32_t *qmin, int32_t *qmax) {
  if (flags & CQUANT_QF_REDUCE_RANGE) bits -= 1;
  *qmin = is_signed ? -(1 << (bits - 1)) : 0;
  *qmax = is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  if (flags & CQUANT_QF_NARROW_RANGE) *qmin += 1;
}

/* Clamp to [lo, hi] exactly as maxps(v, lo) then minps(v, hi): those return the second operand
 * unless the first is strictly greater (smaller), so NaN goes to lo and -0 against +0 gives +0. */
/* FNV-1a of a NUL-terminated string: the key of the name tables (the loader's last readers, the
 * executor's scopes, the graph passes' sets and initializer index). */
static inline uint64_t cquant__name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static inline float cquant__clampf(float v, float lo, float hi) {
  v = (v > lo) ? v : lo;
  return (v < hi) ? v : hi;
}

/* The float bounds of the rounded quotient, qmin - z and qmax - z, rounded outward (exact for
 * every type up to 16 bits; int32 bounds may not be floats, and the 64-bit saturation after the
 * conversion then does the exact clamp). */
static inline float cquant__lo_bound(int32_t qmin, int32_t z) {
  int64_t b = (int64_t)qmin - z;
  float f = (float)b;
  return (int64_t)f > b ? __builtin_nextafterf(f, -__builtin_inff()) : f;
}
static inline float cquant__hi_bound(int32_t qmax, int32_t z) {
  int64_t b = (int64_t)qmax - z;
  float f = (float)b;
  return (double)f < (double)b ? __builtin_nextafterf(f, __builtin_inff()) : f;
}

/* eq. 28: int32 biases at scale s_x s_w[c]: q[c] = saturate_int32(round_half_even(b[c] / (s_x s_w[c])))
 * with s_x s_w[c] rounded to float first; n_sw is 1 (per-tensor weights) or n. scale (may be NULL)
 * gets each s_x s_w[c]. */
void cquant__bias_quantize(const float *b, int64_t n, float sx, const float *sw, int64_t n_sw, int32_t *q, float *scale);

/* A growing text buffer (SVG and other generated text). printf appends; after an allocation failure
 * the buffer is marked failed and later calls do nothing (check failed once at the end). */
typedef struct {
  char *text;
  size_t len, cap;
  int failed;
} cquant__sbuf_t;
void cquant__sbuf_printf(cquant__sbuf_t *b, const char *fmt, ...) CQUANT__PRINTF(2, 3);
void cquant__sbuf_free(cquant__sbuf_t *b);

#endif
