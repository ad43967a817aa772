/* Whole-or-nothing file output: write to a temporary file beside the target, then rename. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/file.h"

int cquant__afile_open(cquant__afile_t *a, const char *path) {
  memset(a, 0, sizeof *a);
  if (!path || !*path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "empty output path");
  if (strlen(path) + 16 > sizeof a->tmp) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "output path too long");
  snprintf(a->path, sizeof a->path, "%s", path);
  snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(a->tmp);
  if (fd < 0) return cquant__error(CQUANT_STATUS_IO, "cannot create %s: %s", path, strerror(errno));
  mode_t um = umask(0);
  umask(um);
  fchmod(fd, 0666 & ~um);
  a->f = fdopen(fd, "wb");
  if (!a->f) {
    close(fd);
    unlink(a->tmp);
    return cquant__error(CQUANT_STATUS_IO, "cannot open %s: %s", path, strerror(errno));
  }
  return CQUANT_STATUS_OK;
}

int cquant__afile_write(cquant__afile_t *a, const void *data, size_t len) {
  if (len && fwrite(data, 1, len, a->f) != len) {
    int e = errno;
    cquant__afile_abort(a);
    return cquant__error(CQUANT_STATUS_IO, "write to %s failed: %s", a->path, strerror(e));
  }
  return CQUANT_STATUS_OK;
}

int cquant__afile_commit(cquant__afile_t *a) {
  int bad = fclose(a->f) != 0;
  a->f = NULL;
  if (bad || rename(a->tmp, a->path) != 0) {
    int e = errno;
    unlink(a->tmp);
    return cquant__error(CQUANT_STATUS_IO, "cannot write %s: %s", a->path, strerror(e));
  }
  return CQUANT_STATUS_OK;
}

void cquant__afile_abort(cquant__afile_t *a) {
  if (a->f) fclose(a->f);
  a->f = NULL;
  unlink(a->tmp);
}

int cquant_file_write_atomic(const char *path, const void *data, size_t len) {
  cquant__afile_t a;
  int st = cquant__afile_open(&a, path);
  if (!st) st = cquant__afile_write(&a, data, len);
  if (!st) st = cquant__afile_commit(&a);
  return st;
}

int cquant_file_read(const char *path, void **data, size_t *len) {
  if (!path || !data || !len) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "read: NULL argument");
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return cquant__error(CQUANT_STATUS_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return cquant__error(CQUANT_STATUS_IO, "%s is not a regular file", path);
  }
  size_t n = (size_t)sb.st_size;
  char *buf = malloc(n + 1);
  if (!buf) {
    fclose(f);
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "cannot hold %s (%zu bytes) in memory", path, n);
  }
  size_t got = fread(buf, 1, n, f);
  fclose(f);
  if (got != n) {
    free(buf);
    return cquant__error(CQUANT_STATUS_IO, "short read on %s", path);
  }
  buf[n] = 0;
  *data = buf;
  *len = n;
  return CQUANT_STATUS_OK;
}

int cquant_mkdirs(const char *path) {
  if (!path || !*path) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "mkdirs: empty path");
  char buf[4096];
  size_t n = strlen(path);
  if (n >= sizeof buf) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%.64s...: path too long", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    const char c = buf[i];
    buf[i] = 0;
    struct stat sb;
    if (stat(buf, &sb)) {
      if (mkdir(buf, 0777) && errno != EEXIST) return cquant__error(CQUANT_STATUS_IO, "%s: cannot create the folder: %s", buf, strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
      return cquant__error(CQUANT_STATUS_IO, "%s: exists and is not a folder", buf);
    }
    buf[i] = c;
  }
  return 0;
}
