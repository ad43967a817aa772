/* cquant error REF.npy TEST.npy [--qparams QP.json] */
#include <string.h>
#include "cli.h"

int cmd_error(int argc, char **argv) {
  const char *ref = NULL, *test = NULL, *qpath = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: cquant error REF.npy TEST.npy [--qparams QP.json]\n\n"
             "Compares TEST (e.g. a dequantized or fake-quantized tensor) with REF: MSE, SQNR in dB,\n"
             "max abs error. With the parameters used, it also splits the MSE into clipping error\n"
             "(elements whose round(r/s)+z fell outside [qmin, qmax]) and rounding error.\n");
      return 0;
    } else if (!strcmp(a, "--qparams")) { if (!(qpath = cli_value(argc, argv, &i))) return 1; }
    else if (a[0] == '-' && a[1]) return cli_fail("unknown option '%s' (cquant error --help)", a);
    else if (!ref) ref = a;
    else if (!test) test = a;
    else return cli_fail("unexpected argument '%s'", a);
  }
  if (!ref || !test) return cli_fail("error needs REF.npy and TEST.npy (cquant error --help)");
  cquant_array_t x, y;
  int r;
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
