/* Operators of the math family: unary math and activations (Abs ... Mish, Gelu), IsNaN, IsInf,
 * Not, BitwiseNot, and the com.microsoft Gelu family ONNX Runtime's tools write (Gelu, FastGelu,
 * BiasGelu, QuickGelu). PRelu and Clip are in math_act.c.
 * Each float function is written once (UN below) and compiled for float (float32, and float16 /
 * bfloat16 widened to float32 in chunks and rounded once at the store, as ONNX Runtime does) and
 * for double (float64). Integer inputs go through int64 (uint64 for unsigned types). */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>
#include "cquant/convert.h"
#include "cquant/quantize.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/math_internal.h"

typedef struct {
  double a, b; /* the operator's attributes: alpha / lambd, beta / gamma / bias */
} mprm_t;
typedef void (*loop_f)(const float *, float *, int64_t, const mprm_t *);
typedef void (*loop_d)(const double *, double *, int64_t, const mprm_t *);

/* One element function in the compute type T (float or double; tgmath.h picks expf or exp), and
 * its loops. x is the element, p the attributes. */
#define UN(NAME, EXPR)                                                                                         \
  static inline float NAME##_1f(float x, const mprm_t *p) {                                                    \
    typedef float T;                                                                                           \
    (void)p, (void)sizeof(T);                                                                                  \
    return (EXPR);                                                                                             \
  }                                                                                                            \
  static inline double NAME##_1d(double x, const mprm_t *p) {                                                  \
    typedef double T;                                                                                          \
    (void)p, (void)sizeof(T);                                                                                  \
    return (EXPR);                                                                                             \
  }                                                                                                            \
  static inline void NAME##_f(const float *x, float *y, int64_t n, const mprm_t *p) {                          \
    for (int64_t i = 0; i < n; i++) y[i] = NAME##_1f(x[i], p);                                                 \
  }                                                                                                            \
  static inline void NAME##_d(const double *x, double *y, int64_t n, const mprm_t *p) {                        \
    for (int64_t i = 0; i < n; i++) y[i] = NAME##_1d(x[i], p);                                                 \
  }

#define CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))
#define A ((T)p->a)
#define B ((T)p->b)

UN(abs_, fabs(x))
UN(neg_, -x)
UN(exp_, exp(x))
UN(log_, log(x))
UN(sqrt_, sqrt(x))
UN(recip_, (T)1 / x)
UN(floor_, floor(x))
UN(ceil_, ceil(x))
UN(round_, rint(x)) /* the default rounding mode: to nearest, ties to even */
UN(sign_, x > 0 ? (T)1 : x < 0 ? (T)-1 : x)
UN(sin_, sin(x))
UN(cos_, cos(x))
UN(tan_, tan(x))
UN(asin_, asin(x))
UN(acos_, acos(x))
UN(atan_, atan(x))
UN(sinh_, sinh(x))
UN(cosh_, cosh(x))
UN(asinh_, asinh(x))
UN(acosh_, acosh(x))
UN(atanh_, atanh(x))
UN(erf_, erf(x))
UN(softplus_, x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))) /* log(1 + e^x) without overflow */
UN(softsign_, x / (1 + fabs(x)))
UN(elu_, x < 0 ? A * expm1(x) : x)
UN(selu_, x <= 0 ? B * (A * exp(x) - A) : B * x)
UN(celu_, x > 0 ? x : A * expm1(x / A)) /* max(0, x) + min(0, alpha (e^(x/alpha) - 1)), alpha > 0 */
UN(thrrelu_, x > A ? x : (T)0)
UN(hardsigmoid_, CLAMP(A * x + B, (T)0, (T)1))
UN(hardswish_, x * CLAMP(x + 3, (T)0, (T)6) / 6)
UN(leakyrelu_, x >= 0 ? x : A * x)
UN(sigmoid_, 1 / (1 + exp(-x)))
UN(tanh_, tanh(x))
UN(relu_, x < 0 ? (T)0 : x)
UN(gelu_, (T)0.5 * x * (1 + erf(x * (T)0.70710678118654752440)))
UN(gelutanh_, (T)0.5 * x * (1 + tanh((T)0.79788456080286535588 * (x + (T)0.044715 * x * x * x))))
UN(mish_, x * tanh(x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))))
UN(shrink_, x < -A ? x + B : x > A ? x - B : (T)0)
UN(quickgelu_, x / (1 + exp(-A * x))) /* x sigmoid(alpha x) */

/* The vectorized float32 loops of math_vec.c in the loop signature. */
static void sigmoid_vf(const float *x, float *y, int64_t n, const mprm_t *p) { (void)p, cquant__math_sigmoid_f32(x, y, n); }
static void tanh_vf(const float *x, float *y, int64_t n, const mprm_t *p) { (void)p, cquant__math_tanh_f32(x, y, n); }
static void quickgelu_vf(const float *x, float *y, int64_t n, const mprm_t *p) { cquant__math_quickgelu_f32(x, y, n, (float)p->a); }
static void leakyrelu_vf(const float *x, float *y, int64_t n, const mprm_t *p) { cquant__math_leakyrelu_f32(x, y, n, (float)p->a); }
static void erf_vf(const float *x, float *y, int64_t n, const mprm_t *p) { (void)p, cquant__math_erf_f32(x, y, n); }
static void gelu_vf(const float *x, float *y, int64_t n, const mprm_t *p) { (void)p, cquant__math_gelu_f32(x, y, n); }
static void mish_vf(const float *x, float *y, int64_t n, const mprm_t *p) { (void)p, cquant__math_mish_f32(x, y, n); }
static void gelutanh_vf(const float *x, float *y, int64_t n, const mprm_t *p) { (void)p, cquant__math_gelu_tanh_f32(x, y, n); }

/* ---- applying a loop to any float type, with an optional bias added first ------------------ */

static int is_fp(cquant_dtype_t dt) {
  return dt == CQUANT_DT_F32 || dt == CQUANT_DT_F64 || dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16;
}

/* y = f(x + bias) for x of type float32, float64, float16 or bfloat16 (bias: NULL or the same
 * type, indexed through ix). */
typedef struct {
  loop_f lf;
  const float *x;
  float *y;
  const mprm_t *p;
  int64_t n, per;
} un_job_t;

static void un_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const un_job_t *j = vj;
  const int64_t i0 = u * j->per, i1 = i0 + j->per < j->n ? i0 + j->per : j->n;
  j->lf(j->x + i0, j->y + i0, i1 - i0, j->p);
}

static int apply(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *bias, const cquant__bidx_t *ix,
                 loop_f lf, loop_d ld, const mprm_t *p, cquant_array_t *out) {
  const cquant_dtype_t dt = x->dtype;
  if (!is_fp(dt))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input is %s; a float type is expected", cquant_dtype_info(dt)->name);
  if (bias && bias->dtype != dt)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bias is %s, input is %s", cquant_dtype_info(bias->dtype)->name,
                              cquant_dtype_info(dt)->name);
  int st = cquant_array_alloc(out, dt, x->ndim, x->shape);
  if (st) return st;
  const int64_t n = x->numel;
  if (dt == CQUANT_DT_F32) {
    const float *xs = x->data;
    float *y = out->data;
    if (!bias) {
      /* 2^17 elements or more: runs of 64-element multiples over the pool, about four a thread
       * (every element is the same function of its input wherever the runs are cut) */
      const int threads = n >= (1 << 17) ? cquant_get_num_threads() : 1;
      un_job_t j = {.lf = lf, .x = xs, .y = y, .p = p, .n = n};
      j.per = threads > 1 ? ((n + 4 * threads - 1) / (4 * threads) + 63) / 64 * 64 : n;
      j.per = j.per < 1 ? 1 : j.per; /* an empty tensor (a detection level without boxes): no unit */
      cquant__par_run(threads, (n + j.per - 1) / j.per, un_unit, &j);
      return CQUANT_STATUS_OK;
    }
    const float *b = bias->data;
    if (ix->mode == 1 && ix->inner == 1) {
      for (int64_t i = 0, j = 0; i < n; i++, j = j + 1 == ix->n ? 0 : j + 1) y[i] = xs[i] + b[j];
    } else {
      for (int64_t i = 0; i < n; i++) y[i] = xs[i] + b[cquant__math_bidx_at(ix, i)];
    }
    lf(y, y, n, p);
    return CQUANT_STATUS_OK;
  }
  if (dt == CQUANT_DT_F64) {
    const double *xs = x->data, *b = bias ? bias->data : NULL;
    double *y = out->data;
    if (!b) {
      ld(xs, y, n, p);
      return CQUANT_STATUS_OK;
    }
    for (int64_t i = 0; i < n; i++) y[i] = xs[i] + b[cquant__math_bidx_at(ix, i)];
    ld(y, y, n, p);
    return CQUANT_STATUS_OK;
  }
  /* float16 / bfloat16: chunks widened to float32, computed, rounded once */
  float *bf = NULL;
  if (bias) {
    bf = malloc(sizeof(float) * (size_t)(bias->numel ? bias->numel : 1));
    if (!bf) {
      cquant_array_free(out);
      return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    cquant_convert_to_f32(bias->data, (size_t)bias->numel, dt, bf);
  }
  enum { CH = 1024 };
  float buf[CH];
  const uint16_t *xs = x->data;
  uint16_t *y = out->data;
  for (int64_t k = 0; k < n; k += CH) {
    const int64_t m = n - k < CH ? n - k : CH;
    cquant_convert_to_f32(xs + k, (size_t)m, dt, buf);
    if (bf)
      for (int64_t j = 0; j < m; j++) buf[j] += bf[cquant__math_bidx_at(ix, k + j)];
    lf(buf, buf, m, p);
    cquant_convert_from_f32(buf, (size_t)m, dt, CQUANT_FP8_SATURATE, y + k);
  }
  free(bf);
  return CQUANT_STATUS_OK;
}

int cquant__math_bidx(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *b, const char *what,
                      cquant__bidx_t *ix) {
  if (b->ndim > x->ndim)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has rank %d, more than the input's %d", what, b->ndim, x->ndim);
  const int off = x->ndim - b->ndim;
  int lo = -1, hi = -1, block = 1;
  for (int d = 0; d < b->ndim; d++) {
    const int64_t bd = b->shape[d], xd = x->shape[d + off];
    if (bd != 1 && bd != xd)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s (dimension %lld at axis %d) does not broadcast to the input (%lld)",
                                what, (long long)bd, d, (long long)xd);
    if (bd != 1) {
      if (lo < 0) lo = d + off;
      hi = d + off;
    }
  }
  memset(ix, 0, sizeof *ix);
  ix->n = b->numel;
  if (lo < 0) return CQUANT_STATUS_OK; /* one value */
  for (int d = lo; d <= hi; d++) block &= b->shape[d - off] == x->shape[d];
  if (block) {
    ix->mode = 1;
    ix->inner = 1;
    for (int d = hi + 1; d < x->ndim; d++) ix->inner *= x->shape[d];
    if (ix->inner == 0 || ix->n == 0) ix->mode = 0; /* X is empty: nothing is read */
    return CQUANT_STATUS_OK;
  }
  ix->mode = 2;
  ix->ndim = x->ndim;
  int64_t s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    const int64_t bd = d >= off ? b->shape[d - off] : 1;
    ix->shape[d] = x->shape[d];
    ix->stride[d] = bd == 1 ? 0 : s;
    s *= bd;
  }
  return CQUANT_STATUS_OK;
}

/* ---- the unary operators -------------------------------------------------------------------- */

enum { I_NONE, I_ABS, I_NEG, I_SIGN, I_RELU, I_SHRINK };

typedef struct {
  const char *name;
  loop_f lf;
  loop_d ld;
  int ints; /* how integer inputs are computed (I_NONE: float types only) */
} unop_t;

static const unop_t unops[] = {
    {"Abs", abs__f, abs__d, I_ABS},
    {"Neg", neg__f, neg__d, I_NEG},
    {"Exp", exp__f, exp__d, I_NONE},
    {"Log", log__f, log__d, I_NONE},
    {"Sqrt", sqrt__f, sqrt__d, I_NONE},
    {"Reciprocal", recip__f, recip__d, I_NONE},
    {"Floor", floor__f, floor__d, I_NONE},
    {"Ceil", ceil__f, ceil__d, I_NONE},
    {"Round", round__f, round__d, I_NONE},
    {"Sign", sign__f, sign__d, I_SIGN},
    {"Sin", sin__f, sin__d, I_NONE},
    {"Cos", cos__f, cos__d, I_NONE},
    {"Tan", tan__f, tan__d, I_NONE},
    {"Asin", asin__f, asin__d, I_NONE},
    {"Acos", acos__f, acos__d, I_NONE},
    {"Atan", atan__f, atan__d, I_NONE},
    {"Sinh", sinh__f, sinh__d, I_NONE},
    {"Cosh", cosh__f, cosh__d, I_NONE},
    {"Asinh", asinh__f, asinh__d, I_NONE},
    {"Acosh", acosh__f, acosh__d, I_NONE},
    {"Atanh", atanh__f, atanh__d, I_NONE},
    {"Erf", erf_vf, erf__d, I_NONE},
    {"Softplus", softplus__f, softplus__d, I_NONE},
    {"Softsign", softsign__f, softsign__d, I_NONE},
    {"Elu", elu__f, elu__d, I_NONE},
    {"Selu", selu__f, selu__d, I_NONE},
    {"Celu", celu__f, celu__d, I_NONE},
    {"ThresholdedRelu", thrrelu__f, thrrelu__d, I_NONE},
    {"HardSigmoid", hardsigmoid__f, hardsigmoid__d, I_NONE},
    {"HardSwish", hardswish__f, hardswish__d, I_NONE},
    {"LeakyRelu", leakyrelu_vf, leakyrelu__d, I_NONE},
    {"Sigmoid", sigmoid_vf, sigmoid__d, I_NONE},
    {"Tanh", tanh_vf, tanh__d, I_NONE},
    {"Relu", relu__f, relu__d, I_RELU},
    {"Gelu", gelu_vf, gelu__d, I_NONE},
    {"Mish", mish_vf, mish__d, I_NONE},
    {"Shrink", shrink__f, shrink__d, I_SHRINK},
    {"QuickGelu", quickgelu_vf, quickgelu__d, I_NONE},
};

/* The attributes of op as p; the Gelu approximation may replace the loops. */
static int params(const Onnx__NodeProto *node, const char *op, mprm_t *p, loop_f *lf, loop_d *ld) {
  p->a = p->b = 0;
  if (!strcmp(op, "Elu") || !strcmp(op, "Celu") || !strcmp(op, "ThresholdedRelu")) p->a = cquant__attr_float(node, "alpha", 1.0f);
  else if (!strcmp(op, "Selu")) {
    p->a = cquant__attr_float(node, "alpha", 1.67326319217681884765625f);
    p->b = cquant__attr_float(node, "gamma", 1.05070102214813232421875f);
  } else if (!strcmp(op, "HardSigmoid")) {
    p->a = cquant__attr_float(node, "alpha", 0.2f);
    p->b = cquant__attr_float(node, "beta", 0.5f);
  } else if (!strcmp(op, "LeakyRelu")) p->a = cquant__attr_float(node, "alpha", 0.01f);
  else if (!strcmp(op, "Shrink")) {
    p->a = cquant__attr_float(node, "lambd", 0.5f);
    p->b = cquant__attr_float(node, "bias", 0.0f);
  } else if (!strcmp(op, "QuickGelu")) p->a = cquant__attr_float(node, "alpha", 1.702f);
  else if (!strcmp(op, "Gelu")) {
    const char *ap = cquant__attr_string(node, "approximate", "none");
    if (!strcmp(ap, "tanh")) *lf = gelutanh_vf, *ld = gelutanh__d;
    else if (strcmp(ap, "none"))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "approximate is '%s' (none or tanh expected)", ap);
  }
  if (!strcmp(op, "Celu") && !(p->a != 0))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "alpha must not be 0");
  return CQUANT_STATUS_OK;
}

static int is_unsigned(cquant_dtype_t dt) {
  return dt == CQUANT_DT_U8 || dt == CQUANT_DT_U16 || dt == CQUANT_DT_U32 || dt == CQUANT_DT_U64 || dt == CQUANT_DT_U4 ||
         dt == CQUANT_DT_U2;
}
static int is_int(cquant_dtype_t dt) {
  const cquant_dtype_info_t *i = cquant_dtype_info(dt);
  return i && !i->is_float && dt != CQUANT_DT_BOOL && dt != CQUANT_DT_F64;
}

/* Abs, Neg, Sign, Relu, Shrink of an integer tensor (wrapping as two's complement does). */
static int unary_int(const Onnx__NodeProto *node, int kind, const mprm_t *p, const cquant_array_t *x, cquant_array_t *out) {
  int st = cquant_array_alloc(out, x->dtype, x->ndim, x->shape);
  if (st) return st;
  const int u = is_unsigned(x->dtype);
  (void)node;
  for (int64_t i = 0; i < x->numel; i++) {
    const int64_t v = cquant__get_i64(x, i);
    int64_t r;
    switch (kind) {
      case I_ABS: r = u || v >= 0 ? v : (int64_t)(0 - (uint64_t)v); break;
      case I_NEG: r = (int64_t)(0 - (uint64_t)v); break;
      case I_SIGN: r = u ? v != 0 : (v > 0) - (v < 0); break;
      case I_RELU: r = u || v >= 0 ? v : 0; break;
      default: { /* Shrink: in double, truncated at the store */
        const double d = u ? (double)(uint64_t)v : (double)v;
        cquant__set_f64(out, i, shrink__1d(d, p));
        continue;
      }
    }
    cquant__set_i64(out, i, r);
  }
  return CQUANT_STATUS_OK;
}

static int op_unary(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                    int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  const unop_t *u = NULL;
  for (size_t k = 0; k < sizeof unops / sizeof unops[0] && !u; k++)
    if (!strcmp(unops[k].name, node->op_type)) u = &unops[k];
  if (!u) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "no unary function of this name");
  const cquant_array_t *x = in[0];
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input X is missing");
  mprm_t p;
  loop_f lf = u->lf;
  loop_d ld = u->ld;
  int st = params(node, u->name, &p, &lf, &ld);
  if (st) return st;
  if (is_int(x->dtype)) {
    if (u->ints == I_NONE)
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input is %s; a float type is expected", cquant_dtype_info(x->dtype)->name);
    return unary_int(node, u->ints, &p, x, &out[0]);
  }
  return apply(node, x, NULL, NULL, lf, ld, &p, &out[0]);
}

/* Relu: float32, uint8 and int8 keep the executor's fast code; the other types come here. */
static int op_relu(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                   int n_out) {
  const cquant_array_t *x = in[0];
  if (x && (x->dtype == CQUANT_DT_F32 || x->dtype == CQUANT_DT_U8 || x->dtype == CQUANT_DT_S8))
    return cquant__op_relu(ctx, node, in, n_in, out, n_out);
  return op_unary(ctx, node, in, n_in, out, n_out);
}

/* com.microsoft FastGelu (tanh approximation) and BiasGelu (exact): Gelu(X + bias), bias optional
 * for FastGelu and broadcast to X (usually 1-D over the last axis). */
static int op_bias_gelu(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                        int n_out) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0], *b = n_in > 1 ? in[1] : NULL;
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input X is missing");
  const int fast = !strcmp(node->op_type, "FastGelu");
  if (!fast && !b) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bias input B is missing");
  cquant__bidx_t ix;
  int st;
  if (b && (st = cquant__math_bidx(node, x, b, "bias", &ix))) return st;
  const mprm_t p = {0, 0};
  return apply(node, x, b, b ? &ix : NULL, fast ? gelutanh_vf : gelu_vf, fast ? gelutanh__d : gelu__d, &p, &out[0]);
}

/* ---- predicates and bitwise ------------------------------------------------------------------ */

static int op_isnan_isinf(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                          int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input X is missing");
  if (!cquant__is_float(x->dtype))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input is %s; a float type is expected", cquant_dtype_info(x->dtype)->name);
  const int nan = !strcmp(node->op_type, "IsNaN");
  const int pos = cquant__attr_int(node, "detect_positive", 1) != 0, neg = cquant__attr_int(node, "detect_negative", 1) != 0;
  int st = cquant_array_alloc(&out[0], CQUANT_DT_BOOL, x->ndim, x->shape);
  if (st) return st;
  uint8_t *y = out[0].data;
  if (x->dtype == CQUANT_DT_F32) {
    const float *v = x->data;
    if (nan)
      for (int64_t i = 0; i < x->numel; i++) y[i] = isnan(v[i]) != 0;
    else
      for (int64_t i = 0; i < x->numel; i++) y[i] = isinf(v[i]) && (v[i] > 0 ? pos : neg);
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < x->numel; i++) {
    const double v = cquant__get_f64(x, i);
    y[i] = nan ? isnan(v) != 0 : isinf(v) && (v > 0 ? pos : neg);
  }
  return CQUANT_STATUS_OK;
}

static int op_not(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                  int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input X is missing");
  const int bitwise = !strcmp(node->op_type, "BitwiseNot");
  if (bitwise ? !is_int(x->dtype) : x->dtype != CQUANT_DT_BOOL)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input is %s; %s expected", cquant_dtype_info(x->dtype)->name,
                              bitwise ? "an integer type" : "bool");
  int st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape);
  if (st) return st;
  if (!bitwise) {
    const uint8_t *v = x->data;
    uint8_t *y = out[0].data;
    for (int64_t i = 0; i < x->numel; i++) y[i] = !v[i];
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < x->numel; i++) cquant__set_i64(&out[0], i, ~cquant__get_i64(x, i));
  return CQUANT_STATUS_OK;
}

const cquant__op_t cquant__ops_math[] = {
    {"Abs", op_unary, 1, 1, 1, 1, 0},
    {"Neg", op_unary, 1, 1, 1, 1, 0},
    {"Exp", op_unary, 1, 1, 1, 1, 0},
    {"Log", op_unary, 1, 1, 1, 1, 0},
    {"Sqrt", op_unary, 1, 1, 1, 1, 0},
    {"Reciprocal", op_unary, 1, 1, 1, 1, 0},
    {"Floor", op_unary, 1, 1, 1, 1, 0},
    {"Ceil", op_unary, 1, 1, 1, 1, 0},
    {"Round", op_unary, 1, 1, 1, 1, 0},
    {"Sign", op_unary, 1, 1, 1, 1, 0},
    {"Sin", op_unary, 1, 1, 1, 1, 0},
    {"Cos", op_unary, 1, 1, 1, 1, 0},
    {"Tan", op_unary, 1, 1, 1, 1, 0},
    {"Asin", op_unary, 1, 1, 1, 1, 0},
    {"Acos", op_unary, 1, 1, 1, 1, 0},
    {"Atan", op_unary, 1, 1, 1, 1, 0},
    {"Sinh", op_unary, 1, 1, 1, 1, 0},
    {"Cosh", op_unary, 1, 1, 1, 1, 0},
    {"Asinh", op_unary, 1, 1, 1, 1, 0},
    {"Acosh", op_unary, 1, 1, 1, 1, 0},
    {"Atanh", op_unary, 1, 1, 1, 1, 0},
    {"Erf", op_unary, 1, 1, 1, 1, 0},
    {"Softplus", op_unary, 1, 1, 1, 1, 0},
    {"Softsign", op_unary, 1, 1, 1, 1, 0},
    {"Elu", op_unary, 1, 1, 1, 1, 0},
    {"Selu", op_unary, 1, 1, 1, 1, 0},
    {"Celu", op_unary, 1, 1, 1, 1, 0},
    {"ThresholdedRelu", op_unary, 1, 1, 1, 1, 0},
    {"HardSigmoid", op_unary, 1, 1, 1, 1, 0},
    {"HardSwish", op_unary, 1, 1, 1, 1, 0},
    {"LeakyRelu", op_unary, 1, 1, 1, 1, 0},
    {"Sigmoid", op_unary, 1, 1, 1, 1, 0},
    {"Tanh", op_unary, 1, 1, 1, 1, 0},
    {"Relu", op_relu, 1, 1, 1, 1, 0},
    {"PRelu", cquant__op_math_prelu, 2, 2, 1, 1, 0},
    {"Gelu", op_unary, 1, 1, 1, 1, 0},
    {"Mish", op_unary, 1, 1, 1, 1, 0},
    {"Shrink", op_unary, 1, 1, 1, 1, 0},
    {"IsNaN", op_isnan_isinf, 1, 1, 1, 1, 0},
    {"IsInf", op_isnan_isinf, 1, 1, 1, 1, 0},
    {"Not", op_not, 1, 1, 1, 1, 0},
    {"BitwiseNot", op_not, 1, 1, 1, 1, 0},
    {"Clip", cquant__op_math_clip, 1, 3, 1, 1, 0},
    {"com.microsoft.Gelu", op_unary, 1, 1, 1, 1, 0},
    {"com.microsoft.FastGelu", op_bias_gelu, 1, 2, 1, 1, 0},
    {"com.microsoft.BiasGelu", op_bias_gelu, 2, 2, 1, 1, 0},
    {"com.microsoft.QuickGelu", op_unary, 1, 1, 1, 1, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
