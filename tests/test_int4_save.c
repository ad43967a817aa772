/* Writing int4/uint4 initializers: cquant__pack4 (two per byte, element 0 in the low nibble, an odd
 * count's last high nibble 0, as ONNX stores INT4/UINT4) against hand-packed bytes and as the inverse
 * of cquant__unpack4; a graph holding int4/uint4 arrays serialises them as element types 22/21 with
 * packed raw_data (IR version 10) and loads back to the same values and outputs.
 *   test_int4_save [TEST ...]      the tests
 *   test_int4_save OUT.onnx        writes the graph's model and OUT_y.npy, OUT_y2.npy: its outputs
 *                                  for x = zeros(3, 5) (tests/qdq_runtime_test.py runs it in ONNX Runtime) */
#include "onnx_build.h"
#include "graph/graph.h"

static const int8_t W[15] = {-8, 7, 0, -1, 1, 3, -5, 6, -2, 2, 5, -7, 4, -3, -6}; /* 3 x 5: an odd count */
static const uint8_t U[7] = {15, 0, 1, 14, 8, 7, 9};
static const int8_t ZW = -1;
static const uint8_t ZU = 8;
static const float SW = 0.125f, SU = 0.3f;

static void test_pack4(void) {
  const uint8_t v[5] = {1, (uint8_t)-2, 3, 15, 7}; /* int4 1, -2, 3, -1, 7 */
  uint8_t b[3] = {0xAA, 0xAA, 0xAA};
  cquant__pack4(v, 5, b);
  CHECKF(b[0] == 0xE1 && b[1] == 0xF3 && b[2] == 0x07, "%02x %02x %02x", b[0], b[1], b[2]);
  for (int n = 0; n <= 17; n++)
    for (int sg = 0; sg < 2; sg++) {
      uint8_t src[17], packed[9], back[17];
      for (int i = 0; i < n; i++) src[i] = sg ? (uint8_t)(int8_t)((int)(th_rand() % 16) - 8) : (uint8_t)(th_rand() % 16);
      memset(packed, 0xFF, sizeof packed);
      cquant__pack4(src, n, packed);
      if (n & 1) CHECKF((packed[n / 2] >> 4) == 0, "n %d: the padding nibble is %d", n, packed[n / 2] >> 4);
      cquant__unpack4(packed, n, sg, back);
      CHECKF(!memcmp(src, back, (size_t)n), "n %d signed %d", n, sg);
    }
}

/* x (3 x 5) + DequantizeLinear(w int4 3 x 5, 0.125, -1) -> y; DequantizeLinear(u uint4 [7], 0.3, 8) -> y2,
 * built with int8/uint8 placeholders, then given the 4-bit arrays in the graph (as PTQ does). */
static int build(void **buf, size_t *len) {
  static const int64_t d35[2] = {3, 5}, d7[1] = {7};
  Onnx__TensorProto *w = tensor("w", 2, d35, 0, 1), *sw = tensor("sw", 0, NULL, 1, 1), *zw = tensor("zw", 0, NULL, 0, 0);
  Onnx__TensorProto *u = tensor("u", 1, d7, 0, 1), *su = tensor("su", 0, NULL, 1, 1), *zu = tensor("zu", 0, NULL, 0, 0);
  static const char *dq1[3] = {"w", "sw", "zw"}, *add[2] = {"wd", "x"}, *dq2[3] = {"u", "su", "zu"};
  Onnx__NodeProto *nodes[3] = {node("DequantizeLinear", 3, dq1, "wd"), node("Add", 2, add, "y"), node("DequantizeLinear", 3, dq2, "y2")};
  static const char *ins[1] = {"x"}, *outs[2] = {"y", "y2"};
  Onnx__TensorProto *inits[6] = {w, sw, zw, u, su, zu};
  cquant_onnx_model_t *m = load_model(graph("int4", 3, nodes, 1, ins, 2, outs, 6, inits));
  if (!m) return -1;
  cquant__graph_t g;
  int st = cquant__graph_from_model(m, &g);
  cquant_array_t a;
  const struct { const char *name; cquant_dtype_t dt; int nd; const int64_t *shape; const void *v; float f; } set[6] = {
      {"w", CQUANT_DT_S4, 2, d35, W, 0}, {"zw", CQUANT_DT_S4, 0, NULL, &ZW, 0}, {"u", CQUANT_DT_U4, 1, d7, U, 0},
      {"zu", CQUANT_DT_U4, 0, NULL, &ZU, 0}, {"sw", CQUANT_DT_F32, 0, NULL, NULL, SW}, {"su", CQUANT_DT_F32, 0, NULL, NULL, SU}};
  for (int i = 0; i < 6 && !st; i++) {
    if ((st = cquant_array_alloc(&a, set[i].dt, set[i].nd, set[i].shape))) break;
    if (set[i].v) memcpy(a.data, set[i].v, (size_t)a.numel);
    else *(float *)a.data = set[i].f;
    if ((st = cquant__graph_init_add(&g, set[i].name, &a))) cquant_array_free(&a);
  }
  g.opset = 21;
  if (!st) st = cquant__graph_pack(&g, buf, len);
  cquant__graph_free(&g);
  cquant_onnx_free(m);
  return st;
}

static void expected(float *y, float *y2) {
  for (int i = 0; i < 15; i++) y[i] = (float)(W[i] - ZW) * SW;
  for (int i = 0; i < 7; i++) y2[i] = (float)(U[i] - ZU) * SU;
}

static void test_graph_writes_packed(void) {
  void *buf = NULL;
  size_t len = 0;
  CHECKF(!build(&buf, &len), "%s", cquant_last_error());
  if (!buf) return;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
  CHECK(mp && mp->graph);
  if (!mp || !mp->graph) {
    free(buf);
    return;
  }
  CHECKF(mp->ir_version >= 10, "ir_version %lld", (long long)mp->ir_version);
  int seen = 0;
  for (size_t i = 0; i < mp->graph->n_initializer; i++) {
    const Onnx__TensorProto *t = mp->graph->initializer[i];
    if (!strcmp(t->name, "w")) {
      static const uint8_t want[8] = {0x78, 0xF0, 0x31, 0x6B, 0x2E, 0x95, 0xD4, 0x0A};
      CHECKF(t->data_type == 22 && t->raw_data.len == 8 && !memcmp(t->raw_data.data, want, 8), "w: type %d, %zu bytes", (int)t->data_type,
             t->raw_data.len);
      seen++;
    } else if (!strcmp(t->name, "u")) {
      static const uint8_t want[4] = {0x0F, 0xE1, 0x78, 0x09};
      CHECKF(t->data_type == 21 && t->raw_data.len == 4 && !memcmp(t->raw_data.data, want, 4), "u: type %d, %zu bytes", (int)t->data_type,
             t->raw_data.len);
      seen++;
    } else if (!strcmp(t->name, "zw") || !strcmp(t->name, "zu")) {
      const uint8_t want = t->name[1] == 'w' ? 0x0F : 0x08;
      CHECKF(t->data_type == (t->name[1] == 'w' ? 22 : 21) && t->raw_data.len == 1 && t->raw_data.data[0] == want, "%s", t->name);
      seen++;
    }
  }
  CHECK(seen == 4);
  onnx__model_proto__free_unpacked(mp, NULL);
  /* loads back (unpacked, one per byte) and runs */
  cquant_onnx_model_t *m = NULL;
  CHECKF(!cquant_onnx_load_buffer(buf, len, &m), "%s", cquant_last_error());
  free(buf);
  if (!m) return;
  const cquant_array_t *w = cquant__onnx_init(m, "w"), *u = cquant__onnx_init(m, "u");
  CHECK(w && w->dtype == CQUANT_DT_S4 && w->numel == 15 && !memcmp(w->data, W, 15));
  CHECK(u && u->dtype == CQUANT_DT_U4 && u->numel == 7 && !memcmp(u->data, U, 7));
  cquant_array_t x, out[2];
  const int64_t d35[2] = {3, 5};
  CHECK(!cquant_array_alloc(&x, CQUANT_DT_F32, 2, d35));
  const char *names[1] = {"x"};
  memset(out, 0, sizeof out);
  CHECKF(!cquant_onnx_run(m, 1, names, &x, out), "%s", cquant_last_error());
  float y[15], y2[7];
  expected(y, y2);
  CHECK(out[0].numel == 15 && !memcmp(out[0].data, y, sizeof y));
  CHECK(out[1].numel == 7 && !memcmp(out[1].data, y2, sizeof y2));
  cquant_array_free(&out[0]), cquant_array_free(&out[1]), cquant_array_free(&x);
  cquant_onnx_free(m);
}

int main(int argc, char **argv) {
  const size_t n = argc == 2 ? strlen(argv[1]) : 0;
  if (n > 5 && !strcmp(argv[1] + n - 5, ".onnx")) { /* the model for ONNX Runtime */
    void *buf = NULL;
    size_t len = 0;
    char p[4200];
    float y[15], y2[7];
    const int64_t d35[2] = {3, 5}, d7[1] = {7};
    expected(y, y2);
    FILE *f = NULL;
    int st = build(&buf, &len);
    if (!st) st = !(f = fopen(argv[1], "wb")) || fwrite(buf, 1, len, f) != len;
    if (f) st |= fclose(f) != 0;
    snprintf(p, sizeof p, "%.*s_y.npy", (int)(n - 5), argv[1]);
    if (!st) st = cquant_npy_save(p, CQUANT_DT_F32, 2, d35, y);
    snprintf(p, sizeof p, "%.*s_y2.npy", (int)(n - 5), argv[1]);
    if (!st) st = cquant_npy_save(p, CQUANT_DT_F32, 1, d7, y2);
    free(buf);
    if (st) fprintf(stderr, "test_int4_save: cannot write %s: %s\n", argv[1], cquant_last_error());
    return st ? 1 : 0;
  }
  static const th_case cases[] = {T(test_pack4), T(test_graph_writes_packed)};
  return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
