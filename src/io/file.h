/* Internal: a file written through a temporary name and renamed into place on commit. */
#ifndef CQUANT_IO_FILE_H
#define CQUANT_IO_FILE_H

#include <stdio.h>
#include "core/internal.h"

typedef struct {
  FILE *f;
  char path[4112];
  char tmp[4112];
} cquant__afile_t;

int cquant__afile_open(cquant__afile_t *a, const char *path);
/* On failure the temporary file is removed (no commit or abort needed). */
int cquant__afile_write(cquant__afile_t *a, const void *data, size_t len);
int cquant__afile_commit(cquant__afile_t *a);
void cquant__afile_abort(cquant__afile_t *a);

#endif
