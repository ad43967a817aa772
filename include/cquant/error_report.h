/* The error of a quantized tensor against its float reference (docs/quantization.md, sec. 5). */
#ifndef CQUANT_ERROR_REPORT_H
#define CQUANT_ERROR_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "cquant/qparams.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int64_t n;
  double mse;            /* mean of (x - y)^2, eq. 17 */
  double sqnr_db;        /* 10 log10(sum x^2 / sum (x - y)^2), eq. 18; +inf when exact */
  double max_abs;        /* max |x - y| */
  int64_t n_clipped;     /* elements whose round(x/s) + z fell outside [qmin, qmax] */
  double clipped_share;  /* n_clipped / n */
  double clip_mse;       /* the part of mse from clipped elements, eq. 19 */
  double round_mse;      /* the part of mse from the others (rounding), eq. 19; sums to mse */
  int has_split;         /* 1 when the clipping/rounding split is known (parameters given) */
} cquant_error_report_t;

/* Compares a reference x with a test tensor y of n elements. With qp (may be NULL), element i is
 * counted as clipped when round(x[i] / s) + z falls outside [qmin, qmax] (FP8: |x / s| > max),
 * eq. 20, and the split is filled; qp->shape must hold n elements.
 * NaN in either: CQUANT_STATUS_NOT_FINITE naming the index. */
int cquant_error_report(const float *x, const float *y, size_t n, const cquant_qparams_t *qp,
                        cquant_error_report_t *rep);

/* Streaming form for data seen in batches: accumulate, then read the report. The batches may use
 * different parameters (or none: then no split). */
typedef struct {
  double sig, clip, rnd, maxabs;
  int64_t n, nclip;
  int has_split;
} cquant_error_accum_t;
void cquant_error_accum_init(cquant_error_accum_t *a);
int cquant_error_accum_add(cquant_error_accum_t *a, const float *x, const float *y, size_t n, const cquant_qparams_t *qp);
void cquant_error_accum_report(const cquant_error_accum_t *a, cquant_error_report_t *rep);
/* Takes back n elements that were added with x = y = 0 (no signal, no error): a caller that zeroed
 * values it skips (NaN/Inf) so that they do not count in the report's element count and means.
 * INVALID_ARGUMENT when n < 0 or n exceeds the elements added so far. */
int cquant_error_accum_uncount(cquant_error_accum_t *a, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
