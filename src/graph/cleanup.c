/* Graph clean-ups before quantization (docs/onnx.md, "Clean-ups"): constants become
 * initializers and anything computed only from initializers is computed once (this also turns
 * float16 weights behind Cast nodes into float32 ones); Identity and Dropout go; a
 * BatchNormalization after a Conv is folded into the Conv's weights and bias (docs/quantization.md
 * eq. 27). Each result is an ordinary float model that computes the same function. The passes:
 * fold_constants.c, remove_identities.c, fold_batchnorm.c. */
#include <stdlib.h>
#include <string.h>
#include "graph/graph.h"
#include "graph/passes.h"

int cquant__pass_cleanup(cquant__graph_t *g, cquant__cleanup_stats_t *s) {
  cquant__cleanup_stats_t z = {0};
  if (!s) s = &z;
  memset(s, 0, sizeof *s);
  int st;
  if ((st = cquant__pass_fold_constants(g, &s->constants))) return st;
  if ((st = cquant__pass_remove_identities(g, &s->identities))) return st;
  if ((st = cquant__pass_fold_batchnorm(g, &s->batchnorms))) return st;
  return 0;
}
