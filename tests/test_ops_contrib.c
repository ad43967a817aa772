/* The com.microsoft activations ONNX Runtime's tools write (Gelu, FastGelu, BiasGelu, QuickGelu),
 * and the ai.onnx Gelu (opset 20) and Mish (opset 18) the backend suite lacks: one-node models run
 * through the float executor, checked against the formulas in double (C library erf, tanh, exp),
 * written here independently of src/exec/ops/math.c. */
#include "onnx_build.h"

#define XD 3
static int64_t xdims[XD] = {2, 3, 8}, bdims[1] = {8}, badbdims[1] = {5};

/* One node `op` (domain dom) on graph input x and an optional initializer bias, opset `opset` of
 * ai.onnx and 1 of com.microsoft. */
static cquant_onnx_model_t *one_node(const char *dom, const char *op, int opset, Onnx__TensorProto *bias, Onnx__AttributeProto *at) {
  static const char *in_xb[] = {"x", "b"};
  Onnx__NodeProto *n = node(op, bias ? 2 : 1, in_xb, "y");
  n->domain = (char *)dom;
  if (at) {
    Onnx__AttributeProto **a = tb_malloc(sizeof *a);
    a[0] = at;
    n->n_attribute = 1, n->attribute = a;
  }
  Onnx__NodeProto *nodes[1] = {n};
  Onnx__TensorProto *inits[1] = {bias};
  Onnx__ValueInfoProto *vin[1] = {vinfo("x", XD, xdims)}, *vout[1] = {vinfo("y", XD, xdims)};
  Onnx__GraphProto g;
  onnx__graph_proto__init(&g);
  g.name = "contrib"; g.n_node = 1; g.node = nodes; g.n_initializer = bias ? 1 : 0; g.initializer = inits;
  g.n_input = 1; g.input = vin; g.n_output = 1; g.output = vout;
  Onnx__ModelProto mp; onnx__model_proto__init(&mp);
  Onnx__OperatorSetIdProto o1, o2;
  onnx__operator_set_id_proto__init(&o1); onnx__operator_set_id_proto__init(&o2);
  o1.domain = ""; o1.has_version = 1; o1.version = opset;
  o2.domain = "com.microsoft"; o2.has_version = 1; o2.version = 1;
  Onnx__OperatorSetIdProto *ops[2] = {&o1, &o2};
  mp.has_ir_version = 1; mp.ir_version = 8; mp.n_opset_import = 2; mp.opset_import = ops; mp.graph = &g;
  size_t len = onnx__model_proto__get_packed_size(&mp);
  uint8_t *buf = malloc(len);
  onnx__model_proto__pack(&mp, buf);
  cquant_onnx_model_t *m = NULL;
  int st = cquant_onnx_load_buffer(buf, len, &m);
  if (st) fprintf(stderr, "  load: %s\n", cquant_last_error());
  free(buf);
  return st ? NULL : m;
}

static Onnx__AttributeProto *attr_s(const char *name, const char *v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  a->has_s = 1; a->s.data = (uint8_t *)v; a->s.len = strlen(v);
  return a;
}

/* The formulas, in double. */
enum { GELU, GELU_TANH, QUICK, MISH };
static double ref(int kind, double t, double alpha) {
  switch (kind) {
    case GELU: return 0.5 * t * (1.0 + erf(t / sqrt(2.0)));
    case GELU_TANH: return 0.5 * t * (1.0 + tanh(sqrt(2.0 / M_PI) * (t + 0.044715 * t * t * t)));
    case QUICK: return t / (1.0 + exp(-alpha * t));
    default: return t * tanh(log(1.0 + exp(t)));
  }
}

/* Runs the model on x in [-5, 5) and compares y with kind(x + bias). */
static void check(const char *dom, const char *op, int opset, int kind, int with_bias, Onnx__AttributeProto *at, double alpha) {
  Onnx__TensorProto *b = with_bias ? tensor("b", 1, bdims, -1, 1) : NULL;
  cquant_onnx_model_t *m = one_node(dom, op, opset, b, at);
  CHECKF(m != NULL, "%s did not load", op);
  if (!m) return;
  cquant_array_t x, y = {0};
  cquant_array_alloc(&x, CQUANT_DT_F32, XD, xdims);
  float *xv = x.data;
  for (int64_t i = 0; i < x.numel; i++) xv[i] = 5.0f * frand();
  xv[0] = 0.0f, xv[1] = -5.0f, xv[2] = 4.5f;
  const char *names[1] = {"x"};
  int st = cquant_onnx_run(m, 1, names, &x, &y);
  CHECKF(st == 0, "%s: %s", op, cquant_last_error());
  if (st == 0) {
    CHECK(y.dtype == CQUANT_DT_F32 && y.numel == x.numel);
    double worst = 0;
    for (int64_t i = 0; i < x.numel; i++) {
      const double t = (double)xv[i] + (b ? (double)b->float_data[i % 8] : 0.0);
      const double r = ref(kind, t, alpha), d = fabs(((float *)y.data)[i] - r);
      worst = fmax(worst, d / (1e-6 + fabs(r)));
      CHECKF(d <= 1e-6 + 1e-5 * fabs(r), "%s element %lld: %.9g, expected %.9g", op, (long long)i, ((float *)y.data)[i], r);
    }
    (void)worst;
    cquant_array_free(&y);
  }
  cquant_array_free(&x);
  cquant_onnx_free(m);
}

static void test_ms_gelu(void) { check("com.microsoft", "Gelu", 17, GELU, 0, NULL, 0); }
static void test_ms_fastgelu(void) { check("com.microsoft", "FastGelu", 17, GELU_TANH, 0, NULL, 0); }
static void test_ms_fastgelu_bias(void) { check("com.microsoft", "FastGelu", 17, GELU_TANH, 1, NULL, 0); }
static void test_ms_biasgelu(void) { check("com.microsoft", "BiasGelu", 17, GELU, 1, NULL, 0); }
static void test_ms_quickgelu(void) { check("com.microsoft", "QuickGelu", 17, QUICK, 0, NULL, 1.702); }
static void test_ms_quickgelu_alpha(void) { check("com.microsoft", "QuickGelu", 17, QUICK, 0, attr_f("alpha", 1.0f), 1.0); }
static void test_onnx_gelu(void) { check("", "Gelu", 20, GELU, 0, NULL, 0); }
static void test_onnx_gelu_tanh(void) { check("", "Gelu", 20, GELU_TANH, 0, attr_s("approximate", "tanh"), 0); }
static void test_onnx_mish(void) { check("", "Mish", 18, MISH, 0, NULL, 0); }

/* A bias that does not broadcast to X, and an unknown approximation, are errors, not crashes. */
static void test_bad_inputs(void) {
  Onnx__TensorProto *b = tensor("b", 1, badbdims, -1, 1);
  cquant_array_t x, y = {0};
  cquant_array_alloc(&x, CQUANT_DT_F32, XD, xdims);
  const char *names[1] = {"x"};
  cquant_onnx_model_t *m = one_node("com.microsoft", "BiasGelu", 17, b, NULL);
  CHECK(m != NULL); /* loads: the shapes are checked when the node runs */
  if (m) {
    CHECK(cquant_onnx_run(m, 1, names, &x, &y) != 0);
    cquant_onnx_free(m);
  }
  m = one_node("", "Gelu", 20, NULL, attr_s("approximate", "erf"));
  CHECK(m != NULL);
  if (m) {
    CHECK(cquant_onnx_run(m, 1, names, &x, &y) != 0);
    cquant_onnx_free(m);
  }
  cquant_array_free(&x);
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"ms_gelu", test_ms_gelu},
      {"ms_fastgelu", test_ms_fastgelu},
      {"ms_fastgelu_bias", test_ms_fastgelu_bias},
      {"ms_biasgelu", test_ms_biasgelu},
      {"ms_quickgelu", test_ms_quickgelu},
      {"ms_quickgelu_alpha", test_ms_quickgelu_alpha},
      {"onnx_gelu", test_onnx_gelu},
      {"onnx_gelu_tanh", test_onnx_gelu_tanh},
      {"onnx_mish", test_onnx_mish},
      {"bad_inputs", test_bad_inputs},
  };
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
