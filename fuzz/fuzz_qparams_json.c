/* libFuzzer target: the qparams JSON reader; whatever it accepts must be usable parameters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/cquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  cquant_qparams_t *qp;
  if (cquant_qparams_from_json(s, &qp, NULL) == 0) {
    if (cquant_qparams_validate(qp) != 0) __builtin_trap();
    cquant_qparams_destroy(qp);
  }
  free(s);
  return 0;
}
