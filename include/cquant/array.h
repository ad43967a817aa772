/* The n-dimensional array every part of cquant passes around: a typed, C-ordered, owned buffer. */
#ifndef CQUANT_ARRAY_H
#define CQUANT_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include "cquant/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  cquant_dtype_t dtype; /* f32 f16 s8 u8 s16 s32 s64 */
  int ndim;             /* 0..CQUANT_MAX_DIMS; 0 is a scalar of one element */
  int64_t shape[CQUANT_MAX_DIMS];
  int64_t numel;
  size_t nbytes;
  void *data;           /* owned, 64-byte aligned */
} cquant_array_t;

/* Allocates a zeroed array of the given type and shape (64-byte aligned). INVALID_ARGUMENT for a
 * bad type or rank or a negative dimension, OUT_OF_MEMORY past 2^40 bytes or when malloc fails. */
int cquant_array_alloc(cquant_array_t *a, cquant_dtype_t dt, int ndim, const int64_t *shape);
void cquant_array_free(cquant_array_t *a);

/* The largest tensor (in bytes) cquant_array_alloc gives, which bounds every tensor a model run
 * makes: by default the machine's physical memory (at most 2^40). set_limit changes it for the whole
 * process (0 restores the default; values above 2^40 are taken as 2^40) and returns the old one;
 * a larger request is OUT_OF_MEMORY with the dimension named. */
size_t cquant_array_limit(void);
size_t cquant_array_set_limit(size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
