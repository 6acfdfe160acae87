/* libFuzzer target for native/src/http_parser.c.
 *
 * Request parser: the input is parsed whole and as each of its first
 * PREFIXES prefixes (plus the prefixes around the head's end). Re-parsing a
 * growing buffer is how the server feeds it, so a prefix may only answer
 * INCOMPLETE or exactly what the whole input answers, and a COMPLETE head
 * must describe the same bytes whatever follows it. The input is also fed a
 * byte more at a time through sk_http_head_worth_parsing, as the server does:
 * the first answer that is not INCOMPLETE must be the whole input's, and a
 * complete head must be found exactly at its end.
 *
 * Chunked decoder: the input (and, when the input starts with a complete
 * head, the bytes after it) is decoded whole, byte by byte and in random
 * pieces of 1..16 bytes; all three must agree on the status, the bytes
 * consumed and the decoded data.
 *
 * Every buffer handed to the code under test ends exactly where its
 * allocation ends, so AddressSanitizer sees any read past the end. Any
 * invariant violation calls abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                 \
  do {                                                                                             \
    if (!(c)) abort();                                                                             \
  } while (0)

#define PREFIXES 300

static const sk_http_limits_t LIMITS[2] = {{8192, 8192, 100}, {40, 64, 4}};

/* Offset of p in [base, base + n], or (size_t)-1 when p is elsewhere. Done
 * on integers: the slice may legitimately be NULL or the static "/". */
static size_t offset_in(const char *p, const char *base, size_t n) {
  uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
  if (a < b || a - b > n) return (size_t)-1;
  return (size_t)(a - b);
}

static void require_inside(sk_slice_t s, const char *base, size_t n) {
  size_t o;
  if (s.len == 0 && s.data == NULL) return;
  o = offset_in(s.data, base, n);
  REQUIRE(o != (size_t)-1 && s.len <= n - o);
}

static void check_complete(const sk_http_request_t *r, const char *b, size_t n, size_t hl,
                           const sk_http_limits_t *lim) {
  size_t i, cap = lim->max_header_count < SK_HTTP_MAX_HEADERS_CAP ? lim->max_header_count
                                                                  : SK_HTTP_MAX_HEADERS_CAP;
  REQUIRE(hl > 0 && hl <= n);
  REQUIRE(r->method.len > 0 && r->target.len > 0);
  require_inside(r->method, b, hl);
  require_inside(r->target, b, hl);
  require_inside(r->query, r->target.data, r->target.len);
  if (r->path.len == 1 && r->path.data[0] == '/' && (r->flags & SK_REQ_ABSOLUTE_FORM) &&
      offset_in(r->path.data, r->target.data, r->target.len) == (size_t)-1) {
    /* the static "/" of an absolute-form target without a path */
  } else {
    require_inside(r->path, r->target.data, r->target.len);
  }
  require_inside(r->host, b, hl);
  REQUIRE(r->version_minor == 0 || r->version_minor == 1);
  REQUIRE(r->version_minor == 0 || r->host.len > 0);
  REQUIRE(r->header_count <= cap);
  for (i = 0; i < r->header_count; i++) {
    REQUIRE(r->headers[i].name.len > 0);
    require_inside(r->headers[i].name, b, hl);
    require_inside(r->headers[i].value, b, hl);
  }
  REQUIRE(r->body_kind == SK_BODY_NONE || r->body_kind == SK_BODY_LENGTH ||
          r->body_kind == SK_BODY_CHUNKED);
  REQUIRE(r->body_kind == SK_BODY_LENGTH || r->content_length == 0);
  REQUIRE(r->content_length <= (uint64_t)INT64_MAX);
  REQUIRE((r->flags & ~0x7fu) == 0);
  /* RFC 9112 3.2.2: an absolute-form target's authority is the host. */
  if (r->flags & SK_REQ_ABSOLUTE_FORM) require_inside(r->host, r->target.data, r->target.len);
  /* authority-form only for CONNECT, and then the path is the target */
  if (r->flags & SK_REQ_AUTHORITY_FORM)
    REQUIRE(r->method.len == 7 && memcmp(r->method.data, "CONNECT", 7) == 0 &&
            r->path.data == r->target.data && r->path.len == r->target.len);
}

static int same_slice(sk_slice_t a, const char *ba, sk_slice_t b, const char *bb) {
  if (a.len != b.len) return 0;
  if (a.data == NULL || b.data == NULL) return a.data == b.data;
  if ((uintptr_t)a.data - (uintptr_t)ba == (uintptr_t)b.data - (uintptr_t)bb) return 1;
  return a.data == b.data; /* the static "/" */
}

static void require_same(const sk_http_request_t *a, const char *ba, const sk_http_request_t *b,
                         const char *bb) {
  size_t i;
  REQUIRE(same_slice(a->method, ba, b->method, bb));
  REQUIRE(same_slice(a->target, ba, b->target, bb));
  REQUIRE(same_slice(a->path, ba, b->path, bb));
  REQUIRE(same_slice(a->query, ba, b->query, bb));
  REQUIRE(same_slice(a->host, ba, b->host, bb));
  REQUIRE(a->version_minor == b->version_minor && a->flags == b->flags);
  REQUIRE(a->body_kind == b->body_kind && a->content_length == b->content_length);
  REQUIRE(a->header_count == b->header_count);
  for (i = 0; i < a->header_count; i++) {
    REQUIRE(same_slice(a->headers[i].name, ba, b->headers[i].name, bb));
    REQUIRE(same_slice(a->headers[i].value, ba, b->headers[i].value, bb));
  }
}

static sk_http_request_t whole_req, part_req;

/* Parse data[0..k) placed at the tail of scratch (n bytes). */
static int parse_tail(const uint8_t *data, size_t k, char *scratch, size_t n,
                      const sk_http_limits_t *lim, sk_http_request_t *out, size_t *hl,
                      const char **base) {
  char *b = scratch + (n - k);
  int r;
  if (k) memcpy(b, data, k);
  *base = b;
  r = sk_http_parse_request(k ? b : NULL, k, lim, out, hl);
  REQUIRE(r == SK_PARSE_COMPLETE || r == SK_PARSE_INCOMPLETE || r == SK_PARSE_ERR_BAD_REQUEST ||
          r == SK_PARSE_ERR_URI_TOO_LONG || r == SK_PARSE_ERR_HEADERS_TOO_LARGE ||
          r == SK_PARSE_ERR_NOT_IMPLEMENTED || r == SK_PARSE_ERR_VERSION);
  if (r == SK_PARSE_COMPLETE) check_complete(out, b, k, *hl, lim);
  return r;
}

static void check_prefix(const uint8_t *data, size_t k, char *scratch, size_t n,
                         const sk_http_limits_t *lim, int whole, size_t whole_hl,
                         const char *whole_base) {
  size_t hl;
  const char *base;
  int r = parse_tail(data, k, scratch, n, lim, &part_req, &hl, &base);
  if (whole == SK_PARSE_COMPLETE && k < whole_hl) {
    REQUIRE(r == SK_PARSE_INCOMPLETE);
  } else {
    REQUIRE(r == SK_PARSE_INCOMPLETE || r == whole);
    if (r == SK_PARSE_COMPLETE) {
      REQUIRE(hl == whole_hl);
      require_same(&whole_req, whole_base, &part_req, base);
    }
  }
}

/* Returns head_len when the input starts with a complete head, else 0. */
static size_t fuzz_request(const uint8_t *data, size_t n, char *scratch,
                           const sk_http_limits_t *lim) {
  size_t hl = 0, hl2, k;
  const char *base, *base2;
  int whole = parse_tail(data, n, scratch, n, lim, &whole_req, &hl, &base);
  int again = parse_tail(data, n, scratch, n, lim, &part_req, &hl2, &base2);
  REQUIRE(again == whole);
  if (whole == SK_PARSE_COMPLETE) {
    REQUIRE(hl2 == hl);
    require_same(&whole_req, base, &part_req, base2);
  }
  /* The prefix parses overwrite scratch: from here on whole_req is only
   * compared through offsets from its base. */
  for (k = 0; k < n && k < PREFIXES; k++)
    check_prefix(data, k, scratch, n, lim, whole, hl, base);
  if (whole == SK_PARSE_COMPLETE) {
    if (hl - 1 >= PREFIXES) check_prefix(data, hl - 1, scratch, n, lim, whole, hl, base);
    if (hl >= PREFIXES && hl < n) check_prefix(data, hl, scratch, n, lim, whole, hl, base);
  }
  size_t seen = 0;
  for (k = 1; k <= n; k++) {
    size_t ghl;
    const char *gbase;
    if (!sk_http_head_worth_parsing((const char *)data, k, seen, lim)) continue;
    int r = parse_tail(data, k, scratch, n, lim, &part_req, &ghl, &gbase);
    if (r == SK_PARSE_INCOMPLETE) {
      seen = k;
      continue;
    }
    REQUIRE(r == whole);
    if (r == SK_PARSE_COMPLETE) REQUIRE(k == hl && ghl == hl);
    break;
  }
  if (whole == SK_PARSE_COMPLETE) REQUIRE(k == hl);
  return whole == SK_PARSE_COMPLETE ? hl : 0;
}

/* ---- chunked ---- */

typedef struct {
  int status;
  size_t consumed, outlen;
} feed_t;

static uint64_t next_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* mode 0: whole input; 1: one byte per call; 2: random pieces of 1..16. */
static feed_t feed(const uint8_t *in, size_t n, const sk_http_limits_t *lim, int mode,
                   uint64_t seed, char *scratch, char *out) {
  sk_chunked_t d;
  feed_t f = {SK_CHUNK_NEED_MORE, 0, 0};
  size_t pos = 0;
  sk_chunked_init(&d);
  while (pos < n) {
    size_t plen = mode == 0 ? n - pos : mode == 1 ? 1 : 1 + (size_t)(next_rand(&seed) % 16);
    size_t off = 0;
    char *piece;
    if (plen > n - pos) plen = n - pos;
    piece = scratch + (n - plen);
    memcpy(piece, in + pos, plen);
    for (;;) {
      const char *dp = (const char *)1;
      size_t c = (size_t)-1, dl = (size_t)-1;
      int st = sk_chunked_decode(&d, lim, piece + off, plen - off, &c, &dp, &dl);
      REQUIRE(c <= plen - off);
      if (st == SK_CHUNK_DATA) {
        REQUIRE(dl > 0 && dl <= c);
        REQUIRE(offset_in(dp, piece + off, c) == c - dl);
        memcpy(out + f.outlen, dp, dl);
        f.outlen += dl;
        off += c;
        REQUIRE(f.outlen <= pos + off);
        continue;
      }
      REQUIRE(dl == 0 && dp == NULL);
      off += c;
      if (st == SK_CHUNK_NEED_MORE) {
        REQUIRE(off == plen);
        break;
      }
      REQUIRE(st == SK_CHUNK_DONE || st == SK_CHUNK_ERROR);
      f.status = st;
      f.consumed = pos + off;
      /* End states are sticky and consume nothing. */
      REQUIRE(sk_chunked_decode(&d, lim, piece, plen, &c, &dp, &dl) == st && c == 0 && dl == 0);
      return f;
    }
    pos += plen;
  }
  f.consumed = n;
  return f;
}

static void fuzz_chunked(const uint8_t *in, size_t n, const sk_http_limits_t *lim, char *scratch,
                         char *out_a, char *out_b) {
  uint64_t seed = 0x9e3779b97f4a7c15ull ^ n;
  size_t i;
  feed_t a, b;
  for (i = 0; i < n && i < 64; i++) seed = (seed ^ in[i]) * 0x100000001b3ull;
  if (!seed) seed = 1;
  a = feed(in, n, lim, 0, seed, scratch, out_a);
  REQUIRE(a.consumed <= n && a.outlen <= a.consumed);
  b = feed(in, n, lim, 1, seed, scratch, out_b);
  REQUIRE(a.status == b.status && a.consumed == b.consumed && a.outlen == b.outlen);
  REQUIRE(memcmp(out_a, out_b, a.outlen) == 0);
  b = feed(in, n, lim, 2, seed, scratch, out_b);
  REQUIRE(a.status == b.status && a.consumed == b.consumed && a.outlen == b.outlen);
  REQUIRE(memcmp(out_a, out_b, a.outlen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *scratch, *out_a, *out_b;
  size_t hl, li;
  if (size > (1u << 16)) return 0;
  scratch = malloc(size ? size : 1);
  out_a = malloc(size ? size : 1);
  out_b = malloc(size ? size : 1);
  REQUIRE(scratch && out_a && out_b);
  for (li = 0; li < 2; li++) {
    hl = fuzz_request(data, size, scratch, &LIMITS[li]);
    fuzz_chunked(data, size, &LIMITS[li], scratch, out_a, out_b);
    if (hl) fuzz_chunked(data + hl, size - hl, &LIMITS[li], scratch, out_a, out_b);
  }
  free(scratch);
  free(out_a);
  free(out_b);
  return 0;
}
