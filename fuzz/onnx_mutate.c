/* The ONNX fuzz harness: structure-aware mutation of ModelProtos and a runner (onnx_mutate.h).
 * The mutator edits the message protobuf-c decoded, in protobuf-c's own representation: every string,
 * array and sub-message it replaces or drops is freed, and what it adds is malloc'd, so that
 * onnx__model_proto__free_unpacked frees the result (protobuf-c's default allocator is malloc). */
#include "onnx_mutate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/cquant.h"
#include "exec/exec_internal.h"
#include "exec/ops/control_internal.h"
#include "onnx/onnx_internal.h"

/* ------------------------------------------------------------------------------------ the runner */

void cquant_fuzz_onnx_limits(void) {
  cquant_array_set_limit((size_t)16 << 20);
  cquant__loop_max_iters_log2 = 10;
}

static uint32_t hash_str(uint32_t h, const char *s) {
  for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* Small values every type can hold and index operators accept: 0..3 for integers, quarter steps
 * in [-1.5, 1.5] for floats. */
static void fill(cquant_array_t *a, uint32_t salt) {
  const int64_t n = a->numel;
  const size_t es = n ? a->nbytes / (size_t)n : 0;
  for (int64_t k = 0; k < n; k++) {
    const uint32_t r = (uint32_t)k * 2654435761u + salt;
    const int v = (int)((r >> 8) % 4);
    const float f = (float)((int)((r >> 12) % 13) - 6) * 0.25f;
    void *p = (char *)a->data + (size_t)k * es;
    switch (a->dtype) {
      case CQUANT_DT_F32: *(float *)p = f; break;
      case CQUANT_DT_F64: *(double *)p = f; break;
      case CQUANT_DT_F16: *(uint16_t *)p = (uint16_t[]){0x3c00, 0xbc00, 0x3800, 0}[v]; break;
      case CQUANT_DT_BF16: *(uint16_t *)p = (uint16_t[]){0x3f80, 0xbf80, 0x3f00, 0}[v]; break;
      case CQUANT_DT_BOOL: *(uint8_t *)p = (uint8_t)(v & 1); break;
      case CQUANT_DT_S16: case CQUANT_DT_U16: *(uint16_t *)p = (uint16_t)v; break;
      case CQUANT_DT_S32: case CQUANT_DT_U32: *(uint32_t *)p = (uint32_t)v; break;
      case CQUANT_DT_S64: case CQUANT_DT_U64: *(uint64_t *)p = (uint64_t)v; break;
      default: if (es == 1) *(uint8_t *)p = (uint8_t)v; break; /* 8-bit types; packed types stay zero */
    }
  }
}

/* The value of graph input i: its declared type (float32 when undeclared), its declared shape with
 * symbolic dimensions set to 1..4 by name (the same name, the same size), rank 1 when undeclared.
 * Sequences get two float32 tensors of 3 elements, optionals no value. */
static int make_input(const cquant_onnx_model_t *m, int i, uint32_t model_salt, cquant_array_t *a) {
  const uint32_t salt = model_salt + (uint32_t)i * 977u;
  const int t = m->input_types[i];
  if (t == CQUANT_DT_OPTIONAL) return cquant__opt_alloc(a, 0);
  if (t == CQUANT_DT_SEQUENCE) {
    int st = cquant__seq_alloc(a, 2);
    const int64_t three = 3;
    for (int k = 0; k < 2 && !st; k++)
      if (!(st = cquant_array_alloc(&cquant__elems(a)[k], CQUANT_DT_F32, 1, &three))) fill(&cquant__elems(a)[k], salt + (uint32_t)k);
    if (st) cquant_array_free(a);
    return st;
  }
  const Onnx__ValueInfoProto *v = NULL;
  for (size_t k = 0; k < m->g->n_input && !v; k++)
    if (m->g->input[k]->name && !strcmp(m->g->input[k]->name, m->inputs[i])) v = m->g->input[k];
  int64_t shape[CQUANT_MAX_DIMS], numel = 1;
  int ndim = 1;
  shape[0] = 3;
  const Onnx__TensorShapeProto *sh = v && v->type && v->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && v->type->tensor_type
                                         ? v->type->tensor_type->shape
                                         : NULL;
  if (sh) {
    if (sh->n_dim > CQUANT_MAX_DIMS) return -1;
    ndim = (int)sh->n_dim;
    for (int d = 0; d < ndim; d++) {
      const Onnx__TensorShapeProto__Dimension *dm = sh->dim[d];
      if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) shape[d] = dm->dim_value;
      else if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) shape[d] = 1 + hash_str(model_salt, dm->dim_param) % 4;
      else shape[d] = 1 + (salt + (uint32_t)d) % 4;
      if (shape[d] < 0 || shape[d] > (1 << 16)) return -1;
      numel *= shape[d];
      if (numel > (1 << 16)) return -1;
    }
  }
  if (cquant_array_alloc(a, t >= 0 ? (cquant_dtype_t)t : CQUANT_DT_F32, ndim, shape)) return -1;
  fill(a, salt);
  return 0;
}

/* Runs m on in; -1 (with why) when an error left outputs behind or came without a message. */
static int run_checked(const cquant_onnx_model_t *m, const char *const *names, const cquant_array_t *in, long *ok, const char **why) {
  const int no = cquant_onnx_num_outputs(m);
  cquant_array_t *out = calloc((size_t)no + 1, sizeof *out);
  if (!out) return 0;
  int bad = 0;
  cquant__error(CQUANT_STATUS_OK, "%s", ""); /* so that a failure without a message shows */
  if (cquant_onnx_run(m, cquant_onnx_num_inputs(m), names, in, out) == 0) {
    ++*ok;
    for (int i = 0; i < no; i++) cquant_array_free(&out[i]);
  } else {
    for (int i = 0; i < no; i++)
      if (out[i].data) bad = 1, *why = "a failed run left an output allocated";
    if (!cquant_last_error()[0]) bad = 1, *why = "a failed run set no message";
  }
  free(out);
  return bad ? -1 : 0;
}

int cquant_fuzz_onnx_exec(const uint8_t *data, size_t size, cquant_fuzz_onnx_stats_t *stats, const char **why) {
  cquant_fuzz_onnx_stats_t local;
  const char *dummy;
  if (!stats) stats = &local;
  if (!why) why = &dummy;
  *why = "";
  stats->runs++;
  cquant_onnx_model_t *m;
  cquant__error(CQUANT_STATUS_OK, "%s", "");
  if (cquant_onnx_load_buffer(data, size, &m)) {
    if (!cquant_last_error()[0]) return *why = "a refused model set no message", -1;
    return 0;
  }
  stats->loaded++;
  const int ni = cquant_onnx_num_inputs(m);
  cquant_array_t *in = calloc((size_t)ni + 1, sizeof *in);
  const char **names = calloc((size_t)ni + 1, sizeof *names);
  uint32_t salt = 2166136261u;
  for (size_t k = 0; k < size && k < 64; k++) salt = (salt ^ data[size - 1 - k]) * 16777619u; /* varies with the mutation */
  int fed = in && names, bad = 0;
  for (int i = 0; i < ni && fed; i++) {
    names[i] = cquant_onnx_input_name(m, i);
    if (make_input(m, i, salt, &in[i])) fed = 0;
  }
  if (fed) {
    stats->fed++;
    bad |= run_checked(m, names, in, &stats->ran, why);
    cquant_onnx_model_t *im;
    cquant__error(CQUANT_STATUS_OK, "%s", "");
    if (cquant_onnx_integerize(m, &im, NULL) == 0) {
      stats->integer++;
      bad |= run_checked(im, names, in, &stats->ran_int, why);
      cquant_onnx_free(im);
    } else if (!cquant_last_error()[0]) {
      bad = 1, *why = "a failed integerize set no message";
    }
  }
  for (int i = 0; in && i < ni; i++) cquant_array_free(&in[i]);
  free(in), free(names);
  cquant_onnx_free(m);
  return bad ? -1 : 0;
}

/* ----------------------------------------------------------------------------------- the mutator */

typedef struct {
  uint64_t s;
} rng_t;

static uint32_t rnd(rng_t *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (uint32_t)((z ^ (z >> 31)) >> 16);
}
static uint32_t below(rng_t *r, size_t n) { return n ? (uint32_t)(rnd(r) % n) : 0; }

#define CAP 4096
typedef struct {
  rng_t r;
  Onnx__ModelProto *mp;
  Onnx__GraphProto *graphs[256];
  int ng;
  Onnx__NodeProto *nodes[CAP];
  Onnx__GraphProto *node_graph[CAP];
  int nn;
  Onnx__AttributeProto *attrs[CAP];
  Onnx__NodeProto *attr_node[CAP];
  int na;
  Onnx__TensorProto *tensors[CAP];
  int nt;
  Onnx__ValueInfoProto *vis[CAP];
  int nv;
  const char *names[CAP]; /* value names: graph inputs, initializers, node outputs (borrowed) */
  int nnames;
} walk_t;

static void walk_graph(walk_t *w, Onnx__GraphProto *g, int depth) {
  if (!g || depth > 8 || w->ng >= 256) return;
  w->graphs[w->ng++] = g;
  for (size_t i = 0; i < g->n_initializer; i++) {
    if (w->nt < CAP) w->tensors[w->nt++] = g->initializer[i];
    if (w->nnames < CAP && g->initializer[i]->name) w->names[w->nnames++] = g->initializer[i]->name;
  }
  Onnx__ValueInfoProto **lists[3] = {g->input, g->output, g->value_info};
  const size_t counts[3] = {g->n_input, g->n_output, g->n_value_info};
  for (int l = 0; l < 3; l++)
    for (size_t i = 0; i < counts[l]; i++) {
      if (w->nv < CAP) w->vis[w->nv++] = lists[l][i];
      if (l == 0 && w->nnames < CAP && lists[l][i]->name) w->names[w->nnames++] = lists[l][i]->name;
    }
  for (size_t i = 0; i < g->n_node; i++) {
    Onnx__NodeProto *n = g->node[i];
    if (w->nn < CAP) w->nodes[w->nn] = n, w->node_graph[w->nn++] = g;
    for (size_t k = 0; k < n->n_output; k++)
      if (w->nnames < CAP && n->output[k] && *n->output[k]) w->names[w->nnames++] = n->output[k];
    for (size_t k = 0; k < n->n_attribute; k++) {
      Onnx__AttributeProto *a = n->attribute[k];
      if (w->na < CAP) w->attrs[w->na] = a, w->attr_node[w->na++] = n;
      if (a->t && w->nt < CAP) w->tensors[w->nt++] = a->t;
      for (size_t j = 0; j < a->n_tensors; j++)
        if (w->nt < CAP) w->tensors[w->nt++] = a->tensors[j];
      walk_graph(w, a->g, depth + 1);
      for (size_t j = 0; j < a->n_graphs; j++) walk_graph(w, a->graphs[j], depth + 1);
    }
  }
}

static int64_t interesting_int(rng_t *r, int64_t v) {
  static const int64_t table[] = {0, 1, -1, 2, -2, 3, 4, 5, 7, 8, 16, 31, 32, 63, 64, 127, 128, -128, 255, 256, 1024, 65535, 65536,
                                  1 << 20, 1 << 24, INT32_MAX, INT32_MIN, (int64_t)1 << 32, (int64_t)1 << 40, INT64_MAX, INT64_MIN,
                                  INT64_MAX - 1, INT64_MIN + 1};
  switch (below(r, 6)) {
    case 0: return (int64_t)((uint64_t)v + 1);
    case 1: return (int64_t)((uint64_t)v - 1);
    case 2: return (int64_t)(0 - (uint64_t)v);
    case 3: return (int64_t)((uint64_t)v * 2);
    default: return table[below(r, sizeof table / sizeof table[0])];
  }
}

static float interesting_float(rng_t *r, float v) {
  static const float table[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-7f, 1e-30f, 1e30f, 3.4e38f, -3.4e38f, 1e-45f, 65504.0f, 4.0f};
  switch (below(r, 6)) {
    case 0: return NAN;
    case 1: return below(r, 2) ? INFINITY : -INFINITY;
    case 2: return v * 2;
    case 3: return -v;
    default: return table[below(r, sizeof table / sizeof table[0])];
  }
}

static const char *const attr_strings[] = {
    "nearest", "linear", "cubic", "bilinear", "bicubic", "half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
    "tf_crop_and_resize", "half_pixel_symmetric", "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "NOTSET",
    "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect", "edge", "wrap", "avg", "max", "DCR", "CRD", "forward",
    "reverse", "bidirectional", "Sigmoid", "Tanh", "Relu", "Affine", "HardSigmoid", "none", "tanh", "output_half_pixel",
    "zeros", "border", "reflection", "stretch", "not_larger", "not_smaller", "mean", "sum", "ij,jk->ik", "i,i->", "...ii->...i",
    "", "?", "bogus_value"};
static const char *const attr_names[] = {
    "axis", "axes", "keepdims", "kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", "mode", "perm", "split",
    "to", "value", "alpha", "beta", "epsilon", "transA", "transB", "direction", "hidden_size", "activations", "layout",
    "num_scan_inputs", "scan_input_axes", "body", "then_branch", "else_branch", "largest", "sorted", "k", "ceil_mode",
    "count_include_pad", "storage_order", "coordinate_transformation_mode", "nearest_mode", "exclude_outside",
    "center_point_box", "output_height", "output_width", "sampling_ratio", "spatial_scale", "output_padding", "output_shape",
    "select_last_index", "exclusive", "equation", "blocksize", "batch_dims", "noop_with_empty_axes", "stash_type",
    "saturate", "block_size", "new_axis", "upper", "start", "end", "p", "lambd", "bias", "size", "unknown_attr"};

static void set_str(char **dst, const char *s) {
  char *c = strdup(s ? s : "");
  if (!c) return;
  free(*dst);
  *dst = c;
}

static const char *rand_name(walk_t *w) {
  switch (below(&w->r, 8)) {
    case 0: return "";
    case 1: return "no_such_value";
    default: return w->nnames ? w->names[below(&w->r, (size_t)w->nnames)] : "x";
  }
}

/* op types cquant runs (read once) */
static int known_ops(const char ***types, const char ***domains) {
  static const char *t[1024], *d[1024];
  static int n = -1;
  if (n < 0) {
    n = 0;
    const char *dom, *op;
    while (n < 1024 && cquant_onnx_operator(n, &dom, &op) == 0) t[n] = op, d[n] = dom, n++;
  }
  *types = t, *domains = d;
  return n;
}

static int mut_attr_value(walk_t *w) {
  if (!w->na) return 0;
  Onnx__AttributeProto *a = w->attrs[below(&w->r, (size_t)w->na)];
  rng_t *r = &w->r;
  if (a->has_i || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
    a->i = interesting_int(r, a->i), a->has_i = 1;
  } else if (a->has_f || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) {
    a->f = interesting_float(r, a->f), a->has_f = 1;
  } else if (a->has_s || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
    const char *s = attr_strings[below(r, sizeof attr_strings / sizeof attr_strings[0])];
    uint8_t *c = malloc(strlen(s) + 1);
    if (!c) return 0;
    memcpy(c, s, strlen(s) + 1);
    free(a->s.data);
    a->s.data = c, a->s.len = strlen(s), a->has_s = 1;
  } else if (a->n_ints || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) {
    const uint32_t op = below(r, 4);
    if (op == 0 && a->n_ints) a->n_ints--; /* drop the last (the array stays allocated; free_unpacked frees it) */
    else if (op == 1 && a->n_ints < 64) {
      int64_t *p = realloc(a->ints, sizeof *p * (a->n_ints + 1));
      if (!p) return 0;
      a->ints = p;
      a->ints[a->n_ints] = a->n_ints ? a->ints[below(r, a->n_ints)] : 1;
      a->n_ints++;
    } else if (a->n_ints) {
      size_t k = below(r, a->n_ints);
      a->ints[k] = interesting_int(r, a->ints[k]);
    }
  } else if (a->n_floats || a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS) {
    if (a->n_floats && below(r, 3)) {
      size_t k = below(r, a->n_floats);
      a->floats[k] = interesting_float(r, a->floats[k]);
    } else if (a->n_floats) {
      a->n_floats--;
    }
  } else if (a->n_strings) {
    size_t k = below(r, a->n_strings);
    const char *s = attr_strings[below(r, sizeof attr_strings / sizeof attr_strings[0])];
    uint8_t *c = malloc(strlen(s) + 1);
    if (!c) return 0;
    memcpy(c, s, strlen(s) + 1);
    free(a->strings[k].data);
    a->strings[k].data = c, a->strings[k].len = strlen(s);
  } else {
    return 0;
  }
  return 1;
}

/* the attribute's name, its declared type, or the attribute itself (deleted) */
static int mut_attr_meta(walk_t *w) {
  if (!w->na) return 0;
  const int idx = (int)below(&w->r, (size_t)w->na);
  Onnx__AttributeProto *a = w->attrs[idx];
  switch (below(&w->r, 3)) {
    case 0: set_str(&a->name, attr_names[below(&w->r, sizeof attr_names / sizeof attr_names[0])]); return 1;
    case 1: a->type = (Onnx__AttributeProto__AttributeType)below(&w->r, 15), a->has_type = 1; return 1;
    default: {
      Onnx__NodeProto *n = w->attr_node[idx];
      for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k] == a) {
          onnx__attribute_proto__free_unpacked(a, NULL);
          memmove(&n->attribute[k], &n->attribute[k + 1], sizeof a * (n->n_attribute - k - 1));
          n->n_attribute--;
          w->na = 0; /* the walk is stale now */
          return 1;
        }
      return 0;
    }
  }
}

static int mut_dims(rng_t *r, size_t *n, int64_t **dims) {
  const uint32_t op = below(r, 4);
  if (op == 0 && *n) {
    (*n)--;
  } else if (op == 1 && *n < 8) {
    int64_t *p = realloc(*dims, sizeof *p * (*n + 1));
    if (!p) return 0;
    *dims = p;
    p[*n] = below(r, 2) ? 1 : (int64_t)below(r, 5);
    (*n)++;
  } else if (*n) {
    size_t k = below(r, *n);
    (*dims)[k] = below(r, 2) ? (int64_t)below(r, 6) : interesting_int(r, (*dims)[k]);
  } else {
    return 0;
  }
  return 1;
}

/* a tensor: its dims, its element type, its length or some of its bytes */
static int mut_tensor(walk_t *w) {
  if (!w->nt) return 0;
  Onnx__TensorProto *t = w->tensors[below(&w->r, (size_t)w->nt)];
  rng_t *r = &w->r;
  switch (below(r, 5)) {
    case 0: return mut_dims(r, &t->n_dims, &t->dims);
    case 1: t->data_type = (int32_t)below(r, 24), t->has_data_type = 1; return 1;
    case 2: /* shorter data */
      if (t->has_raw_data && t->raw_data.len) t->raw_data.len = below(r, t->raw_data.len);
      else if (t->n_float_data) t->n_float_data = below(r, t->n_float_data);
      else if (t->n_int64_data) t->n_int64_data = below(r, t->n_int64_data);
      else if (t->n_int32_data) t->n_int32_data = below(r, t->n_int32_data);
      else if (t->n_double_data) t->n_double_data = below(r, t->n_double_data);
      else return 0;
      return 1;
    default: /* extreme values */
      if (t->has_raw_data && t->raw_data.len) {
        const size_t width = (size_t)1 << below(r, 4), len = t->raw_data.len;
        size_t at = below(r, len);
        at -= at % width;
        const int64_t v = interesting_int(r, 0);
        const float f = interesting_float(r, 1.0f);
        for (size_t b = 0; b < width && at + b < len; b++)
          t->raw_data.data[at + b] = width == 4 && below(r, 2) ? ((const uint8_t *)&f)[b] : (uint8_t)((uint64_t)v >> (8 * b));
      } else if (t->n_int64_data) {
        size_t k = below(r, t->n_int64_data);
        t->int64_data[k] = interesting_int(r, t->int64_data[k]);
      } else if (t->n_float_data) {
        size_t k = below(r, t->n_float_data);
        t->float_data[k] = interesting_float(r, t->float_data[k]);
      } else if (t->n_int32_data) {
        size_t k = below(r, t->n_int32_data);
        t->int32_data[k] = (int32_t)interesting_int(r, t->int32_data[k]);
      } else {
        return 0;
      }
      return 1;
  }
}

/* a value_info: its element type or a dimension (value, symbolic, added, dropped) */
static int mut_value_info(walk_t *w) {
  if (!w->nv) return 0;
  Onnx__ValueInfoProto *v = w->vis[below(&w->r, (size_t)w->nv)];
  rng_t *r = &w->r;
  if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !v->type->tensor_type) return 0;
  Onnx__TypeProto__Tensor *tt = v->type->tensor_type;
  if (below(r, 3) == 0 || !tt->shape) {
    tt->elem_type = (int32_t)below(r, 24), tt->has_elem_type = 1;
    return 1;
  }
  Onnx__TensorShapeProto *sh = tt->shape;
  const uint32_t op = below(r, 4);
  if (op == 0 && sh->n_dim) {
    protobuf_c_message_free_unpacked(&sh->dim[--sh->n_dim]->base, NULL);
    return 1;
  }
  if (op == 1 && sh->n_dim < 8) {
    Onnx__TensorShapeProto__Dimension *d = malloc(sizeof *d), **p = realloc(sh->dim, sizeof *p * (sh->n_dim + 1));
    if (p) sh->dim = p;
    if (!d || !p) return free(d), 0;
    onnx__tensor_shape_proto__dimension__init(d);
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE, d->dim_value = 1 + below(r, 3);
    sh->dim[sh->n_dim++] = d;
    return 1;
  }
  if (!sh->n_dim) return 0;
  Onnx__TensorShapeProto__Dimension *d = sh->dim[below(r, sh->n_dim)];
  if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) free(d->dim_param);
  if (below(r, 3) == 0) {
    static const char *const params[] = {"b", "n", "t", "s", "h", "w", "unk"};
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d->dim_param = strdup(params[below(r, 7)]);
    if (!d->dim_param) d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE__NOT_SET;
  } else {
    d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d->dim_value = below(r, 2) ? (int64_t)below(r, 9) : interesting_int(r, 1);
  }
  return 1;
}

static int mut_op_type(walk_t *w) {
  if (!w->nn) return 0;
  Onnx__NodeProto *n = w->nodes[below(&w->r, (size_t)w->nn)];
  const char **types, **domains;
  const int k = known_ops(&types, &domains);
  if (!k) return 0;
  const int i = (int)below(&w->r, (size_t)k);
  set_str(&n->op_type, types[i]);
  set_str(&n->domain, domains[i]);
  return 1;
}

/* a node's inputs or outputs: renamed to another value, emptied, dropped, added */
static int mut_node_io(walk_t *w) {
  if (!w->nn) return 0;
  Onnx__NodeProto *n = w->nodes[below(&w->r, (size_t)w->nn)];
  rng_t *r = &w->r;
  const int outs = below(r, 4) == 0;
  size_t *cnt = outs ? &n->n_output : &n->n_input;
  char ***arr = outs ? &n->output : &n->input;
  switch (below(r, 4)) {
    case 0:
      if (!*cnt) return 0;
      free((*arr)[--*cnt]);
      return 1;
    case 1: {
      if (*cnt >= 16) return 0;
      char **p = realloc(*arr, sizeof *p * (*cnt + 1));
      if (!p) return 0;
      *arr = p;
      if (!(p[*cnt] = strdup(outs ? "fuzz_new_value" : rand_name(w)))) return 0;
      (*cnt)++;
      return 1;
    }
    default:
      if (!*cnt) return 0;
      set_str(&(*arr)[below(r, *cnt)], rand_name(w));
      return 1;
  }
}

/* node order, deleted nodes, duplicated nodes */
static int mut_nodes(walk_t *w) {
  if (!w->nn) return 0;
  rng_t *r = &w->r;
  const int idx = (int)below(r, (size_t)w->nn);
  Onnx__GraphProto *g = w->node_graph[idx];
  size_t at = 0;
  while (at < g->n_node && g->node[at] != w->nodes[idx]) at++;
  if (at == g->n_node) return 0;
  switch (below(r, 3)) {
    case 0: { /* swap with another node of its graph */
      const size_t b = below(r, g->n_node);
      Onnx__NodeProto *t = g->node[at];
      g->node[at] = g->node[b], g->node[b] = t;
      return 1;
    }
    case 1: /* delete */
      onnx__node_proto__free_unpacked(g->node[at], NULL);
      memmove(&g->node[at], &g->node[at + 1], sizeof *g->node * (g->n_node - at - 1));
      g->n_node--;
      w->nn = w->na = w->nt = w->nnames = 0; /* stale */
      return 1;
    default: { /* a copy, inserted anywhere in the same graph */
      if (g->n_node >= 2048) return 0;
      const size_t len = onnx__node_proto__get_packed_size(g->node[at]);
      uint8_t *buf = malloc(len + 1);
      if (!buf) return 0;
      onnx__node_proto__pack(g->node[at], buf);
      Onnx__NodeProto *c = onnx__node_proto__unpack(NULL, len, buf);
      free(buf);
      Onnx__NodeProto **p = c ? realloc(g->node, sizeof *p * (g->n_node + 1)) : NULL;
      if (!p) {
        if (c) onnx__node_proto__free_unpacked(c, NULL);
        return 0;
      }
      g->node = p;
      const size_t to = below(r, g->n_node + 1);
      memmove(&p[to + 1], &p[to], sizeof *p * (g->n_node - to));
      p[to] = c;
      g->n_node++;
      w->nn = 0;
      return 1;
    }
  }
}

static int mut_opset(walk_t *w) {
  static const int64_t versions[] = {1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 0, -1};
  Onnx__ModelProto *mp = w->mp;
  if (!mp->n_opset_import) return 0;
  Onnx__OperatorSetIdProto *o = mp->opset_import[below(&w->r, mp->n_opset_import)];
  o->version = versions[below(&w->r, sizeof versions / sizeof versions[0])], o->has_version = 1;
  return 1;
}

/* graph inputs and outputs (subgraphs' included): dropped, or two swapped; GRAPH attributes of
 * different nodes or branches exchanged */
static int mut_graph_io(walk_t *w) {
  if (!w->ng) return 0;
  rng_t *r = &w->r;
  Onnx__GraphProto *g = w->graphs[below(r, (size_t)w->ng)];
  switch (below(r, 4)) {
    case 0:
      if (!g->n_output) return 0;
      onnx__value_info_proto__free_unpacked(g->output[--g->n_output], NULL);
      break;
    case 1:
      if (!g->n_input) return 0;
      {
        const size_t k = below(r, g->n_input);
        onnx__value_info_proto__free_unpacked(g->input[k], NULL);
        memmove(&g->input[k], &g->input[k + 1], sizeof *g->input * (g->n_input - k - 1));
        g->n_input--;
      }
      break;
    case 2:
      if (g->n_input < 2) return 0;
      {
        const size_t a = below(r, g->n_input), b = below(r, g->n_input);
        Onnx__ValueInfoProto *t = g->input[a];
        g->input[a] = g->input[b], g->input[b] = t;
      }
      break;
    default: { /* exchange two GRAPH attributes' graphs (If's branches, two bodies) */
      Onnx__AttributeProto *ga[64];
      int n = 0;
      for (int i = 0; i < w->na && n < 64; i++)
        if (w->attrs[i]->g) ga[n++] = w->attrs[i];
      if (n < 1) return 0;
      Onnx__AttributeProto *a = ga[below(r, (size_t)n)], *b = ga[below(r, (size_t)n)];
      if (a == b) return 0;
      /* only when neither graph holds the other (no cycle) */
      Onnx__GraphProto *t = a->g;
      a->g = b->g, b->g = t;
      walk_t *chk = calloc(1, sizeof *chk);
      int cyc = 0;
      if (chk) {
        walk_graph(chk, w->mp->graph, 0);
        cyc = chk->ng != w->ng; /* a swap between a graph and its own subgraph changes the reachable set */
        free(chk);
      }
      if (!chk || cyc) {
        b->g = a->g, a->g = t;
        return 0;
      }
      break;
    }
  }
  w->nn = w->na = w->nt = w->nv = w->nnames = 0;
  return 1;
}

size_t cquant_fuzz_onnx_mutate(uint8_t *data, size_t size, size_t max_size, uint32_t seed) {
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
  if (!mp || !mp->graph) {
    if (mp) onnx__model_proto__free_unpacked(mp, NULL);
    return 0;
  }
  walk_t *w = calloc(1, sizeof *w);
  if (!w) {
    onnx__model_proto__free_unpacked(mp, NULL);
    return 0;
  }
  w->r.s = seed * 0x2545f4914f6cdd1dull + size;
  w->mp = mp;
  const int rounds = 1 + (int)below(&w->r, 3);
  int done = 0;
  for (int k = 0, tries = 0; k < rounds && tries < 16; tries++) {
    w->ng = w->nn = w->na = w->nt = w->nv = w->nnames = 0;
    walk_graph(w, mp->graph, 0);
    int ok;
    switch (below(&w->r, 16)) {
      case 0: case 1: case 2: ok = mut_attr_value(w); break;
      case 3: ok = mut_attr_meta(w); break;
      case 4: case 5: ok = mut_tensor(w); break;
      case 6: case 7: ok = mut_value_info(w); break;
      case 8: case 9: ok = mut_op_type(w); break;
      case 10: case 11: ok = mut_node_io(w); break;
      case 12: case 13: ok = mut_nodes(w); break;
      case 14: ok = mut_opset(w); break;
      default: ok = mut_graph_io(w); break;
    }
    if (ok) k++, done++;
  }
  free(w);
  size_t len = 0;
  if (done) {
    len = onnx__model_proto__get_packed_size(mp);
    if (len <= max_size) onnx__model_proto__pack(mp, data);
    else len = 0;
  }
  onnx__model_proto__free_unpacked(mp, NULL);
  return len;
}
