/* GEMM epilogues (eq. 23, 25): requantization to uint8/int8 with bias and a fused clamp (ReLU,
 * ReLU6), or dequantization to float32, applied to blocks of rows right after the GEMM wrote them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "intops/intops.h"

#define ROWS 64 /* rows per block: 64 x N int32 stay in L2 between the GEMM and the epilogue */

static void apply(const cquant_epilogue_t *e, const int32_t *acc, int64_t n, void *out) {
  for (int64_t j = 0; j < n; j++) {
    const int64_t c = e->per_column ? j : 0;
    const int32_t a = (int32_t)((uint32_t)acc[j] + (uint32_t)(e->bias ? e->bias[j] : 0));
    if (e->kind == CQUANT_EPI_F32) {
      ((float *)out)[j] = (float)a * e->scale[c];
      continue;
    }
    int64_t q;
    if (e->kind == CQUANT_EPI_REQUANT) q = (int64_t)cquant_mul_by_quantized_multiplier(a, e->m0[c], e->shift[c]) + e->zo;
    else {
      const float v = roundevenf((float)a * e->mult[c]);
      q = v < -2147483648.0f ? INT32_MIN : v > 2147483520.0f ? INT32_MAX : (int64_t)v;
      q += e->zo;
    }
    q = q < e->lo ? e->lo : (q > e->hi ? e->hi : q);
    if (e->out_signed) ((int8_t *)out)[j] = (int8_t)q;
    else ((uint8_t *)out)[j] = (uint8_t)q;
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
  int32_t *tmp = malloc(sizeof(int32_t) * (size_t)(ROWS * N));
  if (!tmp) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qgemm: out of memory");
  int st = CQUANT_STATUS_OK;
  for (int64_t m = 0; m < M && !st; m += ROWS) {
    const int64_t rows = M - m < ROWS ? M - m : ROWS;
    st = cquant_qgemm((const uint8_t *)A + m * lda, a_signed, rows, lda, za, w, tmp, N);
    for (int64_t r = 0; r < rows && !st; r++) {
      char *out = (char *)C + (size_t)((m + r) * ldc) * es;
      if (e->kind == CQUANT_EPI_S32)
        for (int64_t j = 0; j < N; j++) ((int32_t *)out)[j] = (int32_t)((uint32_t)tmp[r * N + j] + (uint32_t)e->bias[j]);
      else apply(e, tmp + r * N, N, out);
    }
  }
  free(tmp);
  return st;
}
