/* The streaming histogram (docs/calibration.md, sec. 2, eq. C1-C2). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "calib/histogram.h"

int cquant__hist_init(cquant__hist_t *h, int64_t cap) {
  memset(h, 0, sizeof *h);
  h->cap = cap;
  h->kmin = -cap / 2; /* a fixed window of bins [-cap/2, cap/2) */
  h->nbins = cap;
  h->counts = calloc((size_t)cap * 2, sizeof(uint64_t)); /* the second half: scratch for coarsen */
  if (!h->counts) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
  return CQUANT_STATUS_OK;
}

void cquant__hist_free(cquant__hist_t *h) {
  free(h->counts);
  h->counts = NULL;
}

static int64_t floordiv2(int64_t k) { return k >= 0 ? k / 2 : -((-k + 1) / 2); }

/* Doubles the width: bin k of the old width goes to bin floor(k / 2). The window stays
 * [-cap/2, cap/2) bins, so the counts move into its middle half. */
static void coarsen(cquant__hist_t *h) {
  const int64_t half = h->cap / 2;
  uint64_t *c = h->counts;
  /* the middle half [-cap/4, cap/4) takes pairs of the whole window: fill it from its centre
   * outwards so no source is overwritten before it is read */
  uint64_t *tmp = c + h->cap; /* scratch: the second half of the allocation */
  memset(tmp, 0, sizeof(uint64_t) * (size_t)h->cap);
  for (int64_t b = 0; b < h->cap; b++) tmp[floordiv2(b - half) + half] += c[b];
  memcpy(c, tmp, sizeof(uint64_t) * (size_t)h->cap);
  h->e2++;
}

/* Widens the bins until the values mn..mx fall inside the window (eq. C1, computed exactly as the
 * counting kernels compute it; a product that overflows float asks for a wider bin). */
static void cover(cquant__hist_t *h, float mn, float mx) {
  for (;;) {
    const float inv = ldexpf(1.0f, -h->e2);
    const float plo = floorf(mn * inv), phi = floorf(mx * inv);
    if (isfinite(plo) && isfinite(phi) && plo >= (float)h->kmin && phi < (float)(h->kmin + h->nbins)) return;
    if (h->e2 >= 127) return; /* cannot happen for finite floats */
    coarsen(h);
  }
}

/* One counting pass against the bins that exist; values beyond them (and NaN/Inf) are left out.
 * Gives the pass's finite min/max and the number of NaN/Inf. */
static int count_pass(cquant__hist_t *h, const float *x, size_t n, float *bmn, float *bmx, size_t *nonfinite) {
  const cquant__kernels_t *k = cquant__kernels();
  const float inv = ldexpf(1.0f, -h->e2);
  const size_t stride = (size_t)(h->nbins + 1), chunk = (size_t)1 << 18;
  const int threads = n >= ((size_t)1 << 19) ? cquant_get_num_threads() : 1;
  uint32_t *tabs = calloc((size_t)threads * 4 * stride, sizeof(uint32_t));
  if (!tabs) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
  const int64_t nchunks = (int64_t)((n + chunk - 1) / chunk);
  float lo = INFINITY, hi = -INFINITY;
  size_t bad = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(min : lo) reduction(max : hi) reduction(+ : bad)
  for (int64_t c = 0; c < nchunks; c++) { /* at most 2^18 values per chunk: no uint32 count overflows */
    uint32_t *t = tabs + (size_t)omp_get_thread_num() * 4 * stride;
    const size_t off = (size_t)c * chunk, m = n - off < chunk ? n - off : chunk;
    float a, b;
    bad += k->hist_count(x + off, m, inv, h->kmin, h->nbins, t, &a, &b);
    lo = a < lo ? a : lo;
    hi = b > hi ? b : hi;
#pragma omp critical(cquant_hist)
    for (int64_t j = 0; j < h->nbins; j++) {
      const uint64_t v = (uint64_t)t[j] + t[stride + j] + t[2 * stride + j] + t[3 * stride + j];
      h->counts[j] += v;
      h->total += (int64_t)v;
    }
    memset(t, 0, 4 * stride * sizeof(uint32_t));
  }
  free(tabs);
  *bmn = lo;
  *bmx = hi;
  *nonfinite = bad;
  return CQUANT_STATUS_OK;
}

/* Counts the finite values of x (eq. C1). The first batch needs its range before any bin exists
 * (a min/max pass sets the width); later batches are counted in one pass against the bins they
 * already have, and only if the batch reaches beyond them does the range grow (possibly doubling
 * the width, which moves the counts made so far exactly) and the values beyond the old bins get
 * counted in a second look. Gives the batch's finite min/max and its NaN/Inf count. */
int cquant__hist_add(cquant__hist_t *h, const float *x, size_t n, int target_bins, float *bmn, float *bmx, size_t *nonfinite) {
  *bmn = INFINITY;
  *bmx = -INFINITY;
  *nonfinite = 0;
  if (!h->started) {
    float mn, mx;
    size_t bad = cquant__kernels()->minmax(x, n, &mn, &mx);
    if (!(mn <= mx)) { /* nothing finite */
      *nonfinite = bad;
      return CQUANT_STATUS_OK;
    }
    double amax = fmax(fabs((double)mn), fabs((double)mx));
    int e2 = amax > 0 ? (int)ceil(log2(amax / target_bins)) : -126;
    if (e2 < -126) e2 = -126; /* 1/width must stay a normal float */
    if (e2 > 100) e2 = 100;
    h->e2 = e2;
    h->started = 1;
    cover(h, mn, mx);
  }
  const int e20 = h->e2;
  const int64_t kmin0 = h->kmin, kend0 = h->kmin + h->nbins;
  int st = count_pass(h, x, n, bmn, bmx, nonfinite);
  if (st || !(*bmn <= *bmx)) return st;
  const float inv0 = ldexpf(1.0f, -e20);
  if (floorf(*bmn * inv0) >= (float)kmin0 && floorf(*bmx * inv0) < (float)kend0) return CQUANT_STATUS_OK;
  cover(h, *bmn, *bmx);
  const float inv = ldexpf(1.0f, -h->e2);
  /* floor(v / w0) lies in [kmin0, kend0) exactly when v lies in [kmin0 w0, kend0 w0): w0 is a power
   * of two, so these edges are exact and the test is two compares */
  const float vlo = (float)kmin0 / inv0, vhi = (float)kend0 / inv0;
  for (size_t i = 0; i < n; i++) { /* only the values the first pass could not place */
    const float v = x[i];
    if ((v >= vlo && v < vhi) || !isfinite(v)) continue;
    h->counts[(int64_t)floorf(v * inv) - h->kmin]++;
    h->total++;
  }
  return CQUANT_STATUS_OK;
}

int cquant__hist_merge(cquant__hist_t *dst, const cquant__hist_t *src) {
  if (!src->started) return CQUANT_STATUS_OK;
  if (src->cap != dst->cap) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "histogram merge: different sizes");
  cquant__hist_t s = *src;
  s.counts = malloc(sizeof(uint64_t) * (size_t)src->cap * 2);
  if (!s.counts) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
  memcpy(s.counts, src->counts, sizeof(uint64_t) * (size_t)src->cap);
  if (!dst->started) {
    dst->e2 = s.e2;
    dst->started = 1;
  }
  while (s.e2 < dst->e2) coarsen(&s);
  while (dst->e2 < s.e2) coarsen(dst);
  for (int64_t b = 0; b < s.nbins; b++) dst->counts[b] += s.counts[b]; /* same window, same width */
  dst->total += s.total;
  free(s.counts);
  return CQUANT_STATUS_OK;
}

int64_t cquant__hist_fold(const cquant__hist_t *h, double *abs) {
  int64_t n = 0;
  for (int64_t b = 0; b < h->nbins; b++) {
    if (!h->counts[b]) continue;
    int64_t k = h->kmin + b, j = k >= 0 ? k : -k - 1;
    if (j + 1 > n) {
      for (int64_t t = n; t <= j; t++) abs[t] = 0;
      n = j + 1;
    }
    abs[j] += (double)h->counts[b];
  }
  return n;
}
