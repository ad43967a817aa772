/* test_avx512_emu only: <immintrin.h> with the AVX-512 intrinsics emulated by SIMDe (Debian's
 * libsimde-dev) on top of the host's AVX2 + FMA + F16C, so the AVX-512 kernels are checked bit for
 * bit against the reference on machines without AVX-512 too. SIMDe's 512-bit FMA is two 256-bit
 * vfmadd (one rounding per lane, as the hardware). The intrinsics SIMDe 0.7.4 lacks, or gets wrong,
 * are written here from the instructions' definitions: lane by lane (a masked-off lane is neither
 * read nor written, as on the hardware), the AVX2 / F16C instruction on each half, or GCC's own
 * reduction order; AMX's tile instructions on an emulated tile file. A kernel that uses another
 * missing one fails to build here: add it below. */
#ifndef CQUANT_TEST_SIMDE_IMMINTRIN_H
#define CQUANT_TEST_SIMDE_IMMINTRIN_H
#include_next <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* lanes of a vector in and out of an array (the vector types are opaque to SIMDe's aliases) */
#define EMU_IN(arr, vec) memcpy((arr), &(vec), sizeof(arr))
#define EMU_OUT(type, arr) ({ type r_; memcpy(&r_, (arr), sizeof r_); r_; })

/* vmovdqu/vmovups {k}{z} loads: lane i of 16 from p when bit i of k is set, else 0 */
#define EMU_MASKZ_LOAD(name, lane_t, vec_t)                            \
  static inline vec_t name(simde__mmask16 k, const void *p) {          \
    lane_t v[16];                                                      \
    for (int i = 0; i < 16; i++) {                                     \
      v[i] = 0;                                                        \
      if ((k >> i) & 1) memcpy(&v[i], (const char *)p + sizeof v[0] * i, sizeof v[0]); \
    }                                                                  \
    return EMU_OUT(vec_t, v);                                          \
  }
EMU_MASKZ_LOAD(cquant_emu_maskz_loadu_ps, float, simde__m512)
EMU_MASKZ_LOAD(cquant_emu_maskz_loadu_epi32, uint32_t, simde__m512i)
EMU_MASKZ_LOAD(cquant_emu_maskz_loadu_epi16, uint16_t, __m256i)
EMU_MASKZ_LOAD(cquant_emu_maskz_loadu_epi8, uint8_t, __m128i)

/* masked stores, with the down-conversions of vpmov*: lane i (an in_t) becomes CONV(x) (an out_t) */
#define EMU_MASK_STORE(name, in_t, vec_t, out_t, CONV)            \
  static inline void name(void *p, simde__mmask16 k, vec_t a) {   \
    in_t v[16];                                                   \
    EMU_IN(v, a);                                                 \
    for (int i = 0; i < 16; i++)                                  \
      if ((k >> i) & 1) {                                         \
        const in_t x = v[i];                                      \
        const out_t o = (out_t)(CONV);                            \
        memcpy((char *)p + sizeof o * i, &o, sizeof o);           \
      }                                                           \
  }
EMU_MASK_STORE(cquant_emu_mask_storeu_ps, float, simde__m512, float, x)
EMU_MASK_STORE(cquant_emu_mask_storeu_epi32, uint32_t, simde__m512i, uint32_t, x)
EMU_MASK_STORE(cquant_emu_mask_storeu_epi16, uint16_t, __m256i, uint16_t, x)
EMU_MASK_STORE(cquant_emu_mask_cvtsepi32_storeu_epi8, int32_t, simde__m512i, int8_t, x < -128 ? -128 : x > 127 ? 127 : x)      /* vpmovsdb */
EMU_MASK_STORE(cquant_emu_mask_cvtusepi32_storeu_epi8, uint32_t, simde__m512i, uint8_t, x > 255u ? 255u : x)                /* vpmovusdb: unsigned source */
EMU_MASK_STORE(cquant_emu_mask_cvtepi32_storeu_epi8, uint32_t, simde__m512i, uint8_t, x)                                    /* vpmovdb: the low byte */
EMU_MASK_STORE(cquant_emu_mask_cvtsepi32_storeu_epi16, int32_t, simde__m512i, int16_t, x < -32768 ? -32768 : x > 32767 ? 32767 : x) /* vpmovsdw */
EMU_MASK_STORE(cquant_emu_mask_cvtepi32_storeu_epi16, uint32_t, simde__m512i, uint16_t, x)                                  /* vpmovdw */

static inline simde__m512 cquant_emu_mask_loadu_ps(simde__m512 src, simde__mmask16 k, const void *p) {
  float v[16];
  EMU_IN(v, src);
  for (int i = 0; i < 16; i++)
    if ((k >> i) & 1) memcpy(&v[i], (const float *)p + i, sizeof v[i]);
  return EMU_OUT(simde__m512, v);
}

/* vpmovzx / vpmovsx to 16 int32 lanes */
#define EMU_WIDEN(name, lane_t, vec_t)                 \
  static inline simde__m512i name(vec_t a) {           \
    lane_t b[16];                                      \
    int32_t v[16];                                     \
    EMU_IN(b, a);                                      \
    for (int i = 0; i < 16; i++) v[i] = b[i];          \
    return EMU_OUT(simde__m512i, v);                   \
  }
EMU_WIDEN(cquant_emu_cvtepu8_epi32, uint8_t, __m128i)
EMU_WIDEN(cquant_emu_cvtepi8_epi32, int8_t, __m128i)
EMU_WIDEN(cquant_emu_cvtepu16_epi32, uint16_t, __m256i)
EMU_WIDEN(cquant_emu_cvtepi16_epi32, int16_t, __m256i)

/* integer compares into a mask */
#define EMU_CMP(name, lane_t, OP)                                              \
  static inline simde__mmask16 name(simde__m512i a, simde__m512i b) {          \
    lane_t u[16], v[16];                                                       \
    EMU_IN(u, a), EMU_IN(v, b);                                                \
    simde__mmask16 k = 0;                                                      \
    for (int i = 0; i < 16; i++) k |= (simde__mmask16)((u[i] OP v[i]) << i);   \
    return k;                                                                  \
  }
EMU_CMP(cquant_emu_cmplt_epu32_mask, uint32_t, <)
EMU_CMP(cquant_emu_cmpneq_epi32_mask, int32_t, !=)

static inline simde__mmask16 cquant_emu_load_mask16(const simde__mmask16 *p) { return *p; }

static inline simde__m512i cquant_emu_maskz_slli_epi32(simde__mmask16 k, simde__m512i a, unsigned imm) {
  uint32_t v[16];
  EMU_IN(v, a);
  for (int i = 0; i < 16; i++) v[i] = (k >> i) & 1 ? (imm > 31 ? 0 : v[i] << imm) : 0;
  return EMU_OUT(simde__m512i, v);
}

/* vgatherdps: lane i from base + idx[i] * scale */
static inline simde__m512 cquant_emu_i32gather_ps(simde__m512i idx, const void *base, int scale) {
  int32_t ix[16];
  float v[16];
  EMU_IN(ix, idx);
  for (int i = 0; i < 16; i++) memcpy(&v[i], (const char *)base + (int64_t)ix[i] * scale, sizeof(float));
  return EMU_OUT(simde__m512, v);
}

/* conversions as the AVX2 / F16C instruction on each 256-bit half (the same rounding: the default,
 * nearest even; vcvtps2dq gives INT32_MIN for NaN and out of range) */
#define EMU_HALVES(name, in_vec, in_half, out_vec, out_half, OP) \
  static inline out_vec name(in_vec a) {                        \
    in_half h[2];                                               \
    out_half r[2];                                              \
    EMU_IN(h, a);                                               \
    r[0] = OP(h[0]), r[1] = OP(h[1]);                           \
    return EMU_OUT(out_vec, r);                                 \
  }
EMU_HALVES(cquant_emu_cvtps_epi32, simde__m512, __m256, simde__m512i, __m256i, _mm256_cvtps_epi32)
EMU_HALVES(cquant_emu_cvtepi32_ps, simde__m512i, __m256i, simde__m512, __m256, _mm256_cvtepi32_ps)
EMU_HALVES(cquant_emu_cvtph_ps, __m256i, __m128i, simde__m512, __m256, _mm256_cvtph_ps)
#define cquant_emu_cvtps_ph(a, imm)                                                   \
  ({                                                                                  \
    __m256 h_[2];                                                                     \
    const simde__m512 a_ = (a);                                                       \
    EMU_IN(h_, a_);                                                                   \
    _mm256_set_m128i(_mm256_cvtps_ph(h_[1], (imm)), _mm256_cvtps_ph(h_[0], (imm))); \
  })

/* vfpclassps: bit 0 QNaN, 1 +0, 2 -0, 3 +Inf, 4 -Inf, 5 denormal, 6 negative finite, 7 SNaN */
static inline simde__mmask16 cquant_emu_fpclass_ps_mask(simde__m512 a, int imm) {
  uint32_t u[16];
  EMU_IN(u, a);
  simde__mmask16 k = 0;
  for (int i = 0; i < 16; i++) {
    const uint32_t e = (u[i] >> 23) & 0xff, m = u[i] & 0x7fffff, neg = u[i] >> 31;
    const int c = (e == 255 && m && (m & 0x400000)) << 0 | (u[i] == 0) << 1 | (u[i] == 0x80000000u) << 2 | (u[i] == 0x7f800000u) << 3 |
                  (u[i] == 0xff800000u) << 4 | (e == 0 && m) << 5 | (neg && e != 255) << 6 | (e == 255 && m && !(m & 0x400000)) << 7;
    k |= (simde__mmask16)((c & imm) != 0) << i;
  }
  return k;
}

/* vrndscaleps: 2^-M round(2^M x), M = imm >> 4, rounding imm & 3 (imm & 4: the default, nearest
 * even). SIMDe 0.7.4 misreads the suppress-exceptions bit (imm 9 rounds to halves): replaced. */
static inline simde__m512 cquant_emu_roundscale_ps(simde__m512 a, int imm) {
  float v[16];
  EMU_IN(v, a);
  const int mode = imm & 4 ? 0 : imm & 3, sh = (imm >> 4) & 15;
  for (int i = 0; i < 16; i++) {
    const float x = ldexpf(v[i], sh);
    v[i] = ldexpf(mode == 0 ? nearbyintf(x) : mode == 1 ? floorf(x) : mode == 2 ? ceilf(x) : truncf(x), -sh);
  }
  return EMU_OUT(simde__m512, v);
}

/* GCC's _mm512_reduce_min_ps / max_ps, step by step: the halves, then the quarters, then pairs
 * (vminps / vmaxps keep the second operand on NaN and on equal zeros, so the order is the result) */
#define EMU_REDUCE(name, op256, op128)                                                   \
  static inline float name(simde__m512 a) {                                             \
    __m256 h[2];                                                                        \
    EMU_IN(h, a);                                                                       \
    const __m256 t3 = op256(h[1], h[0]);                                                \
    const __m128 t6 = op128(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3)); \
    const __m128 t8 = op128(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));      \
    return _mm_cvtss_f32(op128(t8, _mm_shuffle_ps(t8, t8, _MM_SHUFFLE(0, 1, 0, 1))));  \
  }
EMU_REDUCE(cquant_emu_reduce_min_ps, _mm256_min_ps, _mm_min_ps)
EMU_REDUCE(cquant_emu_reduce_max_ps, _mm256_max_ps, _mm_max_ps)

/* a non-temporal store is a store here */
static inline void cquant_emu_stream_ps(void *p, simde__m512 a) { memcpy(p, &a, sizeof a); }
static inline void cquant_emu_stream_si512(void *p, simde__m512i a) { memcpy(p, &a, sizeof a); }

/* AMX-INT8, the instructions qgemm_amx.c uses, on a per-thread emulated tile file (8 tiles of up
 * to 16 rows x 64 bytes, shaped by the last ldtilecfg: palette byte 0, colsb[t] at 16 + 2t, rows[t]
 * at 48 + t). tdpbusd: C[m][n] += the four products of u8 A[m][4k + i] and s8 B[k][4n + i], k below
 * A's colsb / 4, n below C's colsb / 4, in int32 that wraps. */
static __thread uint8_t cquant_emu_tile[8][16][64];
static __thread int cquant_emu_rows[8], cquant_emu_colsb[8];
static inline void cquant_emu_tile_loadconfig(const void *cfg) {
  const uint8_t *c = (const uint8_t *)cfg;
  for (int t = 0; t < 8; t++) cquant_emu_colsb[t] = c[16 + 2 * t] | c[17 + 2 * t] << 8, cquant_emu_rows[t] = c[48 + t];
}
static inline void cquant_emu_tile_zero(int t) { memset(cquant_emu_tile[t], 0, sizeof cquant_emu_tile[t]); }
static inline void cquant_emu_tile_loadd(int t, const void *base, int64_t stride) {
  for (int r = 0; r < cquant_emu_rows[t]; r++) memcpy(cquant_emu_tile[t][r], (const char *)base + r * stride, (size_t)cquant_emu_colsb[t]);
}
static inline void cquant_emu_tile_stored(int t, void *base, int64_t stride) {
  for (int r = 0; r < cquant_emu_rows[t]; r++) memcpy((char *)base + r * stride, cquant_emu_tile[t][r], (size_t)cquant_emu_colsb[t]);
}
static inline void cquant_emu_tile_dpbusd(int c, int a, int b) {
  for (int m = 0; m < cquant_emu_rows[c]; m++)
    for (int n = 0; n < cquant_emu_colsb[c] / 4; n++) {
      uint32_t acc;
      memcpy(&acc, &cquant_emu_tile[c][m][4 * n], 4);
      for (int k = 0; k < cquant_emu_colsb[a] / 4; k++)
        for (int i = 0; i < 4; i++) acc += (uint32_t)((int32_t)cquant_emu_tile[a][m][4 * k + i] * (int32_t)(int8_t)cquant_emu_tile[b][k][4 * n + i]);
      memcpy(&cquant_emu_tile[c][m][4 * n], &acc, 4);
    }
}

#define _load_mask16 cquant_emu_load_mask16
#define _mm_maskz_loadu_epi8 cquant_emu_maskz_loadu_epi8
#define _mm256_maskz_loadu_epi16 cquant_emu_maskz_loadu_epi16
#define _mm256_mask_storeu_epi16 cquant_emu_mask_storeu_epi16
#define _mm512_cmplt_epu32_mask cquant_emu_cmplt_epu32_mask
#define _mm512_cmpneq_epi32_mask cquant_emu_cmpneq_epi32_mask
#define _mm512_cvtepi16_epi32 cquant_emu_cvtepi16_epi32
#define _mm512_cvtepi32_ps cquant_emu_cvtepi32_ps
#define _mm512_cvtepi8_epi32 cquant_emu_cvtepi8_epi32
#define _mm512_cvtepu16_epi32 cquant_emu_cvtepu16_epi32
#define _mm512_cvtepu8_epi32 cquant_emu_cvtepu8_epi32
#define _mm512_cvtph_ps cquant_emu_cvtph_ps
#define _mm512_cvtps_epi32 cquant_emu_cvtps_epi32
#define _mm512_cvtps_ph cquant_emu_cvtps_ph
#define _mm512_fpclass_ps_mask cquant_emu_fpclass_ps_mask
#define _mm512_i32gather_ps cquant_emu_i32gather_ps
#define _mm512_mask_cvtepi32_storeu_epi16 cquant_emu_mask_cvtepi32_storeu_epi16
#define _mm512_mask_cvtepi32_storeu_epi8 cquant_emu_mask_cvtepi32_storeu_epi8
#define _mm512_mask_cvtsepi32_storeu_epi16 cquant_emu_mask_cvtsepi32_storeu_epi16
#define _mm512_mask_cvtsepi32_storeu_epi8 cquant_emu_mask_cvtsepi32_storeu_epi8
#define _mm512_mask_cvtusepi32_storeu_epi8 cquant_emu_mask_cvtusepi32_storeu_epi8
#define _mm512_mask_loadu_ps cquant_emu_mask_loadu_ps
#define _mm512_mask_storeu_epi32 cquant_emu_mask_storeu_epi32
#define _mm512_mask_storeu_ps cquant_emu_mask_storeu_ps
#define _mm512_maskz_loadu_epi32 cquant_emu_maskz_loadu_epi32
#define _mm512_maskz_loadu_ps cquant_emu_maskz_loadu_ps
#define _mm512_maskz_slli_epi32 cquant_emu_maskz_slli_epi32
#define _mm512_reduce_max_ps cquant_emu_reduce_max_ps
#define _mm512_reduce_min_ps cquant_emu_reduce_min_ps
#undef _mm512_roundscale_ps
#define _mm512_roundscale_ps cquant_emu_roundscale_ps
#define _mm512_stream_ps cquant_emu_stream_ps
#define _mm512_stream_si512 cquant_emu_stream_si512
#undef _tile_loadconfig
#undef _tile_zero
#undef _tile_loadd
#undef _tile_stored
#undef _tile_dpbusd
#undef _tile_release
#define _tile_loadconfig cquant_emu_tile_loadconfig
#define _tile_zero cquant_emu_tile_zero
#define _tile_loadd cquant_emu_tile_loadd
#define _tile_stored cquant_emu_tile_stored
#define _tile_dpbusd cquant_emu_tile_dpbusd
#define _tile_release() ((void)0)
#endif
