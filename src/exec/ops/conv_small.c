/* Float32 dense convolution with few taps per output (K = C kh kw small: the 3-channel first layer
 * of image models, 1x1 convolutions of few input channels) computed directly, without im2col and
 * a GEMM: there OpenBLAS spends more on packing than on arithmetic. For every output row, the
 * input rows its taps meet are padded and split by column phase once (cquant__pad_split_row), then
 * the conv_rows_f32 kernel makes all output channels of the row, and the epilogue (conv_fuse.h)
 * runs on the row while it is in cache. A 1x1 convolution at stride 1 without padding reads the
 * input planes as they are, in runs of pixels. The scalar reference of the kernel is here; the
 * AVX2 and AVX-512 variants (x86/convrows_*.c) equal it bit for bit.
 *
 * The taps are summed as the GEMM path sums K (cquant__sgemm, conv_par.h): in the nearly equal
 * chunks of at most CQUANT__SGEMM_KC taps, each chunk one fmaf chain from zero, then added in
 * order to the bias (y = b + s0, y = y + s1, ...). One chain over all K taps (up to 1152, or 256
 * for a 1x1) was 1.5 to 2.4 times further from a float64 convolution than ONNX Runtime in
 * Mask R-CNN's backbone and heads. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "exec/ops/conv_fuse.h"
#include "exec/ops/conv_internal.h"

static void conv_rows_f32_ref(const float *const *r, const float *w, int64_t lw, const float *b, int64_t K, int64_t m, int64_t n, float *y, int64_t ys,
                              int acc) {
  const int64_t nk = cquant__sgemm_chunks(K);
  for (int64_t o = 0; o < m; o++)
    for (int64_t i = 0; i < n; i++) {
      float a = 0.0f;
      for (int64_t c = 0; c < nk; c++) {
        float s = 0.0f;
        for (int64_t t = K * c / nk; t < K * (c + 1) / nk; t++) s = fmaf(w[o * lw + t], r[t][i], s);
        a = c ? a + s : acc ? y[o * ys + i] + s : b ? b[o] + s : s;
      }
      y[o * ys + i] = a;
    }
}

void cquant__fdense_init_ref(cquant__kernels_t *k) {
  k->conv_rows_f32 = conv_rows_f32_ref;
  k->conv_epi_f32 = cquant__conv_epi_ref;
}

int cquant__conv_small_fits(const cquant__conv2d_t *p) {
  const int64_t K = p->c * p->kh * p->kw;
  const int flat = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && !p->pad_t && !p->pad_l && !p->pad_b && !p->pad_r;
  /* Measured against OpenBLAS on one core (AVX-512; both about 75-90 GMAC/s where they meet): the
   * direct form wins by 1.3-1.9x for few taps (the first layer: im2col and packing cost more than
   * the products) and matches or beats it up to K = 1152 where rows are long; on short rows (a
   * 7 x 7 plane) its 32-wide blocks are mostly padding. A 1x1 convolution is one long row. The
   * reference (fmaf in a loop) is no match for OpenBLAS: only with a SIMD kernel. */
  const int fits = flat ? K <= 256 : K <= 32 ? p->ow >= 8 : p->ow >= 28 && K <= 1152;
  return p->group == 1 && fits && p->m >= 4 && cquant_isa_active() >= CQUANT_ISA_AVX2;
}

typedef struct {
  const cquant__conv2d_t *p;
  const float *x, *w, *b;
  const cquant__conv_epi_t *e;
  float *y;
  int64_t K, len, units_n, span; /* units per image; rows (or pixels, flat) per unit */
  int64_t mchunk, mslices;        /* flat: output channels per unit (a multiple of 8), and their count */
  int flat;
  void **scratch; /* per worker: the split input rows, then the tap pointers */
  _Atomic int oom;
} small_job_t;

static void epilogue(const small_job_t *j, int64_t n, int64_t m0, int64_t m1, int64_t p0, int64_t len) {
  const int64_t P = j->p->oh * j->p->ow;
  for (int64_t o = m0; o < m1; o++) {
    const int64_t off = (n * j->p->m + o) * P + p0;
    cquant__conv_epi_apply(j->e, j->y + off, j->e->add ? j->e->add + off : NULL, len);
  }
}

static void small_unit(void *vj, int64_t u, int worker) {
  small_job_t *j = vj;
  const cquant__conv2d_t *p = j->p;
  const int64_t n = u / j->units_n, q = u % j->units_n, P = p->oh * p->ow, sw = p->stride_w, K = j->K;
  const float *xn = j->x + n * p->c * p->h * p->w;
  float *yn = j->y + n * p->m * P;
  const size_t rows_f = j->flat ? 0 : (size_t)(p->c * p->kh * sw * j->len);
  if (!j->scratch[worker]) j->scratch[worker] = malloc(sizeof(float) * rows_f + sizeof(float *) * (size_t)K + 64);
  if (!j->scratch[worker]) { j->oom = 1; return; }
  const float **r = j->scratch[worker];
  float *buf = (float *)(r + K);
  if (j->flat) { /* 1x1, stride 1, no padding: tap c reads plane c */
    const int64_t qp = q / j->mslices, qm = q % j->mslices;
    const int64_t p0 = qp * j->span, p1 = p0 + j->span < P ? p0 + j->span : P;
    const int64_t m0 = qm * j->mchunk, m1 = m0 + j->mchunk < p->m ? m0 + j->mchunk : p->m;
    /* with an epilogue, in column blocks of about 64 KiB of outputs, which it then finds in cache
     * (each output is computed alone: the block does not change its bits) */
    int64_t blk = p1 - p0;
    if (j->e) blk = (16384 / (m1 - m0) + 15) / 16 * 16, blk = blk < 64 ? 64 : blk;
    for (int64_t b0 = p0; b0 < p1; b0 += blk) {
      const int64_t b1 = b0 + blk < p1 ? b0 + blk : p1;
      for (int64_t c = 0; c < K; c++) r[c] = xn + c * P + b0;
      cquant__kernels()->conv_rows_f32(r, j->w + m0 * K, K, j->b ? j->b + m0 : NULL, K, m1 - m0, b1 - b0, yn + m0 * P + b0, P, 0);
      if (j->e) epilogue(j, n, m0, m1, b0, b1 - b0);
    }
    return;
  }
  const int64_t r0 = q * j->span, r1 = r0 + j->span < p->oh ? r0 + j->span : p->oh, seg = sw * j->len;
  for (int64_t oy = r0; oy < r1; oy++) {
    for (int64_t c = 0; c < p->c; c++)
      for (int64_t ky = 0; ky < p->kh; ky++) {
        const int64_t iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
        float *dst = buf + (c * p->kh + ky) * seg;
        if (iy < 0 || iy >= p->h) memset(dst, 0, sizeof(float) * (size_t)seg);
        else cquant__pad_split_row(xn + (c * p->h + iy) * p->w, p->w, p->pad_l, sw, j->len, 0.0f, dst);
        for (int64_t kx = 0; kx < p->kw; kx++) {
          const int64_t col = kx * p->dil_w;
          r[(c * p->kh + ky) * p->kw + kx] = dst + (col % sw) * j->len + col / sw;
        }
      }
    cquant__kernels()->conv_rows_f32(r, j->w, K, j->b, K, p->m, p->ow, yn + oy * p->ow, P, 0);
    if (j->e) epilogue(j, n, 0, p->m, oy * p->ow, p->ow);
  }
}

int cquant__conv_small_f32(const cquant__conv2d_t *p, const float *x, const float *w, const float *b, const cquant__conv_epi_t *e, float *y) {
  small_job_t j = {.p = p, .x = x, .w = w, .b = b, .e = e, .y = y, .K = p->c * p->kh * p->kw};
  const int64_t P = p->oh * p->ow;
  j.flat = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && !p->pad_t && !p->pad_l && !p->pad_b && !p->pad_r;
  const int64_t wn = (p->ow - 1) * p->stride_w + (p->kw - 1) * p->dil_w + 1;
  j.len = (wn + p->stride_w - 1) / p->stride_w;
  int threads = cquant__conv_threads((double)p->n * (double)p->m * (double)P * (double)j.K);
  threads = threads < 64 ? threads : 64;
  /* units: runs of output rows, about four per thread; flat: runs of pixels, whole 32-pixel blocks
   * of the kernel and at most 64 KiB of output (the epilogue finds them in cache), and when a
   * small plane (7 x 7) makes fewer runs than that, slices of 8k output channels as well */
  const int64_t total = j.flat ? P : p->oh, want = threads > 1 ? (4 * threads + p->n - 1) / p->n : 1;
  int64_t span = (total + want - 1) / want;
  j.mchunk = p->m, j.mslices = 1;
  if (j.flat) {
    const int64_t cap = (16384 / p->m) / 32 * 32;
    span = (span + 31) / 32 * 32;
    span = span > cap ? (cap > 32 ? cap : 32) : span;
    const int64_t runs = (P + span - 1) / span;
    if (runs < want && p->m >= 16) {
      const int64_t ms = (want + runs - 1) / runs;
      j.mchunk = ((p->m + ms - 1) / ms + 7) / 8 * 8;
      j.mslices = (p->m + j.mchunk - 1) / j.mchunk;
    }
  }
  j.span = span < 1 ? 1 : span;
  j.units_n = (total + j.span - 1) / j.span * j.mslices;
  void *scratch[64] = {0};
  j.scratch = scratch;
  cquant__par_run(threads, p->n * j.units_n, small_unit, &j);
  for (int i = 0; i < 64; i++) free(scratch[i]);
  return j.oom ? CQUANT_STATUS_OUT_OF_MEMORY : CQUANT_STATUS_OK;
}
