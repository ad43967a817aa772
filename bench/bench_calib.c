/* Calibration methods compared (docs/calibration.md): MSE, SQNR and share clipped after int8 and
 * int4 fake quantization on three 16M-sample distributions, and the speed of the histogram path
 * beside a plain min-max pass and PyTorch 1.13's HistogramObserver on the same data, same run.
 *   bench_calib [--n SAMPLES] [--reps R] [--no-torch] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"
#include "cquant/cquant.h"


static uint64_t rs = 0x853c49e6748fea9bull;
static double unif(void) {
  rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
  return ((double)(rs >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()); }

static void gen(float *x, size_t n, int dist) {
  for (size_t i = 0; i < n; i++) {
    if (dist == 1) { double u = unif() - 0.5; x[i] = (float)(-copysign(log(1 - 2 * fabs(u)), u) / sqrt(2.0)); } /* unit variance */
    else x[i] = (float)gauss();
    if (dist == 2 && unif() < 0.001) x[i] = (float)(copysign(50.0, x[i]));
  }
}

int main(int argc, char **argv) {
  size_t n = 16u << 20;
  int reps = 5, use_torch = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--n") && i + 1 < argc) n = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-torch")) use_torch = 0;
    else { fprintf(stderr, "usage: bench_calib [--n SAMPLES] [--reps R] [--no-torch]\n"); return 2; }
  }
  const size_t nb = 16, bsz = n / nb; /* observed as 16 batches, as a calibration set would be */
  n = bsz * nb;
  float *x = malloc(n * 4), *y = malloc(n * 4);
  if (!x || !y) return 1;
  static const char *dname[3] = {"Gaussian", "Laplace", "Gaussian + 0.1% at 50 sigma"};
  static const cquant_calib_method_t methods[] = {CQUANT_CALIB_MINMAX, CQUANT_CALIB_EMA, CQUANT_CALIB_PERCENTILE, CQUANT_CALIB_ENTROPY, CQUANT_CALIB_MSE};
  printf("# %zu samples per distribution in %zu batches; symmetric per-tensor; percentile 99.99; EMA constant 0.01\n", n, nb);
  printf("| distribution | type | method | range (amax) | MSE | SQNR dB | clipped %% |\n| --- | --- | --- | ---: | ---: | ---: | ---: |\n");
  for (int dist = 0; dist < 3; dist++) {
    gen(x, n, dist);
    for (int d = 0; d < 2; d++) {
      cquant_dtype_t dt = d ? CQUANT_DT_S4 : CQUANT_DT_S8;
      double best = INFINITY, mse[5];
      for (int m = 0; m < 5; m++) {
        cquant_calib_config_t cfg;
        cquant_calib_config_default(&cfg, methods[m]);
        cfg.dtype = dt;
        cquant_observer_t *o;
        cquant_qparams_t *qp;
        int64_t sh[1] = {(int64_t)bsz}, full[1] = {(int64_t)n};
        cquant_observer_create(&cfg, &o);
        for (size_t b = 0; b < nb; b++) cquant_observer_update(o, x + b * bsz, 1, sh);
        float lo, hi;
        cquant_observer_ranges(o, &lo, &hi, 1);
        cquant_observer_qparams(o, 1, full, &qp);
        cquant_fake_quantize(x, qp, y);
        cquant_error_report_t r;
        cquant_error_report(x, y, n, qp, &r);
        mse[m] = r.mse;
        best = fmin(best, r.mse);
        printf("| %s | %s | %s | %.4f | %.4g | %.2f | %.4f |\n", dname[dist], cquant_dtype_info(dt)->name, cquant_calib_method_name(methods[m]),
               fmaxf(-lo, hi), r.mse, r.sqnr_db, 100 * r.clipped_share);
        cquant_qparams_destroy(qp);
        cquant_observer_destroy(o);
      }
      printf("| | | best by MSE: %s | | | | |\n", cquant_calib_method_name(methods[mse[4] <= best ? 4 : 0]));
    }
  }

  /* speed, on the Gaussian data as one 16M batch */
  gen(x, n, 0);
  double tt[2][2] = {{0}};
  if (use_torch) {
    const char *tmp = "/tmp/cquant_bench_calib.npy";
    int64_t sh[1] = {(int64_t)n};
    if (cquant_npy_save(tmp, CQUANT_DT_F32, 1, sh, x) == 0) {
      char cmd[512], line[256], name[64];
      snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/torch_histogram.py %s %d", CQUANT_SOURCE_DIR, tmp, reps > 3 ? 3 : reps);
      FILE *p = popen(cmd, "r");
      int th;
      double sec;
      while (p && fgets(line, sizeof line, p)) {
        if (line[0] == '#') { printf("%s", line); continue; }
        if (sscanf(line, "%63s %d %lf", name, &th, &sec) == 3 && th >= 1 && th <= 2) tt[th - 1][strcmp(name, "histogram_observer") == 0 ? 0 : 1] = sec;
      }
      if (p) pclose(p);
      remove(tmp);
    }
  }
  printf("\n(the same 16M values as 16 batches of 1M, as a calibration set arrives)\n| threads | min-max observer ms | histogram update ms | entropy finalize ms | update + entropy ms | vs min-max | PyTorch HistogramObserver ms | speed-up | PyTorch MinMaxObserver ms |\n");
  printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (int threads = 1; threads <= 2; threads++) {
    cquant_set_num_threads(threads);
    double tmm[16], tup[16], tfin[16];
    int64_t sh[1] = {(int64_t)n};
    for (int r = 0; r < reps; r++) {
      cquant_calib_config_t cfg;
      cquant_observer_t *o;
      float lo, hi;
      int64_t bs[1] = {(int64_t)bsz};
      /* the calibration set as 16 batches: a min-max observer, then an entropy observer */
      cquant_calib_config_default(&cfg, CQUANT_CALIB_MINMAX);
      cquant_observer_create(&cfg, &o);
      double a = now();
      for (size_t b = 0; b < nb; b++) cquant_observer_update(o, x + b * bsz, 1, bs);
      cquant_observer_ranges(o, &lo, &hi, 1);
      tmm[r] = now() - a;
      cquant_observer_destroy(o);
      cquant_calib_config_default(&cfg, CQUANT_CALIB_ENTROPY);
      cquant_observer_create(&cfg, &o);
      a = now();
      for (size_t b = 0; b < nb; b++) cquant_observer_update(o, x + b * bsz, 1, bs);
      double b2 = now();
      cquant_observer_ranges(o, &lo, &hi, 1);
      tfin[r] = now() - b2;
      tup[r] = b2 - a;
      cquant_observer_destroy(o);
      (void)sh;
    }
    qsort(tmm, (size_t)reps, sizeof(double), cmpd);
    qsort(tup, (size_t)reps, sizeof(double), cmpd);
    qsort(tfin, (size_t)reps, sizeof(double), cmpd);
    double mm = tmm[reps / 2], up = tup[reps / 2], fin = tfin[reps / 2];
    printf("| %d | %.2f | %.2f | %.2f | %.2f | %.2fx | ", threads, mm * 1e3, up * 1e3, fin * 1e3, (up + fin) * 1e3, up / mm);
    if (tt[threads - 1][0] > 0) printf("%.1f | %.0fx | %.1f |\n", tt[threads - 1][0] * 1e3, tt[threads - 1][0] / (up + fin), tt[threads - 1][1] * 1e3);
    else printf("- | - | - |\n");
  }
  free(x);
  free(y);
  return 0;
}
