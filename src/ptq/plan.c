/* The PTQ plan: which nodes are layers and which tensors are quantized.
 *
 * Layers: Conv, Gemm and MatMul with constant float weights (and float biases), Add of two
 * activations (not a transformer's residual sum, read by a LayerNorm) and GlobalAveragePool. The activation inputs of every layer and its output are
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

/* 1 when tensor t is read by a layer normalization: LayerNormalization, SimplifiedLayerNormalization
 * or Skip(Simplified)LayerNormalization in any domain, or the opset < 17 export of one, Sub(t,
 * ReduceMean(t)). */
int cquant__ptq_feeds_norm(const cquant__graph_t *g, const char *t) {
  int c[32];
  const int nc = cquant__graph_consumers(g, t, c, 32);
  for (int k = 0; k < nc && k < 32; k++) {
    const Onnx__NodeProto *r = g->node[c[k]];
    if (strstr(r->op_type, "LayerNormalization")) return 1;
    if (!strcmp(r->op_type, "Sub") && r->n_input == 2 && !strcmp(r->input[0], t)) {
      const int m = cquant__graph_producer(g, r->input[1]);
      if (m >= 0 && !strcmp(g->node[m]->op_type, "ReduceMean") && g->node[m]->n_input >= 1 && !strcmp(g->node[m]->input[0], t)) return 1;
    }
  }
  return 0;
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
    /* a transformer's residual stream (x + sublayer(x), read by a LayerNorm): it stays float, as
     * TensorRT keeps it, since the normalization that reads it stays float; quantizing the sum
     * costs accuracy (the char LM: perplexity 6.249 against 6.243 on 500 windows), and ONNX
     * Runtime's fused QLinearAdd rounds unlike the QDQ graph it replaces (eq. 26 against 26b), which
     * moved 0.8% of that LM's predicted characters between ORT's optimization levels */
    if (cquant__ptq_feeds_norm(g, n->output[0])) return 0;
    return 2;
  }
  if (!strcmp(op, "GlobalAveragePool")) return cquant__graph_init_find(g, n->input[0]) < 0 ? 2 : 0;
  return 0;
}

/* --quantize-ops: bit k is ops[k] (include/cquant/ptq.h). */
static const char *const quant_ops[] = {"LayerNormalization", "Softmax", "Gelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
                                        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"};
enum { N_QUANT_OPS = (int)(sizeof quant_ops / sizeof quant_ops[0]), GELU_BIT = 2 };

const char *cquant_ptq_quantize_op_name(int k) { return k >= 0 && k < N_QUANT_OPS ? quant_ops[k] : NULL; }

int cquant_ptq_quantize_ops_parse(const char *list, unsigned *bits) {
  if (!list || !bits) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "quantize-ops: NULL argument");
  *bits = 0;
  if (!strcmp(list, "none")) return 0;
  for (const char *s = list; *s;) {
    const char *e = strchr(s, ',');
    const size_t n = e ? (size_t)(e - s) : strlen(s);
    int k = 0;
    while (k < N_QUANT_OPS && (strlen(quant_ops[k]) != n || strncmp(quant_ops[k], s, n))) k++;
    if (k == N_QUANT_OPS)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT,
                           "quantize-ops: unknown op '%.*s' (LayerNormalization, Softmax, Gelu, Sigmoid, HardSigmoid, HardSwish, Tanh, ReduceMean, "
                           "ReduceSum, ReduceMax, ReduceMin)",
                           (int)(n > 64 ? 64 : n), s);
    *bits |= 1u << k;
    s += n + (e != NULL);
  }
  return 0;
}

static int is_default_op(const Onnx__NodeProto *n, const char *op) { return n && !strcmp(n->op_type, op) && (!n->domain || !*n->domain); }

/* The single reader of t (not a graph output), or NULL. */
static const Onnx__NodeProto *only_reader(const cquant__graph_t *g, const char *t) {
  int c[2];
  return !cquant__graph_is_output(g, t) && cquant__graph_consumers(g, t, c, 2) == 1 ? g->node[c[0]] : NULL;
}

/* The input of binary node n that is not `other`, when that one is a constant scalar; NULL otherwise. */
static const char *with_const(const cquant__graph_t *g, const Onnx__NodeProto *n, const char *other) {
  if (!n || n->n_input != 2) return NULL;
  const int k = !strcmp(n->input[0], other) ? 1 : !strcmp(n->input[1], other) ? 0 : -1;
  const int i = k >= 0 ? cquant__graph_init_find(g, n->input[k]) : -1;
  return i >= 0 && g->init[i].numel == 1 && g->init[i].dtype == CQUANT_DT_F32 ? n->input[k] : NULL;
}

/* The Erf form of GELU around Erf node n: x / c (or x * c) -> Erf -> + 1 -> x * . -> * 0.5, or
 * x * 0.5 -> (.) * (erf + 1); the constants are not checked beyond being scalars (the pattern is
 * quantized at its input x and output, its inside stays as written). */
static int gelu_pattern(const cquant__graph_t *g, const Onnx__NodeProto *n, const char **x, const char **out) {
  const int pi = cquant__graph_producer(g, n->input[0]);
  const Onnx__NodeProto *d = pi >= 0 ? g->node[pi] : NULL;
  if (!d || !(is_default_op(d, "Div") || is_default_op(d, "Mul")) || d->n_input != 2 || cquant__graph_init_find(g, d->input[0]) >= 0 ||
      !with_const(g, d, d->input[0]))
    return 0;
  const char *xi = d->input[0];
  const Onnx__NodeProto *a = only_reader(g, n->output[0]);
  if (!is_default_op(a, "Add") || !with_const(g, a, n->output[0])) return 0;
  const Onnx__NodeProto *m = only_reader(g, a->output[0]);
  if (!is_default_op(m, "Mul") || m->n_input != 2) return 0;
  const char *other = !strcmp(m->input[0], a->output[0]) ? m->input[1] : m->input[0];
  if (!strcmp(other, xi)) { /* x * (erf + 1), then * 0.5 */
    const Onnx__NodeProto *h = only_reader(g, m->output[0]);
    if (!is_default_op(h, "Mul") || !with_const(g, h, m->output[0])) return 0;
    *out = h->output[0];
  } else { /* (x * 0.5) * (erf + 1) */
    const int hi = cquant__graph_producer(g, other);
    const Onnx__NodeProto *h = hi >= 0 ? g->node[hi] : NULL;
    if (!is_default_op(h, "Mul") || with_const(g, h, xi) == NULL) return 0;
    *out = m->output[0];
  }
  *x = xi;
  return 1;
}

int cquant__ptq_extra_layer(const cquant_ptq_options_t *o, const cquant__graph_t *g, const Onnx__NodeProto *n, cquant__ptq_extra_t *x) {
  memset(x, 0, sizeof *x);
  if ((n->domain && *n->domain) || n->n_input < 1 || n->n_output < 1 || !*n->input[0] || cquant__graph_init_find(g, n->input[0]) >= 0) return 0;
  x->in[0] = n->input[0], x->n_in = 1, x->out = n->output[0], x->op = n->op_type;
  if (!strcmp(n->op_type, "MatMul")) /* both inputs activations (a constant weight makes it a default layer) */
    return o->act_matmul && n->n_input == 2 && cquant__graph_init_find(g, n->input[1]) < 0 ? (x->in[1] = n->input[1], x->n_in = 2) : 0;
  if (!strcmp(n->op_type, "Erf") && (o->quantize_ops >> GELU_BIT & 1u)) {
    x->op = "Gelu";
    return gelu_pattern(g, n, &x->in[0], &x->out);
  }
  for (int k = 0; k < N_QUANT_OPS; k++)
    if ((o->quantize_ops >> k & 1u) && !strcmp(n->op_type, quant_ops[k])) {
      /* a Softmax after an attention mask (Add, Sub or Where before it): its input keeps the mask's
       * -1e4 (or -1e9, -inf), which would take the whole 8-bit range from the scores: only the
       * output (fixed [0, 1], eq. 47) is quantized (x->in[0] stays named, n_in is 0) */
      const int pi = k == 1 ? cquant__graph_producer(g, n->input[0]) : -1;
      if (pi >= 0 && (is_default_op(g->node[pi], "Add") || is_default_op(g->node[pi], "Sub") || is_default_op(g->node[pi], "Where"))) x->n_in = 0;
      return 1;
    }
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
    cquant__ptq_extra_t x;
    if (!q && cquant__ptq_extra_layer(&p->opt, g, nd, &x) && !cquant__ptq_excluded(p, nd)) {
      for (int k = 0; k < x.n_in; k++)
        if (cquant__ptq_plan_find(pl, n, x.in[k]) < 0) pl[n++] = (cquant__ptq_plan_t){x.in[k], NULL};
      if (!cquant__graph_is_output(g, x.out) && cquant__ptq_plan_find(pl, n, x.out) < 0) pl[n++] = (cquant__ptq_plan_t){x.out, NULL};
    } else if (q && !cquant__ptq_excluded(p, nd)) {
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

