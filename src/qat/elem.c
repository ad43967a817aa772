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

static int binary_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *a = &q->val[n->in[0]], *b = &q->val[n->in[1]];
  bcast_t bc;
  int st;
  if ((st = broadcast(n, a, b, &bc)) || (st = cquant__qat_resize(q, n->out, bc.nd, bc.shape))) return st;
  float *y = q->val[n->out].x;
  const float *x0 = a->x, *x1 = b->x;
  const int64_t total = q->val[n->out].numel;
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
  switch (n->op) {
    case QOP_ADD: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k]; if (gb) gb[ib] += gy[k]); break;
    case QOP_SUB: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k]; if (gb) gb[ib] -= gy[k]); break;
    case QOP_MUL: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k] * x1[ib]; if (gb) gb[ib] += gy[k] * x0[ia]); break;
    default: BCAST_LOOP(bc, total, if (ga) ga[ia] += gy[k] / x1[ib]; if (gb) gb[ib] -= gy[k] * x0[ia] / (x1[ib] * x1[ib])); break;
  }
}

/* ---- the folding nodes ---- */
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
  const float *b = n->n_in > 2 ? q->val[n->in[2]].x : NULL;
  for (int64_t i = 0; i < N; i++)
    for (int64_t m = 0; m < M; m++) {
      const float r = 1.0f / s->x[m], c = b ? b[m] : 0.0f;
      for (int64_t j = 0; j < S; j++) y[(i * M + m) * S + j] = x->x[(i * M + m) * S + j] * r + c;
    }
  return 0;
}

static void chan_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *x = &q->val[n->in[0]];
  const qat_val_t *s = &q->val[n->in[1]];
  const float *gy = q->val[n->out].g;
  if (n->op == QOP_CHMUL) {
    const int64_t M = x->shape[0], per = x->numel / (M ? M : 1);
    if (x->needs_grad)
      for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < per; j++) x->g[m * per + j] += gy[m * per + j] * s->x[m];
    return;
  }
  const int64_t N = x->shape[0], M = x->shape[1], S = x->numel / (N * M > 0 ? N * M : 1);
  qat_val_t *b = n->n_in > 2 && q->val[n->in[2]].needs_grad ? &q->val[n->in[2]] : NULL;
  for (int64_t i = 0; i < N; i++)
    for (int64_t m = 0; m < M; m++) {
      const float r = 1.0f / s->x[m];
      double sb = 0;
      for (int64_t j = 0; j < S; j++) {
        const float d = gy[(i * M + m) * S + j];
        if (x->needs_grad) x->g[(i * M + m) * S + j] += d * r;
        sb += d;
      }
      if (b) b->g[m] += (float)sb;
    }
}

int cquant__qat_elem_fwd(cquant_qat_t *q, qat_node_t *n) {
  if (n->op == QOP_ADD || n->op == QOP_SUB || n->op == QOP_MUL || n->op == QOP_DIV) return binary_fwd(q, n);
  if (n->op == QOP_BNSCALE || n->op == QOP_CHMUL || n->op == QOP_CHDIV) return chan_fwd(q, n);
  const qat_val_t *x = &q->val[n->in[0]];
  int st = cquant__qat_resize(q, n->out, x->ndim, x->shape);
  if (st) return st;
  float *y = q->val[n->out].x;
  const float *xs = x->x;
  const int64_t N = x->numel;
  if (n->op == QOP_RELU) { /* the common case, vectorized */
    for (int64_t i = 0; i < N; i++) y[i] = xs[i] > 0.0f ? xs[i] : 0.0f;
    return 0;
  }
#pragma omp parallel for schedule(static) if (N > 65536)
  for (int64_t i = 0; i < N; i++) y[i] = act(n, xs[i]);
  return 0;
}

void cquant__qat_elem_bwd(cquant_qat_t *q, qat_node_t *n) {
  if (n->op == QOP_ADD || n->op == QOP_SUB || n->op == QOP_MUL || n->op == QOP_DIV) { binary_bwd(q, n); return; }
  if (n->op == QOP_CHMUL || n->op == QOP_CHDIV) { chan_bwd(q, n); return; }
  qat_val_t *x = &q->val[n->in[0]];
  if (!x->needs_grad) return;
  const float *y = q->val[n->out].x, *gy = q->val[n->out].g;
  const int64_t N = x->numel;
  if (n->op == QOP_RELU) {
    const float *xs = x->x;
    float *gx = x->g;
    for (int64_t i = 0; i < N; i++) gx[i] += xs[i] > 0.0f ? gy[i] : 0.0f;
    return;
  }
#pragma omp parallel for schedule(static) if (N > 65536)
  for (int64_t i = 0; i < N; i++) x->g[i] += gy[i] * dact(n, x->x[i], y[i]);
}
