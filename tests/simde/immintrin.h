/* test_avx512_emu only: <immintrin.h> with the AVX-512 intrinsics emulated by SIMDe (Debian's
 * libsimde-dev) on top of the host's AVX2 + FMA, so the AVX-512 float kernels are checked bit for
 * bit against the reference on machines without AVX-512 too. SIMDe's 512-bit FMA is two 256-bit
 * vfmadd (one rounding per lane, as the hardware). The masked load and store SIMDe 0.7.4 lacks are
 * written here lane by lane (and the unsigned compare and mask load): a masked-off lane is neither read nor written, as on the hardware. */
#ifndef CQUANT_TEST_SIMDE_IMMINTRIN_H
#define CQUANT_TEST_SIMDE_IMMINTRIN_H
#include_next <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <stdint.h>
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

#define _mm512_maskz_loadu_ps cquant_emu_maskz_loadu_ps
#define _mm512_mask_storeu_ps cquant_emu_mask_storeu_ps
#define _mm512_cmplt_epu32_mask cquant_emu_cmplt_epu32_mask
#define _load_mask16 cquant_emu_load_mask16
#endif
