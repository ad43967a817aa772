/* ONNX models: reading (protobuf-c code generated at build time from Debian's onnx.proto) and
 * running them with cquant's kernels. Supported operators: docs/onnx.md. */
#ifndef CQUANT_ONNX_H
#define CQUANT_ONNX_H

#include <stddef.h>
#include "cquant/npy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cquant_onnx_model cquant_onnx_model_t;

/* Reads a model. BAD_FORMAT for bytes that are not a ModelProto, UNSUPPORTED for an operator cquant
 * does not run (naming the node and op type) or an attribute it does not know. */
int cquant_onnx_load(const char *path, cquant_onnx_model_t **out);
int cquant_onnx_load_buffer(const void *buf, size_t len, cquant_onnx_model_t **out);
void cquant_onnx_free(cquant_onnx_model_t *m);

/* The graph inputs that are not initializers, and the graph outputs, in graph order. */
int cquant_onnx_num_inputs(const cquant_onnx_model_t *m);
const char *cquant_onnx_input_name(const cquant_onnx_model_t *m, int i);
int cquant_onnx_num_outputs(const cquant_onnx_model_t *m);
const char *cquant_onnx_output_name(const cquant_onnx_model_t *m, int i);

/* Runs the graph. inputs[i] is the value of the input named names[i] (every graph input must be
 * given, with the element type the graph declares). outputs must hold cquant_onnx_num_outputs
 * arrays; they are allocated here (free each with cquant_array_free). On error nothing is
 * allocated and cquant_last_error names the node and what is wrong. */
int cquant_onnx_run(const cquant_onnx_model_t *m, int n_inputs, const char *const *names,
                    const cquant_array_t *inputs, cquant_array_t *outputs);

/* A serialized TensorProto (the test_data_set_N/input_N.pb files): its value and name (malloc'd,
 * may be NULL). Types: float, uint8, int8, int16, int32, int64. */
int cquant_tensorproto_parse(const void *buf, size_t len, cquant_array_t *out, char **name);

#ifdef __cplusplus
}
#endif
#endif
