/* Calibration observers (the histogram kernels against the reference: test_kernels.c): streaming growth without
 * lost counts, exact merges, the MSE method against a brute-force search on the raw data, and
 * bad input. (PyTorch observers: test_golden_torch.c; entropy/percentile against an independent
 * NumPy implementation: calib_reference.py.) */
#include "calib/histogram.h"
#include "cquant/quantize.h"
#include "exec/ops/conv_par.h"
#include "harness.h"

static cquant_observer_t *make(cquant_calib_method_t m, unsigned flags, cquant_dtype_t dt) {
  cquant_calib_config_t cfg;
  cquant_calib_config_default(&cfg, m);
  cfg.flags = flags;
  cfg.dtype = dt;
  cquant_observer_t *o = NULL;
  CHECK(cquant_observer_create(&cfg, &o) == 0);
  return o;
}

static void test_growth_keeps_counts(void) {
  cquant_observer_t *o = make(CQUANT_CALIB_PERCENTILE, CQUANT_QF_SYMMETRIC, CQUANT_DT_S8);
  static float x[20000];
  int64_t total = 0, bad = 0;
  double widths[6];
  for (int b = 0; b < 6; b++) {
    float sc = ldexpf(1.0f, 4 * b - 6); /* the range grows 16x per batch: the width must double */
    for (int i = 0; i < 20000; i++) x[i] = th_gauss() * sc;
    x[b] = NAN;
    bad++;
    int64_t sh[1] = {20000};
    CHECK(cquant_observer_update(o, x, 1, sh) == 0);
    total += 19999;
    cquant_observer_stats_t s;
    cquant_observer_stats(o, &s);
    widths[b] = s.bin_width;
    CHECK(s.seen == total && s.nonfinite == bad && s.bins == 8192 && s.counted == total); /* no count lost */
  }
  CHECK(widths[5] > widths[0] * 1000);
  float lo, hi;
  CHECK(cquant_observer_ranges(o, &lo, &hi, 1) == 0);
  CHECK(hi > 0 && lo < 0);
  cquant_observer_destroy(o);
}

/* Entropy (eq. C9-C10): the first batch's max|x| / 2048 is the width; a wider batch appends bins at
 * that width (the window grows past 8192) until the range is 64x the first one, and only then does
 * the width double. Merging histograms of different widths keeps every count. */
static void test_entropy_growth(void) {
  cquant_observer_t *o = make(CQUANT_CALIB_ENTROPY, CQUANT_QF_SYMMETRIC, CQUANT_DT_S8);
  static float x[20000];
  int64_t sh[1] = {20000}, total = 0;
  const float scales[4] = {1.0f, 1.0f, 30.0f, 3000.0f};
  double w0 = 0;
  for (int b = 0; b < 4; b++) {
    for (int i = 0; i < 20000; i++) x[i] = th_gauss();
    x[0] = 6.0f * scales[b]; /* max|x| of the batch */
    x[1] = -3.0f * scales[b];
    CHECK(cquant_observer_update(o, x, 1, sh) == 0);
    total += 20000;
    cquant_observer_stats_t s;
    cquant_observer_stats(o, &s);
    CHECK(s.counted == total && s.seen == total);
    if (b == 0) {
      w0 = s.bin_width;
      CHECKF(fabs(w0 - 6.0 / 2048) <= 6.0 / 2048 * 1e-6, "first width %g, want 6/2048", w0);
      CHECK(s.bins == 8192);
    } else if (b == 2) { /* 30x: appended bins, same width */
      CHECKF(s.bin_width == w0 && s.bins == 131072, "width %g (first %g), %lld bins", s.bin_width, w0, (long long)s.bins);
    } else if (b == 3) { /* 3000x: past the 64x window, the width doubles */
      CHECKF(s.bin_width > w0 * 40 && s.bins == 262144, "width %g (first %g), %lld bins", s.bin_width, w0, (long long)s.bins);
    }
  }
  float lo, hi;
  CHECK(cquant_observer_ranges(o, &lo, &hi, 1) == 0);
  CHECK(hi > 0 && hi <= 18000.0f && lo == -hi);
  /* different widths: every count kept */
  cquant_observer_t *a = make(CQUANT_CALIB_ENTROPY, CQUANT_QF_SYMMETRIC, CQUANT_DT_S8);
  for (int i = 0; i < 20000; i++) x[i] = th_gauss() * 3.0f;
  CHECK(cquant_observer_update(a, x, 1, sh) == 0);
  CHECK(cquant_observer_merge(a, o) == 0);
  cquant_observer_stats_t s;
  cquant_observer_stats(a, &s);
  CHECK(s.counted == total + 20000 && s.seen == total + 20000);
  CHECK(cquant_observer_ranges(a, &lo, &hi, 1) == 0 && hi > 0);
  cquant_observer_destroy(a);
  cquant_observer_destroy(o);
}

/* Histograms add exactly: batches split over two observers and merged give the same range as one
 * observer that saw them all (each batch carries the same extremes, so the widths agree). */
static void test_merge_exact(void) {
  static const cquant_calib_method_t methods[] = {CQUANT_CALIB_MINMAX, CQUANT_CALIB_PERCENTILE, CQUANT_CALIB_ENTROPY, CQUANT_CALIB_MSE};
  static float x[4][30000];
  for (int b = 0; b < 4; b++) {
    for (int i = 0; i < 30000; i++) x[b][i] = th_gauss() * (1.0f + (float)b);
    x[b][0] = -20.0f;
    x[b][1] = 20.0f;
  }
  int64_t sh[1] = {30000};
  for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
    for (unsigned flags = 0; flags <= CQUANT_QF_SYMMETRIC; flags += CQUANT_QF_SYMMETRIC) {
      cquant_observer_t *all = make(methods[m], flags, CQUANT_DT_S8), *a = make(methods[m], flags, CQUANT_DT_S8),
                        *b = make(methods[m], flags, CQUANT_DT_S8);
      for (int i = 0; i < 4; i++) {
        CHECK(cquant_observer_update(all, x[i], 1, sh) == 0);
        CHECK(cquant_observer_update(i % 2 ? b : a, x[i], 1, sh) == 0);
      }
      CHECK(cquant_observer_merge(a, b) == 0);
      float l1, h1, l2, h2;
      CHECK(cquant_observer_ranges(all, &l1, &h1, 1) == 0 && cquant_observer_ranges(a, &l2, &h2, 1) == 0);
      CHECKF(l1 == l2 && h1 == h2, "%s flags %u: merged [%g, %g] vs single [%g, %g]", cquant_calib_method_name(methods[m]), flags, l2, h2, l1, h1);
      cquant_observer_stats_t s1, s2;
      cquant_observer_stats(all, &s1);
      cquant_observer_stats(a, &s2);
      CHECK(s1.seen == s2.seen && s1.batches == s2.batches);
      cquant_observer_destroy(all);
      cquant_observer_destroy(a);
      cquant_observer_destroy(b);
    }
  }
  /* the moving average cannot be merged */
  cquant_observer_t *e1 = make(CQUANT_CALIB_EMA, 0, CQUANT_DT_S8), *e2 = make(CQUANT_CALIB_EMA, 0, CQUANT_DT_S8);
  CHECK(cquant_observer_update(e2, x[0], 1, sh) == 0);
  CHECK(cquant_observer_merge(e1, e2) == CQUANT_STATUS_UNSUPPORTED);
  cquant_observer_t *other = make(CQUANT_CALIB_MINMAX, 0, CQUANT_DT_U8), *mm = make(CQUANT_CALIB_MINMAX, 0, CQUANT_DT_S8);
  CHECK(cquant_observer_merge(mm, other) == CQUANT_STATUS_INVALID_ARGUMENT);
  cquant_observer_destroy(e1); cquant_observer_destroy(e2); cquant_observer_destroy(other); cquant_observer_destroy(mm);
}

/* True MSE of fake-quantizing x with a symmetric range [-a, a]. */
static double true_mse(const float *x, size_t n, float lo, float hi, cquant_dtype_t dt, unsigned flags, float *y) {
  int64_t sh[1] = {(int64_t)n};
  cquant_qparams_t *qp;
  cquant_qparams_create(dt, CQUANT_PER_TENSOR, 0, 0, flags, 1, sh, &qp);
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  cquant_qparams_from_range(lo, hi, info->bits, info->is_signed, flags, &qp->scale[0], &qp->zero_point[0]);
  cquant_fake_quantize(x, qp, y);
  cquant_error_report_t r;
  cquant_error_report(x, y, n, qp, &r);
  cquant_qparams_destroy(qp);
  return r.mse;
}

static void test_mse_method_vs_brute_force(void) {
  const size_t n = 100000;
  float *x = malloc(n * 4), *y = malloc(n * 4);
  for (int dist = 0; dist < 3; dist++) {
    for (size_t i = 0; i < n; i++) {
      double u = th_uniform() - 0.5;
      x[i] = dist == 0 ? th_gauss() : dist == 1 ? (float)(-copysign(log(1 - 2 * fabs(u)), u)) : th_gauss();
      if (dist == 2 && th_rand() % 1000 == 0) x[i] *= 50;
    }
    for (int d = 0; d < 2; d++) {
      cquant_dtype_t dt = d ? CQUANT_DT_S4 : CQUANT_DT_S8;
      for (unsigned flags = 0; flags <= CQUANT_QF_SYMMETRIC; flags += CQUANT_QF_SYMMETRIC) {
        cquant_observer_t *o = make(CQUANT_CALIB_MSE, flags, dt);
        int64_t sh[1] = {(int64_t)n};
        CHECK(cquant_observer_update(o, x, 1, sh) == 0);
        float lo, hi;
        CHECK(cquant_observer_ranges(o, &lo, &hi, 1) == 0);
        double m = true_mse(x, n, lo, hi, dt, flags, y);
        cquant_observer_stats_t s;
        cquant_observer_stats(o, &s);
        /* brute force over clipping ranges: 300 symmetric cut-offs, or 25 x 24 (lo, hi) pairs */
        double best = INFINITY;
        if (flags) {
          float amax = fmaxf(-s.data_min, s.data_max);
          for (int c = 1; c <= 300; c++) { float a = amax * (float)c / 300; best = fmin(best, true_mse(x, n, -a, a, dt, flags, y)); }
        } else {
          for (int i = 0; i <= 24; i++)
            for (int j = 1; j <= 24; j++)
              best = fmin(best, true_mse(x, n, s.data_min * (float)i / 24, s.data_max * (float)j / 24, dt, flags, y));
        }
        CHECKF(m <= best * 1.01, "dist %d %s %s: MSE method %.6g, brute force %.6g", dist, cquant_dtype_info(dt)->name,
               flags ? "symmetric" : "asymmetric", m, best);
        cquant_observer_destroy(o);
      }
    }
  }
  free(x);
  free(y);
}

/* A batch of 2^19 values and more is counted in chunks of 2^18 over the pool, each worker into its
 * own tables: on 2 threads the counts, min/max, NaN/Inf count and every method's range equal the
 * 1-thread ones, nothing is lost (counted = finite values), and no OpenMP team is started (the
 * first test of this file: the others' range searches may start one). */
static void nothing(void *ctx, int64_t u, int worker) { (void)ctx, (void)u, (void)worker; }

static void test_threads_same_counts(void) {
  cquant_set_num_threads(2);
  cquant__par_run(2, 2, nothing, NULL); /* the pool's helper started */
  const int before = th_threads_now(); /* this thread, the helper and OpenBLAS's from its start */
  const size_t n = 3 * ((size_t)1 << 18) + 12345;
  float *x = malloc(n * sizeof *x);
  CHECK(x != NULL);
  if (!x) return;
  int64_t nonfinite = 0;
  for (size_t i = 0; i < n; i++) {
    x[i] = th_gauss() * (i % 7 == 0 ? 8.0f : 1.0f);
    if (i % 100003 == 5) x[i] = i % 2 ? NAN : INFINITY, nonfinite++;
  }
  static const cquant_calib_method_t ms[3] = {CQUANT_CALIB_PERCENTILE, CQUANT_CALIB_ENTROPY, CQUANT_CALIB_MSE};
  for (int m = 0; m < 3; m++) {
    float lo[2], hi[2];
    cquant_observer_stats_t st[2];
    for (int t = 0; t < 2; t++) {
      cquant_set_num_threads(t + 1);
      cquant_observer_t *o = make(ms[m], CQUANT_QF_SYMMETRIC, CQUANT_DT_S8);
      int64_t sh[1] = {(int64_t)n};
      CHECK(cquant_observer_update(o, x, 1, sh) == 0);
      CHECK(cquant_observer_update(o, x, 1, sh) == 0); /* the second batch against the bins the first made */
      CHECK(cquant_observer_ranges(o, &lo[t], &hi[t], 1) == 0);
      cquant_observer_stats(o, &st[t]);
      cquant_observer_destroy(o);
    }
    cquant_set_num_threads(0);
    CHECKF(st[0].counted == 2 * ((int64_t)n - nonfinite) && st[1].counted == st[0].counted, "method %d: counted %lld and %lld of %lld", m,
           (long long)st[0].counted, (long long)st[1].counted, 2 * ((long long)n - (long long)nonfinite));
    CHECKF(st[0].nonfinite == 2 * nonfinite && st[1].nonfinite == st[0].nonfinite, "method %d: NaN/Inf %lld and %lld", m, (long long)st[0].nonfinite,
           (long long)st[1].nonfinite);
    CHECKF(st[0].bins == st[1].bins && st[0].bin_width == st[1].bin_width, "method %d: bins differ between 1 and 2 threads", m);
    CHECKF(memcmp(&lo[0], &lo[1], sizeof lo[0]) == 0 && memcmp(&hi[0], &hi[1], sizeof hi[0]) == 0, "method %d: range [%g, %g] on 1 thread, [%g, %g] on 2", m,
           lo[0], hi[0], lo[1], hi[1]);
  }
  free(x);
  CHECKF(th_threads_now() == before, "%d threads in the process, %d before (no OpenMP team expected)", th_threads_now(), before);
}

static void test_bad_input(void) {
  cquant_calib_config_t cfg;
  cquant_observer_t *o = NULL;
  double bad_p[] = {0.0, -1.0, 100.5, NAN};
  for (int i = 0; i < 4; i++) {
    cquant_calib_config_default(&cfg, CQUANT_CALIB_PERCENTILE);
    cfg.percentile = bad_p[i];
    CHECK(cquant_observer_create(&cfg, &o) == CQUANT_STATUS_INVALID_ARGUMENT && o == NULL);
    CHECK(strstr(cquant_last_error(), "percentile") != NULL);
  }
  cquant_calib_config_default(&cfg, CQUANT_CALIB_ENTROPY);
  cfg.axis = 0;
  CHECK(cquant_observer_create(&cfg, &o) == CQUANT_STATUS_INVALID_ARGUMENT);
  cquant_calib_config_default(&cfg, CQUANT_CALIB_MSE);
  cfg.dtype = CQUANT_DT_F16;
  CHECK(cquant_observer_create(&cfg, &o) == CQUANT_STATUS_INVALID_ARGUMENT);
  /* per-channel: the channel count must not change */
  cquant_calib_config_default(&cfg, CQUANT_CALIB_MINMAX);
  cfg.axis = 1;
  CHECK(cquant_observer_create(&cfg, &o) == 0);
  float x[24] = {0};
  int64_t s1[2] = {4, 6}, s2[2] = {6, 4}, s3[2] = {8, 3};
  CHECK(cquant_observer_update(o, x, 2, s1) == 0);
  CHECK(cquant_observer_update(o, x, 2, s2) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(strstr(cquant_last_error(), "channels") != NULL);
  CHECK(cquant_observer_update(o, x, 2, s3) == CQUANT_STATUS_INVALID_ARGUMENT);
  int64_t s0[2] = {0, 6};
  CHECK(cquant_observer_update(o, x, 2, s0) == CQUANT_STATUS_INVALID_ARGUMENT); /* empty */
  cquant_observer_destroy(o);
  /* NaN/Inf are skipped and counted; all-NaN leaves nothing to choose from */
  o = make(CQUANT_CALIB_ENTROPY, CQUANT_QF_SYMMETRIC, CQUANT_DT_S8);
  float nans[4] = {NAN, INFINITY, -INFINITY, NAN};
  int64_t s4[1] = {4};
  CHECK(cquant_observer_update(o, nans, 1, s4) == 0);
  float lo, hi;
  CHECK(cquant_observer_ranges(o, &lo, &hi, 1) == CQUANT_STATUS_INVALID_ARGUMENT);
  cquant_observer_stats_t st;
  cquant_observer_stats(o, &st);
  CHECK(st.nonfinite == 4 && st.seen == 0);
  cquant_observer_destroy(o);
}

TH_MAIN(T(test_threads_same_counts), T(test_growth_keeps_counts), T(test_entropy_growth), T(test_merge_exact), T(test_mse_method_vs_brute_force), T(test_bad_input))
