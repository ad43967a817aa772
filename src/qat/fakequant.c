/* Fake quantization in training (docs/qat.md eq. 2-3 forward, eq. 4-9 backward).
 *
 * Weights, per output channel (axis 0), symmetric and narrow: y = s * clamp(round(w / s), -Q, Q),
 * Q = 2^(b-1) - 1. STE: s = r_c * max|w_c| / Q every step, r_c the clipping ratio that minimised the
 * channel's quantization MSE at the first step (1 at 8 bits); LSQ: s is a trained parameter
 * initialised the same way.
 * Activations, per tensor, unsigned: y = s * (clamp(round(x / s + z), 0, 2^b - 1) - z) with z the
 * rounded offset (the zero-point written on export). STE: the range comes from calibration (or the
 * first batch), follows an EMA for ema_steps training steps and is then frozen; LSQ(+): s and z are
 * trained parameters. Gradients: the clipped straight-through estimator (eq. 5) for x, the LSQ
 * gradient (eq. 6-8) scaled by 1 / sqrt(n Q) (eq. 9) for s and z. */
#include <math.h>
#include <string.h>
#include "qat/qat_internal.h"

void cquant__qat_range_qparams(double lo, double hi, int qmax, float *s, float *z) {
  lo = lo < 0 ? lo : 0, hi = hi > 0 ? hi : 0;
  double sc = (hi - lo) / qmax;
  if (!(sc > 1e-12)) sc = 1.0 / qmax;
  double zp = nearbyint(-lo / sc);
  *s = (float)sc;
  *z = (float)(zp < 0 ? 0 : zp > qmax ? qmax : zp);
}

/* round half to even of |v| < 2^22 by adding and subtracting 1.5 * 2^23 (the default rounding
 * mode; the same result as rintf, inlined and vectorizable) */
static inline float rnd(float v) { return (v + 12582912.0f) - 12582912.0f; }

static inline float fq1(float x, float inv_s, float s, float zr, float qmin, float qmax) {
  float v = x * inv_s + zr;
  v = v < qmin - 1.0f ? qmin - 1.0f : v > qmax + 1.0f ? qmax + 1.0f : v; /* in range for rnd (NaN stays NaN) */
  v = rnd(v);
  v = v < qmin ? qmin : v > qmax ? qmax : v;
  return (v - zr) * s;
}

/* The clipping ratio of one weight channel with the smallest quantization error (grid 1.00,
 * 0.99, ..., 0.30): the STE's fixed fraction of max|w| and LSQ's initial step. */
static float mse_ratio(const float *w, int64_t n, float amax, int Q) {
  if (!(amax > 0)) return 1.0f;
  double best = -1;
  float br = 1.0f;
  for (int k = 100; k >= 30; k--) {
    const float r = k / 100.0f, s = r * amax / Q, inv = 1.0f / s;
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
      const float d = fq1(w[i], inv, s, 0.0f, (float)-Q, (float)Q) - w[i];
      e += (double)d * d;
    }
    if (best < 0 || e < best) best = e, br = r;
  }
  return br;
}

static int weight_fwd(cquant_qat_t *q, qat_node_t *n) {
  qat_fq_t *f = n->fq;
  const qat_val_t *wv = &q->val[n->in[0]];
  float *s = q->val[n->in[1]].x;
  const int64_t C = f->C, per = wv->numel / (C ? C : 1);
  if (wv->numel != C * per || wv->shape[0] != C) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: weights of '%s' changed shape", n->label);
  int st = cquant__qat_resize(q, n->out, wv->ndim, wv->shape);
  if (st) return st;
  const float *w = wv->x;
  float *y = q->val[n->out].x;
  for (int64_t c = 0; c < C; c++) {
    const float *wc = w + c * per;
    if (!f->lsq || !f->initialized) {
      float amax = 0;
      for (int64_t i = 0; i < per; i++) amax = fabsf(wc[i]) > amax ? fabsf(wc[i]) : amax;
      if (!f->initialized) f->ratio[c] = f->bits >= 8 ? 1.0f : mse_ratio(wc, per, amax, f->qmax);
      s[c] = amax > 0 ? f->ratio[c] * amax / f->qmax : 1e-8f;
    }
    const float sc = s[c], inv = 1.0f / sc;
    for (int64_t i = 0; i < per; i++) y[c * per + i] = fq1(wc[i], inv, sc, 0.0f, (float)f->qmin, (float)f->qmax);
  }
  f->initialized = 1;
  f->grad_scale = (float)(1.0 / sqrt((double)per * f->qmax));
  return 0;
}

static void weight_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_fq_t *f = n->fq;
  qat_val_t *wv = &q->val[n->in[0]], *sv = &q->val[n->in[1]];
  const int64_t C = f->C, per = wv->numel / C;
  const float *gy = q->val[n->out].g;
  for (int64_t c = 0; c < C; c++) {
    const float sc = sv->x[c], inv = 1.0f / sc;
    if (!sv->needs_grad) { /* STE only: the clipped pass-through (eq. 5) */
      const float lo = (float)f->qmin, hi = (float)f->qmax;
      const float *w = wv->x + c * per, *g = gy + c * per;
      float *gw = wv->g + c * per;
      if (wv->needs_grad)
        for (int64_t i = 0; i < per; i++) {
          const float u = w[i] * inv;
          gw[i] += u >= lo && u <= hi ? g[i] : 0.0f;
        }
      continue;
    }
    double gs = 0;
    for (int64_t i = 0; i < per; i++) {
      const int64_t k = c * per + i;
      const float u = wv->x[k] * inv;
      if (u < f->qmin) gs += (double)gy[k] * f->qmin;
      else if (u > f->qmax) gs += (double)gy[k] * f->qmax;
      else {
        if (wv->needs_grad) wv->g[k] += gy[k];
        gs += (double)gy[k] * (rnd(u) - u);
      }
    }
    if (sv->needs_grad) sv->g[c] += (float)(gs * f->grad_scale);
  }
}

static void act_minmax(const float *x, int64_t n, double *lo, double *hi) {
  float a = n ? x[0] : 0, b = a;
  for (int64_t i = 1; i < n; i++) a = x[i] < a ? x[i] : a, b = x[i] > b ? x[i] : b;
  *lo = a, *hi = b;
}

static int act_fwd(cquant_qat_t *q, qat_node_t *n, int training) {
  qat_fq_t *f = n->fq;
  const qat_val_t *xv = &q->val[n->in[0]];
  float *s = q->val[n->in[1]].x, *z = q->val[n->in[2]].x;
  int st = cquant__qat_resize(q, n->out, xv->ndim, xv->shape);
  if (st) return st;
  if (!f->initialized) {
    act_minmax(xv->x, xv->numel, &f->lo, &f->hi);
    cquant__qat_range_qparams(f->lo, f->hi, f->qmax, s, z);
    f->initialized = 1;
  } else if (training && !f->lsq && f->ema_left > 0) {
    double lo, hi;
    act_minmax(xv->x, xv->numel, &lo, &hi);
    f->lo = f->ema_decay * f->lo + (1 - f->ema_decay) * lo;
    f->hi = f->ema_decay * f->hi + (1 - f->ema_decay) * hi;
    cquant__qat_range_qparams(f->lo, f->hi, f->qmax, s, z);
    f->ema_left--;
  }
  if (!(s[0] > 1e-12f)) s[0] = 1e-12f;
  const int64_t N = xv->shape[0] > 0 ? xv->shape[0] : 1;
  f->grad_scale = (float)(1.0 / sqrt((double)(xv->numel / N) * f->qmax));
  float zr = nearbyintf(z[0]);
  zr = zr < f->qmin ? (float)f->qmin : zr > f->qmax ? (float)f->qmax : zr;
  const float sc = s[0], inv = 1.0f / sc;
  const float *x = xv->x;
  float *y = q->val[n->out].x;
  const int64_t total = xv->numel;
#pragma omp parallel for schedule(static) if (total > 65536)
  for (int64_t i = 0; i < total; i++) y[i] = fq1(x[i], inv, sc, zr, (float)f->qmin, (float)f->qmax);
  return 0;
}

static void act_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_fq_t *f = n->fq;
  qat_val_t *xv = &q->val[n->in[0]], *sv = &q->val[n->in[1]], *zv = &q->val[n->in[2]];
  float zr = nearbyintf(zv->x[0]);
  zr = zr < f->qmin ? (float)f->qmin : zr > f->qmax ? (float)f->qmax : zr;
  const float sc = sv->x[0], inv = 1.0f / sc;
  const float *gy = q->val[n->out].g, *x = xv->x;
  if (!sv->needs_grad && !zv->needs_grad) { /* STE only */
    const float lo = (float)f->qmin, hi = (float)f->qmax;
    float *gx = xv->g;
    if (xv->needs_grad)
      for (int64_t i = 0; i < xv->numel; i++) {
        const float u = x[i] * inv + zr;
        gx[i] += u >= lo && u <= hi ? gy[i] : 0.0f;
      }
    return;
  }
  double gs = 0, gz = 0;
  for (int64_t i = 0; i < xv->numel; i++) {
    const float u = x[i] * inv + zr;
    if (u < f->qmin) gs += (double)gy[i] * (f->qmin - zr), gz -= (double)gy[i] * sc;
    else if (u > f->qmax) gs += (double)gy[i] * (f->qmax - zr), gz -= (double)gy[i] * sc;
    else {
      if (xv->needs_grad) xv->g[i] += gy[i];
      gs += (double)gy[i] * (rnd(u) - u);
    }
  }
  if (sv->needs_grad) sv->g[0] += (float)(gs * f->grad_scale);
  if (zv->needs_grad) zv->g[0] += (float)(gz * f->grad_scale);
}

int cquant__qat_fq_fwd(cquant_qat_t *q, qat_node_t *n, int training) { return n->fq->weight ? weight_fwd(q, n) : act_fwd(q, n, training); }

void cquant__qat_fq_bwd(cquant_qat_t *q, qat_node_t *n) {
  if (n->fq->weight) weight_bwd(q, n);
  else act_bwd(q, n);
}
