/* Float conversions: float16 and bfloat16 encode on all 2^32 float32 bit patterns against
 * independent references (F16C hardware for float16; an arithmetic nearest-even search for
 * bfloat16), every ISA's array kernel against the scalar reference, every FP8 value's decode
 * and round trip, and FP8 encode against a brute-force nearest-value search. */
#include <immintrin.h>
#include <omp.h>
#include "core/internal.h"
#include "harness.h"

static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

#define BLOCK 65536u

/* float16 encode: F16C's vcvtps2ph (round to nearest even) is the oracle, for every pattern. */
__attribute__((target("avx2,f16c"))) static void f16_oracle(const float *x, uint16_t *h) {
  for (unsigned i = 0; i < BLOCK; i += 8)
    _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("avx2,f16c"))) static float f16_decode_oracle(uint16_t h) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16((short)h)));
}

static void test_f16_exhaustive(void) {
  if (cquant_isa_detected() < CQUANT_ISA_AVX2) { printf("  (no F16C: skipped)\n"); return; }
  long bad_scalar = 0, bad_kernel = 0;
#pragma omp parallel reduction(+ : bad_scalar, bad_kernel)
  {
    float *x = malloc(BLOCK * 4);
    uint16_t *want = malloc(BLOCK * 2), *got = malloc(BLOCK * 2);
#pragma omp for schedule(dynamic, 64)
    for (long b = 0; b < 65536; b++) {
      for (unsigned i = 0; i < BLOCK; i++) x[i] = u2f(((uint32_t)b << 16) | i);
      f16_oracle(x, want);
      for (unsigned i = 0; i < BLOCK; i++) bad_scalar += cquant_f32_to_f16(x[i]) != want[i];
      for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
        const cquant__kernels_t *k = cquant__kernels_for((cquant_isa_t)isa);
        if (!k) continue;
        k->f32_to_f16(x, BLOCK, got);
        bad_kernel += memcmp(got, want, BLOCK * 2) != 0;
      }
    }
    free(x); free(want); free(got);
  }
  CHECKF(bad_scalar == 0, "%ld float32 patterns encode differently from F16C", bad_scalar);
  CHECKF(bad_kernel == 0, "%ld blocks differ between a SIMD kernel and F16C", bad_kernel);
  /* decode: all 65536 */
  long bad = 0;
  for (uint32_t h = 0; h < 65536; h++) bad += f2u(cquant_f16_to_f32((uint16_t)h)) != f2u(f16_decode_oracle((uint16_t)h));
  CHECKF(bad == 0, "%ld float16 values decode differently from F16C", bad);
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = cquant__kernels_for((cquant_isa_t)isa);
    if (!k) continue;
    uint16_t *h = malloc(65536 * 2 + 2);
    float *y = malloc(65537 * 4);
    for (uint32_t i = 0; i < 65537; i++) h[i] = (uint16_t)(i * 7919u); /* odd length: a tail */
    k->f16_to_f32(h, 65537, y);
    long d = 0;
    for (uint32_t i = 0; i < 65537; i++) d += f2u(y[i]) != f2u(cquant_f16_to_f32(h[i]));
    CHECKF(d == 0, "%s f16 decode differs in %ld values", cquant_isa_name((cquant_isa_t)isa), d);
    free(h); free(y);
  }
}

/* bfloat16 oracle by arithmetic: the two bfloat16 neighbours of x, compared in double (exact),
 * ties to the even one. NaN: quiet, sign and top payload kept. */
static uint16_t bf16_oracle(uint32_t u) {
  float x = u2f(u);
  if (isnan(x)) return (uint16_t)((u >> 16) | 0x40);
  uint32_t lo = u & 0xffff0000u; /* toward zero */
  if (lo == u) return (uint16_t)(u >> 16);
  double dx = fabs((double)x), dlo = fabs((double)u2f(lo));
  /* the next bfloat16 away from zero; past the largest finite it is 2^128 (rounds to Inf) */
  uint32_t hi_bits = lo + 0x10000u;
  double dhi = ((hi_bits & 0x7f800000u) == 0x7f800000u) ? ldexp(1.0, 128) : fabs((double)u2f(hi_bits));
  double dl = dx - dlo, dh = dhi - dx;
  if (dl < dh) return (uint16_t)(lo >> 16);
  if (dh < dl) return (uint16_t)(hi_bits >> 16);
  return ((lo >> 16) & 1) ? (uint16_t)(hi_bits >> 16) : (uint16_t)(lo >> 16);
}

static void test_bf16_exhaustive(void) {
  long bad_scalar = 0, bad_kernel = 0;
#pragma omp parallel reduction(+ : bad_scalar, bad_kernel)
  {
    float *x = malloc(BLOCK * 4);
    uint16_t *want = malloc(BLOCK * 2), *got = malloc(BLOCK * 2);
#pragma omp for schedule(dynamic, 64)
    for (long b = 0; b < 65536; b++) {
      for (unsigned i = 0; i < BLOCK; i++) {
        uint32_t u = ((uint32_t)b << 16) | i;
        x[i] = u2f(u);
        want[i] = bf16_oracle(u);
      }
      for (unsigned i = 0; i < BLOCK; i++) bad_scalar += cquant_f32_to_bf16(x[i]) != want[i];
      for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
        const cquant__kernels_t *k = cquant__kernels_for((cquant_isa_t)isa);
        if (!k) continue;
        k->f32_to_bf16(x, BLOCK - (unsigned)(b & 7), got); /* varying tails */
        bad_kernel += memcmp(got, want, (BLOCK - (unsigned)(b & 7)) * 2) != 0;
      }
    }
    free(x); free(want); free(got);
  }
  CHECKF(bad_scalar == 0, "%ld float32 patterns encode to bfloat16 differently from the oracle", bad_scalar);
  CHECKF(bad_kernel == 0, "%ld blocks differ between a SIMD bfloat16 kernel and the oracle", bad_kernel);
  long bad = 0;
  for (uint32_t h = 0; h < 65536; h++) bad += f2u(cquant_bf16_to_f32((uint16_t)h)) != (h << 16);
  CHECK(bad == 0);
}

/* ---- FP8 ---------------------------------------------------------------------------------- */

typedef struct { int ebits, mbits, bias; double max; } fp8_spec_t;
static const fp8_spec_t E4M3 = {4, 3, 7, 448.0}, E5M2 = {5, 2, 15, 57344.0};

/* The value of an FP8 code straight from the OCP definition. */
static double fp8_value(const fp8_spec_t *f, unsigned v, int *is_nan, int *is_inf) {
  unsigned s = v >> 7, e = (v >> f->mbits) & ((1u << f->ebits) - 1), m = v & ((1u << f->mbits) - 1);
  *is_nan = *is_inf = 0;
  if (f->ebits == 4 && e == 15 && m == 7) { *is_nan = 1; return NAN; }
  if (f->ebits == 5 && e == 31) { if (m) *is_nan = 1; else *is_inf = 1; return s ? -INFINITY : INFINITY; }
  double mag = e ? ldexp(1.0 + m / (double)(1 << f->mbits), (int)e - f->bias)
                 : ldexp(m / (double)(1 << f->mbits), 1 - f->bias);
  return s ? -mag : mag;
}

static uint8_t enc(const fp8_spec_t *f, float x, cquant_fp8_mode_t mode) {
  return f->ebits == 4 ? cquant_f32_to_f8e4m3(x, mode) : cquant_f32_to_f8e5m2(x, mode);
}
static float dec(const fp8_spec_t *f, uint8_t v) {
  return f->ebits == 4 ? cquant_f8e4m3_to_f32(v) : cquant_f8e5m2_to_f32(v);
}

static void check_fp8_decode(const fp8_spec_t *f) {
  for (unsigned v = 0; v < 256; v++) {
    int nan, inf;
    double want = fp8_value(f, v, &nan, &inf);
    float got = dec(f, (uint8_t)v);
    if (nan) { CHECKF(isnan(got), "code 0x%02x should decode to NaN", v); continue; }
    CHECKF((double)got == want && !!signbit(got) == !!signbit(want), "code 0x%02x: %g, want %g", v, got, want);
    /* round trip, both modes (Inf stays Inf only where it exists and the mode keeps it) */
    uint8_t back = enc(f, got, CQUANT_FP8_NONSATURATE);
    CHECKF(back == v, "code 0x%02x decodes to %g which encodes back to 0x%02x", v, got, back);
    if (!inf) CHECKF(enc(f, got, CQUANT_FP8_SATURATE) == v, "saturating round trip of 0x%02x", v);
  }
}

/* Nearest FP8 value, searched in the table of every non-negative finite code plus one virtual code past the
 * largest (max + one step, the value an unbounded format would have): nearest, ties to the even
 * code. Landing on the virtual code is an overflow. Returns -1 where NaN is expected. */
static int fp8_oracle(const fp8_spec_t *f, const double *vals, float x, cquant_fp8_mode_t mode) {
  if (isnan(x)) return -1;
  const unsigned max_code = f->ebits == 4 ? 0x7e : 0x7b;
  const int sign = signbit(x) ? 0x80 : 0;
  double ax = fabs((double)x);
  /* vals[0..max_code+1] ascend; find the first >= ax, then compare it with its predecessor */
  unsigned lo = 0, hi = max_code + 1;
  if (ax >= vals[hi]) lo = hi;
  else {
    while (hi - lo > 1) {
      unsigned mid = (lo + hi) / 2;
      if (vals[mid] <= ax) lo = mid; else hi = mid;
    }
    double dl = ax - vals[lo], dh = vals[hi] - ax;
    if (dh < dl || (dh == dl && !(hi & 1))) lo = hi;
  }
  if (isinf(x) || lo == max_code + 1) { /* overflow */
    if (mode == CQUANT_FP8_SATURATE) return sign | (int)max_code;
    return f->ebits == 4 ? -1 : sign | 0x7c;
  }
  return sign | (int)lo;
}

static void check_fp8_encode(const fp8_spec_t *f) {
  long bad = 0;
  const unsigned max_code = f->ebits == 4 ? 0x7e : 0x7b;
  double vals[128];
  int nan, inf;
  for (unsigned v = 0; v <= max_code; v++) vals[v] = fp8_value(f, v, &nan, &inf);
  vals[max_code + 1] = 2 * f->max - vals[max_code - 1]; /* the virtual next value */
  /* every sign/exponent/top-14-mantissa-bit pattern with low bits 0, half, half+1 and all ones:
   * covers every rounding boundary of a format with at most 3 mantissa bits */
  static const uint32_t lows[] = {0x0, 0x100, 0x101, 0x1ff};
#pragma omp parallel for reduction(+ : bad) schedule(static)
  for (long hi = 0; hi < (1l << 23); hi++) {
    for (int l = 0; l < 4; l++) {
      float x = u2f(((uint32_t)hi << 9) | lows[l]);
      for (int mode = 0; mode < 2; mode++) {
        uint8_t got = enc(f, x, (cquant_fp8_mode_t)mode);
        int want = fp8_oracle(f, vals, x, (cquant_fp8_mode_t)mode);
        bad += want < 0 ? !isnan(dec(f, got)) : got != (uint8_t)want;
      }
    }
  }
  CHECKF(bad == 0, "%ld float32 values encode differently from the table search", bad);
  /* the SIMD encoders (scale 1) on the same patterns, against the scalar encoder */
  long badk = 0;
  for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = cquant__kernels_for((cquant_isa_t)isa);
    if (!k) continue;
#pragma omp parallel for reduction(+ : badk) schedule(static)
    for (long hb = 0; hb < (1l << 23); hb += 4096) {
      float xs[4096 * 4];
      uint8_t got[4096 * 4];
      const float one = 1.0f;
      for (long h = 0; h < 4096; h++)
        for (int l = 0; l < 4; l++) xs[h * 4 + l] = u2f(((uint32_t)(hb + h) << 9) | lows[l]);
      for (int mode = 0; mode < 2; mode++) {
        k->fp8_q(xs, 4096 * 4, &one, 0, f->ebits == 5, (cquant_fp8_mode_t)mode, CQUANT_ROUND_DIV, got);
        for (int j = 0; j < 4096 * 4; j++) badk += got[j] != enc(f, xs[j], (cquant_fp8_mode_t)mode);
      }
    }
  }
  CHECKF(badk == 0, "%ld values differ between a SIMD FP8 encoder and the scalar one", badk);
}

static void test_fp8_e4m3(void) {
  check_fp8_decode(&E4M3);
  check_fp8_encode(&E4M3);
  CHECK(cquant_f32_to_f8e4m3(448.0f, CQUANT_FP8_NONSATURATE) == 0x7e);
  CHECK(cquant_f32_to_f8e4m3(464.0f, CQUANT_FP8_NONSATURATE) == 0x7e);  /* tie: to the even 448 */
  CHECK(cquant_f32_to_f8e4m3(464.5f, CQUANT_FP8_NONSATURATE) == 0x7f);  /* rounds past 448: NaN */
  CHECK(cquant_f32_to_f8e4m3(1e9f, CQUANT_FP8_SATURATE) == 0x7e);
  CHECK(cquant_f32_to_f8e4m3(-INFINITY, CQUANT_FP8_SATURATE) == 0xfe);
  CHECK(cquant_f32_to_f8e4m3(ldexpf(1, -9), CQUANT_FP8_SATURATE) == 0x01);  /* smallest subnormal */
  CHECK(cquant_f32_to_f8e4m3(ldexpf(1, -10), CQUANT_FP8_SATURATE) == 0x00); /* tie to even: 0 */
  CHECK(cquant_f32_to_f8e4m3(ldexpf(3, -11), CQUANT_FP8_SATURATE) == 0x01);
}

static void test_fp8_e5m2(void) {
  check_fp8_decode(&E5M2);
  check_fp8_encode(&E5M2);
  CHECK(cquant_f32_to_f8e5m2(INFINITY, CQUANT_FP8_NONSATURATE) == 0x7c);
  CHECK(cquant_f32_to_f8e5m2(INFINITY, CQUANT_FP8_SATURATE) == 0x7b);
  CHECK(cquant_f32_to_f8e5m2(61439.0f, CQUANT_FP8_NONSATURATE) == 0x7b);
  CHECK(cquant_f32_to_f8e5m2(61440.0f, CQUANT_FP8_NONSATURATE) == 0x7c);
  CHECK(cquant_f32_to_f8e5m2(ldexpf(1, -16), CQUANT_FP8_SATURATE) == 0x01);
}

static void test_convert_api(void) {
  float x[37];
  uint8_t b[37];
  float y[37];
  for (int i = 0; i < 37; i++) x[i] = (float)(i - 18) * 0.37f;
  CHECK(cquant_convert_from_f32(x, 37, CQUANT_DT_F8E4M3, CQUANT_FP8_SATURATE, b) == 0);
  CHECK(cquant_convert_to_f32(b, 37, CQUANT_DT_F8E4M3, y) == 0);
  for (int i = 0; i < 37; i++) CHECK(fabsf(y[i] - x[i]) <= fabsf(x[i]) / 16 + 1e-3f);
  CHECK(cquant_convert_from_f32(x, 37, CQUANT_DT_S8, CQUANT_FP8_SATURATE, b) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_convert_from_f32(NULL, 3, CQUANT_DT_F16, CQUANT_FP8_SATURATE, b) == CQUANT_STATUS_INVALID_ARGUMENT);
}

TH_MAIN(T(test_f16_exhaustive), T(test_bf16_exhaustive), T(test_fp8_e4m3), T(test_fp8_e5m2), T(test_convert_api))
