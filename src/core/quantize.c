/* Quantize / dequantize / fake-quantize drivers: check arguments, walk the tensor in runs that
 * share parameters, and hand each run to the active ISA's kernel. Threads split the runs. */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "exec/ops/conv_par.h"

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

/* The loops below run on the executor's work-sharing pool (cquant__par_for, conv_par.h), as the
 * operators around them in a model's run do: an OpenMP team's idle worker busy-waits for
 * milliseconds after a region and would take the core the pool's helper needs for the next node. */

/* What every loop below reads: the input, the parameters, the output, the kernels. */
typedef struct {
  const void *x;
  const cquant_qparams_t *qp;
  void *out;
  const cquant__kernels_t *k;
  walk_t w;
  size_t es;
  int c, stream, bits, is_signed;
  _Atomic int64_t bad; /* dequant_packed: the first element outside the range, -1 if none */
} qjob_t;

/* int32 has only the reference kernels (its bounds need 64-bit arithmetic); other types the
 * active ISA's table. */
static const cquant__kernels_t *kernels_for(cquant_dtype_t dt) {
  return dt == CQUANT_DT_S32 ? cquant__kernels_for(CQUANT_ISA_REF) : cquant__kernels();
}

/* ---- quantize ----------------------------------------------------------------------------- */

static void quant_item(const void *v, int64_t i) {
  const qjob_t *j = v;
  const cquant_qparams_t *qp = j->qp;
  const float *x = j->x;
  const run_t r = walk_run(&j->w, i);
  char *q = (char *)j->out + (size_t)r.off * j->es;
  if (is_fp8(qp->dtype)) {
    j->k->fp8_q(x + r.off, (size_t)r.n, qp->scale + r.slot, r.vec, qp->dtype == CQUANT_DT_F8E5M2, CQUANT_FP8_SATURATE, qp->rounding, (uint8_t *)q);
  } else if (r.vec) {
    j->k->q_vec[j->c](x + r.off, (size_t)r.n, qp->scale + r.slot, qp->zero_point + r.slot, qp->qmin, qp->qmax, qp->rounding, q);
  } else {
    cquant__qrun_t p = {qp->scale[r.slot], qp->zero_point[r.slot], qp->qmin, qp->qmax, qp->rounding, j->stream};
    j->k->q_run[j->c](x + r.off, (size_t)r.n, &p, q);
  }
}

static void quant_runs(const float *x, const cquant_qparams_t *qp, void *out) {
  qjob_t j = {.x = x, .qp = qp, .out = out, .k = kernels_for(qp->dtype), .c = container_of(qp->dtype)};
  j.es = is_fp8(qp->dtype) ? 1 : container_bytes(j.c);
  walk_init(qp, &j.w);
  j.stream = (size_t)j.w.n * j.es >= STREAM_BYTES;
  cquant__par_for(threads_for(j.w.n), j.w.count, quant_item, &j);
}

/* ---- packed sub-byte types: blocks of elements, quantized into a small buffer and packed ---- */

#define PACK_BLOCK 16384 /* elements per block; a multiple of 4, so blocks start on whole bytes */

/* The run containing element e: runs tile the tensor in order of their offsets. */
static int64_t run_at(const walk_t *w, int64_t e) {
  int64_t lo = 0, hi = w->count - 1;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) / 2;
    if (walk_run(w, mid).off <= e) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* The pieces of runs that fall inside the element range [b0, b1), in order. */
typedef struct {
  const walk_t *w;
  int64_t b0, b1, ri;
} cursor_t;
typedef struct {
  int64_t s0, s1, slot; /* elements [s0, s1); the slot of s0 (vec: slots advance with elements) */
  int vec;
} piece_t;

static cursor_t pieces_of(const walk_t *w, int64_t b0, int64_t b1) {
  cursor_t c = {w, b0, b1, w->count ? run_at(w, b0) : 0};
  return c;
}

static int next_piece(cursor_t *c, piece_t *p) {
  for (; c->ri < c->w->count; c->ri++) {
    run_t r = walk_run(c->w, c->ri);
    if (r.off >= c->b1) return 0;
    p->s0 = r.off > c->b0 ? r.off : c->b0;
    p->s1 = r.off + r.n < c->b1 ? r.off + r.n : c->b1;
    if (p->s1 <= p->s0) continue;
    p->slot = r.slot + (r.vec ? p->s0 - r.off : 0);
    p->vec = r.vec;
    c->ri++;
    return 1;
  }
  return 0;
}

static void quant_block(const void *v, int64_t b) {
  const qjob_t *j = v;
  const cquant_qparams_t *qp = j->qp;
  const float *x = j->x;
  uint8_t buf[PACK_BLOCK];
  const int64_t b0 = b * PACK_BLOCK, b1 = b0 + PACK_BLOCK < j->w.n ? b0 + PACK_BLOCK : j->w.n;
  cursor_t cur = pieces_of(&j->w, b0, b1);
  piece_t pc;
  while (next_piece(&cur, &pc)) {
    uint8_t *q = buf + (pc.s0 - b0);
    const size_t m = (size_t)(pc.s1 - pc.s0);
    if (pc.vec) {
      j->k->q_vec[j->c](x + pc.s0, m, qp->scale + pc.slot, qp->zero_point + pc.slot, qp->qmin, qp->qmax, qp->rounding, q);
    } else {
      cquant__qrun_t p = {qp->scale[pc.slot], qp->zero_point[pc.slot], qp->qmin, qp->qmax, qp->rounding, 0};
      j->k->q_run[j->c](x + pc.s0, m, &p, q);
    }
  }
  cquant__pack_bits(buf, (size_t)(b1 - b0), j->bits, (uint8_t *)j->out + b0 * j->bits / 8);
}

static void quant_packed(const float *x, const cquant_qparams_t *qp, int bits, uint8_t *out) {
  qjob_t j = {.x = x, .qp = qp, .out = out, .k = cquant__kernels(), .c = container_of(qp->dtype), .bits = bits};
  walk_init(qp, &j.w);
  cquant__par_for(threads_for(j.w.n), (j.w.n + PACK_BLOCK - 1) / PACK_BLOCK, quant_block, &j);
}

int cquant_quantize(const float *x, const cquant_qparams_t *qp, cquant_layout_t layout, void *q) {
  int st = check_args(x, q, qp, "quantize");
  if (st) return st;
  const cquant_dtype_info_t *info = cquant_dtype_info(qp->dtype);
  if (layout == CQUANT_LAYOUT_PACKED && info->bits < 8) quant_packed(x, qp, info->bits, (uint8_t *)q);
  else quant_runs(x, qp, q);
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

static void dequant_item(const void *v, int64_t i) {
  const qjob_t *j = v;
  const cquant_qparams_t *qp = j->qp;
  float *y = j->out;
  const run_t r = walk_run(&j->w, i);
  const char *q = (const char *)j->x + (size_t)r.off * j->es;
  if (is_fp8(qp->dtype)) j->k->fp8_dq((const uint8_t *)q, (size_t)r.n, qp->scale + r.slot, r.vec, qp->dtype == CQUANT_DT_F8E5M2, y + r.off);
  else if (r.vec) j->k->dq_vec[j->c](q, (size_t)r.n, qp->scale + r.slot, qp->zero_point + r.slot, y + r.off);
  else j->k->dq_run[j->c](q, (size_t)r.n, qp->scale[r.slot], qp->zero_point[r.slot], j->stream, y + r.off);
}

static void dequant_runs(const void *in, const cquant_qparams_t *qp, float *y) {
  qjob_t j = {.x = in, .qp = qp, .out = y, .k = kernels_for(qp->dtype), .c = container_of(qp->dtype)};
  j.es = is_fp8(qp->dtype) ? 1 : container_bytes(j.c);
  walk_init(qp, &j.w);
  j.stream = (size_t)j.w.n * sizeof(float) >= STREAM_BYTES;
  cquant__par_for(threads_for(j.w.n), j.w.count, dequant_item, &j);
}

static void dequant_block(const void *job, int64_t b) {
  qjob_t *j = (qjob_t *)job; /* bad is the one field written */
  const cquant_qparams_t *qp = j->qp;
  float *y = j->out;
  uint8_t buf[PACK_BLOCK];
  const int64_t b0 = b * PACK_BLOCK, b1 = b0 + PACK_BLOCK < j->w.n ? b0 + PACK_BLOCK : j->w.n;
  cquant__unpack_bits((const uint8_t *)j->x + b0 * j->bits / 8, (size_t)(b1 - b0), j->bits, j->is_signed, buf);
  for (int64_t i = 0; i < b1 - b0; i++) {
    const int32_t v = j->is_signed ? (int8_t)buf[i] : buf[i];
    if (v < qp->qmin || v > qp->qmax) { /* keep the first such element of the tensor */
      int64_t seen = atomic_load(&j->bad);
      while ((seen < 0 || b0 + i < seen) && !atomic_compare_exchange_weak(&j->bad, &seen, b0 + i)) {}
      break;
    }
  }
  cursor_t cur = pieces_of(&j->w, b0, b1);
  piece_t pc;
  while (next_piece(&cur, &pc)) {
    const uint8_t *q = buf + (pc.s0 - b0);
    const size_t m = (size_t)(pc.s1 - pc.s0);
    if (pc.vec) j->k->dq_vec[j->c](q, m, qp->scale + pc.slot, qp->zero_point + pc.slot, y + pc.s0);
    else j->k->dq_run[j->c](q, m, qp->scale[pc.slot], qp->zero_point[pc.slot], 0, y + pc.s0);
  }
}

/* Packed input: unpack a block, check it (narrow range can hold -2^(b-1)), dequantize its pieces. */
static int dequant_packed(const uint8_t *in, const cquant_qparams_t *qp, int bits, int is_signed, float *y) {
  qjob_t j = {.x = in, .qp = qp, .out = y, .k = cquant__kernels(), .c = container_of(qp->dtype), .bits = bits, .is_signed = is_signed, .bad = -1};
  walk_init(qp, &j.w);
  cquant__par_for(threads_for(j.w.n), (j.w.n + PACK_BLOCK - 1) / PACK_BLOCK, dequant_block, &j);
  const int64_t bad = atomic_load(&j.bad);
  if (bad >= 0)
    return cquant__error(CQUANT_STATUS_OUT_OF_RANGE, "packed element %lld lies outside the narrow range [%d, %d]",
                         (long long)bad, qp->qmin, qp->qmax);
  return CQUANT_STATUS_OK;
}

int cquant_dequantize(const void *q, const cquant_qparams_t *qp, cquant_layout_t layout, float *y) {
  int st = check_args(q, y, qp, "dequantize");
  if (st) return st;
  const cquant_dtype_info_t *info = cquant_dtype_info(qp->dtype);
  if (layout == CQUANT_LAYOUT_PACKED && info->bits < 8)
    return dequant_packed((const uint8_t *)q, qp, info->bits, info->is_signed, y);
  if (!is_fp8(qp->dtype) && (info->bits < 8 || (qp->flags & CQUANT_QF_NARROW_RANGE))) {
    st = check_range(q, qp);
    if (st) return st;
  }
  dequant_runs(q, qp, y);
  return CQUANT_STATUS_OK;
}

/* ---- fake-quantize ------------------------------------------------------------------------ */

static void fq_item(const void *v, int64_t i) {
  const qjob_t *j = v;
  const cquant_qparams_t *qp = j->qp;
  const float *x = j->x;
  float *y = j->out;
  const run_t r = walk_run(&j->w, i);
  if (is_fp8(qp->dtype)) { /* encode a chunk into a stack buffer, then decode it */
    uint8_t tmp[CHUNK];
    for (int64_t k = 0; k < r.n; k += CHUNK) {
      size_t m = (size_t)(r.n - k < CHUNK ? r.n - k : CHUNK);
      const float *sc = qp->scale + r.slot + (r.vec ? k : 0);
      j->k->fp8_q(x + r.off + k, m, sc, r.vec, qp->dtype == CQUANT_DT_F8E5M2, CQUANT_FP8_SATURATE, qp->rounding, tmp);
      j->k->fp8_dq(tmp, m, sc, r.vec, qp->dtype == CQUANT_DT_F8E5M2, y + r.off + k);
    }
  } else if (r.vec) {
    j->k->fq_vec(x + r.off, (size_t)r.n, qp->scale + r.slot, qp->zero_point + r.slot, qp->qmin, qp->qmax, qp->rounding, y + r.off);
  } else {
    cquant__qrun_t p = {qp->scale[r.slot], qp->zero_point[r.slot], qp->qmin, qp->qmax, qp->rounding, j->stream};
    j->k->fq_run(x + r.off, (size_t)r.n, &p, y + r.off);
  }
}

int cquant_fake_quantize(const float *x, const cquant_qparams_t *qp, float *y) {
  int st = check_args(x, y, qp, "fake-quantize");
  if (st) return st;
  qjob_t j = {.x = x, .qp = qp, .out = y, .k = kernels_for(qp->dtype)};
  walk_init(qp, &j.w);
  j.stream = (size_t)j.w.n * sizeof(float) >= STREAM_BYTES;
  cquant__par_for(threads_for(j.w.n), j.w.count, fq_item, &j);
  return CQUANT_STATUS_OK;
}
