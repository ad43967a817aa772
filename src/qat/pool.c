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

/* One unit per range of planes (image, channel); the backward pass zeroes each plane of the input
 * gradient it writes first (cquant__qat_grad_acc) and scatters into it. */
typedef struct {
  const qat_node_t *n;
  int64_t H, W, OH, OW;
  const float *x, *gy;
  float *y, *gx;
  int acc;
} pool_job_t;

static void gap_fwd_planes(void *c, int64_t p0, int64_t p1) {
  const pool_job_t *j = c;
  const int64_t HW = j->H * j->W;
  for (int64_t p = p0; p < p1; p++) j->y[p] = (float)(qat_sum(j->x + p * HW, HW) / (double)HW);
}

static void gap_bwd_planes(void *c, int64_t p0, int64_t p1) {
  const pool_job_t *j = c;
  const int64_t HW = j->H * j->W;
  for (int64_t p = p0; p < p1; p++) {
    const float d = j->gy[p] / (float)HW;
    float *gr = j->gx + p * HW;
    if (j->acc)
      for (int64_t k = 0; k < HW; k++) gr[k] += d;
    else
      for (int64_t k = 0; k < HW; k++) gr[k] = d;
  }
}

static void pool_fwd_planes(void *c, int64_t p0, int64_t p1) {
  const pool_job_t *j = c;
  const qat_node_t *n = j->n;
  const int64_t H = j->H, W = j->W, OH = j->OH, OW = j->OW;
  const int is_max = n->op == QOP_MAXPOOL;
  for (int64_t p = p0; p < p1; p++) {
    const float *xp = j->x + p * H * W;
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
        const int64_t div = n->count_include_pad ? cnt_pad : cnt;
        if (is_max) j->y[o] = bi >= 0 ? best : 0.0f, n->idx[o] = bi;
        else j->y[o] = (float)(s / (double)(div ? div : 1));
      }
  }
}

static void pool_bwd_planes(void *c, int64_t p0, int64_t p1) {
  const pool_job_t *j = c;
  const qat_node_t *n = j->n;
  const int64_t H = j->H, W = j->W, OH = j->OH, OW = j->OW;
  for (int64_t p = p0; p < p1; p++) {
    float *gx = j->gx + p * H * W;
    if (!j->acc) memset(gx, 0, sizeof(float) * (size_t)(H * W));
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        const int64_t o = (p * OH + oy) * OW + ox;
        const float d = j->gy[o];
        if (n->op == QOP_MAXPOOL) {
          if (n->idx[o] >= 0) gx[n->idx[o]] += d;
          continue;
        }
        int64_t cnt = 0, cnt_pad = 0;
        for (int64_t ky = 0; ky < n->kh; ky++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          for (int64_t kx = 0; kx < n->kw; kx++) {
            const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
            if (iy < H + n->pb && ix < W + n->pr) cnt_pad++;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) cnt++;
          }
        }
        const int64_t div = n->count_include_pad ? cnt_pad : cnt;
        const float share = d / (float)(div ? div : 1);
        for (int64_t ky = 0; ky < n->kh; ky++) {
          const int64_t iy = oy * n->sh - n->pt + ky * n->dh;
          if (iy < 0 || iy >= H) continue;
          for (int64_t kx = 0; kx < n->kw; kx++) {
            const int64_t ix = ox * n->sw - n->pl + kx * n->dw;
            if (ix >= 0 && ix < W) gx[iy * W + ix] += share;
          }
        }
      }
  }
}

int cquant__qat_pool_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *xv = &q->val[n->in[0]];
  if (xv->ndim != 4) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "node '%s': the trainer pools 4-D NCHW tensors only", n->label);
  const int64_t N = xv->shape[0], C = xv->shape[1], H = xv->shape[2], W = xv->shape[3];
  int st;
  pool_job_t j = {.n = n, .H = H, .W = W, .x = xv->x};
  if (n->op == QOP_GAP) {
    int64_t sh[4] = {N, C, 1, 1};
    if ((st = cquant__qat_resize(q, n->out, 4, sh))) return st;
    j.y = q->val[n->out].x;
    cquant__qat_par_range(N * C, qat_grain(H * W), gap_fwd_planes, &j);
    return 0;
  }
  const int64_t OH = out_len(H, n->pt, n->pb, n->kh, n->sh, n->dh, n->ceil_mode), OW = out_len(W, n->pl, n->pr, n->kw, n->sw, n->dw, n->ceil_mode);
  if (OH < 1 || OW < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s': empty pooling output", n->label);
  int64_t sh[4] = {N, C, OH, OW};
  if ((st = cquant__qat_resize(q, n->out, 4, sh))) return st;
  if (n->op == QOP_MAXPOOL && N * C * OH * OW > n->idxcap) {
    free(n->idx);
    n->idx = malloc(sizeof(int32_t) * (size_t)(N * C * OH * OW));
    n->idxcap = n->idx ? N * C * OH * OW : 0;
    if (!n->idx) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  }
  j.OH = OH, j.OW = OW, j.y = q->val[n->out].x;
  cquant__qat_par_range(N * C, qat_grain(H * W), pool_fwd_planes, &j);
  return 0;
}

void cquant__qat_pool_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *xv = &q->val[n->in[0]];
  if (!xv->needs_grad) return;
  const int64_t N = xv->shape[0], C = xv->shape[1], H = xv->shape[2], W = xv->shape[3];
  const qat_val_t *yv = &q->val[n->out];
  pool_job_t j = {.n = n, .H = H, .W = W, .gy = yv->g, .gx = xv->g, .acc = cquant__qat_grad_acc(q, n->in[0])};
  if (n->op != QOP_GAP) j.OH = yv->shape[2], j.OW = yv->shape[3];
  cquant__qat_par_range(N * C, qat_grain(H * W), n->op == QOP_GAP ? gap_bwd_planes : pool_bwd_planes, &j);
}
