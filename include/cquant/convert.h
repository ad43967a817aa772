/* Exact conversions between float32 and the narrower float formats (docs/quantization.md, sec. 2).
 * Encoding is round-to-nearest-even everywhere; subnormals are kept, never flushed. */
#ifndef CQUANT_CONVERT_H
#define CQUANT_CONVERT_H

#include <stddef.h>
#include <stdint.h>
#include "cquant/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* binary16. NaN keeps its sign and top payload bits and is made quiet, as F16C does. */
uint16_t cquant_f32_to_f16(float x);
float cquant_f16_to_f32(uint16_t h);

/* bfloat16. NaN keeps its sign and top payload bits and is made quiet (bit 6 set). */
uint16_t cquant_f32_to_bf16(float x);
float cquant_bf16_to_f32(uint16_t h);

/* FP8 saturation modes (ONNX Cast "saturate" attribute, OCP FP8 spec). */
typedef enum {
  CQUANT_FP8_SATURATE = 0,    /* |x| beyond max and +-Inf become +-max (the default) */
  CQUANT_FP8_NONSATURATE = 1  /* beyond max: NaN for e4m3fn (no Inf exists), +-Inf for e5m2 */
} cquant_fp8_mode_t;

uint8_t cquant_f32_to_f8e4m3(float x, cquant_fp8_mode_t mode);
float cquant_f8e4m3_to_f32(uint8_t v);
uint8_t cquant_f32_to_f8e5m2(float x, cquant_fp8_mode_t mode);
float cquant_f8e5m2_to_f32(uint8_t v);

/* Array conversions float32 -> dt and dt -> float32 for dt in {f16, bf16, f8e4m3, f8e5m2}
 * (f32 copies). src and dst must not overlap. Runs the fastest path the CPU has.
 * Returns CQUANT_STATUS_INVALID_ARGUMENT for a NULL pointer with n > 0 or another dt. */
int cquant_convert_from_f32(const float *src, size_t n, cquant_dtype_t dt, cquant_fp8_mode_t mode,
                            void *dst);
int cquant_convert_to_f32(const void *src, size_t n, cquant_dtype_t dt, float *dst);

#ifdef __cplusplus
}
#endif
#endif
