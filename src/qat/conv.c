/* Conv forward and backward (docs/qat.md eq. 10-11), NCHW float32: im2col + OpenBLAS sgemm per image
 * and group (images split over the threads, each with a single-threaded sgemm, as
 * src/exec/ops/conv.c does); depthwise convolutions (one input and one output channel per group)
 * by direct loops. Weight gradients: one accumulator per thread over a static split of the
 * images, summed in thread order (deterministic for a given thread count). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "qat/qat_internal.h"
#include "exec/ops/conv_par.h"

typedef struct {
  int64_t N, C, H, W, M, OH, OW, G, cg, mg, K, P;
} geo_t;

static int geometry(cquant_qat_t *q, qat_node_t *n, geo_t *g) {
  const qat_val_t *x = &q->val[n->in[0]], *w = &q->val[n->in[1]];
  if (x->ndim != 4 || w->ndim != 4)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "node '%s' (Conv): the trainer handles 4-D input and weights only", n->label);
  g->N = x->shape[0], g->C = x->shape[1], g->H = x->shape[2], g->W = x->shape[3], g->M = w->shape[0], g->G = n->group;
  if (g->C % g->G || g->M % g->G || w->shape[1] != g->C / g->G || w->shape[2] != n->kh || w->shape[3] != n->kw)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Conv): weights do not fit the input", n->label);
  g->cg = g->C / g->G, g->mg = g->M / g->G, g->K = g->cg * n->kh * n->kw;
  g->OH = (g->H + n->pt + n->pb - n->dh * (n->kh - 1) - 1) / n->sh + 1;
  g->OW = (g->W + n->pl + n->pr - n->dw * (n->kw - 1) - 1) / n->sw + 1;
  if (g->OH < 1 || g->OW < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Conv): empty output", n->label);
  g->P = g->OH * g->OW;
  if (n->n_in > 2 && n->in[2] >= 0 && q->val[n->in[2]].numel != g->M)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Conv): bias size", n->label);
  return 0;
}

/* The output columns ox of a row that read input column ox * sw - pl + kx * dw inside 0..W-1. */
static void col_range(const qat_node_t *n, const geo_t *g, int64_t kx, int64_t *o0, int64_t *o1) {
  const int64_t off = kx * n->dw - n->pl; /* ix = ox * sw + off */
  int64_t a = off >= 0 ? 0 : (-off + n->sw - 1) / n->sw, b = g->W - 1 - off < 0 ? 0 : (g->W - 1 - off) / n->sw + 1;
  *o0 = a, *o1 = b < g->OW ? b : g->OW;
  if (*o1 < *o0) *o1 = *o0;
}

/* col[k = (c, ky, kx)][p] of image plane x (cg channels): per output row, the columns whose input
 * lies inside (col_range) copied, the others zero. */
static void im2col(const qat_node_t *n, const geo_t *g, const float *x, float *col) {
  for (int64_t c = 0; c < g->cg; c++)
    for (int64_t ky = 0; ky < n->kh; ky++)
      for (int64_t kx = 0; kx < n->kw; kx++) {
        float *restrict row = col + ((c * n->kh + ky) * n->kw + kx) * g->P;
        const float *plane = x + c * g->H * g->W;
        int64_t o0, o1;
        col_range(n, g, kx, &o0, &o1);
        const int64_t off = kx * n->dw - n->pl;
        for (int64_t oy = 0; oy < g->OH; oy++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          float *restrict dst = row + oy * g->OW;
          if (iy < 0 || iy >= g->H || o1 <= o0) { memset(dst, 0, sizeof(float) * (size_t)g->OW); continue; }
          const float *restrict src = plane + iy * g->W + off;
          for (int64_t ox = 0; ox < o0; ox++) dst[ox] = 0.0f;
          if (n->sw == 1) memcpy(dst + o0, src + o0, sizeof(float) * (size_t)(o1 - o0));
          else
            for (int64_t ox = o0; ox < o1; ox++) dst[ox] = src[ox * n->sw];
          for (int64_t ox = o1; ox < g->OW; ox++) dst[ox] = 0.0f;
        }
      }
}

/* Adds the columns back into the image plane (the transpose of im2col). */
static void col2im(const qat_node_t *n, const geo_t *g, const float *col, float *x) {
  for (int64_t c = 0; c < g->cg; c++)
    for (int64_t ky = 0; ky < n->kh; ky++)
      for (int64_t kx = 0; kx < n->kw; kx++) {
        const float *restrict row = col + ((c * n->kh + ky) * n->kw + kx) * g->P;
        float *plane = x + c * g->H * g->W;
        int64_t o0, o1;
        col_range(n, g, kx, &o0, &o1);
        const int64_t off = kx * n->dw - n->pl;
        for (int64_t oy = 0; oy < g->OH; oy++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          if (iy < 0 || iy >= g->H) continue;
          float *restrict dst = plane + iy * g->W + off;
          const float *restrict src = row + oy * g->OW;
          if (n->sw == 1)
            for (int64_t ox = o0; ox < o1; ox++) dst[ox] += src[ox];
          else
            for (int64_t ox = o0; ox < o1; ox++) dst[ox * n->sw] += src[ox];
        }
      }
}

static int depthwise(const geo_t *g) { return g->cg == 1 && g->mg == 1; }

/* A 1x1 convolution with stride 1 and no padding: the image is its own column matrix. */
static int pointwise(const qat_node_t *n) {
  return n->kh == 1 && n->kw == 1 && n->sh == 1 && n->sw == 1 && !n->pt && !n->pl && !n->pb && !n->pr;
}

/* Depthwise forward of one plane: y = b + sum over (ky, kx) of w * x, in that order per pixel. */
static void dw_plane_fwd(const qat_node_t *n, const geo_t *g, const float *restrict xp, const float *wc, float bias, float *restrict yp) {
  for (int64_t i = 0; i < g->P; i++) yp[i] = bias;
  for (int64_t oy = 0; oy < g->OH; oy++) {
    float *restrict yr = yp + oy * g->OW;
    for (int64_t ky = 0; ky < n->kh; ky++) {
      const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
      if (iy < 0 || iy >= g->H) continue;
      const float *xr = xp + iy * g->W;
      for (int64_t kx = 0; kx < n->kw; kx++) {
        int64_t o0, o1;
        col_range(n, g, kx, &o0, &o1);
        const float wk = wc[ky * n->kw + kx];
        const float *restrict xs = xr + kx * n->dw - n->pl;
        if (n->sw == 1)
          for (int64_t ox = o0; ox < o1; ox++) yr[ox] += wk * xs[ox];
        else
          for (int64_t ox = o0; ox < o1; ox++) yr[ox] += wk * xs[ox * n->sw];
      }
    }
  }
}

/* The parallel loops' context: units are planes (depthwise forward), channels (depthwise
 * backward), images (forward) or fixed groups of images with their own weight-gradient
 * accumulator (backward), so that no result depends on which thread ran a unit. */
typedef struct {
  const qat_node_t *n;
  const geo_t *g;
  const float *x, *w, *b, *gy;
  float *y, *gx, *gw;
  int accx, pw;
  float *cols;    /* per worker: im2col (and the backward's dX columns) */
  int64_t colsz;
  float *acc;     /* backward: one weight-gradient accumulator per group of images */
  int64_t per;    /* images per group */
  double *gwk;    /* depthwise backward: per channel */
} conv_job_t;

static void dw_fwd_planes(void *c, int64_t p0, int64_t p1) {
  const conv_job_t *j = c;
  const geo_t *g = j->g;
  for (int64_t nc = p0; nc < p1; nc++) {
    const int64_t ch = nc % g->C;
    dw_plane_fwd(j->n, g, j->x + nc * g->H * g->W, j->w + ch * j->n->kh * j->n->kw, j->b ? j->b[ch] : 0.0f, j->y + nc * g->P);
  }
}

static void gemm_fwd_image(void *c, int64_t i, int worker) {
  const conv_job_t *j = c;
  const geo_t *g = j->g;
  float *col = j->pw ? NULL : j->cols + (int64_t)worker * j->colsz;
  for (int64_t gi = 0; gi < g->G; gi++) {
    const float *xg = j->x + (i * g->C + gi * g->cg) * g->H * g->W;
    if (!j->pw) im2col(j->n, g, xg, col);
    float *yg = j->y + (i * g->M + gi * g->mg) * g->P;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->mg, (int)g->P, (int)g->K, 1.0f, j->w + gi * g->mg * g->K, (int)g->K,
                j->pw ? xg : col, (int)g->P, 0.0f, yg, (int)g->P);
    if (j->b)
      for (int64_t r = 0; r < g->mg; r++)
        for (int64_t p = 0; p < g->P; p++) yg[r * g->P + p] += j->b[gi * g->mg + r];
  }
}

int cquant__qat_conv_fwd(cquant_qat_t *q, qat_node_t *n) {
  geo_t g;
  int st = geometry(q, n, &g);
  int64_t sh[4] = {g.N, g.M, g.OH, g.OW};
  if (st || (st = cquant__qat_resize(q, n->out, 4, sh))) return st;
  conv_job_t j = {.n = n, .g = &g, .x = q->val[n->in[0]].x, .w = q->val[n->in[1]].x, .y = q->val[n->out].x};
  j.b = n->n_in > 2 && n->in[2] >= 0 ? q->val[n->in[2]].x : NULL;
  if (j.b && !(j.b = cquant__qat_bias_q(q, n, j.b, g.M))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  if (depthwise(&g)) {
    cquant__qat_par_range(g.N * g.C, qat_grain(g.P * n->kh * n->kw), dw_fwd_planes, &j);
    return 0;
  }
  const int T = cquant__qat_nthreads();
  j.pw = pointwise(n), j.colsz = j.pw ? 0 : g.K * g.P;
  j.cols = j.pw ? NULL : cquant__qat_scratch(q, (int64_t)T * j.colsz);
  if (!j.pw && !j.cols) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  cquant__par_blas_enter(); /* single-threaded sgemm in every unit, OpenBLAS's idle workers ended */
  cquant__qat_par(g.N, gemm_fwd_image, &j);
  return 0;
}

/* Depthwise backward of channel c over all images (in order): dx scattered per plane, dw summed. */
static void dw_channel_bwd(const qat_node_t *n, const geo_t *g, int64_t c, const float *x, const float *w, const float *gy, float *gx, int accx,
                           double *gwk) {
  const int64_t KK = n->kh * n->kw;
  gwk += c * KK;
  const float *wc = w + c * KK;
  for (int64_t k = 0; k < KK; k++) gwk[k] = 0;
  for (int64_t i = 0; i < g->N; i++) {
    const float *xp = x + (i * g->C + c) * g->H * g->W, *gp = gy + (i * g->C + c) * g->P;
    float *gxp = gx ? gx + (i * g->C + c) * g->H * g->W : NULL;
    if (gxp && !accx) memset(gxp, 0, sizeof(float) * (size_t)(g->H * g->W));
    for (int64_t ky = 0; ky < n->kh; ky++)
      for (int64_t kx = 0; kx < n->kw; kx++) {
        int64_t o0, o1;
        col_range(n, g, kx, &o0, &o1);
        const float wk = wc[ky * n->kw + kx];
        double s = 0;
        for (int64_t oy = 0; oy < g->OH; oy++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          if (iy < 0 || iy >= g->H || o1 <= o0) continue;
          const float *restrict d = gp + oy * g->OW;
          const int64_t off = iy * g->W + kx * n->dw - n->pl;
          if (n->sw == 1) {
            s += qat_dot(d + o0, xp + off + o0, o1 - o0);
            if (gxp) {
              float *restrict gr = gxp + off;
              for (int64_t ox = o0; ox < o1; ox++) gr[ox] += d[ox] * wk;
            }
          } else {
            for (int64_t ox = o0; ox < o1; ox++) {
              s += (double)d[ox] * xp[off + ox * n->sw];
              if (gxp) gxp[off + ox * n->sw] += d[ox] * wk;
            }
          }
        }
        gwk[ky * n->kw + kx] += s;
      }
  }
}

static void dw_bwd_channels(void *c, int64_t c0, int64_t c1) {
  const conv_job_t *j = c;
  for (int64_t ch = c0; ch < c1; ch++) dw_channel_bwd(j->n, j->g, ch, j->x, j->w, j->gy, j->gx, j->accx, j->gwk);
}

/* Backward of the images of group u: dW into the group's accumulator, dX per image. */
static void gemm_bwd_group(void *c, int64_t u, int worker) {
  const conv_job_t *j = c;
  const geo_t *g = j->g;
  const qat_node_t *n = j->n;
  float *col = j->pw ? NULL : j->cols + (int64_t)worker * j->colsz, *dcol = j->pw ? NULL : col + g->K * g->P;
  float *gwt = j->gw ? j->acc + u * g->M * g->K : NULL;
  const int64_t i0 = u * j->per, i1 = i0 + j->per < g->N ? i0 + j->per : g->N;
  for (int64_t i = i0; i < i1; i++)
    for (int64_t gi = 0; gi < g->G; gi++) {
      const float *gyg = j->gy + (i * g->M + gi * g->mg) * g->P, *xg = j->x + (i * g->C + gi * g->cg) * g->H * g->W;
      const float *wg = j->w + gi * g->mg * g->K;
      if (gwt) {
        if (!j->pw) im2col(n, g, xg, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->mg, (int)g->K, (int)g->P, 1.0f, gyg, (int)g->P, j->pw ? xg : col, (int)g->P,
                    i == i0 ? 0.0f : 1.0f, gwt + gi * g->mg * g->K, (int)g->K);
      }
      if (!j->gx) continue;
      float *gxg = j->gx + (i * g->C + gi * g->cg) * g->H * g->W;
      if (j->pw) { /* dX = W^T dY straight into the gradient (beta 0: the first contribution) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->K, (int)g->P, (int)g->mg, 1.0f, wg, (int)g->K, gyg, (int)g->P,
                    j->accx ? 1.0f : 0.0f, gxg, (int)g->P);
        continue;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->K, (int)g->P, (int)g->mg, 1.0f, wg, (int)g->K, gyg, (int)g->P, 0.0f, dcol,
                  (int)g->P);
      if (!j->accx) memset(gxg, 0, sizeof(float) * (size_t)(g->cg * g->H * g->W));
      col2im(n, g, dcol, gxg);
    }
}

/* Groups of images for the weight gradient: at most this many accumulators (a fixed split of the
 * batch, whatever the thread count). */
#define CONV_GROUPS 8

void cquant__qat_conv_bwd(cquant_qat_t *q, qat_node_t *n) {
  geo_t g;
  if (geometry(q, n, &g)) return;
  const qat_val_t *xv = &q->val[n->in[0]], *wv = &q->val[n->in[1]];
  conv_job_t j = {.n = n, .g = &g, .x = xv->x, .w = wv->x, .gy = q->val[n->out].g};
  j.gx = xv->needs_grad ? xv->g : NULL, j.gw = wv->needs_grad ? wv->g : NULL;
  float *gb = n->n_in > 2 && n->in[2] >= 0 && q->val[n->in[2]].needs_grad ? q->val[n->in[2]].g : NULL;
  j.accx = j.gx ? cquant__qat_grad_acc(q, n->in[0]) : 0;
  const int accw = j.gw ? cquant__qat_grad_acc(q, n->in[1]) : 0;
  if (gb) {
    const int accb = cquant__qat_grad_acc(q, n->in[2]);
    for (int64_t m = 0; m < g.M; m++) {
      double s = 0;
      for (int64_t i = 0; i < g.N; i++) s += qat_sum(j.gy + (i * g.M + m) * g.P, g.P);
      gb[m] = (accb ? gb[m] : 0.0f) + (float)s;
    }
  }
  if (depthwise(&g)) {
    const int64_t KK = n->kh * n->kw;
    j.gwk = (double *)cquant__qat_scratch(q, 2 * g.C * KK);
    if (!j.gwk) return;
    cquant__qat_par_range(g.C, qat_grain(g.N * g.P * KK), dw_bwd_channels, &j);
    if (j.gw)
      for (int64_t k = 0; k < g.C * KK; k++) j.gw[k] = (accw ? j.gw[k] : 0.0f) + (float)j.gwk[k];
    return;
  }
  const int T = cquant__qat_nthreads();
  const int64_t WN = wv->numel, groups = g.N < CONV_GROUPS ? g.N : CONV_GROUPS;
  j.per = (g.N + groups - 1) / groups;
  const int64_t used = (g.N + j.per - 1) / j.per;
  j.pw = pointwise(n), j.colsz = j.pw ? 0 : 2 * g.K * g.P;
  float *buf = cquant__qat_scratch(q, (int64_t)T * j.colsz + (j.gw ? used * WN : 0));
  if (!buf) return;
  j.cols = buf, j.acc = buf + (int64_t)T * j.colsz;
  cquant__par_blas_enter();
  cquant__qat_par(used, gemm_bwd_group, &j);
  if (j.gw)
    for (int64_t k = 0; k < WN; k++) {
      float s = accw ? j.gw[k] : 0.0f;
      for (int64_t u = 0; u < used; u++) s += j.acc[u * WN + k];
      j.gw[k] = s;
    }
}
