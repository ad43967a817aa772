/* Internal to the math family (src/exec/ops/math*.c): how a second operand (PRelu's slope, the
 * contrib Gelus' bias) is indexed over X when it broadcasts to X in one direction. */
#ifndef CQUANT_EXEC_OPS_MATH_INTERNAL_H
#define CQUANT_EXEC_OPS_MATH_INTERNAL_H

#include "exec/exec_internal.h"

/* Element i of X (C order) reads element at(i) of the operand: mode 0 a single value, mode 1 a
 * block of n contiguous values repeated over outer axes and held over `inner` elements
 * ((i / inner) % n), mode 2 any other broadcast (strides over X's shape). */
typedef struct {
  int mode;
  int64_t inner, n;
  int ndim;
  int64_t shape[CQUANT_MAX_DIMS], stride[CQUANT_MAX_DIMS];
} cquant__bidx_t;

/* Checks that b broadcasts to x's shape (numpy rules, b's rank at most x's) and fills ix;
 * INVALID_ARGUMENT naming `what` when it does not. */
int cquant__math_bidx(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *b, const char *what,
                      cquant__bidx_t *ix);

static inline int64_t cquant__math_bidx_at(const cquant__bidx_t *ix, int64_t i) {
  if (ix->mode == 0) return 0;
  if (ix->mode == 1) return (i / ix->inner) % ix->n;
  return cquant__offset_of(i, ix->ndim, ix->shape, ix->stride);
}

/* float32 loops the compiler vectorizes (math_vec.c): Sigmoid, Tanh, x sigmoid(alpha x) and the
 * tanh-approximated Gelu; within 3 ulp (Gelu tanh: 2e-5 relative) of the exact values. */
void cquant__math_sigmoid_f32(const float *x, float *y, int64_t n);
void cquant__math_tanh_f32(const float *x, float *y, int64_t n);
void cquant__math_quickgelu_f32(const float *x, float *y, int64_t n, float alpha);
void cquant__math_gelu_tanh_f32(const float *x, float *y, int64_t n);
/* erf (within 2 ulp) and the exact Gelu 0.5 x (1 + erf(x / sqrt 2)). */
void cquant__math_erf_f32(const float *x, float *y, int64_t n);
void cquant__math_gelu_f32(const float *x, float *y, int64_t n);
/* Mish x tanh(log(1 + e^x)). */
void cquant__math_mish_f32(const float *x, float *y, int64_t n);
/* x < 0 ? alpha x : x (the sign bit decides: -0 and negative NaNs take alpha x). */
void cquant__math_leakyrelu_f32(const float *x, float *y, int64_t n, float alpha);

/* PRelu and Clip (math_act.c). */
int cquant__op_math_prelu(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_math_clip(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

#endif
