/* Layer weights: per output channel (eq. 8-11) or per group of G along the input-channel axis
 * (eq. 34-35), symmetric int8/int4/int2 (int8 and int4 narrow range), asymmetric uint4, or scaled
 * float8e4m3fn (eq. 16); with the min-max range or an MSE search (per channel: the MSE observer;
 * per group: eq. 36); quantized once per session and reused by every export. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "ptq/ptq_internal.h"

int cquant__ptq_check_options(cquant_ptq_options_t *o) {
  const cquant_dtype_t dt = o->weight_dtype;
  if (dt != CQUANT_DT_S8 && dt != CQUANT_DT_S4 && dt != CQUANT_DT_U4 && dt != CQUANT_DT_S2 && dt != CQUANT_DT_F8E4M3)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: weights must be int8, int4, uint4, int2 or fp8e4m3");
  if (o->weight_group && (o->weight_group < 16 || o->weight_group > 256))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: weight group size %lld is outside 16..256", (long long)o->weight_group);
  if (o->weight_group && dt == CQUANT_DT_F8E4M3)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ptq: fp8e4m3 weights are per output channel (no group size)");
  if ((unsigned)o->act > CQUANT_PTQ_ACT_FP8E4M3) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: activation mode %d is unknown", (int)o->act);
  if (o->act != CQUANT_PTQ_ACT_INT8 && o->quantize_ops) /* fp8 files quantize GEMM inputs only (export.c) */
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: --quantize-ops is an int8-activation setting (activations are %s)",
                         o->act == CQUANT_PTQ_ACT_NONE ? "float" : "fp8e4m3: only GEMM inputs are quantized");
  if (o->act != CQUANT_PTQ_ACT_INT8 && o->symmetric_act)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: symmetric activations are an int8 setting (activations are %s)",
                         o->act == CQUANT_PTQ_ACT_NONE ? "float" : "fp8e4m3");
  if (o->smooth && !(o->smooth_alpha >= 0.0f && o->smooth_alpha <= 1.0f))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: SmoothQuant alpha %g is outside [0, 1]", (double)o->smooth_alpha);
  if (o->weight_reduce_range && dt != CQUANT_DT_S8)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: a reduced weight range is an int8 setting (7 bits); the weights are %s",
                         cquant_dtype_info(dt)->name);
  if (dt == CQUANT_DT_F8E4M3) o->weight_mse = 0; /* s = amax / 448; -1 (auto) is settled per layer */
  return 0;
}

/* The flags of the weight type: symmetric (narrow range for int8 and int4, eq. 11; int2 keeps
 * -2..1), uint4 asymmetric; int8 in 7 bits with reduce_range (eq. 11b). */
static unsigned weight_flags(cquant_dtype_t dt, int reduce_range) {
  if (dt == CQUANT_DT_U4) return 0;
  if (dt == CQUANT_DT_S2) return CQUANT_QF_SYMMETRIC;
  return CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE | (dt == CQUANT_DT_S8 && reduce_range ? CQUANT_QF_REDUCE_RANGE : 0);
}

int64_t cquant__ptq_weight_group(const cquant_ptq_t *p, int i, const cquant_array_t *w, int *axis) {
  const cquant__ptq_layer_t *L = &p->layer[i];
  const int red = L->w_axis == 0 ? 1 : 0; /* Conv M x C x kH x kW, Gemm transB N x K: 1; K x N: 0 */
  if (L->w_group > 0 && w->ndim > red && w->shape[red] >= L->w_group) { /* the layer's group size (options or override) */
    *axis = red;
    return L->w_group;
  }
  *axis = L->w_axis;
  return 0;
}

/* Eq. 36: each group's range [a rmin, a rmax] with the a of the grid 1, 0.975, ..., 0.5 whose
 * fake-quantized group has the smallest squared error (the first on a tie). qp holds the min-max
 * parameters of the groups on entry. */
static int group_mse(cquant_qparams_t *qp, const float *x) {
  const int a = qp->axis;
  const int64_t K = qp->shape[a], G = qp->group_size, nG = (K + G - 1) / G;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; d++) outer *= qp->shape[d];
  for (int d = a + 1; d < qp->ndim; d++) inner *= qp->shape[d];
  const cquant_dtype_info_t *info = cquant_dtype_info(qp->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t gi = 0; gi < nG; gi++)
      for (int64_t in = 0; in < inner; in++) {
        const int64_t k0 = gi * G, k1 = k0 + G < K ? k0 + G : K, slot = (o * nG + gi) * inner + in;
        float mn = 0, mx = 0;
        for (int64_t k = k0; k < k1; k++) {
          const float v = x[(o * K + k) * inner + in];
          mn = v < mn ? v : mn, mx = v > mx ? v : mx;
        }
        double best = INFINITY;
        for (int step = 0; step <= 20; step++) {
          const float r = 1.0f - 0.025f * (float)step;
          float s;
          int32_t z;
          int st = cquant_qparams_from_range(r * mn, r * mx, info->bits, info->is_signed, qp->flags, &s, &z);
          if (st) return st;
          double err = 0;
          for (int64_t k = k0; k < k1; k++) {
            const float v = x[(o * K + k) * inner + in];
            float q = nearbyintf(v / s) + (float)z; /* eq. 13: round half to even of r / s */
            q = q < (float)qp->qmin ? (float)qp->qmin : q > (float)qp->qmax ? (float)qp->qmax : q;
            const double e = (double)v - (double)s * (double)(q - (float)z);
            err += e * e;
          }
          if (err < best) best = err, qp->scale[slot] = s, qp->zero_point[slot] = z;
        }
      }
  return 0;
}

/* The range search of a layer: weight_mse 1 or 0, or -1 (auto): MSE for symmetric int4/int2 per
 * channel; min-max per group and for uint4, where the MSE search measured worse top-1 on the
 * shipped models (docs/quantization.md, eq. 36) */
int cquant__ptq_weight_mse(const cquant_ptq_options_t *o, int64_t G) {
  const cquant_dtype_t dt = o->weight_dtype;
  return o->weight_mse > 0 || (o->weight_mse < 0 && !G && (dt == CQUANT_DT_S4 || dt == CQUANT_DT_S2));
}

static int weight_qparams(const cquant_ptq_t *p, int li, const cquant_array_t *w, cquant_qparams_t **qp) {
  const cquant_dtype_t dt = p->layer[li].w_dtype; /* the options' type or a per-node override's */
  const unsigned flags = weight_flags(dt, p->opt.weight_reduce_range);
  const int per_tensor = p->layer[li].w_per_tensor;
  int axis;
  const int64_t G = cquant__ptq_weight_group(p, li, w, &axis);
  cquant_ptq_options_t lo = p->opt;
  lo.weight_dtype = dt;
  const int mse = cquant__ptq_weight_mse(&lo, G);
  if (G || dt == CQUANT_DT_F8E4M3 || !mse) {
    int st = G            ? cquant_qparams_create(dt, CQUANT_PER_GROUP, axis, G, flags | CQUANT_QF_ALLOW_SHORT_GROUP, w->ndim, w->shape, qp)
             : per_tensor ? cquant_qparams_create(dt, CQUANT_PER_TENSOR, 0, 0, dt == CQUANT_DT_F8E4M3 ? 0 : flags, w->ndim, w->shape, qp)
                          : cquant_qparams_create(dt, CQUANT_PER_CHANNEL, axis, 0, dt == CQUANT_DT_F8E4M3 ? 0 : flags, w->ndim, w->shape, qp);
    if (!st) st = cquant_qparams_minmax(*qp, w->data);
    if (!st && G && mse) st = group_mse(*qp, w->data);
    if (st && *qp) cquant_qparams_destroy(*qp), *qp = NULL;
    return st;
  }
  cquant_calib_config_t cfg;
  cquant_calib_config_default(&cfg, CQUANT_CALIB_MSE);
  cfg.dtype = dt;
  cfg.flags = flags;
  cfg.axis = per_tensor ? -1 : axis;
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
    cquant_qparams_t *wqp = NULL;
    int st = weight_qparams(p, i, w, &wqp);
    if (st) return cquant__error_prefix(st, L->node);
    /* one value per byte (int8, int4, uint4, int2 or the fp8 bit pattern) */
    if ((st = cquant_array_alloc(&L->wq, L->w_dtype, w->ndim, w->shape))) {
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

int cquant__ptq_weight_format(cquant_ptq_t *p, int i, cquant_dtype_t *dt, int64_t *group, int *axis) {
  const cquant_qparams_t *qp;
  int st = cquant__ptq_layer_weights(p, i, &qp, NULL);
  if (st) return st;
  *dt = qp->dtype;
  *group = qp->granularity == CQUANT_PER_GROUP ? qp->group_size : 0;
  *axis = qp->axis;
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
