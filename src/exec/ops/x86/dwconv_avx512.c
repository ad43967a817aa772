/* Float32 depthwise convolution planes, AVX-512 (16 lanes): the reference's operations in its order,
 * vmulps then vaddps per tap (no FMA), for 16 outputs at a time.
 *
 * The outputs are cut into items of 16: with stride 1 and ow == w ("same" padding) the plane is
 * one flat run (output i meets input i + off[t] for tap t, off[t] = (ky dh - pt) w + kx dw - pl),
 * otherwise each output row is cut into pieces of 16. A tap's lanes whose input lies outside the
 * plane get +0.0f from a masked load (vmovups with a zeroing k mask never touches those addresses),
 * so the padding costs no copy. The masks of a block of items are built once with vector compares
 * and serve every channel of the call. Stride 2 loads 32 inputs and keeps the even ones (vpermt2ps).
 * Other strides, huge planes or kernels go to the reference (same results). */
#include <immintrin.h>
#include <stdint.h>
#include "core/internal.h"

enum { MK_MAX = 16384, IT_MAX = 512, TAPS_MAX = 1024, RC_MAX = 4096 };

typedef struct {
  int n;                           /* items in the block */
  int64_t xo[IT_MAX], yo[IT_MAX]; /* input (before off[t]) and output offsets of lane 0 */
  uint16_t sm[IT_MAX];            /* store mask */
  __mmask16 mk[MK_MAX];           /* per item and tap: the lanes inside (stride 2: two, for 32 input lanes) */
} block_t;

static inline __m512 act16(const cquant__dw_geom_t *g, __m512 a) {
  if (g->act == 1) return _mm512_max_ps(a, _mm512_setzero_ps()); /* a > 0 ? a : +0 */
  if (g->act == 2) return _mm512_min_ps(_mm512_set1_ps(g->hi), _mm512_max_ps(_mm512_set1_ps(g->lo), a)); /* lo > a ? lo : a, then hi < v ? hi : v */
  return a;
}

static inline uint16_t tail16(int64_t rem) { return rem >= 16 ? (uint16_t)0xFFFF : (uint16_t)((1u << rem) - 1); }

/* Flat items k0 .. k1-1 (outputs 16 k ..), in groups of G: the masks of group q, tap t, item i at
 * mk[(q taps + t) G + i] (one group's masks of a tap side by side); items past k1 up to the group's
 * end get empty masks. The masks come from each lane's row and column. */
static void build_flat(const cquant__dw_geom_t *g, int64_t k0, int64_t k1, int G, block_t *bk) {
  const int kh = g->kh, kw = g->kw, taps = kh * kw;
  const int64_t n = g->oh * g->ow;
  const __m512i vh = _mm512_set1_epi32((int32_t)g->h), vw = _mm512_set1_epi32((int32_t)g->w), one = _mm512_set1_epi32(1);
  int32_t oxs[16], oys[16];
  for (int l = 0; l < 16; l++) oxs[l] = (int32_t)((16 * k0 + l) % g->w), oys[l] = (int32_t)((16 * k0 + l) / g->w);
  __m512i ox = _mm512_loadu_si512(oxs), oy = _mm512_loadu_si512(oys);
  __mmask16 rm[TAPS_MAX], cm[TAPS_MAX];
  const int64_t kend = k0 + (k1 - k0 + G - 1) / G * G;
  bk->n = (int)(kend - k0);
  for (int64_t k = k0; k < kend; k++) {
    const int j = (int)(k - k0);
    bk->sm[j] = k < k1 ? tail16(n - 16 * k) : 0;
    for (int ky = 0; ky < kh; ky++) /* vpcmpud: 0 <= oy + ky dh - pt < h in one unsigned compare */
      rm[ky] = _mm512_cmplt_epu32_mask(_mm512_add_epi32(oy, _mm512_set1_epi32((int32_t)(ky * g->dh - g->pt))), vh) & bk->sm[j];
    for (int kx = 0; kx < kw; kx++) cm[kx] = _mm512_cmplt_epu32_mask(_mm512_add_epi32(ox, _mm512_set1_epi32((int32_t)(kx * g->dw - g->pl))), vw);
    __mmask16 *m = bk->mk + (int64_t)(j / G) * taps * G + j % G;
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++) m[(ky * kw + kx) * G] = rm[ky] & cm[kx];
    ox = _mm512_add_epi32(ox, _mm512_set1_epi32(16));
    for (__mmask16 wrap; (wrap = _mm512_cmpge_epi32_mask(ox, vw));) { /* lanes past the row end go to the next row */
      ox = _mm512_mask_sub_epi32(ox, wrap, ox, vw);
      oy = _mm512_mask_add_epi32(oy, wrap, oy, one);
    }
  }
}

/* The flat block (items from k0) for channels c < nch, G items (16 G outputs) at a time: one base
 * pointer per group and tap, the items 64 bytes apart. */
static inline __attribute__((always_inline)) void run_flat(const cquant__dw_geom_t *g, const block_t *bk, const int64_t *off, int64_t k0, const int G,
                                                           const float *x, const float *w, const float *b, int64_t nch, float *y) {
  const int taps = g->kh * g->kw;
  const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
  for (int64_t c = 0; c < nch; c++) {
    const float *wc = w + c * taps;
    const __m512 vb = _mm512_set1_ps(b ? b[c] : 0.0f);
    for (int q = 0; q < bk->n / G; q++) {
      const float *xs = x + c * hw + 16 * (k0 + (int64_t)q * G);
      float *d = y + c * ohw + 16 * (k0 + (int64_t)q * G);
      const __mmask16 *m = bk->mk + (int64_t)q * taps * G;
      __m512 a[8];
#pragma GCC unroll 8
      for (int i = 0; i < G; i++) a[i] = vb;
      for (int t = 0; t < taps; t++, m += G) {
        const __m512 wt = _mm512_set1_ps(wc[t]); /* vbroadcastss */
        const float *st = xs + off[t];
#pragma GCC unroll 8
        for (int i = 0; i < G; i++) a[i] = _mm512_add_ps(a[i], _mm512_mul_ps(wt, _mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)m + i), st + 16 * i)));
      }
#pragma GCC unroll 8
      for (int i = 0; i < G; i++) _mm512_mask_storeu_ps(d + 16 * i, bk->sm[q * G + i], act16(g, a[i]));
    }
  }
}

/* Column masks of the row pieces r < nrc, per tap column kx: stride 1 the 16 output lanes, stride
 * 2 the 32 input lanes from 32 r + kx dw - pl (the even ones, of outputs inside the row). */
static void build_cols(const cquant__dw_geom_t *g, int64_t nrc, uint32_t *cm) {
  const __m512i vw = _mm512_set1_epi32((int32_t)g->w), lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int64_t r = 0; r < nrc; r++)
    for (int kx = 0; kx < g->kw; kx++) {
      const int64_t rem = g->ow - 16 * r;
      if (g->sw == 1) {
        const __m512i p = _mm512_add_epi32(lane, _mm512_set1_epi32((int32_t)(16 * r + kx * g->dw - g->pl)));
        cm[r * g->kw + kx] = _mm512_cmplt_epu32_mask(p, vw) & tail16(rem);
      } else {
        const __m512i p = _mm512_add_epi32(lane, _mm512_set1_epi32((int32_t)(32 * r + kx * g->dw - g->pl)));
        const uint32_t lo = _mm512_cmplt_epu32_mask(p, vw), hi = _mm512_cmplt_epu32_mask(_mm512_add_epi32(p, _mm512_set1_epi32(16)), vw);
        const uint32_t even = rem >= 16 ? 0x55555555u : (uint32_t)(((uint64_t)1 << (2 * rem)) - 1) & 0x55555555u;
        cm[r * g->kw + kx] = (lo | hi << 16) & even;
      }
    }
}

/* Row items q0 .. q1-1 (q = oy nrc + r). */
static void build_rows(const cquant__dw_geom_t *g, int64_t nrc, const uint32_t *cm, int64_t q0, int64_t q1, block_t *bk) {
  const int kh = g->kh, kw = g->kw, taps = kh * kw;
  bk->n = (int)(q1 - q0);
  for (int64_t q = q0; q < q1; q++) {
    const int j = (int)(q - q0);
    const int64_t oy = q / nrc, r = q % nrc;
    bk->xo[j] = oy * g->sh * g->w + 16 * r * g->sw;
    bk->yo[j] = oy * g->ow + 16 * r;
    bk->sm[j] = tail16(g->ow - 16 * r);
    const int ms = g->sw == 2 ? 2 : 1; /* masks per tap */
    __mmask16 *m = bk->mk + (int64_t)j * taps * ms;
    for (int ky = 0; ky < kh; ky++) {
      const int64_t iy = oy * g->sh + (int64_t)ky * g->dh - g->pt;
      const uint32_t in = iy >= 0 && iy < g->h ? 0xFFFFFFFFu : 0;
      for (int kx = 0; kx < kw; kx++) {
        const uint32_t v = cm[r * kw + kx] & in;
        if (ms == 2) m[2 * (ky * kw + kx)] = (__mmask16)v, m[2 * (ky * kw + kx) + 1] = (__mmask16)(v >> 16);
        else m[ky * kw + kx] = (__mmask16)v;
      }
    }
  }
}

/* The block's items for channels c < nch, four items at a time. S2: stride-2 loads (two masks a
 * tap). The masks are read from memory straight into k registers (kmovw k, m16), which keeps them
 * off port 5, where vpermt2ps and half the arithmetic run. */
#define DW_ITEM_LOAD(S2, m, s)                                                                                                                \
  ((S2) ? _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)(m)), (s)), even,                                         \
                                 _mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)(m) + 1), (s) + 16))                                      \
        : _mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)(m)), (s)))

static inline __attribute__((always_inline)) void run_block(const cquant__dw_geom_t *g, const block_t *bk, const int64_t *off, int s2, const float *x, const float *w,
                             const float *b, int64_t nch, float *y) {
  const int taps = g->kh * g->kw, ms = s2 ? 2 : 1;
  const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t c = 0; c < nch; c++) {
    const float *xc = x + c * hw, *wc = w + c * taps;
    float *yc = y + c * ohw;
    const __m512 vb = _mm512_set1_ps(b ? b[c] : 0.0f);
    int j = 0;
    for (; j + 4 <= bk->n; j += 4) {
      __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
      const float *s0 = xc + bk->xo[j], *s1 = xc + bk->xo[j + 1], *s2p = xc + bk->xo[j + 2], *s3 = xc + bk->xo[j + 3];
      const __mmask16 *m = bk->mk + (int64_t)j * taps * ms;
      for (int t = 0; t < taps; t++) {
        const __m512 wt = _mm512_set1_ps(wc[t]); /* vbroadcastss */
        const int64_t o = off[t];
        a0 = _mm512_add_ps(a0, _mm512_mul_ps(wt, DW_ITEM_LOAD(s2, m + ms * t, s0 + o)));
        a1 = _mm512_add_ps(a1, _mm512_mul_ps(wt, DW_ITEM_LOAD(s2, m + ms * (taps + t), s1 + o)));
        a2 = _mm512_add_ps(a2, _mm512_mul_ps(wt, DW_ITEM_LOAD(s2, m + ms * (2 * taps + t), s2p + o)));
        a3 = _mm512_add_ps(a3, _mm512_mul_ps(wt, DW_ITEM_LOAD(s2, m + ms * (3 * taps + t), s3 + o)));
      }
      _mm512_mask_storeu_ps(yc + bk->yo[j], bk->sm[j], act16(g, a0));
      _mm512_mask_storeu_ps(yc + bk->yo[j + 1], bk->sm[j + 1], act16(g, a1));
      _mm512_mask_storeu_ps(yc + bk->yo[j + 2], bk->sm[j + 2], act16(g, a2));
      _mm512_mask_storeu_ps(yc + bk->yo[j + 3], bk->sm[j + 3], act16(g, a3));
    }
    for (; j < bk->n; j++) {
      __m512 a0 = vb;
      const float *s0 = xc + bk->xo[j];
      const __mmask16 *m = bk->mk + (int64_t)j * taps * ms;
      for (int t = 0; t < taps; t++) a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_set1_ps(wc[t]), DW_ITEM_LOAD(s2, m + ms * t, s0 + off[t])));
      _mm512_mask_storeu_ps(yc + bk->yo[j], bk->sm[j], act16(g, a0));
    }
  }
}

static void dw_f32(const cquant__dw_geom_t *g, const float *x, const float *w, const float *b, int64_t nch, float *y) {
  const int taps = g->kh * g->kw;
  const int64_t big = (int64_t)1 << 30;
  const int flat = g->sh == 1 && g->sw == 1 && g->ow == g->w;
  const int64_t nrc = (g->ow + 15) / 16;
  if (taps > TAPS_MAX || (g->sw != 1 && g->sw != 2) || g->h * g->w >= big || g->oh * g->ow >= big || (!flat && nrc * g->kw > RC_MAX)) {
    cquant__kernels_for(CQUANT_ISA_REF)->dw_f32(g, x, w, b, nch, y);
    return;
  }
  int64_t off[TAPS_MAX];
  for (int ky = 0; ky < g->kh; ky++)
    for (int kx = 0; kx < g->kw; kx++) off[ky * g->kw + kx] = ((int64_t)ky * g->dh - g->pt) * g->w + (int64_t)kx * g->dw - g->pl;
  block_t bk;
  int64_t per = MK_MAX / (2 * taps);
  per = per > IT_MAX ? IT_MAX : per;
  if (flat) {
    const int64_t items = (g->oh * g->ow + 15) / 16;
    const int G = items >= 16 ? 8 : 4; /* small planes: fewer empty items in the last group */
    per = per / 8 * 8;
    for (int64_t k0 = 0; k0 < items; k0 += per) {
      build_flat(g, k0, k0 + per < items ? k0 + per : items, G, &bk);
      if (G == 8) run_flat(g, &bk, off, k0, 8, x, w, b, nch, y);
      else run_flat(g, &bk, off, k0, 4, x, w, b, nch, y);
    }
    return;
  }
  uint32_t cm[RC_MAX];
  build_cols(g, nrc, cm);
  const int64_t items = g->oh * nrc;
  for (int64_t q0 = 0; q0 < items; q0 += per) {
    build_rows(g, nrc, cm, q0, q0 + per < items ? q0 + per : items, &bk);
    if (g->sw == 2) run_block(g, &bk, off, 1, x, w, b, nch, y);
    else run_block(g, &bk, off, 0, x, w, b, nch, y);
  }
}

void cquant__fconv_init_avx512(cquant__kernels_t *k) { k->dw_f32 = dw_f32; }
