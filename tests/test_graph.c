/* Graph passes exercised directly: BatchNormalization folding into Conv (cquant__pass_cleanup).
 * Models are built as protobuf-c structs, packed, loaded and run before and after the pass. */
#include "harness.h"
#include "cquant/cquant.h"
#include "graph/passes.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* xorshift64*, uniform in [-1, 1) */
  rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
  return (float)((rng_state * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

static Onnx__TensorProto *tensor(const char *name, int nd, const int64_t *dims, float lo, float hi) {
  Onnx__TensorProto *t = calloc(1, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1; t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->n_dims = nd; t->dims = (int64_t *)dims;
  size_t n = 1; for (int i = 0; i < nd; i++) n *= dims[i];
  t->n_float_data = n; t->float_data = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) t->float_data[i] = lo + (hi - lo) * 0.5f * (frand() + 1.0f);
  return t;
}

static Onnx__ValueInfoProto *vinfo(const char *name, int nd, const int64_t *dims) {
  Onnx__ValueInfoProto *v = calloc(1, sizeof *v); onnx__value_info_proto__init(v);
  Onnx__TypeProto *tp = calloc(1, sizeof *tp); onnx__type_proto__init(tp);
  Onnx__TypeProto__Tensor *tt = calloc(1, sizeof *tt); onnx__type_proto__tensor__init(tt);
  Onnx__TensorShapeProto *sh = calloc(1, sizeof *sh); onnx__tensor_shape_proto__init(sh);
  sh->n_dim = nd; sh->dim = calloc(nd ? nd : 1, sizeof *sh->dim);
  for (int i = 0; i < nd; i++) {
    Onnx__TensorShapeProto__Dimension *d = calloc(1, sizeof *d); onnx__tensor_shape_proto__dimension__init(d);
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE; d->dim_value = dims[i];
    sh->dim[i] = d;
  }
  tt->has_elem_type = 1; tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT; tt->shape = nd ? sh : NULL;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE; tp->tensor_type = tt;
  v->name = (char *)name; v->type = tp;
  return v;
}

static Onnx__AttributeProto *attr_i(const char *name, int64_t v) {
  Onnx__AttributeProto *a = calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT; a->has_i = 1; a->i = v;
  return a;
}
static Onnx__AttributeProto *attr_f(const char *name, float v) {
  Onnx__AttributeProto *a = calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT; a->has_f = 1; a->f = v;
  return a;
}

static Onnx__NodeProto *node(const char *op, int nin, const char **in, const char *out) {
  Onnx__NodeProto *n = calloc(1, sizeof *n); onnx__node_proto__init(n);
  n->op_type = (char *)op; n->name = (char *)out;
  n->n_input = nin; n->input = (char **)in;
  n->n_output = 1; n->output = malloc(sizeof(char *)); n->output[0] = (char *)out;
  return n;
}

/* Packs a one-input one-output graph and loads it. */
static cquant_onnx_model_t *load_model(Onnx__GraphProto *g) {
  Onnx__ModelProto mp; onnx__model_proto__init(&mp);
  Onnx__OperatorSetIdProto op; onnx__operator_set_id_proto__init(&op);
  op.domain = ""; op.has_version = 1; op.version = 13;
  Onnx__OperatorSetIdProto *ops[1] = {&op};
  mp.has_ir_version = 1; mp.ir_version = 7; mp.n_opset_import = 1; mp.opset_import = ops; mp.graph = g;
  size_t len = onnx__model_proto__get_packed_size(&mp);
  uint8_t *buf = malloc(len); onnx__model_proto__pack(&mp, buf);
  cquant_onnx_model_t *m = NULL;
  int st = cquant_onnx_load_buffer(buf, len, &m);
  if (st) fprintf(stderr, "  load: %s\n", cquant_last_error());
  free(buf);
  return st ? NULL : m;
}

static int count_op(const cquant_onnx_model_t *m, const char *op) {
  const Onnx__GraphProto *g = cquant__onnx_proto(m)->graph;
  int c = 0;
  for (size_t i = 0; i < g->n_node; i++) c += strcmp(g->node[i]->op_type, op) == 0;
  return c;
}

/* max |a-b| <= 1e-6 max |ref| + 1e-7 */
static int close_rel(const cquant_array_t *ref, const cquant_array_t *b, double *dmax) {
  if (ref->numel != b->numel) return 0;
  const float *x = ref->data, *y = b->data;
  double mr = 0, md = 0;
  for (int64_t i = 0; i < ref->numel; i++) {
    mr = fmax(mr, fabs(x[i])); md = fmax(md, fabs((double)x[i] - y[i]));
  }
  *dmax = md;
  return md <= 1e-6 * mr + 1e-7;
}

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

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"bn_fold_conv", test_bn_fold_conv},
      {"bn_fold_conv_nobias", test_bn_fold_conv_nobias},
      {"bn_fold_depthwise", test_bn_fold_depthwise},
      {"bn_fold_depthwise_nobias", test_bn_fold_depthwise_nobias},
      {"fold_and_identity", test_fold_and_identity},
  };
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
