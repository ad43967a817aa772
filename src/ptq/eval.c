/* Top-1 evaluation of a classifier on a labelled source (include/cquant/data.h), and the model's
 * input normalisation metadata. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/internal.h"

int cquant_eval_top1(const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r, int32_t *pred) {
  if (!m || !d || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "eval: NULL argument");
  memset(r, 0, sizeof *r);
  const char *name = cquant_onnx_input_name(m, 0);
  const int n_out = cquant_onnx_num_outputs(m);
  cquant_array_t *out = calloc((size_t)n_out + 1, sizeof *out);
  if (!out) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "eval: out of memory");
  int st = cquant_data_rewind(d), k = 0;
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!st && (k = cquant_data_next(d, &x, &labels, &first)) > 0) {
    if (!labels) {
      st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: no labels (fashion-mnist data has them)", cquant_data_name(d));
      break;
    }
    if ((st = cquant_onnx_run(m, 1, &name, x, out))) break;
    const int64_t bs = x->shape[0];
    const cquant_array_t *y = &out[0];
    const int64_t classes = y->numel / bs;
    if (y->dtype != CQUANT_DT_F32 || classes < 1) st = cquant__error(CQUANT_STATUS_UNSUPPORTED, "the first output is not float32 scores per sample");
    for (int64_t i = 0; i < bs && !st; i++) {
      const float *row = (const float *)y->data + i * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; c++) best = row[c] > row[best] ? c : best;
      r->correct += best == labels[i];
      if (pred) pred[first + i] = (int32_t)best;
    }
    r->n += bs;
    for (int o = 0; o < n_out; o++) cquant_array_free(&out[o]);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  free(out);
  if (!st && k < 0) st = k;
  if (st) return st;
  const double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  r->top1 = r->n ? 100.0 * (double)r->correct / (double)r->n : 0;
  r->us_per_sample = r->n ? 1e6 * sec / (double)r->n : 0;
  return 0;
}

static int parse_num(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return end == s || *end;
}

int cquant_model_normalization(const cquant_onnx_model_t *m, double *mean, double *std) {
  if (!m || !mean || !std) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "NULL argument");
  const char *v;
  double x;
  if ((v = cquant_onnx_metadata(m, "cquant.mean"))) {
    if (parse_num(v, &x)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "bad cquant.mean in the model");
    *mean = x;
  }
  if ((v = cquant_onnx_metadata(m, "cquant.std"))) {
    if (parse_num(v, &x) || !(x > 0)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "bad cquant.std in the model");
    *std = x;
  }
  return 0;
}
