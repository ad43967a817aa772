/* NumPy .npy files: versions 1.0, 2.0 and 3.0, little-endian, C order.
 * Types: float32, float16, int8, uint8, int16, int32, int64 (read and write). */
#ifndef CQUANT_NPY_H
#define CQUANT_NPY_H

#include <stddef.h>
#include <stdint.h>
#include "cquant/dtype.h"
#include "cquant/array.h"
#include "cquant/qparams.h"

#ifdef __cplusplus
extern "C" {
#endif


/* Parses a whole .npy image held in memory. On error nothing is allocated and
 * cquant_last_error says what is wrong (BAD_FORMAT for malformed or truncated, UNSUPPORTED for a
 * valid file of a type or order cquant does not read). */
int cquant_npy_parse(const void *buf, size_t len, cquant_array_t *out);

/* Reads a file. IO for a missing or unreadable file, then as cquant_npy_parse. */
int cquant_npy_load(const char *path, cquant_array_t *out);

/* Reads a float32 or float16 file as float32 (UNSUPPORTED for other types); NaN and Inf are refused
 * (NOT_FINITE naming the element) unless allow_nonfinite. */
int cquant_npy_load_float(const char *path, int allow_nonfinite, cquant_array_t *out);

/* Writes a version 1.0 file (2.0 when the header needs it) through a temporary file in the same
 * folder and a rename, so a failed write never leaves a partial file at path. */
int cquant_npy_save(const char *path, cquant_dtype_t dt, int ndim, const int64_t *shape,
                    const void *data);

/* Serialises into a new malloc'd buffer (for tests and in-memory use). */
int cquant_npy_serialize(cquant_dtype_t dt, int ndim, const int64_t *shape, const void *data,
                         void **buf, size_t *len);


#ifdef __cplusplus
}
#endif
#endif
