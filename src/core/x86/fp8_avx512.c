/* AVX-512 scaled-FP8 kernels (eq. 16): the encoder of ref/convert_ref.c (eq. 2, 4) on sixteen
 * lanes with integer operations (vpsrlvd / vpsllvd for the per-lane shift), and decoding by a
 * 256-entry table gather. Bit-identical to the reference. */
#include <immintrin.h>
#include "core/internal.h"

static inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

typedef struct {
  int mbits, bias, max_enc, nan_enc, ovf_enc;
} fmt_t;
static const fmt_t FMT[2] = {{3, 7, 0x7e, 0x7f, 0x7f}, {2, 15, 0x7b, 0x7e, 0x7c}};

static inline __m512i encode16(__m512 v, const fmt_t *f, cquant_fp8_mode_t mode) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(u, 24), _mm512_set1_epi32(0x80));
  const __m512i ax = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  const __m512i e = _mm512_srli_epi32(ax, 23);
  const __m512i mant = _mm512_or_si512(_mm512_and_si512(ax, _mm512_set1_epi32(0x7fffff)), _mm512_set1_epi32(0x800000));
  const __m512i E = _mm512_sub_epi32(e, _mm512_set1_epi32(127));
  const __m512i emin = _mm512_set1_epi32(1 - f->bias);
  /* shift = 23 - M + max(0, emin - E), at most 31 (then r = 0 and no rounding up, as in eq. 2) */
  __m512i shift = _mm512_add_epi32(_mm512_set1_epi32(23 - f->mbits), _mm512_max_epi32(_mm512_sub_epi32(emin, E), _mm512_setzero_si512()));
  shift = _mm512_min_epi32(shift, _mm512_set1_epi32(31));
  const __mmask16 normal = _mm512_cmpge_epi32_mask(E, emin);
  const __m512i base = _mm512_maskz_slli_epi32(normal, _mm512_add_epi32(E, _mm512_set1_epi32(f->bias - 1)), (unsigned)f->mbits);
  const __m512i r = _mm512_srlv_epi32(mant, shift);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i rem = _mm512_and_si512(mant, _mm512_sub_epi32(_mm512_sllv_epi32(one, shift), one));
  const __m512i half = _mm512_sllv_epi32(one, _mm512_sub_epi32(shift, one));
  const __mmask16 up = _mm512_cmpgt_epi32_mask(rem, half) |
                       (_mm512_cmpeq_epi32_mask(rem, half) & _mm512_test_epi32_mask(r, one));
  __m512i enc = _mm512_mask_add_epi32(_mm512_add_epi32(base, r), up, _mm512_add_epi32(base, r), one);
  const __m512i over = _mm512_set1_epi32(mode == CQUANT_FP8_SATURATE ? f->max_enc : f->ovf_enc);
  enc = _mm512_mask_mov_epi32(enc, _mm512_cmpgt_epi32_mask(enc, _mm512_set1_epi32(f->max_enc)), over);
  enc = _mm512_maskz_mov_epi32(_mm512_cmpneq_epi32_mask(e, _mm512_setzero_si512()), enc); /* zero, f32 subnormal */
  const __m512i inf = _mm512_set1_epi32(0x7f800000);
  enc = _mm512_mask_mov_epi32(enc, _mm512_cmpeq_epi32_mask(ax, inf), over);
  enc = _mm512_mask_mov_epi32(enc, _mm512_cmpgt_epi32_mask(ax, inf), _mm512_set1_epi32(f->nan_enc));
  return _mm512_or_si512(enc, sign);
}

static void fp8_q(const float *x, size_t n, const float *scale, int vec, int fmt, cquant_fp8_mode_t mode,
                  cquant_round_t rnd, uint8_t *q) {
  const fmt_t *f = &FMT[fmt];
  const __m512 s1 = _mm512_set1_ps(scale[0]), inv1 = _mm512_set1_ps(1.0f / scale[0]);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    __m512 s = vec ? _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, scale + i) : s1;
    __m512 v;
    if (rnd == CQUANT_ROUND_RECIP) v = _mm512_mul_ps(xv, vec ? _mm512_div_ps(_mm512_set1_ps(1.0f), s) : inv1);
    else v = _mm512_div_ps(xv, s);
    _mm512_mask_cvtepi32_storeu_epi8(q + i, m, encode16(v, f, mode));
  }
}

/* value(code) for every code, built once from the scalar decoder */
static float table[2][256];
static void build_tables(void) {
  for (int c = 0; c < 256; c++) {
    table[0][c] = cquant_f8e4m3_to_f32((uint8_t)c);
    table[1][c] = cquant_f8e5m2_to_f32((uint8_t)c);
  }
}

static void fp8_dq(const uint8_t *q, size_t n, const float *scale, int vec, int fmt, float *y) {
  const float *t = table[fmt];
  const __m512 s1 = _mm512_set1_ps(scale[0]);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512i idx = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, q + i));
    __m512 v = _mm512_i32gather_ps(idx, t, 4);
    __m512 s = vec ? _mm512_maskz_loadu_ps(m, scale + i) : s1;
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, s));
  }
}

void cquant__fp8_init_avx512(cquant__kernels_t *k) {
  build_tables();
  k->fp8_q = fp8_q;
  k->fp8_dq = fp8_dq;
}
