/* The float executor on 1 and 2 threads (src/exec/ops/conv_par.c's pool): every operator that
 * splits its work computes each output with the same operations whatever the split, so the bits
 * agree: Gemm's one-row sgemv with B (N, K) in 64-output slices, pool.c's planes, the generic
 * pooling's planes, depthwise channels, the GEMM convolution's row chunks and channel slices (each
 * unit's product summed in the same chunks and chains, on OpenBLAS's large kernel or on cquant's
 * own below 10^6 multiply-adds a chunk: cquant__sgemm), MatMul's row runs and runs of batched products, Softmax's rows,
 * Concat's runs of bytes, Transpose and Pad rows, RoiAlign's channels, elementwise functions. A run starts no OpenMP threads (their waiting
 * takes the core the pool's helper needs: threads_now). A run leaves OpenBLAS single-threaded with its workers ended (conv_par.h). */
#include <cblas.h>
#include "onnx_build.h"
#include "cquant/quantize.h"

static cquant_array_t input(int nd, const int64_t *d) {
  cquant_array_t a;
  cquant_array_alloc(&a, CQUANT_DT_F32, nd, d);
  float *v = a.data;
  for (int64_t i = 0; i < a.numel; i++) v[i] = frand();
  return a;
}

/* Runs the one-input one-output model on 1 and on 2 threads; exact: the bits must agree, else
 * max |d| <= 1e-5 max |y|. Frees the model. */
static void one_two(const char *what, cquant_onnx_model_t *m, const cquant_array_t *x, int exact) {
  CHECKF(m != NULL, "%s: model", what);
  if (!m) return;
  const char *names[1] = {"x"};
  cquant_array_t y[2][1];
  int ok = 1;
  openblas_set_num_threads(2); /* as OPENBLAS_NUM_THREADS=2 would start it */
  for (int t = 0; t < 2; t++) {
    cquant_set_num_threads(t + 1);
    const int st = cquant_onnx_run(m, 1, names, x, y[t]);
    CHECKF(!st, "%s on %d threads: %s", what, t + 1, cquant_last_error());
    ok &= !st;
  }
  cquant_set_num_threads(0);
  CHECKF(openblas_get_num_threads() == 1, "%s: OpenBLAS has %d threads after the runs", what, openblas_get_num_threads());
  CHECKF(th_threads_now() <= 2, "%s: %d threads in the process (the caller and the pool's helper expected)", what, th_threads_now());
  if (ok) {
    CHECKF(y[0][0].numel == y[1][0].numel && y[0][0].numel > 0, "%s: output sizes", what);
    const float *a = y[0][0].data, *b = y[1][0].data;
    double worst = 0, mag = 0;
    int64_t differ = 0;
    for (int64_t i = 0; i < y[0][0].numel && y[0][0].numel == y[1][0].numel; i++) {
      differ += memcmp(&a[i], &b[i], sizeof(float)) != 0;
      worst = fmax(worst, fabs((double)a[i] - b[i]));
      mag = fmax(mag, fabs((double)a[i]));
    }
    if (exact) CHECKF(differ == 0, "%s: %lld of %lld outputs differ between 1 and 2 threads (max %g)", what, (long long)differ, (long long)y[0][0].numel, worst);
    else CHECKF(worst <= 1e-5 * mag, "%s: 1 and 2 threads differ by %g (max |y| %g)", what, worst, mag);
    cquant_array_free(&y[0][0]);
    cquant_array_free(&y[1][0]);
  }
  cquant_onnx_free(m);
}

/* Gemm of a (1, K) row with B (N, K) (transB) or (K, N), plus C: one sgemv, with transB split in
 * slices of 64 outputs once N K reaches the pool's threshold (10^6); (K, N) stays one call. */
static void test_gemv(void) {
  static const int64_t NK[][2] = {{1000, 1280}, {1001, 1024}, {77, 20000}, {130, 100}, {4096, 512}};
  for (size_t c = 0; c < sizeof NK / sizeof NK[0]; c++)
    for (int tb = 0; tb < 2; tb++) {
      const int64_t N = NK[c][0], K = NK[c][1];
      int64_t *bd = tb_malloc(2 * sizeof *bd), *cd = tb_malloc(sizeof *cd), xd[2] = {1, K};
      bd[0] = tb ? N : K, bd[1] = tb ? K : N, cd[0] = N;
      Onnx__TensorProto *init[2] = {tensor("B", 2, bd, -0.1f, 0.1f), tensor("C", 1, cd, -1.0f, 1.0f)};
      static const char *in[3] = {"x", "B", "C"}, *outs[1] = {"y"};
      Onnx__NodeProto *n = node("Gemm", 3, in, "y");
      n->n_attribute = 1, n->attribute = tb_calloc(1, sizeof *n->attribute), n->attribute[0] = attr_i("transB", tb);
      cquant_array_t x = input(2, xd);
      char what[96];
      snprintf(what, sizeof what, "Gemm 1x%lld by %s %lldx%lld", (long long)K, tb ? "B^T" : "B", (long long)bd[0], (long long)bd[1]);
      one_two(what, load_model(graph("gemv", 1, &n, 1, in, 1, outs, 2, init)), &x, 1);
      cquant_array_free(&x);
    }
}

/* Gemm of M > 1 rows with a constant B (N, K) (transB, as exporters write a Linear): the node keeps
 * B transposed (conv.c) and multiplies without a transpose; the result must be the bits of the same
 * Gemm with B a graph input (transposed by cquant__sgemm on every call), on the first run (which
 * makes the copy) and on the second (which reads it back). */
static void test_gemm_bt_cached(void) {
  static const int64_t MNK[][3] = {{2, 96, 32}, {5, 1000, 512}, {40, 300, 700}, {3, 10, 2049}};
  for (size_t c = 0; c < sizeof MNK / sizeof MNK[0]; c++) {
    const int64_t M = MNK[c][0], N = MNK[c][1], K = MNK[c][2];
    int64_t *bd = tb_malloc(2 * sizeof *bd), xd[2] = {M, K};
    bd[0] = N, bd[1] = K;
    Onnx__TensorProto *init = tensor("B", 2, bd, -0.1f, 0.1f);
    cquant_array_t x = input(2, xd), bx;
    cquant_array_alloc(&bx, CQUANT_DT_F32, 2, bd);
    memcpy(bx.data, init->float_data, sizeof(float) * (size_t)(N * K));
    static const char *in[2] = {"x", "B"}, *outs[1] = {"y"};
    cquant_array_t y[3][1];
    int ok = 1;
    for (int v = 0; v < 2; v++) {
      Onnx__NodeProto *n = node("Gemm", 2, in, "y");
      n->n_attribute = 1, n->attribute = tb_calloc(1, sizeof *n->attribute), n->attribute[0] = attr_i("transB", 1);
      cquant_onnx_model_t *m = v ? load_model(graph("gemm_bt", 1, &n, 2, in, 1, outs, 0, NULL)) : load_model(graph("gemm_bt", 1, &n, 1, in, 1, outs, 1, &init));
      CHECKF(m != NULL, "Gemm B^T model %d", v);
      if (!m) { ok = 0; continue; }
      const cquant_array_t xs[2] = {x, bx};
      for (int r = 0; r < (v ? 1 : 2); r++) {
        if (r) cquant_array_free(&y[0][0]);
        const int st = cquant_onnx_run(m, v ? 2 : 1, in, xs, y[v ? 2 : r]);
        CHECKF(!st, "Gemm %lldx%lld by B^T %lldx%lld run %d: %s", (long long)M, (long long)K, (long long)N, (long long)K, r, cquant_last_error());
        ok &= !st;
      }
      cquant_onnx_free(m);
    }
    if (ok) {
      const float *a = y[1][0].data, *b = y[2][0].data;
      int64_t differ = 0;
      for (int64_t i = 0; i < M * N; i++) differ += memcmp(&a[i], &b[i], sizeof(float)) != 0;
      CHECKF(y[1][0].numel == M * N && y[2][0].numel == M * N && differ == 0, "Gemm %lldx%lld by a constant B^T %lldx%lld: %lld of %lld outputs differ from B as an input",
             (long long)M, (long long)K, (long long)N, (long long)K, (long long)differ, (long long)(M * N));
      cquant_array_free(&y[1][0]), cquant_array_free(&y[2][0]);
    }
    cquant_array_free(&x), cquant_array_free(&bx);
  }
}

static Onnx__AttributeProto *attr_ints(const char *name, int n, int64_t a, int64_t b, int64_t c, int64_t d) {
  Onnx__AttributeProto *at = tb_calloc(1, sizeof *at); onnx__attribute_proto__init(at);
  int64_t *v = tb_malloc(4 * sizeof *v);
  v[0] = a, v[1] = b, v[2] = c, v[3] = d;
  at->name = (char *)name; at->has_type = 1; at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS; at->n_ints = n; at->ints = v;
  return at;
}

/* MaxPool and AveragePool 3x3 stride 2 on 64 planes: pool.c's loops, and with ceil_mode the
 * generic pooling of nn_pool.c. */
static void test_pool(void) {
  static const char *ops[] = {"MaxPool", "AveragePool"};
  for (int op = 0; op < 2; op++)
    for (int ceil = 0; ceil < 2; ceil++) {
      static const char *in[1] = {"x"}, *outs[1] = {"y"};
      Onnx__NodeProto *n = node(ops[op], 1, in, "y");
      n->n_attribute = 4, n->attribute = tb_calloc(4, sizeof *n->attribute);
      n->attribute[0] = attr_ints("kernel_shape", 2, 3, 3, 0, 0);
      n->attribute[1] = attr_ints("strides", 2, 2, 2, 0, 0);
      n->attribute[2] = attr_i("ceil_mode", ceil);
      n->attribute[3] = attr_ints("pads", 4, 1, 0, 0, 1);
      const int64_t xd[4] = {1, 64, 56, 55};
      cquant_array_t x = input(4, xd);
      char what[64];
      snprintf(what, sizeof what, "%s ceil_mode %d", ops[op], ceil);
      one_two(what, load_model(graph("pool", 1, &n, 1, in, 1, outs, 0, NULL)), &x, 1);
      cquant_array_free(&x);
    }
}

/* MaxPool (pool.c's separable passes over the padded plane) against the generic pooling of
 * nn_pool.c, the scalar window-order loop (taken when the Indices output is asked for), bit for
 * bit, on values with many ties of -0, +0 and equal numbers (the first maximal tap in window order
 * must win), for kernels 1 to 5, strides 1 to 3 each way, symmetric and uneven pads, planes of 1
 * to 23. */
static void test_maxpool_sep(void) {
  int checked = 0;
  static const int64_t geo[][6] = {{3, 3, 1, 1, 1, 1}, {3, 3, 0, 0, 0, 0}, {2, 2, 0, 1, 1, 0}, {5, 5, 2, 2, 2, 2}, {1, 1, 0, 0, 0, 0},
                                   {3, 2, 2, 0, 1, 1}, {4, 3, 1, 2, 2, 1}};
  static const int64_t hw[][2] = {{14, 14}, {7, 9}, {23, 5}, {1, 6}, {6, 1}, {5, 5}};
  static const int64_t strides[][2] = {{1, 1}, {2, 2}, {1, 2}, {2, 1}, {3, 2}};
  for (size_t gi = 0; gi < sizeof geo / sizeof geo[0]; gi++)
    for (size_t si = 0; si < sizeof hw / sizeof hw[0] * 5; si++) {
      const int64_t *G = geo[gi], xd[4] = {1, 5, hw[si / 5][0], hw[si / 5][1]}, *S = strides[si % 5];
      if (xd[2] + G[2] + G[4] < G[0] || xd[3] + G[3] + G[5] < G[1]) continue;
      cquant_array_t x = input(4, xd), y[2], yi[2];
      static const float vals[] = {-1.0f, -0.0f, 0.0f, 1.0f, 2.0f, -2.0f};
      float *xv = x.data;
      for (int64_t i = 0; i < x.numel; i++) xv[i] = vals[(uint32_t)((frand() + 1.0f) * 3.0f) % 6];
      static const char *in[1] = {"x"}, *outs[2] = {"y", "i"};
      int ok = 1;
      for (int two = 0; two < 2; two++) {
        Onnx__NodeProto *n = node("MaxPool", 1, in, "y");
        if (two) n->n_output = 2, n->output = (char **)outs;
        n->n_attribute = 3, n->attribute = tb_calloc(3, sizeof *n->attribute);
        n->attribute[0] = attr_ints("kernel_shape", 2, G[0], G[1], 0, 0);
        n->attribute[1] = attr_ints("strides", 2, S[0], S[1], 0, 0);
        n->attribute[2] = attr_ints("pads", 4, G[2], G[3], G[4], G[5]);
        cquant_onnx_model_t *m = load_model(graph("mp", 1, &n, 1, in, two ? 2 : 1, outs, 0, NULL));
        const char *names[1] = {"x"};
        const int st = m ? cquant_onnx_run(m, 1, names, &x, two ? yi : y) : -1;
        CHECKF(!st, "MaxPool k%lldx%lld: %s", (long long)G[0], (long long)G[1], cquant_last_error());
        ok &= !st;
        cquant_onnx_free(m);
      }
      if (ok) {
        CHECKF(y[0].nbytes == yi[0].nbytes && !memcmp(y[0].data, yi[0].data, y[0].nbytes),
               "MaxPool k%lldx%lld s%lldx%lld pads %lld %lld %lld %lld on %lldx%lld: differs from the window-order loop", (long long)G[0], (long long)G[1],
               (long long)S[0], (long long)S[1], (long long)G[2], (long long)G[3], (long long)G[4], (long long)G[5], (long long)xd[2], (long long)xd[3]);
        checked++;
        cquant_array_free(&y[0]), cquant_array_free(&yi[0]), cquant_array_free(&yi[1]);
      }
      cquant_array_free(&x);
    }
  CHECKF(checked > 100, "only %d geometries compared", checked);
}

/* Conv of x (1, c, h, w) to m channels, k x k, pad k / 2, group g. */
static void conv_case(int64_t c, int64_t m, int64_t h, int64_t w, int64_t k, int64_t g, int exact, int bias) {
  int64_t *wd = tb_malloc(4 * sizeof *wd), *bd = tb_malloc(sizeof *bd), xd[4] = {1, c, h, w};
  wd[0] = m, wd[1] = c / g, wd[2] = wd[3] = k, bd[0] = m;
  Onnx__TensorProto *init[2] = {tensor("W", 4, wd, -0.2f, 0.2f), tensor("Bc", 1, bd, -0.5f, 0.5f)};
  static const char *in[3] = {"x", "W", "Bc"}, *outs[1] = {"y"};
  Onnx__NodeProto *n = node("Conv", bias ? 3 : 2, in, "y");
  n->n_attribute = 2, n->attribute = tb_calloc(2, sizeof *n->attribute);
  n->attribute[0] = attr_ints("pads", 4, k / 2, k / 2, k / 2, k / 2);
  n->attribute[1] = attr_i("group", g);
  cquant_array_t x = input(4, xd);
  char what[96];
  snprintf(what, sizeof what, "Conv %lld->%lld %lldx%lld k%lld group %lld%s", (long long)c, (long long)m, (long long)h, (long long)w, (long long)k, (long long)g,
           bias ? "" : " no bias");
  one_two(what, load_model(graph("conv", 1, &n, 1, in, 1, outs, bias ? 2 : 1, init)), &x, exact);
  cquant_array_free(&x);
}

static void test_conv(void) {
  conv_case(96, 96, 56, 56, 3, 96, 1, 1); /* depthwise: whole channels a unit */
  conv_case(48, 192, 27, 27, 3, 1, 1, 1);  /* im2col GEMM, row chunks */
  conv_case(64, 128, 56, 56, 3, 1, 1, 1);  /* more row chunks */
  conv_case(256, 512, 7, 7, 3, 1, 1, 1);   /* a small plane: output-channel slices */
  conv_case(16, 48, 14, 14, 5, 1, 1, 1);   /* two channel slices of 1.9e6 multiply-adds */
  conv_case(16, 32, 15, 15, 3, 1, 1, 1);   /* 1.04e6: slices would be small-matrix sgemms (< 1e6), one unit */
  conv_case(480, 192, 14, 14, 1, 1, 1, 1); /* 1x1 on X itself, channel slices */
  conv_case(16, 48, 14, 14, 5, 1, 1, 0);   /* no bias (beta 0) */
  conv_case(64, 128, 14, 14, 3, 1, 1, 0);
  conv_case(128, 128, 28, 28, 3, 1, 1, 0);
}

/* Concat of x (1, 64, 55, 57) and an initializer along axis 1, 2 and 3 (output rows of 2 slices,
 * runs of bytes cut inside slices): the same bytes on both thread counts, and the inputs' bytes. */
static void test_concat(void) {
  for (int axis = 1; axis <= 3; axis++) {
    const int64_t xd[4] = {1, 64, 55, 57};
    int64_t *cd = tb_malloc(4 * sizeof *cd);
    memcpy(cd, xd, sizeof xd);
    cd[axis] = axis == 1 ? 3 : 5;
    Onnx__TensorProto *init[1] = {tensor("c", 4, cd, -1.0f, 1.0f)};
    static const char *in[2] = {"x", "c"}, *outs[1] = {"y"};
    Onnx__NodeProto *n = node("Concat", 2, in, "y");
    n->n_attribute = 1, n->attribute = tb_calloc(1, sizeof *n->attribute), n->attribute[0] = attr_i("axis", axis);
    cquant_array_t x = input(4, xd), y;
    char what[64];
    snprintf(what, sizeof what, "Concat axis %d", axis);
    cquant_onnx_model_t *m = load_model(graph("concat", 1, &n, 1, in, 1, outs, 1, init));
    cquant_set_num_threads(2);
    const char *names[1] = {"x"};
    if (m && !cquant_onnx_run(m, 1, names, &x, &y)) { /* the layout, element by element */
      int64_t bad = 0, outer = 1, a = xd[axis], b = cd[axis], inner = 1;
      for (int d = 0; d < axis; d++) outer *= xd[d];
      for (int d = axis + 1; d < 4; d++) inner *= xd[d];
      const float *yv = y.data, *xv = x.data, *cv = init[0]->float_data;
      for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < (a + b) * inner; k++) {
          const float want = k < a * inner ? xv[o * a * inner + k] : cv[o * b * inner + k - a * inner];
          bad += memcmp(&yv[o * (a + b) * inner + k], &want, sizeof want) != 0;
        }
      CHECKF(bad == 0 && y.numel == outer * (a + b) * inner, "%s: %lld elements misplaced", what, (long long)bad);
      cquant_array_free(&y);
    } else
      CHECKF(0, "%s: %s", what, cquant_last_error());
    cquant_set_num_threads(0);
    cquant_onnx_free(m);
    one_two(what, load_model(graph("concat", 1, &n, 1, in, 1, outs, 1, init)), &x, 1);
    cquant_array_free(&x);
  }
}

/* Transpose (1 MiB and more: runs of rows over the pool, 32 x 32 tiles) and Pad (constant,
 * reflect) of x (1, 96, 56, 57): the same bytes on both thread counts. */
static void test_copies(void) {
  static const char *in[1] = {"x"}, *outs[1] = {"y"};
  const int64_t xd[4] = {1, 96, 56, 57};
  for (int k = 0; k < 4; k++) {
    Onnx__NodeProto *n = node(k < 2 ? "Transpose" : "Pad", 1, in, "y");
    n->n_attribute = k == 3 ? 2 : 1, n->attribute = tb_calloc(2, sizeof *n->attribute);
    if (k == 0) n->attribute[0] = attr_ints("perm", 4, 0, 2, 3, 1);
    if (k == 1) n->attribute[0] = attr_ints("perm", 4, 0, 3, 1, 2);
    if (k >= 2) { /* Pad-2: pads as an attribute */
      Onnx__AttributeProto *pa = attr_ints("pads", 4, 0, 0, 1, 2);
      int64_t *v = tb_malloc(8 * sizeof *v);
      v[0] = v[1] = v[4] = v[5] = 0, v[2] = 1, v[3] = 2, v[6] = 2, v[7] = 1;
      pa->n_ints = 8, pa->ints = v;
      n->attribute[0] = pa;
      if (k == 3) {
        Onnx__AttributeProto *mo = tb_calloc(1, sizeof *mo); onnx__attribute_proto__init(mo);
        mo->name = "mode"; mo->has_type = 1; mo->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        mo->has_s = 1; mo->s.data = (uint8_t *)"reflect"; mo->s.len = 7;
        n->attribute[1] = mo;
      }
    }
    cquant_array_t x = input(4, xd);
    static const char *what[4] = {"Transpose 0 2 3 1", "Transpose 0 3 1 2", "Pad constant", "Pad reflect"};
    one_two(what[k], k >= 2 ? load_model_at(graph("copy", 1, &n, 1, in, 1, outs, 0, NULL), 2, 7) : load_model(graph("copy", 1, &n, 1, in, 1, outs, 0, NULL)), &x, 1);
    cquant_array_free(&x);
  }
}

/* MatMul of x (1, 56, 56, K) with an initializer (K, N), as a channels-last MLP: runs of rows over
 * the pool, one sgemm each; of few rows: runs of columns; the same bits as one call. */
static void test_matmul(void) {
  static const int64_t KN[][2] = {{96, 384}, {384, 96}, {64, 1000}};
  for (size_t c = 0; c < sizeof KN / sizeof KN[0]; c++) {
    int64_t *bd = tb_malloc(2 * sizeof *bd), xd[4] = {1, 56, 56, KN[c][0]};
    bd[0] = KN[c][0], bd[1] = KN[c][1];
    Onnx__TensorProto *init[1] = {tensor("B", 2, bd, -0.2f, 0.2f)};
    static const char *in[2] = {"x", "B"}, *outs[1] = {"y"};
    Onnx__NodeProto *n = node("MatMul", 2, in, "y");
    cquant_array_t x = input(4, xd);
    char what[64];
    snprintf(what, sizeof what, "MatMul 3136x%lld by %lldx%lld", (long long)bd[0], (long long)bd[0], (long long)bd[1]);
    one_two(what, load_model(graph("mm", 1, &n, 1, in, 1, outs, 1, init)), &x, 1);
    cquant_array_free(&x);
  }
  /* 200 rows (too few to split) of 5e7 multiply-adds: runs of columns, the last taking the rest */
  int64_t *bd = tb_malloc(2 * sizeof *bd), xd[3] = {1, 200, 512};
  bd[0] = 512, bd[1] = 500;
  Onnx__TensorProto *init[1] = {tensor("B", 2, bd, -0.2f, 0.2f)};
  static const char *in[2] = {"x", "B"}, *outs[1] = {"y"};
  Onnx__NodeProto *n = node("MatMul", 2, in, "y");
  cquant_array_t x = input(3, xd);
  one_two("MatMul 200x512 by 512x500", load_model(graph("mm", 1, &n, 1, in, 1, outs, 1, init)), &x, 1);
  cquant_array_free(&x);
}

/* Batched MatMul of small products (a window attention's q k^T over 64 windows and 3 heads), B
 * batched alike, broadcast on the windows, and A broadcast on the heads: runs of whole products
 * over the pool on 2 threads, the one-by-one loop on 1; the bits agree. */
static void test_matmul_batched(void) {
  static const int64_t xs[3][4] = {{64, 3, 49, 32}, {64, 3, 49, 32}, {64, 1, 49, 32}}, bs[3][4] = {{64, 3, 32, 49}, {1, 3, 32, 49}, {1, 3, 32, 49}};
  static const char *what[3] = {"MatMul 64x3 of 49x32 by 32x49", "MatMul 64x3 by 3 (B broadcast)", "MatMul 64x1 (A broadcast) by 3"};
  for (int c = 0; c < 3; c++) {
    int64_t *bd = tb_malloc(4 * sizeof *bd);
    memcpy(bd, bs[c], 4 * sizeof *bd);
    Onnx__TensorProto *init[1] = {tensor("B", c ? 3 : 4, c ? bd + 1 : bd, -0.5f, 0.5f)};
    static const char *in[2] = {"x", "B"}, *outs[1] = {"y"};
    Onnx__NodeProto *n = node("MatMul", 2, in, "y");
    cquant_array_t x = input(4, xs[c]);
    one_two(what[c], load_model(graph("bmm", 1, &n, 1, in, 1, outs, 1, init)), &x, 1);
    cquant_array_free(&x);
  }
}

/* Softmax over the last axis of (64, 3, 49, 49) (the same attention's scores): runs of rows over
 * the pool; each row is computed alike wherever the runs are cut. */
static void test_softmax(void) {
  static const char *in[1] = {"x"}, *outs[1] = {"y"};
  const int64_t xd[4] = {64, 3, 49, 49};
  Onnx__NodeProto *n = node("Softmax", 1, in, "y");
  cquant_array_t x = input(4, xd);
  one_two("Softmax", load_model(graph("softmax", 1, &n, 1, in, 1, outs, 0, NULL)), &x, 1);
  cquant_array_free(&x);
}

/* RoiAlign of 6 rois over (1, 128, 56, 56) into 14 x 14 bins (a keypoint head's), average and max:
 * channels over the pool; each output is its bin's samples in the same order on any thread. */
static void test_roi_align(void) {
  static const char *in[3] = {"x", "rois", "bi"}, *outs[1] = {"y"};
  const int64_t xd[4] = {1, 128, 56, 56};
  int64_t *rd = tb_malloc(2 * sizeof *rd), *bd = tb_malloc(sizeof *bd);
  rd[0] = 6, rd[1] = 4, bd[0] = 6;
  for (int maxm = 0; maxm < 2; maxm++) {
    Onnx__TensorProto *init[2] = {tensor("rois", 2, rd, 0.0f, 50.0f), tensor("bi", 1, bd, 0.0f, 0.0f)};
    init[1]->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64, init[1]->n_float_data = 0;
    init[1]->n_int64_data = 6, init[1]->int64_data = tb_calloc(6, sizeof(int64_t));
    Onnx__NodeProto *n = node("RoiAlign", 3, in, "y");
    Onnx__AttributeProto **at = tb_calloc(4, sizeof *at);
    at[0] = attr_i("output_height", 14), at[1] = attr_i("output_width", 14), at[2] = attr_i("sampling_ratio", 2), at[3] = attr_f("spatial_scale", 1.0f);
    n->n_attribute = 4, n->attribute = at;
    if (maxm) {
      Onnx__AttributeProto *mode = tb_calloc(1, sizeof *mode);
      onnx__attribute_proto__init(mode);
      mode->name = "mode", mode->has_type = 1, mode->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, mode->has_s = 1;
      mode->s.data = (uint8_t *)"max", mode->s.len = 3;
      Onnx__AttributeProto **at5 = tb_calloc(5, sizeof *at5);
      memcpy(at5, at, 4 * sizeof *at), at5[4] = mode;
      n->n_attribute = 5, n->attribute = at5;
    }
    cquant_array_t x = input(4, xd);
    one_two(maxm ? "RoiAlign max" : "RoiAlign avg", load_model_at(graph("roi", 1, &n, 1, in, 1, outs, 2, init), 16, 7), &x, 1);
    cquant_array_free(&x);
  }
}

/* Elementwise float32 functions of 2^17 elements or more (Erf, Sigmoid, Abs, Relu, Round,
 * BatchNormalization's planes): runs over the pool. */
static void test_unary(void) {
  static const char *ops[] = {"Erf", "Sigmoid", "Abs", "Relu", "Round", "BatchNormalization"}, *in[5] = {"x", "s", "b", "m", "v"}, *outs[1] = {"y"};
  const int64_t xd[4] = {1, 96, 56, 57};
  for (int k = 0; k < 6; k++) {
    const int bn = k == 5;
    Onnx__NodeProto *n = node(ops[k], bn ? 5 : 1, in, "y");
    Onnx__TensorProto *init[4];
    for (int i = 0; i < 4 && bn; i++) init[i] = tensor(in[i + 1], 1, xd + 1, i == 3 ? 0.5f : -1.0f, 1.0f);
    cquant_array_t x = input(4, xd);
    one_two(ops[k], load_model(graph("unary", 1, &n, 1, in, 1, outs, bn ? 4 : 0, init)), &x, 1);
    cquant_array_free(&x);
  }
}

int main(int argc, char **argv) {
  static const th_case cases[] = {{"gemv", test_gemv}, {"gemm_bt_cached", test_gemm_bt_cached}, {"pool", test_pool}, {"conv", test_conv}, {"concat", test_concat}, {"copies", test_copies}, {"matmul", test_matmul}, {"unary", test_unary}, {"matmul_batched", test_matmul_batched}, {"softmax", test_softmax}, {"roi_align", test_roi_align}, {"maxpool_sep", test_maxpool_sep}};
  const int r = th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
  tb_free_all();
  return r;
}
