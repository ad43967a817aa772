/* Float32 depthwise convolution planes, AVX2 (8 lanes): the reference's operations in its order,
 * vmulps then vaddps per tap (no FMA), 8 outputs at a time. The layout of dwconv_avx512.c: items of
 * 8 outputs (a flat run for stride 1 with ow == w, pieces of output rows otherwise), the lanes of a
 * tap outside the plane read as +0.0f through vmaskmovps (masked-off lanes are never touched),
 * masks built once per block of items with vector compares and shared by every channel of the
 * call; stride 2 loads 16 inputs and keeps the even ones (vshufps, vpermpd). */
#include <immintrin.h>
#include <stdint.h>
#include "core/internal.h"

enum { MK_MAX = 8192, IT_MAX = 512, TAPS_MAX = 1024, RC_MAX = 4096 };

typedef struct {
  int n;
  int64_t xo[IT_MAX], yo[IT_MAX];
  uint8_t sm[IT_MAX];
  uint16_t mk[MK_MAX]; /* per item and tap: the lanes inside (stride 2: 16 input lanes) */
} block_t;

static __m256i lut[256]; /* lut[m]: lane l all ones where bit l of m is set (vmaskmovps masks) */

static inline __m256 act8(const cquant__dw_geom_t *g, __m256 a) {
  if (g->act == 1) return _mm256_max_ps(a, _mm256_setzero_ps());
  if (g->act == 2) return _mm256_min_ps(_mm256_set1_ps(g->hi), _mm256_max_ps(_mm256_set1_ps(g->lo), a));
  return a;
}

static inline uint8_t tail8(int64_t rem) { return rem >= 8 ? (uint8_t)0xFF : (uint8_t)((1u << rem) - 1); }

/* bits of the lanes with 0 <= p < n */
static inline unsigned inside8(__m256i p, __m256i n) {
  const __m256i ok = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), p), _mm256_cmpgt_epi32(n, p));
  return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(ok));
}

static void build_flat(const cquant__dw_geom_t *g, int64_t k0, int64_t k1, block_t *bk) {
  const int kh = g->kh, kw = g->kw, taps = kh * kw;
  const int64_t n = g->oh * g->ow;
  const __m256i vh = _mm256_set1_epi32((int32_t)g->h), vw = _mm256_set1_epi32((int32_t)g->w), wm1 = _mm256_set1_epi32((int32_t)g->w - 1);
  int32_t oxs[8], oys[8];
  for (int l = 0; l < 8; l++) oxs[l] = (int32_t)((8 * k0 + l) % g->w), oys[l] = (int32_t)((8 * k0 + l) / g->w);
  __m256i ox = _mm256_loadu_si256((const __m256i *)oxs), oy = _mm256_loadu_si256((const __m256i *)oys);
  uint8_t rm[TAPS_MAX], cm[TAPS_MAX];
  bk->n = (int)(k1 - k0);
  for (int64_t k = k0; k < k1; k++) {
    const int j = (int)(k - k0);
    bk->xo[j] = bk->yo[j] = 8 * k;
    bk->sm[j] = tail8(n - 8 * k);
    for (int ky = 0; ky < kh; ky++) rm[ky] = (uint8_t)(inside8(_mm256_add_epi32(oy, _mm256_set1_epi32((int32_t)(ky * g->dh - g->pt))), vh) & bk->sm[j]);
    for (int kx = 0; kx < kw; kx++) cm[kx] = (uint8_t)inside8(_mm256_add_epi32(ox, _mm256_set1_epi32((int32_t)(kx * g->dw - g->pl))), vw);
    uint16_t *m = bk->mk + (int64_t)j * taps;
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++) m[ky * kw + kx] = (uint16_t)(rm[ky] & cm[kx]);
    ox = _mm256_add_epi32(ox, _mm256_set1_epi32(8));
    for (;;) { /* lanes past the row end go to the next row */
      const __m256i wrap = _mm256_cmpgt_epi32(ox, wm1);
      if (_mm256_testz_si256(wrap, wrap)) break;
      ox = _mm256_sub_epi32(ox, _mm256_and_si256(wrap, vw));
      oy = _mm256_sub_epi32(oy, wrap);
    }
  }
}

static void build_cols(const cquant__dw_geom_t *g, int64_t nrc, uint16_t *cm) {
  const __m256i vw = _mm256_set1_epi32((int32_t)g->w), lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t r = 0; r < nrc; r++)
    for (int kx = 0; kx < g->kw; kx++) {
      const int64_t rem = g->ow - 8 * r;
      if (g->sw == 1) {
        cm[r * g->kw + kx] = (uint16_t)(inside8(_mm256_add_epi32(lane, _mm256_set1_epi32((int32_t)(8 * r + kx * g->dw - g->pl))), vw) & tail8(rem));
      } else {
        const __m256i p = _mm256_add_epi32(lane, _mm256_set1_epi32((int32_t)(16 * r + kx * g->dw - g->pl)));
        const unsigned lo = inside8(p, vw), hi = inside8(_mm256_add_epi32(p, _mm256_set1_epi32(8)), vw);
        const unsigned even = rem >= 8 ? 0x5555u : (unsigned)((1u << (2 * rem)) - 1) & 0x5555u;
        cm[r * g->kw + kx] = (uint16_t)((lo | hi << 8) & even);
      }
    }
}

static void build_rows(const cquant__dw_geom_t *g, int64_t nrc, const uint16_t *cm, int64_t q0, int64_t q1, block_t *bk) {
  const int kh = g->kh, kw = g->kw, taps = kh * kw;
  bk->n = (int)(q1 - q0);
  for (int64_t q = q0; q < q1; q++) {
    const int j = (int)(q - q0);
    const int64_t oy = q / nrc, r = q % nrc;
    bk->xo[j] = oy * g->sh * g->w + 8 * r * g->sw;
    bk->yo[j] = oy * g->ow + 8 * r;
    bk->sm[j] = tail8(g->ow - 8 * r);
    uint16_t *m = bk->mk + (int64_t)j * taps;
    for (int ky = 0; ky < kh; ky++) {
      const int64_t iy = oy * g->sh + (int64_t)ky * g->dh - g->pt;
      const uint16_t in = iy >= 0 && iy < g->h ? 0xFFFF : 0;
      for (int kx = 0; kx < kw; kx++) m[ky * kw + kx] = cm[r * kw + kx] & in;
    }
  }
}

/* one tap's 8 inputs: stride 1 a masked load; stride 2 two masked loads, the even lanes kept */
static inline __m256 item_load(int s2, unsigned m, const float *s) {
  if (!s2) return _mm256_maskload_ps(s, lut[m & 0xFF]);
  const __m256 a = _mm256_maskload_ps(s, lut[m & 0xFF]), b = _mm256_maskload_ps(s + 8, lut[m >> 8]);
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
}

static inline __attribute__((always_inline)) void run_block(const cquant__dw_geom_t *g, const block_t *bk, const int64_t *off, int s2, const float *x,
                                                            const float *w, const float *b, int64_t nch, float *y) {
  const int taps = g->kh * g->kw;
  const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
  for (int64_t c = 0; c < nch; c++) {
    const float *xc = x + c * hw, *wc = w + c * taps;
    float *yc = y + c * ohw;
    const __m256 vb = _mm256_set1_ps(b ? b[c] : 0.0f);
    int j = 0;
    for (; j + 4 <= bk->n; j += 4) {
      __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
      const float *s0 = xc + bk->xo[j], *s1 = xc + bk->xo[j + 1], *s2p = xc + bk->xo[j + 2], *s3 = xc + bk->xo[j + 3];
      const uint16_t *m = bk->mk + (int64_t)j * taps;
      for (int t = 0; t < taps; t++) {
        const __m256 wt = _mm256_broadcast_ss(wc + t);
        const int64_t o = off[t];
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(wt, item_load(s2, m[t], s0 + o)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(wt, item_load(s2, m[taps + t], s1 + o)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(wt, item_load(s2, m[2 * taps + t], s2p + o)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(wt, item_load(s2, m[3 * taps + t], s3 + o)));
      }
      _mm256_maskstore_ps(yc + bk->yo[j], lut[bk->sm[j]], act8(g, a0));
      _mm256_maskstore_ps(yc + bk->yo[j + 1], lut[bk->sm[j + 1]], act8(g, a1));
      _mm256_maskstore_ps(yc + bk->yo[j + 2], lut[bk->sm[j + 2]], act8(g, a2));
      _mm256_maskstore_ps(yc + bk->yo[j + 3], lut[bk->sm[j + 3]], act8(g, a3));
    }
    for (; j < bk->n; j++) {
      __m256 a0 = vb;
      const float *s0 = xc + bk->xo[j];
      const uint16_t *m = bk->mk + (int64_t)j * taps;
      for (int t = 0; t < taps; t++) a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_broadcast_ss(wc + t), item_load(s2, m[t], s0 + off[t])));
      _mm256_maskstore_ps(yc + bk->yo[j], lut[bk->sm[j]], act8(g, a0));
    }
  }
}

static void dw_f32(const cquant__dw_geom_t *g, const float *x, const float *w, const float *b, int64_t nch, float *y) {
  const int taps = g->kh * g->kw;
  const int64_t big = (int64_t)1 << 30;
  const int flat = g->sh == 1 && g->sw == 1 && g->ow == g->w;
  const int64_t nrc = (g->ow + 7) / 8;
  if (taps > TAPS_MAX || (g->sw != 1 && g->sw != 2) || g->h * g->w >= big || g->oh * g->ow >= big || (!flat && nrc * g->kw > RC_MAX)) {
    cquant__kernels_for(CQUANT_ISA_REF)->dw_f32(g, x, w, b, nch, y);
    return;
  }
  int64_t off[TAPS_MAX];
  for (int ky = 0; ky < g->kh; ky++)
    for (int kx = 0; kx < g->kw; kx++) off[ky * g->kw + kx] = ((int64_t)ky * g->dh - g->pt) * g->w + (int64_t)kx * g->dw - g->pl;
  block_t bk;
  int64_t per = MK_MAX / taps;
  per = per > IT_MAX ? IT_MAX : per;
  if (flat) {
    const int64_t items = (g->oh * g->ow + 7) / 8;
    for (int64_t k0 = 0; k0 < items; k0 += per) {
      build_flat(g, k0, k0 + per < items ? k0 + per : items, &bk);
      run_block(g, &bk, off, 0, x, w, b, nch, y);
    }
    return;
  }
  uint16_t cm[RC_MAX];
  build_cols(g, nrc, cm);
  const int64_t items = g->oh * nrc;
  for (int64_t q0 = 0; q0 < items; q0 += per) {
    build_rows(g, nrc, cm, q0, q0 + per < items ? q0 + per : items, &bk);
    if (g->sw == 2) run_block(g, &bk, off, 1, x, w, b, nch, y);
    else run_block(g, &bk, off, 0, x, w, b, nch, y);
  }
}

void cquant__fconv_init_avx2(cquant__kernels_t *k) {
  for (int m = 0; m < 256; m++) {
    int32_t v[8];
    for (int l = 0; l < 8; l++) v[l] = (m >> l) & 1 ? -1 : 0;
    lut[m] = _mm256_loadu_si256((const __m256i *)v);
  }
  k->dw_f32 = dw_f32;
}
