/* Elementwise operators, forward and backward (docs/qat.md eq. 15): the activations (Relu, LeakyRelu, Clip,
 * HardSigmoid, HardSwish, Sigmoid, Tanh, Erf), Add/Sub/Mul/Div with numpy broadcasting, and the
 * trainer's per-channel nodes of the simulated BatchNorm folding (docs/qat.md eq. 19-21). */
#include <math.h>
#include <string.h>
#include "qat/qat_internal.h"

/* ---- unary ---- */
static float dact(const qat_node_t *n, float x, float y) {
  switch (n->op) {
    case QOP_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case QOP_LEAKYRELU: return x > 0.0f ? 1.0f : n->alpha;
    case QOP_CLIP: return x > n->fmin && x < n->fmax ? 1.0f : 0.0f;
    case QOP_HARDSIGMOID: {
      const float t = n->alpha * x + n->beta;
      return t > 0.0f && t < 1.0f ? n->alpha : 0.0f;
    }
    case QOP_HARDSWISH: return x < -3.0f ? 0.0f : x > 3.0f ? 1.0f : (2.0f * x + 3.0f) / 6.0f;
    case QOP_SIGMOID: return y * (1.0f - y);
    case QOP_TANH: return 1.0f - y * y;
    case QOP_ERF: return 1.1283791670955126f * expf(-x * x);
    default: return 0.0f;
  }
}

static float act(const qat_node_t *n, float x) {
  switch (n->op) {
    case QOP_RELU: return x > 0.0f ? x : 0.0f;
    case QOP_LEAKYRELU: return x > 0.0f ? x : n->alpha * x;
    case QOP_CLIP: return x < n->fmin ? n->fmin : x > n->fmax ? n->fmax : x;
    case QOP_HARDSIGMOID: {
      const float t = n->alpha * x + n->beta;
      return t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
    }
    case QOP_HARDSWISH: {
      const float t = x / 6.0f + 0.5f;
      return x * (t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t);
    }
    case QOP_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case QOP_TANH: return tanhf(x);
    case QOP_ERF: return erff(x);
    default: return 0.0f;
  }
}

/* ---- broadcasting ---- */
typedef struct {
  int nd;
  int64_t shape[QAT_MAXD], sa[QAT_MAXD], sb[QAT_MAXD];
} bcast_t;

static int broadcast(const qat_node_t *n, const qat_val_t *a, const qat_val_t *b, bcast_t *bc) {
  const int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  bc->nd = nd;
  int64_t ta = 1, tb = 1;
  for (int i = nd - 1; i >= 0; i--) {
    const int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
    const int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s': shapes do not broadcast (axis %d: %lld vs %lld)", n->label, i, (long long)da,
                           (long long)db);
    bc->shape[i] = da > db ? da : db;
    bc->sa[i] = da == 1 ? 0 : ta;
    bc->sb[i] = db == 1 ? 0 : tb;
    ta *= da, tb *= db;
  }
  return 0;
}

/* calls body(k, ia, ib) for every output element k in order */
#define BCAST_LOOP(bc, total, BODY)                                                         \
  do {                                                                                      \
    int64_t idx_[QAT_MAXD] = {0}, ia = 0, ib = 0;                                           \
    for (int64_t k = 0; k < (total); k++) {                                                 \
      BODY;                                                                                 \
      for (int d_ = (bc).nd - 1; d_ >= 0; d_--) {                                           \
        ia += (bc).sa[d_], ib += (bc).sb[d_];                                               \
        if (++idx_[d_] < (bc).shape[d_]) break;                                             \
        ia -= (bc).sa[d_] * (bc).shape[d_], ib -= (bc).sb[d_] * (bc).shape[d_], idx_[d_] = 0; \
      }                                                                                     \
    }                                                                                       \
  } while (0)

/* ---- the parallel elementwise loops (ranges of cquant__qat_par_range) ---- */
typedef struct {
  const qat_node_t *n;
  const float *x0, *x1, *gy, *y, *s, *b;
  float *o0, *o1;
  int acc0, acc1;
  int64_t M, S;
} ew_t;

static void bin_fwd_range(void *c, int64_t i0, int64_t i1) { /* y = a op b, no broadcasting */
  const ew_t *e = c;
  const float *restrict a = e->x0, *restrict b = e->x1;
  float *restrict y = e->o0;
  switch (e->n->op) {
    case QOP_ADD: for (int64_t k = i0; k < i1; k++) y[k] = a[k] + b[k]; break;
    case QOP_SUB: for (int64_t k = i0; k < i1; k++) y[k] = a[k] - b[k]; break;
    case QOP_MUL: for (int64_t k = i0; k < i1; k++) y[k] = a[k] * b[k]; break;
    default: for (int64_t k = i0; k < i1; k++) y[k] = a[k] / b[k]; break;
  }
}

static void add_bwd_range(void *c, int64_t i0, int64_t i1) { /* dy to both operands */
  const ew_t *e = c;
  const float *restrict gy = e->gy;
  for (int k = 0; k < 2; k++) {
    float *restrict g = k ? e->o1 : e->o0;
    if (!g) continue;
    if (k ? e->acc1 : e->acc0)
      for (int64_t i = i0; i < i1; i++) g[i] += gy[i];
    else
      memcpy(g + i0, gy + i0, sizeof(float) * (size_t)(i1 - i0));
  }
}

static int binary_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *a = &q->val[n->in[0]], *b = &q->val[n->in[1]];
  bcast_t bc;
  int st;
  if ((st = broadcast(n, a, b, &bc)) || (st = cquant__qat_resize(q, n->out, bc.nd, bc.shape))) return st;
  float *y = q->val[n->out].x;
  const float *x0 = a->x, *x1 = b->x;
  const int64_t total = q->val[n->out].numel;
  if (a->numel == total && b->numel == total) { /* no broadcasting (a residual Add) */
    ew_t e = {.n = n, .x0 = x0, .x1 = x1, .o0 = y};
    cquant__qat_par_range(total, QAT_GRAIN, bin_fwd_range, &e);
    return 0;
  }
  switch (n->op) {
    case QOP_ADD: BCAST_LOOP(bc, total, y[k] = x0[ia] + x1[ib]); break;
    case QOP_SUB: BCAST_LOOP(bc, total, y[k] = x0[ia] - x1[ib]); break;
    case QOP_MUL: BCAST_LOOP(bc, total, y[k] = x0[ia] * x1[ib]); break;
    default: BCAST_LOOP(bc, total, y[k] = x0[ia] / x1[ib]); break;
  }
  return 0;
}

static void binary_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *a = &q->val[n->in[0]], *b = &q->val[n->in[1]];
  bcast_t bc;
  if (broadcast(n, a, b, &bc)) return;
  const float *gy = q->val[n->out].g, *x0 = a->x, *x1 = b->x;
  float *ga = a->needs_grad ? a->g : NULL, *gb = b->needs_grad ? b->g : NULL;
  const int64_t total = q->val[n->out].numel;
  if (n->op == QOP_ADD && a->numel == total && b->numel == total && n->in[0] != n->in[1]) { /* a residual Add: dy to both */
    ew_t e = {.n = n, .gy = gy, .o0 = ga, .o1 = gb};
    e.acc0 = ga ? cquant__qat_grad_acc(q, n->in[0]) : 0, e.acc1 = gb ? cquant__qat_grad_acc(q, n->in[1]) : 0;
    cquant__qat_par_range(total, QAT_GRAIN, add_bwd_range, &e);
    return;
  }
  if (ga) cquant__qat_grad_zeroed(q, n->in[0]);
  if (gb) cquant__qat_grad_zeroed(q, n->in[1]);
  switch (n->op) {
    case QOP_ADD: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k]; if (gb) gb[ib] += gy[k]); break;
    case QOP_SUB: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k]; if (gb) gb[ib] -= gy[k]); break;
    case QOP_MUL: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k] * x1[ib]; if (gb) gb[ib] += gy[k] * x0[ia]); break;
    default: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k] / x1[ib]; if (gb) gb[ib] -= gy[k] * x0[ia] / (x1[ib] * x1[ib])); break;
  }
}

/* ---- the folding nodes ---- */
static void chdiv_fwd_planes(void *c, int64_t p0, int64_t p1) { /* planes (i, m) of N x M: y = x / s[m] + b[m] */
  const ew_t *e = c;
  for (int64_t im = p0; im < p1; im++) {
    const int64_t m = im % e->M;
    const float r = 1.0f / e->s[m], c0 = e->b ? e->b[m] : 0.0f;
    const float *restrict xr = e->x0 + im * e->S;
    float *restrict yr = e->o0 + im * e->S;
    const int64_t S = e->S;
    for (int64_t k = 0; k < S; k++) yr[k] = xr[k] * r + c0;
  }
}

typedef struct {
  ew_t e;
  int64_t N;
  float *gb;
  int accb;
} chdiv_bwd_t;

static void chdiv_bwd_channels(void *c, int64_t m0, int64_t m1) { /* per channel m, the images in order */
  const chdiv_bwd_t *j = c;
  const ew_t *e = &j->e;
  for (int64_t m = m0; m < m1; m++) {
    const float r = 1.0f / e->s[m];
    double sb = 0;
    for (int64_t im = 0; im < j->N; im++) {
      const float *restrict gr = e->gy + (im * e->M + m) * e->S;
      if (e->o0) {
        float *restrict gxr = e->o0 + (im * e->M + m) * e->S;
        QAT_PUT(e->acc0, gxr, 0, e->S, gr[i] * r);
      }
      if (j->gb) sb += qat_sum(gr, e->S);
    }
    if (j->gb) j->gb[m] = (j->accb ? j->gb[m] : 0.0f) + (float)sb;
  }
}

static int chan_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *x = &q->val[n->in[0]];
  int st;
  if (n->op == QOP_BNSCALE) {
    const qat_val_t *gm = &q->val[n->in[0]], *var = &q->val[n->in[1]];
    if ((st = cquant__qat_resize(q, n->out, 1, &gm->numel))) return st;
    for (int64_t c = 0; c < gm->numel; c++) q->val[n->out].x[c] = (float)(gm->x[c] / sqrt((double)var->x[c] + n->eps));
    return 0;
  }
  const qat_val_t *s = &q->val[n->in[1]];
  if ((st = cquant__qat_resize(q, n->out, x->ndim, x->shape))) return st;
  float *y = q->val[n->out].x;
  if (n->op == QOP_CHMUL) { /* w (M x ...) * s[m] */
    const int64_t M = x->shape[0], per = x->numel / (M ? M : 1);
    if (s->numel != M) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s': %lld BatchNorm channels for %lld filters", n->label, (long long)s->numel, (long long)M);
    for (int64_t m = 0; m < M; m++)
      for (int64_t j = 0; j < per; j++) y[m * per + j] = x->x[m * per + j] * s->x[m];
    return 0;
  }
  /* CHDIV: y (N x M x ...) / s[m] + b[m] */
  const int64_t N = x->shape[0], M = x->shape[1], S = x->numel / (N * M > 0 ? N * M : 1);
  ew_t e = {.n = n, .x0 = x->x, .s = s->x, .b = n->n_in > 2 ? q->val[n->in[2]].x : NULL, .o0 = y, .M = M, .S = S};
  cquant__qat_par_range(N * M, qat_grain(S), chdiv_fwd_planes, &e);
  return 0;
}

static void chan_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *x = &q->val[n->in[0]];
  const qat_val_t *s = &q->val[n->in[1]];
  const float *gy = q->val[n->out].g;
  if (n->op == QOP_CHMUL) {
    const int64_t M = x->shape[0], per = x->numel / (M ? M : 1);
    if (x->needs_grad) {
      const int acc = cquant__qat_grad_acc(q, n->in[0]);
      for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < per; j++) x->g[m * per + j] = (acc ? x->g[m * per + j] : 0.0f) + gy[m * per + j] * s->x[m];
    }
    return;
  }
  const int64_t N = x->shape[0], M = x->shape[1], S = x->numel / (N * M > 0 ? N * M : 1);
  qat_val_t *b = n->n_in > 2 && q->val[n->in[2]].needs_grad ? &q->val[n->in[2]] : NULL;
  chdiv_bwd_t j = {.e = {.n = n, .gy = gy, .s = s->x, .o0 = x->needs_grad ? x->g : NULL, .M = M, .S = S}, .N = N, .gb = b ? b->g : NULL};
  j.e.acc0 = x->needs_grad ? cquant__qat_grad_acc(q, n->in[0]) : 0, j.accb = b ? cquant__qat_grad_acc(q, n->in[2]) : 0;
  cquant__qat_par_range(M, qat_grain(N * S), chdiv_bwd_channels, &j);
}

/* ---- the activations ---- */
static void act_fwd_range(void *c, int64_t i0, int64_t i1) {
  const ew_t *e = c;
  const float *restrict x = e->x0;
  float *restrict y = e->o0;
  const qat_node_t *n = e->n;
  if (n->op == QOP_RELU) {
    for (int64_t i = i0; i < i1; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  } else if (n->op == QOP_CLIP) {
    const float lo = n->fmin, hi = n->fmax;
    for (int64_t i = i0; i < i1; i++) {
      const float v = x[i] < lo ? lo : x[i];
      y[i] = v > hi ? hi : v;
    }
  } else {
    for (int64_t i = i0; i < i1; i++) y[i] = act(n, x[i]);
  }
}

static void act_bwd_range(void *c, int64_t i0, int64_t i1) {
  const ew_t *e = c;
  const float *restrict x = e->x0, *restrict gy = e->gy, *restrict y = e->y;
  float *restrict gx = e->o0;
  const qat_node_t *n = e->n;
  if (n->op == QOP_RELU) {
    QAT_PUT(e->acc0, gx, i0, i1, qat_pass(x[i] > 0.0f, gy[i]));
  } else if (n->op == QOP_CLIP) {
    const float lo = n->fmin, hi = n->fmax;
    QAT_PUT(e->acc0, gx, i0, i1, qat_pass((x[i] > lo) & (x[i] < hi), gy[i]));
  } else {
    QAT_PUT(e->acc0, gx, i0, i1, gy[i] * dact(n, x[i], y[i]));
  }
}

int cquant__qat_elem_fwd(cquant_qat_t *q, qat_node_t *n) {
  if (n->op == QOP_ADD || n->op == QOP_SUB || n->op == QOP_MUL || n->op == QOP_DIV) return binary_fwd(q, n);
  if (n->op == QOP_BNSCALE || n->op == QOP_CHMUL || n->op == QOP_CHDIV) return chan_fwd(q, n);
  const qat_val_t *x = &q->val[n->in[0]];
  int st = cquant__qat_resize(q, n->out, x->ndim, x->shape);
  if (st) return st;
  ew_t e = {.n = n, .x0 = x->x, .o0 = q->val[n->out].x};
  cquant__qat_par_range(x->numel, QAT_GRAIN, act_fwd_range, &e);
  return 0;
}

void cquant__qat_elem_bwd(cquant_qat_t *q, qat_node_t *n) {
  if (n->op == QOP_ADD || n->op == QOP_SUB || n->op == QOP_MUL || n->op == QOP_DIV) { binary_bwd(q, n); return; }
  if (n->op == QOP_CHMUL || n->op == QOP_CHDIV) { chan_bwd(q, n); return; }
  qat_val_t *x = &q->val[n->in[0]];
  if (!x->needs_grad) return;
  ew_t e = {.n = n, .x0 = x->x, .y = q->val[n->out].x, .gy = q->val[n->out].g, .o0 = x->g};
  e.acc0 = cquant__qat_grad_acc(q, n->in[0]);
  cquant__qat_par_range(x->numel, QAT_GRAIN, act_bwd_range, &e);
}
