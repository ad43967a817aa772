/* The tape: value buffers sized per batch, the forward pass in node order and the backward pass in
 * reverse (each kernel adds its contributions into the gradients of its inputs; docs/qat.md eq. 1). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/conv_par.h"
#include "qat/qat_internal.h"

char *cquant__qat_str(cquant_qat_t *q, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char **s = realloc(q->strs, sizeof(char *) * (size_t)(q->n_strs + 1));
  if (!s || n < 0) return NULL;
  q->strs = s;
  char *t = malloc((size_t)n + 1);
  if (!t) return NULL;
  va_start(ap, fmt);
  vsnprintf(t, (size_t)n + 1, fmt, ap);
  va_end(ap);
  q->strs[q->n_strs++] = t;
  return t;
}

int cquant__qat_resize(cquant_qat_t *q, int vi, int ndim, const int64_t *shape) {
  qat_val_t *v = &q->val[vi];
  if (ndim > QAT_MAXD) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "qat: '%s' has rank %d (at most %d)", v->name, ndim, QAT_MAXD);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: '%s' would have a negative dimension", v->name);
    n *= shape[i];
    v->shape[i] = shape[i];
  }
  v->ndim = ndim;
  v->numel = n;
  if (n > v->cap) {
    float *x = realloc(v->x, sizeof(float) * (size_t)n);
    if (!x) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory for '%s'", v->name);
    v->x = x, v->cap = n;
  }
  return 0;
}

int cquant__qat_nthreads(void) { return cquant_get_num_threads(); }

void cquant__qat_par(int64_t units, qat_unit_fn fn, void *ctx) {
  if (units <= 0) return;
  cquant__par_run(units > 1 ? cquant_get_num_threads() : 1, units, fn, ctx);
}

typedef struct {
  int64_t n, grain;
  qat_range_fn fn;
  void *ctx;
} range_job_t;

static void range_unit(void *c, int64_t u, int worker) {
  const range_job_t *j = c;
  (void)worker;
  const int64_t i0 = u * j->grain, i1 = i0 + j->grain < j->n ? i0 + j->grain : j->n;
  j->fn(j->ctx, i0, i1);
}

void cquant__qat_par_range(int64_t n, int64_t grain, qat_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  range_job_t j = {n, grain, fn, ctx};
  cquant__qat_par((n + grain - 1) / grain, range_unit, &j);
}

float *cquant__qat_scratch(cquant_qat_t *q, int64_t n) {
  if (n > q->scratch_cap) {
    free(q->scratch);
    q->scratch = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    q->scratch_cap = q->scratch ? n : 0;
  }
  return q->scratch;
}

static int fwd(cquant_qat_t *q, qat_node_t *n, int training) {
  switch (n->op) {
    case QOP_CONV: return cquant__qat_conv_fwd(q, n);
    case QOP_GEMM: case QOP_MATMUL: return cquant__qat_dense_fwd(q, n);
    case QOP_BN: case QOP_LAYERNORM: case QOP_SOFTMAX:
      n->training_bn = training && !q->bn_frozen;
      return cquant__qat_norm_fwd(q, n);
    case QOP_MAXPOOL: case QOP_AVGPOOL: case QOP_GAP: return cquant__qat_pool_fwd(q, n);
    case QOP_FLATTEN: case QOP_RESHAPE: case QOP_TRANSPOSE: case QOP_CONCAT: case QOP_IDENTITY: return cquant__qat_shape_fwd(q, n);
    case QOP_FQ: return cquant__qat_fq_fwd(q, n, training);
    default: return cquant__qat_elem_fwd(q, n);
  }
}

static void bwd(cquant_qat_t *q, qat_node_t *n) {
  switch (n->op) {
    case QOP_CONV: cquant__qat_conv_bwd(q, n); break;
    case QOP_GEMM: case QOP_MATMUL: cquant__qat_dense_bwd(q, n); break;
    case QOP_BN: case QOP_LAYERNORM: case QOP_SOFTMAX: cquant__qat_norm_bwd(q, n); break;
    case QOP_MAXPOOL: case QOP_AVGPOOL: case QOP_GAP: cquant__qat_pool_bwd(q, n); break;
    case QOP_FLATTEN: case QOP_RESHAPE: case QOP_TRANSPOSE: case QOP_CONCAT: case QOP_IDENTITY: cquant__qat_shape_bwd(q, n); break;
    case QOP_FQ: cquant__qat_fq_bwd(q, n); break;
    case QOP_BNSCALE: break;
    default: cquant__qat_elem_bwd(q, n); break;
  }
}

int cquant__qat_forward(cquant_qat_t *q, int training) {
  for (int i = 0; i < q->n_node; i++) {
    qat_node_t *n = &q->node[i];
    int st = fwd(q, n, training);
    if (st) return n->src ? cquant__error_prefix(st, "qat") : st;
  }
  return 0;
}

int cquant__qat_grad_acc(cquant_qat_t *q, int vi) {
  qat_val_t *v = &q->val[vi];
  if (v->gset) return 1;
  v->gset = 1;
  return 0;
}

void cquant__qat_grad_zeroed(cquant_qat_t *q, int vi) {
  qat_val_t *v = &q->val[vi];
  if (v->gset) return;
  v->gset = 1;
  memset(v->g, 0, sizeof(float) * (size_t)v->numel);
}

/* Gradients of every value that needs one, sized like the value, then the nodes in reverse; each
 * gradient is written by its first contributor and added to by the others (cquant__qat_grad_acc).
 * The output's gradient is set by the loss before this runs (q->val[q->output].g). */
int cquant__qat_backward(cquant_qat_t *q) {
  for (int i = 0; i < q->n_node; i++) {
    qat_node_t *n = &q->node[i];
    for (int k = 0; k < n->n_in; k++) {
      qat_val_t *v = n->in[k] >= 0 ? &q->val[n->in[k]] : NULL;
      if (!v || !v->needs_grad) continue;
      if (v->numel > v->gcap) {
        free(v->g);
        v->g = malloc(sizeof(float) * (size_t)(v->numel ? v->numel : 1));
        if (!v->g) { v->gcap = 0; return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory"); }
        v->gcap = v->numel;
      }
      v->gset = 0;
    }
  }
  q->val[q->output].gset = 1;
  for (int i = q->n_node - 1; i >= 0; i--) {
    qat_node_t *n = &q->node[i];
    qat_val_t *y = &q->val[n->out];
    if (!y->needs_grad || !y->g) continue;
    cquant__qat_grad_zeroed(q, n->out); /* a value no node read: no gradient */
    bwd(q, n);
  }
  for (int p = 0; p < q->n_par; p++) /* parameters no node reached */
    if (q->val[q->par[p].val].g) cquant__qat_grad_zeroed(q, q->par[p].val);
  return 0;
}
