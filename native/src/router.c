/* Route tree.
 *
 * One node per distinct pattern prefix. A node has sorted static children
 * (binary-searched), at most one parameter child, the routes whose pattern
 * ends at the node and the routes whose pattern ends with a "*" right after
 * the node (a wildcard never has children, so it needs no node of its own).
 *
 * Neither matching nor freeing recurses: nodes keep a parent pointer, and the
 * depth-first walk climbs back through it. The walk therefore needs no stack
 * at all, so a path or a pattern with a million segments costs time, never
 * stack or heap. That is the guard against deep paths: there is no depth
 * limit, every route that matches is found. Matching only reads the tree, so
 * several threads may match at once; adding during a match (for example from
 * a visitor) is not allowed.
 *
 * Path layout: a path "/a/b" is split after its leading '/' on every '/',
 * giving ["a", "b"]; "/" gives [""] and "//a" gives ["", "a"]. Patterns split
 * the same way, so "/" is the route with one empty static segment, and it
 * only matches the path "/". While walking, `cur` is the offset just past the
 * segment of the current node: either the end of the path, or a '/' before
 * the next segment. The root starts at offset 0, on the leading '/'. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

/* The allocator can be replaced at build time by defining all three macros
 * (the tests do, to make allocations fail on purpose). */
#ifndef SK_ROUTER_MALLOC
#define SK_ROUTER_MALLOC malloc
#define SK_ROUTER_REALLOC realloc
#define SK_ROUTER_FREE free
#endif

enum { NODE_ROOT, NODE_STATIC, NODE_PARAM };

typedef struct sk_route {
  char *method; /* NULL for an "any" route */
  size_t method_len;
  int handler_id;
} sk_route_t;

typedef struct sk_route_list {
  sk_route_t *items;
  size_t count, cap;
} sk_route_list_t;

typedef struct sk_node sk_node_t;
struct sk_node {
  sk_node_t *parent;
  int kind;
  size_t nparams;   /* parameter nodes from the root to here, this one included */
  sk_node_t **kids; /* static children, sorted by (seg_len, bytes) */
  size_t nkids, kids_cap;
  sk_node_t *param;       /* the ":name" child; all names share it */
  sk_route_list_t routes; /* patterns ending at this node */
  sk_route_list_t wild;   /* patterns ending with a "*" segment after this node */
  size_t seg_len;
  char seg[]; /* static segment bytes (not NUL-terminated) */
};

struct sk_router {
  sk_node_t *root;
};

static sk_node_t *node_new(sk_node_t *parent, int kind, const char *seg, size_t seg_len) {
  sk_node_t *n = SK_ROUTER_MALLOC(sizeof(*n) + seg_len + 1);
  if (n == NULL) return NULL;
  memset(n, 0, sizeof(*n));
  n->parent = parent;
  n->kind = kind;
  n->nparams = parent == NULL ? 0 : parent->nparams + (kind == NODE_PARAM);
  n->seg_len = seg_len;
  if (seg_len > 0) memcpy(n->seg, seg, seg_len);
  n->seg[seg_len] = '\0';
  return n;
}

static void route_list_free(sk_route_list_t *list) {
  for (size_t i = 0; i < list->count; i++) SK_ROUTER_FREE(list->items[i].method);
  SK_ROUTER_FREE(list->items);
}

/* Frees `top` and everything below it, post-order, without recursion: detach
 * a child, descend into it, and free a node once it has no children left. */
static void subtree_free(sk_node_t *top) {
  sk_node_t *n = top;
  while (n != NULL) {
    sk_node_t *child = NULL;
    if (n->nkids > 0) {
      child = n->kids[--n->nkids];
    } else if (n->param != NULL) {
      child = n->param;
      n->param = NULL;
    }
    if (child != NULL) {
      n = child;
      continue;
    }
    sk_node_t *parent = n == top ? NULL : n->parent;
    route_list_free(&n->routes);
    route_list_free(&n->wild);
    SK_ROUTER_FREE(n->kids);
    SK_ROUTER_FREE(n);
    n = parent;
  }
}

/* Order of static children: shorter first, then bytewise. Any total order
 * works; comparing lengths first settles most comparisons without memcmp. */
static int seg_cmp(const sk_node_t *n, const char *seg, size_t len) {
  if (n->seg_len != len) return n->seg_len < len ? -1 : 1;
  return len == 0 ? 0 : memcmp(n->seg, seg, len);
}

/* Index of the static child equal to seg, or of where it would be inserted. */
static size_t kid_search(const sk_node_t *n, const char *seg, size_t len, int *found) {
  size_t lo = 0, hi = n->nkids;
  *found = 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = seg_cmp(n->kids[mid], seg, len);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static sk_node_t *kid_find(const sk_node_t *n, const char *seg, size_t len) {
  int found;
  size_t i = kid_search(n, seg, len, &found);
  return found ? n->kids[i] : NULL;
}

/* Returns the static child for seg, creating it if needed; *created tells. */
static sk_node_t *kid_get(sk_node_t *n, const char *seg, size_t len, int *created) {
  int found;
  size_t i = kid_search(n, seg, len, &found);
  *created = 0;
  if (found) return n->kids[i];
  if (n->nkids == n->kids_cap) {
    size_t cap = n->kids_cap == 0 ? 4 : n->kids_cap * 2;
    if (cap > (size_t)-1 / sizeof(*n->kids)) return NULL;
    sk_node_t **kids = SK_ROUTER_REALLOC(n->kids, cap * sizeof(*kids));
    if (kids == NULL) return NULL;
    n->kids = kids;
    n->kids_cap = cap;
  }
  sk_node_t *child = node_new(n, NODE_STATIC, seg, len);
  if (child == NULL) return NULL;
  memmove(&n->kids[i + 1], &n->kids[i], (n->nkids - i) * sizeof(*n->kids));
  n->kids[i] = child;
  n->nkids++;
  *created = 1;
  return child;
}

/* Unlinks `n` from its parent (the inverse of creating it). */
static void node_detach(sk_node_t *n) {
  sk_node_t *parent = n->parent;
  if (n->kind == NODE_PARAM) {
    parent->param = NULL;
    return;
  }
  int found;
  size_t i = kid_search(parent, n->seg, n->seg_len, &found);
  if (!found) return;
  memmove(&parent->kids[i], &parent->kids[i + 1], (parent->nkids - i - 1) * sizeof(*parent->kids));
  parent->nkids--;
}

static int route_list_push(sk_route_list_t *list, const sk_route_t *route) {
  if (list->count == list->cap) {
    size_t cap = list->cap == 0 ? 2 : list->cap * 2;
    if (cap > (size_t)-1 / sizeof(*list->items)) return SK_ROUTER_ERR_NOMEM;
    sk_route_t *items = SK_ROUTER_REALLOC(list->items, cap * sizeof(*items));
    if (items == NULL) return SK_ROUTER_ERR_NOMEM;
    list->items = items;
    list->cap = cap;
  }
  list->items[list->count++] = *route;
  return SK_ROUTER_OK;
}

/* Length of the segment starting at `s` and running at most to `end`. */
static size_t seg_length(const char *s, const char *end) {
  if (s >= end) return 0;
  const char *slash = memchr(s, '/', (size_t)(end - s));
  return (size_t)((slash != NULL ? slash : end) - s);
}

/* Checks a pattern without touching the tree, so a rejected pattern never
 * leaves half-built nodes behind. */
static int pattern_check(const char *pattern, size_t len) {
  if (pattern == NULL || len == 0 || pattern[0] != '/') return SK_ROUTER_ERR_PATTERN;
  const char *p = pattern + 1, *end = pattern + len;
  size_t nparams = 0;
  for (;;) {
    size_t n = seg_length(p, end);
    int last = p + n == end;
    if (n == 1 && p[0] == '*' && !last) return SK_ROUTER_ERR_PATTERN;
    if (n >= 1 && p[0] == ':') {
      if (n == 1 || ++nparams > SK_ROUTER_MAX_PARAMS) return SK_ROUTER_ERR_PATTERN;
    }
    if (last) return SK_ROUTER_OK;
    p += n + 1;
  }
}

static int method_is_any(const char *method, size_t len) {
  return method == NULL || (len == 1 && method[0] == '*');
}

sk_router_t *sk_router_create(void) {
  sk_router_t *r = SK_ROUTER_MALLOC(sizeof(*r));
  if (r == NULL) return NULL;
  r->root = node_new(NULL, NODE_ROOT, NULL, 0);
  if (r->root == NULL) {
    SK_ROUTER_FREE(r);
    return NULL;
  }
  return r;
}

void sk_router_destroy(sk_router_t *router) {
  if (router == NULL) return;
  subtree_free(router->root);
  SK_ROUTER_FREE(router);
}

int sk_router_add(sk_router_t *router, const char *method, size_t method_len, const char *pattern,
                  size_t pattern_len, int handler_id) {
  if (router == NULL) return SK_ROUTER_ERR_PATTERN;
  int rc = pattern_check(pattern, pattern_len);
  if (rc != SK_ROUTER_OK) return rc;

  sk_route_t route = {NULL, 0, handler_id};
  if (!method_is_any(method, method_len)) {
    route.method = SK_ROUTER_MALLOC(method_len + 1);
    if (route.method == NULL) return SK_ROUTER_ERR_NOMEM;
    if (method_len > 0) memcpy(route.method, method, method_len);
    route.method[method_len] = '\0';
    route.method_len = method_len;
  }

  /* Walk down, creating what is missing. On failure everything created by
   * this call hangs below `first_new`, so detaching and freeing it restores
   * the tree exactly. */
  sk_node_t *n = router->root, *first_new = NULL;
  sk_route_list_t *list = NULL;
  const char *p = pattern + 1, *end = pattern + pattern_len;
  for (;;) {
    size_t len = seg_length(p, end);
    int last = p + len == end;
    if (last && len == 1 && p[0] == '*') {
      list = &n->wild;
      break;
    }
    int created = 0;
    sk_node_t *next;
    if (len > 0 && p[0] == ':') {
      next = n->param;
      if (next == NULL) {
        next = n->param = node_new(n, NODE_PARAM, NULL, 0);
        created = 1;
      }
    } else {
      next = kid_get(n, p, len, &created);
    }
    if (next == NULL) goto nomem;
    if (created && first_new == NULL) first_new = next;
    n = next;
    if (last) {
      list = &n->routes;
      break;
    }
    p += len + 1;
  }
  if (route_list_push(list, &route) == SK_ROUTER_OK) return SK_ROUTER_OK;

nomem:
  if (first_new != NULL) {
    node_detach(first_new);
    subtree_free(first_new);
  }
  SK_ROUTER_FREE(route.method);
  return SK_ROUTER_ERR_NOMEM;
}

static int visit_method(const sk_route_list_t *list, const char *method, size_t method_len,
                        sk_route_params_t *params, sk_route_visitor_fn visit, void *ctx) {
  for (size_t i = 0; i < list->count; i++) {
    const sk_route_t *rt = &list->items[i];
    if (rt->method != NULL && rt->method_len == method_len &&
        (method_len == 0 || memcmp(rt->method, method, method_len) == 0) &&
        visit(ctx, rt->handler_id, params))
      return 1;
  }
  return 0;
}

/* Offers the routes of `list` to the visitor: exact method first, then the
 * "any" routes, each group in insertion order. HEAD also tries the GET
 * routes right after its own (RFC 9110 9.3.2: HEAD is GET without the body),
 * so a GET route answers HEAD before any less specific route does. */
static int visit_list(const sk_route_list_t *list, const char *method, size_t method_len,
                      sk_route_params_t *params, size_t nparams, sk_route_visitor_fn visit,
                      void *ctx) {
  params->count = nparams;
  if (method != NULL) {
    if (visit_method(list, method, method_len, params, visit, ctx)) return 1;
    if (method_len == 4 && memcmp(method, "HEAD", 4) == 0 &&
        visit_method(list, "GET", 3, params, visit, ctx))
      return 1;
  }
  for (size_t i = 0; i < list->count; i++) {
    const sk_route_t *rt = &list->items[i];
    if (rt->method == NULL && visit(ctx, rt->handler_id, params)) return 1;
  }
  return 0;
}

/* Steps of the walk at one node, in priority order. */
enum { STEP_ROUTES, STEP_STATIC, STEP_PARAM, STEP_WILD, STEP_UP };

int sk_router_match(const sk_router_t *router, const char *method, size_t method_len,
                    const char *path, size_t path_len, sk_route_visitor_fn visit, void *ctx) {
  if (router == NULL || path == NULL || path_len == 0 || path[0] != '/' || visit == NULL) return 0;

  /* value[i] is written when entering a parameter node at index i. A node's
   * ancestors own the indexes below its nparams, and a sibling branch can only
   * overwrite them by re-entering at that index, so whatever a visitor sees
   * always belongs to the current branch. */
  sk_route_params_t params;
  params.count = 0;

  const sk_node_t *n = router->root;
  size_t cur = 0;
  int step = STEP_ROUTES;
  for (;;) {
    switch (step) {
    case STEP_ROUTES:
      step = STEP_STATIC;
      if (cur == path_len &&
          visit_list(&n->routes, method, method_len, &params, n->nparams, visit, ctx))
        return 1;
      break;
    case STEP_STATIC:
      step = STEP_PARAM;
      if (cur < path_len) {
        const char *seg = path + cur + 1;
        size_t seg_len = seg_length(seg, path + path_len);
        const sk_node_t *child = kid_find(n, seg, seg_len);
        if (child != NULL) {
          n = child;
          cur += 1 + seg_len;
          step = STEP_ROUTES;
        }
      }
      break;
    case STEP_PARAM:
      step = STEP_WILD;
      if (cur < path_len && n->param != NULL) {
        const char *seg = path + cur + 1;
        size_t seg_len = seg_length(seg, path + path_len);
        if (seg_len > 0) { /* a parameter never matches an empty segment */
          n = n->param;
          params.value[n->nparams - 1] = seg;
          params.value_len[n->nparams - 1] = seg_len;
          cur += 1 + seg_len;
          step = STEP_ROUTES;
        }
      }
      break;
    case STEP_WILD:
      step = STEP_UP;
      if (visit_list(&n->wild, method, method_len, &params, n->nparams, visit, ctx)) return 1;
      break;
    default: /* STEP_UP: back to the parent, resuming after the child just left */
      if (n->kind == NODE_ROOT) return 0;
      if (n->kind == NODE_STATIC) {
        cur -= n->seg_len + 1;
        step = STEP_PARAM;
      } else {
        cur -= params.value_len[n->nparams - 1] + 1;
        step = STEP_WILD;
      }
      n = n->parent;
      break;
    }
  }
}
