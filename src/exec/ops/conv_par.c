/* A small work-sharing pool for the float convolution and pooling loops. OpenMP's fork-join makes
 * the caller wait at the join until every thread of the team has run, so on a busy machine one
 * helper thread that the scheduler has not yet run delays every operator by a time slice. Here the
 * caller takes units from a shared counter itself and waits only for units a helper has claimed:
 * a helper that wakes late finds nothing left and goes back to sleep. Helpers poll for a while
 * after their last job (POOL_SPIN_NS of wall time, whatever a pause instruction costs on the CPU),
 * then sleep on a futex; the caller makes the wake system call only when a helper sleeps. Polling
 * longer (2 ms) made 2-thread runs 3x slower on a loaded machine (a helper that burns its share
 * polling is preempted in the middle of the units it claims), so it stays short. Calls while the
 * pool is busy (another caller) or from inside a unit run serially. */
#include <cblas.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "cquant/quantize.h"
#include "core/internal.h"
#include "exec/ops/conv_par.h"

#define PAR_MAX 64 /* helpers at most */
#define POOL_SPIN_NS 100000 /* how long an idle helper polls for the next job before it sleeps */

static struct {
  pthread_mutex_t lock;
  int started; /* helpers created (under lock) */
  _Atomic uint32_t seq;   /* the job generation (a futex word) */
  _Atomic uint64_t state; /* generation << 32 | next unit */
  _Atomic int64_t done;   /* units finished in this generation */
  _Atomic(cquant__par_fn) fn;
  _Atomic(void *) ctx;
  _Atomic int64_t units;
  _Atomic int helpers; /* helpers taking part in this job (ids 1 .. helpers) */
  _Atomic int sleepers; /* helpers in (or entering) futex_wait */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int in_unit;

static void futex_wait(_Atomic uint32_t *w, uint32_t v) { syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void futex_wake(_Atomic uint32_t *w) { syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, PAR_MAX, NULL, NULL, 0); }

/* Claims and runs the units of generation gen; returns when none is left. */
static void work(uint32_t gen, int id) {
  for (;;) {
    uint64_t s = atomic_load_explicit(&pool.state, memory_order_acquire);
    if ((uint32_t)(s >> 32) != gen) return;
    const int64_t units = atomic_load_explicit(&pool.units, memory_order_relaxed);
    const cquant__par_fn fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
    if ((int64_t)(uint32_t)s >= units) return;
    if (!atomic_compare_exchange_weak_explicit(&pool.state, &s, s + 1, memory_order_acq_rel, memory_order_acquire)) continue;
    fn(ctx, (int64_t)(uint32_t)s, id); /* the CAS kept the generation: fn, ctx and units are this job's */
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
  }
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *helper(void *arg) {
  const int id = (int)(intptr_t)arg;
  uint32_t seen = atomic_load(&pool.seq);
  in_unit = 1;
  for (;;) {
    uint32_t now;
    const int64_t until = now_ns() + POOL_SPIN_NS;
    for (int spin = 1; (now = atomic_load_explicit(&pool.seq, memory_order_acquire)) == seen; spin++) {
      __builtin_ia32_pause();
      if (!(spin & 63) && now_ns() > until) break;
    }
    if (now == seen) {
      /* Sleep. The caller stores seq, then reads sleepers (both sequentially consistent): it
       * either sees this helper counted and wakes it, or the new seq is already visible to the
       * kernel's check in futex_wait, which then returns at once. */
      atomic_fetch_add(&pool.sleepers, 1);
      futex_wait(&pool.seq, seen);
      atomic_fetch_sub(&pool.sleepers, 1);
      continue;
    }
    seen = now;
    if (id <= atomic_load_explicit(&pool.helpers, memory_order_relaxed)) work(now, id);
  }
  return NULL;
}

typedef struct {
  cquant__par_item_fn body;
  const void *job;
  int64_t count, per;
} par_for_t;

static void par_for_unit(void *v, int64_t u, int worker) {
  (void)worker;
  const par_for_t *p = v;
  const int64_t end = (u + 1) * p->per < p->count ? (u + 1) * p->per : p->count;
  for (int64_t i = u * p->per; i < end; i++) p->body(p->job, i);
}

void cquant__par_for(int threads, int64_t count, cquant__par_item_fn body, const void *job) {
  if (count <= 0) return;
  par_for_t p = {body, job, count, threads > 1 ? (count + 4 * threads - 1) / (4 * threads) : count};
  cquant__par_run(threads, (count + p.per - 1) / p.per, par_for_unit, &p);
}

void cquant__par_run(int threads, int64_t units, cquant__par_fn fn, void *ctx) {
  if (threads > PAR_MAX + 1) threads = PAR_MAX + 1;
  if (threads > units) threads = (int)units;
  if (threads <= 1 || in_unit || units >= ((int64_t)1 << 31) || pthread_mutex_trylock(&pool.lock)) {
    for (int64_t u = 0; u < units; u++) fn(ctx, u, 0);
    return;
  }
  while (pool.started < threads - 1) { /* helpers are created once, on first need */
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    const int ok = pthread_create(&t, &at, helper, (void *)(intptr_t)(pool.started + 1)) == 0;
    pthread_attr_destroy(&at);
    if (!ok) break;
    pool.started++;
  }
  const int helpers = threads - 1 < pool.started ? threads - 1 : pool.started;
  const uint32_t gen = atomic_load(&pool.seq) + 1;
  atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
  atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&pool.units, units, memory_order_relaxed);
  atomic_store_explicit(&pool.helpers, helpers, memory_order_relaxed);
  atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.state, (uint64_t)gen << 32, memory_order_release);
  atomic_store(&pool.seq, gen);
  if (atomic_load(&pool.sleepers)) futex_wake(&pool.seq);
  in_unit = 1;
  work(gen, 0);
  in_unit = 0;
  /* the counter is spent: wait for the units helpers are still running */
  for (int spin = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < units; spin++) {
    if (spin < 2000) __builtin_ia32_pause();
    else sched_yield();
  }
  pthread_mutex_unlock(&pool.lock);
}

/* OpenBLAS's pthread build exports this (its fork handler); a later call that needs threads
 * (openblas_set_num_threads, a threaded BLAS call) starts them again. Weak: other builds lack it. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int blas_wide; /* wide calls in progress (under blas_lock): their workers are not ended */

void cquant__par_blas_enter(void) {
  pthread_mutex_lock(&blas_lock);
  if (!blas_wide && openblas_get_num_threads() != 1) {
    openblas_set_num_threads(1);
    /* its idle workers would go on polling for ~0.1 s (2^28 cycles, also after the library's
     * start): end them, since no call of a run asks for them */
    if (blas_thread_shutdown_) blas_thread_shutdown_();
  }
  pthread_mutex_unlock(&blas_lock);
}

int cquant__par_blas_wide(double work) {
  const int t = cquant_get_num_threads();
  if (work < 2e7 || t <= 1) return 0;
  pthread_mutex_lock(&blas_lock);
  if (!blas_wide++ && openblas_get_num_threads() == 1) openblas_set_num_threads(t);
  pthread_mutex_unlock(&blas_lock);
  return 1;
}

void cquant__par_blas_narrow(int wide) {
  if (!wide) return;
  pthread_mutex_lock(&blas_lock);
  if (!--blas_wide) { /* and its workers ended again: their polling would take the pool's cores */
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
  }
  pthread_mutex_unlock(&blas_lock);
}

void cquant__transpose_f32(const float *src, int64_t lds, int64_t rows, int64_t cols, float *dst, int64_t ldd) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16)
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int64_t r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = r0; r < r1; r++) dst[c * ldd + r] = src[r * lds + c];
    }
}

/* One chunk (k <= CQUANT__SGEMM_KC) of C = op(A) op(B) (beta 0) or C + op(A) op(B) (beta 1) as
 * fmaf chains from zero over k, then added to C: the order of OpenBLAS's large kernel, through
 * conv_rows_f32 (any ISA, bit for bit). The vectors run along N, or along M when N is short and M
 * longer (the products commute inside fmaf, so the bits are the same); a transposed operand, or
 * the other orientation, is copied first (a small sgemm: at most M K + K N + M N floats). Returns
 * 0 when out of memory (the caller then asks OpenBLAS). */
static int chain_chunk(int ta, int tb, int64_t M, int64_t N, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, int acc, float *C,
                       int64_t ldc) {
  const float *r[CQUANT__SGEMM_KC];
  const int along_n = N >= 16 || N >= M;
  /* along N: W = op(A) (M x k), row t of B = op(B) row t; along M: W = op(B)^T (N x k), rows of op(A)^T */
  const int64_t wrows = along_n ? M : N, vlen = along_n ? N : M;
  const int pack_w = along_n ? ta : !tb, pack_r = along_n ? tb : !ta;
  const size_t nw = pack_w ? (size_t)(wrows * k) : 0, nr = pack_r ? (size_t)(k * vlen) : 0, ny = along_n ? 0 : (size_t)(M * N);
  float *buf = nw + nr + ny ? malloc(sizeof(float) * (nw + nr + ny)) : NULL;
  if (nw + nr + ny && !buf) return 0;
  float *wp = buf, *rp = buf + nw, *yt = buf + nw + nr;
  const float *w;
  int64_t lw;
  if (along_n) {
    if (ta) { /* op(A)[i][t] = A[t lda + i] */
      cquant__transpose_f32(A, lda, k, M, wp, k);
      w = wp, lw = k;
    } else {
      w = A, lw = lda;
    }
    if (tb) cquant__transpose_f32(B, ldb, N, k, rp, N); /* op(B)[t][j] = B[j ldb + t] */
    for (int64_t t = 0; t < k; t++) r[t] = tb ? rp + t * N : B + t * ldb;
    cquant__kernels()->conv_rows_f32(r, w, lw, NULL, k, M, N, C, ldc, acc);
  } else {
    if (tb) { /* op(B)^T row j = B row j */
      w = B, lw = ldb;
    } else {
      cquant__transpose_f32(B, ldb, k, N, wp, k);
      w = wp, lw = k;
    }
    if (!ta) cquant__transpose_f32(A, lda, M, k, rp, M); /* op(A)^T row t = A row t when transposed already */
    for (int64_t t = 0; t < k; t++) r[t] = ta ? A + t * lda : rp + t * M;
    if (acc) cquant__transpose_f32(C, ldc, M, N, yt, M);
    cquant__kernels()->conv_rows_f32(r, w, lw, NULL, k, N, M, yt, M, acc);
    cquant__transpose_f32(yt, M, N, M, C, ldc);
  }
  free(buf);
  return 1;
}

/* Whether OpenBLAS's sgemm above CQUANT__BLAS_SMALL sums each element's chunk in one FMA chain, as
 * SKYLAKEX's kernel does (the Haswell and Zen kernels, which OPENBLAS_CORETYPE may select, do not):
 * asked once per process of one odd-sized product in each transpose form against chain_chunk. */
static int blas_chains;
static pthread_once_t blas_probe_once = PTHREAD_ONCE_INIT;

static void blas_probe(void) {
  enum { PM = 97, PN = 101, PK = 120 }; /* 1.18 * 10^6 multiply-adds: the large kernel, with tails */
  float *a = malloc(sizeof(float) * (PM * PK + PK * PN + 2 * PM * PN));
  if (!a) return;
  float *b = a + PM * PK, *c0 = b + PK * PN, *c1 = c0 + PM * PN;
  uint32_t x = 12345u;
  for (int i = 0; i < PM * PK + PK * PN; i++) x = x * 1664525u + 1013904223u, a[i] = (float)(int32_t)x * 0x1p-31f;
  int same = 1;
  for (int f = 0; f < 4 && same; f++) {
    const int ta = f & 1, tb = f >> 1;
    const int64_t lda = ta ? PM : PK, ldb = tb ? PK : PN;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, PM, PN, PK, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c0, PN);
    same = chain_chunk(ta, tb, PM, PN, PK, a, lda, b, ldb, 0, c1, PN) && !memcmp(c0, c1, sizeof(float) * PM * PN);
  }
  blas_chains = same;
  free(a);
}

void cquant__sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  pthread_once(&blas_probe_once, blas_probe);
  const double small = blas_chains ? CQUANT__BLAS_SMALL : INFINITY;
  const int64_t nk = cquant__sgemm_chunks(K);
  for (int64_t i = 0; i < nk; i++) {
    const int64_t k0 = K * i / nk, k1 = K * (i + 1) / nk; /* chunk i: [k0, k1) of K */
    const float *Ai = A + (trans_a ? k0 * lda : k0), *Bi = B + (trans_b ? k0 : k0 * ldb);
    const float bi = i ? 1.0f : beta;
    if (k1 > k0 && alpha == 1.0f && (bi == 0.0f || bi == 1.0f) && (double)M * (double)N * (double)(k1 - k0) <= small &&
        chain_chunk(trans_a, trans_b, M, N, k1 - k0, Ai, lda, Bi, ldb, bi == 1.0f, C, ldc))
      continue;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)(k1 - k0), alpha, Ai,
                (int)lda, Bi, (int)ldb, bi, C, (int)ldc);
  }
}
