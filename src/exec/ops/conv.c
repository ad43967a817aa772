/* Float32 convolution and matrix products of the ONNX executor: Conv (a direct depthwise kernel in
 * conv_dw.c, GEMM on the input or on im2col blocks in conv_gemm.c), Gemm, MatMul. Checked against
 * ONNX Runtime (tests/ort_compare.py). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "core/internal.h"
#include "exec/exec_internal.h"
#include "exec/ops/conv_internal.h"
#include "exec/ops/conv_fuse.h"

int cquant__op_conv(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return cquant__op_conv2d_epi(ctx, node, in, n_in, out, n_out, NULL);
}

int cquant__op_conv2d_epi(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out,
                          const cquant__conv_epi_t *e) {
  int st;
  if ((st = cquant__need_f32(node, in[0], "X")) || (st = cquant__need_f32(node, in[1], "W"))) return st;
  cquant__conv2d_t p;
  if ((st = cquant__conv_params(node, in[0], in[1], &p))) return st;
  const cquant_array_t *b = n_in > 2 ? in[2] : NULL;
  if (b && (b->dtype != CQUANT_DT_F32 || b->numel != p.m)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "B must be float32 with %lld entries", (long long)p.m);
  int64_t shape[4] = {p.n, p.m, p.oh, p.ow};
  if ((st = cquant__array_alloc_uninit(&out[0], CQUANT_DT_F32, 4, shape))) return st; /* every element is written */
  const float *x = in[0]->data, *w = in[1]->data, *bd = b ? b->data : NULL;
  float *y = out[0].data;
  /* one input channel per output channel (depthwise): the direct kernel, which applies Relu and
   * Clip itself (other epilogues follow in a pass over y); else GEMM, the epilogue per block */
  if (e && !e->add && e->act == CQUANT__EPI_NONE) e = NULL;
  if (p.c == p.group) {
    const int own = e && !e->add && (e->act == CQUANT__EPI_RELU || e->act == CQUANT__EPI_CLIP);
    st = cquant__conv_dw_f32_act(&p, x, w, bd, own ? e->act == CQUANT__EPI_RELU ? 1 : 2 : 0, own ? e->a : 0.0f, own ? e->b : 0.0f, y);
    if (!st && e && !own) cquant__conv_epi_tensor(e, y, out[0].numel);
  } else if (cquant__conv_small_fits(&p)) { /* few taps or long rows: directly (conv_small.c) */
    st = cquant__conv_small_f32(&p, x, w, bd, e, y);
  } else {
    st = cquant__conv_gemm_f32_epi(&p, x, w, bd, e, y);
  }
  if (st) {
    cquant_array_free(&out[0]);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "Conv: out of memory");
  }
  return CQUANT_STATUS_OK;
}

/* y[n0, n1) of y = alpha op(B) a for one row a, as units of cquant__par_run */
typedef struct {
  const float *b, *a;
  float *y;
  int tb, rows, cols, inc;
  float alpha;
  int64_t n, per;
} gemv_job_t;

static void gemv_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const gemv_job_t *j = vj;
  const int64_t n0 = u * j->per, n1 = n0 + j->per < j->n ? n0 + j->per : j->n;
  if (j->tb) /* B is (N, K): rows n0 .. n1 */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(n1 - n0), j->cols, j->alpha, j->b + n0 * j->cols, j->cols, j->a, j->inc, 0.0f, j->y + n0, 1);
  else /* B is (K, N): columns n0 .. n1 */
    cblas_sgemv(CblasRowMajor, CblasTrans, j->rows, (int)(n1 - n0), j->alpha, j->b + n0, j->cols, j->a, j->inc, 0.0f, j->y + n0, 1);
}

int cquant__op_gemm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = cquant__need_f32(node, in[0], "A")) || (st = cquant__need_f32(node, in[1], "B"))) return st;
  const cquant_array_t *a = in[0], *b = in[1], *c = n_in > 2 ? in[2] : NULL;
  if (a->ndim != 2 || b->ndim != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A and B must be 2-D");
  const int ta = (int)cquant__attr_int(node, "transA", 0), tb = (int)cquant__attr_int(node, "transB", 0);
  const Onnx__AttributeProto *aa = cquant__attr(node, "alpha"), *ab = cquant__attr(node, "beta");
  const float alpha = aa && aa->has_f ? aa->f : 1.0f, beta = ab && ab->has_f ? ab->f : 1.0f;
  const int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  const int64_t K2 = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
  if (K != K2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld", (long long)K, (long long)K2);
  int64_t shape[2] = {M, N};
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, 2, shape))) return st;
  float *y = out[0].data;
  if (M == 1) { /* one row (a classifier head): a matrix-vector product reads B once, unpacked */
    gemv_job_t j = {.b = b->data, .a = a->data, .y = y, .tb = tb, .rows = (int)b->shape[0], .cols = (int)b->shape[1], .inc = ta ? (int)a->shape[1] : 1, .alpha = alpha, .n = N};
    /* B (N, K), as exporters write a Linear: slices of 64 outputs, about four a thread, each output
     * the same dot product as in one call; B (K, N) stays one call (OpenBLAS's kernel for that form
     * sums some outputs in another order when the rows are cut: tests/test_exec_threads.c) */
    const int threads = tb ? cquant__conv_threads((double)N * (double)K) : 1;
    j.per = threads > 1 ? ((N + 4 * threads - 1) / (4 * threads) + 63) / 64 * 64 : N;
    j.per = j.per < 1 ? 1 : j.per; /* N = 0: no unit */
    cquant__par_run(threads, (N + j.per - 1) / j.per, gemv_unit, &j);
  } else {
    /* a constant B (N, K), as exporters write a Linear: kept transposed with the node (K, N), so the
     * product's small chunks do not copy it on every call (cquant__sgemm); the same bits */
    const float *bt = NULL;
    if (tb && cquant__input_is_const(ctx, 1) && ctx->node >= 0 && !(bt = cquant__cache_get(ctx, b->data))) {
      float *t = malloc(sizeof(float) * (size_t)(N * K + 1));
      if (t) {
        cquant__transpose_f32(b->data, K, N, K, t, N);
        bt = cquant__cache_put(ctx, b->data, t, free); /* not NULL: a top-level node of a model run */
      }
    }
    const int wide = cquant__par_blas_wide((double)M * (double)N * (double)K);
    if (bt) cquant__sgemm(ta, 0, M, N, K, alpha, a->data, a->shape[1], bt, N, 0.0f, y, N);
    else cquant__sgemm(ta, tb, M, N, K, alpha, a->data, a->shape[1], b->data, b->shape[1], 0.0f, y, N);
    cquant__par_blas_narrow(wide);
  }
  if (c) { /* C broadcasts to (M, N) unidirectionally */
    if ((st = cquant__need_f32(node, c, "C"))) { cquant_array_free(&out[0]); return st; }
    int64_t cm = c->ndim == 2 ? c->shape[0] : 1, cn = c->ndim >= 1 ? c->shape[c->ndim - 1] : 1;
    if (c->ndim > 2 || (cm != 1 && cm != M) || (cn != 1 && cn != N)) {
      cquant_array_free(&out[0]);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "C does not broadcast to (%lld, %lld)", (long long)M, (long long)N);
    }
    const float *cd = c->data;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) y[i * N + j] += beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_matmul(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = cquant__need_f32(node, in[0], "A")) || (st = cquant__need_f32(node, in[1], "B"))) return st;
  const cquant_array_t *a = in[0], *b = in[1];
  if (a->ndim < 2 || b->ndim < 2) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "1-D MatMul operands are not supported yet");
  const int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
  if (b->shape[b->ndim - 2] != K) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ");
  /* batch dimensions: B's must be all 1 (shared weights) or equal to A's */
  int64_t ba = a->numel / (M * K != 0 ? M * K : 1), bb = b->numel / (K * N != 0 ? K * N : 1);
  if (bb != 1 && bb != ba) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "batch broadcasting of B beyond sharing is not supported");
  int64_t shape[CQUANT_MAX_DIMS];
  const cquant_array_t *big = a->ndim >= b->ndim ? a : b;
  int nd = big->ndim;
  for (int d = 0; d < nd - 2; d++) shape[d] = big->shape[d];
  shape[nd - 2] = M;
  shape[nd - 1] = N;
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, nd, shape))) return st;
  const int wide = cquant__par_blas_wide((double)ba * (double)M * (double)N * (double)K);
  for (int64_t t = 0; t < ba; t++)
    cquant__sgemm(0, 0, M, N, K, 1.0f, (const float *)a->data + t * M * K, K, (const float *)b->data + (bb == 1 ? 0 : t * K * N), N, 0.0f,
                  (float *)out[0].data + t * M * N, N);
  cquant__par_blas_narrow(wide);
  return CQUANT_STATUS_OK;
}
