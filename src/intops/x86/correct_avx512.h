/* Internal, for the AVX-512 GEMM kernels (VNNI, AMX): the correction of eq. 22a for one row of up
 * to 32 columns, C = dot + colterm[n] - zb[n] rowsum, masked to the nr live columns. */
#ifndef CQUANT_INTOPS_CORRECT_AVX512_H
#define CQUANT_INTOPS_CORRECT_AVX512_H

#include <immintrin.h>
#include <stdint.h>

typedef struct {
  __mmask16 m0, m1;
  __m512i ct0, ct1, z0, z1;
} cquant__corr_t;

static inline cquant__corr_t cquant__corr_init(const int32_t *colterm, const int32_t *zb, int nr) {
  cquant__corr_t c;
  c.m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
  c.m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
  c.ct0 = _mm512_maskz_loadu_epi32(c.m0, colterm);
  c.ct1 = _mm512_maskz_loadu_epi32(c.m1, colterm + 16);
  c.z0 = _mm512_maskz_loadu_epi32(c.m0, zb);
  c.z1 = _mm512_maskz_loadu_epi32(c.m1, zb + 16);
  return c;
}

static inline void cquant__corr_store(const cquant__corr_t *c, __m512i dot0, __m512i dot1, int32_t rowsum, int32_t *C) {
  const __m512i rs = _mm512_set1_epi32(rowsum);
  _mm512_mask_storeu_epi32(C, c->m0, _mm512_sub_epi32(_mm512_add_epi32(dot0, c->ct0), _mm512_mullo_epi32(c->z0, rs)));
  if (c->m1) _mm512_mask_storeu_epi32(C + 16, c->m1, _mm512_sub_epi32(_mm512_add_epi32(dot1, c->ct1), _mm512_mullo_epi32(c->z1, rs)));
}

#endif
