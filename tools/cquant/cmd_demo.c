/* cquant demo: the main job on built-in defaults until whole-model PTQ lands. It makes a weight-like
 * tensor (Gaussian rows of different spread, with a few outliers) and shows the round-trip error of
 * every target type and granularity, so a newcomer sees what each choice costs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* xorshift64* and Box-Muller: reproducible data with no dependency. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) {
  rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
  return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static double gauss(void) {
  double u = uniform(), v = uniform();
  return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static void help(void) {
  printf("usage: cquant demo\n\nQuantizes a generated 256x1024 weight-like float32 tensor to every target type\n"
         "and granularity, dequantizes it, and prints the error of each round trip.\n");
}

int cmd_demo(int argc, char **argv) {
  int npos, pr = cli_args_parse(argc, argv, NULL, NULL, 0, &npos, help);
  if (pr) return pr == 2 ? 0 : 1;
  const int64_t shape[2] = {256, 1024};
  const size_t n = 256 * 1024;
  float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
  void *q = malloc(n * 4);
  if (!x || !y || !q) { free(x); free(y); free(q); return cli_fail("out of memory"); }
  for (size_t r = 0; r < 256; r++) {
    double sigma = 0.02 * (1.0 + 4.0 * uniform()); /* rows (output channels) differ in spread */
    for (size_t c = 0; c < 1024; c++) x[r * 1024 + c] = (float)(sigma * gauss());
  }
  for (int k = 0; k < 16; k++) x[(size_t)(uniform() * (double)n)] *= 12.0f; /* a few outliers */

  static const struct { cquant_dtype_t dt; cquant_granularity_t g; int64_t group; unsigned flags; const char *label; } cases[] = {
      {CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, CQUANT_QF_SYMMETRIC, "int8   per-tensor  symmetric"},
      {CQUANT_DT_U8, CQUANT_PER_TENSOR, 0, 0, "uint8  per-tensor  asymmetric"},
      {CQUANT_DT_S8, CQUANT_PER_CHANNEL, 0, CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE, "int8   per-channel symmetric narrow"},
      {CQUANT_DT_S4, CQUANT_PER_CHANNEL, 0, CQUANT_QF_SYMMETRIC, "int4   per-channel symmetric"},
      {CQUANT_DT_S4, CQUANT_PER_GROUP, 128, CQUANT_QF_SYMMETRIC, "int4   per-group 128 symmetric"},
      {CQUANT_DT_U4, CQUANT_PER_GROUP, 32, 0, "uint4  per-group 32 asymmetric"},
      {CQUANT_DT_S2, CQUANT_PER_GROUP, 32, CQUANT_QF_SYMMETRIC, "int2   per-group 32 symmetric"},
      {CQUANT_DT_S16, CQUANT_PER_TENSOR, 0, CQUANT_QF_SYMMETRIC, "int16  per-tensor  symmetric"},
      {CQUANT_DT_F8E4M3, CQUANT_PER_TENSOR, 0, 0, "fp8e4m3 per-tensor scaled"},
      {CQUANT_DT_F8E5M2, CQUANT_PER_CHANNEL, 0, 0, "fp8e5m2 per-channel scaled"},
  };
  printf("cquant demo: a 256x1024 float32 weight tensor (Gaussian rows, sigma 0.02-0.1, 16 outliers at 12x)\n");
  printf("kernels: %s, threads: %d\n\n", cquant_isa_name(cquant_isa_active()), cquant_get_num_threads());
  printf("| scheme | bytes | SQNR dB | MSE | max abs err | clipped %% | clip share of MSE |\n");
  printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  int rc = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !rc; i++) {
    cquant_qparams_t *qp;
    cquant_error_report_t r;
    int st = cquant_qparams_create(cases[i].dt, cases[i].g, cases[i].g == CQUANT_PER_TENSOR ? -1 : (cases[i].g == CQUANT_PER_GROUP ? 1 : 0),
                                   cases[i].group, cases[i].flags, 2, shape, &qp);
    if (st) { rc = cli_fail_status(st); break; }
    cquant_layout_t layout = cquant_dtype_info(cases[i].dt)->bits < 8 ? CQUANT_LAYOUT_PACKED : CQUANT_LAYOUT_UNPACKED;
    if (!(st = cquant_qparams_minmax(qp, x)) && !(st = cquant_quantize(x, qp, layout, q)) &&
        !(st = cquant_dequantize(q, qp, layout, y)) && !(st = cquant_error_report(x, y, n, qp, &r))) {
      printf("| %s | %zu | %.2f | %.3g | %.3g | %.3f | %.1f%% |\n", cases[i].label, cquant_quantized_size(qp, layout),
             r.sqnr_db, r.mse, r.max_abs, 100.0 * r.clipped_share, r.mse > 0 ? 100.0 * r.clip_mse / r.mse : 0.0);
    } else {
      rc = cli_fail_status(st);
    }
    cquant_qparams_destroy(qp);
  }
  printf("\nfloat32 size: %zu bytes. Every row is a real quantize -> dequantize round trip (packed storage\n"
         "for 4- and 2-bit types). Try it on your own tensor: cquant quantize W.npy -o Q.npy --qparams QP.json\n", n * 4);
  free(x);
  free(y);
  free(q);
  return rc;
}
