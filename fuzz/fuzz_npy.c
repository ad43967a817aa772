/* libFuzzer target: the .npy parser must refuse or accept any bytes without crashing or leaking. */
#include <stdint.h>
#include <string.h>
#include "cquant/cquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cquant_array_t a;
  if (cquant_npy_parse(data, size, &a) == 0) {
    int64_t n = 1;
    for (int d = 0; d < a.ndim; d++) n *= a.shape[d];
    if (n != a.numel) __builtin_trap();
    cquant_array_free(&a);
  }
  return 0;
}
