/* Error report: MSE, SQNR, max error, and the split of the MSE into clipping and rounding
 * (docs/quantization.md, sec. 5, eq. 17-20). */
#include <math.h>
#include <string.h>
#include "core/internal.h"

void cquant_error_accum_init(cquant_error_accum_t *a) {
  memset(a, 0, sizeof *a);
  a->has_split = 1;
}

int cquant_error_accum_add(cquant_error_accum_t *a, const float *x, const float *y, size_t n, const cquant_qparams_t *qp) {
  if (!a || (n && (!x || !y))) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "error report: NULL argument");
  int64_t outer = 1, len = 1, inner = 1;
  if (qp) {
    int64_t m = 1;
    for (int d = 0; d < qp->ndim; d++) m *= qp->shape[d];
    if ((size_t)m != n)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "error report: parameters describe %lld elements, data has %zu",
                           (long long)m, n);
    cquant__split_shape(qp, &outer, &len, &inner);
  }
  const int fp8 = qp && (qp->dtype == CQUANT_DT_F8E4M3 || qp->dtype == CQUANT_DT_F8E5M2);
  const double fp8_max = fp8 ? cquant_dtype_info(qp->dtype)->max : 0.0;
  double sig = 0, clip = 0, rnd = 0, maxabs = 0;
  int64_t nclip = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(x[i]) || isnan(y[i]))
      return cquant__error(CQUANT_STATUS_NOT_FINITE, "error report: element %zu is NaN", i);
    double d = (double)x[i] - (double)y[i], e = d * d;
    sig += (double)x[i] * (double)x[i];
    if (fabs(d) > maxabs) maxabs = fabs(d);
    int clipped = 0;
    if (qp) {
      /* the parameter slot of element i */
      int64_t o = (int64_t)i / (len * inner), ax = ((int64_t)i / inner) % len, in = (int64_t)i % inner, slot = 0;
      if (qp->granularity == CQUANT_PER_CHANNEL) slot = ax;
      else if (qp->granularity == CQUANT_PER_GROUP) {
        int64_t ng = (len + qp->group_size - 1) / qp->group_size;
        slot = (o * ng + ax / qp->group_size) * inner + in;
      }
      const float s = qp->scale[slot];
      if (fp8) {
        clipped = fabs((double)(x[i] / s)) > fp8_max; /* eq. 20, FP8 */
      } else { /* eq. 20: the same quotient and rounding as the kernels */
        double q = (double)cquant__div_round(x[i], s, 1.0f / s, qp->rounding) + qp->zero_point[slot];
        clipped = q < qp->qmin || q > qp->qmax;
      }
    }
    if (clipped) { nclip++; clip += e; }
    else rnd += e;
  }
  a->sig += sig;
  a->clip += clip;
  a->rnd += rnd;
  a->maxabs = maxabs > a->maxabs ? maxabs : a->maxabs;
  a->n += (int64_t)n;
  a->nclip += nclip;
  a->has_split &= qp != NULL;
  return CQUANT_STATUS_OK;
}

int cquant_error_accum_uncount(cquant_error_accum_t *a, int64_t n) {
  if (!a) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "error report: NULL argument");
  if (n < 0 || n > a->n)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "error report: cannot take back %lld of %lld elements",
                         (long long)n, (long long)a->n);
  a->n -= n;
  return CQUANT_STATUS_OK;
}

void cquant_error_accum_report(const cquant_error_accum_t *a, cquant_error_report_t *rep) {
  const double n = (double)a->n, e = a->clip + a->rnd;
  rep->n = a->n;
  rep->mse = a->n ? e / n : 0.0;
  rep->sqnr_db = e > 0 ? 10.0 * log10(a->sig / e) : INFINITY;
  rep->max_abs = a->maxabs;
  rep->n_clipped = a->nclip;
  rep->clipped_share = a->n ? (double)a->nclip / n : 0.0;
  rep->clip_mse = a->n ? a->clip / n : 0.0;
  rep->round_mse = a->n ? a->rnd / n : 0.0;
  rep->has_split = a->has_split;
}

int cquant_error_report(const float *x, const float *y, size_t n, const cquant_qparams_t *qp,
                        cquant_error_report_t *rep) {
  if (!rep) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "error report: NULL argument");
  cquant_error_accum_t a;
  cquant_error_accum_init(&a);
  int st = cquant_error_accum_add(&a, x, y, n, qp);
  if (st) return st;
  cquant_error_accum_report(&a, rep);
  return CQUANT_STATUS_OK;
}
