/* Control flow (If, Loop, subgraphs) on good and bad models: a subgraph that reads a value defined
 * nowhere fails at load naming the node; a negative trip count, a loop past the iteration or byte
 * guard and an If whose branches give different output counts fail at run naming the node. Models
 * are built as protobuf-c structs (tests/onnx_build.h) with GRAPH attributes made here. */
#include "onnx_build.h"
#include "exec/exec_internal.h"

static Onnx__TensorProto *scalar_i64(const char *name, int64_t v) {
  Onnx__TensorProto *t = tb_calloc(1, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1; t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  t->n_int64_data = 1; t->int64_data = tb_malloc(sizeof(int64_t)); t->int64_data[0] = v;
  return t;
}

static Onnx__TensorProto *scalar_bool(const char *name, int v) {
  Onnx__TensorProto *t = tb_calloc(1, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1; t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
  t->n_int32_data = 1; t->int32_data = tb_malloc(sizeof(int32_t)); t->int32_data[0] = v;
  return t;
}

static Onnx__NodeProto *node_n(const char *op, const char *name, int nin, const char **in, int nout, const char **out) {
  Onnx__NodeProto *n = node(op, nin, in, out[0]);
  n->name = (char *)name;
  n->n_output = nout; n->output = (char **)out;
  return n;
}

static void with_attrs(Onnx__NodeProto *n, int na, Onnx__AttributeProto **a) {
  n->n_attribute = na; n->attribute = tb_calloc(na, sizeof *a);
  memcpy(n->attribute, a, sizeof *a * (size_t)na);
}

static int has(const char *msg, const char *what) { return strstr(msg, what) != NULL; }

/* x (float [3]) -> If(cond) -> y: then x + 1, else x * 2; then_outs branch outputs in the then branch */
static cquant_onnx_model_t *if_model(int cond, int then_outs, const char *then_reads) {
  static const char *one_in[] = {"x", "one"}, *two_in[] = {"x", "two"}, *t_out[] = {"t", "t2"}, *e_out[] = {"e"};
  static const char *if_in[] = {"cond"}, *if_out[] = {"y"};
  one_in[0] = then_reads;
  static const int64_t d3[1] = {3};
  Onnx__NodeProto *tn[2] = {node_n("Add", "then_add", 2, one_in, 1, t_out), node_n("Identity", "then_id", 1, one_in, 1, t_out + 1)};
  Onnx__TensorProto *tinit[1] = {tensor("one", 0, NULL, 1, 1)}, *einit[1] = {tensor("two", 0, NULL, 2, 2)};
  Onnx__GraphProto *tg = graph("then", then_outs, tn, 0, NULL, then_outs, t_out, 1, tinit);
  Onnx__NodeProto *en[1] = {node_n("Mul", "else_mul", 2, two_in, 1, e_out)};
  Onnx__GraphProto *eg = graph("else", 1, en, 0, NULL, 1, e_out, 1, einit);
  Onnx__NodeProto *ifn = node_n("If", "the_if", 1, if_in, 1, if_out);
  Onnx__AttributeProto *a[2] = {attr_g("then_branch", tg), attr_g("else_branch", eg)};
  with_attrs(ifn, 2, a);
  Onnx__TensorProto *inits[1] = {scalar_bool("cond", cond)};
  static const char *gin[] = {"x"};
  Onnx__GraphProto *g = graph("if", 1, &ifn, 1, gin, 1, if_out, 1, inits);
  g->input[0] = vinfo("x", 1, d3);
  return load_model(g);
}

static int run1(cquant_onnx_model_t *m, const float *xv, int n, cquant_array_t *y) {
  cquant_array_t x;
  int64_t d = n;
  if (cquant_array_alloc(&x, CQUANT_DT_F32, 1, &d)) return -1;
  memcpy(x.data, xv, sizeof(float) * (size_t)n);
  const char *names[1] = {"x"};
  int st = cquant_onnx_run(m, 1, names, &x, y);
  cquant_array_free(&x);
  return st;
}

static void test_if_runs(void) {
  const float xv[3] = {1, 2, 3};
  for (int c = 0; c < 2; c++) {
    cquant_onnx_model_t *m = if_model(c, 1, "x");
    CHECK(m != NULL);
    if (!m) continue;
    cquant_array_t y;
    CHECKF(run1(m, xv, 3, &y) == 0, "%s", cquant_last_error());
    const float *yv = y.data;
    for (int i = 0; i < 3 && yv; i++) CHECK(yv[i] == (c ? xv[i] + 1 : xv[i] * 2));
    cquant_array_free(&y);
    cquant_onnx_free(m);
  }
}

static void test_missing_outer_value(void) {
  cquant_onnx_model_t *m = if_model(1, 1, "nowhere");
  CHECK(m == NULL);
  const char *e = cquant_last_error();
  CHECKF(has(e, "then_add") && has(e, "nowhere") && has(e, "the_if"), "%s", e);
}

static void test_if_branch_counts_differ(void) {
  cquant_onnx_model_t *m = if_model(1, 2, "x");
  CHECK(m != NULL);
  if (!m) return;
  const float xv[3] = {1, 2, 3};
  cquant_array_t y;
  memset(&y, 0, sizeof y);
  CHECK(run1(m, xv, 3, &y) != 0);
  const char *e = cquant_last_error();
  CHECKF(has(e, "the_if") && has(e, "outputs"), "%s", e);
  CHECK(y.data == NULL);
  cquant_onnx_free(m);
}

/* Loop(M, cond) carrying s (float [3]): s + x each iteration; scan output: s (or a big constant
 * of `scan_floats` floats when nonzero). with_cond 0: the cond input is omitted. */
static cquant_onnx_model_t *loop_model(int64_t M, int with_cond, int64_t scan_floats) {
  static const char *b_in[] = {"i", "c_in", "s_in"}, *b_out[] = {"c_out", "s_out", "scan"};
  static const char *add_in[] = {"s_in", "x"}, *id_in[] = {"c_in"}, *sc_in[] = {"s_out"}, *big_in[] = {"big_shape"};
  Onnx__NodeProto *bn[3] = {node_n("Identity", "cond_id", 1, id_in, 1, b_out), node_n("Add", "body_add", 2, add_in, 1, b_out + 1),
                            scan_floats ? node_n("ConstantOfShape", "big", 1, big_in, 1, b_out + 2) : node_n("Identity", "scan_id", 1, sc_in, 1, b_out + 2)};
  Onnx__TensorProto *binit[1];
  static int64_t one = 1;
  binit[0] = tb_calloc(1, sizeof *binit[0]);
  onnx__tensor_proto__init(binit[0]);
  binit[0]->name = "big_shape"; binit[0]->has_data_type = 1; binit[0]->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  binit[0]->n_dims = 1; binit[0]->dims = &one;
  binit[0]->n_int64_data = 1; binit[0]->int64_data = tb_malloc(sizeof(int64_t)); binit[0]->int64_data[0] = scan_floats;
  Onnx__GraphProto *body = graph("body", 3, bn, 3, b_in, 3, b_out, 1, binit);
  static const char *l_in[3], *l_out[] = {"s_final", "scans"};
  l_in[0] = M == INT64_MIN ? "" : "M", l_in[1] = with_cond ? "cond" : "", l_in[2] = "s0";
  Onnx__NodeProto *ln = node_n("Loop", "the_loop", 3, l_in, 2, l_out);
  Onnx__AttributeProto *a[1] = {attr_g("body", body)};
  with_attrs(ln, 1, a);
  static const int64_t d3[1] = {3};
  Onnx__TensorProto *inits[3] = {scalar_i64("M", M), scalar_bool("cond", 1), tensor("s0", 1, d3, 0, 0)};
  static const char *gin[] = {"x"};
  Onnx__GraphProto *g = graph("loop", 1, &ln, 1, gin, 2, l_out, 3, inits);
  g->input[0] = vinfo("x", 1, d3);
  return load_model(g);
}

static void test_loop_runs(void) {
  cquant_onnx_model_t *m = loop_model(4, 1, 0);
  CHECK(m != NULL);
  if (!m) return;
  const float xv[3] = {1, 2, 3};
  cquant_array_t y[2];
  cquant_array_t x;
  int64_t d = 3;
  CHECK(cquant_array_alloc(&x, CQUANT_DT_F32, 1, &d) == 0);
  memcpy(x.data, xv, sizeof xv);
  const char *names[1] = {"x"};
  CHECKF(cquant_onnx_run(m, 1, names, &x, y) == 0, "%s", cquant_last_error());
  CHECK(y[0].numel == 3 && y[1].ndim == 2 && y[1].shape[0] == 4 && y[1].shape[1] == 3);
  for (int i = 0; i < 3 && y[0].data; i++) CHECK(((float *)y[0].data)[i] == 4 * xv[i]);
  for (int t = 0; t < 4 && y[1].data; t++)
    for (int i = 0; i < 3; i++) CHECK(((float *)y[1].data)[t * 3 + i] == (float)(t + 1) * xv[i]);
  cquant_array_free(&y[0]), cquant_array_free(&y[1]), cquant_array_free(&x);
  cquant_onnx_free(m);
}

static void loop_fails(int64_t M, int with_cond, int64_t scan_floats, const char *what) {
  cquant_onnx_model_t *m = loop_model(M, with_cond, scan_floats);
  CHECK(m != NULL);
  if (!m) return;
  const float xv[3] = {1, 2, 3};
  cquant_array_t y[2];
  memset(y, 0, sizeof y);
  cquant_array_t x;
  int64_t d = 3;
  CHECK(cquant_array_alloc(&x, CQUANT_DT_F32, 1, &d) == 0);
  memcpy(x.data, xv, sizeof xv);
  const char *names[1] = {"x"};
  CHECK(cquant_onnx_run(m, 1, names, &x, y) != 0);
  const char *e = cquant_last_error();
  CHECKF(has(e, "the_loop") && has(e, what), "%s", e);
  CHECK(y[0].data == NULL && y[1].data == NULL);
  cquant_array_free(&x);
  cquant_onnx_free(m);
}

static void test_loop_negative_trip_count(void) { loop_fails(-1, 1, 0, "negative"); }
static void test_loop_past_iteration_guard(void) {
  loop_fails((int64_t)1 << 40, 0, 0, "2^31");  /* a for loop of 2^40 iterations */
  loop_fails(INT64_MIN, 0, 0, "2^31");         /* neither M nor cond: endless */
}
static void test_loop_past_byte_guard(void) { loop_fails((int64_t)1 << 30, 0, 4096, "2^40 bytes"); } /* 2^30 x 16 KiB */

/* A tensor given for an optional graph input is an optional holding it; a sequence built by
 * SequenceConstruct comes out as a sequence of copies. */
static void test_optional_input_and_sequence_output(void) {
  static const char *h_in[] = {"x"}, *h_out[] = {"has"}, *s_in[] = {"g", "g"}, *s_out[] = {"seq"}, *outs[] = {"has", "seq"};
  static const char *gi[] = {"x"}, *gget_in[] = {"x"}, *gget_out[] = {"g"};
  Onnx__NodeProto *n[3] = {node_n("OptionalHasElement", "has_node", 1, h_in, 1, h_out), node_n("OptionalGetElement", "get_node", 1, gget_in, 1, gget_out),
                           node_n("SequenceConstruct", "seq_node", 2, s_in, 1, s_out)};
  Onnx__GraphProto *g = graph("opt", 3, n, 1, gi, 2, outs, 0, NULL);
  Onnx__TypeProto *tp = tb_calloc(1, sizeof *tp); onnx__type_proto__init(tp);
  Onnx__TypeProto__Optional *ot = tb_calloc(1, sizeof *ot); onnx__type_proto__optional__init(ot);
  ot->elem_type = g->input[0]->type;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE; tp->optional_type = ot;
  g->input[0]->type = tp;
  cquant_onnx_model_t *m = load_model(g);
  CHECK(m != NULL);
  if (!m) return;
  const float xv[3] = {1, 2, 3};
  cquant_array_t x, y[2];
  int64_t d = 3;
  CHECK(cquant_array_alloc(&x, CQUANT_DT_F32, 1, &d) == 0);
  memcpy(x.data, xv, sizeof xv);
  const char *names[1] = {"x"};
  CHECKF(cquant_onnx_run(m, 1, names, &x, y) == 0, "%s", cquant_last_error());
  CHECK(y[0].dtype == CQUANT_DT_BOOL && *(uint8_t *)y[0].data == 1);
  CHECK(y[1].dtype == CQUANT_DT_SEQUENCE && y[1].numel == 2);
  for (int k = 0; k < 2 && y[1].numel == 2; k++) CHECK(!memcmp(cquant__elems(&y[1])[k].data, xv, sizeof xv));
  cquant_array_free(&y[0]), cquant_array_free(&y[1]), cquant_array_free(&x);
  cquant_onnx_free(m);
}

/* If inside If inside If ...: `levels` deep (then_branch nests, else_branch is Identity of x). */
static cquant_onnx_model_t *nested_ifs(int levels) {
  static char names[64][16];
  static const char *cond_in[] = {"cond"}, *x_in[] = {"x"};
  Onnx__GraphProto *inner = NULL, *leaf = NULL;
  for (int l = levels; l >= 0; l--) {
    snprintf(names[l], sizeof names[l], "y%d", l);
    const char **out = tb_calloc(1, sizeof *out);
    out[0] = names[l];
    Onnx__NodeProto *n;
    if (!inner) n = node_n("Identity", names[l], 1, x_in, 1, out);
    else {
      n = node_n("If", names[l], 1, cond_in, 1, out);
      if (!leaf) {
        const char **lo = tb_calloc(1, sizeof *lo);
        lo[0] = "leaf";
        Onnx__NodeProto *ln = node_n("Identity", "leaf", 1, x_in, 1, lo);
        leaf = graph("leaf", 1, &ln, 0, NULL, 1, lo, 0, NULL);
      }
      Onnx__AttributeProto *a[2] = {attr_g("then_branch", inner), attr_g("else_branch", leaf)};
      with_attrs(n, 2, a);
    }
    if (l == 0) {
      Onnx__TensorProto *inits[1] = {scalar_bool("cond", 1)};
      Onnx__GraphProto *g = graph("nested", 1, &n, 1, x_in, 1, out, 1, inits);
      return load_model(g);
    }
    inner = graph("branch", 1, &n, 0, NULL, 1, out, 0, NULL);
  }
  return NULL;
}

static void test_nesting_limit(void) {
  cquant_onnx_model_t *m = nested_ifs(8);
  CHECKF(m != NULL, "%s", cquant_last_error());
  if (m) {
    const float xv[3] = {1, 2, 3};
    cquant_array_t y;
    CHECKF(run1(m, xv, 3, &y) == 0, "%s", cquant_last_error());
    CHECK(y.numel == 3 && ((float *)y.data)[2] == 3);
    cquant_array_free(&y);
    cquant_onnx_free(m);
  }
  m = nested_ifs(40);
  CHECK(m == NULL);
  CHECKF(has(cquant_last_error(), "nested more than 32"), "%s", cquant_last_error());
}

static Onnx__AttributeProto *attr_ints(const char *name, int n, const int64_t *v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->n_ints = n; a->ints = (int64_t *)v;
  return a;
}

static int run_x23(cquant_onnx_model_t *m, int n_out, cquant_array_t *y) {
  const float xv[6] = {1, 2, 3, 4, 5, 6};
  cquant_array_t x;
  int64_t d[2] = {2, 3};
  if (cquant_array_alloc(&x, CQUANT_DT_F32, 2, d)) return -1;
  memcpy(x.data, xv, sizeof xv);
  const char *names[1] = {"x"};
  memset(y, 0, sizeof *y * (size_t)n_out);
  int st = cquant_onnx_run(m, 1, names, &x, y);
  cquant_array_free(&x);
  return st;
}

/* Scan (opset 13) over axis 1 of x [2, 3], input and output reversed, output stacked on axis 1:
 * a cumulative sum from the right. */
static void test_scan_axes_directions(void) {
  static const char *b_in[] = {"s_in", "x_t"}, *b_out[] = {"s_out", "y_t"}, *add_in[] = {"s_in", "x_t"}, *id_in[] = {"s_out"};
  Onnx__NodeProto *bn[2] = {node_n("Add", "acc", 2, add_in, 1, b_out), node_n("Identity", "emit", 1, id_in, 1, b_out + 1)};
  Onnx__GraphProto *body = graph("body", 2, bn, 2, b_in, 2, b_out, 0, NULL);
  static const char *s_in[] = {"s0", "x"}, *s_out[] = {"s_final", "y"};
  static const int64_t one[1] = {1}, d2[1] = {2};
  Onnx__NodeProto *sn = node_n("Scan", "the_scan", 2, s_in, 2, s_out);
  Onnx__AttributeProto *a[6] = {attr_g("body", body), attr_i("num_scan_inputs", 1), attr_ints("scan_input_axes", 1, one),
                                attr_ints("scan_input_directions", 1, one), attr_ints("scan_output_axes", 1, one),
                                attr_ints("scan_output_directions", 1, one)};
  with_attrs(sn, 6, a);
  Onnx__TensorProto *inits[1] = {tensor("s0", 1, d2, 0, 0)};
  static const char *gin[] = {"x"};
  Onnx__GraphProto *g = graph("scan", 1, &sn, 1, gin, 2, s_out, 1, inits);
  cquant_onnx_model_t *m = load_model(g);
  CHECK(m != NULL);
  if (!m) return;
  cquant_array_t y[2];
  CHECKF(run_x23(m, 2, y) == 0, "%s", cquant_last_error());
  const float want_s[2] = {6, 15}, want_y[6] = {6, 5, 3, 15, 11, 6};
  CHECK(y[0].numel == 2 && y[1].ndim == 2 && y[1].shape[0] == 2 && y[1].shape[1] == 3);
  if (y[0].numel == 2 && y[1].numel == 6) {
    CHECK(!memcmp(y[0].data, want_s, sizeof want_s));
    CHECK(!memcmp(y[1].data, want_y, sizeof want_y));
  }
  cquant_array_free(&y[0]), cquant_array_free(&y[1]);
  cquant_onnx_free(m);
}

/* SplitToSequence / SequenceErase / SequenceLength / ConcatFromSequence round trips on x [2, 3]. */
static void test_sequence_round_trips(void) {
  static const char *x_in[] = {"x"}, *sp_in[] = {"x", "two"}, *o1[] = {"parts"}, *o2[] = {"back"}, *o3[] = {"rows"}, *o4[] = {"stacked"};
  static const char *o5[] = {"n"}, *o6[] = {"fewer"}, *o7[] = {"last"}, *c1_in[] = {"parts"}, *c2_in[] = {"rows"}, *e_in[] = {"rows"};
  static const char *at_in[] = {"fewer", "minus1"}, *outs[] = {"back", "stacked", "n", "last"};
  Onnx__NodeProto *n[7] = {node_n("SplitToSequence", "split_cols", 2, sp_in, 1, o1), node_n("ConcatFromSequence", "concat_cols", 1, c1_in, 1, o2),
                           node_n("SplitToSequence", "split_rows", 1, x_in, 1, o3), node_n("ConcatFromSequence", "stack_rows", 1, c2_in, 1, o4),
                           node_n("SequenceLength", "count", 1, e_in, 1, o5), node_n("SequenceErase", "erase", 1, e_in, 1, o6),
                           node_n("SequenceAt", "at", 2, at_in, 1, o7)};
  Onnx__AttributeProto *a1[1] = {attr_i("axis", 1)}, *a2[1] = {attr_i("axis", 1)}, *a3[2] = {attr_i("axis", 0), attr_i("keepdims", 0)},
                       *a4[2] = {attr_i("axis", 0), attr_i("new_axis", 1)};
  with_attrs(n[0], 1, a1), with_attrs(n[1], 1, a2), with_attrs(n[2], 2, a3), with_attrs(n[3], 2, a4);
  Onnx__TensorProto *inits[2] = {scalar_i64("two", 2), scalar_i64("minus1", -1)};
  Onnx__GraphProto *g = graph("seq", 7, n, 1, x_in, 4, outs, 2, inits);
  cquant_onnx_model_t *m = load_model(g);
  CHECK(m != NULL);
  if (!m) return;
  cquant_array_t y[4];
  CHECKF(run_x23(m, 4, y) == 0, "%s", cquant_last_error());
  const float xv[6] = {1, 2, 3, 4, 5, 6};
  CHECK(y[0].numel == 6 && y[0].shape[1] == 3 && !memcmp(y[0].data, xv, sizeof xv));
  CHECK(y[1].numel == 6 && y[1].shape[0] == 2 && !memcmp(y[1].data, xv, sizeof xv));
  CHECK(y[2].dtype == CQUANT_DT_S64 && *(int64_t *)y[2].data == 2);
  CHECK(y[3].numel == 3 && y[3].ndim == 1 && !memcmp(y[3].data, xv, 3 * sizeof(float))); /* row 1 erased, row 0 is last */
  for (int i = 0; i < 4; i++) cquant_array_free(&y[i]);
  cquant_onnx_free(m);
}

/* Where the executor frees each value (the last_use bits the loader computes): a value read twice by
 * one node, a graph output read by a later node (never freed), a value read directly and again by a
 * later If's branch (kept for the branch), and both If branches' outer reads. The model then runs,
 * so a value freed too early fails. x [3] -> a = Relu(x); b = a + a; c = b * x; d = a + c;
 * e = If(cond) {then: c + 1, else: d * 2}; y = e + d; outputs y and b. */
static void test_last_readers(void) {
  static const char *x_in[] = {"x"}, *aa[] = {"a", "a"}, *bx[] = {"b", "x"}, *ac[] = {"a", "c"}, *cond_in[] = {"cond"}, *ed[] = {"e", "d"};
  static const char *o_a[] = {"a"}, *o_b[] = {"b"}, *o_c[] = {"c"}, *o_d[] = {"d"}, *o_e[] = {"e"}, *o_y[] = {"y"}, *outs[] = {"y", "b"};
  static const char *c_one[] = {"c", "one"}, *d_two[] = {"d", "two"}, *t_out[] = {"t"}, *e_out[] = {"f"};
  Onnx__NodeProto *tn[1] = {node_n("Add", "then_add", 2, c_one, 1, t_out)}, *en[1] = {node_n("Mul", "else_mul", 2, d_two, 1, e_out)};
  Onnx__TensorProto *tinit[1] = {tensor("one", 0, NULL, 1, 1)}, *einit[1] = {tensor("two", 0, NULL, 2, 2)};
  Onnx__GraphProto *tg = graph("then", 1, tn, 0, NULL, 1, t_out, 1, tinit), *eg = graph("else", 1, en, 0, NULL, 1, e_out, 1, einit);
  Onnx__NodeProto *n[6] = {node_n("Relu", "n0", 1, x_in, 1, o_a), node_n("Add", "n1", 2, aa, 1, o_b), node_n("Mul", "n2", 2, bx, 1, o_c),
                           node_n("Add", "n3", 2, ac, 1, o_d), node_n("If", "n4", 1, cond_in, 1, o_e), node_n("Add", "n5", 2, ed, 1, o_y)};
  Onnx__AttributeProto *a[2] = {attr_g("then_branch", tg), attr_g("else_branch", eg)};
  with_attrs(n[4], 2, a);
  const float xv[3] = {-1, 2, 3};
  for (int cond = 0; cond < 2; cond++) {
    Onnx__TensorProto *inits[1] = {scalar_bool("cond", cond)};
    cquant_onnx_model_t *m = load_model(graph("last", 6, n, 1, x_in, 2, outs, 1, inits));
    CHECK(m != NULL);
    if (!m) return;
    const uint32_t want[6] = {0, 0, 2, 1, 1, 3}; /* n2: x; n3: a (c is read by the then branch later); n4: cond; n5: e and d */
    for (int i = 0; i < 6; i++) CHECKF(m->last_use[i] == want[i], "node n%d: last_use %u, expected %u", i, (unsigned)m->last_use[i], (unsigned)want[i]);
    cquant_array_t x, y[2];
    const int64_t d3 = 3;
    CHECK(cquant_array_alloc(&x, CQUANT_DT_F32, 1, &d3) == 0);
    memcpy(x.data, xv, sizeof xv);
    const char *names[1] = {"x"};
    CHECKF(cquant_onnx_run(m, 1, names, &x, y) == 0, "%s", cquant_last_error());
    cquant_array_free(&x);
    for (int i = 0; i < 3; i++) {
      const float av = xv[i] > 0 ? xv[i] : 0, bv = av + av, cv = bv * xv[i], dv = av + cv, ev = cond ? cv + 1 : dv * 2;
      CHECKF(((const float *)y[0].data)[i] == ev + dv && ((const float *)y[1].data)[i] == bv, "cond %d, element %d: y %g, b %g", cond, i,
             ((const float *)y[0].data)[i], ((const float *)y[1].data)[i]);
    }
    cquant_array_free(&y[0]), cquant_array_free(&y[1]);
    cquant_onnx_free(m);
  }
}

/* Constant nodes: the value is made on the first run and kept (borrowed by each run, constant for
 * the operators' caches); a Constant that is also a graph output is handed out as a copy (the
 * caller may change or free it), and every run computes the same y = (x W) k. */
static void test_constant_nodes(void) {
  static const char *xw[] = {"x", "w"}, *pk[] = {"p", "k"}, *o_w[] = {"w"}, *o_k[] = {"k"}, *o_p[] = {"p"}, *o_y[] = {"y"}, *x_in[] = {"x"};
  static const char *outs[] = {"y", "w"};
  int64_t *wd = tb_malloc(2 * sizeof *wd);
  wd[0] = 4, wd[1] = 3;
  Onnx__TensorProto *wt = tensor("w", 2, wd, -1, 1);
  Onnx__AttributeProto *wa = tb_calloc(1, sizeof *wa), *ka = tb_calloc(1, sizeof *ka);
  onnx__attribute_proto__init(wa), onnx__attribute_proto__init(ka);
  wa->name = "value", wa->has_type = 1, wa->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, wa->t = wt;
  ka->name = "value_float", ka->has_type = 1, ka->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, ka->has_f = 1, ka->f = 2.0f;
  Onnx__NodeProto *n[4] = {node_n("Constant", "cw", 0, NULL, 1, o_w), node_n("Constant", "ck", 0, NULL, 1, o_k), node_n("MatMul", "mm", 2, xw, 1, o_p),
                           node_n("Mul", "mul", 2, pk, 1, o_y)};
  with_attrs(n[0], 1, &wa), with_attrs(n[1], 1, &ka);
  cquant_onnx_model_t *m = load_model(graph("consts", 4, n, 1, x_in, 2, outs, 0, NULL));
  CHECK(m != NULL);
  if (!m) return;
  const float *w = wt->float_data;
  for (int run = 0; run < 3; run++) {
    cquant_array_t x, y[2];
    const int64_t xd[2] = {2, 4};
    CHECK(cquant_array_alloc(&x, CQUANT_DT_F32, 2, xd) == 0);
    for (int i = 0; i < 8; i++) ((float *)x.data)[i] = (float)(i - 3 + run);
    const char *names[1] = {"x"};
    const int st = cquant_onnx_run(m, 1, names, &x, y);
    CHECKF(st == 0, "run %d: %s", run, cquant_last_error());
    if (!st) {
      int bad = y[0].numel != 6 || y[1].numel != 12;
      for (int r = 0; r < 2 && !bad; r++)
        for (int c = 0; c < 3; c++) {
          float acc = 0;
          for (int k = 0; k < 4; k++) acc += ((const float *)x.data)[r * 4 + k] * w[k * 3 + c];
          bad |= fabsf(((const float *)y[0].data)[r * 3 + c] - 2.0f * acc) > 1e-5f * (1 + fabsf(acc));
        }
      for (int i = 0; i < 12 && !bad; i++) bad |= ((const float *)y[1].data)[i] != w[i];
      CHECKF(!bad, "run %d: y or the Constant output w differ", run);
      for (int i = 0; i < 12 && !bad; i++) ((float *)y[1].data)[i] = 99.0f; /* the caller's copy: the next run must not see it */
      cquant_array_free(&y[0]), cquant_array_free(&y[1]);
    }
    cquant_array_free(&x);
  }
  cquant_onnx_free(m);
}

TH_MAIN(T(test_last_readers), T(test_constant_nodes), T(test_scan_axes_directions), T(test_sequence_round_trips), T(test_nesting_limit), T(test_optional_input_and_sequence_output), T(test_if_runs), T(test_missing_outer_value), T(test_if_branch_counts_differ), T(test_loop_runs), T(test_loop_negative_trip_count),
        T(test_loop_past_iteration_guard), T(test_loop_past_byte_guard))
