/* The epilogue a float32 Conv applies to its output blocks, and the executor's matcher that
 * finds which nodes after a Conv fold into it (conv_fuse.h). */
#include <math.h>
#include <string.h>
#include "core/internal.h"
#include "exec/ops/conv_fuse.h"
#include "exec/ops/conv_internal.h"
#include "exec/ops/math_internal.h"

/* ---- applying it ------------------------------------------------------------------------------ */

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void cquant__conv_epi_apply(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n) { cquant__kernels()->conv_epi_f32(e, y, add, n); }

/* The reference: every element in turn, the operators' own float operations. */
void cquant__conv_epi_ref(const cquant__conv_epi_t *e, float *y, const float *add, int64_t n) {
  if (add)
    for (int64_t i = 0; i < n; i++) y[i] = y[i] + add[i];
  const float a = e->a, b = e->b;
  switch (e->act) {
    case CQUANT__EPI_RELU:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0.0f;
      break;
    case CQUANT__EPI_CLIP:
      for (int64_t i = 0; i < n; i++) {
        const float v = y[i] < a ? a : y[i];
        y[i] = v > b ? b : v;
      }
      break;
    case CQUANT__EPI_LEAKY: cquant__math_leakyrelu_f32(y, y, n, a); break;
    case CQUANT__EPI_HSIG:
      for (int64_t i = 0; i < n; i++) y[i] = clampf(a * y[i] + b, 0.0f, 1.0f);
      break;
    case CQUANT__EPI_HSWISH:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] * clampf(y[i] + 3.0f, 0.0f, 6.0f) / 6.0f;
      break;
    case CQUANT__EPI_HSIG_MUL:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] * clampf(a * y[i] + b, 0.0f, 1.0f);
      break;
    case CQUANT__EPI_SIGMOID: cquant__math_sigmoid_f32(y, y, n); break;
    case CQUANT__EPI_SILU: {
      float s[256];
      for (int64_t i0 = 0; i0 < n; i0 += 256) {
        const int64_t len = n - i0 < 256 ? n - i0 : 256;
        cquant__math_sigmoid_f32(y + i0, s, len);
        for (int64_t i = 0; i < len; i++) y[i0 + i] = y[i0 + i] * s[i];
      }
      break;
    }
    default: break;
  }
}

typedef struct {
  const cquant__conv_epi_t *e;
  float *y;
  int64_t n, chunk;
} epi_job_t;

static void epi_unit(void *vj, int64_t u, int worker) {
  (void)worker;
  const epi_job_t *j = vj;
  const int64_t i0 = u * j->chunk, len = j->n - i0 < j->chunk ? j->n - i0 : j->chunk;
  cquant__conv_epi_apply(j->e, j->y + i0, j->e->add ? j->e->add + i0 : NULL, len);
}

void cquant__conv_epi_tensor(const cquant__conv_epi_t *e, float *y, int64_t n) {
  if (!e || (!e->add && e->act == CQUANT__EPI_NONE) || n <= 0) return;
  const int threads = cquant__conv_threads((double)n * 4.0);
  epi_job_t j = {e, y, n, (int64_t)1 << 14};
  cquant__par_run(threads, (n + j.chunk - 1) / j.chunk, epi_unit, &j);
}

/* ---- finding it ------------------------------------------------------------------------------- */

static int default_domain(const Onnx__NodeProto *n) { return !n->domain || !*n->domain || !strcmp(n->domain, "ai.onnx"); }
static int same(const char *a, const char *b) { return a && b && *a && !strcmp(a, b); }

/* Node j reads value v exactly at the inputs in mask (bit k: input k) and nowhere else. */
static int reads_at(const Onnx__NodeProto *n, const char *v, uint32_t mask) {
  uint32_t got = 0;
  for (size_t k = 0; k < n->n_input; k++)
    if (same(n->input[k], v)) {
      if (k >= 32) return 0;
      got |= 1u << k;
    }
  return got == mask;
}

/* Node j is a single-output node of the default domain whose output has a name. */
static int plain(const Onnx__NodeProto *n) { return default_domain(n) && n->n_output == 1 && n->output[0] && *n->output[0]; }

/* The first node after node j that reads anything, looking past nodes without inputs (the
 * Constant nodes exporters put between a Conv and its Clip); g->n_node when none. */
static size_t next_reader(const Onnx__GraphProto *g, size_t j) {
  for (size_t k = j + 1, skipped = 0; k < g->n_node && skipped <= 4; k++, skipped++)
    if (g->node[k]->n_input) return k;
  return g->n_node;
}

/* A float32 scalar: a value in scope, or the output of one of the input-less nodes between the
 * Conv i and node j (not run yet: a Constant's value attribute). 0 when it is neither. */
static int scalar_value(const Onnx__GraphProto *g, size_t i, size_t j, const char *name, cquant__fuse_get_fn get, void *scope, float *v) {
  const cquant_array_t *b = get(scope, name);
  if (b) {
    if (b->dtype != CQUANT_DT_F32 || b->numel != 1) return 0;
    *v = *(const float *)b->data;
    return 1;
  }
  for (size_t k = i + 1; k < j; k++) {
    const Onnx__NodeProto *c = g->node[k];
    if (strcmp(c->op_type, "Constant") || !default_domain(c) || c->n_output != 1 || !same(c->output[0], name) || c->n_attribute != 1) continue;
    const Onnx__AttributeProto *a = c->attribute[0];
    if (a->name && !strcmp(a->name, "value_float") && a->has_f) {
      *v = a->f;
      return 1;
    }
    cquant_array_t t;
    if (!a->name || strcmp(a->name, "value") || !a->t || cquant__tensor_from_proto(a->t, &t)) return 0;
    const int ok = t.dtype == CQUANT_DT_F32 && t.numel == 1;
    if (ok) *v = *(const float *)t.data;
    cquant_array_free(&t);
    return ok;
  }
  return 0;
}

/* A bound of Clip (opset >= 11), input k: absent (keep *v), or a float32 scalar. */
static int clip_bound(const Onnx__GraphProto *g, size_t i, size_t j, size_t k, cquant__fuse_get_fn get, void *scope, float *v) {
  const Onnx__NodeProto *n = g->node[j];
  if (k >= n->n_input || !n->input[k] || !*n->input[k]) return 1;
  return scalar_value(g, i, j, n->input[k], get, scope, v);
}

int cquant__conv_fuse_plan(const Onnx__GraphProto *g, size_t i, const uint32_t *last_use, int opset, const cquant_array_t *const *in,
                           int n_in, cquant__fuse_get_fn get, void *scope, cquant__conv_epi_t *e, size_t *at) {
  const Onnx__NodeProto *cv = g->node[i];
  if (!plain(cv) || strcmp(cv->op_type, "Conv") || n_in < 2 || !in[0] || !in[1]) return 0;
  const cquant_array_t *x = in[0], *w = in[1];
  if (x->dtype != CQUANT_DT_F32 || w->dtype != CQUANT_DT_F32 || x->ndim != 4 || w->ndim != 4 || x->numel == 0 || w->numel == 0) return 0;
  if (n_in > 2 && in[2] && in[2]->dtype != CQUANT_DT_F32) return 0;
  cquant__conv2d_t p;
  if (cquant__conv_params(cv, x, w, &p)) return 0; /* not a valid Conv: the operator will say why */
  cquant__conv_epi_t r = {NULL, CQUANT__EPI_NONE, 0, 0};
  const char *cur = cv->output[0];
  size_t j = next_reader(g, i);
  int folded = 0;
  /* a residual Add of Y's shape */
  if (j < g->n_node && plain(g->node[j]) && !strcmp(g->node[j]->op_type, "Add") && g->node[j]->n_input == 2) {
    const Onnx__NodeProto *ad = g->node[j];
    const int k = same(ad->input[0], cur) ? 0 : 1;
    const cquant_array_t *o = reads_at(ad, cur, 1u << k) && (last_use[j] >> k & 1) ? get(scope, ad->input[1 - k]) : NULL;
    const int64_t shape[4] = {p.n, p.m, p.oh, p.ow};
    if (o && o->dtype == CQUANT_DT_F32 && o->ndim == 4 && !memcmp(o->shape, shape, sizeof shape)) {
      r.add = o->data;
      cur = ad->output[0];
      at[folded++] = j;
      j = next_reader(g, j);
    }
  }
  /* one activation */
  if (j < g->n_node && plain(g->node[j]) && g->node[j]->n_input >= 1 && same(g->node[j]->input[0], cur)) {
    const Onnx__NodeProto *an = g->node[j];
    const char *op = an->op_type;
    const int last = reads_at(an, cur, 1u) && (last_use[j] & 1); /* cur dies here */
    int act = CQUANT__EPI_NONE;
    size_t mul = 0; /* the Mul of a HardSigmoid or Sigmoid pair */
    float a = 0, b = 0;
    if (!strcmp(op, "Relu") && an->n_input == 1) act = CQUANT__EPI_RELU;
    else if (!strcmp(op, "LeakyRelu") && an->n_input == 1) act = CQUANT__EPI_LEAKY, a = cquant__attr_float(an, "alpha", 0.01f);
    else if (!strcmp(op, "HardSwish") && an->n_input == 1) act = CQUANT__EPI_HSWISH;
    else if (!strcmp(op, "Clip")) {
      a = -INFINITY, b = INFINITY;
      if (opset < 11) {
        if (an->n_input == 1) act = CQUANT__EPI_CLIP, a = cquant__attr_float(an, "min", -INFINITY), b = cquant__attr_float(an, "max", INFINITY);
      } else if (an->n_input <= 3 && clip_bound(g, i, j, 1, get, scope, &a) && clip_bound(g, i, j, 2, get, scope, &b))
        act = CQUANT__EPI_CLIP;
    } else if ((!strcmp(op, "HardSigmoid") || !strcmp(op, "Sigmoid")) && an->n_input == 1) {
      const int hs = op[0] == 'H';
      if (hs) a = cquant__attr_float(an, "alpha", 0.2f), b = cquant__attr_float(an, "beta", 0.5f);
      /* Mul(cur, f(cur)) or Mul(f(cur), cur) next, the last reader of both */
      const size_t jm = next_reader(g, j);
      const Onnx__NodeProto *mu = jm < g->n_node ? g->node[jm] : NULL;
      if (mu && plain(mu) && !strcmp(mu->op_type, "Mul") && mu->n_input == 2 && reads_at(an, cur, 1u)) {
        const int k = same(mu->input[0], cur) ? 0 : 1;
        if (reads_at(mu, cur, 1u << k) && reads_at(mu, an->output[0], 1u << (1 - k)) && (last_use[jm] & 3) == 3)
          act = hs ? CQUANT__EPI_HSIG_MUL : CQUANT__EPI_SILU, mul = jm;
      }
      if (!mul) act = hs ? CQUANT__EPI_HSIG : CQUANT__EPI_SIGMOID;
    }
    if (act != CQUANT__EPI_NONE && (mul || last)) {
      r.act = act, r.a = a, r.b = b;
      at[folded++] = j;
      if (mul) at[folded++] = mul;
    }
  }
  if (folded) *e = r;
  return folded;
}
