/* Convolutions of any rank: Conv (1-D, 3-D, ... and 2-D in float16/bfloat16/float64; 2-D float32
 * stays on the blocked im2col path of conv.c) and ConvTranspose (GEMM + col2im), with the window
 * geometry and the float conversions the nn family shares. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/convert.h"
#include "cquant/quantize.h"
#include "exec/ops/nn_internal.h"
#include "exec/ops/conv_fuse.h"
#include "exec/ops/conv_par.h"

#define NN_BIG ((int64_t)1 << 31) /* attribute values beyond this are refused (no overflow below) */

int cquant__nn_attr_n(const Onnx__NodeProto *node, const char *name, int64_t *v, int n) {
  const Onnx__AttributeProto *a = cquant__attr(node, name);
  if (!a) return CQUANT_STATUS_OK;
  if (a->n_ints != (size_t)n) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s needs %d values, got %zu", name, n, a->n_ints);
  for (int i = 0; i < n; i++) v[i] = a->ints[i];
  return CQUANT_STATUS_OK;
}

int cquant__nn_window(const Onnx__NodeProto *node, cquant__nn_win_t *g, int ceil_mode, int use_dil) {
  const int n = g->nsp;
  int st;
  int64_t pads[2 * CQUANT__NN_MAXSP];
  for (int d = 0; d < n; d++) g->stride[d] = g->dil[d] = 1, pads[d] = pads[d + n] = 0;
  if ((st = cquant__nn_attr_n(node, "strides", g->stride, n))) return st;
  if (use_dil && (st = cquant__nn_attr_n(node, "dilations", g->dil, n))) return st;
  const char *ap = cquant__attr_string(node, "auto_pad", "NOTSET");
  const int notset = !*ap || !strcmp(ap, "NOTSET"), valid = !strcmp(ap, "VALID"), upper = !strcmp(ap, "SAME_UPPER");
  if (!notset && !valid && !upper && strcmp(ap, "SAME_LOWER")) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "auto_pad '%s' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER", ap);
  if (notset && (st = cquant__nn_attr_n(node, "pads", pads, 2 * n))) return st;
  for (int d = 0; d < n; d++) {
    const int64_t s = g->stride[d], k = g->k[d], dl = g->dil[d], in = g->in[d];
    if (s < 1 || s > NN_BIG || dl < 1 || dl > NN_BIG || k < 1 || k > NN_BIG)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d: kernel %lld, stride %lld and dilation %lld must be in [1, 2^31]", d, (long long)k,
                                (long long)s, (long long)dl);
    if (pads[d] < 0 || pads[d] > NN_BIG || pads[d + n] < 0 || pads[d + n] > NN_BIG)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "pads must be in [0, 2^31]");
    const int64_t ek = dl * (k - 1) + 1;
    if (!notset && !valid) { /* SAME: ceil(in / s) outputs, the odd padding at the end (UPPER) or begin (LOWER) */
      g->out[d] = (in + s - 1) / s;
      int64_t total = (g->out[d] - 1) * s + ek - in;
      total = total > 0 ? total : 0;
      g->pad0[d] = upper ? total / 2 : total - total / 2;
      g->pad1[d] = total - g->pad0[d];
    } else {
      g->pad0[d] = pads[d];
      g->pad1[d] = pads[d + n];
      const int64_t num = in + g->pad0[d] + g->pad1[d] - ek;
      if (num < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d: the window (%lld) is larger than the padded input (%lld)", d, (long long)ek,
                                             (long long)(in + g->pad0[d] + g->pad1[d]));
      g->out[d] = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
      if (ceil_mode && (g->out[d] - 1) * s >= in + g->pad0[d]) g->out[d]--; /* the last window must start inside */
    }
    if (g->out[d] < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d: empty output", d);
  }
  return CQUANT_STATUS_OK;
}

float *cquant__nn_to_f32(const cquant_array_t *a) {
  float *f = malloc(sizeof(float) * (size_t)(a->numel ? a->numel : 1));
  if (!f) return NULL;
  switch (a->dtype) {
    case CQUANT_DT_F32: if (a->numel) memcpy(f, a->data, a->nbytes); break;
    case CQUANT_DT_F16: case CQUANT_DT_BF16: case CQUANT_DT_F8E4M3: case CQUANT_DT_F8E5M2:
      cquant_convert_to_f32(a->data, (size_t)a->numel, a->dtype, f);
      break;
    default: for (int64_t i = 0; i < a->numel; i++) f[i] = (float)cquant__get_f64(a, i); break;
  }
  return f;
}

void cquant__nn_from_f32(const float *src, cquant_array_t *a) {
  switch (a->dtype) {
    case CQUANT_DT_F32: if (a->numel) memcpy(a->data, src, a->nbytes); break;
    case CQUANT_DT_F16: case CQUANT_DT_BF16: case CQUANT_DT_F8E4M3: case CQUANT_DT_F8E5M2:
      cquant_convert_from_f32(src, (size_t)a->numel, a->dtype, CQUANT_FP8_SATURATE, a->data);
      break;
    default: for (int64_t i = 0; i < a->numel; i++) cquant__set_f64(a, i, src[i]); break;
  }
}

int cquant__nn_need_float(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is missing", what);
  if (!cquant__is_float(a->dtype)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s is %s; a float type is expected", what, cquant_dtype_info(a->dtype)->name);
  return CQUANT_STATUS_OK;
}

/* ---- geometry of Conv and ConvTranspose -------------------------------------------------------- */

typedef struct {
  cquant__nn_win_t g;
  int64_t n, c, m, group, cg, mg, ksz, Pin, Pout; /* ksz: kernel elements; Pin, Pout: spatial sizes */
} conv_t;

static int conv_setup(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *w, const cquant_array_t *b, int transpose, conv_t *p) {
  int st;
  memset(p, 0, sizeof *p);
  if ((st = cquant__nn_need_float(node, x, "X")) || (st = cquant__nn_need_float(node, w, "W"))) return st;
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X, W and B must have one type");
  if (x->ndim < 3 || x->ndim > CQUANT_MAX_DIMS || w->ndim != x->ndim)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X (%d-D) and W (%d-D) must have one rank of at least 3", x->ndim, w->ndim);
  const int ns = p->g.nsp = x->ndim - 2;
  p->n = x->shape[0];
  p->c = x->shape[1];
  p->group = cquant__attr_int(node, "group", 1);
  if (p->group < 1 || p->group > NN_BIG) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "group %lld", (long long)p->group);
  if (!transpose) {
    p->m = w->shape[0];
    if (p->c % p->group || p->m % p->group || w->shape[1] * p->group != p->c)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "group %lld does not fit %lld input and %lld output channels (W has %lld per group)",
                                (long long)p->group, (long long)p->c, (long long)p->m, (long long)w->shape[1]);
  } else {
    if (w->shape[0] != p->c || p->c % p->group)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "W has %lld input channels for %lld in X, group %lld", (long long)w->shape[0], (long long)p->c,
                                (long long)p->group);
    p->m = w->shape[1] * p->group;
  }
  p->cg = p->c / p->group;
  p->mg = p->m / p->group;
  int64_t ks[CQUANT__NN_MAXSP];
  p->ksz = 1;
  p->Pin = 1;
  for (int d = 0; d < ns; d++) {
    ks[d] = p->g.k[d] = w->shape[2 + d];
    p->g.in[d] = x->shape[2 + d];
    p->ksz *= p->g.k[d];
    p->Pin *= p->g.in[d];
  }
  if ((st = cquant__nn_attr_n(node, "kernel_shape", ks, ns))) return st;
  for (int d = 0; d < ns; d++)
    if (ks[d] != p->g.k[d]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape does not match W");
  if (b && (b->ndim != 1 || b->numel != p->m)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "B must be 1-D with %lld entries", (long long)p->m);
  return CQUANT_STATUS_OK;
}

/* ---- Conv: im2col over blocks of output positions, one GEMM per block -------------------------- */

#define CONV_ND(NAME, T, GEMM)                                                                                                     \
  static int NAME(const conv_t *p, const T *x, const T *w, const T *b, T *y) {                                                     \
    const cquant__nn_win_t *g = &p->g;                                                                                             \
    const int ns = g->nsp;                                                                                                         \
    const int64_t K = p->cg * p->ksz, P = p->Pout;                                                                                 \
    int64_t PB = ((int64_t)1 << 21) / (K > 0 ? K : 1);                                                                             \
    PB = PB < 1 ? 1 : PB > P ? P : PB;                                                                                             \
    /* several images: one per thread, each with a single-threaded GEMM; one image: single-threaded   \
     * too (OpenBLAS's threads at the join wait for a helper the scheduler may not run for a time     \
     * slice on a busy machine; conv.c splits 2-D float32 work over its own pool instead) */          \
    const int threads = cquant_get_num_threads(), per_image = p->n > 1 && threads > 1;                                             \
    int oom = 0;                                                                                                                   \
    cquant__par_blas_enter();                                                                                                      \
    _Pragma("omp parallel num_threads(per_image ? threads : 1)")                                                                   \
    {                                                                                                                              \
      T *col = malloc(sizeof(T) * (size_t)(K * PB) + 16);                                                                              \
      _Pragma("omp for schedule(dynamic, 1)")                                                                                          \
    for (int64_t n = 0; n < p->n; n++) {                                                                                           \
      if (!col) { oom = 1; continue; }                                                                                             \
      for (int64_t gr = 0; gr < p->group; gr++) {                                                                                  \
        const T *xg = x + (n * p->c + gr * p->cg) * p->Pin;                                                                        \
        T *yg = y + (n * p->m + gr * p->mg) * P;                                                                                   \
        for (int64_t q0 = 0; q0 < P; q0 += PB) {                                                                                   \
          const int64_t pb = P - q0 < PB ? P - q0 : PB;                                                                            \
          for (int64_t r = 0; r < K; r++) {                                                                                        \
            int64_t kidx[CQUANT__NN_MAXSP], oidx[CQUANT__NN_MAXSP], rest = r % p->ksz, q = q0;                                     \
            for (int d = ns - 1; d >= 0; d--) {                                                                                    \
              kidx[d] = rest % g->k[d], rest /= g->k[d];                                                                           \
              oidx[d] = q % g->out[d], q /= g->out[d];                                                                             \
            }                                                                                                                      \
            const T *plane = xg + (r / p->ksz) * p->Pin;                                                                           \
            T *dst = col + r * pb;                                                                                                 \
            const int64_t last = ns - 1, il = g->in[last], sl = g->stride[last], ol = g->out[last];                                \
            const int64_t base = kidx[last] * g->dil[last] - g->pad0[last];                                                        \
            for (int64_t j = 0; j < pb;) { /* a run along the last axis: the outer axes' offset once */                            \
              const int64_t len = ol - oidx[last] < pb - j ? ol - oidx[last] : pb - j;                                             \
              int64_t off = 0;                                                                                                     \
              int ok = 1;                                                                                                          \
              for (int d = 0; d < last; d++) {                                                                                     \
                const int64_t pos = oidx[d] * g->stride[d] + kidx[d] * g->dil[d] - g->pad0[d];                                     \
                ok &= pos >= 0 && pos < g->in[d];                                                                                  \
                off = off * g->in[d] + pos;                                                                                        \
              }                                                                                                                    \
              T *dr = dst + j;                                                                                                     \
              if (!ok) {                                                                                                           \
                for (int64_t t = 0; t < len; t++) dr[t] = (T)0;                                                                    \
              } else {                                                                                                             \
                const T *sr = plane + off * il;                                                                                    \
                for (int64_t t = 0; t < len; t++) {                                                                                \
                  const int64_t ix = (oidx[last] + t) * sl + base;                                                                 \
                  dr[t] = (uint64_t)ix < (uint64_t)il ? sr[ix] : (T)0;                                                             \
                }                                                                                                                  \
              }                                                                                                                    \
              j += len;                                                                                                            \
              oidx[last] = 0;                                                                                                      \
              for (int d = last - 1; d >= 0 && ++oidx[d] == g->out[d]; d--) oidx[d] = 0;                                           \
            }                                                                                                                      \
          }                                                                                                                        \
          if (K > 0 && p->mg > 0)                                                                                                  \
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->mg, (int)pb, (int)K, 1, w + gr * p->mg * K, (int)K, col, (int)pb, \
                 0, yg + q0, (int)P);                                                                                              \
        }                                                                                                                          \
        if (b)                                                                                                                     \
          for (int64_t j = 0; j < p->mg; j++)                                                                                      \
            for (int64_t i = 0; i < P; i++) yg[j * P + i] += b[gr * p->mg + j];                                                    \
      }                                                                                                                            \
    }                                                                                                                              \
      free(col);                                                                                                                   \
    }                                                                                                                              \
    return oom ? CQUANT_STATUS_OUT_OF_MEMORY : CQUANT_STATUS_OK;                                                                   \
  }

CONV_ND(conv_nd_f32, float, CQUANT__SGEMM_CBLAS)
CONV_ND(conv_nd_f64, double, cblas_dgemm)

/* ---- ConvTranspose: one GEMM W^T X per block of input positions, then col2im ------------------- */

#define CONVT_ND(NAME, T, GEMM)                                                                                                    \
  static int NAME(const conv_t *p, const T *x, const T *w, const T *b, T *y) {                                                     \
    const cquant__nn_win_t *g = &p->g;                                                                                             \
    const int ns = g->nsp;                                                                                                         \
    const int64_t R = p->mg * p->ksz, P = p->Pin;                                                                                  \
    int64_t PB = ((int64_t)1 << 21) / (R > 0 ? R : 1);                                                                             \
    PB = PB < 1 ? 1 : PB > P ? P : PB;                                                                                             \
    /* several images: one per thread, each with a single-threaded GEMM; one image: single-threaded   \
     * too (OpenBLAS's threads at the join wait for a helper the scheduler may not run for a time     \
     * slice on a busy machine; conv.c splits 2-D float32 work over its own pool instead) */          \
    const int threads = cquant_get_num_threads(), per_image = p->n > 1 && threads > 1;                                             \
    int oom = 0;                                                                                                                   \
    cquant__par_blas_enter();                                                                                                      \
    _Pragma("omp parallel num_threads(per_image ? threads : 1)")                                                                   \
    {                                                                                                                              \
      T *col = malloc(sizeof(T) * (size_t)(R * PB) + 16);                                                                              \
      _Pragma("omp for schedule(dynamic, 1)")                                                                                          \
    for (int64_t n = 0; n < p->n; n++) {                                                                                           \
      if (!col) { oom = 1; continue; }                                                                                             \
      for (int64_t gr = 0; gr < p->group; gr++) {                                                                                  \
        const T *xg = x + (n * p->c + gr * p->cg) * P;                                                                             \
        T *yg = y + (n * p->m + gr * p->mg) * p->Pout;                                                                             \
        for (int64_t q0 = 0; q0 < P && p->cg > 0 && R > 0; q0 += PB) {                                                             \
          const int64_t pb = P - q0 < PB ? P - q0 : PB;                                                                            \
          GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)R, (int)pb, (int)p->cg, 1, w + gr * p->cg * R, (int)R, xg + q0, (int)P, \
               0, col, (int)pb);                                                                                                   \
          for (int64_t r = 0; r < R; r++) {                                                                                        \
            int64_t kidx[CQUANT__NN_MAXSP], iidx[CQUANT__NN_MAXSP], rest = r % p->ksz, q = q0;                                     \
            for (int d = ns - 1; d >= 0; d--) {                                                                                    \
              kidx[d] = rest % g->k[d], rest /= g->k[d];                                                                           \
              iidx[d] = q % g->in[d], q /= g->in[d];                                                                               \
            }                                                                                                                      \
            T *plane = yg + (r / p->ksz) * p->Pout;                                                                                \
            const T *src = col + r * pb;                                                                                           \
            const int64_t last = ns - 1, il = g->in[last], sl = g->stride[last], ol = g->out[last];                                \
            const int64_t base = kidx[last] * g->dil[last] - g->pad0[last];                                                        \
            for (int64_t j = 0; j < pb;) { /* a run along the last axis: the outer axes' offset once */                            \
              const int64_t len = il - iidx[last] < pb - j ? il - iidx[last] : pb - j;                                             \
              int64_t off = 0;                                                                                                     \
              int ok = 1;                                                                                                          \
              for (int d = 0; d < last; d++) {                                                                                     \
                const int64_t pos = iidx[d] * g->stride[d] + kidx[d] * g->dil[d] - g->pad0[d];                                     \
                ok &= pos >= 0 && pos < g->out[d];                                                                                 \
                off = off * g->out[d] + pos;                                                                                       \
              }                                                                                                                    \
              if (ok) {                                                                                                            \
                T *yr = plane + off * ol;                                                                                          \
                const T *sr = src + j;                                                                                             \
                for (int64_t t = 0; t < len; t++) {                                                                                \
                  const int64_t ox = (iidx[last] + t) * sl + base;                                                                 \
                  if ((uint64_t)ox < (uint64_t)ol) yr[ox] += sr[t];                                                                \
                }                                                                                                                  \
              }                                                                                                                    \
              j += len;                                                                                                            \
              iidx[last] = 0;                                                                                                      \
              for (int d = last - 1; d >= 0 && ++iidx[d] == g->in[d]; d--) iidx[d] = 0;                                            \
            }                                                                                                                      \
          }                                                                                                                        \
        }                                                                                                                          \
        if (b)                                                                                                                     \
          for (int64_t j = 0; j < p->mg; j++)                                                                                      \
            for (int64_t i = 0; i < p->Pout; i++) yg[j * p->Pout + i] += b[gr * p->mg + j];                                        \
      }                                                                                                                            \
    }                                                                                                                              \
      free(col);                                                                                                                   \
    }                                                                                                                              \
    return oom ? CQUANT_STATUS_OUT_OF_MEMORY : CQUANT_STATUS_OK;                                                                   \
  }

CONVT_ND(convt_nd_f32, float, CQUANT__SGEMM_CBLAS)
CONVT_ND(convt_nd_f64, double, cblas_dgemm)

typedef int (*conv_f32_fn)(const conv_t *, const float *, const float *, const float *, float *);
typedef int (*conv_f64_fn)(const conv_t *, const double *, const double *, const double *, double *);

/* Runs f32 or f64 on the arrays' own buffers, or through float32 copies for float16/bfloat16. */
static int conv_run(const Onnx__NodeProto *node, const conv_t *p, const cquant_array_t *x, const cquant_array_t *w, const cquant_array_t *b,
                    cquant_array_t *y, conv_f32_fn f32, conv_f64_fn f64) {
  int st = CQUANT_STATUS_OK;
  if (p->mg * p->ksz >= INT_MAX || p->cg * p->ksz >= INT_MAX || p->Pin >= INT_MAX || p->Pout >= INT_MAX)
    st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the convolution is too large for one GEMM");
  else if (x->dtype == CQUANT_DT_F64)
    st = f64(p, x->data, w->data, b ? b->data : NULL, y->data);
  else if (x->dtype == CQUANT_DT_F32)
    st = f32(p, x->data, w->data, b ? b->data : NULL, y->data);
  else {
    float *xf = cquant__nn_to_f32(x), *wf = cquant__nn_to_f32(w), *bf = b ? cquant__nn_to_f32(b) : NULL;
    float *yf = calloc((size_t)(y->numel ? y->numel : 1), sizeof(float));
    st = !xf || !wf || (b && !bf) || !yf ? CQUANT_STATUS_OUT_OF_MEMORY : f32(p, xf, wf, bf, yf);
    if (!st) cquant__nn_from_f32(yf, y);
    free(xf), free(wf), free(bf), free(yf);
  }
  if (st == CQUANT_STATUS_OUT_OF_MEMORY) st = cquant__node_error(node, st, "out of memory");
  if (st) cquant_array_free(y);
  return st;
}

int cquant__op_nn_conv(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  return cquant__op_conv_epi(ctx, node, in, n_in, out, n_out, NULL);
}

int cquant__op_conv_epi(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out,
                        const cquant__conv_epi_t *e) {
  const cquant_array_t *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
  int st;
  conv_t p;
  if ((st = conv_setup(node, x, w, b, 0, &p)) || (st = cquant__nn_window(node, &p.g, 0, 1))) return st;
  /* 2-D float32 (attributes checked above): the blocked, threaded im2col path of conv.c */
  if (x->dtype == CQUANT_DT_F32 && x->ndim == 4 && x->numel > 0 && w->numel > 0 && p.cg * p.ksz < INT_MAX && p.g.out[0] * p.g.out[1] < INT_MAX)
    return cquant__op_conv2d_epi(ctx, node, in, n_in, out, n_out, e);
  int64_t shape[CQUANT_MAX_DIMS] = {p.n, p.m};
  p.Pout = 1;
  for (int d = 0; d < p.g.nsp; d++) shape[2 + d] = p.g.out[d], p.Pout *= p.g.out[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  st = conv_run(node, &p, x, w, b, &out[0], conv_nd_f32, conv_nd_f64);
  if (!st && e) { /* folded nodes (planned for float32 only): one pass over the output */
    if (out[0].dtype != CQUANT_DT_F32) {
      cquant_array_free(&out[0]);
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "a folded activation needs a float32 output");
    }
    cquant__conv_epi_tensor(e, out[0].data, out[0].numel);
  }
  return st;
}

int cquant__op_nn_conv_transpose(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                                 int n_out) {
  const cquant_array_t *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
  int st;
  conv_t p;
  if ((st = conv_setup(node, x, w, b, 1, &p))) return st;
  cquant__nn_win_t *g = &p.g;
  const int ns = g->nsp;
  int64_t pads[2 * CQUANT__NN_MAXSP], opad[CQUANT__NN_MAXSP], oshape[CQUANT_MAX_DIMS];
  for (int d = 0; d < ns; d++) g->stride[d] = g->dil[d] = 1, pads[d] = pads[d + ns] = opad[d] = 0;
  if ((st = cquant__nn_attr_n(node, "strides", g->stride, ns)) || (st = cquant__nn_attr_n(node, "dilations", g->dil, ns)) ||
      (st = cquant__nn_attr_n(node, "output_padding", opad, ns)))
    return st;
  const char *ap = cquant__attr_string(node, "auto_pad", "NOTSET");
  const int notset = !*ap || !strcmp(ap, "NOTSET"), valid = !strcmp(ap, "VALID"), upper = !strcmp(ap, "SAME_UPPER");
  if (!notset && !valid && !upper && strcmp(ap, "SAME_LOWER")) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "auto_pad '%s' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER", ap);
  if (notset && (st = cquant__nn_attr_n(node, "pads", pads, 2 * ns))) return st;
  const Onnx__AttributeProto *os = cquant__attr(node, "output_shape");
  if (os && os->n_ints != (size_t)ns && os->n_ints != (size_t)ns + 2)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "output_shape needs %d values, got %zu", ns, os->n_ints);
  for (int d = 0; d < ns; d++) {
    const int64_t s = g->stride[d], dl = g->dil[d], k = g->k[d], xin = g->in[d];
    if (s < 1 || s > NN_BIG || dl < 1 || dl > NN_BIG || k < 1 || k > NN_BIG || opad[d] < 0 || opad[d] > NN_BIG || pads[d] < 0 || pads[d] > NN_BIG ||
        pads[d + ns] < 0 || pads[d + ns] > NN_BIG)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d: bad kernel, stride, dilation, pads or output_padding", d);
    const int64_t full = s * (xin - 1) + opad[d] + dl * (k - 1) + 1; /* the output before padding is cut */
    if (os || (!notset && !valid)) {
      const int64_t want = os ? os->ints[os->n_ints - ns + d] : xin * s;
      if (want < 0 || want > NN_BIG) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "output_shape %lld", (long long)want);
      int64_t total = full - want;
      if (!os) total = total > 0 ? total : 0;
      g->pad0[d] = notset || valid || upper ? total / 2 : total - total / 2; /* the odd one at the end but for SAME_LOWER */
      g->pad1[d] = total - g->pad0[d];
      g->out[d] = want;
    } else {
      g->pad0[d] = pads[d];
      g->pad1[d] = pads[d + ns];
      g->out[d] = full - g->pad0[d] - g->pad1[d];
    }
    if (g->out[d] < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %d: negative output size", d);
  }
  oshape[0] = p.n;
  oshape[1] = p.m;
  p.Pout = 1;
  for (int d = 0; d < ns; d++) oshape[2 + d] = g->out[d], p.Pout *= g->out[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, oshape))) return st;
  return conv_run(node, &p, x, w, b, &out[0], convt_nd_f32, convt_nd_f64);
}
