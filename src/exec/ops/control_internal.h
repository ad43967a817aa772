/* Internal to the control family (src/exec/ops/control*.c). */
#ifndef CQUANT_EXEC_OPS_CONTROL_INTERNAL_H
#define CQUANT_EXEC_OPS_CONTROL_INTERNAL_H

#include "exec/exec_internal.h"

/* An error unless the operator runs inside a model run (subgraphs and containers need one; the
 * constant-folding pass, which calls operators without, leaves these nodes to the executor). */
int cquant__ctl_need_run(cquant__opctx_t *ctx, const Onnx__NodeProto *node);
/* A one-element tensor as a truth value, or as an integer (integer types only). */
int cquant__ctl_scalar_bool(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int *out);
int cquant__ctl_scalar_int(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int64_t *out);
/* Loop's iteration cap, 2^cquant__loop_max_iters_log2 (31; the fuzz harnesses lower it). */
extern int cquant__loop_max_iters_log2;

int cquant__op_scan(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_sequence_empty(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_sequence_construct(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_sequence_at(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_sequence_insert(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_sequence_erase(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_sequence_length(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_split_to_sequence(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_concat_from_sequence(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_optional(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_optional_has_element(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_optional_get_element(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

/* Copies index idx along axis of a (that axis removed) into out, and back: dst (rank r + 1) gets
 * src (rank r) at index idx along axis. Tensors only. */
int cquant__ctl_take(const cquant_array_t *a, int axis, int64_t idx, cquant_array_t *out);
void cquant__ctl_put(cquant_array_t *dst, int axis, int64_t idx, const cquant_array_t *src);

#endif
