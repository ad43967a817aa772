/* Structure-aware mutation of small real exporter models (tests/data/mutate/, made by
 * tools/zoo/gen_fuzz_seeds.py: If/Loop/sequences, LSTM, GRU, Resize/ConvTranspose/ceil-mode pooling,
 * TopK/NonMaxSuppression/RoiAlign, attention with LayerNorm and a bool mask, Einsum/CumSum/ScatterND,
 * Scan, a QDQ model), the deterministic short form of scripts/fuzz's fuzz_onnx target: the same
 * mutator and runner (fuzz/onnx_mutate.c). Every mutated model must load and run, or fail with a
 * status and a message and leave no outputs; the suite runs this under ASan/UBSan too (no crash,
 * leak or undefined behaviour).
 *   CQUANT_MUTATE_ITERS=N   mutations (default 4000)
 *   CQUANT_MUTATE_ONLY=I    only iteration I, its model written to mutate_I.onnx first (to replay a crash)
 *   CQUANT_MUTATE_VERBOSE=1 each iteration's number on stderr before it runs (which one crashed) */
#include <dirent.h>
#include "cquant/cquant.h"
#include "harness.h"
#include "onnx_mutate.h"

#define SEED_DIR CQUANT_SOURCE_DIR "/tests/data/mutate"

typedef struct {
  char name[64];
  uint8_t *buf;
  size_t len;
} seed_t;

static seed_t seeds[64];
static int n_seeds;

static int cmp_seed(const void *a, const void *b) { return strcmp(((const seed_t *)a)->name, ((const seed_t *)b)->name); }

static void load_seeds(void) {
  if (n_seeds) return;
  DIR *d = opendir(SEED_DIR);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d)) && n_seeds < 64;) {
    const size_t l = strlen(e->d_name);
    if (l < 6 || l >= 64 || strcmp(e->d_name + l - 5, ".onnx")) continue;
    char path[1024];
    snprintf(path, sizeof path, SEED_DIR "/%s", e->d_name);
    void *buf;
    size_t len;
    if (cquant_file_read(path, &buf, &len)) continue;
    snprintf(seeds[n_seeds].name, sizeof seeds[n_seeds].name, "%s", e->d_name);
    seeds[n_seeds].buf = buf, seeds[n_seeds].len = len;
    n_seeds++;
  }
  closedir(d);
  qsort(seeds, (size_t)n_seeds, sizeof seeds[0], cmp_seed); /* readdir's order is not fixed */
}

/* The seeds as they are: each loads and runs (else the mutations start from a broken model), the QDQ
 * ones also in their integer form. */
static void test_seeds_run(void) {
  load_seeds();
  CHECKF(n_seeds >= 20, "%d seed models in " SEED_DIR, n_seeds);
  for (int i = 0; i < n_seeds; i++) {
    cquant_fuzz_onnx_stats_t s = {0};
    const char *why;
    CHECK(cquant_fuzz_onnx_exec(seeds[i].buf, seeds[i].len, &s, &why) == 0);
    CHECKF(s.loaded == 1 && s.fed == 1 && s.ran == 1, "%s: loaded %ld fed %ld ran %ld: %s", seeds[i].name, s.loaded, s.fed, s.ran,
           cquant_last_error());
    if (!strncmp(seeds[i].name, "qdq", 3)) {
      int n_int = 0;
      cquant_onnx_model_t *m, *im;
      CHECK(cquant_onnx_load_buffer(seeds[i].buf, seeds[i].len, &m) == 0);
      CHECK(cquant_onnx_integerize(m, &im, &n_int) == 0);
      CHECKF(n_int >= 2, "%s: %d integer operators", seeds[i].name, n_int);
      CHECK(s.ran_int == 1);
      cquant_onnx_free(im);
      cquant_onnx_free(m);
    }
  }
}

static void byte_mutate(uint8_t *m, size_t *len, size_t cap) {
  const int k = 1 + (int)(th_rand() % 4);
  for (int j = 0; j < k && *len; j++) {
    const size_t pos = th_rand() % *len;
    switch (th_rand() % 4) {
      case 0: m[pos] ^= (uint8_t)(1u << (th_rand() % 8)); break;
      case 1: m[pos] = (uint8_t)th_rand(); break;
      case 2: m[pos] = (uint8_t)(th_rand() % 2 ? 0x7f : 0xff); break; /* varint lengths */
      default: if (*len + 4 <= cap) { memmove(m + pos + 4, m + pos, *len - pos); *len += 4; } break;
    }
  }
}

static void test_structured_mutations(void) {
  load_seeds();
  if (!n_seeds) { CHECK(0); return; }
  const long iters = getenv("CQUANT_MUTATE_ITERS") ? atol(getenv("CQUANT_MUTATE_ITERS")) : 4000;
  const long only = getenv("CQUANT_MUTATE_ONLY") ? atol(getenv("CQUANT_MUTATE_ONLY")) : -1;
  const int verbose = getenv("CQUANT_MUTATE_VERBOSE") != NULL;
  cquant_fuzz_onnx_limits();
  static uint8_t buf[1 << 17];
  cquant_fuzz_onnx_stats_t s = {0};
  long mutated = 0, bad = 0;
  for (long it = 0; it < iters; it++) {
    const seed_t *sd = &seeds[it % n_seeds];
    th_rng_state = 0x9e3779b97f4a7c15ull * (uint64_t)(it + 1); /* each iteration replays alone */
    size_t len = sd->len;
    if (len > sizeof buf) continue;
    memcpy(buf, sd->buf, len);
    const int rounds = 1 + (int)(th_rand() % 3); /* stacked mutations reach past the first check */
    for (int r = 0; r < rounds; r++) {
      const size_t n = th_rand() % 8 ? cquant_fuzz_onnx_mutate(buf, len, sizeof buf, (uint32_t)th_rand()) : 0;
      if (n) len = n, mutated++;
      else byte_mutate(buf, &len, sizeof buf);
    }
    if (only >= 0 && it != only) continue;
    if (only >= 0) {
      char path[64];
      snprintf(path, sizeof path, "mutate_%ld.onnx", it);
      FILE *f = fopen(path, "wb");
      if (f) fwrite(buf, 1, len, f), fclose(f);
      printf("  iteration %ld (seed %s) written to %s\n", it, sd->name, path);
    }
    if (verbose) fprintf(stderr, "iteration %ld (seed %s)\n", it, sd->name);
    const char *why;
    if (cquant_fuzz_onnx_exec(buf, len, &s, &why)) {
      bad++;
      CHECKF(0, "iteration %ld (seed %s): %s (last error '%s')", it, sd->name, why, cquant_last_error());
    }
  }
  printf("  %ld mutated models (%ld structure-aware mutations) of %d seeds: %ld loaded, %ld fed, %ld ran, %ld integerized, %ld ran "
         "as integer\n",
         s.runs, mutated, n_seeds, s.loaded, s.fed, s.ran, s.integer, s.ran_int);
  CHECK(bad == 0);
  if (only < 0) { /* the mutations must neither break every model nor leave them all intact */
    CHECKF(s.loaded > s.runs / 10 && s.loaded < s.runs, "%ld of %ld loaded", s.loaded, s.runs);
    CHECKF(s.ran > s.runs / 20 && s.ran < s.loaded, "%ld of %ld ran", s.ran, s.runs);
  }
}

static void test_mutator_is_deterministic(void) {
  load_seeds();
  if (!n_seeds) { CHECK(0); return; }
  static uint8_t a[1 << 17], b[1 << 17];
  int changed = 0;
  for (uint32_t seed = 1; seed <= 50; seed++) {
    const seed_t *sd = &seeds[seed % (uint32_t)n_seeds];
    memcpy(a, sd->buf, sd->len), memcpy(b, sd->buf, sd->len);
    const size_t na = cquant_fuzz_onnx_mutate(a, sd->len, sizeof a, seed), nb = cquant_fuzz_onnx_mutate(b, sd->len, sizeof b, seed);
    CHECK(na == nb && !memcmp(a, b, na));
    changed += na && (na != sd->len || memcmp(a, sd->buf, na));
  }
  CHECKF(changed >= 45, "%d of 50 mutations changed the model", changed);
  uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3};
  CHECK(cquant_fuzz_onnx_mutate(junk, sizeof junk, sizeof junk, 1) == 0); /* not a ModelProto: left to byte mutation */
}

TH_MAIN(T(test_seeds_run), T(test_mutator_is_deterministic), T(test_structured_mutations))
