/* Conv forward and backward (docs/qat.md eq. 10-11), NCHW float32: im2col + OpenBLAS sgemm per image
 * and group (images split over the threads, each with a single-threaded sgemm, as
 * src/exec/ops/conv.c does); depthwise convolutions (one input and one output channel per group)
 * by direct loops. Weight gradients: one accumulator per thread over a static split of the
 * images, summed in thread order (deterministic for a given thread count). */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "qat/qat_internal.h"

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

/* col[k = (c, ky, kx)][p] of image plane x (cg channels) */
static void im2col(const qat_node_t *n, const geo_t *g, const float *x, float *col) {
  for (int64_t c = 0; c < g->cg; c++)
    for (int64_t ky = 0; ky < n->kh; ky++)
      for (int64_t kx = 0; kx < n->kw; kx++) {
        float *row = col + ((c * n->kh + ky) * n->kw + kx) * g->P;
        const float *plane = x + c * g->H * g->W;
        for (int64_t oy = 0; oy < g->OH; oy++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          float *dst = row + oy * g->OW;
          if (iy < 0 || iy >= g->H) { memset(dst, 0, sizeof(float) * (size_t)g->OW); continue; }
          const float *src = plane + iy * g->W;
          for (int64_t ox = 0; ox < g->OW; ox++) {
            const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
            dst[ox] = ix >= 0 && ix < g->W ? src[ix] : 0.0f;
          }
        }
      }
}

static void col2im(const qat_node_t *n, const geo_t *g, const float *col, float *x) {
  for (int64_t c = 0; c < g->cg; c++)
    for (int64_t ky = 0; ky < n->kh; ky++)
      for (int64_t kx = 0; kx < n->kw; kx++) {
        const float *row = col + ((c * n->kh + ky) * n->kw + kx) * g->P;
        float *plane = x + c * g->H * g->W;
        for (int64_t oy = 0; oy < g->OH; oy++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          if (iy < 0 || iy >= g->H) continue;
          for (int64_t ox = 0; ox < g->OW; ox++) {
            const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
            if (ix >= 0 && ix < g->W) plane[iy * g->W + ix] += row[oy * g->OW + ox];
          }
        }
      }
}

static int depthwise(const geo_t *g) { return g->cg == 1 && g->mg == 1; }

int cquant__qat_conv_fwd(cquant_qat_t *q, qat_node_t *n) {
  geo_t g;
  int st = geometry(q, n, &g);
  int64_t sh[4] = {g.N, g.M, g.OH, g.OW};
  if (st || (st = cquant__qat_resize(q, n->out, 4, sh))) return st;
  const float *x = q->val[n->in[0]].x, *w = q->val[n->in[1]].x;
  const float *b = n->n_in > 2 && n->in[2] >= 0 ? q->val[n->in[2]].x : NULL;
  float *y = q->val[n->out].x;
  const int T = omp_get_max_threads();
  if (depthwise(&g)) {
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < g.N * g.C; nc++) {
      const int64_t c = nc % g.C;
      const float *xp = x + nc * g.H * g.W, *wc = w + c * n->kh * n->kw;
      float *yp = y + nc * g.P;
      for (int64_t oy = 0; oy < g.OH; oy++)
        for (int64_t ox = 0; ox < g.OW; ox++) {
          float s = b ? b[c] : 0.0f;
          for (int64_t ky = 0; ky < n->kh; ky++) {
            const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
            if (iy < 0 || iy >= g.H) continue;
            for (int64_t kx = 0; kx < n->kw; kx++) {
              const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
              if (ix >= 0 && ix < g.W) s += wc[ky * n->kw + kx] * xp[iy * g.W + ix];
            }
          }
          yp[oy * g.OW + ox] = s;
        }
    }
    return 0;
  }
  float *cols = cquant__qat_scratch(q, (int64_t)T * g.K * g.P);
  if (!cols) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  openblas_set_num_threads(1);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < g.N; i++) {
    float *col = cols + (int64_t)omp_get_thread_num() * g.K * g.P;
    for (int64_t gi = 0; gi < g.G; gi++) {
      im2col(n, &g, x + (i * g.C + gi * g.cg) * g.H * g.W, col);
      float *yg = y + (i * g.M + gi * g.mg) * g.P;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.mg, (int)g.P, (int)g.K, 1.0f, w + gi * g.mg * g.K, (int)g.K, col, (int)g.P,
                  0.0f, yg, (int)g.P);
      if (b)
        for (int64_t j = 0; j < g.mg; j++)
          for (int64_t p = 0; p < g.P; p++) yg[j * g.P + p] += b[gi * g.mg + j];
    }
  }
  openblas_set_num_threads(T);
  return 0;
}

void cquant__qat_conv_bwd(cquant_qat_t *q, qat_node_t *n) {
  geo_t g;
  if (geometry(q, n, &g)) return;
  const qat_val_t *xv = &q->val[n->in[0]], *wv = &q->val[n->in[1]];
  const float *x = xv->x, *w = wv->x, *gy = q->val[n->out].g;
  float *gx = xv->needs_grad ? xv->g : NULL, *gw = wv->needs_grad ? wv->g : NULL;
  float *gb = n->n_in > 2 && n->in[2] >= 0 && q->val[n->in[2]].needs_grad ? q->val[n->in[2]].g : NULL;
  if (gb)
    for (int64_t m = 0; m < g.M; m++) {
      double s = 0;
      for (int64_t i = 0; i < g.N; i++)
        for (int64_t p = 0; p < g.P; p++) s += gy[(i * g.M + m) * g.P + p];
      gb[m] += (float)s;
    }
  const int T = omp_get_max_threads();
  if (depthwise(&g)) {
    const int64_t KK = n->kh * n->kw;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < g.C; c++) {
      for (int64_t i = 0; i < g.N; i++) {
        const float *xp = x + (i * g.C + c) * g.H * g.W, *gp = gy + (i * g.C + c) * g.P, *wc = w + c * KK;
        float *gxp = gx ? gx + (i * g.C + c) * g.H * g.W : NULL;
        for (int64_t ky = 0; ky < n->kh; ky++)
          for (int64_t kx = 0; kx < n->kw; kx++) {
            float s = 0.0f;
            const float wk = wc[ky * n->kw + kx];
            for (int64_t oy = 0; oy < g.OH; oy++) {
              const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
              if (iy < 0 || iy >= g.H) continue;
              for (int64_t ox = 0; ox < g.OW; ox++) {
                const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
                if (ix < 0 || ix >= g.W) continue;
                const float d = gp[oy * g.OW + ox];
                s += d * xp[iy * g.W + ix];
                if (gxp) gxp[iy * g.W + ix] += d * wk;
              }
            }
            if (gw) gw[c * KK + ky * n->kw + kx] += s;
          }
      }
    }
    return;
  }
  const int64_t WN = wv->numel;
  float *buf = cquant__qat_scratch(q, (int64_t)T * (2 * g.K * g.P + (gw ? WN : 0)));
  if (!buf) return;
  float *acc = buf + (int64_t)T * 2 * g.K * g.P;
  if (gw) memset(acc, 0, sizeof(float) * (size_t)(T * WN));
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    float *col = buf + (int64_t)t * 2 * g.K * g.P, *dcol = col + g.K * g.P, *gwt = gw ? acc + t * WN : NULL;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < g.N; i++)
      for (int64_t gi = 0; gi < g.G; gi++) {
        const float *gyg = gy + (i * g.M + gi * g.mg) * g.P;
        if (gwt) {
          im2col(n, &g, x + (i * g.C + gi * g.cg) * g.H * g.W, col);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g.mg, (int)g.K, (int)g.P, 1.0f, gyg, (int)g.P, col, (int)g.P, 1.0f,
                      gwt + gi * g.mg * g.K, (int)g.K);
        }
        if (gx) {
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.K, (int)g.P, (int)g.mg, 1.0f, w + gi * g.mg * g.K, (int)g.K, gyg, (int)g.P,
                      0.0f, dcol, (int)g.P);
          col2im(n, &g, dcol, gx + (i * g.C + gi * g.cg) * g.H * g.W);
        }
      }
  }
  openblas_set_num_threads(T);
  if (gw)
    for (int t = 0; t < T; t++)
      for (int64_t j = 0; j < WN; j++) gw[j] += acc[t * WN + j];
}
