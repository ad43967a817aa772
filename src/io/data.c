/* Data sources (include/cquant/data.h): fashion-mnist specs, one .npy cut into batches, a folder of
 * .npy batches, or caller callbacks. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/internal.h"

struct cquant_data {
  char *spec;
  int in_memory, has_labels, from_cb;
  cquant_array_t images, labels, cur, cur_f32;
  char **files;
  int n_files, file_i;
  int64_t batch, pos;
  cquant_data_callbacks_t cb;
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void cquant_data_close(cquant_data_t *d) {
  if (!d) return;
  cquant_array_free(&d->images);
  cquant_array_free(&d->labels);
  cquant_array_free(&d->cur);
  cquant_array_free(&d->cur_f32);
  for (int i = 0; i < d->n_files; i++) free(d->files[i]);
  free(d->files);
  free(d->spec);
  free(d);
}

int cquant_data_open(const char *spec, float mean, float std, int64_t batch, cquant_data_t **out) {
  if (!spec || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  *out = NULL;
  cquant_data_t *d = calloc(1, sizeof *d);
  if (!d || !(d->spec = strdup(spec))) {
    free(d);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
  }
  d->batch = batch > 0 ? batch : 100;
  int st = 0;
  struct stat sb;
  if (!strncmp(spec, "fashion-mnist", 13)) {
    if (!(st = cquant_dataset_load(spec, NULL, mean, std, &d->images, &d->labels))) d->has_labels = d->in_memory = 1;
  } else if (stat(spec, &sb)) {
    st = cquant__error(CQUANT_STATUS_IO, "%s: no such file or folder", spec);
  } else if (S_ISDIR(sb.st_mode)) {
    DIR *dir = opendir(spec);
    if (!dir) st = cquant__error(CQUANT_STATUS_IO, "%s: cannot open the folder", spec);
    struct dirent *e;
    int cap = 0;
    while (!st && (e = readdir(dir))) {
      size_t l = strlen(e->d_name);
      if (l < 5 || strcmp(e->d_name + l - 4, ".npy")) continue;
      if (d->n_files == cap) {
        cap = cap ? cap * 2 : 16;
        char **nf = realloc(d->files, sizeof(char *) * (size_t)cap);
        if (!nf) { st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory"); break; }
        d->files = nf;
      }
      size_t n = strlen(spec) + l + 2;
      if (!(d->files[d->n_files] = malloc(n))) { st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory"); break; }
      snprintf(d->files[d->n_files++], n, "%s/%s", spec, e->d_name);
    }
    if (dir) closedir(dir);
    if (!st && !d->n_files) st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the folder holds no .npy files", spec);
    if (!st) qsort(d->files, (size_t)d->n_files, sizeof(char *), cmp_str);
  } else { /* one .npy: loaded whole and cut into batches along axis 0 */
    if (!(st = cquant_npy_load_float(spec, 0, &d->images)) && (d->images.ndim < 1 || !d->images.numel))
      st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the array is empty", spec);
    d->in_memory = 1;
  }
  if (st) {
    cquant_data_close(d);
    return st;
  }
  *out = d;
  return 0;
}

int cquant_data_from_callbacks(const cquant_data_callbacks_t *cb, cquant_data_t **out) {
  if (!cb || !cb->next || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  *out = NULL;
  cquant_data_t *d = calloc(1, sizeof *d);
  if (!d || !(d->spec = strdup(cb->name ? cb->name : "data"))) {
    free(d);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
  }
  d->from_cb = 1;
  d->cb = *cb;
  *out = d;
  return 0;
}

int cquant_data_rewind(cquant_data_t *d) {
  if (!d) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  const int64_t was = d->pos;
  d->pos = 0;
  d->file_i = 0;
  if (d->from_cb) {
    if (!d->cb.rewind && !was) return 0; /* not read yet */
    if (!d->cb.rewind) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s: the source can be read once only", d->spec);
    return d->cb.rewind(d->cb.user);
  }
  return 0;
}

int cquant_data_next(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels, int64_t *first) {
  if (!d || !x) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  cquant_array_free(&d->cur);
  *x = NULL;
  if (labels) *labels = NULL;
  if (first) *first = d->pos;
  if (d->from_cb) {
    const cquant_array_t *cx = NULL, *cl = NULL;
    int k = d->cb.next(d->cb.user, &cx, &cl);
    if (k <= 0) return k;
    if (!cx || !cx->numel) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: an empty batch", d->spec);
    const int64_t bs = cx->ndim ? cx->shape[0] : 1;
    if (cl) {
      if (cl->dtype != CQUANT_DT_S64 || cl->numel != bs)
        return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: labels must be int64, one per sample (%lld), got %lld", d->spec, (long long)bs,
                             (long long)cl->numel);
      d->has_labels = 1;
      if (labels) *labels = cl->data;
    }
    *x = cx;
    d->pos += bs;
    return 1;
  }
  if (d->in_memory) {
    const int64_t n = d->images.shape[0];
    if (d->pos >= n) return 0;
    const int64_t bs = n - d->pos < d->batch ? n - d->pos : d->batch, per = d->images.numel / n;
    int64_t shape[CQUANT_MAX_DIMS];
    memcpy(shape, d->images.shape, sizeof shape);
    shape[0] = bs;
    int st = cquant_array_alloc(&d->cur, CQUANT_DT_F32, d->images.ndim, shape);
    if (st) return st;
    memcpy(d->cur.data, (const float *)d->images.data + d->pos * per, sizeof(float) * (size_t)(bs * per));
    if (labels && d->has_labels) *labels = (const int64_t *)d->labels.data + d->pos;
    d->pos += bs;
    *x = &d->cur;
    return 1;
  }
  if (d->file_i >= d->n_files) return 0;
  int st = cquant_npy_load_float(d->files[d->file_i], 0, &d->cur);
  if (st) return st;
  if (!d->cur.numel) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the array is empty", d->files[d->file_i]);
  d->pos += d->cur.ndim ? d->cur.shape[0] : 1;
  d->file_i++;
  *x = &d->cur;
  return 1;
}

int cquant_data_has_labels(const cquant_data_t *d) { return d && d->has_labels; }
int64_t cquant_data_size(const cquant_data_t *d) { return d && d->in_memory ? d->images.shape[0] : -1; }
const char *cquant_data_name(const cquant_data_t *d) { return d ? d->spec : ""; }

int cquant_data_check_shape(const cquant_onnx_model_t *m, const cquant_array_t *x, const char *what) {
  int64_t dims[CQUANT_MAX_DIMS];
  int nd;
  if (cquant_onnx_input_shape(m, 0, dims, &nd) || nd < 0) return 0;
  int ok = nd == x->ndim;
  for (int i = 1; i < nd && ok; i++) ok = dims[i] < 0 || dims[i] == x->shape[i];
  if (ok) return 0;
  char want[160] = "", got[160] = "";
  size_t a = 0, b = 0;
  for (int i = 0; i < nd && a < sizeof want; i++) {
    if (dims[i] < 0) a += (size_t)snprintf(want + a, sizeof want - a, "%sN", i ? " x " : "");
    else a += (size_t)snprintf(want + a, sizeof want - a, "%s%lld", i ? " x " : "", (long long)dims[i]);
  }
  for (int i = 0; i < x->ndim && b < sizeof got; i++) b += (size_t)snprintf(got + b, sizeof got - b, "%s%lld", i ? " x " : "", (long long)x->shape[i]);
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: shape %s does not fit the model's input '%s' (%s)", what, got,
                       cquant_onnx_input_name(m, 0), want);
}
