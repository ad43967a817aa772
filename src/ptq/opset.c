/* Raising a graph's default-domain opset for the formats that need a newer one: float8
 * Quantize/DequantizeLinear (19) and blocked or INT4/UINT4 DequantizeLinear (21). Every operator
 * version between the model's opset and the target that changed a node's form or meaning is listed
 * below (ONNX's Changelog.md; additions of optional attributes or inputs with the old behaviour as
 * default, and new element types, need nothing). Those cquant can rewrite exactly are rewritten;
 * the rest refuse the upgrade with the node's name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"
#include "ptq/ptq_internal.h"

typedef enum {
  FIX_AXES,      /* attribute axes -> input 1 (int64) */
  FIX_SPLIT13,   /* attribute split -> input 1 (int64) */
  FIX_SPLIT18,   /* neither split input nor num_outputs: num_outputs = number of outputs */
  FIX_SOFTMAX,   /* 13: axis no longer flattens to 2-D; the same only for axis = -1 */
  FIX_DROPOUT,   /* 12: ratio attribute -> input; inference ignores it */
  FIX_ROIALIGN,  /* 16: the default coordinate_transformation_mode became half_pixel */
  FIX_GRIDSAMPLE, /* 20: mode bilinear/bicubic renamed linear/cubic */
  FIX_NONE       /* changed, not rewritten */
} fix_t;

static const struct {
  const char *op;
  int at; /* the opset whose version changed it */
  fix_t fix;
} changes[] = {
    {"ReduceSum", 13, FIX_AXES},        {"Squeeze", 13, FIX_AXES},        {"Unsqueeze", 13, FIX_AXES},
    {"Split", 13, FIX_SPLIT13},         {"Softmax", 13, FIX_SOFTMAX},     {"LogSoftmax", 13, FIX_SOFTMAX},
    {"Hardmax", 13, FIX_SOFTMAX},       {"Dropout", 12, FIX_DROPOUT},     {"RoiAlign", 16, FIX_ROIALIGN},
    {"ReduceL1", 18, FIX_AXES},         {"ReduceL2", 18, FIX_AXES},       {"ReduceLogSum", 18, FIX_AXES},
    {"ReduceLogSumExp", 18, FIX_AXES},  {"ReduceMax", 18, FIX_AXES},      {"ReduceMean", 18, FIX_AXES},
    {"ReduceMin", 18, FIX_AXES},        {"ReduceProd", 18, FIX_AXES},     {"ReduceSumSquare", 18, FIX_AXES},
    {"Split", 18, FIX_SPLIT18},         {"GridSample", 20, FIX_GRIDSAMPLE}, {"DFT", 20, FIX_NONE},
    {"GroupNormalization", 21, FIX_NONE}, {"Scatter", 11, FIX_NONE},    {"Upsample", 10, FIX_NONE},
};
#define N_CHANGES (int)(sizeof changes / sizeof changes[0])

static int refuse(const Onnx__NodeProto *n, int at, int64_t to, const char *why, const char *what) {
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT,
                       "ptq: %s need opset %lld, but node '%s' (%s) keeps the model at opset <= %d: %s at opset %d and cquant does not "
                       "rewrite it",
                       why, (long long)to, cquant__node_label(n), n->op_type, at - 1, what, at);
}

static void drop_attr(Onnx__NodeProto *n, const char *name) {
  size_t k = 0;
  for (size_t j = 0; j < n->n_attribute; j++)
    if (!n->attribute[j]->name || strcmp(n->attribute[j]->name, name)) n->attribute[k++] = n->attribute[j];
  n->n_attribute = k;
}

/* The int64 attribute `attr` of node i becomes its input 1 (an initializer). */
static int attr_to_input(cquant__graph_t *g, int i, const char *attr) {
  const Onnx__AttributeProto *a = cquant__attr(g->node[i], attr);
  if (!a) return 0; /* absent: the input is absent too, with the same meaning */
  Onnx__NodeProto *n = cquant__graph_edit_node(g, i);
  const char *name = n ? cquant__graph_str(g, "%s_%s", cquant__node_label(n), attr) : NULL;
  char **in = n ? cquant__graph_alloc(g, sizeof(char *) * 2) : NULL;
  if (!name || !in || n->n_input < 1) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  cquant_array_t v;
  int64_t len = (int64_t)a->n_ints;
  int st = cquant_array_alloc(&v, CQUANT_DT_S64, 1, &len);
  if (st) return st;
  for (size_t k = 0; k < a->n_ints; k++) ((int64_t *)v.data)[k] = a->ints[k];
  if ((st = cquant__graph_init_add(g, name, &v))) {
    cquant_array_free(&v);
    return st;
  }
  in[0] = n->input[0];
  in[1] = (char *)name;
  n->input = in;
  n->n_input = 2;
  drop_attr(n, attr);
  return 0;
}

static int set_string(cquant__graph_t *g, Onnx__NodeProto *n, const char *name, const char *value) {
  Onnx__AttributeProto *a = cquant__graph_alloc(g, sizeof *a);
  if (!a) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  onnx__attribute_proto__init(a);
  a->name = cquant__graph_str(g, "%s", name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  a->has_s = 1;
  a->s.len = strlen(value);
  a->s.data = (uint8_t *)cquant__graph_str(g, "%s", value);
  if (!a->name || !a->s.data) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
  return cquant__node_copy_attr(g, n, a);
}

static int string_is(const Onnx__AttributeProto *a, const char *v) {
  return a && a->has_s && a->s.len == strlen(v) && !memcmp(a->s.data, v, a->s.len);
}

/* Applies change c to top-level node i. */
static int fix_node(cquant__graph_t *g, int i, int c, int64_t to, const char *why) {
  const Onnx__NodeProto *n0 = g->node[i];
  Onnx__NodeProto *n;
  switch (changes[c].fix) {
    case FIX_AXES: return attr_to_input(g, i, "axes");
    case FIX_SPLIT13: return attr_to_input(g, i, "split");
    case FIX_SPLIT18:
      if ((n0->n_input > 1 && *n0->input[1]) || cquant__attr(n0, "num_outputs")) return 0;
      if (!(n = cquant__graph_edit_node(g, i))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      return cquant__node_set_int(g, n, "num_outputs", (int64_t)n->n_output);
    case FIX_SOFTMAX:
      return cquant__attr_int(n0, "axis", 1) == -1 ? 0 : refuse(n0, changes[c].at, to, why, "its axis stops flattening the input to 2-D");
    case FIX_DROPOUT:
      if (!cquant__attr(n0, "ratio")) return 0;
      if (!(n = cquant__graph_edit_node(g, i))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      drop_attr(n, "ratio"); /* inference: the ratio is not used */
      return 0;
    case FIX_ROIALIGN:
      if (cquant__attr(n0, "coordinate_transformation_mode")) return 0;
      if (!(n = cquant__graph_edit_node(g, i))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      return set_string(g, n, "coordinate_transformation_mode", "output_half_pixel"); /* RoiAlign-10's behaviour */
    case FIX_GRIDSAMPLE: {
      const Onnx__AttributeProto *m = cquant__attr(n0, "mode");
      const char *nm = string_is(m, "bilinear") ? "linear" : string_is(m, "bicubic") ? "cubic" : NULL;
      if (!nm) return 0; /* nearest, or the default (bilinear then, linear now) */
      if (!(n = cquant__graph_edit_node(g, i))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "ptq: out of memory");
      return set_string(g, n, "mode", nm);
    }
    case FIX_NONE: break;
  }
  return refuse(n0, changes[c].at, to, why, "its form changes");
}

/* The first node of subgraph sg (any depth) that a change in (from, to] affects: refused, since
 * cquant rewrites top-level nodes only. */
static int check_subgraph(const Onnx__GraphProto *sg, int64_t from, int64_t to, const char *why) {
  for (size_t j = 0; j < sg->n_node; j++) {
    const Onnx__NodeProto *n = sg->node[j];
    if (!n->domain || !*n->domain)
      for (int c = 0; c < N_CHANGES; c++)
        if (changes[c].at > from && changes[c].at <= to && !strcmp(n->op_type, changes[c].op))
          return refuse(n, changes[c].at, to, why, "it sits in a subgraph, and its form changes");
    for (size_t a = 0; a < n->n_attribute; a++) {
      const Onnx__AttributeProto *at = n->attribute[a];
      for (size_t k = 0; k < at->n_graphs + (at->g != NULL); k++) {
        int st = check_subgraph(k < at->n_graphs ? at->graphs[k] : at->g, from, to, why);
        if (st) return st;
      }
    }
  }
  return 0;
}

int cquant__ptq_upgrade_opset(cquant__graph_t *g, int64_t to, const char *why) {
  const int64_t from = g->opset;
  if (from >= to) return 0;
  if (from < 11)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "ptq: %s need opset %lld; the model is opset %lld, and cquant upgrades models of opset 11 or later",
                         why, (long long)to, (long long)from);
  for (int i = 0; i < g->n_node; i++) {
    if (!g->node[i] || (g->node[i]->domain && *g->node[i]->domain)) continue;
    for (int c = 0; c < N_CHANGES; c++) /* in table order: Split 13 before Split 18 */
      if (changes[c].at > from && changes[c].at <= to && !strcmp(g->node[i]->op_type, changes[c].op)) {
        int st = fix_node(g, i, c, to, why);
        if (st) return st;
      }
    const Onnx__NodeProto *n = g->node[i];
    for (size_t a = 0; a < n->n_attribute; a++) {
      const Onnx__AttributeProto *at = n->attribute[a];
      for (size_t k = 0; k < at->n_graphs + (at->g != NULL); k++) {
        int st = check_subgraph(k < at->n_graphs ? at->graphs[k] : at->g, from, to, why);
        if (st) return st;
      }
    }
  }
  g->opset = to;
  return 0;
}
