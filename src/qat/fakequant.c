/* Fake quantization in training (docs/qat.md eq. 2-3 forward, eq. 4-9 backward).
 *
 * Weights, per output channel (axis 0), symmetric and narrow: y = s * clamp(round(w / s), -Q, Q),
 * Q = 2^(b-1) - 1. STE: s = r_c * max|w_c| / Q every step, r_c = 1 or (weight_clip, docs/qat.md
 * section 2) the clipping ratio that minimised the channel's quantization MSE at the first step;
 * LSQ: s is a trained parameter initialised the same way.
 * Activations, per tensor, unsigned: y = s * (clamp(round(x / s + z), 0, 2^b - 1) - z) with z the
 * rounded offset (the zero-point written on export). STE: the range comes from calibration (or the
 * first batch), follows an EMA for ema_steps training steps and is then frozen; LSQ(+): s and z are
 * trained parameters. Gradients: the clipped straight-through estimator (eq. 5) for x, the LSQ
 * gradient (eq. 6-8) scaled by 1 / sqrt(n Q) (eq. 9) for s and z. */
#include <math.h>
#include <stdlib.h>
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
  v = v < qmin - 1.0f ? qmin - 1.0f : v; /* in range for rnd (NaN stays NaN) */
  v = v > qmax + 1.0f ? qmax + 1.0f : v;
  v = rnd(v);
  v = v < qmin ? qmin : v;
  v = v > qmax ? qmax : v;
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

/* LSQ on folded weights (eq. 9a): the node's scale is the trained step of W times the fold. */
void cquant__qat_fq_fold_scale(cquant_qat_t *q, const qat_node_t *n) {
  if (n->n_in < 4) return;
  float *s = q->val[n->in[1]].x;
  const float *t = q->val[n->in[2]].x, *fold = q->val[n->in[3]].x;
  for (int64_t c = 0; c < n->fq->C; c++) s[c] = t[c] * fold[c];
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
  if (f->lsq && f->initialized) cquant__qat_fq_fold_scale(q, n);
  /* docs/qat.md section 2: 8-bit weights are never clipped; AUTO clips below CQUANT__QAT_CLIP_BITS bits */
  const cquant_qat_clip_t clip = q->opt.weight_clip;
  const int clip_mse = f->bits < 8 && (clip == CQUANT_QAT_CLIP_MSE || (clip == CQUANT_QAT_CLIP_AUTO && f->bits < CQUANT__QAT_CLIP_BITS));
  for (int64_t c = 0; c < C; c++) {
    const float *wc = w + c * per;
    if (!f->lsq || !f->initialized) {
      float amax = 0;
      for (int64_t i = 0; i < per; i++) amax = fabsf(wc[i]) > amax ? fabsf(wc[i]) : amax;
      if (!f->initialized) f->ratio[c] = clip_mse ? mse_ratio(wc, per, amax, f->qmax) : 1.0f;
      s[c] = amax > 0 ? f->ratio[c] * amax / f->qmax : 1e-8f;
      if (f->lsq && n->n_in > 3) { /* the trained step of W: s_c / fold_c (eq. 9a) */
        const float fc = q->val[n->in[3]].x[c];
        q->val[n->in[2]].x[c] = fc != 0 && s[c] / fc > 1e-8f ? s[c] / fc : 1e-8f;
        s[c] = q->val[n->in[2]].x[c] * fc;
      }
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
  /* the trained step: the scale itself, or (folded, eq. 9a) the step t of W with s = t fold */
  qat_val_t *tv = n->n_in > 3 ? &q->val[n->in[2]] : sv;
  const float *fold = n->n_in > 3 ? q->val[n->in[3]].x : NULL;
  const int64_t C = f->C, per = wv->numel / C;
  const float *gy = q->val[n->out].g;
  const int accw = wv->needs_grad ? cquant__qat_grad_acc(q, n->in[0]) : 0;
  const int accs = tv->needs_grad ? cquant__qat_grad_acc(q, n->n_in > 3 ? n->in[2] : n->in[1]) : 0;
  const float lo = (float)f->qmin, hi = (float)f->qmax;
  for (int64_t c = 0; c < C; c++) {
    const float sc = sv->x[c], inv = 1.0f / sc;
    const float *w = wv->x + c * per, *g = gy + c * per;
    float *gw = wv->needs_grad ? wv->g + c * per : NULL;
    if (gw) /* the clipped pass-through (eq. 5) */
      for (int64_t i = 0; i < per; i++) {
        const float u = w[i] * inv;
        gw[i] = (accw ? gw[i] : 0.0f) + (u >= lo && u <= hi ? g[i] : 0.0f);
      }
    if (!tv->needs_grad) continue;
    double gs = 0; /* eq. 6-7 */
    for (int64_t i = 0; i < per; i++) {
      const float u = w[i] * inv;
      gs += (double)g[i] * (u < lo ? lo : u > hi ? hi : rnd(u) - u);
    }
    if (fold) gs *= fold[c]; /* ds/dt = fold (eq. 9a) */
    tv->g[c] = (accs ? tv->g[c] : 0.0f) + (float)(gs * f->grad_scale);
  }
}

/* The activations' loops: ranges of FQ_GRAIN elements (cquant__qat_par_range). */
#define FQ_GRAIN 16384
#define FQ_MAXPART 4096 /* LSQ's per-range sums (larger tensors use longer ranges) */

typedef struct {
  const float *x, *gy;
  float *y, *gx;
  float inv, s, zr, lo, hi;
  int acc;
  int64_t grain;
  float *mn, *mx;       /* min/max per range */
  double *ps, *pz;      /* LSQ sums per range (eq. 6-8) */
} fq_job_t;

static void minmax_range(void *c, int64_t i0, int64_t i1) {
  const fq_job_t *j = c;
  const float *restrict x = j->x;
  float a[8], b[8]; /* lanes (NaN is skipped as the comparisons are false) */
  for (int l = 0; l < 8; l++) a[l] = b[l] = x[i0];
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8)
    for (int l = 0; l < 8; l++) {
      const float v = x[i + l];
      a[l] = v < a[l] ? v : a[l], b[l] = v > b[l] ? v : b[l];
    }
  for (; i < i1; i++) a[0] = x[i] < a[0] ? x[i] : a[0], b[0] = x[i] > b[0] ? x[i] : b[0];
  for (int l = 1; l < 8; l++) a[0] = a[l] < a[0] ? a[l] : a[0], b[0] = b[l] > b[0] ? b[l] : b[0];
  j->mn[i0 / j->grain] = a[0], j->mx[i0 / j->grain] = b[0];
}

static void act_minmax(const float *x, int64_t n, double *lo, double *hi) {
  if (!n) { *lo = *hi = 0; return; }
  float mn[FQ_MAXPART], mx[FQ_MAXPART];
  int64_t grain = FQ_GRAIN;
  while ((n + grain - 1) / grain > FQ_MAXPART) grain *= 2;
  fq_job_t j = {.x = x, .grain = grain, .mn = mn, .mx = mx};
  cquant__qat_par_range(n, grain, minmax_range, &j);
  float a = mn[0], b = mx[0];
  for (int64_t k = 1; k < (n + grain - 1) / grain; k++) a = mn[k] < a ? mn[k] : a, b = mx[k] > b ? mx[k] : b;
  *lo = a, *hi = b;
}

static void fq_range(void *c, int64_t i0, int64_t i1) {
  const fq_job_t *j = c;
  const float *restrict x = j->x;
  float *restrict y = j->y;
  const float inv = j->inv, s = j->s, zr = j->zr, lo = j->lo, hi = j->hi;
  for (int64_t i = i0; i < i1; i++) y[i] = fq1(x[i], inv, s, zr, lo, hi);
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
  fq_job_t j = {.x = x, .y = y, .inv = inv, .s = sc, .zr = zr, .lo = (float)f->qmin, .hi = (float)f->qmax};
  cquant__qat_par_range(total, FQ_GRAIN, fq_range, &j);
  return 0;
}

static void ste_bwd_range(void *c, int64_t i0, int64_t i1) { /* the clipped pass-through (eq. 5) */
  const fq_job_t *j = c;
  const float *restrict x = j->x, *restrict gy = j->gy;
  float *restrict gx = j->gx;
  const float inv = j->inv, zr = j->zr, lo = j->lo, hi = j->hi;
  QAT_PUT(j->acc, gx, i0, i1, qat_pass((x[i] * inv + zr >= lo) & (x[i] * inv + zr <= hi), gy[i]));
}

static void lsq_bwd_range(void *c, int64_t i0, int64_t i1) { /* eq. 5 and the sums of eq. 6-8 */
  const fq_job_t *j = c;
  const float *restrict x = j->x, *restrict gy = j->gy;
  float *restrict gx = j->gx;
  const float inv = j->inv, zr = j->zr, lo = j->lo, hi = j->hi, s = j->s;
  if (gx) QAT_PUT(j->acc, gx, i0, i1, qat_pass((x[i] * inv + zr >= lo) & (x[i] * inv + zr <= hi), gy[i]));
  double gs = 0, gz = 0;
  for (int64_t i = i0; i < i1; i++) {
    const float u = x[i] * inv + zr, d = gy[i];
    gs += (double)d * (u < lo ? lo - zr : u > hi ? hi - zr : rnd(u) - u);
    if (!(u >= lo && u <= hi)) gz -= (double)d * s;
  }
  j->ps[i0 / j->grain] = gs, j->pz[i0 / j->grain] = gz;
}

static void act_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_fq_t *f = n->fq;
  qat_val_t *xv = &q->val[n->in[0]], *sv = &q->val[n->in[1]], *zv = &q->val[n->in[2]];
  float zr = nearbyintf(zv->x[0]);
  zr = zr < f->qmin ? (float)f->qmin : zr > f->qmax ? (float)f->qmax : zr;
  const int64_t total = xv->numel;
  fq_job_t j = {.x = xv->x, .gy = q->val[n->out].g, .gx = xv->needs_grad ? xv->g : NULL, .s = sv->x[0], .inv = 1.0f / sv->x[0], .zr = zr,
                .lo = (float)f->qmin, .hi = (float)f->qmax};
  j.acc = j.gx ? cquant__qat_grad_acc(q, n->in[0]) : 0;
  if (!sv->needs_grad && !zv->needs_grad) {
    if (j.gx) cquant__qat_par_range(total, FQ_GRAIN, ste_bwd_range, &j);
    return;
  }
  double ps[FQ_MAXPART], pz[FQ_MAXPART];
  j.grain = FQ_GRAIN, j.ps = ps, j.pz = pz;
  while ((total + j.grain - 1) / j.grain > FQ_MAXPART) j.grain *= 2;
  cquant__qat_par_range(total, j.grain, lsq_bwd_range, &j);
  double gs = 0, gz = 0; /* the ranges' sums in order: the same on any number of threads */
  for (int64_t k = 0; k < (total + j.grain - 1) / j.grain; k++) gs += ps[k], gz += pz[k];
  if (sv->needs_grad) sv->g[0] = (cquant__qat_grad_acc(q, n->in[1]) ? sv->g[0] : 0.0f) + (float)(gs * f->grad_scale);
  if (zv->needs_grad) zv->g[0] = (cquant__qat_grad_acc(q, n->in[2]) ? zv->g[0] : 0.0f) + (float)(gz * f->grad_scale);
}

int cquant__qat_fq_fwd(cquant_qat_t *q, qat_node_t *n, int training) { return n->fq->weight ? weight_fwd(q, n) : act_fwd(q, n, training); }

void cquant__qat_fq_bwd(cquant_qat_t *q, qat_node_t *n) {
  if (n->fq->weight) weight_bwd(q, n);
  else act_bwd(q, n);
}

const float *cquant__qat_bias_q(cquant_qat_t *q, qat_node_t *n, const float *b, int64_t C) {
  if (n->bq_wfq < 0 || !q->opt.weight_bits || !q->opt.act_bits) return b;
  const qat_val_t *sw = &q->val[q->node[n->bq_wfq].in[1]];
  if (sw->numel != C) return b;
  if (C > n->bqcap) {
    free(n->bq), free(n->bqi);
    n->bq = malloc(sizeof(float) * (size_t)(2 * C)), n->bqi = malloc(sizeof(int32_t) * (size_t)C);
    n->bqcap = n->bq && n->bqi ? C : 0;
    if (!n->bqcap) return NULL;
  }
  /* the same call as the export (src/qat/export.c): q = round(b / (s_x s_w)) saturated to int32 */
  cquant__bias_quantize(b, C, q->val[n->bq_sx].x[0], sw->x, C, n->bqi, n->bq + C);
  for (int64_t c = 0; c < C; c++) n->bq[c] = (float)n->bqi[c] * n->bq[C + c];
  return n->bq;
}
