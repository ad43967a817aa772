/* Operators of the binary family (see exec_internal.h): the table, the broadcasting loop and the
 * arithmetic operators Add, Sub, Mul, Div, Mod and Pow for every element type ONNX allows.
 * Logic, comparison, bitwise and Where are in binary_logic.c; Max, Min, Sum and Mean in
 * binary_variadic.c; Cast and CastLike in binary_cast.c.
 *
 * Integers wrap (two's complement, as ONNX Runtime and numpy do); integer Div truncates toward
 * zero; integer Mod (fmod=0) takes the sign of the divisor as Python does, fmod=1 that of the
 * dividend as C does; an integer division by zero is an error. float16 and bfloat16 compute in
 * float32 and round once at the store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/quantize.h"
#include "core/internal.h"
#include "exec/ops/binary_internal.h"
#include "exec/ops/conv_par.h"

/* ---- the broadcasting loop ------------------------------------------------------------------- */

int cquant__bin_plan(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n, int *ndim, int64_t *shape, bin_plan_t *p) {
  int64_t st[BIN_MAX_OPS][CQUANT_MAX_DIMS];
  int s = cquant__broadcast(node, in, n, ndim, shape, st);
  if (s) return s;
  memset(p, 0, sizeof *p);
  p->n = n;
  p->numel = 1;
  for (int d = 0; d < *ndim; d++) {
    if (shape[d] && p->numel > ((int64_t)1 << 50) / shape[d])
      return cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "the broadcast output is too large");
    p->numel *= shape[d];
  }
  int nd = 0;
  for (int d = 0; d < *ndim; d++) {
    if (shape[d] == 1) continue; /* no step along it */
    int merge = nd > 0;
    for (int k = 0; k < n && merge; k++) merge = p->st[k][nd - 1] == st[k][d] * shape[d];
    if (merge) {
      p->shape[nd - 1] *= shape[d];
      for (int k = 0; k < n; k++) p->st[k][nd - 1] = st[k][d];
    } else {
      p->shape[nd] = shape[d];
      for (int k = 0; k < n; k++) p->st[k][nd] = st[k][d];
      nd++;
    }
  }
  if (!nd) { /* every axis 1 (or a scalar): one run of one element */
    p->shape[0] = 1;
    for (int k = 0; k < n; k++) p->st[k][0] = 0;
    nd = 1;
  }
  p->nd = nd;
  return CQUANT_STATUS_OK;
}

/* Output elements [e0, e1) of the plan's walk. */
static void loop_range(const bin_plan_t *p, const cquant_array_t *const *in, char *y, size_t ysz, bin_run_fn fn, void *u, int64_t e0,
                       int64_t e1) {
  const int nd = p->nd, n = p->n;
  const int64_t inner = p->shape[nd - 1];
  int64_t idx[CQUANT_MAX_DIMS] = {0}, off[BIN_MAX_OPS] = {0}, s[BIN_MAX_OPS];
  size_t esz[BIN_MAX_OPS];
  const char *ptr[BIN_MAX_OPS];
  for (int k = 0; k < n; k++) esz[k] = cquant__dtype_size(in[k]->dtype), s[k] = p->st[k][nd - 1];
  int64_t r = e0 / inner, i0 = e0 % inner;
  for (int d = nd - 2; d >= 0; d--) { /* the outer index of e0 */
    idx[d] = r % p->shape[d];
    r /= p->shape[d];
    for (int k = 0; k < n; k++) off[k] += idx[d] * p->st[k][d];
  }
  for (int64_t e = e0; e < e1;) {
    const int64_t len = inner - i0 < e1 - e ? inner - i0 : e1 - e;
    for (int k = 0; k < n; k++) ptr[k] = (const char *)in[k]->data + (size_t)(off[k] + s[k] * i0) * esz[k];
    fn(u, ptr, s, y + (size_t)e * ysz, len);
    e += len;
    i0 = 0;
    for (int d = nd - 2; d >= 0; d--) { /* the odometer over the outer axes */
      for (int k = 0; k < n; k++) off[k] += p->st[k][d];
      if (++idx[d] < p->shape[d]) break;
      for (int k = 0; k < n; k++) off[k] -= p->st[k][d] * p->shape[d];
      idx[d] = 0;
    }
  }
}

typedef struct {
  const bin_plan_t *p;
  const cquant_array_t *const *in;
  void *y;
  size_t ysz;
  bin_run_fn fn;
  void *u;
  int64_t chunk;
} bin_job_t;

static void bin_unit(void *vj, int64_t t, int worker) {
  const bin_job_t *j = vj;
  const int64_t e0 = t * j->chunk, e1 = e0 + j->chunk < j->p->numel ? e0 + j->chunk : j->p->numel;
  if (e0 < e1) loop_range(j->p, j->in, j->y, j->ysz, j->fn, j->u, e0, e1);
}

void cquant__bin_loop(const bin_plan_t *p, const cquant_array_t *const *in, void *y, size_t ysz, bin_run_fn fn, void *u) {
  if (p->numel <= 0) return;
  /* large outputs are split over the threads in chunks of whole cache lines */
  const int nt = p->numel >= (1 << 17) ? cquant_get_num_threads() : 1;
  if (nt <= 1) {
    loop_range(p, in, y, ysz, fn, u, 0, p->numel);
    return;
  }
  /* four chunks a thread, taken from a shared counter (conv_par.c): a thread the scheduler runs
   * late costs one chunk, not a time slice at a join */
  bin_job_t j = {p, in, y, ysz, fn, u, ((p->numel + 4 * nt - 1) / (4 * nt) + 63) / 64 * 64};
  cquant__par_run(nt, (p->numel + j.chunk - 1) / j.chunk, bin_unit, &j);
}

int cquant__bin_legacy_b(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *a, const cquant_array_t *b_in,
                         cquant_array_t *b) {
  *b = *b_in;
  /* outside a model run (constant folding: no opset known) a broadcast attribute, which only
   * opset < 7 defines, says the form */
  if (ctx && (ctx->m || ctx->opset > 0) ? cquant__opset(ctx) >= 7 : !cquant__attr(node, "broadcast")) return CQUANT_STATUS_OK;
  const int64_t bc = cquant__attr_int(node, "broadcast", 0);
  const int same = a->ndim == b_in->ndim && !memcmp(a->shape, b_in->shape, sizeof(int64_t) * (size_t)a->ndim);
  if (!bc) {
    if (!same) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A and B differ in shape and broadcast is 0 (opset < 7)");
    return CQUANT_STATUS_OK;
  }
  if (b_in->ndim > a->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "B has a higher rank than A (broadcast=1)");
  if (!cquant__attr(node, "axis")) return CQUANT_STATUS_OK; /* trailing axes: numpy's rule */
  int axis, st;
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), a->ndim, &axis))) return st;
  if (axis + b_in->ndim > a->ndim)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "B (rank %d) does not fit A (rank %d) from axis %d", b_in->ndim, a->ndim, axis);
  b->ndim = a->ndim;
  for (int d = 0; d < a->ndim; d++) b->shape[d] = d >= axis && d < axis + b_in->ndim ? b_in->shape[d - axis] : 1;
  return CQUANT_STATUS_OK;
}

int cquant__bin_to_f32(const cquant_array_t *a, cquant_array_t *tmp, const cquant_array_t **out) {
  memset(tmp, 0, sizeof *tmp);
  *out = a;
  if (a->dtype != CQUANT_DT_F16 && a->dtype != CQUANT_DT_BF16) return CQUANT_STATUS_OK;
  int st = cquant_array_alloc(tmp, CQUANT_DT_F32, a->ndim, a->shape);
  if (st || (st = cquant_convert_to_f32(a->data, (size_t)a->numel, a->dtype, tmp->data))) {
    cquant_array_free(tmp);
    return st;
  }
  *out = tmp;
  return CQUANT_STATUS_OK;
}

int cquant__bin_from_f32(const cquant_array_t *f, cquant_dtype_t dt, cquant_array_t *y) {
  int st = cquant_array_alloc(y, dt, f->ndim, f->shape);
  if (!st) st = cquant_convert_from_f32(f->data, (size_t)f->numel, dt, CQUANT_FP8_SATURATE, y->data);
  return st;
}

/* ---- arithmetic kernels ---------------------------------------------------------------------- */

static inline float pymod_f32(float x, float z) {
  float r = fmodf(x, z);
  if (r != 0) {
    if ((r < 0) != (z < 0)) r += z;
  } else {
    r = copysignf(0.0f, z);
  }
  return r;
}

static inline double pymod_f64(double x, double z) {
  double r = fmod(x, z);
  if (r != 0) {
    if ((r < 0) != (z < 0)) r += z;
  } else {
    r = copysign(0.0, z);
  }
  return r;
}

/* Max and Min propagate NaN, as numpy.maximum and numpy.minimum do. */
#define FMAX(x, z) (((x) > (z) || (x) != (x)) ? (x) : (z))
#define FMIN(x, z) (((x) < (z) || (x) != (x)) ? (x) : (z))

#define FLOAT_KERNELS(c, T, FMODF, PYMOD)                 \
  BIN_RUN2(add_##c, T, T, x + z)                          \
  BIN_RUN2(sub_##c, T, T, x - z)                          \
  BIN_RUN2(mul_##c, T, T, x * z)                          \
  BIN_RUN2(div_##c, T, T, x / z)                          \
  BIN_RUN2(mod_##c, T, T, PYMOD(x, z))                    \
  BIN_RUN2(fmod_##c, T, T, FMODF(x, z))                   \
  BIN_RUN2(max_##c, T, T, FMAX(x, z))                     \
  BIN_RUN2(min_##c, T, T, FMIN(x, z))
FLOAT_KERNELS(f32, float, fmodf, pymod_f32)
FLOAT_KERNELS(f64, double, fmod, pymod_f64)

static inline int is_neg(int64_t v) { return v < 0; }

/* Integers: sums and products in the unsigned type U (wrapping, no signed overflow); the quotient
 * of the most negative value by -1 wraps too. Divisors were checked for zero before. */
#define INT_KERNELS(c, T, U, S)                                                                      \
  static inline T idiv_##c(T x, T z) { return S && z == (T)-1 ? (T)(0 - (U)x) : (T)(x / z); }      \
  static inline T imod_##c(T x, T z) {                                                             \
    if (S && z == (T)-1) return 0;                                                                 \
    T r = (T)(x % z);                                                                              \
    if (S && r != 0 && is_neg((int64_t)r) != is_neg((int64_t)z)) r = (T)((U)r + (U)z);              \
    return r;                                                                                      \
  }                                                                                                \
  static inline T ifmod_##c(T x, T z) { return S && z == (T)-1 ? (T)0 : (T)(x % z); }             \
  BIN_RUN2(add_##c, T, T, (U)x + (U)z)                                                            \
  BIN_RUN2(sub_##c, T, T, (U)x - (U)z)                                                            \
  BIN_RUN2(mul_##c, T, T, (U)x * (U)z)                                                            \
  BIN_RUN2(div_##c, T, T, idiv_##c(x, z))                                                         \
  BIN_RUN2(mod_##c, T, T, imod_##c(x, z))                                                         \
  BIN_RUN2(fmod_##c, T, T, ifmod_##c(x, z))                                                       \
  BIN_RUN2(max_##c, T, T, x > z ? x : z)                                                          \
  BIN_RUN2(min_##c, T, T, x < z ? x : z)
BIN_INT_TYPES(INT_KERNELS)

#define KROW(c, DT) [DT] = {add_##c, sub_##c, mul_##c, div_##c, mod_##c, fmod_##c, max_##c, min_##c},
static const bin_run_fn arith_k[CQUANT_DT_COUNT][BIN_NKINDS] = {
    KROW(f32, CQUANT_DT_F32) KROW(f64, CQUANT_DT_F64) KROW(s8, CQUANT_DT_S8) KROW(u8, CQUANT_DT_U8) KROW(s16, CQUANT_DT_S16)
    KROW(u16, CQUANT_DT_U16) KROW(s32, CQUANT_DT_S32) KROW(u32, CQUANT_DT_U32) KROW(s64, CQUANT_DT_S64) KROW(u64, CQUANT_DT_U64)};

bin_run_fn cquant__bin_arith_kernel(int kind, cquant_dtype_t dt) {
  if (kind < 0 || kind >= BIN_NKINDS || (int)dt < 0 || dt >= CQUANT_DT_COUNT) return NULL;
  return arith_k[dt][kind];
}

/* ---- Add, Sub, Mul, Div, Mod ----------------------------------------------------------------- */

static int has_zero(const cquant_array_t *b) {
  for (int64_t i = 0; i < b->numel; i++)
    if (!bin_ld_i64(b->data, b->dtype, i)) return 1;
  return 0;
}

/* ops[0] kind ops[1] broadcast into out[0]; both of one type. */
static int arith_run(const Onnx__NodeProto *node, const cquant_array_t *const *ops, int kind, cquant_array_t *out) {
  const cquant_dtype_t dt = ops[0]->dtype;
  const int half = dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16;
  bin_run_fn fn = cquant__bin_arith_kernel(kind, half ? CQUANT_DT_F32 : dt);
  if (!fn) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s tensors are not supported", bin_tname(dt));
  int ndim, st;
  int64_t shape[CQUANT_MAX_DIMS];
  bin_plan_t p;
  if ((st = cquant__bin_plan(node, ops, 2, &ndim, shape, &p))) return st;
  if (p.numel && bin_is_int(dt) && (kind == BIN_DIV || kind == BIN_MOD || kind == BIN_FMOD) && has_zero(ops[1]))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "integer division by zero");
  if (!half) {
    /* the loop writes every element: float32 outputs are not zero-filled first */
    if ((st = (dt == CQUANT_DT_F32 ? cquant__array_alloc_uninit : cquant_array_alloc)(&out[0], dt, ndim, shape))) return st;
    cquant__bin_loop(&p, ops, out[0].data, cquant__dtype_size(dt), fn, NULL);
    return CQUANT_STATUS_OK;
  }
  cquant_array_t t[3];
  const cquant_array_t *x[2];
  memset(t, 0, sizeof t);
  if (!(st = cquant__bin_to_f32(ops[0], &t[0], &x[0])) && !(st = cquant__bin_to_f32(ops[1], &t[1], &x[1])) &&
      !(st = cquant_array_alloc(&t[2], CQUANT_DT_F32, ndim, shape))) {
    cquant__bin_loop(&p, x, t[2].data, sizeof(float), fn, NULL);
    st = cquant__bin_from_f32(&t[2], dt, &out[0]);
  }
  for (int k = 0; k < 3; k++) cquant_array_free(&t[k]);
  return st;
}

static int arith(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int kind) {
  if (n_in < 2 || !in[0] || !in[1]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "needs the inputs A and B");
  if (in[0]->dtype != in[1]->dtype)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A is %s but B is %s (the types must match)", bin_tname(in[0]->dtype),
                              bin_tname(in[1]->dtype));
  cquant_array_t b;
  int st = cquant__bin_legacy_b(ctx, node, in[0], in[1], &b);
  if (st) return st;
  const cquant_array_t *ops[2] = {in[0], &b};
  return arith_run(node, ops, kind, out);
}

int cquant__bin_op_add(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return arith(ctx, node, in, n_in, out, BIN_ADD);
}
int cquant__bin_op_sub(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return arith(ctx, node, in, n_in, out, BIN_SUB);
}
int cquant__bin_op_mul(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return arith(ctx, node, in, n_in, out, BIN_MUL);
}
int cquant__bin_op_div(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return arith(ctx, node, in, n_in, out, BIN_DIV);
}
static int op_mod(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const int64_t f = cquant__attr_int(node, "fmod", 0);
  if (f != 0 && f != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "fmod must be 0 or 1, got %lld", (long long)f);
  return arith(ctx, node, in, n_in, out, f ? BIN_FMOD : BIN_MOD);
}

/* ---- Pow ------------------------------------------------------------------------------------- */

/* x^e for integers, wrapping; a negative exponent gives the truncated real power (0 unless |x| is
 * 1). */
static int64_t ipow(int64_t x, uint64_t e, int neg) {
  if (neg) return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t r = 1, b = (uint64_t)x;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return (int64_t)r;
}

typedef struct {
  cquant_dtype_t ta, tb, ty;
} pow_t;

/* Any base and exponent type, element by element; a float base (float32 or float64 here) computes
 * in double and rounds once. */
static void pow_any(void *u, const char *const *p, const int64_t *s, char *y, int64_t n) {
  const pow_t *t = u;
  for (int64_t i = 0; i < n; i++) {
    const int64_t ia = s[0] * i, ib = s[1] * i;
    if (!bin_is_int(t->ta)) {
      const double v = pow(bin_ld_f64(p[0], t->ta, ia), bin_ld_f64(p[1], t->tb, ib));
      if (t->ty == CQUANT_DT_F64) ((double *)y)[i] = v;
      else ((float *)y)[i] = (float)v;
    } else if (bin_is_int(t->tb)) {
      const int64_t x = bin_ld_i64(p[0], t->ta, ia), e = bin_ld_i64(p[1], t->tb, ib);
      const int neg = t->tb != CQUANT_DT_U64 && e < 0;
      bin_st_i64(y, t->ty, i, ipow(x, neg ? (uint64_t)0 - (uint64_t)e : (uint64_t)e, neg));
    } else {
      const double v = pow((double)bin_ld_i64(p[0], t->ta, ia), bin_ld_f64(p[1], t->tb, ib));
      bin_st_i64(y, t->ty, i, isnan(v) ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v);
    }
  }
}

BIN_RUN2(pow_f32, float, float, powf(x, z))

static void square_f32(void *u, const char *const *p, const int64_t *s, char *yv, int64_t n) {
  const float *a = (const float *)p[0];
  float *y = (float *)yv;
  if (s[0])
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * a[i];
  else
    for (int64_t i = 0; i < n; i++) y[i] = a[0] * a[0];
}

static int op_pow(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (n_in < 2 || !in[0] || !in[1]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "needs the inputs X and Y");
  const cquant_dtype_t ta = in[0]->dtype, tb = in[1]->dtype;
  const int fa = ta == CQUANT_DT_F32 || ta == CQUANT_DT_F64 || ta == CQUANT_DT_F16 || ta == CQUANT_DT_BF16;
  const int fb = tb == CQUANT_DT_F32 || tb == CQUANT_DT_F64 || tb == CQUANT_DT_F16 || tb == CQUANT_DT_BF16;
  if ((!fa && !bin_is_int(ta)) || (!fb && !bin_is_int(tb)))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "Pow of %s by %s is not supported", bin_tname(ta), bin_tname(tb));
  if (cquant__opset(ctx) < 12 && ta != tb)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X is %s but Y is %s (one type before opset 12)", bin_tname(ta), bin_tname(tb));
  cquant_array_t b, t[2];
  int st = cquant__bin_legacy_b(ctx, node, in[0], in[1], &b);
  if (st) return st;
  memset(t, 0, sizeof t);
  const cquant_array_t *ops[2] = {in[0], &b};
  if ((st = cquant__bin_to_f32(in[0], &t[0], &ops[0]))) return st; /* float16 and bfloat16 bases in float32 */
  const cquant_dtype_t ty = ops[0]->dtype;
  int ndim;
  int64_t shape[CQUANT_MAX_DIMS];
  bin_plan_t p;
  cquant_array_t *y = ty == ta ? &out[0] : &t[1];
  if (!(st = cquant__bin_plan(node, ops, 2, &ndim, shape, &p)) && !(st = cquant_array_alloc(y, ty, ndim, shape))) {
    pow_t u = {ty, tb, ty};
    const double e = b.numel == 1 ? bin_ld_f64(b.data, tb, 0) : 0;
    if (ty == CQUANT_DT_F32 && b.numel == 1 && e == 2.0) cquant__bin_loop(&p, ops, y->data, sizeof(float), square_f32, NULL);
    else if (ty == CQUANT_DT_F32 && tb == CQUANT_DT_F32) cquant__bin_loop(&p, ops, y->data, sizeof(float), pow_f32, NULL);
    else cquant__bin_loop(&p, ops, y->data, cquant__dtype_size(ty), pow_any, &u);
    if (y != &out[0]) st = cquant__bin_from_f32(y, ta, &out[0]);
  }
  cquant_array_free(&t[0]);
  cquant_array_free(&t[1]);
  return st;
}

/* ---- the table ------------------------------------------------------------------------------- */

const cquant__op_t cquant__ops_binary[] = {
    {"Add", cquant__bin_op_add, 2, 2, 1, 1, 0},
    {"Sub", cquant__bin_op_sub, 2, 2, 1, 1, 0},
    {"Mul", cquant__bin_op_mul, 2, 2, 1, 1, 0},
    {"Div", cquant__bin_op_div, 2, 2, 1, 1, 0},
    {"Mod", op_mod, 2, 2, 1, 1, 0},
    {"Pow", op_pow, 2, 2, 1, 1, 0},
    {"Max", cquant__bin_op_max, 1, 4096, 1, 1, 0},
    {"Min", cquant__bin_op_min, 1, 4096, 1, 1, 0},
    {"Sum", cquant__bin_op_sum, 1, 4096, 1, 1, 0},
    {"Mean", cquant__bin_op_mean, 1, 4096, 1, 1, 0},
    {"Equal", cquant__bin_op_compare, 2, 2, 1, 1, 0},
    {"Less", cquant__bin_op_compare, 2, 2, 1, 1, 0},
    {"Greater", cquant__bin_op_compare, 2, 2, 1, 1, 0},
    {"LessOrEqual", cquant__bin_op_compare, 2, 2, 1, 1, 0},
    {"GreaterOrEqual", cquant__bin_op_compare, 2, 2, 1, 1, 0},
    {"And", cquant__bin_op_logic, 2, 2, 1, 1, 0},
    {"Or", cquant__bin_op_logic, 2, 2, 1, 1, 0},
    {"Xor", cquant__bin_op_logic, 2, 2, 1, 1, 0},
    {"BitwiseAnd", cquant__bin_op_bitwise, 2, 2, 1, 1, 0},
    {"BitwiseOr", cquant__bin_op_bitwise, 2, 2, 1, 1, 0},
    {"BitwiseXor", cquant__bin_op_bitwise, 2, 2, 1, 1, 0},
    {"BitShift", cquant__bin_op_bitshift, 2, 2, 1, 1, 0},
    {"Where", cquant__bin_op_where, 3, 3, 1, 1, 0},
    {"Cast", cquant__bin_op_cast, 1, 1, 1, 1, 0},
    {"CastLike", cquant__bin_op_cast_like, 2, 2, 1, 1, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
