/* Comparison (Equal, Less, Greater, LessOrEqual, GreaterOrEqual: bool outputs), logic (And, Or,
 * Xor on bool), bitwise (BitwiseAnd, BitwiseOr, BitwiseXor on integers), BitShift (unsigned
 * integers) and Where (any element type), all with numpy broadcasting (the opset < 7 broadcast
 * and axis attributes for the ops that had them). */
#include <stdlib.h>
#include <string.h>
#include "exec/ops/binary_internal.h"

/* ---- comparisons ----------------------------------------------------------------------------- */

enum { C_EQ, C_LT, C_GT, C_LE, C_GE, C_N };

#define CMP_KERNELS(c, T, ...)                     \
  BIN_RUN2(eq_##c, T, uint8_t, x == z)             \
  BIN_RUN2(lt_##c, T, uint8_t, x < z)              \
  BIN_RUN2(gt_##c, T, uint8_t, x > z)              \
  BIN_RUN2(le_##c, T, uint8_t, x <= z)             \
  BIN_RUN2(ge_##c, T, uint8_t, x >= z)
#define CMP_INT(c, T, U, S) CMP_KERNELS(c, T)
BIN_INT_TYPES(CMP_INT)
CMP_KERNELS(f32, float)
CMP_KERNELS(f64, double)
/* bool: any non-zero byte is true */
BIN_RUN2(eq_b, uint8_t, uint8_t, !x == !z)
BIN_RUN2(lt_b, uint8_t, uint8_t, !x && z)
BIN_RUN2(gt_b, uint8_t, uint8_t, x && !z)
BIN_RUN2(le_b, uint8_t, uint8_t, !x || z)
BIN_RUN2(ge_b, uint8_t, uint8_t, x || !z)

#define CROW(c, DT) [DT] = {eq_##c, lt_##c, gt_##c, le_##c, ge_##c},
static const bin_run_fn cmp_k[CQUANT_DT_COUNT][C_N] = {
    CROW(f32, CQUANT_DT_F32) CROW(f64, CQUANT_DT_F64) CROW(s8, CQUANT_DT_S8) CROW(u8, CQUANT_DT_U8) CROW(s16, CQUANT_DT_S16)
    CROW(u16, CQUANT_DT_U16) CROW(s32, CQUANT_DT_S32) CROW(u32, CQUANT_DT_U32) CROW(s64, CQUANT_DT_S64) CROW(u64, CQUANT_DT_U64)
    CROW(b, CQUANT_DT_BOOL)};

/* A and B of one type (legacy broadcast applied), float16 and bfloat16 widened to float32; fn
 * picked by the caller from the work type; output of type yt. */
static int run2(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                const bin_run_fn *table, int kind, int n_kinds, cquant_dtype_t yt, int legacy) {
  if (n_in < 2 || !in[0] || !in[1]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "needs the inputs A and B");
  const cquant_dtype_t dt = in[0]->dtype;
  if (in[1]->dtype != dt)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "A is %s but B is %s (the types must match)", bin_tname(dt),
                              bin_tname(in[1]->dtype));
  const int half = dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16;
  const cquant_dtype_t wt = half ? CQUANT_DT_F32 : dt;
  bin_run_fn fn = (int)wt >= 0 && wt < CQUANT_DT_COUNT ? table[(size_t)wt * (size_t)n_kinds + (size_t)kind] : NULL;
  if (!fn) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s tensors are not supported", bin_tname(dt));
  cquant_array_t b, t[2];
  int st = legacy ? cquant__bin_legacy_b(ctx, node, in[0], in[1], &b) : CQUANT_STATUS_OK;
  if (!legacy) b = *in[1];
  if (st) return st;
  memset(t, 0, sizeof t);
  const cquant_array_t *ops[2];
  int ndim;
  int64_t shape[CQUANT_MAX_DIMS];
  bin_plan_t p;
  if (!(st = cquant__bin_to_f32(in[0], &t[0], &ops[0])) && !(st = cquant__bin_to_f32(&b, &t[1], &ops[1])) &&
      !(st = cquant__bin_plan(node, ops, 2, &ndim, shape, &p)) && !(st = cquant_array_alloc(&out[0], yt, ndim, shape)))
    cquant__bin_loop(&p, ops, out[0].data, cquant__dtype_size(yt), fn, NULL);
  cquant_array_free(&t[0]);
  cquant_array_free(&t[1]);
  return st;
}

int cquant__bin_op_compare(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                           int n_out) {
  const char *op = node->op_type;
  const int kind = !strcmp(op, "Equal") ? C_EQ : !strcmp(op, "Less") ? C_LT : !strcmp(op, "Greater") ? C_GT : !strcmp(op, "LessOrEqual") ? C_LE : C_GE;
  return run2(ctx, node, in, n_in, out, &cmp_k[0][0], kind, C_N, CQUANT_DT_BOOL, 1);
}

/* ---- And, Or, Xor ---------------------------------------------------------------------------- */

enum { L_AND, L_OR, L_XOR, L_N };
BIN_RUN2(and_b, uint8_t, uint8_t, x && z)
BIN_RUN2(or_b, uint8_t, uint8_t, x || z)
BIN_RUN2(xor_b, uint8_t, uint8_t, !x != !z)
static const bin_run_fn logic_k[CQUANT_DT_COUNT][L_N] = {[CQUANT_DT_BOOL] = {and_b, or_b, xor_b}};

int cquant__bin_op_logic(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                         int n_out) {
  const int kind = !strcmp(node->op_type, "And") ? L_AND : !strcmp(node->op_type, "Or") ? L_OR : L_XOR;
  return run2(ctx, node, in, n_in, out, &logic_k[0][0], kind, L_N, CQUANT_DT_BOOL, 1);
}

/* ---- BitwiseAnd, BitwiseOr, BitwiseXor ------------------------------------------------------- */

#define BITWISE(c, T)                           \
  BIN_RUN2(band_##c, T, T, x & z)               \
  BIN_RUN2(bor_##c, T, T, x | z)                \
  BIN_RUN2(bxor_##c, T, T, x ^ z)
BITWISE(8, uint8_t)
BITWISE(16, uint16_t)
BITWISE(32, uint32_t)
BITWISE(64, uint64_t)
#define BROW(c, DT) [DT] = {band_##c, bor_##c, bxor_##c},
static const bin_run_fn bitwise_k[CQUANT_DT_COUNT][L_N] = {BROW(8, CQUANT_DT_S8) BROW(8, CQUANT_DT_U8) BROW(16, CQUANT_DT_S16)
                                                             BROW(16, CQUANT_DT_U16) BROW(32, CQUANT_DT_S32) BROW(32, CQUANT_DT_U32)
                                                                 BROW(64, CQUANT_DT_S64) BROW(64, CQUANT_DT_U64)};

int cquant__bin_op_bitwise(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                           int n_out) {
  const int kind = !strcmp(node->op_type, "BitwiseAnd") ? L_AND : !strcmp(node->op_type, "BitwiseOr") ? L_OR : L_XOR;
  return run2(ctx, node, in, n_in, out, &bitwise_k[0][0], kind, L_N, in[0] ? in[0]->dtype : CQUANT_DT_U8, 0);
}

/* ---- BitShift -------------------------------------------------------------------------------- */

/* A shift by the width or more gives 0, as numpy's shifts do. */
#define SHIFTS(c, T, U, BITS)                                        \
  BIN_RUN2(shl_##c, T, T, z >= BITS ? (T)0 : (T)((U)x << z))         \
  BIN_RUN2(shr_##c, T, T, z >= BITS ? (T)0 : (T)(x >> z))
SHIFTS(u8, uint8_t, uint32_t, 8)
SHIFTS(u16, uint16_t, uint32_t, 16)
SHIFTS(u32, uint32_t, uint32_t, 32)
SHIFTS(u64, uint64_t, uint64_t, 64)
static const bin_run_fn shift_k[CQUANT_DT_COUNT][2] = {[CQUANT_DT_U8] = {shl_u8, shr_u8},
                                                       [CQUANT_DT_U16] = {shl_u16, shr_u16},
                                                       [CQUANT_DT_U32] = {shl_u32, shr_u32},
                                                       [CQUANT_DT_U64] = {shl_u64, shr_u64}};

int cquant__bin_op_bitshift(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                            int n_out) {
  const char *dir = cquant__attr_string(node, "direction", NULL);
  if (!dir) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the attribute direction is missing");
  int right;
  if (!strcmp(dir, "LEFT")) right = 0;
  else if (!strcmp(dir, "RIGHT")) right = 1;
  else return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "direction must be LEFT or RIGHT, got '%s'", dir);
  return run2(ctx, node, in, n_in, out, &shift_k[0][0], right, 2, in[0] ? in[0]->dtype : CQUANT_DT_U8, 0);
}

/* ---- Where ----------------------------------------------------------------------------------- */

/* The stride patterns of masking (a contiguous condition with a scalar on one side) get loops of
 * their own. */
#define WHERE_RUN(NAME, T)                                                                           \
  static void NAME(void *u, const char *const *p, const int64_t *s, char *yv, int64_t n) {          \
    const uint8_t *c = (const uint8_t *)p[0];                                                        \
    const T *x = (const T *)p[1], *z = (const T *)p[2];                                              \
    T *y = (T *)yv;                                                                                  \
    if (s[0] && s[1] && s[2]) {                                                                      \
      for (int64_t i = 0; i < n; i++) y[i] = c[i] ? x[i] : z[i];                                     \
    } else if (s[0] && s[1]) {                                                                       \
      const T zv = z[0];                                                                             \
      for (int64_t i = 0; i < n; i++) y[i] = c[i] ? x[i] : zv;                                       \
    } else if (s[0] && s[2]) {                                                                       \
      const T xv = x[0];                                                                             \
      for (int64_t i = 0; i < n; i++) y[i] = c[i] ? xv : z[i];                                       \
    } else {                                                                                         \
      for (int64_t i = 0; i < n; i++) y[i] = c[s[0] * i] ? x[s[1] * i] : z[s[2] * i];                \
    }                                                                                                \
  }
WHERE_RUN(where_1, uint8_t)
WHERE_RUN(where_2, uint16_t)
WHERE_RUN(where_4, uint32_t)
WHERE_RUN(where_8, uint64_t)

int cquant__bin_op_where(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                         int n_out) {
  if (n_in < 3 || !in[0] || !in[1] || !in[2]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "needs the inputs condition, X and Y");
  if (in[0]->dtype != CQUANT_DT_BOOL)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "condition must be bool, got %s", bin_tname(in[0]->dtype));
  if (in[1]->dtype != in[2]->dtype)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X is %s but Y is %s (the types must match)", bin_tname(in[1]->dtype),
                              bin_tname(in[2]->dtype));
  const size_t es = cquant__dtype_size(in[1]->dtype);
  bin_run_fn fn = !bin_is_numeric(in[1]->dtype) ? NULL : es == 1 ? where_1 : es == 2 ? where_2 : es == 4 ? where_4 : es == 8 ? where_8 : NULL;
  if (!fn) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s tensors are not supported", bin_tname(in[1]->dtype));
  int ndim, st;
  int64_t shape[CQUANT_MAX_DIMS];
  bin_plan_t p;
  if ((st = cquant__bin_plan(node, in, 3, &ndim, shape, &p)) || (st = cquant_array_alloc(&out[0], in[1]->dtype, ndim, shape))) return st;
  cquant__bin_loop(&p, in, out[0].data, es, fn, NULL);
  return CQUANT_STATUS_OK;
}
