/* Private to the nn family (src/exec/ops/nn2.c, nn_*.c): window geometry shared by convolution and
 * pooling, float conversions, and the family's operators. */
#ifndef CQUANT_NN_INTERNAL_H
#define CQUANT_NN_INTERNAL_H

#include "exec/exec_internal.h"

#define CQUANT__NN_MAXSP (CQUANT_MAX_DIMS - 2) /* spatial axes of an N x C x D1 x ... input */

/* The sliding window over the spatial axes: in, k (kernel) filled by the caller; stride, dil, pad0
 * (begin), pad1 (end) and out computed by cquant__nn_window. */
typedef struct {
  int nsp;
  int64_t in[CQUANT__NN_MAXSP], k[CQUANT__NN_MAXSP], stride[CQUANT__NN_MAXSP], dil[CQUANT__NN_MAXSP];
  int64_t pad0[CQUANT__NN_MAXSP], pad1[CQUANT__NN_MAXSP], out[CQUANT__NN_MAXSP];
} cquant__nn_win_t;

/* Reads strides, dilations (when use_dil), pads and auto_pad (NOTSET, VALID, SAME_UPPER,
 * SAME_LOWER) and computes the output size (ceil_mode: pooling's rounding up, the last window
 * starting inside the input or its left padding). INVALID_ARGUMENT for bad values or a window that
 * does not fit. */
int cquant__nn_window(const Onnx__NodeProto *node, cquant__nn_win_t *g, int ceil_mode, int use_dil);
/* Reads an int-list attribute of exactly n values into v (absent: v keeps its defaults). */
int cquant__nn_attr_n(const Onnx__NodeProto *node, const char *name, int64_t *v, int n);

/* A float array (f32, f64, f16, bf16, fp8) as a new float32 buffer (free it); NULL when out of
 * memory. */
float *cquant__nn_to_f32(const cquant_array_t *a);
/* Stores n float32 values into a of a float type (rounded once). */
void cquant__nn_from_f32(const float *src, cquant_array_t *a);
/* An input that must have a floating-point type. */
int cquant__nn_need_float(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what);

int cquant__op_nn_conv(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nn_conv_transpose(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nn_pool(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nn_global_pool(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nn_max_unpool(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nn_gemm(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nn_matmul(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

#endif
