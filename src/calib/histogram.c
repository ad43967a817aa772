/* The streaming histogram (docs/calibration.md, sec. 2, eq. C1-C2). */
#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "calib/histogram.h"
#include "exec/ops/conv_par.h"

#define PAR_WORKERS 16 /* threads a pass uses at most (each has its own tables) */

int cquant__hist_init(cquant__hist_t *h, int64_t cap, int64_t max_cap, int fixed_width) {
  memset(h, 0, sizeof *h);
  h->inv0 = 1.0f;
  h->fixed_width = fixed_width;
  h->cap = cap;
  h->max_cap = fixed_width && max_cap > cap ? max_cap : cap;
  h->kmin = -cap / 2; /* a window of bins [-cap/2, cap/2) */
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

/* Appends bins at the same width (eq. C10): the window [-cap/2, cap/2) doubles to [-cap, cap) and
 * the counts keep their bin numbers. */
static int grow(cquant__hist_t *h) {
  const int64_t cap = h->cap * 2;
  uint64_t *c = calloc((size_t)cap * 2, sizeof(uint64_t));
  if (!c) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory (%lld bins)", (long long)cap);
  memcpy(c + h->cap / 2, h->counts, sizeof(uint64_t) * (size_t)h->cap); /* old kmin - new kmin = cap/2 */
  free(h->counts);
  h->counts = c;
  h->cap = h->nbins = cap;
  h->kmin = -cap / 2;
  return CQUANT_STATUS_OK;
}

/* One step of widening the window: more bins at the same width while a fixed-width histogram may
 * grow (eq. C10), otherwise twice the width. */
static int widen(cquant__hist_t *h) {
  if (h->fixed_width && h->cap < h->max_cap) return grow(h);
  coarsen(h);
  return CQUANT_STATUS_OK;
}

/* Widens the window until the values mn..mx fall inside it (eq. C1, computed exactly as the
 * counting kernels compute it; a product that overflows float asks for a wider bin). */
static int cover(cquant__hist_t *h, float mn, float mx) {
  for (;;) {
    const float inv = cquant__hist_inv(h);
    const float plo = floorf(mn * inv), phi = floorf(mx * inv);
    if (isfinite(plo) && isfinite(phi) && plo >= (float)h->kmin && phi < (float)(h->kmin + h->nbins)) return CQUANT_STATUS_OK;
    if (!(inv > 0) || h->e2 >= 400) return CQUANT_STATUS_OK; /* cannot happen for finite floats */
    int st = widen(h);
    if (st) return st;
  }
}

/* Chunks of a counting pass, units of cquant__par_run: each worker counts into its own four
 * tables (worker w's at tabs + 4 w stride) and keeps its own min, max and NaN/Inf count; the
 * tables are added to the histogram's counts under the lock after every chunk (integer sums: the
 * counts are the same in any order). */
typedef struct {
  cquant__hist_t *h;
  const cquant__kernels_t *k;
  const float *x;
  size_t n, chunk, stride;
  float inv;
  uint32_t *tabs;
  float lo[PAR_WORKERS], hi[PAR_WORKERS];
  size_t bad[PAR_WORKERS];
  pthread_mutex_t lock;
} count_job_t;

static void count_unit(void *vj, int64_t c, int worker) { /* at most 2^18 values per chunk: no uint32 count overflows */
  count_job_t *j = vj;
  cquant__hist_t *h = j->h;
  uint32_t *t = j->tabs + (size_t)worker * 4 * j->stride;
  const size_t off = (size_t)c * j->chunk, m = j->n - off < j->chunk ? j->n - off : j->chunk, stride = j->stride;
  float a, b;
  j->bad[worker] += j->k->hist_count(j->x + off, m, j->inv, h->kmin, h->nbins, t, &a, &b);
  j->lo[worker] = a < j->lo[worker] ? a : j->lo[worker];
  j->hi[worker] = b > j->hi[worker] ? b : j->hi[worker];
  pthread_mutex_lock(&j->lock);
  for (int64_t i = 0; i < h->nbins; i++) {
    const uint64_t v = (uint64_t)t[i] + t[stride + i] + t[2 * stride + i] + t[3 * stride + i];
    h->counts[i] += v;
    h->total += (int64_t)v;
  }
  pthread_mutex_unlock(&j->lock);
  memset(t, 0, 4 * stride * sizeof(uint32_t));
}

/* One counting pass against the bins that exist; values beyond them (and NaN/Inf) are left out.
 * Gives the pass's finite min/max and the number of NaN/Inf. Chunks of 2^18 values over the
 * executor's pool (conv_par.h) from 2^19 values on. */
static int count_pass(cquant__hist_t *h, const float *x, size_t n, float *bmn, float *bmx, size_t *nonfinite) {
  count_job_t j = {.h = h, .k = cquant__kernels(), .x = x, .n = n, .chunk = (size_t)1 << 18, .stride = (size_t)(h->nbins + 1), .inv = cquant__hist_inv(h)};
  int threads = n >= ((size_t)1 << 19) ? cquant_get_num_threads() : 1;
  threads = threads > PAR_WORKERS ? PAR_WORKERS : threads;
  if (!(j.tabs = calloc((size_t)threads * 4 * j.stride, sizeof(uint32_t)))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
  for (int w = 0; w < PAR_WORKERS; w++) j.lo[w] = INFINITY, j.hi[w] = -INFINITY, j.bad[w] = 0;
  pthread_mutex_init(&j.lock, NULL);
  cquant__par_run(threads, (int64_t)((n + j.chunk - 1) / j.chunk), count_unit, &j);
  pthread_mutex_destroy(&j.lock);
  free(j.tabs);
  float lo = INFINITY, hi = -INFINITY;
  size_t bad = 0;
  for (int w = 0; w < threads; w++) {
    lo = j.lo[w] < lo ? j.lo[w] : lo;
    hi = j.hi[w] > hi ? j.hi[w] : hi;
    bad += j.bad[w];
  }
  *bmn = lo;
  *bmx = hi;
  *nonfinite = bad;
  return CQUANT_STATUS_OK;
}

/* The first batch's width: a power of two with at most target_bins |x| bins over max|x|, or, for a
 * fixed-width histogram, max|x| / target_bins itself (eq. C9, as torch.linspace(0, max, bins + 1)
 * spaces pytorch-quantization's first bins). */
static void first_width(cquant__hist_t *h, float mn, float mx, int target_bins) {
  const float amax = fmaxf(fabsf(mn), fabsf(mx));
  if (h->fixed_width) {
    const float w = amax / (float)target_bins;
    if (w >= FLT_MIN) {
      h->inv0 = (float)(1.0 / (double)w);
      h->e2 = 0;
      if (isfinite(h->inv0) && h->inv0 > 0) return;
    }
    h->inv0 = 1.0f; /* zeros or subnormals: the power-of-two rule below */
  }
  int e2 = amax > 0 ? (int)ceil(log2((double)amax / target_bins)) : -126;
  if (e2 < -126) e2 = -126; /* 1/width must stay a normal float */
  if (e2 > 100) e2 = 100;
  h->e2 = e2;
}

/* Counts the finite values of x (eq. C1). The first batch needs its range before any bin exists
 * (a min/max pass sets the width); later batches are counted in one pass against the bins they
 * already have, and only if the batch reaches beyond them does the window grow (more bins, or
 * twice the width, which moves the counts made so far exactly) and the values beyond the old bins
 * get counted in a second look. Gives the batch's finite min/max and its NaN/Inf count. */
int cquant__hist_add(cquant__hist_t *h, const float *x, size_t n, int target_bins, float *bmn, float *bmx, size_t *nonfinite) {
  *bmn = INFINITY;
  *bmx = -INFINITY;
  *nonfinite = 0;
  int st;
  if (!h->started) {
    float mn, mx;
    size_t bad = cquant__kernels()->minmax(x, n, &mn, &mx);
    if (!(mn <= mx)) { /* nothing finite */
      *nonfinite = bad;
      return CQUANT_STATUS_OK;
    }
    first_width(h, mn, mx, target_bins);
    h->started = 1;
    if ((st = cover(h, mn, mx))) return st;
  }
  const float inv0 = cquant__hist_inv(h);
  const int64_t kmin0 = h->kmin, kend0 = h->kmin + h->nbins;
  st = count_pass(h, x, n, bmn, bmx, nonfinite);
  if (st || !(*bmn <= *bmx)) return st;
  if (floorf(*bmn * inv0) >= (float)kmin0 && floorf(*bmx * inv0) < (float)kend0) return CQUANT_STATUS_OK;
  if ((st = cover(h, *bmn, *bmx))) return st;
  const float inv = cquant__hist_inv(h);
  for (size_t i = 0; i < n; i++) { /* only the values the first pass could not place */
    const float v = x[i];
    if (!isfinite(v)) continue;
    const float f0 = floorf(v * inv0); /* the first pass's test, made the same way */
    if (f0 >= (float)kmin0 && f0 < (float)kend0) continue;
    h->counts[(int64_t)floorf(v * inv) - h->kmin]++;
    h->total++;
  }
  return CQUANT_STATUS_OK;
}

static int64_t floordiv_pow2(int64_t k, int d) {
  const int64_t m = (int64_t)1 << d;
  return k >= 0 ? k / m : -((-k + m - 1) / m);
}

/* Where src's bin k lands in dst: the same bin scaled by the width ratio when both widths are
 * power-of-two multiples of one base (exact), else the bin holding k's centre. */
static int64_t merge_target(const cquant__hist_t *dst, const cquant__hist_t *src, int64_t k) {
  if (dst->inv0 == src->inv0) return floordiv_pow2(k, dst->e2 - src->e2);
  return (int64_t)floor(((double)k + 0.5) * ((double)cquant__hist_inv(dst) / (double)cquant__hist_inv(src)));
}

/* Adds src's counts to dst. Histograms of one base width (all power-of-two ones, and fixed-width
 * ones whose first batches had the same max|x|) add exactly: the finer is coarsened to the other's
 * width. Fixed-width histograms of different widths move each of src's bins to the dst bin of its
 * centre: every count kept, its place within one dst bin. */
int cquant__hist_merge(cquant__hist_t *dst, const cquant__hist_t *src) {
  if (!src->started) return CQUANT_STATUS_OK;
  if (!dst->started) { /* take src as it is */
    if (dst->cap != src->cap) {
      uint64_t *c = calloc((size_t)src->cap * 2, sizeof(uint64_t));
      if (!c) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "histogram: out of memory");
      free(dst->counts);
      dst->counts = c;
    }
    memcpy(dst->counts, src->counts, sizeof(uint64_t) * (size_t)src->cap);
    dst->e2 = src->e2;
    dst->inv0 = src->inv0;
    dst->cap = src->cap;
    dst->nbins = src->nbins;
    dst->kmin = src->kmin;
    dst->total = src->total;
    dst->started = 1;
    return CQUANT_STATUS_OK;
  }
  int64_t blo = -1, bhi = -1;
  for (int64_t b = 0; b < src->nbins; b++)
    if (src->counts[b]) {
      if (blo < 0) blo = b;
      bhi = b;
    }
  if (blo < 0) return CQUANT_STATUS_OK;
  int st;
  if (dst->inv0 == src->inv0)
    while (dst->e2 < src->e2) coarsen(dst);
  for (;;) { /* a window that holds src's lowest and highest bins */
    const int64_t jlo = merge_target(dst, src, src->kmin + blo), jhi = merge_target(dst, src, src->kmin + bhi);
    if (jlo >= dst->kmin && jhi < dst->kmin + dst->nbins) break;
    if ((st = widen(dst))) return st;
  }
  for (int64_t b = blo; b <= bhi; b++)
    if (src->counts[b]) dst->counts[merge_target(dst, src, src->kmin + b) - dst->kmin] += src->counts[b];
  dst->total += src->total;
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
