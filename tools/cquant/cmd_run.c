/* cquant run: execute an ONNX model on inputs from .npy or TensorProto .pb files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int load_input(const char *path, cquant_array_t *a) {
  void *buf;
  size_t len;
  int st = cquant_file_read(path, &buf, &len);
  if (st) return cli_fail_status(st);
  if (len >= 6 && !memcmp(buf, "\x93NUMPY", 6)) st = cquant_npy_parse(buf, len, a);
  else st = cquant_tensorproto_parse(buf, len, a, NULL);
  free(buf);
  if (st) return cli_fail("%s: %s", path, cquant_last_error());
  return 0;
}

/* --profile (or CQUANT_PROFILE=1): every node's time on stderr. */
static void profile_line(void *user, const char *node, const char *op_type, double ms) {
  (void)user;
  fprintf(stderr, "profile: %-32.32s %-24s %9.3f ms\n", node, op_type, ms);
}

static void help(void) {
  printf("usage: cquant run MODEL.onnx --input NAME=FILE [--input NAME=FILE ...] --output-dir DIR [--exec int|float]\n"
         "                  [--profile] [--repeat N]\n\n"
         "Runs the model with cquant's kernels. FILE is a .npy or a serialized ONNX TensorProto (.pb), of any\n"
         "element type. Every graph output is written as DIR/NAME.npy. Operators: `cquant ops` (docs/onnx.md).\n"
         "--exec int (default) first turns QuantizeLinear/DequantizeLinear patterns around Conv, Gemm,\n"
         "MatMul, Add, pooling and reshaping ops into integer operators (cquant's integer runtime);\n"
         "--exec float runs the graph exactly as written (a QDQ model: fake quantization).\n"
         "--profile (or CQUANT_PROFILE=1) prints every node's time on stderr.\n"
         "--repeat N runs the model N times on the same inputs and prints each run's wall time on stderr\n"
         "(\"run K: MS ms\"; the first run includes first-touch costs); the outputs of the last run are written.\n");
}

int cmd_run(int argc, char **argv) {
  const char *model = NULL, *outdir = NULL;
  const char *pe = getenv("CQUANT_PROFILE");
  int n = 0, r = 0, exec_int = 1, profile = pe && *pe == '1';
  const char **names = calloc((size_t)argc, sizeof(char *));
  cquant_array_t *in = calloc((size_t)argc, sizeof(cquant_array_t));
  char **owned = calloc((size_t)argc, sizeof(char *));
  if (!names || !in || !owned) { free(names); free(in); free(owned); return cli_fail("out of memory"); }
  const char **specs = calloc((size_t)argc, sizeof(char *)), *pos[1] = {NULL};
  int exec_choice = 0;
  long long repeat = 1;
  static const char *const execs[] = {"int", "float", NULL};
  cli_opt_t opts[] = {
      {.name = "--input", .alias = "-i", .kind = CLI_LIST, .dst = specs},
      {.name = "--exec", .kind = CLI_CHOICE, .dst = &exec_choice, .choices = execs},
      {.name = "--output-dir", .alias = "-o", .kind = CLI_STR, .dst = &outdir},
      {.name = "--profile", .kind = CLI_FLAG, .dst = &profile, .ival = 1},
      {.name = "--repeat", .kind = CLI_INT, .dst = &repeat, .lo = 1, .hi = 100000},
      {0}};
  int npos;
  if (!specs) r = cli_fail("out of memory");
  else r = cli_args_parse(argc, argv, opts, pos, 1, &npos, help);
  model = pos[0];
  exec_int = exec_choice == 0;
  const int n_inputs = cli_seen(opts, "--input");
  for (int k = 0; !r && k < n_inputs; k++) {
    const char *v = specs[k], *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1]) { r = cli_fail("--input wants NAME=FILE, got '%s'", v); break; }
    owned[n] = strndup(v, (size_t)(eq - v));
    names[n] = owned[n];
    if ((r = load_input(eq + 1, &in[n]))) break;
    n++;
  }
  free(specs);
  cquant_onnx_model_t *m = NULL;
  cquant_array_t *out = NULL;
  if (!r && !model) r = cli_fail("no model given (cquant run --help)");
  if (!r && !outdir) r = cli_fail("no output folder: give --output-dir DIR");
  if (!r) r = cli_mkdirs(outdir);
  int st;
  if (!r && (st = cquant_onnx_load(model, &m))) r = cli_fail_status(st);
  if (!r && exec_int) {
    cquant_onnx_model_t *im;
    if ((st = cquant_onnx_integerize(m, &im, NULL))) r = cli_fail_status(st);
    else {
      cquant_onnx_free(m);
      m = im;
    }
  }
  if (!r) {
    int no = cquant_onnx_num_outputs(m);
    out = calloc((size_t)no + 1, sizeof(cquant_array_t));
    if (!out) r = cli_fail("out of memory");
    else {
      const cquant_onnx_run_options_t opt = {NULL, NULL, profile ? profile_line : NULL, NULL};
      for (long long k = 0; k < repeat && !r; k++) {
        if (k)
          for (int i = 0; i < no; i++) cquant_array_free(&out[i]);
        double t0 = now_ms();
        if ((st = cquant_onnx_run_ex(m, n, names, in, out, &opt))) r = cli_fail("%s: %s", model, cquant_last_error());
        else if (repeat > 1) fprintf(stderr, "run %lld: %.3f ms\n", k + 1, now_ms() - t0);
      }
    }
    for (int i = 0; i < no && !r; i++) {
      char path[4096], fname[256];
      snprintf(fname, sizeof fname, "%s", cquant_onnx_output_name(m, i));
      for (char *c = fname; *c; c++)
        if (*c == '/' || *c == '\\') *c = '_'; /* a tensor name is not a path */
      snprintf(path, sizeof path, "%s/%s.npy", outdir, fname);
      if ((st = cquant_npy_save(path, out[i].dtype, out[i].ndim, out[i].shape, out[i].data))) r = cli_fail_status(st);
      else printf("wrote %s (%s", path, cquant_dtype_info(out[i].dtype)->name);
      if (!r) {
        for (int d = 0; d < out[i].ndim; d++) printf("%s%lld", d ? "x" : " ", (long long)out[i].shape[d]);
        printf(")\n");
      }
    }
    for (int i = 0; out && i < no; i++) cquant_array_free(&out[i]);
  }
  free(out);
  cquant_onnx_free(m);
  for (int i = 0; i < argc; i++) {
    cquant_array_free(&in[i]);
    free(owned[i]);
  }
  free(names);
  free(in);
  free(owned);
  return r == 2 ? 0 : r;
}
