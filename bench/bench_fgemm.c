/* The float GEMM kernel (conv_rows_f32, every ISA this CPU has) beside OpenBLAS's cblas_sgemm on the
 * same products, one thread, the same run: GFLOP/s as the median of REPS timings, and the ratio
 * cquant / OpenBLAS. The shapes are convolutions of the zoo as GEMMs (M output channels, K taps,
 * N pixels). Every ISA's result is checked against the reference's bits before it is timed.
 *
 * usage: bench_fgemm [REPS]  (run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: scripts/bench) */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"
#include "core/internal.h"
#include "exec/ops/conv_par.h"

char *openblas_get_corename(void);
void openblas_set_num_threads(int);

static const int64_t shapes[][3] = {{64, 64, 3136}, {128, 576, 784}, {256, 1152, 196}, {512, 4608, 49}, {96, 24, 3136}, {32, 288, 12544}};

/* seconds of one call of f, the median of reps after one warm-up */
#define MEDIAN(reps, call)                              \
  ({                                                    \
    double ts_[64];                                     \
    call;                                               \
    for (int q_ = 0; q_ < (reps); q_++) {               \
      const double t0_ = now();                         \
      call;                                             \
      ts_[q_] = now() - t0_;                            \
    }                                                   \
    qsort(ts_, (size_t)(reps), sizeof(double), cmpd);   \
    ts_[(reps) / 2];                                    \
  })

int main(int argc, char **argv) {
  const int reps = argc > 1 ? atoi(argv[1]) : 9;
  if (reps < 1 || reps > 64) {
    fprintf(stderr, "bench_fgemm: REPS must be 1..64\n");
    return 1;
  }
  openblas_set_num_threads(1);
  printf("# OpenBLAS core: %s; detected ISA: %s; one thread, medians of %d\n", openblas_get_corename(), cquant_isa_name(cquant_isa_detected()), reps);
  printf("| M x K x N | OpenBLAS sgemm GFLOP/s |");
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++)
    if (isa == CQUANT_ISA_REF)
      printf(" scalar reference |");
    else if (cquant__kernels_for((cquant_isa_t)isa))
      printf(" cquant %s GFLOP/s (ratio) |", cquant_isa_name((cquant_isa_t)isa));
  printf("\n");
  int bad = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const int64_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
    float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(K * N));
    float *c = malloc(sizeof(float) * (size_t)(M * N)), *c0 = malloc(sizeof(float) * (size_t)(M * N));
    const float **r = malloc(sizeof(float *) * (size_t)K);
    if (!a || !b || !c || !c0 || !r) return fprintf(stderr, "bench_fgemm: out of memory\n"), 1;
    uint32_t x = 7u;
    for (int64_t i = 0; i < M * K; i++) x = x * 1664525u + 1013904223u, a[i] = (float)(int32_t)x * 0x1p-31f;
    for (int64_t i = 0; i < K * N; i++) x = x * 1664525u + 1013904223u, b[i] = (float)(int32_t)x * 0x1p-31f;
    for (int64_t t = 0; t < K; t++) r[t] = b + t * N;
    const double flop = 2.0 * (double)M * (double)K * (double)N;
    const int rr = flop > 2e9 ? (reps + 2) / 3 : reps;
    const double tb = MEDIAN(rr, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, a, (int)K, b, (int)N, 0.0f, c, (int)N));
    printf("| %lld x %lld x %lld | %.1f |", (long long)M, (long long)K, (long long)N, flop / tb * 1e-9);
    cquant__kernels_for(CQUANT_ISA_REF)->conv_rows_f32(r, a, K, NULL, K, M, N, c0, N, 0);
    for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
      const cquant__kernels_t *k = cquant__kernels_for((cquant_isa_t)isa);
      if (!k) continue;
      memset(c, 0, sizeof(float) * (size_t)(M * N));
      k->conv_rows_f32(r, a, K, NULL, K, M, N, c, N, 0);
      if (memcmp(c, c0, sizeof(float) * (size_t)(M * N))) {
        printf(" differs from the reference |");
        bad = 1;
        continue;
      }
      if (isa == CQUANT_ISA_REF) { /* the scalar chain: checked, too slow to be a figure */
        printf(" checked |");
        continue;
      }
      const double t = MEDIAN(rr, k->conv_rows_f32(r, a, K, NULL, K, M, N, c, N, 0));
      printf(" %.1f (%.2fx) |", flop / t * 1e-9, tb / t);
    }
    printf("\n");
    fflush(stdout);
    free(a), free(b), free(c), free(c0), free(r);
  }
  printf("# ratio = OpenBLAS time / cquant time (above 1: cquant faster)\n");
  return bad;
}
