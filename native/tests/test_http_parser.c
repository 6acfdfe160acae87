/* Tests for native/src/http_parser.c: request heads and chunked bodies.
 *
 * Every parse runs on an exact-size heap copy so that AddressSanitizer catches
 * any read past the end. Every request case is also fed as each of its
 * prefixes (a prefix may only be INCOMPLETE or reach the same verdict), and
 * every chunked case whole, byte by byte and split at every point. */
#include "http_parser.h"

#include "harness.h"

static const sk_http_limits_t LIM = {8192, 8192, 100};

static sk_http_request_t R;
static char *held; /* the buffer R's slices point into */
static size_t HL;

static char *dup_exact(const char *s, size_t n) {
  char *b = malloc(n ? n : 1);
  if (!b) abort();
  if (n) memcpy(b, s, n);
  return b;
}

static int parse_copy(const char *s, size_t n, const sk_http_limits_t *lim, sk_http_request_t *out,
                      size_t *hl, char **keep) {
  char *b = dup_exact(s, n);
  int r = sk_http_parse_request(n ? b : NULL, n, lim, out, hl);
  if (keep) *keep = b;
  else free(b);
  return r;
}

static int slice_is(sk_slice_t s, const char *want) {
  size_t n = strlen(want);
  return s.len == n && (n == 0 || memcmp(s.data, want, n) == 0);
}

/* Feeds s[0..n) one byte more at a time, as a trickling client does, parsing
 * only when sk_http_head_worth_parsing says so; returns the first answer that
 * is not INCOMPLETE (INCOMPLETE if none) and counts the parses. */
static int gated_feed(const char *s, size_t n, const sk_http_limits_t *lim, size_t *parses,
                      size_t *answered_at) {
  static sk_http_request_t tmp;
  size_t seen = 0, hl;
  *parses = 0;
  *answered_at = 0;
  for (size_t k = 1; k <= n; k++) {
    if (!sk_http_head_worth_parsing(s, k, seen, lim)) continue;
    (*parses)++;
    int r = parse_copy(s, k, lim, &tmp, &hl, NULL);
    if (r != SK_PARSE_INCOMPLETE) {
      *answered_at = k;
      return r;
    }
    seen = k;
  }
  return SK_PARSE_INCOMPLETE;
}

/* Parse s[0..n) expecting `expect`; also check every prefix, and for complete
 * heads that trailing bytes (a body or a pipelined request) change nothing. */
static void req_case(const char *what, const char *s, size_t n, const sk_http_limits_t *lim,
                     int expect) {
  static sk_http_request_t tmp;
  size_t k, hl, hl2;
  int r, bad_prefix = 0;
  free(held);
  held = NULL;
  r = parse_copy(s, n, lim, &R, &HL, &held);
  CHECKF(r == expect, "%s: got %d, want %d", what, r, expect);
  if (r != expect) return;
  CHECKF(r < 0 ? R.error != NULL : R.error == NULL, "%s: error reason %s for %d", what,
         R.error ? R.error : "(none)", r);
  if (r == SK_PARSE_COMPLETE) CHECKF(HL <= n && HL > 0, "%s: head_len %zu of %zu", what, HL, n);
  for (k = 0; k < n; k++) {
    int pr = parse_copy(s, k, lim, &tmp, &hl, NULL);
    int ok = pr == SK_PARSE_INCOMPLETE || pr == r;
    if (r == SK_PARSE_COMPLETE) ok = k < HL ? pr == SK_PARSE_INCOMPLETE : (pr == r && hl == HL);
    if (!ok && !bad_prefix) {
      bad_prefix = 1;
      CHECKF(0, "%s: prefix %zu gave %d (whole: %d)", what, k, pr, r);
    }
  }
  if (!bad_prefix) t_passed++;
  /* Fed a byte at a time through the gate: a complete head is found at its
   * end; an error, if found before the input ends, is the same error. */
  size_t parses, at;
  int g = gated_feed(s, n, lim, &parses, &at);
  if (r == SK_PARSE_COMPLETE)
    CHECKF(g == r && at == HL, "%s: gated feed gave %d at %zu (head %zu)", what, g, at, HL);
  else CHECKF(g == r || g == SK_PARSE_INCOMPLETE, "%s: gated feed gave %d, want %d", what, g, r);
  if (r == SK_PARSE_COMPLETE) {
    char *ext = malloc(n + 7);
    if (!ext) abort();
    memcpy(ext, s, n);
    memcpy(ext + n, "GET / H", 7);
    CHECKF(parse_copy(ext, n + 7, lim, &tmp, &hl2, NULL) == r && hl2 == HL,
           "%s: trailing bytes changed the result", what);
    free(ext);
  }
}

#define REQ(lit, expect) req_case(#lit, S(lit), &LIM, expect)
#define OK(lit) REQ(lit, SK_PARSE_COMPLETE)
#define E400(lit) REQ(lit, SK_PARSE_ERR_BAD_REQUEST)
#define E501(lit) REQ(lit, SK_PARSE_ERR_NOT_IMPLEMENTED)
#define E505(lit) REQ(lit, SK_PARSE_ERR_VERSION)
#define INC(lit) REQ(lit, SK_PARSE_INCOMPLETE)

static void test_request_line(void) {
  OK("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.method, "GET") && slice_is(R.target, "/") && slice_is(R.path, "/") &&
             R.query.len == 0 && R.version_minor == 1 && R.flags == 0 &&
             R.body_kind == SK_BODY_NONE && slice_is(R.host, "a") && R.header_count == 1 &&
             HL == 27,
         "basic fields");
  OK("GET / HTTP/1.0\r\n\r\n");
  CHECKF(R.version_minor == 0 && R.host.len == 0 && R.header_count == 0, "1.0 without Host");
  OK("get / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.method, "get"), "lowercase method kept");
  OK("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n");
  OK("M-SEARCH!#$%&'*+.^_`|~09 / HTTP/1.1\r\nHost: a\r\n\r\n");
  OK("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.method, "GET") && HL == 29, "one leading CRLF skipped");
  OK("\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  OK("GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.path, "/a/b") && slice_is(R.query, "x=1&y=2") &&
             slice_is(R.target, "/a/b?x=1&y=2") && !(R.flags & SK_REQ_ABSOLUTE_FORM),
         "origin-form path/query");
  OK("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.path, "/a") && R.query.len == 0, "empty query");
  OK("GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.path, "/a") && slice_is(R.query, "b?c"), "query split at first '?'");
  OK("GET //x/../%41!$&'()*+,;=:@-._~\"<>[]\\^`{|} HTTP/1.1\r\nHost: a\r\n\r\n");
  OK("GET http://example.com/p/q?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF((R.flags & SK_REQ_ABSOLUTE_FORM) && slice_is(R.path, "/p/q") && slice_is(R.query, "x=1") &&
             slice_is(R.target, "http://example.com/p/q?x=1") && slice_is(R.host, "example.com"),
         "absolute-form slices");
  OK("GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF((R.flags & SK_REQ_ABSOLUTE_FORM) && slice_is(R.path, "/") && R.query.len == 0,
         "absolute-form empty path is /");
  OK("GET HTTPS://example.com?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.path, "/") && slice_is(R.query, "q=1"), "absolute-form query without path");
  OK("GET http://example.com:8080/x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.path, "/x"), "absolute-form with port");
  OK("GET coap+tcp.x-y://[::1]:80/ HTTP/1.1\r\nHost: a\r\n\r\n");
  OK("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.path, "*") && slice_is(R.target, "*"), "asterisk-form");
  OK("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  CHECKF(slice_is(R.path, "example.com:443") && R.query.len == 0, "authority-form");
  OK("CONNECT [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(R.flags & SK_REQ_AUTHORITY_FORM, "authority-form flag");
  OK("CONNECT /verb?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECKF(slice_is(R.path, "/verb") && slice_is(R.query, "x=1") &&
             !(R.flags & SK_REQ_AUTHORITY_FORM),
         "CONNECT origin-form is routed by path");
  OK("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n");
  OK("GET http://a.example/x HTTP/1.1\r\nHost: other.example\r\nAccept: */*\r\n\r\n");
  CHECKF(slice_is(R.host, "a.example") && slice_is(R.headers[0].value, "a.example") &&
             slice_is(R.headers[1].value, "*/*"),
         "absolute-form authority replaces Host (RFC 9112 3.2.2)");
  OK("GET http://a.example:8080 HTTP/1.1\r\nHost: b\r\n\r\n");
  CHECKF(slice_is(R.host, "a.example:8080") && slice_is(R.headers[0].value, "a.example:8080"),
         "absolute-form authority with port replaces Host");

  E400("GET  / HTTP/1.1\r\nHost: a\r\n\r\n");
  E400(" GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/1.1 \r\nHost: a\r\n\r\n");
  E400("GET /  HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n");
  E400("G@T / HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("G(T / HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET\r\n");
  E400("GET /\r\n");
  E400("GET / HTTP/1.1\n");
  E400("GET / HTTP/1.1\nHost: a\r\n\r\n");
  E400("GET / HTTP/1.1\rHost: a\r\n\r\n");
  E400("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("\r\n \r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET /a\x01 HTTP/1.1\r\n");
  E400("GET /a\x7f HTTP/1.1\r\n");
  E400("GET /\x80 HTTP/1.1\r\n");
  E400("GET /\xff HTTP/1.1\r\n");
  E400("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET http://a/#f HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET x HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET * HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("options * HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("CONNECT host HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("CONNECT host: HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("CONNECT http://a:1/ HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("connect host:443 HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET host:80 HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET http://user@host/ HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET http://[::1/ HTTP/1.1\r\nHost: a\r\n\r\n");
  E400("GET /\0 HTTP/1.1\r\n");
  E400("G\0T / HTTP/1.1\r\n");
  E400("\0");
  E400("GET / http/1.1\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/1\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/11.1\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/1.1x\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/1.10\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/a.1\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/1,1\r\nHost: a\r\n\r\n");
  E400("GET / HTTPS/1.1\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/2.0 \r\n\r\n");

  E505("GET / HTTP/2.0\r\nHost: a\r\n\r\n");
  E505("GET / HTTP/1.2\r\nHost: a\r\n\r\n");
  E505("GET / HTTP/0.9\r\n\r\n");
  E505("GET / HTTP/3.0\r\n\r\n");
  E505("GET / HTTP/1.9\r\n");

  INC("");
  INC("\r");
  INC("\r\n");
  INC("GET");
  INC("GET /");
  INC("GET / HTTP/1.");
  INC("GET / HTTP/1.1\r");
  INC("GET / HTTP/1.1\r\n");
  INC("GET / HTTP/1.1\r\nHost: a\r\n");
  INC("GET / HTTP/1.1\r\nHost: a\r\n\r");
  INC("GET / HTTP/2.0\r");
}

static void test_fields(void) {
  OK("GET / HTTP/1.1\r\nHost:   a  \t\r\nX-Empty:\r\nX-Blank: \t \r\nX:\ta  b\t\r\n\r\n");
  CHECKF(R.header_count == 4 && slice_is(R.headers[0].name, "Host") &&
             slice_is(R.headers[0].value, "a") && slice_is(R.host, "a") &&
             slice_is(R.headers[1].name, "X-Empty") && R.headers[1].value.len == 0 &&
             R.headers[2].value.len == 0 && slice_is(R.headers[3].value, "a  b"),
         "OWS stripped, inner kept");
  OK("GET / HTTP/1.1\r\nhOsT: a\r\nX-Obs: \x80\xff caf\xc3\xa9\r\n\r\n");
  CHECKF(slice_is(R.headers[0].name, "hOsT") && slice_is(R.host, "a") &&
             slice_is(R.headers[1].value, "\x80\xff caf\xc3\xa9"),
         "case-preserved name, obs-text value");
  OK("GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n");
  OK("GET / HTTP/1.1\r\nHost: a\r\nX: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n\r\n");

  E400("GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nFoo : bar\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nFoo\t: bar\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\n: bar\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n continued\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tcontinued\r\n\r\n");
  E400("GET / HTTP/1.1\r\n Host: a\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\n\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\n\rX");
  E400("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\r\n\r\n");

  /* Host, RFC 9112 §3.2 */
  E400("GET / HTTP/1.1\r\n\r\n");
  E400("GET / HTTP/1.1\r\nX: a\r\n\r\n");
  E400("GET http://a/ HTTP/1.1\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
  E400("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost:\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost:  \r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: []\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: :80\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: %zz\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a%2\r\n\r\n");
  E400("GET / HTTP/1.1\r\nHost: a\x80\r\n\r\n");
  OK("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  CHECKF(slice_is(R.host, "example.com:8080"), "host with port");
  OK("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  OK("GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n");
  OK("GET / HTTP/1.1\r\nHost: a%20b.x_y~z-!$&'()*+,;=\r\n\r\n");
  OK("GET / HTTP/1.1\r\nHost: a:\r\n\r\n");
  OK("GET / HTTP/1.0\r\nHost: h\r\n\r\n");
  CHECKF(slice_is(R.host, "h"), "Host on 1.0 kept");
}

static void test_framing(void) {
  OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  CHECKF(R.body_kind == SK_BODY_LENGTH && R.content_length == 0, "CL 0");
  OK("POST / HTTP/1.1\r\nHost: a\r\ncontent-length:42\r\n\r\nbody");
  CHECKF(R.body_kind == SK_BODY_LENGTH && R.content_length == 42, "CL 42");
  OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n");
  CHECKF(R.content_length == 9223372036854775807ull, "CL max");
  OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n");
  CHECKF(R.content_length == 7, "CL leading zeros");
  OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  CHECKF(R.content_length == 5 && R.body_kind == SK_BODY_LENGTH, "CL repeated identical");
  OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 ,5, 5\r\n\r\n");
  CHECKF(R.content_length == 5, "CL identical list");
  OK("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1a\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1.0\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");

  OK("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello");
  CHECKF(R.body_kind == SK_BODY_CHUNKED && HL == 56, "TE chunked");
  OK("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  ChUnKeD \r\n\r\n");
  CHECKF(R.body_kind == SK_BODY_CHUNKED, "TE case-insensitive");
  E400("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n");
  E400(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n");
  E400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n");
  E501("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  E501("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: deflate,chunked\r\n\r\n");
  E501("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n");
  E501(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\nTransfer-Encoding: chunked\r\n\r\n");
  E501("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked, chunked\r\n\r\n");
}

static void test_flags(void) {
  OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  CHECKF(R.flags == SK_REQ_CONNECTION_CLOSE, "Connection: close");
  OK("GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n");
  CHECKF(R.flags == SK_REQ_CONNECTION_KEEP_ALIVE, "Connection: keep-alive");
  OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo ,UPGRADE\r\nConnection: , close,\r\n"
     "Upgrade: websocket\r\n\r\n");
  CHECKF(R.flags == (SK_REQ_CONNECTION_UPGRADE | SK_REQ_CONNECTION_CLOSE | SK_REQ_HAS_UPGRADE),
         "Connection list across lines + Upgrade");
  OK("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, keep-alivex\r\n\r\n");
  CHECKF(R.flags == 0, "Connection near-misses ignored");
  OK("GET / HTTP/1.1\r\nHost: a\r\nupgrade:\r\n\r\n");
  CHECKF(R.flags == SK_REQ_HAS_UPGRADE, "empty Upgrade still present");
  OK("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
  CHECKF(R.flags == SK_REQ_EXPECT_CONTINUE, "Expect 100-continue");
  OK("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
  CHECKF(R.flags == 0, "Expect ignored on 1.0");
  OK("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n");
  CHECKF(R.flags == 0, "other Expect ignored");
  OK("GET http://h/ HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
  CHECKF(R.flags == (SK_REQ_ABSOLUTE_FORM | SK_REQ_CONNECTION_KEEP_ALIVE), "absolute + keep-alive");
}

static void test_limits(void) {
  sk_http_limits_t l;
  const char *line = "GET /abcd HTTP/1.1"; /* 18 bytes */
  char big[600];
  int i;

  l.max_request_line = 18;
  l.max_header_bytes = 8192;
  l.max_header_count = 100;
  req_case("rl at limit", S("GET /abcd HTTP/1.1\r\nHost: a\r\n\r\n"), &l, SK_PARSE_COMPLETE);
  req_case("rl over limit", S("GET /abcde HTTP/1.1\r\nHost: a\r\n\r\n"), &l,
           SK_PARSE_ERR_URI_TOO_LONG);
  req_case("rl over, no CRLF yet", S("GET /abcdefghijklmnopqrstuvwxyz"), &l,
           SK_PARSE_ERR_URI_TOO_LONG);
  req_case("rl 19 bytes, no CRLF", S("GET /abcd HTTP/1.1x"), &l, SK_PARSE_ERR_URI_TOO_LONG);
  req_case("leading CRLF counts", S("\r\nGET /abcd HTTP/1.1\r\nHost: a\r\n\r\n"), &l,
           SK_PARSE_ERR_URI_TOO_LONG);
  req_case("endless CRLFs", S("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"), &l,
           SK_PARSE_ERR_URI_TOO_LONG);
  req_case("bad char before limit wins", S("GET /a\x01................."), &l,
           SK_PARSE_ERR_BAD_REQUEST);
  CHECKF(strlen(line) == 18, "line length");

  /* header section: "Host: a\r\n" (9) + "\r\n" (2) = 11 bytes */
  l.max_request_line = 8192;
  l.max_header_bytes = 11;
  req_case("hb at limit", S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &l, SK_PARSE_COMPLETE);
  l.max_header_bytes = 10;
  req_case("hb over by final LF", S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &l,
           SK_PARSE_ERR_HEADERS_TOO_LARGE);
  req_case("hb over, no end yet", S("GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaa"), &l,
           SK_PARSE_ERR_HEADERS_TOO_LARGE);
  l.max_header_bytes = 0;
  req_case("hb zero", S("GET / HTTP/1.0\r\n\r\n"), &l, SK_PARSE_ERR_HEADERS_TOO_LARGE);

  l.max_header_bytes = 8192;
  l.max_header_count = 2;
  req_case("count at limit", S("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"), &l, SK_PARSE_COMPLETE);
  req_case("count over", S("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n"), &l,
           SK_PARSE_ERR_HEADERS_TOO_LARGE);
  req_case("count over, early", S("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY"), &l,
           SK_PARSE_ERR_HEADERS_TOO_LARGE);
  l.max_header_count = 0;
  req_case("count zero", S("GET / HTTP/1.0\r\n\r\n"), &l, SK_PARSE_COMPLETE);
  req_case("count zero, one field", S("GET / HTTP/1.0\r\nX: 1\r\n\r\n"), &l,
           SK_PARSE_ERR_HEADERS_TOO_LARGE);

  /* the cap: a limit above it is clamped */
  l.max_header_count = 100000;
  {
    static char many[8 + 16 + 6 * (SK_HTTP_MAX_HEADERS_CAP + 1) + 2];
    size_t n = 0;
    memcpy(many, "GET / HTTP/1.1\r\nHost: a\r\n", 25);
    n = 25;
    for (i = 0; i < SK_HTTP_MAX_HEADERS_CAP - 1; i++) {
      memcpy(many + n, "X: y\r\n", 6);
      n += 6;
    }
    memcpy(many + n, "\r\n", 2);
    req_case("exactly CAP headers", many, n + 2, &l, SK_PARSE_COMPLETE);
    CHECKF(R.header_count == SK_HTTP_MAX_HEADERS_CAP, "CAP headers stored");
    memcpy(many + n, "X: y\r\n\r\n", 8);
    req_case("CAP + 1 headers", many, n + 8, &l, SK_PARSE_ERR_HEADERS_TOO_LARGE);
  }

  /* a long request under the default limits */
  l.max_header_count = 100;
  memcpy(big, "GET /", 5);
  for (i = 5; i < 500; i++) big[i] = (char)('a' + i % 26);
  memcpy(big + 500, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
  req_case("500-byte target", big, 522, &LIM, SK_PARSE_COMPLETE);
  CHECKF(R.path.len == 496, "long path sliced");
}

static void test_pipelined(void) {
  const char two[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t hl, hl2;
  int r = parse_copy(two, sizeof two - 1, &LIM, &R, &hl, NULL);
  CHECKF(r == SK_PARSE_COMPLETE && hl == 28, "first of two pipelined heads");
  r = parse_copy(two + hl, sizeof two - 1 - hl, &LIM, &R, &hl2, NULL);
  CHECKF(r == SK_PARSE_COMPLETE && hl2 == 28, "second of two pipelined heads");
}

/* ---- chunked ---- */

#define ST_NEED SK_CHUNK_NEED_MORE
#define ST_DONE SK_CHUNK_DONE
#define ST_ERR SK_CHUNK_ERROR

/* Feed in[0..len) cut at the ascending offsets cuts[0..ncuts) (each piece an
 * exact-size heap copy). Returns the final status; *out gets the data, *total
 * the bytes consumed (up to DONE, or up to the offending byte on ERROR). */
static int feed(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                const sk_http_limits_t *lim, char *out, size_t *outlen, size_t *total, int *bad) {
  sk_chunked_t d;
  size_t i, from = 0, done = 0;
  int st = ST_NEED;
  sk_chunked_init(&d);
  *outlen = 0;
  *bad = 0;
  for (i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : len, off = 0;
    char *piece = dup_exact(in + from, to - from);
    for (;;) {
      const char *data;
      size_t c, dl;
      st = sk_chunked_decode(&d, lim, piece + off, to - from - off, &c, &data, &dl);
      if (c > to - from - off) *bad = 1;
      done += c;
      off += c;
      if (st == SK_CHUNK_DATA) {
        if (dl == 0 || data < piece || data + dl > piece + (to - from) || data + dl != piece + off)
          *bad = 1;
        else {
          memcpy(out + *outlen, data, dl);
          *outlen += dl;
        }
        continue;
      }
      if (st == ST_NEED && off != to - from) *bad = 1;
      break;
    }
    free(piece);
    from = to;
    if (st == ST_DONE || st == ST_ERR) {
      /* sticky end states */
      const char *data;
      size_t c, dl;
      int again = sk_chunked_decode(&d, lim, "0\r\n\r\n", 5, &c, &data, &dl);
      if (again != st || c != 0 || dl != 0) *bad = 1;
      break;
    }
  }
  *total = done;
  return st;
}

static void chunk_case(const char *what, const char *in, size_t len, const sk_http_limits_t *lim,
                       int status, const char *want, size_t wantlen, size_t consumed) {
  char *out = malloc(len + 1);
  size_t *cuts = malloc((len + 1) * sizeof *cuts);
  size_t outlen, total, k;
  int st, bad, fails = 0;
  if (!out || !cuts) abort();

  st = feed(in, len, NULL, 0, lim, out, &outlen, &total, &bad);
  CHECKF(!bad && st == status && outlen == wantlen && memcmp(out, want, wantlen) == 0 &&
             total == consumed,
         "%s whole: status %d (want %d), out %zu (want %zu), consumed %zu (want %zu)%s", what, st,
         status, outlen, wantlen, total, consumed, bad ? " INVARIANT" : "");

  for (k = 0; k + 1 < len; k++) cuts[k] = k + 1;
  st = feed(in, len, cuts, len ? len - 1 : 0, lim, out, &outlen, &total, &bad);
  CHECKF(!bad && st == status && outlen == wantlen && memcmp(out, want, wantlen) == 0 &&
             total == consumed,
         "%s bytewise: status %d, out %zu, consumed %zu", what, st, outlen, total);

  for (k = 1; k < len; k++) {
    cuts[0] = k;
    st = feed(in, len, cuts, 1, lim, out, &outlen, &total, &bad);
    if (bad || st != status || outlen != wantlen || memcmp(out, want, wantlen) != 0 ||
        total != consumed) {
      if (!fails++) CHECKF(0, "%s split at %zu: status %d, out %zu", what, k, st, outlen);
    }
  }
  if (!fails) t_passed++;
  free(out);
  free(cuts);
}

#define CH(lit, st, outlit, cons) chunk_case(#lit, S(lit), &LIM, st, S(outlit), cons)
#define CH_DONE(lit, outlit) CH(lit, ST_DONE, outlit, sizeof(lit) - 1)
/* Error at byte offset `at`, after `outlit` was handed out. */
#define CH_ERR(lit, outlit, at) CH(lit, ST_ERR, outlit, at)

static void test_chunked(void) {
  sk_http_limits_t l;
  CH_DONE("0\r\n\r\n", "");
  CH_DONE("5\r\nhello\r\n0\r\n\r\n", "hello");
  CH_DONE("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
  CH_DONE("a\r\n0123456789\r\nA\r\nabcdefghij\r\n1\r\nZ\r\n0\r\n\r\n", "0123456789abcdefghijZ");
  CH_DONE("0005\r\nhello\r\n000\r\n\r\n", "hello");
  CH_DONE("5;foo=bar\r\nhello\r\n0\r\n\r\n", "hello");
  CH_DONE("5 ; foo = bar ; baz\r\nhello\r\n0 ;z\r\n\r\n", "hello");
  CH_DONE("5;foo=\"a b\\\"c;\\\\\"\r\nhello\r\n0\r\n\r\n", "hello");
  CH_DONE("5;a;b;c=d\t;e=\"\"\r\nhello\r\n0;last=\"\x80\"\r\n\r\n", "hello");
  CH_DONE("0\r\nX-T: v\r\nY:\r\nZ:  \x80 \t\r\n\r\n", "");
  CH_DONE("3\r\n\r\n\0\r\n0\r\n\r\n", "\r\n\0");
  CH("0\r\n\r\nGET / HTTP/1.1\r\n", ST_DONE, "", 5);
  CH("5\r\nhello\r\n0\r\n\r\n5\r\n", ST_DONE, "hello", 15);
  CH("5\r\nhel", ST_NEED, "hel", 6);
  CH("5\r\nhello\r\n0\r\nX: y\r\n", ST_NEED, "hello", 19);
  CH("7fffffffffffffff\r\nab", ST_NEED, "ab", 20);
  CH("00000000000000000000000001\r\nx", ST_NEED, "x", 29);
  CH("", ST_NEED, "", 0);

  CH_ERR("x\r\n", "", 0);
  CH_ERR(" 5\r\n", "", 0);
  CH_ERR("+5\r\n", "", 0);
  CH_ERR("-5\r\n", "", 0);
  CH_ERR("0x5\r\n", "", 1);
  CH_ERR("\r\n", "", 0);
  CH_ERR("5\nhello", "", 1);
  CH_ERR("5\rhello", "", 2);
  CH_ERR("5 \r\nhello", "", 2);
  CH_ERR("5\t\r\nhello", "", 2);
  CH_ERR("5\r\nhelloX\r\n", "hello", 8);
  CH_ERR("5\r\nhello\n0\r\n\r\n", "hello", 8);
  CH_ERR("5\r\nhello\r0\r\n\r\n", "hello", 9);
  CH_ERR("5\r\nhello\r\n\r\n", "hello", 10);
  CH_ERR("8000000000000000\r\n", "", 15);
  CH_ERR("10000000000000000\r\n", "", 16);
  CH_ERR("ffffffffffffffffff\r\n", "", 15);
  CH_ERR("5;\r\nhello", "", 2);
  CH_ERR("5;=x\r\nhello", "", 2);
  CH_ERR("5;a=\r\nhello", "", 4);
  CH_ERR("5;a=\"open\r\nhello", "", 9);
  CH_ERR("5;a=\x01\r\n", "", 4);
  CH_ERR("5;a b\r\n", "", 4);
  CH_ERR("5;a \r\n", "", 4);
  CH_ERR("5;a=b c\r\n", "", 6);
  CH_ERR("5;a=\"x\"y\r\n", "", 7);
  CH_ERR("5;a=\"x\\\r\n", "", 7);
  CH_ERR("5;a=\"\x7f\"\r\n", "", 5);
  CH_ERR("5;a=b\0\r\n", "", 5);
  CH_ERR("5;a(b)\r\n", "", 3);
  CH_ERR("5,a\r\n", "", 1);
  CH_ERR("0\r\n: v\r\n\r\n", "", 3);
  CH_ERR("0\r\n v\r\n\r\n", "", 3);
  CH_ERR("0\r\nX v\r\n\r\n", "", 4);
  CH_ERR("0\r\nX : v\r\n\r\n", "", 4);
  CH_ERR("0\r\nX\r\n\r\n", "", 4);
  CH_ERR("0\r\nX: \x01\r\n\r\n", "", 6);
  CH_ERR("0\r\nX: \0\r\n\r\n", "", 6);
  CH_ERR("0\r\nX: v\n\r\n", "", 7);
  CH_ERR("0\r\nX: v\r\r\n", "", 8);
  CH_ERR("0\r\n\rX", "", 4);
  CH_ERR("0\r\n\n", "", 3);
  CH_ERR("0\r\n\r\r", "", 4);

  l = LIM;
  l.max_header_bytes = 4; /* size line "5;ab" is 4 bytes: fine; "5;abc" is not */
  chunk_case("size line at limit", S("5;ab\r\nhello\r\n0\r\n\r\n"), &l, ST_DONE, S("hello"), 18);
  chunk_case("size line over limit", S("5;abc\r\nhello\r\n0\r\n\r\n"), &l, ST_ERR, S(""), 4);
  chunk_case("size digits over limit", S("00005\r\nhello\r\n0\r\n\r\n"), &l, ST_ERR, S(""), 4);
  /* trailer section "X: y\r\n\r\n" is 8 bytes */
  l.max_header_bytes = 8;
  chunk_case("trailers at limit", S("0\r\nX: y\r\n\r\n"), &l, ST_DONE, S(""), 11);
  l.max_header_bytes = 7;
  chunk_case("trailers over limit", S("0\r\nX: y\r\n\r\n"), &l, ST_ERR, S(""), 10);
  l.max_header_bytes = 2;
  chunk_case("no trailers, limit 2", S("0\r\n\r\n"), &l, ST_DONE, S(""), 5);
  l.max_header_bytes = 8192;
  l.max_header_count = 2;
  chunk_case("trailer count at limit", S("0\r\nA: 1\r\nB: 2\r\n\r\n"), &l, ST_DONE, S(""), 17);
  chunk_case("trailer count over", S("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), &l, ST_ERR, S(""), 15);
}

/* A head trickled byte by byte is parsed O(log n) times, not n times. */
static void test_incremental(void) {
  static char head[9000];
  size_t n = 0, parses, at, hl;
  n += (size_t)snprintf(head + n, sizeof head - n, "GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 0; n + 128 < 8192; i++)
    n += (size_t)snprintf(head + n, sizeof head - n, "X-Field-%02d: %0100d\r\n", i, i);
  memcpy(head + n, "\r\n", 2);
  n += 2;
  sk_http_limits_t lim = {8192, 16384, 100};
  CHECK(gated_feed(head, n, &lim, &parses, &at) == SK_PARSE_COMPLETE && at == n);
  CHECKF(parses <= 16, "%zu parses for %zu bytes", parses, n);
  CHECK(parse_copy(head, n, &lim, &R, &hl, NULL) == SK_PARSE_COMPLETE && hl == n);

  /* Never worth it with nothing new; always with nothing seen. */
  CHECK(sk_http_head_worth_parsing(head, 100, 100, &lim) == 0);
  CHECK(sk_http_head_worth_parsing(head, 1, 0, &lim) == 1);
  /* The terminator straddling the old end, at every split. */
  const char *t = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t tn = strlen(t);
  for (size_t seen = tn - 3; seen < tn; seen++)
    CHECKF(sk_http_head_worth_parsing(t, tn, seen, &lim) == 1, "split at %zu", seen);
  /* A bare LF is refused as soon as it arrives. */
  const char *bare = "GET / HTTP/1.1\r\nHost: a\nX: y";
  CHECK(gated_feed(bare, strlen(bare), &lim, &parses, &at) == SK_PARSE_ERR_BAD_REQUEST &&
        at == strlen("GET / HTTP/1.1\r\nHost: a\n"));
  /* 414 as soon as the request line passes its limit, CRLF or not. */
  static char line[300];
  memcpy(line, "GET /", 5);
  memset(line + 5, 'a', sizeof line - 5);
  sk_http_limits_t small = {200, 8192, 100};
  CHECK(gated_feed(line, sizeof line, &small, &parses, &at) == SK_PARSE_ERR_URI_TOO_LONG &&
        at == 201);
  /* 431 as soon as the header section passes its limit, line end or not. */
  static char fields[400];
  size_t fn = (size_t)snprintf(fields, sizeof fields, "GET / HTTP/1.1\r\nX-Big: ");
  memset(fields + fn, 'b', sizeof fields - fn);
  sk_http_limits_t few = {200, 100, 100};
  CHECK(gated_feed(fields, sizeof fields, &few, &parses, &at) == SK_PARSE_ERR_HEADERS_TOO_LARGE &&
        at == strlen("GET / HTTP/1.1\r\n") + 101);
  /* A rule broken mid-head is found at the latest when the input doubles. */
  const char *bad = "GET / HTTP/1.1\r\nHo\x01st: a\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  size_t bn = strlen(bad);
  CHECK(gated_feed(bad, bn, &lim, &parses, &at) == SK_PARSE_ERR_BAD_REQUEST &&
        at <= 2 * strlen("GET / HTTP/1.1\r\nHo\x01"));
}

/* Each refusal names its rule; the status is unchanged. */
static void reason_case(const char *raw, int status, const char *reason) {
  size_t hl;
  int r = parse_copy(raw, strlen(raw), &LIM, &R, &hl, NULL);
  CHECKF(r == status && R.error && strcmp(R.error, reason) == 0, "%s: got %d (%s), want %d (%s)",
         raw, r, R.error ? R.error : "none", status, reason);
}

static void test_error_reasons(void) {
  const int B = SK_PARSE_ERR_BAD_REQUEST;
  reason_case("\rX", B, "bare CR before the request line");
  reason_case("G(T / HTTP/1.1\r\n", B, "invalid character in method");
  reason_case(" / HTTP/1.1\r\n", B, "empty method");
  reason_case("GET /#x HTTP/1.1\r\n", B, "invalid character in target");
  reason_case("GET  HTTP/1.1\r\n", B, "empty target");
  reason_case("GET * HTTP/1.1\r\n", B, "asterisk-form target on a method other than OPTIONS");
  reason_case("GET 1http://a/ HTTP/1.1\r\n", B, "invalid request-target");
  reason_case("GET http:/a HTTP/1.1\r\n", B, "invalid request-target");
  reason_case("GET http://[::1/ HTTP/1.1\r\n", B, "invalid authority in absolute-form target");
  reason_case("CONNECT a HTTP/1.1\r\n", B, "invalid authority-form target");
  reason_case("GET / HTTQ/1.1\r\n", B, "malformed HTTP version");
  reason_case("GET / HTTP/1.1x", B, "request line not ended by CRLF");
  reason_case("GET / HTTP/1.1\rx", B, "request line not ended by CRLF");
  reason_case("GET / HTTP/2.0\r\n", SK_PARSE_ERR_VERSION, "unsupported HTTP version");
  reason_case("GET / HTTP/1.1\r\nA B: c\r\n", B, "invalid character in field name");
  reason_case("GET / HTTP/1.1\r\n: c\r\n", B, "empty field name");
  reason_case("GET / HTTP/1.1\r\nA: \x01\r\n", B, "invalid character in field value");
  reason_case("GET / HTTP/1.1\r\nA: b\rx", B, "field line not ended by CRLF");
  reason_case("GET / HTTP/1.1\r\nHost: a\r\n\rx", B, "header section not ended by CRLF");
  reason_case("GET / HTTP/1.1\r\n\r\n", B, "HTTP/1.1 request without Host");
  reason_case("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n", B, "more than one Host");
  reason_case("GET / HTTP/1.1\r\nHost: a b\r\n", B, "invalid Host");
  reason_case("GET / HTTP/1.1\r\nContent-Length: \r\n", B, "empty Content-Length");
  reason_case("GET / HTTP/1.1\r\nContent-Length: 1x\r\n", B, "Content-Length is not a number");
  reason_case("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n", B,
              "Content-Length too large");
  reason_case("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n", B,
              "conflicting Content-Length values");
  reason_case("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n", B,
              "both Transfer-Encoding and Content-Length");
  reason_case("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n", B,
              "both Transfer-Encoding and Content-Length");
  reason_case("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n", B,
              "Transfer-Encoding in HTTP/1.0");
  reason_case("GET / HTTP/1.1\r\nTransfer-Encoding: ,chunked\r\n", B, "empty transfer-coding");
  reason_case("GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n", B,
              "transfer-coding after chunked");
  reason_case("GET / HTTP/1.1\r\nTransfer-Encoding: g(z\r\n", B, "invalid transfer-coding");
  reason_case("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", B,
              "chunked is not the final transfer-coding");
  reason_case("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
              SK_PARSE_ERR_NOT_IMPLEMENTED, "unknown transfer-coding");
  sk_http_limits_t tiny = {16, 10, 1};
  size_t hl;
  CHECK(parse_copy(S("GET /aaaaaaaaaaaaaaa"), &tiny, &R, &hl, NULL) == SK_PARSE_ERR_URI_TOO_LONG &&
        strcmp(R.error, "request line too long") == 0);
  CHECK(parse_copy(S("GET / HTTP/1.1\r\nA: bbbbbbbbbb"), &tiny, &R, &hl, NULL) ==
            SK_PARSE_ERR_HEADERS_TOO_LARGE &&
        strcmp(R.error, "header section too large") == 0);
  CHECK(parse_copy(S("GET / HTTP/1.1\r\nA: b\r\nC: d\r\n"), &tiny, &R, &hl, NULL) ==
            SK_PARSE_ERR_HEADERS_TOO_LARGE &&
        strcmp(R.error, "too many header fields") == 0);
  CHECK(parse_copy(S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &LIM, &R, &hl, NULL) ==
            SK_PARSE_COMPLETE &&
        R.error == NULL);
}

int main(void) {
  test_error_reasons();
  test_incremental();
  test_request_line();
  test_fields();
  test_framing();
  test_flags();
  test_limits();
  test_pipelined();
  test_chunked();
  free(held);
  return t_summary();
}
