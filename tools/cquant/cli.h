/* Shared helpers of the cquant command-line tool. The tool is thin: it parses arguments, calls
 * the library, and turns a status into one line on stderr and exit status 1. */
#ifndef CQUANT_CLI_H
#define CQUANT_CLI_H

#include <stdio.h>
#include "cquant/cquant.h"
#include "cli_args.h"

#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Prints "cquant: error: <message>" on stderr and returns 1 (the exit status). */
int cli_fail(const char *fmt, ...) CLI_PRINTF(1, 2);
/* The same for a failed library call: "cquant: error: <cquant_last_error() or status text>". */
int cli_fail_status(int status);

/* Strict number parsing: the whole string must be the number. Return 0 on success. */
int cli_parse_int(const char *s, long long *v);
int cli_parse_float(const char *s, double *v);

/* The value after an option, or NULL (after printing an error) when missing. */
const char *cli_value(int argc, char **argv, int *i);

/* Loads a float tensor from .npy (float32 or float16, converted) and checks every element is
 * finite: NaN/Inf are refused (the policy of every command that quantizes). 0 on success. */
int cli_load_float(const char *path, cquant_array_t *a);
/* The same, optionally letting NaN/Inf through (calibration skips and counts them). */
int cli_load_float_ex(const char *path, cquant_array_t *a, int allow_nonfinite);

/* Prints an error report as aligned lines. */
void cli_print_report(FILE *f, const cquant_error_report_t *r);

/* Data for calibration and evaluation: "fashion-mnist[:train|test][:N]" (images normalised as
 * (pixel / 255 - mean) / std, with labels), one .npy (cut into batches along axis 0) or a folder
 * of .npy files (one batch each, in name order). */
typedef struct {
  const char *spec;
  int in_memory, has_labels;
  cquant_array_t images, labels, cur;
  char **files;
  int n_files, file_i;
  int64_t batch, pos;
} cli_data_t;
int cli_data_open(cli_data_t *d, const char *spec, float mean, float std, int64_t batch);
/* 1 and *x (valid until the next call) and the index of its first sample; 0 at the end; < 0 after
 * printing an error. */
int cli_data_next(cli_data_t *d, cquant_array_t **x, int64_t *first);
void cli_data_rewind(cli_data_t *d);
void cli_data_close(cli_data_t *d);
/* An error line and 1 when x does not fit the model's declared input shape. */
int cli_check_input_shape(const cquant_onnx_model_t *m, const cquant_array_t *x, const char *what);

typedef struct {
  int64_t n, correct;
  double top1, us_per_sample;
} cli_eval_t;
/* Top-1 of the first output against the labels; pred (n entries, may be NULL) gets each class. */
int cli_eval(const cquant_onnx_model_t *m, cli_data_t *d, cli_eval_t *r, int32_t *pred);
/* mean/std from the model's metadata (cquant.mean, cquant.std) unless given on the command line. */
int cli_model_norm(const cquant_onnx_model_t *m, double *mean, double *std, int mean_given, int std_given);

/* Commands. */
int cmd_dtypes(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_fake_quant(int argc, char **argv);
int cmd_dequantize(int argc, char **argv);
int cmd_error(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_ptq(int argc, char **argv);

#endif
