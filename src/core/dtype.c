/* The data type table. Float rows follow the seed's table (torch.finfo): min is the smallest
 * normal, resolution is 10^-floor(mantissa_bits * log10(2)). Integer rows give [qmin, qmax]. */
#include <string.h>
#include "core/internal.h"

/* clang-format off */
static const cquant_dtype_info_t table[CQUANT_DT_COUNT] = {
  [CQUANT_DT_F32]    = {"f32", "float32", 32, 1, 1, 8, 23, 0, 0, 1.1754943508222875e-38, 3.4028234663852886e+38, 1e-6},
  [CQUANT_DT_F16]    = {"f16", "float16", 16, 1, 1, 5, 10, 0, 0, 6.103515625e-05, 65504.0, 1e-3},
  [CQUANT_DT_BF16]   = {"bf16", "bfloat16", 16, 1, 1, 8, 7, 0, 0, 1.1754943508222875e-38, 3.3895313892515355e+38, 1e-2},
  [CQUANT_DT_F8E4M3] = {"f8e4m3", "fp8e4m3", 8, 1, 1, 4, 3, 0, 0, 0.015625, 448.0, 1.0},
  [CQUANT_DT_F8E5M2] = {"f8e5m2", "fp8e5m2", 8, 1, 1, 5, 2, 0, 0, 6.103515625e-05, 57344.0, 1.0},
  [CQUANT_DT_S8]     = {"s8", "int8", 8, 0, 1, 0, 0, -128, 127, -128, 127, 1},
  [CQUANT_DT_U8]     = {"u8", "uint8", 8, 0, 0, 0, 0, 0, 255, 0, 255, 1},
  [CQUANT_DT_S4]     = {"s4", "int4", 4, 0, 1, 0, 0, -8, 7, -8, 7, 1},
  [CQUANT_DT_U4]     = {"u4", "uint4", 4, 0, 0, 0, 0, 0, 15, 0, 15, 1},
  [CQUANT_DT_S2]     = {"s2", "int2", 2, 0, 1, 0, 0, -2, 1, -2, 1, 1},
  [CQUANT_DT_U2]     = {"u2", "uint2", 2, 0, 0, 0, 0, 0, 3, 0, 3, 1},
  [CQUANT_DT_S16]    = {"s16", "int16", 16, 0, 1, 0, 0, -32768, 32767, -32768, 32767, 1},
  [CQUANT_DT_S32]    = {"s32", "int32", 32, 0, 1, 0, 0, INT32_MIN, INT32_MAX, INT32_MIN, INT32_MAX, 1},
  [CQUANT_DT_S64]    = {"s64", "int64", 64, 0, 1, 0, 0, INT64_MIN, INT64_MAX, -9.2233720368547758e18, 9.2233720368547758e18, 1},
  [CQUANT_DT_BOOL]   = {"b1", "bool", 8, 0, 0, 0, 0, 0, 1, 0, 1, 1},
  [CQUANT_DT_U16]    = {"u16", "uint16", 16, 0, 0, 0, 0, 0, 65535, 0, 65535, 1},
  [CQUANT_DT_U32]    = {"u32", "uint32", 32, 0, 0, 0, 0, 0, UINT32_MAX, 0, 4294967295.0, 1},
  [CQUANT_DT_U64]    = {"u64", "uint64", 64, 0, 0, 0, 0, 0, INT64_MAX, 0, 1.8446744073709552e19, 1},
  [CQUANT_DT_F64]    = {"f64", "float64", 64, 1, 1, 11, 52, 0, 0, 2.2250738585072014e-308, 1.7976931348623157e+308, 1e-15},
  [CQUANT_DT_SEQUENCE] = {"seq", "sequence", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
  [CQUANT_DT_OPTIONAL] = {"opt", "optional", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};
/* clang-format on */

/* Other spellings users type. */
static const struct {
  const char *alias;
  cquant_dtype_t dt;
} aliases[] = {
    {"fp32", CQUANT_DT_F32},       {"fp16", CQUANT_DT_F16},       {"half", CQUANT_DT_F16},
    {"float", CQUANT_DT_F32},      {"fp8e4m3fn", CQUANT_DT_F8E4M3}, {"float8e4m3fn", CQUANT_DT_F8E4M3},
    {"e4m3", CQUANT_DT_F8E4M3},    {"fp8e5m2", CQUANT_DT_F8E5M2}, {"float8e5m2", CQUANT_DT_F8E5M2},
    {"e5m2", CQUANT_DT_F8E5M2},    {"float8e4m3", CQUANT_DT_F8E4M3},
};

const cquant_dtype_info_t *cquant_dtype_info(cquant_dtype_t dt) {
  if ((unsigned)dt >= CQUANT_DT_COUNT) return NULL;
  return &table[dt];
}

int cquant_dtype_from_name(const char *name, cquant_dtype_t *out) {
  if (!name || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "dtype name is NULL");
  for (int i = 0; i < CQUANT_DT_COUNT; i++) {
    if (strcmp(name, table[i].code) == 0 || strcmp(name, table[i].name) == 0) {
      *out = (cquant_dtype_t)i;
      return CQUANT_STATUS_OK;
    }
  }
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
    if (strcmp(name, aliases[i].alias) == 0) {
      *out = aliases[i].dt;
      return CQUANT_STATUS_OK;
    }
  }
  return cquant__error(CQUANT_STATUS_UNSUPPORTED, "unknown data type '%s'", name);
}

size_t cquant_dtype_packed_size(cquant_dtype_t dt, size_t n) {
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  if (!info) return 0;
  return (n * (size_t)info->bits + 7) / 8;
}

int cquant_dtype_is_qint(cquant_dtype_t dt) {
  return dt >= CQUANT_DT_S8 && dt <= CQUANT_DT_S32;
}
