/* Internal: graph passes (src/onnx/passes.c, ptq.c, integerize.c). */
#ifndef CQUANT_ONNX_PASSES_H
#define CQUANT_ONNX_PASSES_H

#include "graph/graph.h"

typedef struct {
  int constants, identities, batchnorms;
} cquant__cleanup_stats_t;

/* The clean-ups, each in its own file; *count gets how many nodes each changed. */
int cquant__pass_fold_constants(cquant__graph_t *g, int *count);
int cquant__pass_remove_identities(cquant__graph_t *g, int *count);
int cquant__pass_fold_batchnorm(cquant__graph_t *g, int *count);
/* All three: constant folding, Identity/Dropout removal, BatchNormalization folding into Conv. */
int cquant__pass_cleanup(cquant__graph_t *g, cquant__cleanup_stats_t *s);

/* QDQ patterns -> integer operators (src/onnx/integerize.c): g is made from m and rewritten; the
 * result is the QLinear form written by --format qop. n_int gets the number of operators made. */
int cquant__integerize_graph(const cquant_onnx_model_t *m, cquant__graph_t *g, int *n_int);

/* src/graph/channels_last.c: between integer convolutions activations stay N x H x W x C
 * (com.microsoft channels_last operators, transposes where the layout changes). */
int cquant__pass_channels_last(cquant__graph_t *g);

#endif
