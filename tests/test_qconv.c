/* Integer convolution through im2col + GEMM (and the direct depthwise loops) equals the direct
 * reference bit for bit, as int32 or requantized in the epilogue: NCHW and NHWC,
 * strides, dilations, padding, groups and depthwise, signed and unsigned operands, per-channel
 * weight zero-points, on every GEMM kernel (reference, AVX2, VNNI, AMX). */
#include <math.h>
#include <stdlib.h>
#include "intops/intops.h"
#include "harness.h"

static long one(int nhwc) {
  cquant__conv2d_t p;
  memset(&p, 0, sizeof p);
  p.n = 1 + (int64_t)(th_rand() % 2);
  p.group = 1 + (int64_t)(th_rand() % 3);
  int depthwise = th_rand() % 4 == 0;
  int64_t cg = 1 + (int64_t)(th_rand() % 5), mg = 1 + (int64_t)(th_rand() % 6);
  if (th_rand() % 4 == 0) cg = 8 + (int64_t)(th_rand() % 8); /* K >= 64 with 3x3: the AMX kernel */
  if (depthwise) { cg = 1; mg = 1; p.group = 1 + (int64_t)(th_rand() % 8); }
  p.c = cg * p.group;
  p.m = mg * p.group;
  p.h = 1 + (int64_t)(th_rand() % 9);
  p.w = 1 + (int64_t)(th_rand() % 9);
  p.kh = 1 + (int64_t)(th_rand() % 3);
  p.kw = 1 + (int64_t)(th_rand() % 3);
  p.stride_h = 1 + (int64_t)(th_rand() % 2);
  p.stride_w = 1 + (int64_t)(th_rand() % 2);
  p.dil_h = 1 + (int64_t)(th_rand() % 2);
  p.dil_w = 1 + (int64_t)(th_rand() % 2);
  p.pad_t = (int64_t)(th_rand() % 3); p.pad_b = (int64_t)(th_rand() % 3);
  p.pad_l = (int64_t)(th_rand() % 3); p.pad_r = (int64_t)(th_rand() % 3);
  p.oh = (p.h + p.pad_t + p.pad_b - (p.dil_h * (p.kh - 1) + 1)) / p.stride_h + 1;
  p.ow = (p.w + p.pad_l + p.pad_r - (p.dil_w * (p.kw - 1) + 1)) / p.stride_w + 1;
  if (p.oh < 1 || p.ow < 1) return 0;
  const int xs = (int)(th_rand() & 1), ws = (int)(th_rand() & 1);
  const size_t nx = (size_t)(p.n * p.c * p.h * p.w), nw = (size_t)(p.m * cg * p.kh * p.kw), ny = (size_t)(p.n * p.m * p.oh * p.ow);
  uint8_t *x = malloc(nx), *xt = malloc(nx), *w = malloc(nw);
  int32_t *y = malloc(ny * 4), *r = malloc(ny * 4), *zw = malloc((size_t)p.m * 4);
  for (size_t i = 0; i < nx; i++) x[i] = (uint8_t)th_rand();
  for (size_t i = 0; i < nw; i++) w[i] = (uint8_t)th_rand();
  const int32_t zx = xs ? (int32_t)(th_rand() % 256) - 128 : (int32_t)(th_rand() % 256);
  for (int64_t m = 0; m < p.m; m++) zw[m] = ws ? (int32_t)(th_rand() % 256) - 128 : (int32_t)(th_rand() % 256);
  const int per = (int)(th_rand() & 1);
  cquant__qconv2d_s32_ref(&p, x, xs, zx, w, ws, zw, per, r); /* NCHW reference */
  if (nhwc) { /* the same input in NHWC */
    for (int64_t n = 0; n < p.n; n++)
      for (int64_t c = 0; c < p.c; c++)
        for (int64_t i = 0; i < p.h * p.w; i++) xt[(n * p.h * p.w + i) * p.c + c] = x[(n * p.c + c) * p.h * p.w + i];
  }
  long bad = 0;
  if (th_rand() % 2) { /* int32 out */
    if (cquant__qconv2d_s32(&p, nhwc, nhwc ? xt : x, xs, zx, w, ws, zw, per, y)) bad++;
    for (int64_t n = 0; n < p.n && !bad; n++)
      for (int64_t m = 0; m < p.m; m++)
        for (int64_t i = 0; i < p.oh * p.ow; i++) {
          int32_t got = nhwc ? y[(n * p.oh * p.ow + i) * p.m + m] : y[(n * p.m + m) * p.oh * p.ow + i];
          bad += got != r[(n * p.m + m) * p.oh * p.ow + i];
        }
  } else { /* requantized per output channel with bias in the epilogue (eq. 23) */
    float *mult = malloc((size_t)p.m * sizeof(float));
    int32_t *bias = malloc((size_t)p.m * 4);
    for (int64_t m = 0; m < p.m; m++) mult[m] = (float)(0.0005 + th_uniform() * 0.01), bias[m] = (int32_t)(th_rand() % 4001) - 2000;
    const int os = (int)(th_rand() & 1);
    const int32_t zo = os ? (int32_t)(th_rand() % 256) - 128 : (int32_t)(th_rand() % 256);
    cquant_epilogue_t e = {CQUANT_EPI_REQUANT_F, bias, 1, NULL, NULL, mult, NULL, zo, os, os ? -128 : 0, os ? 127 : 255};
    uint8_t *q = (uint8_t *)y;
    if (cquant__qconv2d_ex(&p, nhwc, nhwc ? xt : x, xs, zx, w, ws, zw, per, &e, q)) bad++;
    for (int64_t n = 0; n < p.n && !bad; n++)
      for (int64_t m = 0; m < p.m; m++)
        for (int64_t i = 0; i < p.oh * p.ow; i++) {
          const uint8_t got = nhwc ? q[(n * p.oh * p.ow + i) * p.m + m] : q[(n * p.m + m) * p.oh * p.ow + i];
          const int32_t a = (int32_t)((uint32_t)r[(n * p.m + m) * p.oh * p.ow + i] + (uint32_t)bias[m]);
          const float v = roundevenf((float)a * mult[m]);
          int64_t want = (v < -2147483648.0f ? INT32_MIN : v > 2147483520.0f ? INT32_MAX : (int64_t)v) + zo;
          want = want < (os ? -128 : 0) ? (os ? -128 : 0) : want > (os ? 127 : 255) ? (os ? 127 : 255) : want;
          bad += (os ? (int64_t)(int8_t)got : (int64_t)got) != want;
        }
    free(mult);
    free(bias);
  }
  free(x); free(xt); free(w); free(y); free(r); free(zw);
  return bad;
}

static void test_qconv_equals_reference(void) {
  static const char *names[] = {"ref", "avx2", "avx512+vnni", "avx512+amx"};
  int no_amx = cquant__env()->no_amx;
  for (int v = 0; v < 4; v++) {
    cquant_isa_t isa = v == 0 ? CQUANT_ISA_REF : v == 1 ? CQUANT_ISA_AVX2 : CQUANT_ISA_AVX512;
    if (cquant_isa_force(isa)) continue;
    if (v >= 2) cquant__env()->no_amx = v == 2; /* avx512+vnni: as CQUANT_NO_AMX=1 */
    if (v == 3 && !cquant__has_amx()) continue;
    long bad = 0;
    for (int t = 0; t < 600; t++) bad += one(t & 1);
    CHECKF(bad == 0, "%s: %ld outputs differ", names[v], bad);
  }
  cquant__env()->no_amx = no_amx;
  cquant_isa_force(cquant_isa_detected());
}

/* Weights packed for another layout are refused with a status (and nothing is left allocated: the
 * sanitizer build checks the error path). */
static void test_qconv_packed_layout_mismatch(void) {
  cquant__conv2d_t p;
  memset(&p, 0, sizeof p);
  p.n = 1, p.c = 8, p.h = 5, p.w = 5, p.m = 4, p.kh = 3, p.kw = 3, p.group = 1;
  p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1, p.oh = 3, p.ow = 3;
  uint8_t x[8 * 25], w[4 * 8 * 9];
  int32_t zw = 0, y[4 * 9];
  for (size_t i = 0; i < sizeof x; i++) x[i] = (uint8_t)i;
  for (size_t i = 0; i < sizeof w; i++) w[i] = (uint8_t)(3 * i);
  cquant__qconv_packed_t *pk = NULL;
  CHECK(cquant__qconv2d_pack(&p, 1, w, 0, &zw, 0, &pk) == CQUANT_STATUS_OK);
  cquant__conv2d_t q = p;
  q.group = 2, q.m = 4; /* another grouping than the packed one */
  int8_t w2[4 * 4 * 9] = {0};
  CHECK(cquant__qconv2d_ex2(&q, 1, x, 0, 0, w2, 1, &zw, 0, pk, NULL, y) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant__qconv2d_ex2(&p, 1, x, 0, 0, w, 0, &zw, 0, pk, NULL, y) == CQUANT_STATUS_OK);
  cquant__qconv2d_packed_free(pk);
}

TH_MAIN(T(test_qconv_equals_reference), T(test_qconv_packed_layout_mismatch))
