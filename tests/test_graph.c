/* Graph passes exercised directly: BatchNormalization folding into Conv (cquant__pass_cleanup).
 * Models are built as protobuf-c structs, packed, loaded and run before and after the pass. */
#include "onnx_build.h"
static void bn_case(int groups, int with_bias) {
  const int C = 4, H = 6, W = 5, K = 3;
  static int64_t xd[4], wd[4], cd[1], yd[4];
  xd[0] = 2; xd[1] = C; xd[2] = H; xd[3] = W;
  wd[0] = C; wd[1] = C / groups; wd[2] = K; wd[3] = K;
  cd[0] = C;
  yd[0] = 2; yd[1] = C; yd[2] = H - K + 1; yd[3] = W - K + 1;
  Onnx__TensorProto *inits[6];
  int ni = 0;
  inits[ni++] = tensor("w", 4, wd, -1, 1);
  if (with_bias) inits[ni++] = tensor("b", 1, cd, -0.5f, 0.5f);
  inits[ni++] = tensor("scale", 1, cd, 0.5f, 2.0f);
  inits[ni++] = tensor("beta", 1, cd, -1, 1);
  inits[ni++] = tensor("mean", 1, cd, -0.3f, 0.3f);
  inits[ni++] = tensor("var", 1, cd, 0.2f, 3.0f);
  static const char *cin_b[] = {"x", "w", "b"}, *bnin[] = {"c", "scale", "beta", "mean", "var"};
  Onnx__NodeProto *conv = node("Conv", with_bias ? 3 : 2, cin_b, "c");
  Onnx__AttributeProto *ca[1] = {attr_i("group", groups)};
  conv->n_attribute = 1; conv->attribute = ca;
  Onnx__NodeProto *bn = node("BatchNormalization", 5, bnin, "y");
  Onnx__AttributeProto *ba[1] = {attr_f("epsilon", 1e-3f)};
  bn->n_attribute = 1; bn->attribute = ba;
  Onnx__NodeProto *nodes[2] = {conv, bn};
  Onnx__ValueInfoProto *vin[1] = {vinfo("x", 4, xd)}, *vout[1] = {vinfo("y", 4, yd)};
  Onnx__GraphProto g; onnx__graph_proto__init(&g);
  g.name = "bn"; g.n_node = 2; g.node = nodes; g.n_initializer = ni; g.initializer = inits;
  g.n_input = 1; g.input = vin; g.n_output = 1; g.output = vout;
  cquant_onnx_model_t *m = load_model(&g);
  CHECK(m != NULL);
  if (!m) return;
  CHECK(count_op(m, "BatchNormalization") == 1);

  cquant__graph_t gr;
  CHECK(cquant__graph_from_model(m, &gr) == 0);
  cquant__cleanup_stats_t s = {0};
  CHECK(cquant__pass_cleanup(&gr, &s) == 0);
  CHECK(s.batchnorms == 1);
  cquant_onnx_model_t *m2 = NULL;
  CHECK(cquant__graph_load(&gr, &m2) == 0);
  if (m2) {
    CHECK(count_op(m2, "BatchNormalization") == 0);
    CHECK(count_op(m2, "Conv") == 1);
    for (int trial = 0; trial < 3; trial++) {
      cquant_array_t x; cquant_array_alloc(&x, CQUANT_DT_F32, 4, xd);
      for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = 3.0f * frand();
      const char *names[1] = {"x"};
      cquant_array_t r1 = {0}, r2 = {0};
      CHECK(cquant_onnx_run(m, 1, names, &x, &r1) == 0);
      CHECK(cquant_onnx_run(m2, 1, names, &x, &r2) == 0);
      double d = 0;
      CHECKF(close_rel(&r1, &r2, &d), "groups %d bias %d: max |d| %g", groups, with_bias, d);
      cquant_array_free(&x); cquant_array_free(&r1); cquant_array_free(&r2);
    }
    cquant_onnx_free(m2);
  }
  cquant__graph_free(&gr);
  cquant_onnx_free(m);
}

static void test_bn_fold_conv(void) { bn_case(1, 1); }
static void test_bn_fold_conv_nobias(void) { bn_case(1, 0); }
static void test_bn_fold_depthwise(void) { bn_case(4, 1); }
static void test_bn_fold_depthwise_nobias(void) { bn_case(4, 0); }

/* x -> Identity -> Add(., Add(a, b)) -> Identity -> y: the Add of two initializers folds, the inner Identity
 * goes and the one producing the graph output stays so that the output keeps the name "y" (Dropout cannot be loaded: the executor does not run it). */
static void test_fold_and_identity(void) {
  static int64_t xd[2] = {3, 8};
  Onnx__TensorProto *inits[2] = {tensor("a", 2, xd, -1, 1), tensor("b", 2, xd, -2, 2)};
  static const char *in0[] = {"x"}, *in1[] = {"a", "b"}, *in2[] = {"d", "ab"}, *in3[] = {"s"};
  Onnx__NodeProto *nodes[4] = {node("Identity", 1, in0, "d"), node("Add", 2, in1, "ab"), node("Add", 2, in2, "s"),
                               node("Identity", 1, in3, "y")};
  Onnx__ValueInfoProto *vin[1] = {vinfo("x", 2, xd)}, *vout[1] = {vinfo("y", 2, xd)};
  Onnx__GraphProto g; onnx__graph_proto__init(&g);
  g.name = "fold"; g.n_node = 4; g.node = nodes; g.n_initializer = 2; g.initializer = inits;
  g.n_input = 1; g.input = vin; g.n_output = 1; g.output = vout;
  cquant_onnx_model_t *m = load_model(&g);
  CHECK(m != NULL);
  if (!m) return;
  cquant__graph_t gr;
  CHECK(cquant__graph_from_model(m, &gr) == 0);
  cquant__cleanup_stats_t s = {0};
  CHECK(cquant__pass_cleanup(&gr, &s) == 0);
  CHECK(s.constants >= 1);
  CHECK(s.identities == 1); /* the inner one; the Identity making output "y" stays (cleanup.c keeps output names) */
  cquant_onnx_model_t *m2 = NULL;
  CHECK(cquant__graph_load(&gr, &m2) == 0);
  if (m2) {
    CHECK(count_op(m2, "Add") == 1);
    CHECK(count_op(m2, "Identity") == 1);
    CHECK(count_op(m2, "Dropout") == 0);
    CHECK(cquant_onnx_num_outputs(m2) == 1 && strcmp(cquant_onnx_output_name(m2, 0), "y") == 0);
    cquant_array_t x; cquant_array_alloc(&x, CQUANT_DT_F32, 2, xd);
    for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = 3.0f * frand();
    const char *names[1] = {"x"};
    cquant_array_t r1 = {0}, r2 = {0};
    CHECK(cquant_onnx_run(m, 1, names, &x, &r1) == 0);
    CHECK(cquant_onnx_run(m2, 1, names, &x, &r2) == 0);
    double d = 0;
    CHECKF(close_rel(&r1, &r2, &d), "max |d| %g", d);
    /* and against the arithmetic itself */
    double md = 0;
    for (int64_t i = 0; i < x.numel; i++) {
      float ref = ((float *)x.data)[i] + (inits[0]->float_data[i] + inits[1]->float_data[i]);
      md = fmax(md, fabs(ref - ((float *)r2.data)[i]));
    }
    CHECKF(md <= 1e-6, "vs reference: %g", md);
    cquant_array_free(&x); cquant_array_free(&r1); cquant_array_free(&r2);
    cquant_onnx_free(m2);
  }
  cquant__graph_free(&gr);
  cquant_onnx_free(m);
}

/* x -> Identity -> d, read by name inside both branches of an If: the Identity stays (the passes
 * cannot rename uses inside a subgraph), and the cleaned model loads and gives the same outputs. */
static void test_identity_read_by_subgraph(void) {
  static int64_t xd[1] = {4};
  static const char *in0[] = {"x"}, *tin[] = {"d", "one"}, *ein[] = {"d", "two"}, *tout[] = {"t"}, *eout[] = {"e"}, *ifin[] = {"c"};
  Onnx__TensorProto *one = tensor("one", 1, xd, 1, 1), *two = tensor("two", 1, xd, 2, 2);
  Onnx__NodeProto *tn[1] = {node("Add", 2, tin, "t")}, *en[1] = {node("Mul", 2, ein, "e")};
  Onnx__GraphProto *tg = graph("then", 1, tn, 0, NULL, 1, tout, 1, &one), *eg = graph("else", 1, en, 0, NULL, 1, eout, 1, &two);
  Onnx__NodeProto *ifn = node("If", 1, ifin, "y");
  Onnx__AttributeProto *attrs[2] = {attr_g("then_branch", tg), attr_g("else_branch", eg)};
  ifn->n_attribute = 2; ifn->attribute = attrs;
  Onnx__NodeProto *nodes[2] = {node("Identity", 1, in0, "d"), ifn};
  Onnx__ValueInfoProto *vin[2] = {vinfo("x", 1, xd), vinfo("c", 0, NULL)}, *vout[1] = {vinfo("y", 1, xd)};
  vin[1]->type->tensor_type->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
  Onnx__GraphProto g; onnx__graph_proto__init(&g);
  g.name = "ifg"; g.n_node = 2; g.node = nodes; g.n_input = 2; g.input = vin; g.n_output = 1; g.output = vout;
  cquant_onnx_model_t *m = load_model(&g);
  CHECKF(m != NULL, "%s", cquant_last_error());
  if (!m) return;
  cquant__graph_t gr;
  CHECK(cquant__graph_from_model(m, &gr) == 0);
  cquant__cleanup_stats_t s = {0};
  CHECK(cquant__pass_cleanup(&gr, &s) == 0);
  CHECK(s.identities == 0);
  cquant_onnx_model_t *m2 = NULL;
  CHECKF(cquant__graph_load(&gr, &m2) == 0, "%s", cquant_last_error());
  for (int c = 0; c < 2 && m2; c++) {
    cquant_array_t in[2], r1 = {0}, r2 = {0};
    cquant_array_alloc(&in[0], CQUANT_DT_F32, 1, xd);
    cquant_array_alloc(&in[1], CQUANT_DT_BOOL, 0, NULL);
    for (int i = 0; i < 4; i++) ((float *)in[0].data)[i] = (float)i - 1.5f;
    *(uint8_t *)in[1].data = (uint8_t)c;
    const char *names[2] = {"x", "c"};
    CHECKF(cquant_onnx_run(m, 2, names, in, &r1) == 0, "%s", cquant_last_error());
    CHECKF(cquant_onnx_run(m2, 2, names, in, &r2) == 0, "%s", cquant_last_error());
    for (int i = 0; i < 4 && r1.data && r2.data; i++) {
      const float x = (float)i - 1.5f, want = c ? x + 1 : x * 2;
      CHECK(((float *)r1.data)[i] == want && ((float *)r2.data)[i] == want);
    }
    cquant_array_free(&in[0]); cquant_array_free(&in[1]); cquant_array_free(&r1); cquant_array_free(&r2);
  }
  cquant_onnx_free(m2);
  cquant__graph_free(&gr);
  cquant_onnx_free(m);
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"bn_fold_conv", test_bn_fold_conv},
      {"bn_fold_conv_nobias", test_bn_fold_conv_nobias},
      {"bn_fold_depthwise", test_bn_fold_depthwise},
      {"bn_fold_depthwise_nobias", test_bn_fold_depthwise_nobias},
      {"fold_and_identity", test_fold_and_identity},
      {"identity_read_by_subgraph", test_identity_read_by_subgraph},
  };
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
