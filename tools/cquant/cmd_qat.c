/* cquant qat: quantization-aware training of an ONNX classifier, written as QDQ ONNX. Parses the
 * options, runs the library's QAT session (include/cquant/qat.h) and prints its progress. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static const char usage_text[] =
    "usage: cquant qat MODEL.onnx --data DATA -o OUT.onnx [options]\n\n"
    "Fine-tunes the float model with fake quantization where PTQ puts its QuantizeLinear/\n"
    "DequantizeLinear pairs (straight-through estimator, or learned step sizes with --lsq) and\n"
    "writes the QDQ model (BatchNorm folded, trained weights and scales). DATA: labelled samples,\n"
    "fashion-mnist[:train|test][:N], or other data (a .npy, a folder of them, images) with --labels\n"
    "L.npy (integer class ids, one per sample; docs/formats.md).\n\n"
    "  --weights int8|int4|int2|float   weights per output channel, symmetric (default int8)\n"
    "  --weight-bits B                  any width 2..8 instead\n"
    "  --act int8|int4|float            activations per tensor, asymmetric (default int8)\n"
    "  --epochs E                       (default 1)\n"
    "  --lr LR                          peak learning rate (default 1e-3 AdamW, 1e-2 SGD)\n"
    "  --batch B                        minibatch (default 64)\n"
    "  --optimizer sgd|adamw            (default adamw)\n"
    "  --momentum M --weight-decay W    SGD momentum (0.9); decay of rank >= 2 weights (0)\n"
    "  --schedule cosine|step|constant  learning-rate schedule (default cosine); --warmup STEPS\n"
    "  --lsq                            learned step sizes (LSQ) and activation offsets (LSQ+)\n"
    "  --freeze-bn-after E              BatchNorm uses its running statistics after E epochs\n"
    "  --init-method minmax|ema|percentile|entropy|mse   activation ranges from PTQ calibration\n"
    "  --calib-samples N                samples of DATA for it (default 2000)\n"
    "  --ema-steps N                    STE: activation ranges follow an EMA for N steps (200)\n"
    "  --label-smoothing E              (default 0)\n"
    "  --eval DATA                      labelled data evaluated after every epoch\n"
    "  --eval-labels L.npy              labels for --eval data that has none (as --labels)\n"
    "  --mean M --std S                 input normalisation for fashion-mnist data (default: the\n"
    "                                   model's cquant.mean / cquant.std metadata)\n"
    "  --seed S --threads T             shuffling seed (0); threads (default: all)\n"
    "  --max-steps N                    stop after N steps (short runs)\n"
    "  --weight-clip auto|max|mse       weight range per channel: max|w|, or the fraction of it with\n"
    "                                   the least squared error (auto: mse below 4 bits, else max)\n"
    "  --ptq-only                       no training: the calibrated ranges and MSE weight clipping\n"
    "                                   exported at any width (a PTQ baseline)\n"
    "  --float-out F.onnx               also write the trained float model\n"
    "  --predictions P.bin              the fake-quant model's class for every --eval sample (a byte each)\n"
    "  --grad-dump DIR                  no training: one forward/backward pass on the first batch\n"
    "                                   of DATA, writing DIR/loss.txt, DIR/names.txt, DIR/grad_K.npy\n"
    "  --dump-values NAME[,NAME...]     with --grad-dump: those values of the forward pass too (value_K.npy)\n";

static void help(void) { fputs(usage_text, stdout); }

static volatile int interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static void progress(const cquant_qat_progress_t *p, void *user) {
  const int tty = *(const int *)user;
  if (p->eval_done) {
    fprintf(stderr, "epoch %d/%d: eval top-1 %.2f%% (%.1f s)\n", p->epoch, p->epochs, p->eval_top1, p->seconds);
    return;
  }
  if (tty)
    fprintf(stderr, "\repoch %d/%d step %lld/%lld loss %.4f acc %.2f%% lr %.2e %.1f s   ", p->epoch, p->epochs, (long long)p->step, (long long)p->steps,
            p->loss, p->top1, p->lr, p->seconds);
  else if (p->step % 500 == 0)
    fprintf(stderr, "epoch %d/%d step %lld/%lld loss %.4f acc %.2f%% lr %.2e %.1f s\n", p->epoch, p->epochs, (long long)p->step, (long long)p->steps, p->loss,
            p->top1, p->lr, p->seconds);
}

/* Training or evaluation data: a spec (fashion-mnist carries labels), with --labels attached when given. */
static int open_data(const cquant_onnx_model_t *m, const char *spec, const char *labels, double mean, double std, long long batch, cquant_data_t **d) {
  static const char *const no_image_options[6] = {NULL};
  cquant_data_options_t o;
  if (cli_data_options(no_image_options, mean, std, batch, &o)) return 1;
  const int st = cli_open_source(m, &spec, 1, &o, labels, d);
  return st ? cli_fail_status(st) : 0;
}

static int grad_dump(cquant_qat_t *q, cquant_data_t *d, const char *dir, const char *values) {
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first;
  int st = cquant_data_next(d, &x, &labels, &first);
  if (st < 0) return cli_fail_status(st);
  if (st == 0 || !labels) return cli_fail("--grad-dump: the data has no labelled batch");
  double loss;
  int64_t correct;
  if ((st = cquant_qat_step_grad(q, x, labels, 1, &loss, &correct))) return cli_fail_status(st);
  if (cli_mkdirs(dir)) return 1;
  char path[4096];
  snprintf(path, sizeof path, "%s/loss.txt", dir);
  FILE *f = fopen(path, "w");
  if (!f) return cli_fail("cannot write %s", path);
  fprintf(f, "%.9g\n", loss);
  fclose(f);
  snprintf(path, sizeof path, "%s/names.txt", dir);
  if (!(f = fopen(path, "w"))) return cli_fail("cannot write %s", path);
  for (int i = 0; i < cquant_qat_num_params(q); i++) {
    const char *name;
    float *v, *g;
    int64_t n;
    cquant_qat_param(q, i, &name, &v, &g, &n);
    fprintf(f, "%s\n", name);
    char gp[4200];
    snprintf(gp, sizeof gp, "%s/grad_%d.npy", dir, i);
    if (!g || (st = cquant_npy_save(gp, CQUANT_DT_F32, 1, &n, g))) {
      fclose(f);
      return st ? cli_fail_status(st) : cli_fail("no gradient for %s", name);
    }
  }
  fclose(f);
  for (int k = 0; values && *values; k++) { /* --dump-values: value_K.npy for the K-th name */
    const size_t len = strcspn(values, ",");
    char name[1024];
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), values);
    values += len + (values[len] == ',');
    const float *v;
    int64_t n;
    if ((st = cquant_qat_value(q, name, &v, &n))) return cli_fail_status(st);
    snprintf(path, sizeof path, "%s/value_%d.npy", dir, k);
    if ((st = cquant_npy_save(path, CQUANT_DT_F32, 1, &n, v))) return cli_fail_status(st);
  }
  printf("loss %.6f; %d gradients written to %s\n", loss, cquant_qat_num_params(q), dir);
  return 0;
}

int cmd_qat(int argc, char **argv) {
  const char *data = NULL, *out = NULL, *evald = NULL, *labels = NULL, *float_out = NULL, *dump = NULL, *dump_values = NULL, *pred_path = NULL, *pos[1] = {NULL}, *eval_labels = NULL;
  cquant_qat_options_t o;
  cquant_qat_options_default(&o);
  int ptq_only = 0, weights = 0, act = 0, optimizer = 1, schedule = 0, init_method = 0, clip = -1, npos;
  long long epochs = 1, batch = 64, seed = 0, threads = 0, freeze = -1, calib = 2000, ema = 200, wbits = 0, warmup = 0, max_steps = 0;
  double lr = 0, mean = 0, std = 1;
  static const char *const wts[] = {"int8", "int4", "int2", "float", NULL}, *const acts[] = {"int8", "int4", "float", NULL},
                           *const opts_opt[] = {"sgd", "adamw", NULL}, *const scheds[] = {"cosine", "step", "constant", NULL},
                           *const methods[] = {"minmax", "ema", "percentile", "entropy", "mse", NULL},
                           *const clips[] = {"auto", "max", "mse", NULL};
  cli_opt_t opts[] = {
      {.name = "--data", .kind = CLI_STR, .dst = &data},
      {.name = "-o", .kind = CLI_STR, .dst = &out},
      {.name = "--eval", .kind = CLI_STR, .dst = &evald},
      {.name = "--labels", .kind = CLI_STR, .dst = &labels},
      {.name = "--eval-labels", .kind = CLI_STR, .dst = &eval_labels},
      {.name = "--weights", .kind = CLI_CHOICE, .dst = &weights, .choices = wts},
      {.name = "--weight-bits", .kind = CLI_INT, .dst = &wbits, .lo = 2, .hi = 8, .err = "--weight-bits needs an integer in 2..8"},
      {.name = "--act", .kind = CLI_CHOICE, .dst = &act, .choices = acts},
      {.name = "--epochs", .kind = CLI_INT, .dst = &epochs, .lo = 1, .hi = 1e6, .err = "--epochs needs a positive integer"},
      {.name = "--lr", .kind = CLI_FLOAT, .dst = &lr, .lo = 0, .hi = 1e6, .flags = CLI_LO_OPEN, .err = "--lr needs a number > 0"},
      {.name = "--batch", .kind = CLI_INT, .dst = &batch, .lo = 1, .hi = 1e7, .err = "--batch needs a positive integer"},
      {.name = "--optimizer", .kind = CLI_CHOICE, .dst = &optimizer, .choices = opts_opt},
      {.name = "--momentum", .kind = CLI_FLOAT, .dst = &o.momentum, .lo = 0, .hi = 1, .err = "--momentum needs a number in [0, 1]"},
      {.name = "--weight-decay", .kind = CLI_FLOAT, .dst = &o.weight_decay, .lo = 0, .hi = 1e6, .err = "--weight-decay needs a number >= 0"},
      {.name = "--schedule", .kind = CLI_CHOICE, .dst = &schedule, .choices = scheds},
      {.name = "--warmup", .kind = CLI_INT, .dst = &warmup, .lo = 0, .hi = 9e18, .err = "--warmup needs a number of steps"},
      {.name = "--lsq", .kind = CLI_FLAG, .dst = &o.lsq, .ival = 1},
      {.name = "--freeze-bn-after", .kind = CLI_INT, .dst = &freeze, .lo = 0, .hi = 1e6, .err = "--freeze-bn-after needs a number of epochs"},
      {.name = "--init-method", .kind = CLI_CHOICE, .dst = &init_method, .choices = methods},
      {.name = "--calib-samples", .kind = CLI_INT, .dst = &calib, .lo = 1, .hi = 9e18, .err = "--calib-samples needs a positive integer"},
      {.name = "--ema-steps", .kind = CLI_INT, .dst = &ema, .lo = 0, .hi = 9e18, .err = "--ema-steps needs an integer >= 0"},
      {.name = "--label-smoothing", .kind = CLI_FLOAT, .dst = &o.label_smoothing, .lo = 0, .hi = 0.999, .err = "--label-smoothing needs a number in [0, 1)"},
      {.name = "--mean", .kind = CLI_FLOAT, .dst = &mean, .err = "--mean needs a number"},
      {.name = "--std", .kind = CLI_FLOAT, .dst = &std, .lo = 0, .hi = 1e308, .flags = CLI_LO_OPEN, .err = "--std needs a number > 0"},
      {.name = "--seed", .kind = CLI_INT, .dst = &seed, .lo = 0, .hi = 9e18, .err = "--seed needs an integer >= 0"},
      {.name = "--threads", .kind = CLI_INT, .dst = &threads, .lo = 1, .hi = 1024, .err = "--threads needs a positive integer"},
      {.name = "--max-steps", .kind = CLI_INT, .dst = &max_steps, .lo = 1, .hi = 9e18, .err = "--max-steps needs a positive integer"},
      {.name = "--float-out", .kind = CLI_STR, .dst = &float_out},
      {.name = "--grad-dump", .kind = CLI_STR, .dst = &dump},
      {.name = "--dump-values", .kind = CLI_STR, .dst = &dump_values},
      {.name = "--predictions", .kind = CLI_STR, .dst = &pred_path},
      {.name = "--ptq-only", .kind = CLI_FLAG, .dst = &ptq_only, .ival = 1},
      {.name = "--weight-clip", .kind = CLI_CHOICE, .dst = &clip, .choices = clips},
      {0}};
  int pr = cli_args_parse(argc, argv, opts, pos, 1, &npos, help);
  if (pr) return pr == 2 ? 0 : 1;
  const int mean_given = cli_seen(opts, "--mean") > 0, std_given = cli_seen(opts, "--std") > 0;
  const char *model = pos[0];
  if (pred_path && !evald) return cli_fail("--predictions needs --eval DATA");
  if (eval_labels && !evald) return cli_fail("--eval-labels needs --eval DATA");
  if (!model || !data || (!out && !dump)) return cli_fail("qat needs MODEL.onnx, --data DATA and -o OUT.onnx (cquant qat --help)");
  static const int wb[] = {8, 4, 2, 0}, ab[] = {8, 4, 0};
  o.weight_bits = wbits ? (int)wbits : wb[weights];
  o.act_bits = ab[act];
  o.epochs = (int)epochs, o.batch = (int)batch, o.seed = (uint64_t)seed, o.threads = (int)threads;
  o.optimizer = optimizer ? CQUANT_QAT_ADAMW : CQUANT_QAT_SGD;
  o.lr = lr > 0 ? lr : optimizer ? 1e-3 : 1e-2;
  o.schedule = (cquant_qat_schedule_t)schedule, o.warmup_steps = warmup, o.max_steps = max_steps;
  /* --ptq-only is a PTQ baseline: clipped weights at every width below 8 unless told otherwise */
  o.weight_clip = clip >= 0 ? (cquant_qat_clip_t)clip : ptq_only ? CQUANT_QAT_CLIP_MSE : CQUANT_QAT_CLIP_AUTO;
  o.freeze_bn_after = (int)freeze, o.init_method = (cquant_calib_method_t)init_method, o.calib_samples = calib, o.ema_steps = ema;
  int tty = isatty(2);
  o.progress = progress, o.user = &tty, o.interrupt = &interrupted;

  cquant_onnx_model_t *m;
  int st;
  if ((st = cli_load_model(model, &m, &mean, mean_given, &std, std_given))) return st;
  cquant_data_t *d = NULL, *ev = NULL;
  cquant_qat_t *q = NULL;
  int rc = open_data(m, data, labels, mean, std, batch, &d);
  if (!rc && evald) rc = open_data(m, evald, eval_labels, mean, std, 500, &ev);
  if (!rc && (st = cquant_qat_create(m, &o, &q))) rc = cli_fail_status(st);
  if (!rc && dump) rc = grad_dump(q, d, dump, dump_values);
  else if (!rc) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    cquant_qat_result_t r;
    memset(&r, 0, sizeof r);
    if (ptq_only && !ev) rc = cli_fail("--ptq-only needs --eval DATA (its first pass sets the weight ranges)");
    else if (ptq_only) {
      cquant_eval_result_t er;
      if ((st = cquant_qat_init_ranges(q, d)) || (st = cquant_qat_evaluate(q, ev, &er, NULL))) rc = cli_fail_status(st);
      r.evaluated = 1, r.eval_top1 = er.top1;
    } else if ((st = cquant_qat_init_ranges(q, d)) || (st = cquant_qat_train(q, d, ev, &r))) {
      if (tty) fputc('\n', stderr);
      rc = cli_fail_status(st);
    }
    sigaction(SIGINT, &old, NULL);
    if (!rc) {
      if (tty) fputc('\n', stderr);
      printf("%s: %lld steps (%lld samples) in %.2f s, %.3f s per epoch; last epoch loss %.4f, train top-1 %.2f%%\n", model, (long long)r.steps,
             (long long)r.samples, r.seconds, r.seconds_per_epoch, r.final_loss, r.train_top1);
      if (r.evaluated) printf("fake-quant top-1 on %s: %.2f%%\n", evald, r.eval_top1);
      size_t bytes = 0;
      if (pred_path) {
        const int64_t n = cquant_data_size(ev);
        int32_t *pred = n > 0 ? calloc((size_t)n, sizeof *pred) : NULL;
        uint8_t *pb = n > 0 ? malloc((size_t)n) : NULL;
        cquant_eval_result_t er;
        if (!pred || !pb) rc = cli_fail("--predictions: the size of %s is not known", evald);
        else if ((st = cquant_qat_evaluate(q, ev, &er, pred))) rc = cli_fail_status(st);
        for (int64_t i = 0; !rc && i < n; i++) pb[i] = (uint8_t)pred[i];
        if (!rc && (st = cquant_file_write_atomic(pred_path, pb, (size_t)n))) rc = cli_fail_status(st);
        free(pred), free(pb);
      }
      if (!rc && float_out) {
        void *buf = NULL;
        size_t len;
        if ((st = cquant_qat_export_float(q, &buf, &len)) || (st = cquant_file_write_atomic(float_out, buf, len))) rc = cli_fail_status(st);
        free(buf);
      }
      if (!rc && (st = cquant_qat_save(q, out, &bytes))) rc = cli_fail_status(st);
      if (!rc)
        printf("wrote %s (QDQ, weights %d-bit per channel%s, activations %s, %zu bytes)\n", out, o.weight_bits, o.lsq ? ", LSQ" : "",
               o.act_bits ? (o.act_bits == 8 ? "uint8" : "uint4") : "float", bytes);
    }
  }
  cquant_qat_free(q);
  cquant_data_close(d);
  cquant_data_close(ev);
  cquant_onnx_free(m);
  return rc;
}
