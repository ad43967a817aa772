/* Internal: the ONNX model, the operator table and helpers shared by the operator files. */
#ifndef CQUANT_ONNX_INTERNAL_H
#define CQUANT_ONNX_INTERNAL_H

#include "core/internal.h"
#include "cquant/onnx.h"
#include <pthread.h>
#include "onnx/onnx.pb-c.h"

/* "node 'name' (OpType): detail" */
int cquant__node_error(const Onnx__NodeProto *node, int status, const char *fmt, ...) CQUANT__PRINTF(3, 4);

/* Attributes (NULL when absent). */
const Onnx__AttributeProto *cquant__attr(const Onnx__NodeProto *node, const char *name);
int64_t cquant__attr_int(const Onnx__NodeProto *node, const char *name, int64_t dflt);

/* Converts a TensorProto to an array (raw_data or the typed fields). */
int cquant__tensor_from_proto(const Onnx__TensorProto *t, cquant_array_t *out);
/* The same, reading external data relative to dir (the model's folder; NULL: none allowed). */
int cquant__tensor_from_proto_dir(const Onnx__TensorProto *t, const char *dir, cquant_array_t *out);
/* The cquant dtype of an ONNX element type, or -1. */
int cquant__dtype_from_onnx(int32_t elem_type);

/* A loaded model (src/onnx/model.c); the executor (src/exec/) reads it. */
struct cquant_onnx_model {
  Onnx__ModelProto *proto;
  const Onnx__GraphProto *g;
  int n_inputs, n_outputs, n_inits;
  const char **inputs, **outputs, **init_names;
  int *input_types; /* declared element types (cquant dtype or -1) */
  cquant_array_t *inits;
  const struct cquant__op **ops;
  uint32_t *last_use;        /* per node: bit k set when input k is read for the last time there */
  struct cquant__slot *slots; /* per node: a value derived from constant inputs (packed weights) */
  pthread_mutex_t lock;      /* guards slots */
};

/* The loaded protobuf and an initializer's value by name (NULL if none). */
const Onnx__ModelProto *cquant__onnx_proto(const cquant_onnx_model_t *m);
const cquant_array_t *cquant__onnx_init(const cquant_onnx_model_t *m, const char *name);

size_t cquant__dtype_size(cquant_dtype_t dt);
/* numel of an array */
static inline int64_t cquant__numel(const cquant_array_t *a) { return a->numel; }

#endif
