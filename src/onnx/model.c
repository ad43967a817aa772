/* ONNX model loading and execution: nodes run in graph order (ONNX requires topological order),
 * values are looked up by name. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cquant/io.h"
#include "onnx/onnx_internal.h"

struct cquant_onnx_model {
  Onnx__ModelProto *proto;
  const Onnx__GraphProto *g;
  int n_inputs, n_outputs, n_inits;
  const char **inputs, **outputs, **init_names;
  int *input_types; /* declared element types (cquant dtype or -1) */
  cquant_array_t *inits;
  const cquant__op_t **ops;
  uint32_t *last_use;        /* per node: bit k set when input k is read for the last time there */
  cquant__slot_t *slots;     /* per node: a value derived from constant inputs (packed weights) */
  pthread_mutex_t lock;      /* guards slots */
};

/* The node being executed by this thread (for cquant__cache_*). */
static _Thread_local struct {
  cquant_onnx_model_t *m;
  int node;
  uint32_t const_mask; /* bit k: input k is an initializer */
} cur;

int cquant__input_is_const(int k) { return cur.m && k >= 0 && k < 32 && (cur.const_mask >> k & 1); }

void *cquant__cache_get(const void *key) {
  if (!cur.m) return NULL;
  pthread_mutex_lock(&cur.m->lock);
  cquant__slot_t *s = &cur.m->slots[cur.node];
  void *v = s->key == key ? s->val : NULL;
  pthread_mutex_unlock(&cur.m->lock);
  return v;
}

void *cquant__cache_put(const void *key, void *val, void (*fr)(void *)) {
  if (!cur.m) return NULL; /* not cacheable: the caller keeps and frees val */
  pthread_mutex_lock(&cur.m->lock);
  cquant__slot_t *s = &cur.m->slots[cur.node];
  void *old = NULL, *ret = val;
  void (*old_fr)(void *) = NULL;
  if (s->key == key && s->val) { /* another thread stored it first: use that one */
    old = val, old_fr = fr, ret = s->val;
  } else {
    old = s->val, old_fr = s->fr;
    s->key = key, s->val = val, s->fr = fr;
  }
  pthread_mutex_unlock(&cur.m->lock);
  if (old && old_fr) old_fr(old);
  return ret;
}

int cquant__node_error(const Onnx__NodeProto *node, int status, const char *fmt, ...) {
  char detail[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return cquant__error(status, "node '%s' (%s): %s", node->name && *node->name ? node->name : (node->n_output ? node->output[0] : "?"),
                       node->op_type ? node->op_type : "?", detail);
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

void cquant_onnx_free(cquant_onnx_model_t *m) {
  if (!m) return;
  if (m->slots) {
    for (size_t i = 0; m->g && i < m->g->n_node; i++)
      if (m->slots[i].val && m->slots[i].fr) m->slots[i].fr(m->slots[i].val);
    free(m->slots);
    pthread_mutex_destroy(&m->lock);
  }
  free(m->last_use);
  for (int i = 0; i < m->n_inits; i++) cquant_array_free(&m->inits[i]);
  free(m->inits);
  free(m->init_names);
  free(m->inputs);
  free(m->input_types);
  free(m->outputs);
  free(m->ops);
  if (m->proto) onnx__model_proto__free_unpacked(m->proto, NULL);
  free(m);
}

static int elem_type_of(const Onnx__ValueInfoProto *v) {
  if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !v->type->tensor_type) return -1;
  return v->type->tensor_type->has_elem_type ? cquant__dtype_from_onnx(v->type->tensor_type->elem_type) : -1;
}

static int load_buffer_dir(const void *buf, size_t len, const char *dir, cquant_onnx_model_t **out);

int cquant_onnx_load_buffer(const void *buf, size_t len, cquant_onnx_model_t **out) { return load_buffer_dir(buf, len, NULL, out); }

static int load_buffer_dir(const void *buf, size_t len, const char *dir, cquant_onnx_model_t **out) {
  if (!out || (!buf && len)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx: NULL argument");
  *out = NULL;
  cquant_onnx_model_t *m = calloc(1, sizeof *m);
  if (!m) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  int st = CQUANT_STATUS_OK;
  m->proto = onnx__model_proto__unpack(NULL, len, buf);
  if (!m->proto || !m->proto->graph) {
    cquant_onnx_free(m);
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "not an ONNX model (the protobuf does not parse as a ModelProto with a graph)");
  }
  const Onnx__GraphProto *g = m->g = m->proto->graph;
  for (size_t i = 0; i < m->proto->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->proto->opset_import[i];
    if (o->domain && *o->domain && strcmp(o->domain, "ai.onnx")) continue;
    if (o->has_version && (o->version < 7 || o->version > 21)) {
      const long long v = (long long)o->version; /* read before the model is freed */
      cquant_onnx_free(m);
      return cquant__error(CQUANT_STATUS_UNSUPPORTED, "opset %lld is not supported (7 to 21 are)", v);
    }
  }
  m->inits = calloc(g->n_initializer + 1, sizeof(cquant_array_t));
  m->init_names = calloc(g->n_initializer + 1, sizeof(char *));
  m->inputs = calloc(g->n_input + 1, sizeof(char *));
  m->input_types = calloc(g->n_input + 1, sizeof(int));
  m->outputs = calloc(g->n_output + 1, sizeof(char *));
  m->ops = calloc(g->n_node + 1, sizeof(*m->ops));
  m->slots = calloc(g->n_node + 1, sizeof(*m->slots));
  m->last_use = calloc(g->n_node + 1, sizeof(*m->last_use));
  if (m->slots) pthread_mutex_init(&m->lock, NULL);
  if (!m->inits || !m->init_names || !m->inputs || !m->input_types || !m->outputs || !m->ops || !m->slots || !m->last_use) {
    cquant_onnx_free(m);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx: out of memory");
  }
  for (size_t i = 0; i < g->n_initializer && !st; i++) {
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
  for (size_t i = 0; i < g->n_node && !st; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (!n->op_type) { st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "node %zu has no op_type", i); break; }
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") && strcmp(n->domain, "com.microsoft")) {
      st = cquant__node_error(n, CQUANT_STATUS_UNSUPPORTED, "domain '%s' is not supported", n->domain);
      break;
    }
    const cquant__op_t *op = cquant__op_find_domain(n->domain, n->op_type);
    if (!op) { st = cquant__node_error(n, CQUANT_STATUS_UNSUPPORTED, "operator not supported"); break; }
    if ((int)n->n_input < op->min_in || (int)n->n_input > op->max_in || (int)n->n_output < op->min_out || (int)n->n_output > op->max_out) {
      st = cquant__node_error(n, CQUANT_STATUS_BAD_FORMAT, "%zu inputs and %zu outputs (expected %d-%d and %d-%d)", n->n_input,
                              n->n_output, op->min_in, op->max_in, op->min_out, op->max_out);
      break;
    }
    m->ops[i] = op;
  }
  /* the last reader of every value (nodes are in topological order): the executor frees it there,
   * so memory follows what is live rather than the size of the graph; graph outputs are kept */
  for (size_t i = 0; i < g->n_node && !st; i++)
    for (size_t k = 0; k < g->node[i]->n_input && k < 32; k++) {
      const char *name = g->node[i]->input[k];
      int later = !name || !*name;
      for (int o = 0; o < m->n_outputs && !later; o++) later = !strcmp(m->outputs[o], name);
      for (size_t j = i + 1; j < g->n_node && !later; j++)
        for (size_t q = 0; q < g->node[j]->n_input && !later; q++) later = g->node[j]->input[q] && !strcmp(g->node[j]->input[q], name);
      if (!later) m->last_use[i] |= 1u << k;
    }
  if (st) {
    cquant_onnx_free(m);
    return st;
  }
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

int cquant_onnx_save(const cquant_onnx_model_t *m, const char *path) {
  if (!m || !path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx save: NULL argument");
  size_t n = onnx__model_proto__get_packed_size(m->proto);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx save: out of memory");
  onnx__model_proto__pack(m->proto, b);
  int st = cquant_file_write_atomic(path, b, n);
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

/* ---- execution ----------------------------------------------------------------------------- */

typedef struct {
  const char *name;
  cquant_array_t a;
  int owned;   /* 0: borrowed from the model or the caller */
  int is_init; /* an initializer of the model: constant for its lifetime */
} value_t;

static value_t *lookup(value_t *v, int n, const char *name) {
  for (int i = n - 1; i >= 0; i--) /* the newest binding of a name wins */
    if (!strcmp(v[i].name, name)) return &v[i];
  return NULL;
}

static int copy_array(const cquant_array_t *src, cquant_array_t *dst) {
  int st = cquant_array_alloc(dst, src->dtype, src->ndim, src->shape);
  if (!st && src->nbytes) memcpy(dst->data, src->data, src->nbytes);
  return st;
}

int cquant_onnx_run(const cquant_onnx_model_t *m, int n_inputs, const char *const *names, const cquant_array_t *inputs,
                    cquant_array_t *outputs) {
  return cquant_onnx_run_observed(m, n_inputs, names, inputs, outputs, NULL, NULL);
}

int cquant_onnx_run_observed(const cquant_onnx_model_t *m, int n_inputs, const char *const *names, const cquant_array_t *inputs,
                             cquant_array_t *outputs, cquant_onnx_observe_fn observe, void *user) {
  if (!m || !outputs || (n_inputs && (!names || !inputs))) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx run: NULL argument");
  const Onnx__GraphProto *g = m->g;
  memset(outputs, 0, sizeof(cquant_array_t) * (size_t)m->n_outputs);
  size_t cap = (size_t)m->n_inits + (size_t)n_inputs + 1;
  for (size_t i = 0; i < g->n_node; i++) cap += g->node[i]->n_output;
  value_t *v = calloc(cap, sizeof *v);
  if (!v) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx run: out of memory");
  int nv = 0, st = CQUANT_STATUS_OK;
  const char *pe = getenv("CQUANT_PROFILE");
  const int profile = pe && *pe == '1'; /* per-node times on stderr (docs/onnx.md) */
  for (int i = 0; i < m->n_inits; i++) v[nv++] = (value_t){m->init_names[i], m->inits[i], 0, 1};
  for (int i = 0; i < m->n_inputs && !st; i++) {
    int found = -1;
    for (int j = 0; j < n_inputs; j++)
      if (!strcmp(names[j], m->inputs[i])) found = j;
    if (found < 0) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "graph input '%s' is not given", m->inputs[i]);
    else if (m->input_types[i] >= 0 && (int)inputs[found].dtype != m->input_types[i])
      st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "graph input '%s' must be %s, got %s", m->inputs[i],
                         cquant_dtype_info((cquant_dtype_t)m->input_types[i])->name, cquant_dtype_info(inputs[found].dtype)->name);
    else {
      v[nv++] = (value_t){m->inputs[i], inputs[found], 0, 0};
      if (observe) st = observe(user, m->inputs[i], &inputs[found]);
    }
  }
  for (int j = 0; j < n_inputs && !st; j++) {
    int known = 0;
    for (int i = 0; i < m->n_inputs; i++) known |= !strcmp(names[j], m->inputs[i]);
    if (!known) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "'%s' is not an input of the graph", names[j]);
  }
  for (size_t i = 0; i < g->n_node && !st; i++) {
    const Onnx__NodeProto *n = g->node[i];
    const cquant_array_t *in[16] = {0};
    value_t *src[16] = {0};
    cquant_array_t out[8];
    memset(out, 0, sizeof out);
    if (n->n_input > 16 || n->n_output > 8) { st = cquant__node_error(n, CQUANT_STATUS_UNSUPPORTED, "too many inputs or outputs"); break; }
    for (size_t k = 0; k < n->n_input && !st; k++) {
      if (!n->input[k] || !*n->input[k]) continue; /* an omitted optional input */
      value_t *x = lookup(v, nv, n->input[k]);
      if (!x) st = cquant__node_error(n, CQUANT_STATUS_BAD_FORMAT, "input '%s' is not computed before this node", n->input[k]);
      else in[k] = &x->a, src[k] = x;
    }
    if (st) break;
    struct timespec t0, t1;
    if (profile) clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t cmask = 0;
    for (size_t k = 0; k < n->n_input; k++)
      if (src[k] && src[k]->is_init) cmask |= 1u << k;
    cur.m = (cquant_onnx_model_t *)m, cur.node = (int)i, cur.const_mask = cmask;
    st = m->ops[i]->fn(n, in, (int)n->n_input, out, (int)n->n_output);
    cur.m = NULL;
    if (profile) {
      clock_gettime(CLOCK_MONOTONIC, &t1);
      fprintf(stderr, "profile: %-32.32s %-24s %9.3f ms\n", n->name && *n->name ? n->name : (n->n_output ? n->output[0] : "?"), n->op_type,
              1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    if (st && strncmp(cquant_last_error(), "node '", 6)) { /* a helper's error: say which node */
      char where[256];
      snprintf(where, sizeof where, "node '%s' (%s)", n->name && *n->name ? n->name : (n->n_output ? n->output[0] : "?"), n->op_type);
      cquant__error_prefix(st, where);
    }
    for (size_t k = 0; k < n->n_output; k++) {
      if (st) { cquant_array_free(&out[k]); continue; }
      v[nv++] = (value_t){n->output[k] ? n->output[k] : "", out[k], 1, 0};
      if (observe && n->output[k] && *n->output[k] && !st) st = observe(user, n->output[k], &out[k]);
    }
    /* free every intermediate this node read for the last time: memory stays bounded by what is
     * live, not by the size of the graph */
    for (size_t k = 0; k < n->n_input && !st; k++) {
      value_t *x = src[k];
      if (x && x->owned && (m->last_use[i] >> k & 1)) {
        cquant_array_free(&x->a);
        x->owned = 0;
        x->name = "";
      }
    }
  }
  for (int i = 0; i < m->n_outputs && !st; i++) {
    value_t *x = lookup(v, nv, m->outputs[i]);
    if (!x) { st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "graph output '%s' is never computed", m->outputs[i]); break; }
    if (x->owned) { /* hand it over */
      outputs[i] = x->a;
      x->owned = 0;
      memset(&x->a, 0, sizeof x->a);
      x->name = "";
    } else if ((st = copy_array(&x->a, &outputs[i]))) break;
    if (st) break;
  }
  if (st)
    for (int i = 0; i < m->n_outputs; i++) cquant_array_free(&outputs[i]);
  for (int i = 0; i < nv; i++)
    if (v[i].owned) cquant_array_free(&v[i].a);
  free(v);
  return st;
}
