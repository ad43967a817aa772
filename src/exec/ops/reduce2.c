/* Operators of the reduce family (see exec_internal.h): reductions and arg-reductions (reduce.c),
 * the softmax family (reduce_softmax.c), CumSum and TopK (reduce_scan.c), Einsum (reduce_einsum.c),
 * the losses and Det (reduce_loss.c). Softmax is taken over from the legacy table (nn.c). */
#include "exec/ops/reduce_internal.h"

const cquant__op_t cquant__ops_reduce[] = {
    {"ReduceSum", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceMean", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceMax", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceMin", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceProd", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceL1", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceL2", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceLogSum", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceLogSumExp", cquant__op_reduce, 1, 2, 1, 1},
    {"ReduceSumSquare", cquant__op_reduce, 1, 2, 1, 1},
    {"ArgMax", cquant__op_argminmax, 1, 1, 1, 1},
    {"ArgMin", cquant__op_argminmax, 1, 1, 1, 1},
    {"Softmax", cquant__op_softmax_family, 1, 1, 1, 1},
    {"LogSoftmax", cquant__op_softmax_family, 1, 1, 1, 1},
    {"Hardmax", cquant__op_softmax_family, 1, 1, 1, 1},
    {"CumSum", cquant__op_cumsum, 2, 2, 1, 1},
    {"TopK", cquant__op_topk, 1, 2, 1, 2},
    {"Einsum", cquant__op_einsum, 1, 16, 1, 1},
    {"NegativeLogLikelihoodLoss", cquant__op_nllloss, 2, 3, 1, 1},
    {"SoftmaxCrossEntropyLoss", cquant__op_sce_loss, 2, 3, 1, 2},
    {"Det", cquant__op_det, 1, 1, 1, 1},
    {NULL, NULL, 0, 0, 0, 0},
};
