/* Topic registry for WebSocket pub/sub.
 *
 * Topics are exact byte strings (no wildcards). Each topic holds the set of
 * its subscribers in subscription order; each subscriber (an opaque handle,
 * e.g. the WebSocket) holds the list of its topics, so unsubscribing from
 * everything at close costs O(its topics). Lookups are O(1) on average:
 * topics are hashed with a keyed hash (SipHash-1-3), so clients choosing
 * topic names cannot flood one bucket.
 *
 * Iteration safety: every walk (a topic's subscribers, a subscriber's
 * topics) may run callbacks that change the registry: subscribe or
 * unsubscribe anyone from anything, unsubscribe_all, or start another walk
 * (a nested publish). The rules, enforced by a generation scheme:
 *   - an entry removed during a walk, and not yet reached, is skipped;
 *   - an entry added during a walk (including a re-subscription) is not
 *     visited by that walk: it belongs to a later generation;
 *   - removed entries are unlinked, and empty topics/subscribers freed, when
 *     the last walk over their list ends (deferred removal).
 * The only thing a callback must not do is destroy the registry. Not
 * thread-safe: one registry per thread (per event loop). */
#ifndef SK_PUBSUB_H
#define SK_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk_pubsub sk_pubsub_t;

/* Return nonzero to stop the walk. */
typedef int (*sk_pubsub_sub_fn)(void *ctx, void *sub);
typedef int (*sk_pubsub_topic_fn)(void *ctx, const char *topic, size_t len);
/* Called after each removal of sk_pubsub_unsubscribe_all. */
typedef void (*sk_pubsub_unsub_fn)(void *ctx, const char *topic, size_t len, size_t old_count,
                                   size_t new_count);

/* seed keys the topic hash; pass a random value (0: one is derived from
 * addresses and the clock). NULL on no memory. */
sk_pubsub_t *sk_pubsub_create(uint64_t seed);
/* Frees everything; must not be called from inside a walk. */
void sk_pubsub_destroy(sk_pubsub_t *ps);

/* Subscribe sub to topic[0..len). Returns 1 when newly subscribed, 0 when
 * it already was, -1 on no memory (nothing changed). *old_count and
 * *new_count (either may be NULL) get the topic's subscriber count before
 * and after. */
int sk_pubsub_subscribe(sk_pubsub_t *ps, void *sub, const char *topic, size_t len,
                        size_t *old_count, size_t *new_count);

/* Returns 1 when sub was subscribed (and no longer is), 0 otherwise. */
int sk_pubsub_unsubscribe(sk_pubsub_t *ps, void *sub, const char *topic, size_t len,
                          size_t *old_count, size_t *new_count);

/* Unsubscribe sub from all its topics, calling fn (may be NULL) after each
 * removal; topic names are only valid during the call. Topics sub joins
 * from inside fn are kept. Returns the number of topics removed. */
size_t sk_pubsub_unsubscribe_all(sk_pubsub_t *ps, void *sub, sk_pubsub_unsub_fn fn, void *ctx);

int sk_pubsub_is_subscribed(const sk_pubsub_t *ps, const void *sub, const char *topic, size_t len);

/* Subscribers of a topic (0 for an unknown one). */
size_t sk_pubsub_count(const sk_pubsub_t *ps, const char *topic, size_t len);
/* Topics with at least one subscriber. */
size_t sk_pubsub_topic_count(const sk_pubsub_t *ps);
/* Topics sub is subscribed to. */
size_t sk_pubsub_sub_topic_count(const sk_pubsub_t *ps, const void *sub);

/* Visit the topic's subscribers in subscription order (a publish). Returns
 * the number of callbacks made. */
size_t sk_pubsub_for_each_subscriber(sk_pubsub_t *ps, const char *topic, size_t len,
                                     sk_pubsub_sub_fn fn, void *ctx);

/* Visit sub's topics in the order it subscribed to them; the name is only
 * valid during the call. Returns the number of callbacks made. */
size_t sk_pubsub_for_each_topic(sk_pubsub_t *ps, const void *sub, sk_pubsub_topic_fn fn, void *ctx);

#endif
