/* Linear quantization kernels: q = saturate(round_half_even(r / s) + z) and r' = s (q - z)
 * (docs/quantization.md, eq. 13-15). The tensor's shape and layout come from the parameters. */
#ifndef CQUANT_QUANTIZE_H
#define CQUANT_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>
#include "cquant/qparams.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Storage of quantized integers. */
typedef enum {
  CQUANT_LAYOUT_UNPACKED = 0, /* one element per int8/uint8 (s8 u8 s4 u4 s2 u2), int16 (s16),
                                 int32 (s32) or uint8 bit pattern (f8e4m3 f8e5m2) */
  CQUANT_LAYOUT_PACKED = 1    /* s4/u4: two per byte, s2/u2: four per byte, element 0 lowest */
} cquant_layout_t;

/* Bytes of quantized output for the parameters' tensor in this layout. */
size_t cquant_quantized_size(const cquant_qparams_t *qp, cquant_layout_t layout);

/* x: float32, row-major, qp->shape. q: cquant_quantized_size bytes.
 * NaN quantizes to qmin (integers) or NaN (FP8); +-Inf saturates. FP8 saturates (the scaled-FP8
 * recipe). Returns INVALID_ARGUMENT for NULL pointers or invalid parameters. */
int cquant_quantize(const float *x, const cquant_qparams_t *qp, cquant_layout_t layout, void *q);

/* q: as written by cquant_quantize. y: float32. Elements of q outside [qmin, qmax] (possible only
 * in unpacked s16/s32 storage or hand-made files) give CQUANT_STATUS_OUT_OF_RANGE. */
int cquant_dequantize(const void *q, const cquant_qparams_t *qp, cquant_layout_t layout, float *y);

/* Quantize then dequantize in one pass: y = s (saturate(round(x / s) + z) - z). y may equal x. */
int cquant_fake_quantize(const float *x, const cquant_qparams_t *qp, float *y);

/* Threads used by the kernels above (default: all online cores). n <= 0 restores the default. */
void cquant_set_num_threads(int n);
int cquant_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif
