/* Quantize / dequantize throughput on a 64M-element float32 tensor (256 MiB), per type and
 * granularity, single-threaded and on all cores, each beside a memcpy of the same input bytes and
 * PyTorch 1.13 (bench/torch_quantize.py on the same data) measured in the same run. Medians.
 *   bench_quantize [--n ELEMENTS] [--reps R] [--no-torch]
 * GB/s counts the input read (float32 for quantize, the quantized bytes for dequantize). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"
#include "cquant/cquant.h"


static int reps = 7;

/* memcpy split over the threads, as the kernels are */
static void par_memcpy(void *dst, const void *src, size_t n, int threads) {
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    size_t a = n / (size_t)nt * (size_t)t, b = t == nt - 1 ? n : n / (size_t)nt * (size_t)(t + 1);
    memcpy((char *)dst + a, (const char *)src + a, b - a);
  }
}

typedef enum { OP_Q = 0, OP_DQ = 1, OP_FQ = 2, RECIP = 8 } op_t;
#define OP(b) ((b)->op & 7)
typedef struct {
  const char *label;
  cquant_dtype_t dt;
  cquant_granularity_t g;
  int64_t rows, group; /* per-channel: rows x (n / rows) on axis 0; per-group on axis 1 */
  cquant_layout_t layout;
  int op;
  const char *torch; /* the PyTorch case beside it, if any */
} bcase_t;

typedef struct { char name[64]; int threads; double sec; } tres_t;
static tres_t tres[32];
static int ntres;

static double torch_time(const char *name, int threads) {
  for (int i = 0; i < ntres; i++)
    if (!strcmp(tres[i].name, name) && tres[i].threads == threads) return tres[i].sec;
  return 0;
}

int main(int argc, char **argv) {
  size_t n = 64u << 20;
  int use_torch = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--n") && i + 1 < argc) n = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-torch")) use_torch = 0;
    else { fprintf(stderr, "usage: bench_quantize [--n ELEMENTS] [--reps R] [--no-torch]\n"); return 2; }
  }
  const int64_t rows = 4096;
  n = n / (size_t)rows / 128 * (size_t)rows * 128;
  float *x = aligned_alloc(64, n * 4), *y = aligned_alloc(64, n * 4);
  void *q = aligned_alloc(64, n * 4);
  if (!x || !y || !q) { fprintf(stderr, "out of memory\n"); return 1; }
  uint64_t s = 88172645463325252ull;
  for (size_t i = 0; i < n; i++) { /* Gaussian-ish: sum of four uniforms */
    float a = 0;
    for (int k = 0; k < 4; k++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; a += (float)(s >> 40) / 16777216.0f; }
    x[i] = (a - 2.0f) * 1.7f;
  }
  memset(y, 0, n * 4);
  memset(q, 0, n * 4);

  if (use_torch) {
    const char *tmp = "/tmp/cquant_bench_x.npy";
    int64_t sh[1] = {(int64_t)n};
    if (cquant_npy_save(tmp, CQUANT_DT_F32, 1, sh, x) == 0) {
      char cmd[512];
      snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/torch_quantize.py %s %lld %d", CQUANT_SOURCE_DIR, tmp, (long long)rows, reps);
      FILE *p = popen(cmd, "r");
      char line[256];
      while (p && fgets(line, sizeof line, p)) {
        if (line[0] == '#') { printf("%s", line); continue; }
        if (ntres < 32 && sscanf(line, "%63s %d %lf", tres[ntres].name, &tres[ntres].threads, &tres[ntres].sec) == 3) ntres++;
      }
      if (!p || pclose(p) != 0 || !ntres) printf("# PyTorch baseline unavailable (scripts/setup --bench installs python3-torch)\n");
      remove(tmp);
    }
  }

  static const bcase_t cases[] = {
      {"int8 per-tensor quantize", CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, 0, CQUANT_LAYOUT_UNPACKED, OP_Q, "quantize_per_tensor_int8"},
      {"int8 per-channel quantize", CQUANT_DT_S8, CQUANT_PER_CHANNEL, rows, 0, CQUANT_LAYOUT_UNPACKED, OP_Q, "quantize_per_channel_int8"},
      {"int8 per-tensor quantize, r*(1/s) rounding", CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, 0, CQUANT_LAYOUT_UNPACKED, OP_Q | RECIP, "quantize_per_tensor_int8"},
      {"uint8 per-tensor quantize", CQUANT_DT_U8, CQUANT_PER_TENSOR, 0, 0, CQUANT_LAYOUT_UNPACKED, OP_Q, NULL},
      {"int16 per-tensor quantize", CQUANT_DT_S16, CQUANT_PER_TENSOR, 0, 0, CQUANT_LAYOUT_UNPACKED, OP_Q, NULL},
      {"int4 per-group(128) quantize, packed", CQUANT_DT_S4, CQUANT_PER_GROUP, rows, 128, CQUANT_LAYOUT_PACKED, OP_Q, NULL},
      {"int4 per-channel quantize, unpacked", CQUANT_DT_S4, CQUANT_PER_CHANNEL, rows, 0, CQUANT_LAYOUT_UNPACKED, OP_Q, NULL},
      {"fp8e4m3 per-tensor quantize (scaled)", CQUANT_DT_F8E4M3, CQUANT_PER_TENSOR, 0, 0, CQUANT_LAYOUT_UNPACKED, OP_Q, NULL},
      {"int8 per-tensor dequantize", CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, 0, CQUANT_LAYOUT_UNPACKED, OP_DQ, "dequantize_per_tensor_int8"},
      {"int8 per-channel dequantize", CQUANT_DT_S8, CQUANT_PER_CHANNEL, rows, 0, CQUANT_LAYOUT_UNPACKED, OP_DQ, NULL},
      {"int8 per-tensor fake-quantize", CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, 0, CQUANT_LAYOUT_UNPACKED, OP_FQ, NULL},
  };
  printf("# cquant %s, kernels %s, %zu float32 elements (%.0f MiB), median of %d\n", CQUANT_VERSION_STRING,
         cquant_isa_name(cquant_isa_active()), n, n * 4 / 1048576.0, reps);
  printf("| case | threads | GB/s (input) | ms | memcpy ms | speed vs memcpy | PyTorch ms | speed vs PyTorch |\n");
  printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  double t[64];
  for (int threads = 1; threads <= 2; threads++) {
    cquant_set_num_threads(threads);
    for (int r = 0; r < reps; r++) { double a = now(); par_memcpy(y, x, n * 4, threads); t[r] = now() - a; }
    qsort(t, (size_t)reps, sizeof(double), cmpd);
    double tm = t[reps / 2];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      const bcase_t *b = &cases[c];
      int64_t shape[2] = {b->rows ? b->rows : (int64_t)n, b->rows ? (int64_t)n / b->rows : 1};
      cquant_qparams_t *qp;
      if (cquant_qparams_create(b->dt, b->g, b->g == CQUANT_PER_GROUP ? 1 : 0, b->group, CQUANT_QF_SYMMETRIC, b->rows ? 2 : 1, shape, &qp) ||
          cquant_qparams_minmax(qp, x) || cquant_quantize(x, qp, b->layout, q)) {
        fprintf(stderr, "%s: %s\n", b->label, cquant_last_error());
        return 1;
      }
      qp->rounding = (b->op & RECIP) ? CQUANT_ROUND_RECIP : CQUANT_ROUND_DIV;
      size_t in_bytes = OP(b) == OP_DQ ? cquant_quantized_size(qp, b->layout) : n * 4;
      for (int r = 0; r < reps + 1; r++) {
        double a = now();
        if (OP(b) == OP_Q) cquant_quantize(x, qp, b->layout, q);
        else if (OP(b) == OP_DQ) cquant_dequantize(q, qp, b->layout, y);
        else cquant_fake_quantize(x, qp, y);
        if (r) t[r - 1] = now() - a; /* the first run warms up */
      }
      qsort(t, (size_t)reps, sizeof(double), cmpd);
      double tq = t[reps / 2];
      /* memcpy of the same input bytes: the float32 tensor's time scaled to in_bytes */
      double tmc = tm * (double)in_bytes / (double)(n * 4);
      double tt = b->torch ? torch_time(b->torch, threads) : 0;
      printf("| %s | %d | %.2f | %.1f | %.1f | %.2fx | ", b->label, threads, in_bytes / tq / 1e9, tq * 1e3, tmc * 1e3, tmc / tq);
      if (tt > 0) printf("%.1f | %.1fx |\n", tt * 1e3, tt / tq);
      else printf("- | - |\n");
      cquant_qparams_destroy(qp);
    }
  }
  free(x); free(y); free(q);
  return 0;
}
