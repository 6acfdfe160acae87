/* ASCII case folding for protocol tokens (header names, codings, host
 * names): never locale-dependent, unlike tolower(). Header-only, so the
 * pure modules (parsers) still build alone for their tests and fuzzers. */
#ifndef SK_ASCII_H
#define SK_ASCII_H

#include <stddef.h>

static inline char sk_ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* s[0..n) equals lower[0..lower_len) ignoring ASCII case; lower is lowercase. */
static inline int sk_ascii_ieq(const char *s, size_t n, const char *lower, size_t lower_len) {
  if (n != lower_len) return 0;
  for (size_t i = 0; i < n; i++)
    if (sk_ascii_lower(s[i]) != lower[i]) return 0;
  return 1;
}

#endif
