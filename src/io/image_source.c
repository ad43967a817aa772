/* Data options (cquant_data_options_*) and the preprocessing of one decoded image for image-folder
 * sources: resize (bilinear, eq. F1-F2), center crop (eq. F3), channel order (eq. F4) and
 * normalisation (eq. F5) of docs/formats.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "io/image.h"

void cquant_data_options_default(cquant_data_options_t *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->batch = 100;
  for (int c = 0; c < 3; c++) o->mean[c] = 0, o->std[c] = 1;
}

/* "N" or "HxW" of positive integers up to 65536. */
static int parse_size(const char *v, int64_t *h, int64_t *w) {
  char *e;
  errno = 0;
  long long a = strtoll(v, &e, 10), b;
  if (e == v || errno || a < 1 || a > 65536) return -1;
  if (!*e) {
    *h = *w = a;
    return 1;
  }
  if (*e != 'x' && *e != 'X') return -1;
  const char *s = e + 1;
  b = strtoll(s, &e, 10);
  if (e == s || *e || errno || b < 1 || b > 65536) return -1;
  *h = a, *w = b;
  return 2;
}

/* One number, or three separated by commas. */
static int parse_three(const char *v, float out[3]) {
  double x[3];
  int n = 0;
  const char *s = v;
  for (;;) {
    char *e;
    errno = 0;
    x[n] = strtod(s, &e);
    if (e == s || errno || !isfinite(x[n])) return -1;
    n++;
    if (!*e) break;
    if (*e != ',' || n == 3) return -1;
    s = e + 1;
  }
  if (n == 2) return -1;
  for (int c = 0; c < 3; c++) out[c] = (float)x[n == 1 ? 0 : c];
  return n;
}

int cquant_data_options_set(cquant_data_options_t *o, const char *name, const char *value) {
  if (!o || !name || !value) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data options: NULL argument");
  if (!strcmp(name, "resize")) {
    const int k = parse_size(value, &o->resize_h, &o->resize_w);
    if (k < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "resize '%s': give S (the shorter side) or HxW (a fixed size), 1..65536", value);
    o->resize = k == 1 ? CQUANT_IMAGE_RESIZE_SHORTER : CQUANT_IMAGE_RESIZE_FIXED;
  } else if (!strcmp(name, "crop")) {
    if (parse_size(value, &o->crop_h, &o->crop_w) < 0)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "crop '%s': give C or HxW, 1..65536", value);
  } else if (!strcmp(name, "channel-order")) {
    if (!strcmp(value, "rgb")) o->channels = CQUANT_IMAGE_RGB;
    else if (!strcmp(value, "bgr")) o->channels = CQUANT_IMAGE_BGR;
    else if (!strcmp(value, "gray")) o->channels = CQUANT_IMAGE_GRAY;
    else return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "channel order '%s': rgb, bgr or gray", value);
  } else if (!strcmp(name, "layout")) {
    if (!strcmp(value, "nchw")) o->nhwc = 0;
    else if (!strcmp(value, "nhwc")) o->nhwc = 1;
    else return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "layout '%s': nchw or nhwc", value);
  } else if (!strcmp(name, "mean") || !strcmp(name, "std")) {
    float v[3];
    const int isstd = name[0] == 's';
    if (parse_three(value, v) < 0 || (isstd && (v[0] <= 0 || v[1] <= 0 || v[2] <= 0)))
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s '%s': give one number or three separated by commas%s", name, value,
                           isstd ? ", each > 0" : "");
    memcpy(isstd ? o->std : o->mean, v, sizeof v);
  } else if (!strcmp(name, "batch")) {
    char *e;
    errno = 0;
    long long b = strtoll(value, &e, 10);
    if (e == value || *e || errno || b < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "batch '%s': give a positive integer", value);
    o->batch = b;
  } else
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "data options: unknown option '%s'", name);
  return 0;
}

/* Python's round() of d / 2 for d >= 0: halves go to the even neighbour (torchvision's center crop). */
static int64_t half_even(int64_t d) {
  const int64_t k = d / 2;
  return d % 2 == 0 ? d / 2 : (k % 2 == 0 ? k : k + 1);
}

int cquant__image_out_size(const cquant_data_options_t *o, const char *path, int h, int w, int64_t *oh, int64_t *ow) {
  int64_t rh = h, rw = w;
  if (o->resize == CQUANT_IMAGE_RESIZE_FIXED) rh = o->resize_h, rw = o->resize_w;
  else if (o->resize == CQUANT_IMAGE_RESIZE_SHORTER) { /* eq. F2 */
    if (w <= h) rw = o->resize_h, rh = o->resize_h * h / w;
    else rh = o->resize_h, rw = o->resize_h * w / h;
    if (rh < 1) rh = 1;
    if (rw < 1) rw = 1;
  }
  if (o->crop_h) {
    if (o->crop_h > rh || o->crop_w > rw)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: the image (%lld x %lld%s) is smaller than the crop (%lld x %lld)", path, (long long)rh,
                           (long long)rw, o->resize ? " after resizing" : "", (long long)o->crop_h, (long long)o->crop_w);
    rh = o->crop_h, rw = o->crop_w;
  }
  *oh = rh, *ow = rw;
  return 0;
}

/* The bilinear source taps of output index i of a resize from n to m samples (eq. F1). */
typedef struct {
  int64_t i0, i1;
  double w1;
} tap_t;
static void taps(int64_t n, int64_t m, int64_t first, int64_t count, tap_t *t) {
  const double scale = (double)n / (double)m;
  for (int64_t k = 0; k < count; k++) {
    double s = ((double)(first + k) + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    int64_t i0 = (int64_t)floor(s);
    if (i0 > n - 1) i0 = n - 1;
    t[k].i0 = i0;
    t[k].i1 = i0 + 1 < n ? i0 + 1 : n - 1;
    t[k].w1 = s - (double)i0;
    if (t[k].i1 == i0) t[k].w1 = 0;
  }
}

int cquant__image_preprocess(const cquant_data_options_t *o, const cquant__image_t *img, int64_t oh, int64_t ow, float *dst) {
  /* the resized size before the crop, and the crop's offset in it */
  int64_t rh = img->h, rw = img->w;
  if (o->resize == CQUANT_IMAGE_RESIZE_FIXED) rh = o->resize_h, rw = o->resize_w;
  else if (o->resize == CQUANT_IMAGE_RESIZE_SHORTER) {
    if (img->w <= img->h) rw = o->resize_h, rh = o->resize_h * img->h / img->w;
    else rh = o->resize_h, rw = o->resize_h * img->w / img->h;
    if (rh < 1) rh = 1;
    if (rw < 1) rw = 1;
  }
  const int64_t top = half_even(rh - oh), left = half_even(rw - ow); /* eq. F3 */
  tap_t *ty_ = malloc(sizeof(tap_t) * (size_t)(oh + ow));
  if (!ty_) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "image: out of memory");
  tap_t *tx = ty_ + oh;
  taps(img->h, rh, top, oh, ty_);
  taps(img->w, rw, left, ow, tx);
  const int C = o->channels == CQUANT_IMAGE_GRAY ? 1 : 3;
  double a[3], mean[3], inv[3];
  for (int c = 0; c < 3; c++) mean[c] = o->mean[c], inv[c] = o->std[c];
  const uint8_t *px = img->px;
  const int64_t W = img->w;
  for (int64_t i = 0; i < oh; i++) {
    const uint8_t *r0 = px + ty_[i].i0 * W * 3, *r1 = px + ty_[i].i1 * W * 3;
    const double wy = ty_[i].w1;
    for (int64_t j = 0; j < ow; j++) {
      const int64_t x0 = tx[j].i0 * 3, x1 = tx[j].i1 * 3;
      const double wx = tx[j].w1;
      for (int c = 0; c < 3; c++) { /* eq. F1 */
        const double top_v = (1 - wx) * r0[x0 + c] + wx * r0[x1 + c], bot_v = (1 - wx) * r1[x0 + c] + wx * r1[x1 + c];
        a[c] = (1 - wy) * top_v + wy * bot_v;
      }
      double v[3];
      if (C == 1) v[0] = 0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2]; /* eq. F4 */
      else if (o->channels == CQUANT_IMAGE_BGR) v[0] = a[2], v[1] = a[1], v[2] = a[0];
      else v[0] = a[0], v[1] = a[1], v[2] = a[2];
      for (int c = 0; c < C; c++) {
        const float x = (float)((v[c] / 255.0 - mean[c]) / inv[c]); /* eq. F5 */
        if (o->nhwc) dst[(i * ow + j) * C + c] = x;
        else dst[(c * oh + i) * ow + j] = x;
      }
    }
  }
  free(ty_);
  return 0;
}
