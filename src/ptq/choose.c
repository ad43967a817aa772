/* Method choice by evaluation and accuracy-driven fallback (include/cquant/ptq.h; the fallback's
 * sensitivity ranking and bisection: docs/calibration.md, eq. F1-F3). Every candidate model is
 * built in memory from the session: nothing is serialised. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ptq/ptq_internal.h"

/* Whether ev has labels (some sources know only after their first batch is read). */
static int labelled(cquant_data_t *ev) {
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first;
  if (!cquant_data_rewind(ev)) (void)cquant_data_next(ev, &x, &labels, &first);
  return cquant_data_has_labels(ev);
}

/* Fake-quant (the QDQ model as written) and integer (after the rewrite) top-1 of method m, or their
 * output SQNR against the float model when ev has no labels. */
static int evaluate(cquant_ptq_t *p, cquant_calib_method_t m, cquant_data_t *ev, cquant_ptq_method_eval_t *r) {
  cquant_onnx_model_t *qdq, *im = NULL;
  memset(r, 0, sizeof *r);
  r->method = m;
  int st = cquant__ptq_model(p, m, CQUANT_PTQ_QDQ, &qdq);
  if (st) return st;
  if (!labelled(ev)) { /* no labels: output SQNR against the float model */
    if (!(st = cquant_eval_sqnr(p->clean, qdq, ev, &r->fake_quant)) && !(st = cquant_onnx_integerize(qdq, &im, &r->n_integer_ops)))
      st = cquant_eval_sqnr(p->clean, im, ev, &r->integer);
  } else if (!(st = cquant_eval_top1(qdq, ev, &r->fake_quant, NULL)) && !(st = cquant_onnx_integerize(qdq, &im, &r->n_integer_ops)))
    st = cquant_eval_top1(im, ev, &r->integer, NULL);
  cquant_onnx_free(im);
  cquant_onnx_free(qdq);
  return st;
}

/* e's integer output SQNR against the float model on ev, once (the tie-break of eq. M1). */
static int tie_sqnr(cquant_ptq_t *p, cquant_data_t *ev, cquant_ptq_method_eval_t *e) {
  if (e->tie_measured) return 0;
  cquant_onnx_model_t *qdq, *im = NULL;
  cquant_eval_result_t s;
  int n_int, st = cquant__ptq_model(p, e->method, CQUANT_PTQ_QDQ, &qdq);
  if (st) return st;
  if (!(st = cquant_onnx_integerize(qdq, &im, &n_int)) && !(st = cquant_eval_sqnr(p->clean, im, ev, &s)))
    e->tie_measured = 1, e->tie_sqnr_db = s.sqnr_db;
  cquant_onnx_free(im);
  cquant_onnx_free(qdq);
  return st;
}

/* Whether candidate e beats the best so far, b (eq. M1): the higher metric; on labelled data, equal
 * top-1s by the higher integer SQNR against float (on a few thousand samples, top-1s tie often and
 * differ by a handful of samples, where the closer model to float is the safer choice); then b. */
static int beats(cquant_ptq_t *p, cquant_data_t *ev, int sqnr, cquant_ptq_method_eval_t *e, cquant_ptq_method_eval_t *b, int *st) {
  if (sqnr) return e->integer.sqnr_db > b->integer.sqnr_db;
  if (e->integer.top1 != b->integer.top1) return e->integer.top1 > b->integer.top1;
  if ((*st = tie_sqnr(p, ev, b)) || (*st = tie_sqnr(p, ev, e))) return 0;
  return e->tie_sqnr_db > b->tie_sqnr_db;
}

int cquant_ptq_choose(cquant_ptq_t *p, cquant_data_t *ev, cquant_ptq_result_t *r) {
  if (!p || !ev || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  r->evaluated = 1;
  r->best = -1;
  r->n_methods = 0;
  const int sqnr = !labelled(ev);
  int st = sqnr ? cquant_eval_sqnr(p->clean, p->clean, ev, &r->float_eval) : cquant_eval_top1(p->clean, ev, &r->float_eval, NULL);
  for (int k = 0; k < p->opt.n_order && !st; k++) {
    cquant_ptq_method_eval_t *e = &r->methods[r->n_methods];
    if ((st = evaluate(p, p->opt.order[k], ev, e))) break;
    if (r->best < 0 || beats(p, ev, sqnr, e, &r->methods[r->best], &st)) r->best = r->n_methods;
    if (st) break;
    r->n_methods++;
  }
  if (!st && r->best >= 0) {
    r->method = r->methods[r->best].method;
    r->final = r->methods[r->best];
  }
  return st;
}

/* Shared start of both fallbacks: checks, and the result's fallback fields reset. */
static int fallback_begin(cquant_ptq_t *p, cquant_data_t *ev, double max_drop, cquant_ptq_result_t *r) {
  if (!p || !ev || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  if (!r->evaluated || r->best < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: fallback needs an evaluation (cquant_ptq_choose) first");
  if (!(max_drop >= 0)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: max_drop must be a number of points >= 0");
  if (r->float_eval.metric_sqnr) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: max_drop needs labelled evaluation data (top-1 points)");
  r->max_drop = max_drop;
  r->n_fallback = 0;
  r->n_fallback_evals = 0;
  r->fallback_base_top1 = r->final.integer.top1;
  r->fallback_met = r->float_eval.top1 - r->final.integer.top1 <= max_drop;
  free(r->sensitivity), r->sensitivity = NULL;
  free(r->sensitivity_rank), r->sensitivity_rank = NULL;
  return 0;
}

static int add_step(cquant_ptq_result_t *r, const cquant__ptq_layer_t *ly, double before, double after) {
  cquant_ptq_fallback_step_t *steps = realloc(r->fallback, sizeof *steps * (size_t)(r->n_fallback + 1));
  if (!steps) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  r->fallback = steps;
  steps[r->n_fallback++] = (cquant_ptq_fallback_step_t){ly->node, ly->op, before, after};
  return 0;
}

int cquant_ptq_fallback_greedy(cquant_ptq_t *p, cquant_data_t *ev, double max_drop, cquant_ptq_result_t *r) {
  int st = fallback_begin(p, ev, max_drop, r);
  if (st) return st;
  const double fl = r->float_eval.top1;
  double cur = r->final.integer.top1;
  cquant_ptq_method_eval_t cur_e = r->final;
  while (fl - cur > max_drop && !st) {
    /* the layer whose exclusion helps most */
    int pick = -1;
    cquant_ptq_method_eval_t best_e = {0};
    for (int i = 0; i < p->n_layer && !st; i++) {
      if (p->layer[i].excluded) continue;
      cquant_ptq_method_eval_t e;
      p->layer[i].excluded = 1;
      st = evaluate(p, r->method, ev, &e);
      p->layer[i].excluded = 0;
      r->n_fallback_evals++;
      if (!st && (pick < 0 || e.integer.top1 > best_e.integer.top1)) pick = i, best_e = e;
    }
    if (st || pick < 0) break;
    p->layer[pick].excluded = 1;
    if ((st = add_step(r, &p->layer[pick], cur, best_e.integer.top1))) break;
    cur = best_e.integer.top1;
    cur_e = best_e;
  }
  if (!st) r->final = cur_e, r->fallback_met = fl - cur <= max_drop;
  return st;
}

/* Candidate indices ordered by sensitivity: the lowest top-1 with only that layer quantized first;
 * ties keep graph order (eq. F2). */
static const double *rank_key;
static int by_sensitivity(const void *a, const void *b) {
  const int i = *(const int *)a, j = *(const int *)b;
  if (rank_key[i] != rank_key[j]) return rank_key[i] < rank_key[j] ? -1 : 1;
  return (i > j) - (i < j);
}

/* Keeps the first k layers of the ranking in float (and only those of the candidates). */
static void exclude_prefix(cquant_ptq_t *p, const int *cand, int n, int k) {
  for (int j = 0; j < n; j++) p->layer[cand[j]].excluded = j < k;
}

/* The search of eq. F3 bisects at most this often, so that L sensitivity evaluations, at most one
 * more for the whole ranking and the bisection stay within L + 10. */
#define MAX_BISECT 9

int cquant_ptq_fallback(cquant_ptq_t *p, cquant_data_t *ev, double max_drop, cquant_ptq_result_t *r) {
  int st = fallback_begin(p, ev, max_drop, r);
  if (st) return st;
  const double fl = r->float_eval.top1;
  if (r->fallback_met) return 0;
  const int L = p->n_layer;
  int *cand = malloc(sizeof *cand * ((size_t)L + 1));
  r->sensitivity = malloc(sizeof *r->sensitivity * ((size_t)L + 1));
  r->sensitivity_rank = malloc(sizeof *r->sensitivity_rank * ((size_t)L + 1));
  cquant_ptq_method_eval_t *single = malloc(sizeof *single * ((size_t)L + 1));
  if (!cand || !r->sensitivity || !r->sensitivity_rank || !single) {
    free(cand), free(single);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  int n = 0;
  for (int i = 0; i < L; i++) {
    r->sensitivity[i] = NAN;
    r->sensitivity_rank[i] = -1;
    if (!p->layer[i].excluded) cand[n++] = i; /* the user's exclusions stay as they are */
  }
  /* eq. F1: one evaluation per candidate layer, that layer alone quantized */
  for (int j = 0; j < n && !st; j++) {
    for (int t = 0; t < n; t++) p->layer[cand[t]].excluded = t != j;
    st = evaluate(p, r->method, ev, &single[cand[j]]);
    r->n_fallback_evals++;
    if (!st) r->sensitivity[cand[j]] = single[cand[j]].integer.top1;
  }
  exclude_prefix(p, cand, n, 0);
  if (!st && n) {
    /* eq. F2: the ranking */
    rank_key = r->sensitivity;
    qsort(cand, (size_t)n, sizeof *cand, by_sensitivity);
    for (int j = 0; j < n; j++) r->sensitivity_rank[cand[j]] = j;
    /* eq. F3: the fewest k whose prefix meets the budget. With n >= 2 the prefix n - 1 was measured
     * by eq. F1 (only the last of the ranking quantized); else the whole ranking is evaluated. */
    cquant_ptq_method_eval_t best = r->final, hi_e, e;
    int best_k = 0, hi = -1;
    if (n >= 2 && fl - single[cand[n - 1]].integer.top1 <= max_drop) hi = n - 1, hi_e = single[cand[n - 1]];
    else {
      if (n >= 2 && single[cand[n - 1]].integer.top1 > best.integer.top1) best = single[cand[n - 1]], best_k = n - 1;
      exclude_prefix(p, cand, n, n);
      st = evaluate(p, r->method, ev, &e);
      r->n_fallback_evals++;
      if (!st && e.integer.top1 > best.integer.top1) best = e, best_k = n;
      if (!st && fl - e.integer.top1 <= max_drop) hi = n, hi_e = e;
    }
    int lo = 0, steps = 0; /* prefix lo misses the budget, prefix hi meets it */
    while (!st && hi > 0 && hi - lo > 1 && steps < MAX_BISECT) {
      const int mid = lo + (hi - lo) / 2;
      exclude_prefix(p, cand, n, mid);
      st = evaluate(p, r->method, ev, &e);
      r->n_fallback_evals++, steps++;
      if (st) break;
      if (fl - e.integer.top1 <= max_drop) hi = mid, hi_e = e;
      else lo = mid;
    }
    if (!st) {
      r->fallback_met = hi > 0;
      const int k = hi > 0 ? hi : best_k;
      exclude_prefix(p, cand, n, k);
      r->final = hi > 0 ? hi_e : best;
      for (int j = 0; j < k && !st; j++) st = add_step(r, &p->layer[cand[j]], r->fallback_base_top1, r->sensitivity[cand[j]]);
    }
  }
  if (st) exclude_prefix(p, cand, n, 0);
  free(cand);
  free(single);
  return st;
}

void cquant_ptq_result_free(cquant_ptq_result_t *r) {
  if (!r) return;
  free(r->fallback);
  free(r->sensitivity);
  free(r->sensitivity_rank);
  cquant_ptq_report_free(r->report);
  cquant_ptq_free(r->session);
  free(r);
}
