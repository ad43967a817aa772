/* The sequence and optional operators: SequenceEmpty, SequenceConstruct, SequenceAt,
 * SequenceInsert, SequenceErase, SequenceLength, SplitToSequence, ConcatFromSequence, Optional,
 * OptionalHasElement, OptionalGetElement. Values are containers (see exec_internal.h); every
 * element an operator outputs is its own copy. */
#include <stdlib.h>
#include <string.h>
#include "exec/ops/control_internal.h"

static int need_seq(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a || a->dtype != CQUANT_DT_SEQUENCE) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a sequence", what);
  return CQUANT_STATUS_OK;
}

static int need_tensor(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a || cquant__is_container(a->dtype)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a tensor", what);
  return CQUANT_STATUS_OK;
}

/* A position in [-n, n + extra) made non-negative (extra 1: one past the end is allowed). */
static int position(const Onnx__NodeProto *node, const cquant_array_t *p, int64_t n, int extra, int64_t *out) {
  int64_t v;
  int st = cquant__ctl_scalar_int(node, p, "position", &v);
  if (st) return st;
  if (v < -n || v >= n + extra)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "position %lld is outside [%lld, %lld]", (long long)v, (long long)-n,
                              (long long)(n + extra - 1));
  *out = v < 0 ? v + n : v;
  return CQUANT_STATUS_OK;
}

/* A new sequence of the elements of src (skipping index skip; -1: none) with a copy of ins at index
 * at (-1: none). */
static int seq_edit(const cquant_array_t *src, int64_t skip, const cquant_array_t *ins, int64_t at, cquant_array_t *out) {
  const int64_t n = src->numel - (skip >= 0) + (ins != NULL);
  int st = cquant__seq_alloc(out, n);
  for (int64_t i = 0, j = 0; i <= src->numel && !st; i++) {
    if (ins && i == at) st = cquant__array_copy(ins, &cquant__elems(out)[j++]);
    if (i < src->numel && i != skip && !st) st = cquant__array_copy(&cquant__elems(src)[i], &cquant__elems(out)[j++]);
  }
  if (st) cquant_array_free(out);
  return st;
}

int cquant__op_sequence_empty(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                              int n_out) {
  int st = cquant__ctl_need_run(ctx, node);
  return st ? st : cquant__seq_alloc(&out[0], 0);
}

int cquant__op_sequence_construct(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                                  cquant_array_t *out, int n_out) {
  int st = cquant__ctl_need_run(ctx, node);
  for (int i = 0; i < n_in && !st; i++) {
    if ((st = need_tensor(node, in[i], "every input"))) break;
    if (in[i]->dtype != in[0]->dtype)
      st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d is %s, input 0 %s: one element type is required", i,
                              cquant_dtype_info(in[i]->dtype)->name, cquant_dtype_info(in[0]->dtype)->name);
  }
  if (st) return st;
  if ((st = cquant__seq_alloc(&out[0], n_in))) return st;
  for (int i = 0; i < n_in && !st; i++) st = cquant__array_copy(in[i], &cquant__elems(&out[0])[i]);
  if (st) cquant_array_free(&out[0]);
  return st;
}

int cquant__op_sequence_at(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                           int n_out) {
  int64_t p = 0;
  int st = cquant__ctl_need_run(ctx, node);
  if (st || (st = need_seq(node, in[0], "input_sequence")) || (st = position(node, in[1], in[0]->numel, 0, &p))) return st;
  return cquant__array_copy(&cquant__elems(in[0])[p], &out[0]);
}

int cquant__op_sequence_insert(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                               cquant_array_t *out, int n_out) {
  int64_t p = 0;
  int st = cquant__ctl_need_run(ctx, node);
  if (st || (st = need_seq(node, in[0], "input_sequence")) || (st = need_tensor(node, in[1], "tensor"))) return st;
  if (in[0]->numel && cquant__elems(in[0])[0].dtype != in[1]->dtype)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the tensor is %s, the sequence holds %s", cquant_dtype_info(in[1]->dtype)->name,
                              cquant_dtype_info(cquant__elems(in[0])[0].dtype)->name);
  if (n_in < 3 || !in[2]) p = in[0]->numel;
  else if ((st = position(node, in[2], in[0]->numel, 1, &p))) return st;
  return seq_edit(in[0], -1, in[1], p, &out[0]);
}

int cquant__op_sequence_erase(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                              int n_out) {
  int64_t p = 0;
  int st = cquant__ctl_need_run(ctx, node);
  if (st || (st = need_seq(node, in[0], "input_sequence"))) return st;
  if (n_in < 2 || !in[1]) {
    if (!in[0]->numel) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the sequence is empty");
    p = in[0]->numel - 1;
  } else if ((st = position(node, in[1], in[0]->numel, 0, &p))) return st;
  return seq_edit(in[0], p, NULL, -1, &out[0]);
}

int cquant__op_sequence_length(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                               cquant_array_t *out, int n_out) {
  int st = cquant__ctl_need_run(ctx, node);
  if (st || (st = need_seq(node, in[0], "input_sequence")) || (st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 0, NULL))) return st;
  *(int64_t *)out[0].data = in[0]->numel;
  return CQUANT_STATUS_OK;
}

int cquant__op_split_to_sequence(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                                 cquant_array_t *out, int n_out) {
  int st = cquant__ctl_need_run(ctx, node), axis;
  if (st || (st = need_tensor(node, in[0], "input"))) return st;
  const cquant_array_t *x = in[0];
  if (x->ndim < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input is a scalar");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), x->ndim, &axis))) return st;
  const int64_t dim = x->shape[axis];
  const cquant_array_t *sp = n_in > 1 ? in[1] : NULL;
  int keep = 1;
  int64_t n = 0, chunk = 1;
  if (!sp) {
    n = dim, keep = cquant__attr_int(node, "keepdims", 1) != 0;
  } else {
    if ((st = need_tensor(node, sp, "split"))) return st;
    if (cquant__is_float(sp->dtype) || sp->dtype == CQUANT_DT_BOOL || sp->ndim > 1)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split must be an integer scalar or 1-D tensor");
    if (sp->ndim == 0) {
      chunk = cquant__get_i64(sp, 0);
      if (chunk <= 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split %lld must be positive", (long long)chunk);
      n = dim ? (dim + chunk - 1) / chunk : 0;
    } else {
      int64_t sum = 0;
      n = sp->numel;
      for (int64_t i = 0; i < n; i++) {
        int64_t v = cquant__get_i64(sp, i);
        if (v < 0 || v > dim - sum) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split lengths must be >= 0 and sum to %lld", (long long)dim);
        sum += v;
      }
      if (sum != dim) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "split lengths sum to %lld, not %lld", (long long)sum, (long long)dim);
    }
  }
  if ((st = cquant__seq_alloc(&out[0], n))) return st;
  int64_t outer = 1, start = 0;
  size_t inner = cquant__dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = axis + 1; d < x->ndim; d++) inner *= (size_t)x->shape[d];
  for (int64_t i = 0; i < n && !st; i++) {
    int64_t len = !sp ? 1 : sp->ndim == 0 ? (dim - start < chunk ? dim - start : chunk) : cquant__get_i64(sp, i);
    int64_t shape[CQUANT_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++)
      if (d != axis) shape[nd++] = x->shape[d];
      else if (keep) shape[nd++] = len;
    cquant_array_t *e = &cquant__elems(&out[0])[i];
    if ((st = cquant_array_alloc(e, x->dtype, nd, shape))) break;
    for (int64_t o = 0; o < outer && len; o++)
      memcpy((char *)e->data + (size_t)(o * len) * inner, (const char *)x->data + (size_t)(o * dim + start) * inner, (size_t)len * inner);
    start += len;
  }
  if (st) cquant_array_free(&out[0]);
  return st;
}

int cquant__op_concat_from_sequence(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                                    cquant_array_t *out, int n_out) {
  int st = cquant__ctl_need_run(ctx, node), axis;
  if (st || (st = need_seq(node, in[0], "input_sequence"))) return st;
  const cquant_array_t *s = cquant__elems(in[0]);
  const int64_t n = in[0]->numel;
  if (!n) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the sequence is empty");
  if (!cquant__attr(node, "axis")) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "attribute axis is required");
  const int new_axis = cquant__attr_int(node, "new_axis", 0) != 0, r = s[0].ndim;
  if (r + new_axis < 1 || r + new_axis > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the elements' rank does not fit");
  if ((st = cquant__norm_axis(node, cquant__attr_int(node, "axis", 0), r + new_axis, &axis))) return st;
  int64_t shape[CQUANT_MAX_DIMS], total = 0;
  for (int64_t i = 0; i < n; i++) {
    const cquant_array_t *e = &s[i];
    int same = !cquant__is_container(e->dtype) && e->dtype == s[0].dtype && e->ndim == r;
    for (int d = 0; d < r && same; d++) same = (!new_axis && d == axis) || e->shape[d] == s[0].shape[d];
    if (!same) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "element %lld differs in type, rank or shape from element 0", (long long)i);
    total += new_axis ? 1 : e->shape[axis];
  }
  if (new_axis)
    for (int d = 0, j = 0; d <= r; d++) shape[d] = d == axis ? total : s[0].shape[j++];
  else {
    memcpy(shape, s[0].shape, sizeof(int64_t) * (size_t)r);
    shape[axis] = total;
  }
  if ((st = cquant_array_alloc(&out[0], s[0].dtype, r + new_axis, shape))) return st;
  int64_t outer = 1, off = 0;
  size_t inner = cquant__dtype_size(s[0].dtype);
  for (int d = 0; d < axis; d++) outer *= shape[d];
  for (int d = axis + 1; d < r + new_axis; d++) inner *= (size_t)shape[d];
  for (int64_t i = 0; i < n; i++) {
    const int64_t len = new_axis ? 1 : s[i].shape[axis];
    for (int64_t o = 0; o < outer && len; o++)
      memcpy((char *)out[0].data + (size_t)(o * total + off) * inner, (const char *)s[i].data + (size_t)(o * len) * inner, (size_t)len * inner);
    off += len;
  }
  return CQUANT_STATUS_OK;
}

int cquant__op_optional(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                        int n_out) {
  int st = cquant__ctl_need_run(ctx, node);
  const cquant_array_t *x = n_in > 0 ? in[0] : NULL;
  if (st) return st;
  if (x && x->dtype == CQUANT_DT_OPTIONAL) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input is an optional already");
  if (!x && !cquant__attr(node, "type")) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "without an input, attribute type is required");
  if ((st = cquant__opt_alloc(&out[0], x != NULL))) return st;
  if (x && (st = cquant__array_copy(x, &cquant__elems(&out[0])[0]))) cquant_array_free(&out[0]);
  return st;
}

int cquant__op_optional_has_element(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                                    cquant_array_t *out, int n_out) {
  int st = cquant__ctl_need_run(ctx, node);
  const cquant_array_t *x = n_in > 0 ? in[0] : NULL;
  if (st || (st = cquant_array_alloc(&out[0], CQUANT_DT_BOOL, 0, NULL))) return st;
  /* opset 18: a tensor or sequence has an element, an omitted input has none */
  *(uint8_t *)out[0].data = x && (x->dtype != CQUANT_DT_OPTIONAL || x->numel == 1);
  return CQUANT_STATUS_OK;
}

int cquant__op_optional_get_element(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                                    cquant_array_t *out, int n_out) {
  int st = cquant__ctl_need_run(ctx, node);
  if (st) return st;
  if (!in[0]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the input is missing");
  if (in[0]->dtype != CQUANT_DT_OPTIONAL) return cquant__array_copy(in[0], &out[0]); /* opset 18: a tensor or sequence as it is */
  if (in[0]->numel != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the optional has no value");
  return cquant__array_copy(&cquant__elems(in[0])[0], &out[0]);
}
