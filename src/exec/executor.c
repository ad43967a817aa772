/* The executor: nodes run in graph order (ONNX requires topological order), values are looked up
 * by name, and every intermediate is freed after its last reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "exec/exec_internal.h"
#include "exec/ops/conv_fuse.h"
#include "exec/ops/conv_par.h"
#include "exec/ops/nn_internal.h"
#include "exec/ops/tensor_internal.h"

int cquant__input_is_const(const cquant__opctx_t *ctx, int k) { return ctx && ctx->m && k >= 0 && k < 32 && (ctx->const_mask >> k & 1); }

void *cquant__cache_get(cquant__opctx_t *ctx, const void *key) {
  if (!ctx || !ctx->m || ctx->node < 0) return NULL; /* node -1: inside a subgraph, nothing is cached */
  pthread_mutex_lock(&ctx->m->lock);
  cquant__slot_t *s = &ctx->m->slots[ctx->node];
  void *v = s->key == key ? s->val : NULL;
  pthread_mutex_unlock(&ctx->m->lock);
  return v;
}

void *cquant__cache_put(cquant__opctx_t *ctx, const void *key, void *val, void (*fr)(void *)) {
  if (!ctx || !ctx->m || ctx->node < 0) return NULL; /* not cacheable: the caller keeps and frees val */
  pthread_mutex_lock(&ctx->m->lock);
  cquant__slot_t *s = &ctx->m->slots[ctx->node];
  void *old = NULL, *ret = val;
  void (*old_fr)(void *) = NULL;
  if (s->key == key && s->val) { /* another thread stored it first: use that one */
    old = val, old_fr = fr, ret = s->val;
  } else {
    old = s->val, old_fr = s->fr;
    s->key = key, s->val = val, s->fr = fr;
  }
  pthread_mutex_unlock(&ctx->m->lock);
  if (old && old_fr) old_fr(old);
  return ret;
}

#define MAX_IO 64 /* inputs and outputs of one node */

typedef struct {
  const char *name;
  cquant_array_t a;
  int owned;   /* 0: borrowed from the model, the caller or an enclosing scope */
  int is_init; /* an initializer of the model: constant for its lifetime */
} value_t;

/* The values of one run of a graph; a subgraph's scope sees its enclosing ones (parent). Names
 * are found through an open-addressing table (key: the name as bound; index: its newest binding),
 * at least twice the scope's capacity: a linear scan per input was quadratic in the graph's size
 * (9% of an integerized swin_t's run in strcmp). */
struct cquant__scope {
  value_t *v;
  int nv;
  const struct cquant__scope *parent;
  const char **hkey;
  int *hidx;
  uint32_t hmask;
};

/* Room for cap bindings: the value array and the table (0 on success). */
static int scope_init(struct cquant__scope *s, size_t cap, const struct cquant__scope *parent) {
  uint32_t size = 16;
  while (size < 2 * cap && size < (1u << 30)) size *= 2;
  s->v = calloc(cap, sizeof(value_t));
  s->hkey = calloc(size, sizeof *s->hkey);
  s->hidx = malloc(size * sizeof *s->hidx);
  s->nv = 0, s->parent = parent, s->hmask = size - 1;
  return s->v && s->hkey && s->hidx ? 0 : -1;
}

/* Appends a binding (the array has room: scope_init's cap) and makes it the name's newest. */
static void bind(struct cquant__scope *s, value_t val) {
  const int i = s->nv++;
  s->v[i] = val;
  uint32_t h = (uint32_t)cquant__name_hash(val.name) & s->hmask;
  while (s->hkey[h] && strcmp(s->hkey[h], val.name)) h = (h + 1) & s->hmask;
  s->hkey[h] = val.name, s->hidx[h] = i;
}

/* The newest binding of a name, innermost scope first; *local: found in s itself. A binding
 * freed after its last reader has the name "": an older one of the same name (a graph input
 * that repeats an initializer's, IR < 4) is then found by a scan of that scope, as before. */
static value_t *lookup(const struct cquant__scope *s, const char *name, int *local) {
  for (int depth = 0; s; s = s->parent, depth++) {
    uint32_t h = (uint32_t)cquant__name_hash(name) & s->hmask;
    while (s->hkey[h] && strcmp(s->hkey[h], name)) h = (h + 1) & s->hmask;
    if (!s->hkey[h]) continue; /* never bound here */
    int i = s->hidx[h];
    while (i >= 0 && strcmp(s->v[i].name, name)) i--;
    if (i < 0) continue;
    if (local) *local = depth == 0;
    return &s->v[i];
  }
  return NULL;
}

static const cquant_array_t *get_value(void *scope, const char *name) {
  const value_t *v = lookup(scope, name, NULL);
  return v ? &v->a : NULL;
}

static void free_cached_array(void *p) {
  cquant_array_free(p);
  free(p);
}

/* A top-level Constant node's value: made on the model's first run and kept in the node's cache
 * slot (freed with the model); *out is a view of it, which the executor binds as borrowed and
 * constant (not freed after its last reader; operators may cache what they derive from it, as
 * from an initializer: weights given as Constant nodes, as paddle2onnx and older exporters write
 * them, are then packed once). Making it anew every run was 2,760 copies a run of swin_t. */
static int constant_value(cquant__opctx_t *ctx, const Onnx__NodeProto *n, cquant_array_t *out) {
  const cquant_array_t *c = cquant__cache_get(ctx, n);
  if (!c) {
    cquant_array_t *made = calloc(1, sizeof *made);
    if (!made) return cquant__node_error(n, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
    const int st = cquant__op_tensor_constant(ctx, n, NULL, 0, made, 1);
    if (st) {
      free(made);
      return st;
    }
    c = cquant__cache_put(ctx, n, made, free_cached_array); /* another run's, if it stored one first */
  }
  *out = *c;
  return CQUANT_STATUS_OK;
}

/* Runs the nodes of graph g (operators ops, last readers last_use, subgraphs subs) in scope s,
 * whose value table has room for every node output. top: the model's own graph (observe and
 * profile see its values, the per-node cache and constant inputs apply). */
static int run_nodes(const cquant_onnx_model_t *m, const Onnx__GraphProto *g, const cquant__op_t *const *ops, const uint32_t *last_use,
                     cquant__body_t **const *subs, struct cquant__scope *s, const cquant_onnx_run_options_t *opt, int top) {
  const cquant_onnx_observe_fn observe = top && opt ? opt->observe : NULL;
  void *const user = opt ? opt->observe_user : NULL;
  const cquant_onnx_profile_fn profile = top && opt ? opt->profile : NULL;
  int st = CQUANT_STATUS_OK;
  size_t folded[CQUANT__FUSE_MAX], n_folded = 0; /* nodes ahead folded into a Conv (conv_fuse.h) */
  for (size_t i = 0; i < g->n_node && !st; i++) {
    const Onnx__NodeProto *n = g->node[i];
    if (n_folded && folded[0] == i) { /* done with its Conv: free the inputs it read last */
      for (size_t k = 0; k < n->n_input && k < 32; k++) {
        int loc = 0;
        value_t *x = last_use[i] >> k & 1 && n->input[k] && *n->input[k] ? lookup(s, n->input[k], &loc) : NULL;
        if (x && loc && x->owned) {
          cquant_array_free(&x->a);
          x->owned = 0;
          x->name = "";
        }
      }
      if (profile) profile(opt->profile_user, n->name && *n->name ? n->name : n->output[0], n->op_type, 0.0);
      memmove(folded, folded + 1, sizeof folded[0] * --n_folded);
      continue;
    }
    /* the node's inputs and outputs: on the stack, or on the heap for a node with more (a Concat
     * of a detector's many branches) */
    const cquant_array_t *in_s[MAX_IO];
    value_t *src_s[MAX_IO];
    int local_s[MAX_IO], has_container = 0;
    cquant_array_t out_s[MAX_IO];
    const cquant_array_t **in = in_s;
    value_t **src = src_s;
    int *local = local_s;
    cquant_array_t *out = out_s;
    void *heap = NULL;
    if (n->n_input > MAX_IO || n->n_output > MAX_IO) {
      const size_t ni = n->n_input, no = n->n_output;
      heap = calloc(1, ni * (sizeof *in + sizeof *src + sizeof *local) + no * sizeof *out + 64);
      if (!heap) { st = cquant__node_error(n, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory for %zu inputs", ni); break; }
      out = heap; /* the widest alignment first */
      in = (const cquant_array_t **)(out + no);
      src = (value_t **)(in + ni);
      local = (int *)(src + ni);
    } else {
      memset(in, 0, sizeof in_s), memset(src, 0, sizeof src_s), memset(local, 0, sizeof local_s);
      memset(out, 0, sizeof out[0] * (n->n_output > 8 ? n->n_output : 8));
    }
    for (size_t k = 0; k < n->n_input && !st; k++) {
      if (!n->input[k] || !*n->input[k]) continue; /* an omitted optional input */
      value_t *x = lookup(s, n->input[k], &local[k]);
      if (!x) st = cquant__node_error(n, CQUANT_STATUS_BAD_FORMAT, "input '%s' is not computed before this node", n->input[k]);
      else in[k] = &x->a, src[k] = x, has_container |= cquant__is_container(x->a.dtype);
    }
    if (st) { free(heap); break; }
    struct timespec t0, t1;
    if (profile) clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t cmask = 0;
    for (size_t k = 0; k < n->n_input && k < 32 && top; k++)
      if (src[k] && src[k]->is_init) cmask |= 1u << k;
    cquant__opctx_t ctx = {(cquant_onnx_model_t *)m, top ? (int)i : -1, cmask, s, subs ? subs[i] : NULL, 0};
    /* a Conv with the Add and activation after it folded in (conv_fuse.h): not when values are
     * observed; the folded nodes' values are never stored, the last one's output is the result */
    cquant__conv_epi_t epi;
    /* a top-level Constant: its value made once per model, then bound as a borrowed constant */
    const int const_node = top && ops[i]->fn == cquant__op_tensor_constant && n->n_output == 1;
    const size_t nf = top && !observe && !has_container && ops[i]->fn == cquant__op_nn_conv
                          ? (size_t)cquant__conv_fuse_plan(g, i, last_use, cquant__opset(&ctx), in, (int)n->n_input, get_value, s, &epi, folded + n_folded)
                          : 0;
    if (has_container && !ops[i]->containers)
      st = cquant__node_error(n, CQUANT_STATUS_INVALID_ARGUMENT, "an input is a sequence or optional; this operator takes tensors");
    else if (nf) st = cquant__op_conv_epi(&ctx, n, in, (int)n->n_input, out, (int)n->n_output, &epi);
    else if (const_node) st = constant_value(&ctx, n, &out[0]);
    else st = ops[i]->fn(&ctx, n, in, (int)n->n_input, out, (int)n->n_output);
    if (profile) {
      clock_gettime(CLOCK_MONOTONIC, &t1);
      profile(opt->profile_user, n->name && *n->name ? n->name : (n->n_output ? n->output[0] : "?"), n->op_type,
              1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    if (st && strncmp(cquant_last_error(), "node '", 6)) { /* a helper's error: say which node */
      char where[256];
      snprintf(where, sizeof where, "node '%s' (%s)", n->name && *n->name ? n->name : (n->n_output ? n->output[0] : "?"), n->op_type);
      cquant__error_prefix(st, where);
    }
    for (size_t k = 0; k < n->n_output; k++) {
      if (st) { cquant_array_free(&out[k]); continue; }
      const Onnx__NodeProto *at = nf ? g->node[folded[n_folded + nf - 1]] : n; /* folded: the last folded node's one output */
      bind(s, (value_t){at->output[k] ? at->output[k] : "", out[k], !const_node, const_node});
      if (observe && !cquant__is_container(out[k].dtype) && n->output[k] && *n->output[k] && !st) st = observe(user, n->output[k], &out[k]);
    }
    /* free every intermediate this node read for the last time: memory stays bounded by what is
     * live, not by the size of the graph (values of enclosing scopes are theirs to free) */
    for (size_t k = 0; k < n->n_input && !st; k++) {
      value_t *x = src[k];
      if (x && local[k] && x->owned && k < 32 && (last_use[i] >> k & 1)) { /* later inputs: freed with the scope */
        cquant_array_free(&x->a);
        x->owned = 0;
        x->name = "";
      }
    }
    n_folded += nf;
    free(heap);
  }
  return st;
}

/* Moves or copies the graph's outputs out of scope s (every output freed on error). */
static int take_outputs(struct cquant__scope *s, int n, const char *const *names, cquant_array_t *outputs) {
  int st = CQUANT_STATUS_OK;
  for (int i = 0; i < n && !st; i++) {
    int local = 0;
    value_t *x = lookup(s, names[i], &local);
    if (!x) { st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "graph output '%s' is never computed", names[i]); break; }
    if (local && x->owned) { /* hand it over */
      outputs[i] = x->a;
      x->owned = 0;
      memset(&x->a, 0, sizeof x->a);
      x->name = "";
    } else st = cquant__array_copy(&x->a, &outputs[i]);
  }
  if (st)
    for (int i = 0; i < n; i++) cquant_array_free(&outputs[i]);
  return st;
}

static void scope_free(struct cquant__scope *s) {
  for (int i = 0; s->v && i < s->nv; i++)
    if (s->v[i].owned) cquant_array_free(&s->v[i].a);
  free(s->v), free(s->hkey), free(s->hidx);
}

static const cquant__body_t *find_body(const cquant__opctx_t *ctx, const char *attr) {
  for (cquant__body_t *const *p = ctx ? ctx->subs : NULL; p && *p; p++)
    if (!strcmp((*p)->attr, attr)) return *p;
  return NULL;
}

int cquant__subgraph_arity(const cquant__opctx_t *ctx, const char *attr, int *n_in, int *n_out) {
  const cquant__body_t *b = find_body(ctx, attr);
  *n_in = b ? (int)b->g->n_input : -1;
  *n_out = b ? (int)b->g->n_output : -1;
  return b ? 0 : -1;
}

int cquant__subgraph_run(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const char *attr, int n_in, const cquant_array_t *const *in,
                         int n_out, cquant_array_t *out) {
  for (int i = 0; i < n_out; i++) memset(&out[i], 0, sizeof out[i]);
  const cquant__body_t *b = find_body(ctx, attr);
  if (!b || !ctx->scope) return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "attribute '%s' (a graph) is missing", attr);
  const Onnx__GraphProto *g = b->g;
  if ((int)g->n_input != n_in || (int)g->n_output != n_out)
    return cquant__node_error(node, CQUANT_STATUS_BAD_FORMAT, "subgraph '%s' has %zu inputs and %zu outputs (%d and %d expected)", attr, g->n_input,
                              g->n_output, n_in, n_out);
  size_t cap = (size_t)b->n_inits + (size_t)n_in + 1;
  for (size_t i = 0; i < g->n_node; i++) cap += g->node[i]->n_output;
  struct cquant__scope s;
  if (scope_init(&s, cap, ctx->scope)) {
    scope_free(&s);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx run: out of memory");
  }
  for (int i = 0; i < b->n_inits; i++) bind(&s, (value_t){b->init_names[i], b->inits[i], 0, 1});
  for (int i = 0; i < n_in; i++) {
    const char *name = g->input[i]->name ? g->input[i]->name : "";
    if (in[i]) bind(&s, (value_t){name, *in[i], 0, 0});
  }
  int st = run_nodes(ctx->m, g, b->ops, b->last_use, (cquant__body_t **const *)b->subs, &s, NULL, 0);
  const char *names[64];
  if (!st && n_out > 64) st = cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "subgraph '%s' has more than 64 outputs", attr);
  for (int i = 0; i < n_out && !st; i++) names[i] = g->output[i]->name ? g->output[i]->name : "";
  if (!st) st = take_outputs(&s, n_out, names, out);
  scope_free(&s);
  return st;
}

int cquant_onnx_run(const cquant_onnx_model_t *m, int n_inputs, const char *const *names, const cquant_array_t *inputs,
                    cquant_array_t *outputs) {
  return cquant_onnx_run_observed(m, n_inputs, names, inputs, outputs, NULL, NULL);
}

int cquant_onnx_run_observed(const cquant_onnx_model_t *m, int n_inputs, const char *const *names, const cquant_array_t *inputs,
                             cquant_array_t *outputs, cquant_onnx_observe_fn observe, void *user) {
  const cquant_onnx_run_options_t opt = {observe, user, NULL, NULL};
  return cquant_onnx_run_ex(m, n_inputs, names, inputs, outputs, &opt);
}

int cquant_onnx_run_ex(const cquant_onnx_model_t *m, int n_inputs, const char *const *names, const cquant_array_t *inputs,
                       cquant_array_t *outputs, const cquant_onnx_run_options_t *opt) {
  const cquant_onnx_observe_fn observe = opt ? opt->observe : NULL;
  void *const user = opt ? opt->observe_user : NULL;
  if (!m || !outputs || (n_inputs && (!names || !inputs))) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx run: NULL argument");
  const Onnx__GraphProto *g = m->g;
  memset(outputs, 0, sizeof(cquant_array_t) * (size_t)m->n_outputs);
  size_t cap = (size_t)m->n_inits + (size_t)m->n_inputs + 1; /* one binding per graph input */
  for (size_t i = 0; i < g->n_node; i++) cap += g->node[i]->n_output;
  struct cquant__scope s;
  if (scope_init(&s, cap, NULL)) {
    scope_free(&s);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx run: out of memory");
  }
  int st = CQUANT_STATUS_OK;
  for (int i = 0; i < m->n_inits; i++) bind(&s, (value_t){m->init_names[i], m->inits[i], 0, 1});
  for (int i = 0; i < m->n_inputs && !st; i++) {
    int found = -1;
    for (int j = 0; j < n_inputs; j++)
      if (!strcmp(names[j], m->inputs[i])) found = j;
    if (found < 0) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "graph input '%s' is not given", m->inputs[i]);
    else if (m->input_types[i] == CQUANT_DT_OPTIONAL && inputs[found].dtype != CQUANT_DT_OPTIONAL && cquant_dtype_info(inputs[found].dtype)) {
      /* a tensor or sequence given for an optional input: an optional that holds a copy of it */
      cquant_array_t o;
      if (!(st = cquant__opt_alloc(&o, 1)) && (st = cquant__array_copy(&inputs[found], &cquant__elems(&o)[0]))) cquant_array_free(&o);
      if (!st) bind(&s, (value_t){m->inputs[i], o, 1, 0});
    } else if (m->input_types[i] >= 0 && (int)inputs[found].dtype != m->input_types[i])
      st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "graph input '%s' must be %s, got %s", m->inputs[i],
                         cquant_dtype_info((cquant_dtype_t)m->input_types[i])->name,
                         cquant_dtype_info(inputs[found].dtype) ? cquant_dtype_info(inputs[found].dtype)->name : "an unknown type");
    else if (!cquant_dtype_info(inputs[found].dtype))
      st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "graph input '%s' has an unknown element type", m->inputs[i]);
    else {
      bind(&s, (value_t){m->inputs[i], inputs[found], 0, 0});
      if (observe && !cquant__is_container(inputs[found].dtype)) st = observe(user, m->inputs[i], &inputs[found]);
    }
  }
  for (int j = 0; j < n_inputs && !st; j++) {
    int known = 0;
    for (int i = 0; i < m->n_inputs; i++) known |= !strcmp(names[j], m->inputs[i]);
    if (!known) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "'%s' is not an input of the graph", names[j]);
  }
  if (!st) cquant__par_blas_enter(); /* every BLAS call of the run single-threaded (conv_par.h) */
  if (!st) st = run_nodes(m, g, m->ops, m->last_use, m->subs, &s, opt, 1);
  if (!st) st = take_outputs(&s, m->n_outputs, m->outputs, outputs);
  scope_free(&s);
  return st;
}
