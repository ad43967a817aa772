/* GEMM epilogues (eq. 23, 25): requantization to uint8/int8 with bias and a fused clamp (ReLU,
 * ReLU6), or dequantization to float32, applied to blocks of rows right after the GEMM wrote them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/cpu.h"
#include "intops/intops.h"

#define ROWS 64 /* rows per block: 64 x N int32 stay in L2 between the GEMM and the epilogue */

/* eq. 23: round_half_even(a m) + z, saturated. |v| <= 2^21 is rounded by adding and removing
 * 1.5 * 2^23 (exact in float32 under the default rounding mode, half to even); beyond it every
 * 8-bit result saturates anyway, so limiting v first changes no output. */
static inline __attribute__((always_inline)) void requant_f(const int32_t *restrict acc, const int32_t *restrict bias, const float *restrict mult,
                                                            const int hb, const int pc, const int sg, int32_t zo, int32_t lo, int32_t hi, int64_t n,
                                                            void *restrict out) {
  const float m0 = mult[0];
  for (int64_t j = 0; j < n; j++) {
    const int32_t a = (int32_t)((uint32_t)acc[j] + (uint32_t)(hb ? bias[j] : 0));
    float v = (float)a * (pc ? mult[j] : m0);
    v = v < -2097152.0f ? -2097152.0f : v;
    v = v > 2097152.0f ? 2097152.0f : v;
    v = (v + 12582912.0f) - 12582912.0f;
    int32_t q = (int32_t)v + zo;
    q = q < lo ? lo : q;
    q = q > hi ? hi : q;
    if (sg) ((int8_t *)out)[j] = (int8_t)q;
    else ((uint8_t *)out)[j] = (uint8_t)q;
  }
}

static void apply(const cquant_epilogue_t *e, const int32_t *acc, int64_t n, void *out) {
  if (e->kind == CQUANT_EPI_REQUANT_F) { /* the hot one: specialised loops the compiler vectorises */
    const int pc = e->per_column != 0, hb = e->bias != NULL;
    if (cquant_isa_active() >= CQUANT_ISA_AVX2) {
      cquant__requant_f_avx2(acc, e->bias, e->mult, pc, e->out_signed, e->zo, e->lo, e->hi, n, out);
      return;
    }
    if (e->out_signed) {
      if (hb && pc) requant_f(acc, e->bias, e->mult, 1, 1, 1, e->zo, e->lo, e->hi, n, out);
      else if (pc) requant_f(acc, NULL, e->mult, 0, 1, 1, e->zo, e->lo, e->hi, n, out);
      else requant_f(acc, e->bias, e->mult, hb, 0, 1, e->zo, e->lo, e->hi, n, out);
    } else {
      if (hb && pc) requant_f(acc, e->bias, e->mult, 1, 1, 0, e->zo, e->lo, e->hi, n, out);
      else if (pc) requant_f(acc, NULL, e->mult, 0, 1, 0, e->zo, e->lo, e->hi, n, out);
      else requant_f(acc, e->bias, e->mult, hb, 0, 0, e->zo, e->lo, e->hi, n, out);
    }
    return;
  }
  for (int64_t j = 0; j < n; j++) {
    const int64_t c = e->per_column ? j : 0;
    const int32_t a = (int32_t)((uint32_t)acc[j] + (uint32_t)(e->bias ? e->bias[j] : 0));
    if (e->kind == CQUANT_EPI_F32) {
      ((float *)out)[j] = (float)a * e->scale[c];
      continue;
    }
    int64_t q = (int64_t)cquant_mul_by_quantized_multiplier(a, e->m0[c], e->shift[c]) + e->zo;
    q = q < e->lo ? e->lo : (q > e->hi ? e->hi : q);
    if (e->out_signed) ((int8_t *)out)[j] = (int8_t)q;
    else ((uint8_t *)out)[j] = (uint8_t)q;
  }
}

void cquant__epilogue_row(const cquant_epilogue_t *e, const int32_t *acc, int64_t n, void *out) {
  if (e->kind == CQUANT_EPI_S32) {
    for (int64_t j = 0; j < n; j++) ((int32_t *)out)[j] = (int32_t)((uint32_t)acc[j] + (uint32_t)(e->bias ? e->bias[j] : 0));
    return;
  }
  apply(e, acc, n, out);
}

void cquant__epilogue_channel(const cquant_epilogue_t *e, int64_t c, const int32_t *acc, int64_t n, void *out) {
  cquant_epilogue_t one = *e;
  int32_t b = e->bias ? e->bias[c] : 0;
  one.per_column = 0;
  one.bias = NULL;
  if (e->per_column) {
    if (e->m0) one.m0 = e->m0 + c;
    if (e->shift) one.shift = e->shift + c;
    if (e->mult) one.mult = e->mult + c;
    if (e->scale) one.scale = e->scale + c;
  }
  if (e->kind == CQUANT_EPI_S32) {
    for (int64_t j = 0; j < n; j++) ((int32_t *)out)[j] = (int32_t)((uint32_t)acc[j] + (uint32_t)b);
    return;
  }
  enum { CH = 256 };
  int32_t tmp[CH];
  const size_t es = e->kind == CQUANT_EPI_F32 ? 4 : 1;
  for (int64_t j = 0; j < n; j += CH) {
    const int64_t k = n - j < CH ? n - j : CH;
    for (int64_t i = 0; i < k; i++) tmp[i] = (int32_t)((uint32_t)acc[j + i] + (uint32_t)b);
    apply(&one, tmp, k, (char *)out + (size_t)j * es);
  }
}

int cquant_qgemm_ex(const void *A, int a_signed, int64_t M, int64_t lda, int32_t za, const cquant_qgemm_weights_t *w,
                    const cquant_epilogue_t *e, void *C, int64_t ldc) {
  if (!e || !w || !C) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qgemm: NULL argument");
  if (e->kind == CQUANT_EPI_S32 && !e->bias) return cquant_qgemm(A, a_signed, M, lda, za, w, C, ldc);
  if ((e->kind == CQUANT_EPI_REQUANT && (!e->m0 || !e->shift)) || (e->kind == CQUANT_EPI_REQUANT_F && !e->mult) ||
      (e->kind == CQUANT_EPI_F32 && !e->scale) || (unsigned)e->kind > CQUANT_EPI_F32)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qgemm epilogue: its multipliers or scales are missing");
  if (e->kind == CQUANT_EPI_REQUANT || e->kind == CQUANT_EPI_REQUANT_F) {
    const int32_t tmin = e->out_signed ? -128 : 0, tmax = e->out_signed ? 127 : 255;
    if (e->lo > e->hi || e->lo < tmin || e->hi > tmax)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qgemm epilogue: clamp [%d, %d] outside the output type or empty", e->lo, e->hi);
  }
  const int64_t N = w->N;
  const size_t es = e->kind == CQUANT_EPI_F32 || e->kind == CQUANT_EPI_S32 ? 4 : 1;
  if (M * N <= ((int64_t)1 << 19)) { /* up to 2 MiB of int32: one GEMM over all rows (its own threads), then the epilogue */
    int32_t *all = malloc(sizeof(int32_t) * (size_t)(M * N));
    if (all) {
      int st = cquant_qgemm(A, a_signed, M, lda, za, w, all, N);
      if (!st) {
#pragma omp parallel for schedule(static) if (M * N > 65536)
        for (int64_t r = 0; r < M; r++) {
          char *out = (char *)C + (size_t)(r * ldc) * es;
          if (e->kind == CQUANT_EPI_S32)
            for (int64_t j = 0; j < N; j++) ((int32_t *)out)[j] = (int32_t)((uint32_t)all[r * N + j] + (uint32_t)e->bias[j]);
          else apply(e, all + r * N, N, out);
        }
      }
      free(all);
      return st;
    }
  }
  /* otherwise blocks of rows whose int32 results (256 KiB) stay in cache until the epilogue reads them */
  int64_t rows_per = ((int64_t)1 << 16) / (N > 0 ? N : 1);
  rows_per = rows_per < ROWS ? ROWS : rows_per;
  const int64_t nblocks = (M + rows_per - 1) / rows_per;
  /* blocks of rows over the threads; each block's GEMM is single-threaded (small) */
  const int threads = (double)M * (double)N * (double)w->K >= 4e6 && nblocks > 1 ? cquant_get_num_threads() : 1;
  int st = CQUANT_STATUS_OK;
#pragma omp parallel num_threads(threads)
  {
    int32_t *tmp = malloc(sizeof(int32_t) * (size_t)(rows_per * N));
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < nblocks; b++) {
      if (!tmp || st) continue;
      const int64_t m = b * rows_per, rows = M - m < rows_per ? M - m : rows_per;
      int s = cquant_qgemm((const uint8_t *)A + m * lda, a_signed, rows, lda, za, w, tmp, N);
      if (s) {
#pragma omp atomic write
        st = s;
        continue;
      }
      for (int64_t r = 0; r < rows; r++) {
        char *out = (char *)C + (size_t)((m + r) * ldc) * es;
        if (e->kind == CQUANT_EPI_S32)
          for (int64_t j = 0; j < N; j++) ((int32_t *)out)[j] = (int32_t)((uint32_t)tmp[r * N + j] + (uint32_t)e->bias[j]);
        else apply(e, tmp + r * N, N, out);
      }
    }
    if (!tmp) {
#pragma omp atomic write
      st = CQUANT_STATUS_OUT_OF_MEMORY;
    }
    free(tmp);
  }
  if (st == CQUANT_STATUS_OUT_OF_MEMORY) return cquant__error(st, "qgemm: out of memory");
  if (st) return cquant__error(st, "qgemm: a block failed");
  return st;
}
