/* Status strings and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>
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
  snprintf(tmp, sizeof tmp, "%s", last_error); /* the message is rewritten in place: copy first */
  snprintf(last_error, sizeof last_error, "%s: %s", prefix, tmp);
  return status;
}
