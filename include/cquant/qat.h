/* Quantization-aware training of ONNX classifiers in C (docs/qat.md).
 *
 *   cquant_qat_create       builds the training graph of a float model: reverse-mode
 *                           differentiation over its nodes, fake-quant nodes where PTQ puts its
 *                           QDQ pairs (weights per output channel, activations per tensor),
 *                           BatchNorm simulated-folded into the Conv weights it follows
 *   cquant_qat_init_ranges  the activations' ranges from PTQ calibration (any method)
 *   cquant_qat_train        epochs of minibatch SGD/AdamW on a labelled source
 *   cquant_qat_save         the trained model as QDQ ONNX (BatchNorm folded, trained scales)
 *
 * Layouts: float32, batch-major (NCHW for images). The library never prints: progress goes
 * through a callback. Every function returns 0 or a negative cquant_status with a message. */
#ifndef CQUANT_QAT_H
#define CQUANT_QAT_H

#include <stdint.h>
#include "cquant/calib.h"
#include "cquant/data.h"
#include "cquant/onnx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CQUANT_QAT_SGD = 0, CQUANT_QAT_ADAMW = 1 } cquant_qat_optimizer_t;
/* The weights' range (docs/qat.md section 2): max|w_c| of each channel, or the fraction of it with
 * the smallest squared error chosen at the first step (MSE); AUTO: MSE below 4 bits, max at 4..8. */
typedef enum { CQUANT_QAT_CLIP_AUTO = 0, CQUANT_QAT_CLIP_MAX = 1, CQUANT_QAT_CLIP_MSE = 2 } cquant_qat_clip_t;
typedef enum { CQUANT_QAT_COSINE = 0, CQUANT_QAT_STEP = 1, CQUANT_QAT_CONSTANT = 2 } cquant_qat_schedule_t;

typedef struct {
  int epoch, epochs;
  int64_t step, steps;          /* optimizer steps done and planned */
  double loss, top1;            /* running mean loss and accuracy (percent) of the epoch so far */
  double lr, seconds;           /* current learning rate; seconds since training began */
  int eval_done;                /* 1: end of an epoch with an evaluation (eval_top1 valid) */
  double eval_top1;
} cquant_qat_progress_t;

typedef struct {
  int weight_bits;              /* 2..8 (per output channel, symmetric, narrow range); 0: float */
  int act_bits;                 /* 4..8 (per tensor, asymmetric unsigned); 0: float */
  int epochs;                   /* default 1 */
  int64_t max_steps;            /* > 0: stop after this many steps (tests, short runs) */
  double lr;                    /* peak learning rate (default 1e-3) */
  int batch;                    /* default 64 */
  cquant_qat_optimizer_t optimizer; /* default AdamW */
  double momentum;              /* SGD (default 0.9) */
  double weight_decay;          /* on weights of rank >= 2 only (default 0) */
  double beta1, beta2, adam_eps;/* AdamW (0.9, 0.999, 1e-8) */
  cquant_qat_schedule_t schedule;   /* default cosine */
  int64_t warmup_steps;         /* linear warm-up from 0 (default 0) */
  int step_epochs;              /* step schedule: multiply by step_gamma every step_epochs (1, 0.1) */
  double step_gamma;
  int lsq;                      /* 1: step sizes (and activation offsets, LSQ+) are trained */
  cquant_qat_clip_t weight_clip;/* STE's weight range and LSQ's initial step (default AUTO) */
  int freeze_bn_after;          /* epochs after which BatchNorm uses and keeps its running
                                   statistics (-1: never; default -1) */
  cquant_calib_method_t init_method; /* activation range initialization (default minmax) */
  int64_t calib_samples;        /* samples of the training source used for it (default 2000) */
  int ema_steps;                /* STE: activation ranges follow an EMA for this many steps, then
                                   are frozen (default 200); LSQ trains them instead */
  double ema_decay;             /* default 0.99 */
  double label_smoothing;       /* 0..1 (default 0) */
  uint64_t seed;                /* shuffling (default 0) */
  int threads;                  /* 0: unchanged */
  void (*progress)(const cquant_qat_progress_t *p, void *user); /* may be NULL */
  void *user;
  int64_t progress_every;       /* steps between progress calls (default 50) */
  volatile int *interrupt;      /* when it becomes non-zero, training stops with CQUANT_STATUS_IO
                                   ("interrupted") and nothing is written */
} cquant_qat_options_t;

void cquant_qat_options_default(cquant_qat_options_t *o);

typedef struct cquant_qat cquant_qat_t;

/* m: a float classifier with one input whose first output is N x classes scores; it must outlive
 * the session. UNSUPPORTED naming the node and op for an operator the trainer cannot
 * differentiate. */
int cquant_qat_create(const cquant_onnx_model_t *m, const cquant_qat_options_t *o, cquant_qat_t **out);
void cquant_qat_free(cquant_qat_t *q);

/* Activation ranges from PTQ calibration on the first options.calib_samples samples of d
 * (the method of options.init_method); without it ranges come from the first training batch. */
int cquant_qat_init_ranges(cquant_qat_t *q, cquant_data_t *d);

/* One forward and backward pass on batch x (N samples) with labels: the mean loss, the number
 * of correct predictions and every gradient (read them with cquant_qat_param); no update.
 * training: 1 uses batch statistics in BatchNorm (and updates the running ones and the EMA
 * observers), 0 the running ones. INVALID_ARGUMENT for a label outside 0..classes-1. */
int cquant_qat_step_grad(cquant_qat_t *q, const cquant_array_t *x, const int64_t *labels, int training, double *loss,
                         int64_t *correct);

/* Trained parameters: weights, biases, BatchNorm scales and shifts, and (LSQ) step sizes and
 * offsets. value and grad point into the session (numel floats each). */
int cquant_qat_num_params(const cquant_qat_t *q);
int cquant_qat_param(cquant_qat_t *q, int i, const char **name, float **value, float **grad, int64_t *numel);

/* The forward value of the graph value called name in the last pass (cquant_qat_step_grad), in the
 * session (numel floats): checks against a reference take a ReLU's branch from it.
 * INVALID_ARGUMENT when the trained graph has no such value (folded away, or not in the model). */
int cquant_qat_value(cquant_qat_t *q, const char *name, const float **value, int64_t *numel);

/* The logits of the fake-quant model for x (eval mode), N x classes, into out (allocated). */
int cquant_qat_forward(cquant_qat_t *q, const cquant_array_t *x, cquant_array_t *out);

typedef struct {
  int64_t steps, samples;
  double seconds, seconds_per_epoch;
  double final_loss, train_top1;   /* of the last epoch */
  int evaluated;
  double eval_top1;                /* fake-quant model after training, on the eval source */
} cquant_qat_result_t;

/* Trains on d (labels required; read into memory once and shuffled every epoch with the seed);
 * eval (may be NULL) is evaluated after every epoch. NOT_FINITE when the loss becomes NaN or
 * infinite (the session's weights are then not usable). */
int cquant_qat_train(cquant_qat_t *q, cquant_data_t *d, cquant_data_t *eval, cquant_qat_result_t *r);

/* Top-1 of the fake-quant model on a labelled source (eval mode); pred may be NULL. */
int cquant_qat_evaluate(cquant_qat_t *q, cquant_data_t *d, cquant_eval_result_t *r, int32_t *pred);

/* The trained model as QDQ ONNX: BatchNorm folded into the Conv weights with its running
 * statistics, weights quantized per output channel with the trained scales (int8 storage for
 * 2..8 bits), biases int32 (eq. 28 of docs/quantization.md), a QuantizeLinear/DequantizeLinear
 * pair on every activation PTQ quantizes (uint8; UINT4 with opset 21 for 4-bit activations). */
int cquant_qat_export(cquant_qat_t *q, void **buf, size_t *len);
/* The same written to path (whole or not at all). */
int cquant_qat_save(cquant_qat_t *q, const char *path, size_t *bytes);
/* The trained float model (BatchNorm kept, no quantization), e.g. for comparison. */
int cquant_qat_export_float(cquant_qat_t *q, void **buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
