/* Operators of the reduce family (see exec_internal.h): reductions and arg-reductions (reduce.c),
 * the softmax family (reduce_softmax.c), CumSum and TopK (reduce_scan.c), Einsum (reduce_einsum.c),
 * the losses and Det (reduce_loss.c). Softmax is taken over from the legacy table (nn.c). */
#include "exec/ops/reduce_internal.h"

const cquant__op_t cquant__ops_reduce[] = {
    {"ReduceSum", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceMean", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceMax", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceMin", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceProd", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceL1", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceL2", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceLogSum", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceLogSumExp", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ReduceSumSquare", cquant__op_reduce, 1, 2, 1, 1, 0},
    {"ArgMax", cquant__op_argminmax, 1, 1, 1, 1, 0},
    {"ArgMin", cquant__op_argminmax, 1, 1, 1, 1, 0},
    {"Softmax", cquant__op_softmax_family, 1, 1, 1, 1, 0},
    {"LogSoftmax", cquant__op_softmax_family, 1, 1, 1, 1, 0},
    {"Hardmax", cquant__op_softmax_family, 1, 1, 1, 1, 0},
    {"CumSum", cquant__op_cumsum, 2, 2, 1, 1, 0},
    {"TopK", cquant__op_topk, 1, 2, 1, 2, 0},
    {"Einsum", cquant__op_einsum, 1, 16, 1, 1, 0},
    {"NegativeLogLikelihoodLoss", cquant__op_nllloss, 2, 3, 1, 1, 0},
    {"SoftmaxCrossEntropyLoss", cquant__op_sce_loss, 2, 3, 1, 2, 0},
    {"Det", cquant__op_det, 1, 1, 1, 1, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
