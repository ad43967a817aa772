/* GEMM epilogues and the quantized operators: exact against their scalar definitions (eq. 23, 25),
 * and within one quantization step of the float computation they approximate. */
#include <math.h>
#include <stdio.h>
#include "cquant/cpu.h"
#include "intops/intops.h"
#include "harness.h"

static void test_epilogues_exact(void) {
  const int64_t M = 70, N = 37, K = 45; /* M > 64: more than one epilogue block */
  uint8_t A[70 * 45];
  int8_t B[45 * 37];
  int32_t zb = 3, ref[70 * 37], bias[37], m0[37], sh[37], s32[70 * 37];
  float mult[37], scale[37];
  uint8_t q[70 * 37], qf[70 * 37];
  float f[70 * 37];
  for (int i = 0; i < M * K; i++) A[i] = (uint8_t)th_rand();
  for (int i = 0; i < K * N; i++) B[i] = (int8_t)th_rand();
  for (int j = 0; j < N; j++) {
    bias[j] = (int32_t)(th_rand() % 20001) - 10000;
    mult[j] = (float)(0.0001 + th_uniform() * 0.002);
    scale[j] = mult[j] * 3;
    int s;
    CHECK(cquant_quantize_multiplier(mult[j], &m0[j], &s) == 0);
    sh[j] = s;
  }
  cquant__qgemm_s32_ref(M, N, K, A, 0, K, &(int32_t){7}, 0, B, 1, N, &zb, 0, ref, N);
  cquant_qgemm_weights_t *w;
  CHECK(cquant_qgemm_pack(B, 1, K, N, N, &zb, 0, &w) == 0);
  cquant_epilogue_t e = {CQUANT_EPI_REQUANT, bias, 1, m0, sh, NULL, NULL, 10, 0, 10, 200}; /* ReLU-like clamp from zo */
  CHECK(cquant_qgemm_ex(A, 0, M, K, 7, w, &e, q, N) == 0);
  cquant_epilogue_t ef = {CQUANT_EPI_REQUANT_F, bias, 1, NULL, NULL, mult, NULL, 10, 0, 0, 255};
  CHECK(cquant_qgemm_ex(A, 0, M, K, 7, w, &ef, qf, N) == 0);
  cquant_epilogue_t e32 = {CQUANT_EPI_F32, bias, 1, NULL, NULL, NULL, scale, 0, 0, 0, 0};
  CHECK(cquant_qgemm_ex(A, 0, M, K, 7, w, &e32, f, N) == 0);
  cquant_epilogue_t eb = {CQUANT_EPI_S32, bias, 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
  CHECK(cquant_qgemm_ex(A, 0, M, K, 7, w, &eb, s32, N) == 0);
  long bad = 0;
  for (int64_t m = 0; m < M; m++)
    for (int64_t j = 0; j < N; j++) {
      const int32_t acc = ref[m * N + j] + bias[j];
      int32_t want = cquant_mul_by_quantized_multiplier(acc, m0[j], sh[j]) + 10;
      want = want < 10 ? 10 : (want > 200 ? 200 : want);
      bad += q[m * N + j] != want;
      int32_t wf = (int32_t)roundevenf((float)acc * mult[j]) + 10;
      wf = wf < 0 ? 0 : (wf > 255 ? 255 : wf);
      bad += qf[m * N + j] != wf;
      bad += f[m * N + j] != (float)acc * scale[j];
      bad += s32[m * N + j] != acc;
    }
  CHECKF(bad == 0, "%ld epilogue values differ from their definitions", bad);
  cquant_epilogue_t badc = {CQUANT_EPI_REQUANT, NULL, 0, m0, sh, NULL, NULL, 0, 0, 300, 10};
  CHECK(cquant_qgemm_ex(A, 0, M, K, 7, w, &badc, q, N) == CQUANT_STATUS_INVALID_ARGUMENT);
  cquant_qgemm_weights_free(w);
}

static void test_qlinear_vs_float(void) {
  const int64_t M = 9, N = 21, K = 33;
  uint8_t x[9 * 33], y[9 * 21];
  int8_t W[33 * 21];
  float ws[21];
  int32_t bias[21], z0 = 0;
  for (int i = 0; i < M * K; i++) x[i] = (uint8_t)th_rand();
  for (int i = 0; i < K * N; i++) W[i] = (int8_t)th_rand();
  for (int j = 0; j < N; j++) { ws[j] = (float)(0.002 + th_uniform() * 0.01); bias[j] = (int32_t)(th_rand() % 2001) - 1000; }
  const float xs = 0.03f, ys = 0.6f;
  const int32_t xz = 120, yz = 100;
  cquant_qgemm_weights_t *w;
  CHECK(cquant_qgemm_pack(W, 1, K, N, N, &z0, 0, &w) == 0);
  for (int relu = 0; relu < 2; relu++) {
    CHECK(cquant_qlinear(x, 0, M, xs, xz, w, ws, 1, bias, ys, yz, 0, relu, y) == 0);
    long far = 0;
    for (int64_t m = 0; m < M; m++)
      for (int64_t j = 0; j < N; j++) {
        double acc = bias[j] * (double)xs * ws[j];
        for (int64_t k = 0; k < K; k++) acc += (x[m * K + k] - xz) * (double)xs * W[k * N + j] * (double)ws[j];
        double q = rint(acc / ys) + yz;
        q = q < (relu ? yz : 0) ? (relu ? yz : 0) : (q > 255 ? 255 : q);
        far += fabs(q - y[m * N + j]) > 1;
      }
    CHECKF(far == 0, "relu %d: %ld outputs more than one step from the float result", relu, far);
  }
  cquant_qgemm_weights_free(w);
}

static void test_qadd(void) {
  uint8_t a[1000], b[1000], y[1000];
  for (int i = 0; i < 1000; i++) { a[i] = (uint8_t)th_rand(); b[i] = (uint8_t)th_rand(); }
  const float s1 = 0.02f, s2 = 0.07f, sy = 0.09f;
  CHECK(cquant_qadd(a, s1, 128, b, s2, 100, 0, 1000, sy, 120, y) == 0);
  long far = 0;
  for (int i = 0; i < 1000; i++) {
    double r = (a[i] - 128) * (double)s1 + (b[i] - 100) * (double)s2, q = rint(r / sy) + 120;
    q = q < 0 ? 0 : (q > 255 ? 255 : q);
    far += fabs(q - y[i]) > 1;
  }
  CHECKF(far == 0, "%ld sums more than one step off", far);
  int8_t sa[3] = {-128, 0, 127}, sb[3] = {-128, 5, 127}, sy8[3];
  CHECK(cquant_qadd(sa, 1.0f, 0, sb, 1.0f, 0, 1, 3, 1.0f, 0, sy8) == 0);
  CHECK(sy8[0] == -128 && sy8[1] == 5 && sy8[2] == 127); /* saturation */
  CHECK(cquant_qadd(a, 0.0f, 0, b, 1.0f, 0, 0, 3, 1.0f, 0, y) == CQUANT_STATUS_INVALID_ARGUMENT);
}

static void test_pools_and_clamp(void) {
  int8_t x[2 * 3 * 5 * 6], mx[2 * 3 * 3 * 3], av[2 * 3 * 3 * 3], g[6];
  for (int i = 0; i < 180; i++) x[i] = (int8_t)th_rand();
  int64_t oh, ow;
  CHECK(cquant_qpool2d(x, 1, 2, 3, 5, 6, 3, 3, 2, 2, 1, 1, 1, 0, 0, mx, &oh, &ow) == 0 && oh == 3 && ow == 3);
  CHECK(cquant_qpool2d(x, 1, 2, 3, 5, 6, 3, 3, 2, 2, 1, 1, 1, 0, 1, av, NULL, NULL) == 0);
  long bad = 0;
  for (int p = 0; p < 6; p++)
    for (int oy = 0; oy < 3; oy++)
      for (int ox = 0; ox < 3; ox++) {
        int best = -1000, sum = 0, cnt = 0;
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++) {
            int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
            if (iy < 0 || iy >= 5 || ix < 0 || ix >= 6) continue;
            int v = x[(p * 5 + iy) * 6 + ix];
            best = v > best ? v : best;
            sum += v;
            cnt++;
          }
        bad += mx[(p * 3 + oy) * 3 + ox] != best;
        bad += av[(p * 3 + oy) * 3 + ox] != (int)lround((double)sum / cnt); /* lround: half away from zero */
      }
  CHECKF(bad == 0, "%ld pooled values differ", bad);
  CHECK(cquant_qpool2d(x, 1, 2, 3, 5, 6, 5, 6, 1, 1, 0, 0, 0, 0, 1, g, &oh, &ow) == 0 && oh == 1 && ow == 1); /* global */
  for (int p = 0; p < 6; p++) {
    int sum = 0;
    for (int i = 0; i < 30; i++) sum += x[p * 30 + i];
    CHECK(g[p] == (int)lround(sum / 30.0));
  }
  CHECK(cquant_qpool2d(x, 1, 2, 3, 5, 6, 3, 3, 2, 2, 3, 0, 0, 0, 0, mx, NULL, NULL) == CQUANT_STATUS_INVALID_ARGUMENT);
  uint8_t u[5] = {0, 99, 100, 101, 255}, r[5];
  CHECK(cquant_qclamp(u, 0, 5, 0.1f, 100, 0.0f, INFINITY, r) == 0); /* ReLU: q >= z */
  CHECK(r[0] == 100 && r[1] == 100 && r[2] == 100 && r[3] == 101 && r[4] == 255);
  CHECK(cquant_qclamp(u, 0, 5, 0.1f, 100, 0.0f, 6.0f, r) == 0 && r[4] == 160); /* ReLU6: q <= 6 / 0.1 + 100 */
}

/* The quantized add on a large tensor (the 64 KiB table of every input pair) against eq. 26
 * evaluated element by element. */
static void test_qadd_table_exact(void) {
  enum { N = 300000 };
  static uint8_t a[N], b[N], y[N];
  for (int i = 0; i < N; i++) a[i] = (uint8_t)th_rand(), b[i] = (uint8_t)th_rand();
  for (int sg = 0; sg < 2; sg++) {
    const float s1 = 0.031f, s2 = 0.007f, sy = 0.05f;
    const int32_t z1 = sg ? -3 : 120, z2 = sg ? 5 : 3, zy = sg ? 1 : 60, lo = sg ? -128 : 0, hi = sg ? 127 : 255;
    CHECK(cquant_qadd(a, s1, z1, b, s2, z2, sg, N, sy, zy, y) == 0);
    const double twice_max = 2.0 * fmax(s1, s2);
    int32_t m1, m2, mo;
    int e1, e2, eo;
    CHECK(cquant_quantize_multiplier(s1 / twice_max, &m1, &e1) == 0 && cquant_quantize_multiplier(s2 / twice_max, &m2, &e2) == 0 &&
          cquant_quantize_multiplier(twice_max / ((double)(1 << 20) * sy), &mo, &eo) == 0);
    long bad = 0;
    for (int i = 0; i < N; i++) {
      const int32_t qa = sg ? (int8_t)a[i] : a[i], qb = sg ? (int8_t)b[i] : b[i];
      const int32_t sum = cquant_mul_by_quantized_multiplier((qa - z1) * (1 << 20), m1, e1) + cquant_mul_by_quantized_multiplier((qb - z2) * (1 << 20), m2, e2);
      int32_t q = cquant_mul_by_quantized_multiplier(sum, mo, eo) + zy;
      q = q < lo ? lo : (q > hi ? hi : q);
      bad += (sg ? (int32_t)(int8_t)y[i] : (int32_t)y[i]) != q;
    }
    CHECKF(bad == 0, "%ld sums differ from eq. 26", bad);
  }
}

/* 2x2 / 2 max pooling (its own fast loop) against the definition, odd and even sizes. */
static void test_maxpool_2x2(void) {
  long bad = 0;
  for (int sg = 0; sg < 2; sg++)
    for (int h = 2; h <= 9; h++)
      for (int w = 2; w <= 11; w += 3) {
        uint8_t x[3 * 9 * 11], y[3 * 4 * 5];
        for (int i = 0; i < 3 * h * w; i++) x[i] = (uint8_t)th_rand();
        int64_t oh, ow;
        CHECK(cquant_qpool2d(x, sg, 1, 3, h, w, 2, 2, 2, 2, 0, 0, 0, 0, 0, y, &oh, &ow) == 0 && oh == h / 2 && ow == w / 2);
        for (int p = 0; p < 3; p++)
          for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
              int best = -1000;
              for (int k = 0; k < 4; k++) {
                const uint8_t b = x[(p * h + 2 * oy + k / 2) * w + 2 * ox + k % 2];
                const int v = sg ? (int)(int8_t)b : (int)b;
                best = v > best ? v : best;
              }
              const uint8_t o = y[(p * oh + oy) * ow + ox];
              bad += (sg ? (int)(int8_t)o : (int)o) != best;
            }
      }
  CHECKF(bad == 0, "%ld pooled values differ", bad);
}

/* The AVX2 requantizing epilogue against its scalar definition (eq. 23): random and extreme
 * accumulators, ties, per-column and per-tensor multipliers, with and without bias, both types. */
static void test_requant_avx2_exact(void) {
  if (cquant_isa_active() < CQUANT_ISA_AVX2) { printf("skip requant AVX2: no AVX2 here\n"); return; }
  enum { N = 1031 };
  static int32_t acc[N], bias[N];
  static float mult[N];
  static uint8_t got[N];
  long bad = 0;
  for (int round = 0; round < 200; round++) {
    for (int j = 0; j < N; j++) {
      const uint32_t r = th_rand();
      acc[j] = r % 7 == 0 ? (int32_t)(r ^ 0x80000000u) : r % 7 == 1 ? (int32_t)(r % 2 ? INT32_MAX : INT32_MIN) : (int32_t)(r % 200001) - 100000;
      bias[j] = (int32_t)(th_rand() % 2001) - 1000;
      mult[j] = r % 5 == 0 ? 0.5f : r % 5 == 1 ? 1.0f : (float)(th_uniform() * 0.01); /* 0.5 and 1: exact ties */
    }
    const int pc = round % 2, sg = (round / 2) % 2, hb = (round / 4) % 2;
    const int32_t zo = sg ? (int32_t)(th_rand() % 256) - 128 : (int32_t)(th_rand() % 256), lo = sg ? -128 : 0, hi = sg ? 127 : 255;
    const int64_t n = N - round % 9;
    cquant__requant_f_avx2(acc, hb ? bias : NULL, mult, pc, sg, zo, lo, hi, n, got);
    for (int64_t j = 0; j < n; j++) {
      const int32_t a = (int32_t)((uint32_t)acc[j] + (uint32_t)(hb ? bias[j] : 0));
      const float v = roundevenf((float)a * mult[pc ? j : 0]);
      int64_t q = (v < -2147483648.0f ? INT32_MIN : v > 2147483520.0f ? INT32_MAX : (int64_t)v) + zo;
      q = q < lo ? lo : (q > hi ? hi : q);
      bad += (sg ? (int)(int8_t)got[j] : (int)got[j]) != q;
    }
  }
  CHECKF(bad == 0, "%ld requantized values differ from eq. 23", bad);
}

TH_MAIN(T(test_epilogues_exact), T(test_qlinear_vs_float), T(test_qadd), T(test_pools_and_clamp), T(test_maxpool_2x2), T(test_qadd_table_exact),
        T(test_requant_avx2_exact))
