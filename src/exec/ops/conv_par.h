/* The work-sharing pool of the float executor's loops, and of the quantize drivers, min-max and the
 * calibration histogram that run between its nodes (conv_par.c). No OpenMP beside it: an idle
 * libgomp worker busy-waits for milliseconds after a region, on the core the pool's helper needs. */
#ifndef CQUANT_EXEC_CONV_PAR_H
#define CQUANT_EXEC_CONV_PAR_H
#include <stdint.h>

/* Runs fn(ctx, u, worker) for every u < units on up to `threads` threads (src/exec/ops/conv_par.c):
 * the caller is worker 0 and takes units too; a helper that starts late finds fewer or none.
 * Returns when every unit has finished. worker < threads indexes per-thread scratch. */
typedef void (*cquant__par_fn)(void *ctx, int64_t unit, int worker);
void cquant__par_run(int threads, int64_t units, cquant__par_fn fn, void *ctx);

/* Items [0, count), each body(job, item), over cquant__par_run in runs of about count / (4 threads)
 * (one run on one thread). For loops whose items write their own outputs: the result does not
 * depend on how the runs are cut. */
typedef void (*cquant__par_item_fn)(const void *job, int64_t item);
void cquant__par_for(int threads, int64_t count, cquant__par_item_fn body, const void *job);

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

/* cblas_sgemm (row-major) that sums K in chunks of at most CQUANT__SGEMM_KC: each chunk is one
 * sgemm (beta for the first, 1 after it), so every element adds its chunk sums to C in K order.
 * OpenBLAS (0.3.21, SKYLAKEX) on its own runs one FMA chain over more than 256 of K: in Mask
 * R-CNN's 3x3 convolutions of 256 channels (K = 2304) the error's rms was 1.6 times ONNX Runtime's
 * (3.6e-7 against 2.2e-7 of the output's rms, from float64), in chunks of 128 it is ORT's bit for
 * bit (MLAS sums 128 of K at a time, then adds to C). Through the model's convolutions and Gemms
 * the boxes were 1.7e-4 px (rms) from a float64 run against ORT's 0.8e-4, and the masks, pasted
 * with the boxes, failed the zoo's 1e-4. The chunks are K's nearly equal parts, the same whoever
 * calls; conv_small.c sums its taps the same way. */
#define CQUANT__SGEMM_KC 128
/* OpenBLAS 0.3.21 (SKYLAKEX) takes a small-matrix kernel for an sgemm of at most 10^6 multiply-adds
 * (M N K), which splits K over several accumulators; its large kernel sums every element's chunk
 * in one FMA chain. cquant__sgemm runs the small chunks itself (conv_rows_f32, the same chain), so
 * its bits do not depend on how a caller cuts M or N into units; where OpenBLAS's large kernel is
 * found to sum otherwise (a probe at the first call: OPENBLAS_CORETYPE=Haswell, Zen), it runs every
 * chunk itself (10-40% slower on large products). tests/test_kernels.c checks both sides of the
 * bound against a scalar chain. */
#define CQUANT__BLAS_SMALL 1e6
/* The number of chunks K is summed in (chunk c: [K c / n, K (c + 1) / n)). */
static inline int64_t cquant__sgemm_chunks(int64_t K) { return K > CQUANT__SGEMM_KC ? (K + CQUANT__SGEMM_KC - 1) / CQUANT__SGEMM_KC : 1; }
void cquant__sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                   float beta, float *C, int64_t ldc);
/* dst[c ldd + r] = src[r lds + c] for r < rows, c < cols, in 16 x 16 tiles (the rows of a tile stay
 * in L1 while their columns are read out; a plain transpose of a wide matrix misses on every read) */
void cquant__transpose_f32(const float *src, int64_t lds, int64_t rows, int64_t cols, float *dst, int64_t ldd);
/* the same in cblas_sgemm's arguments (row-major only), for code written against both sgemm and dgemm */
#define CQUANT__SGEMM_CBLAS(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) \
  cquant__sgemm((ta) == CblasTrans, (tb) == CblasTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)

#endif
