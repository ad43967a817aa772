/* Integer GEMM throughput (GOPS = 2 M N K / s) for cquant's VNNI and AVX2 kernels, beside OpenBLAS
 * sgemm and oneDNN's u8s8s32 int8 matmul on the same shapes, same run; 1 and 2 threads; medians.
 * M = 1 is also compared with the time of reading B once at the memcpy bandwidth measured here.
 *   bench_qgemm [--reps R] [--quick] */
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"
#include "intops/intops.h"

int cquant__qgemm_pack_kind(const void *B, int b_signed, int64_t K, int64_t N, int64_t ldb, const int32_t *zb,
                            int zb_per_col, int kind, cquant_qgemm_weights_t **out);
void openblas_set_num_threads(int);
char *openblas_get_corename(void);

static int reps = 5;
#define TIME(stmt)                                  \
  ({                                                \
    double t_[32];                                  \
    stmt;                                           \
    for (int r_ = 0; r_ < reps; r_++) {             \
      double a_ = now();                            \
      stmt;                                         \
      t_[r_] = now() - a_;                          \
    }                                               \
    qsort(t_, (size_t)reps, sizeof(double), cmpd);  \
    t_[reps / 2];                                   \
  })

/* oneDNN u8 x s8 -> s32 matmul with weights reordered once into its preferred layout */
typedef struct {
  dnnl_engine_t eng;
  dnnl_stream_t st;
  dnnl_primitive_t mm;
  dnnl_memory_t a, b, c;
  int ok;
} onednn_t;

static void onednn_init(onednn_t *o, int64_t M, int64_t N, int64_t K, const uint8_t *A, const int8_t *B, int32_t *C) {
  memset(o, 0, sizeof *o);
  dnnl_memory_desc_t amd, bmd, bany, cmd;
  dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
  if (dnnl_engine_create(&o->eng, dnnl_cpu, 0) || dnnl_stream_create(&o->st, o->eng, dnnl_stream_default_flags)) return;
  dnnl_memory_desc_init_by_tag(&amd, 2, ad, dnnl_u8, dnnl_ab);
  dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_s8, dnnl_ab);
  dnnl_memory_desc_init_by_tag(&bany, 2, bd, dnnl_s8, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_s32, dnnl_ab);
  dnnl_matmul_desc_t md;
  dnnl_primitive_desc_t pd, rpd;
  if (dnnl_matmul_desc_init(&md, &amd, &bany, NULL, &cmd) || dnnl_primitive_desc_create(&pd, &md, NULL, o->eng, NULL)) return;
  const dnnl_memory_desc_t *bpref = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_memory_t braw;
  dnnl_memory_create(&o->a, &amd, o->eng, (void *)A);
  dnnl_memory_create(&braw, &bmd, o->eng, (void *)B);
  dnnl_memory_create(&o->b, bpref, o->eng, DNNL_MEMORY_ALLOCATE);
  dnnl_memory_create(&o->c, &cmd, o->eng, C);
  dnnl_primitive_t reorder;
  if (dnnl_reorder_primitive_desc_create(&rpd, &bmd, o->eng, bpref, o->eng, NULL) || dnnl_primitive_create(&reorder, rpd)) return;
  dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, braw}, {DNNL_ARG_TO, o->b}};
  dnnl_primitive_execute(reorder, o->st, 2, rargs);
  dnnl_stream_wait(o->st);
  dnnl_primitive_destroy(reorder);
  dnnl_primitive_desc_destroy(rpd);
  dnnl_memory_destroy(braw);
  if (dnnl_primitive_create(&o->mm, pd)) return;
  dnnl_primitive_desc_destroy(pd);
  o->ok = 1;
}
static void onednn_run(onednn_t *o) {
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, o->a}, {DNNL_ARG_WEIGHTS, o->b}, {DNNL_ARG_DST, o->c}};
  dnnl_primitive_execute(o->mm, o->st, 3, args);
  dnnl_stream_wait(o->st);
}
static void onednn_free(onednn_t *o) {
  if (o->mm) dnnl_primitive_destroy(o->mm);
  if (o->a) dnnl_memory_destroy(o->a);
  if (o->b) dnnl_memory_destroy(o->b);
  if (o->c) dnnl_memory_destroy(o->c);
  if (o->st) dnnl_stream_destroy(o->st);
  if (o->eng) dnnl_engine_destroy(o->eng);
}

/* float32 reference convolution for the benchmark: im2col (rows k = (c, ky, kx), columns pixels),
 * then sgemm: the usual float path */
static void float_conv(const float *xf, const float *wf, float *col, float *yf) {
  const int64_t K = 64 * 9, P = 56 * 56;
  for (int64_t c = 0; c < 64; c++)
    for (int64_t ky = 0; ky < 3; ky++)
      for (int64_t kx = 0; kx < 3; kx++) {
        float *row = col + ((c * 3 + ky) * 3 + kx) * P;
        for (int64_t oy = 0; oy < 56; oy++)
          for (int64_t ox = 0; ox < 56; ox++) {
            int64_t iy = oy - 1 + ky, ix = ox - 1 + kx;
            row[oy * 56 + ox] = (iy >= 0 && iy < 56 && ix >= 0 && ix < 56) ? xf[(c * 56 + iy) * 56 + ix] : 0.0f;
          }
      }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 64, (int)P, (int)K, 1.0f, wf, (int)K, col, (int)P, 0.0f, yf, (int)P);
}

int main(int argc, char **argv) {
  int quick = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = 1;
  }
  if (reps < 1 || reps > 31) reps = 5;
  const int64_t shapes[][3] = {{1024, 1024, 1024}, {4096, 4096, 4096}, {1, 4096, 4096}, {128, 4096, 4096}};
  const int nshapes = quick ? 1 : 4;
  printf("# OpenBLAS core: %s; oneDNN %d.%d; medians of %d\n", openblas_get_corename(), dnnl_version()->major, dnnl_version()->minor, reps);
  /* memory bandwidth for the GEMV bound: a 64 MiB memcpy */
  size_t mb = (size_t)64 << 20;
  char *s1 = malloc(mb), *s2 = malloc(mb);
  memset(s1, 1, mb);
  memset(s2, 2, mb);
  double tcopy = TIME(memcpy(s2, s1, mb));
  double bw = (double)mb / tcopy; /* bytes read per second by memcpy */
  free(s1);
  free(s2);
  printf("| M | N | K | threads | cquant AMX GOPS | cquant VNNI GOPS | cquant AVX2 GOPS | OpenBLAS sgemm GFLOPS | oneDNN u8s8s32 GOPS | AMX / sgemm | AMX / oneDNN | VNNI / sgemm |\n");
  printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (int si = 0; si < nshapes; si++) {
    const int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
    uint8_t *A = aligned_alloc(64, (size_t)(M * K + 64));
    int8_t *B = aligned_alloc(64, (size_t)(K * N + 64));
    int32_t *C = aligned_alloc(64, sizeof(int32_t) * (size_t)(M * N + 64));
    float *Af = aligned_alloc(64, sizeof(float) * (size_t)(M * K + 64)), *Bf = aligned_alloc(64, sizeof(float) * (size_t)(K * N + 64));
    float *Cf = aligned_alloc(64, sizeof(float) * (size_t)(M * N + 64));
    for (int64_t i = 0; i < M * K; i++) { A[i] = (uint8_t)(i * 7 + 3); Af[i] = (float)A[i]; }
    for (int64_t i = 0; i < K * N; i++) { B[i] = (int8_t)(i * 13 + 5); Bf[i] = (float)B[i]; }
    const int32_t zb = 0;
    cquant_qgemm_weights_t *wv = NULL, *wa = NULL, *wx = NULL;
    int have_vnni = cquant__has_vnni() && !cquant__qgemm_pack_kind(B, 1, K, N, N, &zb, 0, CQUANT__QG_VNNI, &wv);
    int have_amx = cquant__has_amx() && !cquant__qgemm_pack_kind(B, 1, K, N, N, &zb, 0, CQUANT__QG_AMX, &wx);
    cquant__qgemm_pack_kind(B, 1, K, N, N, &zb, 0, CQUANT__QG_AVX2, &wa);
    onednn_t od;
    for (int threads = 1; threads <= 2; threads++) {
      cquant_set_num_threads(threads);
      openblas_set_num_threads(threads);
      omp_set_num_threads(threads);
      onednn_init(&od, M, N, K, A, B, C);
      const double ops = 2.0 * (double)M * (double)N * (double)K;
      double tv = have_vnni ? TIME(cquant_qgemm(A, 0, M, K, 3, wv, C, N)) : 0;
      double tx = have_amx ? TIME(cquant_qgemm(A, 0, M, K, 3, wx, C, N)) : 0;
      double ta = TIME(cquant_qgemm(A, 0, M, K, 3, wa, C, N));
      double ts = TIME(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, Af, (int)K, Bf, (int)N, 0.0f, Cf, (int)N));
      double td = od.ok ? TIME(onednn_run(&od)) : 0;
      const double tbest = tx ? tx : tv;
      printf("| %lld | %lld | %lld | %d | %.1f | %.1f | %.1f | %.1f | %s%.1f | %.2fx | %s%.2fx | %.2fx |", (long long)M, (long long)N, (long long)K, threads,
             tx ? ops / tx / 1e9 : 0, tv ? ops / tv / 1e9 : 0, ops / ta / 1e9, ops / ts / 1e9, od.ok ? "" : "n/a ", td ? ops / td / 1e9 : 0,
             tbest ? ts / tbest : 0, od.ok ? "" : "n/a ", td && tbest ? td / tbest : 0, tv ? ts / tv : 0);
      if (M == 1) printf(" GEMV: %.2f ms, reading B once at memcpy speed %.2f ms (%.2fx)", tbest * 1e3, (double)(K * N) / bw * 1e3, tbest / ((double)(K * N) / bw));
      printf("\n");
      onednn_free(&od);
    }
    cquant_qgemm_weights_free(wv);
    cquant_qgemm_weights_free(wx);
    cquant_qgemm_weights_free(wa);
    free(A); free(B); free(C); free(Af); free(Bf); free(Cf);
  }
  /* a 3x3 convolution, 64 -> 64 channels, 56 x 56, batch 1 (a ResNet stage): cquant's integer conv
   * (im2col + GEMM, NCHW and NHWC) beside a float32 im2col + OpenBLAS sgemm in the same run */
  {
    cquant__conv2d_t p = {1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 56, 56};
    const int64_t K = 64 * 9, P = 56 * 56;
    uint8_t *x = malloc(64 * 56 * 56), *w = malloc(64 * 64 * 9);
    int32_t *y = malloc(sizeof(int32_t) * 64 * 56 * 56), zw = 0;
    float *xf = malloc(sizeof(float) * 64 * 56 * 56), *wf = malloc(sizeof(float) * 64 * K), *col = malloc(sizeof(float) * (size_t)(P * K)),
          *yf = malloc(sizeof(float) * 64 * (size_t)P);
    for (int i = 0; i < 64 * 56 * 56; i++) { x[i] = (uint8_t)(i * 7); xf[i] = (float)x[i]; }
    for (int i = 0; i < 64 * 64 * 9; i++) { w[i] = (uint8_t)(i * 13); wf[i] = (float)(int8_t)w[i]; }
    printf("\n| 3x3 conv 64->64, 56x56, batch 1 | threads | cquant int8 NCHW ms | cquant int8 NHWC ms | float32 im2col + sgemm ms | NHWC speed-up |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int threads = 1; threads <= 2; threads++) {
      cquant_set_num_threads(threads);
      openblas_set_num_threads(threads);
      double tn = TIME(cquant__qconv2d_s32(&p, 0, x, 0, 3, w, 1, &zw, 0, y));
      double th = TIME(cquant__qconv2d_s32(&p, 1, x, 0, 3, w, 1, &zw, 0, y));
      double tf = TIME(float_conv(xf, wf, col, yf));
      printf("| | %d | %.3f | %.3f | %.3f | %.2fx |\n", threads, tn * 1e3, th * 1e3, tf * 1e3, tf / th);
    }
    free(x); free(w); free(y); free(xf); free(wf); free(col); free(yf);
  }
  return 0;
}
