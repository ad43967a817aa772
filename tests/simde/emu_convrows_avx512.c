/* src/exec/ops/x86/convrows_avx512.c built again over tests/simde/immintrin.h (AVX-512 emulated on
 * AVX2 + FMA) for test_avx512_emu, its symbols renamed to sit beside the library's own. */
#define cquant__fdense_init_avx512 cquant_emu_fdense_init_avx512
#define cquant__conv_epi_avx512 cquant_emu_conv_epi_avx512
#include "exec/ops/x86/convrows_avx512.c"
