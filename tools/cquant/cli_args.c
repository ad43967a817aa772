/* The shared option parser (cli_args.h) and cli_mkdirs. */
#include "cli_args.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"

/* Prints o->err with "%s" replaced by v (no format string from data). */
static int bad_value(const cli_opt_t *o, const char *v) {
  if (o->err) {
    const char *p = strstr(o->err, "%s");
    if (!p) return cli_fail("%s", o->err);
    return cli_fail("%.*s%s%s", (int)(p - o->err), o->err, v, p + 2);
  }
  if (o->kind == CLI_INT) return cli_fail("%s needs an integer", o->name);
  if (o->kind == CLI_FLOAT) return cli_fail("%s needs a number", o->name);
  fputs("cquant: error: ", stderr);
  fprintf(stderr, "%s must be ", o->name);
  for (int k = 0; o->choices[k]; k++)
    fprintf(stderr, "%s%s", k ? (o->choices[k + 1] ? ", " : " or ") : "", o->choices[k]);
  fprintf(stderr, ", not '%s'\n", v);
  return 1;
}

static int in_range(const cli_opt_t *o, double d) {
  if (o->lo == 0 && o->hi == 0) return 1;
  return ((o->flags & CLI_LO_OPEN) ? d > o->lo : d >= o->lo) && d <= o->hi;
}

static int set_value(cli_opt_t *o, const char *v) {
  long long ll;
  double d;
  switch (o->kind) {
  case CLI_STR: *(const char **)o->dst = v; return 0;
  case CLI_LIST: ((const char **)o->dst)[o->seen - 1] = v; return 0;
  case CLI_INT:
    if (cli_parse_int(v, &ll) || !in_range(o, (double)ll)) return bad_value(o, v);
    *(long long *)o->dst = ll;
    return 0;
  case CLI_FLOAT:
    if (cli_parse_float(v, &d) || !in_range(o, d)) return bad_value(o, v);
    *(double *)o->dst = d;
    return 0;
  case CLI_CHOICE:
    for (int k = 0; o->choices[k]; k++)
      if (!strcmp(v, o->choices[k])) { *(int *)o->dst = k; return 0; }
    return bad_value(o, v);
  default: return 1;
  }
}

static const cli_opt_t *find(const cli_opt_t *opts, const char *name) {
  for (; opts->name; opts++)
    if (!strcmp(opts->name, name)) return opts;
  return NULL;
}

int cli_seen(const cli_opt_t *opts, const char *name) {
  const cli_opt_t *o = find(opts, name);
  return o ? o->seen : 0;
}

int cli_last(const cli_opt_t *opts, const char *name) {
  const cli_opt_t *o = find(opts, name);
  return o ? o->last : 0;
}

int cli_args_parse(int argc, char **argv, cli_opt_t *opts, const char **pos, int max_pos, int *npos,
                   void (*help)(void)) {
  *npos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      if (help) help();
      return 2;
    }
    cli_opt_t *o = NULL;
    for (cli_opt_t *p = opts; p && p->name && !o; p++)
      if (!strcmp(a, p->name) || (p->alias && !strcmp(a, p->alias))) o = p;
    if (o) {
      o->seen++;
      o->last = i;
      if (o->kind == CLI_FLAG) { *(int *)o->dst = o->ival; continue; }
      const char *v = cli_value(argc, argv, &i);
      if (!v || set_value(o, v)) return 1;
    } else if (a[0] == '-' && a[1]) {
      return cli_fail("unknown option '%s' (cquant %s --help)", a, argv[0]);
    } else if (*npos < max_pos) {
      pos[(*npos)++] = a;
    } else {
      return cli_fail("unexpected argument '%s'", a);
    }
  }
  return 0;
}

int cli_mkdirs(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return cli_fail("cannot create folder %s: name too long or empty", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char c = buf[i];
    buf[i] = 0;
    struct stat sb;
    if (mkdir(buf, 0777) && errno != EEXIST) return cli_fail("cannot create folder %s: %s: %s", path, buf, strerror(errno));
    if (stat(buf, &sb) || !S_ISDIR(sb.st_mode)) return cli_fail("cannot create folder %s: %s is not a folder", path, buf);
    buf[i] = c;
  }
  return 0;
}
