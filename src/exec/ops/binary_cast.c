/* Cast and CastLike between every pair of numeric element types (string tensors are out of scope).
 *  - to a float type: round to nearest even, once (a double goes to float16, bfloat16 and float8
 *    through float32 rounded to odd, which keeps the one rounding exact); float8 saturates to
 *    its largest finite value unless saturate=0 (opset 19);
 *  - a float to an integer: truncation toward zero; NaN gives 0; out of range (undefined in ONNX)
 *    goes through int64 (saturated there) and wraps, as numpy and ONNX Runtime do on x86-64;
 *    int4 and uint4 saturate (as ONNX Runtime does);
 *  - an integer to an integer wraps (int4/uint4 saturate); anything to bool is x != 0 (NaN true);
 *  - `to` is an element-type number, or its name before opset 6 ("FLOAT"). */
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "exec/ops/binary_internal.h"

/* float32 nearest to d, rounded to odd when inexact: a second rounding to a narrower float then
 * gives the correctly rounded result. */
static float f32_odd(double d) {
  float f = (float)d;
  if (isnan(d) || isinf(f) || (double)f == d) return f;
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if (fabs((double)f) > fabs(d)) u -= 1; /* one step toward zero: the truncated value */
  u |= 1;
  memcpy(&f, &u, sizeof f);
  return f;
}

static void st_float(void *y, cquant_dtype_t dt, int64_t i, double v, cquant_fp8_mode_t mode) {
  switch (dt) {
    case CQUANT_DT_F32: ((float *)y)[i] = (float)v; break;
    case CQUANT_DT_F64: ((double *)y)[i] = v; break;
    case CQUANT_DT_F16: ((uint16_t *)y)[i] = cquant_f32_to_f16(f32_odd(v)); break;
    case CQUANT_DT_BF16: ((uint16_t *)y)[i] = cquant_f32_to_bf16(f32_odd(v)); break;
    case CQUANT_DT_F8E4M3: ((uint8_t *)y)[i] = cquant_f32_to_f8e4m3(f32_odd(v), mode); break;
    case CQUANT_DT_F8E5M2: ((uint8_t *)y)[i] = cquant_f32_to_f8e5m2(f32_odd(v), mode); break;
    default: break;
  }
}

/* An integer value (v, or u when big says it is a uint64 past INT64_MAX) into an integer type. */
static void st_int(void *y, cquant_dtype_t dt, int64_t i, int64_t v, int big) {
  if (dt == CQUANT_DT_S4) ((int8_t *)y)[i] = (int8_t)(big || v > 7 ? 7 : v < -8 ? -8 : v);
  else if (dt == CQUANT_DT_U4) ((uint8_t *)y)[i] = (uint8_t)(big || v > 15 ? 15 : v < 0 ? 0 : v);
  else bin_st_i64(y, dt, i, v); /* wraps; a uint64 past INT64_MAX keeps its bits */
}

/* A float value into an integer type. */
static void st_int_f(void *y, cquant_dtype_t dt, int64_t i, double v) {
  if (dt == CQUANT_DT_BOOL) {
    ((uint8_t *)y)[i] = v != 0;
    return;
  }
  if (isnan(v)) v = 0;
  v = trunc(v);
  if (dt == CQUANT_DT_U64 && v >= 9.2233720368547758e18) {
    ((uint64_t *)y)[i] = v >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)v;
    return;
  }
  st_int(y, dt, i, v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v, 0);
}

static int is_floatish(cquant_dtype_t dt) {
  return dt == CQUANT_DT_F32 || dt == CQUANT_DT_F64 || dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16 || dt == CQUANT_DT_F8E4M3 ||
         dt == CQUANT_DT_F8E5M2;
}

/* Typed loops for the casts real models run most. 1 when one applied. */
#define CAST_LOOP(TI, TO, EXPR)                             \
  do {                                                      \
    const TI *a_ = (const TI *)x->data;                     \
    TO *o_ = (TO *)y->data;                                 \
    for (int64_t i_ = 0; i_ < n; i_++) {                    \
      const TI v = a_[i_];                                  \
      o_[i_] = (TO)(EXPR);                                  \
    }                                                       \
  } while (0)
#define F2I(v) (isnan(v) ? 0 : (v) >= 9.2233720368547758e18f ? INT64_MAX : (v) <= -9.2233720368547758e18f ? INT64_MIN : (int64_t)(v))

static int fast_cast(const cquant_array_t *x, cquant_array_t *y, cquant_fp8_mode_t mode) {
  const cquant_dtype_t from = x->dtype, to = y->dtype;
  const int64_t n = x->numel;
  if (from == CQUANT_DT_F32) {
    switch (to) {
      case CQUANT_DT_F16: case CQUANT_DT_BF16: case CQUANT_DT_F8E4M3: case CQUANT_DT_F8E5M2:
        cquant_convert_from_f32(x->data, (size_t)n, to, mode, y->data);
        return 1;
      case CQUANT_DT_F64: CAST_LOOP(float, double, v); return 1;
      case CQUANT_DT_S64: CAST_LOOP(float, int64_t, F2I(v)); return 1;
      case CQUANT_DT_S32: CAST_LOOP(float, int32_t, F2I(v)); return 1;
      case CQUANT_DT_U8: CAST_LOOP(float, uint8_t, F2I(v)); return 1;
      case CQUANT_DT_S8: CAST_LOOP(float, int8_t, F2I(v)); return 1;
      case CQUANT_DT_BOOL: CAST_LOOP(float, uint8_t, v != 0); return 1;
      default: return 0;
    }
  }
  if (to == CQUANT_DT_F32) {
    switch (from) {
      case CQUANT_DT_F16: case CQUANT_DT_BF16: case CQUANT_DT_F8E4M3: case CQUANT_DT_F8E5M2:
        cquant_convert_to_f32(x->data, (size_t)n, from, y->data);
        return 1;
      case CQUANT_DT_F64: CAST_LOOP(double, float, v); return 1;
      case CQUANT_DT_S64: CAST_LOOP(int64_t, float, v); return 1;
      case CQUANT_DT_S32: CAST_LOOP(int32_t, float, v); return 1;
      case CQUANT_DT_U8: CAST_LOOP(uint8_t, float, v); return 1;
      case CQUANT_DT_S8: CAST_LOOP(int8_t, float, v); return 1;
      case CQUANT_DT_BOOL: CAST_LOOP(uint8_t, float, v != 0); return 1;
      default: return 0;
    }
  }
  if (from == CQUANT_DT_S64 && to == CQUANT_DT_S32) { CAST_LOOP(int64_t, int32_t, v); return 1; }
  if (from == CQUANT_DT_S32 && to == CQUANT_DT_S64) { CAST_LOOP(int32_t, int64_t, v); return 1; }
  if (from == CQUANT_DT_BOOL && to == CQUANT_DT_S64) { CAST_LOOP(uint8_t, int64_t, v != 0); return 1; }
  if (from == CQUANT_DT_S64 && to == CQUANT_DT_BOOL) { CAST_LOOP(int64_t, uint8_t, v != 0); return 1; }
  return 0;
}

/* y (allocated here) = x cast to `to`. */
static int cast_array(const Onnx__NodeProto *node, const cquant_array_t *x, cquant_dtype_t to, int saturate, cquant_array_t *y) {
  int st = cquant_array_alloc(y, to, x->ndim, x->shape);
  if (st) return st;
  const cquant_dtype_t from = x->dtype;
  if (from == to) {
    if (x->nbytes) memcpy(y->data, x->data, x->nbytes);
    return CQUANT_STATUS_OK;
  }
  const cquant_fp8_mode_t mode = saturate ? CQUANT_FP8_SATURATE : CQUANT_FP8_NONSATURATE;
  if (fast_cast(x, y, mode)) return CQUANT_STATUS_OK;
  const int ff = is_floatish(from), tf = is_floatish(to);
  for (int64_t i = 0; i < x->numel; i++) {
    if (ff) {
      const double v = bin_ld_f64(x->data, from, i);
      if (tf) st_float(y->data, to, i, v, mode);
      else st_int_f(y->data, to, i, v);
    } else if (from == CQUANT_DT_U64) {
      const uint64_t u = ((const uint64_t *)x->data)[i];
      if (tf) st_float(y->data, to, i, to == CQUANT_DT_F32 ? (double)(float)u : (double)u, mode); /* float32: one rounding */
      else st_int(y->data, to, i, (int64_t)u, u > INT64_MAX);
    } else {
      int64_t v = bin_ld_i64(x->data, from, i);
      if (from == CQUANT_DT_BOOL) v = v != 0;
      if (to == CQUANT_DT_F32) ((float *)y->data)[i] = (float)v; /* one rounding */
      else if (tf) st_float(y->data, to, i, (double)v, mode);
      else st_int(y->data, to, i, v, 0);
    }
  }
  return CQUANT_STATUS_OK;
}

static int supported(cquant_dtype_t dt) { return bin_is_numeric(dt); }

static int saturate_attr(const Onnx__NodeProto *node, int *sat) {
  const int64_t s = cquant__attr_int(node, "saturate", 1);
  if (s != 0 && s != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "saturate must be 0 or 1, got %lld", (long long)s);
  *sat = (int)s;
  return CQUANT_STATUS_OK;
}

static int same_name(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (toupper((unsigned char)*a) != *b) return 0;
  return !*a && !*b;
}

/* The element-type names Cast-1 took as strings. */
static const char *const type_names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
                                         "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};

int cquant__bin_op_cast(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                        int n_out) {
  if (n_in < 1 || !in[0]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "needs the input");
  const Onnx__AttributeProto *a = cquant__attr(node, "to");
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the attribute 'to' is missing");
  int64_t t = -1;
  if (a->has_s || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
    const char *s = cquant__attr_string(node, "to", "");
    for (size_t k = 1; k < sizeof type_names / sizeof type_names[0]; k++)
      if (same_name(s, type_names[k])) t = (int64_t)k;
    if (t < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "'to' names no element type: '%s'", s);
  } else {
    t = a->i;
  }
  if (t == ONNX__TENSOR_PROTO__DATA_TYPE__STRING) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "string tensors are not supported");
  const int to = t > 0 && t < 64 ? cquant__dtype_from_onnx((int32_t)t) : -1;
  if (to < 0 || !supported((cquant_dtype_t)to))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "casting to element type %lld is not supported", (long long)t);
  if (!supported(in[0]->dtype)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s input is not supported", bin_tname(in[0]->dtype));
  int sat = 1, st;
  if ((st = saturate_attr(node, &sat))) return st;
  return cast_array(node, in[0], (cquant_dtype_t)to, sat, &out[0]);
}

int cquant__bin_op_cast_like(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                             int n_out) {
  if (n_in < 2 || !in[0] || !in[1]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "needs the inputs input and target_type");
  if (!supported(in[0]->dtype) || !supported(in[1]->dtype))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "casting %s to %s is not supported", bin_tname(in[0]->dtype), bin_tname(in[1]->dtype));
  int sat = 1, st;
  if ((st = saturate_attr(node, &sat))) return st;
  return cast_array(node, in[0], in[1]->dtype, sat, &out[0]);
}
