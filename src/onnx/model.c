/* ONNX model loading and saving; the operators are looked up once here (src/exec/ runs them). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cquant/io.h"
#include "exec/exec_internal.h"


const char *cquant__node_label(const Onnx__NodeProto *n) {
  return n->name && *n->name ? n->name : (n->n_output && n->output[0] ? n->output[0] : "?");
}

int cquant__node_error(const Onnx__NodeProto *node, int status, const char *fmt, ...) {
  char detail[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return cquant__error(status, "node '%s' (%s): %s", cquant__node_label(node), node->op_type ? node->op_type : "?", detail);
}

const Onnx__AttributeProto *cquant__attr(const Onnx__NodeProto *node, const char *name) {
  for (size_t i = 0; i < node->n_attribute; i++)
    if (node->attribute[i]->name && !strcmp(node->attribute[i]->name, name)) return node->attribute[i];
  return NULL;
}

int64_t cquant__attr_int(const Onnx__NodeProto *node, const char *name, int64_t dflt) {
  const Onnx__AttributeProto *a = cquant__attr(node, name);
  return a && a->has_i ? a->i : dflt;
}

/* ---- subgraphs: resolved and checked once at load ------------------------------------------ */

/* The names defined so far in a graph, and the enclosing graphs' (parent). */
typedef struct names {
  const char **v;
  int n, cap;
  const struct names *parent;
} names_t;

static int names_add(names_t *s, const char *name) {
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 32;
    const char **v = realloc(s->v, sizeof *v * (size_t)cap);
    if (!v) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
    s->v = v, s->cap = cap;
  }
  s->v[s->n++] = name;
  return CQUANT_STATUS_OK;
}

static int names_local(const names_t *s, const char *name) {
  for (int i = s->n - 1; i >= 0; i--)
    if (!strcmp(s->v[i], name)) return 1;
  return 0;
}

static int names_visible(const names_t *s, const char *name) {
  for (; s; s = s->parent)
    if (names_local(s, name)) return 1;
  return 0;
}

static void body_free(cquant__body_t *b);
static void subs_free(cquant__body_t **subs) {
  for (cquant__body_t **p = subs; p && *p; p++) body_free(*p);
  free(subs);
}

static void body_free(cquant__body_t *b) {
  if (!b) return;
  for (size_t i = 0; b->subs && i < b->g->n_node; i++) subs_free(b->subs[i]);
  free(b->subs);
  for (int i = 0; i < b->n_inits; i++) cquant_array_free(&b->inits[i]);
  free(b->inits);
  free(b->init_names);
  free(b->ops);
  free(b->last_use);
  free(b->free_names);
  free(b);
}

/* The operator of a node (domain, name and the counts of inputs and outputs checked). */
static int resolve_op(const Onnx__NodeProto *n, const cquant__op_t **out) {
  if (!n->op_type) return cquant__error(CQUANT_STATUS_BAD_FORMAT, "a node has no op_type");
  if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") && strcmp(n->domain, "com.microsoft"))
    return cquant__node_error(n, CQUANT_STATUS_UNSUPPORTED, "domain '%s' is not supported", n->domain);
  const cquant__op_t *op = cquant__op_find_domain(n->domain, n->op_type);
  if (!op) return cquant__node_error(n, CQUANT_STATUS_UNSUPPORTED, "operator not supported");
  if ((int)n->n_input < op->min_in || (int)n->n_input > op->max_in || (int)n->n_output < op->min_out || (int)n->n_output > op->max_out)
    return cquant__node_error(n, CQUANT_STATUS_BAD_FORMAT, "%zu inputs and %zu outputs (expected %d-%d and %d-%d)", n->n_input, n->n_output,
                              op->min_in, op->max_in, op->min_out, op->max_out);
  *out = op;
  return CQUANT_STATUS_OK;
}

static int body_build(const Onnx__GraphProto *g, const char *attr, const char *dir, const names_t *outer, int depth, cquant__body_t **out);

#define MAX_NESTING 32 /* subgraphs within subgraphs: each level runs on the stack */

/* The subgraphs of node n (NULL when it has none), each checked against the names visible. */
static int node_subs(const Onnx__NodeProto *n, const char *dir, const names_t *visible, int depth, cquant__body_t ***out) {
  *out = NULL;
  size_t count = 0;
  for (size_t a = 0; a < n->n_attribute; a++) count += n->attribute[a]->g != NULL;
  if (!count) return CQUANT_STATUS_OK;
  if (depth > MAX_NESTING) return cquant__node_error(n, CQUANT_STATUS_UNSUPPORTED, "subgraphs nested more than %d levels deep", MAX_NESTING);
  cquant__body_t **subs = calloc(count + 1, sizeof *subs);
  if (!subs) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  int st = CQUANT_STATUS_OK;
  for (size_t a = 0, k = 0; a < n->n_attribute && !st; a++) {
    const Onnx__AttributeProto *at = n->attribute[a];
    if (!at->g) continue;
    if ((st = body_build(at->g, at->name ? at->name : "", dir, visible, depth, &subs[k])) && strncmp(cquant_last_error(), "in subgraph", 11)) {
      /* the innermost enclosing node is named (deeper nests would drown the message) */
      char where[300];
      snprintf(where, sizeof where, "in subgraph '%s' of node '%s' (%s)", at->name ? at->name : "", cquant__node_label(n),
               n->op_type ? n->op_type : "?");
      cquant__error_prefix(st, where);
    } else if (!st) k++;
  }
  if (st) {
    subs_free(subs);
    return st;
  }
  *out = subs;
  return CQUANT_STATUS_OK;
}

static int add_free(cquant__body_t *b, int *cap, const char *name) {
  for (int i = 0; i < b->n_free; i++)
    if (!strcmp(b->free_names[i], name)) return CQUANT_STATUS_OK;
  if (b->n_free == *cap) {
    int c = *cap ? 2 * *cap : 8;
    const char **v = realloc(b->free_names, sizeof *v * (size_t)c);
    if (!v) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
    b->free_names = v, *cap = c;
  }
  b->free_names[b->n_free++] = name;
  return CQUANT_STATUS_OK;
}

/* The last node that reads each name (an input, or a value a node's subgraph reads from outside):
 * an open-addressing table keyed by the name (FNV-1a), so that a graph of n nodes costs O(n) at
 * load rather than a scan of the nodes after each read (seconds for a 7,000-node transformer). */
typedef struct {
  const char **key;
  size_t *last;
  size_t mask;
} last_read_t;

static size_t *last_read_slot(last_read_t *t, const char *name) {
  size_t i = (size_t)cquant__name_hash(name) & t->mask;
  while (t->key[i] && strcmp(t->key[i], name)) i = (i + 1) & t->mask;
  if (!t->key[i]) t->key[i] = name, t->last[i] = 0;
  return &t->last[i];
}

/* The last reader of every value (nodes are in topological order): the executor frees it there,
 * so memory follows what is live rather than the size of the graph; graph outputs are kept. Bit k
 * of last_use[i]: no later node (nor a later node's subgraph) reads input k of node i, and it is
 * not an output. */
static int compute_last_use(const Onnx__GraphProto *g, const char *const *outputs, int n_outputs, cquant__body_t **const *subs,
                            uint32_t *last_use) {
  size_t refs = (size_t)n_outputs + 1;
  for (size_t j = 0; j < g->n_node; j++) {
    refs += g->node[j]->n_input;
    for (cquant__body_t *const *p = subs ? subs[j] : NULL; p && *p; p++) refs += (size_t)(*p)->n_free;
  }
  size_t cap = 16;
  while (cap < 2 * refs) cap *= 2;
  last_read_t t = {calloc(cap, sizeof *t.key), calloc(cap, sizeof *t.last), cap - 1};
  if (!t.key || !t.last) {
    free(t.key), free(t.last);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  }
  /* node j's reads as j + 1 (0: none yet); an output as after every node */
  for (size_t j = 0; j < g->n_node; j++) {
    for (size_t q = 0; q < g->node[j]->n_input; q++)
      if (g->node[j]->input[q] && *g->node[j]->input[q]) *last_read_slot(&t, g->node[j]->input[q]) = j + 1;
    for (cquant__body_t *const *p = subs ? subs[j] : NULL; p && *p; p++)
      for (int f = 0; f < (*p)->n_free; f++) *last_read_slot(&t, (*p)->free_names[f]) = j + 1;
  }
  for (int o = 0; o < n_outputs; o++)
    if (outputs[o]) *last_read_slot(&t, outputs[o]) = g->n_node + 1;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input && k < 32; k++) {
      const char *name = g->node[i]->input[k];
      if (name && *name && *last_read_slot(&t, name) == i + 1) last_use[i] |= 1u << k;
    }
  free(t.key), free(t.last);
  return CQUANT_STATUS_OK;
}

static int body_build(const Onnx__GraphProto *g, const char *attr, const char *dir, const names_t *outer, int depth, cquant__body_t **out) {
  *out = NULL;
  cquant__body_t *b = calloc(1, sizeof *b);
  if (!b) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  b->g = g, b->attr = attr;
  names_t loc = {NULL, 0, 0, outer};
  int st = CQUANT_STATUS_OK, free_cap = 0;
  b->inits = calloc(g->n_initializer + 1, sizeof *b->inits);
  b->init_names = calloc(g->n_initializer + 1, sizeof *b->init_names);
  b->ops = calloc(g->n_node + 1, sizeof *b->ops);
  b->last_use = calloc(g->n_node + 1, sizeof *b->last_use);
  b->subs = calloc(g->n_node + 1, sizeof *b->subs);
  if (!b->inits || !b->init_names || !b->ops || !b->last_use || !b->subs) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  for (size_t i = 0; i < g->n_initializer && !st; i++) {
    if ((st = cquant__tensor_from_proto_dir(g->initializer[i], dir, &b->inits[i]))) break;
    b->init_names[i] = g->initializer[i]->name ? g->initializer[i]->name : "";
    b->n_inits++;
    st = names_add(&loc, b->init_names[i]);
  }
  for (size_t i = 0; i < g->n_input && !st; i++) st = names_add(&loc, g->input[i]->name ? g->input[i]->name : "");
  for (size_t i = 0; i < g->n_node && !st; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if ((st = resolve_op(n, &b->ops[i]))) break;
    for (size_t k = 0; k < n->n_input && !st; k++) {
      const char *name = n->input[k];
      if (!name || !*name || names_local(&loc, name)) continue;
      if (!names_visible(outer, name))
        st = cquant__node_error(n, CQUANT_STATUS_BAD_FORMAT, "input '%s' is defined nowhere in this subgraph or an enclosing graph", name);
      else st = add_free(b, &free_cap, name);
    }
    if (st || (st = node_subs(n, dir, &loc, depth + 1, &b->subs[i]))) break;
    for (cquant__body_t **p = b->subs[i]; p && *p && !st; p++)
      for (int f = 0; f < (*p)->n_free && !st; f++)
        if (!names_local(&loc, (*p)->free_names[f])) st = add_free(b, &free_cap, (*p)->free_names[f]);
    for (size_t k = 0; k < n->n_output && !st; k++)
      if (n->output[k] && *n->output[k]) st = names_add(&loc, n->output[k]);
  }
  const char **outs = calloc(g->n_output + 1, sizeof *outs);
  if (!outs && !st) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  for (size_t o = 0; o < g->n_output && !st; o++) {
    const char *name = outs[o] = g->output[o]->name ? g->output[o]->name : "";
    if (names_local(&loc, name)) continue;
    if (!names_visible(outer, name))
      st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "output '%s' is defined nowhere in this subgraph or an enclosing graph", name);
    else st = add_free(b, &free_cap, name);
  }
  if (!st) st = compute_last_use(g, outs, (int)g->n_output, b->subs, b->last_use);
  free(outs);
  free(loc.v);
  if (st) {
    body_free(b);
    return st;
  }
  *out = b;
  return CQUANT_STATUS_OK;
}

void cquant__onnx_ref(cquant_onnx_model_t *m) { __atomic_add_fetch(&m->refs, 1, __ATOMIC_ACQ_REL); }

void cquant_onnx_free(cquant_onnx_model_t *m) {
  if (!m) return;
  if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) > 0) return; /* a derived model still borrows from it */
  if (m->slots) {
    for (size_t i = 0; m->g && i < m->g->n_node; i++)
      if (m->slots[i].val && m->slots[i].fr) m->slots[i].fr(m->slots[i].val);
    free(m->slots);
    pthread_mutex_destroy(&m->lock);
  }
  free(m->last_use);
  if (m->subs) {
    for (size_t i = 0; m->g && i < m->g->n_node; i++) subs_free(m->subs[i]);
    free(m->subs);
  }
  if (!m->owner) { /* else the owner's */
    for (int i = 0; i < m->n_inits; i++) cquant_array_free(&m->inits[i]);
    free(m->inits);
    free(m->init_names);
  }
  free(m->inputs);
  free(m->input_types);
  free(m->outputs);
  free(m->ops);
  if (m->owner) m->owner_free(m->owner); /* a model made from a graph: the graph owns proto and initializers */
  else if (m->proto) onnx__model_proto__free_unpacked(m->proto, NULL);
  cquant_onnx_model_t *parent = m->parent;
  free(m);
  cquant_onnx_free(parent);
}

static int elem_type_of(const Onnx__ValueInfoProto *v) {
  if (v->type && v->type->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE) return CQUANT_DT_SEQUENCE;
  if (v->type && v->type->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE) return CQUANT_DT_OPTIONAL;
  if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !v->type->tensor_type) return -1;
  return v->type->tensor_type->has_elem_type ? cquant__dtype_from_onnx(v->type->tensor_type->elem_type) : -1;
}

static int load_buffer_dir(const void *buf, size_t len, const char *dir, cquant_onnx_model_t **out);
static int model_setup(cquant_onnx_model_t *m, const char *dir);

int cquant_onnx_load_buffer(const void *buf, size_t len, cquant_onnx_model_t **out) { return load_buffer_dir(buf, len, NULL, out); }

static int load_buffer_dir(const void *buf, size_t len, const char *dir, cquant_onnx_model_t **out) {
  if (!out || (!buf && len)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx: NULL argument");
  *out = NULL;
  cquant_onnx_model_t *m = calloc(1, sizeof *m);
  if (!m) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  int st = CQUANT_STATUS_OK;
  m->refs = 1;
  m->proto = onnx__model_proto__unpack(NULL, len, buf);
  if (!m->proto || !m->proto->graph) {
    cquant_onnx_free(m);
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "not an ONNX model (the protobuf does not parse as a ModelProto with a graph)");
  }
  if ((st = model_setup(m, dir))) return st;
  *out = m;
  return CQUANT_STATUS_OK;
}

/* Everything but the protobuf: the opset check, the initializers as arrays (unless an owner gave
 * them), the inputs and outputs, the operators and each value's last reader. Frees m on error. */
static int model_setup(cquant_onnx_model_t *m, const char *dir) {
  int st = CQUANT_STATUS_OK;
  const Onnx__GraphProto *g = m->g = m->proto->graph;
  m->opset = 21;
  for (size_t i = 0; i < m->proto->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->proto->opset_import[i];
    if (o->domain && *o->domain && strcmp(o->domain, "ai.onnx")) continue;
    if (o->has_version && (o->version < 1 || o->version > 21)) {
      const long long v = (long long)o->version; /* read before the model is freed */
      cquant_onnx_free(m);
      return cquant__error(CQUANT_STATUS_UNSUPPORTED, "opset %lld is not supported (1 to 21 are)", v);
    }
    if (o->has_version) m->opset = (int)o->version;
  }
  if (!m->owner) {
    m->inits = calloc(g->n_initializer + 1, sizeof(cquant_array_t));
    m->init_names = calloc(g->n_initializer + 1, sizeof(char *));
  }
  m->inputs = calloc(g->n_input + 1, sizeof(char *));
  m->input_types = calloc(g->n_input + 1, sizeof(int));
  m->outputs = calloc(g->n_output + 1, sizeof(char *));
  m->ops = calloc(g->n_node + 1, sizeof(*m->ops));
  m->slots = calloc(g->n_node + 1, sizeof(*m->slots));
  m->last_use = calloc(g->n_node + 1, sizeof(*m->last_use));
  m->subs = calloc(g->n_node + 1, sizeof(*m->subs));
  if (m->slots) pthread_mutex_init(&m->lock, NULL);
  if (!m->inits || !m->init_names || !m->inputs || !m->input_types || !m->outputs || !m->ops || !m->slots || !m->last_use || !m->subs) {
    cquant_onnx_free(m);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  }
  for (size_t i = 0; i < g->n_initializer && !st && !m->owner; i++) {
    if ((st = cquant__tensor_from_proto_dir(g->initializer[i], dir, &m->inits[i]))) break;
    m->init_names[i] = g->initializer[i]->name ? g->initializer[i]->name : "";
    m->n_inits++;
  }
  for (size_t i = 0; i < g->n_input && !st; i++) {
    const char *name = g->input[i]->name ? g->input[i]->name : "";
    int is_init = 0;
    for (int j = 0; j < m->n_inits; j++) is_init |= !strcmp(m->init_names[j], name);
    if (is_init) continue;
    m->input_types[m->n_inputs] = elem_type_of(g->input[i]);
    m->inputs[m->n_inputs++] = name;
  }
  for (size_t i = 0; i < g->n_output; i++) m->outputs[m->n_outputs++] = g->output[i]->name ? g->output[i]->name : "";
  /* the names defined before each node: what its subgraphs may read from this scope */
  names_t top = {NULL, 0, 0, NULL};
  for (int i = 0; i < m->n_inits && !st; i++) st = names_add(&top, m->init_names[i]);
  for (size_t i = 0; i < g->n_input && !st; i++) st = names_add(&top, g->input[i]->name ? g->input[i]->name : "");
  for (size_t i = 0; i < g->n_node && !st; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n->op_type) { st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "node %zu has no op_type", i); break; }
    if ((st = resolve_op(n, &m->ops[i]))) break;
    if ((st = node_subs(n, dir, &top, 1, &m->subs[i]))) break;
    for (size_t k = 0; k < n->n_output && !st; k++)
      if (n->output[k] && *n->output[k]) st = names_add(&top, n->output[k]);
  }
  free(top.v);
  if (!st) st = compute_last_use(g, m->outputs, m->n_outputs, m->subs, m->last_use);
  if (st) {
    cquant_onnx_free(m);
    return st;
  }
  return CQUANT_STATUS_OK;
}

int cquant__onnx_adopt(Onnx__ModelProto *proto, cquant_array_t *inits, const char **init_names, int n_inits, void *owner,
                       void (*owner_free)(void *), cquant_onnx_model_t *parent, cquant_onnx_model_t **out) {
  *out = NULL;
  cquant_onnx_model_t *m = calloc(1, sizeof *m);
  if (!m) {
    owner_free(owner);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  }
  m->refs = 1;
  m->proto = proto;
  m->inits = inits, m->init_names = init_names, m->n_inits = n_inits;
  m->owner = owner, m->owner_free = owner_free;
  if (parent) cquant__onnx_ref(parent);
  m->parent = parent;
  int st = model_setup(m, NULL);
  if (st) return st;
  *out = m;
  return CQUANT_STATUS_OK;
}

int cquant_onnx_load(const char *path, cquant_onnx_model_t **out) {
  void *buf;
  size_t len;
  int st = cquant_file_read(path, &buf, &len);
  if (st) return st;
  /* external data lives beside the model */
  char *dir = strdup(path);
  if (!dir) { free(buf); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else strcpy(dir, ".");
  st = load_buffer_dir(buf, len, dir, out);
  free(dir);
  free(buf);
  if (st) return cquant__error_prefix(st, path);
  return CQUANT_STATUS_OK;
}

const Onnx__ModelProto *cquant__onnx_proto(const cquant_onnx_model_t *m) { return m->proto; }
const cquant_array_t *cquant__onnx_init(const cquant_onnx_model_t *m, const char *name) {
  for (int i = 0; i < m->n_inits; i++)
    if (!strcmp(m->init_names[i], name)) return &m->inits[i];
  return NULL;
}

int cquant_onnx_serialize(const cquant_onnx_model_t *m, void **buf, size_t *len) {
  if (!m || !buf || !len) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx serialize: NULL argument");
  size_t n = onnx__model_proto__get_packed_size(m->proto);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory (%zu bytes)", n);
  onnx__model_proto__pack(m->proto, b);
  *buf = b;
  *len = n;
  return 0;
}

int cquant_onnx_save(const cquant_onnx_model_t *m, const char *path) {
  if (!m || !path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx save: NULL argument");
  void *b;
  size_t n;
  int st = cquant_onnx_serialize(m, &b, &n);
  if (st) return st;
  st = cquant_file_write_atomic(path, b, n);
  free(b);
  return st;
}

int cquant_onnx_input_shape(const cquant_onnx_model_t *m, int i, int64_t *dims, int *ndim) {
  *ndim = -1;
  if (!m || i < 0 || i >= m->n_inputs) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx: input %d out of range", i);
  for (size_t k = 0; k < m->g->n_input; k++) {
    const Onnx__ValueInfoProto *v = m->g->input[k];
    if (!v->name || strcmp(v->name, m->inputs[i])) continue;
    if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !v->type->tensor_type || !v->type->tensor_type->shape) return 0;
    const Onnx__TensorShapeProto *sh = v->type->tensor_type->shape;
    if (sh->n_dim > CQUANT_MAX_DIMS) return 0;
    for (size_t d = 0; d < sh->n_dim; d++)
      dims[d] = sh->dim[d]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? sh->dim[d]->dim_value : -1;
    *ndim = (int)sh->n_dim;
  }
  return 0;
}

int cquant_onnx_num_inputs(const cquant_onnx_model_t *m) { return m ? m->n_inputs : 0; }
const char *cquant_onnx_input_name(const cquant_onnx_model_t *m, int i) { return m && i >= 0 && i < m->n_inputs ? m->inputs[i] : NULL; }
int cquant_onnx_num_outputs(const cquant_onnx_model_t *m) { return m ? m->n_outputs : 0; }
const char *cquant_onnx_output_name(const cquant_onnx_model_t *m, int i) { return m && i >= 0 && i < m->n_outputs ? m->outputs[i] : NULL; }

const char *cquant_onnx_metadata(const cquant_onnx_model_t *m, const char *key) {
  if (!m || !key) return NULL;
  const Onnx__ModelProto *mp = cquant__onnx_proto(m);
  for (size_t i = 0; i < mp->n_metadata_props; i++)
    if (mp->metadata_props[i]->key && !strcmp(mp->metadata_props[i]->key, key)) return mp->metadata_props[i]->value;
  return NULL;
}
