/* IDX files (the MNIST family) through zlib's gzip reader, and the dataset specification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/internal.h"
#include "cquant/dataset.h"

int cquant_idx_load(const char *path, cquant_array_t *out) {
  if (!path || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "idx: NULL argument");
  memset(out, 0, sizeof *out);
  gzFile f = gzopen(path, "rb"); /* reads plain files too */
  if (!f) return cquant__error(CQUANT_STATUS_IO, "cannot open %s", path);
  unsigned char hdr[4];
  int st = CQUANT_STATUS_OK;
  if (gzread(f, hdr, 4) != 4 || hdr[0] || hdr[1] || hdr[2] != 0x08 || hdr[3] < 1 || hdr[3] > 4) {
    st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: not an unsigned-byte IDX file (bad magic)", path);
  } else {
    int64_t shape[4], n = 1;
    const int nd = hdr[3];
    for (int d = 0; d < nd && !st; d++) {
      unsigned char b[4];
      if (gzread(f, b, 4) != 4) st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: truncated header", path);
      else {
        shape[d] = ((int64_t)b[0] << 24) | ((int64_t)b[1] << 16) | ((int64_t)b[2] << 8) | b[3];
        if (shape[d] > ((int64_t)1 << 31) || (shape[d] && n > ((int64_t)1 << 34) / shape[d]))
          st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: dimension %lld too large", path, (long long)shape[d]);
        n *= shape[d];
      }
    }
    if (!st) {
      /* read into a buffer that grows with what actually arrives: a header that promises more than
       * the file holds costs no more memory than the file */
      size_t cap = 1 << 16, got = 0;
      unsigned char *buf = malloc(cap);
      while (buf && got < (size_t)n) {
        if (got == cap) {
          cap = cap * 2 < (size_t)n ? cap * 2 : (size_t)n;
          unsigned char *nb = realloc(buf, cap);
          if (!nb) { free(buf); buf = NULL; break; }
          buf = nb;
        }
        const size_t want = (cap < (size_t)n ? cap : (size_t)n) - got;
        int r = gzread(f, buf + got, (unsigned)(want > (1u << 30) ? (1u << 30) : want));
        if (r <= 0) break;
        got += (size_t)r;
      }
      if (!buf) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
      else if (got != (size_t)n) st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: truncated data (%zu of %lld bytes)", path, got, (long long)n);
      else if (!(st = cquant_array_alloc(out, CQUANT_DT_U8, nd, shape)) && n) memcpy(out->data, buf, (size_t)n);
      free(buf);
    }
  }
  gzclose(f);
  return st;
}

int cquant_dataset_load(const char *spec, const char *dir, float mean, float std, cquant_array_t *images, cquant_array_t *labels) {
  if (!spec || !images || !labels) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "dataset: NULL argument");
  memset(images, 0, sizeof *images);
  memset(labels, 0, sizeof *labels);
  if (!(std > 0)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "dataset: std must be > 0");
  const char *rest = NULL;
  if (!strncmp(spec, "fashion-mnist", 13) && (spec[13] == 0 || spec[13] == ':')) rest = spec + 13;
  else return cquant__error(CQUANT_STATUS_UNSUPPORTED, "unknown dataset '%s' (fashion-mnist[:train|test][:N])", spec);
  int train = 0;
  long long limit = -1;
  if (*rest == ':') {
    rest++;
    if (!strncmp(rest, "train", 5) && (rest[5] == 0 || rest[5] == ':')) { train = 1; rest += 5; }
    else if (!strncmp(rest, "test", 4) && (rest[4] == 0 || rest[4] == ':')) rest += 4;
    if (*rest == ':') rest++;
    if (*rest) {
      char *end;
      limit = strtoll(rest, &end, 10);
      if (*end || limit < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "dataset '%s': the count must be a positive integer", spec);
    }
  }
  if (!dir) dir = "/usr/share/datasets/fashion-mnist";
  char ip[1024], lp[1024];
  snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, train ? "train" : "t10k");
  snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, train ? "train" : "t10k");
  cquant_array_t im, lb;
  int st = cquant_idx_load(ip, &im);
  if (st) return st;
  if ((st = cquant_idx_load(lp, &lb))) { cquant_array_free(&im); return st; }
  if (im.ndim != 3 || lb.ndim != 1 || im.shape[0] != lb.shape[0]) {
    cquant_array_free(&im);
    cquant_array_free(&lb);
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s and %s do not describe the same images", ip, lp);
  }
  int64_t n = im.shape[0];
  if (limit > 0 && limit < n) n = limit;
  int64_t ishape[4] = {n, 1, im.shape[1], im.shape[2]};
  if (!(st = cquant_array_alloc(images, CQUANT_DT_F32, 4, ishape)) && !(st = cquant_array_alloc(labels, CQUANT_DT_S64, 1, &n))) {
    const int64_t px = im.shape[1] * im.shape[2];
    for (int64_t i = 0; i < n * px; i++) ((float *)images->data)[i] = ((float)((uint8_t *)im.data)[i] / 255.0f - mean) / std;
    for (int64_t i = 0; i < n; i++) ((int64_t *)labels->data)[i] = ((uint8_t *)lb.data)[i];
  }
  if (st) { cquant_array_free(images); cquant_array_free(labels); }
  cquant_array_free(&im);
  cquant_array_free(&lb);
  return st;
}
