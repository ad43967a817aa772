/* Operators of the vision family that ONNX's backend suite does not cover (ONNX Runtime's
 * com.microsoft normalizations, GroupNormalization, LpNormalization, Resize's opset-18
 * attributes) and bad attributes, as one-node models. Expected values are computed here from the
 * operators' formulas in double. */
#include "onnx_build.h"

/* A one-node model: every input a float graph input (int64 where is_i64 says), opset `opset` of
 * the default domain and com.microsoft version 1. */
static cquant_onnx_model_t *one_node(const char *domain, const char *op, int opset, int nin, const char **ins, const int *is_i64, int nout,
                                     const char **outs, Onnx__AttributeProto **attrs, int nattr) {
  Onnx__NodeProto *n = node(op, nin, ins, outs[0]);
  n->domain = (char *)domain;
  n->n_output = nout;
  n->output = (char **)outs;
  n->n_attribute = nattr;
  n->attribute = attrs;
  Onnx__ValueInfoProto **vin = tb_calloc(nin, sizeof *vin), **vout = tb_calloc(nout, sizeof *vout);
  int ngi = 0;
  for (int i = 0; i < nin; i++) {
    if (!*ins[i]) continue;
    vin[ngi] = vinfo(ins[i], 0, NULL);
    if (is_i64 && is_i64[i]) vin[ngi]->type->tensor_type->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    ngi++;
  }
  for (int i = 0; i < nout; i++) vout[i] = vinfo(outs[i], 0, NULL);
  Onnx__NodeProto **nodes = tb_calloc(1, sizeof *nodes);
  nodes[0] = n;
  Onnx__GraphProto g;
  onnx__graph_proto__init(&g);
  g.name = "one";
  g.n_node = 1, g.node = nodes, g.n_input = ngi, g.input = vin, g.n_output = nout, g.output = vout;
  Onnx__ModelProto mp;
  onnx__model_proto__init(&mp);
  Onnx__OperatorSetIdProto o1, o2;
  onnx__operator_set_id_proto__init(&o1);
  onnx__operator_set_id_proto__init(&o2);
  o1.domain = "", o1.has_version = 1, o1.version = opset;
  o2.domain = "com.microsoft", o2.has_version = 1, o2.version = 1;
  Onnx__OperatorSetIdProto *ops[2] = {&o1, &o2};
  mp.has_ir_version = 1, mp.ir_version = 8, mp.n_opset_import = 2, mp.opset_import = ops, mp.graph = &g;
  size_t len = onnx__model_proto__get_packed_size(&mp);
  uint8_t *buf = malloc(len);
  onnx__model_proto__pack(&mp, buf);
  cquant_onnx_model_t *m = NULL;
  int st = cquant_onnx_load_buffer(buf, len, &m);
  if (st) fprintf(stderr, "  load %s: %s\n", op, cquant_last_error());
  free(buf);
  return st ? NULL : m;
}

static cquant_array_t arr(int nd, const int64_t *shape, float lo, float hi) {
  cquant_array_t a;
  cquant_array_alloc(&a, CQUANT_DT_F32, nd, shape);
  for (int64_t i = 0; i < a.numel; i++) ((float *)a.data)[i] = lo + (hi - lo) * 0.5f * (frand() + 1.0f);
  return a;
}

static Onnx__AttributeProto *attr_s(const char *name, const char *v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name, a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  a->has_s = 1, a->s.data = (uint8_t *)v, a->s.len = strlen(v);
  return a;
}

static Onnx__AttributeProto *attr_is(const char *name, int n, const int64_t *v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name, a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->n_ints = n, a->ints = (int64_t *)v;
  return a;
}

/* max |got - want| <= 1e-5 (1 + |want|) over n values */
static int near(const cquant_array_t *got, const double *want, int64_t n, double *worst) {
  *worst = 0;
  if (got->dtype != CQUANT_DT_F32 || got->numel != n) return 0;
  for (int64_t i = 0; i < n; i++) {
    const double d = fabs(((const float *)got->data)[i] - want[i]) / (1 + fabs(want[i]));
    if (!(d <= *worst)) *worst = d;
  }
  return *worst <= 1e-5;
}

static int run(cquant_onnx_model_t *m, int n, const char **names, const cquant_array_t *in, cquant_array_t *out) {
  const int st = cquant_onnx_run(m, n, names, in, out);
  if (st) fprintf(stderr, "  run: %s\n", cquant_last_error());
  return st;
}

/* com.microsoft.LayerNormalization (and the ONNX one): rows of the last two axes. */
static void test_layer_norm(void) {
  const int64_t xs[3] = {2, 3, 4}, ps[2] = {3, 4};
  for (int ms = 0; ms < 2; ms++) {
    static const char *ins[3] = {"x", "s", "b"}, *outs[3] = {"y", "mean", "inv"};
    Onnx__AttributeProto *at[2] = {attr_i("axis", -2), attr_f("epsilon", 1e-3f)};
    cquant_onnx_model_t *m = one_node(ms ? "com.microsoft" : "", "LayerNormalization", 17, 3, ins, NULL, 3, outs, at, 2);
    CHECK(m != NULL);
    if (!m) continue;
    cquant_array_t in[3] = {arr(3, xs, -2, 3), arr(2, ps, 0.5f, 2), arr(2, ps, -1, 1)}, out[3] = {{0}};
    CHECK(run(m, 3, ins, in, out) == 0);
    double y[24], mean[2], inv[2], w;
    const float *x = in[0].data, *s = in[1].data, *b = in[2].data;
    for (int r = 0; r < 2; r++) {
      double su = 0, sq = 0;
      for (int j = 0; j < 12; j++) su += x[r * 12 + j];
      mean[r] = su / 12;
      for (int j = 0; j < 12; j++) sq += (x[r * 12 + j] - mean[r]) * (x[r * 12 + j] - mean[r]);
      inv[r] = 1 / sqrt(sq / 12 + 1e-3);
      for (int j = 0; j < 12; j++) y[r * 12 + j] = (x[r * 12 + j] - mean[r]) * inv[r] * s[j] + b[j];
    }
    CHECKF(near(&out[0], y, 24, &w), "ms %d: Y off by %g", ms, w);
    CHECKF(near(&out[1], mean, 2, &w) && out[1].ndim == 3 && out[1].shape[0] == 2 && out[1].shape[1] == 1, "ms %d: Mean off by %g", ms, w);
    CHECKF(near(&out[2], inv, 2, &w), "ms %d: InvStdDev off by %g", ms, w);
    for (int i = 0; i < 3; i++) cquant_array_free(&in[i]), cquant_array_free(&out[i]);
    cquant_onnx_free(m);
  }
}

/* LayerNormalization of rows whose mean is 1e5 times their spread: ONNX Runtime's one-pass float
 * variance (E[x^2] - mean^2) cancels completely there, so cquant must leave that order for the
 * two-pass statistics and still normalize the rows (within 1e-5 of a double reference). */
static void test_layer_norm_cancel(void) {
  const int64_t xs[2] = {3, 64}, ps[1] = {64};
  static const char *ins[2] = {"x", "s"}, *outs[1] = {"y"};
  Onnx__AttributeProto *at[1] = {attr_f("epsilon", 1e-12f)};
  cquant_onnx_model_t *m = one_node("", "LayerNormalization", 17, 2, ins, NULL, 1, outs, at, 1);
  CHECK(m != NULL);
  if (!m) return;
  cquant_array_t in[2] = {arr(2, xs, -0.01f, 0.01f), arr(1, ps, 1, 1)}, out[1] = {{0}};
  float *x = in[0].data;
  for (int i = 0; i < 192; i++) x[i] += 1000.0f * (float)(1 + i / 64);
  CHECK(run(m, 2, ins, in, out) == 0);
  double y[192], w;
  for (int r = 0; r < 3; r++) {
    double su = 0, sq = 0;
    for (int j = 0; j < 64; j++) su += x[r * 64 + j];
    const double mean = su / 64;
    for (int j = 0; j < 64; j++) sq += (x[r * 64 + j] - mean) * (x[r * 64 + j] - mean);
    for (int j = 0; j < 64; j++) y[r * 64 + j] = (x[r * 64 + j] - mean) / sqrt(sq / 64 + 1e-12);
  }
  CHECKF(near(&out[0], y, 192, &w), "Y off by %g", w);
  for (int i = 0; i < 2; i++) cquant_array_free(&in[i]);
  cquant_array_free(&out[0]);
  cquant_onnx_free(m);
}

/* com.microsoft.SkipLayerNormalization and SkipSimplifiedLayerNormalization: the sum of input,
 * skip (broadcast over the batch) and bias normalized over the hidden axis. */
static void test_skip_layer_norm(void) {
  const int64_t xs[3] = {2, 3, 8}, ks[2] = {3, 8}, hs[1] = {8};
  for (int rms = 0; rms < 2; rms++) {
    static const char *ins5[5] = {"x", "k", "g", "be", "bi"}, *ins4[4] = {"x", "k", "g", "bi"}, *outs[4] = {"y", "mean", "inv", "sum"};
    Onnx__AttributeProto *at[1] = {attr_f("epsilon", 1e-5f)};
    cquant_onnx_model_t *m = one_node("com.microsoft", rms ? "SkipSimplifiedLayerNormalization" : "SkipLayerNormalization", 17, rms ? 4 : 5,
                                      rms ? ins4 : ins5, NULL, 4, outs, at, 1);
    CHECK(m != NULL);
    if (!m) continue;
    cquant_array_t in[5] = {arr(3, xs, -2, 2), arr(2, ks, -1, 1), arr(1, hs, 0.5f, 1.5f), arr(1, hs, -1, 1), arr(1, hs, -0.5f, 0.5f)};
    if (rms) cquant_array_free(&in[3]), in[3] = in[4], memset(&in[4], 0, sizeof in[4]);
    cquant_array_t out[4] = {{0}};
    CHECK(run(m, rms ? 4 : 5, rms ? ins4 : ins5, in, out) == 0);
    const float *x = in[0].data, *k = in[1].data, *g = in[2].data, *be = rms ? NULL : in[3].data, *bi = rms ? in[3].data : in[4].data;
    double y[48], sum[48], inv[6], w;
    for (int r = 0; r < 6; r++) {
      double su = 0, sq = 0, mean;
      for (int j = 0; j < 8; j++) sum[r * 8 + j] = (double)x[r * 8 + j] + k[(r % 3) * 8 + j] + bi[j];
      for (int j = 0; j < 8; j++) su += sum[r * 8 + j];
      mean = rms ? 0 : su / 8;
      for (int j = 0; j < 8; j++) sq += (sum[r * 8 + j] - mean) * (sum[r * 8 + j] - mean);
      inv[r] = 1 / sqrt(sq / 8 + 1e-5);
      for (int j = 0; j < 8; j++) y[r * 8 + j] = (sum[r * 8 + j] - mean) * inv[r] * g[j] + (be ? be[j] : 0);
    }
    CHECKF(near(&out[0], y, 48, &w), "rms %d: output off by %g", rms, w);
    CHECKF(near(&out[2], inv, 6, &w), "rms %d: inv_std_var off by %g", rms, w);
    CHECKF(near(&out[3], sum, 48, &w), "rms %d: input_skip_bias_sum off by %g", rms, w);
    for (int i = 0; i < 5; i++) cquant_array_free(&in[i]);
    for (int i = 0; i < 4; i++) cquant_array_free(&out[i]);
    cquant_onnx_free(m);
  }
}

/* SimplifiedLayerNormalization (RMSNorm) in both domains ONNX Runtime registers it in. */
static void test_simplified_layer_norm(void) {
  const int64_t xs[2] = {3, 5}, ss[1] = {5};
  for (int ms = 0; ms < 2; ms++) {
    static const char *ins[2] = {"x", "s"}, *outs[2] = {"y", "inv"};
    Onnx__AttributeProto *at[1] = {attr_f("epsilon", 1e-6f)};
    cquant_onnx_model_t *m = one_node(ms ? "com.microsoft" : "", "SimplifiedLayerNormalization", 17, 2, ins, NULL, 2, outs, at, 1);
    CHECK(m != NULL);
    if (!m) continue;
    cquant_array_t in[2] = {arr(2, xs, -3, 3), arr(1, ss, 0.5f, 2)}, out[2] = {{0}};
    CHECK(run(m, 2, ins, in, out) == 0);
    const float *x = in[0].data, *s = in[1].data;
    double y[15], inv[3], w;
    for (int r = 0; r < 3; r++) {
      double sq = 0;
      for (int j = 0; j < 5; j++) sq += (double)x[r * 5 + j] * x[r * 5 + j];
      inv[r] = 1 / sqrt(sq / 5 + 1e-6);
      for (int j = 0; j < 5; j++) y[r * 5 + j] = x[r * 5 + j] * inv[r] * s[j];
    }
    CHECKF(near(&out[0], y, 15, &w), "ms %d: Y off by %g", ms, w);
    CHECKF(near(&out[1], inv, 3, &w), "ms %d: inv_std_var off by %g", ms, w);
    for (int i = 0; i < 2; i++) cquant_array_free(&in[i]), cquant_array_free(&out[i]);
    cquant_onnx_free(m);
  }
}

/* GroupNormalization: scale and bias per group (opset 18) and per channel (opset 21). */
static void test_group_norm(void) {
  const int64_t xs[4] = {2, 6, 2, 3}, gs[1] = {3}, cs[1] = {6};
  for (int per_ch = 0; per_ch < 2; per_ch++) {
    static const char *ins[3] = {"x", "s", "b"}, *outs[1] = {"y"};
    Onnx__AttributeProto *at[2] = {attr_i("num_groups", 3), attr_f("epsilon", 1e-4f)};
    cquant_onnx_model_t *m = one_node("", "GroupNormalization", per_ch ? 21 : 18, 3, ins, NULL, 1, outs, at, 2);
    CHECK(m != NULL);
    if (!m) continue;
    cquant_array_t in[3] = {arr(4, xs, -2, 2), arr(1, per_ch ? cs : gs, 0.5f, 2), arr(1, per_ch ? cs : gs, -1, 1)}, out[1] = {{0}};
    CHECK(run(m, 3, ins, in, out) == 0);
    const float *x = in[0].data, *s = in[1].data, *b = in[2].data;
    double y[72], w;
    for (int n = 0; n < 2; n++)
      for (int g = 0; g < 3; g++) {
        const int base = n * 36 + g * 12; /* 2 channels x 6 pixels */
        double su = 0, sq = 0;
        for (int j = 0; j < 12; j++) su += x[base + j];
        const double mean = su / 12;
        for (int j = 0; j < 12; j++) sq += (x[base + j] - mean) * (x[base + j] - mean);
        for (int j = 0; j < 12; j++) {
          const int p = per_ch ? g * 2 + j / 6 : g;
          y[base + j] = (x[base + j] - mean) / sqrt(sq / 12 + 1e-4) * s[p] + b[p];
        }
      }
    CHECKF(near(&out[0], y, 72, &w), "per channel %d: off by %g", per_ch, w);
    for (int i = 0; i < 3; i++) cquant_array_free(&in[i]);
    cquant_array_free(&out[0]);
    cquant_onnx_free(m);
  }
}

/* LpNormalization, p 1 and 2, along axis 1 of a 2 x 3 x 4 tensor. */
static void test_lp_norm(void) {
  const int64_t xs[3] = {2, 3, 4};
  for (int p = 1; p <= 2; p++) {
    static const char *ins[1] = {"x"}, *outs[1] = {"y"};
    Onnx__AttributeProto *at[2] = {attr_i("axis", 1), attr_i("p", p)};
    cquant_onnx_model_t *m = one_node("", "LpNormalization", 13, 1, ins, NULL, 1, outs, at, 2);
    CHECK(m != NULL);
    if (!m) continue;
    cquant_array_t in[1] = {arr(3, xs, -2, 2)}, out[1] = {{0}};
    CHECK(run(m, 1, ins, in, out) == 0);
    const float *x = in[0].data;
    double y[24], w;
    for (int a = 0; a < 2; a++)
      for (int c = 0; c < 4; c++) {
        double s = 0;
        for (int l = 0; l < 3; l++) s += p == 1 ? fabs(x[a * 12 + l * 4 + c]) : (double)x[a * 12 + l * 4 + c] * x[a * 12 + l * 4 + c];
        for (int l = 0; l < 3; l++) y[a * 12 + l * 4 + c] = x[a * 12 + l * 4 + c] / (p == 1 ? s : sqrt(s));
      }
    CHECKF(near(&out[0], y, 24, &w), "p %d: off by %g", p, w);
    cquant_array_free(&in[0]), cquant_array_free(&out[0]);
    cquant_onnx_free(m);
  }
}

/* Resize opset 18: axes with sizes and keep_aspect_ratio_policy not_larger (nearest), and
 * antialiased linear downsampling of one axis (a triangle filter 1/scale pixels wide). */
static void test_resize18(void) {
  static const char *ins[4] = {"x", "", "", "sz"}, *outs[1] = {"y"};
  static const int i64[4] = {0, 0, 0, 1};
  static const int64_t axes[2] = {2, 3};
  Onnx__AttributeProto *at[3] = {attr_is("axes", 2, axes), attr_s("keep_aspect_ratio_policy", "not_larger"), attr_s("mode", "nearest")};
  cquant_onnx_model_t *m = one_node("", "Resize", 18, 4, ins, i64, 1, outs, at, 3);
  CHECK(m != NULL);
  if (m) {
    const int64_t xs[4] = {1, 2, 2, 4}, ss[1] = {2};
    cquant_array_t in[2] = {arr(4, xs, -1, 1), {0}}, out[1] = {{0}};
    cquant_array_alloc(&in[1], CQUANT_DT_S64, 1, ss);
    ((int64_t *)in[1].data)[0] = 8, ((int64_t *)in[1].data)[1] = 6; /* scale min(4, 1.5) = 1.5: 2x4 -> 3x6 */
    const char *names[2] = {"x", "sz"};
    CHECK(run(m, 2, names, in, out) == 0);
    CHECK(out[0].ndim == 4 && out[0].shape[0] == 1 && out[0].shape[1] == 2 && out[0].shape[2] == 3 && out[0].shape[3] == 6);
    if (out[0].numel == 36) {
      double y[36], w;
      const float *x = in[0].data;
      for (int c = 0; c < 2; c++)
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 6; j++) { /* half_pixel, round_prefer_floor */
            const double si = (i + 0.5) / 1.5 - 0.5, sj = (j + 0.5) / 1.5 - 0.5;
            int ii = si - floor(si) == 0.5 ? (int)floor(si) : (int)lround(si), jj = sj - floor(sj) == 0.5 ? (int)floor(sj) : (int)lround(sj);
            ii = ii < 0 ? 0 : ii > 1 ? 1 : ii, jj = jj < 0 ? 0 : jj > 3 ? 3 : jj;
            y[c * 18 + i * 6 + j] = x[c * 8 + ii * 4 + jj];
          }
      CHECKF(near(&out[0], y, 36, &w), "keep_aspect_ratio: off by %g", w);
    }
    cquant_array_free(&in[0]), cquant_array_free(&in[1]), cquant_array_free(&out[0]);
    cquant_onnx_free(m);
  }
  static const char *ins2[3] = {"x", "", "sc"}, *outs2[1] = {"y"};
  Onnx__AttributeProto *at2[2] = {attr_s("mode", "linear"), attr_i("antialias", 1)};
  m = one_node("", "Resize", 18, 3, ins2, NULL, 1, outs2, at2, 2);
  CHECK(m != NULL);
  if (m) {
    const int64_t xs[2] = {1, 12}, ss[1] = {2};
    cquant_array_t in[2] = {arr(2, xs, -1, 1), arr(1, ss, 1, 1)}, out[1] = {{0}};
    ((float *)in[1].data)[1] = 0.25f;
    const char *names[2] = {"x", "sc"};
    CHECK(run(m, 2, names, in, out) == 0);
    double y[3], w;
    const float *x = in[0].data;
    for (int o = 0; o < 3; o++) {
      const double c = (o + 0.5) / 0.25 - 0.5;
      double s = 0, v = 0;
      for (int i = -8; i < 20; i++) {
        const double t = fmax(0, 1 - fabs((i - c) * 0.25));
        s += t, v += t * x[i < 0 ? 0 : i > 11 ? 11 : i];
      }
      y[o] = v / s;
    }
    CHECKF(near(&out[0], y, 3, &w), "antialias: off by %g", w);
    cquant_array_free(&in[0]), cquant_array_free(&in[1]), cquant_array_free(&out[0]);
    cquant_onnx_free(m);
  }
}

/* Resize opset 10 (X, scales) and Upsample opset 7 (scales attribute): asymmetric coordinates,
 * nearest takes the floor when upsampling. */
static void test_resize_old(void) {
  const int64_t xs[4] = {1, 1, 2, 3}, ss[1] = {4};
  for (int up = 0; up < 2; up++) {
    static const char *ins[2] = {"x", "sc"}, *outs[1] = {"y"};
    static const float sv[4] = {1, 1, 2, 3};
    Onnx__AttributeProto *sa = tb_calloc(1, sizeof *sa);
    onnx__attribute_proto__init(sa);
    sa->name = "scales", sa->has_type = 1, sa->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS, sa->n_floats = 4, sa->floats = (float *)sv;
    Onnx__AttributeProto *at[2] = {attr_s("mode", "nearest"), sa};
    cquant_onnx_model_t *m = one_node("", up ? "Upsample" : "Resize", up ? 7 : 10, up ? 1 : 2, ins, NULL, 1, outs, at, up ? 2 : 1);
    CHECK(m != NULL);
    if (!m) continue;
    cquant_array_t in[2] = {arr(4, xs, -1, 1), arr(1, ss, 1, 1)}, out[1] = {{0}};
    memcpy(in[1].data, sv, sizeof sv);
    CHECK(run(m, up ? 1 : 2, ins, in, out) == 0);
    CHECK(out[0].ndim == 4 && out[0].shape[2] == 4 && out[0].shape[3] == 9);
    double y[36], w;
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 9; j++) y[i * 9 + j] = ((const float *)in[0].data)[(i / 2) * 3 + j / 3];
    CHECKF(near(&out[0], y, 36, &w), "%s: off by %g", up ? "Upsample" : "Resize-10", w);
    for (int i = 0; i < 2; i++) cquant_array_free(&in[i]);
    cquant_array_free(&out[0]);
    cquant_onnx_free(m);
  }
}

/* GridSample opset 20 on a volume: trilinear, align_corners, border padding (grid points past the
 * edges clamp to it). */
static void test_grid_sample_3d(void) {
  static const char *ins[2] = {"x", "g"}, *outs[1] = {"y"};
  Onnx__AttributeProto *at[3] = {attr_s("mode", "linear"), attr_i("align_corners", 1), attr_s("padding_mode", "border")};
  cquant_onnx_model_t *m = one_node("", "GridSample", 20, 2, ins, NULL, 1, outs, at, 3);
  CHECK(m != NULL);
  if (!m) return;
  const int64_t xs[5] = {1, 2, 3, 4, 5}, gs[5] = {1, 2, 2, 3, 3};
  cquant_array_t in[2] = {arr(5, xs, -1, 1), arr(5, gs, -1.3f, 1.3f)}, out[1] = {{0}};
  CHECK(run(m, 2, ins, in, out) == 0);
  const float *x = in[0].data, *g = in[1].data;
  double y[24], w;
  for (int c = 0; c < 2; c++)
    for (int o = 0; o < 12; o++) {
      const int64_t len[3] = {3, 4, 5};
      double p[3];
      int i0[3];
      for (int d = 0; d < 3; d++) { /* grid lists (x, y, z): the last axis first */
        p[d] = (g[o * 3 + 2 - d] + 1) / 2 * (double)(len[d] - 1);
        p[d] = fmin(fmax(p[d], 0), (double)(len[d] - 1));
        i0[d] = (int)floor(p[d]);
        if (i0[d] == len[d] - 1) i0[d]--;
        p[d] -= i0[d];
      }
      double v = 0;
      for (int k = 0; k < 8; k++) {
        const int a = k >> 2 & 1, b = k >> 1 & 1, e = k & 1;
        v += (a ? p[0] : 1 - p[0]) * (b ? p[1] : 1 - p[1]) * (e ? p[2] : 1 - p[2]) * x[c * 60 + (i0[0] + a) * 20 + (i0[1] + b) * 5 + i0[2] + e];
      }
      y[c * 12 + o] = v;
    }
  CHECKF(near(&out[0], y, 24, &w), "off by %g", w);
  for (int i = 0; i < 2; i++) cquant_array_free(&in[i]);
  cquant_array_free(&out[0]);
  cquant_onnx_free(m);
}

/* NonMaxSuppression against a brute-force greedy selection written from the operator's
 * definition: per batch and class, the scores above the threshold (NaN never) in descending order,
 * ties by lower index; a box is selected unless its IoU with a box already selected exceeds
 * iou_threshold; at most max_output_boxes_per_class. Boxes as corners [y1, x1, y2, x2] in either
 * order, or [x_center, y_center, width, height]; a box of zero or NaN area (a NaN corner is ignored
 * by fmin/fmax: cquant's choice, the spec leaves it open) neither suppresses nor is suppressed.
 * Random sets of up to 3,000 boxes: clustered, the classes offset apart as torchvision's batched
 * NMS does, tied scores, degenerate and non-finite boxes. */
static int64_t nms_reference(const float *boxes, const float *scores, int64_t B, int64_t K, int64_t S, int center, int64_t max_out, double iou,
                             int has_thr, double thr, int64_t *rows) {
  int64_t n = 0, *order = malloc(sizeof(int64_t) * (size_t)S), *selected = malloc(sizeof(int64_t) * (size_t)S);
  double *c = malloc(sizeof(double) * 4 * (size_t)S);
  for (int64_t b = 0; b < B; b++) {
    for (int64_t i = 0; i < S; i++) {
      const float *v = boxes + (b * S + i) * 4;
      if (center) c[4 * i] = (double)v[1] - (double)v[3] / 2, c[4 * i + 2] = (double)v[1] + (double)v[3] / 2, c[4 * i + 1] = (double)v[0] - (double)v[2] / 2,
                  c[4 * i + 3] = (double)v[0] + (double)v[2] / 2;
      else c[4 * i] = fmin(v[0], v[2]), c[4 * i + 2] = fmax(v[0], v[2]), c[4 * i + 1] = fmin(v[1], v[3]), c[4 * i + 3] = fmax(v[1], v[3]);
    }
    for (int64_t k = 0; k < K; k++) {
      const float *sc = scores + (b * K + k) * S;
      int64_t m = 0, ns = 0;
      for (int64_t i = 0; i < S; i++)
        if (!isnan(sc[i]) && (!has_thr || sc[i] > thr)) order[m++] = i;
      for (int64_t x = 1; x < m; x++) /* insertion sort: score descending, index ascending */
        for (int64_t y = x; y > 0 && (sc[order[y]] > sc[order[y - 1]] || (sc[order[y]] == sc[order[y - 1]] && order[y] < order[y - 1])); y--) {
          const int64_t t = order[y];
          order[y] = order[y - 1], order[y - 1] = t;
        }
      for (int64_t x = 0; x < m && ns < max_out; x++) {
        const double *q = c + 4 * order[x];
        const double aq = (q[2] - q[0]) * (q[3] - q[1]);
        int ok = 1;
        for (int64_t y = 0; y < ns && ok && aq > 0; y++) {
          const double *p = c + 4 * selected[y];
          const double ap = (p[2] - p[0]) * (p[3] - p[1]);
          if (!(ap > 0)) continue;
          const double h = fmin(p[2], q[2]) - fmax(p[0], q[0]), w = fmin(p[3], q[3]) - fmax(p[1], q[1]);
          if (!(h > 0 && w > 0)) continue;
          const double in = h * w;
          ok = !(ap + aq - in > 0 && in / (ap + aq - in) > iou);
        }
        if (ok) selected[ns++] = order[x];
      }
      for (int64_t y = 0; y < ns; y++) rows[3 * n] = b, rows[3 * n + 1] = k, rows[3 * n + 2] = selected[y], n++;
    }
  }
  free(order), free(selected), free(c);
  return n;
}

static void test_nms_random(void) {
  static const char *nin[5] = {"boxes", "scores", "max_out", "iou", "thr"}, *outs[1] = {"y"};
  static const int i64[5] = {0, 0, 1, 0, 0};
  int compared = 0;
  for (int t = 0; t < 48; t++) {
    const int center = t % 2, spread = t % 3; /* 0: clustered, 1: spread, 2: classes offset apart */
    const int64_t B = 1 + t % 2, K = 1 + (t / 2) % 3, S = t % 8 == 7 ? 3000 : 1 + (int64_t)(th_rand() % 600);
    Onnx__AttributeProto *at[1] = {attr_i("center_point_box", center)};
    cquant_onnx_model_t *m = one_node("", "NonMaxSuppression", 11, 5, nin, i64, 1, outs, at, 1);
    CHECK(m != NULL);
    if (!m) continue;
    const int64_t bs[3] = {B, S, 4}, ss[3] = {B, K, S}, one[1] = {1};
    cquant_array_t in[5] = {{0}}, out[1] = {{0}};
    cquant_array_alloc(&in[0], CQUANT_DT_F32, 3, bs);
    cquant_array_alloc(&in[1], CQUANT_DT_F32, 3, ss);
    cquant_array_alloc(&in[2], CQUANT_DT_S64, 1, one);
    cquant_array_alloc(&in[3], CQUANT_DT_F32, 1, one);
    cquant_array_alloc(&in[4], CQUANT_DT_F32, 1, one);
    float *bx = in[0].data, *sc = in[1].data;
    for (int64_t i = 0; i < B * S; i++) {
      const double off = spread == 2 ? (double)(i % 5) * 400.0 : 0, range = spread == 0 ? 40.0 : 300.0;
      const double y = off + range * 0.5 * (frand() + 1), x = off + range * 0.5 * (frand() + 1);
      const double h = 1 + 30 * 0.5 * (frand() + 1), w = 1 + 30 * 0.5 * (frand() + 1);
      float *v = bx + 4 * i;
      if (center) v[0] = (float)x, v[1] = (float)y, v[2] = (float)w, v[3] = (float)h;
      else if (th_rand() % 2) v[0] = (float)y, v[1] = (float)x, v[2] = (float)(y + h), v[3] = (float)(x + w);
      else v[0] = (float)(y + h), v[1] = (float)(x + w), v[2] = (float)y, v[3] = (float)x; /* the other diagonal */
      const uint64_t odd = th_rand() % 50;
      if (odd == 0) v[2] = v[0], v[center ? 3 : 2] = center ? 0.0f : v[0]; /* zero area */
      if (odd == 1) v[th_rand() % 4] = NAN;
      if (odd == 2) v[th_rand() % 4] = th_rand() % 2 ? INFINITY : -INFINITY;
    }
    for (int64_t i = 0; i < B * K * S; i++) {
      sc[i] = th_rand() % 3 ? (float)(th_rand() % 64) / 64.0f : 0.5f * (frand() + 1.0f); /* many ties */
      if (th_rand() % 100 == 0) sc[i] = NAN;
    }
    const int64_t max_out = t % 5 == 0 ? 5 : t % 5 == 1 ? 0 : S;
    static const float ious[4] = {0.5f, 0.3f, 0.7f, 0.0f};
    const float iou = ious[t % 4], thr = t % 3 == 1 ? 0.25f : -INFINITY;
    ((int64_t *)in[2].data)[0] = max_out;
    ((float *)in[3].data)[0] = iou;
    ((float *)in[4].data)[0] = thr;
    int64_t *want = malloc(sizeof(int64_t) * 3 * (size_t)(B * K * S + 1));
    const int64_t nw = nms_reference(bx, sc, B, K, S, center, max_out, iou, t % 3 == 1, thr, want);
    const char *names[5] = {"boxes", "scores", "max_out", "iou", "thr"};
    if (!run(m, 5, names, in, out)) {
      CHECKF(out[0].dtype == CQUANT_DT_S64 && out[0].numel == 3 * nw, "case %d (S %lld, center %d): %lld rows, %lld expected", t, (long long)S, center,
             (long long)(out[0].numel / 3), (long long)nw);
      if (out[0].numel == 3 * nw) {
        CHECKF(memcmp(out[0].data, want, sizeof(int64_t) * 3 * (size_t)nw) == 0, "case %d (S %lld, center %d): the selected rows differ", t, (long long)S, center);
        compared += nw > 0;
      }
      cquant_array_free(&out[0]);
    } else CHECK(0);
    free(want);
    for (int i = 0; i < 5; i++) cquant_array_free(&in[i]);
    cquant_onnx_free(m);
  }
  CHECK(compared >= 30);
}

/* Bad attributes and shapes are errors, not crashes. */
static void test_errors(void) {
  const int64_t xs[4] = {1, 6, 2, 2}, gs[1] = {4};
  static const char *ins[3] = {"x", "s", "b"}, *outs[1] = {"y"};
  Onnx__AttributeProto *at[1] = {attr_i("num_groups", 4)};
  cquant_onnx_model_t *m = one_node("", "GroupNormalization", 18, 3, ins, NULL, 1, outs, at, 1);
  CHECK(m != NULL);
  if (m) {
    cquant_array_t in[3] = {arr(4, xs, -1, 1), arr(1, gs, 1, 1), arr(1, gs, 0, 0)}, out[1] = {{0}};
    CHECK(cquant_onnx_run(m, 3, ins, in, out) != 0); /* 4 groups do not divide 6 channels */
    for (int i = 0; i < 3; i++) cquant_array_free(&in[i]);
    cquant_onnx_free(m);
  }
  static const char *lin[1] = {"x"};
  Onnx__AttributeProto *la[1] = {attr_i("size", 0)};
  m = one_node("", "LRN", 13, 1, lin, NULL, 1, outs, la, 1);
  CHECK(m != NULL);
  if (m) {
    cquant_array_t in[1] = {arr(4, xs, -1, 1)}, out[1] = {{0}};
    CHECK(cquant_onnx_run(m, 1, lin, in, out) != 0); /* size 0 */
    cquant_array_free(&in[0]);
    cquant_onnx_free(m);
  }
  static const char *rin[3] = {"x", "rois", "bi"};
  static const int ri64[3] = {0, 0, 1};
  m = one_node("", "RoiAlign", 16, 3, rin, ri64, 1, outs, NULL, 0);
  CHECK(m != NULL);
  if (m) {
    const int64_t rs[2] = {1, 4}, bs[1] = {1};
    cquant_array_t in[3] = {arr(4, xs, -1, 1), arr(2, rs, 0, 1), {0}}, out[1] = {{0}};
    cquant_array_alloc(&in[2], CQUANT_DT_S64, 1, bs);
    ((int64_t *)in[2].data)[0] = 3; /* batch 3 of 1 */
    CHECK(cquant_onnx_run(m, 3, rin, in, out) != 0);
    for (int i = 0; i < 3; i++) cquant_array_free(&in[i]);
    cquant_onnx_free(m);
  }
  static const char *nin[2] = {"boxes", "scores"};
  m = one_node("", "NonMaxSuppression", 11, 2, nin, NULL, 1, outs, NULL, 0);
  CHECK(m != NULL);
  if (m) {
    const int64_t bs[3] = {1, 3, 3}, ss[3] = {1, 1, 3};
    cquant_array_t in[2] = {arr(3, bs, 0, 1), arr(3, ss, 0, 1)}, out[1] = {{0}};
    CHECK(cquant_onnx_run(m, 2, nin, in, out) != 0); /* boxes of 3 coordinates */
    for (int i = 0; i < 2; i++) cquant_array_free(&in[i]);
    cquant_onnx_free(m);
  }
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"layer_norm", test_layer_norm}, {"layer_norm_cancel", test_layer_norm_cancel},{"skip_layer_norm", test_skip_layer_norm}, {"simplified_layer_norm", test_simplified_layer_norm},
      {"group_norm", test_group_norm},   {"lp_norm", test_lp_norm},                 {"resize18", test_resize18},
      {"resize_old", test_resize_old},   {"grid_sample_3d", test_grid_sample_3d},   {"nms_random", test_nms_random}, {"errors", test_errors},
  };
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
