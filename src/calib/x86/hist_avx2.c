/* AVX2 histogram counting, as hist_avx512.c on eight lanes (NaN/Inf found by their exponent bits). */
#include <immintrin.h>
#include "core/internal.h"

#define BLOCK 1024

static size_t hist_count(const float *x, size_t n, float inv, int64_t kmin, int64_t nbins, uint32_t *cnt,
                         float *mn, float *mx) {
  const size_t stride = (size_t)(nbins + 1);
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256 fkmin = _mm256_set1_ps((float)kmin), fkend = _mm256_set1_ps((float)(kmin + nbins));
  const __m256 pinf = _mm256_set1_ps(__builtin_inff()), ninf = _mm256_set1_ps(-__builtin_inff());
  const __m256i vkmin = _mm256_set1_epi32((int32_t)kmin), trash = _mm256_set1_epi32((int32_t)nbins);
  const __m256i expm = _mm256_set1_epi32(0x7f800000);
  const __m256i tab = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3), _mm256_set1_epi32((int32_t)stride));
  __m256 lo = pinf, hi = ninf;
  __m256i nbad = _mm256_setzero_si256();
  uint32_t idx[BLOCK] __attribute__((aligned(32)));
  float rl = __builtin_inff(), rh = -__builtin_inff();
  size_t bad = 0, i0 = 0;
  for (; i0 + BLOCK <= n; i0 += BLOCK) {
    for (size_t i = 0; i < BLOCK; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i0 + i);
      const __m256 nf = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(v), expm), expm));
      nbad = _mm256_sub_epi32(nbad, _mm256_castps_si256(nf));
      lo = _mm256_min_ps(_mm256_blendv_ps(v, pinf, nf), lo);
      hi = _mm256_max_ps(_mm256_blendv_ps(v, ninf, nf), hi);
      const __m256 f = _mm256_round_ps(_mm256_mul_ps(v, vinv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
      const __m256 in = _mm256_and_ps(_mm256_cmp_ps(f, fkmin, _CMP_GE_OQ), _mm256_cmp_ps(f, fkend, _CMP_LT_OQ));
      __m256i k = _mm256_blendv_epi8(trash, _mm256_sub_epi32(_mm256_cvtps_epi32(f), vkmin), _mm256_castps_si256(in));
      _mm256_store_si256((__m256i *)(idx + i), _mm256_add_epi32(k, tab));
    }
    for (size_t i = 0; i < BLOCK; i++) cnt[idx[i]]++;
  }
  float l[8], h[8];
  int32_t b[8];
  _mm256_storeu_ps(l, lo);
  _mm256_storeu_ps(h, hi);
  _mm256_storeu_si256((__m256i *)b, nbad);
  for (int j = 0; j < 8; j++) {
    rl = l[j] < rl ? l[j] : rl;
    rh = h[j] > rh ? h[j] : rh;
    bad += (size_t)(uint32_t)b[j];
  }
  for (size_t i = i0; i < n; i++) { /* the tail: the reference's steps */
    uint32_t *t = cnt + (i & 3) * stride;
    const float v = x[i];
    if (!__builtin_isfinite(v)) { bad++; t[nbins]++; continue; }
    rl = v < rl ? v : rl;
    rh = v > rh ? v : rh;
    const float f = floorf(v * inv);
    if (f < (float)kmin || f >= (float)(kmin + nbins)) t[nbins]++;
    else t[(int64_t)f - kmin]++;
  }
  *mn = rl;
  *mx = rh;
  return bad;
}

void cquant__calib_init_avx2(cquant__kernels_t *k) { k->hist_count = hist_count; }
