/* Internal: an editable ONNX graph for the model passes (clean-ups, PTQ, QDQ -> integer form).
 * Nodes are protobuf-c NodeProto structs, either borrowed from a loaded model or made here in an
 * arena; initializers are cquant arrays owned by the graph. Packing sorts the nodes topologically,
 * drops initializers nothing reads and serialises a ModelProto; cquant__graph_load makes a model
 * that runs the graph in memory (no serialisation), and saving that model writes the same bytes. */
#ifndef CQUANT_ONNX_GRAPH_H
#define CQUANT_ONNX_GRAPH_H

#include "onnx/onnx_internal.h"

typedef struct cquant__graph {
  struct cquant__arena_blk *arena;
  const Onnx__ModelProto *src;   /* borrowed: metadata, opsets, graph inputs and outputs */
  const cquant_onnx_model_t *src_model; /* the model src and the borrowed nodes belong to */
  Onnx__NodeProto **node;        /* NULL entries are removed nodes */
  int n_node, cap_node;
  char **init_name;
  cquant_array_t *init;
  int n_init, cap_init;
  int *init_ix, init_ix_cap;     /* init names by FNV-1a, open addressing: index + 1, 0 empty */
  int64_t opset;                 /* ai.onnx version to write */
  int use_ms;                    /* 1: com.microsoft ops present (domain version 1) */
  int n_meta;
  Onnx__StringStringEntryProto **meta; /* metadata added by passes (arena) */
} cquant__graph_t;

/* A graph holding m's nodes (borrowed: m must outlive g) and copies of its initializers. */
int cquant__graph_from_model(const cquant_onnx_model_t *m, cquant__graph_t *g);
void cquant__graph_free(cquant__graph_t *g);

void *cquant__graph_alloc(cquant__graph_t *g, size_t n); /* zeroed, freed with the graph */
char *cquant__graph_str(cquant__graph_t *g, const char *fmt, ...) CQUANT__PRINTF(2, 3);

/* Appends a new node (inputs may be "" for omitted ones). NULL when out of memory. */
Onnx__NodeProto *cquant__graph_add_node(cquant__graph_t *g, const char *op, const char *domain, const char *name, int n_in,
                                        const char *const *in, int n_out, const char *const *out);
/* Replaces node i by an editable copy (same attributes) and returns it. */
Onnx__NodeProto *cquant__graph_edit_node(cquant__graph_t *g, int i);
int cquant__node_set_int(cquant__graph_t *g, Onnx__NodeProto *n, const char *name, int64_t v);
int cquant__node_set_float(cquant__graph_t *g, Onnx__NodeProto *n, const char *name, float v);
/* Appends the attribute (borrowed) of another node. */
int cquant__node_copy_attr(cquant__graph_t *g, Onnx__NodeProto *n, const Onnx__AttributeProto *a);
void cquant__graph_remove(cquant__graph_t *g, int i);

/* Initializers: the index by name (-1 if none); adding moves *a into the graph (a is zeroed) and
 * replaces an initializer of the same name. */
int cquant__graph_init_find(const cquant__graph_t *g, const char *name);
int cquant__graph_init_add(cquant__graph_t *g, const char *name, cquant_array_t *a);
/* A new scalar initializer (float32, uint8, int8, int32). Returns its name or NULL. */
const char *cquant__graph_scalar(cquant__graph_t *g, const char *name, cquant_dtype_t dt, double v);

/* The node producing `name` (-1: graph input, initializer or none) and the nodes reading it. */
int cquant__graph_producer(const cquant__graph_t *g, const char *name);
int cquant__graph_consumers(const cquant__graph_t *g, const char *name, int *idx, int max);
/* 1 when a subgraph of some node (If/Loop/Scan bodies, any depth) reads name: renaming its uses
 * (cquant__graph_rename_uses) does not reach there. */
int cquant__graph_read_by_subgraph(const cquant__graph_t *g, const char *name);
int cquant__graph_is_output(const cquant__graph_t *g, const char *name);
/* Every input of every node equal to `from` reads `to` instead (from index `start` on). */
int cquant__graph_rename_uses(cquant__graph_t *g, const char *from, const char *to, int start);

int cquant__graph_add_meta(cquant__graph_t *g, const char *key, const char *value);

/* Sorts the nodes topologically (removed ones dropped). */
int cquant__graph_sort(cquant__graph_t *g);

/* Serialises (nodes sorted topologically; BAD_FORMAT for a cycle or a value nobody computes). */
int cquant__graph_pack(cquant__graph_t *g, void **buf, size_t *len);
/* A model over the graph, with no serialisation: the model takes the graph over (g is emptied, also
 * on error), borrows its nodes and initializers and holds a reference to the model the graph was
 * made from, so either may be freed first. Saving it writes what cquant__graph_pack would. */
int cquant__graph_load(cquant__graph_t *g, cquant_onnx_model_t **out);

/* 1 for the default-domain ops that only move or select values (MaxPool with one output, Flatten,
 * Reshape, Squeeze, Unsqueeze, Transpose): quantized activations pass through them unchanged, with
 * the parameters of their input. The PTQ plan and the integer rewrite both follow this list. */
int cquant__op_passes_through(const Onnx__NodeProto *n);

/* QDQ insertion (src/graph/qdq_insert.c). insert_qdq: every reader of activation t reads
 * DequantizeLinear(QuantizeLinear(t, s, z), s, z) instead (z of type dt; names t_scale,
 * t_zero_point, t_quantized, t_dequantized). add_const_dq: the constant q (moved into the graph;
 * *q is emptied) with C scales and zero-points of type zdt along axis behind a DequantizeLinear
 * (names base_quantized, base_scale, ...); *dq gets the DequantizeLinear's output name. */
int cquant__graph_insert_qdq(cquant__graph_t *g, const char *t, float s, int32_t z, cquant_dtype_t dt);
int cquant__graph_add_const_dq(cquant__graph_t *g, const char *base, cquant_array_t *q, const float *scale, cquant_dtype_t zdt, int64_t C,
                               int axis, const char **dq);

/* ONNX element type of a cquant dtype (0 if none). */
int32_t cquant__onnx_from_dtype(cquant_dtype_t dt);

#endif
