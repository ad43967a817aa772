/* ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
 * ReduceLogSumExp, ReduceSumSquare over every numeric type, and ArgMax / ArgMin.
 * Axes come from the attribute (before ReduceSum-13 / the others' opset 18) or the optional
 * second input; no axes reduce everything unless noop_with_empty_axes makes the node an identity.
 * Floats accumulate in double and round once at the store; integers accumulate in int64 (wrapping
 * as the type does). Reducing an empty set gives the operation's identity: 0 for sums, 1 for
 * products, -inf / +inf (the type's minimum / maximum for integers) for max / min, -inf for the
 * log-sums, NaN for a float mean. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "exec/ops/reduce_internal.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ };

static const struct {
  const char *name;
  int op;
} reduce_ops[] = {{"ReduceSum", R_SUM},         {"ReduceMean", R_MEAN},   {"ReduceMax", R_MAX},       {"ReduceMin", R_MIN},
                  {"ReduceProd", R_PROD},       {"ReduceL1", R_L1},       {"ReduceL2", R_L2},         {"ReduceLogSum", R_LOGSUM},
                  {"ReduceLogSumExp", R_LOGSUMEXP}, {"ReduceSumSquare", R_SUMSQ}};

/* The iteration over x: the kept axes (in output order) and the reduced axes, each with its input
 * element stride; axes of size 1 dropped and neighbours merged where memory allows. */
typedef struct {
  int nk, nr;
  int64_t ks[CQUANT_MAX_DIMS], kst[CQUANT_MAX_DIMS], rs[CQUANT_MAX_DIMS], rst[CQUANT_MAX_DIMS];
  int64_t nout, nred;
} plan_t;

/* A walk over a set of axes: the current element offset, advanced in C order. */
typedef struct {
  int n;
  const int64_t *size, *stride;
  int64_t idx[CQUANT_MAX_DIMS], off;
} walk_t;

static void walk_init(walk_t *w, int n, const int64_t *size, const int64_t *stride) {
  w->n = n, w->size = size, w->stride = stride, w->off = 0;
  memset(w->idx, 0, sizeof w->idx);
}

static inline void walk_next(walk_t *w) {
  for (int d = w->n - 1; d >= 0; d--) {
    w->off += w->stride[d];
    if (++w->idx[d] < w->size[d]) return;
    w->off -= w->stride[d] * w->size[d];
    w->idx[d] = 0;
  }
}

static void make_plan(const cquant_array_t *x, const int *reduce, plan_t *p) {
  int64_t st[CQUANT_MAX_DIMS], s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) st[d] = s, s *= x->shape[d];
  p->nk = p->nr = 0, p->nout = p->nred = 1;
  for (int d = 0; d < x->ndim; d++) {
    const int64_t n = x->shape[d];
    int *cnt = reduce[d] ? &p->nr : &p->nk;
    int64_t *sz = reduce[d] ? p->rs : p->ks, *sd = reduce[d] ? p->rst : p->kst;
    *(reduce[d] ? &p->nred : &p->nout) *= n;
    if (n == 1) continue;
    if (*cnt && sd[*cnt - 1] == n * st[d]) /* the previous axis of this kind lies right outside */
      sz[*cnt - 1] *= n, sd[*cnt - 1] = st[d];
    else
      sz[*cnt] = n, sd[*cnt] = st[d], ++*cnt;
  }
}

/* The reduced axes of the node; *noop when it is an identity. */
static int reduce_axes(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, int rank, int *reduce, int *noop) {
  int64_t axes[64];
  int nax = 0, st;
  memset(reduce, 0, sizeof(int) * CQUANT_MAX_DIMS);
  *noop = 0;
  if (cquant__attr(node, "axes")) {
    if ((st = cquant__attr_ints(node, "axes", axes, 64, &nax))) return st;
  } else if (n_in > 1 && in[1]) {
    if ((st = cquant__read_ints(node, in[1], "axes", axes, 64, &nax))) return st;
  }
  if (!nax) {
    if (cquant__attr_int(node, "noop_with_empty_axes", 0)) *noop = 1;
    else for (int d = 0; d < rank; d++) reduce[d] = 1;
    return CQUANT_STATUS_OK;
  }
  for (int i = 0; i < nax; i++) {
    if (axes[i] < -rank || axes[i] >= rank) {
      if (!rank && (axes[i] == 0 || axes[i] == -1)) continue; /* a scalar: nothing to reduce */
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)axes[i], rank);
    }
    reduce[axes[i] < 0 ? axes[i] + rank : axes[i]] = 1;
  }
  return CQUANT_STATUS_OK;
}

static inline double load_f(const void *p, cquant_dtype_t dt, int64_t i) {
  switch (dt) {
    case CQUANT_DT_F32: return ((const float *)p)[i];
    case CQUANT_DT_F64: return ((const double *)p)[i];
    case CQUANT_DT_F16: return cquant_f16_to_f32(((const uint16_t *)p)[i]);
    case CQUANT_DT_BF16: return cquant_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return 0;
  }
}

/* One output of a float reduction: the elements at base + the walk's offsets. */
static double reduce_one_f(const cquant_array_t *x, int op, int64_t base, const plan_t *p) {
  const void *xd = x->data;
  const int fast = x->dtype == CQUANT_DT_F32 || x->dtype == CQUANT_DT_F64 || x->dtype == CQUANT_DT_F16 || x->dtype == CQUANT_DT_BF16;
  walk_t w;
  double acc = op == R_PROD ? 1 : op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : 0, mx = -INFINITY;
  if (op == R_LOGSUMEXP) { /* shifted by the largest element */
    walk_init(&w, p->nr, p->rs, p->rst);
    for (int64_t r = 0; r < p->nred; r++, walk_next(&w)) {
      const double v = fast ? load_f(xd, x->dtype, base + w.off) : cquant__get_f64(x, base + w.off);
      if (v > mx || isnan(v)) mx = v;
      if (isnan(v)) break;
    }
    if (isnan(mx) || isinf(mx)) return mx;
  }
  walk_init(&w, p->nr, p->rs, p->rst);
  for (int64_t r = 0; r < p->nred; r++, walk_next(&w)) {
    const double v = fast ? load_f(xd, x->dtype, base + w.off) : cquant__get_f64(x, base + w.off);
    switch (op) {
      case R_MAX: if (v > acc || isnan(v)) acc = isnan(acc) ? acc : v; break;
      case R_MIN: if (v < acc || isnan(v)) acc = isnan(acc) ? acc : v; break;
      case R_PROD: acc *= v; break;
      case R_L1: acc += fabs(v); break;
      case R_L2: case R_SUMSQ: acc += v * v; break;
      case R_LOGSUMEXP: acc += exp(v - mx); break;
      default: acc += v; break;
    }
  }
  switch (op) {
    case R_MEAN: return acc / (double)p->nred;
    case R_L2: return sqrt(acc);
    case R_LOGSUM: return log(acc);
    case R_LOGSUMEXP: return mx + log(acc);
    default: return acc;
  }
}

/* One output of an integer reduction, exact in int64 (unsigned arithmetic: wrapping, no UB). */
static void reduce_one_i(const cquant_array_t *x, int op, int64_t base, const plan_t *p, cquant_array_t *y, int64_t o) {
  const int uns = x->dtype == CQUANT_DT_U64;
  const cquant_dtype_info_t *info = cquant_dtype_info(x->dtype);
  walk_t w;
  walk_init(&w, p->nr, p->rs, p->rst);
  if (op == R_L2 || op == R_LOGSUM || op == R_LOGSUMEXP) { /* through double */
    double acc = 0, mx = -INFINITY;
    if (op == R_LOGSUMEXP)
      for (int64_t r = 0; r < p->nred; r++, walk_next(&w)) {
        const double v = cquant__get_f64(x, base + w.off);
        mx = v > mx ? v : mx;
      }
    walk_init(&w, p->nr, p->rs, p->rst);
    for (int64_t r = 0; r < p->nred; r++, walk_next(&w)) {
      const double v = cquant__get_f64(x, base + w.off);
      acc += op == R_L2 ? v * v : op == R_LOGSUM ? v : exp(v - mx);
    }
    cquant__set_f64(y, o, op == R_L2 ? sqrt(acc) : op == R_LOGSUM ? log(acc) : (isinf(mx) ? mx : mx + log(acc)));
    return;
  }
  uint64_t acc = op == R_PROD ? 1 : 0;
  int64_t best = 0;
  if (op == R_MAX) best = uns ? INT64_MIN : info->qmin; /* keys: uint64 with the top bit flipped */
  if (op == R_MIN) best = uns ? INT64_MAX : info->qmax;
  if (x->dtype == CQUANT_DT_BOOL && op == R_MAX) best = 0;
  if (x->dtype == CQUANT_DT_BOOL && op == R_MIN) best = 1;
  for (int64_t r = 0; r < p->nred; r++, walk_next(&w)) {
    const int64_t v = op == R_MAX || op == R_MIN ? cquant__rd_key_i64(x, base + w.off) : cquant__get_i64(x, base + w.off);
    switch (op) {
      case R_MAX: best = v > best ? v : best; break;
      case R_MIN: best = v < best ? v : best; break;
      case R_PROD: acc *= (uint64_t)v; break;
      case R_L1: acc += (uint64_t)(v < 0 ? -(uint64_t)v : (uint64_t)v); break;
      case R_SUMSQ: acc += (uint64_t)v * (uint64_t)v; break;
      default: acc += (uint64_t)v; break;
    }
  }
  if (op == R_MAX || op == R_MIN) {
    cquant__set_i64(y, o, uns ? (int64_t)((uint64_t)best ^ UINT64_C(0x8000000000000000)) : best);
    return;
  }
  if (op == R_MEAN) {
    if (!p->nred) acc = 0;
    else if (uns) acc /= (uint64_t)p->nred;
    else {
      const int64_t s = (int64_t)acc;
      acc = (uint64_t)(s == INT64_MIN && p->nred == 1 ? s : s / p->nred);
    }
  }
  cquant__set_i64(y, o, (int64_t)acc);
}

/* One contiguous float32 row reduced (double accumulators; NaN propagates through max / min). */
static float reduce_row_f32(const float *r, int64_t R, int op) {
  if (op == R_MAX || op == R_MIN) {
    float m = op == R_MAX ? -INFINITY : INFINITY;
    int nan = 0;
    if (op == R_MAX) for (int64_t k = 0; k < R; k++) m = r[k] > m ? r[k] : m, nan |= r[k] != r[k];
    else for (int64_t k = 0; k < R; k++) m = r[k] < m ? r[k] : m, nan |= r[k] != r[k];
    return nan ? NAN : m;
  }
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t k = 0;
  if (op == R_PROD) {
    a0 = 1;
    for (; k < R; k++) a0 *= r[k];
  } else if (op == R_SUMSQ || op == R_L2) {
    for (; k + 4 <= R; k += 4) a0 += (double)r[k] * r[k], a1 += (double)r[k + 1] * r[k + 1], a2 += (double)r[k + 2] * r[k + 2], a3 += (double)r[k + 3] * r[k + 3];
    for (; k < R; k++) a0 += (double)r[k] * r[k];
  } else if (op == R_L1) {
    for (; k < R; k++) a0 += fabsf(r[k]);
  } else {
    for (; k + 4 <= R; k += 4) a0 += r[k], a1 += r[k + 1], a2 += r[k + 2], a3 += r[k + 3];
    for (; k < R; k++) a0 += r[k];
  }
  const double s = (a0 + a1) + (a2 + a3);
  return (float)(op == R_MEAN ? s / (double)R : op == R_L2 ? sqrt(s) : op == R_LOGSUM ? log(s) : s);
}

/* float32 in the layout [outer (kept), R (reduced), inner (kept)]: rows accumulate in double. */
static int reduce_f32_block(const float *x, float *y, int op, int64_t outer, int64_t R, int64_t inner) {
  if (inner == 1) { /* memory-bound: one thread */
    for (int64_t o = 0; o < outer; o++) y[o] = reduce_row_f32(x + o * R, R, op);
    return CQUANT_STATUS_OK;
  }
  double *acc = malloc(sizeof(double) * (size_t)inner);
  if (!acc) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * R * inner;
    float *yo = y + o * inner;
    if (op == R_MAX || op == R_MIN) {
      for (int64_t i = 0; i < inner; i++) yo[i] = op == R_MAX ? -INFINITY : INFINITY;
      for (int64_t k = 0; k < R; k++) {
        const float *r = xo + k * inner;
        if (op == R_MAX) for (int64_t i = 0; i < inner; i++) yo[i] = r[i] > yo[i] || r[i] != r[i] ? (yo[i] != yo[i] ? yo[i] : r[i]) : yo[i];
        else for (int64_t i = 0; i < inner; i++) yo[i] = r[i] < yo[i] || r[i] != r[i] ? (yo[i] != yo[i] ? yo[i] : r[i]) : yo[i];
      }
      continue;
    }
    for (int64_t i = 0; i < inner; i++) acc[i] = op == R_PROD ? 1 : 0;
    for (int64_t k = 0; k < R; k++) {
      const float *r = xo + k * inner;
      switch (op) {
        case R_PROD: for (int64_t i = 0; i < inner; i++) acc[i] *= r[i]; break;
        case R_L1: for (int64_t i = 0; i < inner; i++) acc[i] += fabsf(r[i]); break;
        case R_SUMSQ: case R_L2: for (int64_t i = 0; i < inner; i++) acc[i] += (double)r[i] * r[i]; break;
        default: for (int64_t i = 0; i < inner; i++) acc[i] += r[i]; break;
      }
    }
    for (int64_t i = 0; i < inner; i++)
      yo[i] = (float)(op == R_MEAN ? acc[i] / (double)R : op == R_L2 ? sqrt(acc[i]) : op == R_LOGSUM ? log(acc[i]) : acc[i]);
  }
  free(acc);
  return CQUANT_STATUS_OK;
}

/* The [outer, R, inner] form of a plan, when it has one. */
static int block_form(const plan_t *p, int64_t *outer, int64_t *R, int64_t *inner) {
  if (p->nr > 1) return 0;
  const int64_t r = p->nr ? p->rs[0] : 1, rst = p->nr ? p->rst[0] : 1;
  if (p->nk == 0) { *outer = 1, *inner = 1, *R = r; return rst == 1 || !p->nr; }
  if (!p->nr) { /* nothing reduced but axes of size 1 */
    if (p->nk != 1 || p->kst[0] != 1) return 0;
    *outer = p->ks[0], *R = 1, *inner = 1;
    return 1;
  }
  if (p->nk == 1 && p->kst[0] == 1 && p->ks[0] == rst) { *outer = 1, *R = r, *inner = rst; return 1; }
  if (p->nk == 1 && rst == 1 && p->kst[0] == r) { *outer = p->ks[0], *R = r, *inner = 1; return 1; }
  if (p->nk == 2 && p->kst[1] == 1 && p->ks[1] == rst && p->kst[0] == r * rst) { *outer = p->ks[0], *R = r, *inner = rst; return 1; }
  return 0;
}

int cquant__op_reduce(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__rd_need(node, x, "data");
  if (st) return st;
  int op = -1;
  for (size_t i = 0; i < sizeof reduce_ops / sizeof reduce_ops[0]; i++)
    if (!strcmp(node->op_type, reduce_ops[i].name)) op = reduce_ops[i].op;
  if (op < 0) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "not a reduction");
  int reduce[CQUANT_MAX_DIMS], noop;
  if ((st = reduce_axes(node, in, n_in, x->ndim, reduce, &noop))) return st;
  if (noop) { /* an identity */
    if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
    if (x->nbytes) memcpy(out[0].data, x->data, x->nbytes);
    return CQUANT_STATUS_OK;
  }
  const int keep = cquant__attr_int(node, "keepdims", 1) != 0;
  int64_t oshape[CQUANT_MAX_DIMS];
  int on = 0;
  for (int d = 0; d < x->ndim; d++)
    if (!reduce[d]) oshape[on++] = x->shape[d];
    else if (keep) oshape[on++] = 1;
  if ((st = cquant_array_alloc(&out[0], x->dtype, on, oshape))) return st;
  if (!out[0].numel) return CQUANT_STATUS_OK;
  plan_t p;
  make_plan(x, reduce, &p);
  if (!x->numel) p.nr = 0, p.nred = 0; /* every output reduces an empty set */
  int64_t outer, R, inner;
  if (x->dtype == CQUANT_DT_F32 && x->numel && op != R_LOGSUMEXP && block_form(&p, &outer, &R, &inner)) {
    if ((st = reduce_f32_block(x->data, out[0].data, op, outer, R, inner))) cquant_array_free(&out[0]);
    return st;
  }
  const int is_f = cquant__is_float(x->dtype);
  walk_t w;
  walk_init(&w, p.nk, p.ks, p.kst);
  for (int64_t o = 0; o < p.nout; o++, walk_next(&w)) {
    if (!is_f) reduce_one_i(x, op, w.off, &p, &out[0], o);
    else if (x->dtype == CQUANT_DT_F32) ((float *)out[0].data)[o] = (float)reduce_one_f(x, op, w.off, &p);
    else cquant__set_f64(&out[0], o, reduce_one_f(x, op, w.off, &p));
  }
  return CQUANT_STATUS_OK;
}

/* ArgMax / ArgMin along one axis: int64 indices; ties go to the first index (the last with
 * select_last_index); NaN counts as the extreme, as in numpy. */
int cquant__op_argminmax(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__rd_need(node, x, "data"), axis;
  if (st) return st;
  if (!x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input must have rank >= 1");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), x->ndim, &axis))) return st;
  const int is_max = !strcmp(node->op_type, "ArgMax"), last = cquant__attr_int(node, "select_last_index", 0) != 0;
  const int keep = cquant__attr_int(node, "keepdims", 1) != 0;
  int64_t oshape[CQUANT_MAX_DIMS], outer = 1, inner = 1, len = x->shape[axis];
  int on = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (d < axis) outer *= x->shape[d];
    if (d > axis) inner *= x->shape[d];
    if (d != axis) oshape[on++] = x->shape[d];
    else if (keep) oshape[on++] = 1;
  }
  if (!len && outer && inner) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d is empty: no index to return", axis);
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_S64, on, oshape))) return st;
  int64_t *y = out[0].data;
  const int is_f = cquant__is_float(x->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const int64_t base = o * len * inner + i;
      int64_t bi = 0;
      if (x->dtype == CQUANT_DT_F32) {
        const float *r = (const float *)x->data + base;
        float b = r[0];
        for (int64_t k = 1; k < len && b == b; k++) {
          const float v = r[k * inner];
          if (v != v || (is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b))) b = v, bi = k;
        }
      } else if (is_f) {
        double b = cquant__get_f64(x, base);
        for (int64_t k = 1; k < len && b == b; k++) {
          const double v = cquant__get_f64(x, base + k * inner);
          if (v != v || (is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b))) b = v, bi = k;
        }
      } else {
        int64_t b = cquant__rd_key_i64(x, base);
        for (int64_t k = 1; k < len; k++) {
          const int64_t v = cquant__rd_key_i64(x, base + k * inner);
          if (is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b)) b = v, bi = k;
        }
      }
      y[o * inner + i] = bi;
    }
  return CQUANT_STATUS_OK;
}
