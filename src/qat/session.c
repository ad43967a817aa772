/* The QAT session (include/cquant/qat.h): options, the training graph, one step's gradients, range
 * initialization from PTQ calibration, parameters and evaluation. Training: train.c; export:
 * export.c. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "graph/graph.h"
#include "graph/passes.h"
#include "ptq/ptq_internal.h"
#include "qat/qat_internal.h"

void cquant_qat_options_default(cquant_qat_options_t *o) {
  memset(o, 0, sizeof *o);
  o->weight_bits = 8, o->act_bits = 8;
  o->epochs = 1;
  o->lr = 1e-3;
  o->batch = 64;
  o->optimizer = CQUANT_QAT_ADAMW;
  o->momentum = 0.9;
  o->beta1 = 0.9, o->beta2 = 0.999, o->adam_eps = 1e-8;
  o->schedule = CQUANT_QAT_COSINE;
  o->step_epochs = 1, o->step_gamma = 0.1;
  o->freeze_bn_after = -1;
  o->init_method = CQUANT_CALIB_MINMAX;
  o->calib_samples = 2000;
  o->ema_steps = 200, o->ema_decay = 0.99;
  o->progress_every = 50;
}

void cquant_qat_free(cquant_qat_t *q) {
  if (!q) return;
  for (int i = 0; i < q->n_val; i++) free(q->val[i].x), free(q->val[i].g);
  for (int i = 0; i < q->n_node; i++) {
    free(q->node[i].buf), free(q->node[i].idx), free(q->node[i].bq), free(q->node[i].bqi);
    if (q->node[i].fq) free(q->node[i].fq->ratio), free(q->node[i].fq);
  }
  for (int i = 0; i < q->n_par; i++) free(q->par[i].m), free(q->par[i].v);
  for (int i = 0; i < q->n_strs; i++) free(q->strs[i]);
  free(q->strs), free(q->val), free(q->node), free(q->par), free(q->scratch);
  cquant_ptq_free(q->ptq);
  cquant_onnx_free(q->work);
  free(q);
}

static int check_options(const cquant_qat_options_t *o) {
  if (o->weight_bits && (o->weight_bits < 2 || o->weight_bits > 8))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: weights of %d bits (2..8, or 0 for float)", o->weight_bits);
  if (o->act_bits && (o->act_bits < 4 || o->act_bits > 8))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: activations of %d bits (4..8, or 0 for float)", o->act_bits);
  if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || o->momentum < 0 || o->weight_decay < 0 || o->label_smoothing < 0 || o->label_smoothing >= 1 ||
      (unsigned)o->init_method >= CQUANT_CALIB_COUNT || (unsigned)o->weight_clip > CQUANT_QAT_CLIP_MSE || o->ema_decay < 0 || o->ema_decay >= 1)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: bad option (epochs, batch and lr > 0; 0 <= label smoothing < 1)");
  return 0;
}

void cquant__qat_threads(int t) {
  if (t <= 0) return;
  cquant_set_num_threads(t);
  omp_set_num_threads(t);
  /* OpenBLAS's own thread count: cquant__par_blas_enter / _wide (conv_par.h) per call */
}

int cquant_qat_create(const cquant_onnx_model_t *m, const cquant_qat_options_t *o, cquant_qat_t **out) {
  if (!m || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  *out = NULL;
  cquant_qat_options_t opt;
  if (o) opt = *o;
  else cquant_qat_options_default(&opt);
  int st = check_options(&opt);
  if (st) return st;
  if (cquant_onnx_num_inputs(m) != 1) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "qat: the model has %d inputs; one is supported", cquant_onnx_num_inputs(m));
  cquant_qat_t *q = calloc(1, sizeof *q);
  if (!q) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  q->orig = m;
  q->opt = opt;
  cquant__qat_threads(opt.threads);
  /* the model trained: constants folded, Identity/Dropout gone, BatchNorm kept */
  cquant__graph_t g;
  int n_fold;
  if (!(st = cquant__graph_from_model(m, &g)) && !(st = cquant__pass_fold_constants(&g, &n_fold)) && !(st = cquant__pass_remove_identities(&g, &n_fold)))
    st = cquant__graph_load(&g, &q->work);
  cquant__graph_free(&g);
  /* the placement and the calibration: a PTQ session over the same model */
  cquant_ptq_options_t po;
  cquant_ptq_options_default(&po);
  po.methods = 1u << opt.init_method;
  if (!st) st = cquant_ptq_create(m, &po, &q->ptq);
  if (!st) st = cquant__qat_build(q);
  for (int i = 0; i < q->n_par && !st; i++) {
    const int64_t n = q->val[q->par[i].val].numel + 1;
    q->par[i].m = calloc((size_t)n, sizeof(float));
    q->par[i].v = calloc((size_t)n, sizeof(float));
    if (!q->par[i].m || !q->par[i].v) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  }
  if (st) {
    cquant_qat_free(q);
    return st;
  }
  *out = q;
  return 0;
}

int cquant_qat_num_params(const cquant_qat_t *q) { return q ? q->n_par : 0; }

int cquant_qat_param(cquant_qat_t *q, int i, const char **name, float **value, float **grad, int64_t *numel) {
  if (!q || i < 0 || i >= q->n_par) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: parameter %d out of range", i);
  qat_val_t *v = &q->val[q->par[i].val];
  if (name) *name = v->name;
  if (value) *value = v->x;
  if (grad) *grad = v->g;
  if (numel) *numel = v->numel;
  return 0;
}

int cquant_qat_value(cquant_qat_t *q, const char *name, const float **value, int64_t *numel) {
  if (!q || !name || !value || !numel) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  for (int i = 0; i < q->n_val; i++)
    if (q->val[i].name && !strcmp(q->val[i].name, name) && q->val[i].x) {
      *value = q->val[i].x, *numel = q->val[i].numel;
      return 0;
    }
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: the trained graph has no value '%s'", name);
}

static int set_input(cquant_qat_t *q, const cquant_array_t *x) {
  if (!x || x->dtype != CQUANT_DT_F32 || x->ndim < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: the batch must be a float32 array");
  int st = cquant_data_check_shape(q->work, x, "qat batch");
  if (st) return st;
  if ((st = cquant__qat_resize(q, q->input, x->ndim, x->shape))) return st;
  memcpy(q->val[q->input].x, x->data, sizeof(float) * (size_t)x->numel);
  return 0;
}

static int check_output(cquant_qat_t *q, int64_t N) {
  const qat_val_t *y = &q->val[q->output];
  if (y->ndim != 2 || y->shape[0] != N)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "qat: the output '%s' must be N x classes scores (rank %d)", y->name, y->ndim);
  q->classes = y->shape[1];
  return 0;
}

int cquant_qat_step_grad(cquant_qat_t *q, const cquant_array_t *x, const int64_t *labels, int training, double *loss, int64_t *correct) {
  if (!q || !x || !labels || !loss) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  int st;
  if ((st = set_input(q, x)) || (st = cquant__qat_forward(q, training)) || (st = check_output(q, x->shape[0]))) return st;
  qat_val_t *y = &q->val[q->output];
  if (y->numel > y->gcap) {
    free(y->g);
    y->g = malloc(sizeof(float) * (size_t)(y->numel ? y->numel : 1));
    y->gcap = y->g ? y->numel : 0;
    if (!y->g) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  }
  if ((st = cquant__qat_loss(y->x, y->shape[0], y->shape[1], labels, q->opt.label_smoothing, y->g, loss, correct))) return st;
  return cquant__qat_backward(q);
}

int cquant_qat_forward(cquant_qat_t *q, const cquant_array_t *x, cquant_array_t *out) {
  if (!q || !x || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  int st;
  if ((st = set_input(q, x)) || (st = cquant__qat_forward(q, 0)) || (st = check_output(q, x->shape[0]))) return st;
  const qat_val_t *y = &q->val[q->output];
  if ((st = cquant_array_alloc(out, CQUANT_DT_F32, y->ndim, y->shape))) return st;
  memcpy(out->data, y->x, sizeof(float) * (size_t)y->numel);
  return 0;
}

int cquant_qat_init_ranges(cquant_qat_t *q, cquant_data_t *d) {
  if (!q || !d) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  int st = cquant_data_rewind(d);
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first, seen = 0;
  while (!st && seen < q->opt.calib_samples && (st = cquant_data_next(d, &x, &labels, &first)) == 1) {
    if ((st = cquant_ptq_calibrate(q->ptq, x))) break;
    seen += x->shape[0];
  }
  if (st < 0) return st;
  if (!seen) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: '%s' is empty", cquant_data_name(d));
  for (int i = 0; i < q->n_node; i++) {
    qat_node_t *n = &q->node[i];
    if (n->op != QOP_FQ || n->fq->weight) continue;
    float lo, hi;
    if ((st = cquant_ptq_act_qparams(q->ptq, q->val[n->in[0]].name, q->opt.init_method, &lo, &hi, NULL, NULL))) return st;
    n->fq->lo = lo, n->fq->hi = hi;
    cquant__qat_range_qparams(lo, hi, n->fq->qmax, q->val[n->in[1]].x, q->val[n->in[2]].x);
    n->fq->initialized = 1;
  }
  q->ranges_set = 1;
  return cquant_data_rewind(d);
}

int cquant_qat_evaluate(cquant_qat_t *q, cquant_data_t *d, cquant_eval_result_t *r, int32_t *pred) {
  if (!q || !d || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  memset(r, 0, sizeof *r);
  int st = cquant_data_rewind(d);
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first;
  while (!st && (st = cquant_data_next(d, &x, &labels, &first)) == 1) {
    if (!labels) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: '%s' has no labels", cquant_data_name(d));
    if ((st = set_input(q, x)) || (st = cquant__qat_forward(q, 0)) || (st = check_output(q, x->shape[0]))) return st;
    const qat_val_t *y = &q->val[q->output];
    for (int64_t i = 0; i < y->shape[0]; i++) {
      int64_t arg = 0;
      for (int64_t c = 1; c < y->shape[1]; c++)
        if (y->x[i * y->shape[1] + c] > y->x[i * y->shape[1] + arg]) arg = c;
      r->correct += arg == labels[i];
      if (pred) pred[first + i] = (int32_t)arg;
    }
    r->n += y->shape[0];
  }
  if (st < 0) return st;
  r->top1 = r->n ? 100.0 * (double)r->correct / (double)r->n : 0;
  return 0;
}
