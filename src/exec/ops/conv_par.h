/* The work-sharing pool of the float convolution, pooling and elementwise loops (conv_par.c). */
#ifndef CQUANT_EXEC_CONV_PAR_H
#define CQUANT_EXEC_CONV_PAR_H
#include <stdint.h>

/* Runs fn(ctx, u, worker) for every u < units on up to `threads` threads (src/exec/ops/conv_par.c):
 * the caller is worker 0 and takes units too; a helper that starts late finds fewer or none.
 * Returns when every unit has finished. worker < threads indexes per-thread scratch. */
typedef void (*cquant__par_fn)(void *ctx, int64_t unit, int worker);
void cquant__par_run(int threads, int64_t units, cquant__par_fn fn, void *ctx);

/* OpenBLAS single-threaded while a model runs (enter at the start of a run, leave at its end;
 * nested and concurrent runs count, the last to leave restores the count it found). The executor
 * splits its work over the pool above, each unit calling a single-threaded BLAS: OpenBLAS's own
 * worker busy-waits (sched_yield) for about 0.1 s after every threaded call, and on two cores it
 * takes the core the pool's helper needs for the operators that follow. */
void cquant__par_blas_enter(void);
void cquant__par_blas_leave(void);
/* A BLAS call of `work` multiply-adds that no pool splits (a transformer's MatMul): from 2 * 10^7
 * on (2 ms or so, where the worker's wait afterwards costs little beside it) OpenBLAS gets the
 * pool's thread count for it; returns what to give cquant__par_blas_narrow after the call. */
int cquant__par_blas_wide(double work);
void cquant__par_blas_narrow(int wide);

#endif
