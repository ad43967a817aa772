/* Operators of the nn family against naive references in double, on random geometry the backend
 * suite does not reach: Conv and ConvTranspose of rank 1-3 (groups, strides, dilations, pads,
 * auto_pad, output_padding) in float32 (2-D: conv.c's path), float64, float16 and bfloat16;
 * pooling in float32 (2-D: pool.c's path) against float64 and float16, MaxPool's indices in both
 * storage orders; MatMul with batch broadcasting and 1-D operands, Gemm with every form of C, on
 * float and integer types; BatchNormalization (training, per-activation before opset 9);
 * Dropout's masks; random attributes and shapes that must give an error or a result, never a
 * crash (run it under the sanitizers). */
#include "harness.h"
#include "cquant/cquant.h"
#include "cquant/convert.h"
#include "exec/ops/nn_internal.h"

static uint64_t rs = 88172645463325252ull;
static double drand(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (double)(rs >> 11) / 9007199254740992.0 * 2 - 1; }
static int irand(int n) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (int)(rs % (uint64_t)n); }

static Onnx__AttributeProto A[16], *AP[16];
static int64_t AV[16][16];
static int na;
static void reset(void) { na = 0; }
static void ai(const char *name, int n, const int64_t *v) {
  Onnx__AttributeProto *a = &A[na];
  onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  memcpy(AV[na], v, sizeof(int64_t) * n);
  a->n_ints = n; a->ints = AV[na];
  AP[na] = a; na++;
}
static void a1(const char *name, int64_t v) {
  Onnx__AttributeProto *a = &A[na];
  onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT; a->has_i = 1; a->i = v;
  AP[na] = a; na++;
}
static void as(const char *name, const char *v) {
  Onnx__AttributeProto *a = &A[na];
  onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING; a->has_s = 1;
  a->s.data = (uint8_t *)v; a->s.len = strlen(v);
  AP[na] = a; na++;
}
static void af(const char *name, float v) {
  Onnx__AttributeProto *a = &A[na];
  onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT; a->has_f = 1; a->f = v;
  AP[na] = a; na++;
}
static Onnx__NodeProto mk(const char *op) {
  Onnx__NodeProto n;
  onnx__node_proto__init(&n);
  n.op_type = (char *)op; n.name = (char *)op;
  n.n_attribute = na; n.attribute = AP;
  return n;
}
static cquant_array_t rnd(cquant_dtype_t dt, int nd, const int64_t *sh) {
  cquant_array_t a;
  cquant_array_alloc(&a, dt, nd, sh);
  for (int64_t i = 0; i < a.numel; i++) cquant__set_f64(&a, i, cquant__is_float(dt) ? drand() : (double)irand(7) - (dt == CQUANT_DT_U32 || dt == CQUANT_DT_U64 ? 0 : 3));
  return a;
}
/* max |got - want| / (1 + |want|) <= tol */
static void cmp(const char *what, const cquant_array_t *got, const double *want, int64_t n, double tol) {
  double worst = 0;
  CHECKF(got->numel == n, "%s: %lld elements, expected %lld", what, (long long)got->numel, (long long)n);
  if (got->numel != n) return;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(cquant__get_f64(got, i) - want[i]) / (1 + fabs(want[i]));
    if (!(d <= worst)) worst = d;
  }
  CHECKF(worst <= tol, "%s: relative error %g", what, worst);
}

/* naive conv in double: x N C in..., w M C/g k..., geometry from the window */
static void conv_ref(const cquant_array_t *x, const cquant_array_t *w, const cquant_array_t *b, int64_t group, const cquant__nn_win_t *g, double *y) {
  int ns = g->nsp;
  int64_t N = x->shape[0], C = x->shape[1], M = w->shape[0], cg = C / group, mg = M / group, P = 1, Pin = 1, K = 1;
  for (int d = 0; d < ns; d++) P *= g->out[d], Pin *= g->in[d], K *= g->k[d];
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t p = 0; p < P; p++) {
        int64_t o[8], r = p;
        for (int d = ns - 1; d >= 0; d--) o[d] = r % g->out[d], r /= g->out[d];
        double s = b ? cquant__get_f64(b, m) : 0;
        for (int64_t c = 0; c < cg; c++)
          for (int64_t kk = 0; kk < K; kk++) {
            int64_t k[8], rr = kk, off = 0, ok = 1;
            for (int d = ns - 1; d >= 0; d--) k[d] = rr % g->k[d], rr /= g->k[d];
            for (int d = 0; d < ns; d++) {
              int64_t pos = o[d] * g->stride[d] + k[d] * g->dil[d] - g->pad0[d];
              ok &= pos >= 0 && pos < g->in[d];
              off = off * g->in[d] + pos;
            }
            if (ok) s += cquant__get_f64(x, ((n * C + (m / mg) * cg + c) * Pin) + off) * cquant__get_f64(w, (m * cg + c) * K + kk);
          }
        y[(n * M + m) * P + p] = s;
      }
}

static void convt_ref(const cquant_array_t *x, const cquant_array_t *w, const cquant_array_t *b, int64_t group, const cquant__nn_win_t *g, double *y,
                      int64_t Pout) {
  int ns = g->nsp;
  int64_t N = x->shape[0], C = x->shape[1], mg = w->shape[1], M = mg * group, cg = C / group, Pin = 1, K = 1;
  for (int d = 0; d < ns; d++) Pin *= g->in[d], K *= g->k[d];
  for (int64_t i = 0; i < N * M * Pout; i++) y[i] = b ? cquant__get_f64(b, (i / Pout) % M) : 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t p = 0; p < Pin; p++)
        for (int64_t m = 0; m < mg; m++)
          for (int64_t kk = 0; kk < K; kk++) {
            int64_t ii[8], k[8], r = p, rr = kk, off = 0, ok = 1;
            for (int d = ns - 1; d >= 0; d--) ii[d] = r % g->in[d], r /= g->in[d], k[d] = rr % g->k[d], rr /= g->k[d];
            for (int d = 0; d < ns; d++) {
              int64_t pos = ii[d] * g->stride[d] + k[d] * g->dil[d] - g->pad0[d];
              ok &= pos >= 0 && pos < g->out[d];
              off = off * g->out[d] + pos;
            }
            if (ok) y[(n * M + (c / cg) * mg + m) * Pout + off] += cquant__get_f64(x, (n * C + c) * Pin + p) * cquant__get_f64(w, (c * mg + m) * K + kk);
          }
}

static void conv_case(int transpose, cquant_dtype_t dt, int ns) {
  cquant__nn_win_t g;
  memset(&g, 0, sizeof g);
  g.nsp = ns;
  int64_t group = 1 + irand(3), cg = 1 + irand(3), mg = 1 + irand(3), N = 1 + irand(2);
  int64_t xs[8] = {N, group * cg}, ws[8];
  int64_t st[6], dl[6], pd[12], op[6];
  for (int d = 0; d < ns; d++) {
    g.k[d] = 1 + irand(3), st[d] = 1 + irand(3), dl[d] = 1 + irand(2), pd[d] = irand(2), pd[d + ns] = irand(2), op[d] = 0;
    g.in[d] = xs[2 + d] = (dl[d] * (g.k[d] - 1) + 1) + irand(6);
    if (transpose && st[d] > 1) op[d] = irand((int)st[d]);
  }
  if (!transpose) ws[0] = group * mg, ws[1] = cg; else ws[0] = group * cg, ws[1] = mg;
  for (int d = 0; d < ns; d++) ws[2 + d] = g.k[d];
  int mode = irand(4); /* 0 pads, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
  if (transpose) mode = irand(2) ? 0 : 1 + irand(2);
  if (mode) for (int d = 0; d < ns; d++) op[d] = 0;
  reset();
  ai("strides", ns, st); ai("dilations", ns, dl); a1("group", group);
  if (mode == 0) ai("pads", 2 * ns, pd);
  else as("auto_pad", mode == 1 ? "SAME_UPPER" : mode == 2 ? "SAME_LOWER" : "VALID");
  if (transpose && mode == 0) ai("output_padding", ns, op);
  Onnx__NodeProto node = mk(transpose ? "ConvTranspose" : "Conv");
  cquant_array_t x = rnd(dt, ns + 2, xs), w = rnd(dt, ns + 2, ws), bb;
  int64_t M = transpose ? mg * group : group * mg;
  int hasb = irand(2);
  bb = rnd(dt, 1, &M);
  const cquant_array_t *in[3] = {&x, &w, hasb ? &bb : NULL};
  cquant_array_t out[1];
  int s = transpose ? cquant__op_nn_conv_transpose(NULL, &node, in, 3, out, 1) : cquant__op_nn_conv(NULL, &node, in, 3, out, 1);
  if (s) goto done; /* ConvTranspose: pads larger than the output (an error, as it should be) */
  /* the reference geometry */
  for (int d = 0; d < ns; d++) g.stride[d] = st[d], g.dil[d] = dl[d];
  int64_t Pout = 1;
  if (!transpose) {
    CHECK(cquant__nn_window(&node, &g, 0, 1) == 0);
  } else {
    for (int d = 0; d < ns; d++) {
      int64_t full = st[d] * (g.in[d] - 1) + op[d] + dl[d] * (g.k[d] - 1) + 1;
      if (mode == 0) g.pad0[d] = pd[d], g.out[d] = full - pd[d] - pd[d + ns];
      else {
        int64_t tot = full - g.in[d] * st[d];
        tot = tot > 0 ? tot : 0;
        g.pad0[d] = mode == 1 ? tot / 2 : tot - tot / 2;
        g.out[d] = g.in[d] * st[d];
      }
    }
  }
  for (int d = 0; d < ns; d++) Pout *= g.out[d];
  {
    int64_t n = N * M * Pout;
    double *y = calloc(n, sizeof(double));
    if (transpose) convt_ref(&x, &w, hasb ? &bb : NULL, group, &g, y, Pout); else conv_ref(&x, &w, hasb ? &bb : NULL, group, &g, y);
    char what[128];
    snprintf(what, sizeof what, "%s %s ns=%d mode=%d group=%lld", node.op_type, cquant_dtype_info(dt)->name, ns, mode, (long long)group);
    cmp(what, &out[0], y, n, dt == CQUANT_DT_F64 ? 1e-12 : dt == CQUANT_DT_F32 ? 1e-5 : dt == CQUANT_DT_F16 ? 1e-2 : 5e-2);
    free(y);
  }
  cquant_array_free(&out[0]);
done:
  cquant_array_free(&x); cquant_array_free(&w); cquant_array_free(&bb);
}

static void matmul_case(cquant_dtype_t dt) {
  int64_t as[8], bs[8];
  int ra = 1 + irand(4), rb = 1 + irand(4);
  int64_t M = 1 + irand(4), K = 1 + irand(5), N = 1 + irand(4);
  int r = (ra > rb ? ra : rb) - 2; if (r < 0) r = 0;
  int64_t bat[8];
  for (int d = 0; d < r; d++) bat[d] = 1 + irand(3);
  for (int d = 0; d < ra - 2; d++) as[d] = irand(3) ? bat[d + r - (ra - 2)] : 1;
  for (int d = 0; d < rb - 2; d++) bs[d] = irand(3) ? bat[d + r - (rb - 2)] : 1;
  if (ra == 1) as[0] = K; else as[ra - 2] = M, as[ra - 1] = K;
  if (rb == 1) bs[0] = K; else bs[rb - 2] = K, bs[rb - 1] = N;
  cquant_array_t a = rnd(dt, ra, as), b = rnd(dt, rb, bs), out[1];
  reset();
  Onnx__NodeProto node = mk("MatMul");
  const cquant_array_t *in[2] = {&a, &b};
  const int st = cquant__op_nn_matmul(NULL, &node, in, 2, out, 1);
  CHECKF(st == 0, "MatMul: %s", cquant_last_error());
  if (st) goto done;
  /* reference: numpy semantics */
  {
    int64_t ob[8] = {0}, nb = 1;
    int rr = 0;
    int ra2 = ra == 1 ? 0 : ra - 2, rb2 = rb == 1 ? 0 : rb - 2;
    rr = ra2 > rb2 ? ra2 : rb2;
    for (int d = 0; d < rr; d++) {
      int64_t da = d - (rr - ra2) >= 0 ? as[d - (rr - ra2)] : 1, db = d - (rr - rb2) >= 0 ? bs[d - (rr - rb2)] : 1;
      ob[d] = da > db ? da : db; nb *= ob[d];
    }
    int64_t Mx = ra == 1 ? 1 : M, Nx = rb == 1 ? 1 : N;
    double *y = calloc(nb * Mx * Nx, sizeof(double));
    for (int64_t t = 0; t < nb; t++) {
      int64_t idx[8], q = t, oa = 0, obb = 0, ma = 1, mb = 1;
      for (int d = rr - 1; d >= 0; d--) idx[d] = q % ob[d], q /= ob[d];
      for (int d = rr - 1; d >= 0; d--) {
        int64_t da = d - (rr - ra2) >= 0 ? as[d - (rr - ra2)] : 1, db = d - (rr - rb2) >= 0 ? bs[d - (rr - rb2)] : 1;
        oa += (da == 1 ? 0 : idx[d]) * ma, ma *= da;
        obb += (db == 1 ? 0 : idx[d]) * mb, mb *= db;
      }
      for (int64_t i = 0; i < Mx; i++)
        for (int64_t j = 0; j < Nx; j++) {
          double s = 0;
          for (int64_t k = 0; k < K; k++) s += cquant__get_f64(&a, oa * Mx * K + i * K + k) * cquant__get_f64(&b, obb * K * Nx + k * Nx + j);
          y[(t * Mx + i) * Nx + j] = s;
        }
    }
    char what[64];
    snprintf(what, sizeof what, "MatMul %s ra=%d rb=%d", cquant_dtype_info(dt)->name, ra, rb);
    int nd = rr + (ra > 1) + (rb > 1);
    CHECKF(out[0].ndim == nd, "%s: rank %d, expected %d", what, out[0].ndim, nd);
    cmp(what, &out[0], y, nb * Mx * Nx, cquant__is_float(dt) ? (dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16 ? 5e-2 : 1e-5) : 0);
    free(y);
  }
  cquant_array_free(&out[0]);
done:
  cquant_array_free(&a); cquant_array_free(&b);
}

static void gemm_case(cquant_dtype_t dt) {
  int64_t M = 1 + irand(5), K = 1 + irand(5), N = 1 + irand(5);
  int ta = irand(2), tb = irand(2);
  int64_t as[2] = {ta ? K : M, ta ? M : K}, bs[2] = {tb ? N : K, tb ? K : N};
  int cform = irand(5);
  int64_t cs[2];
  int cnd = cform == 0 ? 0 : cform == 1 ? 1 : 2;
  if (cform == 1) cs[0] = N;
  if (cform == 2) cs[0] = M, cs[1] = N;
  if (cform == 3) cs[0] = M, cs[1] = 1;
  if (cform == 4) cs[0] = 1, cs[1] = N;
  cquant_array_t a = rnd(dt, 2, as), b = rnd(dt, 2, bs), c = rnd(dt, cnd, cs), out[1];
  reset();
  a1("transA", ta); a1("transB", tb);
  double alpha = cquant__is_float(dt) ? 0.5 : 1, beta = cquant__is_float(dt) ? 2 : 1;
  af("alpha", (float)alpha); af("beta", (float)beta);
  Onnx__NodeProto node = mk("Gemm");
  const cquant_array_t *in[3] = {&a, &b, &c};
  const int st = cquant__op_nn_gemm(NULL, &node, in, 3, out, 1);
  CHECKF(st == 0, "Gemm: %s", cquant_last_error());
  if (st) goto done;
  double *y = calloc(M * N, sizeof(double));
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) s += cquant__get_f64(&a, ta ? k * M + i : i * K + k) * cquant__get_f64(&b, tb ? j * K + k : k * N + j);
      int64_t ci = cform == 0 ? 0 : cform == 1 ? j : cform == 2 ? i * N + j : cform == 3 ? i : j;
      y[i * N + j] = alpha * s + beta * cquant__get_f64(&c, ci);
    }
  char what[64];
  snprintf(what, sizeof what, "Gemm %s c=%d", cquant_dtype_info(dt)->name, cform);
  cmp(what, &out[0], y, M * N, cquant__is_float(dt) ? (dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16 ? 5e-2 : 1e-5) : 0);
  free(y);
  cquant_array_free(&out[0]);
done:
  cquant_array_free(&a); cquant_array_free(&b); cquant_array_free(&c);
}

static void pool_case(int kind, int ns) {
  const char *ops[3] = {"MaxPool", "AveragePool", "LpPool"};
  int64_t xs[8] = {1 + irand(2), 1 + irand(3)}, k[6], st[6], dl[6], pd[12];
  for (int d = 0; d < ns; d++) k[d] = 1 + irand(3), st[d] = 1 + irand(3), dl[d] = 1 + irand(2), pd[d] = irand((int)k[d]), pd[d + ns] = irand((int)k[d]), xs[2 + d] = dl[d] * (k[d] - 1) + 1 + irand(5);
  int mode = irand(4), ceil = irand(2), cip = irand(2), so = irand(2), usedl = irand(2);
  reset();
  ai("kernel_shape", ns, k); ai("strides", ns, st);
  if (usedl) ai("dilations", ns, dl);
  if (mode == 0) ai("pads", 2 * ns, pd); else as("auto_pad", mode == 1 ? "SAME_UPPER" : mode == 2 ? "SAME_LOWER" : "VALID");
  a1("ceil_mode", ceil); a1("count_include_pad", cip); a1("storage_order", so);
  if (kind == 2) a1("p", 1 + irand(3));
  Onnx__NodeProto node = mk(ops[kind]);
  cquant_array_t x64 = rnd(CQUANT_DT_F64, ns + 2, xs), x32, x16, o64[2], o32[2], o16[2];
  cquant_array_alloc(&x32, CQUANT_DT_F32, ns + 2, xs);
  cquant_array_alloc(&x16, CQUANT_DT_F16, ns + 2, xs);
  for (int64_t i = 0; i < x64.numel; i++) { float v = cquant_f16_to_f32(cquant_f32_to_f16((float)cquant__get_f64(&x64, i))); cquant__set_f64(&x64, i, v); cquant__set_f64(&x32, i, v); cquant__set_f64(&x16, i, v); }
  const cquant_array_t *i64[1] = {&x64}, *i32[1] = {&x32}, *i16[1] = {&x16};
  int nout = kind == 0 && irand(2) ? 2 : 1;
  int s1 = cquant__op_nn_pool(NULL, &node, i64, 1, o64, nout);
  int s2 = cquant__op_nn_pool(NULL, &node, i32, 1, o32, 1);
  int s3 = cquant__op_nn_pool(NULL, &node, i16, 1, o16, 1);
  char what[128];
  snprintf(what, sizeof what, "%s ns=%d mode=%d ceil=%d cip=%d dl=%d", ops[kind], ns, mode, ceil, cip, usedl);
  if (s1 || s2 || s3) {
    CHECKF(s1 && s2 && s3, "%s: status %d %d %d", what, s1, s2, s3);
    goto done;
  }
  double *y = malloc(sizeof(double) * o64[0].numel);
  for (int64_t i = 0; i < o64[0].numel; i++) y[i] = cquant__get_f64(&o64[0], i);
  cmp(what, &o32[0], y, o64[0].numel, 1e-5);
  cmp(what, &o16[0], y, o64[0].numel, 2e-3);
  if (nout == 2) { /* indices: x at the index equals y */
    int64_t plane = 1;
    for (int d = 0; d < ns; d++) plane *= xs[2 + d];
    for (int64_t i = 0; i < o64[0].numel; i++) {
      int64_t at = ((int64_t *)o64[1].data)[i], pl = at / plane, r = at % plane, rm = 0;
      if (so) { /* column-major within the plane: the first spatial axis varies fastest */
        int64_t pos[8], mul = 1;
        for (int d = 0; d < ns; d++) pos[d] = r % xs[2 + d], r /= xs[2 + d];
        for (int d = ns - 1; d >= 0; d--) rm += pos[d] * mul, mul *= xs[2 + d];
        r = rm;
      }
      CHECKF(cquant__get_f64(&x64, pl * plane + r) == y[i], "%s: index %lld (storage_order %d) does not hold the maximum", what, (long long)at, so);
      if (cquant__get_f64(&x64, pl * plane + r) != y[i]) break;
    }
    cquant_array_free(&o64[1]);
  }
  free(y);
  cquant_array_free(&o64[0]); cquant_array_free(&o32[0]); cquant_array_free(&o16[0]);
done:
  cquant_array_free(&x64); cquant_array_free(&x32); cquant_array_free(&x16);
}

/* Random attributes (some of the right lengths), shapes (empty ones too) and types through every
 * operator of the table: an error or a result, never a crash or a leak. */
static void test_random(void) {
  int iters = 40000, ok = 0;
  const char *names[] = {"kernel_shape", "strides", "dilations", "pads", "group", "auto_pad", "ceil_mode", "count_include_pad", "storage_order", "p",
                         "output_padding", "output_shape", "transA", "transB", "alpha", "beta", "epsilon", "momentum", "training_mode", "spatial"};
  const char *pads[] = {"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", "BAD", ""};
  cquant_dtype_t dts[] = {CQUANT_DT_F32, CQUANT_DT_F32, CQUANT_DT_F32, CQUANT_DT_F64, CQUANT_DT_F16, CQUANT_DT_BF16, CQUANT_DT_S64, CQUANT_DT_S32, CQUANT_DT_U8, CQUANT_DT_S8, CQUANT_DT_BOOL, CQUANT_DT_U64};
  int nops = 0, ran[64] = {0};
  while (cquant__ops_nn[nops].op_type) nops++;
  for (int it = 0; it < iters; it++) {
    const cquant__op_t *op = &cquant__ops_nn[irand(nops)];
    Onnx__AttributeProto A[8], *AP[8];
    int64_t V[8][12];
    int na = irand(8);
    for (int i = 0; i < na; i++) {
      Onnx__AttributeProto *a = &A[i];
      onnx__attribute_proto__init(a);
      a->name = (char *)names[irand(20)];
      int t = irand(4);
      if (!strcmp(a->name, "auto_pad")) t = 3;
      if (t == 0) { a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT; a->has_i = 1; a->i = irand(5) - 1; if (!irand(20)) a->i = (int64_t)1 << (40 + irand(23)); }
      else if (t == 1) { a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT; a->has_f = 1; a->f = (float)(irand(9) - 3) * 0.5f; }
      else if (t == 2) { a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS; a->n_ints = irand(9); a->ints = V[i];
        for (size_t j = 0; j < a->n_ints; j++) V[i][j] = irand(6) - 1 + (!irand(30) ? ((int64_t)1 << (30 + irand(33))) : 0); }
      else { a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING; a->has_s = 1; const char *s = pads[irand(6)]; a->s.data = (uint8_t *)s; a->s.len = strlen(s); }
      AP[i] = a;
    }
    int rank0 = 3 + irand(3), structured = irand(2);
    if (structured) { /* attributes of the right lengths for a rank0 input */
      const char *sn[] = {"kernel_shape", "strides", "dilations", "pads", "output_padding", "output_shape"};
      na = 0;
      for (int i = 0; i < 6; i++) {
        if (irand(3) == 0 && i) continue;
        Onnx__AttributeProto *a = &A[na];
        onnx__attribute_proto__init(a);
        a->name = (char *)sn[i]; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->n_ints = (size_t)(rank0 - 2) * (i == 3 ? 2 : 1); a->ints = V[na];
        for (size_t j = 0; j < a->n_ints; j++) V[na][j] = (i == 3 || i == 4 ? 0 : 1) + irand(3) - (irand(15) == 0);
        AP[na++] = a;
      }
      if (irand(2)) { Onnx__AttributeProto *a = &A[na]; onnx__attribute_proto__init(a); a->name = (char *)names[5 + irand(4)]; a->has_type = 1;
        if (!strcmp(a->name, "auto_pad")) { a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING; a->has_s = 1; const char *s = pads[irand(4)]; a->s.data = (uint8_t *)s; a->s.len = strlen(s); }
        else { a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT; a->has_i = 1; a->i = irand(3); }
        AP[na++] = a; }
    }
    Onnx__NodeProto node;
    onnx__node_proto__init(&node);
    node.op_type = (char *)op->op_type; node.name = "f"; node.n_attribute = na; node.attribute = AP;
    int n_in = op->min_in + irand(op->max_in - op->min_in + 1), n_out = op->min_out + irand(op->max_out - op->min_out + 1);
    cquant_array_t ins[8];
    const cquant_array_t *in[8];
    cquant_dtype_t dt = dts[irand(12)];
    int rank = structured ? rank0 : irand(6);
    int64_t base[8];
    for (int d = 0; d < rank; d++) base[d] = structured ? 1 + irand(5) : irand(5);
    for (int i = 0; i < n_in; i++) {
      int r = irand(3) ? rank : irand(6);
      int64_t sh[8];
      for (int d = 0; d < r; d++) sh[d] = irand(3) && d < rank ? base[d] : irand(5);
      if (structured && i == 1 && irand(4)) { r = rank; for (int d = 0; d < r; d++) sh[d] = d < 2 ? base[1] : 1 + irand(3); }
      else if (i >= 1 && !irand(3)) { r = 1; sh[0] = rank > 1 ? base[1] : irand(4); }
      cquant_dtype_t t = irand(4) ? dt : dts[irand(12)];
      if (i == 1 && !strcmp(op->op_type, "MaxUnpool")) { /* indices of X's shape, mostly in range */
        t = CQUANT_DT_S64;
        if (irand(2)) { r = ins[0].ndim; memcpy(sh, ins[0].shape, sizeof(int64_t) * (size_t)r); }
      }
      cquant_array_alloc(&ins[i], t, r, sh);
      for (int64_t e = 0; e < ins[i].numel; e++) cquant__set_f64(&ins[i], e, irand(9) - 2);
      in[i] = (i >= op->min_in && !irand(3)) ? NULL : &ins[i];
    }
    cquant_array_t out[8];
    memset(out, 0, sizeof out);
    int st = op->fn(NULL, &node, in, n_in, out, n_out);
    if (!st) {
      ok++; ran[op - cquant__ops_nn]++;
      for (int o = 0; o < n_out; o++) cquant_array_free(&out[o]);
    }
    for (int i = 0; i < n_in; i++) cquant_array_free(&ins[i]);
  }
  for (int i = 0; i < nops; i++) CHECKF(ran[i] > 0, "%s never ran", cquant__ops_nn[i].op_type);
  CHECK(ok > 0);
}

static cquant_onnx_model_t fake_model; /* only its opset is read */
static cquant__opctx_t ctx_at(int opset) {
  fake_model.opset = opset;
  cquant__opctx_t c;
  memset(&c, 0, sizeof c);
  c.m = &fake_model;
  c.node = -1;
  return c;
}

/* Every unary operator of the math table on an empty float32 tensor (0 x 3, large enough a
 * thread count does not matter): an error or an empty result, never a crash (Sigmoid and Exp of a
 * detection model's feature level without boxes divided by a zero run length). */
static void test_empty_math(void) {
  int ran = 0;
  for (const cquant__op_t *op = cquant__ops_math; op->op_type; op++) {
    if (op->min_in != 1) continue;
    const int64_t sh[2] = {0, 3};
    cquant_array_t x, out[4];
    cquant_array_alloc(&x, CQUANT_DT_F32, 2, sh);
    const cquant_array_t *in[1] = {&x};
    Onnx__NodeProto node = mk(op->op_type);
    memset(out, 0, sizeof out);
    cquant__opctx_t ctx = ctx_at(17);
    if (!op->fn(&ctx, &node, in, 1, out, op->min_out)) {
      ran++;
      CHECKF(out[0].numel == 0, "%s of an empty tensor has %lld elements", op->op_type, (long long)out[0].numel);
      for (int o = 0; o < op->min_out; o++) cquant_array_free(&out[o]);
    }
    cquant_array_free(&x);
  }
  CHECK(ran > 10);
}

static void test_conv(void) {
  const cquant_dtype_t fts[4] = {CQUANT_DT_F32, CQUANT_DT_F64, CQUANT_DT_F16, CQUANT_DT_BF16};
  for (int it = 0; it < 200; it++) conv_case(0, fts[it % 4], 1 + irand(3));
}

static void test_conv_transpose(void) {
  const cquant_dtype_t fts[4] = {CQUANT_DT_F32, CQUANT_DT_F64, CQUANT_DT_F16, CQUANT_DT_BF16};
  for (int it = 0; it < 200; it++) conv_case(1, fts[it % 4], 1 + irand(3));
}

static void test_pool(void) {
  for (int it = 0; it < 600; it++) pool_case(it % 3, 1 + irand(3));
}

static const cquant_dtype_t mm_types[7] = {CQUANT_DT_F32, CQUANT_DT_F64, CQUANT_DT_F16, CQUANT_DT_S32, CQUANT_DT_S64, CQUANT_DT_U32, CQUANT_DT_U64};
static void test_matmul(void) {
  for (int it = 0; it < 300; it++) matmul_case(mm_types[it % 7]);
}
static void test_gemm(void) {
  for (int it = 0; it < 300; it++) gemm_case(mm_types[it % 7]);
}

/* Training mode (opset 15): the batch's statistics normalize X, the running ones move by momentum;
 * before opset 9, spatial=0 keeps one set of parameters per activation. */
static void test_batchnorm(void) {
  const int64_t xs[3] = {2, 3, 4}, cs[1] = {3};
  cquant_array_t x = rnd(CQUANT_DT_F32, 3, xs), p[4];
  for (int i = 0; i < 4; i++) p[i] = rnd(CQUANT_DT_F32, 1, cs);
  for (int c = 0; c < 3; c++) ((float *)p[3].data)[c] = 0.5f + fabsf(((float *)p[3].data)[c]);
  reset();
  a1("training_mode", 1);
  af("momentum", 0.8f);
  af("epsilon", 1e-3f);
  Onnx__NodeProto node = mk("BatchNormalization");
  const cquant_array_t *in[5] = {&x, &p[0], &p[1], &p[2], &p[3]};
  cquant_array_t out[3];
  cquant__opctx_t ctx = ctx_at(15);
  const cquant__op_t *op = cquant__op_find("BatchNormalization");
  int st = op->fn(&ctx, &node, in, 5, out, 3);
  CHECKF(st == 0, "training: %s", cquant_last_error());
  if (!st) {
    double y[24], rm[3], rv[3];
    for (int c = 0; c < 3; c++) {
      double m = 0, v = 0;
      for (int n = 0; n < 2; n++)
        for (int i = 0; i < 4; i++) m += ((float *)x.data)[(n * 3 + c) * 4 + i] / 8.0;
      for (int n = 0; n < 2; n++)
        for (int i = 0; i < 4; i++) v += pow(((float *)x.data)[(n * 3 + c) * 4 + i] - m, 2) / 8.0;
      for (int n = 0; n < 2; n++)
        for (int i = 0; i < 4; i++) {
          const int e = (n * 3 + c) * 4 + i;
          y[e] = (((float *)x.data)[e] - m) / sqrt(v + 1e-3) * ((float *)p[0].data)[c] + ((float *)p[1].data)[c];
        }
      rm[c] = ((float *)p[2].data)[c] * 0.8 + m * 0.2;
      rv[c] = ((float *)p[3].data)[c] * 0.8 + v * 0.2;
    }
    cmp("BatchNormalization Y", &out[0], y, 24, 1e-5);
    cmp("BatchNormalization running_mean", &out[1], rm, 3, 1e-6);
    cmp("BatchNormalization running_var", &out[2], rv, 3, 1e-6);
    for (int o = 0; o < 3; o++) cquant_array_free(&out[o]);
  }
  /* opset 8, spatial=0: parameters of shape C x D */
  const int64_t ps[2] = {3, 4};
  cquant_array_t q[4];
  for (int i = 0; i < 4; i++) q[i] = rnd(CQUANT_DT_F32, 2, ps);
  for (int e = 0; e < 12; e++) ((float *)q[3].data)[e] = 0.5f + fabsf(((float *)q[3].data)[e]);
  reset();
  a1("spatial", 0);
  Onnx__NodeProto node8 = mk("BatchNormalization");
  const cquant_array_t *in8[5] = {&x, &q[0], &q[1], &q[2], &q[3]};
  ctx = ctx_at(8);
  st = op->fn(&ctx, &node8, in8, 5, out, 1);
  CHECKF(st == 0, "spatial=0: %s", cquant_last_error());
  if (!st) {
    double y[24];
    for (int e = 0; e < 24; e++) {
      const int k = e % 12;
      y[e] = (((float *)x.data)[e] - ((float *)q[2].data)[k]) / sqrt(((float *)q[3].data)[k] + 1e-5) * ((float *)q[0].data)[k] + ((float *)q[1].data)[k];
    }
    cmp("BatchNormalization spatial=0", &out[0], y, 24, 1e-5);
    cquant_array_free(&out[0]);
  }
  for (int i = 0; i < 4; i++) cquant_array_free(&p[i]), cquant_array_free(&q[i]);
  cquant_array_free(&x);
}

/* Dropout: identity with an all-true mask (bool from opset 10, X's type before); training with a
 * ratio above 0 is refused, with ratio 0 it is the identity. */
static void test_dropout(void) {
  const int64_t xs[2] = {3, 5}, none[1] = {0};
  cquant_array_t x = rnd(CQUANT_DT_F32, 2, xs), ratio, tm, out[2];
  cquant_array_alloc(&ratio, CQUANT_DT_F32, 0, none);
  cquant_array_alloc(&tm, CQUANT_DT_BOOL, 0, none);
  reset();
  Onnx__NodeProto node = mk("Dropout");
  const cquant__op_t *op = cquant__op_find("Dropout");
  for (int opset = 7; opset <= 13; opset += 6) {
    cquant__opctx_t ctx = ctx_at(opset);
    const cquant_array_t *in[3] = {&x, NULL, NULL};
    int st = op->fn(&ctx, &node, in, 1, out, 2);
    CHECKF(st == 0, "opset %d: %s", opset, cquant_last_error());
    if (st) continue;
    CHECK(!memcmp(out[0].data, x.data, x.nbytes));
    CHECK(out[1].dtype == (opset < 10 ? CQUANT_DT_F32 : CQUANT_DT_BOOL));
    for (int64_t i = 0; i < out[1].numel; i++) CHECK(cquant__get_f64(&out[1], i) == 1);
    cquant_array_free(&out[0]), cquant_array_free(&out[1]);
  }
  cquant__opctx_t ctx = ctx_at(13);
  const cquant_array_t *in[3] = {&x, &ratio, &tm};
  ((uint8_t *)tm.data)[0] = 1;
  CHECK(op->fn(&ctx, &node, in, 3, out, 2) == 0);
  cquant_array_free(&out[0]), cquant_array_free(&out[1]);
  ((float *)ratio.data)[0] = 0.5f;
  CHECK(op->fn(&ctx, &node, in, 3, out, 1) == CQUANT_STATUS_UNSUPPORTED);
  cquant_array_free(&x), cquant_array_free(&ratio), cquant_array_free(&tm);
}

int main(int argc, char **argv) {
  static const th_case cases[] = {
      {"conv", test_conv},     {"conv_transpose", test_conv_transpose}, {"pool", test_pool},       {"matmul", test_matmul},
      {"gemm", test_gemm},     {"batchnorm", test_batchnorm},           {"dropout", test_dropout}, {"random", test_random}, {"empty_math", test_empty_math},
  };
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
