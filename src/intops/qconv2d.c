/* Integer 2-D convolution on the integer GEMM: for each image and group, the input patches are
 * gathered (im2col; padding reads as the input zero-point, so it adds nothing, as ONNX ConvInteger
 * defines it) into rows of K = C/group x kH x kW values and multiplied by the packed weights
 * (K x M/group). NCHW and NHWC. Equal to the reference cquant__qconv2d_s32_ref bit for bit. */
#include <stdlib.h>
#include <string.h>
#include "cquant/cpu.h"
#include "intops/intops.h"

/* Depthwise (one input and one output channel per group): a direct loop, no GEMM per channel. */
static int depthwise(const cquant__conv2d_t *p, const void *x, int x_signed, int32_t zx, const void *w, int w_signed, const int32_t *zw,
                     int zw_per_channel, const cquant_epilogue_t *e, void *y) {
  const int64_t P = p->oh * p->ow, KK = p->kh * p->kw;
  const size_t es = !e || e->kind == CQUANT_EPI_S32 || e->kind == CQUANT_EPI_F32 ? 4 : 1;
  if (p->stride_h == 1 && p->stride_w == 1 && p->dil_h == 1 && p->dil_w == 1) {
    /* unit stride: each plane is padded once with its zero-point (as int16 x - z_x, so padding adds
     * 0) and every tap becomes one long contiguous multiply-add over rows of the padded width; the
     * kw - 1 extra columns per row are dropped at the end */
    const int64_t Wp = p->w + p->pad_l + p->pad_r, Hp = p->h + p->pad_t + p->pad_b;
    int oom = 0;
#pragma omp parallel if (p->n * p->c * P > 65536)
    {
      int16_t *xs = malloc(sizeof(int16_t) * (size_t)(Hp * Wp + p->kw + 16));
      int32_t *ac = malloc(sizeof(int32_t) * (size_t)(p->oh * Wp + 16));
      int32_t *pl = e ? malloc(sizeof(int32_t) * (size_t)(P + 16)) : NULL;
      if (!xs || !ac || (e && !pl)) oom = 1;
#pragma omp for schedule(static)
      for (int64_t nc = 0; nc < p->n * p->c; nc++) {
        if (oom) continue;
        const int64_t c = nc % p->c;
        memset(xs, 0, sizeof(int16_t) * (size_t)(Hp * Wp + p->kw + 16));
        for (int64_t iy = 0; iy < p->h; iy++) {
          int16_t *d = xs + (iy + p->pad_t) * Wp + p->pad_l;
          if (x_signed) {
            const int8_t *r = (const int8_t *)x + (nc * p->h + iy) * p->w;
            for (int64_t ix = 0; ix < p->w; ix++) d[ix] = (int16_t)(r[ix] - zx);
          } else {
            const uint8_t *r = (const uint8_t *)x + (nc * p->h + iy) * p->w;
            for (int64_t ix = 0; ix < p->w; ix++) d[ix] = (int16_t)(r[ix] - zx);
          }
        }
        const int32_t z = zw[zw_per_channel ? c : 0];
        const int64_t len = p->oh * Wp;
        memset(ac, 0, sizeof(int32_t) * (size_t)len);
        for (int64_t ky = 0; ky < p->kh; ky++)
          for (int64_t kx = 0; kx < p->kw; kx++) {
            const int64_t k = c * KK + ky * p->kw + kx;
            const int32_t wt = (w_signed ? ((const int8_t *)w)[k] : ((const uint8_t *)w)[k]) - z;
            const int16_t *src = xs + ky * Wp + kx;
            for (int64_t i = 0; i < len; i++) ac[i] += wt * (int32_t)src[i];
          }
        int32_t *yp = e ? pl : (int32_t *)y + nc * P;
        for (int64_t oy = 0; oy < p->oh; oy++) memcpy(yp + oy * p->ow, ac + oy * Wp, sizeof(int32_t) * (size_t)p->ow);
        if (e) cquant__epilogue_channel(e, c, yp, P, (char *)y + (size_t)(nc * P) * es);
      }
      free(xs);
      free(ac);
      free(pl);
    }
    return oom ? cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory") : CQUANT_STATUS_OK;
  }
  int32_t *planes = e ? malloc(sizeof(int32_t) * (size_t)(P * p->n * p->c) + 64) : NULL;
  if (e && !planes) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory");
  int32_t *acc = e ? planes : (int32_t *)y;
  int oom = 0;
#pragma omp parallel for schedule(static) if (p->n * p->c * P > 65536)
  for (int64_t nc = 0; nc < p->n * p->c; nc++) {
    const int64_t c = nc % p->c;
    int32_t wk[64], *wv = wk;
    int32_t *heap = KK > 64 ? malloc(sizeof(int32_t) * (size_t)KK) : NULL;
    if (heap) wv = heap;
    else if (KK > 64) { /* out of memory: the call fails */
#pragma omp atomic write
      oom = 1;
      continue;
    }
    const int32_t z = zw[zw_per_channel ? c : 0];
    for (int64_t k = 0; k < KK; k++) wv[k] = (w_signed ? ((const int8_t *)w)[c * KK + k] : ((const uint8_t *)w)[c * KK + k]) - z;
    int32_t *yp = acc + nc * P;
    memset(yp, 0, sizeof(int32_t) * (size_t)P);
    for (int64_t ky = 0; ky < p->kh; ky++)
      for (int64_t kx = 0; kx < p->kw; kx++) {
        const int32_t wt = wv[ky * p->kw + kx];
        for (int64_t oy = 0; oy < p->oh; oy++) {
          const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
          if (iy < 0 || iy >= p->h) continue; /* padding reads as zx: adds nothing */
          int64_t ox0 = 0, ox1 = p->ow; /* the columns whose ix lies inside */
          while (ox0 < ox1 && ox0 * p->stride_w - p->pad_l + kx * p->dil_w < 0) ox0++;
          while (ox1 > ox0 && (ox1 - 1) * p->stride_w - p->pad_l + kx * p->dil_w >= p->w) ox1--;
          int32_t *yr = yp + oy * p->ow;
          const int64_t base = (nc * p->h + iy) * p->w - p->pad_l + kx * p->dil_w;
          if (p->stride_w == 1) { /* unit stride: a loop the compiler vectorises */
            if (x_signed) {
              const int8_t *xr = (const int8_t *)x + base;
              for (int64_t ox = ox0; ox < ox1; ox++) yr[ox] += ((int32_t)xr[ox] - zx) * wt;
            } else {
              const uint8_t *xr = (const uint8_t *)x + base;
              for (int64_t ox = ox0; ox < ox1; ox++) yr[ox] += ((int32_t)xr[ox] - zx) * wt;
            }
          } else if (x_signed) {
            const int8_t *xr = (const int8_t *)x + base;
            for (int64_t ox = ox0; ox < ox1; ox++) yr[ox] += ((int32_t)xr[ox * p->stride_w] - zx) * wt;
          } else {
            const uint8_t *xr = (const uint8_t *)x + base;
            for (int64_t ox = ox0; ox < ox1; ox++) yr[ox] += ((int32_t)xr[ox * p->stride_w] - zx) * wt;
          }
        }
      }
    free(heap);
    if (e) cquant__epilogue_channel(e, c, yp, P, (char *)y + (size_t)(nc * P) * es);
  }
  free(planes);
  return oom ? cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory for a depthwise kernel of %lld taps", (long long)KK)
             : CQUANT_STATUS_OK;
}

/* Depthwise on NHWC: every output pixel's channels at once (a loop over C the compiler vectorises),
 * then the epilogue on that row of C channels. */
static int depthwise_nhwc(const cquant__conv2d_t *p, const void *x, int x_signed, int32_t zx, const void *w, int w_signed, const int32_t *zw,
                          int zw_per_channel, const cquant_epilogue_t *e, void *y) {
  const int64_t C = p->c, KK = p->kh * p->kw;
  const size_t es = !e || e->kind == CQUANT_EPI_S32 || e->kind == CQUANT_EPI_F32 ? 4 : 1;
  const int avx2 = cquant_isa_active() >= CQUANT_ISA_AVX2 && KK <= 64;
  int32_t *wt = malloc(sizeof(int32_t) * (size_t)(KK * C) + 16);
  if (!wt) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory");
  for (int64_t c = 0; c < C; c++) /* tap-major, channels contiguous: w - z_w */
    for (int64_t k = 0; k < KK; k++)
      wt[k * C + c] = (w_signed ? ((const int8_t *)w)[c * KK + k] : ((const uint8_t *)w)[c * KK + k]) - zw[zw_per_channel ? c : 0];
  int oom = 0;
#pragma omp parallel if (p->n * p->oh * p->ow * C > 65536)
  {
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)C + 64);
    if (!acc) oom = 1;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < p->n * p->oh; r++) {
      if (oom) continue;
      const int64_t n = r / p->oh, oy = r % p->oh;
      for (int64_t ox = 0; ox < p->ow; ox++) {
        const uint8_t *xs[64];
        const int32_t *ws[64];
        int nt = 0;
        if (!avx2) memset(acc, 0, sizeof(int32_t) * (size_t)C);
        for (int64_t ky = 0; ky < p->kh; ky++) {
          const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
          if (iy < 0 || iy >= p->h) continue;
          for (int64_t kx = 0; kx < p->kw; kx++) {
            const int64_t ix = ox * p->stride_w - p->pad_l + kx * p->dil_w;
            if (ix < 0 || ix >= p->w) continue; /* padding reads as zx: adds nothing */
            const int32_t *wk = wt + (ky * p->kw + kx) * C;
            const uint8_t *xr = (const uint8_t *)x + ((n * p->h + iy) * p->w + ix) * C;
            if (avx2) {
              xs[nt] = xr;
              ws[nt++] = wk;
            } else if (x_signed) {
              for (int64_t c = 0; c < C; c++) acc[c] += ((int32_t)(int8_t)xr[c] - zx) * wk[c];
            } else {
              for (int64_t c = 0; c < C; c++) acc[c] += ((int32_t)xr[c] - zx) * wk[c];
            }
          }
        }
        if (avx2) cquant__dw_pixel_avx2(acc, xs, ws, nt, C, zx, x_signed);
        char *o = (char *)y + (size_t)(((n * p->oh + oy) * p->ow + ox) * C) * es;
        if (e) cquant__epilogue_row(e, acc, C, o);
        else memcpy(o, acc, sizeof(int32_t) * (size_t)C);
      }
    }
    free(acc);
  }
  free(wt);
  return oom ? cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory") : CQUANT_STATUS_OK;
}

/* Whether a convolution gathers its patches channels-last (NHWC input, or NCHW with several channels
 * per group, transposed first): the weights' k order follows. */
static int gathers_nhwc(const cquant__conv2d_t *p, int nhwc) { return nhwc || p->c / p->group >= 4; }

void cquant__qconv2d_packed_free(void *v) {
  cquant__qconv_packed_t *pk = v;
  if (!pk) return;
  for (int64_t g = 0; g < pk->group; g++) cquant_qgemm_weights_free(pk->g[g]);
  free(pk->g);
  free(pk);
}

int cquant__qconv2d_pack(const cquant__conv2d_t *p, int nhwc, const void *w, int w_signed, const int32_t *zw, int zw_per_channel,
                         cquant__qconv_packed_t **out) {
  const int64_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw;
  const int gather_nhwc = gathers_nhwc(p, nhwc);
  cquant__qconv_packed_t *pk = calloc(1, sizeof *pk);
  uint8_t *bt = malloc((size_t)(K * mg) + 64);
  int32_t *zb = malloc(sizeof(int32_t) * (size_t)mg + 4);
  if (pk) pk->g = calloc((size_t)p->group, sizeof *pk->g);
  if (!pk || !pk->g || !bt || !zb) {
    if (pk) free(pk->g);
    free(pk), free(bt), free(zb);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory");
  }
  pk->group = p->group;
  pk->nhwc_order = gather_nhwc;
  const uint8_t *wb = w;
  int st = 0;
  for (int64_t g = 0; g < p->group && !st; g++) {
    /* weights of the group as B (K x mg): B[k][j] = w[g mg + j][k], k in the patch order of the gather */
    for (int64_t j = 0; j < mg; j++) {
      const uint8_t *wm = wb + (g * mg + j) * K; /* ONNX layout: M x C/g x kH x kW */
      for (int64_t c = 0; c < cg; c++)
        for (int64_t ky = 0; ky < p->kh; ky++)
          for (int64_t kx = 0; kx < p->kw; kx++) {
            const int64_t src = (c * p->kh + ky) * p->kw + kx;
            const int64_t k = gather_nhwc ? (ky * p->kw + kx) * cg + c : src; /* NHWC patches run channels fastest */
            bt[k * mg + j] = wm[src];
          }
      zb[j] = zw[zw_per_channel ? g * mg + j : 0];
    }
    st = cquant_qgemm_pack(bt, w_signed, K, mg, mg, zb, 1, &pk->g[g]);
  }
  free(bt), free(zb);
  if (st) { cquant__qconv2d_packed_free(pk); return st; }
  *out = pk;
  return 0;
}

int cquant__qconv2d_s32(const cquant__conv2d_t *p, int nhwc, const void *x, int x_signed, int32_t zx, const void *w, int w_signed,
                        const int32_t *zw, int zw_per_channel, int32_t *y) {
  return cquant__qconv2d_ex(p, nhwc, x, x_signed, zx, w, w_signed, zw, zw_per_channel, NULL, y);
}

int cquant__qconv2d_ex(const cquant__conv2d_t *p, int nhwc, const void *x, int x_signed, int32_t zx, const void *w, int w_signed,
                       const int32_t *zw, int zw_per_channel, const cquant_epilogue_t *e, void *y) {
  return cquant__qconv2d_ex2(p, nhwc, x, x_signed, zx, w, w_signed, zw, zw_per_channel, NULL, e, y);
}

int cquant__qconv2d_ex2(const cquant__conv2d_t *p, int nhwc, const void *x, int x_signed, int32_t zx, const void *w, int w_signed,
                        const int32_t *zw, int zw_per_channel, const cquant__qconv_packed_t *pk, const cquant_epilogue_t *e, void *y) {
  const int64_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw, P = p->oh * p->ow;
  if (!nhwc && cg == 1 && mg == 1 && p->kh * p->kw <= 4096) return depthwise(p, x, x_signed, zx, w, w_signed, zw, zw_per_channel, e, y);
  if (nhwc && cg == 1 && mg == 1) return depthwise_nhwc(p, x, x_signed, zx, w, w_signed, zw, zw_per_channel, e, y);
  const size_t es = !e || e->kind == CQUANT_EPI_S32 || e->kind == CQUANT_EPI_F32 ? 4 : 1;
  /* images per GEMM: as many as fit a 32 MiB im2col buffer (at least one) */
  int64_t nb = (32 << 20) / (P * K > 0 ? P * K : 1);
  nb = nb < 1 ? 1 : nb > p->n ? p->n : nb;
  cquant__qconv_packed_t *own = NULL;
  if (pk && (pk->group != p->group || pk->nhwc_order != gathers_nhwc(p, nhwc)))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qconv2d: packed weights of another layout");
  if (!pk) {
    int s2 = cquant__qconv2d_pack(p, nhwc, w, w_signed, zw, zw_per_channel, &own);
    if (s2) return s2;
  }
  uint8_t *col = malloc((size_t)(nb * P * K) + 64);
  char *acc = nhwc ? NULL : malloc(es * (size_t)(nb * P * mg) + 64);
  if (!col || (!nhwc && !acc)) {
    free(col); free(acc); cquant__qconv2d_packed_free(own);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory for the im2col buffer (%lld x %lld)", (long long)P, (long long)K);
  }
  const uint8_t pad = (uint8_t)zx; /* the zero-point's byte, as uint8 or int8 */
  const uint8_t *xb = x;
  /* NCHW input with several channels per group: each chunk of images is first transposed to NHWC
   * so that a patch row is gathered with one copy of cg bytes per kernel tap */
  const int gather_nhwc = gathers_nhwc(p, nhwc);
  int64_t xt_n0 = -1;
  uint8_t *xt = !nhwc && gather_nhwc ? malloc((size_t)(nb * p->c * p->h * p->w) + 64) : NULL;
  if (!nhwc && gather_nhwc && !xt) {
    free(col); free(acc); cquant__qconv2d_packed_free(own);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qconv2d: out of memory");
  }
  int st = CQUANT_STATUS_OK;
  for (int64_t g = 0; g < p->group && !st; g++) {
    cquant_qgemm_weights_t *pw = pk ? pk->g[g] : own->g[g];
    for (int64_t n0 = 0; n0 < p->n && !st; n0 += nb) {
      const int64_t nn = p->n - n0 < nb ? p->n - n0 : nb;
      if (xt && xt_n0 != n0) { /* built once per chunk (per group when there are several chunks) */
        xt_n0 = n0;
        const int64_t hw = p->h * p->w;
#pragma omp parallel for schedule(static) if (nn * p->c * hw > 65536)
        for (int64_t t = 0; t < nn * hw; t++) {
          const int64_t n = t / hw, i = t % hw;
          const uint8_t *src = xb + (n0 + n) * p->c * hw + i;
          uint8_t *dst = xt + t * p->c;
          for (int64_t c = 0; c < p->c; c++) dst[c] = src[c * hw];
        }
      }
      const int direct = nhwc && p->group == 1 && p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && !p->pad_t &&
                         !p->pad_l && !p->pad_b && !p->pad_r; /* 1 x 1: the NHWC input is already the GEMM's A */
      const uint8_t *a_rows = direct ? xb + n0 * P * p->c : col;
      /* im2col: row (image, oy, ox) holds the patch, in the weights' k order */
#pragma omp parallel for schedule(static) if (nn * P * K > 65536)
      for (int64_t r = 0; r < (direct ? 0 : nn * p->oh); r++) {
        const int64_t n = n0 + r / p->oh, oy = r % p->oh;
        const int64_t iy0 = oy * p->stride_h - p->pad_t, iy1 = iy0 + (p->kh - 1) * p->dil_h;
        for (int64_t ox = 0; ox < p->ow; ox++) {
          uint8_t *row = col + (((n - n0) * p->oh + oy) * p->ow + ox) * K;
          const int64_t ix0 = ox * p->stride_w - p->pad_l, ix1 = ix0 + (p->kw - 1) * p->dil_w;
          if (gather_nhwc && p->group == 1 && p->dil_w == 1 && iy0 >= 0 && iy1 < p->h && ix0 >= 0 && ix1 < p->w) {
            /* an interior patch of a one-group convolution: each kernel row is kw x C contiguous bytes */
            const int64_t len = p->kw * p->c;
            for (int64_t ky = 0; ky < p->kh; ky++) {
              const int64_t iy = iy0 + ky * p->dil_h;
              const uint8_t *src = xt ? xt + (((n - n0) * p->h + iy) * p->w + ix0) * p->c : xb + ((n * p->h + iy) * p->w + ix0) * p->c;
              uint8_t *dst = row + ky * len;
              if (len >= 32) memcpy(dst, src, (size_t)len);
              else
                for (int64_t i = 0; i < len; i++) dst[i] = src[i];
            }
            continue;
          }
          for (int64_t ky = 0; ky < p->kh; ky++) {
            const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
            for (int64_t kx = 0; kx < p->kw; kx++) {
              const int64_t ix = ox * p->stride_w - p->pad_l + kx * p->dil_w;
              const int inside = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
              if (gather_nhwc) {
                uint8_t *dst = row + (ky * p->kw + kx) * cg;
                const uint8_t *base = xt ? xt + (((n - n0) * p->h + iy) * p->w + ix) * p->c : xb + ((n * p->h + iy) * p->w + ix) * p->c;
                if (cg >= 16) {
                  if (inside) memcpy(dst, base + g * cg, (size_t)cg);
                  else memset(dst, pad, (size_t)cg);
                } else if (inside) { /* a few channels: no library call per tap */
                  for (int64_t c = 0; c < cg; c++) dst[c] = base[g * cg + c];
                } else {
                  for (int64_t c = 0; c < cg; c++) dst[c] = pad;
                }
              } else {
                const uint8_t *src = xb + ((n * p->c + g * cg) * p->h + iy) * p->w + ix;
                uint8_t *dst = row + ky * p->kw + kx;
                const int64_t cs = p->h * p->w, ks = p->kh * p->kw;
                if (inside)
                  for (int64_t c = 0; c < cg; c++) dst[c * ks] = src[c * cs];
                else
                  for (int64_t c = 0; c < cg; c++) dst[c * ks] = pad;
              }
            }
          }
        }
      }
      cquant_epilogue_t eg;
      if (e) { /* this group's output channels */
        eg = *e;
        if (eg.bias) eg.bias += g * mg;
        if (eg.per_column) {
          if (eg.m0) eg.m0 += g * mg;
          if (eg.shift) eg.shift += g * mg;
          if (eg.mult) eg.mult += g * mg;
          if (eg.scale) eg.scale += g * mg;
        }
      }
      if (nhwc) { /* the GEMM writes straight into y (pixels x M, this group's columns) */
        char *yo = (char *)y + (size_t)(n0 * P * p->m + g * mg) * es;
        st = e ? cquant_qgemm_ex(a_rows, x_signed, nn * P, K, zx, pw, &eg, yo, p->m) : cquant_qgemm(a_rows, x_signed, nn * P, K, zx, pw, (int32_t *)yo, p->m);
      } else {
        st = e ? cquant_qgemm_ex(col, x_signed, nn * P, K, zx, pw, &eg, acc, mg) : cquant_qgemm(col, x_signed, nn * P, K, zx, pw, (int32_t *)acc, mg);
        if (!st)
#pragma omp parallel for schedule(static) if (nn * P * mg > 65536)
          for (int64_t t = 0; t < nn * mg; t++) { /* pixels x channels -> channel planes */
            const int64_t n = t / mg, j = t % mg;
            const size_t plane = (size_t)(((n0 + n) * p->m + g * mg + j) * P);
            if (es == 4) {
              int32_t *dst = (int32_t *)y + plane;
              const int32_t *a = (const int32_t *)acc + n * P * mg + j;
              for (int64_t i = 0; i < P; i++) dst[i] = a[i * mg];
            } else {
              uint8_t *dst = (uint8_t *)y + plane;
              const uint8_t *a = (const uint8_t *)acc + n * P * mg + j;
              for (int64_t i = 0; i < P; i++) dst[i] = a[i * mg];
            }
          }
      }
    }
  }
  free(col);
  free(acc);
  free(xt);
  cquant__qconv2d_packed_free(own);
  return st;
}
