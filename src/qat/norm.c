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
  const float *x = xv->x, *gamma = q->val[n->in[1]].x, *beta = q->val[n->in[2]].x;
  float *rm = q->val[n->in[3]].x, *rv = q->val[n->in[4]].x, *y = q->val[n->out].x;
  const int64_t M = N * S;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    double mu, var;
    if (n->training_bn) {
      double s = 0, s2 = 0;
      for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < S; j++) s += x[(i * C + c) * S + j];
      mu = s / (double)M;
      for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < S; j++) {
          const double d = x[(i * C + c) * S + j] - mu;
          s2 += d * d;
        }
      var = s2 / (double)M;
      rm[c] = (float)(rm[c] * n->momentum + mu * (1.0 - n->momentum));
      rv[c] = (float)(rv[c] * n->momentum + (M > 1 ? s2 / (double)(M - 1) : var) * (1.0 - n->momentum));
    } else {
      mu = rm[c], var = rv[c];
    }
    const float inv = (float)(1.0 / sqrt(var + n->eps)), m = (float)mu;
    buf[c] = m, buf[C + c] = inv;
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < S; j++) {
        const int64_t k = (i * C + c) * S + j;
        y[k] = (x[k] - m) * inv * gamma[c] + beta[c];
      }
  }
  return 0;
}

static void bn_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *xv = &q->val[n->in[0]], *gv = &q->val[n->in[1]], *bv = &q->val[n->in[2]];
  const int64_t N = xv->shape[0], C = xv->shape[1], S = xv->numel / (N * C > 0 ? N * C : 1), M = N * S;
  const float *x = xv->x, *gy = q->val[n->out].g, *gamma = gv->x, *buf = n->buf;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    const float m = buf[c], inv = buf[C + c];
    double sdy = 0, sdyx = 0;
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < S; j++) {
        const int64_t k = (i * C + c) * S + j;
        sdy += gy[k];
        sdyx += gy[k] * (x[k] - m) * inv;
      }
    if (gv->needs_grad) gv->g[c] += (float)sdyx;
    if (bv->needs_grad) bv->g[c] += (float)sdy;
    if (!xv->needs_grad) continue;
    const float k0 = gamma[c] * inv;
    if (!n->training_bn) {
      for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < S; j++) xv->g[(i * C + c) * S + j] += gy[(i * C + c) * S + j] * k0;
      continue;
    }
    const float a = (float)(sdy / (double)M), b = (float)(sdyx / (double)M);
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < S; j++) {
        const int64_t k = (i * C + c) * S + j;
        xv->g[k] += k0 * (gy[k] - a - (x[k] - m) * inv * b);
      }
  }
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
