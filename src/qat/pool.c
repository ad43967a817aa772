/* MaxPool (argmax kept for the backward pass), AveragePool and GlobalAveragePool over NCHW,
 * forward and backward (docs/qat.md eq. 16). */
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include "qat/qat_internal.h"

static int64_t out_len(int64_t in, int64_t pa, int64_t pb, int64_t k, int64_t s, int64_t d, int ceil_mode) {
  const int64_t span = in + pa + pb - d * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (o - 1) * s >= in + pa) o--; /* the last window must start inside */
  return o;
}

int cquant__qat_pool_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *xv = &q->val[n->in[0]];
  if (xv->ndim != 4) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "node '%s': the trainer pools 4-D NCHW tensors only", n->label);
  const int64_t N = xv->shape[0], C = xv->shape[1], H = xv->shape[2], W = xv->shape[3];
  const float *x = xv->x;
  int st;
  if (n->op == QOP_GAP) {
    int64_t sh[4] = {N, C, 1, 1};
    if ((st = cquant__qat_resize(q, n->out, 4, sh))) return st;
    for (int64_t i = 0; i < N * C; i++) {
      double s = 0;
      for (int64_t j = 0; j < H * W; j++) s += x[i * H * W + j];
      q->val[n->out].x[i] = (float)(s / (double)(H * W));
    }
    return 0;
  }
  const int64_t OH = out_len(H, n->pt, n->pb, n->kh, n->sh, n->dh, n->ceil_mode), OW = out_len(W, n->pl, n->pr, n->kw, n->sw, n->dw, n->ceil_mode);
  if (OH < 1 || OW < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s': empty pooling output", n->label);
  int64_t sh[4] = {N, C, OH, OW};
  if ((st = cquant__qat_resize(q, n->out, 4, sh))) return st;
  float *y = q->val[n->out].x;
  const int is_max = n->op == QOP_MAXPOOL;
  if (is_max && N * C * OH * OW > n->idxcap) {
    free(n->idx);
    n->idx = malloc(sizeof(int32_t) * (size_t)(N * C * OH * OW));
    n->idxcap = n->idx ? N * C * OH * OW : 0;
    if (!n->idx) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  }
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; p++) {
    const float *xp = x + p * H * W;
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        float best = -FLT_MAX;
        int32_t bi = -1;
        double s = 0;
        int64_t cnt = 0, cnt_pad = 0;
        for (int64_t ky = 0; ky < n->kh; ky++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          for (int64_t kx = 0; kx < n->kw; kx++) {
            const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
            if (iy < H + n->pb && ix < W + n->pr) cnt_pad++;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const float v = xp[iy * W + ix];
            if (v > best || bi < 0) best = v, bi = (int32_t)(iy * W + ix);
            s += v, cnt++;
          }
        }
        const int64_t o = (p * OH + oy) * OW + ox;
        if (is_max) y[o] = bi >= 0 ? best : 0.0f, n->idx[o] = bi;
        else y[o] = (float)(s / (double)((n->count_include_pad ? cnt_pad : cnt) ? (n->count_include_pad ? cnt_pad : cnt) : 1));
      }
  }
  return 0;
}

void cquant__qat_pool_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *xv = &q->val[n->in[0]];
  if (!xv->needs_grad) return;
  const int64_t N = xv->shape[0], C = xv->shape[1], H = xv->shape[2], W = xv->shape[3];
  const qat_val_t *yv = &q->val[n->out];
  const float *gy = yv->g;
  if (n->op == QOP_GAP) {
    for (int64_t i = 0; i < N * C; i++) {
      const float d = gy[i] / (float)(H * W);
      for (int64_t j = 0; j < H * W; j++) xv->g[i * H * W + j] += d;
    }
    return;
  }
  const int64_t OH = yv->shape[2], OW = yv->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; p++) {
    float *gx = xv->g + p * H * W;
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        const int64_t o = (p * OH + oy) * OW + ox;
        if (n->op == QOP_MAXPOOL) {
          if (n->idx[o] >= 0) gx[n->idx[o]] += gy[o];
          continue;
        }
        int64_t cnt = 0, cnt_pad = 0;
        for (int pass = 0; pass < 2; pass++)
          for (int64_t ky = 0; ky < n->kh; ky++) {
            const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
            for (int64_t kx = 0; kx < n->kw; kx++) {
              const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
              if (pass == 0) {
                if (iy < H + n->pb && ix < W + n->pr) cnt_pad++;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) cnt++;
                continue;
              }
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const int64_t div = n->count_include_pad ? cnt_pad : cnt;
              gx[iy * W + ix] += gy[o] / (float)(div ? div : 1);
            }
          }
      }
  }
}
