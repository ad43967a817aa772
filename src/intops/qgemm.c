/* Integer GEMM driver: weight packing, zero-point folding (eq. 22 expanded), blocking, threads,
 * kernel choice. The kernels: src/intops/x86 (AVX-512 VNNI, AVX2) and the reference. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "intops/intops.h"

#define VNNI_NR 32
#define AVX2_NR 16
#define MR 8   /* rows per micro-tile */
#define MC 256 /* rows per block: 256 x K bytes of A stay in L2 while the panels stream by */

const char *cquant_qgemm_kernel_name(const cquant_qgemm_weights_t *w) {
  return !w ? "none" : w->kind == CQUANT__QG_AMX ? "amx" : w->kind == CQUANT__QG_VNNI ? "vnni" : w->kind == CQUANT__QG_AVX2 ? "avx2" : "ref";
}

void cquant_qgemm_weights_free(cquant_qgemm_weights_t *w) {
  if (!w) return;
  free(w->packed);
  free(w->colsum);
  free(w->zb);
  free(w);
}

/* B'[k][n] */
static inline int8_t bprime(const void *B, int b_signed, int64_t ldb, int64_t k, int64_t n) {
  return b_signed ? ((const int8_t *)B)[k * ldb + n] : (int8_t)(((const uint8_t *)B)[k * ldb + n] - 128);
}

int cquant__qgemm_pack_kind(const void *B, int b_signed, int64_t K, int64_t N, int64_t ldb, const int32_t *zb,
                            int zb_per_col, int kind, cquant_qgemm_weights_t **out) {
  if (!out || !B || !zb || K < 1 || N < 1 || ldb < N)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qgemm pack: bad arguments (K %lld, N %lld, ldb %lld)", (long long)K, (long long)N, (long long)ldb);
  *out = NULL;
  cquant_qgemm_weights_t *w = calloc(1, sizeof *w);
  if (!w) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qgemm pack: out of memory");
  w->kind = kind;
  w->K = K;
  w->N = N;
  const int vlayout = kind == CQUANT__QG_VNNI || kind == CQUANT__QG_AMX; /* AMX tiles read the VNNI panels */
  const int64_t nr = vlayout ? VNNI_NR : AVX2_NR, kg = kind == CQUANT__QG_AMX ? 64 : kind == CQUANT__QG_VNNI ? 4 : 2;
  w->Kp = kind == CQUANT__QG_REF ? K : (K + kg - 1) / kg * kg;
  w->npanels = kind == CQUANT__QG_REF ? 1 : (N + nr - 1) / nr;
  size_t bytes = kind == CQUANT__QG_REF ? (size_t)(K * N)
               : vlayout ? (size_t)(w->npanels * w->Kp * nr)
               : (size_t)(w->npanels * w->Kp * nr * 2); /* int16 pairs */
  w->packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
  w->colsum = calloc((size_t)N, sizeof(int32_t));
  w->zb = malloc(sizeof(int32_t) * (size_t)N);
  if (!w->packed || !w->colsum || !w->zb) {
    cquant_qgemm_weights_free(w);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qgemm pack: out of memory");
  }
  memset(w->packed, 0, (bytes + 63) / 64 * 64); /* padding columns and k beyond K are zeros */
  for (int64_t n = 0; n < N; n++) w->zb[n] = zb[zb_per_col ? n : 0] - (b_signed ? 0 : 128);
  for (int64_t k = 0; k < K; k++)
    for (int64_t n = 0; n < N; n++) {
      const int8_t b = bprime(B, b_signed, ldb, k, n);
      w->colsum[n] += b;
      if (kind == CQUANT__QG_REF) {
        w->packed[k * N + n] = b;
      } else if (vlayout) { /* panel p, k-group g: [16 cols][4 k], then the next 16 */
        const int64_t p = n / VNNI_NR, c = n % VNNI_NR;
        w->packed[((p * w->Kp + (k / 4) * 4) * VNNI_NR) + (c / 16) * 64 + (c % 16) * 4 + k % 4] = b;
      } else { /* panel p, k-pair g: [8 cols][2 k] int16, then the next 8 */
        const int64_t p = n / AVX2_NR, c = n % AVX2_NR;
        int16_t *q = (int16_t *)w->packed;
        q[(p * w->Kp + (k / 2) * 2) * AVX2_NR + (c / 8) * 16 + (c % 8) * 2 + k % 2] = b;
      }
    }
  *out = w;
  return CQUANT_STATUS_OK;
}

int cquant_qgemm_pack(const void *B, int b_signed, int64_t K, int64_t N, int64_t ldb, const int32_t *zb, int zb_per_col,
                      cquant_qgemm_weights_t **out) {
  int kind = CQUANT__QG_REF;
  /* AMX pads K to 64: below that the VNNI kernel does less work (small-K convolutions) */
  if (cquant_isa_active() >= CQUANT_ISA_AVX512 && cquant__has_amx() && !cquant__env()->no_amx && K >= 64) kind = CQUANT__QG_AMX;
  else if (cquant_isa_active() >= CQUANT_ISA_AVX512 && cquant__has_vnni()) kind = CQUANT__QG_VNNI;
  else if (cquant_isa_active() >= CQUANT_ISA_AVX2) kind = CQUANT__QG_AVX2;
  return cquant__qgemm_pack_kind(B, b_signed, K, N, ldb, zb, zb_per_col, kind, out);
}

/* AMX: A' for all rows, zero-padded to whole 32-row tiles and to K rounded up to 64, made once per
 * call (tile loads then never read past the data); then (row tile, panel) pairs over the threads,
 * panels inner so a tile of A' stays in L1/L2 while panels stream by. */
static int qgemm_amx(const uint8_t *A, int64_t M, int64_t lda, uint32_t axor, const cquant_qgemm_weights_t *w, const int32_t *colterm,
                     const int32_t *rowsum, int32_t *C, int64_t ldc, int threads) {
  const int64_t kp = w->Kp, tiles = (M + 31) / 32;
  /* uint8 A that already fills whole tiles is read in place */
  const int direct = !axor && kp == w->K && M % 32 == 0;
  uint8_t *ap = direct ? (uint8_t *)A : aligned_alloc(64, (size_t)(tiles * 32 * kp));
  const int64_t as = direct ? lda : kp;
  if (!ap) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qgemm: out of memory for the padded A");
  const uint8_t x = (uint8_t)(axor & 0xff);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t r = 0; r < (direct ? 0 : tiles * 32); r++) {
    uint8_t *dst = ap + r * kp;
    if (r < M) {
      const uint8_t *row = A + r * lda;
      for (int64_t k = 0; k < w->K; k++) dst[k] = (uint8_t)(row[k] ^ x);
      memset(dst + w->K, 0, (size_t)(kp - w->K));
    } else {
      memset(dst, 0, (size_t)kp);
    }
  }
  /* blocks of 8 row tiles (256 rows) x all panels: each thread takes whole blocks when there are
   * enough of them, otherwise (row tile, panel) pairs */
  const int64_t per_block = 8, nblocks = (tiles + per_block - 1) / per_block;
  if (nblocks >= threads) {
    /* all of B in L2 (<= 1 MiB): each A' tile once, panels inner; otherwise each B panel once per
     * block of 8 tiles, tiles inner */
    const int b_in_l2 = w->npanels * kp * VNNI_NR <= ((int64_t)1 << 20);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t bb = 0; bb < nblocks; bb++) {
      cquant__amx_config();
      const int64_t t0 = bb * per_block, t1 = (bb + 1) * per_block < tiles ? (bb + 1) * per_block : tiles;
      for (int64_t i = 0; i < (t1 - t0) * w->npanels; i++) {
        const int64_t t = b_in_l2 ? t0 + i / w->npanels : t0 + i % (t1 - t0), p = b_in_l2 ? i % w->npanels : i / (t1 - t0);
        const int64_t m = t * 32, n0 = p * VNNI_NR;
        cquant__qgemm_tile_amx(ap + m * as, as, kp, (int)(M - m < 32 ? M - m : 32), w->packed + (size_t)p * (size_t)(kp * VNNI_NR),
                               colterm + n0, w->zb + n0, rowsum + m, (int)(w->N - n0 < VNNI_NR ? w->N - n0 : VNNI_NR), C + m * ldc + n0, ldc);
      }
      cquant__amx_release();
    }
  } else {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < w->npanels; p++) {
      cquant__amx_config();
      for (int64_t t = 0; t < tiles; t++) {
        const int64_t m = t * 32, n0 = p * VNNI_NR;
        cquant__qgemm_tile_amx(ap + m * as, as, kp, (int)(M - m < 32 ? M - m : 32), w->packed + (size_t)p * (size_t)(kp * VNNI_NR),
                               colterm + n0, w->zb + n0, rowsum + m, (int)(w->N - n0 < VNNI_NR ? w->N - n0 : VNNI_NR), C + m * ldc + n0, ldc);
      }
      cquant__amx_release();
    }
  }
  if (!direct) free(ap);
  return CQUANT_STATUS_OK;
}

/* One block of rows [m0, m1) against panels [p0, p1). */
static void block(const uint8_t *A, int64_t lda, uint32_t axor, const uint32_t *aw, int64_t ldw, int64_t m0, int64_t m1, int64_t p0,
                  int64_t p1, const cquant_qgemm_weights_t *w, const int32_t *colterm, const int32_t *rowsum, int32_t *C, int64_t ldc) {
  const int vnni = w->kind == CQUANT__QG_VNNI || w->kind == CQUANT__QG_AMX; /* same panels */
  const int64_t nr = vnni ? VNNI_NR : AVX2_NR;
  const size_t panel_bytes = (size_t)(w->Kp * nr * (vnni ? 1 : 2));
  for (int64_t p = p0; p < p1; p++) {
    const int8_t *panel = w->packed + (size_t)p * panel_bytes;
    const int64_t n0 = p * nr, ncols = w->N - n0 < nr ? w->N - n0 : nr;
    for (int64_t m = m0; m < m1; m += MR) {
      const int mr = (int)(m1 - m < MR ? m1 - m : MR);
      if (vnni)
        cquant__qgemm_panel_vnni(A + m * lda, lda, axor, mr, w->K, panel, colterm + n0, w->zb + n0, rowsum + m, (int)ncols, C + m * ldc + n0, ldc);
      else
        cquant__qgemm_panel_avx2(aw + m * ldw, ldw, mr, w->K, panel, colterm + n0, w->zb + n0, rowsum + m, (int)ncols, C + m * ldc + n0, ldc);
    }
  }
}

int cquant_qgemm(const void *A, int a_signed, int64_t M, int64_t lda, int32_t za, const cquant_qgemm_weights_t *w, int32_t *C, int64_t ldc) {
  if (!A || !w || !C || M < 0 || lda < w->K || ldc < w->N)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qgemm: bad arguments");
  if (!M) return CQUANT_STATUS_OK;
  const int64_t K = w->K, N = w->N;
  const uint32_t za2 = (uint32_t)(za + (a_signed ? 128 : 0)); /* za' */
  if (w->kind == CQUANT__QG_REF) {
    cquant__qgemm_s32_ref(M, N, K, A, a_signed, lda, &za, 0, w->packed, 1, N, w->zb, 1, C, ldc);
    /* the reference saw B' and zb': the same products as B and zb (B' - zb' = B - zb) */
    return CQUANT_STATUS_OK;
  }
  int32_t *rowsum = malloc(sizeof(int32_t) * (size_t)(M + MR)), *colterm = malloc(sizeof(int32_t) * (size_t)(N + 64));
  if (!rowsum || !colterm) {
    free(rowsum);
    free(colterm);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qgemm: out of memory");
  }
  /* eq. 22 expanded: C = dot - zb' rowsum(A') - za' colsum(B') + K za' zb' (wrapping int32) */
  for (int64_t n = 0; n < N; n++)
    colterm[n] = (int32_t)((uint32_t)K * za2 * (uint32_t)w->zb[n] - za2 * (uint32_t)w->colsum[n]);
  /* below ~4M multiply-adds a second thread costs more to wake than it saves (measured: batch-1 convolutions) */
  const int threads = (double)M * (double)N * (double)K >= 4e6 ? cquant_get_num_threads() : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t m = 0; m < M; m++) { /* sum of A' over the row: A' = A, or A + 128 = (A's byte) ^ 0x80 */
    const uint8_t *row = (const uint8_t *)A + m * lda, x = a_signed ? 0x80 : 0;
    uint32_t s = 0;
    for (int64_t k = 0; k < K; k++) s += (uint8_t)(row[k] ^ x);
    rowsum[m] = (int32_t)s;
  }
  const uint32_t axor = a_signed ? 0x80808080u : 0; /* int8 -> uint8 A' by flipping the top bit */
  if (w->kind == CQUANT__QG_AMX && M >= 16) {
    int st = qgemm_amx(A, M, lda, axor, w, colterm, rowsum, C, ldc, threads);
    free(rowsum);
    free(colterm);
    return st;
  }
  /* (fewer than 16 rows: the AMX panels are VNNI panels, and vpdpbusd wastes no padded rows) */
  uint32_t *aw = NULL;
  const int64_t ldw = (K + 1) / 2;
  if (w->kind == CQUANT__QG_AVX2) { /* A' as int16 pairs, once for every panel */
    aw = malloc(sizeof(uint32_t) * (size_t)(M * ldw) + 64);
    if (!aw) {
      free(rowsum);
      free(colterm);
      return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qgemm: out of memory");
    }
    const uint8_t x = (uint8_t)(axor & 0xff);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t m = 0; m < M; m++) {
      const uint8_t *row = (const uint8_t *)A + m * lda;
      for (int64_t g = 0; g < ldw; g++) {
        const uint32_t lo = (uint8_t)(row[2 * g] ^ x), hi = 2 * g + 1 < K ? (uint8_t)(row[2 * g + 1] ^ x) : 0;
        aw[m * ldw + g] = lo | (hi << 16);
      }
    }
  }
  const int64_t nblocks = (M + MC - 1) / MC;
  if (nblocks >= threads) { /* rows split over threads; each streams every panel per block */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t b = 0; b < nblocks; b++) {
      const int64_t m0 = b * MC, m1 = m0 + MC < M ? m0 + MC : M;
      block(A, lda, axor, aw, ldw, m0, m1, 0, w->npanels, w, colterm, rowsum, C, ldc);
    }
  } else { /* few rows (GEMV-like): panels split over threads */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t p = 0; p < w->npanels; p++) block(A, lda, axor, aw, ldw, 0, M, p, p + 1, w, colterm, rowsum, C, ldc);
  }
  free(aw);
  free(rowsum);
  free(colterm);
  return CQUANT_STATUS_OK;
}
