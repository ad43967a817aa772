/* Internal to the tensor family (src/exec/ops/shape.c, tensor.c, tensor_*.c): the strided copy
 * every data-moving operator is written on, and small helpers for indices and axes. */
#ifndef CQUANT_TENSOR_INTERNAL_H
#define CQUANT_TENSOR_INTERNAL_H

#include "exec/exec_internal.h"

/* The most dimensions a strided view may have (Tile views a tensor with twice its rank). */
#define CQUANT__TMAXD (3 * CQUANT_MAX_DIMS)

/* Copies the view of src with the given shape and element strides (any integers, 0 to repeat)
 * into dst, contiguous in C order. es: bytes per element. nd: 0..CQUANT__TMAXD (0: one element). */
void cquant__tensor_copy(void *dst, const void *src, size_t es, int nd, const int64_t *shape, const int64_t *stride);
/* C-order element strides of a shape. */
void cquant__tensor_strides(int nd, const int64_t *shape, int64_t *stride);
/* An index into an axis of length dim, negative from the end: INVALID_ARGUMENT when out of range. */
int cquant__tensor_index(const Onnx__NodeProto *node, int64_t k, int64_t dim, const char *what, int64_t *out);
/* Index element i of an int32 or int64 tensor (the only index types ONNX allows). */
static inline int64_t cquant__tensor_idx(const cquant_array_t *a, int64_t i) {
  return a->dtype == CQUANT_DT_S64 ? ((const int64_t *)a->data)[i] : ((const int32_t *)a->data)[i];
}
/* An indices input: int32 or int64, else an error naming what. */
int cquant__tensor_need_index(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what);
/* Axes from the attribute (older opsets) or else from input k (newer): *n = -1 when neither. */
int cquant__tensor_axes(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, int k, int64_t *axes, int *n);
/* The mode attribute's value: 1 when it equals s. */
int cquant__tensor_attr_is(const Onnx__NodeProto *node, const char *name, const char *s, int dflt);
/* Inputs 0..n-1 are present (an omitted required input is named "" in a node): else an error. */
int cquant__tensor_need(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, int n);
/* An allocation that already failed: frees outputs 0..n-1 and returns st. */
int cquant__tensor_fail(cquant_array_t *out, int n, int st);

/* Operators in tensor.c, tensor_index.c, tensor_scatter.c, tensor_misc.c, tensor_unique.c. */
#define CQUANT__OP(name) int name(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int)
CQUANT__OP(cquant__op_tile);
CQUANT__OP(cquant__op_size);
CQUANT__OP(cquant__op_range);
CQUANT__OP(cquant__op_eyelike);
CQUANT__OP(cquant__op_trilu);
CQUANT__OP(cquant__op_tensor_constant);
CQUANT__OP(cquant__op_tensor_identity);
CQUANT__OP(cquant__op_gather_elements);
CQUANT__OP(cquant__op_gather_nd);
CQUANT__OP(cquant__op_scatter_elements);
CQUANT__OP(cquant__op_scatter_nd);
CQUANT__OP(cquant__op_onehot);
CQUANT__OP(cquant__op_nonzero);
CQUANT__OP(cquant__op_compress);
CQUANT__OP(cquant__op_depth_to_space);
CQUANT__OP(cquant__op_space_to_depth);
CQUANT__OP(cquant__op_unique);
CQUANT__OP(cquant__op_reverse_sequence);
CQUANT__OP(cquant__op_center_crop_pad);
#undef CQUANT__OP

#endif
