/* Identity and inference Dropout nodes go; their readers read the input directly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "graph/graph.h"
#include "graph/passes.h"

int cquant__pass_remove_identities(cquant__graph_t *g, int *dropped) {
  for (int i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n || (strcmp(n->op_type, "Identity") && strcmp(n->op_type, "Dropout")) || n->n_input < 1) continue;
    if (!strcmp(n->op_type, "Dropout") && (n->n_output > 1 && n->output[1] && *n->output[1])) continue; /* the mask is read */
    if (cquant__graph_is_output(g, n->output[0])) continue;
    if (cquant__graph_read_by_subgraph(g, n->output[0])) continue; /* a Loop/If body reads it by name */
    const char *from = n->output[0], *to = n->input[0];
    cquant__graph_remove(g, i);
    int st = cquant__graph_rename_uses(g, from, to, 0);
    if (st) return st;
    (*dropped)++;
  }
  return 0;
}

/* Conv -> BatchNormalization (inference) where the Conv's output is read by the BN alone:
 * W'[m] = W[m] k[m], B'[m] = (B[m] - mean[m]) k[m] + beta[m], k = gamma / sqrt(var + eps) (eq. 27). */
