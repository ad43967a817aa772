/* Internal: the streaming histogram behind the percentile, entropy and MSE observers
 * (docs/calibration.md, sec. 2). Bins are aligned to 0: bin k holds floor(x * inv) = k with
 * inv = inv0 * 2^-e2 (eq. C1). Two widths:
 * - power of two (percentile, MSE): inv0 = 1, the width 2^e2 covers the first batch with at most
 *   target_bins |x| bins; the bins form a fixed window [-cap/2, cap/2) and a value beyond it doubles
 *   the width (pairs of bins merge), so no count is lost and two histograms always merge exactly;
 * - fixed width (entropy): the first batch's max|x| / target_bins is the width, as
 *   pytorch-quantization's HistogramCalibrator sets it (eq. C9); a value beyond the window appends
 *   bins at that width (the window doubles, eq. C10) up to max_cap bins, and only beyond that does
 *   the width double. */
#ifndef CQUANT_CALIB_HISTOGRAM_H
#define CQUANT_CALIB_HISTOGRAM_H

#include <stdint.h>
#include "core/internal.h"

typedef struct {
  int e2;           /* width = 2^e2 / inv0 */
  float inv0;       /* 1 (power-of-two widths) or target_bins / max|x| of the first batch */
  int fixed_width;  /* eq. C9-C10: the first batch sets the width; the window grows before the width does */
  int64_t kmin;     /* index of counts[0]: -cap/2 */
  int64_t nbins;    /* bins: cap */
  int64_t cap;      /* the current window */
  int64_t max_cap;  /* the largest window; beyond it the width doubles */
  uint64_t *counts; /* cap entries (and cap more of scratch) */
  int64_t total;    /* finite values counted */
  int started;
} cquant__hist_t;

/* cap: the first window (signed bins); max_cap >= cap: the largest one (fixed_width only). */
int cquant__hist_init(cquant__hist_t *h, int64_t cap, int64_t max_cap, int fixed_width);
void cquant__hist_free(cquant__hist_t *h);
/* Counts the finite values of x; gives their min and max and the number of NaN/Inf. */
int cquant__hist_add(cquant__hist_t *h, const float *x, size_t n, int target_bins, float *bmn, float *bmx, size_t *nonfinite);
int cquant__hist_merge(cquant__hist_t *dst, const cquant__hist_t *src);
static inline float cquant__hist_inv(const cquant__hist_t *h) { return ldexpf(h->inv0, -h->e2); }
static inline double cquant__hist_width(const cquant__hist_t *h) { return ldexp(1.0 / (double)h->inv0, h->e2); }
/* The |x| histogram: abs[j] = counts of bin j and bin -(j+1) (eq. C2); returns the number of
 * |x| bins up to the last non-empty one. abs must hold max(-kmin, kmin + nbins) entries. */
int64_t cquant__hist_fold(const cquant__hist_t *h, double *abs);

/* Range selection (src/calib/select.c). amax or [lo, hi] come back in units of the bin width
 * (bin edges). */
int64_t cquant__select_entropy(const double *abs, int64_t nabs, int qbins);
int64_t cquant__select_percentile_abs(const double *abs, int64_t nabs, double p);
void cquant__select_percentile_2s(const cquant__hist_t *h, double p, int64_t *lo, int64_t *hi);
double cquant__select_mse_sym(const cquant__hist_t *h, int64_t nabs, int bits, int is_signed, unsigned flags);
void cquant__select_mse_2s(const cquant__hist_t *h, int bits, int is_signed, unsigned flags, double *lo, double *hi);

#endif
