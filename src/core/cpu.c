/* CPU features are read once; each ISA gets a kernel table that starts from the scalar reference
 * and is overwritten by the variants that ISA has. CQUANT_ISA=ref|avx2|avx512 lowers the choice. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

static int has_vnni;

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static cquant_isa_t detect(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return CQUANT_ISA_REF;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1, fma = (c >> 12) & 1;
  if (!osxsave || !avx) return CQUANT_ISA_REF;
  uint64_t xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return CQUANT_ISA_REF; /* OS saves XMM and YMM state */
  if (__get_cpuid_max(0, NULL) < 7) return CQUANT_ISA_REF;
  __cpuid_count(7, 0, a, b, c, d);
  int avx2 = (b >> 5) & 1;
  if (!(avx2 && f16c && fma)) return CQUANT_ISA_REF;
  int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
      avx512vl = (b >> 31) & 1;
  int zmm_os = (xcr0 & 0xe0) == 0xe0; /* opmask, upper ZMM0-15, ZMM16-31 */
  if (avx512f && avx512dq && avx512bw && avx512vl && zmm_os) {
    has_vnni = (c >> 11) & 1; /* AVX512_VNNI: vpdpbusd */
    return CQUANT_ISA_AVX512;
  }
  return CQUANT_ISA_AVX2;
}
#else
static cquant_isa_t detect(void) { return CQUANT_ISA_REF; }
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cquant_isa_t detected, active;
static cquant__kernels_t tables[CQUANT_ISA_COUNT];

static void init(void) {
  detected = detect();
  active = detected;
  int cap = cquant__env()->isa_cap; /* CQUANT_ISA */
  if (cap >= 0 && (cquant_isa_t)cap < active) active = (cquant_isa_t)cap;
  for (int i = 0; i < CQUANT_ISA_COUNT; i++) {
    cquant__kernels_init_ref(&tables[i]);
    cquant__calib_init_ref(&tables[i]);
    cquant__intops_init_ref(&tables[i]);
    cquant__fconv_init_ref(&tables[i]);
    cquant__mathvec_init_ref(&tables[i]);
    cquant__fdense_init_ref(&tables[i]);
  }
  if (detected >= CQUANT_ISA_AVX2) {
    for (int i = CQUANT_ISA_AVX2; i < CQUANT_ISA_COUNT; i++) {
      cquant__kernels_init_avx2(&tables[i]);
      cquant__calib_init_avx2(&tables[i]);
      cquant__fconv_init_avx2(&tables[i]);
      cquant__mathvec_init_avx2(&tables[i]);
      cquant__fdense_init_avx2(&tables[i]);
    }
  }
  if (detected >= CQUANT_ISA_AVX512) {
    cquant__kernels_init_avx512(&tables[CQUANT_ISA_AVX512]);
    cquant__calib_init_avx512(&tables[CQUANT_ISA_AVX512]);
    cquant__fconv_init_avx512(&tables[CQUANT_ISA_AVX512]);
    cquant__mathvec_init_avx512(&tables[CQUANT_ISA_AVX512]);
    cquant__fdense_init_avx512(&tables[CQUANT_ISA_AVX512]);
  }
}

cquant_isa_t cquant_isa_detected(void) {
  pthread_once(&once, init);
  return detected;
}

cquant_isa_t cquant_isa_active(void) {
  pthread_once(&once, init);
  return active;
}

int cquant_isa_force(cquant_isa_t isa) {
  pthread_once(&once, init);
  if ((unsigned)isa >= CQUANT_ISA_COUNT || isa > detected)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "ISA '%s' is not supported by this CPU",
                         cquant_isa_name(isa));
  active = isa;
  return CQUANT_STATUS_OK;
}

const char *cquant_isa_name(cquant_isa_t isa) {
  switch (isa) {
    case CQUANT_ISA_REF: return "ref";
    case CQUANT_ISA_AVX2: return "avx2";
    case CQUANT_ISA_AVX512: return "avx512";
    default: return "unknown";
  }
}

const cquant__kernels_t *cquant__kernels_for(cquant_isa_t isa) {
  pthread_once(&once, init);
  if ((unsigned)isa >= CQUANT_ISA_COUNT || isa > detected) return NULL;
  return &tables[isa];
}

const cquant__kernels_t *cquant__kernels(void) {
  pthread_once(&once, init);
  return &tables[active];
}

int cquant__has_vnni(void) {
  pthread_once(&once, init);
  return has_vnni;
}
