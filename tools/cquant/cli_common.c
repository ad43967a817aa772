/* Helpers shared by the commands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("cquant: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

int cli_fail_status(int status) {
  const char *d = cquant_last_error();
  return cli_fail("%s", d && *d ? d : cquant_status_str((cquant_status)status));
}

int cli_parse_int(const char *s, long long *v) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *v = x;
  return 0;
}

int cli_parse_float(const char *s, double *v) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (errno || *end) return -1;
  *v = x;
  return 0;
}

const char *cli_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    cli_fail("option %s needs a value", argv[*i]);
    return NULL;
  }
  return argv[++*i];
}

int cli_load_float(const char *path, cquant_array_t *a) { return cli_load_float_ex(path, a, 0); }

int cli_load_float_ex(const char *path, cquant_array_t *a, int allow_nonfinite) {
  int st = cquant_npy_load_float(path, allow_nonfinite, a);
  return st ? cli_fail_status(st) : 0;
}

void cli_print_report(FILE *f, const cquant_error_report_t *r) {
  fprintf(f, "  elements        %lld\n", (long long)r->n);
  fprintf(f, "  MSE             %.6g\n", r->mse);
  fprintf(f, "  SQNR            %.2f dB\n", r->sqnr_db);
  fprintf(f, "  max abs error   %.6g\n", r->max_abs);
  if (r->has_split) {
    fprintf(f, "  clipped         %lld (%.4f%%)\n", (long long)r->n_clipped, 100.0 * r->clipped_share);
    double tot = r->mse > 0 ? r->mse : 1;
    fprintf(f, "  clipping MSE    %.6g (%.1f%% of MSE)\n", r->clip_mse, 100.0 * r->clip_mse / tot);
    fprintf(f, "  rounding MSE    %.6g (%.1f%% of MSE)\n", r->round_mse, 100.0 * r->round_mse / tot);
  } else {
    fprintf(f, "  clipping/rounding split: give --qparams to know which elements were clipped\n");
  }
}

int cli_load_model(const char *path, cquant_onnx_model_t **m, double *mean, int mean_given, double *std, int std_given) {
  int st = cquant_onnx_load(path, m);
  if (st) return cli_fail_status(st);
  double mm = *mean, ms = *std;
  if ((st = cquant_model_normalization(*m, &mm, &ms))) {
    cquant_onnx_free(*m);
    *m = NULL;
    return cli_fail_status(st);
  }
  if (!mean_given) *mean = mm;
  if (!std_given) *std = ms;
  return 0;
}

/* cli.h: the data options of the commands that read data (ptq, eval). */
int cli_data_options(const char *const img[6], double mean, double std, long long batch, cquant_data_options_t *o) {
  static const char *const names[6] = {"resize", "crop", "channel-order", "layout", "mean", "std"};
  cquant_data_options_default(o);
  o->batch = batch;
  for (int c = 0; c < 3; c++) o->mean[c] = (float)mean, o->std[c] = (float)std;
  for (int k = 0; k < 6; k++)
    if (img[k] && cquant_data_options_set(o, names[k], img[k])) return cli_fail("--%s", cquant_last_error());
  return 0;
}

/* cli.h: NAME=SOURCE values when the text before the first '=' names a model input (or there are
 * several values), else one source. */
int cli_open_source(const cquant_onnx_model_t *m, const char **specs, int n, const cquant_data_options_t *o, const char *labels,
                    cquant_data_t **d) {
  int named = n > 1;
  const char *eq = n == 1 ? strchr(specs[0], '=') : NULL;
  for (int i = 0; eq && i < cquant_onnx_num_inputs(m); i++) {
    const char *in = cquant_onnx_input_name(m, i);
    named |= strlen(in) == (size_t)(eq - specs[0]) && !strncmp(in, specs[0], (size_t)(eq - specs[0]));
  }
  int st = named ? cquant_data_open_inputs(specs, n, o, d) : cquant_data_open_ex(specs[0], o, d);
  if (!st && labels && (st = cquant_data_attach_labels(*d, labels))) {
    cquant_data_close(*d);
    *d = NULL;
  }
  return st;
}
