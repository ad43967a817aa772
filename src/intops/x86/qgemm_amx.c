/* AMX-INT8 integer GEMM: 32 x 32 output blocks in four 16 x 16 int32 tiles; each step multiplies a
 * 16-row x 64-byte tile of A' (uint8) with a 16-row x 64-byte tile of the packed B (16 groups of 4
 * k, 16 columns: exactly the VNNI panel layout, two panels halves 128 bytes apart) by tdpbusd.
 * The block of A is first copied into a zero-padded buffer (32 rows, K rounded up to 64), so
 * partial tiles never read past the data; B's padding is zero. Exact int32 arithmetic. */
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "intops/intops.h"
#include "intops/x86/correct_avx512.h"

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int usable;

static void probe(void) {
  unsigned a, b, c, d;
  __cpuid_count(7, 0, a, b, c, d);
  if (!((d >> 24) & 1) || !((d >> 25) & 1)) return; /* AMX-TILE, AMX-INT8 */
  if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)) return; /* the OS must grant the tile state */
  usable = 1;
}

int cquant__has_amx(void) {
  pthread_once(&once, probe);
  return usable;
}

/* The 64-byte tile configuration: palette 1; tiles 0-7 with 16 rows of 64 bytes (colsb, 16-bit,
 * at byte 16 + 2t; rows at byte 48 + t). Built as bytes, with a compiler barrier so every store
 * reaches memory before ldtilecfg reads it. */
void cquant__amx_config(void) {
  uint8_t cfg[64] __attribute__((aligned(64)));
  memset(cfg, 0, sizeof cfg);
  cfg[0] = 1;
  for (int t = 0; t < 8; t++) {
    cfg[16 + 2 * t] = 64;
    cfg[48 + t] = 16;
  }
  __asm__ volatile("" : : "r"(cfg) : "memory");
  _tile_loadconfig(cfg);
}

/* Rows [0, mr) (mr <= 32) of the A' block `ap` (32 rows of kp readable bytes, lda apart) against one 32-column
 * panel, written through eq. 22's correction to C (columns < nr). */
void cquant__qgemm_tile_amx(const uint8_t *ap, int64_t lda, int64_t kp, int mr, const int8_t *panel, const int32_t *colterm,
                            const int32_t *zb, const int32_t *rowsum, int nr, int32_t *C, int64_t ldc) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t k = 0; k < kp; k += 64) {
    _tile_loadd(4, ap + k, lda);
    _tile_loadd(5, ap + 16 * lda + k, lda);
    _tile_loadd(6, panel + (k / 4) * 128, 128);
    _tile_loadd(7, panel + (k / 4) * 128 + 64, 128);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  int32_t out[32][32] __attribute__((aligned(64)));
  _tile_stored(0, &out[0][0], 128);
  _tile_stored(1, &out[0][16], 128);
  _tile_stored(2, &out[16][0], 128);
  _tile_stored(3, &out[16][16], 128);
  const cquant__corr_t corr = cquant__corr_init(colterm, zb, nr); /* eq. 22a */
  for (int r = 0; r < mr; r++) cquant__corr_store(&corr, _mm512_load_si512(&out[r][0]), _mm512_load_si512(&out[r][16]), rowsum[r], C + r * ldc);
}

void cquant__amx_release(void) { _tile_release(); }
