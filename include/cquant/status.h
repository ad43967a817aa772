/* cquant status codes. Every library function that can fail returns a cquant_status:
 * 0 on success, a negative value on error. The library never aborts, exits or prints. */
#ifndef CQUANT_STATUS_H
#define CQUANT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* One X-macro makes both the enum and its strings. */
#define CQUANT_STATUS_MAP(X)                                             \
  X(OK, 0, "success")                                                    \
  X(INVALID_ARGUMENT, -1, "invalid argument")                            \
  X(OUT_OF_MEMORY, -2, "out of memory")                                  \
  X(IO, -3, "input/output error")                                        \
  X(BAD_FORMAT, -4, "malformed or truncated file")                       \
  X(UNSUPPORTED, -5, "unsupported")                                      \
  X(OUT_OF_RANGE, -6, "value out of range")                              \
  X(NOT_FINITE, -7, "NaN or infinity where a finite value is required")

typedef enum {
#define CQUANT__STATUS_ENUM(name, value, text) CQUANT_STATUS_##name = value,
  CQUANT_STATUS_MAP(CQUANT__STATUS_ENUM)
#undef CQUANT__STATUS_ENUM
} cquant_status;

/* A short fixed text for a status ("invalid argument"). Never NULL. */
const char *cquant_status_str(cquant_status status);

/* The detail of the last error set on this thread ("axis 4 out of range for a 2-d tensor").
 * Empty string when none. The text stays valid until the next failing call on this thread. */
const char *cquant_last_error(void);

/* Sets this thread's last error (for callbacks the library calls: a data source written by the
 * caller) and returns status. */
int cquant_set_error(int status, const char *message);

#ifdef __cplusplus
}
#endif
#endif
