/* src/intops/x86/qgemm_vnni.c built over tests/simde/immintrin.h (AVX-512 VNNI emulated on AVX2) for
 * test_qgemm_emu. Not renamed: linked before libcquant.a, its cquant__qgemm_panel_vnni is the one
 * the library's qgemm.c calls in that binary (the archive's own object is then never pulled in). */
#include "intops/x86/qgemm_vnni.c"
