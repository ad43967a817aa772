/* cquant ptq: post-training quantization of an ONNX model with a calibration set, evaluation in
 * float, fake-quant and integer execution, per-layer report, accuracy-driven fallback. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"

static const char usage_text[] =
    "usage: cquant ptq MODEL.onnx --calib DATA -o OUT.onnx [options]\n\n"
    "Calibrates every activation the quantized model needs on DATA, quantizes the weights, and\n"
    "writes the quantized model. DATA: fashion-mnist[:train|test][:N], one .npy (cut into batches\n"
    "along axis 0) or a folder of .npy batches, in the model's input layout.\n\n"
    "  --weights int8|int4         weight type (per output channel, symmetric; default int8)\n"
    "  --weight-range minmax|mse   weight range per channel (default minmax for int8, mse for int4)\n"
    "  --act-method M[,M...]|all   minmax, ema, percentile, entropy, mse (default minmax); with several,\n"
    "                              each is evaluated and the best written (needs --eval)\n"
    "  --percentile P              for percentile (default 99.99)\n"
    "  --symmetric-act             TensorRT's form: int8 activations with zero-point 0, biases left float\n"
    "  --exclude NODE[,NODE...]    keep these nodes in float\n"
    "  --format qdq|qop|trt-cache  QuantizeLinear/DequantizeLinear pairs (default), QLinear operators,\n"
    "                              or the cleaned float model plus OUT.cache (TensorRT implicit int8)\n"
    "  --eval DATA                 labelled data (fashion-mnist...): top-1 and latency of float,\n"
    "                              fake-quant and integer execution\n"
    "  --max-drop P                keep the most sensitive layers in float, one at a time, until the\n"
    "                              integer top-1 is within P points of float (needs --eval)\n"
    "  --report R.json             per-layer report (also printed): weight and activation parameters,\n"
    "                              SQNR, error split into clipping and rounding\n"
    "  --plot DIR                  per-layer SQNR bar chart and activation histograms (SVG)\n"
    "  --mean M --std S            input normalisation for fashion-mnist data (default: the model's\n"
    "                              cquant.mean / cquant.std metadata, else 0 and 1)\n"
    "  --batch B                   batch size for fashion-mnist and single-.npy data (default 100)\n";

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

static void capture_free(capture_t *c) {
  for (int i = 0; i < c->n; i++) cquant_array_free(&c->a[i]);
  free(c->a);
}

static int run_capture(const cquant_onnx_model_t *m, const cquant_array_t *x, capture_t *c) {
  const char *in = cquant_onnx_input_name(m, 0);
  const int n_out = cquant_onnx_num_outputs(m);
  cquant_array_t *out = calloc((size_t)n_out + 1, sizeof *out);
  if (!out) return cli_fail("out of memory");
  int st = cquant_onnx_run_observed(m, 1, &in, x, out, capture_cb, c);
  for (int o = 0; o < n_out && !st; o++) {
    for (int i = 0; i < c->n; i++) /* graph outputs are handed over, not observed twice */
      if (!c->a[i].data && !strcmp(c->names[i], cquant_onnx_output_name(m, o))) {
        c->a[i] = out[o];
        memset(&out[o], 0, sizeof out[o]);
      }
    cquant_array_free(&out[o]);
  }
  free(out);
  return st ? cli_fail_status(st) : 0;
}

typedef struct {
  cquant_calib_method_t method;
  cli_eval_t fq, in;
  int n_int;
} result_t;

static int export_model(cquant_ptq_t *p, cquant_calib_method_t m, cquant_ptq_format_t f, cquant_onnx_model_t **qm, void **buf, size_t *len) {
  void *b;
  size_t l;
  int st = cquant_ptq_export(p, m, f, &b, &l);
  if (st) return cli_fail_status(st);
  if (qm && (st = cquant_onnx_load_buffer(b, l, qm))) {
    free(b);
    return cli_fail_status(st);
  }
  if (buf) {
    *buf = b;
    *len = l;
  } else free(b);
  return 0;
}

/* fake-quant (the QDQ model as written) and integer (integerized) evaluation */
static int evaluate(cquant_ptq_t *p, cquant_calib_method_t m, cli_data_t *ev, result_t *r) {
  cquant_onnx_model_t *qdq, *im;
  r->method = m;
  if (export_model(p, m, CQUANT_PTQ_QDQ, &qdq, NULL, NULL)) return 1;
  int rc = cli_eval(qdq, ev, &r->fq, NULL), st;
  if (!rc && (st = cquant_onnx_integerize(qdq, &im, &r->n_int))) rc = cli_fail_status(st);
  if (!rc) {
    rc = cli_eval(im, ev, &r->in, NULL);
    cquant_onnx_free(im);
  }
  cquant_onnx_free(qdq);
  return rc;
}

static int split_list(char *s, const char **items, int max) {
  int n = 0;
  for (char *t = strtok(s, ","); t && n < max; t = strtok(NULL, ",")) items[n++] = t;
  return n;
}

/* An activation's parameters and the error of quantizing it (eq. 19-20) as JSON fields. */
static void act_json(cJSON *o, float lo, float hi, float s, int32_t z, const cquant_error_report_t *r) {
  cJSON_AddNumberToObject(o, "min", lo);
  cJSON_AddNumberToObject(o, "max", hi);
  cJSON_AddNumberToObject(o, "scale", s);
  cJSON_AddNumberToObject(o, "zero_point", z);
  cJSON_AddNumberToObject(o, "sqnr_db", r->sqnr_db);
  cJSON_AddNumberToObject(o, "clip_mse", r->clip_mse);
  cJSON_AddNumberToObject(o, "round_mse", r->round_mse);
}

static int write_sqnr_svg(const char *path, int n, const char **names, const double *sqnr) {
  const int W = 760, bar = 22, H = 60 + n * bar;
  double mx = 1;
  for (int i = 0; i < n; i++) mx = isfinite(sqnr[i]) && sqnr[i] > mx ? sqnr[i] : mx;
  size_t cap = 4096 + (size_t)n * 512;
  char *s = malloc(cap);
  if (!s) return cli_fail("out of memory");
  size_t k = (size_t)snprintf(s, cap,
                              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
                              "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                              "<text x=\"10\" y=\"20\" font-size=\"14\">SQNR per layer (dB, float vs quantized model at the layer's output)</text>\n",
                              W, H);
  for (int i = 0; i < n && k < cap; i++) {
    const double v = isfinite(sqnr[i]) ? sqnr[i] : mx;
    const int y = 40 + i * bar, w = (int)(400.0 * (v > 0 ? v : 0) / mx);
    k += (size_t)snprintf(s + k, cap - k,
                          "<text x=\"10\" y=\"%d\">%.40s</text><rect x=\"250\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                          "<text x=\"%d\" y=\"%d\">%.1f</text>\n",
                          y + 14, names[i], y + 3, w, bar - 6, v < 20 ? "#d62728" : v < 30 ? "#ff7f0e" : "#1f77b4", 256 + w, y + 14, sqnr[i]);
  }
  if (k < cap) k += (size_t)snprintf(s + k, cap - k, "</svg>\n");
  int st = cquant_file_write_atomic(path, s, k < cap ? k : cap);
  free(s);
  return st ? cli_fail_status(st) : 0;
}

/* Per-layer report on one batch: weights, activation parameters, local error split and the SQNR
 * of the quantized model at each layer's output. */
static int report(cquant_ptq_t *p, cquant_calib_method_t m, const cquant_array_t *x, const char *json_path, const char *plot_dir,
                  const result_t *res, const cli_eval_t *fl) {
  const int L = cquant_ptq_num_layers(p);
  cquant_onnx_model_t *qdq;
  if (export_model(p, m, CQUANT_PTQ_QDQ, &qdq, NULL, NULL)) return 1;
  capture_t cf = {0}, cq = {0};
  cf.n = cq.n = L;
  cf.names = calloc((size_t)L + 1, sizeof(char *));
  cq.names = calloc((size_t)L + 1, sizeof(char *));
  cf.a = calloc((size_t)L + 1, sizeof(cquant_array_t));
  cq.a = calloc((size_t)L + 1, sizeof(cquant_array_t));
  char **qn = calloc((size_t)L + 1, sizeof(char *));
  double *sq = calloc((size_t)L + 1, sizeof(double));
  const char **lbl = calloc((size_t)L + 1, sizeof(char *));
  int rc = 0;
  if (!cf.names || !cq.names || !cf.a || !cq.a || !qn || !sq || !lbl) rc = cli_fail("out of memory");
  for (int i = 0; i < L && !rc; i++) {
    cquant_ptq_layer_t ly;
    cquant_ptq_layer(p, i, &ly);
    cf.names[i] = ly.output;
    size_t l = strlen(ly.output) + 16;
    if (!(qn[i] = malloc(l))) { rc = cli_fail("out of memory"); break; }
    snprintf(qn[i], l, "%s_dequantized", ly.output);
    cq.names[i] = qn[i];
    lbl[i] = ly.node;
  }
  if (!rc) rc = run_capture(cquant_ptq_float_model(p), x, &cf);
  if (!rc) rc = run_capture(qdq, x, &cq);
  cJSON *root = cJSON_CreateObject(), *layers = cJSON_AddArrayToObject(root, "layers");
  cJSON_AddStringToObject(root, "method", cquant_calib_method_name(m));
  if (fl && res) {
    cJSON_AddNumberToObject(root, "float_top1", fl->top1);
    cJSON_AddNumberToObject(root, "fake_quant_top1", res->fq.top1);
    cJSON_AddNumberToObject(root, "integer_top1", res->in.top1);
  }
  if (!rc)
    printf("\nper-layer report (%s activations; %lld samples)\n"
           "%-26s %-6s %-9s %-8s %-22s %-8s %-8s %-7s %-7s %-8s\n",
           cquant_calib_method_name(m), (long long)x->shape[0], "layer", "op", "w SQNR", "w scales", "activation range", "a scale", "a SQNR",
           "clip%", "round%", "out SQNR");
  { /* the model's input, quantized before the first layer */
    const char *in_name = cquant_onnx_input_name(cquant_ptq_float_model(p), 0);
    float lo, hi, s;
    int32_t z;
    cquant_error_accum_t acc;
    cquant_error_report_t ar;
    cquant_error_accum_init(&acc);
    if (!rc && !cquant_ptq_act_qparams(p, in_name, m, &lo, &hi, &s, &z) && !cquant_ptq_act_error(p, in_name, m, x, &acc)) {
      cquant_error_accum_report(&acc, &ar);
      const double tot = ar.clip_mse + ar.round_mse;
      char rng[48];
      snprintf(rng, sizeof rng, "[%.3g, %.3g]", (double)lo, (double)hi);
      printf("%-26.26s %-6s %-9s %-8s %-22s %-8.2e %-8.1f %-7.0f %-7.0f %-8s\n", in_name, "input", "-", "-", rng, (double)s, ar.sqnr_db,
             tot > 0 ? 100 * ar.clip_mse / tot : 0, tot > 0 ? 100 * ar.round_mse / tot : 0, "-");
      cJSON *o = cJSON_AddObjectToObject(root, "input");
      cJSON_AddStringToObject(o, "name", in_name);
      act_json(o, lo, hi, s, z, &ar);
      if (plot_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/hist_input.svg", plot_dir);
        int st = cquant_ptq_plot_histogram(p, in_name, m, path);
        if (st && st != CQUANT_STATUS_UNSUPPORTED && st != CQUANT_STATUS_INVALID_ARGUMENT) rc = cli_fail_status(st);
      }
    }
  }
  for (int i = 0; i < L && !rc; i++) {
    cquant_ptq_layer_t ly;
    cquant_ptq_layer(p, i, &ly);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(layers, o);
    cJSON_AddStringToObject(o, "node", ly.node);
    cJSON_AddStringToObject(o, "op", ly.op_type);
    cJSON_AddStringToObject(o, "output", ly.output);
    cJSON_AddBoolToObject(o, "excluded", ly.excluded);
    char wtxt[16] = "-", wsc[16] = "-", rng[32] = "-", asc[16] = "-", asq[16] = "-", cl[16] = "-", ro[16] = "-", osq[16] = "-";
    if (ly.weight) {
      cquant_error_report_t wr;
      float smin, smax;
      if (!cquant_ptq_weight_error(p, i, &wr, &smin, &smax)) {
        snprintf(wtxt, sizeof wtxt, "%.1f", wr.sqnr_db);
        snprintf(wsc, sizeof wsc, "%.0e", (double)smax);
        cJSON *w = cJSON_AddObjectToObject(o, "weights");
        cJSON_AddNumberToObject(w, "sqnr_db", wr.sqnr_db);
        cJSON_AddNumberToObject(w, "scale_min", smin);
        cJSON_AddNumberToObject(w, "scale_max", smax);
        cJSON_AddNumberToObject(w, "clip_mse", wr.clip_mse);
        cJSON_AddNumberToObject(w, "round_mse", wr.round_mse);
      }
    }
    float lo, hi, s;
    int32_t z;
    if (!cquant_ptq_act_qparams(p, ly.output, m, &lo, &hi, &s, &z) && cf.a[i].data) {
      cquant_error_accum_t acc;
      cquant_error_report_t ar;
      cquant_error_accum_init(&acc);
      if (!cquant_ptq_act_error(p, ly.output, m, &cf.a[i], &acc)) {
        cquant_error_accum_report(&acc, &ar);
        snprintf(rng, sizeof rng, "[%.3g, %.3g]", (double)lo, (double)hi);
        snprintf(asc, sizeof asc, "%.2e", (double)s);
        snprintf(asq, sizeof asq, "%.1f", ar.sqnr_db);
        const double tot = ar.clip_mse + ar.round_mse;
        snprintf(cl, sizeof cl, "%.0f", tot > 0 ? 100 * ar.clip_mse / tot : 0);
        snprintf(ro, sizeof ro, "%.0f", tot > 0 ? 100 * ar.round_mse / tot : 0);
        cJSON *a = cJSON_AddObjectToObject(o, "activation");
        act_json(a, lo, hi, s, z, &ar);
        cJSON_AddNumberToObject(a, "clipped_share", ar.clipped_share);
      }
    }
    const cquant_array_t *q = cq.a[i].data ? &cq.a[i] : NULL;
    sq[i] = NAN;
    if (!q) { /* a graph output stays float: compare under its own name */
      capture_t one = {1, &ly.output, NULL};
      cquant_array_t tmp = {0};
      one.a = &tmp;
      if (!run_capture(qdq, x, &one) && tmp.data) {
        cq.a[i] = tmp;
        q = &cq.a[i];
      }
    }
    if (q && cf.a[i].data && q->numel == cf.a[i].numel) {
      cquant_error_report_t er;
      if (!cquant_error_report(cf.a[i].data, q->data, (size_t)q->numel, NULL, &er)) {
        sq[i] = er.sqnr_db;
        snprintf(osq, sizeof osq, "%.1f", er.sqnr_db);
        cJSON_AddNumberToObject(o, "output_sqnr_db", er.sqnr_db);
      }
    }
    printf("%-26.26s %-6.6s %-9s %-8s %-22s %-8s %-8s %-7s %-7s %-8s%s\n", ly.node, ly.op_type, wtxt, wsc, rng, asc, asq, cl, ro, osq,
           ly.excluded ? "  (float)" : "");
  }
  if (!rc && json_path) {
    char *txt = cJSON_Print(root);
    if (!txt) rc = cli_fail("out of memory");
    else {
      int st = cquant_file_write_atomic(json_path, txt, strlen(txt));
      free(txt);
      if (st) rc = cli_fail_status(st);
    }
  }
  if (!rc && plot_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/sqnr_per_layer.svg", plot_dir);
    rc = write_sqnr_svg(path, L, lbl, sq);
    for (int i = 0; i < L && !rc; i++) {
      cquant_ptq_layer_t ly;
      cquant_ptq_layer(p, i, &ly);
      char fn[256];
      size_t k = 0;
      for (const char *c = ly.output; *c && k < sizeof fn - 1; c++) fn[k++] = (*c == '/' || *c == ':' || *c == ' ') ? '_' : *c;
      fn[k] = 0;
      snprintf(path, sizeof path, "%s/hist_%s.svg", plot_dir, fn);
      int st = cquant_ptq_plot_histogram(p, ly.output, m, path);
      if (st && st != CQUANT_STATUS_UNSUPPORTED && st != CQUANT_STATUS_INVALID_ARGUMENT) rc = cli_fail_status(st);
    }
  }
  cJSON_Delete(root);
  capture_free(&cf);
  capture_free(&cq);
  for (int i = 0; i < L && qn; i++) free(qn[i]);
  free(qn), free(sq), free(lbl), free(cf.names), free(cq.names);
  cquant_onnx_free(qdq);
  return rc;
}

int cmd_ptq(int argc, char **argv) {
  const char *model = NULL, *calib = NULL, *out = NULL, *evald = NULL, *report_path = NULL, *plot_dir = NULL, *v;
  char *methods_arg = NULL, *exclude_arg = NULL;
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  o.methods = 0;
  int format = 0; /* 0 qdq, 1 qop, 2 trt-cache */
  double mean = 0, std = 1, max_drop = -1;
  int mean_given = 0, std_given = 0, weight_range = -1;
  long long batch = 100;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_text, stdout); return 0; }
    else if (!strcmp(a, "--calib")) { if (!(calib = cli_value(argc, argv, &i))) return 1; }
    else if (!strcmp(a, "-o")) { if (!(out = cli_value(argc, argv, &i))) return 1; }
    else if (!strcmp(a, "--eval")) { if (!(evald = cli_value(argc, argv, &i))) return 1; }
    else if (!strcmp(a, "--report")) { if (!(report_path = cli_value(argc, argv, &i))) return 1; }
    else if (!strcmp(a, "--plot")) { if (!(plot_dir = cli_value(argc, argv, &i))) return 1; }
    else if (!strcmp(a, "--act-method")) { if (!(v = cli_value(argc, argv, &i))) return 1; methods_arg = (char *)v; }
    else if (!strcmp(a, "--exclude")) { if (!(v = cli_value(argc, argv, &i))) return 1; exclude_arg = (char *)v; }
    else if (!strcmp(a, "--symmetric-act")) o.symmetric_act = 1;
    else if (!strcmp(a, "--weights")) {
      if (!(v = cli_value(argc, argv, &i))) return 1;
      if (!strcmp(v, "int8")) o.weight_dtype = CQUANT_DT_S8;
      else if (!strcmp(v, "int4")) o.weight_dtype = CQUANT_DT_S4;
      else return cli_fail("--weights must be int8 or int4, not '%s'", v);
    } else if (!strcmp(a, "--weight-range")) {
      if (!(v = cli_value(argc, argv, &i))) return 1;
      if (!strcmp(v, "minmax")) weight_range = 0;
      else if (!strcmp(v, "mse")) weight_range = 1;
      else return cli_fail("--weight-range must be minmax or mse, not '%s'", v);
    } else if (!strcmp(a, "--weight-granularity")) {
      if (!(v = cli_value(argc, argv, &i))) return 1;
      if (strcmp(v, "channel")) return cli_fail("--weight-granularity %s: only 'channel' is supported (per-group weights need DequantizeLinear-21 block_size, which this ONNX toolchain cannot check yet)", v);
    } else if (!strcmp(a, "--format")) {
      if (!(v = cli_value(argc, argv, &i))) return 1;
      if (!strcmp(v, "qdq")) format = 0;
      else if (!strcmp(v, "qop")) format = 1;
      else if (!strcmp(v, "trt-cache")) format = 2;
      else return cli_fail("--format must be qdq, qop or trt-cache, not '%s'", v);
    } else if (!strcmp(a, "--percentile")) {
      if (!(v = cli_value(argc, argv, &i)) || cli_parse_float(v, &o.percentile) || !(o.percentile > 0 && o.percentile <= 100))
        return cli_fail("--percentile needs a number in (0, 100]");
    } else if (!strcmp(a, "--max-drop")) {
      if (!(v = cli_value(argc, argv, &i)) || cli_parse_float(v, &max_drop) || !(max_drop >= 0)) return cli_fail("--max-drop needs a number of points >= 0");
    } else if (!strcmp(a, "--mean")) {
      if (!(v = cli_value(argc, argv, &i)) || cli_parse_float(v, &mean)) return cli_fail("--mean needs a number");
      mean_given = 1;
    } else if (!strcmp(a, "--std")) {
      if (!(v = cli_value(argc, argv, &i)) || cli_parse_float(v, &std) || !(std > 0)) return cli_fail("--std needs a number > 0");
      std_given = 1;
    } else if (!strcmp(a, "--batch")) {
      if (!(v = cli_value(argc, argv, &i)) || cli_parse_int(v, &batch) || batch < 1) return cli_fail("--batch needs a positive integer");
    } else if (a[0] == '-' && a[1]) return cli_fail("unknown option '%s' (cquant ptq --help)", a);
    else if (!model) model = a;
    else return cli_fail("unexpected argument '%s'", a);
  }
  if (!model || !calib || !out) return cli_fail("ptq needs MODEL.onnx, --calib DATA and -o OUT.onnx (cquant ptq --help)");
  if (max_drop >= 0 && !evald) return cli_fail("--max-drop needs --eval DATA");
  if (weight_range >= 0) o.weight_mse = weight_range;
  else o.weight_mse = o.weight_dtype == CQUANT_DT_S4;
  cquant_calib_method_t methods[CQUANT_CALIB_COUNT];
  int n_methods = 0;
  if (!methods_arg || !strcmp(methods_arg, "all")) {
    for (int m = 0; m < CQUANT_CALIB_COUNT && methods_arg; m++) methods[n_methods++] = (cquant_calib_method_t)m;
    if (!methods_arg) methods[n_methods++] = CQUANT_CALIB_MINMAX;
  } else {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", methods_arg);
    const char *items[16];
    int n = split_list(buf, items, 16);
    for (int k = 0; k < n; k++) {
      cquant_calib_method_t m;
      if (cquant_calib_method_from_name(items[k], &m)) return cli_fail("--act-method: unknown method '%s' (minmax, ema, percentile, entropy, mse)", items[k]);
      methods[n_methods++] = m;
    }
  }
  for (int k = 0; k < n_methods; k++) o.methods |= 1u << methods[k];
  if (n_methods > 1 && !evald) return cli_fail("several --act-method values need --eval DATA to choose between them");
  const char *excl[64];
  if (exclude_arg) o.n_exclude = split_list(exclude_arg, excl, 64), o.exclude = excl;
  if (plot_dir) {
    o.keep_histograms = 1;
    struct stat sb;
    if (stat(plot_dir, &sb) && mkdir(plot_dir, 0777)) return cli_fail("%s: cannot create the folder: %s", plot_dir, strerror(errno));
  }

  cquant_onnx_model_t *m;
  int st;
  if ((st = cquant_onnx_load(model, &m))) return cli_fail_status(st);
  if (cli_model_norm(m, &mean, &std, mean_given, std_given)) { cquant_onnx_free(m); return 1; }
  cquant_ptq_t *p = NULL;
  cli_data_t cd = {0}, ev = {0};
  int rc = 0;
  if ((st = cquant_ptq_create(m, &o, &p))) rc = cli_fail_status(st);
  if (!rc) rc = cli_data_open(&cd, calib, (float)mean, (float)std, batch);
  /* calibration: one streamed pass */
  int64_t n_cal = 0;
  double cal_s = 0;
  if (!rc) {
    cquant_array_t *x;
    int64_t first;
    int k;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((k = cli_data_next(&cd, &x, &first)) > 0) {
      if (!n_cal && (rc = cli_check_input_shape(m, x, calib))) break;
      if ((st = cquant_ptq_calibrate(p, x))) { rc = cli_fail("%s: %s", calib, cquant_last_error()); break; }
      n_cal += x->shape[0];
    }
    if (k < 0) rc = 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cal_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (!rc && !n_cal) rc = cli_fail("%s: no calibration data", calib);
  }
  if (!rc)
    printf("%s: %d quantizable layers; calibrated on %lld samples of %s in %.2f s (%.1f us per sample)\n", model, cquant_ptq_num_layers(p),
           (long long)n_cal, calib, cal_s, 1e6 * cal_s / (double)n_cal);
  /* evaluation of every method, choice of the best */
  cquant_calib_method_t best = methods[0];
  cli_eval_t fl = {0};
  result_t res[CQUANT_CALIB_COUNT], *bres = NULL;
  if (!rc && evald) {
    rc = cli_data_open(&ev, evald, (float)mean, (float)std, batch);
    if (!rc) rc = cli_eval(cquant_ptq_float_model(p), &ev, &fl, NULL);
    if (!rc)
      printf("\n%-24s %10s %14s\n%-24s %9.2f%% %11.1f us\n", "execution", "top-1", "per sample", "float32 (cquant)", fl.top1, fl.us_per_sample);
    for (int k = 0; k < n_methods && !rc; k++) {
      if ((rc = evaluate(p, methods[k], &ev, &res[k]))) break;
      char l1[64], l2[64];
      snprintf(l1, sizeof l1, "fake-quant %s", cquant_calib_method_name(methods[k]));
      snprintf(l2, sizeof l2, "integer %s", cquant_calib_method_name(methods[k]));
      printf("%-24s %9.2f%% %11.1f us\n%-24s %9.2f%% %11.1f us\n", l1, res[k].fq.top1, res[k].fq.us_per_sample, l2, res[k].in.top1,
             res[k].in.us_per_sample);
      if (!bres || res[k].in.top1 > bres->in.top1) bres = &res[k], best = methods[k];
    }
    if (!rc && n_methods > 1) printf("best: %s\n", cquant_calib_method_name(best));
  }
  /* accuracy-driven fallback: exclude the layer whose exclusion helps most, one at a time */
  if (!rc && max_drop >= 0 && bres && fl.top1 - bres->in.top1 > max_drop) {
    const int L = cquant_ptq_num_layers(p);
    int kept = 0;
    result_t cur = *bres;
    while (fl.top1 - cur.in.top1 > max_drop && !rc) {
      int pick = -1;
      result_t pr = {0};
      for (int i = 0; i < L && !rc; i++) {
        cquant_ptq_layer_t ly;
        cquant_ptq_layer(p, i, &ly);
        if (ly.excluded) continue;
        cquant_ptq_exclude(p, ly.node, 1);
        result_t r;
        rc = evaluate(p, best, &ev, &r);
        cquant_ptq_exclude(p, ly.node, 0);
        if (!rc && (pick < 0 || r.in.top1 > pr.in.top1)) pick = i, pr = r;
      }
      if (rc || pick < 0) break;
      cquant_ptq_layer_t ly;
      cquant_ptq_layer(p, pick, &ly);
      cquant_ptq_exclude(p, ly.node, 1);
      kept++;
      printf("--max-drop: keeping '%s' (%s) in float: integer top-1 %.2f%% -> %.2f%%\n", ly.node, ly.op_type, cur.in.top1, pr.in.top1);
      cur = pr;
      if (kept == L) break;
    }
    if (!rc) {
      *bres = cur;
      printf("--max-drop %.2f: %d layer%s kept in float; drop %.2f points\n", max_drop, kept, kept == 1 ? "" : "s", fl.top1 - cur.in.top1);
    }
  }
  /* report */
  if (!rc && (report_path || plot_dir || evald)) {
    cli_data_t *src = evald ? &ev : &cd;
    cquant_array_t *x;
    int64_t first;
    cli_data_rewind(src);
    int k = cli_data_next(src, &x, &first);
    if (k > 0) rc = report(p, best, x, report_path, plot_dir, bres, evald ? &fl : NULL);
    else if (k < 0) rc = 1;
  }
  /* the output */
  if (!rc) {
    void *buf = NULL;
    size_t len = 0;
    if (format == 2) {
      char *cache = NULL;
      size_t ol = strlen(out);
      char *cpath = malloc(ol + 8);
      if (!cpath) rc = cli_fail("out of memory");
      else {
        memcpy(cpath, out, ol + 1);
        if (ol > 5 && !strcmp(cpath + ol - 5, ".onnx")) cpath[ol - 5] = 0;
        strcat(cpath, ".cache");
      }
      if (!rc && (st = cquant_ptq_trt_cache(p, best, &cache))) rc = cli_fail_status(st);
      /* TensorRT reads the float model plus the cache: write the cleaned float model */
      if (!rc && (st = cquant_onnx_save(cquant_ptq_float_model(p), out))) rc = cli_fail_status(st);
      if (!rc && (st = cquant_file_write_atomic(cpath, cache, strlen(cache)))) rc = cli_fail_status(st);
      if (!rc) printf("wrote %s (float, cleaned) and %s (TensorRT calibration cache, %s)\n", out, cpath, cquant_calib_method_name(best));
      free(cache);
      free(cpath);
    } else {
      rc = export_model(p, best, format ? CQUANT_PTQ_QOP : CQUANT_PTQ_QDQ, NULL, &buf, &len);
      if (!rc && (st = cquant_file_write_atomic(out, buf, len))) rc = cli_fail_status(st);
      if (!rc) printf("wrote %s (%s, activations: %s, weights: %s per channel, %zu bytes)\n", out, format ? "QLinear operators" : "QDQ",
                      cquant_calib_method_name(best), o.weight_dtype == CQUANT_DT_S4 ? "int4" : "int8", len);
      free(buf);
    }
  }
  cli_data_close(&cd);
  cli_data_close(&ev);
  cquant_ptq_free(p);
  cquant_onnx_free(m);
  return rc;
}
