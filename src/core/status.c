/* Status strings and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/internal.h"

static _Thread_local char last_error[512];

const char *cquant_status_str(cquant_status status) {
  switch (status) {
#define CQUANT__STATUS_CASE(name, value, text) \
  case CQUANT_STATUS_##name:                   \
    return text;
    CQUANT_STATUS_MAP(CQUANT__STATUS_CASE)
#undef CQUANT__STATUS_CASE
  }
  return "unknown status";
}

const char *cquant_last_error(void) { return last_error; }

int cquant__error(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

int cquant__error_prefix(int status, const char *prefix) {
  char tmp[sizeof last_error];
  memcpy(tmp, last_error, sizeof tmp); /* the message is rewritten in place: copy it first */
  size_t n = strlen(prefix) < 200 ? strlen(prefix) : 200;
  memcpy(last_error, prefix, n);
  memcpy(last_error + n, ": ", 2);
  size_t rest = sizeof last_error - n - 3, m = strlen(tmp) < rest ? strlen(tmp) : rest;
  memcpy(last_error + n + 2, tmp, m);
  last_error[n + 2 + m] = 0;
  return status;
}

int cquant_set_error(int status, const char *message) { return cquant__error(status, "%s", message ? message : ""); }
