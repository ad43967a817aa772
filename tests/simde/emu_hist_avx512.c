/* src/calib/x86/hist_avx512.c over the emulation, for test_avx512_emu */
#define cquant__calib_init_avx512 cquant_emu_calib_init_avx512
#include "calib/x86/hist_avx512.c"
