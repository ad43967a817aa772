/* The 8-bit pooling and activation kernels of every ISA table (NHWC max pooling, global average
 * pooling's sums, int8 ReLU) equal the scalar reference bit for bit: channel counts around the SIMD
 * widths (1..65), padding, strides, all-minimum and all-maximum inputs, and a global average sum
 * that saturates int32. */
#include <stdlib.h>
#include "core/internal.h"
#include "harness.h"

static uint32_t rng = 12345;
static uint8_t rnd8(void) { rng = rng * 1664525u + 1013904223u; return (uint8_t)(rng >> 24); }

/* fill 0: random, 1: all 0x80 (int8 minimum), 2: all 0x7f (int8 maximum), 3: all 0x00, 4: all 0xff */
static void fill(uint8_t *x, size_t n, int kind) {
  static const uint8_t v[] = {0, 0x80, 0x7f, 0x00, 0xff};
  for (size_t i = 0; i < n; i++) x[i] = kind ? v[kind] : rnd8();
}

static void test_qpool_variants_equal_reference(void) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
    const cquant__kernels_t *k = cquant__kernels_for((cquant_isa_t)isa);
    if (!k) continue;
    long bad = 0;
    for (int64_t C = 1; C <= 65; C += (C < 40 ? 1 : 8))
      for (int kind = 0; kind < 5; kind++)
        for (int sg = 0; sg < 2; sg++) {
          const int64_t N = 2, H = 5, W = 6, kh = 3, kw = 2, sh = 2, sw = 1, pt = 1, pl = 1, pb = 1, pr = 0;
          const int64_t oh = (H + pt + pb - kh) / sh + 1, ow = (W + pl + pr - kw) / sw + 1;
          const size_t nx = (size_t)(N * H * W * C), ny = (size_t)(N * oh * ow * C);
          uint8_t *x = malloc(nx), *y = malloc(nx + ny), *r = malloc(nx + ny); /* ReLU writes nx */
          int32_t *a = malloc(sizeof(int32_t) * (size_t)(N * C)), *b = malloc(sizeof(int32_t) * (size_t)(N * C));
          fill(x, nx, kind);
          k->maxpool_nhwc_8(x, sg, N, H, W, C, kh, kw, sh, sw, pt, pl, oh, ow, y);
          ref->maxpool_nhwc_8(x, sg, N, H, W, C, kh, kw, sh, sw, pt, pl, oh, ow, r);
          bad += memcmp(y, r, ny) != 0;
          for (int cl = 0; cl < 2; cl++) {
            const int32_t zx = sg ? (kind == 1 ? 127 : -128) : (kind == 3 ? 255 : 0);
            k->gap_sum_8(x, sg, cl, N, C, H * W, zx, a);
            ref->gap_sum_8(x, sg, cl, N, C, H * W, zx, b);
            bad += memcmp(a, b, sizeof(int32_t) * (size_t)(N * C)) != 0;
          }
          k->relu_s8((const int8_t *)x, (int64_t)nx, (int8_t *)y);
          ref->relu_s8((const int8_t *)x, (int64_t)nx, (int8_t *)r);
          bad += memcmp(y, r, nx) != 0;
          free(x), free(y), free(r), free(a), free(b);
        }
    CHECKF(bad == 0, "%s: %ld cases differ", cquant_isa_name((cquant_isa_t)isa), bad);
  }
}

/* The reference itself on known values: int8 max pooling picks the most negative value when all are
 * negative (padding never wins), ReLU clamps -128 to 0, and the sums saturate at INT32_MAX/MIN. */
static void test_qpool_reference_values(void) {
  const cquant__kernels_t *ref = cquant__kernels_for(CQUANT_ISA_REF);
  const int8_t x[4] = {-128, -5, -7, -128};
  int8_t y[4];
  ref->maxpool_nhwc_8((const uint8_t *)x, 1, 1, 2, 2, 1, 3, 3, 1, 1, 1, 1, 2, 2, (uint8_t *)y);
  CHECK(y[0] == -5 && y[1] == -5 && y[2] == -5 && y[3] == -5);
  ref->relu_s8(x, 4, y);
  CHECK(y[0] == 0 && y[1] == 0);
  const int8_t z[3] = {127, 0, -1};
  ref->relu_s8(z, 3, y);
  CHECK(y[0] == 127 && y[1] == 0 && y[2] == 0);
  const int64_t plane = 9000000; /* 255 x plane > INT32_MAX */
  uint8_t *big = malloc((size_t)plane);
  memset(big, 0x7f, (size_t)plane);
  int32_t a[1];
  const cquant__kernels_t *tabs[CQUANT_ISA_COUNT];
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) tabs[isa] = cquant__kernels_for((cquant_isa_t)isa);
  for (int isa = 0; isa < CQUANT_ISA_COUNT; isa++) {
    if (!tabs[isa]) continue;
    tabs[isa]->gap_sum_8(big, 1, 0, 1, 1, plane, -128, a);
    CHECK(a[0] == INT32_MAX);
    memset(big, 0x80, (size_t)plane);
    tabs[isa]->gap_sum_8(big, 1, 1, 1, 1, plane, 127, a);
    CHECK(a[0] == INT32_MIN);
    memset(big, 0x7f, (size_t)plane);
  }
  free(big);
}

TH_MAIN(T(test_qpool_variants_equal_reference), T(test_qpool_reference_values))
