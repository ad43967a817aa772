/* Test helper for tests/image_data_test.py (no JPEG encoder is available to Python here):
 *   image_tool jpeg OUT.jpg RAW H W C QUALITY   writes the H x W x C bytes of RAW (C = 1 or 3) as a
 *                                                baseline JPEG with libjpeg-turbo (4:4:4 chroma)
 *   image_tool dump SPEC OUTDIR [NAME=VALUE...]  opens SPEC with cquant_data_open_ex and the options
 *                                                (cquant_data_options_set), and writes every batch as
 *                                                OUTDIR/xK.npy (and labels as OUTDIR/yK.npy; OUTDIR
 *                                                "-": nothing written, for timing); on error
 *                                                prints cquant's message on one line and exits 1
 *   image_tool check MODEL.onnx NPY             cquant_data_check_shape of NPY's first batch
 *   image_tool multi MODEL OUTDIR NAME=SRC...    cquant_data_open_inputs (batches of 7), the inputs
 *                                                checked and the model run on each batch: OUTDIR/yK.npy */
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/cquant.h"

static int write_jpeg(const char *out, const char *raw, int h, int w, int c, int q) {
  FILE *fr = fopen(raw, "rb");
  if (!fr) return 1;
  unsigned char *px = malloc((size_t)h * w * c);
  if (fread(px, 1, (size_t)h * w * c, fr) != (size_t)h * w * c) return 1;
  fclose(fr);
  FILE *f = fopen(out, "wb");
  if (!f) return 1;
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr jerr;
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&ci);
  jpeg_stdio_dest(&ci, f);
  ci.image_width = (JDIMENSION)w, ci.image_height = (JDIMENSION)h, ci.input_components = c;
  ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, q, TRUE);
  if (c == 3)
    for (int k = 0; k < 3; k++) ci.comp_info[k].h_samp_factor = ci.comp_info[k].v_samp_factor = 1;
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW row = px + (size_t)ci.next_scanline * w * c;
    jpeg_write_scanlines(&ci, &row, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  fclose(f);
  free(px);
  return 0;
}

/* what main has open, closed by fail() so that valgrind sees no leak on the error paths */
static cquant_data_t *g_d;
static cquant_onnx_model_t *g_m;
static int fail(void) {
  printf("%s\n", cquant_last_error());
  cquant_data_close(g_d);
  cquant_onnx_free(g_m);
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 8 && !strcmp(argv[1], "jpeg")) return write_jpeg(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]));
  if (argc >= 4 && !strcmp(argv[1], "dump")) {
    cquant_data_options_t o;
    cquant_data_options_default(&o);
    for (int i = 4; i < argc; i++) {
      char *eq = strchr(argv[i], '=');
      if (!eq) return 2;
      *eq = 0;
      if (cquant_data_options_set(&o, argv[i], eq + 1)) return fail();
    }
    cquant_data_t *d;
    if (cquant_data_open_ex(argv[2], &o, &d)) return fail();
    g_d = d;
    const cquant_array_t *x;
    const int64_t *lab;
    int64_t first;
    int k, b = 0;
    while ((k = cquant_data_next(d, &x, &lab, &first)) == 1) {
      char p[4096];
      snprintf(p, sizeof p, "%s/x%d.npy", argv[3], b);
      if (!strcmp(argv[3], "-")) { /* read only (timing) */
        b++;
        continue;
      }
      if (cquant_npy_save(p, x->dtype, x->ndim, x->shape, x->data)) return fail();
      if (lab) {
        snprintf(p, sizeof p, "%s/y%d.npy", argv[3], b);
        if (cquant_npy_save(p, CQUANT_DT_S64, 1, x->shape, lab)) return fail();
      }
      b++;
    }
    if (k < 0) return fail();
    printf("%d batches, size %lld\n", b, (long long)cquant_data_size(d));
    cquant_data_close(d);
    return 0;
  }
  if (argc >= 5 && !strcmp(argv[1], "multi")) { /* multi MODEL OUTDIR NAME=SOURCE...: run the model on every batch */
    cquant_onnx_model_t *m;
    cquant_data_t *d;
    cquant_data_options_t o;
    cquant_data_options_default(&o);
    o.batch = 7;
    if (cquant_onnx_load(argv[2], &m)) return fail();
    g_m = m;
    if (cquant_data_open_inputs((const char *const *)argv + 4, argc - 4, &o, &d)) return fail();
    g_d = d;
    const cquant_array_t *x;
    const int64_t *lab;
    int64_t first;
    int k, b = 0;
    while ((k = cquant_data_next(d, &x, &lab, &first)) == 1) {
      const int n = cquant_data_num_inputs(d);
      const char *names[16];
      cquant_array_t in[16], y[4] = {0};
      if (cquant_data_check_inputs(m, d)) return fail();
      for (int i = 0; i < n && i < 16; i++) names[i] = cquant_data_input_name(d, i), in[i] = *cquant_data_input(d, i);
      if (cquant_onnx_run(m, n, names, in, y)) return fail();
      for (int i = 1; i < cquant_onnx_num_outputs(m) && i < 4; i++) cquant_array_free(&y[i]);
      char p[4096];
      snprintf(p, sizeof p, "%s/y%d.npy", argv[3], b++);
      if (cquant_npy_save(p, y[0].dtype, y[0].ndim, y[0].shape, y[0].data)) return fail();
      cquant_array_free(&y[0]);
    }
    if (k < 0) return fail();
    printf("%d batches of %d inputs, size %lld\n", b, cquant_data_num_inputs(d), (long long)cquant_data_size(d));
    cquant_data_close(d);
    cquant_onnx_free(m);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "check")) {
    cquant_onnx_model_t *m;
    cquant_data_t *d;
    const cquant_array_t *x;
    const int64_t *lab;
    int64_t first;
    if (cquant_onnx_load(argv[2], &m)) return fail();
    g_m = m;
    if (cquant_data_open(argv[3], 0, 1, 4, &d)) return fail();
    g_d = d;
    if (cquant_data_next(d, &x, &lab, &first) != 1 || cquant_data_check_shape(m, x, argv[3])) return fail();
    printf("ok\n");
    cquant_data_close(d);
    cquant_onnx_free(m);
    return 0;
  }
  fprintf(stderr, "usage: see the comment at the top of tests/image_tool.c\n");
  return 2;
}
