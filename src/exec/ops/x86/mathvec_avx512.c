/* math_vec.c's Sigmoid, Tanh, Erf and Gelu loops built with this file's AVX512 flags (see there):
 * the same C, so the same IEEE operations in the same order as the _ref functions, more at a time. */
#define MV(f) f##_avx512
#include "exec/ops/math_vec.c"
