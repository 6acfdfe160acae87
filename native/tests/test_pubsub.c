/* Tests for native/src/pubsub.c: counts, order, binary topic names, the
 * iteration-safety rules (removal and subscription from inside a walk,
 * nested walks), out-of-memory paths, and a randomized comparison with a
 * naive model in which walk callbacks change the registry at random.
 * Prints one line per failed check and ends with "N passed, N failed";
 * exits nonzero when anything failed. */
#include "pubsub.h"

#define T_RNG_SEED 0x853c49e6748fea9bull
#define T_FAULTY_ALLOC
#include "harness.h"

/* A second copy of the registry, renamed and built on the harness allocator
 * that fails on demand and counts live blocks. */
#define SK_PUBSUB_MALLOC t_malloc
#define SK_PUBSUB_FREE t_free
#define sk_pubsub_create faulty_create
#define sk_pubsub_destroy faulty_destroy
#define sk_pubsub_subscribe faulty_subscribe
#define sk_pubsub_unsubscribe faulty_unsubscribe
#define sk_pubsub_unsubscribe_all faulty_unsubscribe_all
#define sk_pubsub_is_subscribed faulty_is_subscribed
#define sk_pubsub_count faulty_count
#define sk_pubsub_topic_count faulty_topic_count
#define sk_pubsub_sub_topic_count faulty_sub_topic_count
#define sk_pubsub_for_each_subscriber faulty_for_each_subscriber
#define sk_pubsub_for_each_topic faulty_for_each_topic
#include "pubsub.c"
#undef sk_pubsub_create
#undef sk_pubsub_destroy
#undef sk_pubsub_subscribe
#undef sk_pubsub_unsubscribe
#undef sk_pubsub_unsubscribe_all
#undef sk_pubsub_is_subscribed
#undef sk_pubsub_count
#undef sk_pubsub_topic_count
#undef sk_pubsub_sub_topic_count
#undef sk_pubsub_for_each_subscriber
#undef sk_pubsub_for_each_topic

static int handles[64]; /* subscriber handles are &handles[i] */
#define H(i) ((void *)&handles[i])
#define IDX(p) ((int)((int *)(p)-handles))

/* Records the visit order as a string of subscriber indices ('a' + i). */
typedef struct t_visits {
  char order[256];
  size_t n;
} t_visits_t;

static void t_record(t_visits_t *v, char c) {
  if (v->n + 1 < sizeof(v->order)) {
    v->order[v->n++] = c;
    v->order[v->n] = '\0';
  }
}

static int t_collect(void *ctx, void *sub) {
  t_record(ctx, (char)('a' + IDX(sub)));
  return 0;
}

static const char *t_publish(sk_pubsub_t *ps, const char *topic, size_t len) {
  static t_visits_t v;
  memset(&v, 0, sizeof(v));
  sk_pubsub_for_each_subscriber(ps, topic, len, t_collect, &v);
  return v.order;
}
#define PUB(ps, lit) t_publish((ps), S(lit))

/* ---- basics ----------------------------------------------------------- */

static int t_topic_collect(void *ctx, const char *topic, size_t len) {
  t_visits_t *v = ctx;
  size_t i;
  for (i = 0; i < len; i++) t_record(v, topic[i]);
  t_record(v, '|');
  return 0;
}

static void test_basics(void) {
  sk_pubsub_t *ps = sk_pubsub_create(1);
  size_t o = 99, n = 99;
  t_visits_t v;
  CHECK(ps != NULL);
  CHECK(sk_pubsub_count(ps, S("news")) == 0 && sk_pubsub_topic_count(ps) == 0);
  CHECK(sk_pubsub_subscribe(ps, H(0), S("news"), &o, &n) == 1 && o == 0 && n == 1);
  CHECK(sk_pubsub_subscribe(ps, H(0), S("news"), &o, &n) == 0 && o == 1 && n == 1);
  CHECK(sk_pubsub_subscribe(ps, H(1), S("news"), &o, &n) == 1 && o == 1 && n == 2);
  CHECK(sk_pubsub_subscribe(ps, H(2), S("news"), NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, H(1), S("sport"), &o, &n) == 1 && o == 0 && n == 1);
  CHECK(sk_pubsub_count(ps, S("news")) == 3 && sk_pubsub_count(ps, S("sport")) == 1);
  CHECK(sk_pubsub_topic_count(ps) == 2);
  CHECK(sk_pubsub_sub_topic_count(ps, H(1)) == 2 && sk_pubsub_sub_topic_count(ps, H(5)) == 0);
  CHECK(sk_pubsub_is_subscribed(ps, H(1), S("sport")));
  CHECK(!sk_pubsub_is_subscribed(ps, H(0), S("sport")));
  CHECK(!sk_pubsub_is_subscribed(ps, H(0), S("nothing")));
  CHECK(!sk_pubsub_is_subscribed(ps, H(9), S("news")));
  CHECK(strcmp(PUB(ps, "news"), "abc") == 0);
  CHECK(strcmp(PUB(ps, "none"), "") == 0);
  /* unsubscribe: counts, idempotence, order kept */
  CHECK(sk_pubsub_unsubscribe(ps, H(1), S("news"), &o, &n) == 1 && o == 3 && n == 2);
  CHECK(sk_pubsub_unsubscribe(ps, H(1), S("news"), &o, &n) == 0 && o == 2 && n == 2);
  CHECK(sk_pubsub_unsubscribe(ps, H(1), S("nothing"), &o, &n) == 0 && o == 0 && n == 0);
  CHECK(sk_pubsub_unsubscribe(ps, H(7), S("news"), &o, &n) == 0 && o == 2 && n == 2);
  CHECK(strcmp(PUB(ps, "news"), "ac") == 0);
  /* a re-subscription goes to the end */
  CHECK(sk_pubsub_subscribe(ps, H(1), S("news"), NULL, NULL) == 1);
  CHECK(sk_pubsub_unsubscribe(ps, H(0), S("news"), NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, H(0), S("news"), NULL, NULL) == 1);
  CHECK(strcmp(PUB(ps, "news"), "cba") == 0);
  /* a subscriber's topics, in its subscription order */
  memset(&v, 0, sizeof(v));
  CHECK(sk_pubsub_for_each_topic(ps, H(1), t_topic_collect, &v) == 2);
  CHECK(strcmp(v.order, "sport|news|") == 0);
  CHECK(sk_pubsub_for_each_topic(ps, H(9), t_topic_collect, &v) == 0);
  /* the last subscriber leaving removes the topic */
  CHECK(sk_pubsub_unsubscribe(ps, H(1), S("sport"), &o, &n) == 1 && o == 1 && n == 0);
  CHECK(sk_pubsub_topic_count(ps) == 1 && sk_pubsub_count(ps, S("sport")) == 0);
  CHECK(sk_pubsub_unsubscribe_all(ps, H(2), NULL, NULL) == 1);
  CHECK(sk_pubsub_unsubscribe_all(ps, H(2), NULL, NULL) == 0);
  CHECK(sk_pubsub_count(ps, S("news")) == 2);
  sk_pubsub_destroy(ps);
  sk_pubsub_destroy(NULL);
  /* seed 0 picks its own */
  ps = sk_pubsub_create(0);
  CHECK(ps && sk_pubsub_subscribe(ps, H(0), S("x"), NULL, NULL) == 1 &&
        sk_pubsub_is_subscribed(ps, H(0), S("x")));
  sk_pubsub_destroy(ps);
}

static void test_names(void) {
  sk_pubsub_t *ps = sk_pubsub_create(2);
  /* bytes, not strings: NULs, prefixes, the empty topic, a NULL handle */
  CHECK(sk_pubsub_subscribe(ps, H(0), S("a"), NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, H(1), S("a\0"), NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, H(2), S("ab"), NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, H(3), S(""), NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, H(4), NULL, 0, NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, NULL, S("\xff\x00\xfe"), NULL, NULL) == 1);
  CHECK(sk_pubsub_subscribe(ps, H(5), S("A"), NULL, NULL) == 1);
  CHECK(strcmp(PUB(ps, "a"), "a") == 0);
  CHECK(strcmp(PUB(ps, "a\0"), "b") == 0);
  CHECK(strcmp(PUB(ps, "ab"), "c") == 0);
  CHECK(strcmp(PUB(ps, "A"), "f") == 0);
  CHECK(sk_pubsub_count(ps, S("")) == 2);
  CHECK(sk_pubsub_is_subscribed(ps, NULL, S("\xff\x00\xfe")));
  CHECK(!sk_pubsub_is_subscribed(ps, NULL, S("\xff\x00")));
  CHECK(sk_pubsub_topic_count(ps) == 6);
  sk_pubsub_destroy(ps);
}

/* Many topics and subscribers: tables grow and shrink, lookups stay right. */
static void test_many(void) {
  sk_pubsub_t *ps = sk_pubsub_create(3);
  char name[32];
  int i, ok = 1;
  for (i = 0; i < 50000; i++) {
    int n = snprintf(name, sizeof(name), "topic/%d", i);
    ok &= sk_pubsub_subscribe(ps, H(i % 64), name, (size_t)n, NULL, NULL) == 1;
    if (i % 3 == 0)
      ok &= sk_pubsub_subscribe(ps, H((i + 1) % 64), name, (size_t)n, NULL, NULL) == 1;
  }
  CHECK(ok);
  CHECK(sk_pubsub_topic_count(ps) == 50000);
  for (i = 0; i < 50000; i++) {
    int n = snprintf(name, sizeof(name), "topic/%d", i);
    ok &= sk_pubsub_count(ps, name, (size_t)n) == (i % 3 == 0 ? 2u : 1u);
    ok &= sk_pubsub_is_subscribed(ps, H(i % 64), name, (size_t)n);
    ok &= !sk_pubsub_is_subscribed(ps, H((i + 2) % 64), name, (size_t)n);
  }
  CHECK(ok);
  CHECK(sk_pubsub_sub_topic_count(ps, H(5)) > 700);
  for (i = 0; i < 64; i++) sk_pubsub_unsubscribe_all(ps, H(i), NULL, NULL);
  CHECK(sk_pubsub_topic_count(ps) == 0);
  CHECK(sk_pubsub_subscribe(ps, H(0), S("again"), NULL, NULL) == 1 &&
        strcmp(PUB(ps, "again"), "a") == 0);
  sk_pubsub_destroy(ps);
}

/* ---- iteration safety ------------------------------------------------- */

typedef struct t_script {
  sk_pubsub_t *ps;
  t_visits_t v;
  int step;
} t_script_t;

/* During a publish to "t" with subscribers a..e: b unsubscribes itself, d
 * is closed (unsubscribe_all) before its turn, f joins, c leaves and joins
 * again (moving to the end, after f; not visited twice). */
static int t_script_cb(void *ctx, void *sub) {
  t_script_t *s = ctx;
  int i = IDX(sub);
  t_record(&s->v, (char)('a' + i));
  if (i == 1) {
    sk_pubsub_unsubscribe(s->ps, sub, S("t"), NULL, NULL);
    sk_pubsub_unsubscribe_all(s->ps, H(3), NULL, NULL);
    sk_pubsub_subscribe(s->ps, H(5), S("t"), NULL, NULL);
  } else if (i == 2) {
    sk_pubsub_unsubscribe(s->ps, sub, S("t"), NULL, NULL);
    sk_pubsub_subscribe(s->ps, sub, S("t"), NULL, NULL);
  }
  return 0;
}

static int t_nested_cb(void *ctx, void *sub) {
  t_script_t *s = ctx;
  t_record(&s->v, (char)('a' + IDX(sub)));
  if (s->step++ == 0) {
    /* a nested publish to the same topic, which removes the rest */
    t_record(&s->v, '(');
    sk_pubsub_for_each_subscriber(s->ps, S("t"), t_nested_cb, s);
    t_record(&s->v, ')');
  } else if (IDX(sub) == 1) {
    sk_pubsub_unsubscribe(s->ps, H(2), S("t"), NULL, NULL);
    sk_pubsub_unsubscribe(s->ps, H(0), S("t"), NULL, NULL);
  }
  return 0;
}

static int t_clear_cb(void *ctx, void *sub) {
  t_script_t *s = ctx;
  int i;
  t_record(&s->v, (char)('a' + IDX(sub)));
  for (i = 0; i < 5; i++) faulty_unsubscribe_all(s->ps, H(i), NULL, NULL);
  return 0;
}

static int t_stop_cb(void *ctx, void *sub) {
  t_record(ctx, (char)('a' + IDX(sub)));
  return IDX(sub) == 1;
}

static int t_topics_cb(void *ctx, const char *topic, size_t len) {
  t_script_t *s = ctx;
  t_topic_collect(&s->v, topic, len);
  if (len == 1 && topic[0] == 'x') {
    sk_pubsub_unsubscribe(s->ps, H(0), S("x"), NULL, NULL); /* the current one */
    sk_pubsub_unsubscribe(s->ps, H(0), S("y"), NULL, NULL); /* the next one */
    sk_pubsub_subscribe(s->ps, H(0), S("w"), NULL, NULL);   /* a new one */
  }
  return 0;
}

typedef struct t_unsub_log {
  t_visits_t v;
  sk_pubsub_t *ps;
} t_unsub_log_t;

static void t_unsub_cb(void *ctx, const char *topic, size_t len, size_t old_count,
                       size_t new_count) {
  t_unsub_log_t *l = ctx;
  size_t i;
  for (i = 0; i < len; i++) t_record(&l->v, topic[i]);
  t_record(&l->v, (char)('0' + old_count));
  t_record(&l->v, (char)('0' + new_count));
  /* the count it reports is the registry's */
  if (sk_pubsub_count(l->ps, topic, len) != new_count) t_record(&l->v, '!');
  if (len == 1 && topic[0] == 'p') sk_pubsub_subscribe(l->ps, H(0), S("q"), NULL, NULL);
}

static void test_walk_safety(void) {
  t_script_t s;
  t_unsub_log_t l;
  int i;
  long live_before = t_alloc_live;

  memset(&s, 0, sizeof(s));
  s.ps = sk_pubsub_create(4);
  for (i = 0; i < 5; i++) sk_pubsub_subscribe(s.ps, H(i), S("t"), NULL, NULL);
  sk_pubsub_subscribe(s.ps, H(3), S("other"), NULL, NULL);
  CHECK(sk_pubsub_for_each_subscriber(s.ps, S("t"), t_script_cb, &s) == 4);
  CHECK(strcmp(s.v.order, "abce") == 0);
  CHECK(strcmp(PUB(s.ps, "t"), "aefc") == 0);
  CHECK(sk_pubsub_count(s.ps, S("t")) == 4 && sk_pubsub_count(s.ps, S("other")) == 0);
  CHECK(sk_pubsub_topic_count(s.ps) == 1);
  sk_pubsub_destroy(s.ps);

  /* nested walks over the same topic */
  memset(&s, 0, sizeof(s));
  s.ps = sk_pubsub_create(5);
  for (i = 0; i < 4; i++) sk_pubsub_subscribe(s.ps, H(i), S("t"), NULL, NULL);
  sk_pubsub_for_each_subscriber(s.ps, S("t"), t_nested_cb, &s);
  CHECK(strcmp(s.v.order, "a(abd)bd") == 0);
  CHECK(strcmp(PUB(s.ps, "t"), "bd") == 0);
  sk_pubsub_destroy(s.ps);

  /* everyone leaves during the walk: the topic goes when the walk ends */
  memset(&s, 0, sizeof(s));
  s.ps = faulty_create(6);
  for (i = 0; i < 5; i++) faulty_subscribe(s.ps, H(i), S("t"), NULL, NULL);
  CHECK(faulty_for_each_subscriber(s.ps, S("t"), t_clear_cb, &s) == 1);
  CHECK(strcmp(s.v.order, "a") == 0);
  CHECK(faulty_topic_count(s.ps) == 0 && faulty_count(s.ps, S("t")) == 0);
  CHECK(s.ps->topics.count == 0 && s.ps->subs.count == 0 && s.ps->members.count == 0);
  faulty_destroy(s.ps);
  CHECK(t_alloc_live == live_before);

  /* stopping early */
  memset(&s, 0, sizeof(s));
  s.ps = sk_pubsub_create(7);
  for (i = 0; i < 4; i++) sk_pubsub_subscribe(s.ps, H(i), S("t"), NULL, NULL);
  CHECK(sk_pubsub_for_each_subscriber(s.ps, S("t"), t_stop_cb, &s.v) == 2);
  CHECK(strcmp(s.v.order, "ab") == 0);

  /* a subscriber's topics, changed during the walk */
  memset(&s.v, 0, sizeof(s.v));
  sk_pubsub_subscribe(s.ps, H(0), S("x"), NULL, NULL);
  sk_pubsub_subscribe(s.ps, H(0), S("y"), NULL, NULL);
  sk_pubsub_subscribe(s.ps, H(0), S("z"), NULL, NULL);
  CHECK(sk_pubsub_for_each_topic(s.ps, H(0), t_topics_cb, &s) == 3);
  CHECK(strcmp(s.v.order, "t|x|z|") == 0);
  memset(&s.v, 0, sizeof(s.v));
  sk_pubsub_for_each_topic(s.ps, H(0), t_topic_collect, &s.v);
  CHECK(strcmp(s.v.order, "t|z|w|") == 0);

  /* unsubscribe_all: reports each topic with its counts; topics joined
   * from the callback stay */
  memset(&l, 0, sizeof(l));
  l.ps = s.ps;
  sk_pubsub_subscribe(s.ps, H(0), S("p"), NULL, NULL);
  sk_pubsub_subscribe(s.ps, H(1), S("p"), NULL, NULL);
  CHECK(sk_pubsub_unsubscribe_all(s.ps, H(0), t_unsub_cb, &l) == 4);
  CHECK(strcmp(l.v.order, "t43z10w10p21") == 0);
  CHECK(sk_pubsub_sub_topic_count(s.ps, H(0)) == 1 && sk_pubsub_is_subscribed(s.ps, H(0), S("q")));
  CHECK(strcmp(PUB(s.ps, "t"), "bcd") == 0);
  sk_pubsub_destroy(s.ps);
}

/* ---- out of memory ---------------------------------------------------- */

static void test_nomem(void) {
  long k;
  int finished = 0, sane = 1, saw_fail = 0;
  for (k = 0; k < 200 && !finished; k++) {
    sk_pubsub_t *ps;
    int r1, r2, r3;
    t_alloc_countdown = k;
    ps = faulty_create(8);
    if (ps == NULL) {
      saw_fail = 1;
      t_alloc_countdown = -1;
      sane &= t_alloc_live == 0;
      continue;
    }
    r1 = faulty_subscribe(ps, H(0), S("a"), NULL, NULL);
    r2 = faulty_subscribe(ps, H(1), S("a"), NULL, NULL);
    r3 = faulty_subscribe(ps, H(1), S("b"), NULL, NULL);
    saw_fail |= r1 < 0 || r2 < 0 || r3 < 0;
    /* a failed subscribe changes nothing */
    sane &= (r1 == 1) == faulty_is_subscribed(ps, H(0), S("a"));
    sane &= (r2 == 1) == faulty_is_subscribed(ps, H(1), S("a"));
    sane &= (r3 == 1) == faulty_is_subscribed(ps, H(1), S("b"));
    sane &= faulty_count(ps, S("a")) == (size_t)((r1 == 1) + (r2 == 1));
    sane &= faulty_topic_count(ps) == (size_t)((r1 == 1 || r2 == 1) + (r3 == 1));
    sane &= ps->topics.count == faulty_topic_count(ps);
    if (r1 == 1 && r2 == 1 && r3 == 1 && t_alloc_countdown >= 0) finished = 1;
    t_alloc_countdown = -1;
    faulty_destroy(ps);
    sane &= t_alloc_live == 0;
  }
  CHECK(finished);
  CHECK(saw_fail);
  CHECK(sane);
  {
    /* failing table growth is harmless */
    sk_pubsub_t *ps = faulty_create(9);
    char name[16];
    int i, ok = 1;
    /* records are small, bucket arrays past the first 16 buckets are not */
    t_alloc_max = 200;
    for (i = 0; i < 100; i++) {
      int n = snprintf(name, sizeof(name), "n%d", i);
      ok &= faulty_subscribe(ps, H(i % 8), name, (size_t)n, NULL, NULL) == 1;
    }
    t_alloc_max = (size_t)-1;
    CHECK(ok && ps->topics.mask + 1 == MIN_BUCKETS && faulty_topic_count(ps) == 100);
    for (i = 0; i < 100; i++) {
      int n = snprintf(name, sizeof(name), "n%d", i);
      ok &= faulty_is_subscribed(ps, H(i % 8), name, (size_t)n);
    }
    CHECK(ok);
    faulty_destroy(ps);
    CHECK(t_alloc_live == 0);
  }
}

/* ---- randomized comparison with a model ------------------------------- */

enum { MT = 6, MS = 6, MAX_DEPTH = 3 };

typedef struct model {
  uint64_t seq[MT][MS]; /* 0: not subscribed; else the subscription's number */
  uint64_t counter;
} model_t;

static const char *const mt_names[MT] = {"", "a", "b", "a\0", "topic", "\xff"};
static const size_t mt_lens[MT] = {0, 1, 1, 2, 5, 1};

typedef struct walk {
  int kind; /* 0: subscribers of topic `who`, 1: topics of subscriber `who` */
  int who;
  int order[MT > MS ? MT : MS]; /* snapshot in sequence order */
  uint64_t snap_seq[MT > MS ? MT : MS];
  int n, pos;
  int visits; /* callbacks made */
} walk_t;

typedef struct fuzz {
  sk_pubsub_t *ps;
  model_t m;
  int depth;
  int bad;
  walk_t *walks[MAX_DEPTH + 1];
} fuzz_t;

static void walk_snapshot(const model_t *m, walk_t *w) {
  int i, j, k = w->kind == 0 ? MS : MT;
  w->n = w->pos = w->visits = 0;
  for (i = 0; i < k; i++) {
    uint64_t s = w->kind == 0 ? m->seq[w->who][i] : m->seq[i][w->who];
    if (s == 0) continue;
    for (j = w->n; j > 0 && w->snap_seq[j - 1] > s; j--) {
      w->order[j] = w->order[j - 1];
      w->snap_seq[j] = w->snap_seq[j - 1];
    }
    w->order[j] = i;
    w->snap_seq[j] = s;
    w->n++;
  }
}

/* The next entry the walk must visit: alive with the same subscription. */
static int walk_expect(const model_t *m, walk_t *w) {
  while (w->pos < w->n) {
    int i = w->order[w->pos];
    uint64_t s = w->kind == 0 ? m->seq[w->who][i] : m->seq[i][w->who];
    if (s == w->snap_seq[w->pos]) return i;
    w->pos++;
  }
  return -1;
}

/* The faulty_* copy, with its allocation counter: no leaks either. */
static void fuzz_op(fuzz_t *f);

static void fuzz_verify(fuzz_t *f) {
  int t, s;
  size_t topics = 0;
  for (t = 0; t < MT; t++) {
    size_t c = 0;
    for (s = 0; s < MS; s++) {
      c += f->m.seq[t][s] != 0;
      if (faulty_is_subscribed(f->ps, H(s), mt_names[t], mt_lens[t]) != (f->m.seq[t][s] != 0))
        f->bad = 1;
    }
    if (faulty_count(f->ps, mt_names[t], mt_lens[t]) != c) f->bad = 1;
    topics += c > 0;
  }
  for (s = 0; s < MS; s++) {
    size_t c = 0;
    for (t = 0; t < MT; t++) c += f->m.seq[t][s] != 0;
    if (faulty_sub_topic_count(f->ps, H(s)) != c) f->bad = 1;
  }
  if (faulty_topic_count(f->ps) != topics) f->bad = 1;
}

static void fuzz_visit(fuzz_t *f, int got) {
  walk_t *w = f->walks[f->depth - 1];
  int want = walk_expect(&f->m, w);
  if (want != got) f->bad = 1;
  w->pos++;
  w->visits++;
  if (t_next() % 3 != 0) fuzz_op(f);
  if (t_next() % 3 == 0) fuzz_op(f);
}

static int fuzz_sub_cb(void *ctx, void *sub) {
  fuzz_visit(ctx, IDX(sub));
  return 0;
}

static int fuzz_topic_cb(void *ctx, const char *topic, size_t len) {
  int t;
  for (t = 0; t < MT; t++)
    if (mt_lens[t] == len && memcmp(mt_names[t], topic, len) == 0) break;
  fuzz_visit(ctx, t);
  return 0;
}

/* unsubscribe_all is a walk over the subscriber's topics that removes each
 * one just before its callback. */
static void fuzz_unsub_cb(void *ctx, const char *topic, size_t len, size_t o, size_t n) {
  fuzz_t *f = ctx;
  walk_t *w = f->walks[f->depth - 1];
  int t, k;
  size_t c = 0;
  for (t = 0; t < MT; t++)
    if (mt_lens[t] == len && memcmp(mt_names[t], topic, len) == 0) break;
  if (t == MT || walk_expect(&f->m, w) != t) {
    f->bad = 1;
    return;
  }
  w->pos++;
  w->visits++;
  for (k = 0; k < MS; k++) c += f->m.seq[t][k] != 0;
  f->m.seq[t][w->who] = 0;
  if (o != c || n + 1 != o) f->bad = 1;
  fuzz_verify(f);
  if (t_next() % 2 == 0) fuzz_op(f);
}

static void fuzz_op(fuzz_t *f) {
  int t = (int)(t_next() % MT), s = (int)(t_next() % MS), rc, k;
  size_t o, n, c = 0;
  for (k = 0; k < MS; k++) c += f->m.seq[t][k] != 0;
  switch (t_next() % (f->depth < MAX_DEPTH ? 7 : 3)) {
  case 0:
  case 1:
    rc = faulty_subscribe(f->ps, H(s), mt_names[t], mt_lens[t], &o, &n);
    if (rc != (f->m.seq[t][s] == 0) || o != c || n != c + (rc == 1)) f->bad = 1;
    if (rc == 1) f->m.seq[t][s] = ++f->m.counter;
    break;
  case 2:
  case 3:
    rc = faulty_unsubscribe(f->ps, H(s), mt_names[t], mt_lens[t], &o, &n);
    if (rc != (f->m.seq[t][s] != 0) || o != c || n != c - (rc == 1)) f->bad = 1;
    f->m.seq[t][s] = 0;
    break;
  case 4: {
    walk_t w;
    size_t got;
    w.kind = 1;
    w.who = s;
    walk_snapshot(&f->m, &w);
    f->walks[f->depth++] = &w;
    got = faulty_unsubscribe_all(f->ps, H(s), fuzz_unsub_cb, f);
    if (walk_expect(&f->m, &w) != -1 || got != (size_t)w.visits) f->bad = 1;
    f->depth--;
    break;
  }
  default: {
    walk_t w;
    size_t got;
    w.kind = (int)(t_next() % 2);
    w.who = w.kind == 0 ? t : s;
    walk_snapshot(&f->m, &w);
    f->walks[f->depth++] = &w;
    if (w.kind == 0)
      got = faulty_for_each_subscriber(f->ps, mt_names[t], mt_lens[t], fuzz_sub_cb, f);
    else got = faulty_for_each_topic(f->ps, H(s), fuzz_topic_cb, f);
    /* everything was visited, and nothing more */
    if (walk_expect(&f->m, &w) != -1 || got != (size_t)w.visits) f->bad = 1;
    f->depth--;
    break;
  }
  }
  fuzz_verify(f);
}

static void test_model(void) {
  int round, bad = 0;
  for (round = 0; round < 400; round++) {
    fuzz_t f;
    int i;
    memset(&f, 0, sizeof(f));
    f.ps = faulty_create((uint64_t)round + 1);
    for (i = 0; i < 60; i++) fuzz_op(&f);
    bad |= f.bad;
    faulty_destroy(f.ps);
    bad |= t_alloc_live != 0;
    if (f.bad) printf("  model mismatch in round %d\n", round);
  }
  CHECK(!bad);
}

int main(void) {
  test_basics();
  test_names();
  test_many();
  test_walk_safety();
  test_nomem();
  test_model();
  return t_summary();
}
