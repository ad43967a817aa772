/* Quantize / dequantize / fake-quantize drivers: check arguments, walk the tensor in runs that
 * share parameters, and hand each run to the active ISA's kernel. Threads split the runs. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

static int num_threads = 0;

void cquant_set_num_threads(int n) { num_threads = n > 0 ? n : 0; }
int cquant_get_num_threads(void) { return num_threads > 0 ? num_threads : omp_get_num_procs(); }

#define CHUNK 16384 /* elements per work item for per-tensor runs (64 KiB of float32) */
/* Outputs at least this large are written with non-temporal stores where a kernel has them: they
 * would not stay in the 2 MiB L2 anyway, and streaming skips the read-for-ownership of each line. */
#define STREAM_BYTES ((size_t)8 << 20)

static int is_fp8(cquant_dtype_t dt) { return dt == CQUANT_DT_F8E4M3 || dt == CQUANT_DT_F8E5M2; }

static int container_of(cquant_dtype_t dt) {
  switch (dt) {
    case CQUANT_DT_S8: case CQUANT_DT_S4: case CQUANT_DT_S2: return CQUANT__C_S8;
    case CQUANT_DT_U8: case CQUANT_DT_U4: case CQUANT_DT_U2: return CQUANT__C_U8;
    case CQUANT_DT_S16: return CQUANT__C_S16;
    default: return CQUANT__C_S32;
  }
}
static size_t container_bytes(int c) { return c == CQUANT__C_S16 ? 2 : c == CQUANT__C_S32 ? 4 : 1; }

static int64_t numel(const cquant_qparams_t *qp) {
  int64_t n = 1;
  for (int d = 0; d < qp->ndim; d++) n *= qp->shape[d];
  return n;
}

size_t cquant_quantized_size(const cquant_qparams_t *qp, cquant_layout_t layout) {
  if (!qp) return 0;
  size_t n = (size_t)numel(qp);
  if (is_fp8(qp->dtype)) return n;
  if (layout == CQUANT_LAYOUT_PACKED) return cquant_dtype_packed_size(qp->dtype, n);
  return n * container_bytes(container_of(qp->dtype));
}

/* A run: `n` elements starting at element `off`, using parameter slot `slot` (vec == 0) or the
 * `n` consecutive slots starting at `slot` (vec == 1). */
typedef struct {
  int64_t off, n, slot;
  int vec;
} run_t;

/* The i-th of *count runs of the tensor. Per-tensor runs are CHUNK-sized pieces. */
typedef struct {
  int64_t outer, len, inner, G, ng, n, count;
  cquant_granularity_t g;
} walk_t;

static void walk_init(const cquant_qparams_t *qp, walk_t *w) {
  cquant__split_shape(qp, &w->outer, &w->len, &w->inner);
  w->g = qp->granularity;
  w->n = w->outer * w->len * w->inner;
  w->G = qp->granularity == CQUANT_PER_GROUP ? qp->group_size : 1;
  w->ng = (w->len + w->G - 1) / w->G;
  if (w->g == CQUANT_PER_TENSOR) w->count = (w->n + CHUNK - 1) / CHUNK;
  else if (w->inner > 1) w->count = w->outer * w->len;     /* rows of `inner` */
  else if (w->g == CQUANT_PER_CHANNEL) w->count = w->outer; /* rows of `len`, one slot each */
  else w->count = w->outer * w->ng;                          /* groups on the last axis */
}

static run_t walk_run(const walk_t *w, int64_t i) {
  run_t r;
  if (w->g == CQUANT_PER_TENSOR) {
    r.off = i * CHUNK;
    r.n = w->n - r.off < CHUNK ? w->n - r.off : CHUNK;
    r.slot = 0;
    r.vec = 0;
  } else if (w->inner > 1) {
    int64_t o = i / w->len, a = i % w->len;
    r.off = i * w->inner;
    r.n = w->inner;
    if (w->g == CQUANT_PER_CHANNEL) {
      r.slot = a;
      r.vec = 0;
    } else {
      r.slot = (o * w->ng + a / w->G) * w->inner;
      r.vec = 1;
    }
  } else if (w->g == CQUANT_PER_CHANNEL) {
    r.off = i * w->len;
    r.n = w->len;
    r.slot = 0;
    r.vec = 1;
  } else {
    int64_t o = i / w->ng, gi = i % w->ng;
    r.off = o * w->len + gi * w->G;
    r.n = w->len - gi * w->G < w->G ? w->len - gi * w->G : w->G;
    r.slot = i;
    r.vec = 0;
  }
  return r;
}

static int check_args(const void *a, const void *b, const cquant_qparams_t *qp, const char *what) {
  if (!qp) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: NULL parameters", what);
  if (numel(qp) && (!a || !b)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: NULL buffer", what);
  return cquant_qparams_validate(qp);
}

static int threads_for(int64_t n) { return n >= (1 << 18) ? cquant_get_num_threads() : 1; }

/* ---- quantize ----------------------------------------------------------------------------- */

static void quant_runs(const float *x, const cquant_qparams_t *qp, void *out) {
  const cquant__kernels_t *k = qp->dtype == CQUANT_DT_S32 ? cquant__kernels_for(CQUANT_ISA_REF) : cquant__kernels();
  const int c = container_of(qp->dtype);
  const size_t es = is_fp8(qp->dtype) ? 1 : container_bytes(c);
  walk_t w;
  walk_init(qp, &w);
  const int stream = (size_t)w.n * es >= STREAM_BYTES;
#pragma omp parallel for schedule(static) num_threads(threads_for(w.n))
  for (int64_t i = 0; i < w.count; i++) {
    run_t r = walk_run(&w, i);
    char *q = (char *)out + (size_t)r.off * es;
    if (is_fp8(qp->dtype)) {
      k->fp8_q(x + r.off, (size_t)r.n, qp->scale + r.slot, r.vec, qp->dtype == CQUANT_DT_F8E5M2,
               CQUANT_FP8_SATURATE, qp->rounding, (uint8_t *)q);
    } else if (r.vec) {
      k->q_vec[c](x + r.off, (size_t)r.n, qp->scale + r.slot, qp->zero_point + r.slot, qp->qmin,
                  qp->qmax, qp->rounding, q);
    } else {
      cquant__qrun_t p = {qp->scale[r.slot], qp->zero_point[r.slot], qp->qmin, qp->qmax, qp->rounding, stream};
      k->q_run[c](x + r.off, (size_t)r.n, &p, q);
    }
  }
}

int cquant_quantize(const float *x, const cquant_qparams_t *qp, cquant_layout_t layout, void *q) {
  int st = check_args(x, q, qp, "quantize");
  if (st) return st;
  const cquant_dtype_info_t *info = cquant_dtype_info(qp->dtype);
  if (layout == CQUANT_LAYOUT_PACKED && info->bits < 8) {
    size_t n = (size_t)numel(qp);
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "quantize: out of memory for %zu bytes", n);
    quant_runs(x, qp, tmp);
    cquant__pack_bits(tmp, n, info->bits, (uint8_t *)q);
    free(tmp);
    return CQUANT_STATUS_OK;
  }
  quant_runs(x, qp, q);
  return CQUANT_STATUS_OK;
}

/* ---- dequantize --------------------------------------------------------------------------- */

static int check_range(const void *q, const cquant_qparams_t *qp) {
  const int64_t n = numel(qp);
  const int c = container_of(qp->dtype);
  for (int64_t i = 0; i < n; i++) {
    int64_t v = c == CQUANT__C_S8 ? ((const int8_t *)q)[i]
              : c == CQUANT__C_U8 ? ((const uint8_t *)q)[i]
              : c == CQUANT__C_S16 ? ((const int16_t *)q)[i] : ((const int32_t *)q)[i];
    if (v < qp->qmin || v > qp->qmax)
      return cquant__error(CQUANT_STATUS_OUT_OF_RANGE, "quantized element %lld = %lld lies outside %s [%d, %d]",
                           (long long)i, (long long)v, cquant_dtype_info(qp->dtype)->name, qp->qmin, qp->qmax);
  }
  return CQUANT_STATUS_OK;
}

static void dequant_runs(const void *in, const cquant_qparams_t *qp, float *y) {
  const cquant__kernels_t *k = qp->dtype == CQUANT_DT_S32 ? cquant__kernels_for(CQUANT_ISA_REF) : cquant__kernels();
  const int c = container_of(qp->dtype);
  const size_t es = is_fp8(qp->dtype) ? 1 : container_bytes(c);
  walk_t w;
  walk_init(qp, &w);
  const int stream = (size_t)w.n * sizeof(float) >= STREAM_BYTES;
#pragma omp parallel for schedule(static) num_threads(threads_for(w.n))
  for (int64_t i = 0; i < w.count; i++) {
    run_t r = walk_run(&w, i);
    const char *q = (const char *)in + (size_t)r.off * es;
    if (is_fp8(qp->dtype)) k->fp8_dq((const uint8_t *)q, (size_t)r.n, qp->scale + r.slot, r.vec, qp->dtype == CQUANT_DT_F8E5M2, y + r.off);
    else if (r.vec) k->dq_vec[c](q, (size_t)r.n, qp->scale + r.slot, qp->zero_point + r.slot, y + r.off);
    else k->dq_run[c](q, (size_t)r.n, qp->scale[r.slot], qp->zero_point[r.slot], stream, y + r.off);
  }
}

int cquant_dequantize(const void *q, const cquant_qparams_t *qp, cquant_layout_t layout, float *y) {
  int st = check_args(q, y, qp, "dequantize");
  if (st) return st;
  const cquant_dtype_info_t *info = cquant_dtype_info(qp->dtype);
  if (layout == CQUANT_LAYOUT_PACKED && info->bits < 8) {
    size_t n = (size_t)numel(qp);
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "dequantize: out of memory for %zu bytes", n);
    cquant__unpack_bits((const uint8_t *)q, n, info->bits, info->is_signed, tmp);
    if (qp->flags & CQUANT_QF_NARROW_RANGE) st = check_range(tmp, qp);
    if (!st) dequant_runs(tmp, qp, y);
    free(tmp);
    return st;
  }
  if (!is_fp8(qp->dtype) && (info->bits < 8 || (qp->flags & CQUANT_QF_NARROW_RANGE))) {
    st = check_range(q, qp);
    if (st) return st;
  }
  dequant_runs(q, qp, y);
  return CQUANT_STATUS_OK;
}

/* ---- fake-quantize ------------------------------------------------------------------------ */

int cquant_fake_quantize(const float *x, const cquant_qparams_t *qp, float *y) {
  int st = check_args(x, y, qp, "fake-quantize");
  if (st) return st;
  const cquant__kernels_t *k = qp->dtype == CQUANT_DT_S32 ? cquant__kernels_for(CQUANT_ISA_REF) : cquant__kernels();
  walk_t w;
  walk_init(qp, &w);
  const int stream = (size_t)w.n * sizeof(float) >= STREAM_BYTES;
#pragma omp parallel for schedule(static) num_threads(threads_for(w.n))
  for (int64_t i = 0; i < w.count; i++) {
    run_t r = walk_run(&w, i);
    if (is_fp8(qp->dtype)) { /* encode a chunk into a stack buffer, then decode it */
      uint8_t tmp[CHUNK];
      for (int64_t j = 0; j < r.n; j += CHUNK) {
        size_t m = (size_t)(r.n - j < CHUNK ? r.n - j : CHUNK);
        const float *sc = qp->scale + r.slot + (r.vec ? j : 0);
        k->fp8_q(x + r.off + j, m, sc, r.vec, qp->dtype == CQUANT_DT_F8E5M2, CQUANT_FP8_SATURATE, qp->rounding, tmp);
        k->fp8_dq(tmp, m, sc, r.vec, qp->dtype == CQUANT_DT_F8E5M2, y + r.off + j);
      }
    } else if (r.vec) {
      k->fq_vec(x + r.off, (size_t)r.n, qp->scale + r.slot, qp->zero_point + r.slot, qp->qmin,
                qp->qmax, qp->rounding, y + r.off);
    } else {
      cquant__qrun_t p = {qp->scale[r.slot], qp->zero_point[r.slot], qp->qmin, qp->qmax, qp->rounding, stream};
      k->fq_run(x + r.off, (size_t)r.n, &p, y + r.off);
    }
  }
  return CQUANT_STATUS_OK;
}
