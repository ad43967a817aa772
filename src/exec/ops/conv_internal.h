/* The float32 2-D convolution paths of conv.c, one file each: conv_dw.c (one input channel per
 * output channel: depthwise), conv_gemm.c (GEMM on the input as it is for 1x1, on im2col blocks
 * otherwise). Geometry checked by the caller (cquant__conv_params); y is N x M x oh x ow and every
 * element is written; b may be NULL. */
#ifndef CQUANT_EXEC_CONV_INTERNAL_H
#define CQUANT_EXEC_CONV_INTERNAL_H
#include "intops/intops.h"
#include "exec/ops/conv_par.h"

/* Direct depthwise convolution for C / group == 1 (any output channels per group): runs of whole
 * planes per dw_f32 kernel call (padding read as zero, no padded copy), the runs of channels split
 * over the threads when there is enough work. */
int cquant__conv_dw_f32(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, float *y);

/* Y = W X per group with sgemm: the input itself for 1x1 stride 1 without padding, the strided
 * pixels gathered once for 1x1, im2col blocks otherwise. The bias is written first (beta = 1). */
int cquant__conv_gemm_f32(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, float *y);

/* 2-D float32 MaxPool (is_max) or AveragePool over x (N x C x h x w, geometry in p with m = group = c;
 * every window holds at least one input pixel): y[...] = the max of the window's input pixels
 * (NaN never wins), or their sum divided by the taps inside the input (include_pad 0) or inside the
 * padded input (1). Planes are split over the threads. Returns CQUANT_STATUS_OUT_OF_MEMORY or OK. */
int cquant__pool2d_f32(const cquant__conv2d_t *p, int is_max, int include_pad, const float *x, float *y);

/* One padded row split by column phase (conv_dw.c): dst[j len + k] = src[j + k sw - pl] where that
 * lies in [0, w), else pad, for j < sw, k < len. */
void cquant__pad_split_row(const float *src, int64_t w, int64_t pl, int64_t sw, int64_t len, float pad, float *dst);

/* The number of threads an operator of `work` multiply-adds should use: 1 below a threshold. */
int cquant__conv_threads(double work);

/* cquant__conv_dw_f32 with an activation applied to each sum before the store (act 0 none, 1 Relu,
 * 2 Clip to [lo, hi], as cquant__dw_geom_t says): one pass instead of a second one over y. */
int cquant__conv_dw_f32_act(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, int act, float lo, float hi, float *y);

/* cquant__conv_gemm_f32 with the epilogue e (conv_fuse.h; NULL: none) applied to each block of Y
 * after its GEMM. */
struct cquant__conv_epi;
int cquant__conv_gemm_f32_epi(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, const struct cquant__conv_epi *e, float *y);

/* Dense convolution computed directly, without im2col and GEMM (conv_small.c): fits says whether
 * p qualifies (group 1, few taps or long output rows, an AVX2 or AVX-512 kernel active); y gets the
 * sums with the bias, then the epilogue e (NULL: none). Returns CQUANT_STATUS_OUT_OF_MEMORY or OK. */
int cquant__conv_small_fits(const cquant__conv2d_t *p);
int cquant__conv_small_f32(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, const struct cquant__conv_epi *e, float *y);

enum {
  CQUANT__EPI_NONE,
  CQUANT__EPI_RELU,     /* y > 0 ? y : +0 (the float32 Relu) */
  CQUANT__EPI_CLIP,     /* v = y < a ? a : y, then v > b ? b : v (NaN stays NaN) */
  CQUANT__EPI_LEAKY,    /* cquant__math_leakyrelu_f32 with alpha a */
  CQUANT__EPI_HSIG,     /* v = a y + b (two roundings), then v < 0 ? 0 : v > 1 ? 1 : v */
  CQUANT__EPI_HSWISH,   /* y clamp(y + 3, 0, 6) / 6 (left to right) */
  CQUANT__EPI_HSIG_MUL, /* y HSIG(y): HardSigmoid then Mul with the same y */
  CQUANT__EPI_SIGMOID,  /* cquant__math_sigmoid_f32 */
  CQUANT__EPI_SILU      /* y sigmoid(y): Sigmoid then Mul with the same y */
};

/* The epilogue of a float32 convolution (conv_fuse.h: the nodes folded into it), what follows
 * the sums (bias included) of one output element y:
 * y = y + add[i] when add is not NULL (add has Y's shape and layout), then act. */
typedef struct cquant__conv_epi {
  const float *add;
  int act;
  float a, b;
} cquant__conv_epi_t;

/* y[i] = epilogue(y[i]) for i < n, add already offset to the same element as y (or NULL): the
 * conv_epi_f32 kernel of the active ISA. cquant__conv_epi_ref is the scalar reference (the
 * operators' own float operations per element), x86/convepi_avx512.c the AVX-512 form. */
void cquant__conv_epi_apply(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n);
void cquant__conv_epi_ref(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n);

#endif
