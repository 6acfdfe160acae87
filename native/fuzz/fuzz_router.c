/* libFuzzer target for the route tree.
 *
 * Input: a control byte, then '\n'-separated lines. The first 1..8 lines are
 * patterns, the rest (up to 16) are request paths; the first byte of every
 * line picks a method and the rest is the pattern or path. When the control
 * byte has its high bit set, every further byte stands for one of a few
 * segments ("/a", "/:p", a wildcard...), so that even random inputs build deep,
 * overlapping trees.
 *
 * Every result is checked against a naive reference: each pattern is matched
 * against the path on its own, and the expected visit order is derived from
 * the segment kinds (at the first position where two matching patterns
 * differ: pattern ends < static < parameter < wildcard; then exact method
 * before "any", then insertion order). The checks: add's status, the exact
 * visit sequence of a visitor that always yields, every param slice inside
 * the path with the right value, count <= max, and a visitor accepting the
 * k-th match stopping right there. Any violation aborts. */
#include "router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_PATTERNS = 8, MAX_PATHS = 16, MAX_LINES = MAX_PATTERNS + MAX_PATHS };

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) abort();                                                                      \
  } while (0)

static const char *const pattern_methods[] = {NULL, "*", "GET", "POST", "get"};
static const char *const request_methods[] = {"GET", "POST", "get", "*", NULL, ""};

typedef struct slice {
  const char *p;
  size_t len;
} slice_t;

typedef struct pattern {
  char *text;
  size_t len;
  const char *method;
  int added;
} pattern_t;

/* Splits s (which starts with '/') into its segments after the leading '/'.
 * Returns the number of segments, storing at most `max` of them. */
static size_t split(const char *s, size_t len, slice_t *out, size_t max) {
  size_t n = 0, start = 1;
  for (size_t i = 1; i <= len; i++) {
    if (i == len || s[i] == '/') {
      if (n < max) out[n] = (slice_t){s + start, i - start};
      n++;
      start = i + 1;
    }
  }
  return n;
}

static int is_wild(slice_t s) { return s.len == 1 && s.p[0] == '*'; }
static int is_param(slice_t s) { return s.len >= 1 && s.p[0] == ':'; }

/* Independent statement of what sk_router_add accepts. */
static int ref_valid(const char *pat, size_t len) {
  if (len == 0 || pat[0] != '/') return 0;
  size_t n = split(pat, len, NULL, 0);
  slice_t *segs = malloc(n * sizeof(*segs));
  CHECK(segs != NULL);
  split(pat, len, segs, n);
  int ok = 1;
  size_t params = 0;
  for (size_t i = 0; i < n; i++) {
    if (is_wild(segs[i]) && i + 1 != n) ok = 0;
    if (is_param(segs[i]) && (segs[i].len == 1 || ++params > SK_ROUTER_MAX_PARAMS)) ok = 0;
  }
  free(segs);
  return ok;
}

enum { K_END, K_STATIC, K_PARAM, K_WILD };

static int kind_at(const slice_t *segs, size_t n, size_t i) {
  if (i >= n) return K_END;
  return is_wild(segs[i]) ? K_WILD : is_param(segs[i]) ? K_PARAM : K_STATIC;
}

/* A pattern matched against one path by the reference. */
typedef struct expect {
  int id;
  int exact; /* method-specific route */
  slice_t *segs;
  size_t nsegs;
  size_t nparams;
  slice_t params[SK_ROUTER_MAX_PARAMS];
} expect_t;

/* Naive match of one pattern against the path segments. */
static int ref_match(const slice_t *ps, size_t np, const slice_t *xs, size_t nx, expect_t *e) {
  e->nparams = 0;
  for (size_t i = 0; i < np; i++) {
    if (is_wild(ps[i])) return 1; /* last by validity; any rest, even none */
    if (i >= nx) return 0;
    if (is_param(ps[i])) {
      if (xs[i].len == 0) return 0;
      e->params[e->nparams++] = xs[i];
    } else if (ps[i].len != xs[i].len || memcmp(ps[i].p, xs[i].p, xs[i].len) != 0) {
      return 0;
    }
  }
  return np == nx;
}

/* Negative when a is visited before b. */
static int priority_cmp(const expect_t *a, const expect_t *b) {
  for (size_t i = 0;; i++) {
    int ka = kind_at(a->segs, a->nsegs, i), kb = kind_at(b->segs, b->nsegs, i);
    if (ka != kb) return ka - kb;
    if (ka == K_END || ka == K_WILD) break;
  }
  if (a->exact != b->exact) return b->exact - a->exact;
  return a->id - b->id;
}

typedef struct visit_state {
  const char *path;
  size_t path_len;
  const expect_t *const *want; /* expected order */
  size_t nwant;
  size_t seen;
  size_t accept_at; /* accept the visit with this index; SIZE_MAX: never */
} visit_state_t;

static int visitor(void *ctx, int id, const sk_route_params_t *p) {
  visit_state_t *st = ctx;
  CHECK(st->seen < st->nwant); /* terminates, and never visits a non-match */
  const expect_t *e = st->want[st->seen];
  CHECK(e->id == id);
  CHECK(p->count <= SK_ROUTER_MAX_PARAMS);
  CHECK(p->count == e->nparams);
  for (size_t i = 0; i < p->count; i++) {
    const char *v = p->value[i];
    size_t n = p->value_len[i];
    CHECK(v >= st->path && n <= st->path_len && (size_t)(v - st->path) <= st->path_len - n);
    CHECK(n > 0 && memchr(v, '/', n) == NULL);
    CHECK(v == e->params[i].p && n == e->params[i].len);
  }
  return st->seen++ == st->accept_at;
}

/* Tokens for mapped mode: one input byte becomes one segment, so that random
 * bytes still spell patterns and paths that share prefixes. */
static const char *const tokens[] = {"/a", "/b", "/:p", "/*", "/", "/ab", "/:", "x"};

/* A malloc'd exact-size copy, so that ASan catches reads past the end. */
static char *copy_line(const uint8_t *p, size_t len, int mapped, size_t *out_len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += mapped ? strlen(tokens[p[i] % 8]) : 1;
  char *s = malloc(n > 0 ? n : 1);
  CHECK(s != NULL);
  char *o = s;
  for (size_t i = 0; i < len; i++) {
    if (mapped) {
      const char *t = tokens[p[i] % 8];
      memcpy(o, t, strlen(t));
      o += strlen(t);
    } else {
      *o++ = (char)p[i];
    }
  }
  *out_len = n;
  return s;
}

static void check_path(const sk_router_t *r, const pattern_t *pats, slice_t *const *psegs,
                       const size_t *pnsegs, size_t npats, const char *method, const char *path,
                       size_t path_len) {
  expect_t cand[MAX_PATTERNS];
  const expect_t *want[MAX_PATTERNS];
  size_t nwant = 0;
  size_t method_len = method ? strlen(method) : 0;

  if (path_len > 0 && path[0] == '/') {
    size_t nx = split(path, path_len, NULL, 0);
    slice_t *xs = malloc(nx * sizeof(*xs));
    CHECK(xs != NULL);
    split(path, path_len, xs, nx);
    for (size_t i = 0; i < npats; i++) {
      if (!pats[i].added) continue;
      const char *m = pats[i].method;
      int any = m == NULL || strcmp(m, "*") == 0;
      int exact = !any && method != NULL && strcmp(m, method) == 0;
      if (!any && !exact) continue;
      expect_t *e = &cand[nwant];
      e->id = (int)i;
      e->exact = exact;
      e->segs = psegs[i];
      e->nsegs = pnsegs[i];
      if (!ref_match(psegs[i], pnsegs[i], xs, nx, e)) continue;
      /* insertion sort into priority order */
      size_t j = nwant++;
      while (j > 0 && priority_cmp(want[j - 1], e) > 0) {
        want[j] = want[j - 1];
        j--;
      }
      want[j] = e;
    }
    free(xs);
  }

  visit_state_t st = {path, path_len, want, nwant, 0, SIZE_MAX};
  CHECK(sk_router_match(r, method, method_len, path, path_len, visitor, &st) == 0);
  CHECK(st.seen == nwant);

  /* Accepting stops the walk at once. */
  for (size_t k = 0; k < nwant; k++) {
    visit_state_t acc = {path, path_len, want, nwant, 0, k};
    CHECK(sk_router_match(r, method, method_len, path, path_len, visitor, &acc) == 1);
    CHECK(acc.seen == k + 1);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int mapped = (data[0] & 0x80) != 0;
  size_t want_patterns = 1 + (data[0] & 7);

  slice_t lines[MAX_LINES];
  size_t nlines = 0, start = 1;
  for (size_t i = 1; i <= size && nlines < MAX_LINES; i++) {
    if (i == size || data[i] == '\n') {
      lines[nlines++] = (slice_t){(const char *)data + start, i - start};
      start = i + 1;
    }
  }

  sk_router_t *r = sk_router_create();
  CHECK(r != NULL);

  pattern_t pats[MAX_PATTERNS];
  slice_t *psegs[MAX_PATTERNS];
  size_t pnsegs[MAX_PATTERNS];
  size_t npats = 0;
  size_t li = 0;
  for (; li < nlines && npats < want_patterns; li++) {
    const uint8_t *p = (const uint8_t *)lines[li].p;
    size_t len = lines[li].len;
    pattern_t *pt = &pats[npats];
    pt->method = pattern_methods[len > 0 ? p[0] % 5 : 0];
    pt->text = copy_line(p + (len > 0), len > 0 ? len - 1 : 0, mapped, &pt->len);
    int valid = ref_valid(pt->text, pt->len);
    int rc = sk_router_add(r, pt->method, pt->method ? strlen(pt->method) : 0, pt->text, pt->len,
                           (int)npats);
    CHECK(rc == (valid ? SK_ROUTER_OK : SK_ROUTER_ERR_PATTERN));
    pt->added = rc == SK_ROUTER_OK;
    psegs[npats] = NULL;
    pnsegs[npats] = 0;
    if (pt->added) {
      pnsegs[npats] = split(pt->text, pt->len, NULL, 0);
      psegs[npats] = malloc(pnsegs[npats] * sizeof(slice_t));
      CHECK(psegs[npats] != NULL);
      split(pt->text, pt->len, psegs[npats], pnsegs[npats]);
    }
    npats++;
  }

  for (; li < nlines; li++) {
    const uint8_t *p = (const uint8_t *)lines[li].p;
    size_t len = lines[li].len;
    const char *method = request_methods[len > 0 ? p[0] % 6 : 0];
    size_t path_len;
    char *path = copy_line(p + (len > 0), len > 0 ? len - 1 : 0, mapped, &path_len);
    check_path(r, pats, psegs, pnsegs, npats, method, path, path_len);
    free(path);
  }

  sk_router_destroy(r);
  for (size_t i = 0; i < npats; i++) {
    free(pats[i].text);
    free(psegs[i]);
  }
  return 0;
}
