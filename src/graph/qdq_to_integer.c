/* QDQ -> integer operator form (docs/onnx.md, "Integer execution"). A float op between
 * DequantizeLinear inputs and a QuantizeLinear output computes, in float, what the integer op
 * computes on the integers (up to the requantization rounding, docs/quantization.md sec. 7):
 *
 *   DQ(x) DQ(W) [DQ(b)] -> Conv [-> Relu] -> Q   =>  QLinearConv(x_q, W_q, b_q)
 *   DQ(x) DQ(W) [DQ(b)] -> Gemm [-> Relu] -> Q   =>  QGemm (com.microsoft), or with a float output
 *   DQ(a) DQ(b) -> MatMul -> Q                   =>  QLinearMatMul
 *   DQ(a) DQ(b) -> MatMul (a, b activations)     =>  MatMulInteger -> Cast -> Mul(s_a s_b) (float output)
 *   DQ(a) DQ(b) -> Add [-> Relu] -> Q            =>  QLinearAdd (com.microsoft)
 *   DQ(x) -> GlobalAveragePool -> Q              =>  QLinearGlobalAveragePool (com.microsoft)
 *   DQ(x) -> MaxPool|Flatten|Reshape|... -> Q    =>  the op on the integers (same parameters)
 *
 * A ReLU before the Q is exact on the integers when the output zero-point is the type's minimum
 * (the clamp does it) and is kept as an integer Relu when the zero-point is 0 (int8). Everything
 * else stays as written: DequantizeLinear -> float op -> QuantizeLinear runs in float.
 *
 * 4-bit values (opset 21 INT4/UINT4) run in the 8-bit kernels: every int4/uint4 initializer (weights,
 * zero-points) is held as int8/uint8 (the same values), and every QuantizeLinear to 4 bits becomes
 * QuantizeLinear to 8 bits followed by a Clip to [-8, 7] or [0, 15]. Clamps compose, so
 * clip(saturate_8(v)) = saturate_4(v) exactly, also after an integer op's requantization (which
 * writes the Clip's input when the pattern takes the QuantizeLinear in). Blocked weights
 * (DequantizeLinear with block_size over an initializer) are dequantized once here into a float
 * initializer: their op stays float. Float8 QuantizeLinear/DequantizeLinear stay as written. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/ptq.h"
#include "core/internal.h"
#include "exec/exec_internal.h"
#include "graph/graph.h"
#include "graph/passes.h"

typedef struct {
  int node;
  const char *q, *s, *z;
  int per_tensor;
} dq_t;

static int is_op(const Onnx__NodeProto *n, const char *op) { return n && !strcmp(n->op_type, op) && (!n->domain || !*n->domain); }

/* The zero-point types of the integer ops' operands (int32: biases only). Float8 and int16 stay float. */
static int int_zp(const cquant_array_t *z) { return z->dtype == CQUANT_DT_U8 || z->dtype == CQUANT_DT_S8 || z->dtype == CQUANT_DT_S32; }

static int dq_of(const cquant__graph_t *g, const char *name, dq_t *d) {
  int p = cquant__graph_producer(g, name);
  if (p < 0 || !is_op(g->node[p], "DequantizeLinear") || g->node[p]->n_input < 3 || !*g->node[p]->input[2]) return 0;
  const Onnx__NodeProto *n = g->node[p];
  int si = cquant__graph_init_find(g, n->input[1]), zi = cquant__graph_init_find(g, n->input[2]);
  if (si < 0 || zi < 0 || g->init[si].dtype != CQUANT_DT_F32 || !int_zp(&g->init[zi]) || cquant__attr_int(n, "block_size", 0)) return 0;
  *d = (dq_t){p, n->input[0], n->input[1], n->input[2], g->init[si].numel == 1 && g->init[zi].numel == 1};
  return 1;
}

/* An activation or weight operand: 8-bit (4-bit values are held in 8 bits by then). */
static int dq8_of(const cquant__graph_t *g, const char *name, dq_t *d) {
  return dq_of(g, name, d) && g->init[cquant__graph_init_find(g, d->z)].dtype != CQUANT_DT_S32;
}

/* The single QuantizeLinear reading `name` (which is not a graph output), after an optional ReLU. */
static int q_after(const cquant__graph_t *g, const char *name, int allow_relu, int *relu, int *q) {
  int c[2];
  *relu = -1;
  if (cquant__graph_is_output(g, name) || cquant__graph_consumers(g, name, c, 2) != 1) return 0;
  if (allow_relu && (is_op(g->node[c[0]], "Relu") || is_op(g->node[c[0]], "Clip"))) {
    *relu = c[0];
    name = g->node[c[0]]->output[0];
    if (cquant__graph_is_output(g, name) || cquant__graph_consumers(g, name, c, 2) != 1) return 0;
  }
  if (!is_op(g->node[c[0]], "QuantizeLinear") || g->node[c[0]]->n_input < 3) return 0;
  const Onnx__NodeProto *n = g->node[c[0]];
  int si = cquant__graph_init_find(g, n->input[1]), zi = cquant__graph_init_find(g, n->input[2]);
  if (si < 0 || zi < 0 || g->init[si].numel != 1 || g->init[zi].numel != 1 || g->init[zi].dtype == CQUANT_DT_S32 || !int_zp(&g->init[zi]))
    return 0;
  *q = c[0];
  return 1;
}

static int32_t zp_value(const cquant__graph_t *g, const char *z, int *is_signed) {
  const cquant_array_t *a = &g->init[cquant__graph_init_find(g, z)];
  *is_signed = a->dtype == CQUANT_DT_S8;
  return a->dtype == CQUANT_DT_S8 ? *(const int8_t *)a->data : a->dtype == CQUANT_DT_U8 ? *(const uint8_t *)a->data : *(const int32_t *)a->data;
}

/* The integer range of Q node q's output: its 8-bit type's, narrowed by an integer Clip that is
 * the output's only reader (a 4-bit QuantizeLinear held in 8 bits). */
static void q_range(const cquant__graph_t *g, int q, int32_t *lo, int32_t *hi) {
  int sg, c[2];
  zp_value(g, g->node[q]->input[2], &sg);
  *lo = sg ? -128 : 0, *hi = sg ? 127 : 255;
  if (cquant__graph_consumers(g, g->node[q]->output[0], c, 2) != 1 || !is_op(g->node[c[0]], "Clip")) return;
  const Onnx__NodeProto *r = g->node[c[0]];
  for (size_t k = 1; k < r->n_input && k < 3; k++) {
    const int i = *r->input[k] ? cquant__graph_init_find(g, r->input[k]) : -1;
    if (i < 0 || g->init[i].numel != 1 || (g->init[i].dtype != CQUANT_DT_S8 && g->init[i].dtype != CQUANT_DT_U8)) continue;
    const int32_t v = g->init[i].dtype == CQUANT_DT_S8 ? *(const int8_t *)g->init[i].data : *(const uint8_t *)g->init[i].data;
    if (k == 1 && v > *lo) *lo = v;
    if (k == 2 && v < *hi) *hi = v;
  }
}

/* How a ReLU before the output Q is carried out: 0 not at all (no ReLU, or the clamp does it),
 * 1 as an integer Relu, -1 not possible. */
static int relu_mode(const cquant__graph_t *g, int relu, int q) {
  if (relu < 0) return 0;
  int sg;
  int32_t z = zp_value(g, g->node[q]->input[2], &sg), qlo, qhi;
  q_range(g, q, &qlo, &qhi);
  const Onnx__NodeProto *r = g->node[relu];
  if (is_op(r, "Clip")) { /* a no-op after the output's saturation: [min, max] covers the output's range */
    const float s = *(const float *)g->init[cquant__graph_init_find(g, g->node[q]->input[1])].data;
    const double rlo = (qlo - z) * (double)s, rhi = (qhi - z) * (double)s;
    double cmin = -INFINITY, cmax = INFINITY;
    for (size_t k = 1; k < r->n_input && k < 3; k++) {
      if (!*r->input[k]) continue;
      const int i = cquant__graph_init_find(g, r->input[k]);
      if (i < 0 || g->init[i].dtype != CQUANT_DT_F32 || g->init[i].numel != 1) return -1;
      *(k == 1 ? &cmin : &cmax) = *(const float *)g->init[i].data;
    }
    const Onnx__AttributeProto *a;
    if ((a = cquant__attr(r, "min")) && a->has_f) cmin = a->f;
    if ((a = cquant__attr(r, "max")) && a->has_f) cmax = a->f;
    /* within half a step the rounding lands on the same code as the saturation */
    return cmin < rlo + 0.5 * (double)s && cmax > rhi - 0.5 * (double)s ? 0 : -1;
  }
  if (z == qlo) return 0;
  return z == 0 ? 1 : -1;
}

static int same_qparams(const cquant__graph_t *g, const char *s1, const char *z1, const char *s2, const char *z2) {
  if (!strcmp(s1, s2) && !strcmp(z1, z2)) return 1;
  const cquant_array_t *a = &g->init[cquant__graph_init_find(g, s1)], *b = &g->init[cquant__graph_init_find(g, s2)];
  const cquant_array_t *c = &g->init[cquant__graph_init_find(g, z1)], *d = &g->init[cquant__graph_init_find(g, z2)];
  return a->numel == 1 && b->numel == 1 && *(const float *)a->data == *(const float *)b->data && c->dtype == d->dtype &&
         c->nbytes == d->nbytes && !memcmp(c->data, d->data, c->nbytes);
}

/* Emits op(inputs) -> the Q's output, with an integer Relu after it when mode is 1. */
static Onnx__NodeProto *emit(cquant__graph_t *g, const char *op, const char *domain, const Onnx__NodeProto *orig, int n_in, const char *const *in,
                             const char *out, int relu) {
  const char *tmp = relu ? cquant__graph_str(g, "%s_prerelu", out) : out;
  Onnx__NodeProto *n = cquant__graph_add_node(g, op, domain, cquant__graph_str(g, "%s_quant", orig->name && *orig->name ? orig->name : out), n_in, in, 1, &tmp);
  if (!n) return NULL;
  if (relu && !cquant__graph_add_node(g, "Relu", "", cquant__graph_str(g, "%s_relu", out), 1, &tmp, 1, &out)) return NULL;
  if (relu && g->opset < 14) g->opset = 14; /* Relu on int8 is opset 14 */
  return n;
}

#define CLIP4 "_4bit_clip" /* the name ending of the Clip nodes made here */

static const char *bound4(cquant__graph_t *g, const char *name, int sg, int v) {
  const int i = cquant__graph_init_find(g, name);
  return i >= 0 ? g->init_name[i] : cquant__graph_scalar(g, name, sg ? CQUANT_DT_S8 : CQUANT_DT_U8, v);
}

/* 4-bit values in 8-bit containers (see the top of the file): int4/uint4 initializers become
 * int8/uint8, and QuantizeLinear to a 4-bit type a QuantizeLinear to its 8-bit container with a
 * Clip to the 4-bit range after it. */
static int widen_4bit(cquant__graph_t *g) {
  for (int i = 0; i < g->n_init; i++) /* a subgraph's QuantizeLinear would not get its Clip: all stays float */
    if ((g->init[i].dtype == CQUANT_DT_S4 || g->init[i].dtype == CQUANT_DT_U4) && cquant__graph_read_by_subgraph(g, g->init_name[i])) return 0;
  const int n0 = g->n_node;
  for (int i = 0; i < n0; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n || !is_op(n, "QuantizeLinear") || n->n_output != 1) continue;
    const int zi = n->n_input > 2 && *n->input[2] ? cquant__graph_init_find(g, n->input[2]) : -1;
    int dt = zi >= 0 ? (int)g->init[zi].dtype : n->n_input > 2 && *n->input[2] ? -1 : cquant__dtype_from_onnx((int32_t)cquant__attr_int(n, "output_dtype", 2));
    if (dt != CQUANT_DT_S4 && dt != CQUANT_DT_U4) continue;
    const int sg = dt == CQUANT_DT_S4;
    const char *out = n->output[0], *tmp = cquant__graph_str(g, "%s_8bit", out);
    const char *z = zi >= 0 ? n->input[2] : cquant__graph_scalar(g, cquant__graph_str(g, "%s_zero_point_8bit", out), sg ? CQUANT_DT_S8 : CQUANT_DT_U8, 0);
    const char *lo = bound4(g, sg ? "cquant_int4_min" : "cquant_uint4_min", sg, sg ? -8 : 0);
    const char *hi = bound4(g, sg ? "cquant_int4_max" : "cquant_uint4_max", sg, sg ? 7 : 15);
    if (!tmp || !z || !lo || !hi) return -1;
    const char *qin[3] = {n->input[0], n->input[1], z}, *cin[3] = {tmp, lo, hi};
    const char *name = n->name && *n->name ? n->name : out;
    Onnx__NodeProto *q = cquant__graph_add_node(g, "QuantizeLinear", "", cquant__graph_str(g, "%s_8bit", name), 3, qin, 1, &tmp);
    if (!q || !cquant__graph_add_node(g, "Clip", "", cquant__graph_str(g, "%s" CLIP4, name), 3, cin, 1, &out)) return -1;
    for (size_t k = 0; k < n->n_attribute; k++)
      if (strcmp(n->attribute[k]->name, "output_dtype")) cquant__node_copy_attr(g, q, n->attribute[k]);
    cquant__graph_remove(g, i);
  }
  for (int i = 0; i < g->n_init; i++) /* the same bytes: one value per byte either way */
    if (g->init[i].dtype == CQUANT_DT_S4 || g->init[i].dtype == CQUANT_DT_U4) g->init[i].dtype = g->init[i].dtype == CQUANT_DT_S4 ? CQUANT_DT_S8 : CQUANT_DT_U8;
  if (g->opset < 12) g->opset = 12; /* Clip on integers */
  return 0;
}

/* Blocked DequantizeLinear (block_size) of initializers, computed once into a float initializer. */
static int fold_blocked(cquant__graph_t *g) {
  for (int i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n || !is_op(n, "DequantizeLinear") || cquant__attr_int(n, "block_size", 0) <= 0 || n->n_input > 3 || cquant__graph_is_output(g, n->output[0]))
      continue;
    const cquant_array_t *in[3] = {0};
    int all = 1;
    for (size_t k = 0; k < n->n_input && all; k++) {
      const int j = *n->input[k] ? cquant__graph_init_find(g, n->input[k]) : -2;
      if (j >= 0) in[k] = &g->init[j];
      else all = j == -2 && k == 2;
    }
    if (!all) continue;
    cquant__opctx_t ctx = {.m = NULL, .node = -1, .opset = (int)g->opset};
    cquant_array_t out;
    memset(&out, 0, sizeof out);
    if (cquant__op_dequantize_linear(&ctx, n, in, in[2] ? 3 : 2, &out, 1)) continue; /* the executor reports it */
    if (cquant__graph_init_add(g, n->output[0], &out)) {
      cquant_array_free(&out);
      return -1;
    }
    cquant__graph_remove(g, i);
  }
  return 0;
}

int cquant__integerize_graph(const cquant_onnx_model_t *m, cquant__graph_t *g, int *n_int) {
  int st = cquant__graph_from_model(m, g);
  if (st) return st;
  if (widen_4bit(g) || fold_blocked(g)) goto oom;
  int made = 0;
  const int n0 = g->n_node;
  for (int i = 0; i < n0; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n || (n->domain && *n->domain)) continue;
    const char *op = n->op_type;
    dq_t x, w, b, y;
    int relu, q, mode;
    Onnx__NodeProto *e = NULL;
    if ((is_op(n, "Conv") || is_op(n, "Gemm")) && n->n_input >= 2 && dq8_of(g, n->input[0], &x) && x.per_tensor && dq8_of(g, n->input[1], &w) &&
        cquant__graph_init_find(g, w.q) >= 0) {
      const int has_b = n->n_input > 2 && *n->input[2];
      const int fb = has_b ? cquant__graph_init_find(g, n->input[2]) : -1;
      if (fb >= 0) { /* a float bias (TensorRT's QDQ form): quantized here to int32 at s_x s_w (eq. 28) */
        const cquant_array_t *bf = &g->init[fb], *ws = &g->init[cquant__graph_init_find(g, w.s)];
        if (bf->dtype != CQUANT_DT_F32 || bf->ndim != 1 || (ws->numel != 1 && ws->numel != bf->numel)) continue;
        const float sx = *(const float *)g->init[cquant__graph_init_find(g, x.s)].data;
        cquant_array_t bq;
        if (cquant_array_alloc(&bq, CQUANT_DT_S32, 1, bf->shape)) goto oom;
        cquant__bias_quantize(bf->data, bf->numel, sx, ws->data, ws->numel, bq.data, NULL);
        const char *bn = cquant__graph_str(g, "%s_int32_%s", n->input[2], n->output[0]);
        if (!bn || cquant__graph_init_add(g, bn, &bq)) { cquant_array_free(&bq); goto oom; }
        b = (dq_t){-1, bn, NULL, NULL, 0};
      } else if (has_b && (!dq_of(g, n->input[2], &b) || cquant__graph_init_find(g, b.q) < 0 ||
                           g->init[cquant__graph_init_find(g, b.q)].dtype != CQUANT_DT_S32))
        continue;
      if (has_b && fb < 0) { /* the int32 bias must be at scale s_x s_w (eq. 28), which the integer ops assume */
        const cquant_array_t *bs = &g->init[cquant__graph_init_find(g, b.s)], *ws = &g->init[cquant__graph_init_find(g, w.s)];
        const float sx = *(const float *)g->init[cquant__graph_init_find(g, x.s)].data;
        int ok = bs->numel == ws->numel || ws->numel == 1;
        for (int64_t c = 0; c < bs->numel && ok; c++) {
          const float want = sx * ((const float *)ws->data)[ws->numel == 1 ? 0 : c], got = ((const float *)bs->data)[c];
          ok = got >= want * (1 - 1e-6f) && got <= want * (1 + 1e-6f);
        }
        if (!ok) continue;
      }
      const int conv = is_op(n, "Conv");
      if (!conv && (cquant__attr_int(n, "transA", 0) || (cquant__attr(n, "alpha") && cquant__attr(n, "alpha")->f != 1.0f) ||
                    (cquant__attr(n, "beta") && cquant__attr(n, "beta")->f != 1.0f)))
        continue;
      const int quant_out = q_after(g, n->output[0], 1, &relu, &q);
      if (quant_out && (mode = relu_mode(g, relu, q)) >= 0) {
        const char *in[9] = {x.q, x.s, x.z, w.q, w.s, w.z, g->node[q]->input[1], g->node[q]->input[2], has_b ? b.q : ""};
        if (conv) e = emit(g, "QLinearConv", "", n, has_b ? 9 : 8, in, g->node[q]->output[0], mode);
        else {
          const char *gin[9] = {x.q, x.s, x.z, w.q, w.s, w.z, has_b ? b.q : "", g->node[q]->input[1], g->node[q]->input[2]};
          e = emit(g, "QGemm", "com.microsoft", n, 9, gin, g->node[q]->output[0], mode);
        }
        if (!e) goto oom;
        if (relu >= 0) cquant__graph_remove(g, relu);
        cquant__graph_remove(g, q);
      } else if (!conv) { /* a float output: QGemm without y_scale */
        const char *gin[7] = {x.q, x.s, x.z, w.q, w.s, w.z, has_b ? b.q : ""};
        if (!(e = emit(g, "QGemm", "com.microsoft", n, has_b ? 7 : 6, gin, n->output[0], 0))) goto oom;
      } else continue;
      for (size_t k = 0; k < n->n_attribute; k++)
        if (strcmp(n->attribute[k]->name, "alpha") && strcmp(n->attribute[k]->name, "beta")) cquant__node_copy_attr(g, e, n->attribute[k]);
      cquant__graph_remove(g, i);
      made++;
    } else if (is_op(n, "MatMul") && dq8_of(g, n->input[0], &x) && x.per_tensor && dq8_of(g, n->input[1], &w) && w.per_tensor &&
               q_after(g, n->output[0], 0, &relu, &q)) {
      const char *in[8] = {x.q, x.s, x.z, w.q, w.s, w.z, g->node[q]->input[1], g->node[q]->input[2]};
      if (!emit(g, "QLinearMatMul", "", n, 8, in, g->node[q]->output[0], 0)) goto oom;
      cquant__graph_remove(g, q);
      cquant__graph_remove(g, i);
      made++;
    } else if (is_op(n, "MatMul") && dq8_of(g, n->input[0], &x) && x.per_tensor && dq8_of(g, n->input[1], &w) && w.per_tensor &&
               cquant__graph_init_find(g, w.q) < 0) {
      /* two activations and a float output (a graph output, or its Q/DQ left off): the int32
       * product scaled to float, ONNX Runtime's MatMulIntegerToFloat */
      const float sa = *(const float *)g->init[cquant__graph_init_find(g, x.s)].data, sb = *(const float *)g->init[cquant__graph_init_find(g, w.s)].data;
      const char *acc = cquant__graph_str(g, "%s_int32", n->output[0]), *accf = cquant__graph_str(g, "%s_int32_float", n->output[0]);
      const char *sab = acc ? cquant__graph_scalar(g, cquant__graph_str(g, "%s_scale_ab", n->output[0]), CQUANT_DT_F32, sa * sb) : NULL;
      const char *in[4] = {x.q, w.q, x.z, w.z}, *mi[2] = {accf, sab}, *out = n->output[0];
      if (!acc || !accf || !sab) goto oom;
      Onnx__NodeProto *c;
      if (!(e = emit(g, "MatMulInteger", "", n, 4, in, acc, 0)) ||
          !(c = cquant__graph_add_node(g, "Cast", "", cquant__graph_str(g, "%s_cast", acc), 1, &acc, 1, &accf)) || cquant__node_set_int(g, c, "to", 1) ||
          !cquant__graph_add_node(g, "Mul", "", cquant__graph_str(g, "%s_scale", acc), 2, mi, 1, &out))
        goto oom;
      cquant__graph_remove(g, i);
      made++;
    } else if (is_op(n, "Add") && n->n_input == 2 && dq8_of(g, n->input[0], &x) && x.per_tensor && dq8_of(g, n->input[1], &y) && y.per_tensor &&
               q_after(g, n->output[0], 1, &relu, &q) && (mode = relu_mode(g, relu, q)) >= 0) {
      const char *in[8] = {x.q, x.s, x.z, y.q, y.s, y.z, g->node[q]->input[1], g->node[q]->input[2]};
      if (!emit(g, "QLinearAdd", "com.microsoft", n, 8, in, g->node[q]->output[0], mode)) goto oom;
      if (relu >= 0) cquant__graph_remove(g, relu);
      cquant__graph_remove(g, q);
      cquant__graph_remove(g, i);
      made++;
    } else if (is_op(n, "GlobalAveragePool") && dq8_of(g, n->input[0], &x) && x.per_tensor && q_after(g, n->output[0], 0, &relu, &q)) {
      const char *in[5] = {x.q, x.s, x.z, g->node[q]->input[1], g->node[q]->input[2]};
      if (!(e = emit(g, "QLinearGlobalAveragePool", "com.microsoft", n, 5, in, g->node[q]->output[0], 0)) || cquant__node_set_int(g, e, "channels_last", 0))
        goto oom;
      cquant__graph_remove(g, q);
      cquant__graph_remove(g, i);
      made++;
    } else if (cquant__op_passes_through(n) && dq8_of(g, n->input[0], &x) && x.per_tensor && q_after(g, n->output[0], 0, &relu, &q) &&
               same_qparams(g, x.s, x.z, g->node[q]->input[1], g->node[q]->input[2])) {
      const char *in[4] = {x.q, n->n_input > 1 ? n->input[1] : "", n->n_input > 2 ? n->input[2] : "", ""};
      if (!(e = emit(g, op, "", n, (int)n->n_input, in, g->node[q]->output[0], 0))) goto oom;
      for (size_t k = 0; k < n->n_attribute; k++) cquant__node_copy_attr(g, e, n->attribute[k]);
      cquant__graph_remove(g, q);
      cquant__graph_remove(g, i);
      made++;
    }
  }
  /* Quantize/DequantizeLinear nodes whose results nobody reads any more */
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < g->n_node; i++) {
      const Onnx__NodeProto *n = g->node[i];
      int c;
      const size_t L = n && n->name ? strlen(n->name) : 0, C = strlen(CLIP4);
      const int clip4 = n && is_op(n, "Clip") && L > C && !strcmp(n->name + L - C, CLIP4);
      if (!n || !(is_op(n, "DequantizeLinear") || is_op(n, "QuantizeLinear") || clip4)) continue;
      if (cquant__graph_is_output(g, n->output[0]) || cquant__graph_consumers(g, n->output[0], &c, 1)) continue;
      cquant__graph_remove(g, i);
      changed = 1;
    }
  }
  if (n_int) *n_int = made;
  return 0;
oom:
  cquant__graph_free(g);
  return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
}

int cquant_onnx_integerize(const cquant_onnx_model_t *m, cquant_onnx_model_t **out, int *n_int) {
  if (!m || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "integerize: NULL argument");
  cquant__graph_t g;
  int made = 0;
  int st = cquant__integerize_graph(m, &g, &made);
  if (st) return st;
  if (n_int) *n_int = made;
  /* channels-last execution between integer convolutions (CQUANT_NCHW=1 keeps NCHW, for comparison) */
  if (!cquant__env()->nchw && made) st = cquant__pass_channels_last(&g);
  if (!st) st = cquant__graph_load(&g, out);
  cquant__graph_free(&g);
  return st;
}
