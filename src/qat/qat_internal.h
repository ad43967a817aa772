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
  int gset;            /* the gradient has been written this step (see cquant__qat_grad_acc) */
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

/* CQUANT_QAT_CLIP_AUTO clips weights narrower than this (docs/qat.md section 2) */
#define CQUANT__QAT_CLIP_BITS 4

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
  /* The exported layer's int32 bias (docs/quantization.md eq. 28), simulated so that the forward
   * computes what the QDQ file does: the weights' fake-quant node, the value holding the input's
   * activation scale, the float bias value (-1: none); on a Conv or Gemm without BatchNorm, and on
   * the BatchNormalization folded into a Conv (applied while it uses its running statistics). */
  int bq_wfq, bq_sx, bq_bias;
  float *bq;           /* 2 C floats: the simulated biases (or the BatchNorm's shift) and scales */
  int32_t *bqi;
  int64_t bqcap;
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
/* Gradients are not cleared before the backward pass: the first node that contributes to a value's
 * gradient writes it, the others add (docs/qat.md eq. 1). cquant__qat_grad_acc, called by a kernel
 * about to contribute to the gradient of value v: 0 when it is the first contribution this step
 * (the kernel must then write every element: the buffer holds stale values), 1 when it must add.
 * cquant__qat_grad_zeroed: zeroes the buffer on the first contribution, for kernels that scatter
 * into it or write part of it. */
int cquant__qat_grad_acc(cquant_qat_t *q, int v);
void cquant__qat_grad_zeroed(cquant_qat_t *q, int v);

/* Parallel loops run on cquant's work-sharing pool (src/exec/ops/conv_par.c), not OpenMP: the
 * caller takes units itself and waits only for units a helper has claimed, so that a helper the
 * scheduler runs late (a busy machine) does not hold up every operator, and idle helpers sleep
 * instead of spinning. Results never depend on which thread ran a unit: units write disjoint
 * outputs, and sums are per unit or per channel, combined in a fixed order.
 * cquant__qat_par: fn(ctx, u, worker) for u < units on the session's threads (worker < threads
 * indexes per-thread scratch). cquant__qat_par_range: fn(ctx, i0, i1) over 0..n-1 in ranges of
 * `grain` (one call on the caller's thread when n <= grain). */
typedef void (*qat_unit_fn)(void *ctx, int64_t unit, int worker);
typedef void (*qat_range_fn)(void *ctx, int64_t i0, int64_t i1);
void cquant__qat_par(int64_t units, qat_unit_fn fn, void *ctx);
void cquant__qat_par_range(int64_t n, int64_t grain, qat_range_fn fn, void *ctx);
int cquant__qat_nthreads(void);

/* Elementwise loops split into ranges of this many elements (smaller tensors stay on one thread:
 * the work is memory-bound and a parallel region costs more than it saves). */
#define QAT_GRAIN 16384
/* units (planes, channels) of `work` elements each per range */
static inline int64_t qat_grain(int64_t work) { return QAT_GRAIN / (work > 0 ? work : 1) + 1; }

/* v where c holds, else 0; both are evaluated (a call's arguments are), so that the compiler can
 * turn the choice into a vector select: a load or comparison under a condition (a ?: operand, the
 * right side of &&) keeps the loop scalar. Conditions combine with & for the same reason. */
static inline float qat_pass(int c, float v) { return c ? v : 0.0f; }

/* dst[i] = EXPR (the first contribution to a gradient) or dst[i] += EXPR for i in i0..i1-1; EXPR
 * reads loaded values only (no loads under a condition), so that the loops vectorize. */
#define QAT_PUT(acc, dst, i0, i1, EXPR)                      \
  do {                                                       \
    if (acc)                                                 \
      for (int64_t i = (i0); i < (i1); i++) (dst)[i] += (EXPR); \
    else                                                     \
      for (int64_t i = (i0); i < (i1); i++) (dst)[i] = (EXPR);  \
  } while (0)

/* Sums in a fixed order that does not depend on the thread count: 8 double lanes over the
 * elements (element j into lane j % 8, which the compiler vectorizes), the lanes added in order.
 * qat_sum: x; qat_dot: x * y; qat_dotc: y * (x - m); qat_sumsq: (x - m)^2. */
#define QAT_LANES(n, TERM)                                          \
  double acc_[8] = {0, 0, 0, 0, 0, 0, 0, 0};                        \
  int64_t j_ = 0;                                                   \
  for (; j_ + 8 <= (n); j_ += 8)                                    \
    for (int l_ = 0; l_ < 8; l_++) {                                \
      const int64_t j = j_ + l_;                                    \
      acc_[l_] += (TERM);                                           \
    }                                                               \
  for (; j_ < (n); j_++) {                                          \
    const int64_t j = j_;                                           \
    acc_[j_ & 7] += (TERM);                                         \
  }                                                                 \
  return ((acc_[0] + acc_[1]) + (acc_[2] + acc_[3])) + ((acc_[4] + acc_[5]) + (acc_[6] + acc_[7]))

static inline double qat_sum(const float *x, int64_t n) { QAT_LANES(n, (double)x[j]); }
static inline double qat_dot(const float *x, const float *y, int64_t n) { QAT_LANES(n, (double)x[j] * (double)y[j]); }
static inline double qat_dotc(const float *x, const float *y, int64_t n, double m) { QAT_LANES(n, (double)y[j] * ((double)x[j] - m)); }
/* sum y and sum y (x - m) in one pass */
static inline void qat_sum_dotc(const float *x, const float *y, int64_t n, double m, double *sy, double *syx) {
  double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4)
    for (int l = 0; l < 4; l++) a[l] += (double)y[j + l], b[l] += (double)y[j + l] * ((double)x[j + l] - m);
  for (; j < n; j++) a[j & 3] += (double)y[j], b[j & 3] += (double)y[j] * ((double)x[j] - m);
  *sy += (a[0] + a[1]) + (a[2] + a[3]), *syx += (b[0] + b[1]) + (b[2] + b[3]);
}
/* sum (x - m) and sum (x - m)^2 in one pass */
static inline void qat_sum_sq(const float *x, int64_t n, double m, double *s1, double *s2) {
  double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4)
    for (int l = 0; l < 4; l++) {
      const double d = (double)x[j + l] - m;
      a[l] += d, b[l] += d * d;
    }
  for (; j < n; j++) {
    const double d = (double)x[j] - m;
    a[j & 3] += d, b[j & 3] += d * d;
  }
  *s1 += (a[0] + a[1]) + (a[2] + a[3]), *s2 += (b[0] + b[1]) + (b[2] + b[3]);
}
static inline double qat_sumsq(const float *x, int64_t n, double m) { QAT_LANES(n, ((double)x[j] - m) * ((double)x[j] - m)); }

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
/* LSQ weights with simulated BatchNorm folding (in[2] the trained step t of W, in[3] the fold
 * s_c): the node's scale in[1] = t s_c (docs/qat.md eq. 9a); no-op for other nodes. */
void cquant__qat_fq_fold_scale(cquant_qat_t *q, const qat_node_t *n);

/* src/qat/fakequant.c: the biases the exported file holds (eq. 28 of docs/quantization.md) for
 * node n's float biases b (C of them; for a folded BatchNorm: its folded bias), or b itself when n
 * has no simulated bias; NULL when out of memory. */
const float *cquant__qat_bias_q(cquant_qat_t *q, qat_node_t *n, const float *b, int64_t C);

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
