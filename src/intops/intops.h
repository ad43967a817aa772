/* Internal: integer-only arithmetic (issue 4). Reference kernels first; SIMD variants will equal them. */
#ifndef CQUANT_INTOPS_H
#define CQUANT_INTOPS_H

#include <stdint.h>
#include "core/internal.h"

/* C[m][n] = sum_k (A[m][k] - za[m]) (B[k][n] - zb[n]) in int32 (seed 001, eq. 3-4; docs eq. 22).
 * A, B are 8-bit, signed or not; za has M entries (or 1 when za_per_row is 0), zb N (or 1). */
void cquant__qgemm_s32_ref(int64_t M, int64_t N, int64_t K, const void *A, int a_signed, int64_t lda,
                           const int32_t *za, int za_per_row, const void *B, int b_signed, int64_t ldb,
                           const int32_t *zb, int zb_per_col, int32_t *C, int64_t ldc);

typedef struct {
  int64_t n, c, h, w;          /* input NCHW */
  int64_t m, kh, kw;           /* output channels, kernel */
  int64_t group;
  int64_t stride_h, stride_w, dil_h, dil_w;
  int64_t pad_t, pad_l, pad_b, pad_r;
  int64_t oh, ow;              /* output size */
} cquant__conv2d_t;

/* y[n][m][oh][ow] = sum over c, kh, kw of (x - zx)(w - zw[m]), int32; padding reads as zx (so it
 * adds nothing), as ONNX ConvInteger defines it. x: NCHW, w: M x (C/group) x kH x kW. */
void cquant__qconv2d_s32_ref(const cquant__conv2d_t *p, const void *x, int x_signed, int32_t zx, const void *w,
                             int w_signed, const int32_t *zw, int zw_per_channel, int32_t *y);

#endif
