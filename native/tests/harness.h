/* Shared scaffolding for the standalone C test programs in native/tests/.
 * Header-only C11; each test program is one translation unit including it once.
 *
 *   t_passed, t_failed      counts of passed and failed checks
 *   CHECK(cond)             counts cond; on failure prints "FAIL line N: cond"
 *   CHECKF(cond, fmt, ...)  the same, but the failure line ends with a printf message
 *   S(lit)                  a string literal and its length, embedded NULs included
 *   t_summary()             prints the last line "N passed, N failed" and returns
 *                           the exit status: 0 when nothing failed, else 1
 *
 * Opt-in parts, enabled by defining a macro before the include:
 *   T_RNG_SEED      t_next(): a xorshift64 generator (state t_rng) starting there
 *   T_FAULTY_ALLOC  t_malloc / t_realloc / t_free, for building a second copy of a
 *                   module (#define SK_..._MALLOC t_malloc, then #include "module.c"):
 *                   t_alloc_countdown  the call at which it reaches 0 fails; -1: never
 *                   t_alloc_live       blocks handed out and not yet freed
 *                   t_alloc_max        requests bigger than this fail
 *                   t_alloc_biggest    the largest request passed on to malloc/realloc */
#ifndef SK_TEST_HARNESS_H
#define SK_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed;

static inline void t_check(int ok, int line, const char *what) {
  if (ok) {
    t_passed++;
  } else {
    t_failed++;
    printf("FAIL line %d: %s\n", line, what);
  }
}
#define CHECK(cond) t_check((cond) != 0, __LINE__, #cond)

#define CHECKF(cond, ...)                                                                          \
  do {                                                                                             \
    if (cond) {                                                                                    \
      t_passed++;                                                                                  \
    } else {                                                                                       \
      t_failed++;                                                                                  \
      printf("FAIL line %d: ", __LINE__);                                                          \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
    }                                                                                              \
  } while (0)

#define S(lit) lit, (sizeof(lit) - 1)

static inline int t_summary(void) {
  printf("%d passed, %d failed\n", t_passed, t_failed);
  return t_failed == 0 ? 0 : 1;
}

#ifdef T_RNG_SEED
static uint64_t t_rng = T_RNG_SEED;
static inline uint64_t t_next(void) {
  t_rng ^= t_rng << 13;
  t_rng ^= t_rng >> 7;
  t_rng ^= t_rng << 17;
  return t_rng;
}
#endif

#ifdef T_FAULTY_ALLOC
static long t_alloc_countdown = -1;
static long t_alloc_live;
static size_t t_alloc_max = (size_t)-1;
static size_t t_alloc_biggest;

static inline int t_alloc_should_fail(void) {
  if (t_alloc_countdown < 0) return 0;
  return t_alloc_countdown-- == 0;
}
static inline void *t_malloc(size_t n) {
  void *p;
  if (t_alloc_should_fail() || n > t_alloc_max) return NULL;
  p = malloc(n);
  if (p != NULL) t_alloc_live++;
  if (n > t_alloc_biggest) t_alloc_biggest = n;
  return p;
}
static inline void *t_realloc(void *old, size_t n) {
  void *p;
  if (t_alloc_should_fail() || n > t_alloc_max) return NULL;
  p = realloc(old, n);
  if (p != NULL && old == NULL) t_alloc_live++;
  if (n > t_alloc_biggest) t_alloc_biggest = n;
  return p;
}
static inline void t_free(void *p) {
  if (p != NULL) t_alloc_live--;
  free(p);
}
#endif

#endif
