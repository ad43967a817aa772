/* The strided copy the tensor family moves bytes with (Transpose, Slice, Expand, Tile,
 * DepthToSpace, ...), and small shared helpers of the family. Elements are moved by width (1, 2, 4
 * or 8 bytes), never by type. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/quantize.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/tensor_internal.h"

void cquant__tensor_strides(int nd, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d];
  }
}

/* n elements of src, s elements apart, into contiguous dst. */
static void row(char *dst, const char *src, size_t es, int64_t n, int64_t s) {
  if (s == 1) {
    memcpy(dst, src, (size_t)n * es);
    return;
  }
#define ROW(T)                                                                \
  do {                                                                        \
    T *d_ = (T *)dst;                                                         \
    const T *p_ = (const T *)src;                                             \
    for (int64_t i = 0; i < n; i++) d_[i] = p_[i * s];                        \
  } while (0)
  switch (es) {
    case 1: ROW(uint8_t); break;
    case 2: ROW(uint16_t); break;
    case 4: ROW(uint32_t); break;
    case 8: ROW(uint64_t); break;
    default:
      for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, src + i * s * (ptrdiff_t)es, es); /* s may be negative */
  }
#undef ROW
}

/* dst[i * dld + j] = src[i + j * sld] for i < ni, j < nj, in 32 x 32 tiles (reads and writes
 * both stay within a few cache lines per tile). */
static void tile2d(char *dst, int64_t dld, const char *src, int64_t sld, size_t es, int64_t ni, int64_t nj) {
  enum { B = 32 };
#define T2(T)                                                                                     \
  do {                                                                                            \
    T *d_ = (T *)dst;                                                                             \
    const T *p_ = (const T *)src;                                                                 \
    for (int64_t ib = 0; ib < ni; ib += B)                                                        \
      for (int64_t jb = 0; jb < nj; jb += B) {                                                    \
        const int64_t ie = ib + B < ni ? ib + B : ni, je = jb + B < nj ? jb + B : nj;             \
        for (int64_t i = ib; i < ie; i++)                                                         \
          for (int64_t j = jb; j < je; j++) d_[i * dld + j] = p_[i + j * sld];                    \
      }                                                                                           \
  } while (0)
  switch (es) {
    case 1: T2(uint8_t); break;
    case 2: T2(uint16_t); break;
    case 4: T2(uint32_t); break;
    case 8: T2(uint64_t); break;
    default:
      for (int64_t i = 0; i < ni; i++)
        for (int64_t j = 0; j < nj; j++) memcpy(dst + (size_t)(i * dld + j) * es, src + (i + j * sld) * (ptrdiff_t)es, es);
  }
#undef T2
}

/* Rows [u per, (u + 1) per) of cquant__tensor_copy's merged dimensions, a unit of cquant__par_run. */
typedef struct {
  char *y;
  const char *x;
  size_t es;
  int n, p, no;
  int64_t shape[CQUANT__TMAXD], st[CQUANT__TMAXD], dstd[CQUANT__TMAXD];
  int od[CQUANT__TMAXD];
  int64_t rows, per, isplit, iper; /* isplit > 1: unit = (row, run of iper of a transpose's rows i) */
} copy_job_t;

/* The source and destination element offsets of merged row r (its index over the outer dims od). */
static void row_offsets(const copy_job_t *j, int64_t r, int64_t *so, int64_t *dof) {
  int64_t rem = r, a = 0, b = 0;
  for (int k = j->no - 1; k >= 0; k--) {
    const int d = j->od[k];
    const int64_t c = rem % j->shape[d];
    rem /= j->shape[d];
    a += c * j->st[d];
    b += c * j->dstd[d];
  }
  *so = a, *dof = b;
}

static void copy_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const copy_job_t *j = vj;
  const int64_t *shape = j->shape, *st = j->st, *dstd = j->dstd;
  const int n = j->n, p = j->p;
  const size_t es = j->es;
  if (j->isplit > 1) { /* one row of a transpose: its rows i in runs of 32-multiples */
    const int64_t r = u / j->isplit, q = u % j->isplit, ni = shape[p], i0 = q * j->iper, i1 = i0 + j->iper < ni ? i0 + j->iper : ni;
    int64_t so, dof;
    row_offsets(j, r, &so, &dof);
    if (i1 > i0) tile2d(j->y + (size_t)(dof + i0 * dstd[p]) * es, dstd[p], j->x + (so + i0) * (ptrdiff_t)es, st[n - 1], es, i1 - i0, shape[n - 1]);
    return;
  }
  const int64_t r1 = (u + 1) * j->per < j->rows ? (u + 1) * j->per : j->rows;
  for (int64_t r = u * j->per; r < r1; r++) {
    int64_t so, dof;
    row_offsets(j, r, &so, &dof);
    /* so is negative where a stride is (a reversing Slice): a signed offset, not a wrapped size_t */
    if (p >= 0) tile2d(j->y + (size_t)dof * es, dstd[p], j->x + so * (ptrdiff_t)es, st[n - 1], es, shape[p], shape[n - 1]);
    else row(j->y + (size_t)dof * es, j->x + so * (ptrdiff_t)es, es, shape[n - 1], st[n - 1]);
  }
}

void cquant__tensor_copy(void *dst, const void *src, size_t es, int nd, const int64_t *shape_in, const int64_t *stride_in) {
  int64_t shape[CQUANT__TMAXD], st[CQUANT__TMAXD], dstd[CQUANT__TMAXD], total = 1;
  int n = 0;
  for (int d = 0; d < nd; d++)
    if (!shape_in[d]) return;
  for (int d = 0; d < nd; d++) {
    int64_t span;
    total *= shape_in[d];
    if (shape_in[d] == 1) continue;
    if (n && !__builtin_mul_overflow(stride_in[d], shape_in[d], &span) && st[n - 1] == span) { /* contiguous with the dimension outside it: one dimension */
      shape[n - 1] *= shape_in[d];
      st[n - 1] = stride_in[d];
    } else {
      shape[n] = shape_in[d];
      st[n++] = stride_in[d];
    }
  }
  if (!n) {
    memcpy(dst, src, es);
    return;
  }
  cquant__tensor_strides(n, shape, dstd);
  /* a transpose: an outer dimension is contiguous in src while the last one is not */
  int p = -1;
  if (st[n - 1] != 1 && shape[n - 1] >= 4)
    for (int d = n - 2; d >= 0; d--)
      if (st[d] == 1 && shape[d] >= 4) p = d;
  int od[CQUANT__TMAXD], no = 0;
  for (int d = 0; d < n - 1; d++)
    if (d != p) od[no++] = d;
  const int64_t inner = shape[n - 1] * (p >= 0 ? shape[p] : 1), rows = total / inner;
  copy_job_t j = {.y = dst, .x = src, .es = es, .n = n, .p = p, .no = no, .rows = rows};
  memcpy(j.shape, shape, sizeof shape), memcpy(j.st, st, sizeof st), memcpy(j.dstd, dstd, sizeof dstd), memcpy(j.od, od, sizeof od);
  /* 1 MiB or more over the pool, about four runs of rows a thread; each element is one copy */
  const int threads = total * (int64_t)es > (1 << 20) ? cquant_get_num_threads() : 1;
  if (threads > 1 && p >= 0 && rows < 4 * threads) { /* few transposed planes (NCHW <-> NHWC of one image): split their rows */
    const int64_t want = (4 * threads + rows - 1) / rows;
    j.iper = ((shape[p] + want - 1) / want + 31) / 32 * 32;
    j.isplit = (shape[p] + j.iper - 1) / j.iper;
    if (j.isplit > 1) {
      cquant__par_run(threads, rows * j.isplit, copy_unit, &j);
      return;
    }
  }
  j.per = threads > 1 && rows > 1 ? (rows + 4 * threads - 1) / (4 * threads) : rows;
  j.per = j.per < 1 ? 1 : j.per;
  cquant__par_run(rows > 1 ? threads : 1, (rows + j.per - 1) / j.per, copy_unit, &j);
}

int cquant__tensor_index(const Onnx__NodeProto *node, int64_t k, int64_t dim, const char *what, int64_t *out) {
  const int64_t v = k < 0 ? k + dim : k;
  if (v < 0 || v >= dim)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s %lld is out of range for an axis of %lld", what, (long long)k, (long long)dim);
  *out = v;
  return CQUANT_STATUS_OK;
}

int cquant__tensor_need_index(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is missing", what);
  if (a->dtype != CQUANT_DT_S64 && a->dtype != CQUANT_DT_S32)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be int32 or int64, got %s", what, cquant_dtype_info(a->dtype)->name);
  return CQUANT_STATUS_OK;
}

int cquant__tensor_axes(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, int k, int64_t *axes, int *n) {
  const Onnx__AttributeProto *a = cquant__attr(node, "axes");
  *n = -1;
  if (a) return cquant__attr_ints(node, "axes", axes, CQUANT_MAX_DIMS, n);
  if (k < n_in && in[k]) return cquant__read_ints(node, in[k], "axes", axes, CQUANT_MAX_DIMS, n);
  return CQUANT_STATUS_OK;
}

int cquant__tensor_attr_is(const Onnx__NodeProto *node, const char *name, const char *s, int dflt) {
  const Onnx__AttributeProto *a = cquant__attr(node, name);
  if (!a || !a->has_s) return dflt;
  return a->s.len == strlen(s) && !memcmp(a->s.data, s, a->s.len);
}

int cquant__tensor_fail(cquant_array_t *out, int n, int st) {
  for (int i = 0; i < n; i++) cquant_array_free(&out[i]);
  return st;
}

int cquant__tensor_need(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, int n) {
  for (int k = 0; k < n; k++)
    if (k >= n_in || !in[k]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d is missing", k);
  return CQUANT_STATUS_OK;
}
