/* PRelu and Clip of the math family, for every float and integer element type: the two math
 * operators with a second operand (PRelu's slope, Clip's bounds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "core/internal.h"
#include "exec/ops/math_internal.h"

static int is_unsigned(cquant_dtype_t dt) {
  return dt == CQUANT_DT_U8 || dt == CQUANT_DT_U16 || dt == CQUANT_DT_U32 || dt == CQUANT_DT_U64 || dt == CQUANT_DT_U4 ||
         dt == CQUANT_DT_U2;
}
static int is_numeric(cquant_dtype_t dt) { return cquant_dtype_info(dt) && dt != CQUANT_DT_BOOL; }

/* b broadcasts to x in one direction (numpy rules). */
static int bcasts(const cquant_array_t *x, const cquant_array_t *b) {
  if (b->ndim > x->ndim) return 0;
  for (int d = 0; d < b->ndim; d++)
    if (b->shape[d] != 1 && b->shape[d] != x->shape[d + x->ndim - b->ndim]) return 0;
  return 1;
}

/* PRelu: y = x < 0 ? slope x : x, slope broadcast to X (opset >= 7). Opsets 1 and 6 also take a
 * slope of one value per channel (axis 1), which numpy rules would not align. */
int cquant__op_math_prelu(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                          int n_out) {
  (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0], *s = in[1];
  if (!x || !s) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs X and slope are required");
  if (s->dtype != x->dtype)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "slope is %s, X is %s", cquant_dtype_info(s->dtype)->name,
                              cquant_dtype_info(x->dtype)->name);
  if (!is_numeric(x->dtype))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "X is %s; a numeric type is expected", cquant_dtype_info(x->dtype)->name);
  cquant__bidx_t ix;
  int st;
  if (cquant__opset(ctx) < 7 && !bcasts(x, s) && x->ndim >= 2 && s->numel == x->shape[1]) {
    memset(&ix, 0, sizeof ix);
    ix.mode = 1;
    ix.n = s->numel;
    ix.inner = 1;
    for (int d = 2; d < x->ndim; d++) ix.inner *= x->shape[d];
    if (!ix.inner || !ix.n) ix.mode = 0;
  } else if ((st = cquant__math_bidx(node, x, s, "slope", &ix))) {
    return st;
  }
  /* float32 writes every element below: no zero-fill first */
  if ((st = (x->dtype == CQUANT_DT_F32 ? cquant__array_alloc_uninit : cquant_array_alloc)(&out[0], x->dtype, x->ndim, x->shape))) return st;
  const int64_t n = x->numel;
  if (x->dtype == CQUANT_DT_F32) {
    const float *xv = x->data, *sv = s->data;
    float *y = out[0].data;
    if (ix.mode == 0) {
      cquant__math_leakyrelu_f32(xv, y, n, n ? sv[0] : 0);
    } else if (ix.mode == 1) {
      const int64_t inner = ix.inner, c = ix.n;
      if (inner == 1) /* one slope per element of the last axis */
        for (int64_t i = 0, k = 0; i < n; i++, k = k + 1 == c ? 0 : k + 1) y[i] = xv[i] < 0 ? sv[k] * xv[i] : xv[i];
      else
        for (int64_t o = 0; o < n; o += inner * c)
          for (int64_t k = 0; k < c; k++) cquant__math_leakyrelu_f32(xv + o + k * inner, y + o + k * inner, inner, sv[k]);
    } else {
      for (int64_t i = 0; i < n; i++) y[i] = xv[i] < 0 ? sv[cquant__math_bidx_at(&ix, i)] * xv[i] : xv[i];
    }
    return CQUANT_STATUS_OK;
  }
  if (x->dtype == CQUANT_DT_F64) {
    const double *xv = x->data, *sv = s->data;
    double *y = out[0].data;
    for (int64_t i = 0; i < n; i++) y[i] = xv[i] < 0 ? sv[cquant__math_bidx_at(&ix, i)] * xv[i] : xv[i];
    return CQUANT_STATUS_OK;
  }
  if (cquant__is_float(x->dtype)) { /* float16, bfloat16, fp8: the product is computed in float32 */
    for (int64_t i = 0; i < n; i++) {
      const float v = (float)cquant__get_f64(x, i);
      cquant__set_f64(&out[0], i, v < 0 ? (float)cquant__get_f64(s, cquant__math_bidx_at(&ix, i)) * v : v);
    }
    return CQUANT_STATUS_OK;
  }
  const int u = is_unsigned(x->dtype);
  for (int64_t i = 0; i < n; i++) {
    const int64_t v = cquant__get_i64(x, i);
    if (!u && v < 0) {
      const uint64_t a = (uint64_t)cquant__get_i64(s, cquant__math_bidx_at(&ix, i));
      cquant__set_i64(&out[0], i, (int64_t)(a * (uint64_t)v)); /* wraps as the type does */
    } else {
      cquant__set_i64(&out[0], i, v);
    }
  }
  return CQUANT_STATUS_OK;
}

/* One bound of Clip (opset >= 11): absent, or a tensor of one element of X's type. */
static int bound(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *b, const char *what, int *has) {
  *has = 0;
  if (!b) return CQUANT_STATUS_OK;
  if (b->numel != 1)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must hold one value (it has %lld)", what, (long long)b->numel);
  if (b->dtype != x->dtype)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is %s, input is %s", what, cquant_dtype_info(b->dtype)->name,
                              cquant_dtype_info(x->dtype)->name);
  *has = 1;
  return CQUANT_STATUS_OK;
}

/* Clip: y = min(max(x, min), max) (max wins when min > max; NaN stays NaN). Opsets 1 and 6 take
 * the bounds as float attributes, later opsets as optional inputs. */
int cquant__op_math_clip(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                         int n_out) {
  (void)n_out;
  const cquant_array_t *x = in[0];
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input is missing");
  if (!is_numeric(x->dtype))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input is %s; a numeric type is expected", cquant_dtype_info(x->dtype)->name);
  const int fl = cquant__is_float(x->dtype);
  double lo = -INFINITY, hi = INFINITY;
  int64_t ilo = INT64_MIN, ihi = INT64_MAX;
  uint64_t ulo = 0, uhi = UINT64_MAX;
  int has_lo = 0, has_hi = 0, st;
  if (cquant__opset(ctx) < 11) {
    if (n_in > 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "Clip before opset 11 takes one input");
    has_lo = cquant__attr(node, "min") != NULL, has_hi = cquant__attr(node, "max") != NULL;
    lo = cquant__attr_float(node, "min", -INFINITY), hi = cquant__attr_float(node, "max", INFINITY);
    if (!fl) { /* not in the spec (float only): the integers inside the bounds */
      if (has_lo && lo > -9.2e18) ilo = (int64_t)ceil(lo < 9.2e18 ? lo : 9.2e18), ulo = ilo < 0 ? 0 : (uint64_t)ilo;
      if (has_hi && hi < 9.2e18) ihi = (int64_t)floor(hi > -9.2e18 ? hi : -9.2e18), uhi = ihi < 0 ? 0 : (uint64_t)ihi;
      has_lo = has_lo && lo > -9.2e18, has_hi = has_hi && hi < 9.2e18;
    }
  } else {
    const cquant_array_t *bl = n_in > 1 ? in[1] : NULL, *bh = n_in > 2 ? in[2] : NULL;
    if ((st = bound(node, x, bl, "min", &has_lo)) || (st = bound(node, x, bh, "max", &has_hi))) return st;
    if (has_lo) lo = cquant__get_f64(bl, 0), ilo = cquant__get_i64(bl, 0), ulo = (uint64_t)ilo;
    if (has_hi) hi = cquant__get_f64(bh, 0), ihi = cquant__get_i64(bh, 0), uhi = (uint64_t)ihi;
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  const int64_t n = x->numel;
  if (x->dtype == CQUANT_DT_F32) {
    const float l = (float)lo, h = (float)hi;
    const float *xv = x->data;
    float *y = out[0].data;
    for (int64_t i = 0; i < n; i++) {
      const float v = xv[i] < l ? l : xv[i];
      y[i] = v > h ? h : v;
    }
    return CQUANT_STATUS_OK;
  }
  if (x->dtype == CQUANT_DT_F64) {
    const double *xv = x->data;
    double *y = out[0].data;
    for (int64_t i = 0; i < n; i++) {
      const double v = xv[i] < lo ? lo : xv[i];
      y[i] = v > hi ? hi : v;
    }
    return CQUANT_STATUS_OK;
  }
  if (fl) { /* float16, bfloat16, fp8: the bounds are values of the type, so clamping is exact */
    for (int64_t i = 0; i < n; i++) {
      double v = cquant__get_f64(x, i);
      v = v < lo ? lo : v;
      cquant__set_f64(&out[0], i, v > hi ? hi : v);
    }
    return CQUANT_STATUS_OK;
  }
  const int u = is_unsigned(x->dtype);
  for (int64_t i = 0; i < n; i++) {
    int64_t v = cquant__get_i64(x, i);
    if (u) {
      uint64_t w = (uint64_t)v;
      if (has_lo && w < ulo) w = ulo;
      if (has_hi && w > uhi) w = uhi;
      v = (int64_t)w;
    } else {
      if (has_lo && v < ilo) v = ilo;
      if (has_hi && v > ihi) v = ihi;
    }
    cquant__set_i64(&out[0], i, v);
  }
  return CQUANT_STATUS_OK;
}
