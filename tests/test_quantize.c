/* The quantize / dequantize / fake-quantize drivers and the parameter formulas: every granularity
 * against a naive element-by-element model, packing, FP8 with a scale, argument checks, the qparams
 * JSON round trip and the error report. */
#include <float.h>
#include "core/internal.h"
#include "harness.h"

/* Naive model of eq. 13 for one element with its own (s, z). */
static int32_t model_q(float x, float s, int32_t z, int32_t qmin, int32_t qmax) {
  if (isnan(x)) return qmin;
  double r = nearbyint((double)(x / s)) + z;
  return r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
}

/* The parameter slot of element i, computed from coordinates the slow way. */
static int64_t slot_of(const cquant_qparams_t *qp, int64_t i) {
  int64_t coord[CQUANT_MAX_DIMS], pshape[CQUANT_MAX_DIMS], rem = i;
  for (int d = qp->ndim - 1; d >= 0; d--) { coord[d] = rem % qp->shape[d]; rem /= qp->shape[d]; }
  cquant_qparams_param_shape(qp, pshape);
  int64_t slot = 0;
  for (int d = 0; d < qp->ndim; d++) {
    int64_t c = qp->granularity == CQUANT_PER_TENSOR ? 0
              : qp->granularity == CQUANT_PER_CHANNEL ? (d == qp->axis ? coord[d] : 0)
              : (d == qp->axis ? coord[d] / qp->group_size : coord[d]);
    slot = slot * pshape[d] + c;
  }
  return slot;
}

static void check_layout(cquant_dtype_t dt, cquant_granularity_t g, int axis, int64_t G, unsigned flags, int ndim, const int64_t *shape) {
  cquant_qparams_t *qp;
  int st = cquant_qparams_create(dt, g, axis, G, flags, ndim, shape, &qp);
  CHECKF(st == 0, "create: %s", cquant_last_error());
  if (st) return;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  float *x = malloc((size_t)n * 4 + 4), *y = malloc((size_t)n * 4 + 4), *f = malloc((size_t)n * 4 + 4);
  for (int64_t i = 0; i < n; i++) x[i] = th_gauss() * (1.0f + (float)(i % 7));
  CHECK(cquant_qparams_minmax(qp, x) == 0);
  /* each slot's range must be that slot's own min/max */
  float *mn = malloc((size_t)qp->count * 4), *mx = malloc((size_t)qp->count * 4);
  for (int64_t k = 0; k < qp->count; k++) { mn[k] = 0; mx[k] = 0; }
  for (int64_t i = 0; i < n; i++) {
    int64_t k = slot_of(qp, i);
    mn[k] = fminf(mn[k], x[i]);
    mx[k] = fmaxf(mx[k], x[i]);
  }
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  for (int64_t k = 0; k < qp->count; k++) {
    float s;
    int32_t z;
    if (info->is_float) { s = fmaxf(-mn[k], mx[k]) / (float)info->max; z = 0; }
    else CHECK(cquant_qparams_from_range(mn[k], mx[k], info->bits, info->is_signed, flags, &s, &z) == 0);
    CHECKF(qp->scale[k] == s && qp->zero_point[k] == z, "slot %lld: (%g, %d) want (%g, %d)", (long long)k, qp->scale[k], qp->zero_point[k], s, z);
  }
  size_t qb = cquant_quantized_size(qp, CQUANT_LAYOUT_UNPACKED);
  uint8_t *q = malloc(qb + 1), *p = malloc(qb + 1);
  CHECK(cquant_quantize(x, qp, CQUANT_LAYOUT_UNPACKED, q) == 0);
  CHECK(cquant_dequantize(q, qp, CQUANT_LAYOUT_UNPACKED, y) == 0);
  CHECK(cquant_fake_quantize(x, qp, f) == 0);
  int64_t bad = 0, badfq = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t k = slot_of(qp, i);
    if (info->is_float) {
      uint8_t want = dt == CQUANT_DT_F8E4M3 ? cquant_f32_to_f8e4m3(x[i] / qp->scale[k], CQUANT_FP8_SATURATE)
                                            : cquant_f32_to_f8e5m2(x[i] / qp->scale[k], CQUANT_FP8_SATURATE);
      bad += q[i] != want;
      float back = (dt == CQUANT_DT_F8E4M3 ? cquant_f8e4m3_to_f32(want) : cquant_f8e5m2_to_f32(want)) * qp->scale[k];
      badfq += y[i] != back || f[i] != back;
      continue;
    }
    int32_t want = model_q(x[i], qp->scale[k], qp->zero_point[k], qp->qmin, qp->qmax);
    int32_t got = info->bits == 16 ? ((int16_t *)q)[i] : info->is_signed ? ((int8_t *)q)[i] : q[i];
    bad += got != want;
    float back = (float)(want - qp->zero_point[k]) * qp->scale[k];
    badfq += y[i] != back || f[i] != back;
  }
  CHECKF(bad == 0, "%s gran %d axis %d G %lld: %lld quantized values wrong", info->name, g, axis, (long long)G, (long long)bad);
  CHECKF(badfq == 0, "%s gran %d axis %d: %lld dequantized/fake-quantized values wrong", info->name, g, axis, (long long)badfq);
  if (info->bits < 8) { /* packed: the same values, element 0 in the low bits */
    size_t pb = cquant_quantized_size(qp, CQUANT_LAYOUT_PACKED);
    CHECK(pb == ((size_t)n * (size_t)info->bits + 7) / 8);
    CHECK(cquant_quantize(x, qp, CQUANT_LAYOUT_PACKED, p) == 0);
    int per = 8 / info->bits;
    int64_t badp = 0;
    for (int64_t i = 0; i < n; i++) {
      unsigned v = (p[i / per] >> ((i % per) * info->bits)) & ((1u << info->bits) - 1);
      badp += v != (q[i] & ((1u << info->bits) - 1));
    }
    CHECKF(badp == 0, "packing wrong in %lld elements", (long long)badp);
    float *y2 = malloc((size_t)n * 4 + 4);
    CHECK(cquant_dequantize(p, qp, CQUANT_LAYOUT_PACKED, y2) == 0);
    CHECK(memcmp(y, y2, (size_t)n * 4) == 0);
    free(y2);
  }
  free(x); free(y); free(f); free(q); free(p); free(mn); free(mx);
  cquant_qparams_destroy(qp);
}

static void test_granularities(void) {
  const int64_t s2[2] = {37, 50}, s3[3] = {5, 12, 9}, s4[4] = {3, 4, 5, 6}, s1[1] = {1001};
  static const cquant_dtype_t dts[] = {CQUANT_DT_S8, CQUANT_DT_U8, CQUANT_DT_S4, CQUANT_DT_U4, CQUANT_DT_S2,
                                       CQUANT_DT_U2, CQUANT_DT_S16, CQUANT_DT_F8E4M3, CQUANT_DT_F8E5M2};
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
    if (cquant_isa_force((cquant_isa_t)isa)) continue;
    for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++) {
      for (unsigned flags = 0; flags < 2; flags++) {
        check_layout(dts[t], CQUANT_PER_TENSOR, 0, 0, flags, 1, s1);
        check_layout(dts[t], CQUANT_PER_TENSOR, 0, 0, flags, 3, s3);
        for (int ax = 0; ax < 3; ax++) check_layout(dts[t], CQUANT_PER_CHANNEL, ax, 0, flags, 3, s3);
        for (int ax = 0; ax < 4; ax++) check_layout(dts[t], CQUANT_PER_CHANNEL, ax, 0, flags, 4, s4);
        check_layout(dts[t], CQUANT_PER_GROUP, 1, 10, flags, 2, s2);  /* divides, last axis */
        check_layout(dts[t], CQUANT_PER_GROUP, 1, 16, flags | CQUANT_QF_ALLOW_SHORT_GROUP, 2, s2); /* short last group */
        check_layout(dts[t], CQUANT_PER_GROUP, 0, 8, flags | CQUANT_QF_ALLOW_SHORT_GROUP, 2, s2);  /* off the last axis */
        check_layout(dts[t], CQUANT_PER_GROUP, 1, 4, flags, 3, s3);
        check_layout(dts[t], CQUANT_PER_GROUP, 0, 1001, flags, 1, s1);
      }
    }
  }
  cquant_isa_force(cquant_isa_detected());
}

/* Packed output is produced block by block (16384 elements); runs straddle block edges. */
static void test_packed_blocks(void) {
  const struct { cquant_dtype_t dt; cquant_granularity_t g; int axis; int64_t G; unsigned flags; int ndim; int64_t shape[3]; } cases[] = {
      {CQUANT_DT_S4, CQUANT_PER_GROUP, 1, 96, CQUANT_QF_ALLOW_SHORT_GROUP, 2, {3, 20001, 0}},
      {CQUANT_DT_U4, CQUANT_PER_TENSOR, 0, 0, 0, 1, {40003, 0, 0}},
      {CQUANT_DT_S2, CQUANT_PER_CHANNEL, 1, 0, CQUANT_QF_SYMMETRIC, 2, {7, 9001, 0}},
      {CQUANT_DT_U2, CQUANT_PER_CHANNEL, 0, 0, 0, 3, {5, 3001, 3}},
      {CQUANT_DT_S4, CQUANT_PER_GROUP, 0, 7, CQUANT_QF_ALLOW_SHORT_GROUP | CQUANT_QF_NARROW_RANGE, 2, {50, 1001, 0}},
  };
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
    if (cquant_isa_force((cquant_isa_t)isa)) continue;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
      cquant_qparams_t *qp;
      CHECK(cquant_qparams_create(cases[t].dt, cases[t].g, cases[t].axis, cases[t].G, cases[t].flags, cases[t].ndim, cases[t].shape, &qp) == 0);
      size_t n = 1;
      for (int d = 0; d < cases[t].ndim; d++) n *= (size_t)cases[t].shape[d];
      float *x = malloc(n * 4), *ya = malloc(n * 4), *yb = malloc(n * 4);
      for (size_t i = 0; i < n; i++) x[i] = th_gauss();
      CHECK(cquant_qparams_minmax(qp, x) == 0);
      int bits = cquant_dtype_info(cases[t].dt)->bits;
      uint8_t *u = malloc(n), *p = malloc(n), *want = malloc(n);
      CHECK(cquant_quantize(x, qp, CQUANT_LAYOUT_UNPACKED, u) == 0);
      CHECK(cquant_quantize(x, qp, CQUANT_LAYOUT_PACKED, p) == 0);
      memset(want, 0, n);
      for (size_t i = 0; i < n; i++) want[i * bits / 8] |= (uint8_t)((u[i] & ((1u << bits) - 1)) << ((i * (size_t)bits) % 8));
      CHECKF(memcmp(p, want, (n * (size_t)bits + 7) / 8) == 0, "case %zu (%s): packed bytes differ", t, cquant_isa_name((cquant_isa_t)isa));
      CHECK(cquant_dequantize(u, qp, CQUANT_LAYOUT_UNPACKED, ya) == 0);
      CHECK(cquant_dequantize(p, qp, CQUANT_LAYOUT_PACKED, yb) == 0);
      CHECKF(memcmp(ya, yb, n * 4) == 0, "case %zu: packed dequantize differs", t);
      free(x); free(ya); free(yb); free(u); free(p); free(want);
      cquant_qparams_destroy(qp);
    }
  }
  cquant_isa_force(cquant_isa_detected());
}

static void test_group_must_divide(void) {
  const int64_t s2[2] = {4, 50};
  cquant_qparams_t *qp = NULL;
  CHECK(cquant_qparams_create(CQUANT_DT_S4, CQUANT_PER_GROUP, 1, 16, 0, 2, s2, &qp) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(qp == NULL && strstr(cquant_last_error(), "does not divide") != NULL);
  CHECK(cquant_qparams_create(CQUANT_DT_S4, CQUANT_PER_GROUP, 1, 16, CQUANT_QF_ALLOW_SHORT_GROUP, 2, s2, &qp) == 0);
  CHECK(qp && qp->count == 4 * 4); /* ceil(50 / 16) = 4 groups per row, the last of 2 */
  cquant_qparams_destroy(qp);
  CHECK(cquant_qparams_create(CQUANT_DT_S8, CQUANT_PER_CHANNEL, 2, 0, 0, 2, s2, &qp) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_qparams_create(CQUANT_DT_S8, CQUANT_PER_GROUP, 0, 0, 0, 2, s2, &qp) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_qparams_create(CQUANT_DT_F32, CQUANT_PER_TENSOR, 0, 0, 0, 2, s2, &qp) == CQUANT_STATUS_UNSUPPORTED);
}

static void test_from_range(void) {
  float s;
  int32_t z;
  /* symmetric int8: s = amax / 127.5 (PyTorch), z = 0 */
  CHECK(cquant_qparams_from_range(-2.0f, 1.0f, 8, 1, CQUANT_QF_SYMMETRIC, &s, &z) == 0);
  CHECK(s == 2.0f / 127.5f && z == 0);
  /* narrow: s = amax / 127 (TensorRT) */
  CHECK(cquant_qparams_from_range(-2.0f, 1.0f, 8, 1, CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE, &s, &z) == 0);
  CHECK(s == 2.0f / 127.0f && z == 0);
  /* uint8 symmetric: z = 128 */
  CHECK(cquant_qparams_from_range(-1.0f, 3.0f, 8, 0, CQUANT_QF_SYMMETRIC, &s, &z) == 0);
  CHECK(s == 3.0f / 127.5f && z == 128);
  /* asymmetric uint8 on [0.5, 2.5]: widened to [0, 2.5], z = 0 */
  CHECK(cquant_qparams_from_range(0.5f, 2.5f, 8, 0, 0, &s, &z) == 0);
  CHECK(s == 2.5f / 255.0f && z == 0);
  /* asymmetric int8 on [-1, 3]: s = 4/255, z = -128 - round(-1/s) */
  CHECK(cquant_qparams_from_range(-1.0f, 3.0f, 8, 1, 0, &s, &z) == 0);
  CHECK(s == 4.0f / 255.0f && z == -128 - (int32_t)nearbyintf(-1.0f / s));
  /* 0.0 is exact: quantizing 0 gives z, dequantizing z gives 0 */
  CHECK(model_q(0.0f, s, z, -128, 127) == z);
  /* empty range: the scale floor is float32 eps */
  CHECK(cquant_qparams_from_range(0.0f, 0.0f, 8, 1, 0, &s, &z) == 0);
  CHECK(s == FLT_EPSILON);
  /* 4 and 2 bits, 16 bits */
  CHECK(cquant_qparams_from_range(-1.0f, 1.0f, 4, 1, CQUANT_QF_SYMMETRIC, &s, &z) == 0 && s == 1.0f / 7.5f);
  CHECK(cquant_qparams_from_range(-1.0f, 1.0f, 2, 0, CQUANT_QF_SYMMETRIC, &s, &z) == 0 && s == 1.0f / 1.5f && z == 2);
  CHECK(cquant_qparams_from_range(-1.0f, 1.0f, 16, 1, 0, &s, &z) == 0 && s == 2.0f / 65535.0f);
  /* reduced range (eq. 11b): one bit fewer in the same container; int8 narrow -63..63, s = amax / 63 */
  const unsigned rr = CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE | CQUANT_QF_REDUCE_RANGE;
  CHECK(cquant_qparams_from_range(-2.0f, 1.0f, 8, 1, rr, &s, &z) == 0 && s == 2.0f / 63.0f && z == 0);
  CHECK(cquant_qparams_from_range(0.0f, 2.5f, 8, 0, CQUANT_QF_REDUCE_RANGE, &s, &z) == 0 && s == 2.5f / 127.0f && z == 0);
  int32_t qlo, qhi;
  CHECK(cquant_qrange(CQUANT_DT_S8, rr, &qlo, &qhi) == 0 && qlo == -63 && qhi == 63);
  CHECK(cquant_qrange(CQUANT_DT_S8, CQUANT_QF_REDUCE_RANGE, &qlo, &qhi) == 0 && qlo == -64 && qhi == 63);
  CHECK(cquant_qrange(CQUANT_DT_U8, CQUANT_QF_REDUCE_RANGE, &qlo, &qhi) == 0 && qlo == 0 && qhi == 127);
  CHECK(cquant_qrange(CQUANT_DT_S2, CQUANT_QF_REDUCE_RANGE, &qlo, &qhi) == CQUANT_STATUS_UNSUPPORTED);
  /* quantizing with such parameters clamps to the reduced range */
  {
    const int64_t shape[1] = {4};
    cquant_qparams_t *qp = NULL;
    CHECK(cquant_qparams_create(CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, 0, rr, 1, shape, &qp) == 0);
    const float x[4] = {-2.0f, -1.0f, 0.5f, 2.0f};
    CHECK(qp && cquant_qparams_minmax(qp, x) == 0 && qp->qmin == -63 && qp->qmax == 63 && qp->scale[0] == 2.0f / 63.0f);
    cquant_qparams_destroy(qp);
  }
  /* bad input */
  CHECK(cquant_qparams_from_range(NAN, 1.0f, 8, 1, 0, &s, &z) == CQUANT_STATUS_NOT_FINITE);
  CHECK(cquant_qparams_from_range(0.0f, INFINITY, 8, 1, 0, &s, &z) == CQUANT_STATUS_NOT_FINITE);
  CHECK(cquant_qparams_from_range(2.0f, 1.0f, 8, 1, 0, &s, &z) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_qparams_from_range(0.0f, 1.0f, 17, 1, 0, &s, &z) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_qparams_from_range(0.0f, 1.0f, 1, 1, 0, &s, &z) == CQUANT_STATUS_INVALID_ARGUMENT);
}

static void test_validation(void) {
  const int64_t sh[1] = {8};
  float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 0.25f}, y[8];
  int8_t q[8];
  cquant_qparams_t *qp;
  CHECK(cquant_qparams_create(CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, 0, 0, 1, sh, &qp) == 0);
  float bad_scales[] = {0.0f, -1.0f, NAN, INFINITY};
  for (int i = 0; i < 4; i++) {
    qp->scale[0] = bad_scales[i];
    CHECK(cquant_quantize(x, qp, CQUANT_LAYOUT_UNPACKED, q) == CQUANT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(cquant_last_error(), "scale") != NULL);
    CHECK(cquant_fake_quantize(x, qp, y) == CQUANT_STATUS_INVALID_ARGUMENT);
  }
  qp->scale[0] = 0.1f;
  qp->zero_point[0] = 200;
  CHECK(cquant_quantize(x, qp, CQUANT_LAYOUT_UNPACKED, q) == CQUANT_STATUS_OUT_OF_RANGE);
  qp->zero_point[0] = 0;
  CHECK(cquant_quantize(NULL, qp, CQUANT_LAYOUT_UNPACKED, q) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_quantize(x, NULL, CQUANT_LAYOUT_UNPACKED, q) == CQUANT_STATUS_INVALID_ARGUMENT);
  x[3] = NAN;
  CHECK(cquant_qparams_minmax(qp, x) == CQUANT_STATUS_NOT_FINITE);
  CHECK(strstr(cquant_last_error(), "element 3") != NULL);
  cquant_qparams_destroy(qp);
  /* unpacked int4 storage holding a value outside [-8, 7] is refused by dequantize */
  CHECK(cquant_qparams_create(CQUANT_DT_S4, CQUANT_PER_TENSOR, 0, 0, 0, 1, sh, &qp) == 0);
  int8_t q4[8] = {0, 1, 2, 3, 4, 5, 6, 9};
  CHECK(cquant_dequantize(q4, qp, CQUANT_LAYOUT_UNPACKED, y) == CQUANT_STATUS_OUT_OF_RANGE);
  cquant_qparams_destroy(qp);
}

static void test_json_round_trip(void) {
  const int64_t sh[3] = {4, 6, 10};
  cquant_qparams_t *qp, *back;
  CHECK(cquant_qparams_create(CQUANT_DT_U4, CQUANT_PER_GROUP, 2, 4, CQUANT_QF_ALLOW_SHORT_GROUP, 3, sh, &qp) == 0);
  for (int64_t i = 0; i < qp->count; i++) {
    qp->scale[i] = (float)th_uniform() * 0.37f + 1e-7f;
    qp->zero_point[i] = (int32_t)(th_rand() % 16);
  }
  qp->rounding = CQUANT_ROUND_RECIP;
  char *json;
  cquant_layout_t layout;
  CHECK(cquant_qparams_to_json(qp, CQUANT_LAYOUT_PACKED, &json) == 0);
  CHECK(cquant_qparams_from_json(json, &back, &layout) == 0);
  CHECK(layout == CQUANT_LAYOUT_PACKED);
  CHECK(back->count == qp->count && back->granularity == CQUANT_PER_GROUP && back->axis == 2 && back->group_size == 4);
  CHECK(back->rounding == CQUANT_ROUND_RECIP && back->flags == qp->flags && back->dtype == CQUANT_DT_U4);
  CHECK(memcmp(back->scale, qp->scale, (size_t)qp->count * 4) == 0); /* %.9g is exact for float32 */
  CHECK(memcmp(back->zero_point, qp->zero_point, (size_t)qp->count * 4) == 0);
  cquant_qparams_destroy(back);
  /* malformed documents */
  static const char *bad[] = {
      "", "[]", "{\"dtype\":\"int8\"}", "{\"dtype\":\"float32\",\"granularity\":\"per_tensor\",\"shape\":[2],\"scale\":[1]}",
      "{\"dtype\":\"int8\",\"granularity\":\"per_tensor\",\"shape\":[2],\"scale\":[0]}",
      "{\"dtype\":\"int8\",\"granularity\":\"per_tensor\",\"shape\":[2],\"scale\":[1,2]}",
      "{\"dtype\":\"int8\",\"granularity\":\"per_channel\",\"axis\":3,\"shape\":[2],\"scale\":[1,2]}",
      "{\"dtype\":\"int8\",\"granularity\":\"per_tensor\",\"shape\":[2],\"scale\":[1],\"zero_point\":[300]}",
      "{\"dtype\":\"int8\",\"granularity\":\"per_tensor\",\"shape\":[-2],\"scale\":[1]}",
      "{\"dtype\":\"int8\",\"granularity\":\"per_tensor\",\"shape\":[2],\"scale\":[\"x\"]}",
      "{\"dtype\":\"int8\",\"granularity\":\"sideways\",\"shape\":[2],\"scale\":[1]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    back = (cquant_qparams_t *)1;
    CHECKF(cquant_qparams_from_json(bad[i], &back, NULL) != 0 && back == NULL, "accepted: %s", bad[i]);
  }
  free(json);
  cquant_qparams_destroy(qp);
}

static void test_error_report(void) {
  const int64_t sh[1] = {6};
  float x[6] = {0.0f, 0.26f, -0.5f, 10.0f, -10.0f, 0.74f}, y[6];
  cquant_qparams_t *qp;
  CHECK(cquant_qparams_create(CQUANT_DT_S4, CQUANT_PER_TENSOR, 0, 0, CQUANT_QF_SYMMETRIC, 1, sh, &qp) == 0);
  qp->scale[0] = 0.5f; /* q in [-8, 7]: representable [-4, 3.5] */
  CHECK(cquant_fake_quantize(x, qp, y) == 0);
  CHECK(y[0] == 0 && y[1] == 0.5f && y[2] == -0.5f && y[3] == 3.5f && y[4] == -4.0f && y[5] == 0.5f);
  cquant_error_report_t r;
  CHECK(cquant_error_report(x, y, 6, qp, &r) == 0);
  CHECK(r.n_clipped == 2 && r.has_split);
  double clip = (6.5 * 6.5 + 6.0 * 6.0) / 6, rnd = ((0.24 * 0.24) + (0.24 * 0.24)) / 6;
  CHECK(fabs(r.clip_mse - clip) < 1e-9 && fabs(r.round_mse - rnd) < 1e-6);
  CHECK(fabs(r.mse - (clip + rnd)) < 1e-6 && r.max_abs == 6.5);
  double sig = (0.26 * 0.26 + 0.25 + 100 + 100 + 0.74 * 0.74);
  CHECK(fabs(r.sqnr_db - 10 * log10(sig / (6 * (clip + rnd)))) < 1e-4);
  CHECK(cquant_error_report(x, x, 6, NULL, &r) == 0 && isinf(r.sqnr_db) && r.mse == 0 && !r.has_split);
  x[1] = NAN;
  CHECK(cquant_error_report(x, y, 6, NULL, &r) == CQUANT_STATUS_NOT_FINITE);
  cquant_qparams_destroy(qp);
}

/* The drivers split tensors of 2^18 elements and more over the pool's threads: min-max parameters,
 * quantize (unpacked and packed), dequantize (both), fake-quantize and the packed narrow-range
 * error are the same on 1 and 2 threads for each granularity; per-tensor quantize also equals the
 * naive eq. 13 element by element; and no OpenMP team is started (its idle worker would busy-wait
 * beside the pool's helper). */
static void test_threads_deterministic(void) {
  static const struct { cquant_dtype_t dt; cquant_granularity_t g; int axis; int64_t G; unsigned flags; int64_t shape[2]; } cases[] = {
      {CQUANT_DT_S8, CQUANT_PER_CHANNEL, 0, 0, CQUANT_QF_SYMMETRIC, {640, 1000}},
      {CQUANT_DT_U8, CQUANT_PER_TENSOR, 0, 0, 0, {700, 1003}},
      {CQUANT_DT_S4, CQUANT_PER_GROUP, 1, 64, CQUANT_QF_ALLOW_SHORT_GROUP | CQUANT_QF_NARROW_RANGE, {300, 1001}},
      {CQUANT_DT_U4, CQUANT_PER_CHANNEL, 1, 0, 0, {513, 999}},
      {CQUANT_DT_F8E4M3, CQUANT_PER_TENSOR, 0, 0, 0, {600, 1000}},
  };
  cquant_set_num_threads(2);
  cquant_qparams_t *warm;
  const int64_t one[1] = {1 << 19};
  float *xw = calloc((size_t)one[0], 4);
  CHECK(cquant_qparams_create(CQUANT_DT_S8, CQUANT_PER_TENSOR, 0, 0, 0, 1, one, &warm) == 0 && cquant_qparams_minmax(warm, xw) == 0); /* the helper started */
  cquant_qparams_destroy(warm);
  free(xw);
  const int before = th_threads_now();
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    const size_t n = (size_t)(cases[t].shape[0] * cases[t].shape[1]);
    const int packed = cquant_dtype_info(cases[t].dt)->bits < 8;
    float *x = malloc(n * 4), *y[2][3];
    uint8_t *q[2][2];
    cquant_qparams_t *qp[2];
    int bad_st[2];
    char bad_msg[2][256];
    for (size_t i = 0; i < n; i++) x[i] = th_gauss() * (i % 11 == 0 ? 5.0f : 1.0f);
    for (int th = 0; th < 2; th++) {
      cquant_set_num_threads(th + 1);
      CHECK(cquant_qparams_create(cases[t].dt, cases[t].g, cases[t].axis, cases[t].G, cases[t].flags, 2, cases[t].shape, &qp[th]) == 0);
      CHECK(cquant_qparams_minmax(qp[th], x) == 0);
      for (int k = 0; k < 3; k++) y[th][k] = malloc(n * 4);
      q[th][0] = malloc(n * 2), q[th][1] = malloc(n);
      CHECK(cquant_quantize(x, qp[th], CQUANT_LAYOUT_UNPACKED, q[th][0]) == 0);
      CHECK(cquant_dequantize(q[th][0], qp[th], CQUANT_LAYOUT_UNPACKED, y[th][0]) == 0);
      CHECK(cquant_fake_quantize(x, qp[th], y[th][2]) == 0);
      memset(q[th][1], 0, n);
      memset(y[th][1], 0, n * 4);
      bad_st[th] = 0;
      if (packed) {
        CHECK(cquant_quantize(x, qp[th], CQUANT_LAYOUT_PACKED, q[th][1]) == 0);
        CHECK(cquant_dequantize(q[th][1], qp[th], CQUANT_LAYOUT_PACKED, y[th][1]) == 0);
        if (cases[t].flags & CQUANT_QF_NARROW_RANGE) { /* -8 in two places: the first is named */
          uint8_t *bad = malloc(n);
          memcpy(bad, q[th][1], n);
          bad[n / 8] = (uint8_t)((bad[n / 8] & 0x0F) | 0x80), bad[n / 3] = (uint8_t)((bad[n / 3] & 0xF0) | 0x08);
          bad_st[th] = cquant_dequantize(bad, qp[th], CQUANT_LAYOUT_PACKED, y[th][1]);
          snprintf(bad_msg[th], sizeof bad_msg[th], "%s", cquant_last_error());
          free(bad);
        }
      }
    }
    cquant_set_num_threads(0);
    const size_t qs = cquant_quantized_size(qp[0], CQUANT_LAYOUT_UNPACKED);
    CHECKF(memcmp(qp[0]->scale, qp[1]->scale, sizeof(float) * (size_t)qp[0]->count) == 0 &&
               memcmp(qp[0]->zero_point, qp[1]->zero_point, sizeof(int32_t) * (size_t)qp[0]->count) == 0,
           "case %zu: min-max parameters differ between 1 and 2 threads", t);
    CHECKF(memcmp(q[0][0], q[1][0], qs) == 0, "case %zu: quantize differs between 1 and 2 threads", t);
    CHECKF(memcmp(q[0][1], q[1][1], n) == 0, "case %zu: packed quantize differs", t);
    for (int k = 0; k < 3; k++) CHECKF(memcmp(y[0][k], y[1][k], n * 4) == 0, "case %zu: %s differs between 1 and 2 threads", t, k == 2 ? "fake-quantize" : "dequantize");
    if (cases[t].flags & CQUANT_QF_NARROW_RANGE) {
      CHECKF(bad_st[0] == CQUANT_STATUS_OUT_OF_RANGE && bad_st[1] == bad_st[0] && strcmp(bad_msg[0], bad_msg[1]) == 0, "case %zu: '%s' on 1 thread, '%s' on 2", t,
             bad_msg[0], bad_msg[1]);
      char want[64];
      snprintf(want, sizeof want, "packed element %zu ", n / 8 * 2 + 1);
      CHECKF(strstr(bad_msg[1], want) != NULL, "case %zu: '%s' does not name the first bad element (%s)", t, bad_msg[1], want);
    }
    if (cases[t].g == CQUANT_PER_TENSOR && cases[t].dt == CQUANT_DT_U8) {
      size_t off = 0;
      for (size_t i = 0; i < n; i++) off += q[1][0][i] != (uint8_t)model_q(x[i], qp[1]->scale[0], qp[1]->zero_point[0], qp[1]->qmin, qp[1]->qmax);
      CHECKF(off == 0, "case %zu: %zu elements differ from eq. 13 on 2 threads", t, off);
    }
    for (int th = 0; th < 2; th++) {
      for (int k = 0; k < 3; k++) free(y[th][k]);
      free(q[th][0]), free(q[th][1]);
      cquant_qparams_destroy(qp[th]);
    }
    free(x);
  }
  CHECKF(th_threads_now() == before, "%d threads, %d before the drivers ran (no OpenMP team expected)", th_threads_now(), before);
}

TH_MAIN(T(test_granularities), T(test_packed_blocks), T(test_group_must_divide), T(test_from_range), T(test_validation),
        T(test_json_round_trip), T(test_error_report), T(test_threads_deterministic))
