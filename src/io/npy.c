/* NumPy .npy reader and writer (format versions 1.0, 2.0, 3.0). The header is a Python dict
 * literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, padded with spaces and a
 * newline. Every byte of a user's file is distrusted: lengths are checked before use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/file.h"

static const struct {
  const char *descr;
  cquant_dtype_t dt;
  size_t size;
} descrs[] = {
    {"<f4", CQUANT_DT_F32, 4}, {"<f2", CQUANT_DT_F16, 2}, {"|i1", CQUANT_DT_S8, 1},
    {"|u1", CQUANT_DT_U8, 1},  {"<i2", CQUANT_DT_S16, 2}, {"<i4", CQUANT_DT_S32, 4},
    {"<i8", CQUANT_DT_S64, 8}, {"|b1", CQUANT_DT_BOOL, 1}, {"<u2", CQUANT_DT_U16, 2},
    {"<u4", CQUANT_DT_U32, 4}, {"<u8", CQUANT_DT_U64, 8}, {"<f8", CQUANT_DT_F64, 8},
    {"<V2", CQUANT_DT_BF16, 2},
    {"|i1", CQUANT_DT_S4, 1},  {"|u1", CQUANT_DT_U4, 1}, /* written one value per byte; read as int8/uint8 */
};

static size_t dt_size(cquant_dtype_t dt) {
  for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
    if (descrs[i].dt == dt) return descrs[i].size;
  return 0;
}

/* ---- the header dict ---------------------------------------------------------------------- */

typedef struct {
  const char *p, *end;
} cur_t;

static void skip_ws(cur_t *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int expect(cur_t *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted string ('...' or "...") without escapes, copied into out. */
static int parse_str(cur_t *c, char *out, size_t cap) {
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
  char q = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != q) {
    if (*c->p == '\\' || n + 1 >= cap) return 0;
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return 0;
  c->p++;
  out[n] = 0;
  return 1;
}

static int parse_word(cur_t *c, const char *w) {
  skip_ws(c);
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
    c->p += n;
    return 1;
  }
  return 0;
}

static int parse_shape(cur_t *c, int *ndim, int64_t *shape) {
  if (!expect(c, '(')) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: 'shape' is not a tuple");
  *ndim = 0;
  for (;;) {
    skip_ws(c);
    if (expect(c, ')')) return CQUANT_STATUS_OK;
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
      return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: bad dimension in 'shape'");
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (v > (INT64_MAX - 9) / 10) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: dimension too large");
      v = v * 10 + (*c->p++ - '0');
    }
    skip_ws(c);
    if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long suffix */
    if (*ndim >= CQUANT_MAX_DIMS)
      return cquant__error(CQUANT_STATUS_UNSUPPORTED, "npy: more than %d dimensions", CQUANT_MAX_DIMS);
    shape[(*ndim)++] = v;
    if (expect(c, ',')) continue;
    if (expect(c, ')')) return CQUANT_STATUS_OK;
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: malformed 'shape' tuple");
  }
}

static int parse_header(const char *h, size_t len, cquant_array_t *a, size_t *itemsize) {
  cur_t c = {h, h + len};
  int have_descr = 0, have_order = 0, have_shape = 0;
  char key[32], val[32];
  if (!expect(&c, '{')) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header is not a dict");
  for (;;) {
    if (expect(&c, '}')) break;
    if (!parse_str(&c, key, sizeof key)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: bad key");
    if (!expect(&c, ':')) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: missing ':' after '%s'", key);
    if (strcmp(key, "descr") == 0) {
      if (!parse_str(&c, val, sizeof val)) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "npy: 'descr' is not a simple type string (structured arrays are not supported)");
      size_t i;
      for (i = 0; i < sizeof descrs / sizeof descrs[0]; i++) {
        const char *d = descrs[i].descr;
        /* '<', '=' (native: little-endian here) and '|' for one-byte types are all accepted */
        if (strcmp(val + 1, d + 1) == 0 && (val[0] == d[0] || val[0] == '=' || (descrs[i].size == 1 && (val[0] == '<' || val[0] == '|'))))
          break;
      }
      if (i == sizeof descrs / sizeof descrs[0]) {
        if (val[0] == '>' && strlen(val) > 2 && val[2] != '1')
          return cquant__error(CQUANT_STATUS_UNSUPPORTED, "npy: big-endian data ('%s') is not supported; save it little-endian", val);
        return cquant__error(CQUANT_STATUS_UNSUPPORTED, "npy: data type '%s' is not supported (float32, float16, int8, uint8, int16, int32, int64 are)", val);
      }
      a->dtype = descrs[i].dt;
      *itemsize = descrs[i].size;
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (parse_word(&c, "True")) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "npy: Fortran-order arrays are not supported; save with C order");
      if (!parse_word(&c, "False")) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: 'fortran_order' is not True/False");
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      int st = parse_shape(&c, &a->ndim, a->shape);
      if (st) return st;
      have_shape = 1;
    } else {
      return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: unknown key '%s'", key);
    }
    if (expect(&c, ',')) continue;
    if (expect(&c, '}')) break;
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: expected ',' or '}'");
  }
  skip_ws(&c);
  while (c.p < c.end && *c.p == '\0') c.p++; /* some writers pad with NULs */
  if (c.p != c.end) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: text after the dict");
  if (!have_descr || !have_order || !have_shape)
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy header: missing '%s'", !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
  return CQUANT_STATUS_OK;
}

int cquant_npy_parse(const void *buf, size_t len, cquant_array_t *out) {
  if (!out || (!buf && len)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "npy: NULL argument");
  memset(out, 0, sizeof *out);
  const unsigned char *b = buf;
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "not a .npy file (bad magic)");
  int major = b[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy: truncated header");
    hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    hstart = 12;
  } else {
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "npy format version %d.%d is not supported", major, b[7]);
  }
  if (hlen > len - hstart) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy: truncated header (%zu bytes promised)", hlen);
  cquant_array_t a;
  memset(&a, 0, sizeof a);
  size_t itemsize = 0;
  int st = parse_header((const char *)b + hstart, hlen, &a, &itemsize);
  if (st) return st;
  int64_t n = 1;
  for (int d = 0; d < a.ndim; d++) {
    if (a.shape[d] && n > INT64_MAX / 8 / a.shape[d]) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy: shape too large");
    n *= a.shape[d];
  }
  size_t nbytes = (size_t)n * itemsize, have = len - hstart - hlen;
  if (have < nbytes) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy: truncated data (%zu of %zu bytes)", have, nbytes);
  if (have > nbytes) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "npy: %zu bytes after the data", have - nbytes);
  st = cquant_array_alloc(out, a.dtype, a.ndim, a.shape);
  if (st) return st;
  if (nbytes) memcpy(out->data, b + hstart + hlen, nbytes);
  return CQUANT_STATUS_OK;
}

int cquant_npy_load(const char *path, cquant_array_t *out) {
  void *buf;
  size_t len;
  if (out) memset(out, 0, sizeof *out);
  int st = cquant_file_read(path, &buf, &len);
  if (st) return st;
  st = cquant_npy_parse(buf, len, out);
  free(buf);
  if (st) return cquant__error_prefix(st, path);
  return CQUANT_STATUS_OK;
}

static int make_header(cquant_dtype_t dt, int ndim, const int64_t *shape, char *h, size_t cap, size_t *hl) {
  const char *descr = NULL;
  for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
    if (descrs[i].dt == dt) descr = descrs[i].descr;
  if (!descr) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "npy: cannot store %s", cquant_dtype_info(dt) ? cquant_dtype_info(dt)->name : "?");
  if (ndim < 0 || ndim > CQUANT_MAX_DIMS) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "npy: bad rank %d", ndim);
  char sh[256] = "";
  size_t p = 0;
  for (int d = 0; d < ndim; d++)
    p += (size_t)snprintf(sh + p, sizeof sh - p, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (ndim == 1) snprintf(sh + p, sizeof sh - p, ","); /* (5,) is a tuple, (5) is not */
  int n = snprintf(h + 12, cap - 12, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh);
  size_t body = (size_t)n, pre = 10;
  size_t total = (pre + body + 1 + 63) / 64 * 64;
  if (total - pre > 65535) {
    pre = 12;
    total = (pre + body + 1 + 63) / 64 * 64;
  }
  memmove(h + pre, h + 12, body);
  memset(h + pre + body, ' ', total - pre - body - 1);
  h[total - 1] = '\n';
  memcpy(h, "\x93NUMPY", 6);
  size_t hlen = total - pre;
  if (pre == 10) {
    h[6] = 1; h[7] = 0;
    h[8] = (char)(hlen & 0xff); h[9] = (char)(hlen >> 8);
  } else {
    h[6] = 2; h[7] = 0;
    for (int i = 0; i < 4; i++) h[8 + i] = (char)((hlen >> (8 * i)) & 0xff);
  }
  *hl = total;
  return CQUANT_STATUS_OK;
}

static size_t nbytes_of(cquant_dtype_t dt, int ndim, const int64_t *shape) {
  size_t n = 1;
  for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
  return n * dt_size(dt);
}

int cquant_npy_save(const char *path, cquant_dtype_t dt, int ndim, const int64_t *shape, const void *data) {
  char h[512];
  size_t hl;
  int st = make_header(dt, ndim, shape, h, sizeof h, &hl);
  if (st) return st;
  size_t nb = nbytes_of(dt, ndim, shape);
  if (nb && !data) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "npy: NULL data");
  cquant__afile_t a;
  st = cquant__afile_open(&a, path);
  if (!st) st = cquant__afile_write(&a, h, hl);
  if (!st) st = cquant__afile_write(&a, data, nb);
  if (!st) st = cquant__afile_commit(&a);
  return st;
}

int cquant_npy_serialize(cquant_dtype_t dt, int ndim, const int64_t *shape, const void *data, void **buf, size_t *len) {
  char h[512];
  size_t hl;
  int st = make_header(dt, ndim, shape, h, sizeof h, &hl);
  if (st) return st;
  size_t nb = nbytes_of(dt, ndim, shape);
  char *b = malloc(hl + nb + 1);
  if (!b) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "npy: out of memory");
  memcpy(b, h, hl);
  if (nb) memcpy(b + hl, data, nb);
  *buf = b;
  *len = hl + nb;
  return CQUANT_STATUS_OK;
}

int cquant_npy_load_float(const char *path, int allow_nonfinite, cquant_array_t *a) {
  int st = cquant_npy_load(path, a);
  if (st) return st;
  if (a->dtype == CQUANT_DT_F16) {
    cquant_array_t f;
    if ((st = cquant_array_alloc(&f, CQUANT_DT_F32, a->ndim, a->shape)) ||
        (st = cquant_convert_to_f32(a->data, (size_t)a->numel, CQUANT_DT_F16, f.data))) {
      cquant_array_free(a);
      return st;
    }
    cquant_array_free(a);
    *a = f;
  } else if (a->dtype != CQUANT_DT_F32) {
    st = cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s: holds %s; a float32 or float16 tensor is needed", path, cquant_dtype_info(a->dtype)->name);
    cquant_array_free(a);
    return st;
  }
  if (allow_nonfinite) return 0;
  const float *x = a->data;
  for (int64_t i = 0; i < a->numel; i++)
    if (!isfinite(x[i])) {
      st = cquant__error(CQUANT_STATUS_NOT_FINITE, "%s: element %lld is %s; cquant refuses NaN/Inf input (replace or remove them first)", path,
                         (long long)i, isnan(x[i]) ? "NaN" : (x[i] > 0 ? "+Inf" : "-Inf"));
      cquant_array_free(a);
      return st;
    }
  return 0;
}

