/* Einsum: any equation of letter subscripts with an explicit ("->") or implicit output (the letters
 * seen once, in ASCII order, after the broadcast ellipsis dimensions), repeated subscripts in one
 * operand (diagonals), "..." broadcast as numpy does (and size-1 dimensions of a lettered axis).
 * Every label gets one size; an operand's stride for a label is the sum of the strides of its axes
 * with that label, which makes diagonals fall out of the plain loop nest. Two float32 operands whose
 * labels are batch, row, column or contracted ones (no diagonal, nothing summed inside one operand)
 * go through a packed sgemm per batch. Floats accumulate in double, integers in int64 (wrapping). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/conv_par.h"
#include "exec/ops/reduce_internal.h"

#define NL (52 + CQUANT_MAX_DIMS) /* letters a-z A-Z, then the ellipsis dimensions */
#define MAX_OPS 16

typedef struct {
  int n_in, n_lab[MAX_OPS], lab[MAX_OPS][CQUANT_MAX_DIMS]; /* each operand's axis labels */
  int n_out, out[NL];                                      /* the output's labels */
  int64_t size[NL];
  int used[NL];
} eq_t;

static int letter_id(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + c - 'A' : -1; }

/* The labels of one term (letters and at most one "..."): ids, or -1 marking the ellipsis. */
static int parse_term(const Onnx__NodeProto *node, const char *s, size_t n, int *ids, int *cnt, int *has_ell) {
  *cnt = 0, *has_ell = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (*has_ell || i + 2 >= n + 0 || s[i + 1] != '.' || s[i + 2] != '.')
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "equation: a lone '.' or a second ellipsis in one term");
      *has_ell = 1, i += 2;
      if (*cnt >= NL) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "equation: too many subscripts in one term");
      ids[(*cnt)++] = -1;
      continue;
    }
    const int id = letter_id(s[i]);
    if (id < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "equation: '%c' is not a subscript letter", s[i]);
    if (*cnt >= NL) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "equation: too many subscripts in one term");
    ids[(*cnt)++] = id;
  }
  return CQUANT_STATUS_OK;
}

static int parse_equation(const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, eq_t *e) {
  const Onnx__AttributeProto *a = cquant__attr(node, "equation");
  if (!a || !a->has_s) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "attribute equation is missing");
  char buf[512];
  size_t n = 0;
  for (size_t i = 0; i < a->s.len; i++)
    if (a->s.data[i] != ' ' && a->s.data[i] != '\t') {
      if (n + 1 >= sizeof buf) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "equation longer than %zu characters", sizeof buf - 1);
      buf[n++] = (char)a->s.data[i];
    }
  buf[n] = 0;
  memset(e, 0, sizeof *e);
  e->n_in = n_in;
  const char *arrow = strstr(buf, "->");
  const size_t lhs_len = arrow ? (size_t)(arrow - buf) : n;
  int ell_rank = 0, ell_of[MAX_OPS] = {0}, count[NL] = {0}, st;
  int ids[NL], cnt, has_ell;
  size_t pos = 0;
  for (int t = 0; t < n_in; t++) {
    size_t end = pos;
    while (end < lhs_len && buf[end] != ',') end++;
    if (t < n_in - 1 ? end >= lhs_len : end != lhs_len)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "equation has a different number of terms than the %d inputs", n_in);
    if ((st = parse_term(node, buf + pos, end - pos, ids, &cnt, &has_ell))) return st;
    const int rank = in[t]->ndim, nlet = cnt - has_ell;
    if (has_ell ? nlet > rank : nlet != rank)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "term %d has %d subscripts for an input of rank %d", t, nlet, rank);
    ell_of[t] = has_ell ? rank - nlet : 0;
    ell_rank = ell_of[t] > ell_rank ? ell_of[t] : ell_rank;
    e->n_lab[t] = 0;
    for (int i = 0; i < cnt; i++) /* ellipsis dims placed later, once ell_rank is known */
      if (ids[i] < 0)
        for (int q = 0; q < ell_of[t]; q++) e->lab[t][e->n_lab[t]++] = -2 - q;
      else
        e->lab[t][e->n_lab[t]++] = ids[i];
    pos = end + 1;
  }
  for (int t = 0; t < n_in; t++) /* ellipsis dims right-aligned over the broadcast ellipsis */
    for (int i = 0; i < e->n_lab[t]; i++)
      if (e->lab[t][i] <= -2) e->lab[t][i] = 52 + (ell_rank - ell_of[t]) + (-2 - e->lab[t][i]);
  for (int l = 0; l < NL; l++) e->size[l] = -1;
  for (int t = 0; t < n_in; t++)
    for (int i = 0; i < e->n_lab[t]; i++) {
      const int l = e->lab[t][i];
      const int64_t s = in[t]->shape[i];
      count[l]++, e->used[l] = 1;
      if (e->size[l] < 0 || e->size[l] == 1) e->size[l] = s;
      else if (s != 1 && s != e->size[l])
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "a subscript has sizes %lld and %lld", (long long)e->size[l], (long long)s);
    }
  if (arrow) {
    if ((st = parse_term(node, arrow + 2, n - lhs_len - 2, ids, &cnt, &has_ell))) return st;
    int seen[NL] = {0};
    for (int i = 0; i < cnt; i++) {
      if (ids[i] < 0) {
        for (int q = 0; q < ell_rank; q++) e->out[e->n_out++] = 52 + q;
        continue;
      }
      if (!e->used[ids[i]]) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "an output subscript appears in no input");
      if (seen[ids[i]]++) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "an output subscript is repeated");
      e->out[e->n_out++] = ids[i];
    }
  } else {
    for (int q = 0; q < ell_rank; q++) e->out[e->n_out++] = 52 + q;
    for (int c = 'A'; c <= 'z'; c++) {
      const int l = letter_id((char)c);
      if (l >= 0 && count[l] == 1) e->out[e->n_out++] = l;
    }
  }
  if (e->n_out > CQUANT_MAX_DIMS) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "output of rank %d (at most %d)", e->n_out, CQUANT_MAX_DIMS);
  return CQUANT_STATUS_OK;
}

/* The element stride of operand t for each label (0 for labels it lacks or broadcasts). */
static void label_strides(const eq_t *e, const cquant_array_t *x, int t, int64_t *ls) {
  int64_t st[CQUANT_MAX_DIMS], s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) st[d] = s, s *= x->shape[d];
  for (int l = 0; l < NL; l++) ls[l] = 0;
  for (int d = 0; d < x->ndim; d++)
    if (x->shape[d] != 1 || e->size[e->lab[t][d]] == 1) ls[e->lab[t][d]] += st[d];
}

/* Copies the float32 elements at the given label strides into dst in C order of the n labels. */
static void pack(const float *src, float *dst, int n, const int *labs, const int64_t *size, const int64_t *ls) {
  int64_t idx[NL] = {0}, off = 0, total = 1;
  for (int i = 0; i < n; i++) total *= size[labs[i]];
  for (int64_t j = 0; j < total; j++) {
    dst[j] = src[off];
    for (int i = n - 1; i >= 0; i--) {
      const int l = labs[i];
      off += ls[l];
      if (++idx[i] < size[l]) break;
      off -= ls[l] * size[l];
      idx[i] = 0;
    }
  }
}

/* Two float32 operands as batched sgemm; 1 when done, 0 when the equation does not fit, < 0 on error. */
static int einsum_gemm(const Onnx__NodeProto *node, const eq_t *e, const cquant_array_t *const *in, cquant_array_t *y) {
  int in_out[NL] = {0}, cnt[2][NL] = {{0}};
  for (int i = 0; i < e->n_out; i++) in_out[e->out[i]] = 1;
  for (int t = 0; t < 2; t++)
    for (int d = 0; d < e->n_lab[t]; d++) {
      const int l = e->lab[t][d];
      if (++cnt[t][l] > 1 || in[t]->shape[d] != e->size[l]) return 0; /* a diagonal or a broadcast */
    }
  int bl[NL], ml[NL], nl[NL], kl[NL], nb = 0, nm = 0, nn = 0, nk = 0;
  int64_t B = 1, M = 1, N = 1, K = 1;
  for (int l = 0; l < NL; l++) {
    if (!e->used[l]) continue;
    const int a = cnt[0][l], b = cnt[1][l], o = in_out[l];
    if (a && b && o) bl[nb++] = l, B *= e->size[l];
    else if (a && o) ml[nm++] = l, M *= e->size[l];
    else if (b && o) nl[nn++] = l, N *= e->size[l];
    else if (a && b) kl[nk++] = l, K *= e->size[l];
    else return 0; /* summed inside one operand */
  }
  if (!B || !M || !N || !K || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return 0;
  int64_t la[NL], lb[NL], lc[NL] = {0};
  label_strides(e, in[0], 0, la);
  label_strides(e, in[1], 1, lb);
  int ao[2 * NL], bo[2 * NL], na = 0, nbb = 0;
  for (int i = 0; i < nb; i++) ao[na++] = bl[i], bo[nbb++] = bl[i];
  for (int i = 0; i < nm; i++) ao[na++] = ml[i];
  for (int i = 0; i < nk; i++) ao[na++] = kl[i], bo[nbb++] = kl[i];
  for (int i = 0; i < nn; i++) bo[nbb++] = nl[i];
  float *pa = malloc(sizeof(float) * (size_t)(B * M * K)), *pb = malloc(sizeof(float) * (size_t)(B * K * N)),
        *pc = malloc(sizeof(float) * (size_t)(B * M * N));
  if (!pa || !pb || !pc) {
    free(pa), free(pb), free(pc);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  }
  pack(in[0]->data, pa, na, ao, e->size, la);
  pack(in[1]->data, pb, nbb, bo, e->size, lb);
  for (int64_t b = 0; b < B; b++)
    cquant__sgemm(0, 0, M, N, K, 1.0f, pa + b * M * K, K, pb + b * K * N, N, 0.0f, pc + b * M * N, N);
  /* the strides of pc ([B][M][N] in label order) per label, then the output in its own order */
  int64_t s = 1;
  for (int i = nn - 1; i >= 0; i--) lc[nl[i]] = s, s *= e->size[nl[i]];
  for (int i = nm - 1; i >= 0; i--) lc[ml[i]] = s, s *= e->size[ml[i]];
  for (int i = nb - 1; i >= 0; i--) lc[bl[i]] = s, s *= e->size[bl[i]];
  pack(pc, y->data, e->n_out, e->out, e->size, lc);
  free(pa), free(pb), free(pc);
  (void)node;
  return 1;
}

int cquant__op_einsum(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)ctx, (void)n_out;
  int st;
  if (n_in < 1 || n_in > MAX_OPS) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "1 to %d inputs expected", MAX_OPS);
  for (int t = 0; t < n_in; t++) {
    if ((st = cquant__rd_need(node, in[t], "Inputs"))) return st;
    if (in[t]->dtype != in[0]->dtype) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inputs of different element types");
  }
  eq_t *e = malloc(sizeof *e);
  if (!e) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  if ((st = parse_equation(node, in, n_in, e))) goto done;
  int64_t oshape[CQUANT_MAX_DIMS];
  for (int i = 0; i < e->n_out; i++) oshape[i] = e->size[e->out[i]];
  if ((st = cquant_array_alloc(&out[0], in[0]->dtype, e->n_out, oshape))) goto done;
  if (n_in == 2 && in[0]->dtype == CQUANT_DT_F32) {
    const int r = einsum_gemm(node, e, in, &out[0]);
    if (r < 0) st = r;
    if (r) goto done;
  }
  /* the loop nest: output labels, then the contracted ones */
  int cl[NL], nc = 0, in_out[NL] = {0};
  for (int i = 0; i < e->n_out; i++) in_out[e->out[i]] = 1;
  for (int l = 0; l < NL; l++)
    if (e->used[l] && !in_out[l]) cl[nc++] = l;
  int64_t (*ls)[NL] = malloc(sizeof(int64_t) * NL * (size_t)n_in);
  if (!ls) { st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); goto done; }
  for (int t = 0; t < n_in; t++) label_strides(e, in[t], t, ls[t]);
  int64_t nred = 1, oidx[NL] = {0}, cidx[NL] = {0}, base[MAX_OPS] = {0}, off[MAX_OPS];
  for (int i = 0; i < nc; i++) nred *= e->size[cl[i]];
  const int is_f = cquant__is_float(in[0]->dtype);
  for (int64_t o = 0; o < out[0].numel; o++) {
    double fa = 0;
    uint64_t ia = 0;
    memcpy(off, base, sizeof(int64_t) * (size_t)n_in);
    for (int64_t r = 0; r < nred; r++) {
      if (is_f) {
        double p = 1;
        for (int t = 0; t < n_in; t++) p *= in[t]->dtype == CQUANT_DT_F32 ? ((const float *)in[t]->data)[off[t]] : cquant__get_f64(in[t], off[t]);
        fa += p;
      } else {
        uint64_t p = 1;
        for (int t = 0; t < n_in; t++) p *= (uint64_t)cquant__get_i64(in[t], off[t]);
        ia += p;
      }
      for (int i = nc - 1; i >= 0; i--) {
        const int l = cl[i];
        for (int t = 0; t < n_in; t++) off[t] += ls[t][l];
        if (++cidx[i] < e->size[l]) break;
        for (int t = 0; t < n_in; t++) off[t] -= ls[t][l] * e->size[l];
        cidx[i] = 0;
      }
    }
    if (is_f) cquant__set_f64(&out[0], o, fa);
    else cquant__set_i64(&out[0], o, (int64_t)ia);
    for (int i = e->n_out - 1; i >= 0; i--) {
      const int l = e->out[i];
      for (int t = 0; t < n_in; t++) base[t] += ls[t][l];
      if (++oidx[i] < e->size[l]) break;
      for (int t = 0; t < n_in; t++) base[t] -= ls[t][l] * e->size[l];
      oidx[i] = 0;
    }
  }
  free(ls);
done:
  free(e);
  if (st) cquant_array_free(&out[0]);
  return st;
}
