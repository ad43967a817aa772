/* Integer GEMM: every kernel (reference layout, AVX2, AVX-512 VNNI, AMX-INT8) equals the reference of eq. 22
 * bit for bit, on sizes below, at and above the tile edges (8 rows; 16/32 columns; k-groups of 2 and
 * 4), with signed and unsigned operands, zero-points at the extremes, strided rows, the worst case
 * for int16 saturation (255 x -128 everywhere), and with 1 and 2 threads. */
#include "intops/intops.h"
#include "harness.h"

int cquant__qgemm_pack_kind(const void *B, int b_signed, int64_t K, int64_t N, int64_t ldb, const int32_t *zb,
                            int zb_per_col, int kind, cquant_qgemm_weights_t **out);

static int kind_ok(int kind) {
#ifdef TH_EMU /* test_qgemm_emu: the VNNI and AMX kernels linked in are emulated (tests/simde) */
  if (kind == CQUANT__QG_AMX || kind == CQUANT__QG_VNNI) return cquant_isa_detected() >= CQUANT_ISA_AVX2;
#else
  if (kind == CQUANT__QG_AMX) return cquant_isa_detected() >= CQUANT_ISA_AVX512 && cquant__has_amx();
  if (kind == CQUANT__QG_VNNI) return cquant_isa_detected() >= CQUANT_ISA_AVX512 && cquant__has_vnni();
#endif
  if (kind == CQUANT__QG_AVX2) return cquant_isa_detected() >= CQUANT_ISA_AVX2;
  return 1;
}

static void fill8(uint8_t *p, size_t n, int mode) {
  for (size_t i = 0; i < n; i++) p[i] = mode == 1 ? 255 : mode == 2 ? 0x80 : (uint8_t)th_rand();
}

static long compare_one(int kind, int64_t M, int64_t N, int64_t K, int as, int bs, int mode, int threads) {
  const int64_t lda = K + (int64_t)(th_rand() % 3), ldb = N + (int64_t)(th_rand() % 3), ldc = N + (int64_t)(th_rand() % 3);
  uint8_t *A = malloc((size_t)(M * lda) + 8), *B = malloc((size_t)(K * ldb) + 8);
  int32_t *C = malloc(sizeof(int32_t) * (size_t)(M * ldc)), *R = malloc(sizeof(int32_t) * (size_t)(M * ldc));
  int32_t *zb = malloc(sizeof(int32_t) * (size_t)N);
  fill8(A, (size_t)(M * lda), mode);
  fill8(B, (size_t)(K * ldb), mode == 1 ? 2 : mode); /* worst case: A = 255, B = -128 (0x80) */
  const int32_t lo = bs ? -128 : 0, hi = bs ? 127 : 255;
  int per_col = (int)(th_rand() & 1);
  for (int64_t n = 0; n < N; n++) zb[n] = (th_rand() % 4 == 0) ? (th_rand() & 1 ? lo : hi) : lo + (int32_t)(th_rand() % (uint64_t)(hi - lo + 1));
  int32_t za = (th_rand() % 3 == 0) ? (as ? -128 : 0) : (th_rand() % 3 == 0) ? (as ? 127 : 255) : (as ? -5 : 130);
  if (mode == 1) { za = as ? -128 : 0; for (int64_t n = 0; n < N; n++) zb[n] = bs ? 127 : 255; }
  cquant_qgemm_weights_t *w;
  long bad = 0;
  if (cquant__qgemm_pack_kind(B, bs, K, N, ldb, zb, per_col, kind, &w)) return 1;
  cquant_set_num_threads(threads);
  memset(C, 0x55, sizeof(int32_t) * (size_t)(M * ldc));
  memset(R, 0x55, sizeof(int32_t) * (size_t)(M * ldc));
  CHECK(cquant_qgemm(A, as, M, lda, za, w, C, ldc) == 0);
  cquant__qgemm_s32_ref(M, N, K, A, as, lda, &za, 0, B, bs, ldb, zb, per_col, R, ldc);
  for (int64_t m = 0; m < M; m++) bad += memcmp(C + m * ldc, R + m * ldc, sizeof(int32_t) * (size_t)N) != 0;
  cquant_set_num_threads(0);
  cquant_qgemm_weights_free(w);
  free(A); free(B); free(C); free(R); free(zb);
  return bad;
}

static void test_kernels_equal_reference(void) {
  static const int64_t Ms[] = {1, 2, 7, 8, 9, 17, 64, 300}, Ns[] = {1, 15, 16, 17, 31, 32, 33, 100}, Ks[] = {1, 2, 3, 4, 5, 63, 64, 65, 257};
  static const char *names[] = {"ref", "avx2", "vnni", "amx"};
  for (int kind = 0; kind < 4; kind++) {
    if (!kind_ok(kind)) { printf("  (%s not available)\n", names[kind]); continue; }
    long bad = 0, cases = 0;
    for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++)
      for (size_t j = 0; j < sizeof Ns / sizeof Ns[0]; j++)
        for (size_t k = 0; k < sizeof Ks / sizeof Ks[0]; k++) {
          int as = (int)(th_rand() & 1), bs = (int)(th_rand() & 1);
          bad += compare_one(kind, Ms[i], Ns[j], Ks[k], as, bs, 0, 1 + (int)(th_rand() & 1));
          cases++;
        }
    CHECKF(bad == 0, "%s: %ld rows differ over %ld shapes", names[kind], bad, cases);
    printf("  %s: %ld shapes equal the reference\n", names[kind], cases);
  }
}

static void test_saturation_worst_case(void) {
  /* every product is 255 x -128 (u8 x s8) with zero-points at the far ends: a kernel that let two
   * products meet in int16 (vpmaddubsw) would saturate at -32768 */
  for (int kind = 1; kind < 4; kind++) {
    if (!kind_ok(kind)) continue;
    for (int64_t K = 1; K <= 4100; K = K * 3 + 1) CHECKF(compare_one(kind, 9, 33, K, 0, 1, 1, 2) == 0, "kind %d K %lld", kind, (long long)K);
  }
}

static void test_large_and_threads(void) {
  for (int kind = 0; kind < 4; kind++) {
    if (!kind_ok(kind)) continue;
    CHECK(compare_one(kind, 600, 200, 300, 0, 1, 0, 2) == 0); /* several 256-row blocks over 2 threads */
    CHECK(compare_one(kind, 1, 1000, 777, 1, 0, 0, 2) == 0);  /* GEMV: panels over threads */
    CHECK(compare_one(kind, 96, 50, 128, 0, 1, 0, 1) == 0);   /* uint8 A in whole tiles: AMX reads it in place */
    CHECK(compare_one(kind, 320, 70, 192, 0, 0, 0, 2) == 0);
  }
}

static void test_bad_arguments(void) {
  uint8_t b[4] = {0};
  int32_t z = 0, c[4];
  cquant_qgemm_weights_t *w = NULL;
  CHECK(cquant_qgemm_pack(b, 0, 0, 2, 2, &z, 0, &w) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_qgemm_pack(b, 0, 2, 2, 1, &z, 0, &w) == CQUANT_STATUS_INVALID_ARGUMENT);
  CHECK(cquant_qgemm_pack(b, 0, 2, 2, 2, &z, 0, &w) == 0);
  CHECK(cquant_qgemm(b, 0, 2, 1, 0, w, c, 2) == CQUANT_STATUS_INVALID_ARGUMENT); /* lda < K */
  CHECK(cquant_qgemm(NULL, 0, 2, 2, 0, w, c, 2) == CQUANT_STATUS_INVALID_ARGUMENT);
  cquant_qgemm_weights_free(w);
}

TH_MAIN(T(test_kernels_equal_reference), T(test_saturation_worst_case), T(test_large_and_threads), T(test_bad_arguments))
