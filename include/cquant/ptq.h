/* Post-training quantization of whole ONNX models (docs/onnx.md, "Post-training quantization").
 *
 *   cquant_ptq_create      clean the float model up (constants, BatchNorm folding), decide which
 *                          tensors are quantized, make one observer per tensor and method
 *   cquant_ptq_calibrate   run the float model on a batch and feed every observed activation
 *                          (any number of batches; memory does not grow with their number)
 *   cquant_ptq_export      write the quantized model: QDQ (explicit quantization: Quantize/
 *                          DequantizeLinear pairs) or the QLinear operator form
 */
#ifndef CQUANT_PTQ_H
#define CQUANT_PTQ_H

#include <stddef.h>
#include "cquant/calib.h"
#include "cquant/error_report.h"
#include "cquant/data.h"
#include "cquant/onnx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* QDQ: QuantizeLinear/DequantizeLinear pairs (explicit quantization); QOP: QLinear operators;
 * TRT_CACHE: the cleaned float model plus a TensorRT calibration cache beside it. */
typedef enum { CQUANT_PTQ_QDQ = 0, CQUANT_PTQ_QOP = 1, CQUANT_PTQ_TRT_CACHE = 2 } cquant_ptq_format_t;

/* STATIC: activations calibrated ahead of time (QDQ pairs with fixed parameters); DYNAMIC: int8
 * weights, activations quantized per tensor at run time (DynamicQuantizeLinear + MatMulInteger). */
typedef enum { CQUANT_PTQ_STATIC = 0, CQUANT_PTQ_DYNAMIC = 1 } cquant_ptq_mode_t;

/* What activations become: the quantized integer type (default), float (weight-only quantization),
 * or float8e4m3fn Quantize/DequantizeLinear pairs (opset 19). */
typedef enum { CQUANT_PTQ_ACT_INT8 = 0, CQUANT_PTQ_ACT_NONE = 1, CQUANT_PTQ_ACT_FP8E4M3 = 2 } cquant_ptq_act_t;

typedef struct {
  cquant_dtype_t weight_dtype;  /* CQUANT_DT_S8 (default) or CQUANT_DT_S4 (stored in int8, values -7..7) */
  int weight_mse;               /* 1: each weight channel's range minimises its MSE; 0: min-max; -1
                                   (default): MSE for int4, min-max for int8 */
  unsigned methods;             /* activation methods to observe: bit (1 << cquant_calib_method_t) */
  /* the order in which cquant_ptq_choose evaluates them (last tie-break: the earlier); n_order = 0:
   * the observed methods in enum order */
  cquant_calib_method_t order[CQUANT_CALIB_COUNT];
  int n_order;
  double percentile;            /* for CQUANT_CALIB_PERCENTILE, default 99.99 */
  int symmetric_act;            /* int8 with z = 0 (TensorRT) instead of asymmetric uint8 */
  int keep_histograms;          /* min-max / moving-average observers keep a histogram too (plots) */
  int n_exclude;                /* node names kept in float */
  const char *const *exclude;
  /* dynamic quantization (cquant_ptq_dynamic; docs/quantization.md eq. 30-33) */
  cquant_ptq_mode_t mode;       /* CQUANT_PTQ_STATIC (default) or CQUANT_PTQ_DYNAMIC */
  int weight_per_tensor;        /* dynamic mode: one weight scale per tensor instead of one per output
                                   channel */
  /* weight and activation formats beyond int8 (docs/quantization.md, "Per-group and FP8 files").
   * weight_dtype may also be CQUANT_DT_U4 (asymmetric, 0..15 with a zero-point), CQUANT_DT_S2
   * (symmetric, -2..1, stored in int8) or CQUANT_DT_F8E4M3 (float8e4m3fn, s = amax / 448 per output
   * channel, eq. 16; opset 19). */
  int64_t weight_group;         /* 0 (default): per output channel; G in 16..256: one scale (and
                                   zero-point) per G consecutive weights along the input-channel
                                   (reduction) axis, written as DequantizeLinear-21 block_size; a
                                   layer whose reduction axis is shorter than G stays per channel */
  int weight_packed;            /* int4: 0 (default) packed ONNX INT4 when the file is opset 21 anyway
                                   (per group), int8 values (-7..7, opset 13) otherwise; 1: always
                                   packed INT4 (opset 21). uint4 is always packed UINT4 (opset 21) */
  cquant_ptq_act_t act;         /* CQUANT_PTQ_ACT_INT8 (default: uint8, or int8 with symmetric_act),
                                   CQUANT_PTQ_ACT_NONE (weight-only: activations and biases stay
                                   float), CQUANT_PTQ_ACT_FP8E4M3 (float8e4m3fn, s = amax / 448 of the
                                   calibrated range, zero-point 0; biases float) */
  /* float rewrites before quantization (docs/quantization.md sec. 11-13), each off by default */
  int smooth;                   /* 1: SmoothQuant (eq. 38-41): every MatMul/Gemm with a constant weight
                                   gets per-input-channel scales s (eq. 39) moved from its input
                                   activation into its weight rows; needs one extra float pass over
                                   the calibration data for the statistics (cquant_ptq_smooth_observe) */
  float smooth_alpha;           /* SmoothQuant's migration strength, in [0, 1] (default 0.5) */
  int bias_correction;          /* 1: each quantized layer's bias absorbs the expected error of its
                                   quantized weights, (W_q - W) E[x] (eq. 42-43; E[x] per input channel
                                   from the calibration pass; a bias is created where there is none) */
  int cle;                      /* 1: cross-layer equalization of Conv -> [Relu] -> Conv pairs (eq. 44-46),
                                   iterated over chains, before calibration */
  /* placement beyond the default layers (docs/onnx.md, "What is quantized") */
  int act_matmul;               /* MatMul of two activations (attention's Q K^T and softmax V): 1
                                   (default): a Q/DQ pair on both inputs (each its own per-tensor
                                   scale) and on the output, as ONNX Runtime's QDQ quantizer does;
                                   0: it stays float */
  unsigned quantize_ops;        /* ops that stay float by default, quantized (Q/DQ on their activation
                                   inputs and output): bits 1 << k of cquant_ptq_quantize_ops_parse's
                                   names (LayerNormalization, Softmax, Gelu, ...); 0 (default): none */
  const struct cquant_ptq_overrides *overrides; /* per-node overrides (cquant_ptq_overrides_parse), read
                                   by cquant_ptq_create only; NULL (default): none */
  int weight_reduce_range;      /* 1: int8 weights in 7 bits, -63..63 (CQUANT_QF_REDUCE_RANGE, eq. 11b),
                                   static and dynamic: for ONNX Runtime on x86 CPUs without VNNI, whose
                                   u8s8 kernels otherwise overflow int16 pair sums; 0 (default): 8 bits */
} cquant_ptq_options_t;

void cquant_ptq_options_default(cquant_ptq_options_t *o);

/* --quantize-ops: a comma-separated list of op types, each one of LayerNormalization, Softmax,
 * Gelu (the Gelu op and the Erf form x 0.5 (1 + erf(x / sqrt 2)) that exporters write), Sigmoid,
 * HardSigmoid, HardSwish, Tanh, ReduceMean, ReduceSum, ReduceMax, ReduceMin; *bits gets
 * 1 << k of each (k its index in that list). "" or "none": 0. INVALID_ARGUMENT naming an unknown
 * name. Softmax outputs get the fixed parameters of the range [0, 1] (docs/quantization.md, eq. 47). */
int cquant_ptq_quantize_ops_parse(const char *list, unsigned *bits);
/* The name of bit k (NULL past the last). */
const char *cquant_ptq_quantize_op_name(int k);

/* Per-node overrides (docs/onnx.md, "Per-node overrides"), from JSON text of the form
 *   {"nodes": {"NODE": {"exclude": true}, "NODE": {"weights": "int4", "group": 32},
 *              "NODE": {"act_method": "percentile", "percentile": 99.9, "weight_bits": 8}}}
 * Keys of a node: exclude (bool), weights ("int8", "int4", "uint4", "int2"), weight_bits (8, 4, 2:
 * int8, int4, int2), granularity ("channel", "tensor" or "group:G"), group (G, 16..256),
 * act_method (minmax, ema, percentile, entropy, mse: the range of the node's output activation),
 * percentile ((0, 100], with percentile), ema_constant ((0, 1], with ema). INVALID_ARGUMENT with one
 * message naming the node and key for malformed JSON, an unknown key, a bad value or a node given
 * twice. Node names are checked against the model by cquant_ptq_create (a name that is not a
 * quantized layer of it, or a weight key on a layer without weights: INVALID_ARGUMENT). */
typedef struct cquant_ptq_overrides cquant_ptq_overrides_t;
int cquant_ptq_overrides_parse(const char *json, size_t len, cquant_ptq_overrides_t **out);
/* The same from a file (its path in the error messages). */
int cquant_ptq_overrides_load(const char *path, cquant_ptq_overrides_t **out);
void cquant_ptq_overrides_free(cquant_ptq_overrides_t *ov);
int cquant_ptq_overrides_count(const cquant_ptq_overrides_t *ov);

typedef struct cquant_ptq cquant_ptq_t;

/* m must be a float model with one input; it must outlive the session. */
int cquant_ptq_create(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, cquant_ptq_t **out);
void cquant_ptq_free(cquant_ptq_t *p);

/* The cleaned float model (what is calibrated; runs like the original). */
const cquant_onnx_model_t *cquant_ptq_float_model(const cquant_ptq_t *p);

/* SmoothQuant (options.smooth; docs/quantization.md eq. 38-41) is a float rewrite that needs
 * statistics of the float model first: feed batches to cquant_ptq_smooth_observe (it records the
 * per-channel absmax of every MatMul/Gemm input), then cquant_ptq_smooth_apply rewrites the cleaned
 * model (cquant_ptq_float_model changes; layers keep their names) and the calibration proper runs on
 * the smoothed model. Until then cquant_ptq_calibrate* return INVALID_ARGUMENT.
 * cquant_ptq_calibrate_data does both passes itself. Without options.smooth, or when the model has no
 * MatMul/Gemm with a constant weight, there is nothing pending and both are no-ops. */
int cquant_ptq_smooth_pending(const cquant_ptq_t *p);
int cquant_ptq_smooth_observe(cquant_ptq_t *p, int n, const char *const *names, const cquant_array_t *inputs);
int cquant_ptq_smooth_apply(cquant_ptq_t *p);

/* One batch in the model's input layout. */
int cquant_ptq_calibrate(cquant_ptq_t *p, const cquant_array_t *batch);
/* The same for a model of several inputs: names[i] takes inputs[i]; every graph input must be given. */
int cquant_ptq_calibrate_inputs(cquant_ptq_t *p, int n, const char *const *names, const cquant_array_t *inputs);

/* Writes the quantized model with the activation ranges of `method` (one of the observed ones) into
 * a new malloc'd buffer. */
int cquant_ptq_export(cquant_ptq_t *p, cquant_calib_method_t method, cquant_ptq_format_t format, void **buf, size_t *len);

/* Nodes kept in float (for accuracy-driven fallback): set or clear one by name. */
int cquant_ptq_exclude(cquant_ptq_t *p, const char *node, int excluded);

/* The quantizable nodes (Conv, Gemm, MatMul with constant weights) in graph order. */
int cquant_ptq_num_layers(const cquant_ptq_t *p);
typedef struct {
  const char *node, *op_type;
  const char *input, *output;   /* the activation read and the (fused) activation written */
  const char *weight;           /* initializer name */
  int excluded;
} cquant_ptq_layer_t;
int cquant_ptq_layer(const cquant_ptq_t *p, int i, cquant_ptq_layer_t *out);

/* The activation range and parameters a method gives a tensor (0 when it is observed). */
int cquant_ptq_act_qparams(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, float *rmin, float *rmax,
                           float *scale, int32_t *zero_point);

/* The error of layer i's weights under their parameters (per channel), with the smallest and
 * largest channel scale. */
int cquant_ptq_weight_error(cquant_ptq_t *p, int i, cquant_error_report_t *rep, float *smin, float *smax);
/* Accumulates the error of quantizing activation x of `tensor` with its parameters alone
 * (clipping vs rounding, eq. 19-20). */
int cquant_ptq_act_error(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, const cquant_array_t *x,
                         cquant_error_accum_t *acc);

/* The observers' histograms as SVG, one file per observed tensor (histogram methods). */
int cquant_ptq_plot_histogram(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t method, const char *path);

/* A TensorRT calibration cache ("TRT-8601-EntropyCalibration2" header, then "tensor: hex" with the
 * big-endian bits of the float32 scale amax / 127 of every activation; symmetric, as TensorRT's
 * implicit int8 mode uses it). New malloc'd text. */
int cquant_ptq_trt_cache(cquant_ptq_t *p, cquant_calib_method_t method, char **text);

/* ---- the whole job (what `cquant ptq` does), step by step or in one call ------------------------ */

/* Calibrates on every batch of d from its first (one streamed pass; with SmoothQuant pending, a first
 * pass for its statistics, the rewrite, then the calibration pass). n_samples (the samples of one
 * pass) and seconds (both passes) may be NULL.
 * INVALID_ARGUMENT naming d when a batch does not fit the model's input or d is empty. */
int cquant_ptq_calibrate_data(cquant_ptq_t *p, cquant_data_t *d, int64_t *n_samples, double *seconds);

typedef struct {
  cquant_calib_method_t method;
  cquant_eval_result_t fake_quant;   /* the QDQ model as written (float execution) */
  cquant_eval_result_t integer;      /* after the QDQ -> integer rewrite */
  int n_integer_ops;
  /* labelled evaluation (cquant_ptq_choose) only: against the leader, the method with the highest
   * integer top-1 (the earlier of equals), the samples only this method gets right (won), only the
   * leader gets right (lost), and McNemar's exact p of that split (docs/calibration.md eq. M2; 1 for
   * the leader and for equal top-1s). tie_measured: this method's p was >= CQUANT_PTQ_CHOICE_P and
   * at least one other's was too (the leader's always is), so the choice measured tie_sqnr_db, its
   * integer output's SQNR against the float model (eq. M1) */
  int64_t mcnemar_won, mcnemar_lost;
  double mcnemar_p;
  int tie_measured;
  double tie_sqnr_db;
} cquant_ptq_method_eval_t;

/* Top-1s whose McNemar p against the leader's is at least this are within chance of it (eq. M1). */
#define CQUANT_PTQ_CHOICE_P 0.05

typedef struct {
  const char *node, *op;             /* owned by the session */
  double top1_before, top1_after;
} cquant_ptq_fallback_step_t;

/* One activation's parameters and the error of quantizing it on the report's batch (eq. 19-20). */
typedef struct {
  const char *name;
  float min, max, scale;
  int32_t zero_point;
  double sqnr_db, clip_mse, round_mse, clipped_share;
} cquant_ptq_act_report_t;

typedef struct {
  const char *node, *op, *output;
  int excluded;
  int has_weights;                   /* weight error under their per-channel parameters */
  double w_sqnr_db, w_clip_mse, w_round_mse;
  float w_scale_min, w_scale_max;
  int has_act;                       /* the layer's (fused) output activation */
  cquant_ptq_act_report_t act;
  int has_output_sqnr;               /* float vs quantized model at the layer's output */
  double output_sqnr_db;
  /* accuracy-driven fallback (cquant_ptq_fallback): the integer top-1 with only this layer quantized
   * (the other candidates in float), its drop in points below float (eq. F1 of docs/calibration.md)
   * and its rank (0: the largest drop) */
  int has_sensitivity;
  double sensitivity_top1, sensitivity_drop;
  int sensitivity_rank;
  /* the weights' format (has_weights): element type (CQUANT_DT_S8, S4, U4, S2, F8E4M3), its bits,
   * the group size (0: per output channel) and the axis the scales run along (the output-channel
   * axis per channel, the input-channel axis per group) */
  cquant_dtype_t w_dtype;
  int w_bits;
  int64_t w_group;
  int w_axis;
  /* SmoothQuant (options.smooth): the alpha, the channels, the range of the scales s (eq. 39), where
   * 1/s went (the producer's op type, or "Mul" for an inserted Mul), and the input activation's
   * largest per-channel absmax over the median one, before and after (eq. 41) */
  int smoothed;
  float smooth_alpha, smooth_min, smooth_max;
  int64_t smooth_channels;
  const char *smooth_into;
  double smooth_ratio_before, smooth_ratio_after;
  /* bias correction (options.bias_correction): the L2 norm of the correction (W_q - W) E[x] (eq. 43)
   * subtracted from the bias */
  int has_bias_correction;
  double bias_correction_norm;
  /* cross-layer equalization (options.cle): the layer was equalized with the next one (cle_next): the
   * spread (largest over smallest per-channel absmax) of its output channels and of the next layer's
   * input channels, before and after (eq. 46) */
  int equalized;
  const char *cle_next;
  double cle_spread_before, cle_spread_after, cle_next_spread_before, cle_next_spread_after;
  /* what the layer got (per-node overrides, --quantize-ops): weights per tensor (one scale), the
   * activation method of its output ("fixed": Softmax's [0, 1], eq. 47) and its parameter (NaN:
   * none), and whether an override applied */
  int w_per_tensor;
  const char *act_method;
  double act_param;
  int overridden;
} cquant_ptq_layer_report_t;

typedef struct {
  cquant_calib_method_t method;
  int64_t samples;                   /* of the batch the report was measured on */
  int has_top1;
  double float_top1, fake_quant_top1, integer_top1;
  int has_input;                     /* the model input, quantized before the first layer */
  cquant_ptq_act_report_t input;
  int n_layers;
  cquant_ptq_layer_report_t *layers;
  const char *act_type;              /* "uint8", "int8", "float8e4m3fn" or "float" (weight-only) */
} cquant_ptq_report_t;

/* ---- dynamic quantization (options.mode = CQUANT_PTQ_DYNAMIC; docs/quantization.md eq. 30-33) --- */

typedef struct {
  int n_matmul, n_gemm;   /* nodes rewritten */
  int n_kept;             /* MatMul/Gemm left in float: excluded, weight not a constant 2-D float32
                             tensor, or a form not handled (Gemm transA, non-constant C with beta != 1) */
  int n_dynamic_quant;    /* DynamicQuantizeLinear nodes (one per activation, shared by its readers) */
} cquant_ptq_dynamic_stats_t;

/* Dynamic quantization, ONNX Runtime's quantize_dynamic form, no calibration: after the clean-ups
 * (constant folding, Identity removal, BatchNorm folding), every MatMul with a constant 2-D float32
 * weight W (K x N) and every Gemm with one (transA = 0) becomes
 *   DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(float)
 *   -> Mul(., Mul(x_scale, W_scale)) [-> Add(., beta C) for Gemm]
 * with W_q int8 symmetric, narrow range (eq. 31), per output column (axis 1 of K x N; a Gemm's
 * transB weight is stored transposed) or per tensor (o->weight_per_tensor); Gemm's alpha is folded
 * into W_scale. o->weight_dtype CQUANT_DT_S4 stores int4 values (-7..7) in int8; o->weight_mse = 1
 * picks each channel's range by MSE, 0 by min-max, -1 MSE for int4 only. o->exclude names MatMul/Gemm nodes
 * kept in float (INVALID_ARGUMENT for a name that is none). The opset is raised to 11 when lower.
 * Recurrent layers (LSTM/GRU) and subgraphs stay float. INVALID_ARGUMENT when nothing is
 * quantizable; UNSUPPORTED for o->symmetric_act (DynamicQuantizeLinear is uint8 only). *out is a
 * new model (free with cquant_onnx_free); stats may be NULL. */
int cquant_ptq_dynamic(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, cquant_onnx_model_t **out,
                       cquant_ptq_dynamic_stats_t *stats);

/* Everything a run found; free with cquant_ptq_result_free. */
typedef struct {
  int64_t n_calib;                   /* calibration samples */
  double calib_seconds;
  int n_layers;
  cquant_calib_method_t method;      /* the one written */
  int evaluated;                     /* an evaluation source was given */
  cquant_eval_result_t float_eval;
  int n_methods;                     /* evaluated methods, in options.order */
  cquant_ptq_method_eval_t methods[CQUANT_CALIB_COUNT];
  int best;                          /* index into methods (-1 when not evaluated) */
  double max_drop;                   /* < 0: no accuracy-driven fallback */
  int n_fallback;
  cquant_ptq_fallback_step_t *fallback;
  cquant_ptq_method_eval_t final;    /* what is written, after any fallback (when evaluated) */
  cquant_ptq_report_t *report;       /* NULL when not asked for */
  size_t output_bytes;               /* bytes of the model written */
  cquant_ptq_t *session;             /* cquant_ptq_run_job: the session the names point into (freed
                                        with the result); NULL for results filled step by step */
  /* accuracy-driven fallback: configurations evaluated (each one fake-quant and integer run over
   * ev), whether the final model meets max_drop, and per layer (n_layers entries, NULL before a
   * fallback; cquant_ptq_fallback only) the integer top-1 with only that layer quantized (NaN: not
   * measured, e.g. excluded by the user) and its rank by that top-1 (0: the lowest; -1) */
  int n_fallback_evals;
  int fallback_met;
  double fallback_base_top1;         /* integer top-1 before the fallback */
  double *sensitivity;
  int *sensitivity_rank;
  /* dynamic mode (options.mode): what cquant_ptq_dynamic rewrote; with evaluation data, float_eval
   * is the float model and final.integer the dynamic one (cquant's executor) */
  int dynamic;
  cquant_ptq_dynamic_stats_t dyn;
} cquant_ptq_result_t;
void cquant_ptq_result_free(cquant_ptq_result_t *r);

/* Evaluates float, then fake-quant and integer execution of every method in options.order on the
 * source ev, and picks (docs/calibration.md eq. M1) the best output SQNR against float (no labels)
 * or, on labelled ev, among the methods whose integer top-1 is within chance of the highest (McNemar
 * p >= CQUANT_PTQ_CHOICE_P on the same samples, eq. M2), the highest integer output SQNR against the
 * float model, measured for those methods only (tie_measured); equal SQNRs: the higher top-1, then
 * the earlier. A top-1
 * lead the data can tell apart from chance decides alone. Fills r's evaluation fields and r->method. */
int cquant_ptq_choose(cquant_ptq_t *p, cquant_data_t *ev, cquant_ptq_result_t *r);

/* Accuracy-driven fallback after cquant_ptq_choose (docs/calibration.md, eq. F1-F3): measures each
 * layer's sensitivity (the integer top-1 with only that layer quantized, the other candidates in
 * float: one evaluation per layer), ranks the layers by it (the lowest first) and keeps the fewest
 * first ones of the ranking in float that bring the integer top-1 within max_drop points of float,
 * found by bisection over the ranking. At most L + 10 evaluations for L candidate layers
 * (r->n_fallback_evals). When even every layer in float misses the budget, the best configuration
 * evaluated is kept (r->fallback_met = 0). r->fallback lists the layers kept in float in rank order
 * (top1_before: all quantized; top1_after: only that layer quantized). */
int cquant_ptq_fallback(cquant_ptq_t *p, cquant_data_t *ev, double max_drop, cquant_ptq_result_t *r);
/* The former greedy fallback, kept as the reference the tests compare with: each step evaluates
 * every remaining layer in float and keeps the one that helps most (O(L^2) evaluations); steps
 * carry the top-1 before and after. Fills n_fallback_evals and fallback_met, not the sensitivity. */
int cquant_ptq_fallback_greedy(cquant_ptq_t *p, cquant_data_t *ev, double max_drop, cquant_ptq_result_t *r);

/* The per-layer report of method m on batch x (top-1 fields from r when it was evaluated; r may
 * be NULL). Free with cquant_ptq_report_free. */
int cquant_ptq_report(cquant_ptq_t *p, cquant_calib_method_t m, const cquant_array_t *x, const cquant_ptq_result_t *r,
                      cquant_ptq_report_t **out);
void cquant_ptq_report_free(cquant_ptq_report_t *rep);
/* The report as JSON text (new malloc'd string), the format of `cquant ptq --report`. */
int cquant_ptq_report_json(const cquant_ptq_report_t *rep, char **json);
/* SVG plots into dir (created with its parents): sqnr_per_layer.svg and hist_<tensor>.svg for every
 * observed tensor with a histogram. */
int cquant_ptq_report_plots(cquant_ptq_t *p, const cquant_ptq_report_t *rep, const char *dir);

/* Writes the quantized model of method m to path in format f (whole or not at all). TRT_CACHE
 * writes the cleaned float model to path and the cache to path with ".onnx" replaced by (or
 * extended with) ".cache". bytes (may be NULL) gets the model's size. */
int cquant_ptq_save(cquant_ptq_t *p, cquant_calib_method_t m, cquant_ptq_format_t f, const char *path, size_t *bytes);

/* The job: calibrate on calib, evaluate and choose on eval (NULL: the first method of
 * options.order), fall back while the drop exceeds max_drop (< 0: never; needs eval), build the
 * report on the first batch of eval (else calib) when want_report or report_json or plot_dir is
 * set, write report_json and the plots, and write the model to output in format.
 * Dynamic mode (options.mode): calib must be NULL (nothing to calibrate), format QDQ (the model
 * form), no max_drop, report_json or plot_dir (want_report is ignored); cquant_ptq_dynamic writes
 * output, and eval (may be NULL) measures the float and the dynamic model's top-1. */
typedef struct {
  cquant_data_t *calib, *eval;
  const char *output;
  cquant_ptq_format_t format;
  double max_drop;
  int want_report;
  const char *report_json, *plot_dir;   /* NULL: none */
} cquant_ptq_job_t;
int cquant_ptq_run_job(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, const cquant_ptq_job_t *job,
                       cquant_ptq_result_t **out);


#ifdef __cplusplus
}
#endif
#endif
