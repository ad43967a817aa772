/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (reduction none / sum / mean, class
 * weights, ignore_index; the log-probabilities as SoftmaxCrossEntropyLoss's second output) and Det
 * (batched, LU with partial pivoting). Computed in double, rounded once at the store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/reduce_internal.h"

/* The loss of log-probabilities lp ([N][C][D], doubles) against target ([N][D]). */
static int nll(const Onnx__NodeProto *node, const double *lp, int64_t N, int64_t C, int64_t D, const cquant_array_t *target,
               const cquant_array_t *weight, cquant_dtype_t dt, cquant_array_t *y) {
  const char *red = cquant__attr_string(node, "reduction", "mean");
  const int mode = !strcmp(red, "none") ? 0 : !strcmp(red, "sum") ? 1 : !strcmp(red, "mean") ? 2 : -1;
  if (mode < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "reduction '%s' (none, sum or mean expected)", red);
  const int has_ii = cquant__attr(node, "ignore_index") != NULL;
  const int64_t ii = cquant__attr_int(node, "ignore_index", 0);
  if (weight && (weight->ndim != 1 || weight->shape[0] != C))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "weight must be 1-D with %lld entries", (long long)C);
  int64_t shape[CQUANT_MAX_DIMS];
  for (int d = 0; d < target->ndim; d++) shape[d] = target->shape[d];
  int st = cquant_array_alloc(y, dt, mode ? 0 : target->ndim, shape);
  if (st) return st;
  double sum = 0, wsum = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t d = 0; d < D; d++) {
      const int64_t t = cquant__get_i64(target, n * D + d);
      double l = 0;
      if (!(has_ii && t == ii)) {
        if (t < 0 || t >= C) {
          cquant_array_free(y);
          return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "target %lld is outside [0, %lld)", (long long)t, (long long)C);
        }
        const double w = weight ? cquant__get_f64(weight, t) : 1.0;
        l = -lp[(n * C + t) * D + d] * w;
        wsum += w;
      }
      if (!mode) cquant__set_f64(y, n * D + d, l);
      sum += l;
    }
  if (mode) cquant__set_f64(y, 0, mode == 2 ? sum / wsum : sum);
  return CQUANT_STATUS_OK;
}

/* Checks input [N][C][d...] against target [N][d...]; N, C, D (the product of the d's). */
static int loss_shapes(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *t, const cquant_array_t *w, int64_t *N,
                       int64_t *C, int64_t *D) {
  int st;
  if ((st = cquant__rd_need_float(node, x, "input")) || (st = cquant__rd_need(node, t, "target"))) return st;
  if (w && (st = cquant__rd_need_float(node, w, "weight"))) return st;
  if (t->dtype != CQUANT_DT_S32 && t->dtype != CQUANT_DT_S64)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "target must be int32 or int64");
  if (x->ndim < 2 || t->ndim != x->ndim - 1)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input must be [N, C, d...] and target [N, d...] (ranks %d and %d)", x->ndim, t->ndim);
  *D = 1;
  for (int d = 0; d < t->ndim; d++) {
    if (t->shape[d] != x->shape[d ? d + 1 : 0])
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "target's dimension %d is %lld, input's is %lld", d, (long long)t->shape[d],
                                (long long)x->shape[d ? d + 1 : 0]);
    if (d) *D *= t->shape[d];
  }
  *N = x->shape[0], *C = x->shape[1];
  return CQUANT_STATUS_OK;
}

int cquant__op_nllloss(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0], *t = n_in > 1 ? in[1] : NULL, *w = n_in > 2 ? in[2] : NULL;
  int64_t N, C, D;
  int st = loss_shapes(node, x, t, w, &N, &C, &D);
  if (st) return st;
  double *lp = malloc(sizeof(double) * (size_t)(x->numel ? x->numel : 1));
  if (!lp) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < x->numel; i++) lp[i] = cquant__get_f64(x, i);
  st = nll(node, lp, N, C, D, t, w, x->dtype, &out[0]);
  free(lp);
  return st;
}

int cquant__op_sce_loss(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx;
  const cquant_array_t *x = in[0], *t = n_in > 1 ? in[1] : NULL, *w = n_in > 2 ? in[2] : NULL;
  int64_t N, C, D;
  int st = loss_shapes(node, x, t, w, &N, &C, &D);
  if (st) return st;
  double *lp = malloc(sizeof(double) * (size_t)(x->numel ? x->numel : 1));
  if (!lp) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t n = 0; n < N; n++) /* log-softmax along C */
    for (int64_t d = 0; d < D; d++) {
      double mx = -INFINITY, s = 0;
      for (int64_t c = 0; c < C; c++) {
        const double v = lp[(n * C + c) * D + d] = cquant__get_f64(x, (n * C + c) * D + d);
        mx = v > mx ? v : mx;
      }
      for (int64_t c = 0; c < C; c++) s += exp(lp[(n * C + c) * D + d] - mx);
      const double ls = log(s);
      for (int64_t c = 0; c < C; c++) lp[(n * C + c) * D + d] = (lp[(n * C + c) * D + d] - mx) - ls;
    }
  if (!(st = nll(node, lp, N, C, D, t, w, x->dtype, &out[0])) && n_out > 1) {
    if ((st = cquant_array_alloc(&out[1], x->dtype, x->ndim, x->shape))) cquant_array_free(&out[0]);
    else
      for (int64_t i = 0; i < x->numel; i++) cquant__set_f64(&out[1], i, lp[i]);
  }
  free(lp);
  return st;
}

int cquant__op_det(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__rd_need_float(node, x, "X");
  if (st) return st;
  if (x->ndim < 2 || x->shape[x->ndim - 1] != x->shape[x->ndim - 2])
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must be [*, M, M]");
  const int64_t M = x->shape[x->ndim - 1];
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim - 2, x->shape))) return st;
  double *a = malloc(sizeof(double) * (size_t)(M ? M * M : 1));
  if (!a) {
    cquant_array_free(&out[0]);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t b = 0; b < out[0].numel; b++) {
    for (int64_t i = 0; i < M * M; i++) a[i] = cquant__get_f64(x, b * M * M + i);
    double det = 1;
    for (int64_t c = 0; c < M && det != 0; c++) {
      int64_t p = c;
      for (int64_t r = c + 1; r < M; r++)
        if (fabs(a[r * M + c]) > fabs(a[p * M + c])) p = r;
      if (a[p * M + c] == 0) { det = 0; break; }
      if (p != c) {
        for (int64_t k = 0; k < M; k++) {
          const double v = a[c * M + k];
          a[c * M + k] = a[p * M + k], a[p * M + k] = v;
        }
        det = -det;
      }
      det *= a[c * M + c];
      for (int64_t r = c + 1; r < M; r++) {
        const double f = a[r * M + c] / a[c * M + c];
        for (int64_t k = c; k < M; k++) a[r * M + k] -= f * a[c * M + k];
      }
    }
    cquant__set_f64(&out[0], b, det);
  }
  free(a);
  return CQUANT_STATUS_OK;
}
