/* Pooling: MaxPool, AveragePool, GlobalAveragePool (float32, and 8-bit max pooling). Checked
 * against ONNX Runtime (tests/ort_compare.py). */
#include <cblas.h>
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "core/internal.h"
#include "exec/exec_internal.h"
#include "exec/ops/conv_internal.h"

/* MaxPool, AveragePool (kernel_shape, strides, pads, count_include_pad), GlobalAveragePool. */
int cquant__op_pool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  const int global = !strcmp(node->op_type, "GlobalAveragePool"), is_max = !strcmp(node->op_type, "MaxPool");
  const int int8 = in[0] && is_max && (in[0]->dtype == CQUANT_DT_U8 || in[0]->dtype == CQUANT_DT_S8); /* MaxPool-12 */
  if (!int8 && (st = cquant__need_f32(node, in[0], "X"))) return st;
  const cquant_array_t *x = in[0];
  if (x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "2-D pooling (4-D input) only");
  const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t kh = H, kw = W, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  const Onnx__AttributeProto *a;
  if (!global) {
    if (!(a = cquant__attr(node, "kernel_shape")) || a->n_ints != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape needs 2 values");
    kh = a->ints[0]; kw = a->ints[1];
    if ((a = cquant__attr(node, "strides")) && a->n_ints == 2) { sh = a->ints[0]; sw = a->ints[1]; }
    if ((a = cquant__attr(node, "pads")) && a->n_ints == 4) { pt = a->ints[0]; pl = a->ints[1]; pb = a->ints[2]; pr = a->ints[3]; }
    if ((a = cquant__attr(node, "auto_pad")) && a->has_s && a->s.len && strncmp((const char *)a->s.data, "NOTSET", a->s.len))
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "auto_pad is not supported for pooling yet");
    if (cquant__attr_int(node, "ceil_mode", 0)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "ceil_mode=1 is not supported yet");
    if ((a = cquant__attr(node, "dilations")) && a->n_ints == 2 && (a->ints[0] != 1 || a->ints[1] != 1))
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "pooling dilations are not supported yet");
  }
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad kernel or strides");
  const int include_pad = (int)cquant__attr_int(node, "count_include_pad", 0);
  const int64_t oh = (H + pt + pb - kh) / sh + 1, ow = (W + pl + pr - kw) / sw + 1;
  if (oh < 1 || ow < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the window does not fit");
  int64_t shape[4] = {N, C, oh, ow};
  if ((st = (int8 ? cquant_array_alloc : cquant__array_alloc_uninit)(&out[0], int8 ? x->dtype : CQUANT_DT_F32, 4, shape))) return st;
  if (int8) { /* max commutes with the monotone quantization: the integers are pooled as they are */
    int64_t oh2, ow2;
    if ((st = cquant_qpool2d(x->data, x->dtype == CQUANT_DT_S8, N, C, H, W, kh, kw, sh, sw, pt, pl, pb, pr, 0, out[0].data, &oh2, &ow2)))
      cquant_array_free(&out[0]);
    return st;
  }
  cquant__conv2d_t g = {.n = N, .c = C, .h = H, .w = W, .m = C, .kh = kh, .kw = kw, .group = C, .stride_h = sh, .stride_w = sw, .dil_h = 1, .dil_w = 1,
                        .pad_t = pt, .pad_l = pl, .pad_b = pb, .pad_r = pr, .oh = oh, .ow = ow};
  if ((st = cquant__pool2d_f32(&g, is_max, include_pad, x->data, out[0].data))) {
    cquant_array_free(&out[0]);
    return cquant__error(st, "%s: out of memory", node->op_type);
  }
  return CQUANT_STATUS_OK;
}

/* ---- 2-D float32 pooling over padded planes ------------------------------------------------------ */

typedef struct {
  const cquant__conv2d_t *p;
  const float *x;
  float *y;
  int is_max, include_pad;
  int64_t hn, len;
  float *cy, *cx;   /* per output row / column: the divisor's factors (average) */
  float **scratch;  /* per worker: the padded plane and one row of sums */
  _Atomic int oom;
} pool_job_t;

/* The loops below are plain C whose every element is computed alone (a maximum, or a sum in
 * window order then one division), so they are also compiled for AVX2 and the loader picks that
 * copy where the CPU has it: wider vectors, the same bits (GCC's target_clones). Max pooling at
 * stride 2 also has an explicit AVX2 loop (max_s2_avx2), chosen at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define POOL_SIMD __attribute__((target_clones("avx2", "default")))
#define POOL_AVX2 1
/* acc[i] = r[2 i] > acc[i] ? r[2 i] : acc[i] for i from lo, 8 at a time while the 16 floats loaded
 * stay below r[lim] (vshufps and vpermpd keep the even ones; vmaxps with the tap first is the
 * scalar comparison, NaN never winning); returns the first i left to the scalar loop. */
__attribute__((target("avx2"))) static int64_t max_s2_avx2(float *acc, const float *r, int64_t lo, int64_t hi, int64_t lim) {
  int64_t i = lo;
  for (; i + 8 <= hi && 2 * i + 16 <= lim; i += 8) {
    const __m256 a = _mm256_loadu_ps(r + 2 * i), b = _mm256_loadu_ps(r + 2 * i + 8);
    const __m256 even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    _mm256_storeu_ps(acc + i, _mm256_max_ps(even, _mm256_loadu_ps(acc + i)));
  }
  return i;
}
#else
#define POOL_SIMD
#define POOL_AVX2 0
static int64_t max_s2_avx2(float *acc, const float *r, int64_t lo, int64_t hi, int64_t lim) { return lo; }
#endif

/* The plane padded with pad (-inf for max, 0 for average), its columns split by phase modulo the
 * stride as conv_dw.c does, so that each window tap is one contiguous run per output row. */
static void pool_fill(const cquant__conv2d_t *p, const float *plane, int64_t hn, int64_t len, float pad, float *buf) {
  const int64_t sw = p->stride_w;
  for (int64_t ry = 0; ry < hn; ry++) {
    const int64_t iy = ry - p->pad_t;
    float *dst = buf + ry * sw * len;
    if (iy < 0 || iy >= p->h)
      for (int64_t k = 0; k < sw * len; k++) dst[k] = pad;
    else
      cquant__pad_split_row(plane + iy * p->w, p->w, p->pad_l, sw, len, pad, dst);
  }
}

/* the run of outputs o where 0 <= o s + c < w, within [0, n) */
static void col_run(int64_t c, int64_t s, int64_t w, int64_t n, int64_t *lo, int64_t *hi) {
  int64_t l = c >= 0 ? 0 : (-c + s - 1) / s, h = w - 1 - c < 0 ? 0 : (w - 1 - c) / s + 1;
  l = l > n ? n : l;
  *lo = l;
  *hi = h > n ? n : h < l ? l : h;
}

/* Max pooling of plane q straight from the input: each output row starts at -inf and takes every
 * tap inside the input in window order (best = v > best ? v : best; a tap in the padding, -inf,
 * would never win), one pass over the row per tap. No padded copy of the plane. */
POOL_SIMD static void pool_max_plane(const cquant__conv2d_t *p, const float *xq, float *yq) {
  const int64_t ow = p->ow, sw = p->stride_w;
  const int avx2 = POOL_AVX2 && cquant_isa_active() >= CQUANT_ISA_AVX2;
  for (int64_t oy = 0; oy < p->oh; oy++) {
    float *acc = yq + oy * ow;
    for (int64_t i = 0; i < ow; i++) acc[i] = -INFINITY;
    for (int64_t ky = 0; ky < p->kh; ky++) {
      const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
      if (iy < 0 || iy >= p->h) continue;
      const float *row = xq + iy * p->w;
      for (int64_t kx = 0; kx < p->kw; kx++) {
        const int64_t c = kx * p->dil_w - p->pad_l;
        int64_t lo, hi;
        col_run(c, sw, p->w, ow, &lo, &hi);
        const float *r = row + c;
        if (sw == 1)
          for (int64_t i = lo; i < hi; i++) acc[i] = r[i] > acc[i] ? r[i] : acc[i];
        else if (sw == 2)
          for (int64_t i = avx2 ? max_s2_avx2(acc, r, lo, hi, p->w - c) : lo; i < hi; i++) acc[i] = r[2 * i] > acc[i] ? r[2 * i] : acc[i];
        else
          for (int64_t i = lo; i < hi; i++) acc[i] = r[i * sw] > acc[i] ? r[i * sw] : acc[i];
      }
    }
  }
}

/* Max pooling at stride 1 (no dilation) of plane q, separably over the plane padded with -inf
 * (hn rows of len): the maximum of each row's kw taps at every column, then of kh such row maxima,
 * both as passes over whole planes at the padded pitch (long vectors where the rows are short,
 * 14 x 14). Each pass keeps best = v > best ? v : best from -inf in tap order, so the result is the
 * first maximal tap in window order (row by row) and NaN never wins: pool_max_plane's bits. */
POOL_SIMD static void pool_max_plane_s1(const cquant__conv2d_t *p, const float *xq, int64_t hn, int64_t len, float *buf, float *yq) {
  float *hm = buf + hn * len, *yp = hm + hn * len;
  pool_fill(p, xq, hn, len, -INFINITY, buf);
  const int64_t nh = hn * len - (p->kw - 1), ny = p->oh * len;
  for (int64_t f = 0; f < nh; f++) hm[f] = -INFINITY;
  for (int64_t kx = 0; kx < p->kw; kx++) {
    const float *r = buf + kx;
    for (int64_t f = 0; f < nh; f++) hm[f] = r[f] > hm[f] ? r[f] : hm[f];
  }
  for (int64_t f = 0; f < ny; f++) yp[f] = -INFINITY;
  for (int64_t ky = 0; ky < p->kh; ky++) {
    const float *r = hm + ky * len; /* row oy + ky of the row maxima: f + ky len < (oh - 1 + kh) len = hn len */
    const int64_t n = ky == p->kh - 1 ? ny - (p->kw - 1) : ny; /* the last row's tail past nh is never an output column */
    for (int64_t f = 0; f < n; f++) yp[f] = r[f] > yp[f] ? r[f] : yp[f];
  }
  for (int64_t oy = 0; oy < p->oh; oy++) memcpy(yq + oy * p->ow, yp + oy * len, sizeof(float) * (size_t)p->ow);
}

POOL_SIMD static void pool_unit(void *vj, int64_t q, int worker) {
  pool_job_t *j = vj;
  const cquant__conv2d_t *p = j->p;
  const int64_t sw = p->stride_w, len = j->len, ow = p->ow;
  const int s1 = j->is_max && sw == 1 && p->stride_h == 1 && p->dil_h == 1 && p->dil_w == 1;
  if (j->is_max && !s1) {
    pool_max_plane(p, j->x + q * p->h * p->w, j->y + q * p->oh * p->ow);
    return;
  }
  /* average: the padded plane and a row of sums; max at stride 1: the padded plane, its row maxima
   * and the output rows at the padded pitch */
  if (!j->scratch[worker]) j->scratch[worker] = malloc(sizeof(float) * (size_t)(s1 ? (2 * j->hn + p->oh) * len : j->hn * sw * len + ow) + 64);
  float *buf = j->scratch[worker];
  if (!buf) { j->oom = 1; return; }
  if (s1) {
    pool_max_plane_s1(p, j->x + q * p->h * p->w, j->hn, len, buf, j->y + q * p->oh * ow);
    return;
  }
  float *acc = buf + j->hn * sw * len;
  pool_fill(p, j->x + q * p->h * p->w, j->hn, len, j->is_max ? -INFINITY : 0.0f, buf);
  float *yq = j->y + q * p->oh * ow;
  for (int64_t oy = 0; oy < p->oh; oy++) {
    /* max: best = v > best ? v : best from -inf (NaN never wins, as the scalar loop); average: the
     * sum in window order (padding adds +0), then one division; both vectorize (maxps, addps) */
    const float init = j->is_max ? -INFINITY : 0.0f;
    for (int64_t i = 0; i < ow; i++) acc[i] = init;
    for (int64_t ky = 0; ky < p->kh; ky++) {
      const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
      if (!j->is_max && (iy < 0 || iy >= p->h)) continue; /* a row of padding adds +0 (acc is never -0): a huge window stays cheap */
      for (int64_t kx = 0; kx < p->kw; kx++) {
        const int64_t ry = oy * p->stride_h + ky * p->dil_h, c0 = kx * p->dil_w;
        const float *r = buf + (ry * sw + c0 % sw) * len + c0 / sw;
        if (j->is_max)
          for (int64_t i = 0; i < ow; i++) acc[i] = r[i] > acc[i] ? r[i] : acc[i];
        else
          for (int64_t i = 0; i < ow; i++) acc[i] = acc[i] + r[i];
      }
    }
    float *yr = yq + oy * ow;
    if (j->is_max) memcpy(yr, acc, sizeof(float) * (size_t)ow);
    else
      for (int64_t i = 0; i < ow; i++) yr[i] = acc[i] / (j->cy[oy] * j->cx[i]);
  }
}

/* Window taps along one axis at output o: those inside the input (valid) and those inside the
 * padded input (with pads). */
static void pool_count(int64_t o, int64_t s, int64_t d, int64_t k, int64_t pad0, int64_t in, int64_t pad1, int64_t *valid, int64_t *padded) {
  *valid = *padded = 0;
  for (int64_t t = 0; t < k; t++) {
    const int64_t pos = o * s + t * d - pad0;
    *valid += pos >= 0 && pos < in;
    *padded += pos < in + pad1;
  }
}

int cquant__pool2d_f32(const cquant__conv2d_t *p, int is_max, int include_pad, const float *x, float *y) {
  const int64_t sw = p->stride_w, wn = (p->ow - 1) * sw + (p->kw - 1) * p->dil_w + 1;
  pool_job_t j = {.p = p, .x = x, .y = y, .is_max = is_max, .include_pad = include_pad, .len = (wn + sw - 1) / sw};
  j.hn = (p->oh - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
  float *cnt = is_max ? NULL : malloc(sizeof(float) * (size_t)(p->oh + p->ow));
  if (!is_max && !cnt) return CQUANT_STATUS_OUT_OF_MEMORY;
  if (cnt) { /* the divisor is separable: (taps counted along y) (taps counted along x) */
    j.cy = cnt, j.cx = cnt + p->oh;
    for (int64_t o = 0; o < p->oh + p->ow; o++) {
      const int y_axis = o < p->oh;
      int64_t v, pd;
      if (y_axis) pool_count(o, p->stride_h, p->dil_h, p->kh, p->pad_t, p->h, p->pad_b, &v, &pd);
      else pool_count(o - p->oh, sw, p->dil_w, p->kw, p->pad_l, p->w, p->pad_r, &v, &pd);
      cnt[o] = (float)(include_pad ? pd : v);
    }
  }
  const int64_t planes = p->n * p->c;
  /* a tap costs about what 2 multiply-adds of a conv do at stride 1 (0.2 ns), 4 at larger strides
   * (strided loads, 0.4 ns) */
  const double tap = is_max && (p->stride_w > 1 || p->stride_h > 1) ? 4.0 : 2.0;
  int threads = cquant__conv_threads((double)planes * (double)(p->oh * p->ow) * (double)(p->kh * p->kw) * tap);
  threads = threads < 64 ? threads : 64;
  float *scratch[64] = {0};
  j.scratch = scratch;
  cquant__par_run(threads, planes, pool_unit, &j);
  for (int i = 0; i < 64; i++) free(scratch[i]);
  free(cnt);
  return j.oom ? CQUANT_STATUS_OUT_OF_MEMORY : CQUANT_STATUS_OK;
}
