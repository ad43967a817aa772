/* One option parser for every command. A command describes its options in a table and calls
 * cli_args_parse once:
 *
 *   long long batch = 100;
 *   const char *data = NULL, *pos[1];
 *   cli_opt_t opts[] = {
 *       {"--data", NULL, CLI_STR, &data},
 *       {"--batch", NULL, CLI_INT, &batch, .lo = 1, .hi = 1e18},
 *       {0}};
 *   int npos, r = cli_args_parse(argc, argv, opts, pos, 1, &npos, help);
 *   if (r) return r == 2 ? 0 : 1;
 *
 * argv[0] is the command name. --help / -h call help() and return 2. Errors print one line
 * ("cquant: error: ...") and return 1:
 *   --batch needs a positive integer      (bad value; or the option's own .err line)
 *   option --data needs a value
 *   unknown option '--x' (cquant CMD --help)
 *   unexpected argument 'y'               (more positional arguments than max_pos)
 * A lone "-" is a positional argument. An option given twice keeps the last value. */
#ifndef CQUANT_CLI_ARGS_H
#define CQUANT_CLI_ARGS_H

typedef enum {
  CLI_FLAG,   /* no value: *(int *)dst = ival */
  CLI_STR,    /* *(const char **)dst = the value */
  CLI_INT,    /* *(long long *)dst, strict, in [lo, hi] */
  CLI_FLOAT,  /* *(double *)dst, strict, in [lo, hi] ((lo, hi] with CLI_LO_OPEN) */
  CLI_CHOICE, /* *(int *)dst = the index of the value in choices (NULL-terminated) */
  CLI_LIST,   /* repeatable: ((const char **)dst)[seen - 1] = the value (dst holds argc entries) */
} cli_kind_t;

enum { CLI_LO_OPEN = 1 };

typedef struct {
  const char *name;  /* "--batch" */
  const char *alias; /* "-b" or NULL */
  cli_kind_t kind;
  void *dst;
  double lo, hi;               /* CLI_INT / CLI_FLOAT range; both 0: any value */
  const char *const *choices;  /* CLI_CHOICE */
  /* The error line for a bad value; "%s" (at most once) stands for the value. NULL: "NAME needs
   * a number", "NAME needs an integer", "NAME must be a, b or c, not 'v'". */
  const char *err;
  int ival;     /* CLI_FLAG: the value stored */
  unsigned flags;
  int seen;     /* set by the parser: how many times the option was given */
  int last;     /* set by the parser: argv index of its last occurrence (0: never), to let the last
                 * of rival options win */
} cli_opt_t;

/* Parses argv[1..argc-1] with the table opts (ended by an entry with name NULL). Positional
 * arguments go to pos[0..max_pos-1], their count to *npos. help (may be NULL) prints the usage.
 * Returns 0, 1 after an error line, or 2 after printing the help. */
int cli_args_parse(int argc, char **argv, cli_opt_t *opts, const char **pos, int max_pos, int *npos,
                   void (*help)(void));

/* How many times the option called name was given (after cli_args_parse); 0 for a name not in the
 * table. By name, not by position: a table that gains an option keeps every other answer. */
int cli_seen(const cli_opt_t *opts, const char *name);
/* The argv index of its last occurrence (0: never given, or not in the table). */
int cli_last(const cli_opt_t *opts, const char *name);

/* Creates the folder path and its parents, like mkdir -p. 0, or 1 after an error line
 * ("cannot create folder PATH: REASON"). */
int cli_mkdirs(const char *path);

#endif
