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
/* Loads the model at path and settles the input normalisation: *mean / *std as given on the command
 * line (mean_given / std_given), else the model's cquant.mean / cquant.std metadata. 0, or the
 * command's exit status after printing the error (nothing loaded). */
int cli_load_model(const char *path, cquant_onnx_model_t **m, double *mean, int mean_given, double *std, int std_given);
/* The same, optionally letting NaN/Inf through (calibration skips and counts them). */
int cli_load_float_ex(const char *path, cquant_array_t *a, int allow_nonfinite);

/* The data options from --resize, --crop, --channel-order, --layout, --mean, --std (img[0..5], NULL
 * when not given) over mean, std and batch. 0, or 1 after printing the error. */
int cli_data_options(const char *const img[6], double mean, double std, long long batch, cquant_data_options_t *o);
/* A data source from the n values of a repeatable option: NAME=SOURCE per model input (NAME an input
 * of m), or one source for the model's only input; with labels (a .npy of class ids, or NULL)
 * attached. A library status (nothing printed; the source closed on error). */
int cli_open_source(const cquant_onnx_model_t *m, const char **specs, int n, const cquant_data_options_t *o, const char *labels,
                    cquant_data_t **d);

/* Prints an error report as aligned lines. */
void cli_print_report(FILE *f, const cquant_error_report_t *r);

/* Commands. */
int cmd_dtypes(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_fake_quant(int argc, char **argv);
int cmd_dequantize(int argc, char **argv);
int cmd_error(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_ptq(int argc, char **argv);
int cmd_qat(int argc, char **argv);

#endif
