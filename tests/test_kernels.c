/* Quantize / dequantize / fake-quantize kernels: every ISA path equals the scalar reference bit
 * for bit on random sizes around the SIMD widths (odd tails), at saturation and zero-point
 * extremes, with ties, NaN and Inf, for both rounding modes; plus the semantics of eq. 13-15
 * checked directly against a double-precision model, and the drivers' granularities. */
#include "core/internal.h"
#include "exec/ops/conv_internal.h"
#include "exec/ops/conv_par.h"
#include "harness.h"
#include "cquant/quantize.h"

/* The table of each ISA the tests walk. test_avx512_emu.c includes this file with its own, which
 * puts the AVX-512 kernels, emulated by SIMDe, under CQUANT_ISA_AVX512. */
#ifndef TH_KERNELS_FOR
#define TH_KERNELS_FOR cquant__kernels_for
#endif

static const size_t sizes[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 4099};

/* Data that exercises every branch: Gaussian, exact ties at k + 0.5 steps, huge, NaN, +-Inf. */
static void fill(float *x, size_t n, float scale) {
  for (size_t i = 0; i < n; i++) {
    uint64_t r = th_rand() % 100;
    if (r < 70) x[i] = th_gauss() * scale * 60.0f;
    else if (r < 85) { /* ties k + 1/2, and their neighbours a few ulps away (the fast exact division) */
      float t = ((float)((int)(th_rand() % 400) - 200) + 0.5f) * scale;
      int steps = (int)(th_rand() % 7) - 3;
      for (int k = 0; k < abs(steps); k++) t = nextafterf(t, steps > 0 ? INFINITY : -INFINITY);
      x[i] = t;
    }
    else if (r < 90) x[i] = (th_rand() & 1 ? 1 : -1) * 1e30f;
    else if (r < 93) x[i] = NAN;
    else if (r < 96) x[i] = (th_rand() & 1) ? INFINITY : -INFINITY;
    else x[i] = (float)(th_rand() % 7) * scale;
  }
}

typedef struct { cquant_dtype_t dt; int c; } tcase_t;
static const tcase_t types[] = {
    {CQUANT_DT_S8, CQUANT__C_S8}, {CQUANT_DT_U8, CQUANT__C_U8}, {CQUANT_DT_S4, CQUANT__C_S8},
    {CQUANT_DT_U4, CQUANT__C_U8}, {CQUANT_DT_S2, CQUANT__C_S8}, {CQUANT_DT_U2, CQUANT__C_U8},
    {CQUANT_DT_S16, CQUANT__C_S16},
};

static void test_simd_equals_ref(void) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  float *x = malloc(4200 * 4), *ya = malloc(4200 * 4), *yb = aligned_alloc(64, 4224 * 4), *sc = malloc(4200 * 4);
  int32_t *zp = malloc(4200 * 4);
  uint8_t *qa = aligned_alloc(64, 4224 * 2), *qb = aligned_alloc(64, 4224 * 2);
  long compared = 0;
  for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = TH_KERNELS_FOR((cquant_isa_t)isa);
    if (!k) { printf("  (%s not available: skipped)\n", cquant_isa_name((cquant_isa_t)isa)); continue; }
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
      const cquant_dtype_info_t *info = cquant_dtype_info(types[t].dt);
      const int c = types[t].c;
      const size_t es = c == CQUANT__C_S16 ? 2 : 1;
      for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int rnd = 0; rnd < 2; rnd++) {
          for (int zcase = 0; zcase < 3; zcase++) {
            /* zero-point at qmin, qmax, or in between */
            int32_t qmin = (int32_t)info->qmin, qmax = (int32_t)info->qmax;
            int32_t z = zcase == 0 ? qmin : zcase == 1 ? qmax : (qmin + qmax) / 2;
            float s = (float)(0.001 + th_uniform() * 0.2);
            fill(x, n, s);
            /* streaming (non-temporal) stores on or off, outputs at every alignment */
            const int stream = (int)(th_rand() & 1);
            const size_t mis = th_rand() % 16;
            cquant__qrun_t p = {s, z, qmin, qmax, (cquant_round_t)rnd, stream};
            memset(qa, 0x5a, 4224 * 2); memset(qb, 0x5a, 4224 * 2);
            ref->q_run[c](x, n, &p, qa + mis * es);
            k->q_run[c](x, n, &p, qb + mis * es);
            CHECKF(memcmp(qa, qb, 4224 * 2) == 0, "%s q_run %s n=%zu z=%d rnd=%d stream=%d", cquant_isa_name((cquant_isa_t)isa), info->name, n, z, rnd, stream);
            ref->dq_run[c](qa, n, s, z, 0, ya);
            k->dq_run[c](qa, n, s, z, stream, yb + mis);
            CHECKF(memcmp(ya, yb + mis, n * 4) == 0, "%s dq_run %s n=%zu stream=%d", cquant_isa_name((cquant_isa_t)isa), info->name, n, stream);
            ref->fq_run(x, n, &p, ya);
            k->fq_run(x, n, &p, yb + mis);
            CHECKF(memcmp(ya, yb + mis, n * 4) == 0, "%s fq_run %s n=%zu z=%d stream=%d", cquant_isa_name((cquant_isa_t)isa), info->name, n, z, stream);
            /* per-element parameters */
            for (size_t i = 0; i < n; i++) {
              sc[i] = (float)(0.001 + th_uniform() * 0.2);
              zp[i] = qmin + (int32_t)(th_rand() % (uint64_t)(qmax - qmin + 1));
            }
            ref->q_vec[c](x, n, sc, zp, qmin, qmax, (cquant_round_t)rnd, qa);
            k->q_vec[c](x, n, sc, zp, qmin, qmax, (cquant_round_t)rnd, qb);
            CHECKF(memcmp(qa, qb, n * es) == 0, "%s q_vec %s n=%zu", cquant_isa_name((cquant_isa_t)isa), info->name, n);
            ref->dq_vec[c](qa, n, sc, zp, ya);
            k->dq_vec[c](qa, n, sc, zp, yb);
            CHECKF(memcmp(ya, yb, n * 4) == 0, "%s dq_vec %s n=%zu", cquant_isa_name((cquant_isa_t)isa), info->name, n);
            ref->fq_vec(x, n, sc, zp, qmin, qmax, (cquant_round_t)rnd, ya);
            k->fq_vec(x, n, sc, zp, qmin, qmax, (cquant_round_t)rnd, yb);
            CHECKF(memcmp(ya, yb, n * 4) == 0, "%s fq_vec %s n=%zu", cquant_isa_name((cquant_isa_t)isa), info->name, n);
            compared += 6;
          }
        }
      }
    }
    /* min/max */
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
      size_t n = sizes[si];
      fill(x, n, 0.05f);
      float a0, a1, b0, b1;
      size_t ba = ref->minmax(x, n, &a0, &a1), bb = k->minmax(x, n, &b0, &b1);
      CHECKF(ba == bb && a0 == b0 && a1 == b1, "%s minmax n=%zu", cquant_isa_name((cquant_isa_t)isa), n);
    }
  }
  printf("  %ld kernel calls compared\n", compared);
  free(x); free(ya); free(yb); free(sc); free(zp); free(qa); free(qb);
}

/* Scaled FP8 kernels: every ISA equals the reference, both formats, modes, roundings, layouts. */
static void test_fp8_kernels(void) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  float x[4200], sc[4200], ya[4200], yb[4200];
  uint8_t qa[4200], qb[4200];
  for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = TH_KERNELS_FOR((cquant_isa_t)isa);
    if (!k) continue;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
      size_t n = sizes[si];
      for (int fmt = 0; fmt < 2; fmt++)
        for (int mode = 0; mode < 2; mode++)
          for (int rnd = 0; rnd < 2; rnd++)
            for (int vec = 0; vec < 2; vec++) {
              fill(x, n, 0.7f);
              for (size_t i = 0; i < n; i++) {
                sc[i] = (float)ldexp(0.5 + th_uniform(), (int)(th_rand() % 40) - 30); /* wide scales: subnormal results */
                if (th_rand() % 50 == 0) x[i] = (float)ldexp(th_uniform(), -(int)(th_rand() % 150)); /* tiny */
              }
              ref->fp8_q(x, n, sc, vec, fmt, (cquant_fp8_mode_t)mode, (cquant_round_t)rnd, qa);
              k->fp8_q(x, n, sc, vec, fmt, (cquant_fp8_mode_t)mode, (cquant_round_t)rnd, qb);
              CHECKF(n == 0 || memcmp(qa, qb, n) == 0, "%s fp8_q n=%zu fmt=%d mode=%d rnd=%d vec=%d", cquant_isa_name((cquant_isa_t)isa), n, fmt, mode, rnd, vec);
              ref->fp8_dq(qa, n, sc, vec, fmt, ya);
              k->fp8_dq(qa, n, sc, vec, fmt, yb);
              size_t bad = 0;
              for (size_t i = 0; i < n; i++) bad += !(ya[i] == yb[i] || (isnan(ya[i]) && isnan(yb[i])));
              CHECKF(bad == 0, "%s fp8_dq n=%zu fmt=%d", cquant_isa_name((cquant_isa_t)isa), n, fmt);
            }
    }
  }
}

/* The reference against eq. 13 computed independently in double precision. */
static void test_ref_semantics(void) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  float x[4096];
  int8_t q[4096];
  fill(x, 4096, 0.02f);
  cquant__qrun_t p = {0.02f, -3, -128, 127, CQUANT_ROUND_DIV, 0};
  ref->q_run[CQUANT__C_S8](x, 4096, &p, q);
  for (int i = 0; i < 4096; i++) {
    double want;
    if (isnan(x[i])) want = -128; /* NaN quantizes to qmin (documented) */
    else {
      float quot = x[i] / 0.02f; /* the float quotient, as ONNX computes it */
      double r = nearbyint((double)quot) - 3.0;
      want = r < -128 ? -128 : r > 127 ? 127 : r;
    }
    CHECKF(q[i] == (int8_t)want, "x=%g q=%d want %g", x[i], q[i], want);
  }
  /* ties go to even: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2 */
  float t[3] = {2.5f, 3.5f, -2.5f};
  cquant__qrun_t one = {1.0f, 0, -128, 127, CQUANT_ROUND_DIV, 0};
  ref->q_run[CQUANT__C_S8](t, 3, &one, q);
  CHECK(q[0] == 2 && q[1] == 4 && q[2] == -2);
  /* dequantize is exact: (q - z) * s */
  int8_t qq[2] = {-128, 127};
  float y[2];
  ref->dq_run[CQUANT__C_S8](qq, 2, 0.5f, 10, 0, y);
  CHECK(y[0] == -69.0f && y[1] == 58.5f);
}

/* s32: the reference saturates exactly at the int32 bounds. */
static void test_s32(void) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  float x[4] = {1e20f, -1e20f, 2.5f, -7.0f};
  int32_t q[4];
  cquant__qrun_t p = {1.0f, 5, INT32_MIN, INT32_MAX, CQUANT_ROUND_DIV, 0};
  ref->q_run[CQUANT__C_S32](x, 4, &p, q);
  CHECK(q[0] == INT32_MAX && q[1] == INT32_MIN && q[2] == 7 && q[3] == -2);
}

/* One dw_f32 case on every ISA against the reference, bit for bit, and nothing written outside y. */
static long dw_case(const cquant__dw_geom_t *g, int64_t nch, int use_b, int special) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  const int64_t taps = (int64_t)g->kh * g->kw, nx = nch * g->h * g->w, ny = nch * g->oh * g->ow;
  float *x = malloc(sizeof(float) * (size_t)(nx + 1)), *w = malloc(sizeof(float) * (size_t)(nch * taps)), *b = malloc(sizeof(float) * (size_t)nch);
  float *ya = malloc(sizeof(float) * (size_t)ny), *yb = malloc(sizeof(float) * (size_t)(ny + 64));
  for (int64_t i = 0; i < nx; i++) x[i] = th_gauss();
  for (int64_t i = 0; i < nch * taps; i++) w[i] = th_gauss();
  for (int64_t i = 0; i < nch; i++) b[i] = th_rand() % 4 == 0 ? -0.0f : th_gauss();
  if (special) { /* NaN, Inf, signed zeros, huge values in inputs and weights (padding times Inf is NaN) */
    for (int64_t i = 0; i < nx; i++) {
      const uint64_t r = th_rand() % 40;
      x[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY : r == 3 ? -0.0f : r == 4 ? 0.0f : r == 5 ? 3e38f : x[i];
    }
    for (int64_t i = 0; i < nch * taps; i++) {
      const uint64_t r = th_rand() % 30;
      w[i] = r == 0 ? INFINITY : r == 1 ? -0.0f : r == 2 ? 0.0f : w[i];
    }
  }
  ref->dw_f32(g, x, w, use_b ? b : NULL, nch, ya);
  long compared = 0;
  for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = TH_KERNELS_FOR((cquant_isa_t)isa);
    if (!k) continue;
    for (int64_t i = 0; i < ny + 64; i++) yb[i] = 12345.0f;
    k->dw_f32(g, x, w, use_b ? b : NULL, nch, yb);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < ny; i++)
      if (memcmp(&ya[i], &yb[i], 4) != 0 && !(isnan(ya[i]) && isnan(yb[i]))) bad++, first = first < 0 ? i : first;
    int over = 0;
    for (int64_t i = ny; i < ny + 64; i++) over += yb[i] != 12345.0f;
    CHECKF(bad == 0 && over == 0, "%s dw_f32 %lldx%lld k%dx%d s%d,%d d%d,%d p%lld,%lld out %lldx%lld nch %lld act %d: %lld differ (first %lld: %g vs %g), %d past y",
           cquant_isa_name((cquant_isa_t)isa), (long long)g->h, (long long)g->w, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, (long long)g->pt,
           (long long)g->pl, (long long)g->oh, (long long)g->ow, (long long)nch, g->act, (long long)bad, (long long)first,
           first >= 0 ? ya[first] : 0.0, first >= 0 ? yb[first] : 0.0, over);
    compared += (long)ny;
  }
  free(x), free(w), free(b), free(ya), free(yb);
  return compared;
}

static void dw_geom(cquant__dw_geom_t *g, int64_t h, int64_t w, int k, int s, int d, int64_t pt, int64_t pl, int64_t pb, int64_t pr) {
  memset(g, 0, sizeof *g);
  g->h = h, g->w = w, g->kh = g->kw = k, g->sh = g->sw = s, g->dh = g->dw = d, g->pt = pt, g->pl = pl;
  g->oh = (h + pt + pb - ((int64_t)(k - 1) * d + 1)) / s + 1, g->ow = (w + pl + pr - ((int64_t)(k - 1) * d + 1)) / s + 1;
}

/* Float32 depthwise planes: every ISA equals the reference bit for bit on the mobile nets' shapes
 * (3x3 and 5x5, stride 1 and 2, widths 7 to 112), on random geometry (rectangular kernels, strides
 * 1 to 3, dilations, uneven padding, planes narrower than a vector), with NaN, Inf and signed
 * zeros, each activation; and the reference is the sum in its stated order. */
static void test_dw_f32(void) {
  static const int64_t sides[] = {7, 14, 28, 56, 112, 1, 2, 15, 17, 33};
  long compared = 0;
  for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++)
    for (int k = 3; k <= 5; k += 2)
      for (int s = 1; s <= 2; s++) {
        cquant__dw_geom_t g;
        dw_geom(&g, sides[i], sides[i], k, s, 1, k / 2, k / 2, k / 2, k / 2);
        g.act = (int)(i % 3), g.lo = 0.0f, g.hi = 6.0f;
        compared += dw_case(&g, sides[i] > 56 ? 2 : 5, (int)(i & 1), i % 4 == 3);
      }
  for (int it = 0; it < 400; it++) {
    cquant__dw_geom_t g;
    memset(&g, 0, sizeof g);
    g.h = 1 + (int64_t)(th_rand() % 40), g.w = 1 + (int64_t)(th_rand() % 40);
    g.kh = 1 + (int)(th_rand() % 5), g.kw = 1 + (int)(th_rand() % 5);
    g.sh = 1 + (int)(th_rand() % 3), g.sw = it % 3 == 0 ? 1 : 1 + (int)(th_rand() % 3);
    g.dh = th_rand() % 4 == 0 ? 2 : 1, g.dw = th_rand() % 4 == 0 ? 1 + (int)(th_rand() % 3) : 1;
    g.pt = (int64_t)(th_rand() % 4), g.pl = (int64_t)(th_rand() % 4);
    const int64_t pb = (int64_t)(th_rand() % 4), pr = it % 3 == 0 ? (g.kw - 1) * g.dw - g.pl : (int64_t)(th_rand() % 4);
    const int64_t ekh = (int64_t)(g.kh - 1) * g.dh + 1, ekw = (int64_t)(g.kw - 1) * g.dw + 1;
    if (pr < 0 || g.h + g.pt + pb < ekh || g.w + g.pl + pr < ekw) continue;
    g.oh = (g.h + g.pt + pb - ekh) / g.sh + 1, g.ow = (g.w + g.pl + pr - ekw) / g.sw + 1;
    g.act = (int)(th_rand() % 3), g.lo = -0.5f, g.hi = th_rand() % 2 ? 0.75f : INFINITY;
    compared += dw_case(&g, 1 + (int64_t)(th_rand() % 4), (int)(th_rand() % 2), it % 5 == 0);
  }
  CHECK(compared > 0 || cquant__kernels_for(CQUANT_ISA_AVX2) == NULL);
  /* the reference: b, then each product added in tap order; padding adds w * +0 */
  const float xs[3] = {1e8f, 1.0f, -1e8f}, ws[3] = {1.0f, 1.0f, 1.0f}, ws2[3] = {INFINITY, 1.0f, 1.0f};
  cquant__dw_geom_t g;
  dw_geom(&g, 1, 3, 1, 1, 1, 0, 0, 0, 0);
  g.kw = 3, g.ow = 1;
  float y1, y3[3];
  cquant__kernels_for(CQUANT_ISA_REF)->dw_f32(&g, xs, ws, (const float[]){0.5f}, 1, &y1);
  CHECKF(y1 == ((0.5f + 1e8f) + 1.0f) + -1e8f, "dw_f32 order: %g", y1);
  dw_geom(&g, 1, 3, 3, 1, 1, 0, 1, 0, 1);
  g.kh = 1, g.oh = 1, g.ow = 3;
  cquant__kernels_for(CQUANT_ISA_REF)->dw_f32(&g, xs, ws2, NULL, 1, y3);
  CHECKF(isnan(y3[0]) && isinf(y3[1]), "dw_f32 padding is +0 times the weight: %g %g", y3[0], y3[1]);
}

/* The float32 convolution paths (conv_gemm.c: direct 1x1, im2col, dead taps of large dilations;
 * conv_dw.c) and pooling (pool.c) against a naive loop in double on random geometry. */
static void test_fconv_paths(void) {
  for (int it = 0; it < 300; it++) {
    cquant__conv2d_t p = {0};
    const int dw = it % 3 == 0;
    p.n = 1 + (int64_t)(th_rand() % 2), p.group = dw ? 1 + (int64_t)(th_rand() % 6) : 1 + (int64_t)(th_rand() % 2);
    p.c = dw ? p.group : p.group * (1 + (int64_t)(th_rand() % 5)), p.m = p.group * (1 + (int64_t)(th_rand() % (dw ? 2 : 6)));
    p.h = 1 + (int64_t)(th_rand() % 13), p.w = 1 + (int64_t)(th_rand() % 13), p.kh = 1 + (int64_t)(th_rand() % 4), p.kw = 1 + (int64_t)(th_rand() % 4);
    p.stride_h = 1 + (int64_t)(th_rand() % 3), p.stride_w = 1 + (int64_t)(th_rand() % 3);
    p.dil_h = 1 + (int64_t)(th_rand() % 5), p.dil_w = 1 + (int64_t)(th_rand() % 5);
    if (it % 4 == 1) p.kh = p.kw = 1, p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1; /* the direct 1x1 form */
    p.pad_t = (int64_t)(th_rand() % 9), p.pad_b = (int64_t)(th_rand() % 9), p.pad_l = (int64_t)(th_rand() % 9), p.pad_r = (int64_t)(th_rand() % 9);
    if (it % 4 == 1) p.pad_t = p.pad_b = p.pad_l = p.pad_r = 0;
    const int64_t ekh = (p.kh - 1) * p.dil_h + 1, ekw = (p.kw - 1) * p.dil_w + 1;
    if (p.h + p.pad_t + p.pad_b < ekh || p.w + p.pad_l + p.pad_r < ekw) continue;
    p.oh = (p.h + p.pad_t + p.pad_b - ekh) / p.stride_h + 1, p.ow = (p.w + p.pad_l + p.pad_r - ekw) / p.stride_w + 1;
    const int64_t cg = p.c / p.group, mg = p.m / p.group, nx = p.n * p.c * p.h * p.w, nw = p.m * cg * p.kh * p.kw, ny = p.n * p.m * p.oh * p.ow;
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw), *b = malloc(sizeof(float) * (size_t)p.m);
    float *y = malloc(sizeof(float) * (size_t)ny);
    for (int64_t i = 0; i < nx; i++) x[i] = th_gauss();
    for (int64_t i = 0; i < nw; i++) w[i] = th_gauss();
    for (int64_t i = 0; i < p.m; i++) b[i] = th_gauss();
    const int use_b = it % 2;
    const int st = dw && cg == 1 ? cquant__conv_dw_f32(&p, x, w, use_b ? b : NULL, y) : cquant__conv_gemm_f32(&p, x, w, use_b ? b : NULL, y);
    CHECKF(st == 0, "conv path failed: %d", st);
    double worst = 0;
    for (int64_t n = 0; n < p.n; n++)
      for (int64_t m = 0; m < p.m; m++)
        for (int64_t oy = 0; oy < p.oh; oy++)
          for (int64_t ox = 0; ox < p.ow; ox++) {
            const int64_t g = m / mg;
            double acc = use_b ? b[m] : 0, mag = fabs(acc);
            for (int64_t c = 0; c < cg; c++)
              for (int64_t ky = 0; ky < p.kh; ky++)
                for (int64_t kx = 0; kx < p.kw; kx++) {
                  const int64_t iy = oy * p.stride_h - p.pad_t + ky * p.dil_h, ix = ox * p.stride_w - p.pad_l + kx * p.dil_w;
                  if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
                  const double t = (double)w[((m * cg + c) * p.kh + ky) * p.kw + kx] * x[((n * p.c + g * cg + c) * p.h + iy) * p.w + ix];
                  acc += t, mag += fabs(t);
                }
            const double d = fabs(acc - y[((n * p.m + m) * p.oh + oy) * p.ow + ox]) / (mag + 1e-30);
            worst = d > worst ? d : worst;
          }
    CHECKF(worst < 1e-5, "conv n%lld c%lld m%lld g%lld %lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld pads %lld %lld %lld %lld: rel err %g", (long long)p.n,
           (long long)p.c, (long long)p.m, (long long)p.group, (long long)p.h, (long long)p.w, (long long)p.kh, (long long)p.kw, (long long)p.stride_h,
           (long long)p.stride_w, (long long)p.dil_h, (long long)p.dil_w, (long long)p.pad_t, (long long)p.pad_l, (long long)p.pad_b, (long long)p.pad_r, worst);
    if (p.dil_h == 1 && p.dil_w == 1 && p.pad_t < p.kh && p.pad_b < p.kh && p.pad_l < p.kw && p.pad_r < p.kw) { /* pooling on the same geometry */
      cquant__conv2d_t q = p;
      q.m = q.group = q.c;
      const int64_t nq = p.n * p.c * p.oh * p.ow;
      float *yq = malloc(sizeof(float) * (size_t)nq);
      for (int kind = 0; kind < 3; kind++) {
        CHECK(cquant__pool2d_f32(&q, kind == 0, kind == 2, x, yq) == 0);
        int64_t bad = 0;
        for (int64_t pl = 0; pl < p.n * p.c; pl++)
          for (int64_t oy = 0; oy < p.oh; oy++)
            for (int64_t ox = 0; ox < p.ow; ox++) {
              double best = -INFINITY, sum = 0;
              int64_t cnt = 0, cntp = 0;
              for (int64_t ky = 0; ky < p.kh; ky++)
                for (int64_t kx = 0; kx < p.kw; kx++) {
                  const int64_t iy = oy * p.stride_h - p.pad_t + ky, ix = ox * p.stride_w - p.pad_l + kx;
                  cntp += iy < p.h + p.pad_b && ix < p.w + p.pad_r;
                  if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
                  const double v = x[(pl * p.h + iy) * p.w + ix];
                  best = v > best ? v : best, sum += v, cnt++;
                }
              const double want = kind == 0 ? best : sum / (double)(kind == 2 ? cntp : cnt), got = yq[(pl * p.oh + oy) * p.ow + ox];
              bad += !(fabs(want - got) <= 1e-5 * (1 + fabs(want)));
            }
        CHECKF(bad == 0, "pool kind %d: %lld differ", kind, (long long)bad);
      }
      free(yq);
    }
    free(x), free(w), free(b), free(y);
  }
}

/* The calibration histogram (hist_count): every ISA equals the reference's counts, trash entries,
 * minimum and maximum, with NaN and -Inf among the values and ranges that cover only part of them. */
static void test_hist_kernels(void) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  static float x[5003];
  for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = TH_KERNELS_FOR((cquant_isa_t)isa);
    if (!k) continue;
    for (int trial = 0; trial < 40; trial++) {
      size_t n = 1 + th_rand() % 5003;
      int e2 = (int)(th_rand() % 20) - 14;
      float inv = ldexpf(1.0f, -e2);
      for (size_t i = 0; i < n; i++) {
        x[i] = th_gauss() * ldexpf(1.0f, e2 + 8);
        if (th_rand() % 97 == 0) x[i] = (th_rand() & 1) ? NAN : -INFINITY;
      }
      float mn = INFINITY, mx = -INFINITY;
      for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) { mn = fminf(mn, x[i]); mx = fmaxf(mx, x[i]); }
      int64_t kmin = (int64_t)floorf(mn * inv), nbins = (int64_t)floorf(mx * inv) - kmin + 1;
      /* some trials cover only part of the values: the rest must go to the trash entries */
      if (trial % 3 == 1) { kmin += nbins / 4; nbins /= 2; }
      size_t sz = 4 * (size_t)(nbins + 1);
      uint32_t *a = calloc(sz, 4), *b = calloc(sz, 4);
      float amn, amx, bmn, bmx;
      size_t abad = ref->hist_count(x, n, inv, kmin, nbins, a, &amn, &amx);
      size_t bbad = k->hist_count(x, n, inv, kmin, nbins, b, &bmn, &bmx);
      CHECKF(memcmp(a, b, sz * 4) == 0, "%s hist_count n=%zu differs", cquant_isa_name((cquant_isa_t)isa), n);
      CHECK(abad == bbad && amn == bmn && amx == bmx && amn == mn && amx == mx);
      uint64_t tot = 0;
      for (size_t i = 0; i < sz; i++) tot += a[i];
      CHECK(tot == n);
      free(a);
      free(b);
    }
  }
}

/* one case of test_conv_rows_f32 (it picks the bias, special values, acc and row strides); returns
 * the outputs compared */
static long conv_rows_case(int it, int64_t m, int64_t n, int64_t K) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  long compared = 0;
  const int64_t ys = n + (int64_t)(th_rand() % 5), ny = m * ys + 64;
  const int use_b = it % 3 != 0, special = it % 5 == 0, acc = it % 4 == 1;
  const int64_t lw = K + (it % 6 == 2 ? 1 + (int64_t)(th_rand() % 9) : 0); /* W's row stride: an sgemm's lda */
  float *x = malloc(sizeof(float) * (size_t)(K * n)), *w = malloc(sizeof(float) * (size_t)(m * lw)), *b = malloc(sizeof(float) * (size_t)m);
  float *ya = malloc(sizeof(float) * (size_t)ny), *yb = malloc(sizeof(float) * (size_t)ny);
  const float **r = malloc(sizeof(float *) * (size_t)K);
  for (int64_t i = 0; i < K * n; i++) x[i] = th_gauss();
  for (int64_t i = 0; i < m * lw; i++) w[i] = th_gauss();
  for (int64_t i = 0; i < m; i++) b[i] = th_rand() % 4 == 0 ? -0.0f : th_gauss();
  if (special)
    for (int64_t i = 0; i < K * n; i++) {
      const uint64_t q = th_rand() % 40;
      x[i] = q == 0 ? NAN : q == 1 ? INFINITY : q == 2 ? -INFINITY : q == 3 ? -0.0f : q == 4 ? 3e38f : x[i];
    }
  for (int64_t t = 0; t < K; t++) r[t] = x + t * n;
  float *y0 = malloc(sizeof(float) * (size_t)ny); /* what y holds before: acc adds to it */
  for (int64_t i = 0; i < ny; i++) y0[i] = acc ? th_gauss() * 8.0f : 12345.0f;
  memcpy(ya, y0, sizeof(float) * (size_t)ny);
  ref->conv_rows_f32(r, w, lw, use_b ? b : NULL, K, m, n, ya, ys, acc);
  for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = TH_KERNELS_FOR((cquant_isa_t)isa);
    if (!k) continue;
    memcpy(yb, y0, sizeof(float) * (size_t)ny);
    k->conv_rows_f32(r, w, lw, use_b ? b : NULL, K, m, n, yb, ys, acc);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < ny; i++)
      if (memcmp(&ya[i], &yb[i], 4) != 0 && !(isnan(ya[i]) && isnan(yb[i]))) bad++, first = first < 0 ? i : first;
    CHECKF(bad == 0, "%s conv_rows_f32 acc %d m %lld n %lld K %lld ys %lld: %lld differ (first %lld: %g vs %g)", cquant_isa_name((cquant_isa_t)isa), acc, (long long)m,
           (long long)n, (long long)K, (long long)ys, (long long)bad, (long long)first, first >= 0 ? ya[first] : 0.0, first >= 0 ? yb[first] : 0.0);
    compared += (long)(m * n);
  }
  free(x), free(w), free(b), free(ya), free(yb), free(y0), free(r);
  return compared;
}

/* Dense float32 convolution rows (conv_rows_f32): every ISA equals the reference bit for bit for
 * channel counts around the 4-, 6- and 8-channel blocks and up to 200 channels, row lengths around
 * the 8/16/32-lane blocks and the 64-column packed blocks, K from 1 to 385 (up to 4 chunks), with
 * NaN, Inf and signed zeros; nothing is written past a row or outside the rows' stride. The
 * reference sums the taps in chunks of at most CQUANT__SGEMM_KC (one fmaf per tap from zero), then
 * adds b and the chunks in order. */
static void test_conv_rows_f32(void) {
  static const int64_t ms[] = {1, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17}, ns[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100, 130};
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  long compared = 0;
  for (int it = 0; it < 288; it++)
    compared += conv_rows_case(it, ms[it % 12], ns[(it / 12) % 12], it % 7 == 0 ? 1 + (int64_t)(th_rand() % 300) : 1 + (int64_t)(th_rand() % 40));
  /* many channels (many full row tiles, then a partial one) over 2-4 chunks of taps */
  static const int64_t big[][3] = {{130, 33, 300}, {121, 70, 280}, {200, 17, 257}, {97, 130, 385}};
  for (int q = 0; q < 8; q++) compared += conv_rows_case(q, big[q % 4][0], big[q % 4][1], big[q % 4][2]);
  CHECK(compared > 0 || cquant__kernels_for(CQUANT_ISA_AVX2) == NULL);
  /* the reference rounds once per tap: -1, then fmaf(1 + 2^-23, 1 - 2^-23, -1) = -2^-46, not 0 */
  const float xs[2] = {1.0f, 1.0f - 0x1p-23f}, ws[2] = {-1.0f, 1.0f + 0x1p-23f}, *rs[2] = {xs, xs + 1};
  float y1;
  ref->conv_rows_f32(rs, ws, 2, NULL, 2, 1, 1, &y1, 1, 0);
  CHECKF(y1 == -0x1p-46f, "conv_rows_f32 fuses the product and the sum: %g", y1);
  /* the bias joins after the taps' chunk: 2^24 + (1 + 1) = 2^24 + 2, where 2^24 + 1 + 1 = 2^24 */
  const float xo[2] = {1.0f, 1.0f}, wo[2] = {1.0f, 1.0f}, *ro[2] = {xo, xo + 1};
  ref->conv_rows_f32(ro, wo, 2, (const float[]){0x1p24f}, 2, 1, 1, &y1, 1, 0);
  CHECKF(y1 == 0x1p24f + 2.0f, "conv_rows_f32 adds the bias after the chunk's taps: %g", y1);
  /* acc: the row's own value joins after the first chunk, as the bias does (and b is not read) */
  y1 = 0x1p24f;
  ref->conv_rows_f32(ro, wo, 2, (const float[]){-0x1p24f}, 2, 1, 1, &y1, 1, 1);
  CHECKF(y1 == 0x1p24f + 2.0f, "conv_rows_f32 acc adds y after the chunk's taps: %g", y1);
  /* 300 taps of 1: chunks of 100 each exact, the same sum */
  {
    float *ones = malloc(sizeof(float) * 300);
    const float **rr = malloc(sizeof(float *) * 300);
    for (int t = 0; t < 300; t++) ones[t] = 1.0f, rr[t] = ones + t;
    ref->conv_rows_f32(rr, ones, 300, NULL, 300, 1, 1, &y1, 1, 0);
    CHECKF(y1 == 300.0f, "conv_rows_f32 of 300 ones: %g", y1);
    free(ones), free(rr);
  }
}

/* cquant__sgemm (conv_par.c) against a scalar chain written from its definition: every element is
 * the sum of K's chunks (cquant__sgemm_chunks), each one fmaf chain from zero in k order, added in
 * order to 0 (beta 0) or to C (beta 1). Shapes on both sides of CQUANT__BLAS_SMALL, where the
 * chunks run on cquant's kernel below and on OpenBLAS's large kernel above (whose order this also
 * checks: a newer OpenBLAS that changes it fails here), all four transpose forms, N short and long
 * (the kernel's two orientations), lda/ldb/ldc wider than the matrices. */
static void test_sgemm_chain(void) {
  static const int64_t shapes[][3] = {{1, 1, 1},    {3, 1, 200},  {64, 1, 300}, {1, 1000, 64}, {7, 5, 130},   {17, 49, 960},  {64, 196, 96},
                                      {64, 196, 64}, {320, 49, 960}, {96, 300, 40}, {5, 9, 257},  {200, 3, 129}, {128, 128, 128}, {33, 17, 0}};
  const int ns = (int)(sizeof shapes / sizeof shapes[0]);
  for (int it = 0; it < ns * 8; it++) {
    const int64_t M = shapes[it / 8][0], N = shapes[it / 8][1], K = shapes[it / 8][2];
    const int ta = it & 1, tb = (it >> 1) & 1, beta1 = (it >> 2) & 1;
    const int64_t lda = (ta ? M : K) + it % 3, ldb = (tb ? K : N) + it % 2, ldc = N + 1;
    float *A = malloc(sizeof(float) * (size_t)((ta ? K : M) * lda + 1)), *B = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb + 1));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc)), *R = malloc(sizeof(float) * (size_t)(M * ldc));
    for (int64_t i = 0; i < (ta ? K : M) * lda; i++) A[i] = th_gauss();
    for (int64_t i = 0; i < (tb ? N : K) * ldb; i++) B[i] = th_gauss();
    for (int64_t i = 0; i < M * ldc; i++) C[i] = R[i] = th_gauss();
    cquant__sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta1 ? 1.0f : 0.0f, C, ldc);
    const int64_t nk = K > 128 ? (K + 127) / 128 : 1;
    int64_t bad = 0;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < ldc; j++) {
        float a = R[i * ldc + j];
        if (j < N) {
          a = beta1 ? a : 0.0f;
          for (int64_t c = 0; c < nk; c++) {
            float s = 0.0f;
            for (int64_t k = K * c / nk; k < K * (c + 1) / nk; k++) s = fmaf(ta ? A[k * lda + i] : A[i * lda + k], tb ? B[j * ldb + k] : B[k * ldb + j], s);
            a = c || beta1 ? a + s : s;
          }
        }
        bad += memcmp(&a, &C[i * ldc + j], 4) != 0;
      }
    CHECKF(bad == 0, "cquant__sgemm M %lld N %lld K %lld ta %d tb %d beta %d: %lld elements differ from the chunked fmaf chain", (long long)M, (long long)N,
           (long long)K, ta, tb, beta1, (long long)bad);
    free(A), free(B), free(C), free(R);
  }
}

/* The direct dense convolution (conv_small.c) against the im2col GEMM path on random geometry:
 * strides, dilations, uneven padding, the flat 1x1 form, several images, 1 and 2 threads. */
static void test_conv_small(void) {
  int ran = 0;
  for (int it = 0; it < 200; it++) {
    cquant__conv2d_t p = {0};
    p.n = 1 + (int64_t)(th_rand() % 2), p.group = 1, p.c = 1 + (int64_t)(th_rand() % 12), p.m = 1 + (int64_t)(th_rand() % 20);
    p.h = 1 + (int64_t)(th_rand() % 40), p.w = 1 + (int64_t)(th_rand() % 40), p.kh = 1 + (int64_t)(th_rand() % 4), p.kw = 1 + (int64_t)(th_rand() % 4);
    p.stride_h = 1 + (int64_t)(th_rand() % 3), p.stride_w = 1 + (int64_t)(th_rand() % 3);
    p.dil_h = 1 + (int64_t)(th_rand() % 3), p.dil_w = 1 + (int64_t)(th_rand() % 3);
    p.pad_t = (int64_t)(th_rand() % 4), p.pad_b = (int64_t)(th_rand() % 4), p.pad_l = (int64_t)(th_rand() % 4), p.pad_r = (int64_t)(th_rand() % 4);
    if (it % 4 == 1) p.kh = p.kw = 1, p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1, p.pad_t = p.pad_b = p.pad_l = p.pad_r = 0;
    if (it % 8 == 2) p.h = p.w = 64, p.c = 3, p.m = 24; /* enough work for the threads */
    if (it % 8 == 5) p.h = p.w = 7, p.c = 200, p.m = 120; /* flat on a small plane: pixel runs and channel slices */
    const int64_t ekh = (p.kh - 1) * p.dil_h + 1, ekw = (p.kw - 1) * p.dil_w + 1;
    if (p.h + p.pad_t + p.pad_b < ekh || p.w + p.pad_l + p.pad_r < ekw) continue;
    p.oh = (p.h + p.pad_t + p.pad_b - ekh) / p.stride_h + 1, p.ow = (p.w + p.pad_l + p.pad_r - ekw) / p.stride_w + 1;
    const int64_t nx = p.n * p.c * p.h * p.w, nw = p.m * p.c * p.kh * p.kw, ny = p.n * p.m * p.oh * p.ow;
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw), *b = malloc(sizeof(float) * (size_t)p.m);
    float *ya = malloc(sizeof(float) * (size_t)ny), *yb = malloc(sizeof(float) * (size_t)ny);
    for (int64_t i = 0; i < nx; i++) x[i] = th_gauss();
    for (int64_t i = 0; i < nw; i++) w[i] = th_gauss();
    for (int64_t i = 0; i < p.m; i++) b[i] = th_gauss();
    const int use_b = it % 2;
    cquant_set_num_threads(it % 3 == 0 || it % 8 == 5 ? 2 : 1);
    CHECK(cquant__conv_gemm_f32(&p, x, w, use_b ? b : NULL, ya) == 0);
    CHECK(cquant__conv_small_f32(&p, x, w, use_b ? b : NULL, NULL, yb) == 0);
    double worst = 0, mag = 1;
    for (int64_t i = 0; i < ny; i++) worst = fmax(worst, fabs((double)ya[i] - yb[i])), mag = fmax(mag, fabs((double)ya[i]));
    CHECKF(worst <= 1e-5 * mag * (double)(p.c * p.kh * p.kw), "conv_small %lldx%lld c%lld m%lld k%lldx%lld s%lld,%lld: off by %g", (long long)p.h, (long long)p.w,
           (long long)p.c, (long long)p.m, (long long)p.kh, (long long)p.kw, (long long)p.stride_h, (long long)p.stride_w, worst);
    ran++;
    free(x), free(w), free(b), free(ya), free(yb);
  }
  cquant_set_num_threads(1);
  CHECK(ran > 100);
}

/* The convolution epilogue (conv_epi_f32): every ISA equals the reference bit for bit for each
 * activation, with and without the residual, on lengths around the vector width, with NaN, Inf,
 * signed zeros and values at the clamps' edges. */
static void test_conv_epi_f32(void) {
  static const int64_t ns[] = {1, 5, 15, 16, 17, 33, 100, 1000};
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  long compared = 0;
  for (int act = CQUANT__EPI_NONE; act <= CQUANT__EPI_SILU; act++)
    for (int with_add = 0; with_add < 2; with_add++)
      for (size_t q = 0; q < sizeof ns / sizeof ns[0]; q++) {
        const int64_t n = ns[q];
        float *x = malloc(sizeof(float) * (size_t)n), *r = malloc(sizeof(float) * (size_t)n), *ya = malloc(sizeof(float) * (size_t)(n + 16)),
              *yb = malloc(sizeof(float) * (size_t)(n + 16));
        for (int64_t i = 0; i < n; i++) {
          const uint64_t u = th_rand() % 30;
          x[i] = u == 0 ? NAN : u == 1 ? INFINITY : u == 2 ? -INFINITY : u == 3 ? -0.0f : u == 4 ? 0.0f : u == 5 ? -3.0f : u == 6 ? 3.0f : u == 7 ? 6.0f : th_gauss() * 4.0f;
          r[i] = th_rand() % 10 == 0 ? -x[i] : th_gauss();
        }
        const cquant__conv_epi_t e = {with_add ? r : NULL, act, act == CQUANT__EPI_CLIP ? -0.5f : act == CQUANT__EPI_LEAKY ? 0.1f : 1.0f / 6.0f,
                                      act == CQUANT__EPI_CLIP ? 6.0f : 0.5f};
        for (int64_t i = 0; i < n + 16; i++) ya[i] = i < n ? x[i] : 777.0f;
        ref->conv_epi_f32(&e, ya, e.add, n);
        for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
          const cquant__kernels_t *k = TH_KERNELS_FOR((cquant_isa_t)isa);
          if (!k) continue;
          for (int64_t i = 0; i < n + 16; i++) yb[i] = i < n ? x[i] : 777.0f;
          k->conv_epi_f32(&e, yb, e.add, n);
          int64_t bad = 0;
          for (int64_t i = 0; i < n + 16; i++) bad += memcmp(&ya[i], &yb[i], 4) != 0 && !(isnan(ya[i]) && isnan(yb[i]));
          CHECKF(bad == 0, "%s conv_epi_f32 act %d add %d n %lld: %lld differ", cquant_isa_name((cquant_isa_t)isa), act, with_add, (long long)n, (long long)bad);
          compared += (long)n;
        }
        free(x), free(r), free(ya), free(yb);
      }
  CHECK(compared > 0 || cquant__kernels_for(CQUANT_ISA_AVX2) == NULL);
}

/* Sigmoid, Tanh, Erf and Gelu (math_vec.c, built again for AVX2 and AVX-512): every ISA equals the
 * reference bit for bit (NaN payloads included) on lengths around the vector widths, on NaN, Inf,
 * signed zeros, subnormals, the branch edges (|x| = 0.625, 1, 4) and random values at several
 * scales, and never writes past n. */
static void test_mathvec_f32(void) {
  static const int64_t ns[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 4099};
  static const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f, 0.625f, -0.625f, 1.0f, -1.0f, 4.0f, -4.0f,
                                  0.62499994f, 0.99999994f, 3.9999998f, 88.0f, -88.0f, 1e30f, -1e30f, 5.656854f, -5.656854f};
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  long compared = 0;
  for (int f = 0; f < 4; f++)
    for (size_t q = 0; q < sizeof ns / sizeof ns[0]; q++) {
      const int64_t n = ns[q];
      float *x = malloc(sizeof(float) * (size_t)n), *ya = malloc(sizeof(float) * (size_t)(n + 16)), *yb = malloc(sizeof(float) * (size_t)(n + 16));
      for (int64_t i = 0; i < n; i++) {
        const uint64_t u = th_rand() % 4;
        x[i] = u == 0 ? special[th_rand() % (sizeof special / sizeof special[0])] : th_gauss() * (u == 1 ? 0.5f : u == 2 ? 3.0f : 30.0f);
      }
      void (*fa)(const float *, float *, int64_t) = f == 0 ? ref->sigmoid_f32 : f == 1 ? ref->tanh_f32 : f == 2 ? ref->erf_f32 : ref->gelu_f32;
      for (int64_t i = 0; i < n + 16; i++) ya[i] = 777.0f;
      fa(x, ya, n);
      for (int isa = 1; isa < CQUANT_ISA_COUNT; isa++) {
        const cquant__kernels_t *k = TH_KERNELS_FOR((cquant_isa_t)isa);
        if (!k) continue;
        void (*fb)(const float *, float *, int64_t) = f == 0 ? k->sigmoid_f32 : f == 1 ? k->tanh_f32 : f == 2 ? k->erf_f32 : k->gelu_f32;
        for (int64_t i = 0; i < n + 16; i++) yb[i] = 777.0f;
        fb(x, yb, n);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n + 16; i++)
          if (memcmp(&ya[i], &yb[i], 4) != 0) bad++, first = first < 0 ? i : first;
        CHECKF(bad == 0, "%s %s n %lld: %lld differ (first at %lld: x %g, %g vs %g)", cquant_isa_name((cquant_isa_t)isa),
               f == 0 ? "sigmoid" : f == 1 ? "tanh" : f == 2 ? "erf" : "gelu", (long long)n, (long long)bad, (long long)first,
               first >= 0 && first < n ? x[first] : 0.0, first >= 0 ? ya[first] : 0.0, first >= 0 ? yb[first] : 0.0);
        compared += (long)n;
      }
      free(x), free(ya), free(yb);
    }
  CHECK(compared > 0 || cquant__kernels_for(CQUANT_ISA_AVX2) == NULL);
}

#ifndef TH_EXTRA_TESTS /* test_avx512_emu.c's own, before these */
#define TH_EXTRA_TESTS
#endif
TH_MAIN(TH_EXTRA_TESTS T(test_simd_equals_ref), T(test_fp8_kernels), T(test_ref_semantics), T(test_s32), T(test_dw_f32), T(test_fconv_paths), T(test_conv_rows_f32), T(test_sgemm_chain), T(test_conv_small), T(test_conv_epi_f32), T(test_mathvec_f32), T(test_hist_kernels))
