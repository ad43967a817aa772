/* BatchNormalization after a Conv read by nothing else is folded into the Conv's weights and
 * bias (docs/quantization.md eq. 27). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "graph/graph.h"
#include "graph/passes.h"

int cquant__pass_fold_batchnorm(cquant__graph_t *g, int *folded) {
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

