/* Operators of the tensor family on cases ONNX's backend suite does not cover: every element width,
 * Pad's wrap mode, negative pads and axes input, Split's num_outputs, Slice's extreme indices and
 * steps, Transpose against a naive loop, Unique with an axis, out-of-range indices as errors,
 * CenterCropPad, ScatterND reductions, and random inputs and attributes that must give a result or
 * an error, never a crash (run it under the sanitizers). Operators are called directly through
 * the executor's table (opset 21). */
#include "harness.h"
#include "cquant/cquant.h"
#include "exec/exec_internal.h"

static Onnx__AttributeProto attr_pool[16], *attr_ptr[16];
static Onnx__NodeProto nd;

static void reset(const char *op) {
  onnx__node_proto__init(&nd);
  nd.op_type = (char *)op;
  nd.name = "t";
  nd.attribute = attr_ptr;
  nd.n_attribute = 0;
}
static Onnx__AttributeProto *new_attr(const char *name) {
  Onnx__AttributeProto *a = &attr_pool[nd.n_attribute];
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  attr_ptr[nd.n_attribute++] = a;
  return a;
}
static void set_i(const char *n, int64_t v) {
  Onnx__AttributeProto *a = new_attr(n);
  a->has_i = 1, a->i = v, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
}
static void set_s(const char *n, const char *v) {
  Onnx__AttributeProto *a = new_attr(n);
  a->has_s = 1, a->s.data = (uint8_t *)v, a->s.len = strlen(v), a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
}
static void set_ints(const char *n, int k, const int64_t *v) {
  Onnx__AttributeProto *a = new_attr(n);
  a->n_ints = (size_t)k, a->ints = (int64_t *)v, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
}

static cquant_array_t arr(cquant_dtype_t dt, int ndim, const int64_t *shape, const double *v) {
  cquant_array_t a;
  if (cquant_array_alloc(&a, dt, ndim, shape)) abort();
  for (int64_t i = 0; v && i < a.numel; i++) cquant__set_f64(&a, i, v[i]);
  return a;
}
static cquant_array_t ints(int n, const int64_t *v) {
  int64_t s = n;
  cquant_array_t a;
  if (cquant_array_alloc(&a, CQUANT_DT_S64, 1, &s)) abort();
  memcpy(a.data, v, sizeof(int64_t) * (size_t)n);
  return a;
}
static int run(int nin, const cquant_array_t **in, int nout, cquant_array_t *out) {
  memset(out, 0, sizeof(cquant_array_t) * (size_t)nout);
  return cquant__op_find(nd.op_type)->fn(NULL, &nd, in, nin, out, nout);
}
/* out holds exactly the n values v (compared as doubles). */
static int same(const cquant_array_t *a, int n, const double *v) {
  if (a->numel != n) return 0;
  for (int i = 0; i < n; i++)
    if (cquant__get_f64(a, i) != v[i]) return 0;
  return 1;
}
#define EXPECT(a, ...)                                                                  \
  do {                                                                                  \
    const double want_[] = {__VA_ARGS__};                                               \
    CHECKF(same(a, (int)(sizeof want_ / sizeof want_[0]), want_), "%s", nd.op_type);    \
  } while (0)
static void free_all(cquant_array_t *o, int n) {
  for (int i = 0; i < n; i++) cquant_array_free(&o[i]);
}

static const cquant_dtype_t widths[] = {CQUANT_DT_BOOL, CQUANT_DT_U8, CQUANT_DT_F16, CQUANT_DT_BF16, CQUANT_DT_S32, CQUANT_DT_F32, CQUANT_DT_S64, CQUANT_DT_F64};
#define NW (int)(sizeof widths / sizeof widths[0])

static void test_pad_modes(void) {
  int64_t s3 = 3;
  cquant_array_t o[1];
  for (int t = 1; t < NW; t++) {
    cquant_array_t x = arr(widths[t], 1, &s3, (double[]){1, 2, 3}), cv = arr(widths[t], 0, NULL, (double[]){9});
    int64_t p22[2] = {2, 2}, pcrop[2] = {-1, 2}, pbig[2] = {4, 0};
    cquant_array_t pads = ints(2, p22);
    const cquant_array_t *in[3] = {&x, &pads, NULL};
    reset("Pad"), set_s("mode", "wrap");
    CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 2, 3, 1, 2, 3, 1, 2); free_all(o, 1);
    reset("Pad"), set_s("mode", "reflect");
    CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 3, 2, 1, 2, 3, 2, 1); free_all(o, 1);
    reset("Pad"), set_s("mode", "edge");
    CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 1, 1, 1, 2, 3, 3, 3); free_all(o, 1);
    cquant_array_free(&pads);
    pads = ints(2, pcrop), in[2] = &cv;
    reset("Pad");
    CHECK(!run(3, in, 1, o)); EXPECT(&o[0], 2, 3, 9, 9); free_all(o, 1);
    cquant_array_free(&pads);
    pads = ints(2, pbig); /* reflect farther than the axis: numpy's repeated reflection */
    reset("Pad"), set_s("mode", "reflect");
    CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 1, 2, 3, 2, 1, 2, 3); free_all(o, 1);
    cquant_array_free(&pads), cquant_array_free(&cv), cquant_array_free(&x);
  }
  int64_t sh[2] = {2, 2}, p[2] = {1, 1}, ax[1] = {-1}, p4[4] = {1, 0, 0, 1}, bad[2] = {-3, 0};
  cquant_array_t x = arr(CQUANT_DT_F32, 2, sh, (double[]){1, 2, 3, 4}), pads = ints(2, p), axes = ints(1, ax), pads4 = ints(4, p4), pbad = ints(2, bad);
  cquant_array_t cv = arr(CQUANT_DT_F32, 0, NULL, (double[]){7});
  const cquant_array_t *in[4] = {&x, &pads, &cv, &axes};
  reset("Pad");
  CHECK(!run(4, in, 1, o)); EXPECT(&o[0], 7, 1, 2, 7, 7, 3, 4, 7); free_all(o, 1);
  in[1] = &pads4, in[3] = NULL;
  reset("Pad"), set_s("mode", "edge");
  CHECK(!run(3, in, 1, o)); EXPECT(&o[0], 1, 2, 2, 1, 2, 2, 3, 4, 4); free_all(o, 1);
  in[1] = &pbad, in[3] = &axes; /* cropping more than the axis holds */
  reset("Pad");
  CHECK(run(4, in, 1, o) != 0);
  cquant_array_free(&x), cquant_array_free(&pads), cquant_array_free(&axes), cquant_array_free(&pads4), cquant_array_free(&pbad), cquant_array_free(&cv);
}

static void test_split_slice(void) {
  int64_t s7 = 7, s10 = 10;
  cquant_array_t o[3];
  cquant_array_t x = arr(CQUANT_DT_S8, 1, &s7, (double[]){0, 1, 2, 3, 4, 5, 6});
  const cquant_array_t *in1[1] = {&x};
  reset("Split"), set_i("num_outputs", 3);
  CHECK(!run(1, in1, 3, o));
  EXPECT(&o[0], 0, 1, 2); EXPECT(&o[1], 3, 4, 5); EXPECT(&o[2], 6); free_all(o, 3);
  reset("Split"), set_i("num_outputs", 2); /* num_outputs must match the node's outputs */
  CHECK(run(1, in1, 3, o) != 0);
  cquant_array_free(&x);
  double v[10];
  for (int i = 0; i < 10; i++) v[i] = i;
  x = arr(CQUANT_DT_U16, 1, &s10, v);
  const int64_t cases[][3] = {{-1, INT64_MIN, -1}, {0, INT64_MAX, 3}, {0, INT64_MAX, INT64_MAX}, {INT64_MAX, INT64_MIN, INT64_MIN}, {5, 2, 1}};
  const double want[][10] = {{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {0, 3, 6, 9}, {0}, {9}, {0}};
  const int nwant[] = {10, 4, 1, 1, 0};
  for (int c = 0; c < 5; c++) {
    cquant_array_t st = ints(1, &cases[c][0]), en = ints(1, &cases[c][1]), sp = ints(1, &cases[c][2]);
    const cquant_array_t *in[5] = {&x, &st, &en, NULL, &sp};
    reset("Slice");
    CHECK(!run(5, in, 1, o));
    CHECKF(same(&o[0], nwant[c], want[c]), "slice case %d", c);
    free_all(o, 1), cquant_array_free(&st), cquant_array_free(&en), cquant_array_free(&sp);
  }
  /* Slice-1 attributes */
  int64_t a0[1] = {-3}, a1[1] = {100};
  const cquant_array_t *in[1] = {&x};
  reset("Slice"), set_ints("starts", 1, a0), set_ints("ends", 1, a1);
  CHECK(!run(1, in, 1, o)); EXPECT(&o[0], 7, 8, 9); free_all(o, 1);
  cquant_array_free(&x);
}

static void test_transpose(void) {
  int64_t sh[4] = {3, 37, 5, 41}, perm[4] = {3, 1, 0, 2};
  cquant_array_t o[1];
  for (int t = 0; t < NW; t++) {
    cquant_array_t x = arr(widths[t], 4, sh, NULL);
    for (int64_t i = 0; i < x.numel; i++) cquant__set_f64(&x, i, (double)(i % (t ? 97 : 2)));
    const cquant_array_t *in[1] = {&x};
    reset("Transpose"), set_ints("perm", 4, perm);
    CHECK(!run(1, in, 1, o));
    int bad = 0;
    for (int64_t i0 = 0; i0 < 41; i0++)
      for (int64_t i1 = 0; i1 < 37; i1++)
        for (int64_t i2 = 0; i2 < 3; i2++)
          for (int64_t i3 = 0; i3 < 5; i3++)
            bad += cquant__get_f64(&o[0], ((i0 * 37 + i1) * 3 + i2) * 5 + i3) != cquant__get_f64(&x, ((i2 * 37 + i1) * 5 + i3) * 41 + i0);
    CHECKF(!bad, "width %d: %d elements differ", t, bad);
    free_all(o, 1), cquant_array_free(&x);
  }
  int64_t dup[2] = {0, 0}, sh2[2] = {2, 2};
  cquant_array_t x = arr(CQUANT_DT_F32, 2, sh2, NULL);
  const cquant_array_t *in[1] = {&x};
  reset("Transpose"), set_ints("perm", 2, dup);
  CHECK(run(1, in, 1, o) != 0);
  cquant_array_free(&x);
}

static void test_range_unique(void) {
  cquant_array_t o[4];
  cquant_array_t a = arr(CQUANT_DT_S32, 0, NULL, (double[]){10}), b = arr(CQUANT_DT_S32, 0, NULL, (double[]){4}), c = arr(CQUANT_DT_S32, 0, NULL, (double[]){-3});
  const cquant_array_t *in[3] = {&a, &b, &c};
  reset("Range");
  CHECK(!run(3, in, 1, o)); EXPECT(&o[0], 10, 7); free_all(o, 1);
  cquant_array_free(&a), cquant_array_free(&b), cquant_array_free(&c);
  a = arr(CQUANT_DT_F64, 0, NULL, (double[]){1}), b = arr(CQUANT_DT_F64, 0, NULL, (double[]){10}), c = arr(CQUANT_DT_F64, 0, NULL, (double[]){2.5});
  reset("Range");
  CHECK(!run(3, in, 1, o)); EXPECT(&o[0], 1, 3.5, 6, 8.5); free_all(o, 1);
  cquant_array_free(&a), cquant_array_free(&b), cquant_array_free(&c);
  /* columns (1,5) (2,6) (1,5) (0,0) */
  int64_t sh[2] = {2, 4};
  cquant_array_t x = arr(CQUANT_DT_S16, 2, sh, (double[]){1, 2, 1, 0, 5, 6, 5, 0});
  const cquant_array_t *in1[1] = {&x};
  reset("Unique"), set_i("axis", 1), set_i("sorted", 0);
  CHECK(!run(1, in1, 4, o));
  EXPECT(&o[0], 1, 2, 0, 5, 6, 0); EXPECT(&o[1], 0, 1, 3); EXPECT(&o[2], 0, 1, 0, 2); EXPECT(&o[3], 2, 1, 1); free_all(o, 4);
  reset("Unique"), set_i("axis", 1);
  CHECK(!run(1, in1, 4, o));
  EXPECT(&o[0], 0, 1, 2, 0, 5, 6); EXPECT(&o[1], 3, 0, 1); EXPECT(&o[2], 1, 2, 1, 0); EXPECT(&o[3], 1, 2, 1); free_all(o, 4);
  cquant_array_free(&x);
}

static void test_indices(void) {
  cquant_array_t o[1];
  int64_t s3 = 3, s4 = 4, k3 = 3, ish[2] = {3, 1};
  cquant_array_t x = arr(CQUANT_DT_F32, 1, &s3, (double[]){1, 2, 3}), idx = ints(1, &k3);
  const cquant_array_t *in[3] = {&x, &idx, NULL};
  const char *ops[] = {"Gather", "GatherElements"};
  for (int i = 0; i < 2; i++) {
    reset(ops[i]);
    CHECKF(run(2, in, 1, o) != 0 && !o[0].data, "%s: index 3 of 3 must be an error", ops[i]);
  }
  cquant_array_t i32 = arr(CQUANT_DT_S32, 1, &s3, (double[]){-1, 0, -3});
  in[1] = &i32;
  reset("Gather");
  CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 3, 1, 1); free_all(o, 1);
  cquant_array_free(&x), cquant_array_free(&idx), cquant_array_free(&i32);
  x = arr(CQUANT_DT_S64, 1, &s4, (double[]){1, 5, 3, 7});
  idx = arr(CQUANT_DT_S64, 2, ish, (double[]){1, -1, 1});
  cquant_array_t u = arr(CQUANT_DT_S64, 1, &s3, (double[]){9, 2, 4});
  in[0] = &x, in[1] = &idx, in[2] = &u;
  reset("ScatterND"), set_s("reduction", "max");
  CHECK(!run(3, in, 1, o)); EXPECT(&o[0], 1, 9, 3, 7); free_all(o, 1);
  reset("ScatterND"), set_s("reduction", "min");
  CHECK(!run(3, in, 1, o)); EXPECT(&o[0], 1, 4, 3, 2); free_all(o, 1);
  reset("ScatterND"), set_s("reduction", "add");
  CHECK(!run(3, in, 1, o)); EXPECT(&o[0], 1, 18, 3, 9); free_all(o, 1);
  cquant_array_free(&x), cquant_array_free(&idx), cquant_array_free(&u);
  /* GatherND with batch_dims 1: data [2, 2, 2], indices [2, 1] */
  int64_t dsh[3] = {2, 2, 2}, gsh[2] = {2, 1};
  x = arr(CQUANT_DT_F16, 3, dsh, (double[]){0, 1, 2, 3, 4, 5, 6, 7});
  idx = arr(CQUANT_DT_S64, 2, gsh, (double[]){1, 0});
  in[0] = &x, in[1] = &idx;
  reset("GatherND"), set_i("batch_dims", 1);
  CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 2, 3, 4, 5); free_all(o, 1);
  cquant_array_free(&x), cquant_array_free(&idx);
  /* OneHot: negative index counts from the end, out of range stays off */
  int64_t s2 = 2;
  cquant_array_t ind = arr(CQUANT_DT_S32, 1, &s3, (double[]){-1, 1, 5}), dep = arr(CQUANT_DT_F32, 0, NULL, (double[]){3}), val = arr(CQUANT_DT_S8, 1, &s2, (double[]){0, 1});
  const cquant_array_t *in3[3] = {&ind, &dep, &val};
  reset("OneHot"), set_i("axis", 0);
  CHECK(!run(3, in3, 1, o)); EXPECT(&o[0], 0, 0, 0, 0, 1, 0, 1, 0, 0); free_all(o, 1);
  cquant_array_free(&ind), cquant_array_free(&dep), cquant_array_free(&val);
}

static void test_shapes(void) {
  cquant_array_t o[1];
  int64_t sh[2] = {5, 3}, t[2] = {3, 5}, s2 = 2, r3 = 3;
  double v[15];
  for (int i = 0; i < 15; i++) v[i] = i + 1;
  cquant_array_t x = arr(CQUANT_DT_F32, 2, sh, v), s = ints(2, t);
  const cquant_array_t *in[2] = {&x, &s};
  reset("CenterCropPad");
  CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 0, 4, 5, 6, 0, 0, 7, 8, 9, 0, 0, 10, 11, 12, 0); free_all(o, 1);
  cquant_array_free(&x), cquant_array_free(&s);
  cquant_array_t b = arr(CQUANT_DT_BOOL, 1, &s2, (double[]){1, 0}), rep = ints(1, &r3);
  in[0] = &b, in[1] = &rep;
  reset("Tile");
  CHECK(!run(2, in, 1, o)); EXPECT(&o[0], 1, 0, 1, 0, 1, 0); free_all(o, 1);
  cquant_array_free(&b), cquant_array_free(&rep);
  /* Reshape: allowzero keeps a 0, -1 with a zero-sized rest is an error */
  int64_t zsh[2] = {0, 3}, a[2] = {3, 0}, bad[2] = {0, -1};
  x = arr(CQUANT_DT_F32, 2, zsh, NULL), s = ints(2, a);
  in[0] = &x, in[1] = &s;
  reset("Reshape"), set_i("allowzero", 1);
  CHECK(!run(2, in, 1, o) && o[0].ndim == 2 && o[0].shape[0] == 3 && o[0].shape[1] == 0); free_all(o, 1);
  cquant_array_free(&s), s = ints(2, bad);
  reset("Reshape");
  CHECK(run(2, in, 1, o) != 0);
  cquant_array_free(&x), cquant_array_free(&s);
  /* NonZero: -0.0 is zero, NaN is not */
  int64_t s4 = 4;
  x = arr(CQUANT_DT_F32, 1, &s4, (double[]){-0.0, NAN, 0, 2});
  in[0] = &x;
  reset("NonZero");
  CHECK(!run(1, in, 1, o)); EXPECT(&o[0], 1, 3); free_all(o, 1);
  cquant_array_free(&x);
  /* DepthToSpace (DCR) undoes SpaceToDepth */
  int64_t nchw[4] = {1, 2, 4, 6};
  double w[48];
  for (int i = 0; i < 48; i++) w[i] = i;
  x = arr(CQUANT_DT_BF16, 4, nchw, w);
  cquant_array_t mid[1];
  in[0] = &x;
  reset("SpaceToDepth"), set_i("blocksize", 2);
  CHECK(!run(1, in, 1, mid));
  in[0] = &mid[0];
  reset("DepthToSpace"), set_i("blocksize", 2);
  CHECK(!run(1, in, 1, o));
  CHECK(same(&o[0], 48, w) && o[0].ndim == 4 && o[0].shape[3] == 6);
  free_all(o, 1); free_all(mid, 1), cquant_array_free(&x);
}

/* Random inputs and attributes: a result with every output, or an error with none; never a crash
 * (the sanitizer build checks the memory accesses). */
static void test_random_inputs(void) {
  static const char *ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice", "Pad", "Expand", "Tile",
                              "Range", "Shape", "Size", "ConstantOfShape", "Constant", "Identity", "Gather", "GatherElements", "GatherND", "Scatter",
                              "ScatterElements", "ScatterND", "Trilu", "OneHot", "NonZero", "Compress", "DepthToSpace", "SpaceToDepth", "EyeLike",
                              "Unique", "ReverseSequence", "CenterCropPad"};
  static const char *names[] = {"axis", "axes", "perm", "mode", "split", "num_outputs", "starts", "ends", "pads", "value", "allowzero", "start", "end",
                                "batch_dims", "reduction", "upper", "k", "dtype", "blocksize", "sorted", "time_axis", "batch_axis", "shape", "value_ints"};
  static const char *strs[] = {"constant", "reflect", "edge", "wrap", "DCR", "CRD", "add", "mul", "max", "min", "none", "bogus"};
  static const int64_t vals[] = {0, 1, -1, 2, 3, -2, -3, 4, INT64_MAX, INT64_MIN, 5, 100};
  uint64_t s = 0x2545f4914f6cdd1dull;
#define RND() (s ^= s << 13, s ^= s >> 7, s ^= s << 17, s)
#define RV() vals[RND() % (sizeof vals / sizeof vals[0])]
  int64_t lists[8][6];
  long ok = 0;
  for (long it = 0; it < 40000; it++) {
    const cquant__op_t *op = cquant__op_find(ops[RND() % (sizeof ops / sizeof ops[0])]);
    reset(op->op_type);
    for (int i = 0, n = (int)(RND() % 5); i < n; i++) {
      const char *name = names[RND() % (sizeof names / sizeof names[0])];
      switch (RND() % 3) {
        case 0: set_i(name, RV()); break;
        case 1:
          for (int j = 0; j < 6; j++) lists[i][j] = RV();
          set_ints(name, (int)(RND() % 6), lists[i]);
          break;
        default: set_s(name, strs[RND() % 12]);
      }
    }
    const int nin = op->min_in + (int)(RND() % (uint64_t)((op->max_in < 5 ? op->max_in : 5) - op->min_in + 1));
    const int nout = op->min_out + (int)(RND() % (uint64_t)((op->max_out < 4 ? op->max_out : 4) - op->min_out + 1));
    const int like = (int)(RND() % 3); /* 1, 2: later inputs shaped like input 0, input 1 small int64 indices */
    cquant_array_t a[8], out[8];
    const cquant_array_t *in[8] = {0};
    for (int k = 0; k < nin; k++) {
      if (k >= op->min_in && RND() % 3 == 0) continue;
      const int r = (int)(RND() % 10);
      cquant_dtype_t dt = r < 4 ? CQUANT_DT_S64 : r < 6 ? CQUANT_DT_F32 : widths[RND() % NW];
      int ndim = (int)(RND() % 5);
      int64_t sh[CQUANT_MAX_DIMS];
      for (int d = 0; d < ndim; d++) sh[d] = (int64_t)(RND() % 4);
      if (like && k > 0 && in[0]) {
        ndim = a[0].ndim, memcpy(sh, a[0].shape, sizeof sh);
        dt = k == 1 ? CQUANT_DT_S64 : k == 2 ? a[0].dtype : dt;
      }
      a[k] = arr(dt, ndim, sh, NULL);
      for (int64_t i = 0; i < a[k].numel; i++) cquant__set_i64(&a[k], i, like && k == 1 ? (int64_t)(RND() % 5) - 2 : RND() % 4 ? RV() % 7 : RV());
      in[k] = &a[k];
    }
    memset(out, 0, sizeof out);
    const int st = cquant__op_find(nd.op_type)->fn(NULL, &nd, in, nin, out, nout);
    for (int k = 0; k < nout; k++) {
      CHECKF(!st == !!out[k].data, "%s: status %d, output %d %s", nd.op_type, st, k, out[k].data ? "allocated" : "missing");
      cquant_array_free(&out[k]);
    }
    for (int k = 0; k < nin; k++)
      if (in[k]) cquant_array_free(&a[k]);
    ok += !st;
  }
  CHECK(ok > 5000);
#undef RND
#undef RV
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"test_pad_modes", test_pad_modes},       {"test_split_slice", test_split_slice}, {"test_transpose", test_transpose},
      {"test_range_unique", test_range_unique}, {"test_indices", test_indices},         {"test_shapes", test_shapes},
      {"test_random_inputs", test_random_inputs},
  };
  return th_run(cases, sizeof cases / sizeof cases[0], argc, argv);
}
