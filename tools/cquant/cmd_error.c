/* cquant error REF.npy TEST.npy [--qparams QP.json] */
#include <string.h>
#include "cli.h"

static void help(void) {
  printf("usage: cquant error REF.npy TEST.npy [--qparams QP.json]\n\n"
         "Compares TEST (e.g. a dequantized or fake-quantized tensor) with REF: MSE, SQNR in dB,\n"
         "max abs error. With the parameters used, it also splits the MSE into clipping error\n"
         "(elements whose round(r/s)+z fell outside [qmin, qmax]) and rounding error.\n");
}

int cmd_error(int argc, char **argv) {
  const char *qpath = NULL, *pos[2] = {NULL, NULL};
  cli_opt_t opts[] = {{.name = "--qparams", .kind = CLI_STR, .dst = &qpath}, {0}};
  int npos, r = cli_args_parse(argc, argv, opts, pos, 2, &npos, help);
  if (r) return r == 2 ? 0 : 1;
  const char *ref = pos[0], *test = pos[1];
  if (!ref || !test) return cli_fail("error needs REF.npy and TEST.npy (cquant error --help)");
  cquant_array_t x, y;
  if ((r = cli_load_float(ref, &x))) return r;
  if ((r = cli_load_float(test, &y))) { cquant_array_free(&x); return r; }
  cquant_qparams_t *qp = NULL;
  if (x.ndim != y.ndim || memcmp(x.shape, y.shape, sizeof(int64_t) * (size_t)x.ndim)) {
    r = cli_fail("%s and %s have different shapes", ref, test);
    goto done;
  }
  int st;
  if (qpath) {
    if ((st = cquant_qparams_load_for(qpath, x.ndim, x.shape, &qp, NULL))) { r = cli_fail_status(st); goto done; }
    if (qp->ndim != x.ndim || memcmp(qp->shape, x.shape, sizeof(int64_t) * (size_t)x.ndim)) {
      r = cli_fail("%s describes another shape than %s", qpath, ref);
      goto done;
    }
  }
  cquant_error_report_t rep;
  if ((st = cquant_error_report(x.data, y.data, (size_t)x.numel, qp, &rep))) { r = cli_fail_status(st); goto done; }
  printf("%s vs %s:\n", test, ref);
  cli_print_report(stdout, &rep);
done:
  cquant_qparams_destroy(qp);
  cquant_array_free(&x);
  cquant_array_free(&y);
  return r;
}
