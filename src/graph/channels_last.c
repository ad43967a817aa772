/* Channels-last execution, for cquant's own runtime (not for exported files): between the first
 * integer convolution and the first op that needs NCHW, activations stay N x H x W x C, where a convolution is one GEMM over
 * pixels with no transposes and depthwise/max pooling run over contiguous channels. Transposes are
 * inserted where the layout changes; the function of the graph is unchanged. */
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "exec/exec_internal.h"
#include "graph/graph.h"
#include "graph/passes.h"

typedef struct {
  const char **names;
  int n, cap;
} nameset_t;

static int ns_has(const nameset_t *s, const char *t) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->names[i], t)) return 1;
  return 0;
}

static int ns_add(cquant__graph_t *g, nameset_t *s, const char *t) {
  if (s->n == s->cap) {
    int nc = s->cap ? 2 * s->cap : 64;
    const char **nn = cquant__graph_alloc(g, sizeof(char *) * (size_t)nc);
    if (!nn) return -1;
    if (s->n) memcpy(nn, s->names, sizeof(char *) * (size_t)s->n);
    s->names = nn;
    s->cap = nc;
  }
  s->names[s->n++] = t;
  return 0;
}

static const char *add_transpose(cquant__graph_t *g, const char *from, const char *to, int to_nhwc) {
  Onnx__NodeProto *t = cquant__graph_add_node(g, "Transpose", "", cquant__graph_str(g, "%s_transpose", to), 1, &from, 1, &to);
  if (!t) return NULL;
  Onnx__AttributeProto *a = cquant__graph_alloc(g, sizeof *a);
  int64_t *perm = cquant__graph_alloc(g, sizeof(int64_t) * 4);
  if (!a || !perm) return NULL;
  onnx__attribute_proto__init(a);
  a->name = "perm";
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  const int64_t p1[4] = {0, 2, 3, 1}, p2[4] = {0, 3, 1, 2};
  memcpy(perm, to_nhwc ? p1 : p2, sizeof p1);
  a->n_ints = 4;
  a->ints = perm;
  t->attribute[t->n_attribute++] = a;
  return to;
}

int cquant__pass_channels_last(cquant__graph_t *g) {
  int st = cquant__graph_sort(g);
  if (st) return st;
  nameset_t nhwc = {0}, have_nhwc = {0}, have_nchw = {0};
  const int n0 = g->n_node;
  for (int i = 0; i < n0; i++) {
    Onnx__NodeProto *n = g->node[i];
    if (!n) continue;
    const int ms = n->domain && !strcmp(n->domain, "com.microsoft"), dflt = !n->domain || !*n->domain;
    const char *op = n->op_type;
    int out_nhwc = 0;
    int need_nhwc_in[2] = {0, 0}; /* inputs to bring to NHWC */
    if (dflt && !strcmp(op, "QLinearConv")) need_nhwc_in[0] = 1, out_nhwc = 1;
    else if (dflt && !strcmp(op, "MaxPool") && n->n_output == 1 && ns_has(&nhwc, n->input[0]) && !cquant__attr(n, "auto_pad") &&
             !cquant__attr_int(n, "ceil_mode", 0) && !cquant__attr(n, "dilations") && !cquant__attr(n, "storage_order"))
      need_nhwc_in[0] = 1, out_nhwc = 1;
    else if (ms && !strcmp(op, "QLinearAdd") && (ns_has(&nhwc, n->input[0]) || ns_has(&nhwc, n->input[3])))
      need_nhwc_in[0] = need_nhwc_in[1] = 1, out_nhwc = 1;
    else if (dflt && (!strcmp(op, "Relu") || !strcmp(op, "Clip")) && ns_has(&nhwc, n->input[0])) out_nhwc = 1; /* Clip's bounds are scalars */
    else if (ms && !strcmp(op, "QLinearGlobalAveragePool") && ns_has(&nhwc, n->input[0])) out_nhwc = 2; /* NHWC in, NCHW out */
    Onnx__NodeProto *e = cquant__graph_edit_node(g, i);
    if (!e) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
    for (size_t k = 0; k < e->n_input; k++) {
      const char *in = e->input[k];
      if (!in || !*in) continue;
      const int slot = !strcmp(op, "QLinearAdd") ? (k == 0 ? 0 : k == 3 ? 1 : -1) : (k == 0 ? 0 : -1);
      const int keep = slot >= 0 && out_nhwc; /* this op reads the activation channels-last */
      const int is_nhwc = ns_has(&nhwc, in);
      if (keep && need_nhwc_in[slot] && !is_nhwc) { /* NCHW -> NHWC */
        const char *to = cquant__graph_str(g, "%s_nhwc", in);
        if (!to) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
        if (!ns_has(&have_nhwc, to) && (!add_transpose(g, in, to, 1) || ns_add(g, &have_nhwc, to) || ns_add(g, &nhwc, to)))
          return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
        e->input[k] = (char *)to;
      } else if (is_nhwc && !keep) { /* NHWC -> NCHW for an op that needs it */
        const char *to = cquant__graph_str(g, "%s_nchw", in);
        if (!to) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
        if (!ns_has(&have_nchw, to) && (!add_transpose(g, in, to, 0) || ns_add(g, &have_nchw, to)))
          return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
        e->input[k] = (char *)to;
      }
    }
    if (out_nhwc == 1) {
      if (!strcmp(op, "QLinearConv")) {
        e->domain = "com.microsoft";
        if (cquant__node_set_int(g, e, "channels_last", 1)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
        g->use_ms = 1;
      } else if (!strcmp(op, "MaxPool")) {
        e->domain = "com.microsoft";
        e->op_type = "NhwcMaxPool";
        g->use_ms = 1;
      }
      if (cquant__graph_is_output(g, e->output[0])) { /* the graph's output keeps NCHW */
        const char *o = e->output[0], *t = cquant__graph_str(g, "%s_nhwc", o);
        if (!t || !add_transpose(g, t, o, 0)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
        e->output[0] = (char *)t;
      } else if (ns_add(g, &nhwc, e->output[0]))
        return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
    } else if (out_nhwc == 2) { /* channels_last pooling writes N x 1 x 1 x C: back to N x C x 1 x 1 */
      const char *o = e->output[0], *t = cquant__graph_str(g, "%s_nhwc", o);
      if (!t || cquant__node_set_int(g, e, "channels_last", 1) || !add_transpose(g, t, o, 0))
        return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "integerize: out of memory");
      e->output[0] = (char *)t;
    }
  }
  return 0;
}

