/* Route tree: method + path pattern -> handler id.
 *
 * Patterns are '/'-separated segments: static text, ":name" parameter
 * segments (one non-empty segment, values read by index) and a trailing "*"
 * wildcard (the rest of the path, possibly empty). At every node a static
 * child is tried before the parameter child, which is tried before the
 * wildcard; at a matching node the method-specific route is tried before the
 * "any" route (HEAD also tries GET routes before "any"). Matching walks the
 * tree depth first and hands every matching
 * route to a visitor in that priority order until the visitor accepts one, so
 * a handler can "yield" to the next match. */
#ifndef SK_ROUTER_H
#define SK_ROUTER_H

#include <stddef.h>

#define SK_ROUTER_MAX_PARAMS 32

/* Status codes returned by sk_router_add. */
#define SK_ROUTER_OK 0
#define SK_ROUTER_ERR_NOMEM (-1)
#define SK_ROUTER_ERR_PATTERN                                                                      \
  (-2) /* empty, not starting with '/', '*' not last,
                                      empty ":" name, more than MAX_PARAMS params */

typedef struct sk_router sk_router_t;

typedef struct sk_route_params {
  size_t count;
  const char *value[SK_ROUTER_MAX_PARAMS]; /* slices into the matched path */
  size_t value_len[SK_ROUTER_MAX_PARAMS];
} sk_route_params_t;

/* Return nonzero to stop (the route handled the request), 0 to continue with
 * the next matching route. `params` is only valid during the call. */
typedef int (*sk_route_visitor_fn)(void *ctx, int handler_id, const sk_route_params_t *params);

sk_router_t *sk_router_create(void);
void sk_router_destroy(sk_router_t *router);

/* method: a token such as "GET" (case-sensitive, as sent on the wire), or
 * NULL / "*" for the route that answers any method. Adding the same method
 * and pattern twice keeps both; the first added is tried first. */
int sk_router_add(sk_router_t *router, const char *method, size_t method_len, const char *pattern,
                  size_t pattern_len, int handler_id);

/* Visit every route matching (method, path) in priority order. `path` is the
 * request path without the query string (not percent-decoded). Returns 1 if a
 * visitor call returned nonzero, 0 if no route accepted the request. A path
 * that does not start with '/' matches nothing (except the "*" pattern for
 * OPTIONS *, which the caller handles itself). */
int sk_router_match(const sk_router_t *router, const char *method, size_t method_len,
                    const char *path, size_t path_len, sk_route_visitor_fn visit, void *ctx);

#endif
