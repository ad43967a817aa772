/* ONNX's own backend test suite (Debian's libonnx-testdata: data/node, pytorch-converted,
 * pytorch-operator, simple) through cquant's float executor. Each test runs in a child process (a
 * crash is reported, not fatal to the run); outputs must equal the expected ones as ONNX's runner
 * compares them: floats within rtol 1e-3 and atol 1e-7 (NaN equals NaN), other types exactly.
 * Out of scope, counted apart: the training domain, random-number ops, string ops and tensors,
 * ai.onnx.ml. Prints every failure with its reason, then pass counts per directory and operator.
 *   test_onnx_backend [--markdown FILE] [--list] [SUBSTRING ...]   (only tests whose name holds one)
 * Fails when a test crashes or when fewer tests pass than the floor below (raised as operators land). */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cquant/cquant.h"
#include "exec/exec_internal.h"
#include "harness.h"

#define DATA_DIR "/usr/share/libonnx-testdata/data" /* CQUANT_ONNX_TESTDATA overrides it (a copy elsewhere) */
#define MIN_PASS 1015 /* the floor: in-scope tests that must pass */

static const char *dirs[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
static const char *out_of_scope_ops[] = {"Gradient", "Adagrad", "Adam", "Momentum", "Bernoulli", "Multinomial", "RandomNormal",
                                         "RandomUniform", "RandomNormalLike", "RandomUniformLike", "StringNormalizer",
                                         "TfIdfVectorizer", "RegexFullMatch", "StringConcat", "StringSplit"};

/* SequenceProto and OptionalProto (onnx-data.proto, which protoc-c does not generate here) read
 * from the wire format: elem_type is field 2, a tensor value field 3, a sequence 5, an optional 7;
 * the rest is skipped. A sequence becomes a CQUANT_DT_SEQUENCE array, an optional a
 * CQUANT_DT_OPTIONAL one (see exec_internal.h). */
/* snprintf's result r wrote the whole text into a buffer of size n */
static int fits(int r, size_t n) { return r >= 0 && (size_t)r < n; }

static int pb_varint(const uint8_t **p, const uint8_t *e, uint64_t *v) {
  *v = 0;
  for (int sh = 0; *p < e && sh < 64; sh += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

static int pb_container(const uint8_t *b, size_t n, int is_opt, cquant_array_t *a) {
  for (int pass = 0, count = 0; pass < 2; pass++) {
    if (pass && (is_opt ? cquant__opt_alloc(a, count > 0) : cquant__seq_alloc(a, count))) return -1;
    const uint8_t *p = b, *e = b + n;
    int k = 0;
    while (p < e) {
      uint64_t key, v;
      if (pb_varint(&p, e, &key)) return -1;
      int field = (int)(key >> 3), wt = (int)(key & 7);
      if (wt == 0) {
        if (pb_varint(&p, e, &v)) return -1;
        continue;
      }
      if (wt == 1 || wt == 5) {
        if ((size_t)(e - p) < (wt == 1 ? 8u : 4u)) return -1;
        p += wt == 1 ? 8 : 4;
        continue;
      }
      if (wt != 2 || pb_varint(&p, e, &v) || v > (uint64_t)(e - p)) return -1;
      if (field == 3 || field == 5 || field == 7) {
        if (!pass) count++;
        else {
          cquant_array_t *x = &cquant__elems(a)[k++];
          if (field == 3 ? cquant_tensorproto_parse(p, (size_t)v, x, NULL) : pb_container(p, (size_t)v, field == 7, x)) return -1;
        }
      }
      p += v;
    }
    if (is_opt && count > 1) return -1;
  }
  return 0;
}

/* The type (TypeProto value case) of graph input or output k of the test's model, from the .pb's
 * name (input_K.pb, output_K.pb) and the model beside its folder. */
static int pb_kind(const char *path) {
  char model[4200];
  snprintf(model, sizeof model, "%s", path);
  char *base = strrchr(model, '/');
  if (!base) return ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  int is_out = !strncmp(base + 1, "output_", 7), k = atoi(base + 1 + (is_out ? 7 : 6));
  *base = 0;
  if (!(base = strrchr(model, '/'))) return ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  snprintf(base, sizeof model - (size_t)(base - model), "/model.onnx");
  void *buf;
  size_t len;
  if (cquant_file_read(model, &buf, &len)) return ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
  free(buf);
  int kind = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  if (mp && mp->graph) {
    const Onnx__GraphProto *g = mp->graph;
    const Onnx__ValueInfoProto *v = NULL;
    if (is_out) v = k >= 0 && (size_t)k < g->n_output ? g->output[k] : NULL;
    else
      for (size_t i = 0, j = 0; i < g->n_input && !v; i++) {
        int init = 0;
        for (size_t q = 0; q < g->n_initializer && !init; q++)
          init = g->initializer[q]->name && g->input[i]->name && !strcmp(g->initializer[q]->name, g->input[i]->name);
        if (!init && (int)j++ == k) v = g->input[i];
      }
    if (v && v->type) kind = (int)v->type->value_case;
  }
  if (mp) onnx__model_proto__free_unpacked(mp, NULL);
  return kind;
}

static int load_pb(const char *path, cquant_array_t *a) {
  void *buf;
  size_t len;
  int st = cquant_file_read(path, &buf, &len);
  if (st) return st;
  const int kind = pb_kind(path);
  if (kind == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE || kind == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE) {
    memset(a, 0, sizeof *a);
    if (pb_container(buf, len, kind == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE, a)) {
      cquant_array_free(a);
      st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: not a sequence or optional", path);
    }
  } else st = cquant_tensorproto_parse(buf, len, a, NULL);
  free(buf);
  return st;
}

static int close_enough(const cquant_array_t *got, const cquant_array_t *want, char *why, size_t nwhy) {
  if (got->dtype != want->dtype) {
    const cquant_dtype_info_t *gi = cquant_dtype_info(got->dtype), *wi = cquant_dtype_info(want->dtype);
    snprintf(why, nwhy, "type %s, expected %s", gi ? gi->name : "?", wi ? wi->name : "?");
    return 0;
  }
  if (cquant__is_container(got->dtype)) { /* sequences and optionals: element by element */
    if (got->numel != want->numel) {
      snprintf(why, nwhy, "%s of %lld elements, expected %lld", cquant_dtype_info(got->dtype)->name, (long long)got->numel, (long long)want->numel);
      return 0;
    }
    for (int64_t i = 0; i < got->numel; i++) {
      char w[256];
      if (!close_enough(&cquant__elems(got)[i], &cquant__elems(want)[i], w, sizeof w)) {
        snprintf(why, nwhy, "element %lld: %s", (long long)i, w);
        return 0;
      }
    }
    return 1;
  }
  if (got->ndim != want->ndim || memcmp(got->shape, want->shape, sizeof(int64_t) * (size_t)got->ndim)) {
    char a[128] = "", b[128] = "";
    for (int d = 0; d < got->ndim; d++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? "x" : "", (long long)got->shape[d]);
    for (int d = 0; d < want->ndim; d++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? "x" : "", (long long)want->shape[d]);
    snprintf(why, nwhy, "shape [%s], expected [%s]", a, b);
    return 0;
  }
  for (int64_t i = 0; i < got->numel; i++) {
    if (cquant__is_float(got->dtype)) {
      double x = cquant__get_f64(got, i), y = cquant__get_f64(want, i);
      if (isnan(x) && isnan(y)) continue;
      if (x == y) continue;
      if (!(fabs(x - y) <= 1e-7 + 1e-3 * fabs(y))) {
        snprintf(why, nwhy, "element %lld is %.9g, expected %.9g", (long long)i, x, y);
        return 0;
      }
    } else if (cquant__get_i64(got, i) != cquant__get_i64(want, i)) {
      snprintf(why, nwhy, "element %lld is %lld, expected %lld", (long long)i, (long long)cquant__get_i64(got, i), (long long)cquant__get_i64(want, i));
      return 0;
    }
  }
  return 1;
}

static int output_is_bf16(const cquant_onnx_model_t *m, int i) {
  const Onnx__ValueInfoProto *v = m->g->output[i];
  return v->type && v->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && v->type->tensor_type &&
         v->type->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
}

/* Runs one test; 1 pass, 0 fail (why says what). */
static int run_case(const char *dir, char *why, size_t nwhy) {
  char path[4096];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  cquant_onnx_model_t *m;
  if (cquant_onnx_load(path, &m)) {
    const char *e = cquant_last_error(), *p = strstr(e, "model.onnx: ");
    snprintf(why, nwhy, "%s", p ? p + 12 : e);
    return 0;
  }
  int ok = 1, sets = 0;
  for (int s = 0; ok; s++) {
    char set[4200];
    struct stat sb;
    snprintf(set, sizeof set, "%s/test_data_set_%d", dir, s);
    if (stat(set, &sb)) break;
    sets++;
    int ni = cquant_onnx_num_inputs(m), no = cquant_onnx_num_outputs(m);
    if (ni > 64 || no > 64) { snprintf(why, nwhy, "too many inputs"); ok = 0; break; }
    cquant_array_t in[64], out[64], want[64];
    const char *names[64];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    memset(want, 0, sizeof want);
    for (int i = 0; i < ni && ok; i++) {
      names[i] = cquant_onnx_input_name(m, i);
      if (!fits(snprintf(path, sizeof path, "%s/input_%d.pb", set, i), sizeof path)) { ok = 0; snprintf(why, nwhy, "path too long"); }
      else if (load_pb(path, &in[i])) { ok = 0; snprintf(why, nwhy, "input %d: %s", i, cquant_last_error()); }
      /* onnx 1.12's test data store bfloat16 tensors as uint16 bit patterns (numpy has no
       * bfloat16): take them as the bfloat16 the model declares */
      else if (in[i].dtype == CQUANT_DT_U16 && m->input_types[i] == CQUANT_DT_BF16) in[i].dtype = CQUANT_DT_BF16;
    }
    for (int i = 0; i < no && ok; i++) {
      if (!fits(snprintf(path, sizeof path, "%s/output_%d.pb", set, i), sizeof path)) { ok = 0; snprintf(why, nwhy, "path too long"); }
      else if (load_pb(path, &want[i])) { ok = 0; snprintf(why, nwhy, "expected output %d: %s", i, cquant_last_error()); }
      else if (want[i].dtype == CQUANT_DT_U16 && output_is_bf16(m, i)) want[i].dtype = CQUANT_DT_BF16; /* the same quirk */
    }
    if (ok && cquant_onnx_run(m, ni, names, in, out)) {
      snprintf(why, nwhy, "%s", cquant_last_error());
      ok = 0;
    } else if (ok) {
      for (int i = 0; i < no && ok; i++) {
        char w[300];
        if (!close_enough(&out[i], &want[i], w, sizeof w)) {
          snprintf(why, nwhy, "output %d (%s): %s", i, cquant_onnx_output_name(m, i), w);
          ok = 0;
        }
      }
      for (int i = 0; i < no; i++) cquant_array_free(&out[i]);
    }
    for (int i = 0; i < ni; i++) cquant_array_free(&in[i]);
    for (int i = 0; i < no; i++) cquant_array_free(&want[i]);
  }
  cquant_onnx_free(m);
  if (ok && !sets) snprintf(why, nwhy, "no test data");
  return ok && sets > 0;
}

/* ---- scope and the operator a test is counted under ----------------------------------------- */

static int graph_out_of_scope(const Onnx__GraphProto *g, const char **why);

static int type_is_string(const Onnx__TypeProto *t) {
  if (!t) return 0;
  if (t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) return t->tensor_type && t->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__STRING;
  if (t->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE) return t->sequence_type && type_is_string(t->sequence_type->elem_type);
  if (t->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE) return t->optional_type && type_is_string(t->optional_type->elem_type);
  return 0;
}

static int node_out_of_scope(const Onnx__NodeProto *n, const char **why) {
  if (n->domain && (!strcmp(n->domain, "ai.onnx.ml") || !strcmp(n->domain, "ai.onnx.preview.training"))) return *why = n->domain, 1;
  for (size_t k = 0; k < sizeof out_of_scope_ops / sizeof out_of_scope_ops[0]; k++)
    if (!strcmp(n->op_type, out_of_scope_ops[k])) return *why = out_of_scope_ops[k], 1;
  for (size_t a = 0; a < n->n_attribute; a++) {
    const Onnx__AttributeProto *at = n->attribute[a];
    if (at->g && graph_out_of_scope(at->g, why)) return 1;
    for (size_t k = 0; k < at->n_graphs; k++)
      if (graph_out_of_scope(at->graphs[k], why)) return 1;
    if (at->t && at->t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__STRING) return *why = "string tensors", 1;
  }
  return 0;
}

static int graph_out_of_scope(const Onnx__GraphProto *g, const char **why) {
  for (size_t i = 0; i < g->n_node; i++)
    if (node_out_of_scope(g->node[i], why)) return 1;
  for (size_t i = 0; i < g->n_input; i++)
    if (type_is_string(g->input[i]->type)) return *why = "string tensors", 1;
  for (size_t i = 0; i < g->n_output; i++)
    if (type_is_string(g->output[i]->type)) return *why = "string tensors", 1;
  return 0;
}

/* 1 in scope, 0 out (why), -1 the model does not parse. op gets the operator counted. */
static int classify(const char *dir, const char *test, const char *model_path, char *op, size_t nop, const char **why) {
  void *buf;
  size_t len;
  snprintf(op, nop, "%s", strcmp(dir, "node") ? "(model)" : "?");
  if (cquant_file_read(model_path, &buf, &len)) return -1;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
  free(buf);
  if (!mp || !mp->graph) return -1;
  int in = 1;
  for (size_t i = 0; i < mp->n_opset_import; i++)
    if (mp->opset_import[i]->domain && (!strcmp(mp->opset_import[i]->domain, "ai.onnx.ml") || !strcmp(mp->opset_import[i]->domain, "ai.onnx.preview.training")))
      in = 0, *why = mp->opset_import[i]->domain;
  if (in && graph_out_of_scope(mp->graph, why)) in = 0;
  /* Dropout in training mode with a ratio above 0 draws its mask at random: the tests cannot fix
   * its output (test_training_dropout_zero_ratio* stay in scope) */
  if (in && !strncmp(test, "test_training_dropout", 21) && !strstr(test, "zero_ratio")) in = 0, *why = "random Dropout mask";
  if (!strcmp(dir, "node") && mp->graph->n_node) {
    /* the operator whose name the test's name starts with (expanded tests: the function's own
     * name is not in the graph, so the test name decides) */
    const char *best = mp->graph->node[0]->op_type;
    if (mp->graph->n_node > 1) {
      best = "(expanded)";
      size_t bl = 0;
      for (size_t i = 0; i < mp->graph->n_node; i++) {
        const char *t = mp->graph->node[i]->op_type;
        size_t l = strlen(t);
        if (l > bl && !strncasecmp(test + 5, t, l)) best = t, bl = l;
      }
    }
    snprintf(op, nop, "%s", best);
  }
  onnx__model_proto__free_unpacked(mp, NULL);
  return in;
}

/* ---- the run ------------------------------------------------------------------------------- */

typedef struct {
  char name[64];
  int pass, total;
} count_t;

static count_t ops[512];
static int n_ops;

static count_t *op_count(const char *name) {
  for (int i = 0; i < n_ops; i++)
    if (!strcmp(ops[i].name, name)) return &ops[i];
  if (n_ops == 512) return &ops[511];
  snprintf(ops[n_ops].name, sizeof ops[0].name, "%s", name);
  return &ops[n_ops++];
}

static int cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }
static int cmp_op(const void *a, const void *b) { return strcmp(((const count_t *)a)->name, ((const count_t *)b)->name); }

/* Runs a test in a child: returns 1 pass, 0 fail, -2 crash; why gets the reason. */
static int run_isolated(const char *dir, char *why, size_t nwhy) {
  int fd[2];
  if (pipe(fd)) return snprintf(why, nwhy, "pipe failed"), 0;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    alarm(120);
    char w[1024] = "";
    int ok = run_case(dir, w, sizeof w);
    char msg[1100];
    int n = snprintf(msg, sizeof msg, "%c%s", ok ? '1' : '0', w);
    if (write(fd[1], msg, (size_t)n) < 0) _exit(3);
    _exit(0);
  }
  close(fd[1]);
  char msg[1100];
  ssize_t n = 0, r;
  while ((r = read(fd[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0) n += r;
  close(fd[0]);
  msg[n > 0 ? n : 0] = 0;
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n < 1) {
    if (WIFSIGNALED(status)) snprintf(why, nwhy, "crashed (signal %d%s)", WTERMSIG(status), WTERMSIG(status) == SIGALRM ? ": timeout" : "");
    else snprintf(why, nwhy, "crashed (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return -2;
  }
  const size_t len = strlen(msg + 1) < nwhy ? strlen(msg + 1) : nwhy - 1; /* the child's reason, shortened to fit */
  memcpy(why, msg + 1, len);
  why[len] = 0;
  return msg[0] == '1';
}

int main(int argc, char **argv) {
  const char *markdown = NULL;
  int list = 0, nfilter = 0;
  char **filter = calloc((size_t)argc + 1, sizeof *filter);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--markdown") && i + 1 < argc) markdown = argv[++i];
    else if (!strcmp(argv[i], "--list")) list = 1;
    else filter[nfilter++] = argv[i];
  }
  struct stat sb;
  const char *env = getenv("CQUANT_ONNX_TESTDATA"), *data = env ? env : DATA_DIR;
  char node[4096];
  snprintf(node, sizeof node, "%s/node", data);
  if (stat(node, &sb)) {
    printf("%s is missing (scripts/setup installs libonnx-testdata)\n0 passed, 1 failed\n", node);
    return 1;
  }
  int dir_pass[4] = {0}, dir_total[4] = {0}, dir_skip[4] = {0}, crashes = 0, failed_paths = 0;
  for (int di = 0; di < 4; di++) {
    char root[512];
    snprintf(root, sizeof root, "%s/%s", data, dirs[di]);
    DIR *d = opendir(root);
    if (!d) continue;
    static char names[1200][256]; /* d_name holds at most 255 characters */
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1200)
      if (!strncmp(e->d_name, "test_", 5) && fits(snprintf(names[n], sizeof names[0], "%s", e->d_name), sizeof names[0])) n++;
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_name);
    for (int t = 0; t < n; t++) {
      int want = !nfilter;
      for (int f = 0; f < nfilter && !want; f++) want = strstr(names[t], filter[f]) != NULL;
      if (!want) continue;
      char tdir[1024], model[1200], op[64], why[1024] = "";
      if (!fits(snprintf(tdir, sizeof tdir, "%s/%s", root, names[t]), sizeof tdir) ||
          !fits(snprintf(model, sizeof model, "%s/model.onnx", tdir), sizeof model)) {
        fprintf(stderr, "%s/%s: path too long\n", dirs[di], names[t]);
        failed_paths++;
        continue;
      }
      const char *oos = NULL;
      int c = classify(dirs[di], names[t], model, op, sizeof op, &oos);
      if (c == 0) {
        dir_skip[di]++;
        if (list) printf("skip %s/%s (%s)\n", dirs[di], names[t], oos);
        continue;
      }
      int r = c < 0 ? 0 : run_isolated(tdir, why, sizeof why);
      if (c < 0) snprintf(why, sizeof why, "model.onnx does not parse");
      count_t *oc = op_count(op);
      oc->total++;
      dir_total[di]++;
      if (r == 1) {
        oc->pass++, dir_pass[di]++;
        if (list) printf("ok   %s/%s\n", dirs[di], names[t]);
      } else {
        if (r == -2) crashes++;
        printf("FAIL %s/%s [%s]: %s\n", dirs[di], names[t], op, why);
      }
    }
  }
  qsort(ops, (size_t)n_ops, sizeof ops[0], cmp_op);
  int pass = 0, total = 0, skip = 0;
  printf("\n%-20s %8s %8s %8s\n", "directory", "passed", "in scope", "skipped");
  for (int di = 0; di < 4; di++) {
    printf("%-20s %8d %8d %8d\n", dirs[di], dir_pass[di], dir_total[di], dir_skip[di]);
    pass += dir_pass[di], total += dir_total[di], skip += dir_skip[di];
  }
  printf("%-20s %8d %8d %8d  (%.1f%%)\n", "all", pass, total, skip, total ? 100.0 * pass / total : 0.0);
  printf("\nper operator (passed/in scope): ");
  for (int i = 0; i < n_ops; i++) printf("%s%s %d/%d", i ? ", " : "", ops[i].name, ops[i].pass, ops[i].total);
  printf("\n");
  if (markdown) {
    FILE *f = fopen(markdown, "w");
    if (f) {
      fprintf(f, "| directory | passed | in scope | out of scope |\n|---|---:|---:|---:|\n");
      for (int di = 0; di < 4; di++) fprintf(f, "| %s | %d | %d | %d |\n", dirs[di], dir_pass[di], dir_total[di], dir_skip[di]);
      fprintf(f, "| **all** | **%d** | **%d** | %d |\n\n| operator | passed / in scope |\n|---|---:|\n", pass, total, skip);
      for (int i = 0; i < n_ops; i++) fprintf(f, "| %s | %d / %d |\n", ops[i].name, ops[i].pass, ops[i].total);
      fclose(f);
    }
  }
  free(filter);
  int failed = 0;
  if (crashes) printf("FAIL: %d tests crashed\n", crashes), failed++;
  if (failed_paths) printf("FAIL: %d test folders have paths too long to open\n", failed_paths), failed++;
  if (!nfilter && pass < MIN_PASS) printf("FAIL: %d tests pass, the floor is %d\n", pass, MIN_PASS), failed++;
  printf("%d passed, %d failed\n", 2 - failed, failed);
  return failed ? 1 : 0;
}
