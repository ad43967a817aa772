/* Float32 neural-network operators of the ONNX executor: Conv (im2col + OpenBLAS sgemm), Gemm,
 * MatMul, activations, pooling, BatchNormalization (inference), Flatten, Reshape, Squeeze,
 * Unsqueeze, Transpose, Concat, Softmax, Shape. Checked against ONNX Runtime (tests/ort_compare.py). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "exec/exec_internal.h"

static int need_f32(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is missing", what);
  if (a->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s is %s; float32 only", what, cquant_dtype_info(a->dtype)->name);
  return CQUANT_STATUS_OK;
}

int cquant__op_conv(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = need_f32(node, in[0], "X")) || (st = need_f32(node, in[1], "W"))) return st;
  cquant__conv2d_t p;
  if ((st = cquant__conv_params(node, in[0], in[1], &p))) return st;
  const cquant_array_t *b = n_in > 2 ? in[2] : NULL;
  if (b && (b->dtype != CQUANT_DT_F32 || b->numel != p.m)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "B must be float32 with %lld entries", (long long)p.m);
  const int64_t cg = p.c / p.group, mg = p.m / p.group, K = cg * p.kh * p.kw, P = p.oh * p.ow;
  int64_t shape[4] = {p.n, p.m, p.oh, p.ow};
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, 4, shape))) return st;
  const float *x = in[0]->data, *w = in[1]->data;
  float *y = out[0].data;
  /* several images: one per thread, each with a single-threaded sgemm (OpenBLAS's own threads
   * and OpenMP's would otherwise take turns on the same cores); one image: OpenBLAS's threads */
  const int threads = cquant_get_num_threads();
  const int per_image = p.n > 1 && threads > 1;
  if (per_image) openblas_set_num_threads(1);
  int oom = 0;
  /* the im2col buffer covers at most PB output pixels at a time (8 MiB or so): memory stays
   * bounded for large images; each block is one sgemm writing its columns of the output */
  int64_t RB = ((int64_t)2 << 20) / ((K > 0 ? K : 1) * (p.ow > 0 ? p.ow : 1)); /* whole output rows per block */
  RB = RB < 1 ? 1 : RB > p.oh ? p.oh : RB;
  const int64_t PB = RB * p.ow;
#pragma omp parallel num_threads(per_image ? threads : 1)
  {
    float *col = malloc(sizeof(float) * (size_t)(K * PB) + 16);
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < p.n; n++) {
      if (!col) { oom = 1; continue; }
      for (int64_t g = 0; g < p.group; g++)
        for (int64_t oy0 = 0; oy0 < p.oh; oy0 += RB) {
          const int64_t rows = p.oh - oy0 < RB ? p.oh - oy0 : RB, p0 = oy0 * p.ow, pb = rows * p.ow;
          for (int64_t c = 0; c < cg; c++) /* im2col: rows k = (c, ky, kx), columns = the block's output pixels */
            for (int64_t ky = 0; ky < p.kh; ky++)
              for (int64_t kx = 0; kx < p.kw; kx++) {
                float *row = col + ((c * p.kh + ky) * p.kw + kx) * pb;
                const float *plane = x + (n * p.c + g * cg + c) * p.h * p.w;
                for (int64_t r = 0; r < rows; r++) {
                  const int64_t iy = (oy0 + r) * p.stride_h - p.pad_t + ky * p.dil_h;
                  float *dst = row + r * p.ow;
                  if (iy < 0 || iy >= p.h) { memset(dst, 0, sizeof(float) * (size_t)p.ow); continue; }
                  const float *src = plane + iy * p.w;
                  for (int64_t ox = 0; ox < p.ow; ox++) {
                    const int64_t ix = ox * p.stride_w - p.pad_l + kx * p.dil_w;
                    dst[ox] = (ix >= 0 && ix < p.w) ? src[ix] : 0.0f;
                  }
                }
              }
          float *yg = y + (n * p.m + g * mg) * P + p0;
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)pb, (int)K, 1.0f, w + g * mg * K, (int)K, col, (int)pb, 0.0f, yg,
                      (int)P);
          if (b)
            for (int64_t j = 0; j < mg; j++)
              for (int64_t i = 0; i < pb; i++) yg[j * P + i] += ((const float *)b->data)[g * mg + j];
        }
    }
    free(col);
  }
  if (per_image) openblas_set_num_threads(threads);
  if (oom) {
    cquant_array_free(&out[0]);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "Conv: out of memory");
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_gemm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = need_f32(node, in[0], "A")) || (st = need_f32(node, in[1], "B"))) return st;
  const cquant_array_t *a = in[0], *b = in[1], *c = n_in > 2 ? in[2] : NULL;
  if (a->ndim != 2 || b->ndim != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A and B must be 2-D");
  const int ta = (int)cquant__attr_int(node, "transA", 0), tb = (int)cquant__attr_int(node, "transB", 0);
  const Onnx__AttributeProto *aa = cquant__attr(node, "alpha"), *ab = cquant__attr(node, "beta");
  const float alpha = aa && aa->has_f ? aa->f : 1.0f, beta = ab && ab->has_f ? ab->f : 1.0f;
  const int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  const int64_t K2 = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
  if (K != K2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld", (long long)K, (long long)K2);
  int64_t shape[2] = {M, N};
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, 2, shape))) return st;
  float *y = out[0].data;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, a->data,
              (int)a->shape[1], b->data, (int)b->shape[1], 0.0f, y, (int)N);
  if (c) { /* C broadcasts to (M, N) unidirectionally */
    if ((st = need_f32(node, c, "C"))) { cquant_array_free(&out[0]); return st; }
    int64_t cm = c->ndim == 2 ? c->shape[0] : 1, cn = c->ndim >= 1 ? c->shape[c->ndim - 1] : 1;
    if (c->ndim > 2 || (cm != 1 && cm != M) || (cn != 1 && cn != N)) {
      cquant_array_free(&out[0]);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "C does not broadcast to (%lld, %lld)", (long long)M, (long long)N);
    }
    const float *cd = c->data;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) y[i * N + j] += beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_matmul(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = need_f32(node, in[0], "A")) || (st = need_f32(node, in[1], "B"))) return st;
  const cquant_array_t *a = in[0], *b = in[1];
  if (a->ndim < 2 || b->ndim < 2) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "1-D MatMul operands are not supported yet");
  const int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
  if (b->shape[b->ndim - 2] != K) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ");
  /* batch dimensions: B's must be all 1 (shared weights) or equal to A's */
  int64_t ba = a->numel / (M * K != 0 ? M * K : 1), bb = b->numel / (K * N != 0 ? K * N : 1);
  if (bb != 1 && bb != ba) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "batch broadcasting of B beyond sharing is not supported");
  int64_t shape[CQUANT_MAX_DIMS];
  const cquant_array_t *big = a->ndim >= b->ndim ? a : b;
  int nd = big->ndim;
  for (int d = 0; d < nd - 2; d++) shape[d] = big->shape[d];
  shape[nd - 2] = M;
  shape[nd - 1] = N;
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, nd, shape))) return st;
  for (int64_t t = 0; t < ba; t++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, (const float *)a->data + t * M * K, (int)K,
                (const float *)b->data + (bb == 1 ? 0 : t * K * N), (int)N, 0.0f, (float *)out[0].data + t * M * N, (int)N);
  return CQUANT_STATUS_OK;
}

int cquant__op_unary(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = need_f32(node, in[0], "X"))) return st;
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, in[0]->ndim, in[0]->shape))) return st;
  const float *x = in[0]->data;
  float *y = out[0].data;
  const char *op = node->op_type;
  const Onnx__AttributeProto *al = cquant__attr(node, "alpha");
  const float alpha = al && al->has_f ? al->f : 0.01f;
  for (int64_t i = 0; i < in[0]->numel; i++) {
    const float v = x[i];
    if (!strcmp(op, "LeakyRelu")) y[i] = v >= 0 ? v : alpha * v;
    else if (!strcmp(op, "Sigmoid")) y[i] = 1.0f / (1.0f + expf(-v));
    else if (!strcmp(op, "Tanh")) y[i] = tanhf(v);
    else if (!strcmp(op, "HardSwish")) { float r = v + 3.0f; r = r < 0 ? 0 : (r > 6 ? 6 : r); y[i] = v * r / 6.0f; }
    else y[i] = v;
  }
  return CQUANT_STATUS_OK;
}

/* MaxPool, AveragePool (kernel_shape, strides, pads, count_include_pad), GlobalAveragePool. */
int cquant__op_pool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  const int global = !strcmp(node->op_type, "GlobalAveragePool"), is_max = !strcmp(node->op_type, "MaxPool");
  const int int8 = in[0] && is_max && (in[0]->dtype == CQUANT_DT_U8 || in[0]->dtype == CQUANT_DT_S8); /* MaxPool-12 */
  if (!int8 && (st = need_f32(node, in[0], "X"))) return st;
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
  if ((st = cquant_array_alloc(&out[0], int8 ? x->dtype : CQUANT_DT_F32, 4, shape))) return st;
  if (int8) { /* max commutes with the monotone quantization: the integers are pooled as they are */
    int64_t oh2, ow2;
    if ((st = cquant_qpool2d(x->data, x->dtype == CQUANT_DT_S8, N, C, H, W, kh, kw, sh, sw, pt, pl, pb, pr, 0, out[0].data, &oh2, &ow2)))
      cquant_array_free(&out[0]);
    return st;
  }
  const float *xd = x->data;
  float *y = out[0].data;
  for (int64_t p = 0; p < N * C; p++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        float best = -INFINITY, sum = 0;
        int64_t cnt = 0;
        for (int64_t ky = 0; ky < kh; ky++) {
          const int64_t iy = oy * sh - pt + ky;
          if (iy < 0 || iy >= H) continue;
          for (int64_t kx = 0; kx < kw; kx++) {
            const int64_t ix = ox * sw - pl + kx;
            if (ix < 0 || ix >= W) continue;
            const float v = xd[(p * H + iy) * W + ix];
            best = v > best ? v : best;
            sum += v;
            cnt++;
          }
        }
        y[(p * oh + oy) * ow + ox] = is_max ? best : sum / (float)(include_pad ? kh * kw : cnt);
      }
  return CQUANT_STATUS_OK;
}

int cquant__op_batchnorm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  for (int i = 0; i < 5; i++)
    if ((st = need_f32(node, in[i], i ? "a parameter" : "X"))) return st;
  const cquant_array_t *x = in[0];
  const int64_t C = x->ndim > 1 ? x->shape[1] : 1;
  for (int i = 1; i < 5; i++)
    if (in[i]->numel != C) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "parameters must have %lld entries", (long long)C);
  const Onnx__AttributeProto *e = cquant__attr(node, "epsilon");
  const float eps = e && e->has_f ? e->f : 1e-5f;
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, x->ndim, x->shape))) return st;
  const float *s = in[1]->data, *b = in[2]->data, *mean = in[3]->data, *var = in[4]->data, *xd = x->data;
  float *y = out[0].data;
  const int64_t inner = x->numel / (x->shape[0] * C);
  for (int64_t n = 0; n < x->shape[0]; n++)
    for (int64_t c = 0; c < C; c++) {
      const float k = s[c] / sqrtf(var[c] + eps), off = b[c] - mean[c] * k;
      for (int64_t i = 0; i < inner; i++) y[(n * C + c) * inner + i] = xd[(n * C + c) * inner + i] * k + off;
    }
  return CQUANT_STATUS_OK;
}

/* Flatten, Reshape, Squeeze, Unsqueeze: the same bytes under another shape. */
int cquant__op_reshape_like(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  const char *op = node->op_type;
  int64_t shape[CQUANT_MAX_DIMS];
  int nd = 0;
  if (!strcmp(op, "Flatten")) {
    int64_t axis = cquant__attr_int(node, "axis", 1);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis > x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
    int64_t a = 1;
    for (int d = 0; d < axis; d++) a *= x->shape[d];
    shape[0] = a;
    shape[1] = a ? x->numel / a : 0;
    nd = 2;
  } else if (!strcmp(op, "Reshape")) {
    const cquant_array_t *s = n_in > 1 ? in[1] : NULL;
    if (!s || s->dtype != CQUANT_DT_S64 || s->ndim != 1 || s->numel > CQUANT_MAX_DIMS)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shape must be a 1-D int64 tensor");
    int64_t known = 1, infer = -1;
    nd = (int)s->numel;
    for (int d = 0; d < nd; d++) {
      int64_t v = ((const int64_t *)s->data)[d];
      if (v == 0) v = d < x->ndim ? x->shape[d] : 0;
      if (v == -1) {
        if (infer >= 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "more than one -1 in shape");
        infer = d;
        v = 1;
      } else if (v < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "negative dimension in shape");
      shape[d] = v;
      known *= v;
    }
    if (infer >= 0) shape[infer] = known ? x->numel / known : 0;
  } else { /* Squeeze / Unsqueeze: axes from the attribute (opset < 13) or the second input */
    int64_t axes[CQUANT_MAX_DIMS];
    int na = 0;
    const Onnx__AttributeProto *a = cquant__attr(node, "axes");
    if (a) for (size_t i = 0; i < a->n_ints && na < CQUANT_MAX_DIMS; i++) axes[na++] = a->ints[i];
    else if (n_in > 1 && in[1] && in[1]->dtype == CQUANT_DT_S64)
      for (int64_t i = 0; i < in[1]->numel && na < CQUANT_MAX_DIMS; i++) axes[na++] = ((const int64_t *)in[1]->data)[i];
    const int unsq = !strcmp(op, "Unsqueeze");
    const int rank = unsq ? x->ndim + na : x->ndim;
    if (rank > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "rank above %d", CQUANT_MAX_DIMS);
    int mark[CQUANT_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
      int64_t ax = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (ax < 0 || ax >= rank) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld out of range", (long long)axes[i]);
      mark[ax] = 1;
    }
    if (unsq) {
      for (int d = 0, s = 0; d < rank; d++) shape[nd++] = mark[d] ? 1 : x->shape[s++];
    } else {
      for (int d = 0; d < x->ndim; d++) {
        if ((na ? mark[d] : x->shape[d] == 1)) {
          if (x->shape[d] != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot squeeze a dimension of %lld", (long long)x->shape[d]);
          continue;
        }
        shape[nd++] = x->shape[d];
      }
    }
  }
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= shape[d];
  if (n != x->numel) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the new shape holds %lld elements, the input %lld", (long long)n, (long long)x->numel);
  int st = cquant_array_alloc(&out[0], x->dtype, nd, shape);
  if (!st && x->nbytes) memcpy(out[0].data, x->data, x->nbytes);
  return st;
}

int cquant__op_transpose(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int64_t perm[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], stride[CQUANT_MAX_DIMS];
  const Onnx__AttributeProto *a = cquant__attr(node, "perm");
  for (int d = 0; d < x->ndim; d++) perm[d] = a && (int)a->n_ints == x->ndim ? a->ints[d] : x->ndim - 1 - d;
  int64_t s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) { stride[d] = s; s *= x->shape[d]; }
  for (int d = 0; d < x->ndim; d++) {
    if (perm[d] < 0 || perm[d] >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad perm");
    shape[d] = x->shape[perm[d]];
  }
  int st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape);
  if (st) return st;
  const size_t es = cquant__dtype_size(x->dtype);
  if (es == 1 && x->ndim == 4 && perm[0] == 0 && ((perm[1] == 2 && perm[2] == 3 && perm[3] == 1) || (perm[1] == 3 && perm[2] == 1 && perm[3] == 2))) {
    /* NCHW <-> NHWC of bytes (the integer runtime's layout changes): plane transposes */
    const int to_nhwc = perm[1] == 2;
    const int64_t N = x->shape[0], C = to_nhwc ? x->shape[1] : x->shape[3], HW = to_nhwc ? x->shape[2] * x->shape[3] : x->shape[1] * x->shape[2];
    const uint8_t *src = x->data;
    uint8_t *dst = out[0].data;
#pragma omp parallel for schedule(static) if (x->numel > 65536)
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < HW; i++) {
          if (to_nhwc) dst[(n * HW + i) * C + c] = src[(n * C + c) * HW + i];
          else dst[(n * C + c) * HW + i] = src[(n * HW + i) * C + c];
        }
    return CQUANT_STATUS_OK;
  }
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t rem = i, src = 0;
    for (int d = x->ndim - 1; d >= 0; d--) {
      src += (rem % shape[d]) * stride[perm[d]];
      rem /= shape[d];
    }
    memcpy((char *)out[0].data + i * es, (const char *)x->data + src * es, es);
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_concat(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  int64_t axis = cquant__attr_int(node, "axis", 0);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
  int64_t shape[CQUANT_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[axis] = 0;
  for (int i = 0; i < n_in; i++) {
    if (!in[i] || in[i]->ndim != x->ndim || in[i]->dtype != x->dtype) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs differ in rank or type");
    for (int d = 0; d < x->ndim; d++)
      if (d != axis && in[i]->shape[d] != x->shape[d]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs differ off the axis");
    shape[axis] += in[i]->shape[axis];
  }
  int st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape);
  if (st) return st;
  int64_t outer = 1, inner = cquant__dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = (int)axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  char *dst = out[0].data;
  for (int64_t o = 0; o < outer; o++)
    for (int i = 0; i < n_in; i++) {
      const size_t chunk = (size_t)(in[i]->shape[axis] * inner);
      memcpy(dst, (const char *)in[i]->data + o * chunk, chunk);
      dst += chunk;
    }
  return CQUANT_STATUS_OK;
}

int cquant__op_softmax(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  if ((st = need_f32(node, in[0], "X"))) return st;
  const cquant_array_t *x = in[0];
  int64_t axis = cquant__attr_int(node, "axis", -1);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis >= x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis out of range");
  if ((st = cquant_array_alloc(&out[0], CQUANT_DT_F32, x->ndim, x->shape))) return st;
  int64_t outer = 1, len = x->shape[axis], inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = (int)axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  const float *xd = x->data;
  float *y = out[0].data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *xr = xd + o * len * inner + i;
      float *yr = y + o * len * inner + i, mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < len; k++) mx = xr[k * inner] > mx ? xr[k * inner] : mx;
      for (int64_t k = 0; k < len; k++) sum += (yr[k * inner] = expf(xr[k * inner] - mx));
      for (int64_t k = 0; k < len; k++) yr[k * inner] /= sum;
    }
  return CQUANT_STATUS_OK;
}

int cquant__op_shape(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int64_t n = in[0]->ndim;
  int st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 1, &n);
  if (!st) memcpy(out[0].data, in[0]->shape, sizeof(int64_t) * (size_t)n);
  return st;
}
