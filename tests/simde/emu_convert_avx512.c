/* src/core/x86/convert_avx512.c over the emulation, for test_avx512_emu (emu_quantize_avx512.c) */
#define cquant__convert_init_avx512 cquant_emu_convert_init_avx512
#include "core/x86/convert_avx512.c"
