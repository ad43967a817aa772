/* Operators of the nn family (see exec_internal.h): the table, Dropout and BatchNormalization.
 * Convolutions are in nn_conv.c, pooling in nn_pool.c, Gemm and MatMul in nn_gemm.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/nn_internal.h"

/* Dropout at inference: Y = X; the optional mask all true (opset < 10: of X's type, all ones).
 * Opset 12+: ratio and training_mode are inputs; training with a ratio above 0 is random and
 * refused. */
static int op_dropout(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  const int opset = cquant__opset(ctx);
  int st;
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "data is missing");
  if (opset >= 12 && n_in > 2 && in[2]) {
    const cquant_array_t *tm = in[2], *r = n_in > 1 ? in[1] : NULL;
    if (tm->numel != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "training_mode must be a scalar");
    double ratio = 0.5;
    if (r) {
      if (r->numel != 1 || !cquant__is_float(r->dtype)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "ratio must be a float scalar");
      ratio = cquant__get_f64(r, 0);
    }
    if (cquant__get_i64(tm, 0) && ratio != 0)
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "training_mode with ratio %g drops values at random", ratio);
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) return st;
  if (x->nbytes) memcpy(out[0].data, x->data, x->nbytes);
  if (n_out > 1) {
    const int as_x = opset < 10;
    if ((st = cquant_array_alloc(&out[1], as_x ? x->dtype : CQUANT_DT_BOOL, x->ndim, x->shape))) {
      cquant_array_free(&out[0]);
      return st;
    }
    if (as_x) for (int64_t i = 0; i < x->numel; i++) cquant__set_f64(&out[1], i, 1);
    else memset(out[1].data, 1, out[1].nbytes);
  }
  return CQUANT_STATUS_OK;
}

/* BatchNormalization: Y = (X - mean) / sqrt(var + epsilon) scale + B per channel (opset < 9
 * spatial=0: per activation, the parameters of shape C x D1 x ...). Training (opset 14+
 * training_mode=1; before, when more than Y is asked for and, before opset 7, is_test is 0): the batch's statistics (population
 * variance) normalize X, and the running mean and variance come out updated with momentum;
 * outputs 3 and 4 (opset < 14) are the batch's mean and variance. */
static int op_batchnorm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  const cquant_array_t *x = in[0];
  const int opset = cquant__opset(ctx);
  int st;
  if ((st = cquant__nn_need_float(node, x, "X"))) return st;
  static const char *const names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (int i = 1; i < 5; i++)
    if ((st = cquant__nn_need_float(node, in[i], names[i]))) return st;
  const int training = opset >= 14 ? cquant__attr_int(node, "training_mode", 0) != 0 : n_out > 1 && (opset >= 7 || !cquant__attr_int(node, "is_test", 0));
  const int spatial = opset >= 9 || cquant__attr_int(node, "spatial", 1) != 0;
  if (training && opset >= 14 && n_out != 1 && n_out != 3)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "training mode has 1 or 3 outputs, not %d", n_out);
  if (!training && opset >= 14 && n_out > 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "only Y without training_mode");
  /* the float32 inference case of nn.c */
  if (!training && spatial && x->ndim >= 2 && x->numel > 0 && x->dtype == CQUANT_DT_F32 && in[1]->dtype == CQUANT_DT_F32 && in[2]->dtype == CQUANT_DT_F32 &&
      in[3]->dtype == CQUANT_DT_F32 && in[4]->dtype == CQUANT_DT_F32)
    return cquant__op_batchnorm(ctx, node, in, n_in, out, 1);
  const int64_t N = x->ndim ? x->shape[0] : 1, C = x->ndim > 1 ? x->shape[1] : 1, inner = N * C != 0 ? x->numel / (N * C) : 0;
  const int64_t np = spatial ? C : C * inner; /* parameters per tensor */
  for (int i = 1; i < 5; i++)
    if (in[i]->numel != np) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must have %lld entries", names[i], (long long)np);
  const double eps = cquant__attr_float(node, "epsilon", 1e-5f), mom = cquant__attr_float(node, "momentum", 0.9f);
  double *mean = malloc(sizeof(double) * (size_t)(2 * np + 1)), *var = mean + np;
  if (!mean) return cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t p = 0; p < np; p++) mean[p] = cquant__get_f64(in[3], p), var[p] = cquant__get_f64(in[4], p);
#define PIDX(c, i) (spatial ? (c) : (c) * inner + (i))
  if (training) { /* the batch's statistics, in double */
    const double cnt = (double)(spatial ? N * inner : N);
    for (int64_t p = 0; p < np; p++) mean[p] = var[p] = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < inner; i++) mean[PIDX(c, i)] += cquant__get_f64(x, (n * C + c) * inner + i);
    for (int64_t p = 0; p < np; p++) mean[p] = cnt ? mean[p] / cnt : 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < inner; i++) {
          const double d = cquant__get_f64(x, (n * C + c) * inner + i) - mean[PIDX(c, i)];
          var[PIDX(c, i)] += d * d;
        }
    for (int64_t p = 0; p < np; p++) var[p] = cnt ? var[p] / cnt : 0;
  }
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, x->shape))) { free(mean); return st; }
  const int single = x->dtype != CQUANT_DT_F64; /* float32 arithmetic, as ONNX Runtime, below float64 */
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < inner; i++) {
        const int64_t p = PIDX(c, i), e = (n * C + c) * inner + i;
        const double s = cquant__get_f64(in[1], p), b = cquant__get_f64(in[2], p), v = cquant__get_f64(x, e);
        double y;
        if (single) {
          const float k = (float)s / sqrtf((float)var[p] + (float)eps);
          y = ((float)v - (float)mean[p]) * k + (float)b;
        } else {
          y = (v - mean[p]) / sqrt(var[p] + eps) * s + b;
        }
        cquant__set_f64(&out[0], e, y);
      }
#undef PIDX
  for (int o = 1; o < n_out && o < 5; o++) { /* running mean and variance; then the batch's (opset < 14) */
    const cquant_array_t *like = in[o == 2 || o == 4 ? 4 : 3];
    if ((st = cquant_array_alloc(&out[o], like->dtype, like->ndim, like->shape))) {
      for (int j = 0; j < o; j++) cquant_array_free(&out[j]);
      free(mean);
      return st;
    }
    for (int64_t p = 0; p < np; p++) {
      const double stat = o == 1 || o == 3 ? mean[p] : var[p];
      cquant__set_f64(&out[o], p, o >= 3 ? stat : cquant__get_f64(like, p) * mom + stat * (1 - mom));
    }
  }
  free(mean);
  return CQUANT_STATUS_OK;
}

const cquant__op_t cquant__ops_nn[] = {
    {"Conv", cquant__op_nn_conv, 2, 3, 1, 1, 0},
    {"ConvTranspose", cquant__op_nn_conv_transpose, 2, 3, 1, 1, 0},
    {"MaxPool", cquant__op_nn_pool, 1, 1, 1, 2, 0},
    {"AveragePool", cquant__op_nn_pool, 1, 1, 1, 1, 0},
    {"LpPool", cquant__op_nn_pool, 1, 1, 1, 1, 0},
    {"GlobalMaxPool", cquant__op_nn_global_pool, 1, 1, 1, 1, 0},
    {"GlobalAveragePool", cquant__op_nn_global_pool, 1, 1, 1, 1, 0},
    {"GlobalLpPool", cquant__op_nn_global_pool, 1, 1, 1, 1, 0},
    {"MaxUnpool", cquant__op_nn_max_unpool, 2, 3, 1, 1, 0},
    {"Gemm", cquant__op_nn_gemm, 2, 3, 1, 1, 0},
    {"MatMul", cquant__op_nn_matmul, 2, 2, 1, 1, 0},
    {"Dropout", op_dropout, 1, 3, 1, 2, 0},
    {"BatchNormalization", op_batchnorm, 5, 5, 1, 5, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
