/* The training graph: one tape node per ONNX node of the (constant-folded) model, fake-quant
 * nodes where PTQ's plan puts QDQ pairs (src/ptq/plan.c: the same placement), and a Conv followed
 * by BatchNormalization rewritten as the simulated folding of docs/qat.md eq. 19-21:
 *   s = gamma / sqrt(var + eps);  y = BN(Conv(x, FQ(W * s)) / s + b). */
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "graph/graph.h"
#include "ptq/ptq_internal.h"
#include "qat/qat_internal.h"

int cquant__qat_val(cquant_qat_t *q, const char *name) {
  for (int i = q->n_val - 1; i >= 0; i--)
    if (q->val[i].name && !strcmp(q->val[i].name, name)) return i;
  return -1;
}

int cquant__qat_new_val(cquant_qat_t *q, const char *name) {
  if (q->n_val == q->cap_val) {
    int cap = q->cap_val ? 2 * q->cap_val : 64;
    qat_val_t *v = realloc(q->val, sizeof *v * (size_t)cap);
    if (!v) return -1;
    q->val = v, q->cap_val = cap;
  }
  qat_val_t *v = &q->val[q->n_val];
  memset(v, 0, sizeof *v);
  v->name = name;
  v->param = -1;
  return q->n_val++;
}

qat_node_t *cquant__qat_new_node(cquant_qat_t *q, int op, const char *label) {
  if (q->n_node == q->cap_node) {
    int cap = q->cap_node ? 2 * q->cap_node : 64;
    qat_node_t *n = realloc(q->node, sizeof *n * (size_t)cap);
    if (!n) return NULL;
    q->node = n, q->cap_node = cap;
  }
  qat_node_t *n = &q->node[q->n_node++];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->label = label;
  n->out = -1;
  n->bq_wfq = n->bq_sx = n->bq_bias = -1;
  return n;
}

static int oom(void) { return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory"); }

/* kind: 0 a model weight, 1 an LSQ step size (kept > 0), 2 an LSQ+ offset */
static int make_param(cquant_qat_t *q, int v, int kind) {
  if (q->val[v].param >= 0) return 0;
  qat_param_t *p = realloc(q->par, sizeof *p * (size_t)(q->n_par + 1));
  if (!p) return oom();
  q->par = p;
  memset(&p[q->n_par], 0, sizeof *p);
  p[q->n_par].val = v;
  p[q->n_par].decay = !kind && q->val[v].ndim >= 2;
  p[q->n_par].is_scale = kind == 1;
  q->val[v].param = q->n_par++;
  q->val[v].needs_grad = 1;
  return 0;
}

/* A value the session owns with a fixed shape (scales, offsets). */
static int owned_val(cquant_qat_t *q, const char *name, int64_t n, float init) {
  int v = cquant__qat_new_val(q, name);
  if (v < 0) return -1;
  int64_t sh[1] = {n};
  if (cquant__qat_resize(q, v, 1, sh)) return -1;
  for (int64_t i = 0; i < n; i++) q->val[v].x[i] = init;
  q->val[v].is_init = 1;
  return v;
}

/* A fake-quant node after value x (activations: per tensor; weights: per channel along axis 0).
 * fold >= 0: the weights are W s_c with s_c = fold's values (simulated BatchNorm folding, eq. 19);
 * with LSQ the trained step is then that of W, t_c, and the node's scale is t_c s_c (eq. 9a). */
static int add_fq(cquant_qat_t *q, int x, int weight, int64_t C, const char *label, int fold, int *out) {
  const cquant_qat_options_t *o = &q->opt;
  qat_node_t *n = cquant__qat_new_node(q, QOP_FQ, label);
  if (!n) return oom();
  qat_fq_t *f = calloc(1, sizeof *f);
  if (!f) return oom();
  n->fq = f;
  f->weight = weight;
  f->bits = weight ? o->weight_bits : o->act_bits;
  f->qmin = weight ? -((1 << (f->bits - 1)) - 1) : 0;
  f->qmax = weight ? (1 << (f->bits - 1)) - 1 : (1 << f->bits) - 1;
  f->C = C;
  f->lsq = o->lsq;
  f->ema_left = o->ema_steps;
  f->ema_decay = o->ema_decay;
  if (weight && !(f->ratio = malloc(sizeof(float) * (size_t)C))) return oom();
  for (int64_t c = 0; weight && c < C; c++) f->ratio[c] = 1.0f;
  const char *base = q->val[x].name;
  int s = owned_val(q, cquant__qat_str(q, "%s_fqscale", base), C, 1.0f);
  int z = weight ? -1 : owned_val(q, cquant__qat_str(q, "%s_fqoffset", base), 1, 0.0f);
  const int folded = weight && o->lsq && fold >= 0;
  int t = folded ? owned_val(q, cquant__qat_str(q, "%s_fqstep", base), C, 1.0f) : -1;
  int y = cquant__qat_new_val(q, cquant__qat_str(q, "%s_fq", base));
  if (s < 0 || y < 0 || (!weight && z < 0) || (folded && t < 0)) return oom();
  n = &q->node[q->n_node - 1];
  n->in[0] = x, n->in[1] = s, n->n_in = 2;
  if (!weight) n->in[2] = z, n->n_in = 3;
  if (folded) n->in[2] = t, n->in[3] = fold, n->n_in = 4;
  n->out = y;
  if (o->lsq) {
    int st = make_param(q, folded ? t : s, 1);
    if (!st && !weight) st = make_param(q, z, 2);
    if (st) return st;
  }
  *out = y;
  return 0;
}

static int read_ints(const Onnx__NodeProto *nd, const char *name, int64_t *v, int max, int64_t dflt) {
  int k;
  for (int i = 0; i < max; i++) v[i] = dflt;
  return cquant__attr_ints(nd, name, v, max, &k);
}

static int conv_pool_attrs(cquant_qat_t *q, qat_node_t *n, const Onnx__NodeProto *nd, int is_conv) {
  int64_t k[2] = {0, 0}, s[2], p[4], d[2];
  int nk = 0, st;
  if ((st = cquant__attr_ints(nd, "kernel_shape", k, 2, &nk))) return st;
  if (nk < 0 && is_conv) { /* from the weights (the model's own value: in[1] may be their fake-quantized form, not sized yet) */
    const int wi = nd->n_input > 1 ? cquant__qat_val(q, nd->input[1]) : -1;
    const qat_val_t *w = &q->val[wi >= 0 ? wi : n->in[1]];
    if (w->ndim != 4) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "the trainer handles 2-D convolutions only");
    k[0] = w->shape[2], k[1] = w->shape[3], nk = 2;
  }
  if (nk != 2) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "the trainer handles 2-D windows only");
  if ((st = read_ints(nd, "strides", s, 2, 1)) || (st = read_ints(nd, "pads", p, 4, 0)) || (st = read_ints(nd, "dilations", d, 2, 1))) return st;
  const char *ap = cquant__attr_string(nd, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
    return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "auto_pad %s: the trainer takes explicit pads", ap);
  n->kh = k[0], n->kw = k[1], n->sh = s[0], n->sw = s[1], n->pt = p[0], n->pl = p[1], n->pb = p[2], n->pr = p[3], n->dh = d[0], n->dw = d[1];
  n->group = cquant__attr_int(nd, "group", 1);
  n->ceil_mode = (int)cquant__attr_int(nd, "ceil_mode", 0);
  n->count_include_pad = (int)cquant__attr_int(nd, "count_include_pad", 0);
  if (n->kh < 1 || n->kw < 1 || n->sh < 1 || n->sw < 1 || n->dh < 1 || n->dw < 1 || n->group < 1)
    return cquant__node_error(nd, CQUANT_STATUS_INVALID_ARGUMENT, "bad window attributes");
  return 0;
}

static const struct {
  const char *name;
  int op;
} op_table[] = {{"Conv", QOP_CONV},         {"Gemm", QOP_GEMM},           {"MatMul", QOP_MATMUL},
                {"BatchNormalization", QOP_BN}, {"Relu", QOP_RELU},       {"LeakyRelu", QOP_LEAKYRELU},
                {"Clip", QOP_CLIP},         {"HardSigmoid", QOP_HARDSIGMOID}, {"HardSwish", QOP_HARDSWISH},
                {"Sigmoid", QOP_SIGMOID},   {"Tanh", QOP_TANH},           {"Erf", QOP_ERF},
                {"Add", QOP_ADD},           {"Sub", QOP_SUB},             {"Mul", QOP_MUL},
                {"Div", QOP_DIV},           {"MaxPool", QOP_MAXPOOL},     {"AveragePool", QOP_AVGPOOL},
                {"GlobalAveragePool", QOP_GAP}, {"Flatten", QOP_FLATTEN}, {"Reshape", QOP_RESHAPE},
                {"Transpose", QOP_TRANSPOSE}, {"Concat", QOP_CONCAT},     {"Softmax", QOP_SOFTMAX},
                {"LayerNormalization", QOP_LAYERNORM}, {"Identity", QOP_IDENTITY}, {"Dropout", QOP_IDENTITY}};

/* Which inputs of an op are trained when they are float initializers. */
static int trained_input(int op, int k, const qat_val_t *v) {
  switch (op) {
    case QOP_CONV: case QOP_GEMM: return k >= 1;
    case QOP_MATMUL: return 1;
    case QOP_BN: case QOP_LAYERNORM: return k == 1 || k == 2;
    case QOP_ADD: return v->numel > 1;
    default: return 0;
  }
}

typedef struct {
  const char **act;    /* planned activations with their own parameters */
  int n_act;
} plan_t;

static int in_plan(const plan_t *pl, const char *t) {
  for (int i = 0; i < pl->n_act; i++)
    if (!strcmp(pl->act[i], t)) return 1;
  return 0;
}

/* The layer of the PTQ session named like node nd, with weights and not excluded. */
static const cquant__ptq_layer_t *weight_layer(const cquant_qat_t *q, const Onnx__NodeProto *nd) {
  const char *l = cquant__node_label(nd);
  for (int i = 0; i < q->ptq->n_layer; i++)
    if (q->ptq->layer[i].weight && !q->ptq->layer[i].excluded && !strcmp(q->ptq->layer[i].node, l)) return &q->ptq->layer[i];
  return NULL;
}

/* The BatchNormalization that alone reads the Conv's output and that PTQ's clean-up folds. */
static const Onnx__NodeProto *folded_bn(const cquant_qat_t *q, const Onnx__NodeProto *conv) {
  const Onnx__GraphProto *g = q->work->g;
  const Onnx__NodeProto *bn = NULL;
  int readers = 0;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      if (!strcmp(g->node[i]->input[k], conv->output[0])) readers++, bn = g->node[i];
  for (size_t i = 0; i < g->n_output; i++)
    if (!strcmp(g->output[i]->name, conv->output[0])) readers += 2;
  if (readers != 1 || strcmp(bn->op_type, "BatchNormalization") || bn->n_input != 5 || bn->n_output != 1) return NULL;
  for (int k = 1; k < 5; k++)
    if (!cquant__onnx_init(q->work, bn->input[k])) return NULL;
  return bn;
}

static int add_onnx_node(cquant_qat_t *q, const Onnx__NodeProto *nd, int *alias, const plan_t *pl);

int cquant__qat_build(cquant_qat_t *q) {
  const cquant_onnx_model_t *m = q->work;
  int st = 0;
  /* initializers */
  for (int i = 0; i < m->n_inits; i++) {
    int v = cquant__qat_new_val(q, m->init_names[i]);
    if (v < 0) return oom();
    const cquant_array_t *a = &m->inits[i];
    if (a->dtype != CQUANT_DT_F32) {
      q->val[v].cst = a;
      continue;
    }
    if ((st = cquant__qat_resize(q, v, a->ndim, a->shape))) return st;
    memcpy(q->val[v].x, a->data, sizeof(float) * (size_t)a->numel);
    q->val[v].is_init = 1;
  }
  q->input = cquant__qat_new_val(q, cquant_onnx_input_name(m, 0));
  if (q->input < 0) return oom();
  /* the placement: PTQ's plan on the cleaned model */
  plan_t pl = {0};
  cquant__graph_t g;
  cquant__ptq_plan_t *pp = NULL;
  int npp = 0;
  if ((st = cquant__graph_from_model(q->ptq->clean, &g))) return st;
  st = cquant__ptq_make_plan(q->ptq, &g, &pp, &npp);
  cquant__graph_free(&g);
  if (st) return st;
  pl.act = calloc((size_t)npp + 1, sizeof(char *));
  if (!pl.act) { free(pp); return oom(); }
  for (int i = 0; i < npp; i++)
    if (!pp[i].src) pl.act[pl.n_act++] = pp[i].t;
  free(pp);
  /* alias[v]: the value read in place of v (its fake-quantized form) */
  int cap = q->n_val + (int)m->g->n_node * 12 + 64;
  int *alias = malloc(sizeof(int) * (size_t)cap);
  if (!alias) { free(pl.act); return oom(); }
  for (int i = 0; i < cap; i++) alias[i] = i;
  if (q->opt.act_bits && in_plan(&pl, q->val[q->input].name)) {
    int y;
    if ((st = add_fq(q, q->input, 0, 1, q->val[q->input].name, -1, &y))) goto done;
    alias[q->input] = y;
  }
  for (size_t i = 0; i < m->g->n_node && !st; i++) st = add_onnx_node(q, m->g->node[i], alias, &pl);
  if (!st) {
    q->output = cquant__qat_val(q, cquant_onnx_output_name(m, 0));
    if (q->output < 0) st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "qat: the model output '%s' is not computed", cquant_onnx_output_name(m, 0));
  }
  /* gradients: every value downstream of a trained one */
  for (int i = 0; i < q->n_node && !st; i++) {
    qat_node_t *n = &q->node[i];
    int ng = 0;
    for (int k = 0; k < n->n_in; k++) ng |= q->val[n->in[k]].needs_grad;
    if (n->op == QOP_BNSCALE) ng = 0;
    q->val[n->out].needs_grad = ng;
  }
done:
  free(alias);
  free(pl.act);
  return st;
}

static int add_onnx_node(cquant_qat_t *q, const Onnx__NodeProto *nd, int *alias, const plan_t *pl) {
  int op = -1, st;
  if (!nd->domain || !*nd->domain)
    for (size_t k = 0; k < sizeof op_table / sizeof *op_table; k++)
      if (!strcmp(op_table[k].name, nd->op_type)) op = op_table[k].op;
  if (op < 0 || nd->n_output < 1)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "node '%s' (%s): the trainer cannot differentiate this operator", cquant__node_label(nd),
                         nd->op_type);
  if (op == QOP_BN && nd->n_output > 1)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "node '%s' (%s): training outputs are not supported", cquant__node_label(nd), nd->op_type);
  int in[QAT_MAXIN], n_in = 0;
  for (size_t k = 0; k < nd->n_input && k < QAT_MAXIN; k++) {
    if (!*nd->input[k]) { in[n_in++] = -1; continue; }
    int v = cquant__qat_val(q, nd->input[k]);
    if (v < 0) return cquant__node_error(nd, CQUANT_STATUS_BAD_FORMAT, "input '%s' is not computed before the node", nd->input[k]);
    in[n_in++] = alias[v];
  }
  if (nd->n_input > QAT_MAXIN) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "more than %d inputs", QAT_MAXIN);
  while (n_in > 0 && in[n_in - 1] < 0) n_in--;
  for (int k = 0; k < n_in; k++) {
    if (in[k] < 0 && !(op == QOP_CLIP || op == QOP_GEMM || op == QOP_CONV))
      return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "omitted input %d", k);
    if (in[k] >= 0 && q->val[in[k]].is_init && trained_input(op, k, &q->val[in[k]]) && (st = make_param(q, in[k], 0))) return st;
  }
  /* weight fake quantization, with BatchNorm folding simulated for Conv + BN */
  const cquant__ptq_layer_t *L = q->opt.weight_bits && (op == QOP_CONV || op == QOP_GEMM || op == QOP_MATMUL) ? weight_layer(q, nd) : NULL;
  const Onnx__NodeProto *bn = L && op == QOP_CONV ? folded_bn(q, nd) : NULL;
  int sc = -1, bias = -1;
  const char *out_name = nd->output[0];
  if (L) {
    int w = in[1];
    const qat_val_t *wv = &q->val[w];
    int64_t C;
    if (op == QOP_CONV || (op == QOP_GEMM && cquant__attr_int(nd, "transB", 0))) C = wv->shape[0];
    else return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "fake-quantized weights must have the output channel on axis 0 (Gemm transB=1, Conv)");
    if (bn) {
      qat_node_t *s = cquant__qat_new_node(q, QOP_BNSCALE, nd->output[0]);
      int sv = s ? cquant__qat_new_val(q, cquant__qat_str(q, "%s_bnscale", nd->output[0])) : -1;
      if (sv < 0) return oom();
      s = &q->node[q->n_node - 1];
      s->in[0] = cquant__qat_val(q, bn->input[1]), s->in[1] = cquant__qat_val(q, bn->input[4]), s->n_in = 2;
      s->eps = cquant__attr_float(bn, "epsilon", 1e-5f);
      s->out = sc = sv;
      if ((st = make_param(q, s->in[0], 0))) return st;
      qat_node_t *mu = cquant__qat_new_node(q, QOP_CHMUL, nd->output[0]);
      int wf = mu ? cquant__qat_new_val(q, cquant__qat_str(q, "%s_folded", wv->name)) : -1;
      if (wf < 0) return oom();
      mu = &q->node[q->n_node - 1];
      mu->in[0] = w, mu->in[1] = sc, mu->n_in = 2, mu->out = wf;
      w = wf;
    }
    int wq;
    if ((st = add_fq(q, w, 1, C, cquant__node_label(nd), bn ? sc : -1, &wq))) return st;
    in[1] = wq;
    if (bn) {
      if (n_in > 2) bias = in[2];
      n_in = 2;
      out_name = cquant__qat_str(q, "%s_unfolded", nd->output[0]);
    }
  }
  qat_node_t *n = cquant__qat_new_node(q, op, cquant__node_label(nd));
  int y = n ? cquant__qat_new_val(q, out_name) : -1;
  if (y < 0) return oom();
  n = &q->node[q->n_node - 1];
  n->src = nd;
  memcpy(n->in, in, sizeof in);
  n->n_in = n_in;
  n->out = y;
  switch (op) {
    case QOP_CONV:
      if (q->val[in[1]].ndim != 4 && !L) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "the trainer handles 2-D convolutions only");
      st = conv_pool_attrs(q, n, nd, 1);
      break;
    case QOP_MAXPOOL: case QOP_AVGPOOL:
      if (nd->n_output > 1) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "MaxPool indices output");
      st = conv_pool_attrs(q, n, nd, 0);
      break;
    case QOP_GEMM:
      n->transA = (int)cquant__attr_int(nd, "transA", 0), n->transB = (int)cquant__attr_int(nd, "transB", 0);
      n->alpha = cquant__attr_float(nd, "alpha", 1.0f), n->beta = cquant__attr_float(nd, "beta", 1.0f);
      break;
    case QOP_BN:
      n->eps = cquant__attr_float(nd, "epsilon", 1e-5f), n->momentum = cquant__attr_float(nd, "momentum", 0.9f);
      if (n_in != 5) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "BatchNormalization needs 5 inputs");
      for (int k = 1; k < 5; k++)
        if (!q->val[in[k]].is_init) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "BatchNormalization parameters must be initializers");
      break;
    case QOP_LEAKYRELU: n->alpha = cquant__attr_float(nd, "alpha", 0.01f); break;
    case QOP_HARDSIGMOID: n->alpha = cquant__attr_float(nd, "alpha", 0.2f), n->beta = cquant__attr_float(nd, "beta", 0.5f); break;
    case QOP_CLIP: {
      n->fmin = cquant__attr_float(nd, "min", -3.4e38f), n->fmax = cquant__attr_float(nd, "max", 3.4e38f);
      for (int k = 1; k < n_in; k++) {
        if (in[k] < 0) continue;
        if (!q->val[in[k]].is_init || q->val[in[k]].numel != 1) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "Clip bounds must be constant");
        if (k == 1) n->fmin = q->val[in[k]].x[0];
        else n->fmax = q->val[in[k]].x[0];
      }
      n->n_in = 1;
      break;
    }
    case QOP_FLATTEN: n->axis = (int)cquant__attr_int(nd, "axis", 1); break;
    case QOP_SOFTMAX: n->axis = (int)cquant__attr_int(nd, "axis", q->work->opset >= 13 ? -1 : 1); break;
    case QOP_CONCAT: n->axis = (int)cquant__attr_int(nd, "axis", 0); break;
    case QOP_LAYERNORM:
      n->axis = (int)cquant__attr_int(nd, "axis", -1), n->eps = cquant__attr_float(nd, "epsilon", 1e-5f);
      if (nd->n_output > 1) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "LayerNormalization mean/invstd outputs");
      break;
    case QOP_TRANSPOSE: {
      int k;
      for (int i = 0; i < QAT_MAXD; i++) n->perm[i] = -1;
      if ((st = cquant__attr_ints(nd, "perm", n->perm, QAT_MAXD, &k))) return st;
      n->axis = k; /* number of perm entries (-1: reverse) */
      break;
    }
    case QOP_RESHAPE:
      if (n_in < 2 || !q->val[in[1]].cst || q->val[in[1]].cst->dtype != CQUANT_DT_S64)
        return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "Reshape needs a constant int64 shape");
      n->n_in = 1, n->in[1] = in[1];
      n->axis = (int)cquant__attr_int(nd, "allowzero", 0);
      break;
    case QOP_MATMUL:
      if (q->val[in[1]].is_init && q->val[in[1]].ndim != 2) return cquant__node_error(nd, CQUANT_STATUS_UNSUPPORTED, "MatMul weights must be 2-D");
      break;
    default: break;
  }
  if (st) return st;
  /* the exported int32 bias (eq. 28), at any activation width */
  int bq_wfq = -1, bq_sx = -1;
  if (L && q->opt.act_bits) {
    for (int i = 0; i < q->n_node; i++) {
      const qat_node_t *f = &q->node[i];
      if (f->op != QOP_FQ) continue;
      if (f->fq->weight && f->out == in[1]) bq_wfq = i;
    }
    int v = in[0]; /* the input's activation scale: through MaxPool/Flatten/Reshape, which share it */
    for (int i = q->n_node - 1; i >= 0 && v >= 0; i--) {
      const qat_node_t *p = &q->node[i];
      if (p->out != v) continue;
      if (p->op == QOP_FQ && !p->fq->weight) bq_sx = p->in[1];
      if (p->op != QOP_MAXPOOL && p->op != QOP_FLATTEN && p->op != QOP_RESHAPE && p->op != QOP_IDENTITY) break;
      v = p->in[0];
    }
    if (bq_wfq < 0 || bq_sx < 0) bq_wfq = bq_sx = -1;
  }
  n = &q->node[q->n_node - 1];
  if (bq_wfq >= 0 && !bn && n_in > 2 && in[2] >= 0 && q->val[in[2]].is_init)
    n->bq_wfq = bq_wfq, n->bq_sx = bq_sx, n->bq_bias = in[2];
  if (op == QOP_BN && n->in[0] >= 0)
    for (int i = 0; i < q->n_node; i++) /* the BatchNormalization folded into a Conv: its CHDIV node carries the layer */
      if (q->node[i].op == QOP_CHDIV && q->node[i].out == n->in[0] && q->node[i].bq_wfq >= 0) {
        n->bq_wfq = q->node[i].bq_wfq, n->bq_sx = q->node[i].bq_sx, n->bq_bias = q->node[i].n_in > 2 ? q->node[i].in[2] : -1;
        break;
      }
  if (bn) {
    qat_node_t *d = cquant__qat_new_node(q, QOP_CHDIV, cquant__node_label(nd));
    int yv = d ? cquant__qat_new_val(q, nd->output[0]) : -1;
    if (yv < 0) return oom();
    d = &q->node[q->n_node - 1];
    d->in[0] = y, d->in[1] = sc, d->n_in = 2;
    if (bias >= 0) d->in[2] = bias, d->n_in = 3;
    d->out = y = yv;
    d->bq_wfq = bq_wfq, d->bq_sx = bq_sx; /* passed on to the BatchNormalization */
  }
  if (q->opt.act_bits && in_plan(pl, nd->output[0])) {
    int yq;
    if ((st = add_fq(q, y, 0, 1, nd->output[0], -1, &yq))) return st;
    alias[y] = yq;
  }
  return 0;
}
