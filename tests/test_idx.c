/* IDX reader: the real Fashion-MNIST files, then malformed, truncated and mutated ones (gzip and
 * plain) that must be refused with an error or read consistently, never crash or leak. */
#include <zlib.h>
#include "cquant/cquant.h"
#include "harness.h"
#include <unistd.h>

static const char *tmpdir;

static void write_gz(const char *path, const unsigned char *b, size_t n, int gz) {
  if (gz) {
    gzFile f = gzopen(path, "wb");
    gzwrite(f, b, (unsigned)n);
    gzclose(f);
  } else {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
  }
}

static void test_real_files(void) {
  cquant_array_t a, l;
  CHECK(cquant_idx_load("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", &a) == 0);
  CHECK(a.dtype == CQUANT_DT_U8 && a.ndim == 3 && a.shape[0] == 10000 && a.shape[1] == 28 && a.shape[2] == 28);
  cquant_array_free(&a);
  CHECK(cquant_dataset_load("fashion-mnist:train:7", NULL, 0.5f, 0.5f, &a, &l) == 0);
  CHECK(a.shape[0] == 7 && a.shape[1] == 1 && l.numel == 7 && ((int64_t *)l.data)[0] == 9); /* the first training label */
  float mn = 1e9f, mx = -1e9f;
  for (int64_t i = 0; i < a.numel; i++) { mn = fminf(mn, ((float *)a.data)[i]); mx = fmaxf(mx, ((float *)a.data)[i]); }
  CHECK(mn >= -1.0f && mx <= 1.0f && mx > 0.9f);
  cquant_array_free(&a);
  cquant_array_free(&l);
}

static void test_malformed(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/x.idx.gz", tmpdir);
  unsigned char ok[16 + 24] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
  for (int i = 16; i < 40; i++) ok[i] = (unsigned char)i;
  cquant_array_t a;
  for (int gz = 0; gz < 2; gz++) {
    write_gz(path, ok, sizeof ok, gz);
    CHECK(cquant_idx_load(path, &a) == 0 && a.ndim == 3 && a.numel == 24 && ((uint8_t *)a.data)[23] == 39);
    cquant_array_free(&a);
    write_gz(path, ok, sizeof ok - 1, gz); /* truncated data */
    CHECK(cquant_idx_load(path, &a) == CQUANT_STATUS_BAD_FORMAT && strstr(cquant_last_error(), "truncated"));
    unsigned char bad[16];
    memcpy(bad, ok, 16);
    bad[2] = 0x0d; /* float data: not supported */
    write_gz(path, bad, 16, gz);
    CHECK(cquant_idx_load(path, &a) == CQUANT_STATUS_BAD_FORMAT);
    memcpy(bad, ok, 16);
    bad[4] = 0x7f; /* a huge dimension */
    write_gz(path, bad, 16, gz);
    CHECK(cquant_idx_load(path, &a) == CQUANT_STATUS_BAD_FORMAT);
  }
  CHECK(cquant_idx_load("/nonexistent.idx", &a) == CQUANT_STATUS_IO);
  /* mutation fuzz */
  long accepted = 0;
  for (int it = 0; it < 2000; it++) {
    unsigned char m[40];
    memcpy(m, ok, sizeof m);
    size_t len = sizeof m;
    for (int k = 0; k < 3 && len; k++) {
      size_t pos = th_rand() % len;
      if (th_rand() % 4 == 0) len = pos;
      else m[pos] = (unsigned char)th_rand();
    }
    write_gz(path, m, len, (int)(it & 1));
    if (cquant_idx_load(path, &a) == 0) {
      accepted++;
      CHECK(a.data != NULL || a.numel == 0);
      cquant_array_free(&a);
    }
  }
  printf("  2000 mutated IDX files: %ld accepted\n", accepted);
  remove(path);
}

int main(int argc, char **argv) {
  char dir[] = "/tmp/cquant_idx_XXXXXX";
  tmpdir = mkdtemp(dir);
  static const th_case cases[] = {T(test_real_files), T(test_malformed)};
  int r = th_run(cases, 2, argc, argv);
  rmdir(dir);
  return r;
}
