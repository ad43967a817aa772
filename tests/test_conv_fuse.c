/* Conv with the Add and activation after it folded into its output loop (src/exec/ops/conv_fuse.c):
 * every graph runs twice, plain (folding allowed) and with an observe callback (which turns it
 * off), and the outputs must agree bit for bit; the profile says which nodes were folded (they
 * report 0 ms) so that a matcher that stops matching fails here too. */
#include "onnx_build.h"
#include "cquant/quantize.h"

static int64_t XD[4] = {1, 8, 20, 21}, XB[4] = {1, 16, 40, 40};

static int no_observe(void *u, const char *name, const cquant_array_t *v) { (void)u, (void)name, (void)v; return 0; }

typedef struct {
  int n;
  char names[16][64];
  double ms[16];
} prof_t;
static void on_profile(void *u, const char *node, const char *op, double ms) {
  prof_t *p = u;
  (void)op;
  if (p->n < 16) snprintf(p->names[p->n], 64, "%s", node), p->ms[p->n++] = ms;
}


static cquant_array_t input(const int64_t *d, int with_nan) {
  cquant_array_t a;
  cquant_array_alloc(&a, CQUANT_DT_F32, 4, d);
  float *v = a.data;
  for (int64_t i = 0; i < a.numel; i++) v[i] = 2.0f * frand();
  if (with_nan) v[a.numel / 3] = NAN;
  return a;
}

/* Runs m on inputs both ways; want_folded: the node names that must report 0 ms when folding. */
static void both_ways(const char *what, cquant_onnx_model_t *m, int n_in, const char **names, const cquant_array_t *xs, int n_out,
                      int n_folded, const char **folded) {
  CHECKF(m != NULL, "%s: model", what);
  if (!m) return;
  cquant_array_t a[4] = {0}, b[4] = {0};
  prof_t pr = {0};
  const cquant_onnx_run_options_t fast = {NULL, NULL, on_profile, &pr}, plain = {no_observe, NULL, NULL, NULL};
  int st = cquant_onnx_run_ex(m, n_in, names, xs, a, &fast);
  CHECKF(!st, "%s: %s", what, cquant_last_error());
  st = st ? st : cquant_onnx_run_ex(m, n_in, names, xs, b, &plain);
  CHECKF(!st, "%s: observed run: %s", what, cquant_last_error());
  for (int o = 0; o < n_out && !st; o++) {
    CHECKF(a[o].nbytes == b[o].nbytes && a[o].nbytes && !memcmp(a[o].data, b[o].data, a[o].nbytes), "%s: output %d differs from the unfolded run", what, o);
  }
  for (int f = 0; f < n_folded; f++) {
    int seen = 0;
    for (int k = 0; k < pr.n; k++) seen |= !strcmp(pr.names[k], folded[f]) && pr.ms[k] == 0.0;
    CHECKF(seen, "%s: node %s was not folded", what, folded[f]);
  }
  for (int k = 0; k < pr.n; k++) { /* and nothing else reports 0: those nodes ran */
    int want = 0;
    for (int f = 0; f < n_folded; f++) want |= !strcmp(pr.names[k], folded[f]);
    if (!want) CHECKF(pr.ms[k] > 0.0, "%s: %s reports 0 ms", what, pr.names[k]);
  }
  for (int o = 0; o < n_out; o++) cquant_array_free(&a[o]), cquant_array_free(&b[o]);
  cquant_onnx_free(m);
}

static Onnx__TensorProto *scalar(const char *name, float v) {
  static const int64_t one[1] = {1};
  Onnx__TensorProto *t = tensor(name, 0, one, v, v);
  t->n_float_data = 1, t->float_data[0] = v;
  return t;
}

/* Conv "conv" of x (c input channels, group g, 3x3 pad 1) into m channels, then `act` nodes. */
static Onnx__NodeProto *conv_node(int64_t c, int64_t m, int64_t g, Onnx__TensorProto **init) {
  int64_t *wd = tb_malloc(4 * sizeof *wd), *bd = tb_malloc(sizeof *bd);
  wd[0] = m, wd[1] = c / g, wd[2] = 3, wd[3] = 3, bd[0] = m;
  init[0] = tensor("W", 4, wd, -0.3f, 0.3f);
  init[1] = tensor("B", 1, bd, -0.5f, 0.5f);
  static const char *in[3] = {"x", "W", "B"};
  Onnx__NodeProto *n = node("Conv", 3, in, "conv");
  int64_t *pads = tb_malloc(4 * sizeof *pads);
  pads[0] = pads[1] = pads[2] = pads[3] = 1;
  Onnx__AttributeProto *pa = tb_calloc(1, sizeof *pa); onnx__attribute_proto__init(pa);
  pa->name = "pads"; pa->has_type = 1; pa->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS; pa->n_ints = 4; pa->ints = pads;
  n->n_attribute = 2; n->attribute = tb_calloc(2, sizeof *n->attribute);
  n->attribute[0] = pa, n->attribute[1] = attr_i("group", g);
  return n;
}

static void with_attr(Onnx__NodeProto *n, Onnx__AttributeProto *a, Onnx__AttributeProto *b) {
  n->n_attribute = b ? 2 : 1;
  n->attribute = tb_calloc(2, sizeof *n->attribute);
  n->attribute[0] = a, n->attribute[1] = b;
}

/* One activation op (with its attributes) after a Conv of xd's shape, group g. */
static void one_act(const char *op, const int64_t *xd, int64_t g, int nan, int opset) {
  Onnx__TensorProto *init[4];
  Onnx__NodeProto *nodes[6];
  int nn = 0, ni = 2;
  const int64_t c = xd[1], m = g == 1 ? 12 : c;
  nodes[nn++] = conv_node(c, m, g, init);
  static const char *cv[1] = {"conv"};
  const char *out = "act", *fold[2] = {"act", NULL};
  int nf = 1;
  if (!strcmp(op, "Clip")) { /* bounds from Constant nodes between the Conv and the Clip */
    Onnx__NodeProto *lo = node("Constant", 0, NULL, "lo"), *hi = node("Constant", 0, NULL, "hi");
    Onnx__AttributeProto *la = tb_calloc(1, sizeof *la), *ha = tb_calloc(1, sizeof *ha);
    onnx__attribute_proto__init(la), onnx__attribute_proto__init(ha);
    la->name = ha->name = "value"; la->has_type = ha->has_type = 1; la->type = ha->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    la->t = scalar("lo", 0.0f), ha->t = scalar("hi", 0.75f);
    la->t->n_dims = ha->t->n_dims = 0;
    with_attr(lo, la, NULL), with_attr(hi, ha, NULL);
    nodes[nn++] = lo, nodes[nn++] = hi;
    static const char *ci[3] = {"conv", "lo", "hi"};
    nodes[nn++] = node("Clip", 3, ci, "act");
  } else if (!strcmp(op, "HardSigmoid*") || !strcmp(op, "Sigmoid*")) { /* f(y) * y: HardSwish and SiLU as exporters write them */
    nodes[nn++] = node(op[0] == 'H' ? "HardSigmoid" : "Sigmoid", 1, cv, "f");
    if (op[0] == 'H') with_attr(nodes[nn - 1], attr_f("alpha", 1.0f / 6.0f), attr_f("beta", 0.5f));
    static const char *mi[2] = {"f", "conv"};
    nodes[nn++] = node("Mul", 2, mi, "act");
    fold[0] = "f", fold[1] = "act", nf = 2;
  } else if (!strcmp(op, "Add+Relu")) { /* the residual */
    static const char *ai[2] = {"r", "conv"};
    nodes[nn++] = node("Add", 2, ai, "sum");
    static const char *si[1] = {"sum"};
    nodes[nn++] = node("Relu", 1, si, "act");
    fold[0] = "sum", fold[1] = "act", nf = 2;
  } else {
    nodes[nn++] = node(op, 1, cv, "act");
    if (!strcmp(op, "LeakyRelu")) with_attr(nodes[nn - 1], attr_f("alpha", 0.07f), NULL);
    if (!strcmp(op, "HardSigmoid")) with_attr(nodes[nn - 1], attr_f("alpha", 0.3f), attr_f("beta", 0.4f));
  }
  const int res = !strcmp(op, "Add+Relu");
  const char *ins[2] = {"x", "r"};
  Onnx__GraphProto *gr = graph("fuse", nn, nodes, res ? 2 : 1, ins, 1, &out, ni, init);
  cquant_array_t xs[2] = {input(xd, nan)};
  const int64_t rd[4] = {xd[0], m, xd[2], xd[3]};
  if (res) xs[1] = input(rd, 0);
  char what[96];
  snprintf(what, sizeof what, "%s after a %s conv of %lldx%lld", op, g == 1 ? "dense" : "depthwise", (long long)xd[2], (long long)xd[3]);
  both_ways(what, load_model_at(gr, opset, 8), res ? 2 : 1, ins, xs, 1, nf, fold);
  cquant_array_free(&xs[0]);
  if (res) cquant_array_free(&xs[1]);
}

static const char *acts[] = {"Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "HardSigmoid*", "Sigmoid*", "Add+Relu"};

static void test_dense(void) {
  for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) one_act(acts[a], XD, 1, a < 2, 14);
}

static void test_dense_threads(void) { /* big enough for the pool's threads and several row blocks */
  cquant_set_num_threads(2);
  for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) one_act(acts[a], XB, 1, 0, 14);
}

static void test_depthwise(void) {
  for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) one_act(acts[a], XD, XD[1], a == 0, 14);
}

/* Nothing is folded when the Conv's output has another reader or is a graph output. */
static void test_not_folded(void) {
  for (int kase = 0; kase < 2; kase++) {
    Onnx__TensorProto *init[2];
    Onnx__NodeProto *nodes[3];
    nodes[0] = conv_node(8, 12, 1, init);
    static const char *cv[1] = {"conv"};
    nodes[1] = node("Relu", 1, cv, "act");
    nodes[2] = node("Sigmoid", 1, cv, "sig");
    const char *outs[2] = {"act", kase ? "conv" : "sig"}, *ins[1] = {"x"};
    Onnx__GraphProto *gr = graph("nofuse", kase ? 2 : 3, nodes, 1, ins, 2, outs, 2, init);
    cquant_array_t x = input(XD, 0);
    both_ways(kase ? "conv output is a graph output" : "two readers", load_model_at(gr, 13, 8), 1, ins, &x, 2, 0, NULL);
    cquant_array_free(&x);
  }
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"dense", test_dense},
      {"depthwise", test_depthwise},
      {"dense_threads", test_dense_threads},
      {"not_folded", test_not_folded},
  };
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
