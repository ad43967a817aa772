/* Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1)
 * and the operation runs over the flattened trailing axes; from opset 13 it runs along one axis
 * (default -1). float32 is computed in float32 (rows in place when the axis is the last one,
 * vectors of the trailing axes otherwise); float16 and bfloat16 in float32 rounded once at the store;
 * float64 in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "exec/ops/reduce_internal.h"

enum { SM_SOFTMAX, SM_LOG, SM_HARD };

/* float32 softmax / log-softmax of rows [outer][len][inner]; work holds 2 * inner floats. */
static void softmax_f32(const float *x, float *y, int mode, int64_t outer, int64_t len, int64_t inner, float *work) {
  if (inner == 1) {
    for (int64_t o = 0; o < outer; o++) {
      const float *r = x + o * len;
      float *yr = y + o * len, mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < len; k++) mx = r[k] > mx ? r[k] : mx;
      if (mode == SM_LOG) {
        for (int64_t k = 0; k < len; k++) sum += expf(r[k] - mx);
        const float sh = mx + logf(sum);
        for (int64_t k = 0; k < len; k++) yr[k] = r[k] - sh;
      } else {
        for (int64_t k = 0; k < len; k++) sum += (yr[k] = expf(r[k] - mx));
        const float inv = 1.0f / sum;
        for (int64_t k = 0; k < len; k++) yr[k] *= inv;
      }
    }
    return;
  }
  float *mx = work, *sum = work + inner;
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * len * inner;
    float *yo = y + o * len * inner;
    for (int64_t i = 0; i < inner; i++) mx[i] = -INFINITY, sum[i] = 0;
    for (int64_t k = 0; k < len; k++)
      for (int64_t i = 0; i < inner; i++) mx[i] = xo[k * inner + i] > mx[i] ? xo[k * inner + i] : mx[i];
    for (int64_t k = 0; k < len; k++)
      for (int64_t i = 0; i < inner; i++) {
        const float e = expf(xo[k * inner + i] - mx[i]);
        sum[i] += e;
        if (mode != SM_LOG) yo[k * inner + i] = e;
      }
    if (mode == SM_LOG) {
      for (int64_t i = 0; i < inner; i++) sum[i] = mx[i] + logf(sum[i]);
      for (int64_t k = 0; k < len; k++)
        for (int64_t i = 0; i < inner; i++) yo[k * inner + i] = xo[k * inner + i] - sum[i];
    } else {
      for (int64_t i = 0; i < inner; i++) sum[i] = 1.0f / sum[i];
      for (int64_t k = 0; k < len; k++)
        for (int64_t i = 0; i < inner; i++) yo[k * inner + i] *= sum[i];
    }
  }
}

/* float64 softmax / log-softmax, one strided row at a time. */
static void softmax_f64(const double *x, double *y, int mode, int64_t outer, int64_t len, int64_t inner) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const double *r = x + o * len * inner + i;
      double *yr = y + o * len * inner + i, mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < len; k++) mx = r[k * inner] > mx ? r[k * inner] : mx;
      for (int64_t k = 0; k < len; k++) sum += exp(r[k * inner] - mx);
      const double sh = mx + log(sum);
      for (int64_t k = 0; k < len; k++) yr[k * inner] = mode == SM_LOG ? r[k * inner] - sh : exp(r[k * inner] - mx) / sum;
    }
}

int cquant__op_softmax_family(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                              int n_out) {
  (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__rd_need_float(node, x, "input");
  if (st) return st;
  const int mode = !strcmp(node->op_type, "LogSoftmax") ? SM_LOG : !strcmp(node->op_type, "Hardmax") ? SM_HARD : SM_SOFTMAX;
  const int legacy = cquant__opset(ctx) < 13;
  int64_t outer = 1, len = 1, inner = 1;
  if (x->ndim) {
    int axis;
    if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", legacy ? 1 : -1), x->ndim, &axis))) return st;
    for (int d = 0; d < x->ndim; d++) {
      if (d < axis) outer *= x->shape[d];
      else if (d == axis || legacy) len *= x->shape[d];
      else inner *= x->shape[d];
    }
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  if (!x->numel) return CQUANT_STATUS_OK;
  if (mode == SM_HARD) { /* 1 at the first largest element (NaN counts as largest), 0 elsewhere */
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        const int64_t base = o * len * inner + i;
        int64_t bi = 0;
        double b = cquant__get_f64(x, base);
        for (int64_t k = 1; k < len && b == b; k++) {
          const double v = cquant__get_f64(x, base + k * inner);
          if (v > b || v != v) b = v, bi = k;
        }
        cquant__set_f64(&out[0], base + bi * inner, 1.0);
      }
    return CQUANT_STATUS_OK;
  }
  if (x->dtype == CQUANT_DT_F64) {
    softmax_f64(x->data, out[0].data, mode, outer, len, inner);
    return CQUANT_STATUS_OK;
  }
  float *work = inner > 1 ? malloc(sizeof(float) * 2 * (size_t)inner) : NULL, *xf = NULL, *yf = NULL;
  if (x->dtype != CQUANT_DT_F32) { /* float16 / bfloat16 through float32 */
    xf = malloc(sizeof(float) * (size_t)x->numel);
    yf = malloc(sizeof(float) * (size_t)x->numel);
  }
  if ((inner > 1 && !work) || (x->dtype != CQUANT_DT_F32 && (!xf || !yf))) {
    free(work), free(xf), free(yf);
    cquant_array_free(&out[0]);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  if (x->dtype == CQUANT_DT_F32) {
    softmax_f32(x->data, out[0].data, mode, outer, len, inner, work);
  } else {
    const uint16_t *h = x->data;
    uint16_t *yh = out[0].data;
    const int bf = x->dtype == CQUANT_DT_BF16;
    for (int64_t i = 0; i < x->numel; i++) xf[i] = bf ? cquant_bf16_to_f32(h[i]) : cquant_f16_to_f32(h[i]);
    softmax_f32(xf, yf, mode, outer, len, inner, work);
    for (int64_t i = 0; i < x->numel; i++) yh[i] = bf ? cquant_f32_to_bf16(yf[i]) : cquant_f32_to_f16(yf[i]);
  }
  free(work), free(xf), free(yf);
  return CQUANT_STATUS_OK;
}
