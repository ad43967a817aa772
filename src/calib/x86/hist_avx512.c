/* AVX-512 histogram counting: bin indices for a block of 1024 values (vmulps by the power-of-two
 * 1/width is exact, vrndscaleps imm 1 floors, an unsigned compare sends out-of-range values and
 * NaN/Inf to the trash entry), stored, then counted; min/max of the finite values on the way.
 * Computing a block of indices before counting keeps the loads of the counts away from the vector
 * stores that wrote the indices. Lane i goes to table i % 4, as in the reference. */
#include <immintrin.h>
#include "core/internal.h"

#define BLOCK 1024

static size_t hist_count(const float *x, size_t n, float inv, int64_t kmin, int64_t nbins, uint32_t *cnt,
                         float *mn, float *mx) {
  const size_t stride = (size_t)(nbins + 1);
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512 fkmin = _mm512_set1_ps((float)kmin), fkend = _mm512_set1_ps((float)(kmin + nbins));
  const __m512i vkmin = _mm512_set1_epi32((int32_t)kmin), trash = _mm512_set1_epi32((int32_t)nbins);
  const __m512i tab = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3),
                                         _mm512_set1_epi32((int32_t)stride));
  __m512 lo = _mm512_set1_ps(__builtin_inff()), hi = _mm512_set1_ps(-__builtin_inff());
  uint32_t idx[BLOCK] __attribute__((aligned(64)));
  size_t bad = 0;
  for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
    const size_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
    for (size_t i = 0; i < m; i += 16) {
      const __mmask16 live = m - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (m - i)) - 1);
      const __m512 v = _mm512_maskz_loadu_ps(live, x + i0 + i);
      const __mmask16 nf = _mm512_fpclass_ps_mask(v, 0x99) & live, ok = live & (__mmask16)~nf;
      bad += (size_t)__builtin_popcount(nf);
      lo = _mm512_mask_min_ps(lo, ok, v, lo);
      hi = _mm512_mask_max_ps(hi, ok, v, hi);
      const __m512 f = _mm512_roundscale_ps(_mm512_mul_ps(v, vinv), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
      /* in range: kmin <= f < kmin + nbins (false for NaN), compared in float before converting */
      const __mmask16 in = _mm512_cmp_ps_mask(f, fkmin, _CMP_GE_OQ) & _mm512_cmp_ps_mask(f, fkend, _CMP_LT_OQ) & ok;
      __m512i k = _mm512_mask_sub_epi32(trash, in, _mm512_cvtps_epi32(f), vkmin);
      _mm512_store_si512(idx + i, _mm512_add_epi32(k, tab));
    }
    for (size_t i = 0; i < m; i++) cnt[idx[i]]++; /* tail lanes of a short block are not read */
  }
  *mn = _mm512_reduce_min_ps(lo);
  *mx = _mm512_reduce_max_ps(hi);
  return bad;
}

void cquant__calib_init_avx512(cquant__kernels_t *k) { k->hist_count = hist_count; }
