/* Operators of the rnn family: RNN, GRU and LSTM (all opset versions: layout from 14, the three
 * directions, the activation list with its alphas and betas, clip, sequence_lens, initial states,
 * peepholes, every output optional). The input projection of all steps is one GEMM (OpenBLAS),
 * the recurrence one GEMM per step; float32/float16/bfloat16 are computed in float32, float64 in
 * double (rnn_core.h holds the recurrence, included once per compute type). The signal operators
 * (DFT, STFT, windows, MelWeightMatrix) are in rnn_signal.c. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tgmath.h>
#include "exec/ops/conv_par.h"
#include "exec/ops/math_internal.h"
#include "exec/ops/rnn_internal.h"

enum { RNN_RNN, RNN_GRU, RNN_LSTM };
enum { RNN_FORWARD, RNN_REVERSE, RNN_BIDI };
enum {
  ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_AFFINE, ACT_LEAKYRELU, ACT_THRESHOLDEDRELU, ACT_SCALEDTANH, ACT_HARDSIGMOID, ACT_ELU,
  ACT_SOFTSIGN, ACT_SOFTPLUS
};

typedef struct {
  int fn;
  float alpha, beta;
} rnn_act_t;

typedef struct {
  int kind, G, D, dir, layout, nact;
  int64_t T, N, NI, H;
  int has_clip, input_forget, linear_before_reset;
  float clip;
  rnn_act_t acts[6]; /* nact per direction, forward first */
} rnn_t;

#define R float
#define SFX f
#define GEMM CQUANT__SGEMM_CBLAS
#define RNN_VEC
#include "exec/ops/rnn_core.h"
#undef RNN_VEC
#undef R
#undef SFX
#undef GEMM
#define R double
#define SFX d
#define GEMM cblas_dgemm
#include "exec/ops/rnn_core.h"
#undef R
#undef SFX
#undef GEMM

/* The activation attributes: names, and alphas and betas consumed in order by the functions that
 * take them (as ONNX Runtime does); a list for one direction serves both. */
static int parse_acts(const Onnx__NodeProto *node, rnn_t *a) {
  static const char *const defaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  static const struct {
    const char *name;
    int fn, n_alpha, n_beta;
    float alpha, beta;
  } known[] = {{"Relu", ACT_RELU, 0, 0, 0, 0},
               {"Tanh", ACT_TANH, 0, 0, 0, 0},
               {"Sigmoid", ACT_SIGMOID, 0, 0, 0, 0},
               {"Affine", ACT_AFFINE, 1, 1, 1.0f, 0.0f},
               {"LeakyRelu", ACT_LEAKYRELU, 1, 0, 0.01f, 0},
               {"ThresholdedRelu", ACT_THRESHOLDEDRELU, 1, 0, 1.0f, 0},
               {"ScaledTanh", ACT_SCALEDTANH, 1, 1, 1.0f, 1.0f},
               {"HardSigmoid", ACT_HARDSIGMOID, 1, 1, 0.2f, 0.5f},
               {"Elu", ACT_ELU, 1, 0, 1.0f, 0},
               {"Softsign", ACT_SOFTSIGN, 0, 0, 0, 0},
               {"Softplus", ACT_SOFTPLUS, 0, 0, 0, 0}};
  const Onnx__AttributeProto *an = cquant__attr(node, "activations"), *aa = cquant__attr(node, "activation_alpha"),
                             *ab = cquant__attr(node, "activation_beta");
  const int nact = a->nact, total = nact * a->D;
  const int given = an ? (int)an->n_strings : 0;
  if (given && given != nact && given != total)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "activations has %d entries (%d expected)", given, total);
  size_t ia = 0, ib = 0;
  for (int k = 0; k < total; k++) {
    char name[32];
    if (given) {
      const ProtobufCBinaryData *s = &an->strings[given == total ? k : k % nact];
      const size_t n = s->len < sizeof name - 1 ? s->len : sizeof name - 1;
      memcpy(name, s->data, n);
      name[n] = 0;
    } else {
      strcpy(name, defaults[a->kind][k % nact]);
    }
    size_t j = 0;
    while (j < sizeof known / sizeof known[0] && strcasecmp(known[j].name, name)) j++;
    if (j == sizeof known / sizeof known[0])
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "activation '%s' is not supported", name);
    rnn_act_t *f = &a->acts[k];
    f->fn = known[j].fn;
    f->alpha = known[j].alpha, f->beta = known[j].beta;
    if (known[j].n_alpha && aa && ia < aa->n_floats) f->alpha = aa->floats[ia++];
    if (known[j].n_beta && ab && ib < ab->n_floats) f->beta = ab->floats[ib++];
  }
  return CQUANT_STATUS_OK;
}

static int dims_are(const cquant_array_t *x, int nd, int64_t d0, int64_t d1, int64_t d2) {
  const int64_t d[3] = {d0, d1, d2};
  if (x->ndim != nd) return 0;
  for (int i = 0; i < nd; i++)
    if (x->shape[i] != d[i]) return 0;
  return 1;
}

/* x as a C-ordered buffer of the compute type (esz 4: float, 8: double), with axes 0 and 1 of a
 * 3-D array swapped when swap is set. *own is the buffer to free (NULL when x's data is used). */
static int to_real(const cquant_array_t *x, int esz, int swap, void **p, void **own) {
  *p = *own = NULL;
  if (!x) return CQUANT_STATUS_OK;
  if (!swap && ((esz == 4 && x->dtype == CQUANT_DT_F32) || (esz == 8 && x->dtype == CQUANT_DT_F64))) {
    *p = x->data;
    return CQUANT_STATUS_OK;
  }
  void *b = malloc((size_t)esz * (size_t)(x->numel ? x->numel : 1));
  if (!b) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  const int64_t A = swap ? x->shape[0] : 1, Bn = swap ? x->shape[1] : 1, C = swap ? x->numel / (A * Bn != 0 ? A * Bn : 1) : 1;
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t j = i;
    if (swap) { /* i indexes [A, B, C]; j the element's place in [B, A, C] */
      const int64_t c = i % C, ab = i / C, bb = ab % Bn, aa = ab / Bn;
      j = (bb * A + aa) * C + c;
    }
    const double v = cquant__get_f64(x, i);
    if (esz == 4) ((float *)b)[j] = (float)v;
    else ((double *)b)[j] = v;
  }
  *p = *own = b;
  return CQUANT_STATUS_OK;
}

/* Stores a result computed in layout 0 (Y [T, D, N, H], Y_h and Y_c [D, N, H]: T = 1) into out,
 * in the node's layout (1: Y [N, T, D, H], Y_h and Y_c [N, D, H]). */
static void store(const void *b, int esz, int layout, int64_t T, int64_t D, int64_t N, int64_t H, cquant_array_t *out) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t d = 0; d < D; d++)
      for (int64_t n = 0; n < N; n++) {
        const int64_t src = ((t * D + d) * N + n) * H, dst = !layout ? src : ((n * T + t) * D + d) * H;
        for (int64_t h = 0; h < H; h++)
          cquant__set_f64(out, dst + h, esz == 4 ? (double)((const float *)b)[src + h] : ((const double *)b)[src + h]);
      }
}

static int wanted(const Onnx__NodeProto *node, int n_out, int k) { return k < n_out && node->output[k] && *node->output[k]; }

static int op_rnn(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out,
                  int n_out) {
  rnn_t a;
  memset(&a, 0, sizeof a);
  a.kind = !strcmp(node->op_type, "LSTM") ? RNN_LSTM : !strcmp(node->op_type, "GRU") ? RNN_GRU : RNN_RNN;
  a.G = a.kind == RNN_LSTM ? 4 : a.kind == RNN_GRU ? 3 : 1;
  a.nact = a.kind == RNN_LSTM ? 3 : a.kind == RNN_GRU ? 2 : 1;
  const cquant_array_t *X = in[0], *W = in[1], *Rw = in[2];
  const cquant_array_t *B = n_in > 3 ? in[3] : NULL, *L = n_in > 4 ? in[4] : NULL, *h0 = n_in > 5 ? in[5] : NULL;
  const cquant_array_t *c0 = a.kind == RNN_LSTM && n_in > 6 ? in[6] : NULL, *P = a.kind == RNN_LSTM && n_in > 7 ? in[7] : NULL;
  if (!X || !W || !Rw) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs X, W and R are required");
  const cquant_dtype_t dt = X->dtype;
  if (dt != CQUANT_DT_F32 && dt != CQUANT_DT_F64 && dt != CQUANT_DT_F16 && dt != CQUANT_DT_BF16)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "X is %s; a float type is expected", cquant_dtype_info(dt)->name);
  const cquant_array_t *same[] = {W, Rw, B, h0, c0, P};
  for (int k = 0; k < 6; k++)
    if (same[k] && same[k]->dtype != dt)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs of types %s and %s", cquant_dtype_info(dt)->name,
                                cquant_dtype_info(same[k]->dtype)->name);
  const char *dir = cquant__attr_string(node, "direction", "forward");
  a.dir = !strcmp(dir, "forward") ? RNN_FORWARD : !strcmp(dir, "reverse") ? RNN_REVERSE : !strcmp(dir, "bidirectional") ? RNN_BIDI : -1;
  if (a.dir < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "direction '%s' is unknown", dir);
  a.D = a.dir == RNN_BIDI ? 2 : 1;
  a.layout = cquant__opset(ctx) >= 14 ? (int)cquant__attr_int(node, "layout", 0) : 0;
  if (a.layout != 0 && a.layout != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "layout must be 0 or 1");
  const Onnx__AttributeProto *ca = cquant__attr(node, "clip");
  if (ca) {
    a.has_clip = 1, a.clip = ca->f;
    if (!(a.clip > 0)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "clip must be > 0");
  }
  a.input_forget = a.kind == RNN_LSTM && cquant__attr_int(node, "input_forget", 0) != 0;
  a.linear_before_reset = a.kind == RNN_GRU && cquant__attr_int(node, "linear_before_reset", 0) != 0;
  if (X->ndim != 3) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "X must be 3-D");
  a.T = X->shape[a.layout ? 1 : 0], a.N = X->shape[a.layout ? 0 : 1], a.NI = X->shape[2];
  if (W->ndim != 3 || W->shape[0] != a.D || W->shape[1] % a.G || W->shape[2] != a.NI)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "W must be [%d, %d hidden_size, %lld]", a.D, a.G, (long long)a.NI);
  a.H = W->shape[1] / a.G;
  const int64_t hs = cquant__attr_int(node, "hidden_size", a.H);
  if (hs != a.H) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "hidden_size %lld does not match W", (long long)hs);
  const int64_t H = a.H, GH = a.G * H, D = a.D, N = a.N, T = a.T;
  if (!dims_are(Rw, 3, D, GH, H)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "R must be [%lld, %lld, %lld]", (long long)D, (long long)GH, (long long)H);
  if (B && !dims_are(B, 2, D, 2 * GH, 0))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "B must be [%lld, %lld]", (long long)D, (long long)(2 * GH));
  const cquant_array_t *st3[2] = {h0, c0};
  for (int k = 0; k < 2; k++)
    if (st3[k] && !dims_are(st3[k], 3, a.layout ? N : D, a.layout ? D : N, H))
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has the wrong shape", k ? "initial_c" : "initial_h");
  if (P && !dims_are(P, 2, D, 3 * H, 0)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "P must be [%lld, %lld]", (long long)D, (long long)(3 * H));
  if (L && (L->ndim != 1 || L->shape[0] != N || cquant__is_float(L->dtype) || L->dtype == CQUANT_DT_BOOL))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sequence_lens must be an integer tensor [%lld]", (long long)N);
  const int64_t lim = 0x7fffffff;
  if (T * N > lim || GH > lim || a.NI > lim || N * H > lim || T * N > lim / (GH ? GH : 1))
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "sizes too large");
  int st = parse_acts(node, &a);
  if (st) return st;

  const int esz = dt == CQUANT_DT_F64 ? 8 : 4;
  void *p[7] = {0}, *own[7] = {0}, *outb[3] = {0};
  int32_t *lens = malloc(sizeof(int32_t) * (size_t)(N ? N : 1));
  if (!lens) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t n = 0; n < N; n++) {
    const int64_t v = L ? cquant__get_i64(L, n) : T;
    if (v < 0 || v > T) {
      free(lens);
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)n, (long long)v, (long long)T);
    }
    lens[n] = (int32_t)v;
  }
  const cquant_array_t *ins[7] = {X, W, Rw, B, h0, c0, P};
  for (int k = 0; k < 7 && !st; k++) st = to_real(ins[k], esz, a.layout && (k == 0 || k == 4 || k == 5), &p[k], &own[k]);
  /* outputs: Y [T, D, N, H] (layout 1: [N, T, D, H]), Y_h and Y_c [D, N, H] (layout 1: [N, D, H]) */
  const int64_t ydims[2][4] = {{T, D, N, H}, {N, T, D, H}}, hdims[2][3] = {{D, N, H}, {N, D, H}};
  for (int k = 0; k < 3 && !st; k++) {
    if (!wanted(node, n_out, k) || (k == 2 && a.kind != RNN_LSTM)) continue;
    st = k ? cquant_array_alloc(&out[k], dt, 3, hdims[a.layout]) : cquant_array_alloc(&out[k], dt, 4, ydims[a.layout]);
    if (st) break;
    if (!a.layout && (dt == CQUANT_DT_F32 || dt == CQUANT_DT_F64)) outb[k] = out[k].data; /* computed in place */
    else if (!(outb[k] = calloc((size_t)out[k].numel + 1, (size_t)esz))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  if (!st)
    st = esz == 4 ? rnn_run_f(&a, p[0], p[1], p[2], p[3], lens, p[4], p[5], p[6], outb[0], outb[1], outb[2])
                  : rnn_run_d(&a, p[0], p[1], p[2], p[3], lens, p[4], p[5], p[6], outb[0], outb[1], outb[2]);
  for (int k = 0; k < 3; k++) {
    if (!outb[k] || outb[k] == out[k].data) continue;
    if (!st) store(outb[k], esz, a.layout, k ? 1 : T, D, N, H, &out[k]);
    free(outb[k]);
  }
  for (int k = 0; k < 7; k++) free(own[k]);
  free(lens);
  if (st)
    for (int k = 0; k < 3; k++) cquant_array_free(&out[k]);
  return st;
}

const cquant__op_t cquant__ops_rnn[] = {
    {"RNN", op_rnn, 3, 6, 0, 2, 0},
    {"GRU", op_rnn, 3, 6, 0, 2, 0},
    {"LSTM", op_rnn, 3, 8, 0, 3, 0},
    {"DFT", cquant__op_dft, 1, 3, 1, 1, 0},
    {"STFT", cquant__op_stft, 2, 4, 1, 1, 0},
    {"HannWindow", cquant__op_window, 1, 1, 1, 1, 0},
    {"HammingWindow", cquant__op_window, 1, 1, 1, 1, 0},
    {"BlackmanWindow", cquant__op_window, 1, 1, 1, 1, 0},
    {"MelWeightMatrix", cquant__op_mel_weight_matrix, 5, 5, 1, 1, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
