/* SmoothQuant (Xiao et al. 2022; docs/quantization.md sec. 11, eq. 38-41): for every activation X
 * read by MatMul/Gemm layers with constant weights, per-input-channel scales
 *   s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)                                        (eq. 39)
 * (W_j: row j of every reader's weight, input channel j; the readers share one s) divide X and
 * multiply the weight rows, X W = (X / s)(diag(s) W) (eq. 38), so that the activation outliers
 * move into the weights, which are quantized per output channel. 1/s is folded into the producer of
 * X where it can take it exactly (eq. 40: LayerNormalization's scale and bias, a Mul or Add by a
 * per-channel constant, the output columns of a MatMul/Gemm with a constant weight); elsewhere a
 * Mul by the constant 1/s is inserted in front of the readers. The statistics come from a float
 * pass over the calibration data before the rewrite (cquant_ptq_smooth_observe); the calibration
 * proper then runs on the smoothed model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "ptq/ptq_internal.h"

typedef struct {
  const char *x; /* the activation (a name of p->clean, which lives until the rewrite) */
  int64_t K;     /* its channels (the last axis) */
  int rank;
  float *amax;   /* per-channel max |x| over the statistics pass */
  int seen, bad;
} group_t;

struct cquant__ptq_smooth {
  group_t *g;
  int n;
};

void cquant__ptq_smooth_free(struct cquant__ptq_smooth *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++) free(s->g[i].amax);
  free(s->g);
  free(s);
}

/* The constant weight of a MatMul/Gemm layer (not excluded) that reads x as its activation; *trans:
 * the weight is N x K (Gemm transB) instead of K x N. NULL when nd is no such reader. */
static const cquant_array_t *reader_weight(const cquant_ptq_t *p, const cquant__graph_t *g, const Onnx__NodeProto *nd, const char *x, int *trans) {
  int w;
  if (!nd || (strcmp(nd->op_type, "MatMul") && strcmp(nd->op_type, "Gemm"))) return NULL;
  if (cquant__ptq_quantizable(g, nd, &w) != 1 || w < 0 || strcmp(nd->input[0], x) || cquant__ptq_excluded(p, nd)) return NULL;
  *trans = !strcmp(nd->op_type, "Gemm") && cquant__attr_int(nd, "transB", 0);
  return &g->init[w];
}

int cquant__ptq_smooth_init(cquant_ptq_t *p) {
  cquant__graph_t g;
  int st = cquant__graph_from_model(p->clean, &g);
  if (st) return st;
  struct cquant__ptq_smooth *s = calloc(1, sizeof *s);
  if (s) s->g = calloc((size_t)g.n_node + 1, sizeof *s->g);
  if (!s || !s->g) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  for (int i = 0; i < g.n_node && !st; i++) {
    int tr;
    const cquant_array_t *w = reader_weight(p, &g, g.node[i], g.node[i] ? g.node[i]->input[0] : "", &tr);
    if (!w) continue;
    const int64_t K = w->shape[tr ? 1 : 0];
    group_t *gr = NULL;
    for (int k = 0; k < s->n && !gr; k++)
      if (!strcmp(s->g[k].x, g.node[i]->input[0])) gr = &s->g[k];
    if (gr) {
      gr->bad |= gr->K != K;
      continue;
    }
    gr = &s->g[s->n++];
    gr->x = g.node[i]->input[0];
    gr->K = K;
    if (!(gr->amax = calloc((size_t)K + 1, sizeof(float)))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  cquant__graph_free(&g);
  if (st || !s->n) { /* nothing to smooth: nothing pending */
    cquant__ptq_smooth_free(s);
    return st;
  }
  p->smooth = s;
  return 0;
}

/* One value of the statistics pass (a cquant_onnx_observe_fn; user is the session). */
static int observe_cb(void *user, const char *name, const cquant_array_t *v) {
  cquant_ptq_t *p = user;
  struct cquant__ptq_smooth *s = p->smooth;
  for (int k = 0; k < s->n; k++) {
    group_t *gr = &s->g[k];
    if (strcmp(gr->x, name)) continue;
    if (v->dtype != CQUANT_DT_F32 || v->ndim < 1 || v->shape[v->ndim - 1] != gr->K) {
      gr->bad = 1;
      return 0;
    }
    const float *x = v->data;
    const int64_t K = gr->K, rows = K ? v->numel / K : 0;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = 0; j < K; j++) {
        const float a = fabsf(x[r * K + j]);
        if (a > gr->amax[j]) gr->amax[j] = a; /* NaN never enters */
      }
    gr->seen = 1;
    gr->rank = v->ndim;
    return 0;
  }
  return 0;
}


int cquant_ptq_smooth_pending(const cquant_ptq_t *p) { return p && p->smooth; }

int cquant_ptq_smooth_observe(cquant_ptq_t *p, int n, const char *const *names, const cquant_array_t *inputs) {
  if (!p || n < 1 || !names || !inputs) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  if (!p->smooth) return 0;
  return cquant__ptq_run_observed(p, n, names, inputs, observe_cb);
}

/* A new float32 initializer (name from the node's label and the input index) of the given shape;
 * the node's input k reads it. NULL when out of memory. */
static float *replace_const(cquant__graph_t *g, int ni, int k, int ndim, const int64_t *shape) {
  cquant_array_t a;
  if (cquant_array_alloc(&a, CQUANT_DT_F32, ndim, shape)) return NULL;
  Onnx__NodeProto *n = cquant__graph_edit_node(g, ni);
  const char *nm = n ? cquant__graph_str(g, "%s_in%d_smoothed", cquant__node_label(n), k) : NULL;
  if (!nm || cquant__graph_init_add(g, nm, &a)) {
    cquant_array_free(&a);
    return NULL;
  }
  n->input[k] = (char *)nm;
  return g->init[cquant__graph_init_find(g, nm)].data;
}

/* 1 when the constant c scales per channel of the last axis of a rank-`rank` tensor: one value, or K
 * values along its last axis (leading axes 1) and no higher rank. */
static int per_channel_const(const cquant_array_t *c, int64_t K, int rank) {
  if (!c || c->dtype != CQUANT_DT_F32) return 0;
  if (c->numel == 1) return rank >= 1;
  return c->ndim >= 1 && c->ndim <= rank && c->shape[c->ndim - 1] == K && c->numel == K;
}

/* Eq. 40: makes the producer of t write t / s instead (dry: only checks that it can). 1 when done
 * (or possible), 0 when the producer cannot absorb 1/s; <0 on error. *into: the producer's op. */
static int fold(cquant__graph_t *g, const char *t, const float *s, int64_t K, int rank, int dry, const char **into, int depth) {
  const int pi = cquant__graph_producer(g, t);
  if (pi < 0 || depth > 8) return 0;
  const Onnx__NodeProto *P = g->node[pi];
  const char *op = P->op_type;
  const int dflt = !P->domain || !*P->domain, ms = !dflt && !strcmp(P->domain, "com.microsoft");
  if (!P->n_output || strcmp(P->output[0], t)) return 0;
  *into = op;
  if ((dflt || ms) && !strcmp(op, "LayerNormalization") && P->n_input >= 2) { /* gamma / s, beta / s */
    const int64_t ax = cquant__attr_int(P, "axis", -1);
    if (ax != -1 && ax != rank - 1) return 0;
    const int gi = cquant__graph_init_find(g, P->input[1]);
    const int bi = P->n_input > 2 && *P->input[2] ? cquant__graph_init_find(g, P->input[2]) : -2;
    if (gi < 0 || bi == -1 || g->init[gi].dtype != CQUANT_DT_F32 || g->init[gi].numel != K) return 0;
    if (bi >= 0 && (g->init[bi].dtype != CQUANT_DT_F32 || g->init[bi].numel != K)) return 0;
    if (dry) return 1;
    for (int k = 1; k <= (bi >= 0 ? 2 : 1); k++) {
      const cquant_array_t c = g->init[k == 1 ? gi : bi]; /* the old one stays in the graph until packed */
      float *d = replace_const(g, pi, k, c.ndim, c.shape);
      if (!d) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      for (int64_t j = 0; j < K; j++) d[j] = ((const float *)c.data)[j] / s[j];
    }
    return 1;
  }
  if (dflt && (!strcmp(op, "Mul") || !strcmp(op, "Add")) && P->n_input == 2) { /* c / s; Add also scales its other input */
    const int i0 = cquant__graph_init_find(g, P->input[0]), i1 = cquant__graph_init_find(g, P->input[1]);
    if ((i0 >= 0) == (i1 >= 0)) return 0;
    const int ci = i0 >= 0 ? 0 : 1, cidx = i0 >= 0 ? i0 : i1;
    if (!per_channel_const(&g->init[cidx], K, rank)) return 0;
    if (!strcmp(op, "Add")) {
      const char *t2 = P->input[1 - ci];
      int c[2];
      if (cquant__graph_consumers(g, t2, c, 2) != 1 || cquant__graph_is_output(g, t2) || cquant__graph_read_by_subgraph(g, t2)) return 0;
      const char *inner;
      const int r = fold(g, t2, s, K, rank, dry, &inner, depth + 1);
      if (r <= 0) return r;
    }
    if (dry) return 1;
    const cquant_array_t c = g->init[cidx];
    const int64_t one = K;
    float *d = c.numel == 1 ? replace_const(g, pi, ci, 1, &one) : replace_const(g, pi, ci, c.ndim, c.shape);
    if (!d) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    const float *cv = c.numel == 1 ? NULL : c.data;
    for (int64_t j = 0; j < K; j++) d[j] = (cv ? cv[j] : *(const float *)c.data) / s[j];
    return 1;
  }
  if (dflt && (!strcmp(op, "MatMul") || !strcmp(op, "Gemm")) && P->n_input >= 2) { /* output columns / s */
    const int wi = cquant__graph_init_find(g, P->input[1]);
    const int gemm = !strcmp(op, "Gemm"), tb = gemm && cquant__attr_int(P, "transB", 0);
    if (wi < 0 || cquant__graph_init_find(g, P->input[0]) >= 0 || g->init[wi].dtype != CQUANT_DT_F32 || g->init[wi].ndim != 2) return 0;
    if (g->init[wi].shape[tb ? 0 : 1] != K || (gemm && rank != 2)) return 0;
    const int ci = gemm && P->n_input > 2 && *P->input[2] ? cquant__graph_init_find(g, P->input[2]) : -2;
    if (ci == -1 || (ci >= 0 && !per_channel_const(&g->init[ci], K, 2))) return 0;
    if (dry) return 1;
    const cquant_array_t w = g->init[wi];
    float *d = replace_const(g, pi, 1, 2, w.shape);
    if (!d) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    const float *wv = w.data;
    for (int64_t r = 0; r < w.shape[0]; r++)
      for (int64_t c = 0; c < w.shape[1]; c++) d[r * w.shape[1] + c] = wv[r * w.shape[1] + c] / s[tb ? r : c];
    if (ci >= 0) {
      const cquant_array_t c = g->init[ci];
      const int64_t one = K;
      float *e = c.numel == 1 ? replace_const(g, pi, 2, 1, &one) : replace_const(g, pi, 2, c.ndim, c.shape);
      if (!e) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      for (int64_t j = 0; j < K; j++) e[j] = (c.numel == 1 ? *(const float *)c.data : ((const float *)c.data)[j]) / s[j];
    }
    return 1;
  }
  return 0;
}

static int cmp_float(const void *a, const void *b) {
  const float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* Largest over median (the lower middle one) of v[0..K) / (s ? s : 1) (eq. 41); NaN when the median is 0. */
static double spread_ratio(const float *v, const float *s, int64_t K) {
  float *t = malloc(sizeof(float) * (size_t)(K ? K : 1));
  if (!t || !K) {
    free(t);
    return NAN;
  }
  for (int64_t j = 0; j < K; j++) t[j] = s ? v[j] / s[j] : v[j];
  qsort(t, (size_t)K, sizeof *t, cmp_float);
  const double med = t[(K - 1) / 2], mx = t[K - 1];
  free(t);
  return med > 0 ? mx / med : NAN;
}

/* Rewrites group gr in g (eq. 38-40) and records the notes of its readers. */
static int smooth_group(cquant_ptq_t *p, cquant__graph_t *g, const group_t *gr) {
  const int64_t K = gr->K;
  int cons[256];
  const int n_all = cquant__graph_consumers(g, gr->x, cons, 256);
  if (n_all > 256) return 0; /* too many readers to track: left as it is */
  int rd[256], n_rd = 0, tr;
  for (int k = 0; k < n_all; k++)
    if (reader_weight(p, g, g->node[cons[k]], gr->x, &tr)) rd[n_rd++] = cons[k];
  if (!n_rd) return 0;
  float *s = malloc(sizeof(float) * (size_t)K), *wmax = calloc((size_t)K, sizeof(float));
  if (!s || !wmax) {
    free(s), free(wmax);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  for (int k = 0; k < n_rd; k++) { /* max |W_j| over every reader (they share s) */
    const cquant_array_t *w = reader_weight(p, g, g->node[rd[k]], gr->x, &tr);
    const float *wv = w->data;
    const int64_t R = w->shape[0], C = w->shape[1];
    for (int64_t r = 0; r < R; r++)
      for (int64_t c = 0; c < C; c++) {
        const int64_t j = tr ? c : r;
        const float a = fabsf(wv[r * C + c]);
        if (a > wmax[j]) wmax[j] = a;
      }
  }
  const double alpha = p->opt.smooth_alpha;
  float smin = INFINITY, smax = 0;
  for (int64_t j = 0; j < K; j++) { /* eq. 39; a channel that is 0 in X or in W keeps s = 1 */
    double v = gr->amax[j] > 0 && wmax[j] > 0 ? pow(gr->amax[j], alpha) / pow(wmax[j], 1.0 - alpha) : 1.0;
    if (!(v >= 1e-5)) v = 1e-5; /* SmoothQuant's own clamp; catches NaN too */
    if (v > 1e5) v = 1e5;
    s[j] = (float)v;
    smin = s[j] < smin ? s[j] : smin, smax = s[j] > smax ? s[j] : smax;
  }
  int st = 0, folded = 0;
  const char *into = NULL;
  const int only_readers = n_rd == n_all && !cquant__graph_is_output(g, gr->x) && !cquant__graph_read_by_subgraph(g, gr->x);
  if (only_readers && (st = fold(g, gr->x, s, K, gr->rank, 1, &into, 0)) > 0) {
    if ((st = fold(g, gr->x, s, K, gr->rank, 0, &into, 0)) > 0) folded = 1, st = 0;
  }
  if (st < 0) goto done;
  st = 0;
  if (!folded) { /* x' = Mul(x, 1/s) in front of the readers */
    const char *xs = cquant__graph_str(g, "%s_smoothed", gr->x), *inv = cquant__graph_str(g, "%s_smooth_inv", gr->x);
    cquant_array_t a;
    if (!xs || !inv || (st = cquant_array_alloc(&a, CQUANT_DT_F32, 1, &K))) {
      st = st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      goto done;
    }
    for (int64_t j = 0; j < K; j++) ((float *)a.data)[j] = 1.0f / s[j];
    if ((st = cquant__graph_init_add(g, inv, &a))) {
      cquant_array_free(&a);
      goto done;
    }
    const char *in[2] = {gr->x, inv};
    if (!cquant__graph_add_node(g, "Mul", "", cquant__graph_str(g, "%s_SmoothQuant", gr->x), 2, in, 1, &xs)) {
      st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      goto done;
    }
    for (int k = 0; k < n_rd; k++) {
      Onnx__NodeProto *n = cquant__graph_edit_node(g, rd[k]);
      if (!n) {
        st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
        goto done;
      }
      n->input[0] = (char *)xs;
    }
    into = "Mul";
  }
  const double rb = spread_ratio(gr->amax, NULL, K), ra = spread_ratio(gr->amax, s, K);
  for (int k = 0; k < n_rd && !st; k++) { /* W' = diag(s) W (eq. 38) */
    const Onnx__NodeProto *n0 = g->node[rd[k]];
    tr = !strcmp(n0->op_type, "Gemm") && cquant__attr_int(n0, "transB", 0);
    const cquant_array_t w = g->init[cquant__graph_init_find(g, n0->input[1])];
    float *d = replace_const(g, rd[k], 1, 2, w.shape);
    if (!d) {
      st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      break;
    }
    const float *wv = w.data;
    for (int64_t r = 0; r < w.shape[0]; r++)
      for (int64_t c = 0; c < w.shape[1]; c++) d[r * w.shape[1] + c] = wv[r * w.shape[1] + c] * s[tr ? c : r];
    cquant__ptq_note_t *nt = cquant__ptq_note(p, cquant__node_label(g->node[rd[k]]));
    if (!nt || (!nt->into && !(nt->into = strdup(folded ? into : "Mul (inserted)")))) {
      st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      break;
    }
    nt->smoothed = 1, nt->alpha = (float)alpha, nt->channels = K, nt->s_min = smin, nt->s_max = smax;
    nt->ratio_before = rb, nt->ratio_after = ra;
  }
done:
  free(s);
  free(wmax);
  return st;
}

int cquant_ptq_smooth_apply(cquant_ptq_t *p) {
  if (!p) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  struct cquant__ptq_smooth *sm = p->smooth;
  if (!sm) return 0;
  cquant__graph_t g;
  int st = cquant__graph_from_model(p->clean, &g);
  if (st) return st;
  for (int k = 0; k < sm->n && !st; k++)
    if (sm->g[k].seen && !sm->g[k].bad) st = smooth_group(p, &g, &sm->g[k]);
  cquant_onnx_model_t *nm = NULL;
  if (!st) st = cquant__graph_load(&g, &nm);
  cquant__graph_free(&g);
  /* the session again on the smoothed model; exclusions kept by name */
  char **ex = calloc((size_t)p->n_layer + 1, sizeof *ex);
  int n_ex = 0;
  if (!st && !ex) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  for (int i = 0; i < p->n_layer && !st; i++)
    if (p->layer[i].excluded && !(ex[n_ex++] = strdup(p->layer[i].node))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  if (!st) {
    cquant_onnx_model_t *old = p->clean;
    p->clean = nm;
    nm = NULL;
    st = cquant__ptq_build(p, n_ex, (const char *const *)ex, 0);
    cquant_onnx_free(old);
  }
  for (int i = 0; i < n_ex; i++) free(ex[i]);
  free(ex);
  cquant_onnx_free(nm);
  if (!st) {
    cquant__ptq_smooth_free(sm);
    p->smooth = NULL;
  }
  return st;
}
