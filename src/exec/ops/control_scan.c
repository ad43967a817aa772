/* Scan: opset 8 (sequence_lens, a batch axis first, directions) and opset 9+ (scan_input_axes and
 * _directions, scan_output_axes and _directions). The body runs once per position of the scanned
 * axis with the state variables carried from one step to the next. */
#include <stdlib.h>
#include <string.h>
#include "exec/ops/control_internal.h"

#define SCAN_MAX 64

static void split_at(const cquant_array_t *a, int axis, int64_t *outer, size_t *inner) {
  int64_t o = 1, in = 1;
  for (int d = 0; d < axis; d++) o *= a->shape[d];
  for (int d = axis + 1; d < a->ndim; d++) in *= a->shape[d];
  *outer = o;
  *inner = (size_t)in * cquant__dtype_size(a->dtype);
}

int cquant__ctl_take(const cquant_array_t *a, int axis, int64_t idx, cquant_array_t *out) {
  int64_t shape[CQUANT_MAX_DIMS], outer;
  size_t inner;
  for (int d = 0, j = 0; d < a->ndim; d++)
    if (d != axis) shape[j++] = a->shape[d];
  int st = cquant_array_alloc(out, a->dtype, a->ndim - 1, shape);
  if (st) return st;
  split_at(a, axis, &outer, &inner);
  for (int64_t o = 0; o < outer; o++)
    memcpy((char *)out->data + (size_t)o * inner, (const char *)a->data + ((size_t)o * (size_t)a->shape[axis] + (size_t)idx) * inner, inner);
  return CQUANT_STATUS_OK;
}

void cquant__ctl_put(cquant_array_t *dst, int axis, int64_t idx, const cquant_array_t *src) {
  int64_t outer;
  size_t inner;
  split_at(dst, axis, &outer, &inner);
  for (int64_t o = 0; o < outer; o++)
    memcpy((char *)dst->data + ((size_t)o * (size_t)dst->shape[axis] + (size_t)idx) * inner, (const char *)src->data + (size_t)o * inner, inner);
}

/* One scan over len steps: N states, M scan inputs (scanned along in_axis, reversed where in_dir),
 * K scan outputs (stacked along out_axis, reversed where out_dir). out: N final states, then K
 * scan outputs. */
static int scan_run(cquant__opctx_t *ctx, const Onnx__NodeProto *node, int N, const cquant_array_t *const *states, int M,
                    const cquant_array_t *const *scans, const int *in_axis, const int64_t *in_dir, int K, const int64_t *out_axis_attr,
                    const int64_t *out_dir, int64_t len, cquant_array_t *out) {
  const cquant_array_t *body_in[2 * SCAN_MAX] = {0};
  /* on the heap: a subgraph may hold another Scan, and each level runs on the stack */
  cquant_array_t *cur = calloc(4 * SCAN_MAX, sizeof *cur), *slice = cur + SCAN_MAX, *body_out = cur + 2 * SCAN_MAX;
  int st = cur ? CQUANT_STATUS_OK : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"), owned = 0, out_axis[SCAN_MAX] = {0};
  if (st) len = 0, N = 0, K = 0;
  for (int64_t t = 0; t < len && !st; t++) {
    for (int j = 0; j < M && !st; j++) st = cquant__ctl_take(scans[j], in_axis[j], in_dir[j] ? len - 1 - t : t, &slice[j]);
    for (int i = 0; i < N; i++) body_in[i] = owned ? &cur[i] : states[i];
    for (int j = 0; j < M; j++) body_in[N + j] = &slice[j];
    if (!st) st = cquant__subgraph_run(ctx, node, "body", N + M, body_in, N + K, body_out);
    for (int j = 0; j < M; j++) cquant_array_free(&slice[j]);
    if (st) break;
    for (int i = 0; i < N; i++) {
      if (owned) cquant_array_free(&cur[i]);
      cur[i] = body_out[i];
    }
    owned = 1;
    for (int k = 0; k < K && !st; k++) {
      const cquant_array_t *e = &body_out[N + k];
      if (cquant__is_container(e->dtype) || e->ndim + 1 > CQUANT_MAX_DIMS) {
        st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "scan output %d must be a tensor of rank < %d", k, CQUANT_MAX_DIMS);
        break;
      }
      cquant_array_t *o = &out[N + k];
      if (t == 0) {
        if ((st = cquant__norm_axis(node, out_axis_attr ? out_axis_attr[k] : 0, e->ndim + 1, &out_axis[k]))) break;
        int64_t shape[CQUANT_MAX_DIMS];
        for (int d = 0, j = 0; d <= e->ndim; d++) shape[d] = d == out_axis[k] ? len : e->shape[j++];
        if ((st = cquant_array_alloc(o, e->dtype, e->ndim + 1, shape))) break;
      } else {
        int same = o->dtype == e->dtype && o->ndim == e->ndim + 1;
        for (int d = 0, j = 0; d < o->ndim && same; d++)
          if (d != out_axis[k]) same = o->shape[d] == e->shape[j++];
        if (!same) {
          st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scan output %d changes its type or shape at step %lld", k, (long long)t);
          break;
        }
      }
      cquant__ctl_put(o, out_axis[k], out_dir && out_dir[k] ? len - 1 - t : t, e);
    }
    for (int k = 0; k < K; k++) cquant_array_free(&body_out[N + k]);
  }
  for (int i = 0; i < N && !st; i++) {
    if (owned) out[i] = cur[i], memset(&cur[i], 0, sizeof cur[i]);
    else st = cquant__array_copy(states[i], &out[i]);
  }
  for (int k = 0; k < K && !st && len == 0; k++) {
    int64_t zero = 0;
    st = cquant_array_alloc(&out[N + k], CQUANT_DT_F32, 1, &zero);
  }
  for (int i = 0; owned && i < N; i++) cquant_array_free(&cur[i]);
  free(cur);
  if (st)
    for (int i = 0; i < N + K; i++) cquant_array_free(&out[i]);
  return st;
}

/* Attribute list of n entries (absent: zeros); bad length is an error. */
static int attr_list(const Onnx__NodeProto *node, const char *name, int n, int64_t *v) {
  int got;
  memset(v, 0, sizeof *v * SCAN_MAX);
  if (cquant__attr_ints(node, name, v, SCAN_MAX, &got)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is too long", name);
  if (got >= 0 && got != n) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has %d entries, %d expected", name, got, n);
  if (got < 0) memset(v, 0, sizeof *v * SCAN_MAX);
  return CQUANT_STATUS_OK;
}

int cquant__op_scan(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                    int n_out) {
  int st = cquant__ctl_need_run(ctx, node), bi, bo;
  if (st) return st;
  if (cquant__subgraph_arity(ctx, "body", &bi, &bo)) return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "body (a graph) is required");
  const int v8 = cquant__opset(ctx) < 9, first = v8 ? 1 : 0;
  const int64_t Ma = cquant__attr_int(node, "num_scan_inputs", -1);
  const int M = Ma > 0 && Ma <= SCAN_MAX ? (int)Ma : -1, N = n_in - first - M, K = n_out - N;
  if (M < 1 || N < 0 || K < 0 || N > SCAN_MAX || K > SCAN_MAX || bi != N + M || bo != N + K)
    return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "num_scan_inputs %lld, %d inputs, %d outputs and a body of %d inputs and %d outputs do not fit",
                              (long long)Ma, n_in, n_out, bi, bo);
  for (int i = first; i < n_in; i++)
    if (!in[i] || cquant__is_container(in[i]->dtype)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d must be a tensor", i);
  int64_t in_dir[SCAN_MAX], out_dir[SCAN_MAX], in_axes[SCAN_MAX], out_axes[SCAN_MAX];
  int axis[SCAN_MAX];
  if ((st = attr_list(node, v8 ? "directions" : "scan_input_directions", M, in_dir))) return st;
  if (!v8 && ((st = attr_list(node, "scan_output_directions", K, out_dir)) || (st = attr_list(node, "scan_input_axes", M, in_axes)) ||
              (st = attr_list(node, "scan_output_axes", K, out_axes))))
    return st;
  const cquant_array_t *const *states = in + first, *const *scans = in + first + N;
  if (!v8) {
    int64_t len = -1;
    for (int j = 0; j < M; j++) {
      if ((st = cquant__norm_axis(node, in_axes[j], scans[j]->ndim, &axis[j]))) return st;
      if (len >= 0 && scans[j]->shape[axis[j]] != len)
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the scan inputs have different lengths along their scan axes");
      len = scans[j]->shape[axis[j]];
    }
    return scan_run(ctx, node, N, states, M, scans, axis, in_dir, K, out_axes, out_dir, len, out);
  }
  /* opset 8: axis 0 is the batch, axis 1 the sequence; sequence_lens (optional) per batch entry */
  int64_t B = -1, T = -1;
  for (int i = 0; i < N + M; i++) {
    const cquant_array_t *a = in[first + i];
    if (a->ndim < (i < N ? 1 : 2)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d lacks the batch (and sequence) axis", first + i);
    if (B >= 0 && a->shape[0] != B) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the inputs have different batch sizes");
    B = a->shape[0];
    if (i >= N) {
      if (T >= 0 && a->shape[1] != T) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the scan inputs have different lengths");
      T = a->shape[1];
    }
  }
  if (in[0] && (cquant__is_container(in[0]->dtype) || cquant__is_float(in[0]->dtype) || in[0]->ndim != 1 || in[0]->shape[0] != B))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sequence_lens must be an integer tensor of shape [batch]");
  for (int j = 0; j < M; j++) axis[j] = 0;
  cquant_array_t *part_in = calloc(4 * SCAN_MAX, sizeof *part_in), *part_out = part_in ? part_in + 2 * SCAN_MAX : NULL;
  const cquant_array_t *pin[2 * SCAN_MAX];
  if (!part_in) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t b = 0; b < B && !st; b++) {
    int64_t len = in[0] ? cquant__get_i64(in[0], b) : T;
    if (len < 0 || len > T) {
      st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)b, (long long)len, (long long)T);
      break;
    }
    for (int i = 0; i < N + M && !st; i++) st = cquant__ctl_take(in[first + i], 0, b, &part_in[i]), pin[i] = &part_in[i];
    /* a shorter sequence: its first len steps, as a tensor of that length */
    for (int j = 0; j < M && !st && len < T; j++) {
      cquant_array_t *a = &part_in[N + j];
      a->shape[0] = len;
      a->numel = len ? a->numel / T * len : 0;
      a->nbytes = len ? a->nbytes / (size_t)T * (size_t)len : 0;
    }
    if (!st) st = scan_run(ctx, node, N, pin, M, pin + N, axis, in_dir, K, NULL, NULL, len, part_out);
    for (int i = 0; i < N + M; i++) cquant_array_free(&part_in[i]);
    for (int i = 0; i < N + K && !st; i++) {
      cquant_array_t *e = &part_out[i];
      if (i >= N && len == 0) continue; /* nothing to place */
      if (b == 0 || (i >= N && !out[i].data)) {
        int64_t shape[CQUANT_MAX_DIMS];
        if (e->ndim + 1 > CQUANT_MAX_DIMS) { st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "an output has too many dimensions"); break; }
        shape[0] = B;
        memcpy(shape + 1, e->shape, sizeof(int64_t) * (size_t)e->ndim);
        if (i >= N) shape[1] = T;
        if ((st = cquant_array_alloc(&out[i], e->dtype, e->ndim + 1, shape))) break;
      }
      const cquant_array_t *o = &out[i];
      int same = o->dtype == e->dtype && o->ndim == e->ndim + 1;
      for (int d = 0; d < e->ndim && same; d++) same = o->shape[d + 1] == e->shape[d] || (i >= N && d == 0);
      if (!same) { st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "output %d differs in type or shape across the batch", i); break; }
      memcpy((char *)o->data + (size_t)b * (o->nbytes / (size_t)B), e->data, e->nbytes);
    }
    for (int i = 0; i < N + K; i++) cquant_array_free(&part_out[i]);
  }
  free(part_in);
  for (int i = 0; i < N && !st && B == 0; i++) st = cquant__array_copy(in[first + i], &out[i]); /* an empty batch */
  for (int k = N; k < N + K && !st; k++)
    if (!out[k].data) {
      int64_t shape[2] = {B, T};
      st = cquant_array_alloc(&out[k], CQUANT_DT_F32, 2, shape);
    }
  if (st)
    for (int i = 0; i < n_out; i++) cquant_array_free(&out[i]);
  return st;
}
