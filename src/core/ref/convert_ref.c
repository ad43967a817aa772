/* Scalar float conversions (docs/quantization.md, sec. 2). Integer arithmetic only, so results do
 * not depend on the floating-point environment (rounding mode, FTZ/DAZ). */
#include <string.h>
#include "core/internal.h"

static inline uint32_t f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline float u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Shifts m right by `shift` bits rounding half to even (eq. 2). shift >= 32 gives 0. */
static inline uint32_t shift_rne(uint32_t m, unsigned shift) {
  if (shift == 0) return m;
  if (shift >= 32) return 0;
  uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1))) r++;
  return r;
}

uint16_t cquant_f32_to_f16(float x) {
  uint32_t u = f2u(x);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  uint32_t ax = u & 0x7fffffff, e = ax >> 23, mant = ax & 0x7fffff;
  if (e == 0xff) return mant ? (uint16_t)(sign | 0x7e00 | (mant >> 13)) : (uint16_t)(sign | 0x7c00);
  if (e >= 143) return sign | 0x7c00;   /* >= 2^16: beyond 65504 even after rounding */
  if (e >= 113) {                       /* normal binary16: exponent -14..15 */
    uint32_t h = ((e - 112) << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry may reach Inf: correct */
    return (uint16_t)(sign | h);
  }
  if (e == 0) return sign;              /* float32 subnormals are far below 2^-25 */
  /* Subnormal binary16, units of 2^-24: value = (mant | 2^23) * 2^(e - 150). */
  return (uint16_t)(sign | shift_rne(mant | 0x800000, 126 - e));
}

float cquant_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0x1f) return u2f(sign | 0x7f800000 | (m ? 0x400000u | (m << 13) : 0)); /* NaN made quiet */
  if (e) return u2f(sign | ((e + 112) << 23) | (m << 13));
  if (!m) return u2f(sign);
  /* Subnormal: normalise. */
  int k = 0;
  while (!(m & 0x400)) { m <<= 1; k++; }
  return u2f(sign | ((uint32_t)(113 - k) << 23) | ((m & 0x3ff) << 13));
}

uint16_t cquant_f32_to_bf16(float x) {
  uint32_t u = f2u(x);
  if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16); /* eq. 3; overflow carries to Inf */
}

float cquant_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

/* ---- FP8 (OCP 8-bit floating point, eq. 4) ------------------------------------------------ */

typedef struct {
  int mbits, bias;
  uint8_t max_enc;  /* largest finite magnitude code */
  uint8_t nan_enc;  /* canonical NaN magnitude code */
  uint8_t ovf_enc;  /* non-saturating overflow: NaN (e4m3fn) or Inf (e5m2) */
} fp8_fmt_t;

static const fp8_fmt_t E4M3 = {3, 7, 0x7e, 0x7f, 0x7f};
static const fp8_fmt_t E5M2 = {2, 15, 0x7b, 0x7e, 0x7c};

static uint8_t f32_to_fp8(float x, const fp8_fmt_t *f, cquant_fp8_mode_t mode) {
  uint32_t u = f2u(x);
  uint8_t sign = (uint8_t)((u >> 24) & 0x80);
  uint32_t ax = u & 0x7fffffff, e = ax >> 23, mant = ax & 0x7fffff;
  if (ax > 0x7f800000) return sign | f->nan_enc;
  if (ax == 0x7f800000) return sign | (mode == CQUANT_FP8_SATURATE ? f->max_enc : f->ovf_enc);
  if (e == 0) return sign; /* float32 subnormals round to zero in both formats */
  int E = (int)e - 127, emin = 1 - f->bias;
  unsigned shift = (unsigned)(23 - f->mbits);
  uint32_t base = 0;
  if (E < emin) shift += (unsigned)(emin - E); /* subnormal: units of 2^(emin - mbits) */
  else base = (uint32_t)(E + f->bias - 1) << f->mbits; /* the hidden bit in r adds the last 1 */
  uint32_t enc = base + shift_rne(mant | 0x800000, shift);
  if (enc > f->max_enc) enc = (mode == CQUANT_FP8_SATURATE) ? f->max_enc : f->ovf_enc;
  return (uint8_t)(sign | enc);
}

static float fp8_to_f32(uint8_t v, const fp8_fmt_t *f, int ebits) {
  uint32_t sign = (uint32_t)(v & 0x80) << 24, mag = v & 0x7f;
  uint32_t e = mag >> f->mbits, m = mag & ((1u << f->mbits) - 1);
  if (ebits == 4 && mag == 0x7f) return u2f(sign | 0x7fc00000);
  if (ebits == 5 && e == 0x1f) return u2f(sign | 0x7f800000 | (m ? 0x400000u : 0));
  int exp2 = (int)e - f->bias; /* unbiased exponent of a normal */
  if (e == 0) {
    if (!m) return u2f(sign);
    exp2 = 1 - f->bias; /* subnormal: normalise so the leading 1 becomes the hidden bit */
    while (!(m & (1u << f->mbits))) { m <<= 1; exp2--; }
    m &= (1u << f->mbits) - 1;
  }
  return u2f(sign | ((uint32_t)(exp2 + 127) << 23) | (m << (23 - f->mbits)));
}

uint8_t cquant_f32_to_f8e4m3(float x, cquant_fp8_mode_t mode) { return f32_to_fp8(x, &E4M3, mode); }
float cquant_f8e4m3_to_f32(uint8_t v) { return fp8_to_f32(v, &E4M3, 4); }
uint8_t cquant_f32_to_f8e5m2(float x, cquant_fp8_mode_t mode) { return f32_to_fp8(x, &E5M2, mode); }
float cquant_f8e5m2_to_f32(uint8_t v) { return fp8_to_f32(v, &E5M2, 5); }

/* ---- array kernels ------------------------------------------------------------------------ */

static void f32_to_f16_ref(const float *x, size_t n, uint16_t *y) {
  for (size_t i = 0; i < n; i++) y[i] = cquant_f32_to_f16(x[i]);
}
static void f16_to_f32_ref(const uint16_t *x, size_t n, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = cquant_f16_to_f32(x[i]);
}
static void f32_to_bf16_ref(const float *x, size_t n, uint16_t *y) {
  for (size_t i = 0; i < n; i++) y[i] = cquant_f32_to_bf16(x[i]);
}
static void bf16_to_f32_ref(const uint16_t *x, size_t n, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = cquant_bf16_to_f32(x[i]);
}

void cquant__convert_init_ref(cquant__kernels_t *k) {
  k->f32_to_f16 = f32_to_f16_ref;
  k->f16_to_f32 = f16_to_f32_ref;
  k->f32_to_bf16 = f32_to_bf16_ref;
  k->bf16_to_f32 = bf16_to_f32_ref;
}
