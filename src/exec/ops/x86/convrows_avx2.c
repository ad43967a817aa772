/* Dense float32 convolution rows (and cquant__sgemm's chunks), AVX2 + FMA (8 lanes): the
 * reference's operations in its order (conv_small.c), one vfmadd231ps per tap and output.
 *
 * Shaped as a register-blocked GEMM (as BLIS and OpenBLAS block theirs): a chunk of taps
 * (CQUANT__SGEMM_KC at most) is the outer loop; for each strip of 16 outputs the chunk's rows are
 * packed into one contiguous kc x 16 panel (8 KiB, stays in L1; the row tail is padded with zeros,
 * whose lanes are never stored), and 6 output channels at a time multiply it: 12 accumulators, 2
 * loads and 6 broadcasts per tap. Every accumulator starts at zero for the chunk and is then added
 * to the bias (first chunk) or to the value stored so far (later chunks, or acc), which is the
 * reference's order exactly: the chunks of one output are still added in order, only the loops
 * around them moved. The last outputs of a row are stored through vmaskmovps. */
#include <immintrin.h>
#include <stdint.h>
#include "core/internal.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/x86/avx2_tail.h"

enum { MR = 6, NR = 16, NS = 4 }; /* tile rows, tile columns, strips packed at once */

/* kc rows r[t] + i (the first nv <= 16 values of each) into p[t * 16 ..], zeros past nv */
static inline void pack_strip(const float *const *r, int64_t kc, int64_t i, int64_t nv, float *p) {
  if (nv == NR) {
    for (int64_t t = 0; t < kc; t++) {
      _mm256_store_ps(p + t * NR, _mm256_loadu_ps(r[t] + i));
      _mm256_store_ps(p + t * NR + 8, _mm256_loadu_ps(r[t] + i + 8));
    }
  } else {
    const __m256i k0 = cquant__tail8(nv), k1 = cquant__tail8(nv - 8);
    for (int64_t t = 0; t < kc; t++) {
      _mm256_store_ps(p + t * NR, _mm256_maskload_ps(r[t] + i, k0));
      _mm256_store_ps(p + t * NR + 8, _mm256_maskload_ps(r[t] + i + 8, k1));
    }
  }
}

/* The accumulators are named variables (with arrays GCC keeps them on the stack); rows at or past
 * R are compiled out, R being a constant in every call of tile(). */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ACC_DECL(j) __m256 p##j = _mm256_setzero_ps(), q##j = p##j;
#define ACC_TAP(j)                                   \
  if (R > j) {                                       \
    const __m256 wj = _mm256_broadcast_ss(w##j + t); \
    p##j = _mm256_fmadd_ps(wj, v0, p##j);            \
    if (!H) q##j = _mm256_fmadd_ps(wj, v1, q##j);    \
  }
#define W_ROW(j) const float *w##j = w + (R > j ? j : 0) * lw;
#define ACC_STORE(j)                                                           \
  if (R > j) {                                                                 \
    float *yj = y + j * ys;                                                    \
    if (add_y) {                                                               \
      if (full) {                                                              \
        p##j = _mm256_add_ps(_mm256_loadu_ps(yj), p##j);                       \
        q##j = _mm256_add_ps(_mm256_loadu_ps(yj + 8), q##j);                   \
      } else {                                                                 \
        p##j = _mm256_add_ps(_mm256_maskload_ps(yj, k0), p##j);                \
        if (!H) q##j = _mm256_add_ps(_mm256_maskload_ps(yj + 8, k1), q##j);    \
      }                                                                        \
    } else if (b) {                                                            \
      p##j = _mm256_add_ps(_mm256_set1_ps(b[j]), p##j);                        \
      q##j = _mm256_add_ps(_mm256_set1_ps(b[j]), q##j);                        \
    }                                                                          \
    if (full) {                                                                \
      _mm256_storeu_ps(yj, p##j);                                              \
      _mm256_storeu_ps(yj + 8, q##j);                                          \
    } else {                                                                   \
      _mm256_maskstore_ps(yj, k0, p##j);                                       \
      if (!H) _mm256_maskstore_ps(yj + 8, k1, q##j);                           \
    }                                                                          \
  }

/* R (1..6) output channels by one packed strip: w = row 0's taps of the chunk (row stride lw),
 * b = row 0's bias or NULL, y = row 0's first output of the strip; nv outputs are stored. H (a
 * constant): nv <= 8, the second half of the strip is neither computed nor stored. */
static inline __attribute__((always_inline)) void tile(const int R, const int H, const float *pb, int64_t kc, const float *w, int64_t lw, const float *b, int add_y,
                                                       float *y, int64_t ys, int64_t nv) {
  ROWS(ACC_DECL)
  ROWS(W_ROW)
  for (int64_t t = 0; t < kc; t++) {
    const __m256 v0 = _mm256_load_ps(pb + t * NR), v1 = H ? v0 : _mm256_load_ps(pb + t * NR + 8);
    ROWS(ACC_TAP)
  }
  const int full = !H && nv == NR;
  const __m256i k0 = cquant__tail8(nv), k1 = cquant__tail8(nv - 8);
  ROWS(ACC_STORE)
}

/* mr (1..6) output channels of one packed strip */
#define TILE(R) tile(R, H, pb, kc, w, lw, b, add_y, y, ys, nv)
static inline __attribute__((always_inline)) void rows_of_tile(const int H, int64_t mr, const float *pb, int64_t kc, const float *w, int64_t lw,
                                                               const float *b, int add_y, float *y, int64_t ys, int64_t nv) {
  switch (mr) {
    case 6: TILE(6); break;
    case 5: TILE(5); break;
    case 4: TILE(4); break;
    case 3: TILE(3); break;
    case 2: TILE(2); break;
    default: TILE(1); break;
  }
}
#undef TILE

static void conv_rows_f32(const float *const *r, const float *w, int64_t lw, const float *b, int64_t K, int64_t m, int64_t n, float *y, int64_t ys,
                          int acc) {
  float pb[NS * CQUANT__SGEMM_KC * NR] __attribute__((aligned(32)));
  const int64_t nk = cquant__sgemm_chunks(K);
  for (int64_t c = 0; c < nk; c++) {
    const int64_t t0 = K * c / nk, kc = K * (c + 1) / nk - t0;
    const int add_y = c > 0 || acc;
    const float *bc = add_y ? NULL : b;
    for (int64_t i0 = 0; i0 < n; i0 += NS * NR) {
      const int64_t i1 = i0 + NS * NR < n ? i0 + NS * NR : n;
      for (int64_t i = i0; i < i1; i += NR) pack_strip(r + t0, kc, i, i1 - i < NR ? i1 - i : NR, pb + (i - i0) * kc);
      for (int64_t o = 0; o < m; o += MR) {
        const int64_t mr = m - o < MR ? m - o : MR;
        for (int64_t i = i0; i < i1; i += NR) {
          const int64_t nv = i1 - i < NR ? i1 - i : NR;
          if (nv > 8)
            rows_of_tile(0, mr, pb + (i - i0) * kc, kc, w + o * lw + t0, lw, bc ? bc + o : NULL, add_y, y + o * ys + i, ys, nv);
          else
            rows_of_tile(1, mr, pb + (i - i0) * kc, kc, w + o * lw + t0, lw, bc ? bc + o : NULL, add_y, y + o * ys + i, ys, nv);
        }
      }
    }
  }
}

void cquant__conv_epi_avx2(const struct cquant__conv_epi *e, float *y, const float *add, int64_t n); /* convepi_avx2.c */

void cquant__fdense_init_avx2(cquant__kernels_t *k) {
  k->conv_rows_f32 = conv_rows_f32;
  k->conv_epi_f32 = cquant__conv_epi_avx2;
}
