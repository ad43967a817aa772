/* cquant calibrate: range estimation over a set of .npy batches, streamed one file at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "cli.h"

static void help(void) {
  printf("usage: cquant calibrate X.npy [X2.npy ...] --method minmax|ema|percentile|entropy|mse [options]\n\n"
         "Each file is one batch (float32 or float16), read one at a time: memory does not grow with\n"
         "the number of files. Prints the chosen range, scale and zero-point, and the error of\n"
         "fake-quantizing all the data with them.\n\n"
         "options:\n"
         "  --method M           minmax (default), ema, percentile, entropy, mse (docs/calibration.md)\n"
         "  --percentile P       for percentile: (0, 100], default 99.99\n"
         "  --ema-constant C     for ema: (0, 1], default 0.01 (the first batch is taken as it is)\n"
         "  --dtype T            int8 (default), uint8, int4, uint4, int2, uint2, int16\n"
         "  --symmetric / --asymmetric   default: symmetric for signed types, asymmetric for unsigned\n"
         "  --narrow-range       signed q in [-qmax, qmax]\n"
         "  --per-channel AXIS   one range per index along AXIS (minmax, ema, mse); every batch must\n"
         "                       have the same length on AXIS\n"
         "  --bins N             |x| histogram bins after the first batch (default 2048, per-channel 512)\n"
         "  --json OUT.json      write the parameters (the format quantize --load-qparams reads) and\n"
         "                       the calibration summary\n"
         "  --plot HIST.svg      write the histogram (log counts) with the chosen and min-max ranges\n\n"
         "NaN and Inf are skipped and counted (the count is printed); the error report covers the\n"
         "finite values.\n");
}

/* Loads a float batch, allowing NaN/Inf (the observer skips them); an empty batch is an error. */
static int load_batch(const char *path, cquant_array_t *a) {
  int r = cli_load_float_ex(path, a, 1);
  if (r) return r;
  if (a->numel == 0) {
    cquant_array_free(a);
    return cli_fail("%s: the batch is empty", path);
  }
  return 0;
}

int cmd_calibrate(int argc, char **argv) {
  const char **files = calloc((size_t)argc, sizeof(char *));
  int nfiles = 0, r = 0;
  const char *json = NULL, *plot = NULL, *v = NULL;
  cquant_calib_config_t cfg;
  cquant_calib_config_default(&cfg, CQUANT_CALIB_MINMAX);
  const char *dtype = "int8";
  int sym = -1, narrow = 0;
  if (!files) return cli_fail("out of memory");
  double percentile = cfg.percentile, ema = cfg.ema_constant;
  long long axis = cfg.axis, bins = cfg.bins;
  int method = -1;
  cli_opt_t opts[] = {
      {.name = "--method", .kind = CLI_STR, .dst = &v},
      {.name = "--percentile", .kind = CLI_FLOAT, .dst = &percentile, .lo = 0, .hi = 100, .flags = CLI_LO_OPEN, .err = "--percentile %s: must be a number in (0, 100]"},
      {.name = "--ema-constant", .kind = CLI_FLOAT, .dst = &ema, .lo = 0, .hi = 1, .flags = CLI_LO_OPEN, .err = "--ema-constant %s: must be a number in (0, 1]"},
      {.name = "--dtype", .kind = CLI_STR, .dst = &dtype},
      {.name = "--symmetric", .kind = CLI_FLAG, .dst = &sym, .ival = 1},
      {.name = "--asymmetric", .kind = CLI_FLAG, .dst = &sym, .ival = 0},
      {.name = "--narrow-range", .kind = CLI_FLAG, .dst = &narrow, .ival = 1},
      {.name = "--per-channel", .kind = CLI_INT, .dst = &axis, .lo = 0, .hi = CQUANT_MAX_DIMS - 1, .err = "--per-channel: '%s' is not an axis"},
      {.name = "--bins", .kind = CLI_INT, .dst = &bins, .lo = 128, .hi = 65536, .err = "--bins %s: must be 128..65536"},
      {.name = "--json", .kind = CLI_STR, .dst = &json},
      {.name = "--plot", .kind = CLI_STR, .dst = &plot},
      {0}};
  r = cli_args_parse(argc, argv, opts, files, argc, &nfiles, help);
  if (r == 2) { free(files); return 0; }
  if (!r && cli_seen(opts, "--method")) {
    cquant_calib_method_t m;
    if (cquant_calib_method_from_name(v, &m)) r = cli_fail_status(1);
    else method = (int)m;
  }
  if (method >= 0) cfg.method = (cquant_calib_method_t)method;
  cfg.percentile = percentile;
  cfg.ema_constant = ema;
  cfg.axis = (int)axis;
  cfg.bins = (int)bins;
  if (r) { free(files); return r; }
  if (!nfiles) { free(files); return cli_fail("no input files (cquant calibrate --help)"); }
  int st;
  if ((st = cquant_dtype_from_name(dtype, &cfg.dtype))) { free(files); return cli_fail_status(st); }
  const cquant_dtype_info_t *info = cquant_dtype_info(cfg.dtype);
  if (!(cfg.dtype >= CQUANT_DT_S8 && cfg.dtype <= CQUANT_DT_S16)) { free(files); return cli_fail("--dtype %s: calibration targets int8, uint8, int4, uint4, int2, uint2 or int16", dtype); }
  if (narrow && !info->is_signed) { free(files); return cli_fail("--narrow-range applies to signed types only"); }
  cfg.flags = ((sym < 0 ? info->is_signed : sym) ? CQUANT_QF_SYMMETRIC : 0) | (narrow ? CQUANT_QF_NARROW_RANGE : 0);
  if (plot && cfg.axis >= 0) { free(files); return cli_fail("--plot draws a per-tensor histogram; drop --per-channel"); }
  cfg.keep_histogram = plot != NULL;

  cquant_observer_t *obs = NULL;
  cquant_qparams_t *qp = NULL;
  cquant_array_t first = {0};
  if ((st = cquant_observer_create(&cfg, &obs))) { free(files); return cli_fail_status(st); }
  /* pass 1: observe */
  for (int f = 0; f < nfiles && !r; f++) {
    cquant_array_t x;
    if ((r = load_batch(files[f], &x))) break;
    if (f == 0) { first.ndim = x.ndim; memcpy(first.shape, x.shape, sizeof x.shape); }
    if ((st = cquant_observer_update(obs, x.data, x.ndim, x.shape))) r = cli_fail("%s: %s", files[f], cquant_last_error());
    cquant_array_free(&x);
  }
  if (!r && (st = cquant_observer_qparams(obs, first.ndim, first.shape, &qp))) r = cli_fail_status(st);
  cquant_observer_stats_t ss;
  cquant_observer_stats(obs, &ss);
  /* pass 2: the error of fake-quantizing every batch with the chosen parameters */
  cquant_error_accum_t acc;
  cquant_error_accum_init(&acc);
  for (int f = 0; f < nfiles && !r; f++) {
    cquant_array_t x;
    cquant_qparams_t *bq = NULL;
    if ((r = load_batch(files[f], &x))) break;
    float *y = malloc(sizeof(float) * (size_t)x.numel);
    int64_t bad = 0;
    float *xd = x.data;
    for (int64_t i = 0; i < x.numel; i++)
      if (!isfinite(xd[i])) { xd[i] = 0; bad++; } /* left out of the report: zero error, zero signal */
    if (!y) r = cli_fail("out of memory");
    else if ((st = cquant_qparams_rebind(qp, x.ndim, x.shape, &bq)) || (st = cquant_fake_quantize(x.data, bq, y)) ||
             (st = cquant_error_accum_add(&acc, x.data, y, (size_t)x.numel, bq)) ||
             (st = cquant_error_accum_uncount(&acc, bad)))
      r = cli_fail("%s: %s", files[f], cquant_last_error());
    free(y);
    cquant_qparams_destroy(bq);
    cquant_array_free(&x);
  }
  cquant_error_report_t rep;
  float *lo = NULL, *hi = NULL;
  if (!r) {
    cquant_error_accum_report(&acc, &rep);
    lo = malloc(sizeof(float) * (size_t)ss.channels);
    hi = malloc(sizeof(float) * (size_t)ss.channels);
    if (!lo || !hi) r = cli_fail("out of memory");
    else if ((st = cquant_observer_ranges(obs, lo, hi, ss.channels))) r = cli_fail_status(st);
  }
  if (!r) {
    printf("%s calibration, %s %s%s: %lld batches, %lld values", cquant_calib_method_name(cfg.method), info->name,
           (cfg.flags & CQUANT_QF_SYMMETRIC) ? "symmetric" : "asymmetric", (cfg.flags & CQUANT_QF_NARROW_RANGE) ? " narrow-range" : "",
           (long long)ss.batches, (long long)ss.seen);
    if (ss.nonfinite) printf(" (%lld NaN/Inf skipped)", (long long)ss.nonfinite);
    printf("\n  data range      [%.9g, %.9g]\n", ss.data_min, ss.data_max);
    if (ss.channels == 1) {
      printf("  chosen range    [%.9g, %.9g]\n  scale           %.9g\n  zero-point      %d\n", lo[0], hi[0], qp->scale[0], qp->zero_point[0]);
    } else {
      float smin = INFINITY, smax = -INFINITY;
      for (int64_t c = 0; c < qp->count; c++) { smin = fminf(smin, qp->scale[c]); smax = fmaxf(smax, qp->scale[c]); }
      printf("  %lld channels on axis %d, scales in [%.9g, %.9g]\n", (long long)ss.channels, cfg.axis, smin, smax);
    }
    printf("error of fake-quantizing all the data:\n");
    cli_print_report(stdout, &rep);
    if (ss.nonfinite) fprintf(stderr, "cquant: warning: %lld NaN/Inf values were skipped\n", (long long)ss.nonfinite);
    if (json) {
      char *text = NULL;
      cJSON *doc = NULL;
      if ((st = cquant_qparams_to_json(qp, CQUANT_LAYOUT_UNPACKED, &text)) || !(doc = cJSON_Parse(text))) r = cli_fail("cannot build the JSON document");
      else {
        cJSON *c = cJSON_AddObjectToObject(doc, "calibration");
        cJSON_AddStringToObject(c, "method", cquant_calib_method_name(cfg.method));
        if (cfg.method == CQUANT_CALIB_PERCENTILE) cJSON_AddNumberToObject(c, "percentile", cfg.percentile);
        if (cfg.method == CQUANT_CALIB_EMA) cJSON_AddNumberToObject(c, "ema_constant", cfg.ema_constant);
        cJSON_AddNumberToObject(c, "batches", (double)ss.batches);
        cJSON_AddNumberToObject(c, "values", (double)ss.seen);
        cJSON_AddNumberToObject(c, "nonfinite_skipped", (double)ss.nonfinite);
        cJSON *rl = cJSON_AddArrayToObject(c, "range_min"), *rh = cJSON_AddArrayToObject(c, "range_max");
        for (int64_t ch = 0; ch < ss.channels; ch++) {
          char num[32];
          snprintf(num, sizeof num, "%.9g", lo[ch]);
          cJSON_AddItemToArray(rl, cJSON_CreateRaw(num));
          snprintf(num, sizeof num, "%.9g", hi[ch]);
          cJSON_AddItemToArray(rh, cJSON_CreateRaw(num));
        }
        cJSON *e = cJSON_AddObjectToObject(c, "error");
        cJSON_AddNumberToObject(e, "mse", rep.mse);
        cJSON_AddNumberToObject(e, "sqnr_db", isfinite(rep.sqnr_db) ? rep.sqnr_db : 999.0);
        cJSON_AddNumberToObject(e, "max_abs", rep.max_abs);
        cJSON_AddNumberToObject(e, "clipped_share", rep.clipped_share);
        cJSON_AddNumberToObject(e, "clip_mse", rep.clip_mse);
        cJSON_AddNumberToObject(e, "round_mse", rep.round_mse);
        char *out = cJSON_Print(doc);
        if (!out) r = cli_fail("out of memory");
        else if ((st = cquant_file_write_atomic(json, out, strlen(out)))) r = cli_fail_status(st);
        else printf("wrote %s\n", json);
        free(out);
      }
      cJSON_Delete(doc);
      free(text);
    }
    if (!r && plot) {
      char title[256];
      snprintf(title, sizeof title, "%s calibration, %s: %lld values in %lld batches", cquant_calib_method_name(cfg.method), info->name,
               (long long)ss.seen, (long long)ss.batches);
      if ((st = cquant_observer_plot_svg(obs, plot, title))) r = cli_fail_status(st);
      else printf("wrote %s\n", plot);
    }
  }
  free(lo);
  free(hi);
  cquant_qparams_destroy(qp);
  cquant_observer_destroy(obs);
  free(files);
  return r;
}
