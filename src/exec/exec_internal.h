/* Internal: the executor's operator table, the per-node cache and the operator implementations
 * (src/exec/ops/). */
#ifndef CQUANT_EXEC_INTERNAL_H
#define CQUANT_EXEC_INTERNAL_H

#include "onnx/onnx_internal.h"

/* An operator: checks and computes one node. in[i] is NULL for an omitted optional input. */
typedef int (*cquant__op_fn)(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                             cquant_array_t *out, int n_out);

typedef struct cquant__op {
  const char *op_type;
  cquant__op_fn fn;
  int min_in, max_in, min_out, max_out;
} cquant__op_t;

const cquant__op_t *cquant__op_find(const char *op_type);
/* Ops of the default domain, and the com.microsoft ones cquant runs. */
const cquant__op_t *cquant__op_find_domain(const char *domain, const char *op_type);

/* Per-node cache of values derived from constant inputs (packed weights), for the node the calling
 * thread is executing: valid while the model lives. get: the value stored under key or NULL.
 * put: stores val (taking ownership, freed with fr with the model) and returns what the node should
 * use (another thread's value when it stored first, then val is freed here); NULL when no model is
 * executing (a constant-folding pass): the caller keeps and frees val. input_is_const: input k is
 * an initializer. */
typedef struct cquant__slot {
  const void *key;
  void *val;
  void (*fr)(void *);
} cquant__slot_t;
int cquant__input_is_const(int k);
void *cquant__cache_get(const void *key);
void *cquant__cache_put(const void *key, void *val, void (*fr)(void *));


/* Operator implementations (src/onnx/ops_*.c). */
int cquant__op_quantize_linear(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_dequantize_linear(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_dynamic_quantize_linear(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_matmul_integer(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_matmul(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_conv_integer(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_conv(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_elementwise(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_reduce(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_constant(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_identity(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_cast(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

/* 2-D convolution attributes (strides, dilations, pads, auto_pad, group) for x (NCHW) and w. */
struct cquant__conv2d;
int cquant__conv_params(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *w, struct cquant__conv2d *p);

/* Float operators (src/onnx/ops_nn.c). */
int cquant__op_conv(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_gemm(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_matmul(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_unary(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_pool(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_batchnorm(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_reshape_like(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_transpose(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_concat(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_softmax(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_shape(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_gather(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_slice(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_pad(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_expand(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_constant_of_shape(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

/* Float requantization (eq. 23): y = saturate(round_half_even(acc m) + z) into uint8/int8. */
void cquant__requant_f(const int32_t *acc, int64_t n, float m, int32_t z, cquant_dtype_t dt, void *y);
/* A per-tensor scale and zero-point pair. */
int cquant__scalar_qp(const Onnx__NodeProto *node, const cquant_array_t *s, const cquant_array_t *z, const char *what, float *sv,
                      int32_t *zv, cquant_dtype_t *zdt);
/* com.microsoft quantized operators ONNX Runtime defines (src/onnx/ops_qcontrib.c), and Relu on 8-bit. */
int cquant__op_qgemm(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_add(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_gap(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_relu(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_resize(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_upsample(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_split(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nhwc_maxpool(const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

/* Helpers for quantized operators: a zero-point tensor as int32 values (NULL input: one 0), and
 * its element type (uint8 when absent). n gets the number of entries. */
int cquant__zero_points(const Onnx__NodeProto *node, const cquant_array_t *z, const char *what, int32_t **out, int64_t *n,
                        cquant_dtype_t *dt);
/* A float32 scale tensor: every entry finite and > 0. */
int cquant__scales(const Onnx__NodeProto *node, const cquant_array_t *s, const char *what, const float **out, int64_t *n);

#endif
