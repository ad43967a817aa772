/* RNN, GRU and LSTM cases the ONNX backend suite does not cover: sequence_lens with the reverse and
 * bidirectional directions (Y zero past each sequence, Y_h/Y_c from its last valid step), layout 1
 * with sequence_lens, clip, input_forget, GRU's linear_before_reset both ways, and activation lists
 * with alphas and betas. The expected values come from the ONNX equations written out here in
 * double, one batch entry and one time step at a time (independently of src/exec/ops/rnn*.c). */
#include "onnx_build.h"

enum { K_RNN, K_GRU, K_LSTM };

typedef struct {
  int kind, T, N, I, H, D, reverse, layout, input_forget, lbr, with_p;
  double clip; /* 0: none */
  int lens[4];
  const char *acts[6];
  int n_acts;
  float alphas[4], betas[4];
  int n_alpha, n_beta;
} rcase_t;

static double clipv(const rcase_t *c, double v) { return c->clip > 0 ? (v < -c->clip ? -c->clip : v > c->clip ? c->clip : v) : v; }
static double sigm(double v) { return 1.0 / (1.0 + exp(-v)); }

/* The activations the RNN cases use, by name, with their alpha and beta. */
static double actf(const char *name, double a, double b, double v) {
  if (!strcmp(name, "Tanh")) return tanh(v);
  if (!strcmp(name, "Sigmoid")) return sigm(v);
  if (!strcmp(name, "Relu")) return v > 0 ? v : 0;
  if (!strcmp(name, "LeakyRelu")) return v >= 0 ? v : a * v;
  if (!strcmp(name, "HardSigmoid")) return fmin(1.0, fmax(0.0, a * v + b));
  if (!strcmp(name, "ScaledTanh")) return a * tanh(b * v);
  abort();
}

static Onnx__TensorProto *tensor_i32(const char *name, int n, const int *v) {
  Onnx__TensorProto *t = tb_calloc(1, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1; t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
  int64_t *d = tb_malloc(sizeof *d); d[0] = n;
  t->n_dims = 1; t->dims = d;
  t->n_int32_data = n; t->int32_data = tb_malloc(sizeof(int32_t) * n);
  for (int i = 0; i < n; i++) t->int32_data[i] = v[i];
  return t;
}
static Onnx__AttributeProto *attr_str(const char *name, const char *v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  a->has_s = 1; a->s.data = (uint8_t *)v; a->s.len = strlen(v);
  return a;
}
static Onnx__AttributeProto *attr_strs(const char *name, int n, const char *const *v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
  a->n_strings = n; a->strings = tb_calloc(n, sizeof *a->strings);
  for (int i = 0; i < n; i++) a->strings[i].data = (uint8_t *)v[i], a->strings[i].len = strlen(v[i]);
  return a;
}
static Onnx__AttributeProto *attr_fs(const char *name, int n, const float *v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
  a->n_floats = n; a->floats = tb_malloc(sizeof(float) * n);
  memcpy(a->floats, v, sizeof(float) * n);
  return a;
}

static int64_t *dims3(int64_t a, int64_t b, int64_t c) {
  int64_t *d = tb_malloc(3 * sizeof *d);
  d[0] = a, d[1] = b, d[2] = c;
  return d;
}

/* Index helpers for the reference (layout 0 everywhere; the model's layout 1 is transposed). */
#define X_(t, n, k) x[((t) * c->N + (n)) * c->I + (k)]
#define W_(d, r, k) W->float_data[((d) * G * H + (r)) * c->I + (k)]
#define R_(d, r, k) Rw->float_data[((d) * G * H + (r)) * H + (k)]
#define B_(d, r) B->float_data[(d) * 2 * G * H + (r)]

static void run_case(const rcase_t *c) {
  const int G = c->kind == K_LSTM ? 4 : c->kind == K_GRU ? 3 : 1, H = c->H, D = c->D, T = c->T, N = c->N;
  Onnx__TensorProto *W = tensor("W", 3, dims3(D, G * H, c->I), -0.6f, 0.6f);
  Onnx__TensorProto *Rw = tensor("R", 3, dims3(D, G * H, H), -0.6f, 0.6f);
  static int64_t bd[2], pd[2];
  bd[0] = D, bd[1] = 2 * G * H, pd[0] = D, pd[1] = 3 * H;
  Onnx__TensorProto *B = tensor("B", 2, bd, -0.4f, 0.4f);
  Onnx__TensorProto *L = tensor_i32("L", N, c->lens);
  int64_t *sdims = c->layout ? dims3(N, D, H) : dims3(D, N, H);
  Onnx__TensorProto *h0 = tensor("h0", 3, sdims, -0.5f, 0.5f), *c0 = tensor("c0", 3, sdims, -0.5f, 0.5f);
  Onnx__TensorProto *P = tensor("P", 2, pd, -0.5f, 0.5f);
  static const char *in_names[] = {"x", "W", "R", "B", "L", "h0", "c0", "P"};
  const int n_in = c->kind == K_LSTM ? (c->with_p ? 8 : 7) : 6;
  Onnx__NodeProto *nd = node(c->kind == K_LSTM ? "LSTM" : c->kind == K_GRU ? "GRU" : "RNN", n_in, in_names, "Y");
  const int n_out = c->kind == K_LSTM ? 3 : 2;
  static const char *outs[] = {"Y", "Y_h", "Y_c"};
  nd->n_output = n_out; nd->output = (char **)outs;
  Onnx__AttributeProto **at = tb_calloc(10, sizeof *at);
  int na = 0;
  at[na++] = attr_i("hidden_size", H);
  at[na++] = attr_str("direction", D == 2 ? "bidirectional" : c->reverse ? "reverse" : "forward");
  if (c->layout) at[na++] = attr_i("layout", 1);
  if (c->clip > 0) at[na++] = attr_f("clip", (float)c->clip);
  if (c->input_forget) at[na++] = attr_i("input_forget", 1);
  if (c->lbr) at[na++] = attr_i("linear_before_reset", 1);
  if (c->n_acts) at[na++] = attr_strs("activations", c->n_acts, c->acts);
  if (c->n_alpha) at[na++] = attr_fs("activation_alpha", c->n_alpha, c->alphas);
  if (c->n_beta) at[na++] = attr_fs("activation_beta", c->n_beta, c->betas);
  nd->n_attribute = na; nd->attribute = at;
  Onnx__TensorProto *inits[7] = {W, Rw, B, L, h0, c0, P};
  Onnx__NodeProto *nodes[1] = {nd};
  int64_t *xd = c->layout ? dims3(N, T, c->I) : dims3(T, N, c->I);
  static int64_t yd[4];
  if (c->layout) yd[0] = N, yd[1] = T, yd[2] = D, yd[3] = H;
  else yd[0] = T, yd[1] = D, yd[2] = N, yd[3] = H;
  Onnx__ValueInfoProto *vin[1] = {vinfo("x", 3, xd)};
  Onnx__ValueInfoProto *vout[3] = {vinfo("Y", 4, yd), vinfo("Y_h", 3, sdims), vinfo("Y_c", 3, sdims)};
  Onnx__GraphProto g; onnx__graph_proto__init(&g);
  g.name = "rnn"; g.n_node = 1; g.node = nodes; g.n_initializer = c->kind == K_LSTM ? 7 : 5; g.initializer = inits;
  g.n_input = 1; g.input = vin; g.n_output = n_out; g.output = vout;
  /* opset 14 (layout exists there) */
  Onnx__ModelProto mp; onnx__model_proto__init(&mp);
  Onnx__OperatorSetIdProto op; onnx__operator_set_id_proto__init(&op);
  op.domain = ""; op.has_version = 1; op.version = 14;
  Onnx__OperatorSetIdProto *ops[1] = {&op};
  mp.has_ir_version = 1; mp.ir_version = 7; mp.n_opset_import = 1; mp.opset_import = ops; mp.graph = &g;
  size_t len = onnx__model_proto__get_packed_size(&mp);
  uint8_t *buf = malloc(len); onnx__model_proto__pack(&mp, buf);
  cquant_onnx_model_t *m = NULL;
  int st = cquant_onnx_load_buffer(buf, len, &m);
  free(buf);
  CHECKF(st == 0, "load: %s", cquant_last_error());
  if (st) return;

  /* the input, and its layout-0 copy for the reference */
  cquant_array_t xa, y[3] = {{0}};
  cquant_array_alloc(&xa, CQUANT_DT_F32, 3, xd);
  double *x = malloc(sizeof(double) * T * N * c->I);
  for (int t = 0; t < T; t++)
    for (int n = 0; n < N; n++)
      for (int k = 0; k < c->I; k++) {
        const float v = 1.5f * frand();
        ((float *)xa.data)[c->layout ? (n * T + t) * c->I + k : (t * N + n) * c->I + k] = v;
        X_(t, n, k) = v;
      }
  const char *names[1] = {"x"};
  st = cquant_onnx_run(m, 1, names, &xa, y);
  CHECKF(st == 0, "run: %s", cquant_last_error());
  if (!st) {
    /* the reference, one batch entry at a time */
    double *Y = calloc((size_t)T * D * N * H, sizeof(double)), *Yh = calloc((size_t)D * N * H, sizeof(double)),
           *Yc = calloc((size_t)D * N * H, sizeof(double));
    double h[16], cs[16], g4[4][16], hn[16];
    for (int d = 0; d < D; d++) {
      const int rev = D == 2 ? d == 1 : c->reverse;
      const char *const *acts = c->n_acts ? c->acts + (c->n_acts > (c->kind == K_LSTM ? 3 : c->kind == K_GRU ? 2 : 1) ? d * (c->n_acts / 2) : 0) : NULL;
      for (int n = 0; n < N; n++) {
        for (int j = 0; j < H; j++) {
          const int si = c->layout ? (n * D + d) * H + j : (d * N + n) * H + j;
          h[j] = h0->float_data[si], cs[j] = c0->float_data[si];
        }
        for (int s = 0; s < c->lens[n]; s++) {
          const int t = rev ? c->lens[n] - 1 - s : s;
          for (int q = 0; q < G; q++)
            for (int j = 0; j < H; j++) {
              double v = B_(d, q * H + j);
              for (int k = 0; k < c->I; k++) v += X_(t, n, k) * W_(d, q * H + j, k);
              g4[q][j] = v; /* input part and Wb; the recurrent part is added below */
            }
          if (c->kind == K_RNN) {
            for (int j = 0; j < H; j++) {
              double v = g4[0][j] + B_(d, H + j);
              for (int k = 0; k < H; k++) v += h[k] * R_(d, j, k);
              /* alphas/betas: LeakyRelu takes alpha[0] (forward), HardSigmoid alpha[1], beta[0] (reverse) */
              const char *an = acts ? acts[0] : "Tanh";
              const double a = !strcmp(an, "LeakyRelu") ? c->alphas[0] : c->alphas[1], b = c->betas[0];
              hn[j] = actf(an, a, b, clipv(c, v));
            }
          } else if (c->kind == K_LSTM) { /* gates i o f c */
            double rec[4][16];
            for (int q = 0; q < 4; q++)
              for (int j = 0; j < H; j++) {
                double v = B_(d, 4 * H + q * H + j);
                for (int k = 0; k < H; k++) v += h[k] * R_(d, q * H + j, k);
                rec[q][j] = v;
              }
            for (int j = 0; j < H; j++) {
              const double pi = c->with_p ? P->float_data[d * 3 * H + j] : 0, po = c->with_p ? P->float_data[d * 3 * H + H + j] : 0,
                           pf = c->with_p ? P->float_data[d * 3 * H + 2 * H + j] : 0;
              const double ig = sigm(clipv(c, g4[0][j] + rec[0][j] + pi * cs[j]));
              const double fg = c->input_forget ? 1 - ig : sigm(clipv(c, g4[2][j] + rec[2][j] + pf * cs[j]));
              const double cc = tanh(clipv(c, g4[3][j] + rec[3][j]));
              const double cn = fg * cs[j] + ig * cc;
              const double og = sigm(clipv(c, g4[1][j] + rec[1][j] + po * cn));
              cs[j] = cn;
              hn[j] = og * tanh(cn);
            }
          } else { /* GRU: gates z r h */
            double z[16], r[16];
            for (int j = 0; j < H; j++) {
              double vz = g4[0][j] + B_(d, 3 * H + j), vr = g4[1][j] + B_(d, 4 * H + j);
              for (int k = 0; k < H; k++) vz += h[k] * R_(d, j, k), vr += h[k] * R_(d, H + j, k);
              z[j] = sigm(clipv(c, vz)), r[j] = sigm(clipv(c, vr));
            }
            for (int j = 0; j < H; j++) {
              double rh = 0;
              if (c->lbr) {
                for (int k = 0; k < H; k++) rh += h[k] * R_(d, 2 * H + j, k);
                rh = r[j] * (rh + B_(d, 5 * H + j));
              } else {
                for (int k = 0; k < H; k++) rh += r[k] * h[k] * R_(d, 2 * H + j, k);
                rh += B_(d, 5 * H + j);
              }
              const double hh = tanh(clipv(c, g4[2][j] + rh));
              hn[j] = (1 - z[j]) * hh + z[j] * h[j];
            }
          }
          memcpy(h, hn, sizeof(double) * H);
          for (int j = 0; j < H; j++) Y[((t * D + d) * N + n) * H + j] = h[j];
        }
        for (int j = 0; j < H; j++) Yh[(d * N + n) * H + j] = h[j], Yc[(d * N + n) * H + j] = cs[j];
      }
    }
    double worst = 0;
    for (int t = 0; t < T; t++)
      for (int d = 0; d < D; d++)
        for (int n = 0; n < N; n++)
          for (int j = 0; j < H; j++) {
            const int gi = c->layout ? ((n * T + t) * D + d) * H + j : ((t * D + d) * N + n) * H + j;
            const double e = Y[((t * D + d) * N + n) * H + j], v = ((float *)y[0].data)[gi];
            worst = fmax(worst, fabs(v - e));
            if (t >= c->lens[n]) CHECKF(v == 0, "Y[t %d, d %d, n %d] = %g past the sequence", t, d, n, v);
          }
    for (int k = 1; k < n_out; k++)
      for (int d = 0; d < D; d++)
        for (int n = 0; n < N; n++)
          for (int j = 0; j < H; j++) {
            const int gi = c->layout ? (n * D + d) * H + j : (d * N + n) * H + j;
            const double e = (k == 1 ? Yh : Yc)[(d * N + n) * H + j], v = ((float *)y[k].data)[gi];
            worst = fmax(worst, fabs(v - e));
          }
    CHECKF(worst <= 2e-6, "max |difference| %g", worst);
    free(Y), free(Yh), free(Yc);
  }
  for (int k = 0; k < 3; k++) cquant_array_free(&y[k]);
  cquant_array_free(&xa);
  free(x);
  cquant_onnx_free(m);
}

static void test_lstm_bidi_seqlens(void) {
  rcase_t c = {.kind = K_LSTM, .T = 5, .N = 3, .I = 4, .H = 3, .D = 2, .with_p = 1, .lens = {5, 2, 3}};
  run_case(&c);
}
static void test_lstm_reverse_layout1_clip_forget(void) {
  rcase_t c = {.kind = K_LSTM, .T = 4, .N = 3, .I = 3, .H = 5, .D = 1, .reverse = 1, .layout = 1, .clip = 0.3, .input_forget = 1,
               .lens = {4, 1, 3}};
  run_case(&c);
}
static void test_gru_bidi_seqlens(void) {
  rcase_t c = {.kind = K_GRU, .T = 5, .N = 2, .I = 3, .H = 4, .D = 2, .lens = {3, 5}};
  run_case(&c);
}
static void test_gru_reverse_lbr(void) {
  rcase_t c = {.kind = K_GRU, .T = 4, .N = 3, .I = 2, .H = 3, .D = 1, .reverse = 1, .lbr = 1, .lens = {2, 4, 0}};
  run_case(&c);
}
static void test_gru_layout1_lbr_clip(void) {
  rcase_t c = {.kind = K_GRU, .T = 3, .N = 2, .I = 4, .H = 3, .D = 2, .layout = 1, .lbr = 1, .clip = 0.4, .lens = {3, 2}};
  run_case(&c);
}
/* activation_alpha/beta are consumed in order by the functions that take them: LeakyRelu (forward)
 * takes alpha 0.2, HardSigmoid (reverse) alpha 0.3 and beta 0.6. */
static void test_rnn_bidi_activations(void) {
  rcase_t c = {.kind = K_RNN, .T = 4, .N = 2, .I = 3, .H = 4, .D = 2, .lens = {4, 3}, .acts = {"LeakyRelu", "HardSigmoid"}, .n_acts = 2,
               .alphas = {0.2f, 0.3f}, .n_alpha = 2, .betas = {0.6f}, .n_beta = 1};
  run_case(&c);
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"lstm_bidi_seqlens", test_lstm_bidi_seqlens},
      {"lstm_reverse_layout1_clip_forget", test_lstm_reverse_layout1_clip_forget},
      {"gru_bidi_seqlens", test_gru_bidi_seqlens},
      {"gru_reverse_lbr", test_gru_reverse_lbr},
      {"gru_layout1_lbr_clip", test_gru_layout1_lbr_clip},
      {"rnn_bidi_activations", test_rnn_bidi_activations},
  };
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
