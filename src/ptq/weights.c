/* Layer weights: per output channel, symmetric, narrow range (eq. 8-11), with the min-max range
 * or the per-channel MSE search; quantized once per session and reused by every export. */
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "ptq/ptq_internal.h"

static int weight_qparams(const cquant_ptq_t *p, const cquant_array_t *w, int axis, cquant_qparams_t **qp) {
  const unsigned flags = CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE;
  if (!p->opt.weight_mse) {
    int st = cquant_qparams_create(p->opt.weight_dtype, CQUANT_PER_CHANNEL, axis, 0, flags, w->ndim, w->shape, qp);
    if (!st && (st = cquant_qparams_minmax(*qp, w->data))) cquant_qparams_destroy(*qp);
    return st;
  }
  cquant_calib_config_t cfg;
  cquant_calib_config_default(&cfg, CQUANT_CALIB_MSE);
  cfg.dtype = p->opt.weight_dtype;
  cfg.flags = flags;
  cfg.axis = axis;
  cquant_observer_t *o;
  int st = cquant_observer_create(&cfg, &o);
  if (st) return st;
  if (!(st = cquant_observer_update(o, w->data, w->ndim, w->shape))) st = cquant_observer_qparams(o, w->ndim, w->shape, qp);
  cquant_observer_destroy(o);
  return st;
}

int cquant__ptq_layer_weights(cquant_ptq_t *p, int i, const cquant_qparams_t **qp, const cquant_array_t **q) {
  cquant__ptq_layer_t *L = &p->layer[i];
  if (!L->weight) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: layer %d has no weights", i);
  if (!L->wqp) {
    const cquant_array_t *w = cquant__onnx_init(p->clean, L->weight);
    if (!w) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: weights '%s' not found", L->weight);
    cquant_qparams_t *wqp;
    int st = weight_qparams(p, w, L->w_axis, &wqp);
    if (st) return cquant__error_prefix(st, L->node);
    if ((st = cquant_array_alloc(&L->wq, CQUANT_DT_S8, w->ndim, w->shape))) {
      cquant_qparams_destroy(wqp);
      return st;
    }
    if ((st = cquant_quantize(w->data, wqp, CQUANT_LAYOUT_UNPACKED, L->wq.data))) {
      cquant_array_free(&L->wq);
      cquant_qparams_destroy(wqp);
      return cquant__error_prefix(st, L->node);
    }
    L->wqp = wqp;
  }
  *qp = L->wqp;
  if (q) *q = &L->wq;
  return 0;
}

int cquant_ptq_weight_error(cquant_ptq_t *p, int i, cquant_error_report_t *rep, float *smin, float *smax) {
  if (!p || i < 0 || i >= p->n_layer || !p->layer[i].weight) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: layer %d has no weights", i);
  const cquant_array_t *w = cquant__onnx_init(p->clean, p->layer[i].weight);
  const cquant_qparams_t *qp;
  int st = cquant__ptq_layer_weights(p, i, &qp, NULL);
  if (st) return st;
  float *y = malloc(sizeof(float) * (size_t)(w->numel ? w->numel : 1));
  if (!y) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  if (!st) st = cquant_fake_quantize(w->data, qp, y);
  if (!st) st = cquant_error_report(w->data, y, (size_t)w->numel, qp, rep);
  if (!st) {
    *smin = *smax = qp->scale[0];
    for (int64_t c = 1; c < qp->count; c++) {
      *smin = qp->scale[c] < *smin ? qp->scale[c] : *smin;
      *smax = qp->scale[c] > *smax ? qp->scale[c] : *smax;
    }
  }
  free(y);
  return st;
}
