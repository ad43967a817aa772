/* Pooling of any rank: MaxPool (with the int64 indices output), AveragePool, LpPool, the global
 * forms, MaxUnpool. 2-D float32 and 8-bit pooling without ceil_mode, dilations or auto_pad stay on
 * pool.c's path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "exec/ops/conv_internal.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/nn_internal.h"

enum { POOL_MAX, POOL_AVG, POOL_LP };

typedef struct {
  cquant__nn_win_t g;
  int kind, include_pad, col_major;
  double p;
  int64_t planes, Pin, Pout, ksz;
} pool_t;

/* One template for float and double data: y gets the pooled values of planes [p0, p1), ind (may
 * be NULL) MaxPool's indices into the flattened input. */
#define POOL_ND(NAME, T)                                                                                                           \
  static void NAME(const pool_t *q, const T *x, T *y, int64_t *ind, int64_t p0, int64_t p1) {                                      \
    const cquant__nn_win_t *g = &q->g;                                                                                             \
    const int ns = g->nsp;                                                                                                         \
    for (int64_t pl = p0; pl < p1; pl++) {                                                                                         \
      const T *xp = x + pl * q->Pin;                                                                                               \
      int64_t oidx[CQUANT__NN_MAXSP] = {0};                                                                                        \
      for (int64_t o = 0; o < q->Pout; o++) {                                                                                      \
        /* the taps inside the input, per axis [lo, hi) of the kernel index (a window over a huge                                  \
         * padding visits only those); cnt_pad counts the taps inside input and end padding */                                     \
        int64_t kidx[CQUANT__NN_MAXSP], lo[CQUANT__NN_MAXSP], hi[CQUANT__NN_MAXSP], base[CQUANT__NN_MAXSP];                        \
        int64_t cnt = 1, cnt_pad = 1, best_at = -1;                                                                                \
        for (int d = 0; d < ns; d++) {                                                                                             \
          base[d] = oidx[d] * g->stride[d] - g->pad0[d];                                                                           \
          const int64_t dl = g->dil[d], k = g->k[d], e = g->in[d] - base[d], ep = e + g->pad1[d];                                  \
          lo[d] = base[d] >= 0 ? 0 : (-base[d] + dl - 1) / dl;                                                                     \
          hi[d] = e <= 0 ? 0 : (e + dl - 1) / dl;                                                                                  \
          hi[d] = hi[d] < k ? hi[d] : k;                                                                                           \
          hi[d] = hi[d] > lo[d] ? hi[d] : lo[d];                                                                                   \
          const int64_t hp = ep <= 0 ? 0 : (ep + dl - 1) / dl;                                                                     \
          cnt *= hi[d] - lo[d];                                                                                                    \
          cnt_pad *= hp < k ? hp : k;                                                                                              \
          kidx[d] = lo[d];                                                                                                         \
        }                                                                                                                          \
        T best = 0;                                                                                                                \
        double sum = 0;                                                                                                            \
        for (int64_t t = 0; t < cnt; t++) {                                                                                        \
          int64_t off = 0;                                                                                                         \
          for (int d = 0; d < ns; d++) off = off * g->in[d] + base[d] + kidx[d] * g->dil[d];                                       \
          for (int d = ns - 1; d >= 0 && ++kidx[d] == hi[d]; d--) kidx[d] = lo[d];                                                 \
          const T v = xp[off];                                                                                                     \
          if (q->kind == POOL_MAX) {                                                                                               \
            if (best_at < 0 || v > best) best = v, best_at = off;                                                                  \
          } else if (q->kind == POOL_AVG) {                                                                                        \
            sum += v;                                                                                                              \
          } else {                                                                                                                 \
            sum += q->p == 2 ? (double)v * v : q->p == 1 ? fabs((double)v) : pow(fabs((double)v), q->p);                           \
          }                                                                                                                        \
        }                                                                                                                          \
        T r;                                                                                                                       \
        if (q->kind == POOL_MAX) r = best;                                                                                         \
        else if (q->kind == POOL_AVG) {                                                                                            \
          const int64_t den = q->include_pad ? cnt_pad : cnt;                                                                      \
          r = den ? (T)(sum / (double)den) : (T)0;                                                                                 \
        } else                                                                                                                     \
          r = (T)(q->p == 2 ? sqrt(sum) : q->p == 1 ? sum : pow(sum, 1.0 / q->p));                                                 \
        y[pl * q->Pout + o] = r;                                                                                                   \
        if (ind) {                                                                                                                 \
          int64_t at = best_at < 0 ? 0 : best_at;                                                                                  \
          if (q->col_major && best_at >= 0) { /* the element counted column-major in its plane */                                 \
            int64_t c = 0, s = 1, rest = at;                                                                                       \
            int64_t pos[CQUANT__NN_MAXSP];                                                                                         \
            for (int d = ns - 1; d >= 0; d--) pos[d] = rest % g->in[d], rest /= g->in[d];                                          \
            for (int d = 0; d < ns; d++) c += pos[d] * s, s *= g->in[d];                                                           \
            at = c;                                                                                                                \
          }                                                                                                                        \
          ind[pl * q->Pout + o] = pl * q->Pin + at;                                                                                \
        }                                                                                                                          \
        for (int d = ns - 1; d >= 0 && ++oidx[d] == g->out[d]; d--) oidx[d] = 0;                                                   \
      }                                                                                                                            \
    }                                                                                                                              \
  }

POOL_ND(pool_nd_f32_planes, float)
POOL_ND(pool_nd_f64_planes, double)

/* The planes split over the pool of conv_par.c (per plane work as in one thread: the same bits). */
typedef struct {
  const pool_t *q;
  const void *x;
  void *y;
  int64_t *ind, per;
  int f64;
} pool_nd_job_t;

static void pool_nd_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const pool_nd_job_t *j = vj;
  const int64_t p0 = u * j->per, p1 = p0 + j->per < j->q->planes ? p0 + j->per : j->q->planes;
  if (j->f64) pool_nd_f64_planes(j->q, j->x, j->y, j->ind, p0, p1);
  else pool_nd_f32_planes(j->q, j->x, j->y, j->ind, p0, p1);
}

static void pool_nd(const pool_t *q, int f64, const void *x, void *y, int64_t *ind) {
  /* a tap here (index arithmetic, a scalar compare or add) costs about what 8 multiply-adds of a conv do */
  const int threads = q->planes > 1 ? cquant__conv_threads(8.0 * (double)q->planes * (double)q->Pout * (double)q->ksz) : 1;
  pool_nd_job_t j = {.q = q, .x = x, .y = y, .ind = ind, .f64 = f64};
  j.per = threads > 1 ? (q->planes + 4 * threads - 1) / (4 * threads) : q->planes; /* about four units a thread */
  j.per = j.per < 1 ? 1 : j.per;
  cquant__par_run(threads, (q->planes + j.per - 1) / j.per, pool_nd_unit, &j);
}
static void pool_nd_f32(const pool_t *q, const float *x, float *y, int64_t *ind) { pool_nd(q, 0, x, y, ind); }
static void pool_nd_f64(const pool_t *q, const double *x, double *y, int64_t *ind) { pool_nd(q, 1, x, y, ind); }

/* Runs the template on x's own buffer (float32, float64) or on a float32/float64 copy, and stores y. */
static int pool_run(const Onnx__NodeProto *node, const pool_t *q, const cquant_array_t *x, cquant_array_t *y, int64_t *ind) {
  if (x->dtype == CQUANT_DT_F32) { pool_nd_f32(q, x->data, y->data, ind); return CQUANT_STATUS_OK; }
  if (x->dtype == CQUANT_DT_F64) { pool_nd_f64(q, x->data, y->data, ind); return CQUANT_STATUS_OK; }
  if (cquant__is_float(x->dtype)) { /* float16, bfloat16: in float32, rounded once */
    float *xf = cquant__nn_to_f32(x), *yf = malloc(sizeof(float) * (size_t)(y->numel ? y->numel : 1));
    if (xf && yf) pool_nd_f32(q, xf, yf, ind), cquant__nn_from_f32(yf, y);
    free(xf);
    free(yf);
    return xf && yf ? CQUANT_STATUS_OK : cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  /* integers (MaxPool): exact in double up to 2^53, which covers the 8-bit types the spec allows */
  double *xd = malloc(sizeof(double) * (size_t)(x->numel ? x->numel : 1)), *yd = malloc(sizeof(double) * (size_t)(y->numel ? y->numel : 1));
  if (xd && yd) {
    for (int64_t i = 0; i < x->numel; i++) xd[i] = (double)cquant__get_i64(x, i);
    pool_nd_f64(q, xd, yd, ind);
    for (int64_t i = 0; i < y->numel; i++) cquant__set_i64(y, i, (int64_t)yd[i]);
  }
  free(xd);
  free(yd);
  return xd && yd ? CQUANT_STATUS_OK : cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
}

static double lp_p(const Onnx__NodeProto *node) {
  const Onnx__AttributeProto *a = cquant__attr(node, "p");
  if (!a) return 2;
  if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT || (a->has_f && !a->has_i)) return a->f; /* LpPool-1 */
  return (double)a->i;
}

static int dtype_ok(const Onnx__NodeProto *node, const cquant_array_t *x, int kind) {
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X is missing");
  if (cquant__is_float(x->dtype) || (kind == POOL_MAX && (x->dtype == CQUANT_DT_S8 || x->dtype == CQUANT_DT_U8))) return CQUANT_STATUS_OK;
  return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "X is %s; float types%s expected", cquant_dtype_info(x->dtype)->name,
                            kind == POOL_MAX ? ", int8 or uint8" : "");
}

int cquant__op_nn_pool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  pool_t q;
  memset(&q, 0, sizeof q);
  q.kind = !strcmp(node->op_type, "MaxPool") ? POOL_MAX : !strcmp(node->op_type, "AveragePool") ? POOL_AVG : POOL_LP;
  int st;
  if ((st = dtype_ok(node, x, q.kind))) return st;
  if (x->ndim < 3) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must have at least 3 dimensions, got %d", x->ndim);
  const int ns = q.g.nsp = x->ndim - 2;
  const Onnx__AttributeProto *ka = cquant__attr(node, "kernel_shape");
  if (!ka || ka->n_ints != (size_t)ns) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape needs %d values", ns);
  q.ksz = q.Pin = 1;
  for (int d = 0; d < ns; d++) q.g.k[d] = ka->ints[d], q.g.in[d] = x->shape[2 + d], q.Pin *= q.g.in[d];
  const int ceil_mode = (int)cquant__attr_int(node, "ceil_mode", 0);
  if ((st = cquant__nn_window(node, &q.g, ceil_mode, 1))) return st;
  for (int d = 0; d < ns; d++) q.ksz *= q.g.k[d];
  q.include_pad = (int)cquant__attr_int(node, "count_include_pad", 0);
  q.col_major = (int)cquant__attr_int(node, "storage_order", 0) == 1;
  q.p = lp_p(node);
  if (q.kind == POOL_LP && !(q.p > 0 && q.p < 1e6)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "p = %g", q.p);
  const int want_ind = q.kind == POOL_MAX && n_out > 1;
  /* 2-D float32 and 8-bit without ceil_mode, dilations or SAME padding: pool.c */
  int plain = ns == 2 && !want_ind && q.kind != POOL_LP && x->numel > 0 && !ceil_mode && q.g.dil[0] == 1 && q.g.dil[1] == 1;
  const char *ap = cquant__attr_string(node, "auto_pad", "NOTSET");
  plain &= !*ap || !strcmp(ap, "NOTSET");
  if (plain && (x->dtype == CQUANT_DT_F32 || (q.kind == POOL_MAX && (x->dtype == CQUANT_DT_S8 || x->dtype == CQUANT_DT_U8))))
    return cquant__op_pool(ctx, node, in, n_in, out, 1); /* same geometry: pool.c reads the attributes checked above */
  /* 2-D float32 with ceil_mode or auto_pad (no indices, no dilation, pads below the kernel, so every
   * window meets the input): pool.c's padded-plane loops on the geometry computed here */
  if (ns == 2 && x->dtype == CQUANT_DT_F32 && !want_ind && q.kind != POOL_LP && x->numel > 0 && q.g.dil[0] == 1 && q.g.dil[1] == 1 &&
      q.g.pad0[0] < q.g.k[0] && q.g.pad1[0] < q.g.k[0] && q.g.pad0[1] < q.g.k[1] && q.g.pad1[1] < q.g.k[1]) {
    int64_t shape2[4] = {x->shape[0], x->shape[1], q.g.out[0], q.g.out[1]};
    cquant__conv2d_t g = {.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3], .m = x->shape[1], .kh = q.g.k[0], .kw = q.g.k[1],
                          .group = x->shape[1], .stride_h = q.g.stride[0], .stride_w = q.g.stride[1], .dil_h = 1, .dil_w = 1, .pad_t = q.g.pad0[0],
                          .pad_l = q.g.pad0[1], .pad_b = q.g.pad1[0], .pad_r = q.g.pad1[1], .oh = q.g.out[0], .ow = q.g.out[1]};
    if ((st = cquant__array_alloc_uninit(&out[0], CQUANT_DT_F32, 4, shape2))) return st;
    if ((st = cquant__pool2d_f32(&g, q.kind == POOL_MAX, q.include_pad, x->data, out[0].data))) {
      cquant_array_free(&out[0]);
      return cquant__node_error(node, st, "out of memory");
    }
    return CQUANT_STATUS_OK;
  }
  int64_t shape[CQUANT_MAX_DIMS] = {x->shape[0], x->shape[1]};
  q.planes = x->shape[0] * x->shape[1];
  q.Pout = 1;
  for (int d = 0; d < ns; d++) shape[2 + d] = q.g.out[d], q.Pout *= q.g.out[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  if (want_ind && (st = cquant_array_alloc(&out[1], CQUANT_DT_S64, x->ndim, shape))) {
    cquant_array_free(&out[0]);
    return st;
  }
  if ((st = pool_run(node, &q, x, &out[0], want_ind ? out[1].data : NULL))) {
    cquant_array_free(&out[0]);
    if (want_ind) cquant_array_free(&out[1]);
  }
  return st;
}

/* Global max / average pooling of float32 planes [u per, (u + 1) per): 16 partial results (they
 * vectorize), then combined in a fixed order. */
typedef struct {
  const float *x;
  float *y;
  int64_t P, planes, per;
  int is_max;
} gp_job_t;

static void gp_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const gp_job_t *jb = vj;
  const int64_t P = jb->P, i0 = u * jb->per, i1 = i0 + jb->per < jb->planes ? i0 + jb->per : jb->planes;
  const int is_max = jb->is_max;
  for (int64_t i = i0; i < i1; i++) {
    const float *r = jb->x + i * P;
    float acc = is_max ? r[0] : 0, part[16];
    int64_t j = 0;
    if (P >= 32) {
      for (int l = 0; l < 16; l++) part[l] = r[l];
      for (j = 16; j + 16 <= P; j += 16)
        for (int l = 0; l < 16; l++) part[l] = is_max ? (r[j + l] > part[l] ? r[j + l] : part[l]) : part[l] + r[j + l];
      for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) part[l] = is_max ? (part[l + w] > part[l] ? part[l + w] : part[l]) : part[l] + part[l + w];
      acc = is_max ? (part[0] > acc ? part[0] : acc) : part[0];
    }
    if (is_max)
      for (; j < P; j++) acc = r[j] > acc ? r[j] : acc;
    else
      for (; j < P; j++) acc += r[j];
    jb->y[i] = is_max ? acc : P ? acc / (float)P : 0.0f;
  }
}

int cquant__op_nn_global_pool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                              int n_out) {
  const cquant_array_t *x = in[0];
  const int kind = !strcmp(node->op_type, "GlobalMaxPool") ? POOL_MAX : !strcmp(node->op_type, "GlobalAveragePool") ? POOL_AVG : POOL_LP;
  int st;
  if ((st = dtype_ok(node, x, kind))) return st;
  if (x->ndim < 3) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must have at least 3 dimensions, got %d", x->ndim);
  int64_t shape[CQUANT_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = d < 2 ? x->shape[d] : 1;
  const int64_t planes = x->shape[0] * x->shape[1], P = planes ? x->numel / planes : 0;
  if (kind == POOL_MAX && P == 0 && planes) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the spatial size is 0");
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  const double p = lp_p(node);
  if (x->dtype == CQUANT_DT_F32 && kind != POOL_LP) { /* the common case, in float as pool.c */
    gp_job_t j = {.x = x->data, .y = out[0].data, .P = P, .planes = planes, .is_max = kind == POOL_MAX};
    j.per = planes / 16 + 1;
    const int threads = x->numel >= (1 << 17) ? cquant_get_num_threads() : 1;
    cquant__par_run(threads, (planes + j.per - 1) / j.per, gp_unit, &j);
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < planes; i++) {
    double acc = kind == POOL_MAX ? cquant__get_f64(x, i * P) : 0;
    for (int64_t j = 0; j < P; j++) {
      const double v = cquant__get_f64(x, i * P + j);
      if (kind == POOL_MAX) acc = v > acc ? v : acc;
      else if (kind == POOL_AVG) acc += v;
      else acc += p == 2 ? v * v : pow(fabs(v), p);
    }
    if (kind == POOL_AVG) acc = P ? acc / (double)P : 0;
    if (kind == POOL_LP) acc = p == 2 ? sqrt(acc) : pow(acc, 1.0 / p);
    if (x->dtype == CQUANT_DT_F32 || x->dtype == CQUANT_DT_F64) cquant__set_f64(&out[0], i, acc);
    else cquant__set_f64(&out[0], i, (float)acc); /* float16/bfloat16: through float32 as computed there */
  }
  return CQUANT_STATUS_OK;
}

/* MaxUnpool: Y (zeros) of the inferred shape (in - 1) stride + kernel - pads, Y.flat[I[i]] = X[i];
 * a larger output_shape holds that Y in its leading corner (as ONNX's reference does). */
int cquant__op_nn_max_unpool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                             int n_out) {
  const cquant_array_t *x = in[0], *ind = in[1], *os = n_in > 2 ? in[2] : NULL;
  int st;
  if (!x || !ind) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X and I are required");
  if (x->ndim < 3) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must have at least 3 dimensions, got %d", x->ndim);
  if (ind->dtype != CQUANT_DT_S64 || ind->ndim != x->ndim || memcmp(ind->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "I must be int64 of X's shape");
  const int ns = x->ndim - 2;
  int64_t k[CQUANT__NN_MAXSP], s[CQUANT__NN_MAXSP], pads[2 * CQUANT__NN_MAXSP], shape[CQUANT_MAX_DIMS] = {x->shape[0], x->shape[1]};
  for (int d = 0; d < ns; d++) k[d] = 0, s[d] = 1, pads[d] = pads[d + ns] = 0;
  if (!cquant__attr(node, "kernel_shape")) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape is required");
  if ((st = cquant__nn_attr_n(node, "kernel_shape", k, ns)) || (st = cquant__nn_attr_n(node, "strides", s, ns)) ||
      (st = cquant__nn_attr_n(node, "pads", pads, 2 * ns)))
    return st;
  for (int d = 0; d < ns; d++) { /* the inferred shape: the indices count in it */
    if (k[d] < 1 || k[d] > ((int64_t)1 << 31) || s[d] < 1 || s[d] > ((int64_t)1 << 31) || pads[d] < 0 || pads[d + ns] < 0 || pads[d] > ((int64_t)1 << 31) ||
        pads[d + ns] > ((int64_t)1 << 31))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d: bad kernel, stride or pads", d);
    shape[2 + d] = (x->shape[2 + d] - 1) * s[d] + k[d] - pads[d] - pads[d + ns];
    if (shape[2 + d] < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d: negative output size", d);
  }
  int64_t oshape[CQUANT_MAX_DIMS];
  memcpy(oshape, shape, sizeof oshape);
  if (os) { /* a larger output: the inferred one sits in its leading corner, zeros around */
    int n;
    if ((st = cquant__read_ints(node, os, "output_shape", oshape, CQUANT_MAX_DIMS, &n))) return st;
    if (n != x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "output_shape needs %d values, got %d", x->ndim, n);
    for (int d = 0; d < n; d++)
      if (oshape[d] < shape[d])
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "output_shape[%d] = %lld is below the inferred %lld", d, (long long)oshape[d], (long long)shape[d]);
  }
  cquant_array_t y;
  if ((st = cquant_array_alloc(&y, x->dtype, x->ndim, shape))) return st;
  const int64_t *iv = ind->data;
  const size_t es = (size_t)cquant__dtype_size(x->dtype);
  for (int64_t i = 0; i < x->numel; i++) {
    if (iv[i] < 0 || iv[i] >= y.numel) {
      cquant_array_free(&y);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "index %lld is outside the output (%lld elements)", (long long)iv[i], (long long)y.numel);
    }
    memcpy((char *)y.data + (size_t)iv[i] * es, (const char *)x->data + (size_t)i * es, es);
  }
  if (!os || !memcmp(oshape, shape, sizeof(int64_t) * (size_t)x->ndim)) {
    out[0] = y;
    return CQUANT_STATUS_OK;
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, oshape))) {
    cquant_array_free(&y);
    return st;
  }
  const int nd = x->ndim;
  const int64_t row = shape[nd - 1], rows = row ? y.numel / row : 0;
  for (int64_t r = 0; r < rows; r++) { /* copy each innermost row to its place in the output */
    int64_t rest = r, off = 0, mul = oshape[nd - 1];
    for (int d = nd - 2; d >= 0; d--) off += (rest % shape[d]) * mul, rest /= shape[d], mul *= oshape[d];
    memcpy((char *)out[0].data + (size_t)off * es, (const char *)y.data + (size_t)(r * row) * es, (size_t)row * es);
  }
  cquant_array_free(&y);
  return CQUANT_STATUS_OK;
}
