/* Internal: the executor's operator table, the per-node cache and the operator implementations
 * (src/exec/ops/). */
#ifndef CQUANT_EXEC_INTERNAL_H
#define CQUANT_EXEC_INTERNAL_H

#include "onnx/onnx_internal.h"

/* What an operator knows of the model run that calls it: the model, the node's index and which
 * inputs are initializers (bit k: input k). Operators receive NULL when they are called outside a
 * model run (the constant-folding pass): then nothing is constant to them and nothing is cached. */
typedef struct cquant__opctx {
  cquant_onnx_model_t *m;
  int node;            /* the top-level node's index; -1 inside a subgraph (nothing is cached there) */
  uint32_t const_mask;
  const struct cquant__scope *scope;      /* the values visible to the node (the executor's) */
  struct cquant__body *const *subs;       /* the node's subgraphs, NULL-terminated, or NULL */
  int opset;           /* outside a model run (m NULL: constant folding): the graph's ai.onnx opset, 0 unknown */
} cquant__opctx_t;

/* Runs the subgraph the node's GRAPH attribute `attr` holds (If's branches, Loop/Scan/SequenceMap
 * bodies) with its graph inputs bound to in[0..n_in) and the enclosing scopes' values visible;
 * out[0..n_out) receive its outputs (owned; freed here on error). The count of inputs and outputs
 * must equal the subgraph's (an error naming the node otherwise). ctx must come from a model run. */
int cquant__subgraph_run(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const char *attr, int n_in,
                         const cquant_array_t *const *in, int n_out, cquant_array_t *out);
/* The subgraph's count of inputs and outputs (-1 when the node has no such attribute). */
int cquant__subgraph_arity(const cquant__opctx_t *ctx, const char *attr, int *n_in, int *n_out);

/* Sequences and optionals as values (src/exec/ops/control_value.c). A sequence is an array of
 * dtype CQUANT_DT_SEQUENCE, ndim 1, shape[0] = numel elements; data holds numel owned
 * cquant_array_t (tensors, or containers themselves). An optional is CQUANT_DT_OPTIONAL with numel
 * 0 (no value) or 1 (data holds the value). cquant_array_free frees both recursively. */
int cquant__is_container(cquant_dtype_t dt);
/* A sequence of n zeroed elements (the caller fills them) and an optional with or without a slot. */
int cquant__seq_alloc(cquant_array_t *a, int64_t n);
int cquant__opt_alloc(cquant_array_t *a, int has_value);
static inline cquant_array_t *cquant__elems(const cquant_array_t *a) { return (cquant_array_t *)a->data; }
/* A deep copy of any value (tensor or container). */
int cquant__array_copy(const cquant_array_t *src, cquant_array_t *dst);

/* The model's ai.onnx opset version (outside a model run the opset the caller gave in ctx->opset,
 * else 21): operators whose semantics changed between versions read it. */
int cquant__opset(const cquant__opctx_t *ctx);

/* An operator: checks and computes one node. in[i] is NULL for an omitted optional input; ctx may
 * be NULL. */
typedef int (*cquant__op_fn)(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                             cquant_array_t *out, int n_out);

typedef struct cquant__op {
  const char *op_type;
  cquant__op_fn fn;
  int min_in, max_in, min_out, max_out;
  int containers; /* 1: takes sequences and optionals too (the executor refuses them to the others) */
} cquant__op_t;

const cquant__op_t *cquant__op_find(const char *op_type);
/* The operator tables of the families (src/exec/ops/), each ending in an entry with op_type NULL;
 * registry.c searches them before its own table, so a family may take over an operator. Names of
 * com.microsoft operators carry the "com.microsoft." prefix. */
extern const cquant__op_t cquant__ops_math[];     /* unary math and activations (math.c) */
extern const cquant__op_t cquant__ops_binary[];   /* broadcasting binary, logic, comparison, variadic, Where, Cast (binary.c) */
extern const cquant__op_t cquant__ops_reduce[];   /* reductions, arg-reductions, TopK, CumSum, softmax family, Einsum (reduce2.c) */
extern const cquant__op_t cquant__ops_tensor[];   /* shape and indexing operators (tensor.c) */
extern const cquant__op_t cquant__ops_nn[];       /* convolutions, pooling, Gemm/MatMul, BatchNormalization, Dropout (nn2.c) */
extern const cquant__op_t cquant__ops_vision[];   /* normalizations, Resize, GridSample, RoiAlign, NonMaxSuppression (vision.c) */
extern const cquant__op_t cquant__ops_rnn[];      /* RNN, LSTM, GRU and signal operators (rnn.c) */
extern const cquant__op_t cquant__ops_control[];  /* If, Loop, Scan, sequences, Optional (control.c) */
/* Ops of the default domain, and the com.microsoft ones cquant runs. */
const cquant__op_t *cquant__op_find_domain(const char *domain, const char *op_type);

/* Per-node cache of values derived from constant inputs (packed weights), for the node ctx
 * describes: valid while the model lives. get: the value stored under key or NULL.
 * put: stores val (taking ownership, freed with fr with the model) and returns what the node should
 * use (another thread's value when it stored first, then val is freed here); NULL when ctx is NULL
 * (a constant-folding pass): the caller keeps and frees val. input_is_const: input k is an
 * initializer (0 when ctx is NULL). */
typedef struct cquant__slot {
  const void *key;
  void *val;
  void (*fr)(void *);
} cquant__slot_t;
int cquant__input_is_const(const cquant__opctx_t *ctx, int k);
void *cquant__cache_get(cquant__opctx_t *ctx, const void *key);
void *cquant__cache_put(cquant__opctx_t *ctx, const void *key, void *val, void (*fr)(void *));


/* Operator implementations (src/exec/ops/: quant.c, qlinear.c, elementwise.c, reduce.c, nn.c). */
int cquant__op_quantize_linear(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_dequantize_linear(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_dynamic_quantize_linear(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_matmul_integer(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_matmul(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_conv_integer(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_conv(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_elementwise(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_reduce(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

/* 2-D convolution attributes (strides, dilations, pads, auto_pad, group) for x (NCHW) and w. */
struct cquant__conv2d;
int cquant__conv_params(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *w, struct cquant__conv2d *p);

/* Float operators (src/exec/ops/: conv.c, elementwise.c, pool.c, nn.c, shape.c). */
int cquant__op_conv(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_gemm(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_matmul(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_pool(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_batchnorm(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_reshape_like(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_transpose(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_concat(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_shape(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_gather(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_slice(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_pad(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_expand(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_constant_of_shape(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

/* Float requantization (eq. 23): y = saturate(round_half_even(acc m) + z) into uint8/int8. */
void cquant__requant_f(const int32_t *acc, int64_t n, float m, int32_t z, cquant_dtype_t dt, void *y);
/* A per-tensor scale and zero-point pair. */
int cquant__scalar_qp(const Onnx__NodeProto *node, const cquant_array_t *s, const cquant_array_t *z, const char *what, float *sv,
                      int32_t *zv, cquant_dtype_t *zdt);
/* com.microsoft quantized operators ONNX Runtime defines (src/exec/ops/qlinear.c); Relu, float or
 * 8-bit (src/exec/ops/elementwise.c); Resize, Upsample (resize.c); Split (shape.c). */
int cquant__op_qgemm(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_add(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_qlinear_gap(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_relu(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_resize(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_upsample(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_split(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_nhwc_maxpool(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

/* Shared helpers (src/exec/ops/common.c). */
/* Output shape of a multidirectional (numpy) broadcast of n inputs, and each input's element
 * strides over it (0 on broadcast axes; strides may be NULL). */
int cquant__broadcast(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n, int *ndim, int64_t *shape,
                      int64_t strides[][CQUANT_MAX_DIMS]);
/* The element offset of output element `flat` in an input with the given strides. */
int64_t cquant__offset_of(int64_t flat, int ndim, const int64_t *shape, const int64_t *stride);
/* Element i of any element type as double or int64 (floats truncated, NaN as 0), and stores
 * (float types round to nearest even, fp8 saturating; integers wrap as a C cast does). */
double cquant__get_f64(const cquant_array_t *a, int64_t i);
int64_t cquant__get_i64(const cquant_array_t *a, int64_t i);
void cquant__set_f64(cquant_array_t *a, int64_t i, double v);
void cquant__set_i64(cquant_array_t *a, int64_t i, int64_t v);
int cquant__is_float(cquant_dtype_t dt);
/* An integer scalar or 1-D tensor (shape, axes, pads, ...) as int64, at most max entries. */
int cquant__read_ints(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int64_t *out, int max, int *n);
/* Attributes: a float, a string (copied into a per-thread buffer, valid until the next call) and
 * an int list (*n = -1 when absent). */
float cquant__attr_float(const Onnx__NodeProto *node, const char *name, float dflt);
const char *cquant__attr_string(const Onnx__NodeProto *node, const char *name, const char *dflt);
int cquant__attr_ints(const Onnx__NodeProto *node, const char *name, int64_t *out, int max, int *n);
/* A possibly negative axis in [-rank, rank) made non-negative. */
int cquant__norm_axis(const Onnx__NodeProto *node, int64_t axis, int rank, int *out);

/* Helpers for quantized operators: a zero-point tensor as int32 values (NULL input: one 0), and
 * its element type (uint8 when absent). n gets the number of entries. */
int cquant__zero_points(const Onnx__NodeProto *node, const cquant_array_t *z, const char *what, int32_t **out, int64_t *n,
                        cquant_dtype_t *dt);
/* An input that must be float32 (missing: INVALID_ARGUMENT, another type: UNSUPPORTED). */
int cquant__need_f32(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what);
/* A float32 scale tensor: every entry finite and > 0. */
int cquant__scales(const Onnx__NodeProto *node, const cquant_array_t *s, const char *what, const float **out, int64_t *n);

#endif
