/* cquant against PyTorch 1.13 golden vectors (tests/golden/gen_torch.py): quantize_per_tensor,
 * quantize_per_channel and fake_quantize_per_tensor_affine outputs equal to the integer (and to the
 * float), and the scales and zero-points of MinMaxObserver / PerChannelMinMaxObserver, symmetric and
 * affine, within 1 ulp and equal. PyTorch forms r * (1/s), so these run with CQUANT_ROUND_RECIP;
 * every ISA path is checked. */
#include <cJSON.h>
#include "core/internal.h"
#include "harness.h"

#define GOLDEN CQUANT_SOURCE_DIR "/tests/golden/torch/"

static cJSON *manifest;

static int load(const char *name, cquant_array_t *a) {
  char path[1024];
  snprintf(path, sizeof path, GOLDEN "%s", name);
  int st = cquant_npy_load(path, a);
  CHECKF(st == 0, "cannot load %s: %s", path, cquant_last_error());
  return st;
}

static const char *str(const cJSON *c, const char *k) { return cJSON_GetObjectItem(c, k)->valuestring; }
static double num(const cJSON *c, const char *k) { return cJSON_GetObjectItem(c, k)->valuedouble; }

static cquant_dtype_t dtype_for_range(double qmin, double qmax) {
  if (qmin == -128) return CQUANT_DT_S8;
  if (qmin == -8) return CQUANT_DT_S4;
  if (qmin == -2) return CQUANT_DT_S2;
  if (qmax == 255) return CQUANT_DT_U8;
  if (qmax == 15) return CQUANT_DT_U4;
  return CQUANT_DT_U2;
}

/* |a - b| in units in the last place of b. */
static int ulps(float a, float b) {
  int32_t ia, ib;
  memcpy(&ia, &a, 4);
  memcpy(&ib, &b, 4);
  return abs(ia - ib);
}

static int count_op(const char *op) {
  int n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(manifest, "cases")) n += !strcmp(str(c, "op"), op);
  return n;
}

static void test_manifest(void) {
  CHECK(manifest != NULL);
  if (!manifest) return;
  printf("  golden vectors made with torch %s\n", str(manifest, "torch_version"));
  CHECK(count_op("quantize_per_tensor") >= 5 && count_op("quantize_per_channel") >= 3 &&
        count_op("minmax_observer") >= 40 && count_op("per_channel_minmax_observer") >= 12 &&
        count_op("fake_quantize_per_tensor_affine") >= 5);
}

static void for_each_isa(void (*fn)(const cJSON *), const char *op) {
  if (!manifest) return;
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
    if (cquant_isa_force((cquant_isa_t)isa)) continue;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(manifest, "cases")) if (!strcmp(str(c, "op"), op)) fn(c);
  }
  cquant_isa_force(cquant_isa_detected());
}

static void one_qpt(const cJSON *c) {
  cquant_array_t x, q;
  if (load(str(c, "x"), &x)) return;
  if (load(str(c, "q"), &q)) { cquant_array_free(&x); return; }
  cquant_dtype_t dt = !strcmp(str(c, "dtype"), "qint8") ? CQUANT_DT_S8 : CQUANT_DT_U8;
  cquant_qparams_t *qp;
  CHECK(cquant_qparams_create(dt, CQUANT_PER_TENSOR, 0, 0, 0, x.ndim, x.shape, &qp) == 0);
  qp->scale[0] = (float)num(c, "scale");
  qp->zero_point[0] = (int32_t)num(c, "zero_point");
  qp->rounding = CQUANT_ROUND_RECIP;
  uint8_t *out = malloc((size_t)x.numel);
  CHECK(cquant_quantize(x.data, qp, CQUANT_LAYOUT_UNPACKED, out) == 0);
  CHECKF(memcmp(out, q.data, (size_t)x.numel) == 0, "%s differs from torch (%s)", str(c, "q"), cquant_isa_name(cquant_isa_active()));
  free(out);
  cquant_qparams_destroy(qp);
  cquant_array_free(&x);
  cquant_array_free(&q);
}
static void test_quantize_per_tensor(void) { for_each_isa(one_qpt, "quantize_per_tensor"); }

static void one_qpc(const cJSON *c) {
  cquant_array_t x, q, s, z;
  if (load(str(c, "x"), &x) || load(str(c, "q"), &q) || load(str(c, "scales"), &s) || load(str(c, "zero_points"), &z)) return;
  cquant_dtype_t dt = !strcmp(str(c, "dtype"), "qint8") ? CQUANT_DT_S8 : CQUANT_DT_U8;
  cquant_qparams_t *qp;
  CHECK(cquant_qparams_create(dt, CQUANT_PER_CHANNEL, (int)num(c, "axis"), 0, 0, x.ndim, x.shape, &qp) == 0);
  CHECK(qp->count == s.numel);
  memcpy(qp->scale, s.data, (size_t)s.numel * 4);
  memcpy(qp->zero_point, z.data, (size_t)z.numel * 4);
  qp->rounding = CQUANT_ROUND_RECIP;
  uint8_t *out = malloc((size_t)x.numel);
  CHECK(cquant_quantize(x.data, qp, CQUANT_LAYOUT_UNPACKED, out) == 0);
  CHECKF(memcmp(out, q.data, (size_t)x.numel) == 0, "%s differs from torch (%s)", str(c, "q"), cquant_isa_name(cquant_isa_active()));
  free(out);
  cquant_qparams_destroy(qp);
  cquant_array_free(&x); cquant_array_free(&q); cquant_array_free(&s); cquant_array_free(&z);
}
static void test_quantize_per_channel(void) { for_each_isa(one_qpc, "quantize_per_channel"); }

static void one_fq(const cJSON *c) {
  cquant_array_t x, y;
  if (load(str(c, "x"), &x) || load(str(c, "y"), &y)) return;
  cquant_qparams_t *qp;
  CHECK(cquant_qparams_create(dtype_for_range(num(c, "quant_min"), num(c, "quant_max")), CQUANT_PER_TENSOR, 0, 0, 0, x.ndim, x.shape, &qp) == 0);
  qp->scale[0] = (float)num(c, "scale");
  qp->zero_point[0] = (int32_t)num(c, "zero_point");
  qp->rounding = CQUANT_ROUND_RECIP;
  float *out = malloc((size_t)x.numel * 4);
  CHECK(cquant_fake_quantize(x.data, qp, out) == 0);
  int64_t bad = 0;
  for (int64_t i = 0; i < x.numel; i++) bad += out[i] != ((float *)y.data)[i];
  CHECKF(bad == 0, "%s: %lld values differ from torch (%s)", str(c, "y"), (long long)bad, cquant_isa_name(cquant_isa_active()));
  free(out);
  cquant_qparams_destroy(qp);
  cquant_array_free(&x);
  cquant_array_free(&y);
}
static void test_fake_quantize_per_tensor(void) { for_each_isa(one_fq, "fake_quantize_per_tensor_affine"); }

static void one_observer(const cJSON *c) {
  cquant_array_t x;
  if (load(str(c, "x"), &x)) return;
  unsigned flags = strstr(str(c, "scheme"), "symmetric") ? CQUANT_QF_SYMMETRIC : 0;
  cquant_qparams_t *qp;
  CHECK(cquant_qparams_create(dtype_for_range(num(c, "quant_min"), num(c, "quant_max")), CQUANT_PER_TENSOR, 0, 0, flags, x.ndim, x.shape, &qp) == 0);
  CHECK(cquant_qparams_minmax(qp, x.data) == 0);
  float want = (float)num(c, "scale");
  CHECKF(ulps(qp->scale[0], want) <= 1, "%s %s: scale %.9g, torch %.9g", str(c, "x"), str(c, "scheme"), qp->scale[0], want);
  /* One deliberate difference: for unsigned symmetric with a custom range PyTorch takes
   * z = floor((qmin + qmax) / 2) (7 for [0, 15]) although its full uint8 range gets 128; cquant uses
   * 2^(bits-1) for every unsigned width (128, 8, 2), eq. 10, so q - z spans [-2^(b-1), 2^(b-1) - 1]
   * like the signed type. docs/quantization.md says so. */
  int32_t want_z = (int32_t)num(c, "zero_point");
  if (flags && !strcmp(str(c, "dtype"), "quint8") && num(c, "quant_max") != 255) want_z = ((int32_t)num(c, "quant_max") + 1) / 2;
  CHECKF(qp->zero_point[0] == want_z, "%s %s: zero-point %d, want %d (torch %d)", str(c, "x"), str(c, "scheme"),
         qp->zero_point[0], want_z, (int)num(c, "zero_point"));
  cquant_qparams_destroy(qp);
  cquant_array_free(&x);
}
static void test_minmax_observer(void) { for_each_isa(one_observer, "minmax_observer"); }

static void one_pc_observer(const cJSON *c) {
  cquant_array_t x, s, z;
  if (load(str(c, "x"), &x) || load(str(c, "scales"), &s) || load(str(c, "zero_points"), &z)) return;
  unsigned flags = strstr(str(c, "scheme"), "symmetric") ? CQUANT_QF_SYMMETRIC : 0;
  cquant_dtype_t dt = !strcmp(str(c, "dtype"), "qint8") ? CQUANT_DT_S8 : CQUANT_DT_U8;
  cquant_qparams_t *qp;
  CHECK(cquant_qparams_create(dt, CQUANT_PER_CHANNEL, (int)num(c, "axis"), 0, flags, x.ndim, x.shape, &qp) == 0);
  CHECK(cquant_qparams_minmax(qp, x.data) == 0);
  for (int64_t i = 0; i < qp->count && i < s.numel; i++) {
    CHECKF(ulps(qp->scale[i], ((float *)s.data)[i]) <= 1, "%s channel %lld: scale %.9g torch %.9g", str(c, "x"), (long long)i,
           qp->scale[i], ((float *)s.data)[i]);
    CHECKF(qp->zero_point[i] == ((int32_t *)z.data)[i], "%s channel %lld: zero-point", str(c, "x"), (long long)i);
  }
  cquant_qparams_destroy(qp);
  cquant_array_free(&x); cquant_array_free(&s); cquant_array_free(&z);
}
static void test_per_channel_observer(void) { for_each_isa(one_pc_observer, "per_channel_minmax_observer"); }

/* Streaming observers: the same batches in the same order, scales within 1 ulp, zero-points equal. */
static void one_stream(const cJSON *c) {
  cquant_calib_config_t cfg;
  cquant_calib_config_default(&cfg, cJSON_IsTrue(cJSON_GetObjectItem(c, "ema")) ? CQUANT_CALIB_EMA : CQUANT_CALIB_MINMAX);
  cfg.dtype = !strcmp(str(c, "dtype"), "qint8") ? CQUANT_DT_S8 : CQUANT_DT_U8;
  cfg.flags = !strcmp(str(c, "scheme"), "symmetric") ? CQUANT_QF_SYMMETRIC : 0;
  cfg.axis = (int)num(c, "axis");
  cquant_observer_t *o;
  CHECK(cquant_observer_create(&cfg, &o) == 0);
  const cJSON *b;
  cquant_array_t x = {0};
  int nb = 0;
  cJSON_ArrayForEach(b, cJSON_GetObjectItem(c, "batches")) {
    cquant_array_free(&x);
    if (load(b->valuestring, &x)) break;
    CHECK(cquant_observer_update(o, x.data, x.ndim, x.shape) == 0);
    nb++;
  }
  cquant_array_t s, z;
  cquant_qparams_t *qp = NULL;
  if (nb == 5 && !load(str(c, "scales"), &s) && !load(str(c, "zero_points"), &z)) {
    CHECK(cquant_observer_qparams(o, x.ndim, x.shape, &qp) == 0);
    for (int64_t i = 0; qp && i < qp->count && i < s.numel; i++) {
      CHECKF(ulps(qp->scale[i], ((float *)s.data)[i]) <= 1, "%s %s %s ch %lld: scale %.9g torch %.9g", str(c, "observer"), str(c, "scheme"),
             str(c, "dtype"), (long long)i, qp->scale[i], ((float *)s.data)[i]);
      CHECKF(qp->zero_point[i] == ((int32_t *)z.data)[i], "%s %s %s ch %lld: zero-point %d torch %d", str(c, "observer"), str(c, "scheme"),
             str(c, "dtype"), (long long)i, qp->zero_point[i], ((int32_t *)z.data)[i]);
    }
    CHECK(qp && qp->count == s.numel);
    cquant_array_free(&s);
    cquant_array_free(&z);
  }
  cquant_qparams_destroy(qp);
  cquant_array_free(&x);
  cquant_observer_destroy(o);
}
static void test_streaming_observers(void) {
  CHECK(count_op("observer_stream") >= 24);
  for_each_isa(one_stream, "observer_stream");
}

int main(int argc, char **argv) {
  void *buf;
  size_t len;
  if (cquant_file_read(GOLDEN "manifest.json", &buf, &len) == 0) {
    manifest = cJSON_Parse(buf);
    free(buf);
  }
  static const th_case cases[] = {T(test_manifest), T(test_quantize_per_tensor), T(test_quantize_per_channel),
                                  T(test_fake_quantize_per_tensor), T(test_minmax_observer), T(test_per_channel_observer), T(test_streaming_observers)};
  int r = th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
  cJSON_Delete(manifest);
  return r;
}
