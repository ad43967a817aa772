/* Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1)
 * and the operation runs over the flattened trailing axes; from opset 13 it runs along one axis
 * (default -1). float32 is computed in float32 with a vectorizable exp (rows when the axis is the
 * last one, split over threads when large; vectors of the trailing axes otherwise); float16 and
 * bfloat16 in float32 rounded once at the store; float64 in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "cquant/quantize.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/reduce_internal.h"
#include "exec/ops/vexp.h"

enum { SM_SOFTMAX, SM_LOG, SM_HARD };


/* The largest element of a row, through integer keys that order as the floats do (vectorizable).
 * A NaN may or may not win: the row's result is NaN throughout either way. */
static float row_max(const float *r, int64_t n) {
  int32_t m[8] = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; j++) {
      uint32_t b;
      memcpy(&b, &r[k + j], 4);
      const int32_t key = (int32_t)(b ^ ((0u - (b >> 31)) >> 1));
      m[j] = key > m[j] ? key : m[j];
    }
  for (; k < n; k++) {
    uint32_t b;
    memcpy(&b, &r[k], 4);
    const int32_t key = (int32_t)(b ^ ((0u - (b >> 31)) >> 1));
    m[0] = key > m[0] ? key : m[0];
  }
  for (int j = 1; j < 8; j++) m[0] = m[j] > m[0] ? m[j] : m[0];
  const uint32_t b = (uint32_t)m[0] ^ ((0u - ((uint32_t)m[0] >> 31)) >> 1);
  float v;
  memcpy(&v, &b, 4);
  return v;
}

/* Stores e^(r[k] - mx) and returns their sum (eight partial sums). */
static float row_exp(const float *r, float *y, int64_t n, float mx) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t k = 0; k < n; k++) y[k] = cquant__vexp_f32(r[k] - mx);
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; j++) s[j] += y[k + j];
  for (; k < n; k++) s[0] += y[k];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static void softmax_row_f32(const float *r, float *y, int64_t n, int mode) {
  const float mx = row_max(r, n), sum = row_exp(r, y, n, mx);
  if (mode == SM_LOG) {
    const float ls = logf(sum); /* (x - max) - log(sum): no cancellation where x is the max */
    for (int64_t k = 0; k < n; k++) y[k] = (r[k] - mx) - ls;
  } else {
    const float inv = 1.0f / sum;
    for (int64_t k = 0; k < n; k++) y[k] *= inv;
  }
}

/* Row o of a last-axis softmax, an item of cquant__par_for. */
typedef struct {
  const float *x;
  float *y;
  int64_t len;
  int mode;
} sm_job_t;

static void sm_row(const void *vj, int64_t o) {
  const sm_job_t *j = vj;
  softmax_row_f32(j->x + o * j->len, j->y + o * j->len, j->len, j->mode);
}

/* float32 softmax / log-softmax of rows [outer][len][inner]; work holds 2 * inner floats. */
static void softmax_f32(const float *x, float *y, int mode, int64_t outer, int64_t len, int64_t inner, float *work) {
  if (inner == 1) { /* rows split over the pool when there is enough work */
    const sm_job_t j = {.x = x, .y = y, .len = len, .mode = mode};
    cquant__par_for(outer > 1 && outer * len >= (1 << 16) ? cquant_get_num_threads() : 1, outer, sm_row, &j);
    return;
  }
  float *mx = work, *sum = work + inner;
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * len * inner;
    float *yo = y + o * len * inner;
    for (int64_t i = 0; i < inner; i++) mx[i] = -INFINITY, sum[i] = 0;
    for (int64_t k = 0; k < len; k++)
      for (int64_t i = 0; i < inner; i++) mx[i] = xo[k * inner + i] > mx[i] ? xo[k * inner + i] : mx[i];
    for (int64_t k = 0; k < len; k++) {
      float *yk = yo + k * inner;
      for (int64_t i = 0; i < inner; i++) yk[i] = cquant__vexp_f32(xo[k * inner + i] - mx[i]);
      for (int64_t i = 0; i < inner; i++) sum[i] += yk[i];
    }
    if (mode == SM_LOG) {
      for (int64_t i = 0; i < inner; i++) sum[i] = logf(sum[i]);
      for (int64_t k = 0; k < len; k++)
        for (int64_t i = 0; i < inner; i++) yo[k * inner + i] = (xo[k * inner + i] - mx[i]) - sum[i];
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
      const double ls = log(sum);
      for (int64_t k = 0; k < len; k++) yr[k * inner] = mode == SM_LOG ? (r[k * inner] - mx) - ls : exp(r[k * inner] - mx) / sum;
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
