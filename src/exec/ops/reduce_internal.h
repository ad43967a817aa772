/* Internal to the reduce family (src/exec/ops/reduce*.c): the operators its table (reduce2.c)
 * names, and small helpers the family's files share. */
#ifndef CQUANT_REDUCE_INTERNAL_H
#define CQUANT_REDUCE_INTERNAL_H

#include "exec/exec_internal.h"

#define CQUANT__RD_ARGS cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out

/* reduce.c: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
 * ReduceLogSum, ReduceLogSumExp, ReduceSumSquare (cquant__op_reduce), ArgMax and ArgMin. */
int cquant__op_argminmax(CQUANT__RD_ARGS);
/* reduce_softmax.c: Softmax, LogSoftmax, Hardmax. */
int cquant__op_softmax_family(CQUANT__RD_ARGS);
/* reduce_scan.c: CumSum and TopK. */
int cquant__op_cumsum(CQUANT__RD_ARGS);
int cquant__op_topk(CQUANT__RD_ARGS);
/* reduce_einsum.c: Einsum. */
int cquant__op_einsum(CQUANT__RD_ARGS);
/* reduce_loss.c: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, Det. */
int cquant__op_nllloss(CQUANT__RD_ARGS);
int cquant__op_sce_loss(CQUANT__RD_ARGS);
int cquant__op_det(CQUANT__RD_ARGS);

/* A numeric tensor input: present and not a container (sequence, optional). */
static inline int cquant__rd_need(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %s is missing", what);
  if ((unsigned)a->dtype > (unsigned)CQUANT_DT_F64 || !cquant_dtype_info(a->dtype)) /* containers follow F64 */
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input %s is not a tensor", what);
  return CQUANT_STATUS_OK;
}

/* A float input (float16, bfloat16, float32, float64). */
static inline int cquant__rd_need_float(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  int st = cquant__rd_need(node, a, what);
  if (st) return st;
  if (a->dtype != CQUANT_DT_F32 && a->dtype != CQUANT_DT_F16 && a->dtype != CQUANT_DT_BF16 && a->dtype != CQUANT_DT_F64)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input %s is %s (float16, bfloat16, float32 or float64 expected)", what,
                              cquant_dtype_info(a->dtype)->name);
  return CQUANT_STATUS_OK;
}

/* Integer values keep their order as int64 keys: uint64 with its top bit flipped. */
static inline int64_t cquant__rd_key_i64(const cquant_array_t *a, int64_t i) {
  if (a->dtype == CQUANT_DT_U64) return (int64_t)(((const uint64_t *)a->data)[i] ^ UINT64_C(0x8000000000000000));
  return cquant__get_i64(a, i);
}

#endif
