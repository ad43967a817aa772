/* The work-sharing pool of the float convolution, pooling and elementwise loops (conv_par.c). */
#ifndef CQUANT_EXEC_CONV_PAR_H
#define CQUANT_EXEC_CONV_PAR_H
#include <stdint.h>

/* Runs fn(ctx, u, worker) for every u < units on up to `threads` threads (src/exec/ops/conv_par.c):
 * the caller is worker 0 and takes units too; a helper that starts late finds fewer or none.
 * Returns when every unit has finished. worker < threads indexes per-thread scratch. */
typedef void (*cquant__par_fn)(void *ctx, int64_t unit, int worker);
void cquant__par_run(int threads, int64_t units, cquant__par_fn fn, void *ctx);

#endif
