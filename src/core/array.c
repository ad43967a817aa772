/* cquant_array_t: allocation with overflow-checked shapes (include/cquant/array.h). */
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "cquant/array.h"

static int array_alloc(cquant_array_t *a, cquant_dtype_t dt, int ndim, const int64_t *shape, int zero) {
  if (!a) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "array: NULL");
  memset(a, 0, sizeof *a);
  const size_t es = cquant_dtype_info(dt) ? (size_t)(cquant_dtype_info(dt)->bits + 7) / 8 : 0; /* sub-byte types: one per byte */
  if (!es || ndim < 0 || ndim > CQUANT_MAX_DIMS) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "array: bad type or rank");
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "array: negative dimension");
    /* no product may overflow: a shape from a user's file or graph is checked here once for all */
    if (shape[d] && n > ((int64_t)1 << 40) / shape[d] / (int64_t)es)
      return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "array: a tensor of shape dimension %lld at axis %d would exceed 2^40 bytes",
                           (long long)shape[d], d);
    a->shape[d] = shape[d];
    n *= shape[d];
  }
  size_t nb = (size_t)n * es, cap = (nb + 63) / 64 * 64;
  a->data = aligned_alloc(64, cap ? cap : 64);
  if (!a->data) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "cannot allocate %zu bytes", nb);
  if (zero) memset(a->data, 0, cap ? cap : 64);
  a->dtype = dt;
  a->ndim = ndim;
  a->numel = n;
  a->nbytes = nb;
  return CQUANT_STATUS_OK;
}

int cquant_array_alloc(cquant_array_t *a, cquant_dtype_t dt, int ndim, const int64_t *shape) { return array_alloc(a, dt, ndim, shape, 1); }

/* As cquant_array_alloc, without zeroing: for outputs whose every element is written (one pass over
 * memory less for a large activation). */
int cquant__array_alloc_uninit(cquant_array_t *a, cquant_dtype_t dt, int ndim, const int64_t *shape) { return array_alloc(a, dt, ndim, shape, 0); }

void cquant_array_free(cquant_array_t *a) {
  if (!a) return;
  if ((a->dtype == CQUANT_DT_SEQUENCE || a->dtype == CQUANT_DT_OPTIONAL) && a->data) /* containers: their elements first */
    for (int64_t i = 0; i < a->numel; i++) cquant_array_free(&((cquant_array_t *)a->data)[i]);
  free(a->data);
  memset(a, 0, sizeof *a);
}
