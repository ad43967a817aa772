/* Normalizations: LayerNormalization (opset 17, and ONNX Runtime's com.microsoft one),
 * SimplifiedLayerNormalization (RMSNorm), com.microsoft.Skip(Simplified)LayerNormalization,
 * InstanceNormalization, GroupNormalization (opset 18 per-group and opset 21 per-channel scale),
 * MeanVarianceNormalization, LpNormalization and LRN. float32 has typed loops (statistics summed
 * in double); float16/bfloat16 are computed in float64 and rounded once at the store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/vision_internal.h"

static int oom(const Onnx__NodeProto *node) { return cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }

static int want_out(const Onnx__NodeProto *node, int n_out, int k) {
  return k < n_out && (size_t)k < node->n_output && node->output[k] && *node->output[k];
}

/* Mean and variance of n values (variance of the deviations, two passes; rms: mean 0, mean of
 * squares). */
static void stats_f32(const float *x, int64_t n, int rms, double *mean, double *var) {
  double s = 0, q = 0;
  if (!rms)
    for (int64_t j = 0; j < n; j++) s += x[j];
  const double m = n ? s / (double)n : 0;
  for (int64_t j = 0; j < n; j++) {
    const double d = x[j] - m;
    q += d * d;
  }
  *mean = m, *var = n ? q / (double)n : 0;
}

static void stats_f64(const double *x, int64_t n, int rms, double *mean, double *var) {
  double s = 0, q = 0;
  if (!rms)
    for (int64_t j = 0; j < n; j++) s += x[j];
  const double m = n ? s / (double)n : 0;
  for (int64_t j = 0; j < n; j++) q += (x[j] - m) * (x[j] - m);
  *mean = m, *var = n ? q / (double)n : 0;
}

/* Parameters of the rows: row r's element j uses entry ((r % cyc) * N + j) / div of g and b
 * (b may be NULL: 0; g may be NULL: 1). ort_order (LayerNormalization: cyc = div = 1): its float32
 * rows in ONNX Runtime's order where that is sound (layer_norm_row_ort). */
typedef struct {
  const double *g, *b;
  int64_t cyc, div;
  int ort_order;
} row_params_t;

/* A float32 LayerNormalization row (SimplifiedLayerNormalization when rms) in the float order of
 * ONNX Runtime's CPU kernel: one pass summing x and x*x in float, var = E[x^2] - mean^2 in float,
 * den = sqrtf(var + eps), y = (x - mean) / den * g + b. Calibration then sees the tensors the
 * deployment runtime computes: a transformer's dynamically quantized file takes its per-batch
 * scales from LayerNorm outputs, and a one-ulp difference in a batch's largest value moves every
 * rounding of the batch (issue 11: the char LM's dynamic file agreed with ORT on 99.15% of its
 * predictions with the two-pass double statistics, 99.997% in this order). The one-pass variance
 * cancels when the mean is large against the spread: with E[x^2] > 64 var (|mean| > ~8 std) the
 * row returns 0 and the caller uses the two-pass double statistics and x - mean in double (ORT
 * loses up to log2(E[x^2]/var) bits there). */
static int layer_norm_row_ort(const float *x, float *y, int64_t N, const float *g, const float *b, float eps, int rms, double *mean_out,
                              double *inv_out) {
  float s = 0, q = 0;
  for (int64_t j = 0; j < N; j++) s += x[j], q += x[j] * x[j];
  const float mean = rms ? 0.0f : s / (float)N, msq = q / (float)N, var = msq - mean * mean;
  if (!(var > 0) || !(msq <= 64.0f * var) || !isfinite(msq)) return 0;
  const float den = sqrtf(var + eps);
  for (int64_t j = 0; j < N; j++) y[j] = (x[j] - mean) / den * g[j] + b[j];
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = 1.0f / den;
  return 1;
}

/* Normalizes `outer` rows of N values of x into y (same type, same layout); mean and inv
 * (1/sqrt(var + eps)) per row when not NULL. */
static int norm_rows(const Onnx__NodeProto *node, const cquant_array_t *x, cquant_array_t *y, int64_t outer, int64_t N,
                     const row_params_t *p, double eps, int rms, double *mean_out, double *inv_out) {
  const int64_t np = p->cyc * N / p->div;
  if (x->dtype == CQUANT_DT_F32) {
    float *gf = malloc(sizeof(float) * (size_t)(np ? np : 1)), *bf = malloc(sizeof(float) * (size_t)(np ? np : 1));
    if (!gf || !bf) return free(gf), free(bf), oom(node);
    for (int64_t i = 0; i < np; i++) gf[i] = p->g ? (float)p->g[i] : 1.0f, bf[i] = p->b ? (float)p->b[i] : 0.0f;
    const float *xd = x->data;
    float *yd = y->data;
    for (int64_t r = 0; r < outer; r++) {
      const float *xr = xd + r * N;
      float *yr = yd + r * N;
      const int64_t base = (r % p->cyc) * N;
      if (p->ort_order &&
          layer_norm_row_ort(xr, yr, N, gf + base, bf + base, (float)eps, rms, mean_out ? mean_out + r : NULL, inv_out ? inv_out + r : NULL))
        continue;
      double m, v;
      stats_f32(xr, N, rms, &m, &v);
      const double inv = 1.0 / sqrt(v + eps);
      if (mean_out) mean_out[r] = m;
      if (inv_out) inv_out[r] = inv;
      if (p->ort_order) { /* a row layer_norm_row_ort refused: its mean is large against its
                           * spread, so x - mean is taken in double too */
        for (int64_t j = 0; j < N; j++) yr[j] = (float)((xr[j] - m) * inv * gf[base + j] + bf[base + j]);
        continue;
      }
      const float mf = (float)m, invf = (float)inv;
      if (p->div == 1) {
        const float *g = gf + base, *b = bf + base;
        for (int64_t j = 0; j < N; j++) yr[j] = (xr[j] - mf) * invf * g[j] + b[j];
      } else {
        for (int64_t j = 0; j < N;) {
          const int64_t k = (base + j) / p->div;
          int64_t end = (k + 1) * p->div - base;
          if (end > N) end = N;
          const float g = gf[k] * invf, b = bf[k];
          for (; j < end; j++) yr[j] = (xr[j] - mf) * g + b;
        }
      }
    }
    free(gf), free(bf);
    return CQUANT_STATUS_OK;
  }
  double *row = malloc(sizeof(double) * (size_t)(N ? N : 1));
  if (!row) return oom(node);
  for (int64_t r = 0; r < outer; r++) {
    for (int64_t j = 0; j < N; j++) row[j] = cquant__get_f64(x, r * N + j);
    double m, v;
    stats_f64(row, N, rms, &m, &v);
    const double inv = 1.0 / sqrt(v + eps);
    if (mean_out) mean_out[r] = m;
    if (inv_out) inv_out[r] = inv;
    const int64_t base = (r % p->cyc) * N;
    for (int64_t j = 0; j < N; j++) {
      const int64_t k = (base + j) / p->div;
      cquant__set_f64(y, r * N + j, (row[j] - m) * inv * (p->g ? p->g[k] : 1.0) + (p->b ? p->b[k] : 0.0));
    }
  }
  free(row);
  return CQUANT_STATUS_OK;
}

/* A scale or bias input that broadcasts (numpy rules) to the normalized shape x.shape[axis:],
 * expanded to N doubles; NULL input: *out = NULL. */
static int expand_param(const Onnx__NodeProto *node, const cquant_array_t *p, const char *what, const cquant_array_t *x, int axis,
                        int64_t N, double **out) {
  *out = NULL;
  if (!p) return CQUANT_STATUS_OK;
  int st = cquant__vision_need_float(node, p, what);
  if (st) return st;
  const int nr = x->ndim - axis;
  if (p->ndim > x->ndim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has rank %d, above the input's %d", what, p->ndim, x->ndim);
  int64_t pstride[CQUANT_MAX_DIMS] = {0}, s = 1;
  for (int d = p->ndim - 1; d >= 0; d--) {
    const int xd = d + x->ndim - p->ndim; /* the input axis it aligns with */
    const int64_t v = p->shape[d];
    if (v != 1 && (xd < axis || v != x->shape[xd]))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s does not broadcast to the normalized shape (axis %d)", what, d);
    if (xd >= axis) pstride[xd - axis] = v == 1 ? 0 : s;
    s *= v;
  }
  double *e = malloc(sizeof(double) * (size_t)(N ? N : 1));
  if (!e) return oom(node);
  for (int64_t j = 0; j < N; j++) e[j] = cquant__get_f64(p, cquant__offset_of(j, nr, x->shape + axis, pstride));
  *out = e;
  return CQUANT_STATUS_OK;
}

/* Stores n per-row statistics into a new output of type dt and shape x's with axes >= axis set to 1. */
static int stat_out(const cquant_array_t *x, int axis, cquant_dtype_t dt, const double *v, int64_t n, cquant_array_t *o) {
  int64_t shape[CQUANT_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = d < axis ? x->shape[d] : 1;
  int st = cquant_array_alloc(o, dt, x->ndim, shape);
  if (st) return st;
  for (int64_t i = 0; i < n && i < o->numel; i++) cquant__set_f64(o, i, v[i]);
  return CQUANT_STATUS_OK;
}

static int stash_dtype(const Onnx__NodeProto *node, cquant_dtype_t *dt) {
  const int64_t s = cquant__attr_int(node, "stash_type", 1);
  const int d = s >= 0 && s < 64 ? cquant__dtype_from_onnx((int32_t)s) : -1;
  if (d != CQUANT_DT_F32 && d != CQUANT_DT_F64 && d != CQUANT_DT_F16 && d != CQUANT_DT_BF16)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "stash_type %lld is not a float type", (long long)s);
  *dt = (cquant_dtype_t)d;
  return CQUANT_STATUS_OK;
}

/* LayerNormalization (X, Scale, B?) -> Y, Mean?, InvStdDev?; SimplifiedLayerNormalization
 * (X, scale) -> Y, inv_std_var?. */
CQUANT__VISION_OP(cquant__op_layer_norm) {
  (void)ctx;
  const int rms = strstr(node->op_type, "Simplified") != NULL;
  const cquant_array_t *x = in[0], *sc = n_in > 1 ? in[1] : NULL, *b = !rms && n_in > 2 ? in[2] : NULL;
  int st = cquant__vision_need_float(node, x, "X");
  if (st) return st;
  if (!sc) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "Scale is missing");
  if (x->ndim < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must have rank 1 or more");
  int axis;
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", -1), x->ndim, &axis))) return st;
  const double eps = cquant__attr_float(node, "epsilon", 1e-5f);
  cquant_dtype_t udt = CQUANT_DT_F32;
  if ((st = stash_dtype(node, &udt))) return st;
  int64_t outer = 1, N = 1;
  for (int d = 0; d < x->ndim; d++) *(d < axis ? &outer : &N) *= x->shape[d];
  double *g = NULL, *bb = NULL, *mean = NULL, *inv = NULL;
  if ((st = expand_param(node, sc, "Scale", x, axis, N, &g)) || (st = expand_param(node, b, "B", x, axis, N, &bb))) goto done;
  mean = malloc(sizeof(double) * (size_t)(outer ? outer : 1));
  inv = malloc(sizeof(double) * (size_t)(outer ? outer : 1));
  if (!mean || !inv) { st = oom(node); goto done; }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) goto done;
  const row_params_t p = {g, bb, 1, 1, 1};
  if ((st = norm_rows(node, x, &out[0], outer, N, &p, eps, rms, mean, inv))) goto done;
  if (rms) {
    if (want_out(node, n_out, 1)) st = stat_out(x, axis, udt, inv, outer, &out[1]);
  } else {
    if (want_out(node, n_out, 1)) st = stat_out(x, axis, udt, mean, outer, &out[1]);
    if (!st && want_out(node, n_out, 2)) st = stat_out(x, axis, udt, inv, outer, &out[2]);
  }
done:
  if (st)
    for (int k = 0; k < n_out; k++) cquant_array_free(&out[k]);
  free(g), free(bb), free(mean), free(inv);
  return st;
}

/* A 1-D parameter of H entries as doubles (NULL input: *out = NULL). */
static int vec_param(const Onnx__NodeProto *node, const cquant_array_t *p, const char *what, int64_t H, double **out) {
  *out = NULL;
  if (!p) return CQUANT_STATUS_OK;
  int st = cquant__vision_need_float(node, p, what);
  if (st) return st;
  if (p->numel != H) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has %lld entries (%lld expected)", what, (long long)p->numel, (long long)H);
  double *e = malloc(sizeof(double) * (size_t)(H ? H : 1));
  if (!e) return oom(node);
  for (int64_t i = 0; i < H; i++) e[i] = cquant__get_f64(p, i);
  *out = e;
  return CQUANT_STATUS_OK;
}

/* com.microsoft.SkipLayerNormalization (input, skip, gamma, beta?, bias?) and
 * SkipSimplifiedLayerNormalization (input, skip, gamma, bias?) -> output, mean?, inv_std_var?,
 * input_skip_bias_sum?; the last axis is normalized. */
CQUANT__VISION_OP(cquant__op_skip_layer_norm) {
  (void)ctx;
  const int rms = strstr(node->op_type, "Simplified") != NULL;
  const cquant_array_t *x = in[0], *sk = n_in > 1 ? in[1] : NULL, *ga = n_in > 2 ? in[2] : NULL;
  const cquant_array_t *be = rms ? NULL : (n_in > 3 ? in[3] : NULL), *bi = rms ? (n_in > 3 ? in[3] : NULL) : (n_in > 4 ? in[4] : NULL);
  int st;
  if ((st = cquant__vision_need_float(node, x, "input")) || (st = cquant__vision_need_float(node, sk, "skip")) ||
      (st = cquant__vision_need_float(node, ga, "gamma")))
    return st;
  if (x->ndim < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input must have rank 1 or more");
  int nd;
  int64_t bshape[CQUANT_MAX_DIMS], bstr[2][CQUANT_MAX_DIMS];
  const cquant_array_t *pair[2] = {x, sk};
  if ((st = cquant__broadcast(node, pair, 2, &nd, bshape, bstr))) return st;
  if (nd != x->ndim || memcmp(bshape, x->shape, sizeof(int64_t) * (size_t)nd))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "skip does not broadcast to the input's shape");
  const int axis = x->ndim - 1;
  const int64_t H = x->shape[axis], outer = H ? x->numel / H : 0;
  const double eps = cquant__attr_float(node, "epsilon", 1e-12f);
  double *g = NULL, *b = NULL, *bias = NULL, *mean = NULL, *inv = NULL;
  cquant_array_t sum = {0}, *sp = want_out(node, n_out, 3) ? &out[3] : &sum;
  if ((st = vec_param(node, ga, "gamma", H, &g)) || (st = vec_param(node, be, "beta", H, &b)) || (st = vec_param(node, bi, "bias", H, &bias)))
    goto done;
  mean = malloc(sizeof(double) * (size_t)(outer ? outer : 1));
  inv = malloc(sizeof(double) * (size_t)(outer ? outer : 1));
  if (!mean || !inv) { st = oom(node); goto done; }
  if ((st = cquant_array_alloc(sp, x->dtype, x->ndim, x->shape)) || (st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) goto done;
  if (x->dtype == CQUANT_DT_F32 && sk->dtype == CQUANT_DT_F32 && sk->numel == x->numel && !bias) {
    const float *a = x->data, *c = sk->data;
    float *s = sp->data;
    for (int64_t i = 0; i < x->numel; i++) s[i] = a[i] + c[i];
  } else {
    for (int64_t i = 0; i < x->numel; i++)
      cquant__set_f64(sp, i, cquant__get_f64(x, i) + cquant__get_f64(sk, cquant__offset_of(i, nd, bshape, bstr[1])) + (bias ? bias[i % H] : 0.0));
  }
  const row_params_t p = {g, b, 1, 1, 0};
  if ((st = norm_rows(node, sp, &out[0], outer, H, &p, eps, rms, mean, inv))) goto done;
  if (want_out(node, n_out, 1)) st = stat_out(x, axis, CQUANT_DT_F32, mean, outer, &out[1]);
  if (!st && want_out(node, n_out, 2)) st = stat_out(x, axis, CQUANT_DT_F32, inv, outer, &out[2]);
done:
  if (st)
    for (int k = 0; k < n_out; k++) cquant_array_free(&out[k]);
  cquant_array_free(&sum);
  free(g), free(b), free(bias), free(mean), free(inv);
  return st;
}

/* InstanceNormalization (input N x C x D..., scale C, B C). */
CQUANT__VISION_OP(cquant__op_instance_norm) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0], *sc = n_in > 1 ? in[1] : NULL, *b = n_in > 2 ? in[2] : NULL;
  int st;
  if ((st = cquant__vision_need_float(node, x, "input")) || (st = cquant__vision_need_float(node, sc, "scale")) ||
      (st = cquant__vision_need_float(node, b, "B")))
    return st;
  if (x->ndim < 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input must have rank 2 or more (N x C x ...)");
  const int64_t C = x->shape[1], S = C && x->shape[0] ? x->numel / (x->shape[0] * C) : 0;
  double *g = NULL, *bb = NULL;
  if ((st = vec_param(node, sc, "scale", C, &g)) || (st = vec_param(node, b, "B", C, &bb))) goto done;
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) goto done;
  if (C && S) {
    const row_params_t p = {g, bb, C, S, 0};
    st = norm_rows(node, x, &out[0], x->shape[0] * C, S, &p, cquant__attr_float(node, "epsilon", 1e-5f), 0, NULL, NULL);
  }
done:
  if (st) cquant_array_free(&out[0]);
  free(g), free(bb);
  return st;
}

/* GroupNormalization (X N x C x D..., scale, bias): num_groups groups of C / num_groups channels;
 * scale and bias per group (opset 18) or per channel (opset 21). */
CQUANT__VISION_OP(cquant__op_group_norm) {
  (void)n_out;
  const cquant_array_t *x = in[0], *sc = n_in > 1 ? in[1] : NULL, *b = n_in > 2 ? in[2] : NULL;
  int st;
  if ((st = cquant__vision_need_float(node, x, "X")) || (st = cquant__vision_need_float(node, sc, "scale")) ||
      (st = cquant__vision_need_float(node, b, "bias")))
    return st;
  if (x->ndim < 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must have rank 2 or more (N x C x ...)");
  const int64_t G = cquant__attr_int(node, "num_groups", 0), C = x->shape[1];
  if (G < 1 || C % G) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "num_groups %lld does not divide %lld channels", (long long)G, (long long)C);
  if (cquant__attr_int(node, "stash_type", 1) != 1) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "stash_type other than float is not supported");
  const int64_t S = C && x->shape[0] ? x->numel / (x->shape[0] * C) : 0, N = C / G * S;
  /* one entry per channel from opset 21; opset 18 models carry one per group */
  (void)ctx;
  const int per_channel = sc->numel == C;
  const int64_t np = per_channel ? C : G;
  double *g = NULL, *bb = NULL;
  if ((st = vec_param(node, sc, "scale", np, &g)) || (st = vec_param(node, b, "bias", np, &bb))) goto done;
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) goto done;
  if (N) {
    const row_params_t p = {g, bb, G, per_channel ? S : N, 0};
    st = norm_rows(node, x, &out[0], x->shape[0] * G, N, &p, cquant__attr_float(node, "epsilon", 1e-5f), 0, NULL, NULL);
  }
done:
  if (st) cquant_array_free(&out[0]);
  free(g), free(bb);
  return st;
}

/* MeanVarianceNormalization: (X - mean) / (sqrt(var) + 1e-9) over axes (default 0, 2, 3). */
CQUANT__VISION_OP(cquant__op_mvn) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__vision_need_float(node, x, "X");
  if (st) return st;
  int64_t axes[CQUANT_MAX_DIMS] = {0, 2, 3};
  int na;
  if ((st = cquant__attr_ints(node, "axes", axes, CQUANT_MAX_DIMS, &na))) return st;
  if (na < 0) na = 3;
  int red[CQUANT_MAX_DIMS] = {0};
  for (int i = 0; i < na; i++) {
    int a;
    if ((st = cquant__norm_axis(node, axes[i], x->ndim, &a))) return st;
    red[a] = 1;
  }
  /* group of each element: its index over the kept axes */
  int64_t kstride[CQUANT_MAX_DIMS], ng = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    kstride[d] = red[d] ? 0 : ng;
    if (!red[d]) ng *= x->shape[d];
  }
  double *acc = calloc((size_t)(2 * ng + 1), sizeof(double)), *cnt;
  int64_t *grp = malloc(sizeof(int64_t) * (size_t)(x->numel + 1));
  if (!acc || !grp || (st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) {
    free(acc), free(grp);
    return st ? st : oom(node);
  }
  cnt = acc + ng;
  for (int64_t i = 0; i < x->numel; i++) grp[i] = cquant__offset_of(i, x->ndim, x->shape, kstride);
  const int64_t per = ng ? x->numel / ng : 0;
  for (int64_t i = 0; i < x->numel; i++) acc[grp[i]] += cquant__get_f64(x, i);
  for (int64_t k = 0; k < ng; k++) acc[k] /= (double)(per ? per : 1);
  for (int64_t i = 0; i < x->numel; i++) {
    const double d = cquant__get_f64(x, i) - acc[grp[i]];
    cnt[grp[i]] += d * d;
  }
  for (int64_t k = 0; k < ng; k++) cnt[k] = sqrt(cnt[k] / (double)(per ? per : 1)) + 1e-9;
  for (int64_t i = 0; i < x->numel; i++) cquant__set_f64(&out[0], i, (cquant__get_f64(x, i) - acc[grp[i]]) / cnt[grp[i]]);
  free(acc), free(grp);
  return CQUANT_STATUS_OK;
}

/* LpNormalization: x / ||x||_p along axis (p 1 or 2). */
CQUANT__VISION_OP(cquant__op_lp_norm) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__vision_need_float(node, x, "input");
  if (st) return st;
  const int64_t pn = cquant__attr_int(node, "p", 2);
  if (pn != 1 && pn != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "p must be 1 or 2, got %lld", (long long)pn);
  int axis = 0;
  if (x->ndim && (st = cquant__norm_axis(node, cquant__attr_int(node, "axis", -1), x->ndim, &axis))) return st;
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  int64_t L = x->ndim ? x->shape[axis] : 1, inner = 1;
  for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
  const int64_t outer = L && inner ? x->numel / (L * inner) : 0;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const int64_t base = o * L * inner + i;
      double s = 0;
      for (int64_t l = 0; l < L; l++) {
        const double v = cquant__get_f64(x, base + l * inner);
        s += pn == 1 ? fabs(v) : v * v;
      }
      const double nrm = pn == 1 ? s : sqrt(s);
      for (int64_t l = 0; l < L; l++) cquant__set_f64(&out[0], base + l * inner, cquant__get_f64(x, base + l * inner) / nrm);
    }
  return CQUANT_STATUS_OK;
}

/* LRN: y = x / (bias + alpha / size * sum of x^2 over the channels c - floor((size-1)/2) ..
 * c + ceil((size-1)/2))^beta, for input N x C x D... */
CQUANT__VISION_OP(cquant__op_lrn) {
  (void)ctx, (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  int st = cquant__vision_need_float(node, x, "X");
  if (st) return st;
  if (x->ndim < 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must have rank 2 or more (N x C x ...)");
  const int64_t size = cquant__attr_int(node, "size", 0);
  if (size < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "size must be 1 or more (got %lld)", (long long)size);
  const double alpha = cquant__attr_float(node, "alpha", 1e-4f), beta = cquant__attr_float(node, "beta", 0.75f),
               bias = cquant__attr_float(node, "bias", 1.0f);
  const int64_t N = x->shape[0], C = x->shape[1], S = N && C ? x->numel / (N * C) : 0;
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  double *sq = malloc(sizeof(double) * (size_t)(S ? S : 1));
  if (!sq) return cquant_array_free(&out[0]), oom(node);
  const int f32 = x->dtype == CQUANT_DT_F32;
  const float *xd = x->data;
  float *yd = out[0].data;
  const double k = alpha / (double)size;
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      const int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi > C - 1 ? C - 1 : c + hi;
      for (int64_t s = 0; s < S; s++) sq[s] = 0;
      for (int64_t cc = c0; cc <= c1; cc++) {
        const int64_t base = (n * C + cc) * S;
        if (f32)
          for (int64_t s = 0; s < S; s++) sq[s] += (double)xd[base + s] * xd[base + s];
        else
          for (int64_t s = 0; s < S; s++) {
            const double v = cquant__get_f64(x, base + s);
            sq[s] += v * v;
          }
      }
      const int64_t base = (n * C + c) * S;
      if (beta == 0.75) /* the usual exponent: t^0.75 = sqrt(t) sqrt(sqrt(t)), no pow() per element */
        for (int64_t s = 0; s < S; s++) {
          const double t = sqrt(bias + k * sq[s]);
          sq[s] = t * sqrt(t);
        }
      else
        for (int64_t s = 0; s < S; s++) sq[s] = pow(bias + k * sq[s], beta);
      if (f32)
        for (int64_t s = 0; s < S; s++) yd[base + s] = (float)(xd[base + s] / sq[s]);
      else
        for (int64_t s = 0; s < S; s++) cquant__set_f64(&out[0], base + s, cquant__get_f64(x, base + s) / sq[s]);
    }
  free(sq);
  return CQUANT_STATUS_OK;
}
