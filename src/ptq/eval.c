/* Evaluation on a data source (include/cquant/data.h): top-1 of a classifier on labelled data, output
 * SQNR against the float model on data without labels; and the model's input normalisation metadata. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/internal.h"
#include "ptq/ptq_internal.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Top-1 as cquant_eval_top1; ok, when not NULL, gets a malloc'ed array of r->n bytes (1: sample i's
 * top-1 is its label), grown as batches come (a streamed source's size may be unknown). */
static int top1(const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r, int32_t *pred, uint8_t **ok) {
  if (!m || !d || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "eval: NULL argument");
  memset(r, 0, sizeof *r);
  int64_t cap = 0;
  if (ok) *ok = NULL;
  const int n_out = cquant_onnx_num_outputs(m);
  cquant_array_t *out = calloc((size_t)n_out + 1, sizeof *out);
  if (!out) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "eval: out of memory");
  int st = cquant_data_rewind(d), k = 0, nf;
  const cquant_array_t *x;
  cquant_array_t vals[CQUANT_DATA_MAX_FEEDS];
  const char *names[CQUANT_DATA_MAX_FEEDS];
  const int64_t *labels;
  int64_t first;
  const double t0 = now_s();
  while (!st && (k = cquant_data_next(d, &x, &labels, &first)) > 0) {
    if (!labels) {
      st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: no labels (fashion-mnist and class folders of images have them; other data take a file of labels: --labels, --eval-labels)",
                         cquant_data_name(d));
      break;
    }
    if ((st = cquant_data_feeds(m, d, x, CQUANT_DATA_MAX_FEEDS, names, vals, &nf)) || (st = cquant_onnx_run(m, nf, names, vals, out))) break;
    const int64_t bs = x->shape[0];
    const cquant_array_t *y = &out[0];
    const int64_t classes = y->numel / bs;
    if (y->dtype != CQUANT_DT_F32 || classes < 1) st = cquant__error(CQUANT_STATUS_UNSUPPORTED, "the first output is not float32 scores per sample");
    if (!st && ok && r->n + bs > cap) {
      const int64_t nc = 2 * cap > r->n + bs ? 2 * cap : r->n + bs;
      uint8_t *g = realloc(*ok, (size_t)nc);
      if (!g) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "eval: out of memory for %lld samples' results", (long long)nc);
      else *ok = g, cap = nc;
    }
    for (int64_t i = 0; i < bs && !st; i++) {
      if (labels[i] < 0 || labels[i] >= classes) {
        st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: sample %lld has label %lld, but the model gives %lld classes", cquant_data_name(d),
                           (long long)(first + i), (long long)labels[i], (long long)classes);
        break;
      }
      const float *row = (const float *)y->data + i * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; c++) best = row[c] > row[best] ? c : best;
      r->correct += best == labels[i];
      if (pred) pred[first + i] = (int32_t)best;
      if (ok) (*ok)[r->n + i] = best == labels[i];
    }
    r->n += bs;
    for (int o = 0; o < n_out; o++) cquant_array_free(&out[o]);
  }
  const double sec = now_s() - t0;
  free(out);
  if (!st && k < 0) st = k;
  if (st) {
    if (ok) free(*ok), *ok = NULL;
    return st;
  }
  r->top1 = r->n ? 100.0 * (double)r->correct / (double)r->n : 0;
  r->us_per_sample = r->n ? 1e6 * sec / (double)r->n : 0;
  return 0;
}

int cquant_eval_top1(const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r, int32_t *pred) { return top1(m, d, r, pred, NULL); }

int cquant__eval_top1_ok(const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r, uint8_t **ok) { return top1(m, d, r, NULL, ok); }

int cquant_eval_sqnr(const cquant_onnx_model_t *ref, const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r) {
  if (!ref || !m || !d || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "eval: NULL argument");
  memset(r, 0, sizeof *r);
  r->metric_sqnr = 1;
  const int n_out = cquant_onnx_num_outputs(m);
  if (cquant_onnx_num_outputs(ref) != n_out)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "eval: the models have %d and %d outputs", cquant_onnx_num_outputs(ref), n_out);
  cquant_array_t *ya = calloc(2 * (size_t)n_out + 1, sizeof *ya), *yb = ya + n_out;
  if (!ya) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "eval: out of memory");
  int st = cquant_data_rewind(d), k = 0, nf;
  const cquant_array_t *x;
  cquant_array_t vals[CQUANT_DATA_MAX_FEEDS];
  const char *names[CQUANT_DATA_MAX_FEEDS];
  const int64_t *labels;
  int64_t first;
  double sig = 0, noise = 0, sec = 0;
  while (!st && (k = cquant_data_next(d, &x, &labels, &first)) > 0) {
    if ((st = cquant_data_feeds(ref, d, x, CQUANT_DATA_MAX_FEEDS, names, vals, &nf)) || (st = cquant_onnx_run(ref, nf, names, vals, ya))) break;
    const double t0 = now_s();
    st = cquant_onnx_run(m, nf, names, vals, yb);
    sec += now_s() - t0;
    for (int o = 0; o < n_out && !st; o++) {
      const cquant_array_t *a = &ya[o], *b = &yb[o];
      if (a->dtype != b->dtype || a->numel != b->numel || a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim)) {
        st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "eval: output '%s' differs in type or shape between the float and quantized models",
                           cquant_onnx_output_name(m, o));
        break;
      }
      if (a->dtype != CQUANT_DT_F32) continue; /* indices, labels: not a signal */
      const float *pa = a->data, *pb = b->data;
      for (int64_t i = 0; i < a->numel; i++) {
        const double e = (double)pa[i] - (double)pb[i];
        sig += (double)pa[i] * (double)pa[i];
        noise += e * e;
      }
    }
    r->n += x->ndim ? x->shape[0] : 1;
    for (int o = 0; o < 2 * n_out; o++) cquant_array_free(&ya[o]);
  }
  for (int o = 0; o < 2 * n_out; o++) cquant_array_free(&ya[o]);
  free(ya);
  if (!st && k < 0) st = k;
  if (st) return st;
  r->sqnr_db = noise > 0 ? 10.0 * log10(sig / noise) : INFINITY; /* eq. 18 */
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
