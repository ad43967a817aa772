/* Internal: decoding PNG and JPEG files to 8-bit RGB (image_decode.c) and the image-folder data
 * source's preprocessing (image_source.c); see docs/formats.md, "Image folders". */
#ifndef CQUANT_IO_IMAGE_H
#define CQUANT_IO_IMAGE_H

#include <stdint.h>
#include "cquant/data.h"

typedef struct {
  uint8_t *px; /* h x w x 3, RGB, row-major */
  int h, w;
} cquant__image_t;

/* Decodes a PNG (libpng: palette, gray, alpha dropped, 16-bit scaled to 8) or JPEG (libjpeg-turbo:
 * gray, YCbCr, CMYK converted to RGB) file, chosen by its first bytes. BAD_FORMAT naming the file for
 * anything else or a corrupt file, IO for an unreadable one. */
int cquant__image_decode(const char *path, cquant__image_t *out);
void cquant__image_free(cquant__image_t *img);

/* The preprocessed size of an h x w image (docs/formats.md eq. F2-F3); INVALID_ARGUMENT naming path
 * when the image is smaller than the crop. */
int cquant__image_out_size(const cquant_data_options_t *o, const char *path, int h, int w, int64_t *oh, int64_t *ow);

/* Writes the preprocessed image (eq. F1-F5) as C x oh x ow (nhwc = 0) or oh x ow x C floats;
 * OUT_OF_MEMORY is the only error. */
int cquant__image_preprocess(const cquant_data_options_t *o, const cquant__image_t *img, int64_t oh, int64_t ow, float *dst);

#endif
