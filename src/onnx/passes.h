/* Internal: graph passes (src/onnx/passes.c, ptq.c, integerize.c). */
#ifndef CQUANT_ONNX_PASSES_H
#define CQUANT_ONNX_PASSES_H

#include "onnx/graph.h"

typedef struct {
  int constants, identities, batchnorms;
} cquant__cleanup_stats_t;

/* Constant folding, Identity/Dropout removal, BatchNormalization folding into Conv. */
int cquant__pass_cleanup(cquant__graph_t *g, cquant__cleanup_stats_t *s);

#endif
