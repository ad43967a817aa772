/* Scalar histogram counting (docs/calibration.md, eq. C1): the reference for the SIMD variants. */
#include "core/internal.h"

static size_t hist_count_ref(const float *x, size_t n, float inv, int64_t kmin, int64_t nbins, uint32_t *cnt,
                             float *mn, float *mx) {
  float lo = __builtin_inff(), hi = -__builtin_inff();
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t *t = cnt + (i & 3) * (size_t)(nbins + 1);
    const float v = x[i];
    if (!__builtin_isfinite(v)) {
      bad++;
      t[nbins]++;
      continue;
    }
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    const float f = floorf(v * inv);
    /* out of the covered bins (or beyond int range): the trash entry */
    if (f < (float)kmin || f >= (float)(kmin + nbins)) t[nbins]++;
    else t[(int64_t)f - kmin]++;
  }
  *mn = lo;
  *mx = hi;
  return bad;
}

void cquant__calib_init_ref(cquant__kernels_t *k) { k->hist_count = hist_count_ref; }
