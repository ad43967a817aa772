/* Scalar histogram counting (docs/calibration.md, eq. C1): the reference for the SIMD variants. */
#include "core/internal.h"

static void hist_count_ref(const float *x, size_t n, float inv, int64_t kmin, int64_t nbins, uint32_t *cnt) {
  for (size_t i = 0; i < n; i++) {
    uint32_t *t = cnt + (i & 3) * (size_t)(nbins + 1);
    float v = x[i];
    if (!__builtin_isfinite(v)) {
      t[nbins]++;
      continue;
    }
    t[(int64_t)floorf(v * inv) - kmin]++;
  }
}

void cquant__calib_init_ref(cquant__kernels_t *k) { k->hist_count = hist_count_ref; }
