/* libFuzzer target: the per-node overrides JSON reader (cquant_ptq_overrides_parse). Whatever it
 * accepts parses again to the same number of nodes; whatever it refuses leaves an
 * error message and nothing allocated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/cquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cquant_ptq_overrides_t *ov = NULL, *again = NULL;
  const int st = cquant_ptq_overrides_parse((const char *)data, size, &ov); /* not NUL-terminated: the length bounds it */
  if (st == 0) {
    if (!ov || cquant_ptq_overrides_count(ov) < 0) __builtin_trap();
    if (cquant_ptq_overrides_parse((const char *)data, size, &again) != 0 || cquant_ptq_overrides_count(again) != cquant_ptq_overrides_count(ov))
      __builtin_trap();
  } else {
    const char *e = cquant_last_error();
    if (ov || !e || !*e) __builtin_trap();
  }
  cquant_ptq_overrides_free(ov);
  cquant_ptq_overrides_free(again);
  return 0;
}
