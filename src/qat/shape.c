/* Operators that move values: Identity/Dropout (inference), Flatten, Reshape (constant shape),
 * Transpose and Concat. The backward pass moves the gradient back the same way. */
#include <string.h>
#include "qat/qat_internal.h"

static int reshape_shape(cquant_qat_t *q, const qat_node_t *n, int *nd, int64_t *sh) {
  const qat_val_t *x = &q->val[n->in[0]];
  if (n->op == QOP_FLATTEN) {
    int ax = n->axis < 0 ? n->axis + x->ndim : n->axis;
    if (ax < 0 || ax > x->ndim) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Flatten): axis %d for rank %d", n->label, n->axis, x->ndim);
    sh[0] = 1, sh[1] = 1;
    for (int i = 0; i < x->ndim; i++) sh[i < ax ? 0 : 1] *= x->shape[i];
    *nd = 2;
    return 0;
  }
  const cquant_array_t *s = q->val[n->in[1]].cst;
  if (s->numel > QAT_MAXD) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "node '%s' (Reshape): rank %lld", n->label, (long long)s->numel);
  int64_t known = 1, neg = -1;
  for (int64_t i = 0; i < s->numel; i++) {
    int64_t d = ((const int64_t *)s->data)[i];
    if (d == 0 && !n->axis) d = i < x->ndim ? x->shape[i] : 0;
    if (d == -1) {
      if (neg >= 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Reshape): two -1 entries", n->label);
      neg = i;
      d = 1;
    } else if (d < 0) {
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Reshape): dimension %lld", n->label, (long long)d);
    }
    sh[i] = d;
    known *= d;
  }
  if (neg >= 0) sh[neg] = known ? x->numel / known : 0, known *= sh[neg];
  if (known != x->numel) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Reshape): %lld elements do not fit the shape", n->label, (long long)x->numel);
  *nd = (int)s->numel;
  return 0;
}

static void perm_of(const qat_node_t *n, int nd, int64_t *perm) {
  for (int i = 0; i < nd; i++) perm[i] = n->axis == nd ? n->perm[i] : nd - 1 - i;
}

/* x strides of output axis i for Transpose */
static void transpose_strides(const qat_val_t *x, const int64_t *perm, int64_t *ost) {
  int64_t st[QAT_MAXD], t = 1;
  for (int i = x->ndim - 1; i >= 0; i--) st[i] = t, t *= x->shape[i];
  for (int i = 0; i < x->ndim; i++) ost[i] = st[perm[i]];
}

int cquant__qat_shape_fwd(cquant_qat_t *q, qat_node_t *n) {
  const qat_val_t *x = &q->val[n->in[0]];
  int st, nd;
  int64_t sh[QAT_MAXD];
  switch (n->op) {
    case QOP_IDENTITY:
      if ((st = cquant__qat_resize(q, n->out, x->ndim, x->shape))) return st;
      memcpy(q->val[n->out].x, x->x, sizeof(float) * (size_t)x->numel);
      return 0;
    case QOP_FLATTEN: case QOP_RESHAPE:
      if ((st = reshape_shape(q, n, &nd, sh)) || (st = cquant__qat_resize(q, n->out, nd, sh))) return st;
      memcpy(q->val[n->out].x, x->x, sizeof(float) * (size_t)x->numel);
      return 0;
    case QOP_TRANSPOSE: {
      int64_t perm[QAT_MAXD], xs[QAT_MAXD];
      if (n->axis >= 0 && n->axis != x->ndim) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Transpose): perm of %d for rank %d", n->label, n->axis, x->ndim);
      perm_of(n, x->ndim, perm);
      for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Transpose): bad perm", n->label);
        sh[i] = x->shape[perm[i]];
      }
      if ((st = cquant__qat_resize(q, n->out, x->ndim, sh))) return st;
      transpose_strides(x, perm, xs);
      float *y = q->val[n->out].x;
      int64_t idx[QAT_MAXD] = {0}, off = 0;
      for (int64_t k = 0; k < x->numel; k++) {
        y[k] = x->x[off];
        for (int d = x->ndim - 1; d >= 0; d--) {
          off += xs[d];
          if (++idx[d] < sh[d]) break;
          off -= xs[d] * sh[d], idx[d] = 0;
        }
      }
      return 0;
    }
    default: { /* Concat */
      int ax = n->axis < 0 ? n->axis + x->ndim : n->axis;
      if (ax < 0 || ax >= x->ndim) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Concat): axis %d for rank %d", n->label, n->axis, x->ndim);
      memcpy(sh, x->shape, sizeof(int64_t) * (size_t)x->ndim);
      sh[ax] = 0;
      for (int k = 0; k < n->n_in; k++) {
        const qat_val_t *v = &q->val[n->in[k]];
        if (v->ndim != x->ndim) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Concat): ranks differ", n->label);
        for (int i = 0; i < x->ndim; i++)
          if (i != ax && v->shape[i] != x->shape[i]) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (Concat): shapes differ", n->label);
        sh[ax] += v->shape[ax];
      }
      if ((st = cquant__qat_resize(q, n->out, x->ndim, sh))) return st;
      int64_t outer = 1, inner = 1;
      for (int i = 0; i < ax; i++) outer *= sh[i];
      for (int i = ax + 1; i < x->ndim; i++) inner *= sh[i];
      float *y = q->val[n->out].x;
      int64_t at = 0;
      for (int k = 0; k < n->n_in; k++) {
        const qat_val_t *v = &q->val[n->in[k]];
        const int64_t L = v->shape[ax] * inner;
        for (int64_t o = 0; o < outer; o++) memcpy(y + o * sh[ax] * inner + at, v->x + o * L, sizeof(float) * (size_t)L);
        at += L;
      }
      return 0;
    }
  }
}

void cquant__qat_shape_bwd(cquant_qat_t *q, qat_node_t *n) {
  qat_val_t *x = &q->val[n->in[0]];
  const qat_val_t *yv = &q->val[n->out];
  const float *gy = yv->g;
  switch (n->op) {
    case QOP_IDENTITY: case QOP_FLATTEN: case QOP_RESHAPE:
      if (x->needs_grad) {
        if (cquant__qat_grad_acc(q, n->in[0]))
          for (int64_t k = 0; k < x->numel; k++) x->g[k] += gy[k];
        else
          memcpy(x->g, gy, sizeof(float) * (size_t)x->numel);
      }
      return;
    case QOP_TRANSPOSE: {
      if (!x->needs_grad) return;
      cquant__qat_grad_zeroed(q, n->in[0]);
      int64_t perm[QAT_MAXD], xs[QAT_MAXD], idx[QAT_MAXD] = {0}, off = 0;
      perm_of(n, x->ndim, perm);
      transpose_strides(x, perm, xs);
      for (int64_t k = 0; k < x->numel; k++) {
        x->g[off] += gy[k];
        for (int d = x->ndim - 1; d >= 0; d--) {
          off += xs[d];
          if (++idx[d] < yv->shape[d]) break;
          off -= xs[d] * yv->shape[d], idx[d] = 0;
        }
      }
      return;
    }
    default: {
      int ax = n->axis < 0 ? n->axis + x->ndim : n->axis;
      int64_t outer = 1, inner = 1;
      for (int i = 0; i < ax; i++) outer *= yv->shape[i];
      for (int i = ax + 1; i < x->ndim; i++) inner *= yv->shape[i];
      int64_t at = 0;
      for (int k = 0; k < n->n_in; k++) {
        qat_val_t *v = &q->val[n->in[k]];
        const int64_t L = v->shape[ax] * inner;
        if (v->needs_grad) cquant__qat_grad_zeroed(q, n->in[k]);
        if (v->needs_grad)
          for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < L; j++) v->g[o * L + j] += gy[o * yv->shape[ax] * inner + at + j];
        at += L;
      }
    }
  }
}
