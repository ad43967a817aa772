/* ONNX models: reading (protobuf-c code generated at build time from Debian's onnx.proto) and
 * running them with cquant's kernels. Supported operators: docs/onnx.md. */
#ifndef CQUANT_ONNX_H
#define CQUANT_ONNX_H

#include <stddef.h>
#include "cquant/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cquant_onnx_model cquant_onnx_model_t;

/* Reads a model. BAD_FORMAT for bytes that are not a ModelProto, UNSUPPORTED for an operator cquant
 * does not run (naming the node and op type) or an attribute it does not know. */
int cquant_onnx_load(const char *path, cquant_onnx_model_t **out);
int cquant_onnx_load_buffer(const void *buf, size_t len, cquant_onnx_model_t **out);
void cquant_onnx_free(cquant_onnx_model_t *m);
/* Writes the model (whole or not at all). */
int cquant_onnx_save(const cquant_onnx_model_t *m, const char *path);
/* The model's bytes (what cquant_onnx_save writes) in a new malloc'd buffer. */
int cquant_onnx_serialize(const cquant_onnx_model_t *m, void **buf, size_t *len);

/* The graph inputs that are not initializers, and the graph outputs, in graph order. */
int cquant_onnx_num_inputs(const cquant_onnx_model_t *m);
const char *cquant_onnx_input_name(const cquant_onnx_model_t *m, int i);
int cquant_onnx_num_outputs(const cquant_onnx_model_t *m);
const char *cquant_onnx_output_name(const cquant_onnx_model_t *m, int i);

/* The declared shape of input i (-1 for a symbolic dimension); *ndim = -1 when not declared. */
int cquant_onnx_input_shape(const cquant_onnx_model_t *m, int i, int64_t *dims, int *ndim);

/* Runs the graph. inputs[i] is the value of the input named names[i] (every graph input must be
 * given, with the element type the graph declares). outputs must hold cquant_onnx_num_outputs
 * arrays; they are allocated here (free each with cquant_array_free). On error nothing is
 * allocated and cquant_last_error names the node and what is wrong. */
int cquant_onnx_run(const cquant_onnx_model_t *m, int n_inputs, const char *const *names,
                    const cquant_array_t *inputs, cquant_array_t *outputs);

/* The same, calling observe(user, name, value) for every graph input and for every value a node
 * computes, right after it is computed (the value is freed later: copy what you keep). A non-zero
 * return stops the run with that status. Calibration and per-layer reports use this. */
typedef int (*cquant_onnx_observe_fn)(void *user, const char *name, const cquant_array_t *value);
int cquant_onnx_run_observed(const cquant_onnx_model_t *m, int n_inputs, const char *const *names,
                             const cquant_array_t *inputs, cquant_array_t *outputs, cquant_onnx_observe_fn observe,
                             void *user);

/* Called after every node with the node's name (its first output's when it has none), its op type
 * and the milliseconds its operator took (CLOCK_MONOTONIC), also when the node failed. Without an
 * observe callback, the Add and activation nodes right after a float32 Conv may be folded into it
 * (computed in its output loop): they report 0 ms and the Conv's time includes theirs. */
typedef void (*cquant_onnx_profile_fn)(void *user, const char *node, const char *op_type, double ms);

/* Options of cquant_onnx_run_ex; zero-initialize, then set what you need. */
typedef struct cquant_onnx_run_options {
  cquant_onnx_observe_fn observe; /* as in cquant_onnx_run_observed (NULL: none) */
  void *observe_user;
  cquant_onnx_profile_fn profile; /* per-node times (NULL: not measured) */
  void *profile_user;
} cquant_onnx_run_options_t;

/* cquant_onnx_run with options (NULL: none, the same as cquant_onnx_run). Returns what
 * cquant_onnx_run_observed returns. */
int cquant_onnx_run_ex(const cquant_onnx_model_t *m, int n_inputs, const char *const *names, const cquant_array_t *inputs,
                       cquant_array_t *outputs, const cquant_onnx_run_options_t *opt);

/* A QDQ (or QLinear) model as cquant's integer operator form. n_int gets the number of
 * integer operators made (NULL allowed). Patterns it does not recognise stay as they are. */
int cquant_onnx_integerize(const cquant_onnx_model_t *m, cquant_onnx_model_t **out, int *n_int);

/* The operators the float executor runs, one at a time: the i-th (from 0) as its domain ("" for
 * the default ai.onnx domain, "com.microsoft") and op type. Returns 0, or
 * CQUANT_STATUS_INVALID_ARGUMENT when i is past the last (or negative). */
int cquant_onnx_operator(int i, const char **domain, const char **op_type);

/* Model metadata (metadata_props) by key, NULL if absent. */
const char *cquant_onnx_metadata(const cquant_onnx_model_t *m, const char *key);

/* A serialized TensorProto (the test_data_set_N/input_N.pb files): its value and name (malloc'd,
 * may be NULL). Types: every ONNX numeric type and bool (4-bit types unpacked one per byte). */
int cquant_tensorproto_parse(const void *buf, size_t len, cquant_array_t *out, char **name);

#ifdef __cplusplus
}
#endif
#endif
