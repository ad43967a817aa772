/* Range selection on a histogram (docs/calibration.md, sec. 3-5). Results are bin edges. */
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include "calib/histogram.h"

/* ---- entropy: TensorRT's KL-divergence calibration (eq. C4-C6) ---------------------------- */

/* For candidate i the q levels are runs of bins: level k holds the bins j with k * (i / q) <= j,
 * below the next level's start, as numpy.digitize(j, numpy.linspace(0, i, q + 1)) - 1 assigns
 * them; level k starts at ceil(k * i / q) (the product formed as numpy forms it). */
static int64_t level_start(int k, double step) { return (int64_t)ceil((double)k * step); }

/* KL(p || r) for every candidate in O(q) each, from prefix sums (eq. C5 expanded):
 * KL = (1/P) sum p log p - log P + log R - (1/P) sum p log r, with P the total count, R the count
 * below i, and r constant (the level's mean over its non-empty bins) inside each level. */
int64_t cquant__select_entropy(const double *abs_in, int64_t nabs, int qbins) {
  const int64_t start = 128;
  if (nabs <= start) return nabs;
  double *bins = malloc(sizeof(double) * (size_t)nabs);
  double *cs = malloc(sizeof(double) * (size_t)(nabs + 1));  /* prefix sums of the counts */
  double *cl = malloc(sizeof(double) * (size_t)(nabs + 1));  /* prefix sums of c log c */
  int64_t *cn = malloc(sizeof(int64_t) * (size_t)(nabs + 1)); /* prefix counts of non-empty bins */
  if (!bins || !cs || !cl || !cn) {
    free(bins); free(cs); free(cl); free(cn);
    return nabs;
  }
  memcpy(bins, abs_in, sizeof(double) * (size_t)nabs);
  bins[0] = bins[1]; /* as TensorRT: the zero bin is replaced by its neighbour */
  cs[0] = cl[0] = 0;
  cn[0] = 0;
  for (int64_t j = 0; j < nabs; j++) {
    cs[j + 1] = cs[j] + bins[j];
    cl[j + 1] = cl[j] + (bins[j] > 0 ? bins[j] * log(bins[j]) : 0);
    cn[j + 1] = cn[j] + (bins[j] > 0);
  }
  const double P = cs[nabs], logP = log(P);
  double best = INFINITY;
  int64_t best_i = nabs;
  for (int64_t i = start; i <= nabs; i++) {
    const double tail = P - cs[i], last = bins[i - 1];
    if (tail > 0 && last == 0) continue; /* the clipped mass lands on an empty bin: KL is infinite */
    const double step = (double)i / qbins;
    /* sum p log p over bins [0, i) with the tail added to the last one */
    double plogp = cl[i - 1] + ((last + tail) > 0 ? (last + tail) * log(last + tail) : 0);
    double plogr = 0, rlast = 0;
    for (int k = 0; k < qbins; k++) {
      int64_t a = level_start(k, step), b = k + 1 < qbins ? level_start(k + 1, step) : i;
      if (b > i) b = i;
      if (a >= b) continue;
      const int64_t nz = cn[b] - cn[a];
      if (!nz) continue;
      const double q = cs[b] - cs[a], r = q / (double)nz;
      plogr += q * log(r);
      if (a <= i - 1 && i - 1 < b) rlast = r;
    }
    if (last > 0) plogr += tail * log(rlast);
    const double kl = plogp / P - logP + log(cs[i]) - plogr / P;
    if (kl <= best) { /* <=: the last argmin, eq. C6 */
      best = kl;
      best_i = i;
    }
  }
  free(bins); free(cs); free(cl); free(cn);
  return best_i;
}

/* ---- percentile (eq. C3) ----------------------------------------------------------------- */

int64_t cquant__select_percentile_abs(const double *abs, int64_t nabs, double p) {
  double total = 0, cum = 0;
  for (int64_t j = 0; j < nabs; j++) total += abs[j];
  const double target = total * (p / 100.0);
  for (int64_t j = 0; j < nabs; j++) {
    cum += abs[j];
    if (cum >= target) return j + 1; /* the upper edge of the bin where the share reaches p */
  }
  return nabs;
}

void cquant__select_percentile_2s(const cquant__hist_t *h, double p, int64_t *lo, int64_t *hi) {
  const double tail = (double)h->total * (1.0 - p / 100.0) / 2.0;
  double cum = 0;
  int64_t b;
  for (b = 0; b < h->nbins - 1; b++) {
    cum += (double)h->counts[b];
    if (cum > tail) break;
  }
  *lo = h->kmin + b; /* the lower edge of the first bin past the left tail */
  cum = 0;
  for (b = h->nbins - 1; b > 0; b--) {
    cum += (double)h->counts[b];
    if (cum > tail) break;
  }
  *hi = h->kmin + b + 1; /* the upper edge of the last bin before the right tail */
}

/* ---- MSE (eq. C7-C8) ---------------------------------------------------------------------- */

/* Mean squared error of fake-quantizing values spread uniformly over [a, b): the interval is cut
 * where the rounded level changes, and (x - c)^2 integrated exactly on each piece (eq. C7). */
static double bin_err(double a, double b, double s, double lo, double hi) {
  double ka = floor(a / s + 0.5), kb = floor(b / s + 0.5);
  ka = ka < lo ? lo : (ka > hi ? hi : ka);
  kb = kb < lo ? lo : (kb > hi ? hi : kb);
  double total = 0;
  for (double k = ka; k <= kb; k += 1.0) {
    const double u = k == ka ? a : (k - 0.5) * s, v = k == kb ? b : (k + 0.5) * s, c = k * s;
    const double du = u - c, dv = v - c;
    total += (dv * dv * dv - du * du * du) / 3.0;
  }
  return total / (b - a);
}

/* Expected squared error of fake-quantizing the histogram with the range [rmin, rmax] (eq. C7):
 * each bin's count times the mean error over the bin. */
static double hist_mse(const cquant__hist_t *h, double width, float rmin, float rmax, int bits, int is_signed, unsigned flags) {
  float s;
  int32_t z;
  if (cquant_qparams_from_range(rmin, rmax, bits, is_signed, flags, &s, &z)) return INFINITY;
  int32_t qmin, qmax;
  cquant__qgrid(bits, is_signed, flags, &qmin, &qmax);
  const double lo = (double)(qmin - z), hi = (double)(qmax - z);
  double err = 0;
  for (int64_t b = 0; b < h->nbins; b++) {
    if (!h->counts[b]) continue;
    const double a = (double)(h->kmin + b) * width;
    err += (double)h->counts[b] * bin_err(a, a + width, (double)s, lo, hi);
  }
  return err / (double)h->total;
}

double cquant__select_mse_sym(const cquant__hist_t *h, int64_t nabs, int bits, int is_signed, unsigned flags) {
  const double w = cquant__hist_width(h);
  double best = INFINITY, best_a = (double)nabs * w;
  for (int64_t c = 1; c <= nabs; c++) {
    float a = (float)((double)c * w);
    double e = hist_mse(h, w, -a, a, bits, is_signed, flags);
    if (e < best) {
      best = e;
      best_a = a;
    }
  }
  return best_a;
}

void cquant__select_mse_2s(const cquant__hist_t *h, int bits, int is_signed, unsigned flags, double *lo, double *hi) {
  const double w = cquant__hist_width(h);
  int64_t klo = h->kmin, khi = h->kmin + h->nbins; /* edges: the full range to start */
  double best = hist_mse(h, w, (float)(klo * w), (float)(khi * w), bits, is_signed, flags);
  for (int it = 0; it < 4; it++) { /* coordinate descent: the best upper edge, then the best lower */
    int64_t prev_lo = klo, prev_hi = khi;
    for (int64_t e = (klo < 0 ? 1 : klo + 1); e <= h->kmin + h->nbins; e++) {
      double m = hist_mse(h, w, (float)(klo * w), (float)(e * w), bits, is_signed, flags);
      if (m < best) { best = m; khi = e; }
    }
    for (int64_t e = h->kmin; e < (khi > 0 ? 0 : khi); e++) {
      double m = hist_mse(h, w, (float)(e * w), (float)(khi * w), bits, is_signed, flags);
      if (m < best) { best = m; klo = e; }
    }
    if (klo == prev_lo && khi == prev_hi) break;
  }
  *lo = (double)klo * w;
  *hi = (double)khi * w;
}
