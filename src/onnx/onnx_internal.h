/* Internal: the ONNX model, the operator table and helpers shared by the operator files. */
#ifndef CQUANT_ONNX_INTERNAL_H
#define CQUANT_ONNX_INTERNAL_H

#include "core/internal.h"
#include "cquant/onnx.h"
#include <pthread.h>
#include "onnx/onnx.pb-c.h"

/* A node's name for messages and reports: its name, else its first output. */
const char *cquant__node_label(const Onnx__NodeProto *n);
/* "node 'name' (OpType): detail" */
int cquant__node_error(const Onnx__NodeProto *node, int status, const char *fmt, ...) CQUANT__PRINTF(3, 4);

/* Attributes (NULL when absent). */
const Onnx__AttributeProto *cquant__attr(const Onnx__NodeProto *node, const char *name);
int64_t cquant__attr_int(const Onnx__NodeProto *node, const char *name, int64_t dflt);

/* Converts a TensorProto to an array (raw_data or the typed fields). */
int cquant__tensor_from_proto(const Onnx__TensorProto *t, cquant_array_t *out);
/* The same, reading external data relative to dir (the model's folder; NULL: none allowed). */
int cquant__tensor_from_proto_dir(const Onnx__TensorProto *t, const char *dir, cquant_array_t *out);
/* The cquant dtype of an ONNX element type, or -1; and back (0: none). */
int cquant__dtype_from_onnx(int32_t elem_type);
int32_t cquant__dtype_to_onnx(cquant_dtype_t dt);
/* n 4-bit values packed two per byte (element 0 in the low nibble, as ONNX stores INT4/UINT4) to
 * one per byte, sign-extended when is_signed. */
void cquant__unpack4(const void *src, int64_t n, int is_signed, void *dst);
/* The reverse: n values held one per byte (int4 or uint4) packed two per byte, element 0 in the
 * low nibble; an odd count leaves the last byte's high nibble 0. dst holds (n + 1) / 2 bytes. */
void cquant__pack4(const void *src, int64_t n, void *dst);

/* An array as a TensorProto's raw_data: the array's own bytes, or for int4/uint4 (one value per
 * byte in an array) the values packed as ONNX stores INT4/UINT4 (element types 22/21).
 * cquant__tensor_raw_packs: whether the bytes differ from the array's (a buffer is needed);
 * cquant__tensor_raw_size: how many bytes raw_data has; cquant__tensor_raw: the bytes, written
 * into buf (cquant__tensor_raw_size bytes) when they are packed, else a->data itself. */
int cquant__tensor_raw_packs(const cquant_array_t *a);
size_t cquant__tensor_raw_size(const cquant_array_t *a);
const void *cquant__tensor_raw(const cquant_array_t *a, void *buf);

/* A subgraph (a GRAPH attribute of a node: If's branches, Loop/Scan/SequenceMap bodies), resolved
 * and checked at load (src/onnx/model.c): its operators, its initializers, each value's last reader
 * and its own nodes' subgraphs. free_names: the values it reads from enclosing scopes (its nested
 * subgraphs' included): the enclosing graph keeps them alive until the node that owns it ran. */
typedef struct cquant__body {
  const Onnx__GraphProto *g;
  const char *attr; /* the attribute's name */
  int n_inits;
  const char **init_names;
  cquant_array_t *inits;
  const struct cquant__op **ops;
  uint32_t *last_use;
  struct cquant__body ***subs; /* per node: its subgraphs, NULL-terminated, or NULL */
  const char **free_names;
  int n_free;
} cquant__body_t;

/* A loaded model (src/onnx/model.c); the executor (src/exec/) reads it. */
struct cquant_onnx_model {
  Onnx__ModelProto *proto;
  const Onnx__GraphProto *g;
  int n_inputs, n_outputs, n_inits;
  int opset; /* the ai.onnx opset version imported (default domain) */
  const char **inputs, **outputs, **init_names;
  int *input_types; /* declared element types (cquant dtype or -1) */
  cquant_array_t *inits;
  const struct cquant__op **ops;
  uint32_t *last_use;        /* per node: bit k set when input k is read for the last time there */
  struct cquant__slot *slots; /* per node: a value derived from constant inputs (packed weights) */
  cquant__body_t ***subs;    /* per node: its subgraphs (NULL-terminated), or NULL */
  pthread_mutex_t lock;      /* guards slots */
  int refs;                  /* 1 + the models made from this one that borrow its nodes */
  cquant_onnx_model_t *parent; /* the model whose nodes this one borrows (held by a reference) */
  void *owner;               /* a model made from a graph: the graph, which owns proto and inits */
  void (*owner_free)(void *);
};

/* Another reference: cquant_onnx_free releases one; the last frees the model. */
void cquant__onnx_ref(cquant_onnx_model_t *m);
/* A model over a protobuf and initializer arrays that `owner` owns (freed with owner_free with the
 * model, also on error); nodes may be borrowed from parent, which is kept alive by a reference. The
 * protobuf's initializers must describe the same arrays (for cquant_onnx_save). */
int cquant__onnx_adopt(Onnx__ModelProto *proto, cquant_array_t *inits, const char **init_names, int n_inits, void *owner,
                       void (*owner_free)(void *), cquant_onnx_model_t *parent, cquant_onnx_model_t **out);

/* The loaded protobuf and an initializer's value by name (NULL if none). */
const Onnx__ModelProto *cquant__onnx_proto(const cquant_onnx_model_t *m);
const cquant_array_t *cquant__onnx_init(const cquant_onnx_model_t *m, const char *name);

size_t cquant__dtype_size(cquant_dtype_t dt);
/* numel of an array */
static inline int64_t cquant__numel(const cquant_array_t *a) { return a->numel; }

#endif
