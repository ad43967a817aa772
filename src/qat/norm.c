/* BatchNormalization (training mode: batch statistics and running averages; eval mode: the running
 * ones), LayerNormalization and Softmax, forward and backward (docs/qat.md eq. 13-14). Sums in
 * double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "qat/qat_internal.h"

static float *node_buf(qat_node_t *n, int64_t k) {
  if (k > n->bufcap) {
    free(n->buf);
    n->buf = malloc(sizeof(float) * (size_t)k);
    n->bufcap = n->buf ? k : 0;
  }
  return n->buf;
}

static int axis_of(const qat_node_t *n, int rank, int *a) {
  int ax = n->axis < 0 ? n->axis + rank : n->axis;
  if (ax < 0 || ax >= rank) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s': axis %d out of range for rank %d", n->label, n->axis, rank);
  *a = ax;
  return 0;
}

/* BatchNormalization: one unit per range of channels; each channel's sums over the images in
 * order (qat_sum's fixed lanes): the same result on any number of threads. */
typedef struct {
  const qat_node_t *n;
  int64_t N, C, S;
  const float *x, *gamma, *beta, *gy;
  float *rm, *rv, *y, *buf, *gg, *gb, *gx;
  const float *delta; /* running statistics with a simulated int32 bias: its rounding, per channel */
  int accg, accb, accx;
} bn_job_t;

static void bn_fwd_channels(void *c, int64_t c0, int64_t c1) {
  const bn_job_t *j = c;
  const qat_node_t *n = j->n;
  const int64_t N = j->N, C = j->C, S = j->S, M = N * S;
  for (int64_t ch = c0; ch < c1; ch++) {
    double mu, var;
    if (n->training_bn) {
      /* one pass over x - x0 (x0 the channel's first value: no cancellation when the mean is
         large against the spread), in double */
      const double x0 = j->x[ch * S];
      double s1 = 0, s2 = 0;
      for (int64_t i = 0; i < N; i++) qat_sum_sq(j->x + (i * C + ch) * S, S, x0, &s1, &s2);
      mu = x0 + s1 / (double)M;
      s2 -= s1 * s1 / (double)M; /* sum (x - mu)^2 */
      if (s2 < 0) s2 = 0;
      var = s2 / (double)M;
      j->rm[ch] = (float)(j->rm[ch] * n->momentum + mu * (1.0 - n->momentum));
      j->rv[ch] = (float)(j->rv[ch] * n->momentum + (M > 1 ? s2 / (double)(M - 1) : var) * (1.0 - n->momentum));
    } else {
      mu = j->rm[ch], var = j->rv[ch];
    }
    const float inv = (float)(1.0 / sqrt(var + n->eps)), m = (float)mu, ga = j->gamma[ch], be = j->beta[ch] + (j->delta ? j->delta[ch] : 0.0f);
    j->buf[ch] = m, j->buf[C + ch] = inv;
    for (int64_t i = 0; i < N; i++) {
      const float *restrict xr = j->x + (i * C + ch) * S;
      float *restrict yr = j->y + (i * C + ch) * S;
      for (int64_t k = 0; k < S; k++) yr[k] = (xr[k] - m) * inv * ga + be;
    }
  }
}

static int bn_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *xv = &q->val[n->in[0]];
  int st;
  if (xv->ndim < 2) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (BatchNormalization): rank %d input", n->label, xv->ndim);
  const int64_t N = xv->shape[0], C = xv->shape[1], S = xv->numel / (N * C > 0 ? N * C : 1);
  for (int k = 1; k < 5; k++)
    if (q->val[n->in[k]].numel != C) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (BatchNormalization): parameters of size %lld for %lld channels", n->label, (long long)q->val[n->in[k]].numel, (long long)C);
  if ((st = cquant__qat_resize(q, n->out, xv->ndim, xv->shape))) return st;
  float *buf = node_buf(n, 2 * C);
  if (!buf) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  bn_job_t j = {.n = n, .N = N, .C = C, .S = S, .x = xv->x, .gamma = q->val[n->in[1]].x, .beta = q->val[n->in[2]].x, .rm = q->val[n->in[3]].x,
                .rv = q->val[n->in[4]].x, .y = q->val[n->out].x, .buf = buf};
  if (!n->training_bn && n->bq_wfq >= 0) {
    /* the folded layer's bias (the clean-up's arithmetic, src/graph/fold_batchnorm.c) and its int32
     * form in the exported file: the difference is added to the shift */
    float *bf = malloc(sizeof(float) * (size_t)(2 * C));
    if (!bf) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
    const float *b0 = n->bq_bias >= 0 ? q->val[n->bq_bias].x : NULL;
    for (int64_t c = 0; c < C; c++) {
      const double k = (double)j.gamma[c] / sqrt((double)j.rv[c] + (double)n->eps);
      bf[c] = (float)(((b0 ? b0[c] : 0.0) - j.rm[c]) * k + j.beta[c]);
    }
    const float *bq = cquant__qat_bias_q(q, n, bf, C);
    if (!bq) { free(bf); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory"); }
    for (int64_t c = 0; c < C; c++) bf[C + c] = bq[c] - bf[c];
    j.delta = bf + C;
    cquant__qat_par_range(C, qat_grain(N * S), bn_fwd_channels, &j);
    free(bf);
    return 0;
  }
  cquant__qat_par_range(C, qat_grain(N * S), bn_fwd_channels, &j);
  return 0;
}

static void bn_bwd_channels(void *c, int64_t c0, int64_t c1) {
  const bn_job_t *j = c;
  const qat_node_t *n = j->n;
  const int64_t N = j->N, C = j->C, S = j->S, M = N * S;
  for (int64_t ch = c0; ch < c1; ch++) {
    const float m = j->buf[ch], inv = j->buf[C + ch];
    double sdy = 0, sdyx = 0;
    for (int64_t i = 0; i < N; i++) {
      qat_sum_dotc(j->x + (i * C + ch) * S, j->gy + (i * C + ch) * S, S, m, &sdy, &sdyx);
    }
    sdyx *= inv; /* sum dy (x - m) inv */
    if (j->gg) j->gg[ch] = (j->accg ? j->gg[ch] : 0.0f) + (float)sdyx;
    if (j->gb) j->gb[ch] = (j->accb ? j->gb[ch] : 0.0f) + (float)sdy;
    if (!j->gx) continue;
    const float k0 = j->gamma[ch] * inv;
    const float a = n->training_bn ? (float)(sdy / (double)M) : 0.0f, b = n->training_bn ? (float)(sdyx / (double)M) : 0.0f;
    for (int64_t im = 0; im < N; im++) {
      const float *restrict xr = j->x + (im * C + ch) * S, *restrict gr = j->gy + (im * C + ch) * S;
      float *restrict gx = j->gx + (im * C + ch) * S;
      if (!n->training_bn) QAT_PUT(j->accx, gx, 0, S, gr[i] * k0);
      else QAT_PUT(j->accx, gx, 0, S, k0 * (gr[i] - a - (xr[i] - m) * inv * b));
    }
  }
}

static void bn_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *xv = &q->val[n->in[0]], *gv = &q->val[n->in[1]], *bv = &q->val[n->in[2]];
  const int64_t N = xv->shape[0], C = xv->shape[1], S = xv->numel / (N * C > 0 ? N * C : 1);
  bn_job_t j = {.n = n, .N = N, .C = C, .S = S, .x = xv->x, .gamma = gv->x, .gy = q->val[n->out].g, .buf = n->buf,
                .gg = gv->needs_grad ? gv->g : NULL, .gb = bv->needs_grad ? bv->g : NULL, .gx = xv->needs_grad ? xv->g : NULL};
  j.accg = j.gg ? cquant__qat_grad_acc(q, n->in[1]) : 0, j.accb = j.gb ? cquant__qat_grad_acc(q, n->in[2]) : 0;
  j.accx = j.gx ? cquant__qat_grad_acc(q, n->in[0]) : 0;
  cquant__qat_par_range(C, qat_grain(N * S), bn_bwd_channels, &j);
}

static int ln_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *xv = &q->val[n->in[0]];
  int ax = 0, st;
  if ((st = axis_of(n, xv->ndim, &ax)) || (st = cquant__qat_resize(q, n->out, xv->ndim, xv->shape))) return st;
  int64_t R = 1, D = 1;
  for (int i = 0; i < xv->ndim; i++) { if (i < ax) R *= xv->shape[i]; else D *= xv->shape[i]; }
  const qat_val_t *sv = &q->val[n->in[1]], *bv = n->n_in > 2 && n->in[2] >= 0 ? &q->val[n->in[2]] : NULL;
  if (sv->numel != D || (bv && bv->numel != D))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (LayerNormalization): scale and bias must have the normalized size", n->label);
  float *buf = node_buf(n, 2 * R);
  if (!buf) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  const float *x = xv->x;
  float *y = q->val[n->out].x;
  for (int64_t r = 0; r < R; r++) {
    double s = 0, s2 = 0;
    for (int64_t j = 0; j < D; j++) s += x[r * D + j];
    const double mu = s / (double)D;
    for (int64_t j = 0; j < D; j++) s2 += (x[r * D + j] - mu) * (x[r * D + j] - mu);
    const float inv = (float)(1.0 / sqrt(s2 / (double)D + n->eps)), m = (float)mu;
    buf[r] = m, buf[R + r] = inv;
    for (int64_t j = 0; j < D; j++) y[r * D + j] = (x[r * D + j] - m) * inv * sv->x[j] + (bv ? bv->x[j] : 0.0f);
  }
  return 0;
}

static void ln_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *xv = &q->val[n->in[0]], *sv = &q->val[n->in[1]], *bv = n->n_in > 2 && n->in[2] >= 0 ? &q->val[n->in[2]] : NULL;
  int ax = 0;
  if (axis_of(n, xv->ndim, &ax)) return;
  int64_t R = 1, D = 1;
  for (int i = 0; i < xv->ndim; i++) { if (i < ax) R *= xv->shape[i]; else D *= xv->shape[i]; }
  const float *x = xv->x, *gy = q->val[n->out].g;
  if (xv->needs_grad) cquant__qat_grad_zeroed(q, n->in[0]);
  if (sv->needs_grad) cquant__qat_grad_zeroed(q, n->in[1]);
  if (bv && bv->needs_grad) cquant__qat_grad_zeroed(q, n->in[2]);
  for (int64_t r = 0; r < R; r++) {
    const float m = n->buf[r], inv = n->buf[R + r];
    double a = 0, b = 0;
    for (int64_t j = 0; j < D; j++) {
      const float xh = (x[r * D + j] - m) * inv, d = gy[r * D + j];
      if (sv->needs_grad) sv->g[j] += d * xh;
      if (bv && bv->needs_grad) bv->g[j] += d;
      a += d * sv->x[j], b += d * sv->x[j] * xh;
    }
    if (!xv->needs_grad) continue;
    const float ma = (float)(a / (double)D), mb = (float)(b / (double)D);
    for (int64_t j = 0; j < D; j++) {
      const float xh = (x[r * D + j] - m) * inv;
      xv->g[r * D + j] += inv * (gy[r * D + j] * sv->x[j] - ma - xh * mb);
    }
  }
}

static void softmax_dims(const qat_val_t *v, int ax, int64_t *outer, int64_t *L, int64_t *inner) {
  *outer = 1, *inner = 1, *L = v->shape[ax];
  for (int i = 0; i < ax; i++) *outer *= v->shape[i];
  for (int i = ax + 1; i < v->ndim; i++) *inner *= v->shape[i];
}

static int softmax_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *xv = &q->val[n->in[0]];
  int ax = 0, st;
  if ((st = axis_of(n, xv->ndim, &ax)) || (st = cquant__qat_resize(q, n->out, xv->ndim, xv->shape))) return st;
  int64_t O, L, I;
  softmax_dims(xv, ax, &O, &L, &I);
  const float *x = xv->x;
  float *y = q->val[n->out].x;
  for (int64_t o = 0; o < O; o++)
    for (int64_t i = 0; i < I; i++) {
      const float *xr = x + o * L * I + i;
      float *yr = y + o * L * I + i, mx = xr[0];
      for (int64_t l = 1; l < L; l++) mx = xr[l * I] > mx ? xr[l * I] : mx;
      double s = 0;
      for (int64_t l = 0; l < L; l++) s += (yr[l * I] = expf(xr[l * I] - mx));
      const float r = (float)(1.0 / s);
      for (int64_t l = 0; l < L; l++) yr[l * I] *= r;
    }
  return 0;
}

static void softmax_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *xv = &q->val[n->in[0]];
  int ax = 0;
  if (axis_of(n, xv->ndim, &ax)) return;
  int64_t O, L, I;
  softmax_dims(xv, ax, &O, &L, &I);
  const float *y = q->val[n->out].x, *gy = q->val[n->out].g;
  cquant__qat_grad_zeroed(q, n->in[0]);
  for (int64_t o = 0; o < O; o++)
    for (int64_t i = 0; i < I; i++) {
      const int64_t b = o * L * I + i;
      double s = 0;
      for (int64_t l = 0; l < L; l++) s += gy[b + l * I] * y[b + l * I];
      for (int64_t l = 0; l < L; l++) xv->g[b + l * I] += y[b + l * I] * (gy[b + l * I] - (float)s);
    }
}

int cquant__qat_norm_fwd(cquant_qat_t *q, qat_node_t *n) {
  return n->op == QOP_BN ? bn_fwd(q, n) : n->op == QOP_LAYERNORM ? ln_fwd(q, n) : softmax_fwd(q, n);
}

void cquant__qat_norm_bwd(cquant_qat_t *q, qat_node_t *n) {
  if (n->op == QOP_BN) bn_bwd(q, n);
  else if (n->op == QOP_LAYERNORM) ln_bwd(q, n);
  else softmax_bwd(q, n);
}
