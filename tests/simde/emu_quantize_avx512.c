/* src/core/x86/{quantize,convert,fp8}_avx512.c built again over tests/simde/immintrin.h (AVX-512
 * emulated on AVX2 + FMA + F16C) for test_avx512_emu, their symbols renamed to sit beside the
 * library's own (one file each: their static helpers share names). */
#define cquant__kernels_init_avx512 cquant_emu_kernels_init_avx512
#define cquant__convert_init_avx512 cquant_emu_convert_init_avx512
#define cquant__fp8_init_avx512 cquant_emu_fp8_init_avx512
#include "core/x86/quantize_avx512.c"
