/* Float32 2-D convolution as GEMM (OpenBLAS sgemm), Y_g[mg, P] = W_g[mg, K] X_g[K, P] per group:
 * a 1x1 convolution at stride 1 without padding multiplies the input as it is (NCHW is already
 * [C, H W]); any other takes im2col blocks of whole output rows, each row of a block built with
 * one zero run, one copy (memcpy at stride 1) and one zero run. The bias is written into Y first
 * and the GEMM adds to it (beta = 1): no separate pass over Y. */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/quantize.h"
#include "exec/ops/conv_internal.h"
#include "exec/ops/conv_fuse.h"

/* The kernel taps that meet the input at some output pixel (the others read only padding, as
 * large dilations on small maps do: atrous pyramids): rows of im2col and columns of W for them only. */
typedef struct {
  int64_t n, *ky, *kx;
} taps_t;

/* multiply-adds of one unit at least (see cquant__conv_gemm_f32_epi) */
#define UNIT_MIN 2e5

/* Rows k = (c, tap) of the block of output rows [oy0, oy0 + rows), pb = rows ow columns each. */
static void im2col_rows(const cquant__conv2d_t *p, const taps_t *tp, const float *xg, int64_t k0, int64_t k1, int64_t oy0, int64_t rows, float *col) {
  const int64_t pb = rows * p->ow, sw = p->stride_w;
  for (int64_t k = k0; k < k1; k++) {
    const int64_t c = k / tp->n, ky = tp->ky[k % tp->n], kx = tp->kx[k % tp->n];
    const float *plane = xg + c * p->h * p->w;
    float *row = col + k * pb;
    /* the output columns whose input column ix = ox sw - pad_l + kx dil_w lies in [0, w) */
    const int64_t off = kx * p->dil_w - p->pad_l;
    int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw, hi = p->w - 1 - off < 0 ? 0 : (p->w - 1 - off) / sw + 1;
    lo = lo > p->ow ? p->ow : lo;
    hi = hi > p->ow ? p->ow : hi < lo ? lo : hi;
    for (int64_t r = 0; r < rows; r++) {
      const int64_t iy = (oy0 + r) * p->stride_h - p->pad_t + ky * p->dil_h;
      float *dst = row + r * p->ow;
      if (iy < 0 || iy >= p->h) {
        memset(dst, 0, sizeof(float) * (size_t)p->ow);
        continue;
      }
      const float *src = plane + iy * p->w;
      if (lo) memset(dst, 0, sizeof(float) * (size_t)lo);
      if (sw == 1) memcpy(dst + lo, src + lo + off, sizeof(float) * (size_t)(hi - lo));
      else if (sw == 2) /* a constant stride: vectorized as loads and a permute */
        for (int64_t ox = lo; ox < hi; ox++) dst[ox] = src[2 * ox + off];
      else
        for (int64_t ox = lo; ox < hi; ox++) dst[ox] = src[ox * sw + off];
      if (hi < p->ow) memset(dst + hi, 0, sizeof(float) * (size_t)(p->ow - hi));
    }
  }
}

/* Y rows [oy0, oy0 + rows) of output channels [m0, m1) of group g of image n; col: im2col rows of
 * the same output rows when not NULL (then its row stride is rows ow), else X itself (1x1). */
static void gemm_block(const cquant__conv2d_t *p, int64_t K, const float *col, const float *xg, const float *w, const float *b,
                       const cquant__conv_epi_t *e, float *y, int64_t n, int64_t g, int64_t m0, int64_t m1, int64_t oy0, int64_t rows) {
  const int64_t mg = p->m / p->group, P = p->oh * p->ow, p0 = oy0 * p->ow, pb = rows * p->ow;
  float *yg = y + (n * p->m + g * mg + m0) * P + p0;
  if (b)
    for (int64_t j = 0; j < m1 - m0; j++)
      for (int64_t i = 0; i < pb; i++) yg[j * P + i] = b[g * mg + m0 + j];
  if (K > 0 && m1 > m0)
    cquant__sgemm(0, 0, m1 - m0, pb, K, 1.0f, w + (g * mg + m0) * K, K, col ? col : xg + p0, col ? pb : P, b ? 1.0f : 0.0f, yg, P);
  else if (!b)
    for (int64_t j = 0; j < m1 - m0; j++) memset(yg + j * P, 0, sizeof(float) * (size_t)pb);
  if (e) /* the block is still in cache: the folded Add and activation now */
    for (int64_t j = 0; j < m1 - m0; j++) {
      const int64_t off = yg - y + j * P;
      cquant__conv_epi_apply(e, y + off, e->add ? e->add + off : NULL, pb);
    }
}

typedef struct {
  const cquant__conv2d_t *p;
  const float *x, *w, *b;
  const cquant__conv_epi_t *e; /* the folded nodes after the sums, or NULL */
  float *y, *shared; /* shared: the one im2col of the channel-split form */
  float **col;       /* per worker, made on first use */
  size_t *cap;       /* their sizes in floats */
  int64_t RB, chunks, K, mslices;
  int direct;
  taps_t taps;
  _Atomic int oom;
} gemm_job_t;

/* The im2col buffers are kept from call to call while one caller at a time uses them (a fresh
 * buffer of megabytes costs its page faults on every convolution); 2 MiB aligned with transparent
 * huge pages asked for. A second caller meanwhile gets buffers of its own, freed at its end. */
static struct {
  pthread_mutex_t lock;
  float *col[64];
  size_t cap[64];
} kept = {.lock = PTHREAD_MUTEX_INITIALIZER};

static float *scratch(gemm_job_t *j, int worker, size_t n) {
  n = n ? n : 1;
  if (j->col[worker] && j->cap[worker] >= n) return j->col[worker];
  free(j->col[worker]);
  const size_t huge = (size_t)2 << 20, bytes = (sizeof(float) * n + huge - 1) / huge * huge;
  j->col[worker] = aligned_alloc(huge, bytes);
  j->cap[worker] = j->col[worker] ? bytes / sizeof(float) : 0;
  if (j->col[worker]) madvise(j->col[worker], bytes, MADV_HUGEPAGE);
  return j->col[worker];
}

/* unit = (image, group, chunk of output rows): im2col of blocks of RB rows, one sgemm each */
static void unit_rows(void *vj, int64_t u, int worker) {
  gemm_job_t *j = vj;
  const cquant__conv2d_t *p = j->p;
  const int64_t q = u / j->chunks, ch = u % j->chunks, n = q / p->group, g = q % p->group;
  const int64_t r0 = p->oh * ch / j->chunks, r1 = p->oh * (ch + 1) / j->chunks;
  const float *xg = j->x + (n * p->c + g * (p->c / p->group)) * p->h * p->w;
  float *col = NULL;
  if (!j->direct) {
    if (!(col = scratch(j, worker, (size_t)(j->K * j->RB * p->ow)))) { j->oom = 1; return; }
  }
  for (int64_t oy0 = r0; oy0 < r1; oy0 += j->RB) {
    const int64_t rows = r1 - oy0 < j->RB ? r1 - oy0 : j->RB;
    if (col) im2col_rows(p, &j->taps, xg, 0, j->K, oy0, rows, col);
    gemm_block(p, j->K, col, xg, j->w, j->b, j->e, j->y, n, g, 0, p->m / p->group, oy0, rows);
  }
}

/* unit = a slice of the im2col rows of the single plane */
static void unit_im2col(void *vj, int64_t u, int worker) {
  gemm_job_t *j = vj;
  im2col_rows(j->p, &j->taps, j->x, j->K * u / j->mslices, j->K * (u + 1) / j->mslices, 0, j->p->oh, j->shared);
}

/* unit = a slice of the output channels of the single plane */
static void unit_mslice(void *vj, int64_t u, int worker) {
  gemm_job_t *j = vj;
  const int64_t m = j->p->m;
  gemm_block(j->p, j->K, j->direct ? NULL : j->shared, j->x, j->w, j->b, j->e, j->y, 0, 0, m * u / j->mslices, m * (u + 1) / j->mslices, 0, j->p->oh);
}

int cquant__conv_gemm_f32(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, float *y) {
  return cquant__conv_gemm_f32_epi(p, x, w, b, NULL, y);
}

int cquant__conv_gemm_f32_epi(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, const cquant__conv_epi_t *e, float *y) {
  const int64_t cg = p->c / p->group, mg = p->m / p->group, K = cg * p->kh * p->kw, P = p->oh * p->ow;
  gemm_job_t j = {.p = p, .x = x, .w = w, .b = b, .e = e, .y = y, .K = K};
  j.direct = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && !p->pad_t && !p->pad_l && !p->pad_b && !p->pad_r;
  float *wc = NULL; /* W without the columns of dead taps, when there are some */
  const int64_t ksz = p->kh * p->kw, kmax = p->kh > p->kw ? p->kh : p->kw;
  int64_t *tbuf = malloc(sizeof(int64_t) * (size_t)(2 * ksz + 2 * kmax));
  if (!tbuf) return CQUANT_STATUS_OUT_OF_MEMORY;
  int64_t *live_y = tbuf + 2 * ksz, *live_x = live_y + kmax, ny = 0, nx = 0;
  j.taps.ky = tbuf, j.taps.kx = tbuf + ksz;
  for (int64_t t = 0; t < p->kh; t++) { /* tap t along y meets [0, h) at some output row */
    const int64_t off = t * p->dil_h - p->pad_t; /* iy = oy sh + off */
    const int64_t lo = off >= 0 ? 0 : (-off + p->stride_h - 1) / p->stride_h, hi = p->h - 1 - off < 0 ? 0 : (p->h - 1 - off) / p->stride_h + 1;
    if ((hi > p->oh ? p->oh : hi) > lo) live_y[ny++] = t;
  }
  for (int64_t t = 0; t < p->kw; t++) {
    const int64_t off = t * p->dil_w - p->pad_l;
    const int64_t lo = off >= 0 ? 0 : (-off + p->stride_w - 1) / p->stride_w, hi = p->w - 1 - off < 0 ? 0 : (p->w - 1 - off) / p->stride_w + 1;
    if ((hi > p->ow ? p->ow : hi) > lo) live_x[nx++] = t;
  }
  for (int64_t a = 0; a < ny; a++)
    for (int64_t c = 0; c < nx; c++) j.taps.ky[j.taps.n] = live_y[a], j.taps.kx[j.taps.n] = live_x[c], j.taps.n++;
  if (j.taps.n < ksz && !j.direct) {
    j.K = cg * j.taps.n;
    if (!(wc = malloc(sizeof(float) * (size_t)(p->m * j.K + 1)))) {
      free(tbuf);
      return CQUANT_STATUS_OUT_OF_MEMORY;
    }
    for (int64_t m = 0; m < p->m; m++)
      for (int64_t c = 0; c < cg; c++)
        for (int64_t t = 0; t < j.taps.n; t++) wc[(m * cg + c) * j.taps.n + t] = w[(m * cg + c) * ksz + j.taps.ky[t] * p->kw + j.taps.kx[t]];
    j.w = wc;
  }
  /* Threads: cquant__par_run's, each calling a single-threaded sgemm (OpenBLAS's own threads and
   * ours would otherwise take turns on the same cores). Every sgemm packs its whole W slice and
   * its whole X block again (packing an element costs about what 25 multiply-adds do), so the
   * work is cut into few units: one a thread, two a thread from 5 * 10^7 multiply-adds on (a late
   * helper then costs a quarter). Units are whole output rows (image, group, rows), 128 output
   * pixels at least; one plane too small for that (14 x 14 and less) splits its output channels
   * instead (the im2col rows too), 16 channels a slice at least. */
  const double work = (double)p->n * (double)p->m * (double)P * (double)j.K;
  const int threads = cquant__conv_threads(work);
  /* the im2col buffer covers whole output rows, 2^21 floats (8 MiB) or so at most */
  j.RB = ((int64_t)2 << 20) / ((j.K > 0 ? j.K : 1) * (p->ow > 0 ? p->ow : 1));
  j.RB = j.RB < 1 ? 1 : j.RB > p->oh ? p->oh : j.RB;
  const int64_t planes = p->n * p->group, want = threads > 1 ? (work >= 5e7 ? 2 : 1) * (int64_t)threads : 1;
  j.chunks = planes >= want ? 1 : (want + planes - 1) / planes; /* row chunks per plane */
  j.chunks = j.chunks > p->oh ? p->oh : j.chunks;
  const int64_t most = P / 128 > 1 ? P / 128 : 1;
  j.chunks = j.chunks > most ? most : j.chunks;
  /* Units of at least UNIT_MIN multiply-adds (a few microseconds: the pool's hand-over costs less).
   * The bits do not depend on the cut: cquant__sgemm sums every element in the same chunks and
   * order whatever M and N a unit has (its small products run cquant's own chain). */
  while (j.chunks > 1 && (double)mg * (double)(p->oh / j.chunks * p->ow) * (double)j.K < UNIT_MIN) j.chunks--;
  const int msplit = threads > 1 && planes == 1 && j.chunks < want && mg >= 32 && j.RB == p->oh;
  float *own[64] = {0};
  size_t own_cap[64] = {0};
  const int keep = !pthread_mutex_trylock(&kept.lock);
  j.col = keep ? kept.col : own;
  j.cap = keep ? kept.cap : own_cap;
  cquant__par_blas_enter(); /* single-threaded sgemm in every unit */
  if (msplit) {
    j.mslices = mg / 16 < want ? mg / 16 : want;
    while (j.mslices > 1 && (double)(mg / j.mslices) * (double)P * (double)j.K < UNIT_MIN) j.mslices--;
    if (!j.direct) {
      if (!(j.shared = malloc(sizeof(float) * (size_t)(j.K * P) + 64))) j.oom = 1; /* the whole im2col: within the 8 MiB of RB rows */
      else cquant__par_run(threads, j.mslices, unit_im2col, &j);
    }
    if (!j.oom) cquant__par_run(threads, j.mslices, unit_mslice, &j);
    free(j.shared);
  } else {
    cquant__par_run(threads < 64 ? threads : 64, planes * j.chunks, unit_rows, &j);
  }
  for (int i = 0; i < 64; i++) free(own[i]);
  if (keep) pthread_mutex_unlock(&kept.lock);
  free(wc);
  free(tbuf);
  return j.oom ? CQUANT_STATUS_OUT_OF_MEMORY : CQUANT_STATUS_OK;
}
