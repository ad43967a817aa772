/* Pad (modes constant, reflect, edge, wrap; negative pads crop) and CenterCropPad, for every
 * element type. Each output axis maps to an input index (or -1: the constant) through a table;
 * rows of the last axis copy their inner run with memcpy. */
#include <stdlib.h>
#include <string.h>
#include "cquant/quantize.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/tensor_internal.h"

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

/* The output of x padded by pb/pe per axis (negative: crop first), the rest of an axis mapped by
 * mode, constant elements equal to the es bytes at value. */
/* Output rows [u per, (u + 1) per) of pad_run (rows of the last axis), a unit of cquant__par_run. */
typedef struct {
  char *y;
  const char *x;
  const void *value;
  size_t es;
  int nd;
  int64_t *map[CQUANT_MAX_DIMS], shape[CQUANT_MAX_DIMS], xs[CQUANT_MAX_DIMS];
  int64_t L, r0, r1, rows, per;
} pad_job_t;

static void pad_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const pad_job_t *j = vj;
  const int64_t L = j->L, r0 = j->r0, r1 = j->r1, *ml = j->map[j->nd - 1], end = (u + 1) * j->per < j->rows ? (u + 1) * j->per : j->rows;
  const size_t es = j->es;
  for (int64_t r = u * j->per; r < end; r++) {
    int64_t rem = r, so = 0;
    int inside = 1;
    for (int d = j->nd - 2; d >= 0; d--) {
      const int64_t m = j->map[d][rem % j->shape[d]];
      rem /= j->shape[d];
      if (m < 0) inside = 0;
      so += m * j->xs[d];
    }
    char *yr = j->y + (size_t)(r * L) * es;
    if (!inside) {
      for (int64_t k = 0; k < L; k++) memcpy(yr + (size_t)k * es, j->value, es);
      continue;
    }
    const char *xr = j->x + (size_t)so * es;
    for (int64_t k = 0; k < L; k++) {
      if (k == r0 && r1 > r0) {
        memcpy(yr + (size_t)k * es, xr + (size_t)ml[k] * es, (size_t)(r1 - r0) * es);
        k = r1 - 1;
        continue;
      }
      memcpy(yr + (size_t)k * es, ml[k] < 0 ? (const char *)j->value : xr + (size_t)ml[k] * es, es);
    }
  }
}

static int pad_run(const Onnx__NodeProto *node, const cquant_array_t *x, const int64_t *pb, const int64_t *pe, int mode, const void *value, cquant_array_t *out) {
  const int nd = x->ndim;
  int64_t shape[CQUANT_MAX_DIMS], xs[CQUANT_MAX_DIMS], *map[CQUANT_MAX_DIMS] = {0};
  int st;
  for (int d = 0; d < nd; d++) {
    const int64_t n = x->shape[d];
    const int bad = pb[d] > INT32_MAX || pe[d] > INT32_MAX || pb[d] < -n || pe[d] < -n;
    const int64_t cb = !bad && pb[d] < 0 ? -pb[d] : 0, ce = !bad && pe[d] < 0 ? -pe[d] : 0;
    if (bad || n - cb - ce < 0)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "pads %lld, %lld do not fit an axis of %lld", (long long)pb[d], (long long)pe[d], (long long)n);
    shape[d] = n + pb[d] + pe[d];
    if (mode != PAD_CONSTANT && n - cb - ce == 0 && shape[d] > 0)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot pad an empty axis in this mode");
  }
  if ((st = cquant_array_alloc(out, x->dtype, nd, shape))) return st;
  if (!out->numel) return CQUANT_STATUS_OK;
  const size_t es = cquant__dtype_size(x->dtype);
  if (!nd) {
    memcpy(out->data, x->data, es);
    return CQUANT_STATUS_OK;
  }
  for (int d = 0; d < nd; d++) {
    if (!(map[d] = malloc(sizeof(int64_t) * (size_t)shape[d]))) {
      for (int k = 0; k < d; k++) free(map[k]);
      cquant_array_free(out);
      return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const int64_t cb = pb[d] < 0 ? -pb[d] : 0, ce = pe[d] < 0 ? -pe[d] : 0, nc = x->shape[d] - cb - ce, pp = pb[d] > 0 ? pb[d] : 0;
    for (int64_t o = 0; o < shape[d]; o++) {
      int64_t c = o - pp;
      if (c < 0 || c >= nc) {
        if (mode == PAD_CONSTANT) c = -1;
        else if (mode == PAD_EDGE) c = c < 0 ? 0 : nc - 1;
        else if (mode == PAD_WRAP) c = ((c % nc) + nc) % nc;
        else if (nc == 1) c = 0;
        else { /* reflect without repeating the edge: period 2 (nc - 1) */
          const int64_t per = 2 * (nc - 1);
          c = ((c % per) + per) % per;
          if (c >= nc) c = per - c;
        }
      }
      map[d][o] = c < 0 ? -1 : c + cb;
    }
  }
  cquant__tensor_strides(nd, x->shape, xs);
  const int64_t L = shape[nd - 1], rows = out->numel / L;
  const int64_t *ml = map[nd - 1];
  /* the run of the last axis that maps to consecutive input elements */
  int64_t r0 = pb[nd - 1] > 0 ? pb[nd - 1] : 0, r1 = r0;
  while (r1 < L && ml[r1] >= 0 && ml[r1] == ml[r0] + (r1 - r0)) r1++;
  pad_job_t j = {.y = out->data, .x = x->data, .value = value, .es = es, .nd = nd, .L = L, .r0 = r0, .r1 = r1, .rows = rows};
  memcpy(j.map, map, sizeof map), memcpy(j.shape, shape, sizeof shape), memcpy(j.xs, xs, sizeof xs);
  /* 2^17 elements or more over the pool, about four runs of rows a thread */
  const int threads = out->numel >= (1 << 17) && rows > 1 ? cquant_get_num_threads() : 1;
  j.per = threads > 1 ? (rows + 4 * threads - 1) / (4 * threads) : rows;
  j.per = j.per < 1 ? 1 : j.per;
  cquant__par_run(threads, (rows + j.per - 1) / j.per, pad_unit, &j);
  for (int d = 0; d < nd; d++) free(map[d]);
  return CQUANT_STATUS_OK;
}

int cquant__op_pad(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 1)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  const int nd = x->ndim;
  int mode = PAD_CONSTANT, st;
  const Onnx__AttributeProto *m = cquant__attr(node, "mode");
  if (m && m->has_s) {
    if (cquant__tensor_attr_is(node, "mode", "reflect", 0)) mode = PAD_REFLECT;
    else if (cquant__tensor_attr_is(node, "mode", "edge", 0)) mode = PAD_EDGE;
    else if (cquant__tensor_attr_is(node, "mode", "wrap", 0)) mode = PAD_WRAP;
    else if (!cquant__tensor_attr_is(node, "mode", "constant", 0))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "mode '%.*s' is not one of constant, reflect, edge, wrap", (int)(m->s.len > 32 ? 32 : m->s.len),
                                (const char *)m->s.data);
  }
  int64_t raw[2 * CQUANT_MAX_DIMS], axes[CQUANT_MAX_DIMS], pb[CQUANT_MAX_DIMS] = {0}, pe[CQUANT_MAX_DIMS] = {0};
  int np = -1, na = -1;
  const char *pname = cquant__attr(node, "pads") ? "pads" : cquant__attr(node, "paddings") ? "paddings" : NULL;
  if (pname) {
    if ((st = cquant__attr_ints(node, pname, raw, 2 * CQUANT_MAX_DIMS, &np))) return st;
  } else if (n_in > 1 && in[1]) {
    if ((st = cquant__read_ints(node, in[1], "pads", raw, 2 * CQUANT_MAX_DIMS, &np))) return st;
  } else {
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "pads are missing");
  }
  if (n_in > 3 && in[3]) {
    if ((st = cquant__read_ints(node, in[3], "axes", axes, CQUANT_MAX_DIMS, &na))) return st;
  } else {
    na = nd;
    for (int d = 0; d < nd; d++) axes[d] = d;
  }
  if (np != 2 * na) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "pads has %d values for %d axes", np, na);
  for (int i = 0; i < na; i++) {
    int ax;
    if ((st = cquant__norm_axis(node, axes[i], nd, &ax))) return st;
    if (!nd) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "cannot pad a scalar");
    pb[ax] = raw[i];
    pe[ax] = raw[i + na];
  }
  /* the constant: the value attribute (before opset 11) or the constant_value input, as x's type */
  cquant_array_t v;
  if ((st = cquant_array_alloc(&v, x->dtype, 0, NULL))) return st;
  const cquant_array_t *cv = n_in > 2 ? in[2] : NULL;
  if (cv && cv->numel) {
    if (cv->numel != 1) {
      cquant_array_free(&v);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "constant_value must hold one element");
    }
    if (cv->dtype == x->dtype) memcpy(v.data, cv->data, v.nbytes);
    else if (cquant__is_float(cv->dtype)) cquant__set_f64(&v, 0, cquant__get_f64(cv, 0));
    else cquant__set_i64(&v, 0, cquant__get_i64(cv, 0));
  } else if (cquant__attr(node, "value")) {
    cquant__set_f64(&v, 0, cquant__attr_float(node, "value", 0.0f));
  }
  st = pad_run(node, x, pb, pe, mode, v.data, &out[0]);
  cquant_array_free(&v);
  return st;
}

/* CenterCropPad (opset 18): each listed axis cropped or zero-padded to its size, centred (the
 * extra element of an odd difference at the end). */
int cquant__op_center_crop_pad(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  if (cquant__tensor_need(node, in, n_in, 2)) return CQUANT_STATUS_INVALID_ARGUMENT;
  const cquant_array_t *x = in[0];
  int64_t shape[CQUANT_MAX_DIMS], axes[CQUANT_MAX_DIMS], pb[CQUANT_MAX_DIMS] = {0}, pe[CQUANT_MAX_DIMS] = {0};
  int ns, na, st, seen[CQUANT_MAX_DIMS] = {0};
  if ((st = cquant__read_ints(node, in[1], "shape", shape, CQUANT_MAX_DIMS, &ns))) return st;
  if ((st = cquant__attr_ints(node, "axes", axes, CQUANT_MAX_DIMS, &na))) return st;
  if (na < 0) {
    na = x->ndim;
    for (int d = 0; d < na; d++) axes[d] = d;
  }
  if (ns != na) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shape has %d values for %d axes", ns, na);
  for (int i = 0; i < na; i++) {
    int ax;
    if ((st = cquant__norm_axis(node, axes[i], x->ndim, &ax))) return st;
    if (!x->ndim || seen[ax]++) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis %lld is repeated or the input is a scalar", (long long)axes[i]);
    if (shape[i] < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "shape[%d] = %lld is negative", i, (long long)shape[i]);
    const int64_t diff = shape[i] - x->shape[ax]; /* > 0: pad, < 0: crop */
    pb[ax] = diff >= 0 ? diff / 2 : -((-diff) / 2);
    pe[ax] = diff - pb[ax];
  }
  cquant_array_t v;
  if ((st = cquant_array_alloc(&v, x->dtype, 0, NULL))) return st;
  st = pad_run(node, x, pb, pe, PAD_CONSTANT, v.data, &out[0]);
  cquant_array_free(&v);
  return st;
}
