/* Quantization parameters for r = s (q - z) (docs/quantization.md, sec. 3). */
#ifndef CQUANT_QPARAMS_H
#define CQUANT_QPARAMS_H

#include <stddef.h>
#include <stdint.h>
#include "cquant/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CQUANT_MAX_DIMS 8

typedef enum {
  CQUANT_PER_TENSOR = 0,
  CQUANT_PER_CHANNEL = 1, /* one (s, z) per index along `axis` */
  CQUANT_PER_GROUP = 2    /* one (s, z) per G consecutive elements along `axis`, for every
                             index of the other axes (ONNX blocked quantization) */
} cquant_granularity_t;

/* Flags for computing parameters from a range. */
enum {
  CQUANT_QF_SYMMETRIC = 1u << 0,   /* z = 0 (signed) or the mid-point (unsigned), eq. 8-10 */
  CQUANT_QF_NARROW_RANGE = 1u << 1, /* signed: qmin = -qmax (TFLite/TensorRT), eq. 11 */
  CQUANT_QF_ALLOW_SHORT_GROUP = 1u << 2, /* per-group: the last group of an axis may be short */
  CQUANT_QF_REDUCE_RANGE = 1u << 3 /* integers: one bit fewer than the type holds (int8 -64..63, narrow
                                      -63..63; uint8 0..127), ONNX Runtime's reduce_range: its x86
                                      u8s8 kernels without VNNI add pairs of u8 x s8 products in int16,
                                      which 7-bit weights cannot overflow (eq. 11b) */
};

/* How r / s is formed before rounding (docs/quantization.md, eq. 13). */
typedef enum {
  CQUANT_ROUND_DIV = 0,   /* round_half_even(r / s): ONNX QuantizeLinear (the default) */
  CQUANT_ROUND_RECIP = 1  /* round_half_even(r * (1/s)): PyTorch / FBGEMM */
} cquant_round_t;

typedef struct {
  cquant_dtype_t dtype;        /* an integer type, or f8e4m3/f8e5m2 for scaled FP8 */
  cquant_granularity_t granularity;
  int axis;                    /* per-channel / per-group axis, 0 <= axis < ndim */
  int64_t group_size;          /* per-group only */
  unsigned flags;              /* CQUANT_QF_* used to make them, kept for reports */
  cquant_round_t rounding;
  int32_t qmin, qmax;          /* the integer range in use (narrow range: qmin = -qmax) */
  int ndim;                    /* the shape of the tensor these parameters are for */
  int64_t shape[CQUANT_MAX_DIMS];
  int64_t count;               /* number of (scale, zero_point) pairs */
  float *scale;                /* count entries, row-major over the parameter shape */
  int32_t *zero_point;         /* count entries (0 for FP8) */
} cquant_qparams_t;

/* Scale and zero-point from a range [rmin, rmax] for an integer type of `bits` (2..16) bits.
 * The range is first widened to contain 0 (eq. 5). Asymmetric: eq. 6-7; symmetric: eq. 8-10;
 * narrow range: eq. 11. The scale is never below float32 eps (eq. 12), as PyTorch's observers do.
 * Returns CQUANT_STATUS_NOT_FINITE for a NaN or infinite bound, INVALID_ARGUMENT for rmin > rmax
 * or bits outside 2..16. */
int cquant_qparams_from_range(float rmin, float rmax, int bits, int is_signed, unsigned flags,
                              float *scale, int32_t *zero_point);

/* The integer range [qmin, qmax] of a type under the given flags. */
int cquant_qrange(cquant_dtype_t dt, unsigned flags, int32_t *qmin, int32_t *qmax);

/* Creates parameters of the given layout for a tensor of `shape`, with scales 1 and zero-points 0
 * (fill them, or use cquant_qparams_minmax). For per-group, group_size must divide the axis unless
 * CQUANT_QF_ALLOW_SHORT_GROUP is set, in which case the last group of the axis is short.
 * The parameter tensor has `shape` with the axis replaced by 1 (per-tensor: all 1), by the axis
 * length (per-channel: then only that axis is kept), or by ceil(len / G) (per-group). */
int cquant_qparams_create(cquant_dtype_t dt, cquant_granularity_t g, int axis, int64_t group_size,
                          unsigned flags, int ndim, const int64_t *shape, cquant_qparams_t **out);
void cquant_qparams_destroy(cquant_qparams_t *qp);

/* Number of scale entries along each axis of the parameter tensor (ndim entries). */
void cquant_qparams_param_shape(const cquant_qparams_t *qp, int64_t *pshape);

/* Min-max parameters from the data: for each parameter slot, [min, max] of its elements, then
 * cquant_qparams_from_range (integers) or s = amax / max_fp8 (FP8, eq. 16).
 * x: float32, row-major, the shape given to cquant_qparams_create. NaN/Inf in x:
 * CQUANT_STATUS_NOT_FINITE naming the first index. */
int cquant_qparams_minmax(cquant_qparams_t *qp, const float *x);

/* The same parameters for a tensor of another shape: per-tensor fits any shape; per-channel needs
 * the axis to exist with the same length; per-group needs the same shape.
 * INVALID_ARGUMENT naming the mismatch otherwise. *out is a new object. */
int cquant_qparams_rebind(const cquant_qparams_t *qp, int ndim, const int64_t *shape, cquant_qparams_t **out);

/* Checks every scale is finite and > 0 and every zero-point lies in [qmin, qmax]. */
int cquant_qparams_validate(const cquant_qparams_t *qp);

#ifdef __cplusplus
}
#endif
#endif
