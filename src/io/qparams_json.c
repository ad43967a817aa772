/* Quantization parameters as JSON (docs/formats.md), through cJSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "io/file.h"

static const char *gran_names[] = {"per_tensor", "per_channel", "per_group"};

static cJSON *int_array(const int64_t *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
  return a;
}

int cquant_qparams_to_json(const cquant_qparams_t *qp, cquant_layout_t layout, char **json) {
  if (!qp || !json) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qparams json: NULL argument");
  cJSON *o = cJSON_CreateObject();
  if (!o) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qparams json: out of memory");
  int64_t pshape[CQUANT_MAX_DIMS];
  cquant_qparams_param_shape(qp, pshape);
  cJSON_AddStringToObject(o, "format", "cquant-qparams");
  cJSON_AddNumberToObject(o, "version", 1);
  cJSON_AddStringToObject(o, "dtype", cquant_dtype_info(qp->dtype)->name);
  cJSON_AddStringToObject(o, "granularity", gran_names[qp->granularity]);
  cJSON_AddNumberToObject(o, "axis", qp->axis);
  cJSON_AddNumberToObject(o, "group_size", (double)qp->group_size);
  cJSON_AddBoolToObject(o, "symmetric", (qp->flags & CQUANT_QF_SYMMETRIC) != 0);
  cJSON_AddBoolToObject(o, "narrow_range", (qp->flags & CQUANT_QF_NARROW_RANGE) != 0);
  cJSON_AddBoolToObject(o, "short_last_group", (qp->flags & CQUANT_QF_ALLOW_SHORT_GROUP) != 0);
  cJSON_AddStringToObject(o, "rounding", qp->rounding == CQUANT_ROUND_RECIP ? "recip" : "div");
  cJSON_AddNumberToObject(o, "qmin", qp->qmin);
  cJSON_AddNumberToObject(o, "qmax", qp->qmax);
  cJSON_AddItemToObject(o, "shape", int_array(qp->shape, qp->ndim));
  cJSON_AddItemToObject(o, "param_shape", int_array(pshape, qp->ndim));
  cJSON_AddStringToObject(o, "layout", layout == CQUANT_LAYOUT_PACKED ? "packed" : "unpacked");
  cJSON *s = cJSON_CreateArray(), *z = cJSON_CreateArray();
  char num[32];
  for (int64_t i = 0; s && z && i < qp->count; i++) {
    snprintf(num, sizeof num, "%.9g", qp->scale[i]); /* 9 significant digits round-trip float32 */
    cJSON_AddItemToArray(s, cJSON_CreateRaw(num));
    cJSON_AddItemToArray(z, cJSON_CreateNumber(qp->zero_point[i]));
  }
  cJSON_AddItemToObject(o, "scale", s);
  cJSON_AddItemToObject(o, "zero_point", z);
  char *text = cJSON_Print(o);
  cJSON_Delete(o);
  if (!text) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qparams json: out of memory");
  *json = text;
  return CQUANT_STATUS_OK;
}

static int get_num(const cJSON *o, const char *key, double *v, int required) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!it) return required ? cquant__error(CQUANT_STATUS_BAD_FORMAT, "qparams: missing \"%s\"", key) : 1;
  if (!cJSON_IsNumber(it)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "qparams: \"%s\" is not a number", key);
  *v = it->valuedouble;
  return CQUANT_STATUS_OK;
}

static int get_bool(const cJSON *o, const char *key, int *v) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!it) { *v = 0; return CQUANT_STATUS_OK; }
  if (!cJSON_IsBool(it)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "qparams: \"%s\" is not true/false", key);
  *v = cJSON_IsTrue(it);
  return CQUANT_STATUS_OK;
}

static int is_int(double v, double lo, double hi) { return v == floor(v) && v >= lo && v <= hi; }

/* An optional number: absent, null or equal to `none` counts as not given (returns 1). */
static int get_opt_num(const cJSON *o, const char *key, double none, double *v) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!it || cJSON_IsNull(it)) return 1;
  if (!cJSON_IsNumber(it)) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "qparams: \"%s\" is not a number", key);
  *v = it->valuedouble;
  return it->valuedouble == none ? 1 : CQUANT_STATUS_OK;
}

/* hint_shape (may be NULL): the shape of the tensor the parameters are for, used when the document
 * has no "shape" and describes unpacked data. */
static int parse_qparams(const char *json, int hint_ndim, const int64_t *hint_shape, cquant_qparams_t **out,
                         cquant_layout_t *layout) {
  if (!json || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qparams json: NULL argument");
  *out = NULL;
  cJSON *o = cJSON_Parse(json);
  if (!o) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "qparams: not valid JSON");
  int st = CQUANT_STATUS_OK;
  cquant_qparams_t *qp = NULL;
  const cJSON *it;
  cquant_dtype_t dt;
  int gran = -1, sym = 0, narrow = 0, shortg = 0, ndim = 0, has_axis, has_gs, packed;
  double axis = -1, gs = 0, v = 0;
  int64_t shape[CQUANT_MAX_DIMS];
#define FAIL(...) do { st = cquant__error(CQUANT_STATUS_BAD_FORMAT, __VA_ARGS__); goto done; } while (0)
  if (!cJSON_IsObject(o)) FAIL("qparams: the document is not a JSON object");
  it = cJSON_GetObjectItemCaseSensitive(o, "dtype");
  if (!cJSON_IsString(it)) FAIL("qparams: missing \"dtype\"");
  if ((st = cquant_dtype_from_name(it->valuestring, &dt))) goto done;
  /* axis -1 or null and group_size 0 or null mean "none", as cquant writes them */
  if ((has_axis = get_opt_num(o, "axis", -1, &axis)) < 0 || (has_gs = get_opt_num(o, "group_size", 0, &gs)) < 0) {
    st = has_axis < 0 ? has_axis : has_gs;
    goto done;
  }
  has_axis = !has_axis, has_gs = !has_gs;
  if (!has_axis) axis = -1;
  if (!has_gs) gs = 0;
  it = cJSON_GetObjectItemCaseSensitive(o, "granularity");
  if (it) {
    if (!cJSON_IsString(it)) FAIL("qparams: \"granularity\" is not a string");
    for (int i = 0; i < 3; i++) if (strcmp(it->valuestring, gran_names[i]) == 0) gran = i;
    if (gran < 0) FAIL("qparams: unknown granularity \"%s\"", it->valuestring);
    if (gran == CQUANT_PER_TENSOR && (has_axis || has_gs))
      FAIL("qparams: granularity \"per_tensor\" contradicts the %s given", has_axis ? "\"axis\"" : "\"group_size\"");
    if (gran == CQUANT_PER_CHANNEL && has_gs) FAIL("qparams: granularity \"per_channel\" contradicts the \"group_size\" given");
    if (gran != CQUANT_PER_TENSOR && !has_axis) FAIL("qparams: granularity \"%s\" needs \"axis\"", gran_names[gran]);
    if (gran == CQUANT_PER_GROUP && !has_gs) FAIL("qparams: granularity \"per_group\" needs \"group_size\"");
  } else { /* inferred: nothing -> per-tensor, axis -> per-channel, axis and group_size -> per-group */
    if (has_gs && !has_axis) FAIL("qparams: \"group_size\" needs an \"axis\"");
    gran = has_gs ? CQUANT_PER_GROUP : has_axis ? CQUANT_PER_CHANNEL : CQUANT_PER_TENSOR;
  }
  if ((st = get_bool(o, "symmetric", &sym)) || (st = get_bool(o, "narrow_range", &narrow)) ||
      (st = get_bool(o, "short_last_group", &shortg)))
    goto done;
  it = cJSON_GetObjectItemCaseSensitive(o, "layout");
  packed = it && cJSON_IsString(it) && strcmp(it->valuestring, "packed") == 0;
  it = cJSON_GetObjectItemCaseSensitive(o, "shape");
  if (it) {
    if (!cJSON_IsArray(it)) FAIL("qparams: \"shape\" is not a list");
    ndim = cJSON_GetArraySize(it);
    if (ndim > CQUANT_MAX_DIMS) FAIL("qparams: \"shape\" has more than %d dimensions", CQUANT_MAX_DIMS);
    for (int d = 0; d < ndim; d++) {
      const cJSON *e = cJSON_GetArrayItem(it, d);
      if (!cJSON_IsNumber(e) || !is_int(e->valuedouble, 0, 9.0e15)) FAIL("qparams: \"shape\"[%d] is not a dimension", d);
      shape[d] = (int64_t)e->valuedouble;
    }
  } else if (hint_shape && !packed) {
    if (hint_ndim < 0 || hint_ndim > CQUANT_MAX_DIMS) FAIL("qparams: the tensor has %d dimensions", hint_ndim);
    ndim = hint_ndim;
    memcpy(shape, hint_shape, sizeof(int64_t) * (size_t)ndim);
  } else {
    FAIL("qparams: missing \"shape\"%s", packed ? " (a packed layout needs it)" : "");
  }
  if (!is_int(axis, -1, CQUANT_MAX_DIMS) || !is_int(gs, 0, 9.0e15)) FAIL("qparams: bad \"axis\" or \"group_size\"");
  unsigned flags = (sym ? CQUANT_QF_SYMMETRIC : 0) | (narrow ? CQUANT_QF_NARROW_RANGE : 0) | (shortg ? CQUANT_QF_ALLOW_SHORT_GROUP : 0);
  {
    /* the layout's parameter count must match the lists before anything is allocated for it */
    cquant_qparams_t probe = {.granularity = (cquant_granularity_t)gran, .axis = (int)axis, .group_size = (int64_t)gs, .ndim = ndim};
    memcpy(probe.shape, shape, sizeof(int64_t) * (size_t)ndim);
    int64_t pshape[CQUANT_MAX_DIMS];
    double count = 1;
    if (gran == CQUANT_PER_GROUP && gs < 1) FAIL("qparams: \"group_size\" must be at least 1");
    if (gran != CQUANT_PER_TENSOR && (axis < 0 || axis >= ndim)) FAIL("qparams: \"axis\" %g out of range for %d dimensions", axis, ndim);
    cquant_qparams_param_shape(&probe, pshape);
    for (int d = 0; d < ndim; d++) count *= (double)pshape[d];
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(o, "scale");
    if (!cJSON_IsArray(sl)) FAIL("qparams: missing \"scale\" list");
    if (gran == CQUANT_PER_CHANNEL && (double)cJSON_GetArraySize(sl) != count)
      FAIL("qparams: \"scale\" has %d entries, axis %g of the tensor has length %.0f", cJSON_GetArraySize(sl), axis, count);
    if ((double)cJSON_GetArraySize(sl) != count)
      FAIL("qparams: \"scale\" has %d entries, the layout needs %.0f", cJSON_GetArraySize(sl), count);
  }
  if ((st = cquant_qparams_create(dt, (cquant_granularity_t)gran, (int)axis, (int64_t)gs, flags, ndim, shape, &qp))) goto done;
  it = cJSON_GetObjectItemCaseSensitive(o, "rounding");
  if (it) {
    if (!cJSON_IsString(it) || (strcmp(it->valuestring, "div") && strcmp(it->valuestring, "recip")))
      FAIL("qparams: \"rounding\" must be \"div\" or \"recip\"");
    qp->rounding = strcmp(it->valuestring, "recip") == 0 ? CQUANT_ROUND_RECIP : CQUANT_ROUND_DIV;
  }
  if (get_num(o, "qmin", &v, 0) == 0 && v != qp->qmin) FAIL("qparams: \"qmin\" %g does not match %s%s", v, cquant_dtype_info(dt)->name, narrow ? " narrow range" : "");
  if (get_num(o, "qmax", &v, 0) == 0 && v != qp->qmax) FAIL("qparams: \"qmax\" %g does not match %s", v, cquant_dtype_info(dt)->name);
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "scale"), *z = cJSON_GetObjectItemCaseSensitive(o, "zero_point");
  if (!cJSON_IsArray(s)) FAIL("qparams: missing \"scale\" list");
  if (cJSON_GetArraySize(s) != qp->count) FAIL("qparams: \"scale\" has %d entries, the layout needs %lld", cJSON_GetArraySize(s), (long long)qp->count);
  if (z && (!cJSON_IsArray(z) || cJSON_GetArraySize(z) != qp->count)) FAIL("qparams: \"zero_point\" must be a list of %lld entries", (long long)qp->count);
  for (int64_t i = 0; i < qp->count; i++) {
    const cJSON *e = cJSON_GetArrayItem(s, (int)i);
    if (!cJSON_IsNumber(e)) FAIL("qparams: \"scale\"[%lld] is not a number", (long long)i);
    qp->scale[i] = (float)e->valuedouble;
    if (z) {
      e = cJSON_GetArrayItem(z, (int)i);
      if (!cJSON_IsNumber(e) || !is_int(e->valuedouble, -2147483648.0, 2147483647.0)) FAIL("qparams: \"zero_point\"[%lld] is not an integer", (long long)i);
      qp->zero_point[i] = (int32_t)e->valuedouble;
    }
  }
  if ((st = cquant_qparams_validate(qp))) goto done;
  if (layout) *layout = packed ? CQUANT_LAYOUT_PACKED : CQUANT_LAYOUT_UNPACKED;
#undef FAIL
done:
  cJSON_Delete(o);
  if (st) {
    cquant_qparams_destroy(qp);
    return st;
  }
  *out = qp;
  return CQUANT_STATUS_OK;
}

int cquant_qparams_from_json(const char *json, cquant_qparams_t **out, cquant_layout_t *layout) {
  return parse_qparams(json, 0, NULL, out, layout);
}

int cquant_qparams_from_json_for(const char *json, int ndim, const int64_t *shape, cquant_qparams_t **out,
                                 cquant_layout_t *layout) {
  if (!shape && ndim) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qparams json: NULL shape");
  static const int64_t none[1] = {0};
  return parse_qparams(json, ndim, shape ? shape : none, out, layout);
}

int cquant_qparams_save(const char *path, const cquant_qparams_t *qp, cquant_layout_t layout) {
  char *text;
  int st = cquant_qparams_to_json(qp, layout, &text);
  if (st) return st;
  cquant__afile_t a;
  st = cquant__afile_open(&a, path);
  if (!st) st = cquant__afile_write(&a, text, strlen(text));
  if (!st) st = cquant__afile_write(&a, "\n", 1);
  if (!st) st = cquant__afile_commit(&a);
  free(text);
  return st;
}

int cquant_qparams_load(const char *path, cquant_qparams_t **out, cquant_layout_t *layout) {
  return cquant_qparams_load_for(path, -1, NULL, out, layout);
}

/* ndim < 0: no tensor shape to complete the document with. */
int cquant_qparams_load_for(const char *path, int ndim, const int64_t *shape, cquant_qparams_t **out,
                            cquant_layout_t *layout) {
  void *buf;
  size_t len;
  int st = cquant_file_read(path, &buf, &len);
  if (st) return st;
  st = ndim < 0 ? cquant_qparams_from_json((const char *)buf, out, layout)
                : cquant_qparams_from_json_for((const char *)buf, ndim, shape, out, layout);
  free(buf);
  if (st) return cquant__error_prefix(st, path);
  return CQUANT_STATUS_OK;
}
