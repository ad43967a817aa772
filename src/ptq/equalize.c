/* Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization"; docs/quantization.md
 * sec. 13, eq. 44-46) of Conv -> [Relu] -> Conv pairs, in particular depthwise -> pointwise: output
 * channel i of the first weight is divided by s_i = sqrt(r1_i / r2_i) (with its bias), input
 * channel i of the second multiplied by it, which leaves the float model unchanged (ReLU is
 * positively homogeneous; Clip/ReLU6 and HardSwish are not and end a pair) and gives both the range
 * sqrt(r1_i r2_i). Chains (A -> B -> C) are swept pair by pair until the scales settle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "ptq/ptq_internal.h"

typedef struct {
  int a, b;            /* node indices */
  int w1, b1, w2;      /* initializer indices (b1 -1: no bias) of the working copies */
  double sp1_before, sp2_before;
} pair_t;

#define CLE_MAX_SWEEPS 100
#define CLE_TOL 1e-4

/* The single reader of t (-1 when t has several, none, or is a graph output). */
static int only_reader(const cquant__graph_t *g, const char *t) {
  int c[2];
  if (cquant__graph_is_output(g, t) || cquant__graph_read_by_subgraph(g, t) || cquant__graph_consumers(g, t, c, 2) != 1) return -1;
  return c[0];
}

static int is_conv_layer(const cquant__graph_t *g, int i) {
  int w;
  const Onnx__NodeProto *n = i >= 0 ? g->node[i] : NULL;
  return n && !strcmp(n->op_type, "Conv") && cquant__ptq_quantizable(g, n, &w) == 1;
}

/* A copy of node ni's input k (a float initializer) that only this node reads; its index. */
static int own_copy(cquant__graph_t *g, int ni, int k) {
  const cquant_array_t *src = &g->init[cquant__graph_init_find(g, g->node[ni]->input[k])];
  cquant_array_t a;
  int st = cquant_array_alloc(&a, CQUANT_DT_F32, src->ndim, src->shape);
  if (st) return st;
  memcpy(a.data, src->data, src->nbytes);
  Onnx__NodeProto *n = cquant__graph_edit_node(g, ni);
  const char *nm = n ? cquant__graph_str(g, "%s_in%d_equalized", cquant__node_label(n), k) : NULL;
  if (!nm || (st = cquant__graph_init_add(g, nm, &a))) {
    cquant_array_free(&a);
    return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  n->input[k] = (char *)nm;
  return 0;
}

/* r1[i]: max |W1| of output channel i; r2[i]: max |W2| of input channel i (eq. 44). */
static void ranges(const cquant__graph_t *g, const pair_t *pr, double *r1, double *r2) {
  const cquant_array_t *W1 = &g->init[pr->w1], *W2 = &g->init[pr->w2];
  const int64_t M = W1->shape[0], per1 = W1->numel / M;
  const float *w1 = W1->data, *w2 = W2->data;
  for (int64_t i = 0; i < M; i++) {
    double m = 0;
    for (int64_t k = 0; k < per1; k++) m = fmax(m, fabs(w1[i * per1 + k]));
    r1[i] = m, r2[i] = 0;
  }
  const int64_t M2 = W2->shape[0], Cg = W2->shape[1], kk = W2->numel / (M2 * Cg), G = M / Cg, M2g = M2 / G;
  for (int64_t o = 0; o < M2; o++)
    for (int64_t c = 0; c < Cg; c++) {
      const int64_t i = (o / M2g) * Cg + c; /* the input channel of group o / M2g */
      for (int64_t k = 0; k < kk; k++) r2[i] = fmax(r2[i], fabs(w2[(o * Cg + c) * kk + k]));
    }
}

/* Largest over smallest (eq. 46); NaN when the smallest is 0. */
static double spread(const double *r, int64_t n) {
  double lo = INFINITY, hi = 0;
  for (int64_t i = 0; i < n; i++) lo = fmin(lo, r[i]), hi = fmax(hi, r[i]);
  return lo > 0 ? hi / lo : NAN;
}

/* One equalization of pair pr (eq. 45); the largest |log s_i|. */
static double equalize_pair(cquant__graph_t *g, const pair_t *pr, double *r1, double *r2) {
  ranges(g, pr, r1, r2);
  cquant_array_t *W1 = &g->init[pr->w1], *W2 = &g->init[pr->w2];
  const int64_t M = W1->shape[0], per1 = W1->numel / M;
  const int64_t M2 = W2->shape[0], Cg = W2->shape[1], kk = W2->numel / (M2 * Cg), G = M / Cg, M2g = M2 / G;
  float *w1 = W1->data, *w2 = W2->data, *b1 = pr->b1 >= 0 ? g->init[pr->b1].data : NULL;
  double dev = 0;
  for (int64_t i = 0; i < M; i++) {
    const double s = r1[i] > 0 && r2[i] > 0 ? sqrt(r1[i] / r2[i]) : 1.0; /* eq. 44 */
    r1[i] = s; /* reused below as the scale */
    dev = fmax(dev, fabs(log(s)));
    const float sf = (float)s;
    for (int64_t k = 0; k < per1; k++) w1[i * per1 + k] /= sf;
    if (b1) b1[i] /= sf;
  }
  for (int64_t o = 0; o < M2; o++)
    for (int64_t c = 0; c < Cg; c++) {
      const float sf = (float)r1[(o / M2g) * Cg + c];
      for (int64_t k = 0; k < kk; k++) w2[(o * Cg + c) * kk + k] *= sf;
    }
  return dev;
}

int cquant__ptq_equalize(cquant_ptq_t *p) {
  cquant__graph_t g;
  int st = cquant__graph_from_model(p->clean, &g);
  if (st) return st;
  pair_t *pr = calloc((size_t)g.n_node + 1, sizeof *pr);
  int np = 0;
  int *own = calloc((size_t)g.n_node + 1, sizeof *own); /* 1: node's weights already copied */
  if (!pr || !own) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  for (int a = 0; a < g.n_node && !st; a++) {
    if (!is_conv_layer(&g, a)) continue;
    int b = only_reader(&g, g.node[a]->output[0]);
    if (b >= 0 && !strcmp(g.node[b]->op_type, "Relu") && (!g.node[b]->domain || !*g.node[b]->domain))
      b = only_reader(&g, g.node[b]->output[0]);
    if (!is_conv_layer(&g, b) || b == a) continue;
    const cquant_array_t *W1 = &g.init[cquant__graph_init_find(&g, g.node[a]->input[1])];
    const cquant_array_t *W2 = &g.init[cquant__graph_init_find(&g, g.node[b]->input[1])];
    const int64_t M = W1->shape[0], Cg = W2->shape[1], G = Cg > 0 && M % Cg == 0 ? M / Cg : 0;
    if (!M || !G || cquant__attr_int(g.node[b], "group", 1) != G || W2->shape[0] % G) continue; /* the channels must match */
    pr[np++] = (pair_t){a, b, -1, -1, -1, 0, 0};
  }
  if (!st && !np) { /* nothing to equalize: the model stays as it is */
    free(pr), free(own);
    cquant__graph_free(&g);
    return 0;
  }
  /* working copies (a layer in two pairs shares its copy) */
  for (int k = 0; k < np && !st; k++) {
    const int nodes[2] = {pr[k].a, pr[k].b};
    for (int h = 0; h < 2 && !st; h++) {
      const int ni = nodes[h];
      if (own[ni]) continue;
      own[ni] = 1;
      st = own_copy(&g, ni, 1);
      if (!st && g.node[ni]->n_input > 2 && *g.node[ni]->input[2]) st = own_copy(&g, ni, 2);
    }
  }
  for (int k = 0; k < np; k++) {
    const Onnx__NodeProto *A = g.node[pr[k].a], *B = g.node[pr[k].b];
    pr[k].w1 = cquant__graph_init_find(&g, A->input[1]);
    pr[k].b1 = A->n_input > 2 && *A->input[2] ? cquant__graph_init_find(&g, A->input[2]) : -1;
    pr[k].w2 = cquant__graph_init_find(&g, B->input[1]);
  }
  int64_t maxc = 1;
  for (int k = 0; k < np; k++) maxc = g.init[pr[k].w1].shape[0] > maxc ? g.init[pr[k].w1].shape[0] : maxc;
  double *r1 = malloc(sizeof(double) * (size_t)maxc), *r2 = malloc(sizeof(double) * (size_t)maxc);
  if (!st && (!r1 || !r2)) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  for (int k = 0; k < np && !st; k++) {
    ranges(&g, &pr[k], r1, r2);
    const int64_t M = g.init[pr[k].w1].shape[0];
    pr[k].sp1_before = spread(r1, M), pr[k].sp2_before = spread(r2, M);
  }
  for (int sweep = 0; sweep < CLE_MAX_SWEEPS && !st && np; sweep++) {
    double dev = 0;
    for (int k = 0; k < np; k++) dev = fmax(dev, equalize_pair(&g, &pr[k], r1, r2));
    if (dev < CLE_TOL) break;
  }
  for (int k = 0; k < np && !st; k++) {
    ranges(&g, &pr[k], r1, r2);
    const int64_t M = g.init[pr[k].w1].shape[0];
    cquant__ptq_note_t *nt = cquant__ptq_note(p, cquant__node_label(g.node[pr[k].a]));
    if (!nt || !(nt->next = strdup(cquant__node_label(g.node[pr[k].b])))) {
      st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      break;
    }
    nt->equalized = 1;
    nt->spread_before = pr[k].sp1_before, nt->next_spread_before = pr[k].sp2_before;
    nt->spread_after = spread(r1, M), nt->next_spread_after = spread(r2, M);
  }
  free(r1), free(r2), free(pr), free(own);
  cquant_onnx_model_t *nm = NULL;
  if (!st) st = cquant__graph_load(&g, &nm);
  cquant__graph_free(&g);
  if (!st) {
    cquant_onnx_free(p->clean);
    p->clean = nm;
  }
  return st;
}
