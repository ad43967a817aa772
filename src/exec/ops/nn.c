/* BatchNormalization (inference) on float32 (the nn family sends the other forms elsewhere). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "cquant/convert.h"
#include "cquant/quantize.h"
#include "exec/exec_internal.h"
#include "exec/ops/conv_par.h"

/* Planes [u per, (u + 1) per) (image n, channel c) of y = x k + (b - mean k), k = s / sqrt(var + eps). */
typedef struct {
  const float *s, *b, *mean, *var, *x;
  float *y, eps;
  int64_t C, planes, inner, per;
} bn_job_t;

static void bn_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const bn_job_t *j = vj;
  const int64_t q1 = (u + 1) * j->per < j->planes ? (u + 1) * j->per : j->planes;
  for (int64_t q = u * j->per; q < q1; q++) {
    const int64_t c = q % j->C;
    const float k = j->s[c] / sqrtf(j->var[c] + j->eps), off = j->b[c] - j->mean[c] * k;
    const float *xq = j->x + q * j->inner;
    float *yq = j->y + q * j->inner;
    for (int64_t i = 0; i < j->inner; i++) yq[i] = xq[i] * k + off;
  }
}

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
  if ((st = cquant__array_alloc_uninit(&out[0], CQUANT_DT_F32, x->ndim, x->shape))) return st; /* every element is written */
  if (!x->numel) return CQUANT_STATUS_OK;
  bn_job_t j = {.s = in[1]->data, .b = in[2]->data, .mean = in[3]->data, .var = in[4]->data, .x = x->data, .y = out[0].data, .eps = eps, .C = C};
  j.planes = x->shape[0] * C, j.inner = x->numel / j.planes;
  /* 2^17 elements or more: runs of whole planes over the pool, about four a thread */
  const int threads = x->numel >= (1 << 17) ? cquant_get_num_threads() : 1;
  j.per = threads > 1 ? (j.planes + 4 * threads - 1) / (4 * threads) : j.planes;
  j.per = j.per < 1 ? 1 : j.per;
  cquant__par_run(threads, (j.planes + j.per - 1) / j.per, bn_unit, &j);
  return CQUANT_STATUS_OK;
}
