/* Graph clean-ups before quantization (docs/onnx.md, "Clean-ups"): constants become
 * initializers and anything computed only from initializers is computed once (this also turns
 * float16 weights behind Cast nodes into float32 ones); Identity and Dropout go; a
 * BatchNormalization after a Conv is folded into the Conv's weights and bias (docs/quantization.md
 * eq. 27). Each result is an ordinary float model that computes the same function. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "graph/graph.h"
#include "graph/passes.h"

static int is_quant_op(const char *op) {
  return !strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear") || !strcmp(op, "DynamicQuantizeLinear");
}

static int fold_constants(cquant__graph_t *g, int *folded) {
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
    int st = op->fn(NULL, n, in, (int)n->n_input, out, (int)n->n_output);
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

static int drop_identities(cquant__graph_t *g, int *dropped) {
  for (int i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n || (strcmp(n->op_type, "Identity") && strcmp(n->op_type, "Dropout")) || n->n_input < 1) continue;
    if (!strcmp(n->op_type, "Dropout") && (n->n_output > 1 && n->output[1] && *n->output[1])) continue; /* the mask is read */
    if (cquant__graph_is_output(g, n->output[0])) continue;
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
static int fold_batchnorm(cquant__graph_t *g, int *folded) {
  for (int i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *bn = g->node[i];
    if (!bn || strcmp(bn->op_type, "BatchNormalization") || bn->n_input != 5 || bn->n_output < 1) continue;
    if (bn->n_output > 1) continue; /* training outputs */
    int p = cquant__graph_producer(g, bn->input[0]);
    if (p < 0 || strcmp(g->node[p]->op_type, "Conv") || g->node[p]->n_input < 2) continue;
    int cons[2];
    if (cquant__graph_consumers(g, bn->input[0], cons, 2) != 1 || cquant__graph_is_output(g, bn->input[0])) continue;
    int wi = cquant__graph_init_find(g, g->node[p]->input[1]);
    int bi = g->node[p]->n_input > 2 ? cquant__graph_init_find(g, g->node[p]->input[2]) : -1;
    if (wi < 0 || (g->node[p]->n_input > 2 && *g->node[p]->input[2] && bi < 0)) continue;
    int pi[4];
    int ok = 1;
    for (int k = 0; k < 4; k++) {
      pi[k] = cquant__graph_init_find(g, bn->input[k + 1]);
      ok &= pi[k] >= 0 && g->init[pi[k]].dtype == CQUANT_DT_F32;
    }
    const cquant_array_t *w = &g->init[wi];
    if (!ok || w->dtype != CQUANT_DT_F32 || w->ndim < 3) continue;
    const int64_t M = w->shape[0], per = w->numel / M;
    for (int k = 0; k < 4; k++) ok &= g->init[pi[k]].numel == M;
    if (bi >= 0) ok &= g->init[bi].dtype == CQUANT_DT_F32 && g->init[bi].numel == M;
    if (!ok) continue;
    const Onnx__AttributeProto *e = cquant__attr(bn, "epsilon");
    const float eps = e && e->has_f ? e->f : 1e-5f;
    cquant_array_t nw, nb;
    int st;
    if ((st = cquant_array_alloc(&nw, CQUANT_DT_F32, w->ndim, w->shape))) return st;
    int64_t bshape[1] = {M};
    if ((st = cquant_array_alloc(&nb, CQUANT_DT_F32, 1, bshape))) { cquant_array_free(&nw); return st; }
    const float *gamma = g->init[pi[0]].data, *beta = g->init[pi[1]].data, *mean = g->init[pi[2]].data, *var = g->init[pi[3]].data;
    const float *b0 = bi >= 0 ? g->init[bi].data : NULL;
    for (int64_t m = 0; m < M; m++) {
      const double k = (double)gamma[m] / sqrt((double)var[m] + (double)eps);
      for (int64_t j = 0; j < per; j++) ((float *)nw.data)[m * per + j] = (float)(((const float *)w->data)[m * per + j] * k);
      ((float *)nb.data)[m] = (float)(((b0 ? b0[m] : 0.0) - mean[m]) * k + beta[m]);
    }
    Onnx__NodeProto *c = cquant__graph_edit_node(g, p);
    if (!c) { cquant_array_free(&nw), cquant_array_free(&nb); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }
    const char *wn = cquant__graph_str(g, "%s_bnfold_w", bn->output[0]), *bnm = cquant__graph_str(g, "%s_bnfold_b", bn->output[0]);
    if (!wn || !bnm || (st = cquant__graph_init_add(g, wn, &nw)) || (st = cquant__graph_init_add(g, bnm, &nb))) {
      cquant_array_free(&nw), cquant_array_free(&nb);
      return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    if (c->n_input < 3) {
      char **ni = cquant__graph_alloc(g, sizeof(char *) * 3);
      if (!ni) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
      ni[0] = c->input[0];
      c->input = ni;
      c->n_input = 3;
    }
    c->input[1] = (char *)wn;
    c->input[2] = (char *)bnm;
    c->output[0] = bn->output[0];
    cquant__graph_remove(g, i);
    (*folded)++;
  }
  return 0;
}

int cquant__pass_cleanup(cquant__graph_t *g, cquant__cleanup_stats_t *s) {
  cquant__cleanup_stats_t z = {0};
  if (!s) s = &z;
  memset(s, 0, sizeof *s);
  int st;
  if ((st = fold_constants(g, &s->constants))) return st;
  if ((st = drop_identities(g, &s->identities))) return st;
  if ((st = fold_batchnorm(g, &s->batchnorms))) return st;
  return 0;
}
