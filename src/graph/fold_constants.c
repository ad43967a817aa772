/* Constant folding: Constant nodes become initializers and every node computed only from
 * initializers is computed once (float16 weights behind Cast nodes become float32 ones). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "graph/graph.h"
#include "graph/passes.h"

static int is_quant_op(const char *op) {
  return !strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear") || !strcmp(op, "DynamicQuantizeLinear");
}

int cquant__pass_fold_constants(cquant__graph_t *g, int *folded) {
  for (int i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n || (n->domain && *n->domain) || is_quant_op(n->op_type) || n->n_input > 16 || n->n_output > 8) continue;
    const cquant_array_t *in[16] = {0};
    int all = 1;
    for (size_t k = 0; k < n->n_input && all; k++) {
      if (!n->input[k] || !*n->input[k]) continue;
      int j = cquant__graph_init_find(g, n->input[k]);
      if (j < 0) all = 0;
      else in[k] = &g->init[j];
    }
    int outs_are_outputs = 0;
    for (size_t k = 0; k < n->n_output; k++) outs_are_outputs |= cquant__graph_is_output(g, n->output[k]);
    if (!all || outs_are_outputs) continue;
    const cquant__op_t *op = cquant__op_find(n->op_type);
    if (!op) continue;
    cquant_array_t out[8];
    memset(out, 0, sizeof out);
    /* no model run: nothing cached, and the graph's opset for the operators that depend on it */
    cquant__opctx_t ctx = {.m = NULL, .node = -1, .opset = (int)g->opset};
    int st = op->fn(&ctx, n, in, (int)n->n_input, out, (int)n->n_output);
    if (st) { /* left for the executor, which reports it with the inputs it really gets */
      for (size_t k = 0; k < n->n_output; k++) cquant_array_free(&out[k]);
      continue;
    }
    for (size_t k = 0; k < n->n_output; k++)
      if ((st = cquant__graph_init_add(g, n->output[k], &out[k]))) {
        for (; k < n->n_output; k++) cquant_array_free(&out[k]);
        return st;
      }
    cquant__graph_remove(g, i);
    (*folded)++;
  }
  return 0;
}

