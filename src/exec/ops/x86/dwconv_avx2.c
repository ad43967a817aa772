/* Float32 depthwise convolution planes, AVX2 (8 lanes): the reference's operations in its order,
 * vmulps then vaddps per tap (no FMA), 8 outputs at a time.
 *
 * Each input plane is first copied into a zero-padded buffer (the padding the reference reads as
 * +0.0f, so a tap outside the plane still adds w * +0 as there; zeroed once per call, since every
 * channel has its padding in the same places): rows padded to whole blocks of 8
 * outputs plus the kernel's reach, and for stride 2 split into even and odd columns
 * (cquant__pad_split_row), so every tap of 8 outputs is one unaligned load at a fixed offset, with
 * no masks. Outputs are taken in items of 8 (one output row, 8 columns; rows of fewer outputs
 * waste the rest of their last item), four items at a time so four sums are in flight; only the
 * last item of a row stores through vmaskmovps. Strides above 2 go to the reference. */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "exec/ops/conv_internal.h"
#include "exec/ops/x86/avx2_tail.h"

enum { TAPS_MAX = 1024 };

static inline __m256 act8(const cquant__dw_geom_t *g, __m256 a) {
  if (g->act == 1) return _mm256_max_ps(a, _mm256_setzero_ps());
  if (g->act == 2) return _mm256_min_ps(_mm256_set1_ps(g->hi), _mm256_max_ps(_mm256_set1_ps(g->lo), a));
  return a;
}

static inline void store8(const cquant__dw_geom_t *g, float *y, int64_t nv, __m256 a) {
  a = act8(g, a);
  if (nv >= 8) {
    _mm256_storeu_ps(y, a);
  } else {
    _mm256_maskstore_ps(y, cquant__tail8(nv), a);
  }
}

static void dw_f32(const cquant__dw_geom_t *g, const float *x, const float *w, const float *b, int64_t nch, float *y) {
  const int taps = g->kh * g->kw;
  const int64_t ob = (g->ow + 7) / 8, ow8 = 8 * ob; /* items per output row, their outputs */
  /* the padded plane: row r holds input row r - pt; stride 1: column c is input column c - pl;
   * stride 2: the even columns (c = 2 k) at k, the odd ones at qw + k */
  const int64_t ph = (g->oh - 1) * g->sh + (int64_t)(g->kh - 1) * g->dh + 1;
  const int64_t reach = (int64_t)(g->kw - 1) * g->dw, qw = g->sw == 1 ? ow8 + reach : ow8 + reach / 2 + 1, pw = g->sw == 1 ? qw : 2 * qw;
  float *pad = NULL;
  if (taps <= TAPS_MAX && (g->sw == 1 || g->sw == 2) && (double)ph * (double)pw < (double)((int64_t)1 << 28))
    pad = aligned_alloc(32, sizeof(float) * (size_t)((ph * pw + 7) / 8 * 8));
  if (!pad) { /* strides above 2, or no memory for the buffer */
    cquant__kernels_for(CQUANT_ISA_REF)->dw_f32(g, x, w, b, nch, y);
    return;
  }
  int64_t off[TAPS_MAX]; /* tap t of the item at padded row R, item column x0: pad + R pw + off[t] + x0 */
  for (int ky = 0; ky < g->kh; ky++)
    for (int kx = 0; kx < g->kw; kx++) {
      const int64_t cx = (int64_t)kx * g->dw; /* padded column 2 ox + cx (stride 2) or ox + cx */
      off[ky * g->kw + kx] = (int64_t)ky * g->dh * pw + (g->sw == 1 ? cx : (cx & 1) * qw + (cx >> 1));
    }
  const int64_t items = g->oh * ob, hw = g->h * g->w, ohw = g->oh * g->ow;
  /* the padding is the same for every channel: zeroed once, then only the inside is copied */
  memset(pad, 0, sizeof(float) * (size_t)(ph * pw));
  const int64_t r0 = g->pt, r1 = g->pt + g->h < ph ? g->pt + g->h : ph; /* padded rows holding input rows */
  const int64_t ncopy = g->pl >= pw ? 0 : g->w < pw - g->pl ? g->w : pw - g->pl; /* stride 1: columns copied */
  for (int64_t c = 0; c < nch; c++) {
    const float *xc = x + c * hw, *wc = w + c * taps;
    float *yc = y + c * ohw;
    for (int64_t r = r0; r < r1; r++) {
      const float *src = xc + (r - g->pt) * g->w;
      if (g->sw == 2) {
        cquant__pad_split_row(src, g->w, g->pl, 2, qw, 0.0f, pad + r * pw);
      } else {
        memcpy(pad + r * pw + g->pl, src, sizeof(float) * (size_t)ncopy);
      }
    }
    const __m256 vb = _mm256_set1_ps(b ? b[c] : 0.0f);
    int64_t oy = 0, x0 = 0; /* the next item's output row and first column */
    int64_t k = 0;
    for (; k + 4 <= items; k += 4) {
      const float *s[4];
      float *d[4];
      int64_t nv[4];
      for (int j = 0; j < 4; j++) {
        s[j] = pad + oy * g->sh * pw + x0, d[j] = yc + oy * g->ow + x0, nv[j] = g->ow - x0;
        if ((x0 += 8) == ow8) x0 = 0, oy++;
      }
      __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
      for (int t = 0; t < taps; t++) {
        const __m256 wt = _mm256_broadcast_ss(wc + t);
        const int64_t o = off[t];
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(wt, _mm256_loadu_ps(s[0] + o)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(wt, _mm256_loadu_ps(s[1] + o)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(wt, _mm256_loadu_ps(s[2] + o)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(wt, _mm256_loadu_ps(s[3] + o)));
      }
      store8(g, d[0], nv[0], a0);
      store8(g, d[1], nv[1], a1);
      store8(g, d[2], nv[2], a2);
      store8(g, d[3], nv[3], a3);
    }
    for (; k < items; k++) {
      const float *s0 = pad + oy * g->sh * pw + x0;
      __m256 a0 = vb;
      for (int t = 0; t < taps; t++) a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_broadcast_ss(wc + t), _mm256_loadu_ps(s0 + off[t])));
      store8(g, yc + oy * g->ow + x0, g->ow - x0, a0);
      if ((x0 += 8) == ow8) x0 = 0, oy++;
    }
  }
  free(pad);
}

void cquant__fconv_init_avx2(cquant__kernels_t *k) { k->dw_f32 = dw_f32; }
