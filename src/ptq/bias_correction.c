/* Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", sec. 4.2, in the
 * empirical form of AIMET and ONNX Runtime; docs/quantization.md sec. 12, eq. 42-43): the quantized
 * weights shift each output's mean by E[(W_q - W) x] = (W_q - W) E[x] (eq. 42); subtracting that
 * from the bias (eq. 43) removes it. E[x] per input channel comes from the calibration pass (the
 * layer's float input: NCHW channel mean over N, H, W for Conv, the last axis for Gemm/MatMul). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ptq/ptq_internal.h"

int cquant__ptq_bias_delta(cquant_ptq_t *p, int li, float **delta, int64_t *n) {
  *delta = NULL, *n = 0;
  const cquant__ptq_layer_t *L = &p->layer[li];
  if (!L->weight) return 1;
  const cquant__ptq_act_t *a = cquant__ptq_find_act(p, L->input);
  if (!a || !a->want_mean || a->mean_bad || !a->mean_sum || a->mean_n <= 0) return 1;
  const cquant_array_t *w = cquant__onnx_init(p->clean, L->weight);
  const cquant_qparams_t *qp;
  int st = w ? cquant__ptq_layer_weights(p, li, &qp, NULL) : 1;
  if (st) return st;
  /* the weight as (output channel o, input channel c, kernel position k): Conv M x C/g x kk, Gemm
   * transB N x K, MatMul / Gemm K x N */
  const int conv = !strcmp(L->op, "Conv"), nk = !conv && !L->trans_b;
  const int64_t M = nk ? w->shape[1] : w->shape[0], Cg = nk ? w->shape[0] : w->shape[1];
  const int64_t kk = conv ? w->numel / (M * Cg) : 1, G = conv ? L->groups : 1, Mg = G > 0 ? M / G : 0;
  if (!conv && G != 1) return 1;
  if (a->mean_c != Cg * G || !Mg) return 1;
  float *wq = malloc(sizeof(float) * (size_t)w->numel);
  double *acc = calloc((size_t)M, sizeof(double));
  float *d = malloc(sizeof(float) * (size_t)M);
  if (!wq || !acc || !d) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  if (!st) st = cquant_fake_quantize(w->data, qp, wq);
  const float *wf = w->data;
  const double inv_n = 1.0 / (double)a->mean_n;
  for (int64_t o = 0; o < M && !st; o++)
    for (int64_t c = 0; c < Cg; c++) {
      const double ex = a->mean_sum[(o / Mg) * Cg + c] * inv_n; /* E[x] of the input channel (eq. 42) */
      for (int64_t k = 0; k < kk; k++) {
        const int64_t idx = nk ? c * M + o : (o * Cg + c) * kk + k;
        acc[o] += ((double)wq[idx] - (double)wf[idx]) * ex;
      }
    }
  for (int64_t o = 0; o < M && !st; o++) d[o] = (float)acc[o];
  free(wq), free(acc);
  if (st) {
    free(d);
    return st;
  }
  *delta = d, *n = M;
  return 0;
}
