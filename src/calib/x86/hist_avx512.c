/* AVX-512 histogram counting: bin indices for sixteen lanes at once (vmulps by the power-of-two
 * 1/width is exact, vrndscaleps imm 1 floors, vfpclassps finds NaN/Inf), then the increments,
 * lane i into table i % 4 exactly as the reference does. */
#include <immintrin.h>
#include "core/internal.h"

static void hist_count(const float *x, size_t n, float inv, int64_t kmin, int64_t nbins, uint32_t *cnt) {
  const size_t stride = (size_t)(nbins + 1);
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i vkmin = _mm512_set1_epi32((int32_t)kmin), trash = _mm512_set1_epi32((int32_t)nbins);
  /* lane l of a vector is element i0 + l, and i0 is a multiple of 16: table l % 4 */
  const __m512i tab = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3),
                                         _mm512_set1_epi32((int32_t)stride));
  uint32_t idx[16] __attribute__((aligned(64)));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    __mmask16 bad = _mm512_fpclass_ps_mask(v, 0x99);
    __m512i k = _mm512_sub_epi32(_mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v, vinv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)), vkmin);
    k = _mm512_mask_mov_epi32(k, bad, trash);
    _mm512_store_si512(idx, _mm512_add_epi32(k, tab));
    for (int l = 0; l < 16; l++) cnt[idx[l]]++;
  }
  for (; i < n; i++) {
    uint32_t *t = cnt + (i & 3) * stride;
    float v = x[i];
    if (!__builtin_isfinite(v)) { t[nbins]++; continue; }
    t[(int64_t)floorf(v * inv) - kmin]++;
  }
}

void cquant__calib_init_avx512(cquant__kernels_t *k) { k->hist_count = hist_count; }
