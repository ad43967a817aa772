/* Reference integer GEMM with zero-points (docs/quantization.md, eq. 22): the oracle for the fast
 * kernels. Accumulates in int32 exactly as ONNX MatMulInteger defines it. */
#include "intops/intops.h"

static inline int32_t ld8(const void *p, int64_t i, int s) {
  return s ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

void cquant__qgemm_s32_ref(int64_t M, int64_t N, int64_t K, const void *A, int a_signed, int64_t lda,
                           const int32_t *za, int za_per_row, const void *B, int b_signed, int64_t ldb,
                           const int32_t *zb, int zb_per_col, int32_t *C, int64_t ldc) {
  for (int64_t m = 0; m < M; m++) {
    const int32_t zam = za[za_per_row ? m : 0];
    for (int64_t n = 0; n < N; n++) {
      const int32_t zbn = zb[zb_per_col ? n : 0];
      uint32_t acc = 0; /* int32 arithmetic that wraps instead of overflowing */
      for (int64_t k = 0; k < K; k++) acc += (uint32_t)((ld8(A, m * lda + k, a_signed) - zam) * (ld8(B, k * ldb + n, b_signed) - zbn));
      C[m * ldc + n] = (int32_t)acc;
    }
  }
}

void cquant__qconv2d_s32_ref(const cquant__conv2d_t *p, const void *x, int x_signed, int32_t zx, const void *w,
                             int w_signed, const int32_t *zw, int zw_per_channel, int32_t *y) {
  const int64_t cg = p->c / p->group, mg = p->m / p->group;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t m = 0; m < p->m; m++) {
      const int64_t g = m / mg;
      const int32_t zwm = zw[zw_per_channel ? m : 0];
      for (int64_t oy = 0; oy < p->oh; oy++)
        for (int64_t ox = 0; ox < p->ow; ox++) {
          int32_t acc = 0;
          for (int64_t c = 0; c < cg; c++)
            for (int64_t ky = 0; ky < p->kh; ky++) {
              const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
              if (iy < 0 || iy >= p->h) continue; /* padding holds zx: (zx - zx) = 0 */
              for (int64_t kx = 0; kx < p->kw; kx++) {
                const int64_t ix = ox * p->stride_w - p->pad_l + kx * p->dil_w;
                if (ix < 0 || ix >= p->w) continue;
                const int64_t xi = ((n * p->c + g * cg + c) * p->h + iy) * p->w + ix;
                const int64_t wi = ((m * cg + c) * p->kh + ky) * p->kw + kx;
                acc += (ld8(x, xi, x_signed) - zx) * (ld8(w, wi, w_signed) - zwm);
              }
            }
          y[((n * p->m + m) * p->oh + oy) * p->ow + ox] = acc;
        }
    }
}
