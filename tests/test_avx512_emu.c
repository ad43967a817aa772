/* The AVX-512 float GEMM rows and convolution epilogue (convrows_avx512.c, convepi_avx512.c), run
 * through SIMDe's emulation of AVX-512 (tests/simde/immintrin.h), equal the scalar reference bit for
 * bit: so these kernels are checked on machines without AVX-512 (test_kernels checks the real
 * instructions where the CPU has them). The cases: channel counts around the 8-channel tile, row
 * lengths around the 16- and 32-lane halves and the 64-column packed pair of strips, K across the
 * 128-tap chunks, row strides, a bias or none, accumulation into y, NaN, Inf and signed zeros;
 * nothing may be written past a row or outside the rows' stride. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "exec/ops/conv_internal.h"
#include "harness.h"

void cquant_emu_fdense_init_avx512(cquant__kernels_t *k); /* emu_fdense_avx512.c */

static cquant__kernels_t emu;

/* the reference's table with the emulated AVX-512 float kernels in it */
static void init_emu(void) {
  static int done;
  if (done++) return;
  emu = *cquant__kernels_for(CQUANT_ISA_REF);
  cquant_emu_fdense_init_avx512(&emu);
}

static void test_conv_rows_emu(void) {
  init_emu();
  static const int64_t ms[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 33}, ns[] = {1, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 130, 200};
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  for (int it = 0; it < 616; it++) {
    const int64_t m = ms[it % 11], n = ns[(it / 11) % 14], K = it % 5 == 0 ? 1 + (int64_t)(th_rand() % 400) : 1 + (int64_t)(th_rand() % 40);
    const int64_t ys = n + (int64_t)(th_rand() % 5), ny = m * ys + 64;
    const int use_b = it % 3 != 0, special = it % 7 == 0, acc = it % 4 == 1;
    const int64_t lw = K + (it % 6 == 2 ? 1 + (int64_t)(th_rand() % 9) : 0);
    float *x = malloc(sizeof(float) * (size_t)(K * n)), *w = malloc(sizeof(float) * (size_t)(m * lw)), *b = malloc(sizeof(float) * (size_t)m);
    float *ya = malloc(sizeof(float) * (size_t)ny), *yb = malloc(sizeof(float) * (size_t)ny);
    const float **r = malloc(sizeof(float *) * (size_t)K);
    for (int64_t i = 0; i < K * n; i++) {
      const uint64_t q = special ? th_rand() % 40 : 40;
      x[i] = q == 0 ? NAN : q == 1 ? INFINITY : q == 2 ? -INFINITY : q == 3 ? -0.0f : q == 4 ? 3e38f : th_gauss();
    }
    for (int64_t i = 0; i < m * lw; i++) w[i] = th_gauss();
    for (int64_t i = 0; i < m; i++) b[i] = th_rand() % 4 == 0 ? -0.0f : th_gauss();
    for (int64_t t = 0; t < K; t++) r[t] = x + t * n;
    for (int64_t i = 0; i < ny; i++) ya[i] = acc ? th_gauss() * 8.0f : 12345.0f;
    memcpy(yb, ya, sizeof(float) * (size_t)ny);
    ref->conv_rows_f32(r, w, lw, use_b ? b : NULL, K, m, n, ya, ys, acc);
    emu.conv_rows_f32(r, w, lw, use_b ? b : NULL, K, m, n, yb, ys, acc);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < ny; i++)
      if (memcmp(&ya[i], &yb[i], 4) != 0 && !(isnan(ya[i]) && isnan(yb[i]))) bad++, first = first < 0 ? i : first;
    CHECKF(bad == 0, "emulated avx512 conv_rows_f32 acc %d bias %d m %lld n %lld K %lld ys %lld: %lld differ (first at %lld)", acc, use_b, (long long)m,
           (long long)n, (long long)K, (long long)ys, (long long)bad, (long long)first);
    free(x), free(w), free(b), free(ya), free(yb), free(r);
  }
}

static void test_conv_epi_emu(void) {
  init_emu();
  static const int64_t ns[] = {1, 5, 15, 16, 17, 33, 100, 1000};
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  for (int act = CQUANT__EPI_NONE; act <= CQUANT__EPI_SILU; act++)
    for (int with_add = 0; with_add < 2; with_add++)
      for (size_t q = 0; q < sizeof ns / sizeof ns[0]; q++) {
        const int64_t n = ns[q];
        float *x = malloc(sizeof(float) * (size_t)n), *a = malloc(sizeof(float) * (size_t)n), *ya = malloc(sizeof(float) * (size_t)(n + 16)),
              *yb = malloc(sizeof(float) * (size_t)(n + 16));
        for (int64_t i = 0; i < n; i++) {
          const uint64_t u = th_rand() % 30;
          x[i] = u == 0 ? NAN : u == 1 ? INFINITY : u == 2 ? -INFINITY : u == 3 ? -0.0f : u == 4 ? -3.0f : u == 5 ? 6.0f : th_gauss() * 4.0f;
          a[i] = th_rand() % 10 == 0 ? -x[i] : th_gauss();
        }
        const cquant__conv_epi_t e = {with_add ? a : NULL, act, act == CQUANT__EPI_CLIP ? -0.5f : act == CQUANT__EPI_LEAKY ? 0.1f : 1.0f / 6.0f,
                                      act == CQUANT__EPI_CLIP ? 6.0f : 0.5f};
        for (int64_t i = 0; i < n + 16; i++) ya[i] = yb[i] = i < n ? x[i] : 777.0f;
        ref->conv_epi_f32(&e, ya, e.add, n);
        emu.conv_epi_f32(&e, yb, e.add, n);
        int64_t bad = 0;
        for (int64_t i = 0; i < n + 16; i++) bad += memcmp(&ya[i], &yb[i], 4) != 0 && !(isnan(ya[i]) && isnan(yb[i]));
        CHECKF(bad == 0, "emulated avx512 conv_epi_f32 act %d add %d n %lld: %lld differ", act, with_add, (long long)n, (long long)bad);
        free(x), free(a), free(ya), free(yb);
      }
}

/* the emulation itself is faithful: one rounding per fused product, and masked lanes untouched */
static void test_emulation(void) {
  init_emu();
  const float xs[2] = {1.0f, 1.0f - 0x1p-23f}, ws[2] = {-1.0f, 1.0f + 0x1p-23f}, *rs[2] = {xs, xs + 1};
  float y[3] = {0.0f, 5.0f, 5.0f};
  emu.conv_rows_f32(rs, ws, 2, NULL, 2, 1, 1, y, 1, 0);
  CHECKF(y[0] == -0x1p-46f, "emulated FMA rounds twice: %g", y[0]);
  CHECK(y[1] == 5.0f && y[2] == 5.0f);
}

TH_MAIN(T(test_emulation), T(test_conv_rows_emu), T(test_conv_epi_emu))
