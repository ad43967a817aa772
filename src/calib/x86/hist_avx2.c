/* AVX2 histogram counting: bin indices for eight lanes (vmulps, vroundps imm 1, vcvtps2dq), NaN/Inf
 * found by their exponent bits, then the increments, lane i into table i % 4 as the reference. */
#include <immintrin.h>
#include "core/internal.h"

static void hist_count(const float *x, size_t n, float inv, int64_t kmin, int64_t nbins, uint32_t *cnt) {
  const size_t stride = (size_t)(nbins + 1);
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i vkmin = _mm256_set1_epi32((int32_t)kmin), trash = _mm256_set1_epi32((int32_t)nbins);
  const __m256i expm = _mm256_set1_epi32(0x7f800000);
  const __m256i tab = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3), _mm256_set1_epi32((int32_t)stride));
  uint32_t idx[8] __attribute__((aligned(32)));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256i bad = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), expm), expm);
    __m256i k = _mm256_sub_epi32(_mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v, vinv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)), vkmin);
    k = _mm256_blendv_epi8(k, trash, bad);
    _mm256_store_si256((__m256i *)idx, _mm256_add_epi32(k, tab));
    for (int l = 0; l < 8; l++) cnt[idx[l]]++;
  }
  for (; i < n; i++) {
    uint32_t *t = cnt + (i & 3) * stride;
    float v = x[i];
    if (!__builtin_isfinite(v)) { t[nbins]++; continue; }
    t[(int64_t)floorf(v * inv) - kmin]++;
  }
}

void cquant__calib_init_avx2(cquant__kernels_t *k) { k->hist_count = hist_count; }
