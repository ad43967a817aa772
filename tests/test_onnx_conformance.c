/* ONNX's own operator tests (Debian's libonnx-testdata, data/node): every test whose name contains
 * quantizelinear, dequantizelinear, matmulinteger, convinteger, qlinearmatmul or qlinearconv is run
 * through cquant's ONNX executor and its outputs must equal the expected ones exactly. */
#include <dirent.h>
#include <sys/stat.h>
#include "cquant/cquant.h"
#include "harness.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

static const char *wanted[] = {"quantizelinear", "dequantizelinear", "matmulinteger", "convinteger", "qlinearmatmul", "qlinearconv"};

static int load_pb(const char *path, cquant_array_t *a) {
  void *buf;
  size_t len;
  int st = cquant_file_read(path, &buf, &len);
  if (st) return st;
  st = cquant_tensorproto_parse(buf, len, a, NULL);
  free(buf);
  return st;
}

static int equal(const cquant_array_t *a, const cquant_array_t *b) {
  if (a->dtype != b->dtype || a->ndim != b->ndim || a->numel != b->numel) return 0;
  if (memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim)) return 0;
  if (a->dtype == CQUANT_DT_F32) {
    for (int64_t i = 0; i < a->numel; i++)
      if (((float *)a->data)[i] != ((float *)b->data)[i]) return 0;
    return 1;
  }
  return memcmp(a->data, b->data, a->nbytes) == 0;
}

static int run_case(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/model.onnx", dir, name);
  cquant_onnx_model_t *m;
  if (cquant_onnx_load(path, &m)) {
    fprintf(stderr, "  %s: %s\n", name, cquant_last_error());
    return 0;
  }
  int ok = 1, sets = 0;
  for (int s = 0; ok; s++) {
    char set[3000];
    struct stat sb;
    snprintf(set, sizeof set, "%s/%s/test_data_set_%d", dir, name, s);
    if (stat(set, &sb)) break;
    sets++;
    int ni = cquant_onnx_num_inputs(m), no = cquant_onnx_num_outputs(m);
    cquant_array_t in[16], out[16], want[16];
    const char *names[16];
    memset(in, 0, sizeof in);
    memset(want, 0, sizeof want);
    for (int i = 0; i < ni && ok; i++) {
      snprintf(path, sizeof path, "%s/input_%d.pb", set, i);
      names[i] = cquant_onnx_input_name(m, i);
      if (load_pb(path, &in[i])) { ok = 0; fprintf(stderr, "  %s: %s\n", name, cquant_last_error()); }
    }
    for (int i = 0; i < no && ok; i++) {
      snprintf(path, sizeof path, "%s/output_%d.pb", set, i);
      if (load_pb(path, &want[i])) { ok = 0; fprintf(stderr, "  %s: %s\n", name, cquant_last_error()); }
    }
    if (ok && cquant_onnx_run(m, ni, names, in, out)) {
      fprintf(stderr, "  %s: %s\n", name, cquant_last_error());
      ok = 0;
    } else if (ok) {
      for (int i = 0; i < no; i++) {
        if (!equal(&out[i], &want[i])) {
          fprintf(stderr, "  %s: output %d (%s) differs\n", name, i, cquant_onnx_output_name(m, i));
          ok = 0;
        }
        cquant_array_free(&out[i]);
      }
    }
    for (int i = 0; i < ni; i++) cquant_array_free(&in[i]);
    for (int i = 0; i < no; i++) cquant_array_free(&want[i]);
  }
  cquant_onnx_free(m);
  return ok && sets > 0;
}

int main(void) {
  DIR *d = opendir(NODE_DIR);
  if (!d) {
    printf("%s is missing (scripts/setup installs libonnx-testdata)\n0 passed, 1 failed\n", NODE_DIR);
    return 1;
  }
  int passed = 0, failed = 0;
  struct dirent *e;
  static char names[256][256];
  int n = 0;
  while ((e = readdir(d)) && n < 256) {
    int want = 0;
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) want |= strstr(e->d_name, wanted[i]) != NULL;
    if (want) snprintf(names[n++], sizeof names[0], "%s", e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
  for (int i = 0; i < n; i++) {
    int ok = run_case(NODE_DIR, names[i]);
    printf("%s %s\n", ok ? "ok  " : "FAIL", names[i]);
    ok ? passed++ : failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed || passed < 17 ? 1 : 0;
}
