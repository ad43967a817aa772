/* Mutation fuzz of the ONNX model and TensorProto readers and of the executor: ONNX's node-test
 * models and inputs, corrupted, must be refused with an error or run, never crash or leak (the suite
 * runs this under ASan/UBSan too). Longer runs: scripts/fuzz.
 * test_fuzz_regressions replays every file under fuzz/regressions/<target>/ (the crashes libFuzzer
 * found) through that target's own entry point, fuzz/<target>.c, built here with
 * LLVMFuzzerTestOneInput renamed to cquant_<target> (tests/CMakeLists.txt). */
#include <dirent.h>
#include "cquant/cquant.h"
#include "harness.h"

int cquant_fuzz_npy(const uint8_t *data, size_t size);
int cquant_fuzz_qparams_json(const uint8_t *data, size_t size);
int cquant_fuzz_onnx(const uint8_t *data, size_t size);
int cquant_fuzz_ptq_overrides(const uint8_t *data, size_t size);

#define NODE_DIR "/usr/share/libonnx-testdata/data/node/"

static const char *cases[] = {"test_qlinearconv", "test_qlinearmatmul_3D", "test_convinteger_with_padding", "test_matmulinteger",
                              "test_dynamicquantizelinear_expanded", "test_quantizelinear_axis", "test_dequantizelinear_axis"};

static void mutate(uint8_t *m, size_t *len, size_t cap) {
  int k = 1 + (int)(th_rand() % 4);
  for (int j = 0; j < k && *len; j++) {
    size_t pos = th_rand() % *len;
    switch (th_rand() % 5) {
      case 0: m[pos] ^= (uint8_t)(1u << (th_rand() % 8)); break;
      case 1: m[pos] = (uint8_t)th_rand(); break;
      case 2: *len = pos; break;
      case 3: m[pos] = (uint8_t)(th_rand() % 2 ? 0x7f : 0xff); break; /* varint lengths */
      case 4: if (*len + 8 <= cap) { memmove(m + pos + 8, m + pos, *len - pos); for (int t = 0; t < 8; t++) m[pos + t] = (uint8_t)th_rand(); *len += 8; } break;
    }
  }
}

/* iters mutations of the models (and inputs) of the node tests named in cases[0..n) */
static void fuzz_cases(const char *const *cases, long n, long iters) {
  long loaded = 0, ran = 0;
  static uint8_t m[1 << 16];
  for (long it = 0; it < iters; it++) {
    const char *name = cases[it % n];
    char path[512];
    snprintf(path, sizeof path, NODE_DIR "%s/model.onnx", name);
    void *buf;
    size_t len;
    if (cquant_file_read(path, &buf, &len) || len > sizeof m) { CHECKF(0, "%s", path); return; }
    memcpy(m, buf, len);
    free(buf);
    mutate(m, &len, sizeof m);
    cquant_onnx_model_t *model;
    if (cquant_onnx_load_buffer(m, len, &model)) { CHECK(cquant_last_error()[0] != 0); continue; }
    loaded++;
    { /* the QDQ -> integer rewrite takes any graph that loads (an empty graph included) */
      cquant_onnx_model_t *im;
      if (cquant_onnx_integerize(model, &im, NULL) == 0) cquant_onnx_free(im);
      else CHECK(cquant_last_error()[0] != 0);
    }
    /* run it on the real inputs, some of them corrupted too */
    int ni = cquant_onnx_num_inputs(model), no = cquant_onnx_num_outputs(model), ok = 1;
    cquant_array_t in[16], out[16];
    const char *names[16];
    memset(in, 0, sizeof in);
    for (int i = 0; i < ni && i < 16 && ok; i++) {
      snprintf(path, sizeof path, NODE_DIR "%s/test_data_set_0/input_%d.pb", name, i);
      names[i] = cquant_onnx_input_name(model, i);
      if (cquant_file_read(path, &buf, &len)) { ok = 0; break; }
      if (len > sizeof m) { free(buf); ok = 0; break; } /* a large input: run that model unmutated elsewhere */
      memcpy(m, buf, len);
      free(buf);
      if (th_rand() % 4 == 0) mutate(m, &len, sizeof m);
      if (cquant_tensorproto_parse(m, len, &in[i], NULL)) ok = 0;
    }
    if (ok && ni <= 16 && no <= 16 && cquant_onnx_run(model, ni, names, in, out) == 0) {
      ran++;
      for (int i = 0; i < no; i++) cquant_array_free(&out[i]);
    }
    for (int i = 0; i < ni && i < 16; i++) cquant_array_free(&in[i]);
    cquant_onnx_free(model);
  }
  printf("  %ld mutated models: %ld loaded, %ld ran\n", iters, loaded, ran);
  CHECK(loaded < iters);
}

static void test_fuzz_models(void) {
  long iters = getenv("CQUANT_FUZZ_ITERS") ? atol(getenv("CQUANT_FUZZ_ITERS")) : 4000;
  fuzz_cases(cases, (long)(sizeof cases / sizeof cases[0]), iters);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every operator family: one node test in four (sorted by name, so every family and opset form is
 * among them), mutated. Tensors are capped at 64 MiB so that a mutated shape asks for too much
 * memory and is refused rather than computed. */
static void test_fuzz_all_operators(void) {
  long iters = getenv("CQUANT_FUZZ_ITERS") ? atol(getenv("CQUANT_FUZZ_ITERS")) : 6000;
  DIR *d = opendir(NODE_DIR);
  if (!d) { CHECK(0); return; }
  static char *names[2048];
  long n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < 2048;)
    if (!strncmp(e->d_name, "test_", 5)) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  long k = 0;
  for (long i = 0; i < n; i++) {
    if (i % 4 == 0) names[k++] = names[i];
    else free(names[i]);
  }
  const size_t old = cquant_array_set_limit((size_t)64 << 20);
  fuzz_cases((const char *const *)names, k, iters);
  cquant_array_set_limit(old);
  printf("  over %ld node-test models of every operator family\n", k);
  CHECK(k > 200);
  for (long i = 0; i < k; i++) free(names[i]);
}

static void test_fuzz_regressions(void) {
  static const struct { const char *dir; int (*run)(const uint8_t *, size_t); } targets[] = {
      {"fuzz_npy", cquant_fuzz_npy}, {"fuzz_qparams_json", cquant_fuzz_qparams_json}, {"fuzz_onnx", cquant_fuzz_onnx},
      {"fuzz_ptq_overrides", cquant_fuzz_ptq_overrides}};
  int files = 0;
  for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
    char dir[1024], path[2048];
    snprintf(dir, sizeof dir, "%s/fuzz/regressions/%s", CQUANT_SOURCE_DIR, targets[t].dir);
    DIR *d = opendir(dir);
    if (!d) continue; /* no regressions for this target yet */
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      void *buf;
      size_t len;
      if (cquant_file_read(path, &buf, &len)) { CHECKF(0, "cannot read %s", path); continue; }
      printf("  %s: %s\n", targets[t].dir, e->d_name);
      fflush(stdout);
      CHECK(targets[t].run((const uint8_t *)buf, len) == 0); /* a crash or trap fails the test outright */
      free(buf);
      files++;
    }
    closedir(d);
  }
  /* each directory under fuzz/regressions/ must be a known target */
  char root[1024];
  snprintf(root, sizeof root, "%s/fuzz/regressions", CQUANT_SOURCE_DIR);
  DIR *d = opendir(root);
  CHECK(d != NULL);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    int known = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) known |= strcmp(e->d_name, targets[t].dir) == 0;
    CHECKF(known, "fuzz/regressions/%s is not a fuzz target", e->d_name);
  }
  if (d) closedir(d);
  printf("  %d regression files replayed\n", files);
  CHECK(files > 0);
}

TH_MAIN(T(test_fuzz_models), T(test_fuzz_all_operators), T(test_fuzz_regressions))
