/* src/exec/ops/x86/dwconv_avx512.c built again over tests/simde/immintrin.h (AVX-512 emulated on
 * AVX2 + FMA) for test_avx512_emu, its symbols renamed to sit beside the library's own. */
#define cquant__fconv_init_avx512 cquant_emu_fconv_init_avx512
#include "exec/ops/x86/dwconv_avx512.c"
