/* Post-training quantization of whole ONNX models (docs/onnx.md, "Post-training quantization").
 *
 *   cquant_ptq_create      clean the float model up (constants, BatchNorm folding), decide which
 *                          tensors are quantized, make one observer per tensor and method
 *   cquant_ptq_calibrate   run the float model on a batch and feed every observed activation
 *                          (any number of batches; memory does not grow with their number)
 *   cquant_ptq_export      write the quantized model: QDQ (explicit quantization: Quantize/
 *                          DequantizeLinear pairs) or the QLinear operator form
 *   cquant_onnx_integerize turn a QDQ model into the integer operator form cquant runs with its
 *                          integer kernels (int8 x int8 -> int32, requantized; no float inside)
 */
#ifndef CQUANT_PTQ_H
#define CQUANT_PTQ_H

#include <stddef.h>
#include "cquant/calib.h"
#include "cquant/error_report.h"
#include "cquant/onnx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CQUANT_PTQ_QDQ = 0, CQUANT_PTQ_QOP = 1 } cquant_ptq_format_t;

typedef struct {
  cquant_dtype_t weight_dtype;  /* CQUANT_DT_S8 (default) or CQUANT_DT_S4 (stored in int8, values -7..7) */
  int weight_mse;               /* 1: each weight channel's range minimises its MSE (default for int4) */
  unsigned methods;             /* activation methods to observe: bit (1 << cquant_calib_method_t) */
  double percentile;            /* for CQUANT_CALIB_PERCENTILE, default 99.99 */
  int symmetric_act;            /* int8 with z = 0 (TensorRT) instead of asymmetric uint8 */
  int keep_histograms;          /* min-max / moving-average observers keep a histogram too (plots) */
  int n_exclude;                /* node names kept in float */
  const char *const *exclude;
} cquant_ptq_options_t;

void cquant_ptq_options_default(cquant_ptq_options_t *o);

typedef struct cquant_ptq cquant_ptq_t;

/* m must be a float model with one input; it must outlive the session. */
int cquant_ptq_create(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, cquant_ptq_t **out);
void cquant_ptq_free(cquant_ptq_t *p);

/* The cleaned float model (what is calibrated; runs like the original). */
const cquant_onnx_model_t *cquant_ptq_float_model(const cquant_ptq_t *p);

/* One batch in the model's input layout. */
int cquant_ptq_calibrate(cquant_ptq_t *p, const cquant_array_t *batch);

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

/* A QDQ (or QLinear) model as cquant's integer operator form. n_int gets the number of
 * integer operators made (NULL allowed). Patterns it does not recognise stay as they are. */
int cquant_onnx_integerize(const cquant_onnx_model_t *m, cquant_onnx_model_t **out, int *n_int);

/* Model metadata (metadata_props) by key, NULL if absent. */
const char *cquant_onnx_metadata(const cquant_onnx_model_t *m, const char *key);

#ifdef __cplusplus
}
#endif
#endif
