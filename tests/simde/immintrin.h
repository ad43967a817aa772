/* test_avx512_emu only: <immintrin.h> with the AVX-512 intrinsics emulated by SIMDe (Debian's
 * libsimde-dev) on top of the host's AVX2 + FMA, so the AVX-512 float kernels are checked bit for
 * bit against the reference on machines without AVX-512 too. SIMDe's 512-bit FMA is two 256-bit
 * vfmadd (one rounding per lane, as the hardware). The masked load and store SIMDe 0.7.4 lacks are
 * written here from the instructions' definitions (lane by lane, or the
 * AVX2 / F16C instruction on each half, or GCC's own reduction order): a masked-off lane is neither read nor written, as on the hardware. */
#ifndef CQUANT_TEST_SIMDE_IMMINTRIN_H
#define CQUANT_TEST_SIMDE_IMMINTRIN_H
#include_next <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

static inline simde__m512 cquant_emu_maskz_loadu_ps(simde__mmask16 k, const void *p) {
  float v[16];
  for (int i = 0; i < 16; i++) v[i] = (k >> i) & 1 ? ((const float *)p)[i] : 0.0f;
  simde__m512 r;
  memcpy(&r, v, sizeof r);
  return r;
}

static inline void cquant_emu_mask_storeu_ps(void *p, simde__mmask16 k, simde__m512 a) {
  float v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) ((float *)p)[i] = v[i];
}

static inline simde__mmask16 cquant_emu_cmplt_epu32_mask(simde__m512i a, simde__m512i b) {
  uint32_t u[16], v[16];
  memcpy(u, &a, sizeof u), memcpy(v, &b, sizeof v);
  simde__mmask16 k = 0;
  for (int i = 0; i < 16; i++) k |= (simde__mmask16)((u[i] < v[i]) << i);
  return k;
}

static inline simde__mmask16 cquant_emu_load_mask16(const simde__mmask16 *p) { return *p; }

/* vcvtps2dq under the default rounding (nearest even; NaN and out of range give INT32_MIN): the
 * AVX2 instruction on each half */
static inline simde__m512i cquant_emu_cvtps_epi32(simde__m512 a) {
  __m256 h[2];
  __m256i r[2];
  memcpy(h, &a, sizeof h);
  r[0] = _mm256_cvtps_epi32(h[0]), r[1] = _mm256_cvtps_epi32(h[1]);
  simde__m512i o;
  memcpy(&o, r, sizeof o);
  return o;
}

/* vcvtps2ph: F16C's on each half, the same rounding immediate */
#define cquant_emu_cvtps_ph(a, imm)                                               \
  ({                                                                              \
    __m256 h_[2];                                                                 \
    simde__m512 a_ = (a);                                                         \
    memcpy(h_, &a_, sizeof h_);                                                   \
    _mm256_set_m128i(_mm256_cvtps_ph(h_[1], (imm)), _mm256_cvtps_ph(h_[0], (imm))); \
  })

/* vfpclassps: bit 0 QNaN, 1 +0, 2 -0, 3 +Inf, 4 -Inf, 5 denormal, 6 negative finite, 7 SNaN */
static inline simde__mmask16 cquant_emu_fpclass_ps_mask(simde__m512 a, int imm) {
  uint32_t u[16];
  memcpy(u, &a, sizeof u);
  simde__mmask16 k = 0;
  for (int i = 0; i < 16; i++) {
    const uint32_t e = (u[i] >> 23) & 0xff, m = u[i] & 0x7fffff, neg = u[i] >> 31;
    const int c = (e == 255 && m && (m & 0x400000)) << 0 | (u[i] == 0) << 1 | (u[i] == 0x80000000u) << 2 | (u[i] == 0x7f800000u) << 3 |
                  (u[i] == 0xff800000u) << 4 | (e == 0 && m) << 5 | (neg && e != 255) << 6 | (e == 255 && m && !(m & 0x400000)) << 7;
    k |= (simde__mmask16)((c & imm) != 0) << i;
  }
  return k;
}

/* GCC's _mm512_reduce_min_ps / max_ps, step by step: the halves, then the quarters, then pairs
 * (vminps / vmaxps keep the second operand on NaN and on equal zeros, so the order is the result) */
#define CQUANT_EMU_REDUCE(name, op256, op128)                        \
  static inline float name(simde__m512 a) {                          \
    __m256 h[2];                                                     \
    memcpy(h, &a, sizeof h);                                         \
    const __m256 t3 = op256(h[1], h[0]);                             \
    const __m128 t6 = op128(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3)); \
    const __m128 t8 = op128(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));      \
    return _mm_cvtss_f32(op128(t8, _mm_shuffle_ps(t8, t8, _MM_SHUFFLE(0, 1, 0, 1))));  \
  }
CQUANT_EMU_REDUCE(cquant_emu_reduce_min_ps, _mm256_min_ps, _mm_min_ps)
CQUANT_EMU_REDUCE(cquant_emu_reduce_max_ps, _mm256_max_ps, _mm_max_ps)

/* vpmovsdb to memory under a mask: each int32 lane saturated to int8 */
static inline void cquant_emu_mask_cvtsepi32_storeu_epi8(void *p, simde__mmask16 k, simde__m512i a) {
  int32_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) ((int8_t *)p)[i] = (int8_t)(v[i] < -128 ? -128 : v[i] > 127 ? 127 : v[i]);
}

static inline void cquant_emu_mask_storeu_epi16(void *p, simde__mmask16 k, __m256i a) {
  uint16_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) ((uint16_t *)p)[i] = v[i];
}

static inline simde__mmask16 cquant_emu_cmpneq_epi32_mask(simde__m512i a, simde__m512i b) {
  int32_t u[16], v[16];
  memcpy(u, &a, sizeof u), memcpy(v, &b, sizeof v);
  simde__mmask16 k = 0;
  for (int i = 0; i < 16; i++) k |= (simde__mmask16)((u[i] != v[i]) << i);
  return k;
}

static inline simde__m512i cquant_emu_maskz_slli_epi32(simde__mmask16 k, simde__m512i a, unsigned imm) {
  uint32_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++) v[i] = (k >> i) & 1 ? (imm > 31 ? 0 : v[i] << imm) : 0;
  simde__m512i r;
  memcpy(&r, v, sizeof r);
  return r;
}

/* vpmovusdb: each lane as an unsigned doubleword, saturated to 0..255 */
static inline void cquant_emu_mask_cvtusepi32_storeu_epi8(void *p, simde__mmask16 k, simde__m512i a) {
  uint32_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) ((uint8_t *)p)[i] = (uint8_t)(v[i] > 255u ? 255u : v[i]);
}

/* vpmovdb: the low byte of each lane */
static inline void cquant_emu_mask_cvtepi32_storeu_epi8(void *p, simde__mmask16 k, simde__m512i a) {
  uint32_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) ((uint8_t *)p)[i] = (uint8_t)v[i];
}

static inline __m256i cquant_emu_maskz_loadu_epi16(simde__mmask16 k, const void *p) {
  uint16_t v[16];
  for (int i = 0; i < 16; i++) v[i] = (k >> i) & 1 ? ((const uint16_t *)p)[i] : 0;
  __m256i r;
  memcpy(&r, v, sizeof r);
  return r;
}

static inline simde__m512 cquant_emu_mask_loadu_ps(simde__m512 src, simde__mmask16 k, const void *p) {
  float v[16];
  memcpy(v, &src, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) v[i] = ((const float *)p)[i];
  simde__m512 r;
  memcpy(&r, v, sizeof r);
  return r;
}

/* vcvtph2ps: F16C's on each half (exact) */
static inline simde__m512 cquant_emu_cvtph_ps(__m256i a) {
  __m256 h[2] = {_mm256_cvtph_ps(_mm256_castsi256_si128(a)), _mm256_cvtph_ps(_mm256_extracti128_si256(a, 1))};
  simde__m512 r;
  memcpy(&r, h, sizeof r);
  return r;
}

/* vpmovsdw / vpmovdw to memory under a mask: saturated to int16, or the low 16 bits */
static inline void cquant_emu_mask_cvtsepi32_storeu_epi16(void *p, simde__mmask16 k, simde__m512i a) {
  int32_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) ((int16_t *)p)[i] = (int16_t)(v[i] < -32768 ? -32768 : v[i] > 32767 ? 32767 : v[i]);
}

static inline void cquant_emu_mask_cvtepi32_storeu_epi16(void *p, simde__mmask16 k, simde__m512i a) {
  uint32_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) ((uint16_t *)p)[i] = (uint16_t)v[i];
}

/* vgatherdps: lane i from base + idx[i] * scale */
static inline simde__m512 cquant_emu_i32gather_ps(simde__m512i idx, const void *base, int scale) {
  int32_t ix[16];
  float v[16];
  memcpy(ix, &idx, sizeof ix);
  for (int i = 0; i < 16; i++) memcpy(&v[i], (const char *)base + (int64_t)ix[i] * scale, sizeof(float));
  simde__m512 r;
  memcpy(&r, v, sizeof r);
  return r;
}

static inline simde__m512i cquant_emu_cvtepu8_epi32(__m128i a) {
  uint8_t b[16];
  int32_t v[16];
  memcpy(b, &a, sizeof b);
  for (int i = 0; i < 16; i++) v[i] = b[i];
  simde__m512i r;
  memcpy(&r, v, sizeof r);
  return r;
}

static inline __m128i cquant_emu_maskz_loadu_epi8(simde__mmask16 k, const void *p) {
  uint8_t v[16];
  for (int i = 0; i < 16; i++) v[i] = (k >> i) & 1 ? ((const uint8_t *)p)[i] : 0;
  __m128i r;
  memcpy(&r, v, sizeof r);
  return r;
}

static inline simde__m512i cquant_emu_cvtepi8_epi32(__m128i a) {
  int8_t b[16];
  int32_t v[16];
  memcpy(b, &a, sizeof b);
  for (int i = 0; i < 16; i++) v[i] = b[i];
  simde__m512i r;
  memcpy(&r, v, sizeof r);
  return r;
}

static inline simde__m512i cquant_emu_cvtepu16_epi32(__m256i a) {
  uint16_t b[16];
  int32_t v[16];
  memcpy(b, &a, sizeof b);
  for (int i = 0; i < 16; i++) v[i] = b[i];
  simde__m512i r;
  memcpy(&r, v, sizeof r);
  return r;
}

static inline void cquant_emu_mask_storeu_epi32(void *p, simde__mmask16 k, simde__m512i a) {
  uint32_t v[16];
  memcpy(v, &a, sizeof v);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) memcpy((char *)p + 4 * i, &v[i], 4);
}

static inline simde__m512i cquant_emu_cvtepi16_epi32(__m256i a) {
  int16_t b[16];
  int32_t v[16];
  memcpy(b, &a, sizeof b);
  for (int i = 0; i < 16; i++) v[i] = b[i];
  simde__m512i r;
  memcpy(&r, v, sizeof r);
  return r;
}

/* vcvtdq2ps: AVX2's on each half (the default rounding) */
static inline simde__m512 cquant_emu_cvtepi32_ps(simde__m512i a) {
  __m256i h[2];
  memcpy(h, &a, sizeof h);
  __m256 f[2] = {_mm256_cvtepi32_ps(h[0]), _mm256_cvtepi32_ps(h[1])};
  simde__m512 r;
  memcpy(&r, f, sizeof r);
  return r;
}

/* a non-temporal store is a store here */
static inline void cquant_emu_stream_ps(void *p, simde__m512 a) { memcpy(p, &a, sizeof a); }
static inline void cquant_emu_stream_si512(void *p, simde__m512i a) { memcpy(p, &a, sizeof a); }

static inline simde__m512i cquant_emu_maskz_loadu_epi32(simde__mmask16 k, const void *p) {
  uint32_t v[16];
  for (int i = 0; i < 16; i++) {
    v[i] = 0;
    if ((k >> i) & 1) memcpy(&v[i], (const char *)p + 4 * i, 4);
  }
  simde__m512i r;
  memcpy(&r, v, sizeof r);
  return r;
}

/* vrndscaleps: 2^-M round(2^M x), M = imm >> 4, rounding imm & 3 (imm & 4: the default, nearest
 * even). SIMDe 0.7.4 misreads the suppress-exceptions bit (imm 9 rounds to halves), so this one
 * replaces its own. */
static inline simde__m512 cquant_emu_roundscale_ps(simde__m512 a, int imm) {
  float v[16];
  memcpy(v, &a, sizeof v);
  const int mode = imm & 4 ? 0 : imm & 3, sh = (imm >> 4) & 15;
  for (int i = 0; i < 16; i++) {
    const float x = ldexpf(v[i], sh);
    v[i] = ldexpf(mode == 0 ? nearbyintf(x) : mode == 1 ? floorf(x) : mode == 2 ? ceilf(x) : truncf(x), -sh);
  }
  simde__m512 r;
  memcpy(&r, v, sizeof r);
  return r;
}

#define _mm512_maskz_loadu_ps cquant_emu_maskz_loadu_ps
#define _mm512_mask_storeu_ps cquant_emu_mask_storeu_ps
#define _mm512_cmplt_epu32_mask cquant_emu_cmplt_epu32_mask
#define _load_mask16 cquant_emu_load_mask16
#define _mm512_cvtps_epi32 cquant_emu_cvtps_epi32
#define _mm512_cvtps_ph cquant_emu_cvtps_ph
#define _mm512_fpclass_ps_mask cquant_emu_fpclass_ps_mask
#define _mm512_reduce_min_ps cquant_emu_reduce_min_ps
#define _mm512_reduce_max_ps cquant_emu_reduce_max_ps
#define _mm512_mask_cvtsepi32_storeu_epi8 cquant_emu_mask_cvtsepi32_storeu_epi8
#define _mm256_mask_storeu_epi16 cquant_emu_mask_storeu_epi16
#define _mm512_cmpneq_epi32_mask cquant_emu_cmpneq_epi32_mask
#define _mm512_maskz_slli_epi32 cquant_emu_maskz_slli_epi32
#define _mm512_mask_cvtusepi32_storeu_epi8 cquant_emu_mask_cvtusepi32_storeu_epi8
#define _mm512_mask_cvtepi32_storeu_epi8 cquant_emu_mask_cvtepi32_storeu_epi8
#define _mm256_maskz_loadu_epi16 cquant_emu_maskz_loadu_epi16
#define _mm512_mask_loadu_ps cquant_emu_mask_loadu_ps
#define _mm512_cvtph_ps cquant_emu_cvtph_ps
#define _mm512_mask_cvtsepi32_storeu_epi16 cquant_emu_mask_cvtsepi32_storeu_epi16
#define _mm512_mask_cvtepi32_storeu_epi16 cquant_emu_mask_cvtepi32_storeu_epi16
#define _mm512_i32gather_ps cquant_emu_i32gather_ps
#define _mm512_cvtepu8_epi32 cquant_emu_cvtepu8_epi32
#define _mm_maskz_loadu_epi8 cquant_emu_maskz_loadu_epi8
#define _mm512_cvtepi8_epi32 cquant_emu_cvtepi8_epi32
#define _mm512_cvtepu16_epi32 cquant_emu_cvtepu16_epi32
#define _mm512_mask_storeu_epi32 cquant_emu_mask_storeu_epi32
#define _mm512_cvtepi16_epi32 cquant_emu_cvtepi16_epi32
#define _mm512_cvtepi32_ps cquant_emu_cvtepi32_ps
#define _mm512_stream_ps cquant_emu_stream_ps
#define _mm512_stream_si512 cquant_emu_stream_si512
#define _mm512_maskz_loadu_epi32 cquant_emu_maskz_loadu_epi32
#undef _mm512_roundscale_ps
#define _mm512_roundscale_ps cquant_emu_roundscale_ps
#endif
