/* Internal: the PTQ session shared by the files of src/ptq/ (session, plan, weights, export,
 * choose, report, job). */
#ifndef CQUANT_PTQ_INTERNAL_H
#define CQUANT_PTQ_INTERNAL_H

#include "cquant/ptq.h"
#include "cquant/quantize.h"
#include "graph/graph.h"

typedef struct {
  const char *name; /* owned by the cleaned model */
  cquant_observer_t *obs[CQUANT_CALIB_COUNT];
  int nonfloat;     /* seen with a type other than float32 (index arithmetic): its layers stay float */
  /* bias correction: the sum over every other axis of each channel of axis mean_axis (-1: the last),
   * over mean_n values per channel; mean_bad: the channel count changed between batches */
  /* the range each method gives (cquant_observer_ranges: the MSE and entropy searches are slow and
   * export, report and choice ask for it many times): valid while bit m of range_ok is set, cleared
   * by every new observation */
  float range_lo[CQUANT_CALIB_COUNT], range_hi[CQUANT_CALIB_COUNT];
  unsigned range_ok;
  int want_mean, mean_axis, mean_bad;
  int64_t mean_c, mean_n;
  double *mean_sum;
  /* a per-node override's method (own: its observer, used for every method asked) or Softmax's
   * fixed [0, 1] (eq. 47) */
  cquant_observer_t *own;
  cquant_calib_method_t own_method;
  double own_param;
  int fixed;
} cquant__ptq_act_t;

typedef struct {
  const char *node, *op, *input, *input2, *output, *weight;
  int w_axis;   /* the weights' output-channel axis */
  int64_t groups; /* Conv's group attribute (1 otherwise) */
  int trans_b;    /* Gemm's transB */
  int excluded;
  /* the weight format (the options', or a per-node override's): type, group size (0: per
   * channel), one scale per tensor; overridden: an override named the layer */
  cquant_dtype_t w_dtype;
  int64_t w_group;
  int w_per_tensor, overridden;
  /* the quantized weights, made once (they do not depend on the activation method or on which
   * other layers are excluded) */
  cquant_qparams_t *wqp;
  cquant_array_t wq;
} cquant__ptq_layer_t;

/* What a float rewrite did to one layer (by node name). */
typedef struct {
  char *node;
  int smoothed;
  float alpha, s_min, s_max;
  int64_t channels;
  char *into;
  double ratio_before, ratio_after;
  int equalized;
  char *next;
  double spread_before, spread_after, next_spread_before, next_spread_after;
} cquant__ptq_note_t;

struct cquant_ptq {
  const cquant_onnx_model_t *orig;
  cquant_onnx_model_t *clean;
  cquant_ptq_options_t opt;
  cquant__ptq_act_t *act;
  int n_act;
  cquant__ptq_layer_t *layer;
  int n_layer;
  const char *input;
  /* the float rewrites (src/ptq/smooth.c, equalize.c): state of SmoothQuant's statistics pass (NULL
   * when none is pending) and what each rewrite did, per layer (names copied: the model changes) */
  struct cquant__ptq_smooth *smooth;
  /* the session's own copy of opt.overrides (every build applies it: SmoothQuant builds again) */
  cquant_ptq_overrides_t *overrides;
  cquant__ptq_note_t *note;
  int n_note;
};

/* One planned activation tensor: calibrated (src NULL) or sharing the parameters of src. */
typedef struct {
  const char *t;
  const char *src;
} cquant__ptq_plan_t;

/* src/ptq/eval.c: cquant_eval_top1 that also returns, in a malloc'ed array of r->n bytes, whether
 * each sample's top-1 is its label (*ok NULL on error). */
int cquant__eval_top1_ok(const cquant_onnx_model_t *m, cquant_data_t *d, cquant_eval_result_t *r, uint8_t **ok);
/* src/ptq/choose.c: McNemar's exact two-sided p (docs/calibration.md eq. M2) for n_ab samples only
 * model a gets right and n_ba only b gets right: min(1, 2 P(X <= min(n_ab, n_ba))), X ~ Bin(n_ab +
 * n_ba, 1/2); 1 when n_ab = n_ba. */
double cquant__mcnemar_p(int64_t n_ab, int64_t n_ba);
/* src/ptq/plan.c: what is quantized. quantizable: 1 with weights (index in *w), 2 without (Add,
 * GlobalAveragePool), 0 not. */
int cquant__ptq_quantizable(const cquant__graph_t *g, const Onnx__NodeProto *n, int *w);
int cquant__ptq_feeds_norm(const cquant__graph_t *g, const char *t);
int cquant__ptq_weight_axis(const Onnx__NodeProto *n);
const char *cquant__ptq_fused_output(const cquant__graph_t *g, const Onnx__NodeProto *n);
int cquant__ptq_excluded(const cquant_ptq_t *p, const Onnx__NodeProto *n);
int cquant__ptq_plan_find(const cquant__ptq_plan_t *pl, int n, const char *t);
int cquant__ptq_make_plan(const cquant_ptq_t *p, const cquant__graph_t *g, cquant__ptq_plan_t **out, int *n_out);
/* Layers beyond cquant__ptq_quantizable's, by option: a MatMul of two activations (act_matmul), the
 * ops of quantize_ops and the Gelu pattern (its Erf node stands for it). 1 with the op ("Gelu" for
 * the pattern), the activation inputs and the output; 0: not one. */
typedef struct {
  const char *op, *in[2], *out;
  int n_in;
} cquant__ptq_extra_t;
int cquant__ptq_extra_layer(const cquant_ptq_options_t *o, const cquant__graph_t *g, const Onnx__NodeProto *n, cquant__ptq_extra_t *x);
/* src/ptq/overrides.c: applies o->overrides to p's layers and activations (after they are made);
 * frees nothing. */
int cquant__ptq_apply_overrides(cquant_ptq_t *p, const cquant__graph_t *g);
/* src/ptq/session.c: one float run of p->clean on the inputs, cb(p, tensor, value) seeing every
 * value made; the outputs are dropped */
int cquant__ptq_run_observed(cquant_ptq_t *p, int n, const char *const *names, const cquant_array_t *inputs, cquant_onnx_observe_fn cb);
/* a deep copy of ov (NULL: NULL), for the session to own */
int cquant__ptq_overrides_copy(const cquant_ptq_overrides_t *ov, cquant_ptq_overrides_t **out);

/* src/ptq/weights.c: layer i's quantized weights (cached in the session; q holds one value per
 * byte, of the weight type). check_options: validates the weight and activation formats and
 * settles weight_mse. weight_group: the group size layer i's weights w get (0: per output channel)
 * and the axis their scales run along. weight_format: the type, group size and axis made. */
int cquant__ptq_layer_weights(cquant_ptq_t *p, int i, const cquant_qparams_t **qp, const cquant_array_t **q);
int cquant__ptq_check_options(cquant_ptq_options_t *o);
int64_t cquant__ptq_weight_group(const cquant_ptq_t *p, int i, const cquant_array_t *w, int *axis);
int cquant__ptq_weight_format(cquant_ptq_t *p, int i, cquant_dtype_t *dt, int64_t *group, int *axis);
/* 1 when layers with group size G (0: per channel) get the MSE range, 0 for min-max. */
int cquant__ptq_weight_mse(const cquant_ptq_options_t *o, int64_t G);

/* src/ptq/opset.c: raises the graph's default-domain opset to `to` (19 or 21), rewriting the
 * nodes whose form changed on the way (Reduce* axes, Split, Squeeze/Unsqueeze, RoiAlign,
 * GridSample); INVALID_ARGUMENT naming the first node it cannot rewrite, with `why` (what needs
 * the opset). */
int cquant__ptq_check_opset(cquant_ptq_t *p);
int cquant__ptq_format_check(const cquant_ptq_options_t *o, cquant_ptq_format_t f);
int cquant__ptq_upgrade_opset(cquant__graph_t *g, int64_t to, const char *why);

/* src/ptq/session.c */
/* (Re)makes layers, plan and observers from p->clean, the nodes named in ex[0..n_ex) excluded
 * (strict: INVALID_ARGUMENT for a name that is no layer). */
int cquant__ptq_build(cquant_ptq_t *p, int n_ex, const char *const *ex, int strict);
cquant__ptq_act_t *cquant__ptq_find_act(cquant_ptq_t *p, const char *name);
/* The note of node (made when missing; NULL when out of memory). */
cquant__ptq_note_t *cquant__ptq_note(cquant_ptq_t *p, const char *node);
const cquant__ptq_note_t *cquant__ptq_note_find(const cquant_ptq_t *p, const char *node);

/* src/ptq/smooth.c: SmoothQuant. init finds the groups (an activation and the MatMul/Gemm layers
 * reading it) on p->clean and leaves p->smooth NULL when there are none; free drops the state
 * (cquant_ptq_smooth_observe and _apply, in ptq.h, take the statistics and rewrite p->clean). */
int cquant__ptq_smooth_init(cquant_ptq_t *p);
void cquant__ptq_smooth_free(struct cquant__ptq_smooth *s);

/* src/ptq/equalize.c: cross-layer equalization of p->clean (eq. 44-46), notes per pair. */
int cquant__ptq_equalize(cquant_ptq_t *p);

/* src/ptq/bias_correction.c: layer li's correction delta = (W_q - W) E[x] per output channel (eq. 42;
 * *delta malloc'd, *n its length). 1 (and *delta NULL) when the layer has no statistics (its input
 * was never seen, or its channel count does not match the weight). */
int cquant__ptq_bias_delta(cquant_ptq_t *p, int li, float **delta, int64_t *n);

cquant_dtype_t cquant__ptq_act_dtype(const cquant_ptq_t *p);
unsigned cquant__ptq_act_flags(const cquant_ptq_t *p);
int cquant__ptq_act_range(cquant__ptq_act_t *a, cquant_calib_method_t method, float *lo, float *hi);
int cquant__ptq_layer_index(const cquant_ptq_t *p, const char *node);

/* src/ptq/export.c: the quantized model of method m as a model in memory (QDQ or QLinear; no
 * serialisation); integer: the QDQ model rewritten into cquant's integer operators (channels-last,
 * as cquant_onnx_integerize does). n_int (may be NULL) gets the integer operators made. */
int cquant__ptq_model(cquant_ptq_t *p, cquant_calib_method_t m, cquant_ptq_format_t f, cquant_onnx_model_t **out);

/* src/ptq/report.c: cquant_ptq_report with every model input given (names[i] takes vals[i]);
 * vals[x0], the model's input 0, stands for the batch in the report. */
int cquant__ptq_report_inputs(cquant_ptq_t *p, cquant_calib_method_t m, int n_in, const char *const *names, const cquant_array_t *vals, int x0,
                              const cquant_ptq_result_t *r, cquant_ptq_report_t **out);

#endif
