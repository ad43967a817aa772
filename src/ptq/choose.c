/* Method choice by evaluation and accuracy-driven fallback (include/cquant/ptq.h). Every candidate
 * model is built in memory from the session: nothing is serialised. */
#include <stdlib.h>
#include <string.h>
#include "ptq/ptq_internal.h"

/* Fake-quant (the QDQ model as written) and integer (after the rewrite) top-1 of method m. */
static int evaluate(cquant_ptq_t *p, cquant_calib_method_t m, cquant_data_t *ev, cquant_ptq_method_eval_t *r) {
  cquant_onnx_model_t *qdq, *im = NULL;
  memset(r, 0, sizeof *r);
  r->method = m;
  int st = cquant__ptq_model(p, m, CQUANT_PTQ_QDQ, &qdq);
  if (st) return st;
  if (!(st = cquant_eval_top1(qdq, ev, &r->fake_quant, NULL)) && !(st = cquant_onnx_integerize(qdq, &im, &r->n_integer_ops)))
    st = cquant_eval_top1(im, ev, &r->integer, NULL);
  cquant_onnx_free(im);
  cquant_onnx_free(qdq);
  return st;
}

int cquant_ptq_choose(cquant_ptq_t *p, cquant_data_t *ev, cquant_ptq_result_t *r) {
  if (!p || !ev || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  r->evaluated = 1;
  r->best = -1;
  r->n_methods = 0;
  int st = cquant_eval_top1(p->clean, ev, &r->float_eval, NULL);
  for (int k = 0; k < p->opt.n_order && !st; k++) {
    cquant_ptq_method_eval_t *e = &r->methods[r->n_methods];
    if ((st = evaluate(p, p->opt.order[k], ev, e))) break;
    if (r->best < 0 || e->integer.top1 > r->methods[r->best].integer.top1) r->best = r->n_methods;
    r->n_methods++;
  }
  if (!st && r->best >= 0) {
    r->method = r->methods[r->best].method;
    r->final = r->methods[r->best];
  }
  return st;
}

int cquant_ptq_fallback(cquant_ptq_t *p, cquant_data_t *ev, double max_drop, cquant_ptq_result_t *r) {
  if (!p || !ev || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  if (!r->evaluated || r->best < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: fallback needs an evaluation (cquant_ptq_choose) first");
  r->max_drop = max_drop;
  const double fl = r->float_eval.top1;
  double cur = r->final.integer.top1;
  cquant_ptq_method_eval_t cur_e = r->final;
  int st = 0, kept = 0;
  while (fl - cur > max_drop && kept < p->n_layer && !st) {
    /* the layer whose exclusion helps most */
    int pick = -1;
    cquant_ptq_method_eval_t best_e = {0};
    for (int i = 0; i < p->n_layer && !st; i++) {
      if (p->layer[i].excluded) continue;
      cquant_ptq_method_eval_t e;
      p->layer[i].excluded = 1;
      st = evaluate(p, r->method, ev, &e);
      p->layer[i].excluded = 0;
      if (!st && (pick < 0 || e.integer.top1 > best_e.integer.top1)) pick = i, best_e = e;
    }
    if (st || pick < 0) break;
    p->layer[pick].excluded = 1;
    cquant_ptq_fallback_step_t *steps = realloc(r->fallback, sizeof *steps * (size_t)(r->n_fallback + 1));
    if (!steps) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
    r->fallback = steps;
    steps[r->n_fallback++] = (cquant_ptq_fallback_step_t){p->layer[pick].node, p->layer[pick].op, cur, best_e.integer.top1};
    kept++;
    cur = best_e.integer.top1;
    cur_e = best_e;
  }
  if (!st) r->final = cur_e;
  return st;
}

void cquant_ptq_result_free(cquant_ptq_result_t *r) {
  if (!r) return;
  free(r->fallback);
  cquant_ptq_report_free(r->report);
  cquant_ptq_free(r->session);
  free(r);
}
