/* Datasets for calibration and evaluation: IDX files (the MNIST family, gzip or plain) and the
 * dataset specification the CLI takes ("fashion-mnist:test:1000"). */
#ifndef CQUANT_DATASET_H
#define CQUANT_DATASET_H

#include "cquant/npy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads an IDX file (magic 0x00000801 / 0x00000803 ...: unsigned-byte data, 1 to 4 dimensions),
 * gzip-compressed or not, into a uint8 array of its shape. BAD_FORMAT names what is wrong. */
int cquant_idx_load(const char *path, cquant_array_t *out);

/* "fashion-mnist[:train|test][:N]" (default test, all) from dir (NULL: /usr/share/datasets/fashion-mnist):
 * images as float32 N x 1 x 28 x 28 with x = (pixel / 255 - mean) / std, labels as int64 N. */
int cquant_dataset_load(const char *spec, const char *dir, float mean, float std, cquant_array_t *images, cquant_array_t *labels);

#ifdef __cplusplus
}
#endif
#endif
