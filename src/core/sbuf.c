/* cquant__sbuf_t: a growing text buffer (core/internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/internal.h"

void cquant__sbuf_printf(cquant__sbuf_t *b, const char *fmt, ...) {
  if (b->failed) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->text ? b->text + b->len : NULL, b->text ? b->cap - b->len : 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = 1;
    return;
  }
  if (b->text && b->len + (size_t)n < b->cap) {
    b->len += (size_t)n;
    return;
  }
  size_t cap = b->cap ? b->cap : 4096;
  while (cap <= b->len + (size_t)n) cap *= 2;
  char *t = realloc(b->text, cap);
  if (!t) {
    b->failed = 1;
    return;
  }
  b->text = t, b->cap = cap;
  va_start(ap, fmt);
  vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void cquant__sbuf_free(cquant__sbuf_t *b) {
  free(b->text);
  b->text = NULL;
  b->len = b->cap = 0;
}
