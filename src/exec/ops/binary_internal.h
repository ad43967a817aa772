/* Internal to the binary family (binary*.c): the broadcasting loop every elementwise operator of
 * two or three operands runs, element loads and stores by type, float16/bfloat16 promotion. */
#ifndef CQUANT_BINARY_INTERNAL_H
#define CQUANT_BINARY_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "cquant/convert.h"
#include "exec/exec_internal.h"

#define BIN_MAX_OPS 3

/* A numpy broadcast of n operands over the output, with the axes of size 1 dropped and adjacent
 * axes merged wherever every operand walks them contiguously (or not at all): a same-shape
 * operation becomes one run, a per-channel or trailing-axes operand one run per channel. */
typedef struct {
  int n, nd; /* operands; merged rank (>= 1) */
  int64_t shape[CQUANT_MAX_DIMS];
  int64_t st[BIN_MAX_OPS][CQUANT_MAX_DIMS]; /* element strides, 0 on broadcast axes */
  int64_t numel;
} bin_plan_t;

/* One innermost run: p[k] points at operand k's first element, s[k] is its step in elements (0 or
 * 1), y at the first output element; n elements. */
typedef void (*bin_run_fn)(void *u, const char *const *p, const int64_t *s, char *y, int64_t n);

/* Output shape (ndim, shape) and the plan for in[0..n-1] (n <= BIN_MAX_OPS). */
int cquant__bin_plan(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n, int *ndim, int64_t *shape, bin_plan_t *p);
/* Runs fn over every innermost run; y is the output's data with ysz bytes per element. */
void cquant__bin_loop(const bin_plan_t *p, const cquant_array_t *const *in, void *y, size_t ysz, bin_run_fn fn, void *u);

/* The opset < 7 form of the broadcasting arithmetic and logic ops: broadcast=1 aligns B's axes
 * with A's starting at `axis` (default: its trailing axes); broadcast=0 wants equal shapes. b gets
 * B as the numpy broadcast should see it (same data). */
int cquant__bin_legacy_b(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *a, const cquant_array_t *b_in,
                         cquant_array_t *b);

/* a as float32 (*tmp is allocated for float16/bfloat16 and must be freed; *out points at a or
 * *tmp). */
int cquant__bin_to_f32(const cquant_array_t *a, cquant_array_t *tmp, const cquant_array_t **out);
/* The float32 result f stored into y (float16 or bfloat16, allocated here with f's shape). */
int cquant__bin_from_f32(const cquant_array_t *f, cquant_dtype_t dt, cquant_array_t *y);

/* A type's name for messages. */
static inline const char *bin_tname(cquant_dtype_t dt) {
  const cquant_dtype_info_t *i = cquant_dtype_info(dt);
  return i ? i->name : "?";
}

static inline int bin_is_int(cquant_dtype_t dt) {
  switch (dt) {
    case CQUANT_DT_S8: case CQUANT_DT_U8: case CQUANT_DT_S16: case CQUANT_DT_U16: case CQUANT_DT_S32: case CQUANT_DT_U32:
    case CQUANT_DT_S64: case CQUANT_DT_U64: return 1;
    default: return 0;
  }
}

/* Every number type (and bool): what Where and Cast move. */
static inline int bin_is_numeric(cquant_dtype_t dt) {
  switch (dt) {
    case CQUANT_DT_F32: case CQUANT_DT_F64: case CQUANT_DT_F16: case CQUANT_DT_BF16: case CQUANT_DT_F8E4M3: case CQUANT_DT_F8E5M2:
    case CQUANT_DT_BOOL: case CQUANT_DT_S4: case CQUANT_DT_U4: return 1;
    default: return bin_is_int(dt);
  }
}

/* Element loads from a raw pointer (p: the array's data, i: element index). */
static inline double bin_ld_f64(const void *p, cquant_dtype_t dt, int64_t i) {
  switch (dt) {
    case CQUANT_DT_F32: return ((const float *)p)[i];
    case CQUANT_DT_F64: return ((const double *)p)[i];
    case CQUANT_DT_F16: return cquant_f16_to_f32(((const uint16_t *)p)[i]);
    case CQUANT_DT_BF16: return cquant_bf16_to_f32(((const uint16_t *)p)[i]);
    case CQUANT_DT_F8E4M3: return cquant_f8e4m3_to_f32(((const uint8_t *)p)[i]);
    case CQUANT_DT_F8E5M2: return cquant_f8e5m2_to_f32(((const uint8_t *)p)[i]);
    case CQUANT_DT_S8: case CQUANT_DT_S4: case CQUANT_DT_S2: return ((const int8_t *)p)[i];
    case CQUANT_DT_S16: return ((const int16_t *)p)[i];
    case CQUANT_DT_U16: return ((const uint16_t *)p)[i];
    case CQUANT_DT_S32: return ((const int32_t *)p)[i];
    case CQUANT_DT_U32: return ((const uint32_t *)p)[i];
    case CQUANT_DT_S64: return (double)((const int64_t *)p)[i];
    case CQUANT_DT_U64: return (double)((const uint64_t *)p)[i];
    default: return ((const uint8_t *)p)[i]; /* uint8, bool, 4- and 2-bit unsigned */
  }
}

/* Integers as int64 (uint64 wraps); floats truncated toward zero, NaN 0, saturated to int64. */
static inline int64_t bin_ld_i64(const void *p, cquant_dtype_t dt, int64_t i) {
  switch (dt) {
    case CQUANT_DT_S8: case CQUANT_DT_S4: case CQUANT_DT_S2: return ((const int8_t *)p)[i];
    case CQUANT_DT_U8: case CQUANT_DT_U4: case CQUANT_DT_U2: case CQUANT_DT_BOOL: return ((const uint8_t *)p)[i];
    case CQUANT_DT_S16: return ((const int16_t *)p)[i];
    case CQUANT_DT_U16: return ((const uint16_t *)p)[i];
    case CQUANT_DT_S32: return ((const int32_t *)p)[i];
    case CQUANT_DT_U32: return ((const uint32_t *)p)[i];
    case CQUANT_DT_S64: return ((const int64_t *)p)[i];
    case CQUANT_DT_U64: return (int64_t)((const uint64_t *)p)[i];
    default: {
      const double v = bin_ld_f64(p, dt, i);
      return isnan(v) ? 0 : v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
    }
  }
}

/* Stores into integer (wrapping as a C cast does) and float32/float64 outputs. */
static inline void bin_st_i64(void *p, cquant_dtype_t dt, int64_t i, int64_t v) {
  switch (dt) {
    case CQUANT_DT_S8: ((int8_t *)p)[i] = (int8_t)v; break;
    case CQUANT_DT_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case CQUANT_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case CQUANT_DT_S16: ((int16_t *)p)[i] = (int16_t)v; break;
    case CQUANT_DT_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case CQUANT_DT_S32: ((int32_t *)p)[i] = (int32_t)v; break;
    case CQUANT_DT_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case CQUANT_DT_S64: ((int64_t *)p)[i] = v; break;
    case CQUANT_DT_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case CQUANT_DT_F64: ((double *)p)[i] = (double)v; break;
    case CQUANT_DT_F32: ((float *)p)[i] = (float)v; break;
    default: break;
  }
}

/* One innermost run of a two-operand elementwise operation: x is the element of operand 0, z that
 * of operand 1, EXPR the result (TO). The loops specialise the four stride patterns so that the
 * compiler vectorises each. */
#define BIN_RUN2(NAME, TI, TO, EXPR)                                                   \
  static void NAME(void *u_, const char *const *p_, const int64_t *s_, char *y_, int64_t n_) { \
    (void)u_;                                                                          \
    const TI *a_ = (const TI *)p_[0], *b_ = (const TI *)p_[1];                         \
    TO *o_ = (TO *)y_;                                                                 \
    if (s_[0] && s_[1]) {                                                              \
      for (int64_t i_ = 0; i_ < n_; i_++) {                                            \
        const TI x = a_[i_], z = b_[i_];                                               \
        o_[i_] = (TO)(EXPR);                                                           \
      }                                                                                \
    } else if (s_[0]) {                                                                \
      const TI z = b_[0];                                                              \
      for (int64_t i_ = 0; i_ < n_; i_++) {                                            \
        const TI x = a_[i_];                                                           \
        o_[i_] = (TO)(EXPR);                                                           \
      }                                                                                \
    } else if (s_[1]) {                                                                \
      const TI x = a_[0];                                                              \
      for (int64_t i_ = 0; i_ < n_; i_++) {                                            \
        const TI z = b_[i_];                                                           \
        o_[i_] = (TO)(EXPR);                                                           \
      }                                                                                \
    } else {                                                                           \
      const TI x = a_[0], z = b_[0];                                                   \
      const TO v_ = (TO)(EXPR);                                                        \
      for (int64_t i_ = 0; i_ < n_; i_++) o_[i_] = v_;                                 \
    }                                                                                  \
  }

/* The integer element types with the unsigned type their wrapping arithmetic runs in:
 * X(code, C type, unsigned arithmetic type, is signed). */
#define BIN_INT_TYPES(X)                                                                   \
  X(s8, int8_t, uint32_t, 1) X(u8, uint8_t, uint32_t, 0) X(s16, int16_t, uint32_t, 1)     \
  X(u16, uint16_t, uint32_t, 0) X(s32, int32_t, uint32_t, 1) X(u32, uint32_t, uint32_t, 0) \
  X(s64, int64_t, uint64_t, 1) X(u64, uint64_t, uint64_t, 0)

/* The kernel of an elementwise arithmetic operation for one element type (NULL: the type is not
 * supported). binary.c defines them; binary_variadic.c folds Max, Min, Sum and Mean with them. */
enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_MOD, BIN_FMOD, BIN_MAX, BIN_MIN, BIN_NKINDS };
bin_run_fn cquant__bin_arith_kernel(int kind, cquant_dtype_t dt);

/* The operators (binary.c, binary_variadic.c, binary_logic.c, binary_cast.c; elementwise.c calls
 * some for the legacy entry point cquant__op_elementwise). */
#define BIN_OP(name) int name(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int)
BIN_OP(cquant__bin_op_add);
BIN_OP(cquant__bin_op_sub);
BIN_OP(cquant__bin_op_mul);
BIN_OP(cquant__bin_op_div);
BIN_OP(cquant__bin_op_max);
BIN_OP(cquant__bin_op_min);
BIN_OP(cquant__bin_op_sum);
BIN_OP(cquant__bin_op_mean);
BIN_OP(cquant__bin_op_compare);
BIN_OP(cquant__bin_op_logic);
BIN_OP(cquant__bin_op_bitwise);
BIN_OP(cquant__bin_op_bitshift);
BIN_OP(cquant__bin_op_where);
BIN_OP(cquant__bin_op_cast);
BIN_OP(cquant__bin_op_cast_like);

#endif
