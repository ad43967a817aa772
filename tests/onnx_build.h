/* Helpers of the graph and PTQ-plan tests: a seeded generator and ONNX models built from
 * protobuf-c structs (packed and loaded with cquant_onnx_load_buffer). */
#ifndef CQUANT_TEST_ONNX_BUILD_H
#define CQUANT_TEST_ONNX_BUILD_H

#include "harness.h"
#include "cquant/cquant.h"
#include "graph/passes.h"

/* Every allocation of the model builders is remembered and freed at exit (the protobuf structs are
 * only packed; cquant works on its own copy), so the sanitizer run sees no leak. */
static void **tb_ptrs;
static size_t tb_n, tb_cap;
static void tb_free_all(void) {
  for (size_t i = 0; i < tb_n; i++) free(tb_ptrs[i]);
  free(tb_ptrs);
  tb_ptrs = NULL, tb_n = tb_cap = 0;
}
static void *tb_keep(void *p) {
  if (!p) abort();
  if (tb_n == tb_cap) {
    if (!tb_cap) atexit(tb_free_all);
    tb_cap = tb_cap ? 2 * tb_cap : 256;
    void **q = realloc(tb_ptrs, tb_cap * sizeof *q);
    if (!q) abort();
    tb_ptrs = q;
  }
  return tb_ptrs[tb_n++] = p;
}
static void *tb_malloc(size_t n) { return tb_keep(malloc(n ? n : 1)); }
static void *tb_calloc(size_t a, size_t b) { return tb_keep(calloc(a ? a : 1, b ? b : 1)); }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* xorshift64*, uniform in [-1, 1) */
  rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
  return (float)((rng_state * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

static Onnx__TensorProto *tensor(const char *name, int nd, const int64_t *dims, float lo, float hi) {
  Onnx__TensorProto *t = tb_calloc(1, sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1; t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->n_dims = nd; t->dims = (int64_t *)dims;
  size_t n = 1; for (int i = 0; i < nd; i++) n *= dims[i];
  t->n_float_data = n; t->float_data = tb_malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) t->float_data[i] = lo + (hi - lo) * 0.5f * (frand() + 1.0f);
  return t;
}

static Onnx__ValueInfoProto *vinfo(const char *name, int nd, const int64_t *dims) {
  Onnx__ValueInfoProto *v = tb_calloc(1, sizeof *v); onnx__value_info_proto__init(v);
  Onnx__TypeProto *tp = tb_calloc(1, sizeof *tp); onnx__type_proto__init(tp);
  Onnx__TypeProto__Tensor *tt = tb_calloc(1, sizeof *tt); onnx__type_proto__tensor__init(tt);
  Onnx__TensorShapeProto *sh = tb_calloc(1, sizeof *sh); onnx__tensor_shape_proto__init(sh);
  sh->n_dim = nd; sh->dim = tb_calloc(nd ? nd : 1, sizeof *sh->dim);
  for (int i = 0; i < nd; i++) {
    Onnx__TensorShapeProto__Dimension *d = tb_calloc(1, sizeof *d); onnx__tensor_shape_proto__dimension__init(d);
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE; d->dim_value = dims[i];
    sh->dim[i] = d;
  }
  tt->has_elem_type = 1; tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT; tt->shape = nd ? sh : NULL;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE; tp->tensor_type = tt;
  v->name = (char *)name; v->type = tp;
  return v;
}

static Onnx__AttributeProto *attr_i(const char *name, int64_t v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT; a->has_i = 1; a->i = v;
  return a;
}
static Onnx__AttributeProto *attr_f(const char *name, float v) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT; a->has_f = 1; a->f = v;
  return a;
}

static Onnx__NodeProto *node(const char *op, int nin, const char **in, const char *out) {
  Onnx__NodeProto *n = tb_calloc(1, sizeof *n); onnx__node_proto__init(n);
  n->op_type = (char *)op; n->name = (char *)out;
  n->n_input = nin; n->input = (char **)in;
  n->n_output = 1; n->output = tb_malloc(sizeof(char *)); n->output[0] = (char *)out;
  return n;
}

static Onnx__AttributeProto *attr_g(const char *name, Onnx__GraphProto *g) {
  Onnx__AttributeProto *a = tb_calloc(1, sizeof *a); onnx__attribute_proto__init(a);
  a->name = (char *)name; a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH; a->g = g;
  return a;
}

/* A graph of n nodes with the named inputs and outputs (float, shape unknown) and initializers. */
static Onnx__GraphProto *graph(const char *name, int nn, Onnx__NodeProto **nodes, int ni, const char **ins, int no, const char **outs, int nt,
                               Onnx__TensorProto **inits) {
  Onnx__GraphProto *g = tb_calloc(1, sizeof *g); onnx__graph_proto__init(g);
  g->name = (char *)name;
  g->n_node = nn; g->node = tb_calloc(nn, sizeof *g->node);
  memcpy(g->node, nodes, sizeof *nodes * (size_t)nn);
  g->n_input = ni; g->input = tb_calloc(ni, sizeof *g->input);
  for (int i = 0; i < ni; i++) g->input[i] = vinfo(ins[i], 0, NULL);
  g->n_output = no; g->output = tb_calloc(no, sizeof *g->output);
  for (int i = 0; i < no; i++) g->output[i] = vinfo(outs[i], 0, NULL);
  g->n_initializer = nt; g->initializer = tb_calloc(nt, sizeof *g->initializer);
  if (nt) memcpy(g->initializer, inits, sizeof *inits * (size_t)nt);
  return g;
}

/* Packs a graph as a model of the default domain at `opset` (IR version `ir`) and loads it; NULL
 * with the error on stderr. */
static cquant_onnx_model_t *load_model_at(Onnx__GraphProto *g, int opset, int ir) {
  Onnx__ModelProto mp; onnx__model_proto__init(&mp);
  Onnx__OperatorSetIdProto op; onnx__operator_set_id_proto__init(&op);
  op.domain = ""; op.has_version = 1; op.version = opset;
  Onnx__OperatorSetIdProto *ops[1] = {&op};
  mp.has_ir_version = 1; mp.ir_version = ir; mp.n_opset_import = 1; mp.opset_import = ops; mp.graph = g;
  size_t len = onnx__model_proto__get_packed_size(&mp);
  uint8_t *buf = malloc(len); onnx__model_proto__pack(&mp, buf);
  cquant_onnx_model_t *m = NULL;
  int st = cquant_onnx_load_buffer(buf, len, &m);
  if (st) fprintf(stderr, "  load: %s\n", cquant_last_error());
  free(buf);
  return st ? NULL : m;
}

/* Packs a graph at opset 13 and loads it. */
static cquant_onnx_model_t *load_model(Onnx__GraphProto *g) { return load_model_at(g, 13, 7); }

static int count_op(const cquant_onnx_model_t *m, const char *op) {
  const Onnx__GraphProto *g = cquant__onnx_proto(m)->graph;
  int c = 0;
  for (size_t i = 0; i < g->n_node; i++) c += strcmp(g->node[i]->op_type, op) == 0;
  return c;
}

/* max |a-b| <= 1e-6 max |ref| + 1e-7 */
static int close_rel(const cquant_array_t *ref, const cquant_array_t *b, double *dmax) {
  if (ref->numel != b->numel) return 0;
  const float *x = ref->data, *y = b->data;
  double mr = 0, md = 0;
  for (int64_t i = 0; i < ref->numel; i++) {
    mr = fmax(mr, fabs(x[i])); md = fmax(md, fabs((double)x[i] - y[i]));
  }
  *dmax = md;
  return md <= 1e-6 * mr + 1e-7;
}


#endif
