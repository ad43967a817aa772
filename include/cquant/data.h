/* Data sources for calibration and evaluation, and the evaluation of a classifier on one.
 *
 * A source yields batches (arrays in the model's input layout, batch along axis 0: float32, or the
 * stored integer type of a token .npy) and, when it has them, one int64 label per sample. It is
 * opened from a specification the CLI takes (cquant_data_open, cquant_data_open_ex with image
 * preprocessing, cquant_data_open_inputs for several inputs) or from callbacks
 * (cquant_data_from_callbacks: the Python module's iterables). File kinds and the preprocessing
 * equations: docs/formats.md, "Image folders and token files". */
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
 * .npy file (float32 or float16 read as float32, integer and bool types as stored; read `batch` rows
 * at a time along axis 0, never whole), a folder of .npy files (one batch each, in name order) or a folder of
 * images (cquant_data_open_ex with mean and std for every channel and no resize or crop). batch <= 0
 * means 100. IO for a missing file or folder, BAD_FORMAT for an empty array or folder; the message
 * names the spec. */
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

/* How a source is read and, for image folders, preprocessed (docs/formats.md, "Image folders"). */
typedef enum {
  CQUANT_IMAGE_RESIZE_NONE,    /* every image must have the size of the first (after any crop) */
  CQUANT_IMAGE_RESIZE_SHORTER, /* the shorter side to resize_h, the other in proportion (eq. F2) */
  CQUANT_IMAGE_RESIZE_FIXED    /* to resize_h x resize_w */
} cquant_image_resize_t;
typedef enum { CQUANT_IMAGE_RGB, CQUANT_IMAGE_BGR, CQUANT_IMAGE_GRAY } cquant_image_channels_t;
typedef struct {
  int64_t batch;              /* samples per batch for fashion-mnist, one .npy and image folders; <= 0: 100 */
  float mean[3], std[3];      /* x = (v / 255 - mean[c]) / std[c] per output channel c (eq. F5); fashion-mnist
                                 uses mean[0] and std[0]; std > 0 */
  cquant_image_resize_t resize;
  int64_t resize_h, resize_w; /* SHORTER: resize_h is the side S; FIXED: the output size before any crop */
  int64_t crop_h, crop_w;     /* center crop (eq. F3); 0: none */
  cquant_image_channels_t channels; /* RGB, BGR (3 channels) or GRAY (1 channel, eq. F4) */
  int nhwc;                   /* 0: N x C x H x W (default), 1: N x H x W x C */
} cquant_data_options_t;

/* batch 100, mean 0, std 1, no resize or crop, RGB, NCHW. */
void cquant_data_options_default(cquant_data_options_t *o);

/* Sets one option from text, as the CLI spells it: "resize" ("S": shorter side; "HxW": fixed size),
 * "crop" ("C" or "HxW"), "channel-order" ("rgb", "bgr", "gray"), "layout" ("nchw", "nhwc"), "mean" and
 * "std" (one number for every channel, or three separated by commas), "batch". INVALID_ARGUMENT with a
 * message naming the option and the value when the text does not parse or is out of range. */
int cquant_data_options_set(cquant_data_options_t *o, const char *name, const char *value);

/* As cquant_data_open, with options; spec may also name a folder of PNG/JPEG images (*.png, *.jpg,
 * *.jpeg, any case; other files are ignored), read in name order, or a folder of class subfolders of
 * images (torchvision's ImageFolder: labels are the subfolders' indices in name order). Images are
 * decoded one batch at a time (memory independent of the number of images). A file with an image
 * name that does not decode is an error naming it (BAD_FORMAT, from cquant_data_next), never skipped:
 * skipping would silently change the calibration set and shift labels. Without resize, an image whose
 * size differs from the first one's is INVALID_ARGUMENT naming both sizes. One .npy of integer or bool
 * type (token ids) is read as stored; float16 and float32 files are read as float32. */
int cquant_data_open_ex(const char *spec, const cquant_data_options_t *o, cquant_data_t **out);

/* Several inputs of one model: specs[i] is "NAME=SOURCE" (SOURCE as for cquant_data_open_ex, all
 * with the options o). The sources are read in lockstep: each batch of every source must have the
 * same number of samples, and all must end together (INVALID_ARGUMENT naming both inputs otherwise).
 * cquant_data_next gives input 0's batch (and the first labels any source has); cquant_data_input
 * gives each input's. INVALID_ARGUMENT for a spec without NAME= or a name given twice. */
int cquant_data_open_inputs(const char *const *specs, int n, const cquant_data_options_t *o, cquant_data_t **out);
/* The number of inputs (1 for a source not opened by cquant_data_open_inputs), the name of input i
 * (NULL for such a source), and input i's current batch (NULL before the first or after the last
 * cquant_data_next). */
int cquant_data_num_inputs(const cquant_data_t *d);
const char *cquant_data_input_name(const cquant_data_t *d, int i);
const cquant_array_t *cquant_data_input(const cquant_data_t *d, int i);

void cquant_data_close(cquant_data_t *d);

/* The next batch: 1 with *x (valid until the next call or rewind), the labels of its samples (NULL
 * when the source has none) and the index of its first sample; 0 at the end; a negative status on
 * error. */
int cquant_data_next(cquant_data_t *d, const cquant_array_t **x, const int64_t **labels, int64_t *first);
/* Labels for a source without any (token-id or feature .npy files, image folders without class
 * subfolders, several inputs): path is a .npy of integer class ids, shape (N) or (N, 1), one per
 * sample of d in order, read along with each batch (only that batch's labels are held). After it,
 * cquant_data_has_labels(d) is 1 and cquant_eval_top1 / the PTQ choice use them. INVALID_ARGUMENT
 * when d has labels already, when the file holds floats, booleans or more than one value per row,
 * or when d's size is known in advance (cquant_data_size >= 0: one .npy) and differs from the
 * file's count; BAD_FORMAT or IO for a file that is not a readable .npy. cquant_data_next then fails
 * with INVALID_ARGUMENT naming the file at a negative label, when the file has fewer labels than d
 * samples, when d ends before the file does, or when a callback source gives labels of its own. */
int cquant_data_attach_labels(cquant_data_t *d, const char *path);
/* Back to the first batch (calibration and evaluation rewind their source first). UNSUPPORTED for a
 * callback source without rewind that was already read. */
int cquant_data_rewind(cquant_data_t *d);
/* 1 when the source has labels (known once a batch was read for callback sources). */
int cquant_data_has_labels(const cquant_data_t *d);
/* The number of samples when known in advance (files), else -1. */
int64_t cquant_data_size(const cquant_data_t *d);
const char *cquant_data_name(const cquant_data_t *d);

/* INVALID_ARGUMENT naming the model input and both shapes when x does not fit input 0's declared
 * shape (symbolic dimensions match anything), or both element types when x's differs from the one
 * the input declares (int32 token ids for an int64 input, say). */
int cquant_data_check_shape(const cquant_onnx_model_t *m, const cquant_array_t *x, const char *what);
/* The batch x as model input `in` takes it: a shallow view of x (same data) without its leading axis
 * when the model declares that input with one axis less and the batch holds one sample (detection
 * exports take a single C x H x W image), else x itself. cquant_data_check_shape and the PTQ and
 * evaluation runs apply it. */
int cquant_data_fit(const cquant_onnx_model_t *m, int in, const cquant_array_t *x, cquant_array_t *view);
/* The inputs of one run of m on d's current batch x (after a cquant_data_next that gave 1): every
 * input of a source of several (cquant_data_open_inputs) under its name, else x as m's input 0;
 * each as the model takes it (cquant_data_fit). names and vals (max entries each) are shallow: the
 * data stays the source's. UNSUPPORTED when the source has more than max inputs. */
#define CQUANT_DATA_MAX_FEEDS 64 /* inputs the library's own runs (PTQ, evaluation) feed at most */
int cquant_data_feeds(const cquant_onnx_model_t *m, const cquant_data_t *d, const cquant_array_t *x, int max, const char **names,
                      cquant_array_t *vals, int *n);
/* The current batch of every input against the model (after a cquant_data_next that gave 1): each
 * name must be a model input, with its element type and shape (as cquant_data_check_shape), and every
 * model input must have a source; a single unnamed source is checked against input 0. */
int cquant_data_check_inputs(const cquant_onnx_model_t *m, const cquant_data_t *d);

/* Top-1 of a classifier (first output: float32 scores per sample) on a labelled source. A source of
 * several named inputs (cquant_data_open_inputs) feeds each model input by name; a single source
 * feeds input 0. */
typedef struct {
  int64_t n, correct;
  double top1;           /* percent */
  double us_per_sample;  /* wall time of the runs */
  double sqnr_db;        /* cquant_eval_sqnr: output SQNR against the reference model (docs/quantization.md eq. 18) */
  int metric_sqnr;       /* 1: this result is an SQNR (no labels), 0: a top-1 */
} cquant_eval_result_t;
/* pred (cquant_data_size entries, may be NULL) gets each predicted class. */
int cquant_eval_top1(const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r, int32_t *pred);
/* The metric for data without labels: m's outputs against ref's (the float model) on every batch of d,
 * SQNR = 10 log10(sum ref^2 / sum (ref - m)^2) over every element of every float output (eq. 18;
 * +inf when equal). Both models must have the same inputs and outputs; INVALID_ARGUMENT naming the
 * output when their shapes differ. r->n counts samples, r->us_per_sample times m's runs. */
int cquant_eval_sqnr(const cquant_onnx_model_t *ref, const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r);

/* mean and std for fashion-mnist data from the model's metadata (cquant.mean, cquant.std) when
 * present; BAD_FORMAT for a value that is not a number (std must be > 0). Leaves them unchanged
 * otherwise. */
int cquant_model_normalization(const cquant_onnx_model_t *m, double *mean, double *std);

#ifdef __cplusplus
}
#endif
#endif
