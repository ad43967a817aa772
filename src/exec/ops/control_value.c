/* Sequences and optionals as executor values (see exec_internal.h): an array whose data holds
 * owned cquant_array_t elements. cquant_array_free (src/core/array.c) frees them recursively. */
#include <stdlib.h>
#include <string.h>
#include "exec/exec_internal.h"

int cquant__is_container(cquant_dtype_t dt) { return dt == CQUANT_DT_SEQUENCE || dt == CQUANT_DT_OPTIONAL; }

static int container_alloc(cquant_array_t *a, cquant_dtype_t dt, int64_t n) {
  memset(a, 0, sizeof *a);
  if (n < 0 || n > ((int64_t)1 << 31)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "a sequence of %lld elements is too long", (long long)n);
  a->data = calloc((size_t)(n ? n : 1), sizeof(cquant_array_t));
  if (!a->data) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  a->dtype = dt;
  a->ndim = 1;
  a->shape[0] = n;
  a->numel = n;
  a->nbytes = (size_t)n * sizeof(cquant_array_t);
  return CQUANT_STATUS_OK;
}

int cquant__seq_alloc(cquant_array_t *a, int64_t n) { return container_alloc(a, CQUANT_DT_SEQUENCE, n); }
int cquant__opt_alloc(cquant_array_t *a, int has_value) { return container_alloc(a, CQUANT_DT_OPTIONAL, has_value ? 1 : 0); }

int cquant__array_copy(const cquant_array_t *src, cquant_array_t *dst) {
  if (!cquant__is_container(src->dtype)) {
    int st = cquant_array_alloc(dst, src->dtype, src->ndim, src->shape);
    if (!st && src->nbytes) memcpy(dst->data, src->data, src->nbytes);
    return st;
  }
  int st = container_alloc(dst, src->dtype, src->numel);
  for (int64_t i = 0; i < src->numel && !st; i++) st = cquant__array_copy(&cquant__elems(src)[i], &cquant__elems(dst)[i]);
  if (st) cquant_array_free(dst);
  return st;
}
