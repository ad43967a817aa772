/* BatchNormalization (inference) on float32 (the nn family sends the other forms elsewhere). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "cquant/convert.h"
#include "exec/exec_internal.h"

int cquant__op_batchnorm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  for (int i = 0; i < 5; i++)
    if ((st = cquant__need_f32(node, in[i], i ? "a parameter" : "X"))) return st;
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
