/* Optimizers and schedules (docs/qat.md eq. 22-25): SGD with momentum (PyTorch's form, weight decay
 * added to the gradient) and AdamW (decoupled weight decay); the learning rate warms up linearly
 * over warmup_steps, then follows a half cosine to 0 or drops by step_gamma every step_epochs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "qat/qat_internal.h"

double cquant__qat_lr(const cquant_qat_options_t *o, int64_t step, int64_t steps_per_epoch, int64_t total) {
  if (o->warmup_steps > 0 && step < o->warmup_steps) return o->lr * (double)(step + 1) / (double)o->warmup_steps;
  switch (o->schedule) {
    case CQUANT_QAT_COSINE: {
      const int64_t span = total - o->warmup_steps;
      if (span <= 0) return o->lr;
      const double t = (double)(step - o->warmup_steps) / (double)span;
      return 0.5 * o->lr * (1.0 + cos(M_PI * (t > 1 ? 1 : t)));
    }
    case CQUANT_QAT_STEP: {
      const int64_t e = steps_per_epoch > 0 ? step / steps_per_epoch : 0;
      return o->lr * pow(o->step_gamma, (double)(e / (o->step_epochs > 0 ? o->step_epochs : 1)));
    }
    default: return o->lr;
  }
}

void cquant__qat_update(cquant_qat_t *q, double lr) {
  const cquant_qat_options_t *o = &q->opt;
  const double b1 = o->beta1, b2 = o->beta2, t = (double)(q->step + 1);
  const double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
  for (int p = 0; p < q->n_par; p++) {
    qat_param_t *P = &q->par[p];
    qat_val_t *v = &q->val[P->val];
    if (!v->g) continue;
    const double wd = P->decay ? o->weight_decay : 0.0;
    float *x = v->x, *g = v->g;
    if (o->optimizer == CQUANT_QAT_SGD) {
      for (int64_t i = 0; i < v->numel; i++) {
        const float d = g[i] + (float)(wd * x[i]);
        P->m[i] = (float)(o->momentum * P->m[i] + d);
        x[i] -= (float)(lr * P->m[i]);
      }
    } else {
      for (int64_t i = 0; i < v->numel; i++) {
        x[i] -= (float)(lr * wd * x[i]);
        P->m[i] = (float)(b1 * P->m[i] + (1 - b1) * g[i]);
        P->v[i] = (float)(b2 * P->v[i] + (1 - b2) * (double)g[i] * g[i]);
        x[i] -= (float)(lr * (P->m[i] / c1) / (sqrt(P->v[i] / c2) + o->adam_eps));
      }
    }
    if (P->is_scale) /* step sizes stay positive */
      for (int64_t i = 0; i < v->numel; i++)
        if (x[i] < 1e-8f && x[i] > -1e30f) x[i] = 1e-8f; /* NaN and -inf stay: the loss check stops on them */
  }
}
