/* test_kernels again, with the AVX-512 kernels (quantize/dequantize, conversions, fp8, histogram,
 * GEMM rows, convolution epilogue, depthwise convolution) built over SIMDe's emulation of AVX-512 (tests/simde/immintrin.h) standing in the
 * AVX-512 table: so the AVX-512 code is checked bit for bit against the reference on machines
 * without AVX-512 too (test_kernels checks the real instructions where the CPU has them). The
 * emulated table starts from the AVX2 one, as the library's AVX-512 table does (src/core/cpu.c).
 * test_emulation checks the emulation itself: one rounding per fused product, masked-off lanes
 * neither read nor written. */
#include "core/internal.h"

void cquant_emu_fdense_init_avx512(cquant__kernels_t *k); /* simde/emu_convrows_avx512.c */
void cquant_emu_fconv_init_avx512(cquant__kernels_t *k);  /* simde/emu_dwconv_avx512.c */
void cquant_emu_kernels_init_avx512(cquant__kernels_t *k); /* simde/emu_quantize_avx512.c (conversions, fp8) */
void cquant_emu_calib_init_avx512(cquant__kernels_t *k);   /* simde/emu_hist_avx512.c */

static const cquant__kernels_t *emu_kernels_for(cquant_isa_t isa) {
  static cquant__kernels_t t;
  static int done;
  if (isa != CQUANT_ISA_AVX512) return cquant__kernels_for(isa);
  if (!done) {
    const cquant__kernels_t *b = cquant__kernels_for(CQUANT_ISA_AVX2);
    if (!b) return NULL;
    t = *b;
    cquant_emu_kernels_init_avx512(&t);
    cquant_emu_calib_init_avx512(&t);
    cquant_emu_fdense_init_avx512(&t);
    cquant_emu_fconv_init_avx512(&t);
    done = 1;
  }
  return &t;
}

#define TH_KERNELS_FOR emu_kernels_for
#define TH_EXTRA_TESTS T(test_emulation),
static void test_emulation(void);
#include "test_kernels.c"

static void test_emulation(void) {
  const cquant__kernels_t *k = emu_kernels_for(CQUANT_ISA_AVX512);
  CHECK(k != NULL);
  if (!k) return;
  /* fmaf(1 + 2^-23, 1 - 2^-23, -1) = -2^-46: a product rounded before the sum would give 0 */
  const float xs[2] = {1.0f, 1.0f - 0x1p-23f}, ws[2] = {-1.0f, 1.0f + 0x1p-23f}, *rs[2] = {xs, xs + 1};
  float y[3] = {0.0f, 5.0f, 5.0f};
  k->conv_rows_f32(rs, ws, 2, NULL, 2, 1, 1, y, 1, 0);
  CHECKF(y[0] == -0x1p-46f, "the emulated FMA rounds twice: %g", y[0]);
  CHECK(y[1] == 5.0f && y[2] == 5.0f);
  const cquant__kernels_t *a2 = cquant__kernels_for(CQUANT_ISA_AVX2);
  CHECK(k->conv_rows_f32 != a2->conv_rows_f32 && k->dw_f32 != a2->dw_f32 && k->hist_count != a2->hist_count);
}
