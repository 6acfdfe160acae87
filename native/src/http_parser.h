/* Incremental HTTP/1.1 request parser (RFC 9112): a pure function of its input.
 *
 * sk_http_parse_request() parses one request head (request line + header
 * section) from the start of a buffer. It allocates nothing: every slice in
 * the result points into the caller's buffer. When the head is not complete
 * yet it answers SK_PARSE_INCOMPLETE and the caller calls again with more
 * bytes (re-parsing from the start). sk_http_head_worth_parsing() tells a
 * caller fed a few bytes at a time when parsing again can change the answer,
 * so a head trickled byte by byte costs O(n), not O(n^2) (as picohttpparser's
 * last_len).
 *
 * sk_chunked_decode() decodes a chunked message body incrementally, one call
 * per input buffer, handing back zero-copy slices of chunk data. */
#ifndef SK_HTTP_PARSER_H
#define SK_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* Hard cap on the number of header fields the result struct can hold; the
 * configurable limit (sk_http_limits_t.max_header_count) must be <= this. */
#define SK_HTTP_MAX_HEADERS_CAP 256

/* Return values of sk_http_parse_request. A negative value is an error whose
 * absolute value is the HTTP status code to answer with before closing. */
#define SK_PARSE_COMPLETE 1
#define SK_PARSE_INCOMPLETE 0
#define SK_PARSE_ERR_BAD_REQUEST (-400)
#define SK_PARSE_ERR_URI_TOO_LONG (-414)
#define SK_PARSE_ERR_HEADERS_TOO_LARGE (-431)
#define SK_PARSE_ERR_NOT_IMPLEMENTED (-501) /* unknown transfer-coding */
#define SK_PARSE_ERR_VERSION (-505)

typedef struct sk_http_limits {
  size_t max_request_line; /* bytes of the request line, CRLF excluded: 414 past it */
  size_t max_header_bytes; /* bytes of the header section after the request line,
                              final CRLF included: 431 past it */
  size_t max_header_count; /* number of field lines: 431 past it (<= CAP) */
} sk_http_limits_t;

typedef struct sk_slice {
  const char *data;
  size_t len;
} sk_slice_t;

typedef struct sk_http_header {
  sk_slice_t name;  /* as sent (case preserved), token chars only */
  sk_slice_t value; /* leading/trailing OWS stripped */
} sk_http_header_t;

enum sk_http_body_kind {
  SK_BODY_NONE = 0,    /* no Content-Length, no Transfer-Encoding */
  SK_BODY_LENGTH = 1,  /* Content-Length: content_length bytes follow */
  SK_BODY_CHUNKED = 2, /* Transfer-Encoding: chunked */
};

/* Flags derived from the header section so the caller never scans it again. */
#define SK_REQ_CONNECTION_CLOSE 0x01      /* Connection: close token */
#define SK_REQ_CONNECTION_KEEP_ALIVE 0x02 /* Connection: keep-alive token */
#define SK_REQ_CONNECTION_UPGRADE 0x04    /* Connection: upgrade token */
#define SK_REQ_EXPECT_CONTINUE 0x08       /* Expect: 100-continue */
#define SK_REQ_HAS_UPGRADE 0x10           /* an Upgrade header is present */
#define SK_REQ_ABSOLUTE_FORM 0x20         /* request-target was absolute-form */
#define SK_REQ_AUTHORITY_FORM 0x40        /* CONNECT host:port (path is the authority) */

typedef struct sk_http_request {
  sk_slice_t method; /* token, case preserved */
  sk_slice_t target; /* the raw request-target as sent */
  sk_slice_t path;   /* origin-form path ("/a/b"), without the query; for
                        absolute-form the path part ("/" if empty); for
                        asterisk-form "*"; for authority-form the authority */
  sk_slice_t query;  /* bytes after '?', without the '?', len 0 if none */
  int version_minor; /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
  unsigned flags;    /* SK_REQ_* */
  enum sk_http_body_kind body_kind;
  uint64_t content_length; /* valid when body_kind == SK_BODY_LENGTH */
  sk_slice_t host;         /* Host header value (len 0 if absent on HTTP/1.0); for
                              absolute-form the target's authority, which the
                              Host header's entry in headers[] also names */
  const char *error;       /* on an error: the rule that refused the request (a
                               static string), NULL otherwise */
  size_t header_count;
  sk_http_header_t headers[SK_HTTP_MAX_HEADERS_CAP];
} sk_http_request_t;

/* Parse one request head from buf[0..len). On SK_PARSE_COMPLETE, *head_len is
 * the number of bytes the head occupies (request line through the empty line),
 * and the body (if any) starts at buf + *head_len. */
int sk_http_parse_request(const char *buf, size_t len, const sk_http_limits_t *limits,
                          sk_http_request_t *out, size_t *head_len);

/* buf[0..seen) was parsed and found SK_PARSE_INCOMPLETE; buf[0..len) holds
 * more. Returns 1 when sk_http_parse_request should run again: the new bytes
 * may end the head ("\r\n\r\n") or hold a bare LF, the request-line or
 * header-section limit was just passed (414, 431), or the input has doubled since (so a head that breaks
 * a rule is refused at the latest when it is twice as long, and the cost of
 * re-parsing stays linear). Returns 1 when seen is 0. */
int sk_http_head_worth_parsing(const char *buf, size_t len, size_t seen,
                               const sk_http_limits_t *limits);

/* ---- chunked body decoding (RFC 9112 section 7.1) ---- */

#define SK_CHUNK_NEED_MORE 0 /* all input consumed, no data to hand back */
#define SK_CHUNK_DATA 1      /* *data, *data_len: a slice of chunk data */
#define SK_CHUNK_DONE 2      /* last chunk, trailers and final CRLF consumed */
#define SK_CHUNK_ERROR (-400)

typedef struct sk_chunked {
  int state;            /* private */
  uint64_t remaining;   /* private: data bytes left in the current chunk */
  size_t line_bytes;    /* private: bytes seen in the current size/trailer line */
  size_t trailer_bytes; /* private: total trailer bytes, bounded */
  size_t trailer_count; /* private */
} sk_chunked_t;

void sk_chunked_init(sk_chunked_t *decoder);

/* Decode from in[0..len). *consumed is how many input bytes this call used
 * (always set). On SK_CHUNK_DATA the caller handles the slice and calls again
 * with the rest of the input (in + *consumed). On SK_CHUNK_DONE the bytes
 * after *consumed belong to the next request. Trailers are bounded by
 * `limits` exactly like header fields; chunk extensions are parsed and ignored
 * (bounded by limits->max_header_bytes per line). */
int sk_chunked_decode(sk_chunked_t *decoder, const sk_http_limits_t *limits, const char *in,
                      size_t len, size_t *consumed, const char **data, size_t *data_len);

#endif
