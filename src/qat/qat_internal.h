/* Internal: the QAT training graph (a tape over the model's nodes) shared by src/qat/.
 *
 * Values are float32 tensors with a gradient buffer; nodes are forward/backward kernel pairs over
 * them, in topological order. Forward fills every output (re-sized each batch: the batch axis may
 * change); backward walks the nodes in reverse and *adds* into the gradients of the inputs that
 * need one (a value read twice gets both contributions). */
#ifndef CQUANT_QAT_INTERNAL_H
#define CQUANT_QAT_INTERNAL_H

#include <stdint.h>
#include "cquant/ptq.h"
#include "cquant/qat.h"
#include "onnx/onnx_internal.h"

#define QAT_MAXD 8
#define QAT_MAXIN 8

typedef struct {
  const char *name;
  int ndim;
  int64_t shape[QAT_MAXD];
  int64_t numel;
  float *x, *g;        /* value and gradient (g NULL when no gradient is needed) */
  int64_t cap, gcap;   /* capacities in floats */
  const cquant_array_t *cst; /* initializers of other types (Reshape's shape, ...) */
  int is_init;         /* float initializer (x points to the session's own copy) */
  int param;           /* index into q->params, -1 if not trained */
  int needs_grad;
} qat_val_t;

enum {
  QOP_CONV, QOP_GEMM, QOP_MATMUL, QOP_BN, QOP_RELU, QOP_LEAKYRELU, QOP_CLIP, QOP_HARDSIGMOID, QOP_HARDSWISH, QOP_SIGMOID,
  QOP_TANH, QOP_ERF, QOP_ADD, QOP_SUB, QOP_MUL, QOP_DIV, QOP_MAXPOOL, QOP_AVGPOOL, QOP_GAP, QOP_FLATTEN, QOP_RESHAPE,
  QOP_TRANSPOSE, QOP_CONCAT, QOP_SOFTMAX, QOP_LAYERNORM, QOP_IDENTITY,
  /* the trainer's own nodes */
  QOP_FQ,       /* fake quantization: in x, scale, offset (offset only for activations) */
  QOP_BNSCALE,  /* gamma / sqrt(running_var + eps), no gradient */
  QOP_CHMUL,    /* w * s[c] along axis 0 (gradient to w) */
  QOP_CHDIV,    /* y / s[c] along axis 1, plus an optional bias (gradients to y and bias) */
  QOP_COUNT
};

typedef struct qat_fq {
  int weight;          /* 1: per output channel along axis 0, symmetric; 0: per tensor */
  int bits, qmin, qmax;
  int64_t C;           /* channels (1 per tensor) */
  int lsq;
  float grad_scale;    /* LSQ: 1 / sqrt(n * qmax) (docs/qat.md eq. 9) */
  float *ratio;        /* STE weights: the scale is ratio[c] * max|w_c| / qmax, ratio from the
                          MSE-best clipping at initialization (1 for min-max) */
  int initialized;
  int64_t ema_left;    /* STE activations: EMA steps left, then frozen */
  double ema_decay;
  double lo, hi;       /* the EMA range */
} qat_fq_t;

typedef struct {
  int op;
  const Onnx__NodeProto *src; /* NULL for the trainer's own nodes */
  const char *label;
  int in[QAT_MAXIN], n_in;
  int out;
  /* attributes */
  int64_t kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, group;
  int ceil_mode, count_include_pad;
  int transA, transB;
  float alpha, beta, eps, momentum, fmin, fmax;
  int axis;
  int64_t perm[QAT_MAXD];
  int training_bn;     /* BN: batch statistics this step */
  /* saved state */
  float *buf;          /* BN: mean, invstd per channel; LayerNorm: mean, invstd per row */
  int64_t bufcap;
  int32_t *idx;        /* MaxPool argmax */
  int64_t idxcap;
  qat_fq_t *fq;
} qat_node_t;

typedef struct {
  int val;             /* the value trained */
  float *m, *v;        /* optimizer state */
  int decay;           /* weight decay applies (rank >= 2 weights) */
  int is_scale;        /* LSQ step size: kept > 0 */
} qat_param_t;

struct cquant_qat {
  const cquant_onnx_model_t *orig;
  cquant_onnx_model_t *work;  /* constants folded, identities removed, BatchNorm kept */
  cquant_qat_options_t opt;
  qat_val_t *val;
  int n_val, cap_val;
  qat_node_t *node;
  int n_node, cap_node;
  qat_param_t *par;
  int n_par;
  int input, output;   /* value indices */
  int64_t classes;
  cquant_ptq_t *ptq;   /* the placement (layers, plan) and calibration */
  int ranges_set;
  int64_t step;
  float *scratch;
  int64_t scratch_cap;
  int bn_frozen;
  char **strs;         /* names made by the session */
  int n_strs;
};

/* src/qat/build.c */
int cquant__qat_val(cquant_qat_t *q, const char *name);          /* index or -1 */
int cquant__qat_new_val(cquant_qat_t *q, const char *name);      /* a new empty value */
qat_node_t *cquant__qat_new_node(cquant_qat_t *q, int op, const char *label);
char *cquant__qat_str(cquant_qat_t *q, const char *fmt, ...) CQUANT__PRINTF(2, 3); /* NULL: out of memory */
int cquant__qat_build(cquant_qat_t *q);

/* src/qat/tape.c: value sizing and the passes */
int cquant__qat_resize(cquant_qat_t *q, int v, int ndim, const int64_t *shape);
int cquant__qat_forward(cquant_qat_t *q, int training);
int cquant__qat_backward(cquant_qat_t *q);
float *cquant__qat_scratch(cquant_qat_t *q, int64_t n);

/* kernels: forward returns a status (shape errors name the node); backward cannot fail */
int cquant__qat_conv_fwd(cquant_qat_t *q, qat_node_t *n);
void cquant__qat_conv_bwd(cquant_qat_t *q, qat_node_t *n);
int cquant__qat_dense_fwd(cquant_qat_t *q, qat_node_t *n);
void cquant__qat_dense_bwd(cquant_qat_t *q, qat_node_t *n);
int cquant__qat_norm_fwd(cquant_qat_t *q, qat_node_t *n);
void cquant__qat_norm_bwd(cquant_qat_t *q, qat_node_t *n);
int cquant__qat_elem_fwd(cquant_qat_t *q, qat_node_t *n);
void cquant__qat_elem_bwd(cquant_qat_t *q, qat_node_t *n);
int cquant__qat_pool_fwd(cquant_qat_t *q, qat_node_t *n);
void cquant__qat_pool_bwd(cquant_qat_t *q, qat_node_t *n);
int cquant__qat_shape_fwd(cquant_qat_t *q, qat_node_t *n);
void cquant__qat_shape_bwd(cquant_qat_t *q, qat_node_t *n);
int cquant__qat_fq_fwd(cquant_qat_t *q, qat_node_t *n, int training);
void cquant__qat_fq_bwd(cquant_qat_t *q, qat_node_t *n);

/* src/qat/fakequant.c: the scale and offset of an activation range (docs/qat.md eq. 3) */
void cquant__qat_range_qparams(double lo, double hi, int qmax, float *s, float *z);

/* src/qat/loss.c: softmax cross-entropy (docs/qat.md eq. 17-18) on N x C logits; fills the logits' gradient */
int cquant__qat_loss(const float *logits, int64_t N, int64_t C, const int64_t *labels, double smoothing, float *grad, double *loss,
                     int64_t *correct);

/* src/qat/optim.c */
double cquant__qat_lr(const cquant_qat_options_t *o, int64_t step, int64_t steps_per_epoch, int64_t total);
void cquant__qat_update(cquant_qat_t *q, double lr);

void cquant__qat_threads(int t); /* session.c: OpenMP, OpenBLAS and cquant threads (t <= 0: unchanged) */

/* src/qat/export.c */
int cquant__qat_float_model(cquant_qat_t *q, cquant_onnx_model_t **out);

#endif
