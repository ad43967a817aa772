/* Per-node overrides (include/cquant/ptq.h, docs/onnx.md "Per-node overrides"): a JSON file read
 * with cJSON into a list of nodes and what each one gets, checked here for its form and values,
 * and applied by cquant_ptq_create to the session's layers (where the node names are checked
 * against the model). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/io.h"
#include "exec/exec_internal.h"
#include "ptq/ptq_internal.h"

typedef struct {
  char *node;
  int exclude;              /* -1: not given */
  int has_wdt;
  cquant_dtype_t wdt;
  int gran;                 /* -1: not given; 0 channel, 1 tensor, 2 group */
  int64_t group;
  int has_method;
  cquant_calib_method_t method;
  double param;             /* NaN: the method's default */
  const char *first_weight_key, *first_act_key;
} node_ovr_t;

struct cquant_ptq_overrides {
  int n;
  node_ovr_t *node;
};

void cquant_ptq_overrides_free(cquant_ptq_overrides_t *ov) {
  if (!ov) return;
  for (int i = 0; i < ov->n; i++) free(ov->node[i].node);
  free(ov->node);
  free(ov);
}

int cquant__ptq_overrides_copy(const cquant_ptq_overrides_t *ov, cquant_ptq_overrides_t **out) {
  *out = NULL;
  if (!ov) return 0;
  cquant_ptq_overrides_t *c = calloc(1, sizeof *c);
  if (!c || !(c->node = calloc((size_t)ov->n + 1, sizeof *c->node))) {
    free(c);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "overrides: out of memory");
  }
  for (int i = 0; i < ov->n; i++) {
    c->node[i] = ov->node[i]; /* the key names are string literals (lit) */
    if (!(c->node[i].node = strdup(ov->node[i].node))) {
      cquant_ptq_overrides_free(c);
      return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "overrides: out of memory");
    }
    c->n++;
  }
  *out = c;
  return 0;
}

int cquant_ptq_overrides_count(const cquant_ptq_overrides_t *ov) { return ov ? ov->n : 0; }

#define KEYS "exclude, weights, weight_bits, granularity, group, act_method, percentile, ema_constant"

static int bad(const char *src, const char *node, const char *key, const char *why) {
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: node '%.200s': '%.64s' %s", src, node, key, why);
}

/* "group:G" or a number G: 16..256. */
static int group_value(const char *src, const char *node, const char *key, const cJSON *v, int64_t *G) {
  double d = NAN;
  if (cJSON_IsNumber(v)) d = v->valuedouble;
  else if (cJSON_IsString(v) && !strncmp(v->valuestring, "group:", 6)) {
    char *end;
    d = strtod(v->valuestring + 6, &end);
    if (end == v->valuestring + 6 || *end) d = NAN;
  }
  if (!(d >= 16 && d <= 256) || d != floor(d)) return bad(src, node, key, "must be a group size G in 16..256 (a number, or \"group:G\" for granularity)");
  *G = (int64_t)d;
  return 0;
}

/* The literal of a known key (the parsed text is freed before the keys are used in messages). */
static const char *lit(const char *key) {
  static const char *const keys[] = {"weights", "weight_bits", "granularity", "group", "act_method", "percentile", "ema_constant"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!strcmp(keys[i], key)) return keys[i];
  return "?";
}

static int parse_node(const char *src, const cJSON *item, node_ovr_t *o) {
  const char *node = item->string;
  o->exclude = -1, o->gran = -1, o->param = NAN;
  if (!cJSON_IsObject(item)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: node '%.200s': expected an object of settings (" KEYS ")", src, node);
  int bits = 0;
  const char *param_key = NULL;
  for (const cJSON *k = item->child; k; k = k->next) {
    const char *key = k->string;
    for (const cJSON *j = item->child; j != k; j = j->next)
      if (!strcmp(j->string, key)) return bad(src, node, key, "is given twice");
    if (!strcmp(key, "exclude")) {
      if (!cJSON_IsBool(k)) return bad(src, node, key, "must be true or false");
      o->exclude = cJSON_IsTrue(k);
    } else if (!strcmp(key, "weights")) {
      static const char *const names[] = {"int8", "int4", "uint4", "int2"};
      static const cquant_dtype_t dts[] = {CQUANT_DT_S8, CQUANT_DT_S4, CQUANT_DT_U4, CQUANT_DT_S2};
      int f = -1;
      for (int t = 0; t < 4 && cJSON_IsString(k); t++)
        if (!strcmp(k->valuestring, names[t])) f = t;
      if (f < 0) return bad(src, node, key, "must be \"int8\", \"int4\", \"uint4\" or \"int2\"");
      if (o->has_wdt && o->wdt != dts[f] && !(dts[f] == CQUANT_DT_U4 && bits == 4)) return bad(src, node, key, "contradicts weight_bits");
      o->has_wdt = 1, o->wdt = dts[f];
      o->first_weight_key = o->first_weight_key ? o->first_weight_key : lit(key);
    } else if (!strcmp(key, "weight_bits")) {
      if (!cJSON_IsNumber(k) || (k->valuedouble != 8 && k->valuedouble != 4 && k->valuedouble != 2)) return bad(src, node, key, "must be 8, 4 or 2");
      const cquant_dtype_t dt = k->valuedouble == 8 ? CQUANT_DT_S8 : k->valuedouble == 4 ? CQUANT_DT_S4 : CQUANT_DT_S2;
      bits = (int)k->valuedouble;
      if (o->has_wdt && o->wdt != dt && !(o->wdt == CQUANT_DT_U4 && bits == 4)) return bad(src, node, key, "contradicts weights");
      if (!o->has_wdt) o->has_wdt = 1, o->wdt = dt;
      o->first_weight_key = o->first_weight_key ? o->first_weight_key : lit(key);
    } else if (!strcmp(key, "granularity")) {
      int gr = -1;
      int64_t G = 0;
      if (cJSON_IsString(k) && !strcmp(k->valuestring, "channel")) gr = 0;
      else if (cJSON_IsString(k) && !strcmp(k->valuestring, "tensor")) gr = 1;
      else if (cJSON_IsString(k) && !strncmp(k->valuestring, "group:", 6)) {
        int st = group_value(src, node, key, k, &G);
        if (st) return st;
        gr = 2;
      } else return bad(src, node, key, "must be \"channel\", \"tensor\" or \"group:G\" (G in 16..256)");
      if (o->gran >= 0 && (o->gran != gr || (gr == 2 && G != o->group))) return bad(src, node, key, "contradicts group");
      o->gran = gr, o->group = G;
      o->first_weight_key = o->first_weight_key ? o->first_weight_key : lit(key);
    } else if (!strcmp(key, "group")) {
      int64_t G;
      int st = group_value(src, node, key, k, &G);
      if (st) return st;
      if (o->gran >= 0 && (o->gran != 2 || G != o->group)) return bad(src, node, key, "contradicts granularity");
      o->gran = 2, o->group = G;
      o->first_weight_key = o->first_weight_key ? o->first_weight_key : lit(key);
    } else if (!strcmp(key, "act_method")) {
      cquant_calib_method_t m;
      if (!cJSON_IsString(k) || cquant_calib_method_from_name(k->valuestring, &m))
        return bad(src, node, key, "must be \"minmax\", \"ema\", \"percentile\", \"entropy\" or \"mse\"");
      o->has_method = 1, o->method = m;
      o->first_act_key = o->first_act_key ? o->first_act_key : lit(key);
    } else if (!strcmp(key, "percentile") || !strcmp(key, "ema_constant")) {
      const int pct = key[0] == 'p';
      if (!cJSON_IsNumber(k) || !(pct ? k->valuedouble > 0 && k->valuedouble <= 100 : k->valuedouble > 0 && k->valuedouble <= 1))
        return bad(src, node, key, pct ? "must be a number in (0, 100]" : "must be a number in (0, 1]");
      if (param_key) return bad(src, node, key, "and the other method parameter cannot both be given");
      param_key = key, o->param = k->valuedouble;
      o->first_act_key = o->first_act_key ? o->first_act_key : lit(key);
    } else
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: node '%.200s': unknown key '%.64s' (" KEYS ")", src, node, key);
  }
  if (param_key) { /* the parameter names its method; with act_method it must be that one */
    const cquant_calib_method_t m = param_key[0] == 'p' ? CQUANT_CALIB_PERCENTILE : CQUANT_CALIB_EMA;
    if (o->has_method && o->method != m)
      return bad(src, node, param_key, o->method == CQUANT_CALIB_PERCENTILE || o->method == CQUANT_CALIB_EMA ? "belongs to the other act_method" : "is a parameter of another act_method");
    o->has_method = 1, o->method = m;
  }
  if (o->has_wdt && o->wdt == CQUANT_DT_U4 && bits && bits != 4) return bad(src, node, "weight_bits", "contradicts weights");
  if (o->exclude == 1 && (o->first_weight_key || o->first_act_key))
    return bad(src, node, o->first_weight_key ? o->first_weight_key : o->first_act_key, "does not apply: the node is excluded (kept in float)");
  if (o->exclude < 0 && !o->first_weight_key && !o->first_act_key)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: node '%.200s': no settings (" KEYS ")", src, node);
  return 0;
}

static int parse(const char *src, const char *json, size_t len, cquant_ptq_overrides_t **out) {
  *out = NULL;
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    const size_t off = at && at >= json && at <= json + len ? (size_t)(at - json) : 0;
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: malformed JSON near byte %zu", src, off);
  }
  int st = 0;
  const cJSON *nodes = NULL;
  if (!cJSON_IsObject(root)) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: expected an object {\"nodes\": {...}}", src);
  for (const cJSON *k = cJSON_IsObject(root) ? root->child : NULL; k && !st; k = k->next) {
    if (strcmp(k->string, "nodes")) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: unknown key '%.64s' (the file holds \"nodes\")", src, k->string);
    else if (nodes) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: \"nodes\" is given twice", src);
    else if (!cJSON_IsObject(k)) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: \"nodes\" must be an object of node names", src);
    else nodes = k;
  }
  if (!st && !nodes) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: no \"nodes\" object", src);
  cquant_ptq_overrides_t *ov = st ? NULL : calloc(1, sizeof *ov);
  if (!st && !ov) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "overrides: out of memory");
  int n = 0;
  for (const cJSON *k = nodes ? nodes->child : NULL; k && !st; k = k->next) n++;
  if (ov && n && !(ov->node = calloc((size_t)n, sizeof *ov->node))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "overrides: out of memory");
  for (const cJSON *k = nodes ? nodes->child : NULL; k && !st; k = k->next) {
    for (int i = 0; i < ov->n && !st; i++)
      if (!strcmp(ov->node[i].node, k->string)) st = cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s: node '%.200s' is given twice", src, k->string);
    if (st) break;
    node_ovr_t *o = &ov->node[ov->n];
    if ((st = parse_node(src, k, o))) break;
    if (!(o->node = strdup(k->string))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "overrides: out of memory");
    else ov->n++;
  }
  cJSON_Delete(root);
  if (st) {
    cquant_ptq_overrides_free(ov);
    return st;
  }
  *out = ov;
  return 0;
}

int cquant_ptq_overrides_parse(const char *json, size_t len, cquant_ptq_overrides_t **out) {
  if (!json || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "overrides: NULL argument");
  return parse("overrides", json, len, out);
}

int cquant_ptq_overrides_load(const char *path, cquant_ptq_overrides_t **out) {
  if (!path || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "overrides: NULL argument");
  *out = NULL;
  void *buf;
  size_t len;
  int st = cquant_file_read(path, &buf, &len);
  if (st) return cquant__error_prefix(st, path);
  st = parse(path, buf, len, out);
  free(buf);
  return st;
}

/* ---- applying them to a session ------------------------------------------------------------- */

int cquant__ptq_apply_overrides(cquant_ptq_t *p, const cquant__graph_t *g) {
  const cquant_ptq_overrides_t *ov = p->opt.overrides;
  for (int k = 0; k < ov->n; k++) {
    const node_ovr_t *o = &ov->node[k];
    const int li = cquant__ptq_layer_index(p, o->node);
    if (li < 0) {
      const Onnx__NodeProto *nd = NULL;
      for (int i = 0; i < g->n_node && !nd; i++)
        if (g->node[i] && !strcmp(cquant__node_label(g->node[i]), o->node)) nd = g->node[i];
      if (!nd) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "overrides: node '%.200s' is not in the model", o->node);
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT,
                           "overrides: node '%.200s' (%s) is not a quantized layer (Conv, Gemm, MatMul, Add, GlobalAveragePool; "
                           "--quantize-ops adds LayerNormalization, Softmax, Gelu, ...)",
                           o->node, nd->op_type);
    }
    cquant__ptq_layer_t *L = &p->layer[li];
    if (o->first_weight_key && !L->weight)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "overrides: node '%.200s' (%s) has no weights: '%s' does not apply", o->node, L->op,
                           o->first_weight_key);
    if (o->first_weight_key && p->opt.weight_dtype == CQUANT_DT_F8E4M3)
      return cquant__error(CQUANT_STATUS_UNSUPPORTED, "overrides: node '%.200s': per-node weight settings are for integer weights (the run writes fp8e4m3)", o->node);
    L->overridden = 1;
    if (o->exclude >= 0) L->excluded = o->exclude;
    if (o->has_wdt) L->w_dtype = o->wdt;
    if (o->gran >= 0) L->w_group = o->gran == 2 ? o->group : 0, L->w_per_tensor = o->gran == 1;
    if (!o->has_method) continue;
    if (p->opt.act != CQUANT_PTQ_ACT_INT8 && p->opt.act != CQUANT_PTQ_ACT_FP8E4M3)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "overrides: node '%.200s': 'act_method' does not apply: activations stay float", o->node);
    cquant__ptq_act_t *a = NULL;
    for (int i = 0; i < p->n_act && !a; i++)
      if (!strcmp(p->act[i].name, L->output)) a = &p->act[i];
    if (!a || cquant__graph_is_output(g, L->output))
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "overrides: node '%.200s': 'act_method' does not apply: its output '%.200s' is a graph output (kept float)",
                           o->node, L->output);
    if (a->fixed)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "overrides: node '%.200s': 'act_method' does not apply: a quantized Softmax's output has the fixed range [0, 1]", o->node);
    cquant_calib_config_t cfg;
    cquant_calib_config_default(&cfg, o->method);
    cfg.dtype = cquant__ptq_act_dtype(p);
    cfg.flags = cquant__ptq_act_flags(p);
    if (o->method == CQUANT_CALIB_PERCENTILE) cfg.percentile = isnan(o->param) ? p->opt.percentile : o->param;
    if (o->method == CQUANT_CALIB_EMA && !isnan(o->param)) cfg.ema_constant = o->param;
    cquant_observer_destroy(a->own);
    a->own = NULL;
    int st = cquant_observer_create(&cfg, &a->own);
    if (st) return cquant__error_prefix(st, o->node);
    a->own_method = o->method;
    a->own_param = o->method == CQUANT_CALIB_PERCENTILE ? cfg.percentile : o->method == CQUANT_CALIB_EMA ? cfg.ema_constant : NAN;
  }
  return 0;
}
