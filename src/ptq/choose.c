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
 * output SQNR against the float model when ev has no labels; ok (may be NULL): each sample's integer
 * result, right or wrong (malloc'ed), which asks for labels (an error without them). */
static int evaluate(cquant_ptq_t *p, cquant_calib_method_t m, cquant_data_t *ev, cquant_ptq_method_eval_t *r, uint8_t **ok) {
  cquant_onnx_model_t *qdq, *im = NULL;
  memset(r, 0, sizeof *r);
  r->method = m;
  r->mcnemar_p = 1.0;
  int st = cquant__ptq_model(p, m, CQUANT_PTQ_QDQ, &qdq);
  if (st) return st;
  if (!ok && !labelled(ev)) { /* no labels: output SQNR against the float model */
    if (!(st = cquant_eval_sqnr(p->clean, qdq, ev, &r->fake_quant)) && !(st = cquant_onnx_integerize(qdq, &im, &r->n_integer_ops)))
      st = cquant_eval_sqnr(p->clean, im, ev, &r->integer);
  } else if (!(st = cquant_eval_top1(qdq, ev, &r->fake_quant, NULL)) && !(st = cquant_onnx_integerize(qdq, &im, &r->n_integer_ops))) {
    st = ok ? cquant__eval_top1_ok(im, ev, &r->integer, ok) : cquant_eval_top1(im, ev, &r->integer, NULL);
  }
  cquant_onnx_free(im);
  cquant_onnx_free(qdq);
  return st;
}

double cquant__mcnemar_p(int64_t n_ab, int64_t n_ba) {
  const int64_t m = n_ab + n_ba, k = n_ab < n_ba ? n_ab : n_ba;
  if (m == 0 || n_ab == n_ba) return 1.0;
  /* sum_{i <= k} C(m, i) / 2^m, each term from log-gamma (m reaches the number of samples) */
  const double lm = lgamma((double)m + 1) - (double)m * log(2.0);
  double tail = 0;
  for (int64_t i = 0; i <= k; i++) tail += exp(lm - lgamma((double)i + 1) - lgamma((double)(m - i) + 1));
  return tail * 2 < 1 ? tail * 2 : 1.0;
}

/* e's integer output SQNR against the float model on ev, once (the second key of eq. M1). */
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

/* Eq. M1. Without labels: the highest integer SQNR. With labels: the leader L is the highest integer
 * top-1 (the earlier of equals); the methods whose top-1 differs from L's by no more than chance
 * (McNemar's exact p >= CQUANT_PTQ_CHOICE_P against L on the same samples, eq. M2; L itself and any
 * equal top-1 among them) are told apart by their integer output's SQNR against the float model,
 * then by top-1, then by their place in the list. A few thousand samples move a top-1 by single
 * samples, where the model closer to float is the safer choice; a difference the data can tell
 * from chance is kept. */
static int choose_labelled(cquant_ptq_t *p, cquant_data_t *ev, cquant_ptq_result_t *r, uint8_t *const *ok) {
  int lead = 0, st = 0;
  for (int k = 1; k < r->n_methods; k++)
    if (r->methods[k].integer.top1 > r->methods[lead].integer.top1) lead = k;
  const int64_t n = r->methods[lead].integer.n;
  int close[CQUANT_CALIB_COUNT], n_close = 0;
  for (int k = 0; k < r->n_methods; k++) {
    cquant_ptq_method_eval_t *e = &r->methods[k];
    int64_t won = 0, lost = 0;
    if (e->integer.n != n) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: gave %lld and %lld samples on two passes", cquant_data_name(ev),
                                                (long long)e->integer.n, (long long)n);
    for (int64_t i = 0; i < n; i++) won += ok[k][i] && !ok[lead][i], lost += !ok[k][i] && ok[lead][i];
    e->mcnemar_won = won, e->mcnemar_lost = lost, e->mcnemar_p = cquant__mcnemar_p(won, lost);
    if (e->mcnemar_p >= CQUANT_PTQ_CHOICE_P) close[n_close++] = k;
  }
  r->best = lead;
  if (n_close < 2) return 0;
  for (int j = 0; j < n_close && !st; j++) st = tie_sqnr(p, ev, &r->methods[close[j]]);
  if (st) return st;
  r->best = close[0];
  for (int j = 1; j < n_close; j++) {
    const cquant_ptq_method_eval_t *e = &r->methods[close[j]], *b = &r->methods[r->best];
    if (e->tie_sqnr_db > b->tie_sqnr_db || (e->tie_sqnr_db == b->tie_sqnr_db && e->integer.top1 > b->integer.top1)) r->best = close[j];
  }
  return 0;
}

int cquant_ptq_choose(cquant_ptq_t *p, cquant_data_t *ev, cquant_ptq_result_t *r) {
  if (!p || !ev || !r) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  r->evaluated = 1;
  r->best = -1;
  r->n_methods = 0;
  const int sqnr = !labelled(ev);
  uint8_t *ok[CQUANT_CALIB_COUNT] = {0};
  int st = sqnr ? cquant_eval_sqnr(p->clean, p->clean, ev, &r->float_eval) : cquant_eval_top1(p->clean, ev, &r->float_eval, NULL);
  for (int k = 0; k < p->opt.n_order && !st; k++) {
    cquant_ptq_method_eval_t *e = &r->methods[r->n_methods];
    if ((st = evaluate(p, p->opt.order[k], ev, e, sqnr ? NULL : &ok[k]))) break;
    if (sqnr && (r->best < 0 || e->integer.sqnr_db > r->methods[r->best].integer.sqnr_db)) r->best = r->n_methods;
    r->n_methods++;
  }
  if (!st && !sqnr && r->n_methods > 0) st = choose_labelled(p, ev, r, ok);
  for (int k = 0; k < CQUANT_CALIB_COUNT; k++) free(ok[k]);
  if (st) r->best = -1;
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
      st = evaluate(p, r->method, ev, &e, NULL);
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
    st = evaluate(p, r->method, ev, &single[cand[j]], NULL);
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
      st = evaluate(p, r->method, ev, &e, NULL);
      r->n_fallback_evals++;
      if (!st && e.integer.top1 > best.integer.top1) best = e, best_k = n;
      if (!st && fl - e.integer.top1 <= max_drop) hi = n, hi_e = e;
    }
    int lo = 0, steps = 0; /* prefix lo misses the budget, prefix hi meets it */
    while (!st && hi > 0 && hi - lo > 1 && steps < MAX_BISECT) {
      const int mid = lo + (hi - lo) / 2;
      exclude_prefix(p, cand, n, mid);
      st = evaluate(p, r->method, ev, &e, NULL);
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
