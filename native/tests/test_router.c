/* Tests for the route tree. Prints one line per failed check and ends with
 * "N passed, N failed"; exits nonzero when anything failed. */
#include "router.h"

#define T_FAULTY_ALLOC
#include "harness.h"

/* A second copy of the router, renamed and built on the harness allocator
 * that fails on demand, to exercise every out-of-memory path. The copy shares
 * the public header (already included above), so both copies see the same
 * types. */
#define SK_ROUTER_MALLOC t_malloc
#define SK_ROUTER_REALLOC t_realloc
#define SK_ROUTER_FREE t_free
#define sk_router_create faulty_router_create
#define sk_router_destroy faulty_router_destroy
#define sk_router_add faulty_router_add
#define sk_router_match faulty_router_match
#include "router.c"
#undef sk_router_create
#undef sk_router_destroy
#undef sk_router_add
#undef sk_router_match

/* Records visits as "id" or "id(v1,v2)", space separated. */
typedef struct t_trace {
  char buf[4096];
  size_t len;
  int accept_id; /* the visitor accepts this handler id; -1: yields always */
  int bad;       /* a param slice was outside the path or malformed */
  const char *path;
  size_t path_len;
} t_trace_t;

static void t_append(t_trace_t *t, const char *s, size_t n) {
  if (t->len + n >= sizeof(t->buf)) n = sizeof(t->buf) - 1 - t->len;
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

static int t_visit(void *ctx, int id, const sk_route_params_t *p) {
  t_trace_t *t = ctx;
  char num[32];
  int n = snprintf(num, sizeof(num), "%s%d", t->len > 0 ? " " : "", id);
  t_append(t, num, (size_t)n);
  if (p->count > SK_ROUTER_MAX_PARAMS) {
    t->bad = 1;
    return 0;
  }
  for (size_t i = 0; i < p->count; i++) {
    const char *v = p->value[i];
    if (v < t->path || p->value_len[i] == 0 || p->value_len[i] > t->path_len ||
        (size_t)(v - t->path) > t->path_len - p->value_len[i] ||
        memchr(v, '/', p->value_len[i]) != NULL)
      t->bad = 1;
    t_append(t, i == 0 ? "(" : ",", 1);
    t_append(t, v, p->value_len[i]);
  }
  if (p->count > 0) t_append(t, ")", 1);
  return id == t->accept_id;
}

static int t_run(const sk_router_t *r, const char *method, const char *path, size_t path_len,
                 int accept_id, t_trace_t *t) {
  memset(t, 0, sizeof(*t));
  t->accept_id = accept_id;
  t->path = path;
  t->path_len = path_len;
  return sk_router_match(r, method, method ? strlen(method) : 0, path, path_len, t_visit, t);
}

/* Checks the full visit order of a yielding visitor and that nothing accepted. */
static void t_expect(const sk_router_t *r, const char *method, const char *path, const char *want,
                     int line) {
  t_trace_t t;
  int rc = t_run(r, method, path, strlen(path), -1, &t);
  int ok = rc == 0 && !t.bad && strcmp(t.buf, want) == 0;
  t_check(ok, line, "match order");
  if (!ok)
    printf("  %s %s: got \"%s\" (rc %d, bad %d), want \"%s\"\n", method ? method : "(null)", path,
           t.buf, rc, t.bad, want);
}
#define EXPECT(r, method, path, want) t_expect((r), (method), (path), (want), __LINE__)

static int t_add(sk_router_t *r, const char *method, const char *pattern, int id) {
  return sk_router_add(r, method, method ? strlen(method) : 0, pattern,
                       pattern ? strlen(pattern) : 0, id);
}

/* ---- tests ------------------------------------------------------------ */

static void test_pattern_errors(void) {
  sk_router_t *r = sk_router_create();
  CHECK(r != NULL);
  CHECK(t_add(r, "GET", "", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(sk_router_add(r, "GET", 3, NULL, 0, 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "a", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "a/b", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "*", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "/:", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "/a/:/b", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "/*/a", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "/a/*/", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(t_add(r, "GET", "/*/*", 1) == SK_ROUTER_ERR_PATTERN);
  CHECK(sk_router_add(NULL, "GET", 3, "/", 1, 1) == SK_ROUTER_ERR_PATTERN);
  /* A rejected pattern leaves nothing behind. */
  EXPECT(r, "GET", "/a/b", "");
  EXPECT(r, "GET", "/", "");
  /* Not wildcards or parameters: plain static segments. */
  CHECK(t_add(r, "GET", "/a*", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/*a", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/**", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/x:y", 4) == SK_ROUTER_OK);
  EXPECT(r, "GET", "/a*", "1");
  EXPECT(r, "GET", "/*a", "2");
  EXPECT(r, "GET", "/**", "3");
  EXPECT(r, "GET", "/x:y", "4");
  EXPECT(r, "GET", "/ab", "");
  sk_router_destroy(r);
}

static void test_param_limit(void) {
  sk_router_t *r = sk_router_create();
  char pat[256], path[256];
  size_t pl = 0, ql = 0;
  for (int i = 0; i < SK_ROUTER_MAX_PARAMS; i++) {
    pl += (size_t)snprintf(pat + pl, sizeof(pat) - pl, "/:p");
    ql += (size_t)snprintf(path + ql, sizeof(path) - ql, "/%c", 'a' + i % 26);
  }
  CHECK(t_add(r, "GET", pat, 7) == SK_ROUTER_OK);
  char pat33[260];
  snprintf(pat33, sizeof(pat33), "%s/:q", pat);
  CHECK(t_add(r, "GET", pat33, 8) == SK_ROUTER_ERR_PATTERN);
  char pat33w[260];
  snprintf(pat33w, sizeof(pat33w), "%s/x/*", pat);
  CHECK(t_add(r, "GET", pat33w, 9) == SK_ROUTER_OK); /* a wildcard is not a param */
  t_trace_t t;
  CHECK(t_run(r, "GET", path, ql, 7, &t) == 1);
  CHECK(!t.bad);
  CHECK(strncmp(t.buf, "7(a,b,c,", 8) == 0);
  sk_router_destroy(r);
}

static void test_root_and_trailing_slash(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, "GET", "/", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/b/", 4) == SK_ROUTER_OK);
  EXPECT(r, "GET", "/", "1");
  EXPECT(r, "GET", "//", "");
  EXPECT(r, "GET", "/a", "2");
  EXPECT(r, "GET", "/a/", "3");
  EXPECT(r, "GET", "/a//", "");
  EXPECT(r, "GET", "/b/", "4");
  EXPECT(r, "GET", "/b", "");
  EXPECT(r, "GET", "", "");
  EXPECT(r, "GET", "a", "");
  EXPECT(r, "GET", "*", "");
  sk_router_destroy(r);
}

static void test_wildcard(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, "GET", "/files/*", 1) == SK_ROUTER_OK);
  EXPECT(r, "GET", "/files", "1");
  EXPECT(r, "GET", "/files/", "1");
  EXPECT(r, "GET", "/files/x", "1");
  EXPECT(r, "GET", "/files/x/y/z", "1");
  EXPECT(r, "GET", "/files//", "1");
  EXPECT(r, "GET", "/filesx", "");
  EXPECT(r, "GET", "/file", "");
  EXPECT(r, "GET", "/", "");
  EXPECT(r, "GET", "//files", "");
  CHECK(t_add(r, NULL, "/*", 2) == SK_ROUTER_OK);
  EXPECT(r, "GET", "/", "2");
  EXPECT(r, "GET", "//", "2");
  EXPECT(r, "GET", "/files/x", "1 2");
  EXPECT(r, "POST", "/files/x", "2");
  EXPECT(r, "GET", "/anything/at/all", "2");
  EXPECT(r, "GET", "x/files", "");
  sk_router_destroy(r);
}

static void test_params(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, "GET", "/u/:id", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/u/:id/posts/:post", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/v/:id/*", 3) == SK_ROUTER_OK);
  EXPECT(r, "GET", "/u/42", "1(42)");
  EXPECT(r, "GET", "/u/", "");
  EXPECT(r, "GET", "/u", "");
  EXPECT(r, "GET", "/u/4/2", "");
  EXPECT(r, "GET", "/u/%2F/posts/a%20b", "2(%2F,a%20b)");
  EXPECT(r, "GET", "/u/42/posts/", "");
  EXPECT(r, "GET", "/v/9", "3(9)");
  EXPECT(r, "GET", "/v/9/x/y", "3(9)");
  EXPECT(r, "GET", "/v//x", "");
  /* Values point into the caller's path, not into a copy. */
  const char *path = "/u/abc";
  t_trace_t t;
  memset(&t, 0, sizeof(t));
  t.accept_id = -1;
  t.path = path;
  t.path_len = strlen(path);
  CHECK(sk_router_match(r, "GET", 3, path, strlen(path), t_visit, &t) == 0);
  CHECK(!t.bad && strcmp(t.buf, "1(abc)") == 0);
  sk_router_destroy(r);
}

static void test_priority(void) {
  sk_router_t *r = sk_router_create();
  /* Inserted least specific first: order must come from the tree, not insertion. */
  CHECK(t_add(r, "GET", "/*", 5) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/*", 4) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/:x", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, NULL, "/a/b", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/b", 1) == SK_ROUTER_OK);
  EXPECT(r, "GET", "/a/b", "1 2 3(b) 4 5");
  EXPECT(r, "POST", "/a/b", "2");
  EXPECT(r, "get", "/a/b", "2");
  EXPECT(r, "GET", "/a/c", "3(c) 4 5");
  EXPECT(r, "GET", "/a", "4 5");
  EXPECT(r, NULL, "/a/b", "2");
  /* Accepting stops the walk at that route. */
  t_trace_t t;
  CHECK(t_run(r, "GET", "/a/b", 4, 3, &t) == 1);
  CHECK(strcmp(t.buf, "1 2 3(b)") == 0);
  CHECK(t_run(r, "GET", "/a/b", 4, 1, &t) == 1);
  CHECK(strcmp(t.buf, "1") == 0);
  CHECK(t_run(r, "GET", "/a/b", 4, 5, &t) == 1);
  CHECK(strcmp(t.buf, "1 2 3(b) 4 5") == 0);
  sk_router_destroy(r);
}

static void test_deeper_static_first(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, "GET", "/:y/b/c", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/:x/c", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:y/:z/*", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/*", 4) == SK_ROUTER_OK);
  /* A static first segment wins even when a deeper segment is a parameter. */
  EXPECT(r, "GET", "/a/b/c", "1(b) 4 2(a) 3(a,b)");
  EXPECT(r, "GET", "/q/b/c", "2(q) 3(q,b)");
  sk_router_destroy(r);
}

static void test_backtracking_params(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, "GET", "/s/:x/never", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:y/t", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:a/:b/:c/zz", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:a/x/*", 4) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:a/:b/*", 5) == SK_ROUTER_OK);
  /* The ":x" of the abandoned "/s/:x/never" branch must not show up. */
  EXPECT(r, "GET", "/s/t", "2(s) 5(s,t)");
  EXPECT(r, "GET", "/p/x/q", "4(p) 5(p,x)");
  /* Static "x" beats ":b" even though the ":b" branch goes deeper. */
  EXPECT(r, "GET", "/p/x/q/zz", "4(p) 3(p,x,q) 5(p,x)");
  sk_router_destroy(r);
  /* Climbing back out of a nested parameter must land on the right segment. */
  r = sk_router_create();
  CHECK(t_add(r, "GET", "/:a/s/:b", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:a/:c/*", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:a/:c/:d/*", 3) == SK_ROUTER_OK);
  EXPECT(r, "GET", "/x/s/y", "1(x,y) 3(x,s,y) 2(x,s)");
  EXPECT(r, "GET", "/long-x/s/long-y", "1(long-x,long-y) 3(long-x,s,long-y) 2(long-x,s)");
  sk_router_destroy(r);
}

static void test_methods(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, NULL, "/m", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "*", "/m", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "POST", "/m", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/m", 4) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/m", 5) == SK_ROUTER_OK);                /* duplicate: kept, second */
  CHECK(sk_router_add(r, "GETX", 3, "/m", 2, 6) == SK_ROUTER_OK); /* length wins */
  EXPECT(r, "GET", "/m", "4 5 6 1 2");
  EXPECT(r, "POST", "/m", "3 1 2");
  EXPECT(r, "get", "/m", "1 2");
  EXPECT(r, "GE", "/m", "1 2");
  EXPECT(r, "GETX", "/m", "1 2");
  EXPECT(r, "*", "/m", "1 2"); /* a request method "*" is only a strange token */
  EXPECT(r, NULL, "/m", "1 2");
  sk_router_destroy(r);
}

static void test_empty_segments(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, "GET", "//a", 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:x/a", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a//b", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/:x/b", 4) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "//*", 5) == SK_ROUTER_OK);
  EXPECT(r, "GET", "//a", "1 5");
  EXPECT(r, "GET", "/q/a", "2(q)");
  EXPECT(r, "GET", "/a//b", "3");
  EXPECT(r, "GET", "/a/z/b", "4(z)");
  EXPECT(r, "GET", "//", "5");
  EXPECT(r, "GET", "///", "5");
  EXPECT(r, "GET", "/a", "");
  sk_router_destroy(r);
}

static void test_bytes(void) {
  sk_router_t *r = sk_router_create();
  static const char pat[] = "/a\0b/\xff\x80";
  static const char hit[] = "/a\0b/\xff\x80";
  static const char miss[] = "/a\0c/\xff\x80";
  CHECK(sk_router_add(r, "GET", 3, pat, sizeof(pat) - 1, 1) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/A", 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/p/:v", 3) == SK_ROUTER_OK);
  t_trace_t t;
  CHECK(t_run(r, "GET", hit, sizeof(hit) - 1, 1, &t) == 1);
  CHECK(t_run(r, "GET", miss, sizeof(miss) - 1, 1, &t) == 0 && t.len == 0);
  CHECK(t_run(r, "GET", "/a\0b", 4, 1, &t) == 0 && t.len == 0);
  EXPECT(r, "GET", "/a", "");
  EXPECT(r, "GET", "/A", "2");
  static const char bin[] = "/p/\x01\x00\xfe";
  CHECK(t_run(r, "GET", bin, sizeof(bin) - 1, 3, &t) == 1 && !t.bad);
  CHECK(t.len == 6 && memcmp(t.buf, "3(\x01\x00\xfe)", 6) == 0);
  /* The length is what counts: bytes past path_len are never read. */
  CHECK(t_run(r, "GET", "/Axyz", 2, 2, &t) == 1);
  sk_router_destroy(r);
}

static void test_many_siblings(void) {
  sk_router_t *r = sk_router_create();
  enum { N = 2000 };
  char pat[32];
  int ok = 1;
  /* Insert in a scrambled order (7919 is prime, so i*7919 % N is a permutation). */
  for (int i = 0; i < N; i++) {
    int k = (int)((long)i * 7919 % N);
    snprintf(pat, sizeof(pat), "/k%d", k);
    ok &= t_add(r, "GET", pat, k) == SK_ROUTER_OK;
  }
  CHECK(ok);
  ok = 1;
  for (int k = 0; k < N; k++) {
    t_trace_t t;
    int n = snprintf(pat, sizeof(pat), "/k%d", k);
    char want[16];
    snprintf(want, sizeof(want), "%d", k);
    ok &= t_run(r, "GET", pat, (size_t)n, -1, &t) == 0 && strcmp(t.buf, want) == 0;
  }
  CHECK(ok);
  EXPECT(r, "GET", "/k2000", "");
  EXPECT(r, "GET", "/k", "");
  sk_router_destroy(r);
}

static void test_deep(void) {
  sk_router_t *r = sk_router_create();
  /* 200k segments: nothing recurses, so neither adding nor matching nor
   * destroying can run out of stack. */
  enum { SEGS = 200000 };
  size_t len = 2 * SEGS;
  char *deep = malloc(len + 3);
  CHECK(deep != NULL);
  if (deep == NULL) return;
  for (size_t i = 0; i < SEGS; i++) {
    deep[2 * i] = '/';
    deep[2 * i + 1] = 'a';
  }
  CHECK(sk_router_add(r, "GET", 3, deep, len, 1) == SK_ROUTER_OK);
  memcpy(deep + len, "/*", 2);
  CHECK(sk_router_add(r, "GET", 3, deep, len + 2, 2) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/a/*", 3) == SK_ROUTER_OK);
  CHECK(t_add(r, "GET", "/:x/*", 4) == SK_ROUTER_OK);
  t_trace_t t;
  CHECK(t_run(r, "GET", deep, len, -1, &t) == 0 && strcmp(t.buf, "1 2 3 4(a)") == 0);
  deep[len + 1] = 'b';
  CHECK(t_run(r, "GET", deep, len + 2, -1, &t) == 0 && strcmp(t.buf, "2 3 4(a)") == 0);
  deep[1] = 'z';
  CHECK(t_run(r, "GET", deep, len + 2, -1, &t) == 0 && strcmp(t.buf, "4(z)") == 0);
  free(deep);
  sk_router_destroy(r);
}

static void test_misc_args(void) {
  sk_router_t *r = sk_router_create();
  CHECK(t_add(r, "GET", "/x", 1) == SK_ROUTER_OK);
  CHECK(sk_router_match(r, "GET", 3, "/x", 2, NULL, NULL) == 0);
  CHECK(sk_router_match(NULL, "GET", 3, "/x", 2, t_visit, NULL) == 0);
  CHECK(sk_router_match(r, "GET", 3, NULL, 0, t_visit, NULL) == 0);
  sk_router_destroy(NULL);
  sk_router_destroy(r);
  /* An empty router matches nothing. */
  r = sk_router_create();
  EXPECT(r, "GET", "/", "");
  sk_router_destroy(r);
}

/* Builds a fixed route set on the failing allocator, failing the k-th
 * allocation for every k, and checks that each failure is clean: the call
 * reports NOMEM, the router still answers exactly the routes that were added,
 * and destroy releases everything. */
static const struct {
  const char *method, *pattern;
} t_set[] = {
    {"GET", "/a/b/c"}, {NULL, "/a/b/c"}, {"GET", "/a/:x/c"},  {"POST", "/a/:x/:y/*"},
    {"GET", "/*"},     {"GET", "/a/b"},  {"GET", "/z/y/x/w"}, {"GET", "/a/b/c"},
    {NULL, "/"},       {"PUT", "/:p/q"}, {"GET", "/a/c"},     {"GET", "/a/d"},
    {"GET", "/a/e"},   {"GET", "/a/f"},  {"GET", "/a/g/*"},
};
static const char *t_probe[] = {"/a/b/c", "/a/q/c", "/a/b", "/z/y/x/w", "/",     "/a/b/c/d",
                                "/k/q",   "/a/c",   "/a/g", "/a/f/",    "/a/g/h"};

static int t_faulty_visit(void *ctx, int id, const sk_route_params_t *p) {
  t_trace_t *t = ctx;
  (void)p;
  char num[16];
  int n = snprintf(num, sizeof(num), " %d", id);
  t_append(t, num, (size_t)n);
  return 0;
}

static void test_nomem(void) {
  enum { NSET = sizeof(t_set) / sizeof(t_set[0]), NPROBE = sizeof(t_probe) / sizeof(t_probe[0]) };
  int saw_nomem = 0, all_clean = 1, finished = 0;
  for (long k = 0; k < 1000 && !finished; k++) {
    t_alloc_live = 0;
    t_alloc_countdown = k;
    sk_router_t *fr = faulty_router_create();
    if (fr == NULL) {
      all_clean &= t_alloc_live == 0;
      saw_nomem = 1;
      continue;
    }
    /* Reference router on the real allocator, given only the adds that worked. */
    sk_router_t *ref = sk_router_create();
    int any_failed = 0;
    for (int i = 0; i < NSET; i++) {
      const char *m = t_set[i].method, *pat = t_set[i].pattern;
      size_t ml = m ? strlen(m) : 0;
      int rc = faulty_router_add(fr, m, ml, pat, strlen(pat), i);
      if (rc == SK_ROUTER_OK) {
        all_clean &= sk_router_add(ref, m, ml, pat, strlen(pat), i) == SK_ROUTER_OK;
      } else {
        all_clean &= rc == SK_ROUTER_ERR_NOMEM;
        any_failed = saw_nomem = 1;
      }
    }
    t_alloc_countdown = -1;
    for (int i = 0; i < NPROBE; i++) {
      const char *methods[] = {"GET", "POST", "PUT"};
      for (int m = 0; m < 3; m++) {
        t_trace_t a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        size_t pl = strlen(t_probe[i]), ml = strlen(methods[m]);
        faulty_router_match(fr, methods[m], ml, t_probe[i], pl, t_faulty_visit, &a);
        sk_router_match(ref, methods[m], ml, t_probe[i], pl, t_faulty_visit, &b);
        if (strcmp(a.buf, b.buf) != 0) {
          all_clean = 0;
          printf("  nomem k=%ld %s %s: \"%s\" vs \"%s\"\n", k, methods[m], t_probe[i], a.buf,
                 b.buf);
        }
      }
    }
    faulty_router_destroy(fr);
    sk_router_destroy(ref);
    all_clean &= t_alloc_live == 0;
    if (!any_failed) finished = 1; /* k is past the last allocation */
  }
  CHECK(saw_nomem);
  CHECK(finished);
  CHECK(all_clean);
  CHECK(t_alloc_live == 0);
}

int main(void) {
  test_pattern_errors();
  test_param_limit();
  test_root_and_trailing_slash();
  test_wildcard();
  test_params();
  test_priority();
  test_deeper_static_first();
  test_backtracking_params();
  test_methods();
  test_empty_segments();
  test_bytes();
  test_many_siblings();
  test_deep();
  test_misc_args();
  test_nomem();
  return t_summary();
}
