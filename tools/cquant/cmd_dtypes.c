/* cquant dtypes: the seed's table of data types, extended to every type cquant handles. */
#include <string.h>
#include "cli.h"

static void help(void) {
  printf("usage: cquant dtypes\n\nPrints, per data type: sign, exponent and mantissa bits, min (smallest\n"
         "positive normal for floats, qmin for integers), max, and resolution (floats:\n"
         "10^-floor(mantissa_bits * log10 2), as torch.finfo; integers: 1).\n");
}

int cmd_dtypes(int argc, char **argv) {
  int npos, pr = cli_args_parse(argc, argv, NULL, NULL, 0, &npos, help);
  if (pr) return pr == 2 ? 0 : 1;
  printf("| datatype | sign | exponent | mantissa | min | max | resolution |\n");
  printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  static const cquant_dtype_t order[] = {CQUANT_DT_F32, CQUANT_DT_F16, CQUANT_DT_BF16, CQUANT_DT_F8E4M3,
                                         CQUANT_DT_F8E5M2, CQUANT_DT_S32, CQUANT_DT_S16, CQUANT_DT_S8,
                                         CQUANT_DT_U8, CQUANT_DT_S4, CQUANT_DT_U4, CQUANT_DT_S2, CQUANT_DT_U2};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    const cquant_dtype_info_t *t = cquant_dtype_info(order[i]);
    if (t->is_float) {
      /* %g prints six significant digits: 1.17549e-38, 3.40282e+38, 1e-06, as the seed shows */
      printf("| %s | %d | %d | %d | %g | %g | %g |\n", t->name, t->is_signed, t->exponent_bits,
             t->mantissa_bits, t->min_normal, t->max, t->resolution);
    } else {
      printf("| %s | %d | 0 | %d | %lld | %lld | 1 |\n", t->name, t->is_signed, t->bits - t->is_signed,
             (long long)t->qmin, (long long)t->qmax);
    }
  }
  return 0;
}
