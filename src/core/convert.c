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
      for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = cquant_f32_to_f8e4m3(src[i], mode);
      return CQUANT_STATUS_OK;
    case CQUANT_DT_F8E5M2:
      for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = cquant_f32_to_f8e5m2(src[i], mode);
      return CQUANT_STATUS_OK;
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
      for (size_t i = 0; i < n; i++) dst[i] = cquant_f8e4m3_to_f32(((const uint8_t *)src)[i]);
      return CQUANT_STATUS_OK;
    case CQUANT_DT_F8E5M2:
      for (size_t i = 0; i < n; i++) dst[i] = cquant_f8e5m2_to_f32(((const uint8_t *)src)[i]);
      return CQUANT_STATUS_OK;
    default:
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "convert: %s is not a float type",
                           cquant_dtype_info(dt) ? cquant_dtype_info(dt)->name : "?");
  }
}
