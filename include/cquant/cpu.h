/* CPU feature detection and kernel dispatch. */
#ifndef CQUANT_CPU_H
#define CQUANT_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  CQUANT_ISA_REF = 0,    /* portable scalar C: the reference every other path equals */
  CQUANT_ISA_AVX2 = 1,   /* AVX2 + F16C + FMA */
  CQUANT_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ */
  CQUANT_ISA_COUNT
} cquant_isa_t;

/* The best ISA this CPU and OS support (XGETBV checks the OS saves the registers). */
cquant_isa_t cquant_isa_detected(void);

/* The ISA the kernels use: the detected one, lowered by the environment variable
 * CQUANT_ISA=ref|avx2|avx512 (read once) or by cquant_isa_force. */
cquant_isa_t cquant_isa_active(void);

/* Forces a lower ISA for this process (tests run every path this way). Asking for an ISA the CPU
 * lacks returns CQUANT_STATUS_UNSUPPORTED and changes nothing. */
int cquant_isa_force(cquant_isa_t isa);

const char *cquant_isa_name(cquant_isa_t isa);

#ifdef __cplusplus
}
#endif
#endif
