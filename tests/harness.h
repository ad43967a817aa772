/* A small test harness: tests register in a list, CHECK records failures without stopping, and
 * every executable ends with the plain closing line "N passed, N failed". */
#ifndef CQUANT_TEST_HARNESS_H
#define CQUANT_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>
#include <dirent.h>

typedef void (*test_fn)(void);
static int th_failures_in_test;
static const char *th_current;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      if (th_failures_in_test++ < 10)                                                 \
        fprintf(stderr, "  FAIL %s:%d in %s: %s\n", __FILE__, __LINE__, th_current, #cond); \
    }                                                                                 \
  } while (0)

#define CHECKF(cond, ...)                                                             \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      if (th_failures_in_test++ < 10) {                                               \
        fprintf(stderr, "  FAIL %s:%d in %s: %s: ", __FILE__, __LINE__, th_current, #cond); \
        fprintf(stderr, __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                          \
      }                                                                               \
    }                                                                                 \
  } while (0)

typedef struct {
  const char *name;
  test_fn fn;
} th_case;

/* Runs the tests named on the command line (all when none) and prints the closing line. */
static inline int th_run(const th_case *cases, int n, int argc, char **argv) {
  int passed = 0, failed = 0;
  for (int i = 0; i < n; i++) {
    int selected = argc < 2;
    for (int a = 1; a < argc; a++) selected |= strcmp(argv[a], cases[i].name) == 0;
    if (!selected) continue;
    th_failures_in_test = 0;
    th_current = cases[i].name;
    cases[i].fn();
    if (th_failures_in_test) {
      failed++;
      printf("FAIL %s (%d failed checks)\n", cases[i].name, th_failures_in_test);
    } else {
      passed++;
      printf("ok   %s\n", cases[i].name);
    }
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#define TH_MAIN(...)                                                     \
  int main(int argc, char **argv) {                                      \
    static const th_case cases[] = {__VA_ARGS__};                        \
    return th_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); \
  }
#define T(fn) {#fn, fn}

/* The threads of this process now (the entries of /proc/self/task): tests that a run starts no
 * thread besides the pool's helper (an OpenMP team's idle worker would busy-wait beside it). */
static inline int th_threads_now(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

/* xorshift64*: reproducible random numbers for tests. */
static uint64_t th_rng_state = 0x2545f4914f6cdd1dull;
static inline uint64_t th_rand(void) {
  th_rng_state ^= th_rng_state >> 12;
  th_rng_state ^= th_rng_state << 25;
  th_rng_state ^= th_rng_state >> 27;
  return th_rng_state * 2685821657736338717ull;
}
static inline double th_uniform(void) { return (double)(th_rand() >> 11) / 9007199254740992.0; }
static inline float th_gauss(void) {
  double u = th_uniform() + 1e-300, v = th_uniform();
  return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

#endif
