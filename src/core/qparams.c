/* Quantization parameters: from a range (docs eq. 5-12), their layout, and min-max from data. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "exec/ops/conv_par.h"

#define CQUANT__EPS 1.1920928955078125e-07f /* float32 eps = 2^-23, PyTorch's scale floor */

int cquant_qparams_from_range(float rmin, float rmax, int bits, int is_signed, unsigned flags,
                              float *scale, int32_t *zero_point) {
  if (!scale || !zero_point) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qparams: NULL output");
  if (!isfinite(rmin) || !isfinite(rmax))
    return cquant__error(CQUANT_STATUS_NOT_FINITE, "range [%g, %g] is not finite", rmin, rmax);
  if (rmin > rmax) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "range min %g > max %g", rmin, rmax);
  const int eb = bits - ((flags & CQUANT_QF_REDUCE_RANGE) ? 1 : 0); /* eq. 11b */
  if (eb < 2 || eb > 16) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "bits %d outside 2..16", eb);
  int32_t qmin, qmax;
  cquant__qgrid(bits, is_signed, flags, &qmin, &qmax); /* eq. 11, 11b */
  float lo = rmin < 0.0f ? rmin : 0.0f, hi = rmax > 0.0f ? rmax : 0.0f; /* eq. 5 */
  float s;
  int32_t z;
  if (flags & CQUANT_QF_SYMMETRIC) {
    float amax = -lo > hi ? -lo : hi;
    s = amax / ((float)(qmax - qmin) / 2.0f); /* eq. 8 */
    z = is_signed ? 0 : (qmin + qmax + 1) / 2; /* eq. 9-10 */
  } else {
    s = (hi - lo) / (float)(qmax - qmin); /* eq. 6 */
  }
  if (!(s >= CQUANT__EPS)) s = CQUANT__EPS; /* eq. 12 */
  if (!isfinite(s)) return cquant__error(CQUANT_STATUS_NOT_FINITE, "range [%g, %g] overflows the scale", rmin, rmax);
  if (!(flags & CQUANT_QF_SYMMETRIC)) {
    float zf = (float)qmin - roundevenf(lo / s); /* eq. 7 */
    z = zf < (float)qmin ? qmin : (zf > (float)qmax ? qmax : (int32_t)zf);
  }
  *scale = s;
  *zero_point = z;
  return CQUANT_STATUS_OK;
}

int cquant_qrange(cquant_dtype_t dt, unsigned flags, int32_t *qmin, int32_t *qmax) {
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  if (!info) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "unknown dtype %d", (int)dt);
  if (info->is_float) {
    *qmin = 0;
    *qmax = 0;
    return CQUANT_STATUS_OK;
  }
  if (!cquant_dtype_is_qint(dt))
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s is not a quantization type", info->name);
  *qmin = (int32_t)info->qmin + ((flags & CQUANT_QF_NARROW_RANGE) ? 1 : 0);
  *qmax = (int32_t)info->qmax;
  if (flags & CQUANT_QF_REDUCE_RANGE) { /* eq. 11b: one bit fewer */
    if (info->bits < 3) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s has no bit to spare for a reduced range", info->name);
    cquant__qgrid(info->bits, info->is_signed, flags, qmin, qmax);
  }
  return CQUANT_STATUS_OK;
}

/* Number of parameter entries along each axis. */
void cquant_qparams_param_shape(const cquant_qparams_t *qp, int64_t *pshape) {
  for (int d = 0; d < qp->ndim; d++) {
    switch (qp->granularity) {
      case CQUANT_PER_CHANNEL: pshape[d] = d == qp->axis ? qp->shape[d] : 1; break;
      case CQUANT_PER_GROUP:
        pshape[d] = d == qp->axis ? (qp->shape[d] + qp->group_size - 1) / qp->group_size : qp->shape[d];
        break;
      default: pshape[d] = 1; break;
    }
  }
}

int cquant_qparams_create(cquant_dtype_t dt, cquant_granularity_t g, int axis, int64_t group_size,
                          unsigned flags, int ndim, const int64_t *shape, cquant_qparams_t **out) {
  if (!out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qparams: NULL output");
  *out = NULL;
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  if (!info || !(cquant_dtype_is_qint(dt) || dt == CQUANT_DT_F8E4M3 || dt == CQUANT_DT_F8E5M2))
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "%s is not a quantization target type",
                         info ? info->name : "unknown type");
  if (ndim < 0 || ndim > CQUANT_MAX_DIMS || (ndim > 0 && !shape))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "rank %d outside 0..%d", ndim, CQUANT_MAX_DIMS);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "negative dimension %lld", (long long)shape[d]);
  if (g != CQUANT_PER_TENSOR) {
    if (axis < 0 || axis >= ndim)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "axis %d out of range for a %d-d tensor", axis, ndim);
    if (g == CQUANT_PER_GROUP) {
      if (group_size < 1)
        return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "group size %lld must be at least 1", (long long)group_size);
      if (shape[axis] % group_size && !(flags & CQUANT_QF_ALLOW_SHORT_GROUP))
        return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT,
                             "group size %lld does not divide axis %d of length %lld (a short last group must be allowed explicitly)",
                             (long long)group_size, axis, (long long)shape[axis]);
    } else if (g != CQUANT_PER_CHANNEL) {
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "unknown granularity %d", (int)g);
    }
  }
  cquant_qparams_t *qp = calloc(1, sizeof *qp);
  if (!qp) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qparams: out of memory");
  qp->dtype = dt;
  qp->granularity = g;
  qp->axis = g == CQUANT_PER_TENSOR ? -1 : axis;
  qp->group_size = g == CQUANT_PER_GROUP ? group_size : 0;
  qp->flags = flags;
  qp->rounding = CQUANT_ROUND_DIV;
  qp->ndim = ndim;
  for (int d = 0; d < ndim; d++) qp->shape[d] = shape[d];
  int st = cquant_qrange(dt, flags, &qp->qmin, &qp->qmax);
  if (st) { free(qp); return st; }
  int64_t pshape[CQUANT_MAX_DIMS], count = 1;
  cquant_qparams_param_shape(qp, pshape);
  for (int d = 0; d < ndim; d++) {
    if (pshape[d] && count > ((int64_t)1 << 40) / pshape[d]) {
      free(qp);
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "the parameter layout needs more than 2^40 entries");
    }
    count *= pshape[d];
  }
  qp->count = count;
  qp->scale = malloc((size_t)(count ? count : 1) * sizeof(float));
  qp->zero_point = calloc((size_t)(count ? count : 1), sizeof(int32_t));
  if (!qp->scale || !qp->zero_point) {
    cquant_qparams_destroy(qp);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qparams: out of memory for %lld entries", (long long)count);
  }
  for (int64_t i = 0; i < count; i++) qp->scale[i] = 1.0f;
  *out = qp;
  return CQUANT_STATUS_OK;
}

void cquant_qparams_destroy(cquant_qparams_t *qp) {
  if (!qp) return;
  free(qp->scale);
  free(qp->zero_point);
  free(qp);
}

int cquant_qparams_validate(const cquant_qparams_t *qp) {
  if (!qp) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qparams: NULL");
  for (int64_t i = 0; i < qp->count; i++) {
    float s = qp->scale[i];
    if (!(s > 0.0f) || !isfinite(s))
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "scale[%lld] = %g: a scale must be finite and > 0",
                           (long long)i, s);
    int32_t z = qp->zero_point[i];
    if (cquant_dtype_is_qint(qp->dtype) && (z < qp->qmin || z > qp->qmax))
      return cquant__error(CQUANT_STATUS_OUT_OF_RANGE, "zero_point[%lld] = %d outside [%d, %d]",
                           (long long)i, z, qp->qmin, qp->qmax);
    if (!cquant_dtype_is_qint(qp->dtype) && z != 0)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "zero_point[%lld] = %d: FP8 has no zero-point",
                           (long long)i, z);
  }
  return CQUANT_STATUS_OK;
}

/* ---- min-max from data -------------------------------------------------------------------- */

static int find_nonfinite(const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return cquant__error(CQUANT_STATUS_NOT_FINITE,
                           "element %lld is %g: NaN/Inf cannot be quantized (remove or replace it first)",
                           (long long)i, x[i]);
  return CQUANT_STATUS_OK;
}

static int finish_slot(cquant_qparams_t *qp, int64_t i, float mn, float mx) {
  mn += 0.0f; /* -0 -> +0, so the SIMD and scalar reductions agree */
  mx += 0.0f;
  if (mn > mx) mn = mx = 0.0f; /* an empty slot (zero-length axis) */
  if (qp->dtype == CQUANT_DT_F8E4M3 || qp->dtype == CQUANT_DT_F8E5M2) {
    float amax = fmaxf(fabsf(mn), fabsf(mx));
    float fmax = (float)cquant_dtype_info(qp->dtype)->max;
    qp->scale[i] = amax > 0.0f ? amax / fmax : 1.0f; /* eq. 16 */
    qp->zero_point[i] = 0;
    return CQUANT_STATUS_OK;
  }
  const cquant_dtype_info_t *info = cquant_dtype_info(qp->dtype);
  return cquant_qparams_from_range(mn, mx, info->bits, info->is_signed, qp->flags, &qp->scale[i],
                                   &qp->zero_point[i]);
}

/* Splits the shape around the axis: outer x len x inner. */
void cquant__split_shape(const cquant_qparams_t *qp, int64_t *outer, int64_t *len, int64_t *inner) {
  int64_t o = 1, l = 1, in = 1;
  for (int d = 0; d < qp->ndim; d++) {
    if (qp->axis < 0) o *= qp->shape[d];
    else if (d < qp->axis) o *= qp->shape[d];
    else if (d == qp->axis) l = qp->shape[d];
    else in *= qp->shape[d];
  }
  *outer = o;
  *len = l;
  *inner = in;
}

/* Per-tensor min/max in chunks of 65,536 over the executor's pool (conv_par.h), from 2^18 values on:
 * each worker keeps its own min, max and NaN/Inf count (the result is the same however the chunks
 * fall; no OpenMP team, whose idle worker would busy-wait through the next node of a run). */
#define MM_WORKERS 16
typedef struct {
  const cquant__kernels_t *k;
  const float *x;
  int64_t n;
  float lo[MM_WORKERS], hi[MM_WORKERS];
  size_t bad[MM_WORKERS];
} mm_job_t;

static void mm_chunk(void *v, int64_t c, int worker) {
  mm_job_t *j = v;
  float a, b;
  const int64_t off = c * 65536, m = j->n - off < 65536 ? j->n - off : 65536;
  j->bad[worker] += j->k->minmax(j->x + off, (size_t)m, &a, &b);
  j->lo[worker] = a < j->lo[worker] ? a : j->lo[worker];
  j->hi[worker] = b > j->hi[worker] ? b : j->hi[worker];
}

int cquant_qparams_minmax(cquant_qparams_t *qp, const float *x) {
  if (!qp || (!x && qp->count)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "minmax: NULL argument");
  const cquant__kernels_t *k = cquant__kernels();
  int64_t outer, len, inner;
  cquant__split_shape(qp, &outer, &len, &inner);
  const int64_t n = outer * len * inner;
  float *mn = malloc((size_t)(qp->count ? qp->count : 1) * sizeof(float));
  float *mx = malloc((size_t)(qp->count ? qp->count : 1) * sizeof(float));
  if (!mn || !mx) {
    free(mn);
    free(mx);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "minmax: out of memory");
  }
  for (int64_t i = 0; i < qp->count; i++) {
    mn[i] = INFINITY;
    mx[i] = -INFINITY;
  }
  size_t bad = 0;
  if (qp->granularity == CQUANT_PER_TENSOR) {
    float lo = INFINITY, hi = -INFINITY;
    int threads = n >= (1 << 18) ? cquant_get_num_threads() : 1;
    mm_job_t j = {.k = k, .x = x, .n = n};
    threads = threads > MM_WORKERS ? MM_WORKERS : threads;
    for (int w = 0; w < MM_WORKERS; w++) j.lo[w] = INFINITY, j.hi[w] = -INFINITY, j.bad[w] = 0;
    cquant__par_run(threads, (n + 65535) / 65536, mm_chunk, &j);
    for (int w = 0; w < threads; w++) {
      lo = j.lo[w] < lo ? j.lo[w] : lo;
      hi = j.hi[w] > hi ? j.hi[w] : hi;
      bad += j.bad[w];
    }
    mn[0] = lo;
    mx[0] = hi;
  } else if (inner > 1 || qp->granularity == CQUANT_PER_GROUP) {
    /* Runs of `inner` contiguous elements (per-channel, or per-group off the last axis), or runs of
     * G contiguous elements (per-group on the last axis). */
    const int64_t G = qp->granularity == CQUANT_PER_GROUP ? qp->group_size : 1;
    const int64_t ng = (len + G - 1) / G;
    for (int64_t o = 0; o < outer; o++) {
      for (int64_t a = 0; a < len; a++) {
        const float *row = x + (o * len + a) * inner;
        if (qp->granularity == CQUANT_PER_CHANNEL) {
          float lo, hi;
          bad += k->minmax(row, (size_t)inner, &lo, &hi);
          mn[a] = lo < mn[a] ? lo : mn[a];
          mx[a] = hi > mx[a] ? hi : mx[a];
        } else if (inner == 1) {
          if (a % G) continue; /* one call per group */
          int64_t m = len - a < G ? len - a : G;
          float lo, hi;
          bad += k->minmax(x + o * len + a, (size_t)m, &lo, &hi);
          mn[o * ng + a / G] = lo;
          mx[o * ng + a / G] = hi;
        } else {
          float *smn = mn + (o * ng + a / G) * inner, *smx = mx + (o * ng + a / G) * inner;
          for (int64_t i = 0; i < inner; i++) {
            float v = row[i];
            if (!isfinite(v)) { bad++; continue; }
            smn[i] = v < smn[i] ? v : smn[i];
            smx[i] = v > smx[i] ? v : smx[i];
          }
        }
      }
    }
  } else { /* per-channel on the innermost axis: element-wise over rows */
    for (int64_t o = 0; o < outer; o++) {
      const float *row = x + o * len;
      for (int64_t a = 0; a < len; a++) {
        float v = row[a];
        if (!isfinite(v)) { bad++; continue; }
        mn[a] = v < mn[a] ? v : mn[a];
        mx[a] = v > mx[a] ? v : mx[a];
      }
    }
  }
  int st = bad ? find_nonfinite(x, n) : CQUANT_STATUS_OK;
  for (int64_t i = 0; i < qp->count && !st; i++) st = finish_slot(qp, i, mn[i], mx[i]);
  free(mn);
  free(mx);
  return st;
}

int cquant_qparams_rebind(const cquant_qparams_t *qp, int ndim, const int64_t *shape, cquant_qparams_t **out) {
  if (!qp || !out || (ndim && !shape)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "rebind: NULL argument");
  *out = NULL;
  if (qp->granularity == CQUANT_PER_CHANNEL && (qp->axis >= ndim || shape[qp->axis] != qp->shape[qp->axis]))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "the parameters have %lld channels on axis %d; the tensor %s",
                         (long long)qp->shape[qp->axis], qp->axis, qp->axis >= ndim ? "has no such axis" : "differs there");
  if (qp->granularity == CQUANT_PER_GROUP &&
      (ndim != qp->ndim || memcmp(shape, qp->shape, sizeof(int64_t) * (size_t)ndim)))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "per-group parameters fit only a tensor of their own shape");
  int st = cquant_qparams_create(qp->dtype, qp->granularity, qp->axis, qp->group_size, qp->flags, ndim, shape, out);
  if (st) return st;
  memcpy((*out)->scale, qp->scale, sizeof(float) * (size_t)qp->count);
  memcpy((*out)->zero_point, qp->zero_point, sizeof(int32_t) * (size_t)qp->count);
  (*out)->rounding = qp->rounding;
  return CQUANT_STATUS_OK;
}
