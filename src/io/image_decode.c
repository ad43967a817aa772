/* PNG (libpng) and JPEG (libjpeg-turbo) files decoded to 8-bit RGB. Both libraries report errors
 * through longjmp; the handlers here turn them into a BAD_FORMAT status naming the file, so a corrupt
 * image never aborts the process. */
#include <stddef.h>
#include <stdio.h> /* before jpeglib.h, which uses size_t and FILE */
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "io/image.h"

void cquant__image_free(cquant__image_t *img) {
  if (!img) return;
  free(img->px);
  img->px = NULL;
  img->h = img->w = 0;
}

/* ---- PNG ---------------------------------------------------------------------------------------- */

typedef struct {
  jmp_buf jb;
  char msg[200];
} png_err_t;

static void png_error_fn(png_structp png, png_const_charp msg) {
  png_err_t *e = png_get_error_ptr(png);
  snprintf(e->msg, sizeof e->msg, "%s", msg);
  longjmp(e->jb, 1);
}
static void png_warning_fn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int decode_png(FILE *f, const char *path, cquant__image_t *out) {
  png_err_t err = {.msg = ""};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_error_fn, png_warning_fn);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  uint8_t *volatile px = NULL;
  png_bytep *volatile rows = NULL;
  if (!png || !info) {
    png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
  }
  if (setjmp(err.jb)) {
    png_destroy_read_struct(&png, &info, NULL);
    free(px);
    free(rows);
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: not a readable PNG image (%s)", path, err.msg);
  }
  png_init_io(png, f);
  png_set_user_limits(png, 1u << 16, 1u << 16);
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const int ct = png_get_color_type(png, info);
  if ((uint64_t)w * h > (1ull << 28)) png_error(png, "image too large");
  png_set_scale_16(png); /* 16-bit samples: round(v * 255 / 65535) */
  if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  png_set_strip_alpha(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png), png_set_strip_alpha(png);
  png_set_packing(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row size after conversion to RGB");
  px = malloc((size_t)w * h * 3);
  rows = malloc(sizeof(png_bytep) * h);
  if (!px || !rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < h; y++) rows[y] = px + (size_t)y * w * 3;
  png_read_image(png, rows);
  png_read_end(png, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  free(rows);
  out->px = px, out->h = (int)h, out->w = (int)w;
  return 0;
}

/* ---- JPEG --------------------------------------------------------------------------------------- */

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX];
} jpeg_err_t;

static void jpeg_error_exit(j_common_ptr c) {
  jpeg_err_t *e = (jpeg_err_t *)c->err;
  c->err->format_message(c, e->msg);
  longjmp(e->jb, 1);
}
/* Warnings (a premature end of data, for one) are errors here: a truncated JPEG decodes to a gray
 * lower half, which would calibrate on made-up pixels. */
static void jpeg_emit(j_common_ptr c, int level) {
  if (level < 0) jpeg_error_exit(c);
}

static int decode_jpeg(FILE *f, const char *path, cquant__image_t *out) {
  struct jpeg_decompress_struct cinfo;
  jpeg_err_t err;
  uint8_t *volatile px = NULL;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_error_exit;
  err.pub.emit_message = jpeg_emit;
  if (setjmp(err.jb)) {
    jpeg_destroy_decompress(&cinfo);
    free(px);
    return cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: not a readable JPEG image (%s)", path, err.msg);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    err.pub.msg_code = 0;
    snprintf(err.msg, sizeof err.msg, "CMYK JPEG images are not supported");
    longjmp(err.jb, 1);
  }
  cinfo.out_color_space = JCS_RGB;
  if ((uint64_t)cinfo.image_width * cinfo.image_height > (1ull << 28)) {
    snprintf(err.msg, sizeof err.msg, "image too large (%u x %u)", cinfo.image_width, cinfo.image_height);
    longjmp(err.jb, 1);
  }
  jpeg_start_decompress(&cinfo);
  const size_t w = cinfo.output_width, h = cinfo.output_height;
  px = malloc(w * h * 3);
  if (!px) {
    snprintf(err.msg, sizeof err.msg, "out of memory");
    longjmp(err.jb, 1);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = px + (size_t)cinfo.output_scanline * w * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  out->px = px, out->h = (int)h, out->w = (int)w;
  return 0;
}

int cquant__image_decode(const char *path, cquant__image_t *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return cquant__error(CQUANT_STATUS_IO, "%s: cannot open the file", path);
  unsigned char sig[8] = {0};
  const size_t n = fread(sig, 1, sizeof sig, f);
  rewind(f);
  int st;
  if (n == 8 && !png_sig_cmp(sig, 0, 8)) st = decode_png(f, path, out);
  else if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) st = decode_jpeg(f, path, out);
  else st = cquant__error(CQUANT_STATUS_BAD_FORMAT, "%s: not a PNG or JPEG image (its first bytes are neither signature)", path);
  fclose(f);
  return st;
}
