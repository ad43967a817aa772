#define _FILE_OFFSET_BITS 64
/* TensorProto <-> cquant arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "onnx/onnx_internal.h"

int cquant__dtype_from_onnx(int32_t t) {
  switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return CQUANT_DT_F32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return CQUANT_DT_U8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return CQUANT_DT_S8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return CQUANT_DT_U16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return CQUANT_DT_S16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return CQUANT_DT_S32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return CQUANT_DT_S64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return CQUANT_DT_BOOL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: return CQUANT_DT_F16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return CQUANT_DT_F64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return CQUANT_DT_U32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return CQUANT_DT_U64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return CQUANT_DT_BF16;
    case 17: return CQUANT_DT_F8E4M3; /* FLOAT8E4M3FN */
    case 19: return CQUANT_DT_F8E5M2; /* FLOAT8E5M2 */
    case 21: return CQUANT_DT_U4;     /* UINT4, two per byte */
    case 22: return CQUANT_DT_S4;     /* INT4, two per byte */
    default: return -1;
  }
}

int32_t cquant__dtype_to_onnx(cquant_dtype_t dt) {
  for (int32_t t = 1; t <= 22; t++)
    if (cquant__dtype_from_onnx(t) == (int)dt) return t;
  return 0;
}

size_t cquant__dtype_size(cquant_dtype_t dt) {
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  return info ? (size_t)(info->bits + 7) / 8 : 1; /* sub-byte types: one per byte in an array */
}

/* A tensor stored outside the model (data_location EXTERNAL): location (relative to the model's
 * folder, no '..' and not absolute), offset and length, as onnx.save_model(save_as_external_data)
 * writes them. */
static int external(const Onnx__TensorProto *t, const char *name, const char *dir, size_t nb, cquant_array_t *out, int dt, int nd,
                    const int64_t *shape) {
  const char *loc = NULL;
  long long offset = 0, length = -1;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = t->external_data[i];
    if (!e->key || !e->value) continue;
    char *end;
    if (!strcmp(e->key, "location")) loc = e->value;
    else if (!strcmp(e->key, "offset") && ((offset = strtoll(e->value, &end, 10)) < 0 || *end))
      return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': bad external data offset '%s'", name, e->value);
    else if (!strcmp(e->key, "length") && ((length = strtoll(e->value, &end, 10)) < 0 || *end))
      return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': bad external data length '%s'", name, e->value);
  }
  if (!loc || !*loc) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': external data without a location", name);
  if (!dir) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "tensor '%s': external data needs the model to be read from a file", name);
  if (loc[0] == '/' || strstr(loc, ".."))
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': external data location '%s' leaves the model's folder", name, loc);
  if (length >= 0 && (size_t)length != nb)
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': external data length %lld, the shape needs %zu bytes", name, length, nb);
  size_t pl = strlen(dir) + strlen(loc) + 2;
  char *path = malloc(pl);
  if (!path) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  snprintf(path, pl, "%s/%s", dir, loc);
  FILE *f = fopen(path, "rb");
  if (!f) {
    int st = cquant__error(CQUANT_STATUS_IO, "tensor '%s': cannot open external data file %s", name, path);
    free(path);
    return st;
  }
  /* the file must hold the bytes before anything is allocated for them */
  struct stat sb;
  int st = 0;
  if (fstat(fileno(f), &sb) || sb.st_size < 0 || (unsigned long long)sb.st_size < (unsigned long long)offset + nb)
    st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': %s holds fewer than %lld + %zu bytes", name, path, offset, nb);
  if (!st) st = cquant_array_alloc(out, (cquant_dtype_t)dt, nd, shape);
  if (!st && (fseeko(f, (off_t)offset, SEEK_SET) || (nb && fread(out->data, 1, nb, f) != nb))) {
    st = cquant__error(CQUANT_STATUS_IO, "tensor '%s': cannot read %zu bytes at %lld of %s", name, nb, offset, path);
    cquant_array_free(out);
  }
  fclose(f);
  free(path);
  return st;
}

void cquant__unpack4(const void *src, int64_t n, int is_signed, void *dst) {
  const uint8_t *p = src;
  uint8_t *q = dst;
  for (int64_t i = 0; i < n; i++) {
    int v = (p[i / 2] >> (4 * (i & 1))) & 15;
    q[i] = (uint8_t)(is_signed && v >= 8 ? v - 16 : v);
  }
}

int cquant__tensor_from_proto(const Onnx__TensorProto *t, cquant_array_t *out) { return cquant__tensor_from_proto_dir(t, NULL, out); }

int cquant__tensor_from_proto_dir(const Onnx__TensorProto *t, const char *dir, cquant_array_t *out) {
  memset(out, 0, sizeof *out);
  const char *name = t->name ? t->name : "(unnamed)";
  int dt = t->has_data_type ? cquant__dtype_from_onnx(t->data_type) : -1;
  if (dt < 0) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "tensor '%s': element type %d is not supported", name, (int)t->data_type);
  if (t->n_dims > CQUANT_MAX_DIMS) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "tensor '%s': more than %d dimensions", name, CQUANT_MAX_DIMS);
  const int ext = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  int64_t shape[CQUANT_MAX_DIMS], n = 1;
  for (size_t d = 0; d < t->n_dims; d++) {
    if (t->dims[d] < 0 || (t->dims[d] && n > ((int64_t)1 << 40) / t->dims[d]))
      return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': bad dimension %lld", name, (long long)t->dims[d]);
    shape[d] = t->dims[d];
    n *= t->dims[d];
  }
  const int packed4 = dt == CQUANT_DT_S4 || dt == CQUANT_DT_U4; /* two per byte in the file, one per byte here */
  const size_t es = cquant__dtype_size((cquant_dtype_t)dt), nb = packed4 ? (size_t)(n + 1) / 2 : (size_t)n * es;
  /* where the values are, and how many */
  if (packed4 && (ext || !t->has_raw_data)) {
    cquant_array_t tmp;
    int st = ext ? external(t, name, dir, nb, &tmp, CQUANT_DT_U8, 1, (int64_t[]){(int64_t)nb}) : CQUANT_STATUS_OK;
    if (!ext) {
      if (t->n_int32_data != nb) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': %zu values for %lld packed 4-bit elements", name, t->n_int32_data, (long long)n);
      st = cquant_array_alloc(&tmp, CQUANT_DT_U8, 1, (int64_t[]){(int64_t)nb});
      for (size_t i = 0; !st && i < nb; i++) ((uint8_t *)tmp.data)[i] = (uint8_t)t->int32_data[i];
    }
    if (st) return st;
    if (!(st = cquant_array_alloc(out, (cquant_dtype_t)dt, (int)t->n_dims, shape))) cquant__unpack4(tmp.data, n, dt == CQUANT_DT_S4, out->data);
    cquant_array_free(&tmp);
    return st;
  }
  if (ext) return external(t, name, dir, nb, out, dt, (int)t->n_dims, shape);
  size_t have;
  if (t->has_raw_data) have = t->raw_data.len / es * (t->raw_data.len % es == 0);
  else if (dt == CQUANT_DT_F32) have = t->n_float_data;
  else if (dt == CQUANT_DT_S64) have = t->n_int64_data;
  else if (dt == CQUANT_DT_F64) have = t->n_double_data;
  else if (dt == CQUANT_DT_U32 || dt == CQUANT_DT_U64) have = t->n_uint64_data;
  else have = t->n_int32_data; /* int32_data carries bool/int8/uint8/int16/uint16/int32 and float16/bfloat16/float8 bits */
  if (t->has_raw_data && t->raw_data.len != nb)
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': raw_data has %zu bytes, the shape needs %zu", name, t->raw_data.len, nb);
  if (!t->has_raw_data && have != (size_t)n)
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "tensor '%s': %zu values for a shape of %lld", name, have, (long long)n);
  int st = cquant_array_alloc(out, (cquant_dtype_t)dt, (int)t->n_dims, shape);
  if (st) return st;
  if (t->has_raw_data) { /* little-endian on disk, as here */
    if (packed4) cquant__unpack4(t->raw_data.data, n, dt == CQUANT_DT_S4, out->data);
    else if (nb) memcpy(out->data, t->raw_data.data, nb);
    if (dt == CQUANT_DT_BOOL)
      for (int64_t i = 0; i < n; i++) ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
      case CQUANT_DT_F32: ((float *)out->data)[i] = t->float_data[i]; break;
      case CQUANT_DT_S64: ((int64_t *)out->data)[i] = t->int64_data[i]; break;
      case CQUANT_DT_S32: ((int32_t *)out->data)[i] = t->int32_data[i]; break;
      case CQUANT_DT_S16: ((int16_t *)out->data)[i] = (int16_t)t->int32_data[i]; break;
      case CQUANT_DT_F16: case CQUANT_DT_BF16: case CQUANT_DT_U16: ((uint16_t *)out->data)[i] = (uint16_t)t->int32_data[i]; break; /* the bits */
      case CQUANT_DT_F64: ((double *)out->data)[i] = t->double_data[i]; break;
      case CQUANT_DT_U64: ((uint64_t *)out->data)[i] = t->uint64_data[i]; break;
      case CQUANT_DT_U32: ((uint32_t *)out->data)[i] = (uint32_t)t->uint64_data[i]; break;
      case CQUANT_DT_BOOL: ((uint8_t *)out->data)[i] = t->int32_data[i] != 0; break;
      case CQUANT_DT_S8: ((int8_t *)out->data)[i] = (int8_t)t->int32_data[i]; break;
      default: ((uint8_t *)out->data)[i] = (uint8_t)t->int32_data[i]; break;
    }
  }
  return CQUANT_STATUS_OK;
}

int cquant_tensorproto_parse(const void *buf, size_t len, cquant_array_t *out, char **name) {
  if (!out || (!buf && len)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "tensorproto: NULL argument");
  memset(out, 0, sizeof *out);
  if (name) *name = NULL;
  Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
  if (!t) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "not a serialized ONNX TensorProto");
  int st = cquant__tensor_from_proto(t, out);
  if (!st && name && t->name) *name = strdup(t->name);
  onnx__tensor_proto__free_unpacked(t, NULL);
  return st;
}

void cquant__pack4(const void *src, int64_t n, void *dst) {
  const uint8_t *p = src;
  uint8_t *q = dst;
  for (int64_t i = 0; i + 1 < n; i += 2) q[i / 2] = (uint8_t)((p[i] & 15) | (p[i + 1] & 15) << 4);
  if (n & 1) q[n / 2] = p[n - 1] & 15; /* an odd count: the last byte's high nibble is 0 */
}

int cquant__tensor_raw_packs(const cquant_array_t *a) { return a->dtype == CQUANT_DT_S4 || a->dtype == CQUANT_DT_U4; }

size_t cquant__tensor_raw_size(const cquant_array_t *a) {
  return cquant__tensor_raw_packs(a) ? (size_t)(a->numel + 1) / 2 : a->nbytes;
}

const void *cquant__tensor_raw(const cquant_array_t *a, void *buf) {
  if (!cquant__tensor_raw_packs(a)) return a->data;
  cquant__pack4(a->data, a->numel, buf);
  return buf;
}
