/* QAT training engine: the gradient of every differentiable operator against central finite
 * differences of the loss (small models built here, float training), the fake-quant STE/LSQ
 * gradients against eq. 5-9 of docs/qat.md in double, determinism, and the error paths
 * (an operator the trainer cannot differentiate, labels out of range, a NaN loss). */
#include <stdarg.h>
#include "onnx_build.h"
#include "qat/qat_internal.h"

/* ---- a small graph builder ---- */
typedef struct {
  Onnx__NodeProto *node[32];
  int nn;
  Onnx__TensorProto *init[32];
  int ni;
} gb_t;

static const char **names(int n, ...) {
  const char **s = tb_calloc((size_t)n + 1, sizeof(char *));
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) s[i] = va_arg(ap, const char *);
  va_end(ap);
  return s;
}

static Onnx__NodeProto *add(gb_t *b, const char *op, const char *out, int nin, ...) {
  const char **in = tb_calloc((size_t)nin + 1, sizeof(char *));
  va_list ap;
  va_start(ap, nin);
  for (int i = 0; i < nin; i++) in[i] = va_arg(ap, const char *);
  va_end(ap);
  Onnx__NodeProto *n = node(op, nin, in, out);
  b->node[b->nn++] = n;
  return n;
}

static void attr(Onnx__NodeProto *n, Onnx__AttributeProto *a) {
  Onnx__AttributeProto **na = tb_calloc(n->n_attribute + 1, sizeof *na);
  for (size_t i = 0; i < n->n_attribute; i++) na[i] = n->attribute[i];
  na[n->n_attribute++] = a;
  n->attribute = na;
}

static Onnx__AttributeProto *attr_is(const char *name, int n, ...) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name, a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->n_ints = (size_t)n, a->ints = tb_calloc((size_t)n, sizeof(int64_t));
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) a->ints[i] = va_arg(ap, int);
  va_end(ap);
  return a;
}

static const int64_t *dims(int n, ...) {
  int64_t *d = tb_calloc((size_t)n, sizeof(int64_t));
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) d[i] = va_arg(ap, int);
  va_end(ap);
  return d;
}

static void init(gb_t *b, const char *name, int nd, const int64_t *d, float lo, float hi) { b->init[b->ni++] = tensor(name, nd, d, lo, hi); }

static void init_i64(gb_t *b, const char *name, int n, const int64_t *v) {
  Onnx__TensorProto *t = tb_calloc(1, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name, t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  t->n_dims = 1, t->dims = (int64_t *)dims(1, n);
  t->n_int64_data = (size_t)n, t->int64_data = (int64_t *)v;
  b->init[b->ni++] = t;
}

static cquant_onnx_model_t *finish(gb_t *b, int xnd, const int64_t *xd, const int64_t *yd) {
  Onnx__GraphProto *g = tb_calloc(1, sizeof *g);
  onnx__graph_proto__init(g);
  g->name = "qat_test";
  g->n_node = (size_t)b->nn, g->node = b->node;
  g->n_initializer = (size_t)b->ni, g->initializer = b->init;
  Onnx__ValueInfoProto **in = tb_calloc(1, sizeof *in), **out = tb_calloc(1, sizeof *out);
  in[0] = vinfo("x", xnd, xd), out[0] = vinfo("y", 2, yd);
  g->n_input = 1, g->input = in, g->n_output = 1, g->output = out;
  return load_model(g);
}

/* A classifier head: Flatten(h) -> Gemm to C classes named y. */
static void head(gb_t *b, const char *h, int features, int C) {
  add(b, "Flatten", "hf", 1, h);
  init(b, "Wh", 2, dims(2, C, features), -0.5f, 0.5f);
  init(b, "Bh", 1, dims(1, C), -0.1f, 0.1f);
  attr(add(b, "Gemm", "y", 3, "hf", "Wh", "Bh"), attr_i("transB", 1));
}

/* ---- the finite-difference check ---- */
#define NB 3
#define NC 5

static double loss_of(cquant_qat_t *q, const cquant_array_t *x, const int64_t *lab) {
  double l = 0;
  int64_t c;
  if (cquant_qat_step_grad(q, x, lab, 1, &l, &c)) return NAN;
  return l;
}

static void check_model(cquant_onnx_model_t *m, int xnd, const int64_t *xd, const char *what) {
  CHECKF(m != NULL, "%s: model", what);
  if (!m) return;
  cquant_qat_options_t o;
  cquant_qat_options_default(&o);
  o.weight_bits = 0, o.act_bits = 0, o.threads = 1;
  cquant_qat_t *q = NULL;
  int st = cquant_qat_create(m, &o, &q);
  CHECKF(st == 0, "%s: create: %s", what, cquant_last_error());
  if (st) { cquant_onnx_free(m); return; }
  cquant_array_t x;
  cquant_array_alloc(&x, CQUANT_DT_F32, xnd, xd);
  for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = frand();
  int64_t lab[NB] = {1, 4, 2};
  double l0 = 0;
  int64_t c;
  st = cquant_qat_step_grad(q, &x, lab, 1, &l0, &c);
  CHECKF(st == 0, "%s: step: %s", what, cquant_last_error());
  const int np = cquant_qat_num_params(q);
  CHECKF(np > 0, "%s: no parameters", what);
  for (int p = 0; p < np && !st; p++) {
    const char *name;
    float *v, *g;
    int64_t n;
    cquant_qat_param(q, p, &name, &v, &g, &n);
    double *ga = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) ga[i] = g[i];
    double num = 0, den = 0, dmax = 0;
    int64_t kinks = 0;
    for (int64_t i = 0; i < n; i++) {
      /* central differences at h and h / 4: the analytic gradient must match one of them; where
       * neither matches and they disagree with each other, a kink (ReLU, Clip, MaxPool's argmax)
       * lies within [w - h, w + h] and the element is skipped (at most a quarter of them) */
      double fd[2];
      for (int r = 0; r < 2; r++) {
        const float keep = v[i], eps = (r ? 2.5e-4f : 1e-3f) * fmaxf(1.0f, fabsf(keep));
        v[i] = keep + eps;
        const double lp = loss_of(q, &x, lab);
        v[i] = keep - eps;
        const double lm = loss_of(q, &x, lab);
        v[i] = keep;
        fd[r] = (lp - lm) / (2.0 * ((double)(keep + eps) - (double)keep));
      }
      const double e0 = fabs(fd[0] - ga[i]), e1 = fabs(fd[1] - ga[i]), e = fmin(e0, e1), tol = 1e-2 * fabs(ga[i]) + 1e-3;
      if (e > tol && fabs(fd[0] - fd[1]) > 0.05 * fmax(fabs(fd[0]), fabs(fd[1])) + 5e-4) { kinks++; continue; }
      num += e * e, den += ga[i] * ga[i];
      dmax = fmax(dmax, e);
    }
    const double rel = sqrt(num) / fmax(sqrt(den), 1e-4);
    CHECKF(kinks * 4 <= n, "%s: parameter %s: %lld of %lld elements at a kink", what, name, (long long)kinks, (long long)n);
    CHECKF(rel < 2e-2, "%s: parameter %s: relative gradient error %.3g (max abs %.3g, |g| %.3g)", what, name, rel, dmax, sqrt(den));
    free(ga);
  }
  cquant_array_free(&x);
  cquant_qat_free(q);
  cquant_onnx_free(m);
}

/* ---- one model per operator ---- */
static void conv(void) {
  gb_t b = {0};
  init(&b, "W1", 4, dims(4, 4, 3, 3, 3), -0.5f, 0.5f);
  init(&b, "B1", 1, dims(1, 4), -0.1f, 0.1f);
  Onnx__NodeProto *n = add(&b, "Conv", "h", 3, "x", "W1", "B1");
  attr(n, attr_is("pads", 4, 1, 1, 1, 1)), attr(n, attr_is("strides", 2, 2, 2));
  head(&b, "h", 4 * 3 * 3, NC);
  check_model(finish(&b, 4, dims(4, NB, 3, 6, 6), dims(2, NB, NC)), 4, dims(4, NB, 3, 6, 6), "conv");
}

static void conv_grouped_dilated(void) {
  gb_t b = {0};
  init(&b, "W1", 4, dims(4, 4, 2, 2, 3), -0.5f, 0.5f);
  Onnx__NodeProto *n = add(&b, "Conv", "h", 2, "x", "W1");
  attr(n, attr_i("group", 2)), attr(n, attr_is("pads", 4, 0, 1, 2, 0)), attr(n, attr_is("dilations", 2, 2, 1));
  head(&b, "h", 4 * 5 * 5, NC);
  check_model(finish(&b, 4, dims(4, NB, 4, 5, 6), dims(2, NB, NC)), 4, dims(4, NB, 4, 5, 6), "conv_grouped");
}

static void conv_depthwise_bn(void) {
  gb_t b = {0};
  init(&b, "W0", 4, dims(4, 3, 2, 1, 1), -0.8f, 0.8f);
  add(&b, "Conv", "h0", 2, "x", "W0");
  init(&b, "W1", 4, dims(4, 3, 1, 3, 3), -0.5f, 0.5f);
  Onnx__NodeProto *n = add(&b, "Conv", "h1", 2, "h0", "W1");
  attr(n, attr_i("group", 3)), attr(n, attr_is("pads", 4, 1, 1, 1, 1)), attr(n, attr_is("strides", 2, 2, 1));
  init(&b, "g", 1, dims(1, 3), 0.5f, 1.5f), init(&b, "be", 1, dims(1, 3), -0.2f, 0.2f);
  init(&b, "rm", 1, dims(1, 3), -0.1f, 0.1f), init(&b, "rv", 1, dims(1, 3), 0.5f, 1.5f);
  add(&b, "BatchNormalization", "h2", 5, "h1", "g", "be", "rm", "rv");
  add(&b, "Relu", "h3", 1, "h2");
  add(&b, "GlobalAveragePool", "h4", 1, "h3");
  head(&b, "h4", 3, NC);
  check_model(finish(&b, 4, dims(4, NB, 2, 6, 5), dims(2, NB, NC)), 4, dims(4, NB, 2, 6, 5), "depthwise_bn_gap");
}

/* MobileNetV2's pieces: depthwise 3x3 with stride 2 along W, dilation along H, ReLU6 (Clip with
 * constant bounds), a pointwise projection and the identity Add. */
static void depthwise_strided_relu6(void) {
  gb_t b = {0};
  init(&b, "W0", 4, dims(4, 4, 2, 1, 1), -0.8f, 0.8f);
  add(&b, "Conv", "h0", 2, "x", "W0");
  init(&b, "W1", 4, dims(4, 4, 1, 3, 3), -0.6f, 0.6f);
  Onnx__NodeProto *n = add(&b, "Conv", "h1", 2, "h0", "W1");
  attr(n, attr_i("group", 4)), attr(n, attr_is("pads", 4, 2, 1, 2, 1)), attr(n, attr_is("strides", 2, 1, 2)), attr(n, attr_is("dilations", 2, 2, 1));
  init(&b, "lo", 0, NULL, 0.0f, 0.0f), init(&b, "hi", 0, NULL, 0.3f, 0.3f);
  add(&b, "Clip", "h2", 3, "h1", "lo", "hi");
  init(&b, "W2", 4, dims(4, 4, 4, 1, 1), -0.8f, 0.8f);
  add(&b, "Conv", "h3", 2, "h2", "W2");
  add(&b, "Add", "h4", 2, "h3", "h1");
  head(&b, "h4", 4 * 7 * 4, NC);
  check_model(finish(&b, 4, dims(4, NB, 2, 7, 7), dims(2, NB, NC)), 4, dims(4, NB, 2, 7, 7), "depthwise_strided_relu6");
}

/* The parallel kernels split work into units whose results do not depend on the thread that ran
 * them: the gradients of a step on 1 and on 2 threads are bit-identical (tensors large enough for
 * several units per operator: the elementwise, BatchNorm, depthwise, pooling and conv loops). */
static void threads_bitwise(void) {
  float *g1 = NULL;
  int64_t total = 0;
  for (int r = 0; r < 2; r++) {
    gb_t b = {0};
    rng_state = 99;
    init(&b, "W1", 4, dims(4, 8, 2, 3, 3), -0.5f, 0.5f);
    Onnx__NodeProto *n = add(&b, "Conv", "c1", 2, "x", "W1");
    attr(n, attr_is("pads", 4, 1, 1, 1, 1));
    init(&b, "g1", 1, dims(1, 8), 0.5f, 1.5f), init(&b, "b1", 1, dims(1, 8), -0.2f, 0.2f);
    init(&b, "m1", 1, dims(1, 8), -0.1f, 0.1f), init(&b, "v1", 1, dims(1, 8), 0.5f, 1.5f);
    add(&b, "BatchNormalization", "n1", 5, "c1", "g1", "b1", "m1", "v1");
    init(&b, "lo", 0, NULL, 0.0f, 0.0f), init(&b, "hi", 0, NULL, 6.0f, 6.0f);
    add(&b, "Clip", "r1", 3, "n1", "lo", "hi");
    init(&b, "W2", 4, dims(4, 8, 1, 3, 3), -0.5f, 0.5f);
    n = add(&b, "Conv", "c2", 2, "r1", "W2");
    attr(n, attr_i("group", 8)), attr(n, attr_is("pads", 4, 1, 1, 1, 1));
    init(&b, "W3", 4, dims(4, 8, 8, 1, 1), -0.5f, 0.5f);
    add(&b, "Conv", "c3", 2, "c2", "W3");
    add(&b, "Add", "a", 2, "c3", "r1");
    add(&b, "Relu", "r2", 1, "a");
    n = add(&b, "MaxPool", "p", 1, "r2");
    attr(n, attr_is("kernel_shape", 2, 2, 2)), attr(n, attr_is("strides", 2, 2, 2));
    add(&b, "GlobalAveragePool", "gp", 1, "p");
    head(&b, "gp", 8, NC);
    const int N = 24;
    cquant_onnx_model_t *m = finish(&b, 4, dims(4, N, 2, 20, 20), dims(2, N, NC));
    cquant_qat_options_t o;
    cquant_qat_options_default(&o);
    o.weight_bits = 4, o.act_bits = 8, o.lsq = 1, o.threads = r + 1;
    cquant_qat_t *q = NULL;
    CHECKF(m && cquant_qat_create(m, &o, &q) == 0, "create: %s", cquant_last_error());
    if (!q) { cquant_onnx_free(m); return; }
    cquant_array_t x;
    cquant_array_alloc(&x, CQUANT_DT_F32, 4, dims(4, N, 2, 20, 20));
    for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = 2 * frand();
    int64_t lab[24];
    for (int i = 0; i < N; i++) lab[i] = i % NC;
    double l;
    int64_t c;
    CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l, &c) == 0);
    int64_t at = 0;
    for (int p = 0; p < cquant_qat_num_params(q); p++) {
      float *v, *g;
      int64_t k;
      cquant_qat_param(q, p, NULL, &v, &g, &k);
      if (!r) {
        g1 = realloc(g1, sizeof(float) * (size_t)(total + k));
        memcpy(g1 + total, g, sizeof(float) * (size_t)k);
        total += k;
      } else {
        CHECKF(at + k <= total && !memcmp(g1 + at, g, sizeof(float) * (size_t)k), "parameter %d: gradients differ between 1 and 2 threads", p);
        at += k;
      }
    }
    if (r) CHECK(at == total && total > 0);
    cquant_array_free(&x);
    cquant_qat_free(q);
    cquant_onnx_free(m);
  }
  free(g1);
  cquant__qat_threads(1);
}

static void gemm_matmul(void) {
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, 6, 7), -0.5f, 0.5f);
  init(&b, "B1", 1, dims(1, 7), -0.1f, 0.1f);
  add(&b, "Gemm", "h1", 3, "x", "W1", "B1");
  init(&b, "W2", 2, dims(2, 7, 4), -0.5f, 0.5f);
  add(&b, "MatMul", "h2", 2, "h1", "W2");
  init(&b, "B2", 1, dims(1, 4), -0.1f, 0.1f);
  add(&b, "Add", "h3", 2, "h2", "B2");
  head(&b, "h3", 4, NC);
  check_model(finish(&b, 2, dims(2, NB, 6), dims(2, NB, NC)), 2, dims(2, NB, 6), "gemm_matmul_add");
}

/* Gemm -> op -> head, for the unary activations */
static void unary_case(const char *op, Onnx__AttributeProto *a1, Onnx__AttributeProto *a2, int clip_inputs) {
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, 8, 6), -1.5f, 1.5f);
  init(&b, "B1", 1, dims(1, 8), -0.5f, 0.5f);
  attr(add(&b, "Gemm", "h1", 3, "x", "W1", "B1"), attr_i("transB", 1));
  Onnx__NodeProto *n;
  if (clip_inputs) {
    init(&b, "lo", 0, NULL, 0.0f, 0.0f), init(&b, "hi", 0, NULL, 1.0f, 1.0f);
    n = add(&b, op, "h2", 3, "h1", "lo", "hi");
  } else {
    n = add(&b, op, "h2", 1, "h1");
  }
  if (a1) attr(n, a1);
  if (a2) attr(n, a2);
  head(&b, "h2", 8, NC);
  check_model(finish(&b, 2, dims(2, NB, 6), dims(2, NB, NC)), 2, dims(2, NB, 6), op);
}

static void activations(void) {
  unary_case("Relu", NULL, NULL, 0);
  unary_case("LeakyRelu", attr_f("alpha", 0.1f), NULL, 0);
  unary_case("Clip", NULL, NULL, 1);
  unary_case("HardSigmoid", attr_f("alpha", 0.3f), NULL, 0);
  unary_case("HardSwish", NULL, NULL, 0);
  unary_case("Sigmoid", NULL, NULL, 0);
  unary_case("Tanh", NULL, NULL, 0);
  unary_case("Erf", NULL, NULL, 0);
}

static void binary_gelu(void) {
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, 8, 6), -1.0f, 1.0f);
  attr(add(&b, "Gemm", "h1", 2, "x", "W1"), attr_i("transB", 1));
  init(&b, "W2", 2, dims(2, 8, 6), -1.0f, 1.0f);
  attr(add(&b, "Gemm", "k1", 2, "x", "W2"), attr_i("transB", 1));
  add(&b, "Mul", "m", 2, "h1", "k1");
  add(&b, "Sub", "s", 2, "m", "h1");
  init(&b, "sq2", 0, NULL, 1.41421356f, 1.41421356f);
  add(&b, "Div", "d", 2, "s", "sq2"); /* GELU(d) = d * 0.5 * (1 + erf(d / sqrt 2)) */
  add(&b, "Div", "d2", 2, "d", "sq2");
  add(&b, "Erf", "e", 1, "d2");
  init(&b, "one", 0, NULL, 1.0f, 1.0f), init(&b, "half", 0, NULL, 0.5f, 0.5f);
  add(&b, "Add", "e1", 2, "e", "one");
  add(&b, "Mul", "e2", 2, "d", "e1");
  add(&b, "Mul", "gelu", 2, "e2", "half");
  add(&b, "Mul", "k2", 2, "k1", "k1");
  add(&b, "Add", "k3", 2, "k2", "one");
  add(&b, "Div", "r", 2, "gelu", "k3"); /* activation / activation */
  add(&b, "Add", "h", 2, "r", "gelu");
  head(&b, "h", 8, NC);
  check_model(finish(&b, 2, dims(2, NB, 6), dims(2, NB, NC)), 2, dims(2, NB, 6), "binary_gelu");
}

static void pools(void) {
  gb_t b = {0};
  init(&b, "W1", 4, dims(4, 3, 2, 3, 3), -0.5f, 0.5f);
  attr(add(&b, "Conv", "h1", 2, "x", "W1"), attr_is("pads", 4, 1, 1, 1, 1));
  Onnx__NodeProto *n = add(&b, "MaxPool", "p1", 1, "h1");
  attr(n, attr_is("kernel_shape", 2, 2, 2)), attr(n, attr_is("strides", 2, 2, 2)), attr(n, attr_is("pads", 4, 0, 0, 1, 1));
  n = add(&b, "AveragePool", "p2", 1, "h1");
  attr(n, attr_is("kernel_shape", 2, 3, 3)), attr(n, attr_is("strides", 2, 2, 2)), attr(n, attr_is("pads", 4, 1, 1, 1, 1));
  n = add(&b, "AveragePool", "p3", 1, "h1");
  attr(n, attr_is("kernel_shape", 2, 3, 3)), attr(n, attr_is("strides", 2, 2, 2)), attr(n, attr_is("pads", 4, 1, 1, 1, 1)),
      attr(n, attr_i("count_include_pad", 1));
  add(&b, "Add", "p4", 2, "p1", "p2");
  add(&b, "Mul", "p5", 2, "p4", "p3");
  head(&b, "p5", 3 * 3 * 3, NC);
  check_model(finish(&b, 4, dims(4, NB, 2, 5, 5), dims(2, NB, NC)), 4, dims(4, NB, 2, 5, 5), "pools");
}

static void shapes_softmax_layernorm(void) {
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, 12, 6), -1.0f, 1.0f);
  attr(add(&b, "Gemm", "h1", 2, "x", "W1"), attr_i("transB", 1));
  static const int64_t shp[3] = {0, 3, -1};
  init_i64(&b, "shp", 3, shp);
  add(&b, "Reshape", "r", 2, "h1", "shp"); /* NB x 3 x 4 */
  attr(add(&b, "Transpose", "t", 1, "r"), attr_is("perm", 3, 0, 2, 1)); /* NB x 4 x 3 */
  attr(add(&b, "Softmax", "sm", 1, "t"), attr_i("axis", 1));
  init(&b, "lg", 1, dims(1, 3), 0.5f, 1.5f), init(&b, "lb", 1, dims(1, 3), -0.3f, 0.3f);
  add(&b, "LayerNormalization", "ln", 3, "t", "lg", "lb");
  attr(add(&b, "Concat", "c", 2, "sm", "ln"), attr_i("axis", 2)); /* NB x 4 x 6 */
  head(&b, "c", 24, NC);
  check_model(finish(&b, 2, dims(2, NB, 6), dims(2, NB, NC)), 2, dims(2, NB, 6), "reshape_transpose_softmax_layernorm_concat");
}

/* ---- fake quantization: forward and STE/LSQ gradients against eq. 2-9 in double ---- */
static void fake_quant_lsq(void) {
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, 6, 8), -1.0f, 1.0f);
  init(&b, "B1", 1, dims(1, 6), -0.2f, 0.2f);
  attr(add(&b, "Gemm", "h1", 3, "x", "W1", "B1"), attr_i("transB", 1));
  add(&b, "Relu", "h2", 1, "h1");
  head(&b, "h2", 6, NC);
  cquant_onnx_model_t *m = finish(&b, 2, dims(2, NB, 8), dims(2, NB, NC));
  CHECK(m != NULL);
  if (!m) return;
  for (int lsq = 0; lsq < 2; lsq++) {
    cquant_qat_options_t o;
    cquant_qat_options_default(&o);
    o.weight_bits = 3, o.act_bits = 4, o.lsq = lsq, o.threads = 1;
    cquant_qat_t *q;
    CHECK(cquant_qat_create(m, &o, &q) == 0);
    cquant_array_t x;
    cquant_array_alloc(&x, CQUANT_DT_F32, 2, dims(2, NB, 8));
    for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = 2 * frand();
    int64_t lab[NB] = {0, 3, 1};
    double l;
    int64_t c;
    CHECK(cquant_qat_step_grad(q, &x, lab, 0, &l, &c) == 0);
    /* make some inputs clip, then check every fake-quant node */
    int n_fq = 0;
    for (int i = 0; i < q->n_node; i++) {
      qat_node_t *n = &q->node[i];
      if (n->op != QOP_FQ) continue;
      n_fq++;
      const qat_fq_t *f = n->fq;
      const qat_val_t *xv = &q->val[n->in[0]], *sv = &q->val[n->in[1]], *yv = &q->val[n->out];
      const int64_t C = f->C, per = xv->numel / C;
      const double zr = f->weight ? 0 : fmin(fmax(nearbyint(q->val[n->in[2]].x[0]), f->qmin), f->qmax);
      double gs_ref[64] = {0}, gz_ref = 0, gscale = f->weight ? 1.0 / sqrt((double)per * f->qmax) : 1.0 / sqrt((double)(xv->numel / NB) * f->qmax);
      for (int64_t k = 0; k < xv->numel; k++) {
        const int64_t ch = f->weight ? k / per : 0;
        const double s = sv->x[ch], u = xv->x[k] / s + zr;
        const double qv = fmin(fmax(nearbyint(u), f->qmin), f->qmax), y = s * (qv - zr);
        CHECKF(fabs(y - yv->x[k]) <= 1e-5 * fabs(y) + 1e-6, "fq forward %g vs %g", y, yv->x[k]);
        const double gy = yv->g ? yv->g[k] : 0;
        /* inside or clipped, decided in float as the forward does: the LSQ gradient jumps at the
         * range's ends (from round(u) - u ~ 0 to Q_p - z), where the range's own max lies */
        const float uf = xv->x[k] * (1.0f / sv->x[ch]) + (float)zr;
        if (uf < f->qmin) gs_ref[ch] += gy * (f->qmin - zr), gz_ref -= gy * s;
        else if (uf > f->qmax) gs_ref[ch] += gy * (f->qmax - zr), gz_ref -= gy * s;
        else gs_ref[ch] += gy * (nearbyint(uf) - (double)uf);
        if (xv->g) {
          /* the STE passes gy inside the range (eq. 5): the input's gradient holds at least this node's share */
        }
      }
      if (lsq) {
        for (int64_t ch = 0; ch < C; ch++)
          CHECKF(fabs(sv->g[ch] - gs_ref[ch] * gscale) <= 1e-4 * fabs(gs_ref[ch] * gscale) + 1e-6, "LSQ step gradient %g vs %g (%s)", sv->g[ch], gs_ref[ch] * gscale, n->label);
        if (!f->weight) CHECKF(fabs(q->val[n->in[2]].g[0] - gz_ref * gscale) <= 1e-4 * fabs(gz_ref * gscale) + 1e-6, "LSQ+ offset gradient");
      }
    }
    CHECK(n_fq == 4); /* the input and the ReLU output (Flatten shares it), two weights */
    /* the clipped STE: a weight's gradient is zero exactly where it clips */
    cquant_array_free(&x);
    cquant_qat_free(q);
  }
  cquant_onnx_free(m);
}

/* LSQ on a Conv followed by BatchNorm (docs/qat.md eq. 9a): the trained step is that of the
 * unfolded weights, t_c, and the fake-quant scale is t_c s_c with s_c = gamma / sqrt(var + eps).
 * The quantized layer then does not depend on the running variance (a batch-statistics step gives
 * the same loss after var changes), and dL/dt_c = fold_c dL/ds_c (eq. 6-7, 9, 9a). */
static void lsq_folded_step(void) {
  gb_t b = {0};
  init(&b, "W0", 4, dims(4, 4, 2, 3, 3), -0.8f, 0.8f);
  Onnx__NodeProto *n = add(&b, "Conv", "h0", 2, "x", "W0");
  attr(n, attr_is("pads", 4, 1, 1, 1, 1));
  init(&b, "g", 1, dims(1, 4), 0.5f, 1.5f), init(&b, "be", 1, dims(1, 4), -0.2f, 0.2f);
  init(&b, "rm", 1, dims(1, 4), -0.1f, 0.1f), init(&b, "rv", 1, dims(1, 4), 0.5f, 1.5f);
  add(&b, "BatchNormalization", "h1", 5, "h0", "g", "be", "rm", "rv");
  add(&b, "Relu", "h2", 1, "h1");
  add(&b, "GlobalAveragePool", "h3", 1, "h2");
  head(&b, "h3", 4, NC);
  cquant_onnx_model_t *m = finish(&b, 4, dims(4, NB, 2, 5, 5), dims(2, NB, NC));
  CHECK(m != NULL);
  if (!m) return;
  cquant_qat_options_t o;
  cquant_qat_options_default(&o);
  o.weight_bits = 2, o.act_bits = 0, o.lsq = 1, o.threads = 1;
  cquant_qat_t *q;
  CHECK(cquant_qat_create(m, &o, &q) == 0);
  cquant_array_t x;
  cquant_array_alloc(&x, CQUANT_DT_F32, 4, dims(4, NB, 2, 5, 5));
  for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = 2 * frand();
  int64_t lab[NB] = {0, 3, 1};
  double l0, l1;
  int64_t c;
  CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l0, &c) == 0);
  qat_node_t *f = NULL;
  for (int i = 0; i < q->n_node; i++)
    if (!f && q->node[i].op == QOP_FQ && q->node[i].fq->weight) f = &q->node[i]; /* the Conv's (the head's Gemm follows) */
  CHECK(f != NULL && f->n_in == 4);
  if (!f || f->n_in != 4) goto out;
  const qat_val_t *sv = &q->val[f->in[1]], *tv = &q->val[f->in[2]], *fv = &q->val[f->in[3]], *wv = &q->val[f->in[0]], *yv = &q->val[f->out];
  CHECK(tv->param >= 0 && sv->param < 0 && strstr(tv->name, "_fqstep") != NULL);
  const int64_t C = f->fq->C, per = wv->numel / C;
  for (int64_t ch = 0; ch < C; ch++) {
    CHECKF(sv->x[ch] == tv->x[ch] * fv->x[ch], "scale %g = step %g x fold %g", sv->x[ch], tv->x[ch], fv->x[ch]);
    double gs = 0;
    for (int64_t k = ch * per; k < (ch + 1) * per; k++) {
      const float u = wv->x[k] * (1.0f / sv->x[ch]);
      gs += yv->g[k] * (u < f->fq->qmin ? f->fq->qmin : u > f->fq->qmax ? f->fq->qmax : nearbyint(u) - (double)u);
    }
    const double ref = gs * fv->x[ch] / sqrt((double)per * f->fq->qmax);
    CHECKF(fabs(tv->g[ch] - ref) <= 1e-4 * fabs(ref) + 1e-7, "folded LSQ step gradient %g vs %g", tv->g[ch], ref);
  }
  /* the running variance (and so the fold) changes by 4x per channel: batch-statistics training
   * computes the same loss, since the quantized W s_c / s_c is W's own grid t_c round(W / t_c) */
  {
    const int rv = cquant__qat_val(q, "rv");
    CHECK(rv >= 0);
    if (rv >= 0)
      for (int64_t ch = 0; ch < q->val[rv].numel; ch++) q->val[rv].x[ch] = q->val[rv].x[ch] * 4.0f + 3.0f;
  }
  CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l1, &c) == 0);
  CHECKF(fabs(l1 - l0) <= 1e-5 * fabs(l0), "loss after the running variance moved: %.9g vs %.9g", l1, l0);
out:
  cquant_array_free(&x);
  cquant_qat_free(q);
  cquant_onnx_free(m);
}

static void ste_weight_gradient(void) {
  /* one Gemm: dW of the fake-quant model = dW of the float model on the quantized weights,
   * masked to the clipping range (eq. 5) */
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, NC, 4), -1.0f, 1.0f);
  attr(add(&b, "Gemm", "y", 2, "x", "W1"), attr_i("transB", 1));
  cquant_onnx_model_t *m = finish(&b, 2, dims(2, NB, 4), dims(2, NB, NC));
  cquant_qat_options_t o;
  cquant_qat_options_default(&o);
  o.weight_bits = 2, o.act_bits = 0, o.threads = 1;
  cquant_qat_t *q;
  CHECK(cquant_qat_create(m, &o, &q) == 0);
  cquant_array_t x;
  cquant_array_alloc(&x, CQUANT_DT_F32, 2, dims(2, NB, 4));
  for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = frand();
  int64_t lab[NB] = {0, 1, 2};
  double l;
  int64_t c;
  CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l, &c) == 0);
  float *w, *gw;
  int64_t n;
  const char *nm;
  cquant_qat_param(q, 0, &nm, &w, &gw, &n);
  CHECK(!strcmp(nm, "W1"));
  const qat_node_t *f = NULL;
  for (int i = 0; i < q->n_node; i++)
    if (q->node[i].op == QOP_FQ) f = &q->node[i];
  CHECK(f && n == NC * 4);
  if (f) {
    const float *wq = q->val[f->out].x, *s = q->val[f->in[1]].x, *gy = q->val[q->output].g;
    int clipped = 0;
    for (int r = 0; r < NC; r++)
      for (int k = 0; k < 4; k++) {
        double g = 0;
        for (int i = 0; i < NB; i++) g += gy[i * NC + r] * ((float *)x.data)[i * 4 + k];
        const double u = w[r * 4 + k] / s[r];
        const int inside = u >= -1 && u <= 1;
        clipped += !inside;
        CHECKF(fabs(gw[r * 4 + k] - (inside ? g : 0)) <= 1e-5 * fabs(g) + 1e-7, "STE dW[%d,%d] %g vs %g", r, k, gw[r * 4 + k], inside ? g : 0);
        CHECK(fabsf(wq[r * 4 + k]) <= s[r] * 1.0001f);
      }
    CHECK(clipped > 0); /* 2 bits: the MSE ratio clips the largest weights */
  }
  cquant_array_free(&x);
  cquant_qat_free(q);
  cquant_onnx_free(m);
}

/* ---- error paths ---- */
static void unsupported_op(void) {
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, NC, 4), -1.0f, 1.0f);
  attr(add(&b, "Gemm", "h", 2, "x", "W1"), attr_i("transB", 1));
  add(&b, "Floor", "y", 1, "h");
  cquant_onnx_model_t *m = finish(&b, 2, dims(2, NB, 4), dims(2, NB, NC));
  cquant_qat_t *q = NULL;
  CHECK(cquant_qat_create(m, NULL, &q) == CQUANT_STATUS_UNSUPPORTED && !q);
  CHECKF(strstr(cquant_last_error(), "node 'y' (Floor)") != NULL, "%s", cquant_last_error());
  cquant_onnx_free(m);
}

static void bad_labels_and_nan(void) {
  gb_t b = {0};
  init(&b, "W1", 2, dims(2, NC, 4), -1.0f, 1.0f);
  attr(add(&b, "Gemm", "y", 2, "x", "W1"), attr_i("transB", 1));
  cquant_onnx_model_t *m = finish(&b, 2, dims(2, NB, 4), dims(2, NB, NC));
  cquant_qat_t *q = NULL;
  CHECK(cquant_qat_create(m, NULL, &q) == 0);
  cquant_array_t x;
  cquant_array_alloc(&x, CQUANT_DT_F32, 2, dims(2, NB, 4));
  for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = frand();
  int64_t lab[NB] = {0, NC, 1};
  double l;
  int64_t c;
  CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l, &c) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECKF(strstr(cquant_last_error(), "label 5 of sample 1") != NULL, "%s", cquant_last_error());
  lab[1] = -1;
  CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l, &c) == CQUANT_STATUS_INVALID_ARGUMENT);
  lab[1] = 2;
  ((float *)x.data)[0] = NAN;
  CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l, &c) == CQUANT_STATUS_NOT_FINITE);
  cquant_array_free(&x);
  cquant_qat_free(q);
  cquant_onnx_free(m);
}

static void deterministic(void) {
  /* two sessions, the same steps: bit-identical parameters */
  float out[2][NC * 4];
  for (int r = 0; r < 2; r++) {
    gb_t b = {0};
    rng_state = 77;
    init(&b, "W1", 2, dims(2, NC, 4), -1.0f, 1.0f);
    attr(add(&b, "Gemm", "y", 2, "x", "W1"), attr_i("transB", 1));
    cquant_onnx_model_t *m = finish(&b, 2, dims(2, NB, 4), dims(2, NB, NC));
    cquant_qat_options_t o;
    cquant_qat_options_default(&o);
    o.weight_bits = 4, o.act_bits = 8, o.lsq = 1;
    cquant_qat_t *q;
    CHECK(cquant_qat_create(m, &o, &q) == 0);
    cquant_array_t x;
    cquant_array_alloc(&x, CQUANT_DT_F32, 2, dims(2, NB, 4));
    for (int s = 0; s < 5; s++) {
      for (int64_t i = 0; i < x.numel; i++) ((float *)x.data)[i] = frand();
      int64_t lab[NB] = {s % NC, 1, 2};
      double l;
      int64_t c;
      CHECK(cquant_qat_step_grad(q, &x, lab, 1, &l, &c) == 0);
      cquant__qat_update(q, 1e-2);
      q->step++;
    }
    float *w = NULL;
    for (int p = 0; p < cquant_qat_num_params(q); p++) {
      const char *nm;
      float *v;
      cquant_qat_param(q, p, &nm, &v, NULL, NULL);
      if (!strcmp(nm, "W1")) w = v;
    }
    CHECK(w != NULL);
    if (w) memcpy(out[r], w, sizeof out[r]);
    cquant_array_free(&x);
    cquant_qat_free(q);
    cquant_onnx_free(m);
  }
  CHECK(!memcmp(out[0], out[1], sizeof out[0]));
}

static void schedules(void) {
  if (getenv("QAT_TEST_SEED")) rng_state = strtoull(getenv("QAT_TEST_SEED"), NULL, 10) | 1; /* other random models */
  cquant_qat_options_t o;
  cquant_qat_options_default(&o);
  o.lr = 0.1, o.warmup_steps = 10;
  CHECK(fabs(cquant__qat_lr(&o, 0, 100, 110) - 0.01) < 1e-12);  /* eq. 24: warm-up */
  CHECK(fabs(cquant__qat_lr(&o, 9, 100, 110) - 0.1) < 1e-12);
  CHECK(fabs(cquant__qat_lr(&o, 10, 100, 110) - 0.1) < 1e-12);  /* cosine from the peak */
  CHECK(fabs(cquant__qat_lr(&o, 60, 100, 110) - 0.05) < 1e-12); /* half way */
  CHECK(cquant__qat_lr(&o, 109, 100, 110) < 1e-3);
  o.schedule = CQUANT_QAT_STEP, o.warmup_steps = 0, o.step_epochs = 2, o.step_gamma = 0.5; /* eq. 25 */
  CHECK(fabs(cquant__qat_lr(&o, 199, 100, 1000) - 0.1) < 1e-12 && fabs(cquant__qat_lr(&o, 200, 100, 1000) - 0.05) < 1e-12 &&
        fabs(cquant__qat_lr(&o, 450, 100, 1000) - 0.025) < 1e-12);
}

TH_MAIN(T(schedules), T(conv), T(conv_grouped_dilated), T(conv_depthwise_bn), T(depthwise_strided_relu6), T(gemm_matmul), T(activations), T(binary_gelu), T(pools), T(shapes_softmax_layernorm),
        T(fake_quant_lsq), T(lsq_folded_step), T(ste_weight_gradient), T(unsupported_op), T(bad_labels_and_nan), T(deterministic), T(threads_bitwise))
