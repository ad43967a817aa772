/* Softmax cross-entropy with label smoothing (docs/qat.md eq. 17-18), the mean over the batch:
 *   p = softmax(z),  t = (1 - e) onehot(y) + e / C,  L = -(1/N) sum_i sum_c t_ic log p_ic,
 *   dL/dz_ic = (p_ic - t_ic) / N. */
#include <math.h>
#include "qat/qat_internal.h"

int cquant__qat_loss(const float *logits, int64_t N, int64_t C, const int64_t *labels, double smoothing, float *grad, double *loss,
                     int64_t *correct) {
  double total = 0;
  int64_t ok = 0;
  for (int64_t i = 0; i < N; i++) {
    if (labels[i] < 0 || labels[i] >= C)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: label %lld of sample %lld is outside 0..%lld", (long long)labels[i], (long long)i,
                           (long long)(C - 1));
    const float *z = logits + i * C;
    float mx = z[0];
    int64_t arg = 0;
    for (int64_t c = 1; c < C; c++)
      if (z[c] > mx) mx = z[c], arg = c;
    ok += arg == labels[i];
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += exp((double)z[c] - mx);
    const double lse = mx + log(s);
    for (int64_t c = 0; c < C; c++) {
      const double t = (c == labels[i] ? 1.0 - smoothing : 0.0) + smoothing / (double)C;
      const double lp = (double)z[c] - lse;
      total -= t * lp;
      if (grad) grad[i * C + c] = (float)((exp(lp) - t) / (double)N);
    }
  }
  *loss = N ? total / (double)N : 0;
  if (correct) *correct = ok;
  if (!isfinite(*loss)) return cquant__error(CQUANT_STATUS_NOT_FINITE, "qat: the loss is %g (lower the learning rate)", *loss);
  return 0;
}
