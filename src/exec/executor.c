/* The executor: nodes run in graph order (ONNX requires topological order), values are looked up
 * by name, and every intermediate is freed after its last reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "exec/exec_internal.h"

int cquant__input_is_const(const cquant__opctx_t *ctx, int k) { return ctx && ctx->m && k >= 0 && k < 32 && (ctx->const_mask >> k & 1); }

void *cquant__cache_get(cquant__opctx_t *ctx, const void *key) {
  if (!ctx || !ctx->m) return NULL;
  pthread_mutex_lock(&ctx->m->lock);
  cquant__slot_t *s = &ctx->m->slots[ctx->node];
  void *v = s->key == key ? s->val : NULL;
  pthread_mutex_unlock(&ctx->m->lock);
  return v;
}

void *cquant__cache_put(cquant__opctx_t *ctx, const void *key, void *val, void (*fr)(void *)) {
  if (!ctx || !ctx->m) return NULL; /* not cacheable: the caller keeps and frees val */
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
  const cquant_onnx_run_options_t opt = {observe, user, NULL, NULL};
  return cquant_onnx_run_ex(m, n_inputs, names, inputs, outputs, &opt);
}

int cquant_onnx_run_ex(const cquant_onnx_model_t *m, int n_inputs, const char *const *names, const cquant_array_t *inputs,
                       cquant_array_t *outputs, const cquant_onnx_run_options_t *opt) {
  const cquant_onnx_observe_fn observe = opt ? opt->observe : NULL;
  void *const user = opt ? opt->observe_user : NULL;
  const cquant_onnx_profile_fn profile = opt ? opt->profile : NULL;
  if (!m || !outputs || (n_inputs && (!names || !inputs))) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "onnx run: NULL argument");
  const Onnx__GraphProto *g = m->g;
  memset(outputs, 0, sizeof(cquant_array_t) * (size_t)m->n_outputs);
  size_t cap = (size_t)m->n_inits + (size_t)n_inputs + 1;
  for (size_t i = 0; i < g->n_node; i++) cap += g->node[i]->n_output;
  value_t *v = calloc(cap, sizeof *v);
  if (!v) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "onnx run: out of memory");
  int nv = 0, st = CQUANT_STATUS_OK;
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
    cquant__opctx_t ctx = {(cquant_onnx_model_t *)m, (int)i, cmask};
    st = m->ops[i]->fn(&ctx, n, in, (int)n->n_input, out, (int)n->n_output);
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
