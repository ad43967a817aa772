/* Integer 2-D convolution on the integer GEMM: for each image and group, the input patches are
 * gathered (im2col; padding reads as the input zero-point, so it adds nothing, as ONNX ConvInteger
 * defines it) into rows of K = C/group x kH x kW values and multiplied by the packed weights
 * (K x M/group). NCHW and NHWC. Equal to the reference cquant__qconv2d_s32_ref bit for bit. */
#include <stdlib.h>
#include <string.h>
#include "intops/intops.h"

int cquant__qconv2d_s32(const cquant__conv2d_t *p, int nhwc, const void *x, int x_signed, int32_t zx, const void *w, int w_signed,
                        const int32_t *zw, int zw_per_channel, int32_t *y) {
  const int64_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw, P = p->oh * p->ow;
  uint8_t *col = malloc((size_t)(P * K) + 64), *bt = malloc((size_t)(K * mg) + 64);
  int32_t *acc = nhwc ? NULL : malloc(sizeof(int32_t) * (size_t)(P * mg) + 64), *zb = malloc(sizeof(int32_t) * (size_t)mg + 4);
  if (!col || !bt || (!nhwc && !acc) || !zb) {
    free(col); free(bt); free(acc); free(zb);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory for the im2col buffer (%lld x %lld)", (long long)P, (long long)K);
  }
  const uint8_t pad = (uint8_t)zx; /* the zero-point's byte, as uint8 or int8 */
  const uint8_t *xb = x, *wb = w;
  int st = CQUANT_STATUS_OK;
  for (int64_t g = 0; g < p->group && !st; g++) {
    /* weights of the group as B (K x mg): B[k][j] = w[g mg + j][k], k in the patch order below */
    for (int64_t j = 0; j < mg; j++) {
      const uint8_t *wm = wb + (g * mg + j) * K; /* ONNX layout: M x C/g x kH x kW */
      for (int64_t c = 0; c < cg; c++)
        for (int64_t ky = 0; ky < p->kh; ky++)
          for (int64_t kx = 0; kx < p->kw; kx++) {
            const int64_t src = (c * p->kh + ky) * p->kw + kx;
            const int64_t k = nhwc ? (ky * p->kw + kx) * cg + c : src; /* NHWC patches run channels fastest */
            bt[k * mg + j] = wm[src];
          }
      zb[j] = zw[zw_per_channel ? g * mg + j : 0];
    }
    cquant_qgemm_weights_t *pw;
    if ((st = cquant_qgemm_pack(bt, w_signed, K, mg, mg, zb, 1, &pw))) break;
    for (int64_t n = 0; n < p->n && !st; n++) {
      /* im2col: row (oy, ox) holds the patch, in the weights' k order */
      for (int64_t oy = 0; oy < p->oh; oy++)
        for (int64_t ox = 0; ox < p->ow; ox++) {
          uint8_t *row = col + (oy * p->ow + ox) * K;
          for (int64_t ky = 0; ky < p->kh; ky++) {
            const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
            for (int64_t kx = 0; kx < p->kw; kx++) {
              const int64_t ix = ox * p->stride_w - p->pad_l + kx * p->dil_w;
              const int inside = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
              if (nhwc) {
                uint8_t *dst = row + (ky * p->kw + kx) * cg;
                if (inside) memcpy(dst, xb + ((n * p->h + iy) * p->w + ix) * p->c + g * cg, (size_t)cg);
                else memset(dst, pad, (size_t)cg);
              } else {
                for (int64_t c = 0; c < cg; c++)
                  row[(c * p->kh + ky) * p->kw + kx] = inside ? xb[((n * p->c + g * cg + c) * p->h + iy) * p->w + ix] : pad;
              }
            }
          }
        }
      if (nhwc) { /* the GEMM writes straight into y (pixels x M, this group's columns) */
        st = cquant_qgemm(col, x_signed, P, K, zx, pw, y + n * P * p->m + g * mg, p->m);
      } else {
        st = cquant_qgemm(col, x_signed, P, K, zx, pw, acc, mg);
        for (int64_t j = 0; j < mg && !st; j++) { /* pixels x channels -> channel planes */
          int32_t *plane = y + (n * p->m + g * mg + j) * P;
          for (int64_t i = 0; i < P; i++) plane[i] = acc[i * mg + j];
        }
      }
    }
    cquant_qgemm_weights_free(pw);
  }
  free(col);
  free(bt);
  free(acc);
  free(zb);
  return st;
}
