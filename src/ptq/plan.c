/* The PTQ plan: which nodes are layers and which tensors are quantized.
 *
 * Layers: Conv, Gemm and MatMul with constant float weights (and float biases), Add of two
 * activations and GlobalAveragePool. The activation inputs of every layer and its output are
 * quantized, the output taken after a ReLU or constant Clip that is its only reader (Conv+ReLU is
 * one layer: the range is the ReLU's); graph outputs stay float. Nodes that only move or select
 * values (cquant__op_passes_through) pass their input's parameters on to their output, so they run
 * on the integers unchanged. Weights: per output channel, symmetric, narrow range (eq. 8-11);
 * biases int32 at scale s_x s_w (eq. 28). */
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "ptq/ptq_internal.h"

/* The output-channel axis of a layer's weights: Conv M x C x kH x kW and Gemm with transB N x K
 * along 0; MatMul and Gemm K x N along 1. */
int cquant__ptq_weight_axis(const Onnx__NodeProto *n) {
  return !strcmp(n->op_type, "Conv") || (!strcmp(n->op_type, "Gemm") && cquant__attr_int(n, "transB", 0)) ? 0 : 1;
}

static int attr_is(const Onnx__NodeProto *n, const char *name, int64_t want, int64_t dflt) { return cquant__attr_int(n, name, dflt) == want; }
static float attr_f(const Onnx__NodeProto *n, const char *name, float dflt) {
  const Onnx__AttributeProto *a = cquant__attr(n, name);
  return a && a->has_f ? a->f : dflt;
}

/* 1: quantizable layer with weights (weight index in *w); 2: quantizable without weights
 * (Add, GlobalAveragePool); 0: not. */
int cquant__ptq_quantizable(const cquant__graph_t *g, const Onnx__NodeProto *n, int *w) {
  const char *op = n->op_type;
  *w = -1;
  if (n->domain && *n->domain) return 0;
  if (!strcmp(op, "Conv") && n->n_input >= 2) {
    int wi = cquant__graph_init_find(g, n->input[1]);
    int bi = n->n_input > 2 && *n->input[2] ? cquant__graph_init_find(g, n->input[2]) : -2;
    if (wi < 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 4 || bi == -1) return 0;
    if (bi >= 0 && (g->init[bi].dtype != CQUANT_DT_F32 || g->init[bi].numel != g->init[wi].shape[0])) return 0;
    if (cquant__graph_init_find(g, n->input[0]) >= 0) return 0;
    *w = wi;
    return 1;
  }
  if (!strcmp(op, "Gemm") && n->n_input >= 2) {
    int wi = cquant__graph_init_find(g, n->input[1]);
    int bi = n->n_input > 2 && *n->input[2] ? cquant__graph_init_find(g, n->input[2]) : -2;
    if (wi < 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 2 || bi == -1) return 0;
    if (!attr_is(n, "transA", 0, 0) || attr_f(n, "alpha", 1.0f) != 1.0f || attr_f(n, "beta", 1.0f) != 1.0f) return 0;
    const int64_t N = attr_is(n, "transB", 1, 0) ? g->init[wi].shape[0] : g->init[wi].shape[1];
    if (bi >= 0 && (g->init[bi].dtype != CQUANT_DT_F32 || g->init[bi].numel != N || g->init[bi].ndim != 1)) return 0;
    if (cquant__graph_init_find(g, n->input[0]) >= 0) return 0;
    *w = wi;
    return 1;
  }
  if (!strcmp(op, "MatMul")) {
    int wi = cquant__graph_init_find(g, n->input[1]);
    if (wi < 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 2 || cquant__graph_init_find(g, n->input[0]) >= 0) return 0;
    *w = wi;
    return 1;
  }
  if (!strcmp(op, "Add") && n->n_input == 2) {
    if (cquant__graph_init_find(g, n->input[0]) >= 0 || cquant__graph_init_find(g, n->input[1]) >= 0) return 0;
    /* attention scores + mask (or position bias) read by Softmax: Softmax stays float, and the mask's
     * -1e4 (or -inf) would take the whole 8-bit range from the scores */
    int c[16];
    const int nc = cquant__graph_consumers(g, n->output[0], c, 16);
    for (int k = 0; k < nc && k < 16; k++)
      if (!strcmp(g->node[c[k]]->op_type, "Softmax")) return 0;
    return 2;
  }
  if (!strcmp(op, "GlobalAveragePool")) return cquant__graph_init_find(g, n->input[0]) < 0 ? 2 : 0;
  return 0;
}

/* The node's output after a ReLU that is its only reader. */
const char *cquant__ptq_fused_output(const cquant__graph_t *g, const Onnx__NodeProto *n) {
  const char *o = n->output[0];
  int c[2];
  if (cquant__graph_is_output(g, o) || cquant__graph_consumers(g, o, c, 2) != 1) return o;
  const Onnx__NodeProto *r = g->node[c[0]];
  if (r->domain && *r->domain) return o;
  if (!strcmp(r->op_type, "Relu")) return r->output[0];
  if (!strcmp(r->op_type, "Clip")) { /* ReLU6 and friends: bounds constant (inputs or opset-6 attributes) */
    int ok = 1;
    for (size_t k = 1; k < r->n_input; k++) ok &= !*r->input[k] || cquant__graph_init_find(g, r->input[k]) >= 0;
    if (ok) return r->output[0];
  }
  return o;
}

int cquant__ptq_excluded(const cquant_ptq_t *p, const Onnx__NodeProto *n) {
  for (int i = 0; i < p->n_layer; i++)
    if (p->layer[i].excluded && !strcmp(p->layer[i].node, cquant__node_label(n))) return 1;
  return 0;
}

int cquant__ptq_plan_find(const cquant__ptq_plan_t *pl, int n, const char *t) {
  for (int i = 0; i < n; i++)
    if (!strcmp(pl[i].t, t)) return i;
  return -1;
}

/* The plan for graph g (nodes in topological order). *out is malloc'd. */
int cquant__ptq_make_plan(const cquant_ptq_t *p, const cquant__graph_t *g, cquant__ptq_plan_t **out, int *n_out) {
  cquant__ptq_plan_t *pl = calloc((size_t)g->n_node * 4 + 4, sizeof *pl);
  if (!pl) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  int n = 0, w;
  for (int i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *nd = g->node[i];
    if (!nd) continue;
    int q = cquant__ptq_quantizable(g, nd, &w);
    if (q && !cquant__ptq_excluded(p, nd)) {
      const int n_act = q == 2 && !strcmp(nd->op_type, "Add") ? 2 : 1;
      for (int k = 0; k < n_act; k++)
        if (cquant__ptq_plan_find(pl, n, nd->input[k]) < 0) pl[n++] = (cquant__ptq_plan_t){nd->input[k], NULL};
      const char *o = cquant__ptq_fused_output(g, nd);
      if (!cquant__graph_is_output(g, o) && cquant__ptq_plan_find(pl, n, o) < 0) pl[n++] = (cquant__ptq_plan_t){o, NULL};
    } else if (cquant__op_passes_through(nd)) {
      int s = cquant__ptq_plan_find(pl, n, nd->input[0]);
      if (s >= 0 && !cquant__graph_is_output(g, nd->output[0]) && cquant__ptq_plan_find(pl, n, nd->output[0]) < 0)
        pl[n++] = (cquant__ptq_plan_t){nd->output[0], pl[s].src ? pl[s].src : pl[s].t};
    }
  }
  *out = pl;
  *n_out = n;
  return 0;
}

