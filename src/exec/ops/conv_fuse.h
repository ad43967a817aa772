/* Folding the nodes that follow a float32 Conv into its output loop (conv_fuse.c): a residual Add
 * of Y's own shape, then one activation (Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, Sigmoid,
 * and the HardSigmoid(y) * y and Sigmoid(y) * y pairs exporters write for HardSwish and SiLU),
 * applied to each block of Y while it is in cache instead of in passes of their own over the
 * tensor. Every folded value must have no other reader, not be a graph output and not be
 * observed; the result equals the unfused nodes' bit for bit (the same float operations in the
 * same order per element; Add and Mul are commutative in IEEE arithmetic). */
#ifndef CQUANT_EXEC_CONV_FUSE_H
#define CQUANT_EXEC_CONV_FUSE_H

#include "exec/exec_internal.h"
#include "exec/ops/conv_internal.h"
#include "onnx/onnx_internal.h"

/* The epilogue over a whole float32 tensor of n elements, split over the pool's threads. */
void cquant__conv_epi_tensor(const cquant__conv_epi_t *e, float *y, int64_t n);

/* Looks a value up by name in the executor's scope (NULL when none). */
typedef const cquant_array_t *(*cquant__fuse_get_fn)(void *scope, const char *name);

/* How many nodes after node i of g fold into it (0: none, then *e is untouched) and their indices
 * (at[], ascending, at most CQUANT__FUSE_MAX), given node i's inputs in (resolved) and the
 * last-reader bits of the executor. Only a 2-D float32 Conv of one output qualifies; the caller
 * must not fold when values are observed. Nodes without inputs (Constant) may lie between the
 * folded ones: they run in their place. Values the epilogue reads (the residual, Clip's bounds)
 * come from get, or from such a Constant's attribute. */
#define CQUANT__FUSE_MAX 3
int cquant__conv_fuse_plan(const Onnx__GraphProto *g, size_t i, const uint32_t *last_use, int opset, const cquant_array_t *const *in,
                           int n_in, cquant__fuse_get_fn get, void *scope, cquant__conv_epi_t *e, size_t *at);

/* Conv (as cquant__op_nn_conv) followed by the epilogue e (nn_conv.c), and its 2-D float32 path
 * (conv.c; e may be NULL). */
int cquant__op_conv_epi(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                        int n_out, const cquant__conv_epi_t *e);
int cquant__op_conv2d_epi(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                          int n_out, const cquant__conv_epi_t *e);

#endif
