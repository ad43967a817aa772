/* Bias quantization (docs/quantization.md, eq. 28): shared by PTQ's QDQ export and the QDQ ->
 * integer rewrite, so both give a float bias the same int32 values. */
#include <math.h>
#include "core/internal.h"

void cquant__bias_quantize(const float *b, int64_t n, float sx, const float *sw, int64_t n_sw, int32_t *q, float *scale) {
  for (int64_t c = 0; c < n; c++) {
    const float bs = sx * sw[n_sw == 1 ? 0 : c];
    const double v = rint((double)b[c] / (double)bs);
    q[c] = (int32_t)(v > 2147483647.0 ? 2147483647.0 : v < -2147483648.0 ? -2147483648.0 : v);
    if (scale) scale[c] = bs;
  }
}
