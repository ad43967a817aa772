/* Data sources for calibration and evaluation, and the evaluation of a classifier on one.
 *
 * A source yields batches (float32 arrays in the model's input layout, batch along axis 0) and,
 * when it has them, one int64 label per sample. It is opened from a specification the CLI takes
 * (cquant_data_open) or from callbacks (cquant_data_from_callbacks: the Python module's iterables). */
#ifndef CQUANT_DATA_H
#define CQUANT_DATA_H

#include <stdint.h>
#include "cquant/array.h"
#include "cquant/onnx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cquant_data cquant_data_t;

/* spec: "fashion-mnist[:train|test][:N]" (images as (pixel / 255 - mean) / std, with labels), one
 * .npy file (float32 or float16; cut into batches of `batch` along axis 0) or a folder of .npy files
 * (one batch each, in name order). batch <= 0 means 100. IO for a missing file or folder,
 * BAD_FORMAT for an empty array or folder; the message names the spec. */
int cquant_data_open(const char *spec, float mean, float std, int64_t batch, cquant_data_t **out);

/* A source over callbacks. next fills *x (and *labels, or leaves it NULL) with arrays that stay
 * valid until the next call and returns 1, 0 at the end, or a negative status (with
 * the message set through cquant_set_error). rewind (may be NULL: the source can then be read
 * once) starts again. name is used in error messages. */
typedef struct {
  void *user;
  int (*next)(void *user, const cquant_array_t **x, const cquant_array_t **labels);
  int (*rewind)(void *user);
  const char *name;
} cquant_data_callbacks_t;
int cquant_data_from_callbacks(const cquant_data_callbacks_t *cb, cquant_data_t **out);

void cquant_data_close(cquant_data_t *d);

/* The next batch: 1 with *x (valid until the next call or rewind), the labels of its samples (NULL
 * when the source has none) and the index of its first sample; 0 at the end; a negative status on
 * error. */
int cquant_data_next(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels, int64_t *first);
/* Back to the first batch (calibration and evaluation rewind their source first). UNSUPPORTED for a
 * callback source without rewind that was already read. */
int cquant_data_rewind(cquant_data_t *d);
/* 1 when the source has labels (known once a batch was read for callback sources). */
int cquant_data_has_labels(const cquant_data_t *d);
/* The number of samples when known in advance (files), else -1. */
int64_t cquant_data_size(const cquant_data_t *d);
const char *cquant_data_name(const cquant_data_t *d);

/* INVALID_ARGUMENT naming the model input and both shapes when x does not fit input 0's declared
 * shape (symbolic dimensions match anything). */
int cquant_data_check_shape(const cquant_onnx_model_t *m, const cquant_array_t *x, const char *what);

/* Top-1 of a classifier (one input; first output: float32 scores per sample) on a labelled source. */
typedef struct {
  int64_t n, correct;
  double top1;           /* percent */
  double us_per_sample;  /* wall time of the runs */
} cquant_eval_result_t;
/* pred (cquant_data_size entries, may be NULL) gets each predicted class. */
int cquant_eval_top1(const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r, int32_t *pred);

/* mean and std for fashion-mnist data from the model's metadata (cquant.mean, cquant.std) when
 * present; BAD_FORMAT for a value that is not a number (std must be > 0). Leaves them unchanged
 * otherwise. */
int cquant_model_normalization(const cquant_onnx_model_t *m, double *mean, double *std);

#ifdef __cplusplus
}
#endif
#endif
