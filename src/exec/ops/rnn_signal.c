/* Signal operators of the rnn family (opset 17): DFT, STFT, HannWindow, HammingWindow,
 * BlackmanWindow and MelWeightMatrix. Transforms are computed in double: a radix-2 FFT for
 * power-of-two lengths, a direct O(n^2) sum with a twiddle table otherwise. Complex tensors are
 * ONNX's real representation: a trailing dimension of 2 (re, im), or 1 for a real signal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/rnn_internal.h"

#define PI 3.14159265358979323846

/* Work space of a length-n transform: the line (2n doubles), a copy for the direct sum and the
 * twiddles cos, sin of 2 pi k / n. */
typedef struct {
  int64_t n;
  double *buf, *tmp, *tw;
} fft_t;

static void fft_free(fft_t *f) {
  free(f->buf), free(f->tmp), free(f->tw);
  f->buf = f->tmp = f->tw = NULL;
}

static int fft_init(fft_t *f, int64_t n) {
  f->n = n;
  f->buf = malloc(sizeof(double) * (size_t)(2 * n));
  f->tmp = malloc(sizeof(double) * (size_t)(2 * n));
  f->tw = malloc(sizeof(double) * (size_t)(2 * n));
  if (!f->buf || !f->tmp || !f->tw) {
    fft_free(f);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  for (int64_t k = 0; k < n; k++) f->tw[2 * k] = cos(2 * PI * (double)k / (double)n), f->tw[2 * k + 1] = sin(2 * PI * (double)k / (double)n);
  return CQUANT_STATUS_OK;
}

/* f->buf <- its DFT (inverse: e^{+i...} and divided by n). */
static void fft_run(fft_t *f, int inverse) {
  const int64_t n = f->n;
  double *x = f->buf;
  const double sg = inverse ? 1.0 : -1.0;
  if ((n & (n - 1)) == 0) { /* radix 2, in place */
    for (int64_t i = 1, j = 0; i < n; i++) {
      int64_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) {
        double t = x[2 * i]; x[2 * i] = x[2 * j]; x[2 * j] = t;
        t = x[2 * i + 1]; x[2 * i + 1] = x[2 * j + 1]; x[2 * j + 1] = t;
      }
    }
    for (int64_t len = 2; len <= n; len <<= 1) {
      const int64_t step = n / len, half = len / 2;
      for (int64_t s = 0; s < n; s += len)
        for (int64_t k = 0; k < half; k++) {
          const double wr = f->tw[2 * k * step], wi = sg * f->tw[2 * k * step + 1];
          double *a = x + 2 * (s + k), *b = x + 2 * (s + k + half);
          const double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
          b[0] = a[0] - br, b[1] = a[1] - bi;
          a[0] += br, a[1] += bi;
        }
    }
  } else {
    memcpy(f->tmp, x, sizeof(double) * (size_t)(2 * n));
    for (int64_t k = 0; k < n; k++) {
      double re = 0, im = 0;
      for (int64_t m = 0, idx = 0; m < n; m++, idx = idx + k >= n ? idx + k - n : idx + k) {
        const double wr = f->tw[2 * idx], wi = sg * f->tw[2 * idx + 1];
        re += f->tmp[2 * m] * wr - f->tmp[2 * m + 1] * wi;
        im += f->tmp[2 * m] * wi + f->tmp[2 * m + 1] * wr;
      }
      x[2 * k] = re, x[2 * k + 1] = im;
    }
  }
  if (inverse)
    for (int64_t i = 0; i < 2 * n; i++) x[i] /= (double)n;
}

static int is_fp(cquant_dtype_t dt) {
  return dt == CQUANT_DT_F32 || dt == CQUANT_DT_F64 || dt == CQUANT_DT_F16 || dt == CQUANT_DT_BF16;
}

/* A scalar integer input (one element). */
static int scalar_int(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, int64_t *v) {
  int64_t buf[1];
  int n = 0;
  int st = cquant__read_ints(node, a, what, buf, 1, &n);
  if (st) return st;
  if (n != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must hold one value", what);
  *v = buf[0];
  return CQUANT_STATUS_OK;
}

static const int64_t MAX_LEN = (int64_t)1 << 24; /* transform lengths beyond this are refused */

/* DFT: opset 17 (axis attribute, default 1) and 20 (axis input, default -2). */
int cquant__op_dft(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                   int n_out) {
  (void)n_out;
  const cquant_array_t *x = in[0];
  if (!x) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input is missing");
  if (!is_fp(x->dtype)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "input is %s; a float type is expected", cquant_dtype_info(x->dtype)->name);
  const int r = x->ndim;
  if (r < 2 || (x->shape[r - 1] != 1 && x->shape[r - 1] != 2))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "input must have rank >= 2 and a last dimension of 1 or 2");
  const int opset = cquant__opset(ctx);
  int64_t axis = opset >= 20 ? -2 : cquant__attr_int(node, "axis", 1);
  int st;
  if (opset >= 20 && n_in > 2 && in[2] && (st = scalar_int(node, in[2], "axis", &axis))) return st;
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r - 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "axis is out of range [-%d, %d]", r, r - 2);
  const int inverse = cquant__attr_int(node, "inverse", 0) != 0, onesided = cquant__attr_int(node, "onesided", 0) != 0;
  if (inverse && onesided && opset >= 20)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "the one-sided inverse DFT of opset 20 is not supported");
  const int64_t L = x->shape[axis], C = x->shape[r - 1];
  int64_t n = L;
  if (n_in > 1 && in[1] && (st = scalar_int(node, in[1], "dft_length", &n))) return st;
  if (n < 1 || n > MAX_LEN) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "dft_length %lld is out of range", (long long)n);
  const int64_t bins = onesided ? n / 2 + 1 : n;
  int64_t shape[CQUANT_MAX_DIMS], outer = 1, inner = 1;
  for (int d = 0; d < r; d++) shape[d] = x->shape[d];
  shape[axis] = bins, shape[r - 1] = 2;
  for (int d = 0; d < axis; d++) outer *= x->shape[d];
  for (int d = axis + 1; d < r - 1; d++) inner *= x->shape[d];
  fft_t f;
  if ((st = cquant_array_alloc(&out[0], x->dtype, r, shape))) return st;
  if (!out[0].numel) return CQUANT_STATUS_OK;
  if ((st = fft_init(&f, n))) {
    cquant_array_free(&out[0]);
    return st;
  }
  const int64_t m = L < n ? L : n;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      memset(f.buf, 0, sizeof(double) * (size_t)(2 * n));
      for (int64_t l = 0; l < m; l++) {
        const int64_t e = ((o * L + l) * inner + i) * C;
        f.buf[2 * l] = cquant__get_f64(x, e);
        if (C == 2) f.buf[2 * l + 1] = cquant__get_f64(x, e + 1);
      }
      fft_run(&f, inverse);
      for (int64_t k = 0; k < bins; k++) {
        const int64_t e = ((o * bins + k) * inner + i) * 2;
        cquant__set_f64(&out[0], e, f.buf[2 * k]);
        cquant__set_f64(&out[0], e + 1, f.buf[2 * k + 1]);
      }
    }
  fft_free(&f);
  return CQUANT_STATUS_OK;
}

/* STFT: signal [batch, length, 1 or 2] -> [batch, frames, bins, 2]. */
int cquant__op_stft(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                    int n_out) {
  (void)ctx, (void)n_out;
  const cquant_array_t *x = in[0], *w = n_in > 2 ? in[2] : NULL;
  if (!x || n_in < 2 || !in[1]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "signal and frame_step are required");
  if (!is_fp(x->dtype)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "signal is %s; a float type is expected", cquant_dtype_info(x->dtype)->name);
  if (x->ndim != 3 || (x->shape[2] != 1 && x->shape[2] != 2))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "signal must be [batch, length, 1 or 2]");
  int64_t step = 0, fl = 0;
  int st = scalar_int(node, in[1], "frame_step", &step);
  if (st) return st;
  if (w && (w->ndim != 1 || !is_fp(w->dtype)))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "window must be a 1-D float tensor");
  const int64_t B = x->shape[0], L = x->shape[1], C = x->shape[2];
  fl = w ? w->shape[0] : L;
  if (n_in > 3 && in[3] && (st = scalar_int(node, in[3], "frame_length", &fl))) return st;
  if (w && w->shape[0] != fl)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "window has %lld values, frame_length is %lld", (long long)w->shape[0], (long long)fl);
  if (step < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "frame_step must be >= 1");
  if (fl < 1 || fl > L || fl > MAX_LEN)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "frame_length %lld is out of range [1, %lld]", (long long)fl, (long long)L);
  const int onesided = cquant__attr_int(node, "onesided", 1) != 0;
  const int64_t frames = 1 + (L - fl) / step, bins = onesided ? fl / 2 + 1 : fl;
  const int64_t shape[4] = {B, frames, bins, 2};
  if ((st = cquant_array_alloc(&out[0], x->dtype, 4, shape))) return st;
  if (!out[0].numel) return CQUANT_STATUS_OK;
  fft_t f;
  if ((st = fft_init(&f, fl))) {
    cquant_array_free(&out[0]);
    return st;
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t fr = 0; fr < frames; fr++) {
      for (int64_t mi = 0; mi < fl; mi++) {
        const int64_t e = (b * L + fr * step + mi) * C;
        const double wv = w ? cquant__get_f64(w, mi) : 1.0;
        f.buf[2 * mi] = cquant__get_f64(x, e) * wv;
        f.buf[2 * mi + 1] = C == 2 ? cquant__get_f64(x, e + 1) * wv : 0.0;
      }
      fft_run(&f, 0);
      for (int64_t k = 0; k < bins; k++) {
        const int64_t e = ((b * frames + fr) * bins + k) * 2;
        cquant__set_f64(&out[0], e, f.buf[2 * k]);
        cquant__set_f64(&out[0], e + 1, f.buf[2 * k + 1]);
      }
    }
  fft_free(&f);
  return CQUANT_STATUS_OK;
}

/* The output_datatype attribute (default float). */
static int out_type(const Onnx__NodeProto *node, cquant_dtype_t *dt) {
  const int t = cquant__dtype_from_onnx((int32_t)cquant__attr_int(node, "output_datatype", 1));
  if (t < 0 || t == CQUANT_DT_BOOL) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "output_datatype is not a supported numeric type");
  *dt = (cquant_dtype_t)t;
  return CQUANT_STATUS_OK;
}

/* HannWindow, HammingWindow, BlackmanWindow: w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N),
 * N = size (periodic) or size - 1 (symmetric). */
int cquant__op_window(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                      int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  int64_t size = 0;
  cquant_dtype_t dt = CQUANT_DT_F32;
  int st = scalar_int(node, in[0], "size", &size);
  if (st || (st = out_type(node, &dt))) return st;
  if (size < 0 || size > MAX_LEN) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "size %lld is out of range", (long long)size);
  const char *op = node->op_type;
  double a0 = 0.5, a1 = 0.5, a2 = 0;
  if (!strcmp(op, "HammingWindow")) a0 = 25.0 / 46.0, a1 = 21.0 / 46.0;
  else if (!strcmp(op, "BlackmanWindow")) a0 = 0.42, a1 = 0.5, a2 = 0.08;
  const int periodic = cquant__attr_int(node, "periodic", 1) != 0;
  const double N = (double)(periodic ? size : size - 1);
  if ((st = cquant_array_alloc(&out[0], dt, 1, &size))) return st;
  for (int64_t k = 0; k < size; k++) {
    const double v = N > 0 ? a0 - a1 * cos(2 * PI * (double)k / N) + a2 * cos(4 * PI * (double)k / N) : 1.0;
    cquant__set_f64(&out[0], k, v);
  }
  return CQUANT_STATUS_OK;
}

/* MelWeightMatrix [dft_length / 2 + 1, num_mel_bins]: triangles between mel-spaced bins, computed
 * as ONNX's reference does (the edge mels in float32, the rest in double). */
int cquant__op_mel_weight_matrix(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in,
                                 cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  int64_t nmel = 0, ndft = 0, rate = 0;
  cquant_dtype_t dt = CQUANT_DT_F32;
  int st;
  if ((st = scalar_int(node, in[0], "num_mel_bins", &nmel)) || (st = scalar_int(node, in[1], "dft_length", &ndft)) ||
      (st = scalar_int(node, in[2], "sample_rate", &rate)) || (st = out_type(node, &dt)))
    return st;
  for (int k = 3; k < 5; k++)
    if (!in[k] || in[k]->numel != 1 || !cquant__is_float(in[k]->dtype))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must be one float value", k == 3 ? "lower_edge_hertz" : "upper_edge_hertz");
  if (nmel < 1 || nmel > MAX_LEN || ndft < 1 || ndft > MAX_LEN || rate < 1)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "num_mel_bins, dft_length and sample_rate must be positive");
  const float lo = (float)cquant__get_f64(in[3], 0), hi = (float)cquant__get_f64(in[4], 0);
  const int64_t nspec = ndft / 2 + 1;
  const float lo_mel = 2595.0f * log10f(1.0f + lo / 700.0f), hi_mel = 2595.0f * log10f(1.0f + hi / 700.0f);
  const float mel_step = (hi_mel - lo_mel) / (float)(nmel + 2);
  int64_t *bin = malloc(sizeof(int64_t) * (size_t)(nmel + 2));
  if (!bin) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < nmel + 2; i++) {
    const double mel = (double)i * (double)mel_step + (double)lo_mel;
    const double hz = 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
    const double b = floor((double)(ndft + 1) * hz / (double)rate);
    if (!(b >= 0 && b < (double)nspec)) {
      free(bin);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the edges give a bin outside [0, %lld]", (long long)nspec - 1);
    }
    bin[i] = (int64_t)b;
  }
  const int64_t shape[2] = {nspec, nmel};
  if ((st = cquant_array_alloc(&out[0], dt, 2, shape))) {
    free(bin);
    return st;
  }
  for (int64_t i = 0; i < nmel; i++) {
    const int64_t l = bin[i], c = bin[i + 1], h = bin[i + 2];
    if (c == l) cquant__set_f64(&out[0], c * nmel + i, 1.0);
    else
      for (int64_t j = l; j <= c; j++) cquant__set_f64(&out[0], j * nmel + i, (double)(j - l) / (double)(c - l));
    if (h > c)
      for (int64_t j = c; j < h; j++) cquant__set_f64(&out[0], j * nmel + i, (double)(h - j) / (double)(h - c));
  }
  free(bin);
  return CQUANT_STATUS_OK;
}
