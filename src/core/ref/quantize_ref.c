/* Scalar reference kernels for quantize, dequantize and fake-quantize (docs eq. 13-15).
 * Every SIMD variant must produce exactly these bits. */
#include "core/internal.h"

/* Saturation in 64 bits: a no-op for types up to 16 bits (r was clamped already), and exact for
 * int32, whose float bounds round outward. */
static inline int64_t sat64(int64_t v, int32_t qmin, int32_t qmax) {
  return v < qmin ? qmin : (v > qmax ? qmax : v);
}

/* q = clamp(round(x / s), qmin - z, qmax - z) + z, eq. 13. Clamping the rounded quotient before
 * adding z is the same as saturating after, and keeps huge quotients away from the int conversion. */
#define CQUANT__DEFINE_Q_REF(suffix, T)                                                         \
  static void q_run_##suffix(const float *x, size_t n, const cquant__qrun_t *p, void *out) {    \
    T *q = (T *)out;                                                                            \
    const float inv = 1.0f / p->scale;                                                          \
    const float lo = cquant__lo_bound(p->qmin, p->zero_point);                                  \
    const float hi = cquant__hi_bound(p->qmax, p->zero_point);                                  \
    for (size_t i = 0; i < n; i++) {                                                            \
      float r = cquant__clampf(cquant__div_round(x[i], p->scale, inv, p->rounding), lo, hi);    \
      q[i] = (T)sat64((int64_t)r + p->zero_point, p->qmin, p->qmax);                            \
    }                                                                                           \
  }                                                                                             \
  static void q_vec_##suffix(const float *x, size_t n, const float *scale, const int32_t *zp,   \
                             int32_t qmin, int32_t qmax, cquant_round_t rnd, void *out) {       \
    T *q = (T *)out;                                                                            \
    for (size_t i = 0; i < n; i++) {                                                            \
      const float lo = cquant__lo_bound(qmin, zp[i]), hi = cquant__hi_bound(qmax, zp[i]);       \
      float r = cquant__clampf(cquant__div_round(x[i], scale[i], 1.0f / scale[i], rnd), lo, hi); \
      q[i] = (T)sat64((int64_t)r + zp[i], qmin, qmax);                                          \
    }                                                                                           \
  }                                                                                             \
  static void dq_run_##suffix(const void *in, size_t n, float scale, int32_t zp, int stream, float *y) {    \
    const T *q = (const T *)in;                                                                 \
    for (size_t i = 0; i < n; i++) y[i] = (float)((int64_t)q[i] - zp) * scale;                  \
  }                                                                                             \
  static void dq_vec_##suffix(const void *in, size_t n, const float *scale, const int32_t *zp,  \
                              float *y) {                                                       \
    const T *q = (const T *)in;                                                                 \
    for (size_t i = 0; i < n; i++) y[i] = (float)((int64_t)q[i] - zp[i]) * scale[i];            \
  }

CQUANT__DEFINE_Q_REF(s8, int8_t)
CQUANT__DEFINE_Q_REF(u8, uint8_t)
CQUANT__DEFINE_Q_REF(s16, int16_t)
CQUANT__DEFINE_Q_REF(s32, int32_t)

/* y = clamp(round(x / s), qmin - z, qmax - z) * s, eq. 15: the float (q - z) is the clamped
 * rounded quotient itself, so z never needs adding and subtracting. */
static void fq_run(const float *x, size_t n, const cquant__qrun_t *p, float *y) {
  const float inv = 1.0f / p->scale;
  const float lo = cquant__lo_bound(p->qmin, p->zero_point);
  const float hi = cquant__hi_bound(p->qmax, p->zero_point);
  for (size_t i = 0; i < n; i++)
    y[i] = cquant__clampf(cquant__div_round(x[i], p->scale, inv, p->rounding), lo, hi) * p->scale;
}

static void fq_vec(const float *x, size_t n, const float *scale, const int32_t *zp, int32_t qmin,
                   int32_t qmax, cquant_round_t rnd, float *y) {
  for (size_t i = 0; i < n; i++) {
    const float lo = cquant__lo_bound(qmin, zp[i]), hi = cquant__hi_bound(qmax, zp[i]);
    y[i] = cquant__clampf(cquant__div_round(x[i], scale[i], 1.0f / scale[i], rnd), lo, hi) *
           scale[i];
  }
}

/* min and max of the finite elements; returns the number of NaN/Inf elements (skipped). */
static size_t minmax_ref(const float *x, size_t n, float *mn, float *mx) {
  float lo = __builtin_inff(), hi = -__builtin_inff();
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    if (!__builtin_isfinite(v)) { bad++; continue; }
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  *mn = lo;
  *mx = hi;
  return bad;
}

/* Scaled FP8, eq. 16: the quotient formed as eq. 13 forms it, then the FP8 encoder (eq. 2, 4). */
static void fp8_q_ref(const float *x, size_t n, const float *scale, int vec, int fmt, cquant_fp8_mode_t mode,
                      cquant_round_t r, uint8_t *q) {
  for (size_t i = 0; i < n; i++) {
    const float s = scale[vec ? i : 0];
    const float v = r == CQUANT_ROUND_RECIP ? x[i] * (1.0f / s) : x[i] / s;
    q[i] = fmt ? cquant_f32_to_f8e5m2(v, mode) : cquant_f32_to_f8e4m3(v, mode);
  }
}

static void fp8_dq_ref(const uint8_t *q, size_t n, const float *scale, int vec, int fmt, float *y) {
  for (size_t i = 0; i < n; i++)
    y[i] = (fmt ? cquant_f8e5m2_to_f32(q[i]) : cquant_f8e4m3_to_f32(q[i])) * scale[vec ? i : 0];
}

void cquant__kernels_init_ref(cquant__kernels_t *k) {
  k->q_run[CQUANT__C_S8] = q_run_s8;
  k->q_run[CQUANT__C_U8] = q_run_u8;
  k->q_run[CQUANT__C_S16] = q_run_s16;
  k->q_run[CQUANT__C_S32] = q_run_s32;
  k->q_vec[CQUANT__C_S8] = q_vec_s8;
  k->q_vec[CQUANT__C_U8] = q_vec_u8;
  k->q_vec[CQUANT__C_S16] = q_vec_s16;
  k->q_vec[CQUANT__C_S32] = q_vec_s32;
  k->dq_run[CQUANT__C_S8] = dq_run_s8;
  k->dq_run[CQUANT__C_U8] = dq_run_u8;
  k->dq_run[CQUANT__C_S16] = dq_run_s16;
  k->dq_run[CQUANT__C_S32] = dq_run_s32;
  k->dq_vec[CQUANT__C_S8] = dq_vec_s8;
  k->dq_vec[CQUANT__C_U8] = dq_vec_u8;
  k->dq_vec[CQUANT__C_S16] = dq_vec_s16;
  k->dq_vec[CQUANT__C_S32] = dq_vec_s32;
  k->fq_run = fq_run;
  k->fq_vec = fq_vec;
  k->minmax = minmax_ref;
  k->fp8_q = fp8_q_ref;
  k->fp8_dq = fp8_dq_ref;
  cquant__convert_init_ref(k);
}
