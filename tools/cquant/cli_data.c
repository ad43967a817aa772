/* Calibration and evaluation data for the CLI: fashion-mnist specs, one .npy, or a folder of
 * .npy batches; and the evaluation loop shared by eval and ptq. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void cli_data_close(cli_data_t *d) {
  cquant_array_free(&d->images);
  cquant_array_free(&d->labels);
  cquant_array_free(&d->cur);
  for (int i = 0; i < d->n_files; i++) free(d->files[i]);
  free(d->files);
  memset(d, 0, sizeof *d);
}

int cli_data_open(cli_data_t *d, const char *spec, float mean, float std, int64_t batch) {
  memset(d, 0, sizeof *d);
  d->batch = batch > 0 ? batch : 100;
  d->spec = spec;
  if (!strncmp(spec, "fashion-mnist", 13)) {
    int st = cquant_dataset_load(spec, NULL, mean, std, &d->images, &d->labels);
    if (st) return cli_fail_status(st);
    d->has_labels = 1;
    d->in_memory = 1;
    return 0;
  }
  struct stat sb;
  if (stat(spec, &sb)) return cli_fail("%s: no such file or folder", spec);
  if (S_ISDIR(sb.st_mode)) {
    DIR *dir = opendir(spec);
    if (!dir) return cli_fail("%s: cannot open the folder", spec);
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(dir))) {
      size_t l = strlen(e->d_name);
      if (l < 5 || strcmp(e->d_name + l - 4, ".npy")) continue;
      if (d->n_files == cap) {
        cap = cap ? cap * 2 : 16;
        char **nf = realloc(d->files, sizeof(char *) * (size_t)cap);
        if (!nf) { closedir(dir); cli_data_close(d); return cli_fail("out of memory"); }
        d->files = nf;
      }
      size_t n = strlen(spec) + l + 2;
      if (!(d->files[d->n_files] = malloc(n))) { closedir(dir); cli_data_close(d); return cli_fail("out of memory"); }
      snprintf(d->files[d->n_files++], n, "%s/%s", spec, e->d_name);
    }
    closedir(dir);
    if (!d->n_files) { cli_data_close(d); return cli_fail("%s: the folder holds no .npy files", spec); }
    qsort(d->files, (size_t)d->n_files, sizeof(char *), cmp_str);
    return 0;
  }
  /* one .npy: loaded whole and cut into batches along axis 0 */
  if (cli_load_float(spec, &d->images)) { cli_data_close(d); return 1; }
  if (d->images.ndim < 1 || !d->images.numel) { cli_data_close(d); return cli_fail("%s: the array is empty", spec); }
  d->in_memory = 1;
  return 0;
}

void cli_data_rewind(cli_data_t *d) {
  d->pos = 0;
  d->file_i = 0;
}

int cli_data_next(cli_data_t *d, cquant_array_t **x, int64_t *first) {
  cquant_array_free(&d->cur);
  *x = NULL;
  if (d->in_memory) {
    const int64_t n = d->images.shape[0];
    if (d->pos >= n) return 0;
    const int64_t bs = n - d->pos < d->batch ? n - d->pos : d->batch, per = d->images.numel / n;
    int64_t shape[CQUANT_MAX_DIMS];
    memcpy(shape, d->images.shape, sizeof shape);
    shape[0] = bs;
    int st = cquant_array_alloc(&d->cur, CQUANT_DT_F32, d->images.ndim, shape);
    if (st) return -cli_fail_status(st);
    memcpy(d->cur.data, (const float *)d->images.data + d->pos * per, sizeof(float) * (size_t)(bs * per));
    *first = d->pos;
    d->pos += bs;
    *x = &d->cur;
    return 1;
  }
  if (d->file_i >= d->n_files) return 0;
  if (cli_load_float(d->files[d->file_i], &d->cur)) return -1;
  if (!d->cur.numel) return -cli_fail("%s: the array is empty", d->files[d->file_i]);
  *first = d->pos;
  d->pos += d->cur.ndim ? d->cur.shape[0] : 1;
  d->file_i++;
  *x = &d->cur;
  return 1;
}

int cli_check_input_shape(const cquant_onnx_model_t *m, const cquant_array_t *x, const char *what) {
  int64_t dims[CQUANT_MAX_DIMS];
  int nd;
  if (cquant_onnx_input_shape(m, 0, dims, &nd) || nd < 0) return 0;
  int ok = nd == x->ndim;
  for (int i = 1; i < nd && ok; i++) ok = dims[i] < 0 || dims[i] == x->shape[i];
  if (ok) return 0;
  char want[160] = "", got[160] = "";
  size_t a = 0, b = 0;
  for (int i = 0; i < nd; i++) {
    if (dims[i] < 0) a += (size_t)snprintf(want + a, sizeof want - a, "%sN", i ? " x " : "");
    else a += (size_t)snprintf(want + a, sizeof want - a, "%s%lld", i ? " x " : "", (long long)dims[i]);
    if (a >= sizeof want) break;
  }
  for (int i = 0; i < x->ndim; i++) {
    b += (size_t)snprintf(got + b, sizeof got - b, "%s%lld", i ? " x " : "", (long long)x->shape[i]);
    if (b >= sizeof got) break;
  }
  return cli_fail("%s: shape %s does not fit the model's input '%s' (%s)", what, got, cquant_onnx_input_name(m, 0), want);
}

int cli_eval(const cquant_onnx_model_t *m, cli_data_t *d, cli_eval_t *r, int32_t *pred) {
  memset(r, 0, sizeof *r);
  if (!d->has_labels) return cli_fail("%s: no labels (fashion-mnist data has them)", d->spec);
  const char *name = cquant_onnx_input_name(m, 0);
  const int n_out = cquant_onnx_num_outputs(m);
  cquant_array_t *out = calloc((size_t)n_out + 1, sizeof *out);
  if (!out) return cli_fail("out of memory");
  cli_data_rewind(d);
  cquant_array_t *x;
  int64_t first;
  int k, rc = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while ((k = cli_data_next(d, &x, &first)) > 0) {
    int st = cquant_onnx_run(m, 1, &name, x, out);
    if (st) { rc = cli_fail_status(st); break; }
    const int64_t bs = x->shape[0];
    const cquant_array_t *y = &out[0];
    const int64_t classes = y->numel / bs;
    if (y->dtype != CQUANT_DT_F32 || classes < 1) rc = cli_fail("the first output is not float32 scores per sample");
    for (int64_t i = 0; i < bs && !rc; i++) {
      const float *row = (const float *)y->data + i * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; c++) best = row[c] > row[best] ? c : best;
      r->correct += best == ((const int64_t *)d->labels.data)[first + i];
      if (pred) pred[first + i] = (int32_t)best;
    }
    r->n += bs;
    for (int o = 0; o < n_out; o++) cquant_array_free(&out[o]);
    if (rc) break;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  free(out);
  if (k < 0) rc = 1;
  if (rc) return rc;
  const double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  r->top1 = r->n ? 100.0 * (double)r->correct / (double)r->n : 0;
  r->us_per_sample = r->n ? 1e6 * sec / (double)r->n : 0;
  return 0;
}

int cli_model_norm(const cquant_onnx_model_t *m, double *mean, double *std, int mean_given, int std_given) {
  const char *v;
  if (!mean_given && (v = cquant_onnx_metadata(m, "cquant.mean")) && cli_parse_float(v, mean)) return cli_fail("bad cquant.mean in the model");
  if (!std_given && (v = cquant_onnx_metadata(m, "cquant.std")) && (cli_parse_float(v, std) || !(*std > 0))) return cli_fail("bad cquant.std in the model");
  return 0;
}
