/* .npy reader and writer: round trips of every type and rank, headers written by NumPy in every
 * version, clear errors for what is not supported, and a mutation fuzz: thousands of corrupted
 * files must be refused or read, never crash or leak (the suite also runs under ASan/UBSan). */
#include "core/internal.h"
#include "harness.h"
#include <unistd.h>

static void test_round_trip(void) {
  static const cquant_dtype_t dts[] = {CQUANT_DT_F32, CQUANT_DT_F16, CQUANT_DT_S8, CQUANT_DT_U8,
                                       CQUANT_DT_S16, CQUANT_DT_S32, CQUANT_DT_S64};
  const int64_t shapes[][4] = {{7, 0, 0, 0}, {3, 5, 0, 0}, {2, 3, 4, 0}, {0, 4, 0, 0}, {1, 1, 1, 9}};
  const int ranks[] = {1, 2, 3, 2, 4};
  for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++) {
    for (int s = 0; s < 5; s++) {
      cquant_array_t a, b;
      CHECK(cquant_array_alloc(&a, dts[t], ranks[s], shapes[s]) == 0);
      for (size_t i = 0; i < a.nbytes; i++) ((uint8_t *)a.data)[i] = (uint8_t)th_rand();
      void *buf;
      size_t len;
      CHECK(cquant_npy_serialize(a.dtype, a.ndim, a.shape, a.data, &buf, &len) == 0);
      CHECK(len % 64 == a.nbytes % 64); /* header padded to a multiple of 64 bytes */
      CHECK(cquant_npy_parse(buf, len, &b) == 0);
      CHECK(b.dtype == a.dtype && b.ndim == a.ndim && b.numel == a.numel);
      CHECK(memcmp(b.shape, a.shape, sizeof(int64_t) * (size_t)a.ndim) == 0);
      CHECK(a.nbytes == 0 || memcmp(a.data, b.data, a.nbytes) == 0);
      free(buf);
      cquant_array_free(&a);
      cquant_array_free(&b);
    }
  }
  /* a scalar: shape () */
  float v = 3.5f;
  void *buf;
  size_t len;
  cquant_array_t b;
  CHECK(cquant_npy_serialize(CQUANT_DT_F32, 0, NULL, &v, &buf, &len) == 0);
  CHECK(strstr((char *)buf + 10, "'shape': ()") != NULL);
  CHECK(cquant_npy_parse(buf, len, &b) == 0 && b.ndim == 0 && b.numel == 1 && *(float *)b.data == 3.5f);
  free(buf);
  cquant_array_free(&b);
}

/* A file as NumPy writes it: version, header text, payload. */
static size_t make(uint8_t *out, int major, const char *header, const void *data, size_t nbytes) {
  size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (uint8_t)major;
  out[7] = 0;
  if (major == 1) { out[8] = (uint8_t)hl; out[9] = (uint8_t)(hl >> 8); }
  else for (int i = 0; i < 4; i++) out[8 + i] = (uint8_t)(hl >> (8 * i));
  memcpy(out + pre, header, hl);
  memcpy(out + pre + hl, data, nbytes);
  return pre + hl + nbytes;
}

static int parse_status(int major, const char *header, size_t nbytes) {
  static uint8_t buf[4096];
  uint8_t data[256] = {0};
  size_t len = make(buf, major, header, data, nbytes);
  cquant_array_t a;
  int st = cquant_npy_parse(buf, len, &a);
  if (!st) cquant_array_free(&a);
  return st;
}

static void test_versions_and_spellings(void) {
  CHECK(parse_status(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }          \n", 12) == 0);
  CHECK(parse_status(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }          \n", 12) == 0);
  CHECK(parse_status(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }          \n", 12) == 0);
  CHECK(parse_status(1, "{\"descr\": \"<i8\", \"shape\": (2, 2), \"fortran_order\": False}\n", 32) == 0);
  CHECK(parse_status(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,)}\n", 5) == 0);
  CHECK(parse_status(1, "{'descr': '<i1', 'fortran_order': False, 'shape': (5,)}\n", 5) == 0);
  CHECK(parse_status(1, "{'descr': '=i2', 'fortran_order': False, 'shape': (2L, 1L)}\n", 4) == 0);
  /* the executor's other element types */
  CHECK(parse_status(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", 24) == 0);
  CHECK(parse_status(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n", 3) == 0);
  CHECK(parse_status(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }\n", 6) == 0);
  CHECK(parse_status(1, "{'descr': '<u4', 'fortran_order': False, 'shape': (3,), }\n", 12) == 0);
  CHECK(parse_status(1, "{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }\n", 24) == 0);
}

static void test_errors(void) {
  struct { int major; const char *h; size_t nb; int st; const char *msg; } cases[] = {
      {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }\n", 12, CQUANT_STATUS_UNSUPPORTED, "big-endian"},
      {1, "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }\n", 48, CQUANT_STATUS_UNSUPPORTED, "'<c16' is not supported"},
      {1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }\n", 24, CQUANT_STATUS_UNSUPPORTED, "not supported"},
      {1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }\n", 12, CQUANT_STATUS_UNSUPPORTED, "structured"},
      {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }\n", 12, CQUANT_STATUS_UNSUPPORTED, "Fortran"},
      {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", 12, CQUANT_STATUS_BAD_FORMAT, "truncated data"},
      {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 12, CQUANT_STATUS_BAD_FORMAT, "after the data"},
      {1, "{'descr': '<f4', 'shape': (3,), }\n", 12, CQUANT_STATUS_BAD_FORMAT, "missing 'fortran_order'"},
      {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}\n", 12, CQUANT_STATUS_BAD_FORMAT, "unknown key"},
      {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }\n", 12, CQUANT_STATUS_BAD_FORMAT, "bad dimension"},
      {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", 12, CQUANT_STATUS_BAD_FORMAT, "too large"},
      {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", 12, CQUANT_STATUS_BAD_FORMAT, "too large"},
      {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n", 4, CQUANT_STATUS_UNSUPPORTED, "dimensions"},
      {4, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", 12, CQUANT_STATUS_UNSUPPORTED, "version"},
      {1, "not a dict at all\n", 0, CQUANT_STATUS_BAD_FORMAT, "not a dict"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int st = parse_status(cases[i].major, cases[i].h, cases[i].nb);
    CHECKF(st == cases[i].st && strstr(cquant_last_error(), cases[i].msg), "case %zu: status %d, message '%s'", i, st, cquant_last_error());
  }
  cquant_array_t a;
  CHECK(cquant_npy_parse("\x93NUMPY", 6, &a) == CQUANT_STATUS_BAD_FORMAT);
  CHECK(cquant_npy_parse("PK\x03\x04 this is a zip", 20, &a) == CQUANT_STATUS_BAD_FORMAT);
  CHECK(cquant_npy_load("/nonexistent/x.npy", &a) == CQUANT_STATUS_IO);
  /* header length pointing past the end */
  uint8_t buf[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{', '}'};
  CHECK(cquant_npy_parse(buf, 12, &a) == CQUANT_STATUS_BAD_FORMAT);
}

/* Mutation fuzz: valid files of every type, corrupted by bit flips, byte overwrites with
 * interesting values, truncation, extension and header-text splices. */
static void test_fuzz(void) {
  long iters = getenv("CQUANT_FUZZ_ITERS") ? atol(getenv("CQUANT_FUZZ_ITERS")) : 20000;
  static const cquant_dtype_t dts[] = {CQUANT_DT_F32, CQUANT_DT_F16, CQUANT_DT_S8, CQUANT_DT_U8, CQUANT_DT_S16, CQUANT_DT_S32, CQUANT_DT_S64};
  static const char *splices[] = {"(", ")", ",", "'", "\"", ":", "{", "}", "True", "False", "999999999999", "-1", "L", "<f4", ">i2", "\\", "\0", "((", "1,2,3,4,5,6,7,8,9"};
  long accepted = 0, refused = 0;
  uint8_t *m = malloc(1 << 16);
  for (long it = 0; it < iters; it++) {
    int64_t shape[3] = {(int64_t)(th_rand() % 5), (int64_t)(th_rand() % 7), (int64_t)(th_rand() % 3 + 1)};
    int ndim = (int)(th_rand() % 4);
    cquant_array_t a;
    if (cquant_array_alloc(&a, dts[th_rand() % 7], ndim, shape)) continue;
    void *buf;
    size_t len;
    cquant_npy_serialize(a.dtype, a.ndim, a.shape, a.data, &buf, &len);
    cquant_array_free(&a);
    if (len > (1 << 15)) { free(buf); continue; }
    memcpy(m, buf, len);
    free(buf);
    int nmut = 1 + (int)(th_rand() % 4);
    for (int k = 0; k < nmut; k++) {
      size_t pos = len ? th_rand() % len : 0;
      switch (th_rand() % 6) {
        case 0: m[pos] ^= (uint8_t)(1u << (th_rand() % 8)); break;
        case 1: { static const uint8_t vals[] = {0, 0xff, 0x7f, 0x80, '(', ')', ',', '\'', ' ', '\n'}; m[pos] = vals[th_rand() % 10]; break; }
        case 2: len = pos; break; /* truncate */
        case 3: { size_t extra = th_rand() % 64; for (size_t i = 0; i < extra && len < (1 << 16); i++) m[len++] = (uint8_t)th_rand(); break; }
        case 4: {
          const char *s = splices[th_rand() % (sizeof splices / sizeof splices[0])];
          size_t sl = strlen(s);
          if (pos + sl <= len) memcpy(m + pos, s, sl);
          break;
        }
        case 5: if (len > 9) { m[8 + th_rand() % 2] = (uint8_t)th_rand(); } break; /* header length */
      }
    }
    cquant_array_t out;
    if (cquant_npy_parse(m, len, &out) == 0) {
      accepted++;
      /* what is accepted must be self-consistent */
      int64_t n = 1;
      for (int d = 0; d < out.ndim; d++) n *= out.shape[d];
      CHECK(n == out.numel && out.data != NULL);
      cquant_array_free(&out);
    } else {
      refused++;
      CHECK(cquant_last_error()[0] != 0);
    }
  }
  free(m);
  printf("  %ld mutated files: %ld accepted, %ld refused with an error\n", iters, accepted, refused);
  CHECK(refused > iters / 4);
}

static void test_save_atomic(void) {
  char dir[] = "/tmp/cquant_npy_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/a.npy", dir);
  int64_t sh[1] = {4};
  float v[4] = {1, 2, 3, 4};
  CHECK(cquant_npy_save(path, CQUANT_DT_F32, 1, sh, v) == 0);
  cquant_array_t a;
  CHECK(cquant_npy_load(path, &a) == 0 && a.numel == 4 && ((float *)a.data)[3] == 4);
  cquant_array_free(&a);
  /* saving into a folder that does not exist fails cleanly */
  char bad[300];
  snprintf(bad, sizeof bad, "%s/missing/b.npy", dir);
  CHECK(cquant_npy_save(bad, CQUANT_DT_F32, 1, sh, v) == CQUANT_STATUS_IO);
  remove(path);
  CHECK(rmdir(dir) == 0); /* no temporary file left behind */
}

TH_MAIN(T(test_round_trip), T(test_versions_and_spellings), T(test_errors), T(test_fuzz), T(test_save_atomic))
