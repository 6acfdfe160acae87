/* libFuzzer target for native/src/ws_protocol.c.
 *
 * Frame parser: the first input byte picks the configuration (RSV1 allowed,
 * one of a few message limits), the rest is a client byte stream. It is
 * parsed whole, byte by byte (short inputs) and in pseudo-random pieces
 * (seeded by the input); the traces of events and payload bytes must be
 * identical. Each run
 * also checks the parser's contract: slices inside the input, NEED_MORE
 * consuming everything, every header rule of RFC 6455 §5 holding for what
 * was accepted, payload = input XOR mask, frame and message sizes within
 * the limits, sticky errors with code 1002 or 1009.
 *
 * UTF-8: the input is validated whole, piecewise and byte by byte, against
 * a plain reference decoder; piecewise feeding must fail in exactly the
 * piece that holds the first bad byte.
 *
 * Close payloads, base64 and the header helpers run on the input too.
 * Buffers end exactly where their allocation ends, so AddressSanitizer sees
 * any read past the end. Any violation calls abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                 \
  do {                                                                                             \
    if (!(c)) abort();                                                                             \
  } while (0)

static const uint64_t LIMITS[8] = {0, 1, 10, 125, 126, 1000, 65536, SK_WS_NO_LIMIT};

typedef struct trace {
  unsigned char *buf;
  size_t len, cap;
  /* contract state */
  uint64_t frame_seen;   /* payload bytes handed out in the current frame */
  uint64_t message_seen; /* payload bytes of the current data message */
  int in_frame;
  int err;
} trace_t;

static void put(trace_t *t, const void *p, size_t n) {
  if (t->len + n > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n) cap *= 2;
    t->buf = realloc(t->buf, cap);
    REQUIRE(t->buf != NULL);
    t->cap = cap;
  }
  if (n) memcpy(t->buf + t->len, p, n);
  t->len += n;
}

/* Payload bytes go into the trace as they are, 0xFF doubled, so that the
 * trace does not depend on how the payload was sliced; events are 0xFF
 * followed by a letter. */
static void put_data(trace_t *t, const char *d, size_t n) {
  size_t i, from = 0;
  for (i = 0; i < n; i++) {
    if ((unsigned char)d[i] != 0xFF) continue;
    put(t, d + from, i + 1 - from);
    put(t, "\xff", 1);
    from = i + 1;
  }
  put(t, d + from, n - from);
}

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Feed piece[0..len), which is the stream's bytes at offset `at` (orig
 * holds the untouched stream, for checking the unmasking). */
static void feed(sk_ws_parser_t *p, trace_t *t, char *piece, size_t len, const char *orig,
                 size_t at) {
  char *in = piece;
  if (t->err) return;
  for (;;) {
    size_t used = (size_t)-1, dlen = (size_t)-1, i;
    char *d = NULL;
    int rc = sk_ws_parse(p, in, len, &used, &d, &dlen);
    unsigned char ev[32];
    REQUIRE(used <= len);
    switch (rc) {
    case SK_WS_FRAME_START:
      REQUIRE(!t->in_frame && used > 0 && d == NULL && dlen == 0);
      REQUIRE(p->opcode <= 2 || (p->opcode >= 8 && p->opcode <= 10));
      if (p->opcode >= 8) {
        REQUIRE(p->fin && !p->rsv1 && p->payload_len <= 125 && p->message_opcode == p->opcode);
      } else {
        REQUIRE(p->message_opcode == 1 || p->message_opcode == 2);
        REQUIRE(!p->rsv1 || (p->allow_rsv1 && p->opcode != 0));
        REQUIRE(p->compressed == (p->opcode != 0 ? p->rsv1 : p->compressed));
        if (p->opcode != 0) t->message_seen = 0;
        REQUIRE(p->payload_len <= p->max_payload - t->message_seen);
        t->message_seen += p->payload_len;
      }
      REQUIRE(p->payload_len < (1ull << 63));
      t->in_frame = 1;
      t->frame_seen = 0;
      ev[0] = (unsigned char)(p->opcode | (p->fin << 4) | (p->rsv1 << 5) | (p->compressed << 6));
      ev[1] = (unsigned char)p->message_opcode;
      memcpy(ev + 2, &p->payload_len, 8);
      put(t, "\xff" "S", 2); /* then a fixed-size record */
      put(t, ev, 10);
      break;
    case SK_WS_DATA:
      REQUIRE(t->in_frame && d == in && dlen == used && dlen > 0);
      REQUIRE(dlen <= p->payload_len - t->frame_seen);
      /* payload = wire bytes XOR mask (§5.3) */
      for (i = 0; i < dlen; i++) {
        size_t off = at + (size_t)(in - piece) + i;
        REQUIRE((unsigned char)d[i] ==
                ((unsigned char)orig[off] ^ p->mask[(t->frame_seen + i) & 3]));
      }
      t->frame_seen += dlen;
      put_data(t, d, dlen);
      break;
    case SK_WS_FRAME_END:
      REQUIRE(t->in_frame && used == 0 && t->frame_seen == p->payload_len);
      t->in_frame = 0;
      put(t, "\xff" "E", 2);
      break;
    case SK_WS_NEED_MORE:
      REQUIRE(used == len && d == NULL && dlen == 0);
      return;
    default:
      REQUIRE(rc == SK_WS_ERR_PROTOCOL || rc == SK_WS_ERR_TOO_BIG);
      REQUIRE(rc == -p->close_code);
      REQUIRE(sk_ws_parse(p, in, len, &used, &d, &dlen) == rc && used == 0);
      ev[0] = 0xFF;
      ev[1] = rc == SK_WS_ERR_PROTOCOL ? 'P' : 'B';
      put(t, ev, 2);
      t->err = 1;
      return;
    }
    if (used > 0) { /* in may be NULL when len is 0 */
      in += used;
      len -= used;
    }
  }
}

/* mode 0: whole, 1: byte by byte, 2: random pieces */
static void run(const char *stream, size_t n, unsigned cfg, int mode, trace_t *t) {
  sk_ws_parser_t p;
  size_t at = 0;
  memset(t, 0, sizeof(*t));
  sk_ws_parser_init(&p, LIMITS[(cfg >> 1) & 7], cfg & 1);
  do { /* at least once, so an empty input is fed too */
    size_t k = mode == 0 ? n : mode == 1 ? 1 : 1 + (size_t)(next() % (next() % 2 ? 8 : 200));
    char *piece;
    if (k > n - at) k = n - at;
    piece = malloc(k ? k : 1);
    REQUIRE(piece != NULL);
    memcpy(piece, stream + at, k);
    feed(&p, t, piece, k, stream, at);
    free(piece);
    at += k;
  } while (at < n);
  feed(&p, t, NULL, 0, stream, n); /* a due FRAME_END needs no input */
}

static void check_frames(const uint8_t *data, size_t size) {
  trace_t whole, other;
  unsigned cfg = size ? data[0] : 0;
  const char *stream = size ? (const char *)data + 1 : "";
  size_t n = size ? size - 1 : 0;
  int mode;
  run(stream, n, cfg, 0, &whole);
  for (mode = 1; mode <= 2; mode++) {
    if (mode == 1 && n > 4096) continue;
    run(stream, n, cfg, mode, &other);
    REQUIRE(other.len == whole.len && (whole.len == 0 || memcmp(other.buf, whole.buf, whole.len) == 0));
    free(other.buf);
  }
  free(whole.buf);
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the longest valid prefix that could still be completed, i.e.
 * the index of the first bad byte, or n when there is none. */
static size_t ref_first_bad(const unsigned char *s, size_t n, int *complete) {
  size_t i = 0;
  *complete = 1;
  while (i < n) {
    unsigned c = s[i], len, k, lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return i;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    for (k = 1; k < len; k++) {
      if (i + k == n) {
        *complete = 0;
        return n;
      }
      if (s[i + k] < (k == 1 ? lo : 0x80) || s[i + k] > (k == 1 ? hi : 0xBF)) return i + k;
    }
    i += len;
  }
  return n;
}

static void check_utf8(const uint8_t *data, size_t size) {
  int complete;
  size_t bad = ref_first_bad(data, size, &complete), at = 0;
  int valid = bad == size && complete;
  char *copy = calloc(size ? size : 1, 1);
  sk_utf8_state_t st;
  REQUIRE(copy != NULL);
  if (size) memcpy(copy, data, size);
  REQUIRE(sk_utf8_valid(copy, size) == valid);
  sk_utf8_init(&st);
  while (at < size) {
    size_t k = 1 + (size_t)(next() % 24), end;
    int ok;
    if (k > size - at) k = size - at;
    end = at + k;
    ok = sk_utf8_feed(&st, copy + at, k);
    /* fails exactly in the piece holding the first bad byte, then stays failed */
    REQUIRE(ok == (bad >= end));
    at = end;
  }
  REQUIRE(sk_utf8_finish(&st) == valid);
  free(copy);
}

/* ---- the rest --------------------------------------------------------- */

static void check_helpers(const uint8_t *data, size_t size) {
  char *copy = calloc(size ? size : 1, 1), out[SK_WS_MAX_CONTROL], enc[256], acc[SK_WS_ACCEPT_LEN];
  unsigned char dec[200];
  size_t dl, n;
  unsigned code;
  const char *reason, *sel;
  size_t rlen, slen;
  int rc;
  REQUIRE(copy != NULL);
  if (size) memcpy(copy, data, size);

  if (size <= SK_WS_MAX_CONTROL) {
    rc = sk_ws_close_parse(copy, size, &code, &reason, &rlen);
    if (size == 0) {
      REQUIRE(rc == 0 && code == SK_WS_CLOSE_NO_STATUS);
    } else if (size == 1) {
      REQUIRE(rc == SK_WS_CLOSE_PROTOCOL);
    } else {
      unsigned c = ((unsigned)data[0] << 8) | data[1];
      int v = sk_ws_close_code_valid(c), u = sk_utf8_valid(copy + 2, size - 2);
      REQUIRE(rc == (!v ? SK_WS_CLOSE_PROTOCOL : !u ? SK_WS_CLOSE_INVALID_DATA : 0));
      if (rc == 0) REQUIRE(code == c && reason == copy + 2 && rlen == size - 2);
    }
  }
  /* a close payload built from any reason: bounded, and valid when the
   * reason was */
  n = sk_ws_close_payload(out, 1000, copy, size);
  REQUIRE(n >= 2 && n <= SK_WS_MAX_CONTROL && memcmp(out + 2, copy, n - 2) == 0);
  REQUIRE(n == size + 2 || n >= SK_WS_MAX_CONTROL - 3);
  if (sk_utf8_valid(copy, size)) REQUIRE(sk_ws_close_parse(out, n, &code, NULL, NULL) == 0);

  /* base64: decode what decodes, and it must encode back to the same size */
  if (sk_ws_base64_decode(dec, sizeof(dec), copy, size, &dl) == 0) {
    REQUIRE(size % 4 == 0 && dl <= sizeof(dec) && (dl + 2) / 3 * 4 == size);
    REQUIRE(sk_ws_base64_encode(enc, dec, dl) == size);
  }
  if (size <= 150) {
    unsigned char back[150];
    n = sk_ws_base64_encode(enc, copy, size);
    REQUIRE(sk_ws_base64_decode(back, size, enc, n, &dl) == 0 && dl == size &&
            (size == 0 || memcmp(back, copy, size) == 0));
  }
  REQUIRE(sk_ws_key_valid(copy, size) == (size == 24 && sk_ws_base64_decode(dec, 16, copy, 24, &dl) == 0 && dl == 16));
  REQUIRE((sk_ws_accept(copy, size, acc) == 0) == sk_ws_key_valid(copy, size));

  /* header lists: slices stay inside the value and are trimmed */
  if (sk_ws_protocol_select(copy, size, &sel, &slen)) {
    REQUIRE(sel >= copy && slen > 0 && slen <= size - (size_t)(sel - copy));
    REQUIRE(sel[0] != ' ' && sel[0] != '\t' && sel[slen - 1] != ' ' && sel[slen - 1] != '\t');
    REQUIRE(memchr(sel, ',', slen) == NULL);
    REQUIRE(sk_ws_header_has_token(copy, size, sel, slen));
  }
  (void)sk_ws_header_has_token(copy, size, "upgrade", 7);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t i;
  /* the pieces depend on the input only, so every failure reproduces */
  rng = 0x9e3779b97f4a7c15ull;
  for (i = 0; i < size && i < 64; i++) rng = (rng ^ data[i]) * 0x100000001b3ull;
  if (rng == 0) rng = 1;
  check_frames(data, size);
  check_utf8(data, size);
  check_helpers(data, size);
  return 0;
}
