/* The environment variables cquant reads, read once (pthread_once) into one struct. Every variable
 * is listed in README.md ("Environment variables") and docs/formats.md; CQUANT_PROFILE is read by
 * the CLI (tools/cquant/cmd_run.c), not the library. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cquant__env_t env;

static void read_env(void) {
  const char *v = getenv("CQUANT_ISA"); /* ref|avx2|avx512: an exact name lowers the ISA, others are ignored */
  env.isa_cap = -1;
  for (int i = 0; v && i < CQUANT_ISA_COUNT; i++)
    if (strcmp(v, cquant_isa_name((cquant_isa_t)i)) == 0) env.isa_cap = i;
  env.no_amx = getenv("CQUANT_NO_AMX") != NULL; /* set at all, to any value */
  v = getenv("CQUANT_NCHW");
  env.nchw = v && *v == '1';
}

cquant__env_t *cquant__env(void) {
  pthread_once(&once, read_env);
  return &env;
}
