/* cquant_array_t: allocation with overflow-checked shapes (include/cquant/array.h). */
#define _DEFAULT_SOURCE /* sysconf */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "core/internal.h"
#include "cquant/array.h"

/* The largest tensor one allocation may hold (0: not set yet, the default applies). */
static size_t tensor_limit;

size_t cquant_array_limit(void) {
  size_t lim = __atomic_load_n(&tensor_limit, __ATOMIC_RELAXED);
  if (lim) return lim;
  /* the default: the machine's physical memory (a tensor larger than it cannot be computed here),
   * at most 2^40 bytes */
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
  lim = (size_t)1 << 40;
  if (pages > 0 && psz > 0 && (unsigned long long)pages * (unsigned long long)psz < lim) lim = (size_t)pages * (size_t)psz;
  return lim;
}

size_t cquant_array_set_limit(size_t bytes) {
  const size_t old = cquant_array_limit();
  __atomic_store_n(&tensor_limit, bytes > ((size_t)1 << 40) ? (size_t)1 << 40 : bytes, __ATOMIC_RELAXED);
  return old;
}

static int array_alloc(cquant_array_t *a, cquant_dtype_t dt, int ndim, const int64_t *shape, int zero) {
  if (!a) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "array: NULL");
  memset(a, 0, sizeof *a);
  const size_t es = cquant_dtype_info(dt) ? (size_t)(cquant_dtype_info(dt)->bits + 7) / 8 : 0; /* sub-byte types: one per byte */
  if (!es || ndim < 0 || ndim > CQUANT_MAX_DIMS) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "array: bad type or rank");
  int64_t n = 1;
  const int64_t limit = (int64_t)cquant_array_limit();
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "array: negative dimension");
    /* no product may overflow: a shape from a user's file or graph is checked here once for all */
    if (shape[d] && n > limit / shape[d] / (int64_t)es)
      return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "array: a tensor with dimension %lld at axis %d would exceed %lld bytes (the tensor limit)",
                           (long long)shape[d], d, (long long)limit);
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
int cquant__array_alloc_uninit(cquant_array_t *a, cquant_dtype_t dt, int ndim, const int64_t *shape) {
  int st = array_alloc(a, dt, ndim, shape, 0);
  if (st || a->nbytes < ((size_t)4 << 20)) return st;
  /* 4 MiB or more: on 2 MiB boundaries with transparent huge pages asked for, so that the first
   * writes fault once per 2 MiB instead of once per 4 KiB page (a run of one inference touches
   * most of its activations for the first time) */
  void *h = aligned_alloc((size_t)2 << 20, (a->nbytes + ((size_t)2 << 20) - 1) / ((size_t)2 << 20) * ((size_t)2 << 20));
  if (!h) return CQUANT_STATUS_OK;
  free(a->data);
  a->data = h;
  madvise(h, (a->nbytes + ((size_t)2 << 20) - 1) / ((size_t)2 << 20) * ((size_t)2 << 20), MADV_HUGEPAGE);
  return CQUANT_STATUS_OK;
}

void cquant_array_free(cquant_array_t *a) {
  if (!a) return;
  if ((a->dtype == CQUANT_DT_SEQUENCE || a->dtype == CQUANT_DT_OPTIONAL) && a->data) /* containers: their elements first */
    for (int64_t i = 0; i < a->numel; i++) cquant_array_free(&((cquant_array_t *)a->data)[i]);
  free(a->data);
  memset(a, 0, sizeof *a);
}
