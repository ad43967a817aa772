/* Gemm and MatMul of every type the spec allows: float32 through OpenBLAS (conv.c's Gemm for the
 * plain case), float64 through dgemm, float16/bfloat16 in float32 rounded once, 32/64-bit integers
 * exactly (wrapping). MatMul broadcasts its batch axes and takes 1-D operands. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/quantize.h"
#include "exec/ops/conv_internal.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/nn_internal.h"

static int is_int(cquant_dtype_t dt) { return dt == CQUANT_DT_S32 || dt == CQUANT_DT_S64 || dt == CQUANT_DT_U32 || dt == CQUANT_DT_U64; }

static int need_type(const Onnx__NodeProto *node, const cquant_array_t *a, const cquant_array_t *b) {
  if (!a || !b) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A and B are required");
  if (a->dtype != b->dtype) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A is %s and B %s", cquant_dtype_info(a->dtype)->name, cquant_dtype_info(b->dtype)->name);
  if (!cquant__is_float(a->dtype) && !is_int(a->dtype))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s operands; float, int32, int64, uint32 or uint64 expected", cquant_dtype_info(a->dtype)->name);
  return CQUANT_STATUS_OK;
}

/* Rows [u per, (u + 1) per) of a float32 y = alpha a op(b) (a not transposed), a unit of cquant__par_run. */
typedef struct {
  int64_t M, N, K, lda, ldb, per, units;
  const float *a, *b;
  float *y, alpha;
  int tb, cols; /* cols: the units are runs of per output columns, else of per rows; the last takes the rest */
} mm_job_t;

static void mm_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const mm_job_t *j = vj;
  const int64_t i0 = u * j->per, i1 = u == j->units - 1 ? (j->cols ? j->N : j->M) : i0 + j->per;
  if (j->cols) /* columns i0 .. i1 of op(b): rows of b when transposed */
    cquant__sgemm(0, j->tb, j->M, i1 - i0, j->K, j->alpha, j->a, j->lda, j->b + (j->tb ? i0 * j->ldb : i0), j->ldb, 0.0f, j->y + i0, j->N);
  else
    cquant__sgemm(0, j->tb, i1 - i0, j->N, j->K, j->alpha, j->a + i0 * j->lda, j->lda, j->b, j->ldb, 0.0f, j->y + i0 * j->N, j->N);
}

/* Product t of a batched float32 MatMul (operands as float32), an item of cquant__par_for: its
 * offsets from its index on the broadcast batch axes bshape, strides sa, sb in matrices (0 on a
 * broadcast axis). */
typedef struct {
  int r;
  int64_t M, N, K, bshape[CQUANT_MAX_DIMS], sa[CQUANT_MAX_DIMS], sb[CQUANT_MAX_DIMS];
  const float *a, *b;
  float *y;
} bmm_job_t;

static void bmm_product(const void *vj, int64_t t) {
  const bmm_job_t *j = vj;
  int64_t oa = 0, ob = 0, rest = t;
  for (int d = j->r - 1; d >= 0; d--) {
    const int64_t i = rest % j->bshape[d];
    rest /= j->bshape[d];
    oa += i * j->sa[d], ob += i * j->sb[d];
  }
  cquant__sgemm(0, 0, j->M, j->N, j->K, 1.0f, j->a + oa * j->M * j->K, j->K, j->b + ob * j->K * j->N, j->N, 0.0f, j->y + t * j->M * j->N, j->N);
}

/* y (M x N, ldy N) = op(a) op(b) with a of lda columns, b of ldb columns (transposes ta, tb), for
 * the array's element type: floats in float32 (float64 in double) through BLAS, integers exact.
 * ad, bd, yd: the element data of a, b and y (float32 copies for float16/bfloat16). */
static void mm(cquant_dtype_t dt, int ta, int tb, int64_t M, int64_t N, int64_t K, const void *ad, int64_t lda, const void *bd, int64_t ldb, void *yd,
               double alpha) {
  if (!M || !N) return;
  if (dt == CQUANT_DT_F64 || !is_int(dt)) { /* float64, float32 data (copies for the other float types) */
    if (!K) {
      memset(yd, 0, (dt == CQUANT_DT_F64 ? sizeof(double) : sizeof(float)) * (size_t)(M * N));
      return;
    }
    if (dt != CQUANT_DT_F64 && !ta && cquant__conv_threads((double)M * (double)N * (double)K / 8) > 1) {
      /* float32 of 8 * 10^6 multiply-adds or more over the pool, each unit a single-threaded sgemm:
       * runs of 256 rows or more (a channels-last MLP over 56 x 56 pixels), else runs of 64-column
       * multiples (a transformer's few tokens), 2 * 10^5 multiply-adds a unit at least; the bits
       * are those of one call (cquant__sgemm sums every element alike however it is cut) */
      mm_job_t j = {.M = M, .N = N, .K = K, .a = ad, .lda = lda, .b = bd, .ldb = ldb, .y = yd, .alpha = (float)alpha, .tb = tb};
      const int64_t want = 4 * (int64_t)cquant_get_num_threads();
      const int64_t lr = (int64_t)(2e5 / ((double)N * (double)K)) + 1, least_r = lr > 256 ? lr : 256;
      const int64_t least_c = ((int64_t)(2e5 / ((double)M * (double)K)) + 1 + 63) / 64 * 64;
      /* columns: two runs a thread (each packs all of a again) */
      const int64_t rr = M / least_r < want ? M / least_r : want, rc = N / least_c < want / 2 ? N / least_c : want / 2;
      if (rr < 2 && rc >= 2) { /* per >= least_c: N / rc >= least_c, a multiple of 64 */
        j.cols = 1;
        j.per = N / rc / 64 * 64;
        j.units = N / j.per;
      } else {
        j.per = rr > 1 ? M / rr : M;
        j.units = rr > 1 ? rr : 1;
      }
      if (j.units > 1) {
        cquant__par_run(cquant_get_num_threads(), j.units, mm_unit, &j);
        return;
      }
    }
    const int wide = cquant__par_blas_wide((double)M * (double)N * (double)K); /* OpenBLAS's threads for a large one */
    if (dt == CQUANT_DT_F64)
      cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, ad, (int)lda, bd, (int)ldb,
                  0.0, yd, (int)N);
    else
      cquant__sgemm(ta, tb, M, N, K, (float)alpha, ad, lda, bd, ldb, 0.0f, yd, N);
    cquant__par_blas_narrow(wide);
    return;
  }
  const int wide = dt == CQUANT_DT_S64 || dt == CQUANT_DT_U64, sgn = dt == CQUANT_DT_S32 || dt == CQUANT_DT_S64;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      uint64_t acc = 0; /* wraps as the integer product does */
      for (int64_t k = 0; k < K; k++) {
        const int64_t ia = ta ? k * lda + i : i * lda + k, ib = tb ? j * ldb + k : k * ldb + j;
        uint64_t va, vb;
        if (wide) va = ((const uint64_t *)ad)[ia], vb = ((const uint64_t *)bd)[ib];
        else if (sgn) va = (uint64_t)(int64_t)((const int32_t *)ad)[ia], vb = (uint64_t)(int64_t)((const int32_t *)bd)[ib];
        else va = ((const uint32_t *)ad)[ia], vb = ((const uint32_t *)bd)[ib];
        acc += va * vb;
      }
      if (wide) ((uint64_t *)yd)[i * N + j] = acc;
      else ((uint32_t *)yd)[i * N + j] = (uint32_t)acc;
    }
}

/* Float16/bfloat16 operands are computed on float32 copies: *a32, *b32 (freed by the caller). */
static int operands(const Onnx__NodeProto *node, const cquant_array_t *a, const cquant_array_t *b, const void **ad, const void **bd, float **a32, float **b32) {
  *a32 = *b32 = NULL;
  *ad = a->data;
  *bd = b->data;
  if (a->dtype == CQUANT_DT_F32 || a->dtype == CQUANT_DT_F64 || is_int(a->dtype)) return CQUANT_STATUS_OK;
  *ad = *a32 = cquant__nn_to_f32(a);
  *bd = *b32 = cquant__nn_to_f32(b);
  return *a32 && *b32 ? CQUANT_STATUS_OK : cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
}

static size_t work_size(cquant_dtype_t dt) { return dt == CQUANT_DT_F64 || dt == CQUANT_DT_S64 || dt == CQUANT_DT_U64 ? 8 : 4; }

int cquant__op_nn_gemm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *a = in[0], *b = in[1], *c = n_in > 2 ? in[2] : NULL;
  int st;
  if ((st = need_type(node, a, b))) return st;
  if (a->ndim != 2 || b->ndim != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A and B must be 2-D");
  const int ta = cquant__attr_int(node, "transA", 0) != 0, tb = cquant__attr_int(node, "transB", 0) != 0;
  const int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  const int64_t K2 = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
  if (K != K2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld", (long long)K, (long long)K2);
  if (M >= INT_MAX || N >= INT_MAX || K >= INT_MAX) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "dimensions past 2^31");
  int64_t cm = 1, cn = 1;
  if (c) { /* C broadcasts to (M, N) unidirectionally */
    if (c->dtype != a->dtype) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "C must have A's type");
    cm = c->ndim == 2 ? c->shape[0] : 1;
    cn = c->ndim >= 1 ? c->shape[c->ndim - 1] : 1;
    if (c->ndim > 2 || (cm != 1 && cm != M) || (cn != 1 && cn != N))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "C does not broadcast to (%lld, %lld)", (long long)M, (long long)N);
  }
  if (a->dtype == CQUANT_DT_F32 && M > 0 && N > 0 && K > 0) return cquant__op_gemm(ctx, node, in, n_in, out, n_out); /* conv.c */
  const double alpha = cquant__attr_float(node, "alpha", 1.0f), beta = cquant__attr_float(node, "beta", 1.0f);
  int64_t shape[2] = {M, N};
  if ((st = cquant_array_alloc(&out[0], a->dtype, 2, shape))) return st;
  const void *ad, *bd;
  float *a32, *b32;
  void *yd = out[0].data;
  const int conv = a->dtype != CQUANT_DT_F32 && a->dtype != CQUANT_DT_F64 && !is_int(a->dtype);
  if ((st = operands(node, a, b, &ad, &bd, &a32, &b32)) || (conv && !(yd = malloc(sizeof(float) * (size_t)(M * N > 0 ? M * N : 1))))) {
    free(a32), free(b32);
    cquant_array_free(&out[0]);
    return st ? st : cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  mm(a->dtype, ta, tb, M, N, K, ad, a->shape[1], bd, b->shape[1], yd, is_int(a->dtype) ? 1 : alpha);
  free(a32), free(b32);
  const int64_t MN = M * N;
  if (is_int(a->dtype)) { /* integer Gemm: alpha and beta applied in int64 when not 1 */
    for (int64_t i = 0; i < MN; i++) {
      int64_t v = cquant__get_i64(&out[0], i);
      if (alpha != 1) v = (int64_t)(alpha * (double)v);
      if (c) {
        const int64_t cv = cquant__get_i64(c, ((i / N) % cm) * cn + (i % N) % cn);
        v = (int64_t)((uint64_t)v + (uint64_t)(beta == 1 ? cv : (int64_t)(beta * (double)cv)));
      }
      cquant__set_i64(&out[0], i, v);
    }
    return CQUANT_STATUS_OK;
  }
  if (a->dtype == CQUANT_DT_F64) {
    double *y = yd;
    if (c)
      for (int64_t i = 0; i < MN; i++) y[i] += beta * cquant__get_f64(c, ((i / N) % cm) * cn + (i % N) % cn);
    return CQUANT_STATUS_OK;
  }
  float *y = yd; /* float32 (empty products) or a float32 copy of float16/bfloat16 */
  if (c)
    for (int64_t i = 0; i < MN; i++) y[i] += (float)beta * (float)cquant__get_f64(c, ((i / N) % cm) * cn + (i % N) % cn);
  if (conv) {
    cquant__nn_from_f32(y, &out[0]);
    free(y);
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_nn_matmul(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *a = in[0], *b = in[1];
  int st;
  if ((st = need_type(node, a, b))) return st;
  if (a->ndim < 1 || b->ndim < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "MatMul operands must have at least 1 dimension");
  /* 1-D operands: A as (1, K), B as (K, 1); the added axis is dropped from the output */
  const int a1 = a->ndim == 1, b1 = b->ndim == 1;
  const int64_t M = a1 ? 1 : a->shape[a->ndim - 2], K = a->shape[a->ndim - 1];
  const int64_t Kb = b1 ? b->shape[0] : b->shape[b->ndim - 2], N = b1 ? 1 : b->shape[b->ndim - 1];
  if (K != Kb) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld", (long long)K, (long long)Kb);
  if (M >= INT_MAX || N >= INT_MAX || K >= INT_MAX) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "dimensions past 2^31");
  /* batch axes: numpy broadcasting of A's and B's leading axes */
  const int ra = a1 ? 0 : a->ndim - 2, rb = b1 ? 0 : b->ndim - 2, r = ra > rb ? ra : rb;
  int64_t bshape[CQUANT_MAX_DIMS], sa[CQUANT_MAX_DIMS], sb[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], nb = 1;
  for (int d = 0; d < r; d++) {
    const int64_t da = d - (r - ra) >= 0 ? a->shape[d - (r - ra)] : 1, db = d - (r - rb) >= 0 ? b->shape[d - (r - rb)] : 1;
    if (da != db && da != 1 && db != 1)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "batch axes do not broadcast (%lld vs %lld)", (long long)da, (long long)db);
    bshape[d] = da == 1 ? db : da;
    nb *= bshape[d];
  }
  int64_t ea = 1, eb = 1;
  for (int d = r - 1; d >= 0; d--) { /* strides in matrices; 0 on broadcast axes */
    const int64_t da = d - (r - ra) >= 0 ? a->shape[d - (r - ra)] : 1, db = d - (r - rb) >= 0 ? b->shape[d - (r - rb)] : 1;
    sa[d] = da == 1 ? 0 : ea;
    sb[d] = db == 1 ? 0 : eb;
    ea *= da, eb *= db;
  }
  int nd = 0;
  for (int d = 0; d < r; d++) shape[nd++] = bshape[d];
  if (!a1) shape[nd++] = M;
  if (!b1) shape[nd++] = N;
  if ((st = cquant_array_alloc(&out[0], a->dtype, nd, shape))) return st;
  if (!out[0].numel) return CQUANT_STATUS_OK;
  const void *ad, *bd;
  float *a32, *b32;
  void *yd = out[0].data;
  const int conv = a->dtype != CQUANT_DT_F32 && a->dtype != CQUANT_DT_F64 && !is_int(a->dtype);
  if ((st = operands(node, a, b, &ad, &bd, &a32, &b32)) || (conv && !(yd = malloc(sizeof(float) * (size_t)out[0].numel)))) {
    free(a32), free(b32);
    cquant_array_free(&out[0]);
    return st ? st : cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  const size_t es = work_size(a->dtype);
  int64_t bnum = 1;
  for (int d = 0; d < rb; d++) bnum *= b->shape[d];
  if (bnum == 1 && !a1 && nb * M < INT_MAX) { /* B shared by every batch (weights): one product of all A's rows */
    mm(a->dtype, 0, 0, nb * M, N, K, ad, K, bd, N, yd, 1);
  } else if (!is_int(a->dtype) && a->dtype != CQUANT_DT_F64 && nb > 1 && (double)M * (double)N * (double)K < 8e6 &&
             cquant__conv_threads((double)nb * (double)M * (double)N * (double)K / 8) > 1) {
    /* float32 products too small to split one by one (attention's heads and windows): runs of
     * whole products over the pool, each sgemm single-threaded as in the loop below */
    bmm_job_t j = {.r = r, .M = M, .N = N, .K = K, .a = ad, .b = bd, .y = yd};
    memcpy(j.bshape, bshape, sizeof bshape), memcpy(j.sa, sa, sizeof sa), memcpy(j.sb, sb, sizeof sb);
    cquant__par_for(cquant_get_num_threads(), nb, bmm_product, &j);
  } else {
    int64_t idx[CQUANT_MAX_DIMS] = {0};
    for (int64_t t = 0; t < nb; t++) {
      int64_t oa = 0, ob = 0;
      for (int d = 0; d < r; d++) oa += idx[d] * sa[d], ob += idx[d] * sb[d];
      mm(a->dtype, 0, 0, M, N, K, (const char *)ad + (size_t)(oa * M * K) * es, K, (const char *)bd + (size_t)(ob * K * N) * es, N,
         (char *)yd + (size_t)(t * M * N) * es, 1);
      for (int d = r - 1; d >= 0 && ++idx[d] == bshape[d]; d--) idx[d] = 0;
    }
  }
  free(a32), free(b32);
  if (conv) {
    cquant__nn_from_f32(yd, &out[0]);
    free(yd);
  }
  return CQUANT_STATUS_OK;
}
