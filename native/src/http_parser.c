/* HTTP/1.1 request head parser and chunked body decoder (RFC 9112, RFC 9110).
 *
 * Both are strict on purpose: every leniency a front-end proxy and this server
 * resolve differently is a request-smuggling vector (RFC 9112 §11.2), so
 * anything outside the grammar is rejected rather than guessed at.
 *
 * Every read is guarded by an explicit end pointer; nothing is allocated and
 * nothing outside the arguments is written. */
#include "http_parser.h"

#include "ascii.h"

#include <stdint.h>
#include <string.h>

/* Character classes, one table lookup per byte. */
#define C_TCHAR 0x01 /* token char, RFC 9110 §5.6.2 */
#define C_FVAL 0x02  /* field-vchar / obs-text / SP / HTAB, RFC 9110 §5.5 */
#define C_VIS 0x04   /* visible ASCII, the request-target alphabet */
#define C_HOST 0x08  /* reg-name unreserved / sub-delims, RFC 3986 §3.2.2 */
#define C_HEX 0x10   /* HEXDIG */

static const unsigned char cls[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    2,  15, 6,  7,  15, 7,  15, 15, 14, 14, 15, 15, 14, 15, 15, 6,  /* 0x20 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 6,  14, 6,  14, 6,  6,  /* 0x30 */
    6,  31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  6,  6,  7,  15, /* 0x50 */
    7,  31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xA0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xB0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xC0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xD0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xE0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xF0 */
};

#define IS(c, k) ((cls[(unsigned char)(c)] & (k)) != 0)
#define IS_DIGIT(c) ((unsigned)((unsigned char)(c) - '0') < 10u)
#define IS_OWS(c) ((c) == ' ' || (c) == '\t')
#define IS_ALPHA(c) ((unsigned)(((unsigned char)(c) | 0x20) - 'a') < 26u)

static const char slash[] = "/";

/* Every refusal names the rule it applies (out->error), as llhttp does. */
#define FAIL(status, why) return (out->error = (why), (status))

/* The two tokens of a head (RFC 9110 §5.6.2): a method and a field name.
 * What ends each, and the error a byte past its section's limit gets. */
typedef struct token_rule {
  char delimiter;
  int too_long;
  const char *too_long_why, *bad_why, *empty_why;
} token_rule_t;

static const token_rule_t method_rule = {' ', SK_PARSE_ERR_URI_TOO_LONG, "request line too long",
                                         "invalid character in method", "empty method"};
static const token_rule_t field_name_rule = {':', SK_PARSE_ERR_HEADERS_TOO_LARGE,
                                             "header section too large",
                                             "invalid character in field name", "empty field name"};

/* A non-empty token from *pp up to the rule's delimiter, each byte less than
 * `max` bytes past `base` (where its section starts): SK_PARSE_COMPLETE with
 * *pp at the delimiter, else incomplete or an error. */
static inline int scan_token(const char **pp, const char *end, const char *base, size_t max,
                             const token_rule_t *rule, sk_http_request_t *out) {
  const char *p = *pp;
  /* Where the section's limit falls, if before the end of the input: one
   * bound for the loop instead of two tests a byte. */
  size_t used = (size_t)(p - base);
  const char *stop = end;
  if (used >= max) stop = p;
  else if (max - used < (size_t)(end - p)) stop = p + (max - used);
  /* The delimiters (SP, ':') are not tchars: the loop stops at them too. */
  while (p < stop && IS(*p, C_TCHAR)) p++;
  if (p == end) return SK_PARSE_INCOMPLETE;
  if (p == stop) FAIL(rule->too_long, rule->too_long_why);
  if (*p != rule->delimiter) FAIL(SK_PARSE_ERR_BAD_REQUEST, rule->bad_why);
  if (p == *pp) FAIL(SK_PARSE_ERR_BAD_REQUEST, rule->empty_why);
  *pp = p;
  return SK_PARSE_COMPLETE;
}

static size_t clamp_count(const sk_http_limits_t *limits) {
  return limits->max_header_count < SK_HTTP_MAX_HEADERS_CAP ? limits->max_header_count
                                                            : SK_HTTP_MAX_HEADERS_CAP;
}

/* ASCII case-insensitive equality against a lowercase literal; field names
 * and transfer-codings are case-insensitive (RFC 9110 §5.1, §10.1.4). */
#define eq_ci(s, n, lower) sk_ascii_ieq((s), (n), (lower), sizeof(lower) - 1)

static void trim_ows(const char **s, const char **e) {
  while (*s < *e && IS_OWS(**s)) (*s)++;
  while (*e > *s && IS_OWS((*e)[-1])) (*e)--;
}

/* Splits off the next element of a comma-separated list (RFC 9110 §5.6.1):
 * [*a, *b) with OWS trimmed, and *s moved past its comma. 0 when it was the
 * last element. */
static int list_element(const char **s, const char *end, const char **a, const char **b) {
  const char *e = *s;
  while (e < end && *e != ',') e++;
  *a = *s;
  *b = e;
  trim_ows(a, b);
  *s = e + 1;
  return e != end;
}

static int hexval(unsigned char c) {
  if (IS_DIGIT(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

/* uri-host [":" port] (RFC 9110 §7.2, RFC 3986 §3.2.2). The host must not be
 * empty: an "http" URI with an empty host is invalid (RFC 9110 §4.2.1), and
 * userinfo ('@') is rejected as RFC 9110 §4.2.4 recommends. */
static int valid_host(const char *s, size_t n, int need_port) {
  size_t i = 0, digits = 0;
  if (n == 0) return 0;
  if (s[0] == '[') {
    for (i = 1; i < n && s[i] != ']'; i++)
      if (!IS(s[i], C_HEX) && s[i] != ':' && s[i] != '.') return 0;
    if (i == n || i == 1) return 0;
    i++;
  } else {
    while (i < n && s[i] != ':') {
      if (s[i] == '%') {
        if (n - i < 3 || !IS(s[i + 1], C_HEX) || !IS(s[i + 2], C_HEX)) return 0;
        i += 3;
      } else if (IS(s[i], C_HOST)) {
        i++;
      } else {
        return 0;
      }
    }
    if (i == 0) return 0;
  }
  if (i == n) return !need_port;
  if (s[i] != ':') return 0;
  for (i++; i < n; i++, digits++)
    if (!IS_DIGIT(s[i])) return 0;
  return digits > 0 || !need_port;
}

/* Classify the request-target by form (RFC 9112 §3.2) and slice it. Its bytes
 * are already known to be visible ASCII without '#'. */
static int parse_target(const char *m, size_t mlen, const char *t, size_t tlen,
                        sk_http_request_t *out) {
  const char *end = t + tlen, *p, *q;
  int is_connect = mlen == 7 && memcmp(m, "CONNECT", 7) == 0;

  out->target.data = t;
  out->target.len = tlen;
  out->path = out->target;
  out->query.data = end;
  out->query.len = 0;

  /* §3.2.3: authority-form is only for CONNECT; the port is mandatory there
   * (RFC 9110 §9.3.6). CONNECT with an origin-form path is accepted too, as
   * the reference does, so app.connect("/path") routes can be reached. */
  if (is_connect && t[0] != '/') {
    if (!valid_host(t, tlen, 1)) FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid authority-form target");
    out->flags |= SK_REQ_AUTHORITY_FORM;
    return 0;
  }

  if (t[0] == '/') { /* §3.2.1 origin-form */
    q = memchr(t, '?', tlen);
    if (q) {
      out->path.len = (size_t)(q - t);
      out->query.data = q + 1;
      out->query.len = (size_t)(end - q - 1);
    }
    return 0;
  }

  /* §3.2.4 asterisk-form, OPTIONS only. */
  if (tlen == 1 && t[0] == '*') {
    if (mlen == 7 && memcmp(m, "OPTIONS", 7) == 0) return 0;
    FAIL(SK_PARSE_ERR_BAD_REQUEST, "asterisk-form target on a method other than OPTIONS");
  }

  /* §3.2.2 absolute-form: scheme "://" authority path-abempty ["?" query];
   * scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1). */
  if (!IS_ALPHA(t[0])) FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid request-target");
  for (p = t + 1; p < end && (IS_ALPHA(*p) || IS_DIGIT(*p) || *p == '+' || *p == '-' || *p == '.');
       p++) {
  }
  if (end - p < 3 || memcmp(p, "://", 3) != 0)
    FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid request-target");
  p += 3;
  for (q = p; q < end && *q != '/' && *q != '?'; q++) {
  }
  if (!valid_host(p, (size_t)(q - p), 0))
    FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid authority in absolute-form target");
  out->flags |= SK_REQ_ABSOLUTE_FORM;
  /* §3.2.2: the target's authority replaces whatever Host says. */
  out->host.data = p;
  out->host.len = (size_t)(q - p);
  p = q;
  while (q < end && *q != '?') q++;
  if (q > p) {
    out->path.data = p;
    out->path.len = (size_t)(q - p);
  } else {
    out->path.data = slash;
    out->path.len = 1;
  }
  if (q < end) {
    out->query.data = q + 1;
    out->query.len = (size_t)(end - q - 1);
  }
  return 0;
}

/* What the special header fields told us so far. */
typedef struct {
  int host_count;
  int cl_seen;
  uint64_t cl;
  int te_seen, te_chunked, te_other;
} hdr_state_t;

/* Content-Length = 1*DIGIT (RFC 9110 §8.6), possibly a list of identical
 * values from a merged or repeated field, which §8.6 lets us accept. */
static int on_content_length(hdr_state_t *st, sk_http_request_t *out, const char *v,
                             const char *vend) {
  const char *s = v, *a, *b;
  int more;
  do {
    uint64_t n = 0;
    more = list_element(&s, vend, &a, &b);
    if (a == b) FAIL(SK_PARSE_ERR_BAD_REQUEST, "empty Content-Length");
    for (; a < b; a++) {
      if (!IS_DIGIT(*a)) FAIL(SK_PARSE_ERR_BAD_REQUEST, "Content-Length is not a number");
      if (n > ((uint64_t)INT64_MAX - (uint64_t)(*a - '0')) / 10)
        FAIL(SK_PARSE_ERR_BAD_REQUEST, "Content-Length too large");
      n = n * 10 + (uint64_t)(*a - '0');
    }
    if (st->cl_seen && n != st->cl)
      FAIL(SK_PARSE_ERR_BAD_REQUEST, "conflicting Content-Length values");
    st->cl_seen = 1;
    st->cl = n;
  } while (more);
  return 0;
}

/* Transfer-Encoding (RFC 9112 §6.1): chunked must be the final coding and
 * may appear once; an element after chunked can never be valid, so it is
 * rejected at once. Empty elements are refused too rather than skipped, since
 * they are a known source of proxy disagreement. Whether an unknown coding
 * ahead of chunked is a 501 or the lack of a final chunked a 400 can only be
 * decided at the end of the head. */
static int on_transfer_encoding(hdr_state_t *st, sk_http_request_t *out, const char *v,
                                const char *vend) {
  const char *s = v, *a, *b;
  int more;
  do {
    more = list_element(&s, vend, &a, &b);
    if (a == b) FAIL(SK_PARSE_ERR_BAD_REQUEST, "empty transfer-coding");
    if (st->te_chunked) FAIL(SK_PARSE_ERR_BAD_REQUEST, "transfer-coding after chunked");
    if (eq_ci(a, (size_t)(b - a), "chunked")) {
      st->te_chunked = 1;
    } else {
      for (; a < b; a++)
        if (!IS(*a, C_TCHAR)) FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid transfer-coding");
      st->te_other = 1;
    }
  } while (more);
  return 0;
}

/* Connection options (RFC 9110 §7.6.1): a comma list, case-insensitive. */
static unsigned connection_flags(const char *v, const char *vend) {
  unsigned f = 0;
  const char *s = v, *a, *b;
  int more;
  do {
    more = list_element(&s, vend, &a, &b);
    if (eq_ci(a, (size_t)(b - a), "close")) f |= SK_REQ_CONNECTION_CLOSE;
    else if (eq_ci(a, (size_t)(b - a), "keep-alive")) f |= SK_REQ_CONNECTION_KEEP_ALIVE;
    else if (eq_ci(a, (size_t)(b - a), "upgrade")) f |= SK_REQ_CONNECTION_UPGRADE;
  } while (more);
  return f;
}

static int on_field(hdr_state_t *st, sk_http_request_t *out, const char *n, size_t nlen,
                    const char *v, const char *vend) {
  size_t vlen = (size_t)(vend - v);
  switch (nlen) {
  case 4:
    if (!eq_ci(n, nlen, "host")) return 0;
    /* RFC 9112 §3.2: more than one Host, or an invalid one, is a 400. */
    if (++st->host_count > 1) FAIL(SK_PARSE_ERR_BAD_REQUEST, "more than one Host");
    if (!valid_host(v, vlen, 0)) FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid Host");
    /* RFC 9112 §3.2.2: with an absolute-form target the Host field is
     * ignored for the target's authority; its entry (the last one stored)
     * names the authority too, so every reader of Host agrees. */
    if (out->flags & SK_REQ_ABSOLUTE_FORM) out->headers[out->header_count - 1].value = out->host;
    else out->host = (sk_slice_t){v, vlen};
    return 0;
  case 6:
    /* RFC 9110 §10.1.1: an HTTP/1.0 client cannot handle a 100, ignore it. */
    if (eq_ci(n, nlen, "expect") && out->version_minor == 1 && eq_ci(v, vlen, "100-continue"))
      out->flags |= SK_REQ_EXPECT_CONTINUE;
    return 0;
  case 7:
    if (eq_ci(n, nlen, "upgrade")) out->flags |= SK_REQ_HAS_UPGRADE;
    return 0;
  case 10:
    if (eq_ci(n, nlen, "connection")) out->flags |= connection_flags(v, vend);
    return 0;
  case 14:
    if (!eq_ci(n, nlen, "content-length")) return 0;
    /* RFC 9112 §6.1: both framings at once is a smuggling attempt. */
    if (st->te_seen) FAIL(SK_PARSE_ERR_BAD_REQUEST, "both Transfer-Encoding and Content-Length");
    return on_content_length(st, out, v, vend);
  case 17:
    if (!eq_ci(n, nlen, "transfer-encoding")) return 0;
    /* RFC 9112 §6.1: 1.0 has no chunked framing, so TE there is faulty. */
    if (out->version_minor == 0) FAIL(SK_PARSE_ERR_BAD_REQUEST, "Transfer-Encoding in HTTP/1.0");
    if (st->cl_seen) FAIL(SK_PARSE_ERR_BAD_REQUEST, "both Transfer-Encoding and Content-Length");
    st->te_seen = 1;
    return on_transfer_encoding(st, out, v, vend);
  default: return 0;
  }
}

int sk_http_parse_request(const char *buf, size_t len, const sk_http_limits_t *limits,
                          sk_http_request_t *out, size_t *head_len) {
  static const char pat[] = "HTTP/d.d";
  const char *start = buf, *end, *p, *m, *t, *ver, *hs, *name, *v, *vend;
  size_t max_rl = limits->max_request_line, max_hb = limits->max_header_bytes;
  size_t max_count = clamp_count(limits), mlen, nlen, i;
  hdr_state_t st = {0, 0, 0, 0, 0, 0};
  int r;

  memset(out, 0, offsetof(sk_http_request_t, headers));
  *head_len = 0;
  if (len == 0) return SK_PARSE_INCOMPLETE;
  end = buf + len;
  p = buf;

/* Every request-line byte except its final CRLF counts toward the limit, so
 * the 414 is known as soon as the limit is passed, CRLF or not. */
#define RL_BYTE()                                                                                  \
  do {                                                                                             \
    if (p == end) return SK_PARSE_INCOMPLETE;                                                      \
    if ((size_t)(p - start) >= max_rl) FAIL(SK_PARSE_ERR_URI_TOO_LONG, "request line too long");   \
  } while (0)
/* Same for the header section, final CRLF included. */
#define HB_BYTE()                                                                                  \
  do {                                                                                             \
    if (p == end) return SK_PARSE_INCOMPLETE;                                                      \
    if ((size_t)(p - hs) >= max_hb)                                                                \
      FAIL(SK_PARSE_ERR_HEADERS_TOO_LARGE, "header section too large");                            \
  } while (0)

  /* RFC 9112 §2.2: skip empty lines ahead of the request-line; they count
   * toward its limit so their number stays bounded. */
  for (;;) {
    RL_BYTE();
    if (*p != '\r') break;
    p++;
    RL_BYTE();
    if (*p != '\n') FAIL(SK_PARSE_ERR_BAD_REQUEST, "bare CR before the request line");
    p++;
  }

  /* RFC 9112 §3: method SP request-target SP HTTP-version CRLF, exactly one
   * SP each (the §3 leniency of other whitespace is not taken). */
  m = p;
  r = scan_token(&p, end, start, max_rl, &method_rule, out);
  if (r != SK_PARSE_COMPLETE) return r;
  mlen = (size_t)(p - m);
  out->method.data = m;
  out->method.len = mlen;

  /* A fragment is never sent (RFC 9112 §3.2 has no '#' in any form). */
  t = ++p;
  for (;; p++) {
    RL_BYTE();
    if (*p == ' ') break;
    if (!IS(*p, C_VIS) || *p == '#') FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid character in target");
  }
  if (p == t) FAIL(SK_PARSE_ERR_BAD_REQUEST, "empty target");
  r = parse_target(m, mlen, t, (size_t)(p - t), out);
  if (r) return r;

  /* RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
  ver = ++p;
  for (i = 0; i < 8; i++, p++) {
    RL_BYTE();
    if (pat[i] == 'd' ? !IS_DIGIT(*p) : *p != pat[i])
      FAIL(SK_PARSE_ERR_BAD_REQUEST, "malformed HTTP version");
  }
  /* A bare LF or bare CR never ends a line here (§2.2 leniency not taken).
   * Only the CR may sit at the limit, anything else there is one too many. */
  if (p == end) return SK_PARSE_INCOMPLETE;
  if (*p != '\r') {
    if ((size_t)(p - start) >= max_rl) FAIL(SK_PARSE_ERR_URI_TOO_LONG, "request line too long");
    FAIL(SK_PARSE_ERR_BAD_REQUEST, "request line not ended by CRLF");
  }
  if (++p == end) return SK_PARSE_INCOMPLETE;
  if (*p != '\n') FAIL(SK_PARSE_ERR_BAD_REQUEST, "request line not ended by CRLF");
  p++;
  /* Well-formed but a major/minor we do not speak: RFC 9110 §15.6.6. */
  if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
    FAIL(SK_PARSE_ERR_VERSION, "unsupported HTTP version");
  out->version_minor = ver[7] - '0';

  /* RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. */
  hs = p;
  for (;;) {
    HB_BYTE();
    if (*p == '\r') break;
    if (out->header_count == max_count)
      FAIL(SK_PARSE_ERR_HEADERS_TOO_LARGE, "too many header fields");
    /* A leading SP/HTAB is obs-fold (§5.2) and whitespace before the colon
     * is forbidden (§5.1): both fall out of the token check. */
    name = p;
    r = scan_token(&p, end, hs, max_hb, &field_name_rule, out);
    if (r != SK_PARSE_COMPLETE) return r;
    nlen = (size_t)(p - name);
    for (p++;; p++) {
      HB_BYTE();
      if (!IS_OWS(*p)) break;
    }
    /* RFC 9110 §5.5: CR, LF and NUL in a value are invalid; other controls
     * are not field-vchar either. */
    v = vend = p;
    for (;; p++) {
      HB_BYTE();
      if (*p == '\r') break;
      if (!IS(*p, C_FVAL)) FAIL(SK_PARSE_ERR_BAD_REQUEST, "invalid character in field value");
      if (!IS_OWS(*p)) vend = p + 1;
    }
    p++;
    HB_BYTE();
    if (*p != '\n') FAIL(SK_PARSE_ERR_BAD_REQUEST, "field line not ended by CRLF");
    p++;
    out->headers[out->header_count].name.data = name;
    out->headers[out->header_count].name.len = nlen;
    out->headers[out->header_count].value.data = v;
    out->headers[out->header_count].value.len = (size_t)(vend - v);
    out->header_count++;
    r = on_field(&st, out, name, nlen, v, vend);
    if (r) return r;
  }
  p++;
  HB_BYTE();
  if (*p != '\n') FAIL(SK_PARSE_ERR_BAD_REQUEST, "header section not ended by CRLF");
  p++;
#undef RL_BYTE
#undef HB_BYTE

  /* RFC 9112 §3.2: a 1.1 request without Host is a 400, even absolute-form. */
  if (out->version_minor == 1 && st.host_count == 0)
    FAIL(SK_PARSE_ERR_BAD_REQUEST, "HTTP/1.1 request without Host");
  if (st.te_seen) {
    /* RFC 9112 §6.3: a final coding other than chunked cannot be framed (400);
     * a framable message with a coding we do not decode is a 501
     * (RFC 9112 §6.1). */
    if (!st.te_chunked) FAIL(SK_PARSE_ERR_BAD_REQUEST, "chunked is not the final transfer-coding");
    if (st.te_other) FAIL(SK_PARSE_ERR_NOT_IMPLEMENTED, "unknown transfer-coding");
    out->body_kind = SK_BODY_CHUNKED;
  } else if (st.cl_seen) {
    out->body_kind = SK_BODY_LENGTH;
    out->content_length = st.cl;
  }
  *head_len = (size_t)(p - start);
  return SK_PARSE_COMPLETE;
}

/* ---- chunked decoding, RFC 9112 §7.1 ---- */

enum {
  CS_SIZE_START,      /* first HEXDIG of chunk-size */
  CS_SIZE,            /* further HEXDIG, or what ends the size */
  CS_EXT_SEMI,        /* BWS before ";" */
  CS_EXT_NAME_START,  /* BWS then the first tchar of chunk-ext-name */
  CS_EXT_NAME,        /* in chunk-ext-name */
  CS_EXT_AFTER_NAME,  /* BWS after the name: "=" or ";" must follow */
  CS_EXT_VAL_START,   /* BWS then a token or a quoted-string */
  CS_EXT_VAL_TOKEN,   /* in a token value */
  CS_EXT_VAL_QUOTED,  /* inside a quoted-string */
  CS_EXT_VAL_ESCAPE,  /* after a backslash inside it */
  CS_EXT_AFTER_VALUE, /* closing quote seen */
  CS_SIZE_LF,         /* CR of the size line seen */
  CS_DATA,
  CS_DATA_CR,
  CS_DATA_LF,
  CS_TRAILER_START, /* start of a trailer line, or of the final CRLF */
  CS_TRAILER_NAME,
  CS_TRAILER_VALUE,
  CS_TRAILER_LF,
  CS_FINAL_LF,
  CS_DONE,
  CS_ERROR
};

void sk_chunked_init(sk_chunked_t *d) {
  d->state = CS_SIZE_START;
  d->remaining = 0;
  d->line_bytes = 0;
  d->trailer_bytes = 0;
  d->trailer_count = 0;
}

int sk_chunked_decode(sk_chunked_t *d, const sk_http_limits_t *limits, const char *in, size_t len,
                      size_t *consumed, const char **data, size_t *data_len) {
  const char *p, *end;
  size_t max_hb = limits->max_header_bytes;
  unsigned char c;

  *consumed = 0;
  *data = NULL;
  *data_len = 0;
  if (d->state == CS_DONE) return SK_CHUNK_DONE;
  if (d->state == CS_ERROR) return SK_CHUNK_ERROR;
  if (len == 0) return SK_CHUNK_NEED_MORE;
  p = in;
  end = in + len;

  for (; p < end; p++) {
    if (d->state == CS_DATA) {
      size_t n = (size_t)(end - p);
      if (d->remaining < n) n = (size_t)d->remaining;
      d->remaining -= n;
      if (d->remaining == 0) d->state = CS_DATA_CR;
      *data = p;
      *data_len = n;
      *consumed = (size_t)(p + n - in);
      return SK_CHUNK_DATA;
    }
    c = (unsigned char)*p;
    /* A size line (extensions included, CRLF excluded) is bounded like a
     * field line; the trailer section, final CRLF included, like a header
     * section, so a peer cannot stream an endless line (§7.1.1, §7.1.2). */
    if (d->state <= CS_EXT_AFTER_VALUE && c != '\r' && ++d->line_bytes > max_hb) goto fail;
    if (d->state >= CS_TRAILER_START && ++d->trailer_bytes > max_hb) goto fail;

    switch (d->state) {
    case CS_SIZE_START:
      if (!IS(c, C_HEX)) goto fail;
      d->remaining = (uint64_t)hexval(c);
      d->state = CS_SIZE;
      break;
    case CS_SIZE:
      if (IS(c, C_HEX)) {
        /* Leading zeros are harmless; a value past INT64_MAX is not. */
        if (d->remaining > ((uint64_t)INT64_MAX - (uint64_t)hexval(c)) / 16) goto fail;
        d->remaining = d->remaining * 16 + (uint64_t)hexval(c);
      } else if (IS_OWS(c)) {
        d->state = CS_EXT_SEMI;
      } else if (c == ';') {
        d->state = CS_EXT_NAME_START;
      } else if (c == '\r') {
        d->state = CS_SIZE_LF;
      } else {
        goto fail;
      }
      break;
    /* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ):
     * whitespace is only allowed where BWS is, so it cannot end the line. */
    case CS_EXT_SEMI:
      if (c == ';') d->state = CS_EXT_NAME_START;
      else if (!IS_OWS(c)) goto fail;
      break;
    case CS_EXT_NAME_START:
      if (IS(c, C_TCHAR)) d->state = CS_EXT_NAME;
      else if (!IS_OWS(c)) goto fail;
      break;
    case CS_EXT_NAME:
      if (IS(c, C_TCHAR)) break;
      if (c == '=') d->state = CS_EXT_VAL_START;
      else if (c == ';') d->state = CS_EXT_NAME_START;
      else if (c == '\r') d->state = CS_SIZE_LF;
      else if (IS_OWS(c)) d->state = CS_EXT_AFTER_NAME;
      else goto fail;
      break;
    case CS_EXT_VAL_TOKEN: /* a token value ends the way a closing quote does */
      if (IS(c, C_TCHAR)) break;
      /* fall through */
    case CS_EXT_AFTER_VALUE:
      if (c == ';') d->state = CS_EXT_NAME_START;
      else if (c == '\r') d->state = CS_SIZE_LF;
      else if (IS_OWS(c)) d->state = CS_EXT_SEMI;
      else goto fail;
      break;
    case CS_EXT_AFTER_NAME:
      if (c == '=') d->state = CS_EXT_VAL_START;
      else if (c == ';') d->state = CS_EXT_NAME_START;
      else if (!IS_OWS(c)) goto fail;
      break;
    case CS_EXT_VAL_START:
      if (IS(c, C_TCHAR)) d->state = CS_EXT_VAL_TOKEN;
      else if (c == '"') d->state = CS_EXT_VAL_QUOTED;
      else if (!IS_OWS(c)) goto fail;
      break;
    /* quoted-string (RFC 9110 §5.6.4): qdtext and quoted-pair are both
     * within the field-value alphabet, which excludes CR, LF and NUL. */
    case CS_EXT_VAL_QUOTED:
      if (c == '"') d->state = CS_EXT_AFTER_VALUE;
      else if (c == '\\') d->state = CS_EXT_VAL_ESCAPE;
      else if (!IS(c, C_FVAL)) goto fail;
      break;
    case CS_EXT_VAL_ESCAPE:
      if (!IS(c, C_FVAL)) goto fail;
      d->state = CS_EXT_VAL_QUOTED;
      break;
    case CS_SIZE_LF:
      if (c != '\n') goto fail;
      d->line_bytes = 0;
      d->state = d->remaining ? CS_DATA : CS_TRAILER_START;
      break;
    case CS_DATA_CR:
      if (c != '\r') goto fail;
      d->state = CS_DATA_LF;
      break;
    case CS_DATA_LF:
      if (c != '\n') goto fail;
      d->state = CS_SIZE_START;
      break;
    /* Trailer fields follow the header field rules (§7.1.2, RFC 9112 §5). */
    case CS_TRAILER_START:
      if (c == '\r') {
        d->state = CS_FINAL_LF;
      } else if (IS(c, C_TCHAR)) {
        if (++d->trailer_count > clamp_count(limits)) goto fail;
        d->state = CS_TRAILER_NAME;
      } else {
        goto fail;
      }
      break;
    case CS_TRAILER_NAME:
      if (c == ':') d->state = CS_TRAILER_VALUE;
      else if (!IS(c, C_TCHAR)) goto fail;
      break;
    case CS_TRAILER_VALUE:
      if (c == '\r') d->state = CS_TRAILER_LF;
      else if (!IS(c, C_FVAL)) goto fail;
      break;
    case CS_TRAILER_LF:
      if (c != '\n') goto fail;
      d->state = CS_TRAILER_START;
      break;
    case CS_FINAL_LF:
      if (c != '\n') goto fail;
      d->state = CS_DONE;
      *consumed = (size_t)(p + 1 - in);
      return SK_CHUNK_DONE;
    default: goto fail;
    }
  }
  *consumed = len;
  return SK_CHUNK_NEED_MORE;

fail:
  d->state = CS_ERROR;
  *consumed = (size_t)(p - in);
  return SK_CHUNK_ERROR;
}

int sk_http_head_worth_parsing(const char *buf, size_t len, size_t seen,
                               const sk_http_limits_t *limits) {
  if (seen == 0 || len / 2 >= seen) return 1;
  if (seen <= limits->max_request_line && len > limits->max_request_line) return 1;
  /* The header section's limit counts from the end of the request line
   * (seen already, or the 414 would have come). */
  const char *line_end = memchr(buf, '\n', seen);
  if (line_end) {
    size_t header_limit_end = (size_t)(line_end + 1 - buf) + limits->max_header_bytes;
    if (seen <= header_limit_end && len > header_limit_end) return 1;
  }
  /* From 3 bytes back: a "\r\n\r\n" may straddle the old end. The line
   * before the empty one is never empty, so the byte before the "\r\n\r\n"
   * is not an LF; that tells the end of the head from the empty lines a
   * head may start with (which would otherwise ask for a parse each). */
  for (size_t i = seen >= 3 ? seen - 3 : 0; i < len; i++) {
    if (buf[i] != '\n') continue;
    if (i == 0 || buf[i - 1] != '\r') return 1; /* bare LF: refused at once */
    if (i >= 4 && buf[i - 2] == '\n' && buf[i - 3] == '\r' && buf[i - 4] != '\n') return 1;
  }
  return 0;
}
