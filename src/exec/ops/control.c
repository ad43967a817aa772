/* Operators of the control family (see exec_internal.h): If, Loop, Scan and SequenceMap run their
 * subgraphs through the executor (cquant__subgraph_run); the sequence and optional operators are in
 * control_seq.c. */
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "exec/ops/control_internal.h"

/* Loop guards: past these a model is taken for a runaway loop. The iteration cap is a variable so
 * that the fuzz harnesses can lower it (a mutated trip count must not stall them). */
int cquant__loop_max_iters_log2 = 31;
#define LOOP_MAX_ITERS ((int64_t)1 << cquant__loop_max_iters_log2)
#define LOOP_MAX_BYTES ((int64_t)1 << 40)

int cquant__ctl_need_run(cquant__opctx_t *ctx, const Onnx__NodeProto *node) {
  if (!ctx || !ctx->m || !ctx->scope) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "runs only inside a model run");
  return CQUANT_STATUS_OK;
}

int cquant__ctl_scalar_bool(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int *out) {
  if (!a || cquant__is_container(a->dtype) || a->numel != 1)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a tensor of one element", what);
  *out = a->dtype == CQUANT_DT_BOOL ? ((const uint8_t *)a->data)[0] != 0 : cquant__get_f64(a, 0) != 0;
  return CQUANT_STATUS_OK;
}

int cquant__ctl_scalar_int(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int64_t *out) {
  if (!a || cquant__is_container(a->dtype) || a->numel != 1 || cquant__is_float(a->dtype) || a->dtype == CQUANT_DT_BOOL)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be an integer tensor of one element", what);
  *out = cquant__get_i64(a, 0);
  return CQUANT_STATUS_OK;
}

/* ---- If --------------------------------------------------------------------------------------- */

static int op_if(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                 int n_out) {
  int st = cquant__ctl_need_run(ctx, node), cond = 0, ti, to, ei, eo;
  if (st) return st;
  if (cquant__subgraph_arity(ctx, "then_branch", &ti, &to) || cquant__subgraph_arity(ctx, "else_branch", &ei, &eo))
    return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "then_branch and else_branch (graphs) are required");
  if (to != eo)
    return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "then_branch has %d outputs, else_branch %d: they must be equal", to, eo);
  if (to != n_out) return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "the branches have %d outputs, the node %d", to, n_out);
  if ((st = cquant__ctl_scalar_bool(node, in[0], "cond", &cond))) return st;
  return cquant__subgraph_run(ctx, node, cond ? "then_branch" : "else_branch", 0, NULL, n_out, out);
}

/* ---- Loop ------------------------------------------------------------------------------------- */

/* Stacks n arrays of one type and shape along a new first axis (n = 0: an empty float32 [0]). */
static int stack(const Onnx__NodeProto *node, cquant_array_t *parts, int64_t n, cquant_array_t *out) {
  if (!n) {
    int64_t zero = 0;
    return cquant_array_alloc(out, CQUANT_DT_F32, 1, &zero);
  }
  const cquant_array_t *f = &parts[0];
  if (f->ndim + 1 > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "a scan output has too many dimensions");
  int64_t shape[CQUANT_MAX_DIMS];
  shape[0] = n;
  memcpy(shape + 1, f->shape, sizeof(int64_t) * (size_t)f->ndim);
  int st = cquant_array_alloc(out, f->dtype, f->ndim + 1, shape);
  for (int64_t i = 0; i < n && !st; i++) memcpy((char *)out->data + (size_t)i * f->nbytes, parts[i].data, f->nbytes);
  return st;
}

static int op_loop(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                   int n_out) {
  int st = cquant__ctl_need_run(ctx, node), bi, bo;
  if (st) return st;
  if (cquant__subgraph_arity(ctx, "body", &bi, &bo)) return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "body (a graph) is required");
  const int N = n_in - 2, K = n_out - N;
  if (N < 0 || K < 0 || bi != N + 2 || bo != 1 + N + K)
    return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT,
                              "%d inputs and %d outputs do not fit a body of %d inputs and %d outputs (2 + N and 1 + N + K)", n_in, n_out, bi, bo);
  int64_t M = -1;
  if (in[0]) {
    if ((st = cquant__ctl_scalar_int(node, in[0], "trip count M", &M))) return st;
    if (M < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "trip count M is %lld: it must not be negative", (long long)M);
  }
  int cond = 1;
  if (in[1] && (st = cquant__ctl_scalar_bool(node, in[1], "cond", &cond))) return st;
  if (!in[1] && (M < 0 || M > LOOP_MAX_ITERS)) /* no condition: the loop runs M times, or forever */
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the loop would run %s iterations (at most 2^%d are allowed)",
                              M < 0 ? "endless" : "too many", cquant__loop_max_iters_log2);
  cquant_array_t *carry = calloc((size_t)N + 1, sizeof *carry), *body_out = calloc((size_t)bo + 1, sizeof *body_out);
  const cquant_array_t **body_in = calloc((size_t)bi + 1, sizeof *body_in);
  cquant_array_t **scans = calloc((size_t)K + 1, sizeof *scans);
  int64_t *scap = calloc((size_t)K + 1, sizeof *scap), iter = 0, bytes = 0;
  int owned = 0; /* carry holds the body's outputs (else the node's inputs are passed on) */
  cquant_array_t iter_a, cond_a;
  memset(&iter_a, 0, sizeof iter_a), memset(&cond_a, 0, sizeof cond_a);
  if (!carry || !body_out || !body_in || !scans || !scap || cquant_array_alloc(&iter_a, CQUANT_DT_S64, 0, NULL) ||
      cquant_array_alloc(&cond_a, CQUANT_DT_BOOL, 0, NULL))
    st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  while (!st && (M < 0 || iter < M) && (cond || !in[1])) {
    if (iter >= LOOP_MAX_ITERS) {
      st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the loop ran 2^%d iterations: stopped as a runaway loop", cquant__loop_max_iters_log2);
      break;
    }
    *(int64_t *)iter_a.data = iter;
    *(uint8_t *)cond_a.data = (uint8_t)cond;
    body_in[0] = &iter_a, body_in[1] = &cond_a;
    for (int i = 0; i < N; i++) body_in[2 + i] = owned ? &carry[i] : in[2 + i];
    if ((st = cquant__subgraph_run(ctx, node, "body", bi, body_in, bo, body_out))) break;
    if (in[1]) st = cquant__ctl_scalar_bool(node, &body_out[0], "the body's cond output", &cond);
    cquant_array_free(&body_out[0]);
    for (int i = 0; i < N; i++) {
      if (owned) cquant_array_free(&carry[i]);
      carry[i] = body_out[1 + i];
      memset(&body_out[1 + i], 0, sizeof body_out[1 + i]);
    }
    owned = 1;
    for (int k = 0; k < K && !st; k++) {
      cquant_array_t *e = &body_out[1 + N + k];
      if (cquant__is_container(e->dtype)) st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "scan output %d is not a tensor", k);
      else if (iter && (e->dtype != scans[k][0].dtype || e->ndim != scans[k][0].ndim ||
                        memcmp(e->shape, scans[k][0].shape, sizeof(int64_t) * (size_t)e->ndim)))
        st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scan output %d changes its type or shape at iteration %lld", k, (long long)iter);
      else if ((bytes += (int64_t)e->nbytes) > LOOP_MAX_BYTES ||
               (!in[1] && M > 0 && (int64_t)e->nbytes > 0 && (int64_t)e->nbytes > LOOP_MAX_BYTES / M))
        st = cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "the scan outputs would exceed 2^40 bytes: stopped as a runaway loop");
      else {
        if (iter == scap[k]) {
          int64_t c = scap[k] ? 2 * scap[k] : 16;
          cquant_array_t *p = realloc(scans[k], sizeof *p * (size_t)c);
          if (!p) { st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); break; }
          memset(p + scap[k], 0, sizeof *p * (size_t)(c - scap[k])); /* freed up to scap on every path */
          scans[k] = p, scap[k] = c;
        }
        scans[k][iter] = *e;
        memset(e, 0, sizeof *e);
      }
    }
    for (int k = 0; k < bo; k++) cquant_array_free(&body_out[k]);
    if (!st) iter++;
  }
  for (int i = 0; i < N && !st; i++) {
    if (owned) out[i] = carry[i], memset(&carry[i], 0, sizeof carry[i]);
    else if (!in[2 + i]) st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "loop-carried value %d is missing", i);
    else st = cquant__array_copy(in[2 + i], &out[i]);
  }
  for (int k = 0; k < K && !st; k++) st = stack(node, scans ? scans[k] : NULL, iter, &out[N + k]);
  if (st)
    for (int i = 0; i < n_out; i++) cquant_array_free(&out[i]);
  for (int i = 0; carry && owned && i < N; i++) cquant_array_free(&carry[i]);
  for (int k = 0; scans && k < K; k++) {
    for (int64_t j = 0; j < scap[k]; j++) cquant_array_free(&scans[k][j]);
    free(scans[k]);
  }
  cquant_array_free(&iter_a), cquant_array_free(&cond_a);
  free(carry), free(body_out), free(body_in), free(scans), free(scap);
  return st;
}

/* ---- SequenceMap ------------------------------------------------------------------------------ */

static int op_sequence_map(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                           cquant_array_t *out, int n_out) {
  int st = cquant__ctl_need_run(ctx, node);
  if (st) return st;
  if (!in[0] || in[0]->dtype != CQUANT_DT_SEQUENCE) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input 0 must be a sequence");
  const int64_t n = in[0]->numel;
  for (int i = 1; i < n_in; i++) {
    if (!in[i]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d is missing", i);
    if (in[i]->dtype == CQUANT_DT_OPTIONAL) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %d is an optional", i);
    if (in[i]->dtype == CQUANT_DT_SEQUENCE && in[i]->numel != n)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sequence input %d has %lld elements, input 0 %lld", i,
                                (long long)in[i]->numel, (long long)n);
  }
  const cquant_array_t **body_in = calloc((size_t)n_in, sizeof *body_in);
  cquant_array_t *body_out = calloc((size_t)n_out, sizeof *body_out);
  if (!body_in || !body_out) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int k = 0; k < n_out && !st; k++) st = cquant__seq_alloc(&out[k], n);
  for (int64_t j = 0; j < n && !st; j++) {
    for (int i = 0; i < n_in; i++) body_in[i] = in[i]->dtype == CQUANT_DT_SEQUENCE ? &cquant__elems(in[i])[j] : in[i];
    if ((st = cquant__subgraph_run(ctx, node, "body", n_in, body_in, n_out, body_out))) break;
    for (int k = 0; k < n_out; k++) cquant__elems(&out[k])[j] = body_out[k];
  }
  if (st)
    for (int k = 0; k < n_out; k++) cquant_array_free(&out[k]);
  free(body_in), free(body_out);
  return st;
}

const cquant__op_t cquant__ops_control[] = {
    {"If", op_if, 1, 1, 1, 64, 1},
    {"Loop", op_loop, 2, 64, 1, 64, 1},
    {"Scan", cquant__op_scan, 1, 64, 1, 64, 1},
    {"SequenceMap", op_sequence_map, 1, 64, 1, 64, 1},
    {"SequenceEmpty", cquant__op_sequence_empty, 0, 0, 1, 1, 1},
    {"SequenceConstruct", cquant__op_sequence_construct, 1, 64, 1, 1, 1},
    {"SequenceAt", cquant__op_sequence_at, 2, 2, 1, 1, 1},
    {"SequenceInsert", cquant__op_sequence_insert, 2, 3, 1, 1, 1},
    {"SequenceErase", cquant__op_sequence_erase, 1, 2, 1, 1, 1},
    {"SequenceLength", cquant__op_sequence_length, 1, 1, 1, 1, 1},
    {"SplitToSequence", cquant__op_split_to_sequence, 1, 2, 1, 1, 1},
    {"ConcatFromSequence", cquant__op_concat_from_sequence, 1, 1, 1, 1, 1},
    {"Optional", cquant__op_optional, 0, 1, 1, 1, 1},
    {"OptionalHasElement", cquant__op_optional_has_element, 0, 1, 1, 1, 1},
    {"OptionalGetElement", cquant__op_optional_get_element, 1, 1, 1, 1, 1},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
