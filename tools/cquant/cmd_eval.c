/* cquant eval: top-1 accuracy and latency of an ONNX classifier on a labelled dataset, run as
 * written (float, or fake-quant for a QDQ model) or with the integer kernels. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void help(void) {
  printf("usage: cquant eval MODEL.onnx --data fashion-mnist[:train|test][:N]|IMAGES [--exec float|int|both] [--mean M] [--std S]\n"
         "                  [--batch B] [--threads T] [--predictions OUT.bin] [--resize S|HxW] [--crop C|HxW]\n"
         "                  [--channel-order rgb|bgr|gray] [--layout nchw|nhwc]\n"
         "       cquant eval MODEL.onnx --data X.npy|NAME=X.npy [--data NAME=X.npy ...] --labels Y.npy [options]\n\n"
         "IMAGES: a folder of class subfolders of PNG/JPEG images (labels: the subfolders in name order),\n"
         "preprocessed as cquant ptq --help and docs/formats.md say (--mean/--std: one or three numbers).\n"
         "Data without labels of its own (.npy files of any input type, several inputs as NAME=DATA each)\n"
         "takes --labels Y.npy: integer class ids, one per sample (shape (N) or (N, 1)).\n"
         "Runs the model on the images (float32 N x 1 x 28 x 28, x = (pixel / 255 - M) / S; M and S default\n"
         "to the model's cquant.mean / cquant.std metadata, else 0 and 1) in batches of B (default 100) and\n"
         "prints the top-1 accuracy of its first output against the labels and the latency per sample.\n"
         "--exec float runs the graph as written (a QDQ model: fake quantization); int first turns\n"
         "QuantizeLinear/DequantizeLinear patterns into integer operators (cquant's integer runtime);\n"
         "default: both for a quantized model, float otherwise. --predictions writes each predicted class\n"
         "as one byte (of the last execution run).\n");
}

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *pred_path = NULL, *labels = NULL, *datas[argc + 1];
  double mean = 0.0, std = 1.0;
  int mean_given = 0, std_given = 0, exec_int = -1;
  long long batch = 100;
  const char *pos[1] = {NULL}, *img[6] = {NULL};
  int exec_choice = -1;
  long long threads = 0;
  static const char *const execs[] = {"float", "int", "both", NULL};
  cli_opt_t opts[] = {
      {.name = "--data", .kind = CLI_LIST, .dst = datas},
      {.name = "--labels", .kind = CLI_STR, .dst = &labels},
      {.name = "--predictions", .kind = CLI_STR, .dst = &pred_path},
      {.name = "--exec", .kind = CLI_CHOICE, .dst = &exec_choice, .choices = execs},
      {.name = "--mean", .kind = CLI_STR, .dst = &img[4]},
      {.name = "--std", .kind = CLI_STR, .dst = &img[5]},
      {.name = "--batch", .kind = CLI_INT, .dst = &batch, .lo = 1, .hi = 9e18, .err = "--batch needs a positive integer"},
      {.name = "--resize", .kind = CLI_STR, .dst = &img[0]},
      {.name = "--crop", .kind = CLI_STR, .dst = &img[1]},
      {.name = "--channel-order", .kind = CLI_STR, .dst = &img[2]},
      {.name = "--layout", .kind = CLI_STR, .dst = &img[3]},
      {.name = "--threads", .kind = CLI_INT, .dst = &threads, .lo = 1, .hi = 1024, .err = "--threads needs a positive integer"},
      {0}};
  int npos, pr = cli_args_parse(argc, argv, opts, pos, 1, &npos, help);
  if (pr) return pr == 2 ? 0 : 1;
  model = pos[0];
  const int n_data = cli_seen(opts, "--data");
  data = n_data ? datas[0] : NULL;
  mean_given = cli_seen(opts, "--mean") > 0;
  std_given = cli_seen(opts, "--std") > 0;
  exec_int = exec_choice;
  if (threads) cquant_set_num_threads((int)threads);
  if (!model || !data) return cli_fail("eval needs MODEL.onnx and --data (cquant eval --help)");
  cquant_onnx_model_t *m, *im = NULL;
  int st, rc = 0, n_int = 0;
  if ((st = cquant_onnx_load(model, &m))) return cli_fail_status(st);
  double mm = mean, ms = std;
  if ((st = cquant_model_normalization(m, &mm, &ms))) { cquant_onnx_free(m); return cli_fail_status(st); }
  if (!mean_given) mean = mm;
  if (!std_given) std = ms;
  if (exec_int != 0) {
    if ((st = cquant_onnx_integerize(m, &im, &n_int))) { cquant_onnx_free(m); return cli_fail_status(st); }
    if (exec_int < 0) exec_int = n_int ? 2 : 0;
  }
  cquant_data_t *d;
  cquant_data_options_t dopt;
  if (cli_data_options(img, mean, std, batch, &dopt)) { cquant_onnx_free(m); cquant_onnx_free(im); return 1; }
  if ((st = cli_open_source(m, datas, n_data, &dopt, labels, &d))) { cquant_onnx_free(m); cquant_onnx_free(im); return cli_fail_status(st); }
  const int n_in = cquant_onnx_num_inputs(m);
  if (n_in > cquant_data_num_inputs(d)) {
    cquant_data_close(d), cquant_onnx_free(m), cquant_onnx_free(im);
    return cli_fail("%s has %d inputs: give --data NAME=DATA for each", model, n_in);
  }
  const int64_t n_all = cquant_data_size(d);
  int32_t *pred = calloc((size_t)(n_all > 0 ? n_all : 0) + 1, sizeof *pred);
  if (!pred) rc = cli_fail("out of memory");
  if (!rc && pred_path && n_all < 0) rc = cli_fail("--predictions needs data of known size (fashion-mnist or one .npy)");
  for (int pass = 0; pass < 2 && !rc; pass++) {
    if ((pass == 0 && exec_int == 1) || (pass == 1 && exec_int == 0)) continue;
    cquant_eval_result_t r;
    const cquant_onnx_model_t *mm2 = pass ? im : m;
    const cquant_array_t *x;
    const int64_t *lab;
    int64_t first;
    if ((st = cquant_data_rewind(d)) || (cquant_data_next(d, &x, &lab, &first) > 0 && (st = cquant_data_check_inputs(mm2, d))) ||
        (st = cquant_eval_top1(mm2, d, &r, n_all > 0 ? pred : NULL))) {
      rc = cli_fail_status(st);
      break;
    }
    printf("%s on %s (%s): top-1 %.2f%% (%lld of %lld), %.1f us per sample (batches of %lld, %d threads)\n", model, cquant_data_name(d),
           pass ? "integer operators" : (n_int ? "as written: fake quantization" : "float"), r.top1, (long long)r.correct, (long long)r.n,
           r.us_per_sample, batch, cquant_get_num_threads());
  }
  if (!rc && pred_path) {
    uint8_t *b = malloc((size_t)n_all + 1);
    if (!b) rc = cli_fail("out of memory");
    else {
      for (int64_t i = 0; i < n_all; i++) b[i] = (uint8_t)pred[i];
      if ((st = cquant_file_write_atomic(pred_path, b, (size_t)n_all))) rc = cli_fail_status(st);
      free(b);
    }
  }
  free(pred);
  cquant_data_close(d);
  cquant_onnx_free(im);
  cquant_onnx_free(m);
  return rc;
}
