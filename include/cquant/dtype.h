/* cquant data types. The short codes (f32 f16 bf16 f8e4m3 f8e5m2 s8 u8 s4 u4 s2 u2 s16 s32 s64)
 * are used the same way everywhere: in function names, in docs/dtypes.md and in file formats. */
#ifndef CQUANT_DTYPE_H
#define CQUANT_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  CQUANT_DT_F32 = 0, /* IEEE-754 binary32 */
  CQUANT_DT_F16,     /* IEEE-754 binary16 */
  CQUANT_DT_BF16,    /* bfloat16: the top 16 bits of binary32 */
  CQUANT_DT_F8E4M3,  /* OCP FP8 E4M3FN: bias 7, no infinity, NaN = S.1111.111, max 448 */
  CQUANT_DT_F8E5M2,  /* OCP FP8 E5M2: bias 15, IEEE-like, max 57344 */
  CQUANT_DT_S8,
  CQUANT_DT_U8,
  CQUANT_DT_S4, /* packed two per byte, element 0 in the low nibble */
  CQUANT_DT_U4,
  CQUANT_DT_S2, /* packed four per byte, element 0 in the low two bits */
  CQUANT_DT_U2,
  CQUANT_DT_S16,
  CQUANT_DT_S32,
  CQUANT_DT_S64, /* storage only (.npy input); not a quantization target */
  /* storage and the ONNX executor only; not quantization targets */
  CQUANT_DT_BOOL, /* one byte, 0 or 1 */
  CQUANT_DT_U16,
  CQUANT_DT_U32,
  CQUANT_DT_U64,
  CQUANT_DT_F64, /* IEEE-754 binary64 */
  /* containers of the ONNX executor (sequence, optional): data holds cquant_array_t elements, never
   * numbers; cquant_array_alloc refuses them (src/exec/ops/control_value.c makes them) */
  CQUANT_DT_SEQUENCE,
  CQUANT_DT_OPTIONAL,
  CQUANT_DT_COUNT
} cquant_dtype_t;

typedef struct {
  const char *code;     /* "s8" */
  const char *name;     /* "int8" as the CLI and JSON spell it */
  int bits;             /* storage bits per element: 32, 16, 8, 4, 2 */
  int is_float;         /* 1 for f32 f16 bf16 f8e4m3 f8e5m2 */
  int is_signed;        /* sign bit (floats) or two's complement (integers) */
  int exponent_bits;    /* floats only */
  int mantissa_bits;    /* floats only */
  int64_t qmin, qmax;   /* integers only: the full representable range */
  double min_normal;    /* floats: smallest positive normal; integers: qmin */
  double max;           /* floats: largest finite value; integers: qmax */
  double resolution;    /* floats: 10^-floor(mantissa_bits * log10 2); integers: 1 */
} cquant_dtype_info_t;

/* Facts about a data type, or NULL for a value outside the enum. */
const cquant_dtype_info_t *cquant_dtype_info(cquant_dtype_t dt);

/* Parses a name ("int8", "uint4", "fp8e4m3", "float16", ...) or code ("s8", "u4", "f8e4m3").
 * Returns CQUANT_STATUS_UNSUPPORTED (with the name in cquant_last_error) when unknown. */
int cquant_dtype_from_name(const char *name, cquant_dtype_t *out);

/* Bytes needed for n elements of dt, packed (sub-byte types round up to whole bytes). */
size_t cquant_dtype_packed_size(cquant_dtype_t dt, size_t n);

/* 1 for the integer quantization targets s8 u8 s4 u4 s2 u2 s16 (s32 too: bias). */
int cquant_dtype_is_qint(cquant_dtype_t dt);

#ifdef __cplusplus
}
#endif
#endif
