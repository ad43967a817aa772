/* cquant eval: top-1 accuracy and latency of an ONNX classifier on a labelled dataset. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *v;
  double mean = 0.0, std = 1.0;
  long long batch = 100;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: cquant eval MODEL.onnx --data fashion-mnist[:train|test][:N] [--mean M] [--std S] [--batch B]\n\n"
             "Runs the model on the images (float32 N x 1 x 28 x 28, x = (pixel / 255 - M) / S; defaults M = 0,\n"
             "S = 1) in batches of B (default 100) and prints the top-1 accuracy of its first output against\n"
             "the labels, and the latency per sample.\n");
      return 0;
    } else if (!strcmp(a, "--data")) { if (!(data = cli_value(argc, argv, &i))) return 1; }
    else if (!strcmp(a, "--mean")) { if (!(v = cli_value(argc, argv, &i)) || cli_parse_float(v, &mean)) return cli_fail("--mean needs a number"); }
    else if (!strcmp(a, "--std")) { if (!(v = cli_value(argc, argv, &i)) || cli_parse_float(v, &std) || !(std > 0)) return cli_fail("--std needs a number > 0"); }
    else if (!strcmp(a, "--batch")) { if (!(v = cli_value(argc, argv, &i)) || cli_parse_int(v, &batch) || batch < 1) return cli_fail("--batch needs a positive integer"); }
    else if (a[0] == '-' && a[1]) return cli_fail("unknown option '%s' (cquant eval --help)", a);
    else if (!model) model = a;
    else return cli_fail("unexpected argument '%s'", a);
  }
  if (!model || !data) return cli_fail("eval needs MODEL.onnx and --data (cquant eval --help)");
  cquant_onnx_model_t *m;
  cquant_array_t images, labels;
  int st;
  if ((st = cquant_onnx_load(model, &m))) return cli_fail_status(st);
  if (cquant_onnx_num_inputs(m) != 1) { cquant_onnx_free(m); return cli_fail("%s: a classifier with one input is needed", model); }
  if ((st = cquant_dataset_load(data, NULL, (float)mean, (float)std, &images, &labels))) { cquant_onnx_free(m); return cli_fail_status(st); }
  const int64_t n = images.shape[0], per = images.numel / n;
  const char *name = cquant_onnx_input_name(m, 0);
  int64_t correct = 0;
  int r = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int64_t b = 0; b < n && !r; b += batch) {
    const int64_t bs = n - b < batch ? n - b : batch;
    cquant_array_t x, out[8];
    int64_t shape[4] = {bs, images.shape[1], images.shape[2], images.shape[3]};
    if ((st = cquant_array_alloc(&x, CQUANT_DT_F32, 4, shape))) { r = cli_fail_status(st); break; }
    memcpy(x.data, (float *)images.data + b * per, sizeof(float) * (size_t)(bs * per));
    if ((st = cquant_onnx_run(m, 1, &name, &x, out))) r = cli_fail("%s: %s", model, cquant_last_error());
    else {
      const cquant_array_t *y = &out[0];
      const int64_t classes = y->numel / bs;
      if (y->dtype != CQUANT_DT_F32 || classes < 1) r = cli_fail("%s: the first output is not float32 scores per sample", model);
      for (int64_t i = 0; i < bs && !r; i++) {
        const float *row = (const float *)y->data + i * classes;
        int64_t best = 0;
        for (int64_t k = 1; k < classes; k++) best = row[k] > row[best] ? k : best;
        correct += best == ((int64_t *)labels.data)[b + i];
      }
      for (int o = 0; o < cquant_onnx_num_outputs(m); o++) cquant_array_free(&out[o]);
    }
    cquant_array_free(&x);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!r) {
    const double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%s on %s: top-1 %.2f%% (%lld of %lld), %.1f us per sample (batches of %lld, %d threads)\n", model, data,
           100.0 * (double)correct / (double)n, (long long)correct, (long long)n, 1e6 * sec / (double)n, batch, cquant_get_num_threads());
  }
  cquant_array_free(&images);
  cquant_array_free(&labels);
  cquant_onnx_free(m);
  return r;
}
