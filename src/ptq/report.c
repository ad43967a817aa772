/* The per-layer report (include/cquant/ptq.h): weight error, activation parameters and their error
 * split into clipping and rounding (eq. 19-20), the SQNR of the quantized model at each layer's
 * output, and the fallback's sensitivity of each layer (docs/calibration.md, eq. F1; reused, not
 * measured again); as a struct, as JSON, and as SVG plots. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cquant/io.h"
#include "ptq/ptq_internal.h"

/* Copies of the float32 values named names[i] computed by one run of m on x (graph outputs
 * included). */
typedef struct {
  int n;
  const char **names;
  cquant_array_t *a;
} capture_t;

static int capture_cb(void *user, const char *name, const cquant_array_t *v) {
  capture_t *c = user;
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->names[i], name) && !c->a[i].data && v->dtype == CQUANT_DT_F32) {
      int st = cquant_array_alloc(&c->a[i], v->dtype, v->ndim, v->shape);
      if (st) return st;
      memcpy(c->a[i].data, v->data, v->nbytes);
    }
  return 0;
}

/* The feeds of the report's runs: names[i] takes vals[i]. */
typedef struct {
  int n;
  const char *const *names;
  const cquant_array_t *vals;
} feeds_t;

static int run_capture(const cquant_onnx_model_t *m, const feeds_t *f, capture_t *c) {
  const int n_out = cquant_onnx_num_outputs(m);
  cquant_array_t *out = calloc((size_t)n_out + 1, sizeof *out);
  if (!out) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "report: out of memory");
  int st = cquant_onnx_run_observed(m, f->n, f->names, f->vals, out, capture_cb, c);
  for (int o = 0; o < n_out && !st; o++) {
    for (int i = 0; i < c->n; i++) /* graph outputs are handed over, not observed twice */
      if (!c->a[i].data && !strcmp(c->names[i], cquant_onnx_output_name(m, o))) {
        c->a[i] = out[o];
        memset(&out[o], 0, sizeof out[o]);
      }
  }
  for (int o = 0; o < n_out; o++) cquant_array_free(&out[o]);
  free(out);
  return st;
}

static void capture_free(capture_t *c) {
  for (int i = 0; c->a && i < c->n; i++) cquant_array_free(&c->a[i]);
  free(c->a);
}

/* The parameters method m gives tensor t and the error of quantizing x with them. 0 when t is
 * observed. */
static int act_report(cquant_ptq_t *p, const char *t, cquant_calib_method_t m, const cquant_array_t *x, cquant_ptq_act_report_t *r) {
  cquant_error_accum_t acc;
  cquant_error_report_t e;
  cquant_error_accum_init(&acc);
  int st = cquant_ptq_act_qparams(p, t, m, &r->min, &r->max, &r->scale, &r->zero_point);
  if (!st) st = cquant_ptq_act_error(p, t, m, x, &acc);
  if (st) return st;
  cquant_error_accum_report(&acc, &e);
  r->name = t;
  r->sqnr_db = e.sqnr_db, r->clip_mse = e.clip_mse, r->round_mse = e.round_mse, r->clipped_share = e.clipped_share;
  return 0;
}

void cquant_ptq_report_free(cquant_ptq_report_t *rep) {
  if (!rep) return;
  free(rep->layers);
  free(rep);
}

int cquant_ptq_report(cquant_ptq_t *p, cquant_calib_method_t m, const cquant_array_t *x, const cquant_ptq_result_t *r,
                      cquant_ptq_report_t **out) {
  if (!p || !x || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq report: NULL argument");
  return cquant__ptq_report_inputs(p, m, 1, &p->input, x, 0, r, out);
}

int cquant__ptq_report_inputs(cquant_ptq_t *p, cquant_calib_method_t m, int n_in, const char *const *names, const cquant_array_t *vals, int x0,
                              const cquant_ptq_result_t *r, cquant_ptq_report_t **out) {
  const cquant_array_t *x = &vals[x0];
  const feeds_t feeds = {n_in, names, vals};
  *out = NULL;
  const int L = p->n_layer;
  cquant_ptq_report_t *rep = calloc(1, sizeof *rep);
  capture_t cf = {L, NULL, NULL}, cq = {L, NULL, NULL};
  const char **qn = calloc((size_t)L + 1, sizeof *qn);
  cquant_onnx_model_t *qdq = NULL;
  int st = 0;
  if (rep) rep->layers = calloc((size_t)L + 1, sizeof *rep->layers);
  cf.names = calloc((size_t)L + 1, sizeof(char *));
  cq.names = qn;
  cf.a = calloc((size_t)L + 1, sizeof(cquant_array_t));
  cq.a = calloc((size_t)L + 1, sizeof(cquant_array_t));
  if (!rep || !rep->layers || !qn || !cf.names || !cf.a || !cq.a) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq report: out of memory");
  if (!st) st = cquant__ptq_model(p, m, CQUANT_PTQ_QDQ, &qdq);
  cquant__graph_t scratch = {0}; /* names of the dequantized layer outputs */
  for (int i = 0; i < L && !st; i++) {
    cf.names[i] = p->layer[i].output;
    if (!(qn[i] = cquant__graph_str(&scratch, "%s_dequantized", p->layer[i].output))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  if (!st) st = run_capture(p->clean, &feeds, &cf);
  if (!st) st = run_capture(qdq, &feeds, &cq);
  if (!st) {
    rep->method = m;
    rep->samples = x->ndim ? x->shape[0] : 1;
    rep->n_layers = L;
    if (r && r->evaluated && r->best >= 0) {
      rep->has_top1 = 1;
      rep->float_top1 = r->float_eval.top1;
      rep->fake_quant_top1 = r->final.fake_quant.top1;
      rep->integer_top1 = r->final.integer.top1;
    }
    rep->act_type = p->opt.act == CQUANT_PTQ_ACT_NONE     ? "float"
                    : p->opt.act == CQUANT_PTQ_ACT_FP8E4M3 ? "float8e4m3fn"
                    : p->opt.symmetric_act                 ? "int8"
                                                           : "uint8";
    rep->has_input = p->opt.act != CQUANT_PTQ_ACT_NONE && !act_report(p, p->input, m, x, &rep->input);
  }
  for (int i = 0; i < L && !st; i++) {
    const cquant__ptq_layer_t *ly = &p->layer[i];
    cquant_ptq_layer_report_t *o = &rep->layers[i];
    o->node = ly->node, o->op = ly->op, o->output = ly->output, o->excluded = ly->excluded;
    if (ly->weight) {
      cquant_error_report_t wr;
      if (!cquant_ptq_weight_error(p, i, &wr, &o->w_scale_min, &o->w_scale_max)) {
        o->has_weights = 1;
        o->w_sqnr_db = wr.sqnr_db, o->w_clip_mse = wr.clip_mse, o->w_round_mse = wr.round_mse;
        if (!cquant__ptq_weight_format(p, i, &o->w_dtype, &o->w_group, &o->w_axis)) o->w_bits = cquant_dtype_info(o->w_dtype)->bits;
      }
    }
    const cquant__ptq_note_t *nt = cquant__ptq_note_find(p, ly->node);
    if (nt && nt->smoothed) {
      o->smoothed = 1, o->smooth_alpha = nt->alpha, o->smooth_min = nt->s_min, o->smooth_max = nt->s_max, o->smooth_channels = nt->channels;
      o->smooth_into = nt->into, o->smooth_ratio_before = nt->ratio_before, o->smooth_ratio_after = nt->ratio_after;
    }
    if (nt && nt->equalized) {
      o->equalized = 1, o->cle_next = nt->next;
      o->cle_spread_before = nt->spread_before, o->cle_spread_after = nt->spread_after;
      o->cle_next_spread_before = nt->next_spread_before, o->cle_next_spread_after = nt->next_spread_after;
    }
    if (p->opt.bias_correction && ly->weight && !ly->excluded) { /* eq. 43: the norm of what the bias absorbs */
      float *d = NULL;
      int64_t nd = 0;
      const int bs = cquant__ptq_bias_delta(p, i, &d, &nd);
      if (bs < 0) st = bs;
      if (d) {
        double s2 = 0;
        for (int64_t k = 0; k < nd; k++) s2 += (double)d[k] * d[k];
        o->has_bias_correction = 1, o->bias_correction_norm = sqrt(s2);
      }
      free(d);
    }
    if (cf.a[i].data && p->opt.act != CQUANT_PTQ_ACT_NONE) o->has_act = !act_report(p, ly->output, m, &cf.a[i], &o->act);
    o->overridden = ly->overridden, o->w_per_tensor = ly->weight && ly->w_per_tensor, o->act_param = NAN;
    for (int k = 0; k < p->n_act && o->has_act; k++) /* the method the output's range came from */
      if (!strcmp(p->act[k].name, ly->output)) {
        const cquant__ptq_act_t *a = &p->act[k];
        o->act_method = a->fixed ? "fixed" : cquant_calib_method_name(a->own ? a->own_method : m);
        o->act_param = a->fixed ? NAN : a->own ? a->own_param : m == CQUANT_CALIB_PERCENTILE ? p->opt.percentile : NAN;
        break;
      }
    if (!cq.a[i].data) { /* a graph output stays float: compare under its own name */
      const char *name = ly->output;
      capture_t one = {1, &name, &cq.a[i]};
      run_capture(qdq, &feeds, &one);
    }
    if (r && r->sensitivity && r->sensitivity_rank && r->sensitivity_rank[i] >= 0) { /* measured by the fallback (eq. F1) */
      o->has_sensitivity = 1;
      o->sensitivity_top1 = r->sensitivity[i];
      o->sensitivity_drop = r->float_eval.top1 - r->sensitivity[i];
      o->sensitivity_rank = r->sensitivity_rank[i];
    }
    const cquant_array_t *q = &cq.a[i];
    cquant_error_report_t er;
    if (q->data && cf.a[i].data && q->numel == cf.a[i].numel && !cquant_error_report(cf.a[i].data, q->data, (size_t)q->numel, NULL, &er)) {
      o->has_output_sqnr = 1;
      o->output_sqnr_db = er.sqnr_db;
    }
  }
  cquant__graph_free(&scratch);
  capture_free(&cf);
  capture_free(&cq);
  free(cf.names);
  free(qn);
  cquant_onnx_free(qdq);
  if (st) {
    cquant_ptq_report_free(rep);
    return st;
  }
  *out = rep;
  return 0;
}

/* Number fields in the order given. */
static void add_numbers(cJSON *o, const char *const *keys, const double *v, int n) {
  for (int i = 0; i < n; i++) cJSON_AddNumberToObject(o, keys[i], v[i]);
}

static void act_json(cJSON *o, const cquant_ptq_act_report_t *a) {
  static const char *const keys[] = {"min", "max", "scale", "zero_point", "sqnr_db", "clip_mse", "round_mse"};
  const double v[] = {a->min, a->max, a->scale, a->zero_point, a->sqnr_db, a->clip_mse, a->round_mse};
  add_numbers(o, keys, v, 7);
}

int cquant_ptq_report_json(const cquant_ptq_report_t *rep, char **json) {
  if (!rep || !json) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq report: NULL argument");
  cJSON *root = cJSON_CreateObject(), *layers = cJSON_AddArrayToObject(root, "layers");
  cJSON_AddStringToObject(root, "method", cquant_calib_method_name(rep->method));
  if (rep->act_type) cJSON_AddStringToObject(root, "activations", rep->act_type);
  if (rep->has_top1) {
    cJSON_AddNumberToObject(root, "float_top1", rep->float_top1);
    cJSON_AddNumberToObject(root, "fake_quant_top1", rep->fake_quant_top1);
    cJSON_AddNumberToObject(root, "integer_top1", rep->integer_top1);
  }
  if (rep->has_input) {
    cJSON *o = cJSON_AddObjectToObject(root, "input");
    cJSON_AddStringToObject(o, "name", rep->input.name);
    act_json(o, &rep->input);
  }
  for (int i = 0; i < rep->n_layers; i++) {
    const cquant_ptq_layer_report_t *l = &rep->layers[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(layers, o);
    cJSON_AddStringToObject(o, "node", l->node);
    cJSON_AddStringToObject(o, "op", l->op);
    cJSON_AddStringToObject(o, "output", l->output);
    cJSON_AddBoolToObject(o, "excluded", l->excluded);
    if (l->overridden) cJSON_AddBoolToObject(o, "override", 1);
    if (l->has_weights) {
      static const char *const keys[] = {"sqnr_db", "scale_min", "scale_max", "clip_mse", "round_mse"};
      const double v[] = {l->w_sqnr_db, l->w_scale_min, l->w_scale_max, l->w_clip_mse, l->w_round_mse};
      cJSON *w = cJSON_AddObjectToObject(o, "weights");
      add_numbers(w, keys, v, 5);
      const cquant_dtype_info_t *wi = cquant_dtype_info(l->w_dtype);
      cJSON_AddStringToObject(w, "dtype", wi ? wi->name : "?");
      cJSON_AddNumberToObject(w, "bits", l->w_bits);
      cJSON_AddStringToObject(w, "granularity", l->w_group ? "group" : l->w_per_tensor ? "tensor" : "channel");
      cJSON_AddNumberToObject(w, "group_size", (double)l->w_group);
      cJSON_AddNumberToObject(w, "axis", l->w_axis);
    }
    if (l->has_act) {
      cJSON *a = cJSON_AddObjectToObject(o, "activation");
      act_json(a, &l->act);
      cJSON_AddNumberToObject(a, "clipped_share", l->act.clipped_share);
      if (l->act_method) cJSON_AddStringToObject(a, "method", l->act_method);
      if (!isnan(l->act_param)) cJSON_AddNumberToObject(a, "method_param", l->act_param);
    }
    if (l->has_output_sqnr) cJSON_AddNumberToObject(o, "output_sqnr_db", l->output_sqnr_db);
    if (l->smoothed) {
      static const char *const keys[] = {"alpha", "channels", "s_min", "s_max", "act_ratio_before", "act_ratio_after"};
      const double v[] = {l->smooth_alpha, (double)l->smooth_channels, l->smooth_min, l->smooth_max, l->smooth_ratio_before, l->smooth_ratio_after};
      cJSON *sm = cJSON_AddObjectToObject(o, "smooth");
      add_numbers(sm, keys, v, 6);
      cJSON_AddStringToObject(sm, "folded_into", l->smooth_into ? l->smooth_into : "");
    }
    if (l->has_bias_correction) cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "bias_correction"), "norm", l->bias_correction_norm);
    if (l->equalized) {
      static const char *const keys[] = {"spread_before", "spread_after", "next_spread_before", "next_spread_after"};
      const double v[] = {l->cle_spread_before, l->cle_spread_after, l->cle_next_spread_before, l->cle_next_spread_after};
      cJSON *c = cJSON_AddObjectToObject(o, "cle");
      cJSON_AddStringToObject(c, "next", l->cle_next ? l->cle_next : "");
      add_numbers(c, keys, v, 4);
    }
    if (l->has_sensitivity) {
      static const char *const keys[] = {"integer_top1_alone_quantized", "drop", "rank"};
      const double v[] = {l->sensitivity_top1, l->sensitivity_drop, l->sensitivity_rank};
      add_numbers(cJSON_AddObjectToObject(o, "sensitivity"), keys, v, 3);
    }
  }
  *json = cJSON_Print(root);
  cJSON_Delete(root);
  return *json ? 0 : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq report: out of memory");
}

static int write_sqnr_svg(const char *path, const cquant_ptq_report_t *rep) {
  const int n = rep->n_layers, W = 760, bar = 22, H = 60 + n * bar;
  double mx = 1;
  for (int i = 0; i < n; i++) {
    const double v = rep->layers[i].has_output_sqnr ? rep->layers[i].output_sqnr_db : NAN;
    mx = isfinite(v) && v > mx ? v : mx;
  }
  size_t cap = 4096 + (size_t)n * 512;
  char *s = malloc(cap);
  if (!s) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "plot: out of memory");
  size_t k = (size_t)snprintf(s, cap,
                              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
                              "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                              "<text x=\"10\" y=\"20\" font-size=\"14\">SQNR per layer (dB, float vs quantized model at the layer's output)</text>\n",
                              W, H);
  for (int i = 0; i < n && k < cap; i++) {
    const double sq = rep->layers[i].has_output_sqnr ? rep->layers[i].output_sqnr_db : NAN;
    const double v = isfinite(sq) ? sq : mx;
    const int y = 40 + i * bar, w = (int)(400.0 * (v > 0 ? v : 0) / mx);
    k += (size_t)snprintf(s + k, cap - k,
                          "<text x=\"10\" y=\"%d\">%.40s</text><rect x=\"250\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                          "<text x=\"%d\" y=\"%d\">%.1f</text>\n",
                          y + 14, rep->layers[i].node, y + 3, w, bar - 6, v < 20 ? "#d62728" : v < 30 ? "#ff7f0e" : "#1f77b4", 256 + w, y + 14, sq);
  }
  if (k < cap) k += (size_t)snprintf(s + k, cap - k, "</svg>\n");
  int st = cquant_file_write_atomic(path, s, k < cap ? k : cap);
  free(s);
  return st;
}

/* A histogram plot; tensors without a histogram observer are skipped. */
static int plot_hist(cquant_ptq_t *p, const char *tensor, cquant_calib_method_t m, const char *path) {
  int st = cquant_ptq_plot_histogram(p, tensor, m, path);
  return st == CQUANT_STATUS_UNSUPPORTED || st == CQUANT_STATUS_INVALID_ARGUMENT ? 0 : st;
}

int cquant_ptq_report_plots(cquant_ptq_t *p, const cquant_ptq_report_t *rep, const char *dir) {
  if (!p || !rep || !dir) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq plots: NULL argument");
  int st = cquant_mkdirs(dir);
  char path[4096];
  if (!st && rep->has_input) {
    snprintf(path, sizeof path, "%s/hist_input.svg", dir);
    st = plot_hist(p, rep->input.name, rep->method, path);
  }
  if (!st) {
    snprintf(path, sizeof path, "%s/sqnr_per_layer.svg", dir);
    st = write_sqnr_svg(path, rep);
  }
  for (int i = 0; i < rep->n_layers && !st; i++) {
    char fn[256];
    size_t k = 0;
    for (const char *c = rep->layers[i].output; *c && k < sizeof fn - 1; c++) fn[k++] = (*c == '/' || *c == ':' || *c == ' ') ? '_' : *c;
    fn[k] = 0;
    snprintf(path, sizeof path, "%s/hist_%s.svg", dir, fn);
    st = plot_hist(p, rep->layers[i].output, rep->method, path);
  }
  return st;
}
