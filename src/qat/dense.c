/* Gemm and MatMul forward and backward (docs/qat.md eq. 12) with OpenBLAS sgemm; gradients are
 * accumulated with beta = 1. MatMul: B 2-D (A's leading axes flattened into rows) or A and B of
 * the same rank >= 3 with equal batch axes. */
#include <cblas.h>
#include <string.h>
#include "qat/qat_internal.h"
#include "exec/ops/conv_par.h"

static int bad(const qat_node_t *n, const char *what) {
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "node '%s' (%s): %s", n->label, n->op == QOP_GEMM ? "Gemm" : "MatMul", what);
}

typedef struct {
  int64_t M, K, N, batch; /* batch: MatMul's batched product count (0: B 2-D) */
} mm_t;

static int mm_geometry(cquant_qat_t *q, const qat_node_t *n, mm_t *g, int ndim_out, int64_t *shape) {
  const qat_val_t *a = &q->val[n->in[0]], *b = &q->val[n->in[1]];
  if (n->op == QOP_GEMM) {
    if (a->ndim != 2 || b->ndim != 2) return bad(n, "A and B must be 2-D");
    g->M = n->transA ? a->shape[1] : a->shape[0];
    g->K = n->transA ? a->shape[0] : a->shape[1];
    g->N = n->transB ? b->shape[0] : b->shape[1];
    if ((n->transB ? b->shape[1] : b->shape[0]) != g->K) return bad(n, "A and B do not fit");
    g->batch = 0;
    shape[0] = g->M, shape[1] = g->N;
    return 2;
  }
  (void)ndim_out;
  if (a->ndim < 2 || b->ndim < 2) return bad(n, "1-D operands are not supported by the trainer");
  g->K = a->shape[a->ndim - 1];
  if (b->shape[b->ndim - 2] != g->K) return bad(n, "A and B do not fit");
  g->N = b->shape[b->ndim - 1];
  memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
  shape[a->ndim - 1] = g->N;
  if (b->ndim == 2) {
    g->M = a->numel / (g->K ? g->K : 1), g->batch = 0;
  } else {
    if (b->ndim != a->ndim) return bad(n, "batched MatMul needs operands of the same rank");
    for (int i = 0; i < a->ndim - 2; i++)
      if (a->shape[i] != b->shape[i]) return bad(n, "batched MatMul needs equal batch axes");
    g->M = a->shape[a->ndim - 2];
    g->batch = a->numel / (g->M * g->K > 0 ? g->M * g->K : 1);
  }
  return a->ndim;
}

/* multiply-adds of the node's products: what cquant__par_blas_wide weighs */
static double mm_work(const mm_t *g) { return (double)(g->batch ? g->batch : 1) * (double)g->M * (double)g->N * (double)g->K; }

int cquant__qat_dense_fwd(cquant_qat_t *q, qat_node_t *n) {
  mm_t g;
  int64_t shape[QAT_MAXD];
  int nd = mm_geometry(q, n, &g, 0, shape), st;
  if (nd < 0) return nd;
  if ((st = cquant__qat_resize(q, n->out, nd, shape))) return st;
  const qat_val_t *a = &q->val[n->in[0]], *b = &q->val[n->in[1]];
  float *y = q->val[n->out].x;
  /* OpenBLAS gets the session's threads only for a product large enough (cquant__par_blas_wide),
   * and its workers are ended after it: idle, they would spin on the cores the pool's conv units use */
  if (n->op == QOP_GEMM) {
    const int wide = cquant__par_blas_wide(mm_work(&g));
    cblas_sgemm(CblasRowMajor, n->transA ? CblasTrans : CblasNoTrans, n->transB ? CblasTrans : CblasNoTrans, (int)g.M, (int)g.N, (int)g.K, n->alpha,
                a->x, (int)a->shape[1], b->x, (int)b->shape[1], 0.0f, y, (int)g.N);
    cquant__par_blas_narrow(wide);
    if (n->n_in > 2 && n->in[2] >= 0) {
      const qat_val_t *c = &q->val[n->in[2]];
      const int64_t cn = c->numel;
      const int per_col = cn == g.N && (c->ndim < 2 || c->shape[0] == 1), full = cn == g.M * g.N && !per_col, per_row = cn == g.M && !per_col && !full;
      if (!(per_col || full || per_row || cn == 1)) return bad(n, "C does not broadcast to M x N");
      const float *cx = per_col && cn > 1 && n->beta == 1.0f ? cquant__qat_bias_q(q, n, c->x, cn) : c->x; /* eq. 28 as exported */
      if (!cx) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
      for (int64_t i = 0; i < g.M; i++)
        for (int64_t j = 0; j < g.N; j++)
          y[i * g.N + j] += n->beta * cx[full ? i * g.N + j : per_col ? j : per_row ? i : 0];
    }
    return 0;
  }
  const int wide = cquant__par_blas_wide(mm_work(&g));
  if (!g.batch) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.M, (int)g.N, (int)g.K, 1.0f, a->x, (int)g.K, b->x, (int)g.N, 0.0f, y, (int)g.N);
  } else {
    for (int64_t t = 0; t < g.batch; t++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.M, (int)g.N, (int)g.K, 1.0f, a->x + t * g.M * g.K, (int)g.K,
                  b->x + t * g.K * g.N, (int)g.N, 0.0f, y + t * g.M * g.N, (int)g.N);
  }
  cquant__par_blas_narrow(wide);
  return 0;
}

void cquant__qat_dense_bwd(cquant_qat_t *q, qat_node_t *n) {
  mm_t g;
  int64_t shape[QAT_MAXD];
  if (mm_geometry(q, n, &g, 0, shape) < 0) return;
  qat_val_t *a = &q->val[n->in[0]], *b = &q->val[n->in[1]];
  const float *gy = q->val[n->out].g;
  /* sgemm's beta = 0 writes the first contribution (cquant__qat_grad_acc) */
  const float ba = a->needs_grad && cquant__qat_grad_acc(q, n->in[0]) ? 1.0f : 0.0f, bb = b->needs_grad && cquant__qat_grad_acc(q, n->in[1]) ? 1.0f : 0.0f;
  const int wide = cquant__par_blas_wide(mm_work(&g));
  if (n->op == QOP_GEMM) {
    const int lda = (int)a->shape[1], ldb = (int)b->shape[1];
    if (a->needs_grad) {
      if (!n->transA)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, n->transB ? CblasNoTrans : CblasTrans, (int)g.M, (int)g.K, (int)g.N, n->alpha, gy, (int)g.N, b->x,
                    ldb, ba, a->g, lda);
      else
        cblas_sgemm(CblasRowMajor, n->transB ? CblasTrans : CblasNoTrans, CblasTrans, (int)g.K, (int)g.M, (int)g.N, n->alpha, b->x, ldb, gy,
                    (int)g.N, ba, a->g, lda);
    }
    if (b->needs_grad) {
      if (!n->transB)
        cblas_sgemm(CblasRowMajor, n->transA ? CblasNoTrans : CblasTrans, CblasNoTrans, (int)g.K, (int)g.N, (int)g.M, n->alpha, a->x, lda, gy,
                    (int)g.N, bb, b->g, ldb);
      else
        cblas_sgemm(CblasRowMajor, CblasTrans, n->transA ? CblasTrans : CblasNoTrans, (int)g.N, (int)g.K, (int)g.M, n->alpha, gy, (int)g.N, a->x,
                    lda, bb, b->g, ldb);
    }
    if (n->n_in > 2 && n->in[2] >= 0 && q->val[n->in[2]].needs_grad) {
      qat_val_t *c = &q->val[n->in[2]];
      cquant__qat_grad_zeroed(q, n->in[2]);
      const int64_t cn = c->numel;
      const int per_col = cn == g.N && (c->ndim < 2 || c->shape[0] == 1), full = cn == g.M * g.N && !per_col, per_row = cn == g.M && !per_col && !full;
      for (int64_t i = 0; i < g.M; i++)
        for (int64_t j = 0; j < g.N; j++) c->g[full ? i * g.N + j : per_col ? j : per_row ? i : 0] += n->beta * gy[i * g.N + j];
    }
    cquant__par_blas_narrow(wide);
    return;
  }
  const int64_t nb = g.batch ? g.batch : 1;
  for (int64_t t = 0; t < nb; t++) {
    const float bta = t && !g.batch ? 1.0f : ba, btb = t && !g.batch ? 1.0f : bb; /* batched: each product its own block */
    const int64_t ao = g.batch ? t * g.M * g.K : 0, bo = g.batch ? t * g.K * g.N : 0, yo = g.batch ? t * g.M * g.N : 0;
    if (a->needs_grad)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g.M, (int)g.K, (int)g.N, 1.0f, gy + yo, (int)g.N, b->x + bo, (int)g.N, bta,
                  a->g + ao, (int)g.K);
    if (b->needs_grad)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.K, (int)g.N, (int)g.M, 1.0f, a->x + ao, (int)g.K, gy + yo, (int)g.N, btb,
                  b->g + bo, (int)g.N);
  }
  cquant__par_blas_narrow(wide);
}
