/* The streaming histogram (docs/calibration.md, sec. 2, eq. C1-C2). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "calib/histogram.h"

int cquant__hist_init(cquant__hist_t *h, int64_t cap) {
  memset(h, 0, sizeof *h);
  h->cap = cap;
  h->counts = calloc((size_t)cap, sizeof(uint64_t));
  if (!h->counts) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
  return CQUANT_STATUS_OK;
}

void cquant__hist_free(cquant__hist_t *h) {
  free(h->counts);
  h->counts = NULL;
}

static int64_t floordiv2(int64_t k) { return k >= 0 ? k / 2 : -((-k + 1) / 2); }

/* Doubles the width: bin k of the old width goes to bin floor(k / 2). */
static void coarsen(cquant__hist_t *h) {
  int64_t nk = floordiv2(h->kmin), last = floordiv2(h->kmin + h->nbins - 1);
  uint64_t *c = h->counts;
  /* in place, front to back: target index never exceeds source index */
  for (int64_t j = 0; j <= last - nk; j++) {
    uint64_t v = 0;
    for (int64_t k = 2 * (nk + j); k <= 2 * (nk + j) + 1; k++)
      if (k >= h->kmin && k < h->kmin + h->nbins) v += c[k - h->kmin];
    c[j] = v;
  }
  memset(c + (last - nk + 1), 0, sizeof(uint64_t) * (size_t)(h->cap - (last - nk + 1)));
  h->kmin = nk;
  h->nbins = last - nk + 1;
  h->e2++;
}

/* Makes the bins of the values mn..mx exist, doubling the width as needed. The bin of a value is
 * computed exactly as the counting kernels do (float product, floorf), so every counted value
 * lands in a bin that exists; a product that overflows float asks for a wider bin. */
static void cover(cquant__hist_t *h, float mn, float mx) {
  for (;;) {
    const float inv = ldexpf(1.0f, -h->e2);
    const float plo = floorf(mn * inv), phi = floorf(mx * inv);
    if (isfinite(plo) && isfinite(phi) && fabsf(plo) < 4e18f && fabsf(phi) < 4e18f) {
      int64_t lo = (int64_t)plo, hi = (int64_t)phi;
      int64_t nlo = lo < h->kmin ? lo : h->kmin, nhi = hi > h->kmin + h->nbins - 1 ? hi : h->kmin + h->nbins - 1;
      if (nhi - nlo + 1 <= h->cap) {
        if (nlo < h->kmin) { /* shift the counts right to make room in front */
          int64_t d = h->kmin - nlo;
          memmove(h->counts + d, h->counts, sizeof(uint64_t) * (size_t)h->nbins);
          memset(h->counts, 0, sizeof(uint64_t) * (size_t)d);
          h->kmin = nlo;
          h->nbins += d;
        }
        if (nhi > h->kmin + h->nbins - 1) h->nbins = nhi - h->kmin + 1;
        return;
      }
    }
    if (h->e2 >= 127) return; /* cannot happen for finite floats: 2 bins of 2^127 hold them all */
    coarsen(h);
  }
}

int cquant__hist_add(cquant__hist_t *h, const float *x, size_t n, float mn, float mx, int target_bins) {
  if (!(mn <= mx)) return CQUANT_STATUS_OK; /* nothing finite */
  if (!h->started) {
    double amax = fmax(fabs((double)mn), fabs((double)mx));
    int e2 = amax > 0 ? (int)ceil(log2(amax / target_bins)) : -126;
    if (e2 < -126) e2 = -126; /* 1/width must stay a normal float */
    if (e2 > 100) e2 = 100;
    h->e2 = e2;
    h->kmin = (int64_t)floorf(mn * ldexpf(1.0f, -e2));
    h->nbins = 1;
    h->started = 1;
  }
  cover(h, mn, mx);
  const cquant__kernels_t *k = cquant__kernels();
  const float inv = ldexpf(1.0f, -h->e2);
  const size_t stride = (size_t)(h->nbins + 1), chunk = (size_t)1 << 20;
  const int threads = n >= ((size_t)1 << 20) ? cquant_get_num_threads() : 1;
  uint32_t *tabs = calloc((size_t)threads * 4 * stride, sizeof(uint32_t));
  if (!tabs) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
  const int64_t nchunks = (int64_t)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t c = 0; c < nchunks; c++) { /* up to 2^20 per chunk: uint32 counts cannot overflow per table */
    uint32_t *t = tabs + (size_t)omp_get_thread_num() * 4 * stride;
    size_t off = (size_t)c * chunk, m = n - off < chunk ? n - off : chunk;
    k->hist_count(x + off, m, inv, h->kmin, h->nbins, t);
    /* fold this chunk into the 64-bit counts under a lock-free scheme: one thread owns a chunk's
     * tables until here, so add and clear them now */
#pragma omp critical(cquant_hist)
    for (int64_t b = 0; b < h->nbins; b++) {
      uint64_t v = (uint64_t)t[b] + t[stride + b] + t[2 * stride + b] + t[3 * stride + b];
      h->counts[b] += v;
      h->total += (int64_t)v;
    }
    memset(t, 0, 4 * stride * sizeof(uint32_t));
  }
  free(tabs);
  return CQUANT_STATUS_OK;
}

int cquant__hist_merge(cquant__hist_t *dst, const cquant__hist_t *src) {
  if (!src->started) return CQUANT_STATUS_OK;
  cquant__hist_t s = *src;
  s.counts = malloc(sizeof(uint64_t) * (size_t)src->cap);
  if (!s.counts) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
  memcpy(s.counts, src->counts, sizeof(uint64_t) * (size_t)src->cap);
  if (!dst->started) {
    dst->e2 = s.e2;
    dst->kmin = s.kmin;
    dst->nbins = 1;
    dst->started = 1;
  }
  while (s.e2 < dst->e2) coarsen(&s);
  while (dst->e2 < s.e2) coarsen(dst);
  const float w = ldexpf(1.0f, dst->e2);
  cover(dst, (float)s.kmin * w, (float)(s.kmin + s.nbins - 1) * w);
  while (s.e2 < dst->e2) coarsen(&s); /* cover may have doubled dst */
  for (int64_t b = 0; b < s.nbins; b++) dst->counts[s.kmin + b - dst->kmin] += s.counts[b];
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
