/* The work-sharing pool of the float convolution, pooling and elementwise loops (conv_par.c). */
#ifndef CQUANT_EXEC_CONV_PAR_H
#define CQUANT_EXEC_CONV_PAR_H
#include <stdint.h>

/* Runs fn(ctx, u, worker) for every u < units on up to `threads` threads (src/exec/ops/conv_par.c):
 * the caller is worker 0 and takes units too; a helper that starts late finds fewer or none.
 * Returns when every unit has finished. worker < threads indexes per-thread scratch. */
typedef void (*cquant__par_fn)(void *ctx, int64_t unit, int worker);
void cquant__par_run(int threads, int64_t units, cquant__par_fn fn, void *ctx);

/* OpenBLAS single-threaded from a model's run on (set at the start of every run, left so: setting
 * it back would start OpenBLAS's workers again). The executor splits its work over the pool above,
 * each unit calling a single-threaded BLAS: an idle OpenBLAS worker busy-waits (sched_yield) for
 * about 0.1 s after every threaded call and after the library's start, and on two cores it takes
 * the core the pool's helper needs. Its workers are ended (blas_thread_shutdown_). */
void cquant__par_blas_enter(void);
/* A BLAS call of `work` multiply-adds that no pool splits (a transformer's MatMul of few rows):
 * from 2 * 10^7 on (2 ms or so, where starting OpenBLAS's workers costs little beside it) OpenBLAS
 * gets the pool's thread count for it, and the last such call in progress ends its workers again
 * (none is ended while one runs); returns what to give cquant__par_blas_narrow after the call. */
int cquant__par_blas_wide(double work);
void cquant__par_blas_narrow(int wide);

#endif
