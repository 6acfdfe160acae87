/* Topic registry for WebSocket pub/sub.
 *
 * Three records: a topic (its name and the list of its memberships), a
 * subscriber (its handle and the list of its memberships) and a membership
 * (one topic x one subscriber), which sits in both lists at once. Three
 * chained hash tables find them: topics by name, subscribers by handle,
 * memberships by (topic, subscriber).
 *
 * Deferred removal: a topic or subscriber counts the walks in progress over
 * its list ("iterating"). While it is nonzero a removed membership is marked
 * dead and left in that list, so a walk can always step from its current
 * node to the next; the last walk to end unlinks the dead nodes. A node is
 * freed once it is in neither list. Every membership carries a sequence
 * number; a walk stops at nodes newer than its start, so entries added
 * during a walk are not visited by it. */
#include "pubsub.h"

#include <string.h>
#include <time.h>

/* The allocator can be replaced at build time by defining both macros (the
 * tests do, to make allocations fail on purpose). */
#ifndef SK_PUBSUB_MALLOC
#include <stdlib.h>
#define SK_PUBSUB_MALLOC malloc
#define SK_PUBSUB_FREE free
#endif

#define MIN_BUCKETS 16u

typedef struct hnode hnode_t;
struct hnode {
  hnode_t *next; /* bucket chain */
  uint64_t hash;
};

typedef struct table {
  hnode_t **buckets;
  size_t mask; /* bucket count - 1 (a power of two) */
  size_t count;
} table_t;

typedef struct topic topic_t;
typedef struct sub sub_t;
typedef struct member member_t;

/* A membership's two lists, its topic's and its subscriber's, are walked and
 * pruned alike: one list type, and an index that says which link is whose. */
enum { BY_TOPIC = 0, BY_SUB = 1 };

typedef struct list {
  member_t *head, *tail;
  size_t count;       /* live memberships */
  unsigned iterating; /* walks in progress over this list */
  size_t dead;        /* dead memberships still linked */
} list_t;

struct member {
  hnode_t h; /* first: the table hands back hnode_t pointers */
  topic_t *topic;
  sub_t *sub;
  struct {
    member_t *prev, *next;
  } link[2]; /* [BY_TOPIC] in topic->list, [BY_SUB] in sub->list */
  uint64_t seq;
  unsigned char dead, linked[2];
};

struct topic {
  hnode_t h;
  list_t list;
  size_t len;
  char name[];
};

struct sub {
  hnode_t h;
  void *handle;
  list_t list;
};

struct sk_pubsub {
  table_t topics, subs, members;
  uint64_t k0, k1; /* SipHash key */
  uint64_t seq;    /* last membership sequence number handed out */
  size_t live_topics;
};

/* ---- hashing ---------------------------------------------------------- */

static uint64_t rotl(uint64_t x, unsigned b) {
  return (x << b) | (x >> (64 - b));
}

#define SIPROUND()                                                                                 \
  do {                                                                                             \
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);                                      \
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                                                         \
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                                                         \
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);                                      \
  } while (0)

/* SipHash-1-3 (Aumasson & Bernstein): keyed, so the bucket of a name cannot
 * be predicted without the key. */
static uint64_t siphash13(uint64_t k0, uint64_t k1, const unsigned char *p, size_t len) {
  uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
  uint64_t m, b = (uint64_t)len << 56;
  size_t i, left = len & 7u;
  for (i = 0; i + 8 <= len; i += 8) {
    unsigned j;
    for (m = 0, j = 0; j < 8; j++) m |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= m;
    SIPROUND();
    v0 ^= m;
  }
  for (m = 0; left > 0; left--) m |= (uint64_t)p[i + left - 1] << (8 * (left - 1));
  b |= m;
  v3 ^= b;
  SIPROUND();
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND();
  SIPROUND();
  SIPROUND();
  return v0 ^ v1 ^ v2 ^ v3;
}

/* splitmix64's finalizer: handles are not chosen by clients, a mix will do. */
static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t hash_topic(const sk_pubsub_t *ps, const char *name, size_t len) {
  return siphash13(ps->k0, ps->k1, (const unsigned char *)name, len);
}
static uint64_t hash_ptr(const void *p) {
  return mix64((uint64_t)(uintptr_t)p);
}
static uint64_t hash_pair(const topic_t *t, const sub_t *s) {
  return mix64((uint64_t)(uintptr_t)t ^ rotl((uint64_t)(uintptr_t)s, 29));
}

/* ---- chained hash table ----------------------------------------------- */

static int table_init(table_t *t) {
  t->buckets = SK_PUBSUB_MALLOC(MIN_BUCKETS * sizeof(hnode_t *));
  if (t->buckets == NULL) return -1;
  memset(t->buckets, 0, MIN_BUCKETS * sizeof(hnode_t *));
  t->mask = MIN_BUCKETS - 1;
  t->count = 0;
  return 0;
}

/* Rehash into n buckets; on no memory keep the old array (still correct). */
static void table_resize(table_t *t, size_t n) {
  hnode_t **nb, *e, *next;
  size_t i;
  if (n > SIZE_MAX / sizeof(hnode_t *)) return;
  nb = SK_PUBSUB_MALLOC(n * sizeof(hnode_t *));
  if (nb == NULL) return;
  memset(nb, 0, n * sizeof(hnode_t *));
  for (i = 0; i <= t->mask; i++) {
    for (e = t->buckets[i]; e != NULL; e = next) {
      next = e->next;
      e->next = nb[e->hash & (n - 1)];
      nb[e->hash & (n - 1)] = e;
    }
  }
  SK_PUBSUB_FREE(t->buckets);
  t->buckets = nb;
  t->mask = n - 1;
}

static void table_insert(table_t *t, hnode_t *n) {
  hnode_t **b = &t->buckets[n->hash & t->mask];
  n->next = *b;
  *b = n;
  if (++t->count > t->mask + 1) table_resize(t, (t->mask + 1) * 2);
}

static void table_remove(table_t *t, hnode_t *n) {
  hnode_t **pp = &t->buckets[n->hash & t->mask];
  while (*pp != NULL && *pp != n) pp = &(*pp)->next;
  if (*pp == NULL) return; /* not there: nothing to do */
  *pp = n->next;
  t->count--;
  if (t->mask + 1 > MIN_BUCKETS && t->count < (t->mask + 1) / 8) table_resize(t, (t->mask + 1) / 2);
}

/* ---- lookups ---------------------------------------------------------- */

static topic_t *find_topic(const sk_pubsub_t *ps, const char *name, size_t len) {
  uint64_t h = hash_topic(ps, name, len);
  hnode_t *e;
  for (e = ps->topics.buckets[h & ps->topics.mask]; e != NULL; e = e->next) {
    topic_t *t = (topic_t *)(void *)e;
    if (e->hash == h && t->len == len && (len == 0 || memcmp(t->name, name, len) == 0)) return t;
  }
  return NULL;
}

static sub_t *find_sub(const sk_pubsub_t *ps, const void *handle) {
  uint64_t h = hash_ptr(handle);
  hnode_t *e;
  for (e = ps->subs.buckets[h & ps->subs.mask]; e != NULL; e = e->next) {
    sub_t *s = (sub_t *)(void *)e;
    if (s->handle == handle) return s;
  }
  return NULL;
}

static member_t *find_member(const sk_pubsub_t *ps, const topic_t *t, const sub_t *s) {
  uint64_t h = hash_pair(t, s);
  hnode_t *e;
  for (e = ps->members.buckets[h & ps->members.mask]; e != NULL; e = e->next) {
    member_t *m = (member_t *)(void *)e;
    if (m->topic == t && m->sub == s) return m;
  }
  return NULL;
}

/* ---- lifetime --------------------------------------------------------- */

sk_pubsub_t *sk_pubsub_create(uint64_t seed) {
  sk_pubsub_t *ps = SK_PUBSUB_MALLOC(sizeof(*ps));
  if (ps == NULL) return NULL;
  memset(ps, 0, sizeof(*ps));
  if (table_init(&ps->topics) != 0) goto fail;
  if (table_init(&ps->subs) != 0) goto fail;
  if (table_init(&ps->members) != 0) goto fail;
  if (seed == 0) {
    /* Without a caller-supplied random seed: ASLR'd addresses and the time. */
    seed = mix64((uint64_t)(uintptr_t)ps) ^ mix64((uint64_t)(uintptr_t)&seed + 1) ^
           mix64((uint64_t)time(NULL) + 2) ^ mix64((uint64_t)clock() + 3);
  }
  ps->k0 = mix64(seed);
  ps->k1 = mix64(seed ^ 0x9e3779b97f4a7c15ull);
  return ps;
fail:
  SK_PUBSUB_FREE(ps->topics.buckets);
  SK_PUBSUB_FREE(ps->subs.buckets);
  SK_PUBSUB_FREE(ps->members.buckets);
  SK_PUBSUB_FREE(ps);
  return NULL;
}

void sk_pubsub_destroy(sk_pubsub_t *ps) {
  size_t i;
  hnode_t *e, *next;
  if (ps == NULL) return;
  /* Outside a walk every membership is live and in both lists: free them
   * through the topics, then the topics and subscribers themselves. */
  for (i = 0; i <= ps->topics.mask; i++) {
    for (e = ps->topics.buckets[i]; e != NULL; e = next) {
      topic_t *t = (topic_t *)(void *)e;
      member_t *m, *mn;
      next = e->next;
      for (m = t->list.head; m != NULL; m = mn) {
        mn = m->link[BY_TOPIC].next;
        SK_PUBSUB_FREE(m);
      }
      SK_PUBSUB_FREE(t);
    }
  }
  for (i = 0; i <= ps->subs.mask; i++) {
    for (e = ps->subs.buckets[i]; e != NULL; e = next) {
      next = e->next;
      SK_PUBSUB_FREE(e);
    }
  }
  SK_PUBSUB_FREE(ps->topics.buckets);
  SK_PUBSUB_FREE(ps->subs.buckets);
  SK_PUBSUB_FREE(ps->members.buckets);
  SK_PUBSUB_FREE(ps);
}

static void list_append(list_t *l, member_t *m, int side) {
  m->link[side].prev = l->tail;
  m->link[side].next = NULL;
  if (l->tail) l->tail->link[side].next = m;
  else l->head = m;
  l->tail = m;
  m->linked[side] = 1;
}

static void list_unlink(list_t *l, member_t *m, int side) {
  member_t *prev = m->link[side].prev, *next = m->link[side].next;
  if (prev) prev->link[side].next = next;
  else l->head = next;
  if (next) next->link[side].prev = prev;
  else l->tail = prev;
  m->linked[side] = 0;
}

/* Unlink a dead membership now, or count it for the last walk to unlink; a
 * membership in neither list is freed. */
static void list_drop(list_t *l, member_t *m, int side) {
  if (l->iterating > 0) {
    l->dead++;
    return;
  }
  list_unlink(l, m, side);
  if (!m->linked[!side]) SK_PUBSUB_FREE(m);
}

/* A walk over one list: the live memberships older than the walk. Begun,
 * it holds the list (iterating); list_walk_end lets go. */
typedef struct list_walk {
  int side;
  uint64_t limit; /* the last sequence number when the walk began */
} list_walk_t;

/* The first membership from m on that the walk visits: lists are in
 * sequence order, so the first node newer than the walk ends it. */
static member_t *walk_from(const list_walk_t *w, member_t *m) {
  while (m != NULL && m->dead) m = m->link[w->side].next;
  return m != NULL && m->seq <= w->limit ? m : NULL;
}

static member_t *walk_begin(list_walk_t *w, const sk_pubsub_t *ps, list_t *l, int side) {
  w->side = side;
  w->limit = ps->seq;
  l->iterating++;
  return walk_from(w, l->head);
}

static member_t *walk_next(const list_walk_t *w, const member_t *m) {
  return walk_from(w, m->link[w->side].next);
}

/* End a walk: the last one out unlinks the dead. */
static void list_walk_end(list_t *l, int side) {
  member_t *m, *next;
  if (--l->iterating > 0 || l->dead == 0) return;
  for (m = l->head; m != NULL; m = next) {
    next = m->link[side].next;
    if (!m->dead) continue;
    list_unlink(l, m, side);
    if (!m->linked[!side]) SK_PUBSUB_FREE(m);
  }
  l->dead = 0;
}

/* Free a topic or subscriber that nothing refers to any more. */
static void topic_release(sk_pubsub_t *ps, topic_t *t) {
  if (t->list.count > 0 || t->list.iterating > 0) return;
  table_remove(&ps->topics, &t->h);
  SK_PUBSUB_FREE(t);
}

static void sub_release(sk_pubsub_t *ps, sub_t *s) {
  if (s->list.count > 0 || s->list.iterating > 0) return;
  table_remove(&ps->subs, &s->h);
  SK_PUBSUB_FREE(s);
}

static void topic_walk_end(sk_pubsub_t *ps, topic_t *t) {
  list_walk_end(&t->list, BY_TOPIC);
  topic_release(ps, t);
}

static void sub_walk_end(sk_pubsub_t *ps, sub_t *s) {
  list_walk_end(&s->list, BY_SUB);
  sub_release(ps, s);
}

/* Remove a live membership: unlink it now from each list nobody is walking,
 * later from the others. */
static void member_kill(sk_pubsub_t *ps, member_t *m) {
  topic_t *t = m->topic;
  sub_t *s = m->sub;
  m->dead = 1;
  table_remove(&ps->members, &m->h);
  if (--t->list.count == 0) ps->live_topics--;
  s->list.count--;
  /* The first drop cannot free m: it is still in the other list. */
  list_drop(&t->list, m, BY_TOPIC);
  list_drop(&s->list, m, BY_SUB);
  topic_release(ps, t);
  sub_release(ps, s);
}

/* ---- subscribe / unsubscribe ------------------------------------------ */

int sk_pubsub_subscribe(sk_pubsub_t *ps, void *handle, const char *name, size_t len,
                        size_t *old_count, size_t *new_count) {
  topic_t *t = find_topic(ps, name, len);
  sub_t *s;
  member_t *m;

  if (t == NULL) {
    if (len > SIZE_MAX - sizeof(topic_t)) return -1;
    t = SK_PUBSUB_MALLOC(sizeof(topic_t) + len);
    if (t == NULL) return -1;
    memset(t, 0, sizeof(*t));
    t->h.hash = hash_topic(ps, name, len);
    t->len = len;
    if (len > 0) memcpy(t->name, name, len);
    table_insert(&ps->topics, &t->h);
  }
  if (old_count) *old_count = t->list.count;
  if (new_count) *new_count = t->list.count;
  s = find_sub(ps, handle);
  if (s == NULL) {
    s = SK_PUBSUB_MALLOC(sizeof(*s));
    if (s == NULL) goto nomem;
    memset(s, 0, sizeof(*s));
    s->h.hash = hash_ptr(handle);
    s->handle = handle;
    table_insert(&ps->subs, &s->h);
  } else if (find_member(ps, t, s) != NULL) {
    return 0;
  }
  m = SK_PUBSUB_MALLOC(sizeof(*m));
  if (m == NULL) goto nomem;
  memset(m, 0, sizeof(*m));
  m->h.hash = hash_pair(t, s);
  m->topic = t;
  m->sub = s;
  m->seq = ++ps->seq;
  list_append(&t->list, m, BY_TOPIC);
  list_append(&s->list, m, BY_SUB);
  table_insert(&ps->members, &m->h);
  if (t->list.count++ == 0) ps->live_topics++;
  s->list.count++;
  if (new_count) *new_count = t->list.count;
  return 1;
nomem:
  /* Drop what this call created (records with no memberships). */
  if (s != NULL) sub_release(ps, s);
  topic_release(ps, t);
  return -1;
}

int sk_pubsub_unsubscribe(sk_pubsub_t *ps, void *handle, const char *name, size_t len,
                          size_t *old_count, size_t *new_count) {
  topic_t *t = find_topic(ps, name, len);
  sub_t *s = find_sub(ps, handle);
  member_t *m = t && s ? find_member(ps, t, s) : NULL;
  size_t before = t ? t->list.count : 0;
  if (old_count) *old_count = before;
  if (new_count) *new_count = before;
  if (m == NULL) return 0;
  member_kill(ps, m); /* may free t */
  if (new_count) *new_count = before - 1;
  return 1;
}

/* Hands each membership of a subscriber's list to visit (a walk: see
 * list_walk_t) until it returns nonzero; returns how many it was given. */
static size_t sub_visit(sk_pubsub_t *ps, const void *handle,
                        int (*visit)(sk_pubsub_t *ps, member_t *m, void *arg), void *arg) {
  sub_t *s = find_sub(ps, handle);
  list_walk_t w;
  size_t n = 0;
  if (s == NULL) return 0;
  for (member_t *m = walk_begin(&w, ps, &s->list, BY_SUB); m != NULL; m = walk_next(&w, m)) {
    n++;
    if (visit(ps, m, arg)) break;
  }
  sub_walk_end(ps, s);
  return n;
}

typedef struct unsub_visit {
  sk_pubsub_unsub_fn fn;
  void *ctx;
} unsub_visit_t;

static int visit_unsubscribe(sk_pubsub_t *ps, member_t *m, void *arg) {
  const unsub_visit_t *v = arg;
  topic_t *t = m->topic;
  size_t before = t->list.count;
  /* Hold the topic so its name outlives the removal until fn returns. */
  t->list.iterating++;
  member_kill(ps, m);
  if (v->fn) v->fn(v->ctx, t->name, t->len, before, t->list.count);
  topic_walk_end(ps, t);
  return 0;
}

size_t sk_pubsub_unsubscribe_all(sk_pubsub_t *ps, void *handle, sk_pubsub_unsub_fn fn, void *ctx) {
  unsub_visit_t v = {fn, ctx};
  return sub_visit(ps, handle, visit_unsubscribe, &v);
}

/* ---- queries and walks ------------------------------------------------ */

int sk_pubsub_is_subscribed(const sk_pubsub_t *ps, const void *handle, const char *name,
                            size_t len) {
  const topic_t *t = find_topic(ps, name, len);
  const sub_t *s = t ? find_sub(ps, handle) : NULL;
  return s != NULL && find_member(ps, t, s) != NULL;
}

size_t sk_pubsub_count(const sk_pubsub_t *ps, const char *name, size_t len) {
  const topic_t *t = find_topic(ps, name, len);
  return t ? t->list.count : 0;
}

size_t sk_pubsub_topic_count(const sk_pubsub_t *ps) {
  return ps->live_topics;
}

size_t sk_pubsub_sub_topic_count(const sk_pubsub_t *ps, const void *handle) {
  const sub_t *s = find_sub(ps, handle);
  return s ? s->list.count : 0;
}

size_t sk_pubsub_for_each_subscriber(sk_pubsub_t *ps, const char *name, size_t len,
                                     sk_pubsub_sub_fn fn, void *ctx) {
  topic_t *t = find_topic(ps, name, len);
  list_walk_t w;
  size_t n = 0;
  if (t == NULL) return 0;
  for (member_t *m = walk_begin(&w, ps, &t->list, BY_TOPIC); m != NULL; m = walk_next(&w, m)) {
    n++;
    if (fn(ctx, m->sub->handle)) break;
  }
  topic_walk_end(ps, t);
  return n;
}

typedef struct topic_visit {
  sk_pubsub_topic_fn fn;
  void *ctx;
} topic_visit_t;

static int visit_topic(sk_pubsub_t *ps, member_t *m, void *arg) {
  const topic_visit_t *v = arg;
  (void)ps;
  return v->fn(v->ctx, m->topic->name, m->topic->len);
}

size_t sk_pubsub_for_each_topic(sk_pubsub_t *ps, const void *handle, sk_pubsub_topic_fn fn,
                                void *ctx) {
  topic_visit_t v = {fn, ctx};
  return sub_visit(ps, handle, visit_topic, &v);
}
