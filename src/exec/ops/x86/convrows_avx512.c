/* Dense float32 convolution rows (and cquant__sgemm's chunks), AVX-512 (16 lanes): the reference's
 * operations in its order (conv_small.c), one vfmadd231ps per tap and output.
 *
 * The AVX2 kernel's shape (convrows_avx2.c) at twice the width: a chunk of taps (CQUANT__SGEMM_KC
 * at most) is the outer loop; for each strip of 32 outputs the chunk's rows are packed into one
 * contiguous kc x 32 panel (16 KiB; two strips packed at once, 32 KiB, stay in L1; the row tail is
 * padded with zeros, whose lanes are never stored), and 8 output channels at a time multiply it: 16
 * accumulators, 2 loads and 8 broadcasts per tap. Every accumulator starts at zero for the chunk
 * and is then added to the bias (first chunk) or to the value stored so far (later chunks, or acc):
 * the reference's order exactly. The last outputs of a row are loaded and stored under k masks
 * (masked-off addresses are never touched). */
#include <immintrin.h>
#include <stdint.h>
#include "core/internal.h"
#include "exec/ops/conv_par.h"

enum { MR = 8, NR = 32, NS = 2 }; /* tile rows, tile columns, strips packed at once */

static inline __mmask16 tail16(int64_t rem) { return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1); }

/* kc rows r[t] + i (the first nv <= 32 values of each) into p[t * 32 ..], zeros past nv */
static inline void pack_strip(const float *const *r, int64_t kc, int64_t i, int64_t nv, float *p) {
  if (nv == NR) {
    for (int64_t t = 0; t < kc; t++) {
      _mm512_store_ps(p + t * NR, _mm512_loadu_ps(r[t] + i));
      _mm512_store_ps(p + t * NR + 16, _mm512_loadu_ps(r[t] + i + 16));
    }
  } else {
    const __mmask16 k0 = tail16(nv), k1 = tail16(nv - 16);
    for (int64_t t = 0; t < kc; t++) {
      _mm512_store_ps(p + t * NR, _mm512_maskz_loadu_ps(k0, r[t] + i));
      _mm512_store_ps(p + t * NR + 16, _mm512_maskz_loadu_ps(k1, r[t] + i + 16));
    }
  }
}

/* Named accumulators (GCC keeps arrays of them on the stack); rows at or past R are compiled out,
 * R being a constant in every call of tile(). */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ACC_DECL(j) __m512 p##j = _mm512_setzero_ps(), q##j = p##j;
#define W_ROW(j) const float *w##j = w + (R > j ? j : 0) * lw;
#define ACC_TAP(j)                                \
  if (R > j) {                                    \
    const __m512 wj = _mm512_set1_ps(w##j[t]);    \
    p##j = _mm512_fmadd_ps(wj, v0, p##j);         \
    if (!H) q##j = _mm512_fmadd_ps(wj, v1, q##j); \
  }
#define ACC_STORE(j)                                                             \
  if (R > j) {                                                                   \
    float *yj = y + j * ys;                                                      \
    if (add_y) {                                                                 \
      p##j = _mm512_add_ps(_mm512_maskz_loadu_ps(k0, yj), p##j);                 \
      if (!H) q##j = _mm512_add_ps(_mm512_maskz_loadu_ps(k1, yj + 16), q##j);    \
    } else if (b) {                                                              \
      p##j = _mm512_add_ps(_mm512_set1_ps(b[j]), p##j);                          \
      q##j = _mm512_add_ps(_mm512_set1_ps(b[j]), q##j);                          \
    }                                                                            \
    _mm512_mask_storeu_ps(yj, k0, p##j);                                         \
    if (!H) _mm512_mask_storeu_ps(yj + 16, k1, q##j);                            \
  }

/* R (1..8) output channels by one packed strip: w = row 0's taps of the chunk (row stride lw),
 * b = row 0's bias or NULL, y = row 0's first output of the strip; nv outputs are stored. H (a
 * constant): nv <= 16, the second half of the strip is neither computed nor stored. */
static inline __attribute__((always_inline)) void tile(const int R, const int H, const float *pb, int64_t kc, const float *w, int64_t lw, const float *b, int add_y,
                                                       float *y, int64_t ys, int64_t nv) {
  ROWS(ACC_DECL)
  ROWS(W_ROW)
  for (int64_t t = 0; t < kc; t++) {
    const __m512 v0 = _mm512_load_ps(pb + t * NR), v1 = H ? v0 : _mm512_load_ps(pb + t * NR + 16);
    ROWS(ACC_TAP)
  }
  const __mmask16 k0 = tail16(nv), k1 = tail16(nv - 16);
  ROWS(ACC_STORE)
}

/* mr (1..8) output channels of one packed strip */
#define TILE(R) tile(R, H, pb, kc, w, lw, b, add_y, y, ys, nv)
static inline __attribute__((always_inline)) void rows_of_tile(const int H, int64_t mr, const float *pb, int64_t kc, const float *w, int64_t lw,
                                                               const float *b, int add_y, float *y, int64_t ys, int64_t nv) {
  switch (mr) {
    case 8: TILE(8); break;
    case 7: TILE(7); break;
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
  float pb[NS * CQUANT__SGEMM_KC * NR] __attribute__((aligned(64)));
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
          if (nv > 16)
            rows_of_tile(0, mr, pb + (i - i0) * kc, kc, w + o * lw + t0, lw, bc ? bc + o : NULL, add_y, y + o * ys + i, ys, nv);
          else
            rows_of_tile(1, mr, pb + (i - i0) * kc, kc, w + o * lw + t0, lw, bc ? bc + o : NULL, add_y, y + o * ys + i, ys, nv);
        }
      }
    }
  }
}

void cquant__conv_epi_avx512(const struct cquant__conv_epi *e, float *y, const float *add, int64_t n); /* convepi_avx512.c */

void cquant__fdense_init_avx512(cquant__kernels_t *k) {
  k->conv_rows_f32 = conv_rows_f32;
  k->conv_epi_f32 = cquant__conv_epi_avx512;
}
