/* The whole PTQ job in one call (cquant_ptq_run_job): what `cquant ptq` and `cquant.ptq` run. */
#include <stdlib.h>
#include <string.h>
#include "cquant/io.h"
#include "ptq/ptq_internal.h"

/* The report on the first batch of src. */
static int make_report(cquant_ptq_t *p, cquant_data_t *src, cquant_ptq_result_t *r) {
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first;
  int st = cquant_data_rewind(src), k;
  if (st) return st;
  if ((k = cquant_data_next(src, &x, &labels, &first)) < 0) return k;
  if (!k) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: no data for the report", cquant_data_name(src));
  const char *names[CQUANT_DATA_MAX_FEEDS];
  cquant_array_t vals[CQUANT_DATA_MAX_FEEDS];
  int n;
  if ((st = cquant_data_feeds(p->clean, src, x, CQUANT_DATA_MAX_FEEDS, names, vals, &n))) return st;
  int x0 = 0; /* the model's input 0 stands for the batch in the report */
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], cquant_onnx_input_name(p->clean, 0))) x0 = i;
  return cquant__ptq_report_inputs(p, r->method, n, names, vals, x0, r, &r->report);
}

/* Dynamic mode: the rewrite (src/ptq/dynamic.c), top-1 of float and dynamic model on eval, the file. */
static int run_dynamic(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, const cquant_ptq_job_t *job, cquant_ptq_result_t **out) {
  if (job->calib)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq --mode dynamic takes no calibration data: activations are quantized at run time");
  if (job->format != CQUANT_PTQ_QDQ)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq --mode dynamic writes DynamicQuantizeLinear + MatMulInteger only: --format qop and trt-cache are static");
  if (job->max_drop >= 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq --mode dynamic: max_drop is static only (--exclude keeps nodes in float)");
  if (job->report_json || job->plot_dir) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq --mode dynamic: the per-layer report and plots are static only");
  if (o->overrides || o->quantize_ops)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq --mode dynamic: per-node overrides and --quantize-ops are static only (--exclude keeps nodes in float)");
  cquant_onnx_model_t *dm = NULL;
  cquant_ptq_result_t *r = calloc(1, sizeof *r);
  if (!r) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  r->best = -1;
  r->max_drop = -1;
  r->dynamic = 1;
  int st = cquant_ptq_dynamic(m, o, &dm, &r->dyn);
  r->n_layers = r->dyn.n_matmul + r->dyn.n_gemm;
  if (!st && job->eval) {
    r->evaluated = 1;
    if (!(st = cquant_eval_top1(m, job->eval, &r->float_eval, NULL)) && !(st = cquant_eval_top1(dm, job->eval, &r->final.integer, NULL)))
      r->final.fake_quant = r->final.integer; /* the file has no fake-quantized form: one execution */
  }
  void *buf = NULL;
  size_t len = 0;
  if (!st && !(st = cquant_onnx_serialize(dm, &buf, &len))) st = cquant_file_write_atomic(job->output, buf, len);
  free(buf);
  cquant_onnx_free(dm);
  if (st) {
    cquant_ptq_result_free(r);
    return st;
  }
  r->output_bytes = len;
  *out = r;
  return 0;
}

int cquant_ptq_run_job(const cquant_onnx_model_t *m, const cquant_ptq_options_t *o, const cquant_ptq_job_t *job,
                       cquant_ptq_result_t **out) {
  if (m && job && out && job->output && o && o->mode == CQUANT_PTQ_DYNAMIC) {
    *out = NULL;
    return run_dynamic(m, o, job, out);
  }
  if (!m || !job || !out || !job->calib || !job->output) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: NULL argument");
  *out = NULL;
  if (o && o->mode != CQUANT_PTQ_STATIC) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: unknown mode %d", (int)o->mode);
  if (job->max_drop >= 0 && !job->eval) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: max_drop needs evaluation data");
  if ((unsigned)job->format > CQUANT_PTQ_TRT_CACHE) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: unknown format %d", (int)job->format);
  if (o) { /* before any data is read */
    const int fst = cquant__ptq_format_check(o, job->format);
    if (fst) return fst;
  }
  cquant_ptq_t *p;
  int st = cquant_ptq_create(m, o, &p);
  if (st) return st;
  if (p->opt.n_order > 1 && !job->eval) {
    cquant_ptq_free(p);
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: several methods need evaluation data to choose between them");
  }
  cquant_ptq_result_t *r = calloc(1, sizeof *r);
  if (!r) {
    cquant_ptq_free(p);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  }
  r->best = -1;
  r->max_drop = job->max_drop;
  r->n_layers = p->n_layer;
  r->method = p->opt.order[0];
  st = cquant_ptq_calibrate_data(p, job->calib, &r->n_calib, &r->calib_seconds);
  if (!st && job->eval) st = cquant_ptq_choose(p, job->eval, r);
  if (!st && job->max_drop >= 0 && r->float_eval.metric_sqnr)
    st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: max_drop needs labelled evaluation data (its budget is in top-1 points)");
  if (!st && job->max_drop >= 0 && r->float_eval.top1 - r->final.integer.top1 > job->max_drop) st = cquant_ptq_fallback(p, job->eval, job->max_drop, r);
  if (!st && (job->want_report || job->report_json || job->plot_dir || job->eval)) st = make_report(p, job->eval ? job->eval : job->calib, r);
  if (!st && job->report_json) {
    char *txt;
    if (!(st = cquant_ptq_report_json(r->report, &txt))) {
      st = cquant_file_write_atomic(job->report_json, txt, strlen(txt));
      free(txt);
    }
  }
  if (!st && job->plot_dir) st = cquant_ptq_report_plots(p, r->report, job->plot_dir);
  if (!st) st = cquant_ptq_save(p, r->method, job->format, job->output, &r->output_bytes);
  /* the names in r (layers, fallback steps, report) belong to the session's cleaned model: keep the
   * session alive as long as r */
  if (st) {
    cquant_ptq_result_free(r);
    cquant_ptq_free(p);
    return st;
  }
  r->session = p;
  *out = r;
  return 0;
}
