/* Array conversions between float32 and the narrow float types, dispatched to the best path. */
#include <string.h>
#include "core/internal.h"

int cquant_convert_from_f32(const float *src, size_t n, cquant_dtype_t dt, cquant_fp8_mode_t mode,
                            void *dst) {
  if (n && (!src || !dst)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "convert: NULL buffer");
  const cquant__kernels_t *k = cquant__kernels();
  switch (dt) {
    case CQUANT_DT_F32: memcpy(dst, src, n * sizeof(float)); return CQUANT_STATUS_OK;
    case CQUANT_DT_F16: k->f32_to_f16(src, n, (uint16_t *)dst); return CQUANT_STATUS_OK;
    case CQUANT_DT_BF16: k->f32_to_bf16(src, n, (uint16_t *)dst); return CQUANT_STATUS_OK;
    case CQUANT_DT_F8E4M3:
    case CQUANT_DT_F8E5M2: {
      const float one = 1.0f; /* x / 1 is x exactly: the scaled kernel is the plain conversion */
      k->fp8_q(src, n, &one, 0, dt == CQUANT_DT_F8E5M2, mode, CQUANT_ROUND_DIV, (uint8_t *)dst);
      return CQUANT_STATUS_OK;
    }
    default:
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "convert: %s is not a float type",
                           cquant_dtype_info(dt) ? cquant_dtype_info(dt)->name : "?");
  }
}

int cquant_convert_to_f32(const void *src, size_t n, cquant_dtype_t dt, float *dst) {
  if (n && (!src || !dst)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "convert: NULL buffer");
  const cquant__kernels_t *k = cquant__kernels();
  switch (dt) {
    case CQUANT_DT_F32: memcpy(dst, src, n * sizeof(float)); return CQUANT_STATUS_OK;
    case CQUANT_DT_F16: k->f16_to_f32((const uint16_t *)src, n, dst); return CQUANT_STATUS_OK;
    case CQUANT_DT_BF16: k->bf16_to_f32((const uint16_t *)src, n, dst); return CQUANT_STATUS_OK;
    case CQUANT_DT_F8E4M3:
    case CQUANT_DT_F8E5M2: {
      const float one = 1.0f;
      k->fp8_dq((const uint8_t *)src, n, &one, 0, dt == CQUANT_DT_F8E5M2, dst);
      return CQUANT_STATUS_OK;
    }
    default:
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "convert: %s is not a float type",
                           cquant_dtype_info(dt) ? cquant_dtype_info(dt)->name : "?");
  }
}
