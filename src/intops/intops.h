/* Internal: integer-only arithmetic (issue 4). Reference kernels first; SIMD variants will equal them. */
#ifndef CQUANT_INTOPS_H
#define CQUANT_INTOPS_H

#include <stdint.h>
#include "core/internal.h"
#include "cquant/intops.h"

/* C[m][n] = sum_k (A[m][k] - za[m]) (B[k][n] - zb[n]) in int32 (seed 001, eq. 3-4; docs eq. 22).
 * A, B are 8-bit, signed or not; za has M entries (or 1 when za_per_row is 0), zb N (or 1). */
void cquant__qgemm_s32_ref(int64_t M, int64_t N, int64_t K, const void *A, int a_signed, int64_t lda,
                           const int32_t *za, int za_per_row, const void *B, int b_signed, int64_t ldb,
                           const int32_t *zb, int zb_per_col, int32_t *C, int64_t ldc);

/* Packed weights (src/intops/qgemm.c). Every layout holds B' = B - 128 for uint8 B (so B' is
 * int8) and zb' likewise; A' = A + 128 for int8 A. Then (A - za)(B - zb) = (A' - za')(B' - zb')
 * and the kernels compute dot = sum A' B' (uint8 x int8), corrected by eq. 22's expansion. */
enum { CQUANT__QG_REF = 0, CQUANT__QG_AVX2 = 1, CQUANT__QG_VNNI = 2, CQUANT__QG_AMX = 3 };
struct cquant_qgemm_weights {
  int kind;
  int64_t K, N, Kp, npanels; /* Kp: K rounded up to the kernel's k-group */
  int8_t *packed;            /* the kernel's layout (ref: K x N row-major B') */
  int32_t *colsum;           /* sum_k B'[k][n] */
  int32_t *zb;               /* zb'[n], N entries */
};

/* Micro-kernels: rows [0, mr) of A' (uint8 after xor with axor), all of K, columns of one panel
 * (NR = 32 for VNNI, 16 for AVX2): C = dot + colterm[n] - zb[n] rowsum[r], columns < nr stored. */
void cquant__qgemm_panel_vnni(const uint8_t *A, int64_t lda, uint32_t axor, int mr, int64_t K, const int8_t *panel,
                              const int32_t *colterm, const int32_t *zb, const int32_t *rowsum, int nr, int32_t *C, int64_t ldc);
/* AVX2: A' as int16 pairs, AW[m][g] = A'[m][2g] | A'[m][2g+1] << 16 (0 past K), ldw words a row. */
void cquant__qgemm_panel_avx2(const uint32_t *AW, int64_t ldw, int mr, int64_t K, const int8_t *panel,
                              const int32_t *colterm, const int32_t *zb, const int32_t *rowsum, int nr, int32_t *C, int64_t ldc);

/* AMX (src/intops/x86/qgemm_amx.c): 1 when the CPU has AMX-INT8 and the OS granted the tile state. */
int cquant__has_amx(void);
/* Tile configuration for cquant__qgemm_tile_amx: load it in a thread before its tiles, release after. */
void cquant__amx_config(void);
void cquant__amx_release(void);
void cquant__qgemm_tile_amx(const uint8_t *ap, int64_t lda, int64_t kp, int mr, const int8_t *panel, const int32_t *colterm,
                            const int32_t *zb, const int32_t *rowsum, int nr, int32_t *C, int64_t ldc);

typedef struct cquant__conv2d {
  int64_t n, c, h, w;          /* input NCHW */
  int64_t m, kh, kw;           /* output channels, kernel */
  int64_t group;
  int64_t stride_h, stride_w, dil_h, dil_w;
  int64_t pad_t, pad_l, pad_b, pad_r;
  int64_t oh, ow;              /* output size */
} cquant__conv2d_t;

/* The same through im2col and the integer GEMM (src/intops/qconv2d.c): NCHW (nhwc = 0: x is
 * N x C x H x W and y N x M x oH x oW) or NHWC (x N x H x W x C, y N x oH x oW x M); w is always the
 * ONNX layout M x C/group x kH x kW. */
int cquant__qconv2d_s32(const cquant__conv2d_t *p, int nhwc, const void *x, int x_signed, int32_t zx, const void *w, int w_signed,
                        const int32_t *zw, int zw_per_channel, int32_t *y);

/* y[n][m][oh][ow] = sum over c, kh, kw of (x - zx)(w - zw[m]), int32; padding reads as zx (so it
 * adds nothing), as ONNX ConvInteger defines it. x: NCHW, w: M x (C/group) x kH x kW. */
void cquant__qconv2d_s32_ref(const cquant__conv2d_t *p, const void *x, int x_signed, int32_t zx, const void *w,
                             int w_signed, const int32_t *zw, int zw_per_channel, int32_t *y);

/* One NHWC depthwise output pixel, AVX2: acc[c] = sum over the ntaps taps of (xs[t][c] - zx) ws[t][c]. */
void cquant__dw_pixel_avx2(int32_t *acc, const uint8_t *const *xs, const int32_t *const *ws, int ntaps, int64_t C, int32_t zx, int x_signed);

/* The float requantizing epilogue (eq. 23), AVX2: equal to the scalar loop bit for bit. */
void cquant__requant_f_avx2(const int32_t *acc, const int32_t *bias, const float *mult, int per_column, int out_signed, int32_t zo,
                            int32_t lo, int32_t hi, int64_t n, void *out);

/* The quantized add (eq. 26) as a table of all 65536 input pairs, and its application: the same
 * results as cquant_qadd for these parameters. */
int cquant__qadd_table(float s1, int32_t z1, float s2, int32_t z2, int is_signed, float sy, int32_t zy, uint8_t *tab);
/* The same table with the QDQ graph's own arithmetic (eq. 26b): what DequantizeLinear, Add and
 * QuantizeLinear compute in float32 for each pair, so that a QLinearAdd made from a QDQ Add gives
 * the fake-quantized model's bits. The table is made once; running it is a lookup. */
int cquant__qadd_table_qdq(float s1, int32_t z1, float s2, int32_t z2, int is_signed, float sy, int32_t zy, uint8_t *tab);
/* Eq. 26b element by element, for a call that cannot keep its table (no cache: a subgraph's node,
 * parameters that are not constants): the same bits as the table. */
int cquant__qadd_qdq(const void *x1, float s1, int32_t z1, const void *x2, float s2, int32_t z2, int is_signed, int64_t n, float sy,
                     int32_t zy, void *y);
void cquant__qadd_by_table(const uint8_t *tab, const void *x1, const void *x2, int64_t n, void *y);

/* The pooling window along one axis: the kernel taps [*k0, *k1) of output position o whose input
 * position o s - pad + k lies inside [0, len) (padding never takes part). Every pooling loop (float,
 * 8-bit NCHW and NHWC) walks its window with this. */
static inline void cquant__pool_taps(int64_t o, int64_t s, int64_t pad, int64_t k, int64_t len, int64_t *k0, int64_t *k1) {
  const int64_t i0 = o * s - pad;
  int64_t a = i0 < 0 ? -i0 : 0, b = len - i0 < k ? len - i0 : k;
  a = a < k ? a : k;
  *k0 = a;
  *k1 = b > a ? b : a;
}

/* The epilogue of a row of n columns (bias and per-column parameters from column 0). */
void cquant__epilogue_row(const cquant_epilogue_t *e, const int32_t *acc, int64_t n, void *out);

/* Column c's epilogue applied to n accumulators (a depthwise channel's plane). */
void cquant__epilogue_channel(const cquant_epilogue_t *e, int64_t c, const int32_t *acc, int64_t n, void *out);

/* A convolution's weights packed once (one GEMM operand per group, in the patch order the
 * convolution gathers), for convolutions run many times with the same weights. */
typedef struct {
  int64_t group;
  int nhwc_order;
  cquant_qgemm_weights_t **g;
} cquant__qconv_packed_t;
int cquant__qconv2d_pack(const cquant__conv2d_t *p, int nhwc, const void *w, int w_signed, const int32_t *zw, int zw_per_channel,
                         cquant__qconv_packed_t **out);
void cquant__qconv2d_packed_free(void *pk);
/* cquant__qconv2d_ex with weights packed by cquant__qconv2d_pack for the same p and layout (NULL:
 * packed here). Depthwise convolutions never use them. */
int cquant__qconv2d_ex2(const cquant__conv2d_t *p, int nhwc, const void *x, int x_signed, int32_t zx, const void *w, int w_signed,
                        const int32_t *zw, int zw_per_channel, const cquant__qconv_packed_t *pk, const cquant_epilogue_t *e, void *y);

/* Convolution with a GEMM epilogue (per output channel; e NULL: plain int32). Output element type
 * follows the epilogue, in NCHW or NHWC like x. */
int cquant__qconv2d_ex(const cquant__conv2d_t *p, int nhwc, const void *x, int x_signed, int32_t zx, const void *w, int w_signed,
                       const int32_t *zw, int zw_per_channel, const cquant_epilogue_t *e, void *y);

#endif
