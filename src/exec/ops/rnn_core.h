/* The recurrence of RNN, GRU and LSTM in one compute type, included twice by rnn.c: with R float,
 * SFX f and GEMM cblas_sgemm (float32, float16, bfloat16), and with R double, SFX d and GEMM
 * cblas_dgemm (float64). Every array is in layout 0 and C order: X [T, N, I], W [D, G H, I],
 * Rw [D, G H, H], B [D, 2 G H] (or NULL), h0 and c0 [D, N, H] (or NULL: zeros), P [D, 3 H] (or
 * NULL), lens [N] (each in [0, T]); Y [T, D, N, H] (zeroed by the caller), Yh and Yc [D, N, H],
 * each NULL when not wanted. Gate orders are ONNX's: LSTM i o f c, GRU z r h, peepholes i o f.
 * RNN_VEC defined: Sigmoid and Tanh through the math family's vectorized float32 loops. */
#define RNN_CAT_(a, b) a##_##b
#define RNN_CAT(a, b) RNN_CAT_(a, b)
#define FN(name) RNN_CAT(name, SFX)

/* v = f(clip(v)) over n elements (clip <= 0: none). */
static void FN(act)(const rnn_act_t *f, R *v, int64_t n, R clip) {
  if (clip > 0)
    for (int64_t i = 0; i < n; i++) v[i] = v[i] < -clip ? -clip : v[i] > clip ? clip : v[i];
  const R a = (R)f->alpha, b = (R)f->beta;
  switch (f->fn) {
#ifdef RNN_VEC /* float: the math family's vectorized loops */
    case ACT_SIGMOID: cquant__math_sigmoid_f32(v, v, n); break;
    case ACT_TANH: cquant__math_tanh_f32(v, v, n); break;
#else
    case ACT_SIGMOID: for (int64_t i = 0; i < n; i++) v[i] = 1 / (1 + exp(-v[i])); break;
    case ACT_TANH: for (int64_t i = 0; i < n; i++) v[i] = tanh(v[i]); break;
#endif
    case ACT_RELU: for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0 ? 0 : v[i]; break;
    case ACT_AFFINE: for (int64_t i = 0; i < n; i++) v[i] = a * v[i] + b; break;
    case ACT_LEAKYRELU: for (int64_t i = 0; i < n; i++) v[i] = v[i] >= 0 ? v[i] : a * v[i]; break;
    case ACT_THRESHOLDEDRELU: for (int64_t i = 0; i < n; i++) v[i] = v[i] > a ? v[i] : 0; break;
    case ACT_SCALEDTANH: for (int64_t i = 0; i < n; i++) v[i] = a * tanh(b * v[i]); break;
    case ACT_HARDSIGMOID:
      for (int64_t i = 0; i < n; i++) {
        const R y = a * v[i] + b;
        v[i] = y < 0 ? 0 : y > 1 ? 1 : y;
      }
      break;
    case ACT_ELU: for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0 ? a * (exp(v[i]) - 1) : v[i]; break;
    case ACT_SOFTSIGN: for (int64_t i = 0; i < n; i++) v[i] = v[i] / (1 + fabs(v[i])); break;
    default: /* Softplus */
      for (int64_t i = 0; i < n; i++) v[i] = v[i] > 0 ? v[i] + log1p(exp(-v[i])) : log1p(exp(v[i]));
      break;
  }
}

/* C = A B^T (tb) with B [n, k], or C = A B with B [k, n]; A [m, k] (lda), B's rows ldb apart, C [m,
 * n] (ldc); zeros when k is 0. */
static void FN(gemm)(int64_t m, int64_t n, int64_t k, const R *A, int64_t lda, const R *B, int64_t ldb, int tb, R *C, int64_t ldc) {
  if (!m || !n) return;
  if (!k) {
    for (int64_t i = 0; i < m; i++) memset(C + i * ldc, 0, sizeof(R) * (size_t)n);
    return;
  }
  GEMM(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1, A, (int)lda, B, (int)ldb, 0, C, (int)ldc);
}

static int FN(rnn_run)(const rnn_t *a, const R *X, const R *W, const R *Rw, const R *B, const int32_t *lens, const R *h0, const R *c0,
                       const R *P, R *Y, R *Yh, R *Yc) {
  const int64_t T = a->T, N = a->N, NI = a->NI, H = a->H, G = a->G, GH = G * H;
  const int lstm = a->kind == RNN_LSTM, gru = a->kind == RNN_GRU;
  const R clip = a->has_clip ? (R)a->clip : 0;
  R *xw = malloc(sizeof(R) * (size_t)(T * N * GH + 1)), *hr = malloc(sizeof(R) * (size_t)(N * GH + 1));
  R *hs = malloc(sizeof(R) * (size_t)(N * H + 1)), *cs = malloc(sizeof(R) * (size_t)(N * H + 1));
  R *tmp = malloc(sizeof(R) * (size_t)(N * H + 1)), *hh = malloc(sizeof(R) * (size_t)(N * H + 1));
  /* R^T of one direction ([H, GH]): the recurrence's product per step then reads both operands as
   * they lie (a transposed B would be copied on every step of a small product, cquant__sgemm) */
  R *Rt = malloc(sizeof(R) * (size_t)(H * GH + 1));
  if (!xw || !hr || !hs || !cs || !tmp || !hh || !Rt) {
    free(xw), free(hr), free(hs), free(cs), free(tmp), free(hh), free(Rt);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  for (int d = 0; d < a->D; d++) {
    const int rev = a->dir == RNN_REVERSE || (a->dir == RNN_BIDI && d == 1);
    const R *Wd = W + d * GH * NI, *Rd = Rw + d * GH * H, *Bd = B ? B + d * 2 * GH : NULL, *Pd = P ? P + d * 3 * H : NULL;
    const rnn_act_t *f = a->acts + d * a->nact;
    /* input projection of every step at once, with the biases that are outside the recurrence */
    FN(gemm)(T * N, GH, NI, X, NI, Wd, NI, 1, xw, GH);
    if (Bd) {
      const int64_t rb_end = gru && a->linear_before_reset ? 2 * H : GH; /* GRU's Rbh then sits inside r (.) (...) */
      for (int64_t r = 0; r < T * N; r++) {
        R *x = xw + r * GH;
        for (int64_t j = 0; j < GH; j++) x[j] += Bd[j] + (j < rb_end ? Bd[GH + j] : 0);
      }
    }
    for (int64_t j = 0; j < GH; j++)
      for (int64_t t = 0; t < H; t++) Rt[t * GH + j] = Rd[j * H + t];
    if (h0) memcpy(hs, h0 + d * N * H, sizeof(R) * (size_t)(N * H));
    else memset(hs, 0, sizeof(R) * (size_t)(N * H));
    if (c0) memcpy(cs, c0 + d * N * H, sizeof(R) * (size_t)(N * H));
    else memset(cs, 0, sizeof(R) * (size_t)(N * H));
    for (int64_t s = 0; s < T; s++) {
      int any = 0;
      for (int64_t n = 0; n < N; n++) any |= s < lens[n];
      if (!any) break;
      /* recurrent projection (GRU without linear_before_reset: the z and r gates only) */
      FN(gemm)(N, gru && !a->linear_before_reset ? 2 * H : GH, H, hs, H, Rt, GH, 0, hr, GH);
      for (int64_t n = 0; n < N; n++) {
        if (s >= lens[n]) continue;
        const int64_t t = rev ? lens[n] - 1 - s : s;
        const R *x = xw + (t * N + n) * GH;
        R *g = hr + n * GH, *h = hs + n * H, *c = cs + n * H;
        if (a->kind == RNN_RNN) {
          for (int64_t j = 0; j < H; j++) g[j] += x[j];
          FN(act)(&f[0], g, H, clip);
          memcpy(h, g, sizeof(R) * (size_t)H);
        } else if (lstm) {
          R *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
          for (int64_t j = 0; j < GH; j++) g[j] += x[j];
          if (Pd)
            for (int64_t j = 0; j < H; j++) gi[j] += Pd[j] * c[j], gf[j] += Pd[2 * H + j] * c[j];
          FN(act)(&f[0], gi, H, clip);
          if (a->input_forget)
            for (int64_t j = 0; j < H; j++) gf[j] = 1 - gi[j];
          else
            FN(act)(&f[0], gf, H, clip);
          FN(act)(&f[1], gc, H, clip);
          for (int64_t j = 0; j < H; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
          if (Pd)
            for (int64_t j = 0; j < H; j++) go[j] += Pd[H + j] * c[j];
          FN(act)(&f[0], go, H, clip);
          memcpy(h, c, sizeof(R) * (size_t)H);
          FN(act)(&f[2], h, H, 0);
          for (int64_t j = 0; j < H; j++) h[j] *= go[j];
        } else { /* GRU, first pass: z and r */
          for (int64_t j = 0; j < 2 * H; j++) g[j] += x[j];
          FN(act)(&f[0], g, 2 * H, clip);
          if (!a->linear_before_reset)
            for (int64_t j = 0; j < H; j++) tmp[n * H + j] = g[H + j] * h[j];
        }
        if (Y && !gru) memcpy(Y + ((t * a->D + d) * N + n) * H, h, sizeof(R) * (size_t)H);
      }
      if (!gru) continue;
      if (!a->linear_before_reset) FN(gemm)(N, H, H, tmp, H, Rt + 2 * H, GH, 0, hh, H); /* (r (.) H) Rh^T */
      for (int64_t n = 0; n < N; n++) {
        if (s >= lens[n]) continue;
        const int64_t t = rev ? lens[n] - 1 - s : s;
        const R *x = xw + (t * N + n) * GH;
        R *g = hr + n * GH, *h = hs + n * H, *gh = g + 2 * H, *z = g, *r = g + H;
        if (a->linear_before_reset)
          for (int64_t j = 0; j < H; j++) gh[j] = x[2 * H + j] + r[j] * (gh[j] + (Bd ? Bd[GH + 2 * H + j] : 0));
        else
          for (int64_t j = 0; j < H; j++) gh[j] = x[2 * H + j] + hh[n * H + j];
        FN(act)(&f[1], gh, H, clip);
        for (int64_t j = 0; j < H; j++) h[j] = (1 - z[j]) * gh[j] + z[j] * h[j];
        if (Y) memcpy(Y + ((t * a->D + d) * N + n) * H, h, sizeof(R) * (size_t)H);
      }
    }
    if (Yh) memcpy(Yh + d * N * H, hs, sizeof(R) * (size_t)(N * H));
    if (Yc) memcpy(Yc + d * N * H, cs, sizeof(R) * (size_t)(N * H));
  }
  free(xw), free(hr), free(hs), free(cs), free(tmp), free(hh), free(Rt);
  return CQUANT_STATUS_OK;
}

#undef FN
#undef RNN_CAT
#undef RNN_CAT_
