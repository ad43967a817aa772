/* Data sources (include/cquant/data.h): fashion-mnist specs, one .npy cut into batches, a folder of
 * .npy batches, a folder of images (decoded one batch at a time, image_decode.c, image_source.c), or
 * caller callbacks. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/internal.h"
#include "exec/exec_internal.h"
#include "io/image.h"
#include "onnx/onnx_internal.h"

struct cquant_data {
  char *spec;
  int in_memory, has_labels, from_cb;
  cquant_array_t images_arr, labels, cur, cur_f32;
  char **files;
  int n_files, file_i;
  int64_t batch, pos;
  cquant_data_callbacks_t cb;
  /* image folders: files[i] has label file_labels[i] (class subfolders) or none; every image
   * becomes img_h x img_w (fixed by the options, or by the first image) */
  int images;
  cquant_data_options_t opt;
  int64_t *file_labels, img_h, img_w;
  cquant_array_t cur_labels;
  /* several inputs (cquant_data_open_inputs): one source per named input, read in lockstep */
  int n_in;
  char **in_names;
  cquant_data_t **in_src;
  const cquant_array_t *last; /* the current batch (cquant_data_input) */
  /* one .npy read in batches (open_npy_stream): file, data offset, element type, rows, row shape */
  FILE *npy;
  long long npy_off;
  cquant_dtype_t npy_dt;
  int64_t npy_rows, npy_per;
  int npy_ndim;
  int64_t npy_shape[CQUANT_MAX_DIMS];
  /* labels from a file of their own (cquant_data_attach_labels): a streamed .npy source read at the
   * rows of each batch, and that batch's labels as int64 */
  cquant_data_t *lab;
  cquant_array_t lab64;
  int is_labels; /* this source is a labels file: open_npy_stream checks for class ids */
};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void cquant_data_close(cquant_data_t *d) {
  if (!d) return;
  cquant_array_free(&d->images_arr);
  cquant_array_free(&d->labels);
  cquant_array_free(&d->cur);
  cquant_array_free(&d->cur_f32);
  cquant_array_free(&d->cur_labels);
  cquant_array_free(&d->lab64);
  cquant_data_close(d->lab);
  free(d->file_labels);
  if (d->npy) fclose(d->npy);
  for (int i = 0; i < d->n_in; i++) {
    free(d->in_names[i]);
    cquant_data_close(d->in_src[i]);
  }
  free(d->in_names);
  free(d->in_src);
  for (int i = 0; i < d->n_files; i++) free(d->files[i]);
  free(d->files);
  free(d->spec);
  free(d);
}

static int is_image_name(const char *n) {
  const char *dot = strrchr(n, '.');
  if (!dot) return 0;
  char ext[8] = "";
  size_t k = 0;
  for (const char *c = dot + 1; *c && k < sizeof ext - 1; c++) ext[k++] = (char)tolower((unsigned char)*c);
  if (dot[1 + k]) return 0;
  return !strcmp(ext, "png") || !strcmp(ext, "jpg") || !strcmp(ext, "jpeg");
}

static int ends_with(const char *n, const char *suf) {
  const size_t l = strlen(n), m = strlen(suf);
  return l > m && !strcmp(n + l - m, suf);
}

typedef struct {
  char **v;
  int n, cap;
} strlist_t;

/* Appends s (taken over; freed on failure). */
static int strlist_push(strlist_t *l, char *s) {
  if (s && l->n == l->cap) {
    const int cap = l->cap ? l->cap * 2 : 16;
    char **nv = realloc(l->v, sizeof(char *) * (size_t)cap);
    if (nv) l->v = nv, l->cap = cap;
  }
  if (!s || l->n == l->cap) {
    free(s);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
  }
  l->v[l->n++] = s;
  return 0;
}
static int strlist_add(strlist_t *l, const char *dir, const char *name) {
  const size_t n = strlen(dir) + strlen(name) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s/%s", dir, name);
  return strlist_push(l, s);
}
static void strlist_free(strlist_t *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* The entries of a folder by kind: .npy files, image files, subfolders (hidden entries skipped). */
static int scan_dir(const char *dir, strlist_t *npy, strlist_t *img, strlist_t *sub) {
  DIR *dh = opendir(dir);
  if (!dh) return cquant__error(CQUANT_STATUS_IO, "%s: cannot open the folder", dir);
  struct dirent *e;
  int st = 0;
  while (!st && (e = readdir(dh))) {
    if (e->d_name[0] == '.') continue;
    if (npy && ends_with(e->d_name, ".npy")) st = strlist_add(npy, dir, e->d_name);
    else if (is_image_name(e->d_name)) st = strlist_add(img, dir, e->d_name);
    else if (sub) {
      char path[4096];
      struct stat sb;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (!stat(path, &sb) && S_ISDIR(sb.st_mode)) st = strlist_add(sub, dir, e->d_name);
    }
  }
  closedir(dh);
  if (!st) {
    if (npy && npy->n > 1) qsort(npy->v, (size_t)npy->n, sizeof(char *), cmp_str);
    if (img->n > 1) qsort(img->v, (size_t)img->n, sizeof(char *), cmp_str);
    if (sub && sub->n > 1) qsort(sub->v, (size_t)sub->n, sizeof(char *), cmp_str);
  }
  return st;
}

/* A folder: .npy batches, images, or class subfolders of images. */
static int open_dir(cquant_data_t *d, const char *spec) {
  strlist_t npy = {0}, img = {0}, sub = {0};
  int st = scan_dir(spec, &npy, &img, &sub);
  if (!st && npy.n) {
    if (img.n) st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the folder holds both .npy files and images; keep one kind", spec);
    d->files = npy.v, d->n_files = npy.n;
    npy.v = NULL, npy.n = 0;
  } else if (!st && img.n) {
    d->images = 1;
    d->files = img.v, d->n_files = img.n;
    img.v = NULL, img.n = 0;
  } else if (!st && sub.n) { /* ImageFolder: class c = the c-th subfolder in name order */
    d->images = 1;
    strlist_t all = {0};
    int64_t *lab = NULL;
    for (int c = 0; c < sub.n && !st; c++) {
      strlist_t ci = {0};
      if (!(st = scan_dir(sub.v[c], NULL, &ci, NULL))) {
        int64_t *nl = realloc(lab, sizeof(int64_t) * (size_t)(all.n + ci.n + 1));
        if (!nl) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
        else lab = nl;
        for (int k = 0; k < ci.n && !st; k++) {
          lab[all.n] = c;
          st = strlist_push(&all, ci.v[k]);
          ci.v[k] = NULL;
        }
      }
      strlist_free(&ci);
    }
    d->files = all.v, d->n_files = all.n, d->file_labels = lab;
    if (!st && all.n) d->has_labels = 1;
  }
  if (!st && !d->n_files)
    st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the folder holds no .npy files, no images (.png, .jpg, .jpeg) and no class subfolders of images", spec);
  strlist_free(&npy);
  strlist_free(&img);
  strlist_free(&sub);
  return st;
}

/* One .npy: float16/float32 as float32 (non-finite values refused), integer and bool types as stored. */
static int load_npy(const char *path, cquant_array_t *a) {
  int st = cquant_npy_load(path, a);
  if (st) return st;
  if (a->dtype == CQUANT_DT_F32 || a->dtype == CQUANT_DT_F16) {
    cquant_array_free(a);
    return cquant_npy_load_float(path, 0, a);
  }
  const cquant_dtype_info_t *in = cquant_dtype_info(a->dtype);
  if (!in || in->is_float || in->bits < 8) {
    const char *nm = in ? in->name : "?";
    cquant_array_free(a);
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s: %s arrays are not read as model input (float16/32, integer or bool)", path, nm);
  }
  return 0;
}

/* One .npy read in batches: only the header is read here (parsed by cquant_npy_parse on a copy whose
 * first dimension is 0), each batch's rows later (memory independent of the number of rows). */
static int open_npy_stream(cquant_data_t *d, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return cquant__error(CQUANT_STATUS_IO, "%s: cannot open the file", path);
  d->npy = f;
  unsigned char pre[12];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: not a .npy file (bad magic)", path);
  size_t hstart = 10, hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
  if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: truncated .npy header", path);
    hstart = 12, hlen |= ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
  }
  if (hlen > (1u << 24)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: .npy header too long", path);
  char *h = malloc(hlen + 16), *syn = malloc(hlen + 32);
  int st = 0;
  if (!h || !syn) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
  else if (fread(h, 1, hlen, f) != hlen) st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: truncated .npy header", path);
  long long rows = -1;
  if (!st) { /* the copy: "'shape': (N" becomes "'shape': (0"; the real parser checks the rest */
    h[hlen] = 0;
    char *sh = strstr(h, "'shape'"), *lp = sh ? strchr(sh, '(') : NULL, *e = NULL;
    if (lp) rows = strtoll(lp + 1, &e, 10);
    if (!lp || e == lp + 1 || rows < 0) rows = -1;
    if (rows >= 0) {
      const size_t a = (size_t)(lp + 1 - h), rest = hlen - (size_t)(e - h);
      memcpy(syn, "\x93NUMPY\x02\x00", 8);
      const size_t nl = a + 1 + rest;
      syn[8] = (char)(nl & 255), syn[9] = (char)((nl >> 8) & 255), syn[10] = (char)((nl >> 16) & 255), syn[11] = 0;
      memcpy(syn + 12, h, a);
      syn[12 + a] = '0';
      memcpy(syn + 13 + a, e, rest);
      cquant_array_t meta;
      if ((st = cquant_npy_parse(syn, 12 + nl, &meta))) cquant__error_prefix(st, path);
      else {
        d->npy_dt = meta.dtype, d->npy_ndim = meta.ndim;
        memcpy(d->npy_shape, meta.shape, sizeof d->npy_shape);
        cquant_array_free(&meta);
      }
    }
  }
  free(h);
  free(syn);
  if (st) return st;
  if (rows < 0 || d->npy_ndim < 1) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the array has no rows (a shape (N, ...) is needed)", path);
  const cquant_dtype_info_t *in = cquant_dtype_info(d->npy_dt);
  if (d->is_labels && (!in || in->is_float || in->bits < 8 || d->npy_dt == CQUANT_DT_BOOL || d->npy_ndim > 2 || (d->npy_ndim == 2 && d->npy_shape[1] != 1)))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: labels must be integer class ids, one per sample (shape (N) or (N, 1)), not %s of %d dimensions",
                         path, in ? in->name : "?", d->npy_ndim);
  if (!in || in->bits < 8 || (in->is_float && d->npy_dt != CQUANT_DT_F32 && d->npy_dt != CQUANT_DT_F16))
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s: %s arrays are not read as model input (float16/32, integer or bool)", path, in ? in->name : "?");
  int64_t per = 1;
  for (int i = 1; i < d->npy_ndim; i++) per *= d->npy_shape[i];
  d->npy_rows = rows, d->npy_per = per, d->npy_off = (long long)(hstart + hlen);
  d->npy_shape[0] = rows;
  if (!rows || !per) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the array is empty", path);
  struct stat sb;
  const long long want = d->npy_off + (long long)rows * per * (in->bits / 8);
  if (fstat(fileno(f), &sb) || (long long)sb.st_size != want)
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: %lld bytes, but the header promises %lld", path, (long long)sb.st_size, want);
  return 0;
}

/* The next rows of a streamed .npy: float16 converted to float32, float values checked finite. */
static int next_npy_stream(cquant_data_t *d, const cquant_array_t **x) {
  if (d->pos >= d->npy_rows) return 0;
  const int64_t bs = d->npy_rows - d->pos < d->batch ? d->npy_rows - d->pos : d->batch;
  int64_t shape[CQUANT_MAX_DIMS];
  memcpy(shape, d->npy_shape, sizeof shape);
  shape[0] = bs;
  const size_t es = (size_t)cquant_dtype_info(d->npy_dt)->bits / 8, n = (size_t)(bs * d->npy_per);
  cquant_array_free(&d->cur_f32);
  int st = cquant_array_alloc(&d->cur_f32, d->npy_dt, d->npy_ndim, shape);
  if (st) return st;
  if (fseeko(d->npy, (off_t)(d->npy_off + (long long)((size_t)(d->pos * d->npy_per) * es)), SEEK_SET) || fread(d->cur_f32.data, es, n, d->npy) != n)
    return cquant__error(CQUANT_STATUS_IO, "%s: read error at row %lld", d->spec, (long long)d->pos);
  if (d->npy_dt == CQUANT_DT_F16) {
    if ((st = cquant_array_alloc(&d->cur, CQUANT_DT_F32, d->npy_ndim, shape)) || (st = cquant_convert_to_f32(d->cur_f32.data, n, CQUANT_DT_F16, d->cur.data)))
      return st;
  } else {
    d->cur = d->cur_f32; /* taken over */
    memset(&d->cur_f32, 0, sizeof d->cur_f32);
  }
  if (d->cur.dtype == CQUANT_DT_F32) {
    const float *v = d->cur.data;
    for (size_t i = 0; i < n; i++)
      if (!isfinite(v[i]))
        return cquant__error(CQUANT_STATUS_NOT_FINITE, "%s: element %lld is %s; cquant refuses NaN/Inf input (replace or remove them first)", d->spec,
                             (long long)((size_t)(d->pos * d->npy_per) + i), isnan(v[i]) ? "NaN" : (v[i] > 0 ? "+Inf" : "-Inf"));
  }
  d->pos += bs;
  *x = &d->cur;
  return 1;
}

int cquant_data_open(const char *spec, float mean, float std, int64_t batch, cquant_data_t **out) {
  cquant_data_options_t o;
  cquant_data_options_default(&o);
  o.batch = batch;
  for (int c = 0; c < 3; c++) o.mean[c] = mean, o.std[c] = std;
  return cquant_data_open_ex(spec, &o, out);
}

int cquant_data_open_ex(const char *spec, const cquant_data_options_t *opt, cquant_data_t **out) {
  if (!spec || !out || !opt) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  *out = NULL;
  for (int c = 0; c < 3; c++)
    if (!(opt->std[c] > 0) || !isfinite(opt->mean[c]))
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: std must be > 0 and mean finite (channel %d)", c);
  if ((opt->resize && (opt->resize_h < 1 || (opt->resize == CQUANT_IMAGE_RESIZE_FIXED && opt->resize_w < 1))) || opt->crop_h < 0 ||
      opt->crop_w < 0 || (!opt->crop_h != !opt->crop_w) || (unsigned)opt->resize > CQUANT_IMAGE_RESIZE_FIXED ||
      (unsigned)opt->channels > CQUANT_IMAGE_GRAY)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: invalid resize, crop or channel options");
  cquant_data_t *d = calloc(1, sizeof *d);
  if (!d || !(d->spec = strdup(spec))) {
    free(d);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
  }
  d->opt = *opt;
  d->batch = opt->batch > 0 ? opt->batch : 100;
  int st = 0;
  struct stat sb;
  if (!strncmp(spec, "fashion-mnist", 13)) {
    if (!(st = cquant_dataset_load(spec, NULL, opt->mean[0], opt->std[0], &d->images_arr, &d->labels))) d->has_labels = d->in_memory = 1;
  } else if (stat(spec, &sb)) {
    st = cquant__error(CQUANT_STATUS_IO, "%s: no such file or folder", spec);
  } else if (S_ISDIR(sb.st_mode)) {
    st = open_dir(d, spec);
  } else { /* one .npy: read in batches along axis 0 */
    st = open_npy_stream(d, spec);
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
  d->last = NULL;
  for (int i = 0; i < d->n_in; i++) {
    const int st = cquant_data_rewind(d->in_src[i]);
    if (st) return st;
  }
  if (d->from_cb) {
    if (!d->cb.rewind && !was) return 0; /* not read yet */
    if (!d->cb.rewind) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s: the source can be read once only", d->spec);
    return d->cb.rewind(d->cb.user);
  }
  return 0;
}

/* The next batch of an image folder: up to `batch` images decoded and preprocessed one at a time. */
static int next_images(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels) {
  const cquant_data_options_t *o = &d->opt;
  const int64_t bs = d->n_files - d->file_i < d->batch ? d->n_files - d->file_i : d->batch;
  const int C = o->channels == CQUANT_IMAGE_GRAY ? 1 : 3;
  int st = 0;
  float *dst = NULL;
  int64_t per = 0;
  for (int64_t k = 0; k < bs && !st; k++) {
    const char *path = d->files[d->file_i + k];
    cquant__image_t img;
    int64_t oh, ow;
    if ((st = cquant__image_decode(path, &img))) break;
    if (!(st = cquant__image_out_size(o, path, img.h, img.w, &oh, &ow))) {
      if (!d->img_h) d->img_h = oh, d->img_w = ow; /* the first image of the source fixes the size */
      if (oh != d->img_h || ow != d->img_w)
        st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: the image is %lld x %lld but %s is %lld x %lld; images of mixed sizes need a resize%s", path,
                           (long long)oh, (long long)ow, d->files[0], (long long)d->img_h, (long long)d->img_w,
                           o->resize == CQUANT_IMAGE_RESIZE_SHORTER ? " with a crop, or a fixed-size resize" : " or a crop");
    }
    if (!st && !dst) {
      const int64_t shape[4] = {bs, o->nhwc ? d->img_h : C, o->nhwc ? d->img_w : d->img_h, o->nhwc ? C : d->img_w};
      if (!(st = cquant_array_alloc(&d->cur, CQUANT_DT_F32, 4, shape))) dst = d->cur.data, per = C * d->img_h * d->img_w;
    }
    if (!st) st = cquant__image_preprocess(o, &img, oh, ow, dst + k * per);
    cquant__image_free(&img);
  }
  if (st) {
    cquant_array_free(&d->cur);
    return st;
  }
  if (labels && d->file_labels) *labels = d->file_labels + d->file_i;
  d->file_i += (int)bs;
  d->pos += bs;
  *x = &d->cur;
  return 1;
}

static int next_one(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels, int64_t *first);

/* Several inputs: every source gives a batch of the same size, or every source ends. */
static int next_inputs(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels, int64_t *first) {
  int64_t bs0 = -1;
  int k0 = 0;
  if (first) *first = d->pos;
  for (int i = 0; i < d->n_in; i++) {
    const cquant_array_t *xi;
    const int64_t *li = NULL;
    int64_t fi;
    const int k = cquant_data_next(d->in_src[i], &xi, &li, &fi);
    if (k < 0) return cquant__error_prefix(k, d->in_names[i]);
    const int64_t bs = k ? (xi->ndim ? xi->shape[0] : 1) : 0;
    if (i && (k != k0 || bs != bs0))
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "input '%s' gives %lld samples at sample %lld where '%s' gives %lld: the sources must have equal batches and lengths",
                           d->in_names[i], (long long)bs, (long long)d->pos, d->in_names[0], (long long)bs0);
    k0 = k, bs0 = bs;
    if (!i) *x = xi;
    if (li && labels && !*labels) *labels = li, d->has_labels = 1;
  }
  if (!k0) return 0;
  d->pos += bs0;
  return 1;
}

int cquant_data_attach_labels(cquant_data_t *d, const char *path) {
  if (!d || !path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  if (d->has_labels || d->lab) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: %s already has labels", path, d->spec);
  cquant_data_t *l = calloc(1, sizeof *l);
  if (!l || !(l->spec = strdup(path))) {
    free(l);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
  }
  l->is_labels = 1;
  int st = open_npy_stream(l, path);
  const int64_t n = cquant_data_size(d); /* known in advance: the counts must agree now, not at the end */
  if (!st && n >= 0 && n != l->npy_rows)
    st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: %lld labels for the %lld samples of %s", path, (long long)l->npy_rows, (long long)n, d->spec);
  if (st) {
    cquant_data_close(l);
    return st;
  }
  d->lab = l;
  d->has_labels = 1;
  return 0;
}

/* The labels of samples [start, start + bs) from the attached file, as int64 (>= 0). */
static int read_labels(cquant_data_t *d, int64_t start, int64_t bs, const int64_t **labels) {
  cquant_data_t *l = d->lab;
  if (start + bs > l->npy_rows)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: %lld labels, but %s has more samples", l->spec, (long long)l->npy_rows, d->spec);
  l->pos = start, l->batch = bs;
  cquant_array_free(&l->cur);
  const cquant_array_t *y;
  int st = next_npy_stream(l, &y);
  if (st < 0) return st;
  const int64_t shape[1] = {bs};
  cquant_array_free(&d->lab64);
  if ((st = cquant_array_alloc(&d->lab64, CQUANT_DT_S64, 1, shape))) return st;
  int64_t *v = d->lab64.data;
  for (int64_t i = 0; i < bs && !st; i++) {
    v[i] = cquant__get_i64(y, i); /* a uint64 beyond INT64_MAX wraps negative: refused below */
    if (v[i] < 0) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: the label of sample %lld is not a class id (>= 0)", l->spec, (long long)(start + i));
  }
  if (!st && labels) *labels = v;
  return st;
}

int cquant_data_next(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels, int64_t *first) {
  if (!d || !x) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  d->last = NULL;
  if (labels) *labels = NULL;
  const int64_t start = d->pos;
  const int64_t *own = NULL;
  int k = d->n_in ? next_inputs(d, x, &own, first) : next_one(d, x, &own, first);
  if (k == 1 && d->lab) {
    if (own) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: the source gives labels of its own beside %s", d->spec, d->lab->spec);
    if ((k = read_labels(d, start, d->pos - start, &own)) == 0) k = 1;
  } else if (k == 0 && d->lab && d->pos != d->lab->npy_rows)
    k = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: %lld labels for the %lld samples of %s", d->lab->spec, (long long)d->lab->npy_rows,
                      (long long)d->pos, d->spec);
  if (k == 1) d->last = *x;
  if (labels) *labels = k == 1 ? own : NULL;
  return k;
}

static int next_one(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels, int64_t *first) {
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
    const int64_t n = d->images_arr.shape[0];
    if (d->pos >= n) return 0;
    const int64_t bs = n - d->pos < d->batch ? n - d->pos : d->batch, per = d->images_arr.numel / n;
    int64_t shape[CQUANT_MAX_DIMS];
    memcpy(shape, d->images_arr.shape, sizeof shape);
    shape[0] = bs;
    int st = cquant_array_alloc(&d->cur, d->images_arr.dtype, d->images_arr.ndim, shape);
    if (st) return st;
    const size_t es = (size_t)cquant_dtype_info(d->images_arr.dtype)->bits / 8;
    memcpy(d->cur.data, (const char *)d->images_arr.data + (size_t)(d->pos * per) * es, es * (size_t)(bs * per));
    if (labels && d->has_labels) *labels = (const int64_t *)d->labels.data + d->pos;
    d->pos += bs;
    *x = &d->cur;
    return 1;
  }
  if (d->npy) return next_npy_stream(d, x);
  if (d->file_i >= d->n_files) return 0;
  if (d->images) return next_images(d, x, labels);
  int st = load_npy(d->files[d->file_i], &d->cur);
  if (st) return st;
  if (!d->cur.numel) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: the array is empty", d->files[d->file_i]);
  d->pos += d->cur.ndim ? d->cur.shape[0] : 1;
  d->file_i++;
  *x = &d->cur;
  return 1;
}

int cquant_data_has_labels(const cquant_data_t *d) { return d && d->has_labels; }
int64_t cquant_data_size(const cquant_data_t *d) {
  if (d && d->n_in) return cquant_data_size(d->in_src[0]);
  if (d && d->images) return d->n_files;
  if (d && d->npy) return d->npy_rows;
  return d && d->in_memory ? d->images_arr.shape[0] : -1;
}
const char *cquant_data_name(const cquant_data_t *d) { return d ? d->spec : ""; }

int cquant_data_fit(const cquant_onnx_model_t *m, int in, const cquant_array_t *x, cquant_array_t *view) {
  if (!m || !x || !view) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  *view = *x;
  int64_t dims[CQUANT_MAX_DIMS];
  int nd;
  if (cquant_onnx_input_shape(m, in, dims, &nd) || nd < 0) return 0;
  if (x->ndim == nd + 1 && x->shape[0] == 1) { /* one sample of a model without a batch axis */
    view->ndim = nd;
    for (int i = 0; i < nd; i++) view->shape[i] = x->shape[i + 1];
  }
  return 0;
}

int cquant_data_feeds(const cquant_onnx_model_t *m, const cquant_data_t *d, const cquant_array_t *x, int max, const char **names,
                      cquant_array_t *vals, int *n) {
  if (!m || !d || !x || max < 1 || !names || !vals || !n) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument");
  const int k = cquant_data_num_inputs(d);
  if (k > max) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s: more than %d inputs", d->spec, max);
  if (k <= 1) {
    names[0] = cquant_onnx_input_name(m, 0), *n = 1;
    return cquant_data_fit(m, 0, x, &vals[0]);
  }
  for (int i = 0; i < k; i++) {
    names[i] = cquant_data_input_name(d, i);
    int j = 0; /* its index in the model (past the end for a name the model lacks: no fitting) */
    while (j < cquant_onnx_num_inputs(m) && strcmp(cquant_onnx_input_name(m, j), names[i])) j++;
    int st = cquant_data_fit(m, j, cquant_data_input(d, i), &vals[i]);
    if (st) return st;
  }
  *n = k;
  return 0;
}

static int check_input(const cquant_onnx_model_t *m, int in, const cquant_array_t *x0, const char *what) {
  int64_t dims[CQUANT_MAX_DIMS];
  int nd;
  cquant_array_t v;
  if (m && x0) cquant_data_fit(m, in, x0, &v);
  const cquant_array_t *x = m && x0 ? &v : x0;
  const int want_dt = m && m->n_inputs > in ? m->input_types[in] : -1;
  if (want_dt >= 0 && want_dt < CQUANT_DT_SEQUENCE && x->dtype != (cquant_dtype_t)want_dt)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: %s data for the model's input '%s', which takes %s", what, cquant_dtype_info(x->dtype)->name,
                         cquant_onnx_input_name(m, in), cquant_dtype_info((cquant_dtype_t)want_dt)->name);
  if (cquant_onnx_input_shape(m, in, dims, &nd) || nd < 0) return 0;
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
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: shape %s does not fit the model's input '%s' (%s)%s", what, got,
                       cquant_onnx_input_name(m, in), want,
                       x->ndim == nd + 1 ? "; it takes one sample without a batch axis: give batches of 1" : "");
}

int cquant_data_check_shape(const cquant_onnx_model_t *m, const cquant_array_t *x, const char *what) { return check_input(m, 0, x, what); }

int cquant_data_open_inputs(const char *const *specs, int n, const cquant_data_options_t *o, cquant_data_t **out) {
  if (!specs || n < 1 || !o || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: NULL argument or no inputs");
  *out = NULL;
  cquant_data_t *d = calloc(1, sizeof *d);
  size_t len = 1;
  for (int i = 0; i < n; i++) len += strlen(specs[i] ? specs[i] : "") + 1;
  if (!d || !(d->spec = calloc(1, len)) || !(d->in_names = calloc((size_t)n, sizeof(char *))) || !(d->in_src = calloc((size_t)n, sizeof *d->in_src))) {
    cquant_data_close(d);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
  }
  d->opt = *o;
  int st = 0;
  for (int i = 0; i < n && !st; i++) {
    const char *eq = specs[i] ? strchr(specs[i], '=') : NULL;
    if (!eq || eq == specs[i] || !eq[1]) {
      st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data '%s': give NAME=SOURCE for each input", specs[i] ? specs[i] : "(null)");
      break;
    }
    for (int j = 0; j < i && !st; j++)
      if (!strncmp(d->in_names[j], specs[i], (size_t)(eq - specs[i])) && !d->in_names[j][eq - specs[i]])
        st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: input '%s' is given twice", d->in_names[j]);
    if (st) break;
    if (!(d->in_names[i] = strndup(specs[i], (size_t)(eq - specs[i])))) {
      st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "data: out of memory");
      break;
    }
    d->n_in = i + 1;
    if ((st = cquant_data_open_ex(eq + 1, o, &d->in_src[i]))) cquant__error_prefix(st, d->in_names[i]);
    strcat(d->spec, i ? "," : "");
    strcat(d->spec, specs[i]);
  }
  if (st) {
    cquant_data_close(d);
    return st;
  }
  d->has_labels = d->in_src[0]->has_labels;
  *out = d;
  return 0;
}

int cquant_data_num_inputs(const cquant_data_t *d) { return d && d->n_in ? d->n_in : 1; }

const char *cquant_data_input_name(const cquant_data_t *d, int i) { return d && i >= 0 && i < d->n_in ? d->in_names[i] : NULL; }

const cquant_array_t *cquant_data_input(const cquant_data_t *d, int i) {
  if (!d || !d->last || i < 0 || i >= cquant_data_num_inputs(d)) return NULL;
  return d->n_in ? d->in_src[i]->last : d->last;
}

int cquant_data_check_inputs(const cquant_onnx_model_t *m, const cquant_data_t *d) {
  if (!m || !d || !d->last) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: check the inputs after cquant_data_next gave a batch");
  if (!d->n_in) return cquant_data_check_shape(m, d->last, d->spec);
  const int nm = cquant_onnx_num_inputs(m);
  for (int i = 0; i < d->n_in; i++) {
    int k = 0;
    while (k < nm && strcmp(cquant_onnx_input_name(m, k), d->in_names[i])) k++;
    if (k == nm) {
      char names[512] = "";
      size_t a = 0;
      for (int j = 0; j < nm && a < sizeof names; j++) a += (size_t)snprintf(names + a, sizeof names - a, "%s'%s'", j ? ", " : "", cquant_onnx_input_name(m, j));
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: the model has no input named '%s' (its inputs: %s)", d->in_names[i], names);
    }
    const int st = check_input(m, k, d->in_src[i]->last, d->in_names[i]);
    if (st) return st;
  }
  for (int k = 0; k < nm; k++) {
    int i = 0;
    while (i < d->n_in && strcmp(cquant_onnx_input_name(m, k), d->in_names[i])) i++;
    if (i == d->n_in) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data: no source for the model's input '%s' (give %s=SOURCE)", cquant_onnx_input_name(m, k), cquant_onnx_input_name(m, k));
  }
  return 0;
}
