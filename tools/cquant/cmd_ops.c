/* cquant ops: the ONNX operators the float executor runs, one per line as DOMAIN OPTYPE
 * ("ai.onnx" for the default domain), sorted. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void help(void) {
  printf("usage: cquant ops\n\nPrints the ONNX operators cquant runs, one per line: domain and operator type.\n");
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cmd_ops(int argc, char **argv) {
  int npos, pr = cli_args_parse(argc, argv, NULL, NULL, 0, &npos, help);
  if (pr) return pr == 2 ? 0 : 1;
  char *lines[1024];
  int n = 0;
  const char *dom, *op;
  while (n < 1024 && cquant_onnx_operator(n, &dom, &op) == 0) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s %s", *dom ? dom : "ai.onnx", op);
    if (!(lines[n] = strdup(buf))) return cli_fail("out of memory");
    n++;
  }
  qsort(lines, (size_t)n, sizeof lines[0], cmp);
  for (int i = 0; i < n; i++) {
    printf("%s\n", lines[i]);
    free(lines[i]);
  }
  return 0;
}
