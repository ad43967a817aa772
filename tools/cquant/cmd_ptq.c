/* cquant ptq: post-training quantization of an ONNX model. Parses the options, runs the library's
 * PTQ job (cquant_ptq_run_job: calibration, method choice, fallback, report, export) and prints
 * what it found. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage_text[] =
    "usage: cquant ptq MODEL.onnx --calib DATA -o OUT.onnx [options]\n"
    "       cquant ptq MODEL.onnx --calib NAME=DATA [--calib NAME=DATA ...] -o OUT.onnx [options]  (one per model input)\n"
    "       cquant ptq MODEL.onnx --mode dynamic -o OUT.onnx [--weights, --weight-range, --weight-granularity\n"
    "                  channel|tensor, --exclude, --eval DATA]\n\n"
    "Calibrates every activation the quantized model needs on DATA, quantizes the weights, and\n"
    "writes the quantized model. DATA: fashion-mnist[:train|test][:N], one .npy (cut into batches\n"
    "along axis 0; float, or integer token ids of the model input's type), a folder of .npy batches\n"
    "in the model's input layout, or a folder of PNG/JPEG images (or of class subfolders of images),\n"
    "decoded one batch at a time and preprocessed as the options below say (docs/formats.md).\n\n"
    "  --weights T                 weight type: int8 (default), int4 (symmetric -7..7), uint4 (asymmetric,\n"
    "                              0..15 with a zero-point), int2 (symmetric -2..1, stored in int8),\n"
    "                              fp8e4m3 (float8e4m3fn, s = amax / 448 per output channel, opset 19)\n"
    "  --weight-granularity channel|group:G  one scale per output channel (default), or per group of G\n"
    "                              (16..256) weights along the input-channel axis: DequantizeLinear-21\n"
    "                              block_size, int4/uint4 packed two per byte (INT4/UINT4); the model is\n"
    "                              raised to opset 21 (nodes whose form changed are rewritten, or named in\n"
    "                              an error); layers with fewer than G input channels stay per channel\n"
    "  --pack-int4                 per-channel int4 as packed INT4 too (opset 21; default: int8 values)\n"
    "  --weight-range minmax|mse   weight range per channel or group (default minmax for int8, mse below)\n"
    "  --reduce-range              int8 weights in 7 bits (-63..63), as ONNX Runtime's reduce_range: for\n"
    "                              ORT on x86 CPUs without VNNI (AVX2 only), whose int8 kernels saturate\n"
    "                              otherwise (static and dynamic; cquant's own runtime needs no such thing)\n"
    "  --act int8|none|fp8e4m3     activations: int8 (default: uint8, or int8 with --symmetric-act), none\n"
    "                              (weight-only: activations and biases stay float), or fp8e4m3\n"
    "                              (float8e4m3fn Quantize/DequantizeLinear, s = calibrated amax / 448)\n"
    "  --act-method M[,M...]|all   minmax, ema, percentile, entropy, mse (default minmax); with several,\n"
    "                              each is evaluated and the best written (needs --eval; top-1s within\n"
    "                              chance of the highest, McNemar p >= 0.05: the higher integer output\n"
    "                              SQNR against float)\n"
    "  --percentile P              for percentile (default 99.99)\n"
    "  --symmetric-act             TensorRT's form: int8 activations with zero-point 0, biases left float\n"
    "  --exclude NODE[,NODE...]    keep these nodes in float\n"
    "  --format qdq|qop|trt-cache  QuantizeLinear/DequantizeLinear pairs (default), QLinear operators,\n"
    "                              or the cleaned float model plus OUT.cache (TensorRT implicit int8)\n"
    "  --eval DATA                 evaluation data: labelled (fashion-mnist, class folders of images): top-1;\n"
    "                              without labels (.npy, images): output SQNR against the float model;\n"
    "                              and latency of float, fake-quant and integer execution (--max-drop needs labels);\n"
    "                              NAME=DATA once per input for a model of several inputs, as --calib\n"
    "  --eval-labels Y.npy         labels for --eval data that has none: integer class ids, one per sample\n"
    "                              (shape (N) or (N, 1)); the metric is then top-1\n"
    "  --max-drop P                keep the fewest most sensitive layers in float that bring the integer\n"
    "                              top-1 within P points of float (needs --eval): one evaluation per layer\n"
    "                              ranks them, a bisection over the ranking picks how many (<= L + 10)\n"
    "  --report R.json             per-layer report (also printed): weight and activation parameters,\n"
    "                              SQNR, error split into clipping and rounding\n"
    "  --plot DIR                  per-layer SQNR bar chart and activation histograms (SVG)\n"
    "  --mean M --std S            input normalisation x = (pixel / 255 - M) / S of fashion-mnist and\n"
    "                              image data; M and S: one number, or three for images, in the\n"
    "                              output's channel order (B,G,R for bgr) (default: the model's cquant.mean /\n"
    "                              cquant.std metadata, else 0 and 1)\n"
    "  --batch B                   batch size for fashion-mnist, single-.npy and image data (default 100)\n"
    "  --resize S|HxW              images: shorter side to S (bilinear), or a fixed H x W (default: none;\n"
    "                              every image must then have the first one's size, after any crop)\n"
    "  --crop C|HxW                images: center crop after the resize\n"
    "  --channel-order rgb|bgr|gray  images: channel order (gray: one channel of luma; default rgb)\n"
    "  --layout nchw|nhwc          images: tensor layout (default nchw)\n"
    "  --mode static|dynamic       static (default): activation ranges calibrated on DATA; dynamic: int8\n"
    "                              weights of MatMul/Gemm, activations quantized per batch at run time\n"
    "                              (DynamicQuantizeLinear + MatMulInteger, ONNX Runtime's quantize_dynamic\n"
    "                              form; no --calib; --weight-granularity tensor: one weight scale per tensor)\n"
    "  --smooth ALPHA              SmoothQuant before calibration (alpha in [0, 1], typically 0.5): per input\n"
    "                              channel scales moved from the activation of every MatMul/Gemm with a\n"
    "                              constant weight into its weight rows, 1/s folded into the producing\n"
    "                              LayerNormalization (or Mul/Add/MatMul) or an inserted Mul; one extra\n"
    "                              float pass over DATA for the statistics (default: off)\n"
    "  --bias-correction           subtract the quantized weights' expected output error (W_q - W) E[x] from\n"
    "                              each layer's bias (E[x] from the calibration pass; default: off)\n"
    "  --cle                       cross-layer equalization of Conv -> [Relu] -> Conv pairs (depthwise ->\n"
    "                              pointwise) before calibration (default: off)\n"
    "  --quantize-act-matmul on|off  MatMul of two activations (attention's Q K^T and softmax V): Q/DQ on\n"
    "                              both inputs and the output, each its own per-tensor scale (default on,\n"
    "                              as ONNX Runtime's QDQ quantizer), or left float (off)\n"
    "  --quantize-ops LIST         also quantize ops that stay float by default (Q/DQ on their inputs and\n"
    "                              output): LayerNormalization, Softmax (output fixed to [0, 1]: scale\n"
    "                              1/256), Gelu (the op or its Erf form), Sigmoid, HardSigmoid, HardSwish,\n"
    "                              Tanh, ReduceMean, ReduceSum, ReduceMax, ReduceMin (comma-separated)\n"
    "  --overrides FILE.json       per-node settings: {\"nodes\": {\"NODE\": {\"exclude\": true}, \"NODE\":\n"
    "                              {\"weights\": \"int4\", \"group\": 32}, \"NODE\": {\"act_method\": \"percentile\",\n"
    "                              \"percentile\": 99.9, \"weight_bits\": 8}}}; keys: exclude, weights (int8|int4|\n"
    "                              uint4|int2), weight_bits (8|4|2), granularity (channel|tensor|group:G),\n"
    "                              group (G), act_method, percentile, ema_constant (docs/onnx.md)\n"
    "A corrupt file with an image name (.png, .jpg, .jpeg) is an error naming it, not skipped.\n";

static int split_list(char *s, const char **items, int max) {
  int n = 0;
  for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) {
    if (n == max) return -1;
    items[n++] = t;
  }
  return n;
}

/* --act-method: the methods in the order given, each once ("all": the five in enum order). */
static int parse_methods(const char *arg, cquant_ptq_options_t *o) {
  o->methods = 0, o->n_order = 0;
  if (!arg) arg = "minmax";
  if (!strcmp(arg, "all")) {
    for (int m = 0; m < CQUANT_CALIB_COUNT; m++) o->order[o->n_order++] = (cquant_calib_method_t)m, o->methods |= 1u << m;
    return 0;
  }
  char buf[256];
  snprintf(buf, sizeof buf, "%s", arg);
  const char *items[CQUANT_CALIB_COUNT];
  const int n = split_list(buf, items, CQUANT_CALIB_COUNT);
  if (n < 0) return cli_fail("--act-method: at most the %d methods, each once", CQUANT_CALIB_COUNT);
  for (int k = 0; k < n; k++) {
    cquant_calib_method_t m;
    if (cquant_calib_method_from_name(items[k], &m)) return cli_fail("--act-method: unknown method '%s' (minmax, ema, percentile, entropy, mse)", items[k]);
    if (o->methods & (1u << m)) return cli_fail("--act-method: '%s' is given twice", items[k]);
    o->order[o->n_order++] = m, o->methods |= 1u << m;
  }
  return n ? 0 : cli_fail("--act-method needs at least one method");
}

static void print_act_row(const char *name, const char *op, const char *wfmt, const char *wtxt, const char *wsc, const cquant_ptq_act_report_t *a,
                          const char *meth, const char *osq, const char *tail) {
  char rng[48], asc[16], asq[16], cl[16], ro[16];
  const double tot = a->clip_mse + a->round_mse;
  snprintf(rng, sizeof rng, "[%.3g, %.3g]", (double)a->min, (double)a->max);
  snprintf(asc, sizeof asc, "%.2e", (double)a->scale);
  snprintf(asq, sizeof asq, "%.1f", a->sqnr_db);
  snprintf(cl, sizeof cl, "%.0f", tot > 0 ? 100 * a->clip_mse / tot : 0);
  snprintf(ro, sizeof ro, "%.0f", tot > 0 ? 100 * a->round_mse / tot : 0);
  printf("%-26.26s %-6.6s %-10s %-9s %-8s %-22s %-8s %-11s %-8s %-7s %-7s %-8s%s\n", name, op, wfmt, wtxt, wsc, rng, asc, meth, asq, cl, ro, osq, tail);
}

static void print_report(const cquant_ptq_report_t *rep) {
  printf("\nper-layer report (%s %s activations; %lld samples; weights: type/granularity, g = group size along the input channels)\n"
         "%-26s %-6s %-10s %-9s %-8s %-22s %-8s %-11s %-8s %-7s %-7s %-8s\n",
         rep->act_type ? rep->act_type : "", rep->act_type && !strcmp(rep->act_type, "float") ? "(weight-only)" : cquant_calib_method_name(rep->method),
         (long long)rep->samples, "layer", "op", "weights", "w SQNR",
         "w scales", "activation range", "a scale", "a method", "a SQNR", "clip%", "round%", "out SQNR");
  if (rep->has_input) print_act_row(rep->input.name, "input", "-", "-", "-", &rep->input, cquant_calib_method_name(rep->method), "-", "");
  for (int i = 0; i < rep->n_layers; i++) {
    const cquant_ptq_layer_report_t *l = &rep->layers[i];
    char wtxt[16] = "-", wsc[16] = "-", osq[16] = "-", wfmt[24] = "-";
    if (l->has_weights) {
      const cquant_dtype_info_t *wi = cquant_dtype_info(l->w_dtype);
      if (l->w_group) snprintf(wfmt, sizeof wfmt, "%s/g%lld", wi ? wi->code : "?", (long long)l->w_group);
      else snprintf(wfmt, sizeof wfmt, "%s/%s", wi ? wi->code : "?", l->w_per_tensor ? "t" : "ch");
      snprintf(wtxt, sizeof wtxt, "%.1f", l->w_sqnr_db);
      snprintf(wsc, sizeof wsc, "%.0e", (double)l->w_scale_max);
    }
    if (l->has_output_sqnr) snprintf(osq, sizeof osq, "%.1f", l->output_sqnr_db);
    char tail[64];
    if (l->has_sensitivity)
      snprintf(tail, sizeof tail, "  #%d alone-quantized: drop %.2f pt%s", l->sensitivity_rank + 1, l->sensitivity_drop, l->excluded ? " (float)" : "");
    else snprintf(tail, sizeof tail, "%s", l->excluded ? "  (float)" : "");
    if (l->overridden) snprintf(tail + strlen(tail), sizeof tail - strlen(tail), "  (override)");
    char meth[24] = "-";
    if (l->act_method && !isnan(l->act_param)) snprintf(meth, sizeof meth, "%s %g", l->act_method, l->act_param);
    else if (l->act_method) snprintf(meth, sizeof meth, "%s", l->act_method);
    if (l->has_act) print_act_row(l->node, l->op, wfmt, wtxt, wsc, &l->act, meth, osq, tail);
    else printf("%-26.26s %-6.6s %-10s %-9s %-8s %-22s %-8s %-11s %-8s %-7s %-7s %-8s%s\n", l->node, l->op, wfmt, wtxt, wsc, "-", "-", "-", "-", "-", "-", osq, tail);
  }
}

/* What SmoothQuant, bias correction and cross-layer equalization changed (docs/quantization.md
 * sec. 11-13). */
static void print_rewrites(const cquant_ptq_report_t *rep) {
  int ns = 0, nb = 0, ne = 0;
  for (int i = 0; i < rep->n_layers; i++)
    ns += rep->layers[i].smoothed, nb += rep->layers[i].has_bias_correction, ne += rep->layers[i].equalized;
  if (ns) {
    printf("\nSmoothQuant (%d layers; ratio: the input's largest per-channel absmax over the median one)\n%-26s %-5s %-8s %-10s %-10s %-22s %-9s %-9s\n", ns,
           "layer", "alpha", "channels", "s min", "s max", "1/s folded into", "ratio", "after");
    for (int i = 0; i < rep->n_layers; i++) {
      const cquant_ptq_layer_report_t *l = &rep->layers[i];
      if (l->smoothed)
        printf("%-26.26s %-5.2f %-8lld %-10.3g %-10.3g %-22.22s %-9.3g %-9.3g\n", l->node, (double)l->smooth_alpha, (long long)l->smooth_channels,
               (double)l->smooth_min, (double)l->smooth_max, l->smooth_into ? l->smooth_into : "", l->smooth_ratio_before, l->smooth_ratio_after);
    }
  }
  if (nb) {
    printf("\nbias correction (%d layers; |(W_q - W) E[x]|, the L2 norm subtracted from the bias)\n", nb);
    for (int i = 0; i < rep->n_layers; i++)
      if (rep->layers[i].has_bias_correction) printf("%-26.26s %-6.6s %.4g\n", rep->layers[i].node, rep->layers[i].op, rep->layers[i].bias_correction_norm);
  }
  if (ne) {
    printf("\ncross-layer equalization (%d pairs; spread: largest over smallest per-channel weight absmax)\n%-26s %-26s %-12s %-12s %-12s %-12s\n", ne,
           "layer", "next", "out spread", "after", "next in", "after");
    for (int i = 0; i < rep->n_layers; i++) {
      const cquant_ptq_layer_report_t *l = &rep->layers[i];
      if (l->equalized)
        printf("%-26.26s %-26.26s %-12.4g %-12.4g %-12.4g %-12.4g\n", l->node, l->cle_next ? l->cle_next : "", l->cle_spread_before, l->cle_spread_after,
               l->cle_next_spread_before, l->cle_next_spread_after);
    }
  }
}

static void print_result(const char *model, const char *calib, const cquant_ptq_result_t *r) {
  printf("%s: %d quantizable layers; calibrated on %lld samples of %s in %.2f s (%.1f us per sample)\n", model, r->n_layers,
         (long long)r->n_calib, calib, r->calib_seconds, 1e6 * r->calib_seconds / (double)r->n_calib);
  if (r->evaluated && r->float_eval.metric_sqnr) { /* data without labels: output SQNR against float */
    printf("\n%-24s %12s %14s\n%-24s %12s %11.1f us\n", "execution", "output SQNR", "per sample", "float32 (cquant)", "reference",
           r->float_eval.us_per_sample);
    for (int k = 0; k < r->n_methods; k++) {
      const cquant_ptq_method_eval_t *e = &r->methods[k];
      printf("fake-quant %-13s %9.2f dB %11.1f us\ninteger %-16s %9.2f dB %11.1f us\n", cquant_calib_method_name(e->method), e->fake_quant.sqnr_db,
             e->fake_quant.us_per_sample, cquant_calib_method_name(e->method), e->integer.sqnr_db, e->integer.us_per_sample);
    }
    if (r->n_methods > 1) printf("best: %s\n", cquant_calib_method_name(r->method));
  } else if (r->evaluated) {
    printf("\n%-24s %10s %14s\n%-24s %9.2f%% %11.1f us\n", "execution", "top-1", "per sample", "float32 (cquant)", r->float_eval.top1,
           r->float_eval.us_per_sample);
    for (int k = 0; k < r->n_methods; k++) {
      const cquant_ptq_method_eval_t *e = &r->methods[k];
      char l1[64], l2[64];
      snprintf(l1, sizeof l1, "fake-quant %s", cquant_calib_method_name(e->method));
      snprintf(l2, sizeof l2, "integer %s", cquant_calib_method_name(e->method));
      printf("%-24s %9.2f%% %11.1f us\n%-24s %9.2f%% %11.1f us", l1, e->fake_quant.top1, e->fake_quant.us_per_sample, l2, e->integer.top1,
             e->integer.us_per_sample);
      if (r->n_methods > 1 && (e->mcnemar_won || e->mcnemar_lost))
        printf("  (against the highest top-1: right where it is wrong on %lld, wrong where it is right on %lld, McNemar p %.4f)", (long long)e->mcnemar_won,
               (long long)e->mcnemar_lost, e->mcnemar_p);
      if (e->tie_measured) printf("  (integer SQNR against float %.2f dB)", e->tie_sqnr_db);
      printf("\n");
    }
    if (r->n_methods > 1) {
      const cquant_ptq_method_eval_t *b = &r->methods[r->best];
      int same_q = 0; /* another method within chance with the same SQNR */
      for (int k = 0; k < r->n_methods; k++) same_q |= k != r->best && b->tie_measured && r->methods[k].tie_measured && r->methods[k].tie_sqnr_db == b->tie_sqnr_db;
      printf("best: %s", cquant_calib_method_name(r->method));
      if (b->tie_measured)
        printf(" (top-1s within chance of the highest, McNemar p >= %.2f: the highest SQNR among them%s)\n", CQUANT_PTQ_CHOICE_P,
               same_q ? "; equal SQNRs: the higher top-1, then the earlier" : "");
      else printf(" (the highest top-1, beyond chance of the others)\n");
    }
  }
  for (int k = 0; k < r->n_fallback; k++)
    printf("--max-drop: keeping '%s' (%s) in float (sensitivity rank %d: integer top-1 %.2f%% with it alone quantized)\n",
           r->fallback[k].node, r->fallback[k].op, k + 1, r->fallback[k].top1_after);
  if (r->evaluated && r->max_drop >= 0 && r->float_eval.top1 - r->methods[r->best].integer.top1 > r->max_drop) {
    int cand = 0;
    for (int i = 0; r->sensitivity_rank && i < r->n_layers; i++) cand += r->sensitivity_rank[i] >= 0;
    printf("--max-drop %.2f: %d layer%s kept in float; drop %.2f points%s; %d evaluations (%d layers' sensitivity, %d in the search)\n",
           r->max_drop, r->n_fallback, r->n_fallback == 1 ? "" : "s", r->float_eval.top1 - r->final.integer.top1,
           r->fallback_met ? "" : " (the budget cannot be met: the best configuration evaluated is kept)", r->n_fallback_evals, cand,
           r->n_fallback_evals - cand);
  }
  if (r->report) {
    print_report(r->report);
    print_rewrites(r->report);
  }
}

static void help(void) { fputs(usage_text, stdout); }

/* --mode dynamic: the options that only static quantization reads are refused by name. */
static int dynamic_refuses(const cli_opt_t *opts) {
  static const char *const static_only[] = {"--calib", "--act-method", "--percentile", "--symmetric-act", "--format", "--max-drop", "--report", "--plot",
                                            "--smooth", "--bias-correction", "--cle",
                                            "--quantize-act-matmul", "--quantize-ops", "--overrides", NULL};
  for (const cli_opt_t *op = opts; op->name; op++)
    for (int k = 0; static_only[k]; k++)
      if (op->seen && !strcmp(op->name, static_only[k]))
        return cli_fail("--mode dynamic: %s is for static quantization only%s", op->name,
                        k ? "" : " (activations are quantized at run time: no calibration data is read)");
  return 0;
}

static void print_dynamic(const char *model, const char *out, const cquant_ptq_options_t *o, const cquant_ptq_result_t *r) {
  printf("%s: dynamic quantization: %d MatMul and %d Gemm rewritten (%d DynamicQuantizeLinear), %d kept in float\n", model, r->dyn.n_matmul,
         r->dyn.n_gemm, r->dyn.n_dynamic_quant, r->dyn.n_kept);
  if (r->evaluated)
    printf("\n%-24s %10s %14s\n%-24s %9.2f%% %11.1f us\n%-24s %9.2f%% %11.1f us\n", "execution", "top-1", "per sample", "float32 (cquant)",
           r->float_eval.top1, r->float_eval.us_per_sample, "dynamic int8 (cquant)", r->final.integer.top1, r->final.integer.us_per_sample);
  printf("wrote %s (DynamicQuantizeLinear + MatMulInteger, activations: uint8 per tensor at run time, weights: %s %s, %zu bytes)\n", out,
         o->weight_dtype == CQUANT_DT_S4 ? "int4" : "int8", o->weight_per_tensor ? "per tensor" : "per channel", r->output_bytes);
}

int cmd_ptq(int argc, char **argv) {
  const char *model = NULL, *calib = NULL, *out = NULL, *evald = NULL, *report_path = NULL, *plot_dir = NULL, *gran = NULL;
  const char *methods_arg = NULL, *exclude_arg = NULL, *pos[1] = {NULL}, *img[6] = {NULL};
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  double mean = 0, std = 1, max_drop = -1, smooth = -1;
  long long batch = 100;
  int format = CQUANT_PTQ_QDQ, weights = 0, weight_range = -1, npos, mode = CQUANT_PTQ_STATIC, st;
  static const char *const modes[] = {"static", "dynamic", NULL};
  static const char *const acts[] = {"int8", "none", "fp8e4m3", NULL};
  static const cquant_dtype_t wdt[] = {CQUANT_DT_S8, CQUANT_DT_S4, CQUANT_DT_U4, CQUANT_DT_S2, CQUANT_DT_F8E4M3};
  int act = CQUANT_PTQ_ACT_INT8;
  static const char *const wts[] = {"int8", "int4", "uint4", "int2", "fp8e4m3", NULL}, *const ranges[] = {"minmax", "mse", NULL},
                           *const formats[] = {"qdq", "qop", "trt-cache", NULL};
  static const char *const onoff[] = {"off", "on", NULL};
  int act_mm = 1;
  const char *qops = NULL, *ovr_path = NULL, *eval_labels = NULL;
  cquant_ptq_overrides_t *ovr = NULL;
  const char *calibs[argc + 1], *evals[argc + 1]; /* the repeatable NAME=SOURCE values (argc bounds them) */
  cli_opt_t opts[] = {
      {.name = "--calib", .kind = CLI_LIST, .dst = calibs},
      {.name = "-o", .kind = CLI_STR, .dst = &out},
      {.name = "--eval", .kind = CLI_LIST, .dst = evals},
      {.name = "--eval-labels", .kind = CLI_STR, .dst = &eval_labels},
      {.name = "--report", .kind = CLI_STR, .dst = &report_path},
      {.name = "--plot", .kind = CLI_STR, .dst = &plot_dir},
      {.name = "--act-method", .kind = CLI_STR, .dst = &methods_arg},
      {.name = "--exclude", .kind = CLI_STR, .dst = &exclude_arg},
      {.name = "--symmetric-act", .kind = CLI_FLAG, .dst = &o.symmetric_act, .ival = 1},
      {.name = "--reduce-range", .kind = CLI_FLAG, .dst = &o.weight_reduce_range, .ival = 1},
      {.name = "--weights", .kind = CLI_CHOICE, .dst = &weights, .choices = wts},
      {.name = "--weight-range", .kind = CLI_CHOICE, .dst = &weight_range, .choices = ranges},
      {.name = "--weight-granularity", .kind = CLI_STR, .dst = &gran},
      {.name = "--format", .kind = CLI_CHOICE, .dst = &format, .choices = formats},
      {.name = "--percentile", .kind = CLI_FLOAT, .dst = &o.percentile, .lo = 0, .hi = 100, .flags = CLI_LO_OPEN,
       .err = "--percentile needs a number in (0, 100]"},
      {.name = "--max-drop", .kind = CLI_FLOAT, .dst = &max_drop, .lo = 0, .hi = 1e308, .err = "--max-drop needs a number of points >= 0"},
      {.name = "--mean", .kind = CLI_STR, .dst = &img[4]},
      {.name = "--std", .kind = CLI_STR, .dst = &img[5]},
      {.name = "--batch", .kind = CLI_INT, .dst = &batch, .lo = 1, .hi = 9e18, .err = "--batch needs a positive integer"},
      {.name = "--resize", .kind = CLI_STR, .dst = &img[0]},
      {.name = "--crop", .kind = CLI_STR, .dst = &img[1]},
      {.name = "--channel-order", .kind = CLI_STR, .dst = &img[2]},
      {.name = "--layout", .kind = CLI_STR, .dst = &img[3]},
      {.name = "--mode", .kind = CLI_CHOICE, .dst = &mode, .choices = modes},
      {.name = "--act", .kind = CLI_CHOICE, .dst = &act, .choices = acts},
      {.name = "--pack-int4", .kind = CLI_FLAG, .dst = &o.weight_packed, .ival = 1},
      {.name = "--smooth", .kind = CLI_FLOAT, .dst = &smooth, .lo = 0, .hi = 1, .err = "--smooth needs an alpha in [0, 1], not '%s'"},
      {.name = "--bias-correction", .kind = CLI_FLAG, .dst = &o.bias_correction, .ival = 1},
      {.name = "--cle", .kind = CLI_FLAG, .dst = &o.cle, .ival = 1},
      {.name = "--quantize-act-matmul", .kind = CLI_CHOICE, .dst = &act_mm, .choices = onoff},
      {.name = "--quantize-ops", .kind = CLI_STR, .dst = &qops},
      {.name = "--overrides", .kind = CLI_STR, .dst = &ovr_path},
      {0}};
  int pr = cli_args_parse(argc, argv, opts, pos, 1, &npos, help);
  if (pr) return pr == 2 ? 0 : 1;
  model = pos[0];
  const int n_calib = cli_seen(opts, "--calib"), n_eval = cli_seen(opts, "--eval");
  calib = n_calib ? calibs[0] : NULL;
  evald = n_eval ? evals[0] : NULL;
  const int mean_given = cli_seen(opts, "--mean") > 0, std_given = cli_seen(opts, "--std") > 0;
  o.weight_dtype = wdt[weights];
  o.act = (cquant_ptq_act_t)act;
  if (smooth >= 0) o.smooth = 1, o.smooth_alpha = (float)smooth;
  if (mode == CQUANT_PTQ_DYNAMIC) {
    if (dynamic_refuses(opts)) return 1;
    o.mode = CQUANT_PTQ_DYNAMIC;
    if (gran && !strcmp(gran, "tensor")) o.weight_per_tensor = 1, gran = NULL;
    if ((gran && strcmp(gran, "channel")) || weights > 1 || act != CQUANT_PTQ_ACT_INT8 || o.weight_packed)
      return cli_fail("--mode dynamic writes int8 or int4 per-channel (or per-tensor) weights and uint8 activations at run time");
  }
  if (gran && strcmp(gran, "channel")) { /* group:G */
    char *end = NULL;
    const long long G = !strncmp(gran, "group:", 6) ? strtoll(gran + 6, &end, 10) : 0;
    if (!end || *end || end == gran + 6 || G < 16 || G > 256)
      return cli_fail("--weight-granularity %s: expected channel or group:G with G in 16..256", gran);
    o.weight_group = G;
  }
  if ((o.weight_group || o.weight_packed || act != CQUANT_PTQ_ACT_INT8 || weights > 1) && format != CQUANT_PTQ_QDQ)
    return cli_fail("--format %s holds int8 activations and per-channel int8/int4 weights: write these formats with --format qdq", formats[format]);
  if (o.weight_group && o.weight_dtype == CQUANT_DT_F8E4M3) return cli_fail("--weights fp8e4m3 is per output channel: drop --weight-granularity group:G");
  if (act != CQUANT_PTQ_ACT_INT8 && o.symmetric_act) return cli_fail("--symmetric-act is an int8 activation setting: drop it with --act %s", acts[act]);
  if (!model || !out || (!calib && mode == CQUANT_PTQ_STATIC))
    return cli_fail(mode ? "ptq --mode dynamic needs MODEL.onnx and -o OUT.onnx (cquant ptq --help)" : "ptq needs MODEL.onnx, --calib DATA and -o OUT.onnx (cquant ptq --help)");
  if (max_drop >= 0 && !evald) return cli_fail("--max-drop needs --eval DATA");
  if (eval_labels && !evald) return cli_fail("--eval-labels needs --eval DATA");
  if (weight_range >= 0) o.weight_mse = weight_range;
  if (parse_methods(methods_arg, &o)) return 1;
  if (o.n_order > 1 && !evald) return cli_fail("several --act-method values need --eval DATA to choose between them");
  const char *excl[64];
  char exbuf[4096];
  if (exclude_arg && strlen(exclude_arg) >= sizeof exbuf) return cli_fail("--exclude: the list is too long");
  if (exclude_arg) snprintf(exbuf, sizeof exbuf, "%s", exclude_arg);
  if (exclude_arg && (o.n_exclude = split_list(exbuf, excl, 64)) < 0) return cli_fail("--exclude: at most 64 nodes");
  o.exclude = excl;
  o.keep_histograms = plot_dir != NULL;
  o.act_matmul = act_mm;
  if (qops && cquant_ptq_quantize_ops_parse(qops, &o.quantize_ops)) return cli_fail("--%s", cquant_last_error());
  if (ovr_path && (st = cquant_ptq_overrides_load(ovr_path, &ovr))) return cli_fail("--overrides %s", cquant_last_error());
  o.overrides = ovr;

  cquant_onnx_model_t *m;
  if ((st = cli_load_model(model, &m, &mean, mean_given, &std, std_given))) {
    cquant_ptq_overrides_free(ovr);
    return st;
  }
  cquant_data_options_t dopt;
  if (cli_data_options(img, mean, std, batch, &dopt)) {
    cquant_onnx_free(m);
    cquant_ptq_overrides_free(ovr);
    return 1;
  }
  /* with a float rewrite on, the report (what it changed) is printed */
  cquant_ptq_job_t job = {NULL, NULL, out, (cquant_ptq_format_t)format, max_drop, o.smooth || o.bias_correction || o.cle, report_path, plot_dir};
  cquant_ptq_result_t *r = NULL;
  if ((calib && (st = cli_open_source(m, calibs, n_calib, &dopt, NULL, &job.calib))) ||
      (evald && (st = cli_open_source(m, evals, n_eval, &dopt, eval_labels, &job.eval))) ||
      (st = cquant_ptq_run_job(m, &o, &job, &r))) {
    cquant_data_close(job.calib);
    cquant_data_close(job.eval);
    cquant_onnx_free(m);
    cquant_ptq_overrides_free(ovr);
    return cli_fail_status(st);
  }
  const char *mname = cquant_calib_method_name(r->method);
  if (!r->dynamic) print_result(model, cquant_data_name(job.calib), r);
  if (r->dynamic) print_dynamic(model, out, &o, r);
  else if (format == CQUANT_PTQ_TRT_CACHE) {
    size_t ol = strlen(out);
    printf("wrote %s (float, cleaned) and %.*s.cache (TensorRT calibration cache, %s)\n", out, (int)(ol > 5 && !strcmp(out + ol - 5, ".onnx") ? ol - 5 : ol), out,
           mname);
  } else {
    char wg[32] = "per channel";
    if (o.weight_group) snprintf(wg, sizeof wg, "per group of %lld", (long long)o.weight_group);
    char ovtxt[64] = "";
    if (ovr) snprintf(ovtxt, sizeof ovtxt, " (%d nodes set by --overrides)", cquant_ptq_overrides_count(ovr));
    printf("wrote %s (%s, activations: %s%s, weights: %s %s%s, %zu bytes)\n", out, format ? "QLinear operators" : "QDQ",
           act == CQUANT_PTQ_ACT_NONE ? "float" : act == CQUANT_PTQ_ACT_FP8E4M3 ? "fp8e4m3 " : "", act == CQUANT_PTQ_ACT_NONE ? "" : mname,
           wts[weights], wg, ovtxt, r->output_bytes);
  }
  cquant_ptq_result_free(r);
  cquant_ptq_overrides_free(ovr);
  cquant_data_close(job.calib);
  cquant_data_close(job.eval);
  cquant_onnx_free(m);
  return 0;
}
