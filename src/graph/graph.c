/* The editable graph (graph.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph/graph.h"

struct cquant__arena_blk {
  struct cquant__arena_blk *next;
  max_align_t data[];
};

void *cquant__graph_alloc(cquant__graph_t *g, size_t n) {
  struct cquant__arena_blk *b = calloc(1, sizeof *b + n + 1);
  if (!b) return NULL;
  b->next = g->arena;
  g->arena = b;
  return b->data;
}

char *cquant__graph_str(cquant__graph_t *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = cquant__graph_alloc(g, (size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

void cquant__graph_free(cquant__graph_t *g) {
  if (!g) return;
  for (int i = 0; i < g->n_init; i++) cquant_array_free(&g->init[i]);
  free(g->init);
  free(g->init_name);
  free(g->init_ix);
  free(g->node);
  while (g->arena) {
    struct cquant__arena_blk *n = g->arena->next;
    free(g->arena);
    g->arena = n;
  }
  memset(g, 0, sizeof *g);
}

static int grow(void **p, int *cap, int need, size_t elt) {
  if (need <= *cap) return 0;
  int nc = *cap ? *cap * 2 : 64;
  while (nc < need) nc *= 2;
  void *q = realloc(*p, (size_t)nc * elt);
  if (!q) return -1;
  *p = q;
  *cap = nc;
  return 0;
}

static int push_node(cquant__graph_t *g, Onnx__NodeProto *n) {
  if (grow((void **)&g->node, &g->cap_node, g->n_node + 1, sizeof *g->node)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  g->node[g->n_node++] = n;
  return 0;
}

static void init_ix_insert(cquant__graph_t *g, int i) {
  uint32_t h = (uint32_t)cquant__name_hash(g->init_name[i]) & (uint32_t)(g->init_ix_cap - 1);
  while (g->init_ix[h]) h = (h + 1) & (uint32_t)(g->init_ix_cap - 1);
  g->init_ix[h] = i + 1;
}

/* Indexes initializer i (the newest) by name, the table kept at most half full: rebuilt twice as
 * large over every initializer when it would not be. A linear search per lookup made PTQ's passes
 * quadratic in the initializers (15% of swin_t's). */
static int init_ix_put(cquant__graph_t *g, int i) {
  if (2 * (g->n_init + 1) <= g->init_ix_cap) {
    init_ix_insert(g, i);
    return 0;
  }
  int cap = g->init_ix_cap ? 2 * g->init_ix_cap : 64;
  while (2 * (g->n_init + 1) > cap) cap *= 2;
  int *t = calloc((size_t)cap, sizeof *t);
  if (!t) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  free(g->init_ix);
  g->init_ix = t, g->init_ix_cap = cap;
  for (int j = 0; j < g->n_init; j++) init_ix_insert(g, j);
  return 0;
}

int cquant__graph_init_find(const cquant__graph_t *g, const char *name) {
  if (!name || !*name || !g->init_ix) return -1;
  for (uint32_t h = (uint32_t)cquant__name_hash(name) & (uint32_t)(g->init_ix_cap - 1); g->init_ix[h]; h = (h + 1) & (uint32_t)(g->init_ix_cap - 1))
    if (!strcmp(g->init_name[g->init_ix[h] - 1], name)) return g->init_ix[h] - 1;
  return -1;
}

int cquant__graph_init_add(cquant__graph_t *g, const char *name, cquant_array_t *a) {
  int i = cquant__graph_init_find(g, name);
  if (i >= 0) {
    cquant_array_free(&g->init[i]);
    g->init[i] = *a;
    memset(a, 0, sizeof *a);
    return 0;
  }
  int cap = g->cap_init;
  if (grow((void **)&g->init, &cap, g->n_init + 1, sizeof *g->init)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  cap = g->cap_init;
  if (grow((void **)&g->init_name, &cap, g->n_init + 1, sizeof *g->init_name)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  g->cap_init = cap;
  char *nm = cquant__graph_str(g, "%s", name);
  if (!nm) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  g->init_name[g->n_init] = nm;
  g->init[g->n_init++] = *a;
  memset(a, 0, sizeof *a);
  return init_ix_put(g, g->n_init - 1);
}

const char *cquant__graph_scalar(cquant__graph_t *g, const char *name, cquant_dtype_t dt, double v) {
  cquant_array_t a;
  if (cquant_array_alloc(&a, dt, 0, NULL)) return NULL;
  switch (dt) {
    case CQUANT_DT_F32: *(float *)a.data = (float)v; break;
    case CQUANT_DT_U8: *(uint8_t *)a.data = (uint8_t)v; break;
    case CQUANT_DT_S8: *(int8_t *)a.data = (int8_t)v; break;
    case CQUANT_DT_S32: *(int32_t *)a.data = (int32_t)v; break;
    default: cquant_array_free(&a); return NULL;
  }
  if (cquant__graph_init_add(g, name, &a)) { cquant_array_free(&a); return NULL; }
  return g->init_name[cquant__graph_init_find(g, name)];
}

int cquant__graph_from_model(const cquant_onnx_model_t *m, cquant__graph_t *g) {
  memset(g, 0, sizeof *g);
  const Onnx__ModelProto *p = cquant__onnx_proto(m);
  g->src = p;
  g->src_model = m;
  g->opset = 13;
  for (size_t i = 0; i < p->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = p->opset_import[i];
    if ((!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) && o->has_version) g->opset = o->version;
    if (o->domain && !strcmp(o->domain, "com.microsoft")) g->use_ms = 1;
  }
  const Onnx__GraphProto *gp = p->graph;
  int st = 0;
  for (size_t i = 0; i < gp->n_node && !st; i++) st = push_node(g, gp->node[i]);
  for (size_t i = 0; i < gp->n_initializer && !st; i++) {
    const char *name = gp->initializer[i]->name ? gp->initializer[i]->name : "";
    const cquant_array_t *src = cquant__onnx_init(m, name);
    cquant_array_t a;
    if (!src) continue;
    if ((st = cquant_array_alloc(&a, src->dtype, src->ndim, src->shape))) break;
    if (src->nbytes) memcpy(a.data, src->data, src->nbytes);
    if ((st = cquant__graph_init_add(g, name, &a))) cquant_array_free(&a);
  }
  if (st) cquant__graph_free(g);
  return st;
}

static char **str_array(cquant__graph_t *g, int n, const char *const *src) {
  char **a = cquant__graph_alloc(g, sizeof(char *) * (size_t)(n + 1));
  if (!a) return NULL;
  for (int i = 0; i < n; i++)
    if (!(a[i] = cquant__graph_str(g, "%s", src[i] ? src[i] : ""))) return NULL;
  return a;
}

Onnx__NodeProto *cquant__graph_add_node(cquant__graph_t *g, const char *op, const char *domain, const char *name, int n_in,
                                        const char *const *in, int n_out, const char *const *out) {
  Onnx__NodeProto *n = cquant__graph_alloc(g, sizeof *n);
  if (!n) return NULL;
  onnx__node_proto__init(n);
  n->op_type = cquant__graph_str(g, "%s", op);
  n->domain = cquant__graph_str(g, "%s", domain ? domain : "");
  n->name = cquant__graph_str(g, "%s", name ? name : "");
  n->input = str_array(g, n_in, in);
  n->output = str_array(g, n_out, out);
  n->n_input = (size_t)n_in;
  n->n_output = (size_t)n_out;
  n->attribute = cquant__graph_alloc(g, sizeof(Onnx__AttributeProto *) * 16);
  if (!n->op_type || !n->domain || !n->name || !n->input || !n->output || !n->attribute) return NULL;
  if (domain && !strcmp(domain, "com.microsoft")) g->use_ms = 1;
  if (push_node(g, n)) return NULL;
  return n;
}

Onnx__NodeProto *cquant__graph_edit_node(cquant__graph_t *g, int i) {
  const Onnx__NodeProto *o = g->node[i];
  Onnx__NodeProto *n = cquant__graph_alloc(g, sizeof *n);
  if (!n) return NULL;
  *n = *o;
  n->input = str_array(g, (int)o->n_input, (const char *const *)o->input);
  n->output = str_array(g, (int)o->n_output, (const char *const *)o->output);
  n->attribute = cquant__graph_alloc(g, sizeof(Onnx__AttributeProto *) * (o->n_attribute + 16));
  if (!n->input || !n->output || !n->attribute) return NULL;
  for (size_t k = 0; k < o->n_attribute; k++) n->attribute[k] = o->attribute[k];
  g->node[i] = n;
  return n;
}

static Onnx__AttributeProto *new_attr(cquant__graph_t *g, Onnx__NodeProto *n, const char *name) {
  /* replace an attribute of the same name; room for 16 new ones was reserved */
  Onnx__AttributeProto *a = cquant__graph_alloc(g, sizeof *a);
  if (!a) return NULL;
  onnx__attribute_proto__init(a);
  a->name = cquant__graph_str(g, "%s", name);
  if (!a->name) return NULL;
  for (size_t k = 0; k < n->n_attribute; k++)
    if (n->attribute[k]->name && !strcmp(n->attribute[k]->name, name)) {
      n->attribute[k] = a;
      return a;
    }
  n->attribute[n->n_attribute++] = a;
  return a;
}

int cquant__node_set_int(cquant__graph_t *g, Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a = new_attr(g, n, name);
  if (!a) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  a->has_i = 1;
  a->i = v;
  return 0;
}

int cquant__node_set_float(cquant__graph_t *g, Onnx__NodeProto *n, const char *name, float v) {
  Onnx__AttributeProto *a = new_attr(g, n, name);
  if (!a) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  a->has_f = 1;
  a->f = v;
  return 0;
}

int cquant__node_copy_attr(cquant__graph_t *g, Onnx__NodeProto *n, const Onnx__AttributeProto *a) {
  (void)g;
  for (size_t k = 0; k < n->n_attribute; k++)
    if (n->attribute[k]->name && a->name && !strcmp(n->attribute[k]->name, a->name)) {
      n->attribute[k] = (Onnx__AttributeProto *)a;
      return 0;
    }
  n->attribute[n->n_attribute++] = (Onnx__AttributeProto *)a;
  return 0;
}

void cquant__graph_remove(cquant__graph_t *g, int i) { g->node[i] = NULL; }

int cquant__graph_producer(const cquant__graph_t *g, const char *name) {
  if (!name || !*name) return -1;
  for (int i = 0; i < g->n_node; i++)
    if (g->node[i])
      for (size_t k = 0; k < g->node[i]->n_output; k++)
        if (!strcmp(g->node[i]->output[k], name)) return i;
  return -1;
}

/* 1 when a node inside one of n's subgraphs (If branches, Loop/Scan bodies, at any depth) reads
 * name: conservative, a subgraph value of the same name counts too. */
static int subgraphs_read(const Onnx__NodeProto *n, const char *name) {
  for (size_t a = 0; a < n->n_attribute; a++) {
    const Onnx__AttributeProto *at = n->attribute[a];
    for (size_t k = 0; k < at->n_graphs + (at->g != NULL); k++) {
      const Onnx__GraphProto *sg = k < at->n_graphs ? at->graphs[k] : at->g;
      for (size_t i = 0; i < sg->n_node; i++) {
        const Onnx__NodeProto *m = sg->node[i];
        for (size_t q = 0; q < m->n_input; q++)
          if (m->input[q] && !strcmp(m->input[q], name)) return 1;
        if (subgraphs_read(m, name)) return 1;
      }
      for (size_t o = 0; o < sg->n_output; o++)
        if (sg->output[o]->name && !strcmp(sg->output[o]->name, name)) return 1;
    }
  }
  return 0;
}

int cquant__graph_read_by_subgraph(const cquant__graph_t *g, const char *name) {
  for (int i = 0; i < g->n_node; i++)
    if (g->node[i] && subgraphs_read(g->node[i], name)) return 1;
  return 0;
}

int cquant__graph_consumers(const cquant__graph_t *g, const char *name, int *idx, int max) {
  int c = 0;
  for (int i = 0; i < g->n_node; i++) {
    if (!g->node[i]) continue;
    int reads = subgraphs_read(g->node[i], name); /* a body reading it counts as a reader */
    for (size_t k = 0; k < g->node[i]->n_input && !reads; k++) reads = g->node[i]->input[k] && !strcmp(g->node[i]->input[k], name);
    if (reads) {
      if (c < max) idx[c] = i;
      c++;
    }
  }
  return c;
}

int cquant__graph_is_output(const cquant__graph_t *g, const char *name) {
  const Onnx__GraphProto *gp = g->src->graph;
  for (size_t i = 0; i < gp->n_output; i++)
    if (gp->output[i]->name && !strcmp(gp->output[i]->name, name)) return 1;
  return 0;
}

int cquant__graph_rename_uses(cquant__graph_t *g, const char *from, const char *to, int start) {
  for (int i = start; i < g->n_node; i++) {
    Onnx__NodeProto *n = g->node[i];
    if (!n) continue;
    int uses = 0;
    for (size_t k = 0; k < n->n_input; k++) uses |= n->input[k] && !strcmp(n->input[k], from);
    if (!uses) continue;
    /* borrowed nodes are copied before their inputs change */
    if (!(n = cquant__graph_edit_node(g, i))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
    for (size_t k = 0; k < n->n_input; k++)
      if (!strcmp(n->input[k], from) && !(n->input[k] = cquant__graph_str(g, "%s", to)))
        return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  }
  return 0;
}

int cquant__graph_add_meta(cquant__graph_t *g, const char *key, const char *value) {
  Onnx__StringStringEntryProto **nm = cquant__graph_alloc(g, sizeof *nm * (size_t)(g->n_meta + 1));
  Onnx__StringStringEntryProto *e = cquant__graph_alloc(g, sizeof *e);
  if (!nm || !e) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  onnx__string_string_entry_proto__init(e);
  e->key = cquant__graph_str(g, "%s", key);
  e->value = cquant__graph_str(g, "%s", value);
  if (g->n_meta) memcpy(nm, g->meta, sizeof *nm * (size_t)g->n_meta);
  nm[g->n_meta++] = e;
  g->meta = nm;
  return 0;
}

int cquant__op_passes_through(const Onnx__NodeProto *n) {
  static const char *const ops[] = {"MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose"};
  if ((n->domain && *n->domain) || n->n_output != 1) return 0;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(n->op_type, ops[i])) return 1;
  return 0;
}

int32_t cquant__onnx_from_dtype(cquant_dtype_t dt) {
  switch (dt) {
    case CQUANT_DT_F32: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    case CQUANT_DT_F16: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    case CQUANT_DT_U8: return ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    case CQUANT_DT_S8: return ONNX__TENSOR_PROTO__DATA_TYPE__INT8;
    case CQUANT_DT_S16: return ONNX__TENSOR_PROTO__DATA_TYPE__INT16;
    case CQUANT_DT_S32: return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    case CQUANT_DT_S64: return ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    default: return cquant__dtype_to_onnx(dt); /* the rest of the table (int4/uint4, float8, bfloat16, ...) */
  }
}

/* ---- a string set (FNV-1a, open addressing) for the sort -------------------------------------- */
typedef struct {
  const char **slot;
  size_t cap, n;
} strset_t;

static int set_has(const strset_t *s, const char *k) {
  for (size_t i = (size_t)cquant__name_hash(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (!s->slot[i]) return 0;
    if (!strcmp(s->slot[i], k)) return 1;
  }
}

static void set_add(strset_t *s, const char *k) {
  size_t i = (size_t)cquant__name_hash(k) & (s->cap - 1);
  for (; s->slot[i]; i = (i + 1) & (s->cap - 1))
    if (!strcmp(s->slot[i], k)) return;
  s->slot[i] = k;
  s->n++;
}

/* Kahn's order, keeping the given order wherever it is already valid. */
static int toposort(cquant__graph_t *g) {
  int n = 0;
  for (int i = 0; i < g->n_node; i++)
    if (g->node[i]) g->node[n++] = g->node[i];
  g->n_node = n;
  size_t names = (size_t)g->n_init + g->src->graph->n_input + 2;
  for (int i = 0; i < n; i++) names += g->node[i]->n_output;
  strset_t s = {0};
  s.cap = 16;
  while (s.cap < 2 * names) s.cap *= 2;
  s.slot = calloc(s.cap, sizeof *s.slot);
  Onnx__NodeProto **out = malloc(sizeof *out * (size_t)(n + 1));
  char *done = calloc((size_t)n + 1, 1);
  if (!s.slot || !out || !done) {
    free(s.slot), free(out), free(done);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  }
  set_add(&s, "");
  for (int i = 0; i < g->n_init; i++) set_add(&s, g->init_name[i]);
  for (size_t i = 0; i < g->src->graph->n_input; i++)
    if (g->src->graph->input[i]->name) set_add(&s, g->src->graph->input[i]->name);
  /* a node with subgraphs also waits for the main-graph values its bodies read by name */
  const char ***outer = calloc((size_t)n + 1, sizeof *outer);
  int *n_outer = calloc((size_t)n + 1, sizeof *n_outer);
  if (!outer || !n_outer) {
    free(s.slot), free(out), free(done), free(outer), free(n_outer);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  }
  int st = 0;
  for (int i = 0; i < n && !st; i++) {
    int has_sub = 0;
    for (size_t a = 0; a < g->node[i]->n_attribute; a++) has_sub |= g->node[i]->attribute[a]->g || g->node[i]->attribute[a]->n_graphs;
    if (!has_sub) continue;
    for (int j = 0; j < n && !st; j++)
      for (size_t k = 0; j != i && k < g->node[j]->n_output; k++) {
        const char *o = g->node[j]->output[k];
        if (!o || !*o || !subgraphs_read(g->node[i], o)) continue;
        const char **grown = realloc(outer[i], sizeof *grown * (size_t)(n_outer[i] + 1));
        if (!grown) {
          st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
          break;
        }
        outer[i] = grown;
        outer[i][n_outer[i]++] = o;
      }
  }
  int placed = 0, first = 0;
  while (!st && placed < n) {
    int progress = 0;
    for (int i = first; i < n; i++) {
      if (done[i]) continue;
      int ready = 1;
      for (size_t k = 0; k < g->node[i]->n_input && ready; k++) ready = set_has(&s, g->node[i]->input[k] ? g->node[i]->input[k] : "");
      for (int k = 0; k < n_outer[i] && ready; k++) ready = set_has(&s, outer[i][k]);
      if (!ready) continue;
      done[i] = 1;
      out[placed++] = g->node[i];
      for (size_t k = 0; k < g->node[i]->n_output; k++) set_add(&s, g->node[i]->output[k]);
      progress = 1;
      i = first - 1; /* restart from the first node still waiting: keeps the original order */
      while (first < n && done[first]) first++;
    }
    if (!progress) {
      for (int i = 0; i < n && !st; i++)
        if (!done[i])
          for (size_t k = 0; k < g->node[i]->n_input; k++)
            if (!set_has(&s, g->node[i]->input[k] ? g->node[i]->input[k] : "")) {
              st = cquant__node_error(g->node[i], CQUANT_STATUS_BAD_FORMAT, "input '%s' is never computed (or the graph has a cycle)",
                                      g->node[i]->input[k]);
              break;
            }
      for (int i = 0; i < n && !st; i++) /* waiting only for a value its subgraph reads */
        for (int k = 0; !done[i] && k < n_outer[i] && !st; k++)
          if (!set_has(&s, outer[i][k]))
            st = cquant__node_error(g->node[i], CQUANT_STATUS_BAD_FORMAT, "its subgraph reads '%s', which is computed after it (a cycle)", outer[i][k]);
      break;
    }
  }
  if (!st && n) memcpy(g->node, out, sizeof *out * (size_t)n);
  for (int i = 0; i < n; i++) free(outer[i]);
  free(s.slot), free(out), free(done), free(outer), free(n_outer);
  return st;
}

int cquant__graph_sort(cquant__graph_t *g) { return toposort(g); }

/* The graph as a ModelProto (nodes sorted topologically; initializers nothing reads, subgraphs included, dropped), every
 * part allocated in the graph's arena; used[i] (n_init entries, may be NULL) gets 1 for each
 * initializer kept. */
static int build_proto(cquant__graph_t *g, Onnx__ModelProto **out, char *used) {
  int st = toposort(g);
  if (st) return st;
  const Onnx__ModelProto *sp = g->src;
  const Onnx__GraphProto *sg = sp->graph;
  Onnx__ModelProto *mp = cquant__graph_alloc(g, sizeof *mp);
  Onnx__GraphProto *gp = cquant__graph_alloc(g, sizeof *gp);
  Onnx__OperatorSetIdProto *os = cquant__graph_alloc(g, 2 * sizeof *os);
  Onnx__OperatorSetIdProto **osp = cquant__graph_alloc(g, 2 * sizeof *osp);
  size_t nmeta = sp->n_metadata_props + (size_t)g->n_meta;
  Onnx__StringStringEntryProto **meta = cquant__graph_alloc(g, (nmeta + 1) * sizeof *meta);
  Onnx__TensorProto *tp = cquant__graph_alloc(g, ((size_t)g->n_init + 1) * sizeof *tp);
  Onnx__TensorProto **tpp = cquant__graph_alloc(g, ((size_t)g->n_init + 1) * sizeof *tpp);
  Onnx__ValueInfoProto **ins = cquant__graph_alloc(g, (sg->n_input + 1) * sizeof *ins);
  if (!mp || !gp || !os || !osp || !meta || !tp || !tpp || !ins) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  onnx__model_proto__init(mp);
  onnx__graph_proto__init(gp);
  mp->has_ir_version = 1;
  mp->ir_version = sp->has_ir_version && sp->ir_version > 7 ? sp->ir_version : 7;
  mp->producer_name = "cquant";
  mp->producer_version = "0.1";
  mp->graph = gp;
  osp[0] = &os[0], osp[1] = &os[1];
  onnx__operator_set_id_proto__init(&os[0]);
  onnx__operator_set_id_proto__init(&os[1]);
  os[0].domain = "";
  os[0].has_version = 1;
  os[0].version = g->opset;
  os[1].domain = "com.microsoft";
  os[1].has_version = 1;
  os[1].version = 1;
  mp->n_opset_import = g->use_ms ? 2 : 1;
  mp->opset_import = osp;
  size_t nm = 0;
  for (size_t i = 0; i < sp->n_metadata_props; i++) {
    int replaced = 0;
    for (int j = 0; j < g->n_meta; j++) replaced |= !strcmp(g->meta[j]->key, sp->metadata_props[i]->key ? sp->metadata_props[i]->key : "");
    if (!replaced) meta[nm++] = sp->metadata_props[i];
  }
  for (int j = 0; j < g->n_meta; j++) meta[nm++] = g->meta[j];
  mp->n_metadata_props = nm;
  mp->metadata_props = meta;
  gp->name = sg->name ? sg->name : "cquant";
  gp->n_node = (size_t)g->n_node;
  gp->node = g->node;
  /* initializers that some node reads (the names read: one set, not a scan per initializer) */
  strset_t rd = {0};
  size_t nread = sg->n_output + 2;
  for (int j = 0; j < g->n_node; j++) nread += g->node[j]->n_input;
  rd.cap = 16;
  while (rd.cap < 2 * nread) rd.cap *= 2;
  if (!(rd.slot = calloc(rd.cap, sizeof *rd.slot))) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  for (int j = 0; j < g->n_node; j++)
    for (size_t k = 0; k < g->node[j]->n_input; k++)
      if (g->node[j]->input[k]) set_add(&rd, g->node[j]->input[k]);
  for (size_t o = 0; o < sg->n_output; o++)
    if (sg->output[o]->name) set_add(&rd, sg->output[o]->name);
  size_t ni = 0;
  for (int i = 0; i < g->n_init; i++) {
    int u = set_has(&rd, g->init_name[i]);
    if (!u) u = cquant__graph_read_by_subgraph(g, g->init_name[i]); /* an If/Loop/Scan body reads it by name */
    if (used) used[i] = (char)u;
    if (!u) continue;
    Onnx__TensorProto *t = &tp[ni];
    onnx__tensor_proto__init(t);
    t->name = g->init_name[i];
    t->n_dims = (size_t)g->init[i].ndim;
    t->dims = g->init[i].shape;
    t->has_data_type = 1;
    t->data_type = cquant__onnx_from_dtype(g->init[i].dtype);
    t->has_raw_data = 1;
    t->raw_data.len = cquant__tensor_raw_size(&g->init[i]);
    void *pb = NULL; /* int4/uint4: packed two per byte */
    if (cquant__tensor_raw_packs(&g->init[i])) {
      if (!(pb = cquant__graph_alloc(g, t->raw_data.len + 1))) {
        free(rd.slot);
        return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
      }
      if (mp->ir_version < 10) mp->ir_version = 10; /* INT4/UINT4 are IR version 10 */
    }
    t->raw_data.data = (uint8_t *)cquant__tensor_raw(&g->init[i], pb);
    tpp[ni++] = t;
  }
  free(rd.slot);
  gp->n_initializer = ni;
  gp->initializer = tpp;
  size_t nin = 0;
  for (size_t i = 0; i < sg->n_input; i++)
    if (cquant__graph_init_find(g, sg->input[i]->name) < 0) ins[nin++] = sg->input[i];
  gp->n_input = nin;
  gp->input = ins;
  gp->n_output = sg->n_output;
  gp->output = sg->output;
  *out = mp;
  return 0;
}

int cquant__graph_pack(cquant__graph_t *g, void **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  Onnx__ModelProto *mp;
  int st = build_proto(g, &mp, NULL);
  if (st) return st;
  size_t n = onnx__model_proto__get_packed_size(mp);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory (%zu bytes)", n);
  onnx__model_proto__pack(mp, b);
  *buf = b;
  *len = n;
  return 0;
}

static void graph_release(void *p) {
  cquant__graph_free(p);
  free(p);
}

int cquant__graph_load(cquant__graph_t *g, cquant_onnx_model_t **out) {
  *out = NULL;
  cquant__graph_t *h = malloc(sizeof *h);
  char *used = calloc((size_t)g->n_init + 1, 1);
  if (!h || !used) {
    free(h), free(used);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  }
  *h = *g; /* the model owns the graph from here on */
  memset(g, 0, sizeof *g);
  Onnx__ModelProto *mp;
  int st = build_proto(h, &mp, used);
  cquant_array_t *inits = st ? NULL : cquant__graph_alloc(h, ((size_t)h->n_init + 1) * sizeof *inits);
  const char **names = st ? NULL : cquant__graph_alloc(h, ((size_t)h->n_init + 1) * sizeof *names);
  if (!st && (!inits || !names)) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  if (st) {
    free(used);
    graph_release(h);
    return st;
  }
  int n = 0;
  for (int i = 0; i < h->n_init; i++)
    if (used[i]) inits[n] = h->init[i], names[n++] = h->init_name[i]; /* views: the graph frees them */
  free(used);
  return cquant__onnx_adopt(mp, inits, names, n, h, graph_release, (cquant_onnx_model_t *)h->src_model, out);
}
