/* src/intops/x86/qgemm_amx.c built over tests/simde/immintrin.h (AVX-512 and AMX-INT8 emulated on
 * AVX2) for test_qgemm_emu; linked before libcquant.a, its functions replace the library's in that
 * binary (cquant__has_amx still asks the CPU: the library's automatic choice is unchanged there). */
#include "intops/x86/qgemm_amx.c"
