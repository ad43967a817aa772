/* The operator table and helpers shared by the operators. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"

/* The quantized operators (the families' tables hold the rest). */
static const cquant__op_t ops[] = {
    {"QuantizeLinear", cquant__op_quantize_linear, 2, 3, 1, 1, 0},
    {"DequantizeLinear", cquant__op_dequantize_linear, 2, 3, 1, 1, 0},
    {"DynamicQuantizeLinear", cquant__op_dynamic_quantize_linear, 1, 1, 3, 3, 0},
    {"MatMulInteger", cquant__op_matmul_integer, 2, 4, 1, 1, 0},
    {"QLinearMatMul", cquant__op_qlinear_matmul, 8, 8, 1, 1, 0},
    {"ConvInteger", cquant__op_conv_integer, 2, 4, 1, 1, 0},
    {"QLinearConv", cquant__op_qlinear_conv, 8, 9, 1, 1, 0},
    {"com.microsoft.QGemm", cquant__op_qgemm, 6, 9, 1, 1, 0},
    {"com.microsoft.QLinearAdd", cquant__op_qlinear_add, 7, 8, 1, 1, 0},
    {"com.microsoft.QLinearGlobalAveragePool", cquant__op_qlinear_gap, 5, 5, 1, 1, 0},
    {"com.microsoft.QLinearConv", cquant__op_qlinear_conv, 8, 9, 1, 1, 0}, /* channels_last */
    {"com.microsoft.NhwcMaxPool", cquant__op_nhwc_maxpool, 1, 1, 1, 1, 0},
};

const cquant__op_t *cquant__op_find_domain(const char *domain, const char *op_type) {
  if (!domain || !*domain || !strcmp(domain, "ai.onnx")) return strchr(op_type, '.') ? NULL : cquant__op_find(op_type);
  if (strcmp(domain, "com.microsoft")) return NULL;
  char full[128];
  snprintf(full, sizeof full, "com.microsoft.%s", op_type);
  return cquant__op_find(full);
}

/* The families' tables; each file defines its own (an empty one ends at once). */
static const cquant__op_t *const families[] = {cquant__ops_math, cquant__ops_binary, cquant__ops_reduce, cquant__ops_tensor,
                                               cquant__ops_nn, cquant__ops_vision, cquant__ops_rnn, cquant__ops_control};

const cquant__op_t *cquant__op_find(const char *op_type) {
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
    for (const cquant__op_t *o = families[f]; o->op_type; o++)
      if (!strcmp(o->op_type, op_type)) return o;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(ops[i].op_type, op_type)) return &ops[i];
  return NULL;
}

int cquant__zero_points(const Onnx__NodeProto *node, const cquant_array_t *z, const char *what, int32_t **out, int64_t *n,
                        cquant_dtype_t *dt) {
  *out = NULL;
  if (!z) {
    *out = calloc(1, sizeof(int32_t));
    *n = 1;
    *dt = CQUANT_DT_U8;
    return *out ? CQUANT_STATUS_OK : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  if (z->ndim > 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a scalar or 1-D", what);
  if (z->dtype != CQUANT_DT_U8 && z->dtype != CQUANT_DT_S8 && z->dtype != CQUANT_DT_S32)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s has type %s (uint8, int8 or int32 expected)", what, cquant_dtype_info(z->dtype)->name);
  *out = malloc(sizeof(int32_t) * (size_t)(z->numel ? z->numel : 1));
  if (!*out) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < z->numel; i++)
    (*out)[i] = z->dtype == CQUANT_DT_U8 ? ((const uint8_t *)z->data)[i]
              : z->dtype == CQUANT_DT_S8 ? ((const int8_t *)z->data)[i] : ((const int32_t *)z->data)[i];
  *n = z->numel;
  *dt = z->dtype;
  return CQUANT_STATUS_OK;
}

int cquant__scales(const Onnx__NodeProto *node, const cquant_array_t *s, const char *what, const float **out, int64_t *n) {
  if (!s || s->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s must be float32", what);
  if (s->ndim > 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be a scalar or 1-D", what);
  const float *v = s->data;
  for (int64_t i = 0; i < s->numel; i++)
    if (!(v[i] > 0) || !isfinite(v[i]))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s[%lld] = %g: scales must be finite and > 0", what, (long long)i, v[i]);
  if (!s->numel) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is empty", what);
  *out = v;
  *n = s->numel;
  return CQUANT_STATUS_OK;
}

int cquant__need_f32(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is missing", what);
  if (a->dtype != CQUANT_DT_F32) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s is %s; float32 only", what, cquant_dtype_info(a->dtype)->name);
  return CQUANT_STATUS_OK;
}

/* Every table entry once: a later entry whose name an earlier one has is shadowed by it. */
int cquant_onnx_operator(int i, const char **domain, const char **op_type) {
  const size_t nf = sizeof families / sizeof families[0];
  int k = 0;
  for (size_t f = 0; f <= nf; f++) {
    const cquant__op_t *t = f < nf ? families[f] : ops;
    const size_t n = f < nf ? SIZE_MAX : sizeof ops / sizeof ops[0];
    for (size_t j = 0; j < n && t[j].op_type; j++) {
      if (cquant__op_find(t[j].op_type) != &t[j]) continue; /* shadowed */
      if (k++ != i) continue;
      const char *dot = strrchr(t[j].op_type, '.');
      if (domain) *domain = dot ? "com.microsoft" : "";
      if (op_type) *op_type = dot ? dot + 1 : t[j].op_type;
      return CQUANT_STATUS_OK;
    }
  }
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "operator index %d is past the last (%d)", i, k - 1);
}
