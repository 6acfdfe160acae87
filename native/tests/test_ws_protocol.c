/* Tests for native/src/ws_protocol.c: the client frame parser, UTF-8
 * validation, close payloads, server frame headers and handshake helpers.
 *
 * Every frame case runs whole, byte by byte, split at every point (inputs up
 * to 4 KiB) and in random pieces; every run must give the same trace of
 * events. Inputs live in exact-size heap copies so AddressSanitizer sees any
 * read past the end. Prints one line per failed check and ends with
 * "N passed, N failed"; exits nonzero when anything failed. */
#include "ws_protocol.h"

#define T_RNG_SEED 0x9e3779b97f4a7c15ull
#include "harness.h"

/* ---- client frames ---------------------------------------------------- */

#define FIN 0x80u
#define RSV1 0x40u
#define RSV2 0x20u
#define RSV3 0x10u
#define NOMASK 0x100u /* builder flags, not wire bits */
#define LEN16 0x200u
#define LEN64 0x400u

typedef struct t_bytes {
  unsigned char *data;
  size_t len, cap;
} t_bytes_t;

static void t_put(t_bytes_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) abort();
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* Append one client frame: b0 is the first header byte (FIN, RSV, opcode),
 * flags may ask for no mask or a (non-minimal) extended length. */
static void t_frame(t_bytes_t *b, unsigned b0, unsigned flags, const void *payload, size_t len) {
  unsigned char h[14], key[4];
  size_t n = 0, i;
  int masked = !(flags & NOMASK);
  uint32_t k = (uint32_t)t_next();
  h[n++] = (unsigned char)b0;
  if (len < 126 && !(flags & (LEN16 | LEN64))) {
    h[n++] = (unsigned char)((masked ? 0x80u : 0u) | len);
  } else if (len <= 0xFFFF && !(flags & LEN64)) {
    h[n++] = (unsigned char)((masked ? 0x80u : 0u) | 126u);
    h[n++] = (unsigned char)(len >> 8);
    h[n++] = (unsigned char)len;
  } else {
    h[n++] = (unsigned char)((masked ? 0x80u : 0u) | 127u);
    for (i = 0; i < 8; i++) h[n++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
  }
  memcpy(key, &k, 4);
  if (masked) {
    memcpy(h + n, key, 4);
    n += 4;
  }
  t_put(b, h, n);
  for (i = 0; i < len; i++) {
    unsigned char c = ((const unsigned char *)payload)[i];
    if (masked) c ^= key[i & 3];
    t_put(b, &c, 1);
  }
}
#define FRAME(b, b0, flags, lit) t_frame((b), (b0), (flags), S(lit))

/* ---- driving the parser ----------------------------------------------- */

typedef struct t_trace {
  t_bytes_t out;
  int errored;
  int bad; /* an invariant of the parser's contract was broken */
  size_t fed;
  size_t err_at; /* bytes fed up to and including the call that failed */
} t_trace_t;

static char t_opc(unsigned op) {
  static const char names[] = "ctb?????xpq?????";
  return names[op & 15u];
}

static void t_feed(sk_ws_parser_t *p, t_trace_t *t, char *in, size_t len) {
  char num[64];
  if (t->errored) return;
  t->fed += len;
  for (;;) {
    size_t used = (size_t)-1, dlen = 0;
    char *data = NULL;
    int rc = sk_ws_parse(p, in, len, &used, &data, &dlen);
    if (used > len) t->bad = 1;
    switch (rc) {
    case SK_WS_FRAME_START:
      if (used == 0) t->bad = 1;
      snprintf(num, sizeof(num), "[%c%c%s%s%s%llu]", t_opc(p->opcode), t_opc(p->message_opcode),
               p->fin ? "F" : "", p->rsv1 ? "R" : "", p->compressed ? "Z" : "",
               (unsigned long long)p->payload_len);
      t_put(&t->out, num, strlen(num));
      break;
    case SK_WS_DATA:
      if (data != in || dlen != used || dlen == 0) t->bad = 1;
      t_put(&t->out, data, dlen);
      break;
    case SK_WS_FRAME_END:
      if (used != 0) t->bad = 1;
      t_put(&t->out, ".", 1);
      break;
    case SK_WS_NEED_MORE:
      if (used != len) t->bad = 1;
      return;
    default:
      if (rc != -p->close_code || (rc != SK_WS_ERR_PROTOCOL && rc != SK_WS_ERR_TOO_BIG)) t->bad = 1;
      snprintf(num, sizeof(num), "#%d", -rc);
      t_put(&t->out, num, strlen(num));
      t->errored = 1;
      t->err_at = t->fed;
      /* errors are sticky */
      if (sk_ws_parse(p, in, len, &used, &data, &dlen) != rc || used != 0) t->bad = 1;
      return;
    }
    in += used;
    len -= used;
  }
}

/* Feed `in` cut at the given points (sorted, each in [0, len]). */
static void t_run(const unsigned char *in, size_t len, uint64_t max, int rsv1, const size_t *cuts,
                  size_t ncuts, t_trace_t *t) {
  sk_ws_parser_t p;
  char *copy = malloc(len ? len : 1);
  size_t prev = 0, i;
  if (!copy) abort();
  memcpy(copy, in, len);
  memset(t, 0, sizeof(*t));
  sk_ws_parser_init(&p, max, rsv1);
  for (i = 0; i <= ncuts; i++) {
    size_t at = i < ncuts ? cuts[i] : len;
    /* each piece in its own exact-size buffer */
    char *piece = malloc(at - prev ? at - prev : 1);
    if (!piece) abort();
    memcpy(piece, copy + prev, at - prev);
    t_feed(&p, t, piece, at - prev);
    free(piece);
    prev = at;
  }
  t_feed(&p, t, copy + len, 0);
  free(copy);
}

static int t_same(const t_trace_t *a, const t_trace_t *b) {
  return a->out.len == b->out.len &&
         (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0);
}

/* Runs every split mode; all must agree with the whole-buffer trace, which
 * must equal `want` (when not NULL). Returns the byte-at-a-time err_at. */
static size_t t_expect_n(const t_bytes_t *in, uint64_t max, int rsv1, const char *want,
                         size_t want_len, int line) {
  t_trace_t whole, t;
  size_t *cuts = malloc((in->len + 1) * sizeof(size_t)), i, k, err_at;
  int all_same = 1, all_good = 1;
  if (!cuts) abort();
  t_run(in->data, in->len, max, rsv1, NULL, 0, &whole);
  t_check(!whole.bad, line, "parser contract (whole)");
  if (want) {
    int ok =
        whole.out.len == want_len && (want_len == 0 || memcmp(whole.out.data, want, want_len) == 0);
    t_check(ok, line, "trace");
    if (!ok)
      printf("  got  \"%.*s\"\n  want \"%.*s\"\n", (int)(whole.out.len > 400 ? 400 : whole.out.len),
             (const char *)whole.out.data, (int)want_len, want);
  }
  /* byte at a time */
  for (i = 0; i < in->len; i++) cuts[i] = i + 1;
  t_run(in->data, in->len, max, rsv1, cuts, in->len, &t);
  t_check(!t.bad && t_same(&t, &whole), line, "byte at a time");
  err_at = t.err_at;
  free(t.out.data);
  /* every single split point */
  if (in->len <= 4096) {
    for (i = 0; i <= in->len; i++) {
      t_run(in->data, in->len, max, rsv1, &i, 1, &t);
      all_same &= t_same(&t, &whole);
      all_good &= !t.bad;
      free(t.out.data);
    }
  }
  /* random pieces */
  for (k = 0; k < 20; k++) {
    size_t n = 0, at = 0;
    while (at < in->len) {
      at += 1 + (size_t)(t_next() % (k < 10 ? 7 : 300));
      if (at > in->len) at = in->len;
      cuts[n++] = at;
    }
    t_run(in->data, in->len, max, rsv1, cuts, n, &t);
    all_same &= t_same(&t, &whole);
    all_good &= !t.bad;
    free(t.out.data);
  }
  t_check(all_same && all_good, line, "every split point and random pieces");
  free(whole.out.data);
  free(cuts);
  return err_at;
}
#define EXPECT(in, max, rsv1, want) t_expect_n((in), (max), (rsv1), S(want), __LINE__)

static void t_reset(t_bytes_t *b) {
  b->len = 0;
}

/* ---- frame tests ------------------------------------------------------ */

static void test_framing(void) {
  t_bytes_t b = {0};
  unsigned char *big;
  size_t i, lens[] = {0, 1, 124, 125, 126, 127, 65535, 65536, 100000};

  FRAME(&b, FIN | 1, 0, "Hello");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[ttF5]Hello.");
  t_reset(&b);
  FRAME(&b, FIN | 2, 0, "\x00\xff\x01");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[bbF3]\x00\xff\x01.");
  t_reset(&b);
  FRAME(&b, FIN | 1, 0, "");
  FRAME(&b, FIN | 2, 0, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[ttF0].[bbF0].");
  /* several frames in one read */
  t_reset(&b);
  FRAME(&b, FIN | 1, 0, "a");
  FRAME(&b, FIN | 0x9, 0, "p");
  FRAME(&b, FIN | 0xA, 0, "");
  FRAME(&b, FIN | 0x8, 0, "\x03\xe8");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[ttF1]a.[ppF1]p.[qqF0].[xxF2]\x03\xe8.");
  /* an incomplete frame just waits */
  t_reset(&b);
  FRAME(&b, FIN | 1, 0, "Hello");
  b.len -= 2;
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[ttF5]Hel");
  b.len = 5;
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "");
  /* every length encoding boundary, with a payload checked byte for byte */
  big = malloc(100000);
  if (!big) abort();
  for (i = 0; i < 100000; i++) big[i] = (unsigned char)(t_next() >> 11);
  for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    char want[64];
    t_bytes_t w = {0};
    int n = snprintf(want, sizeof(want), "[bbF%zu]", lens[i]);
    t_put(&w, want, (size_t)n);
    t_put(&w, big, lens[i]);
    t_put(&w, ".", 1);
    t_reset(&b);
    t_frame(&b, FIN | 2, 0, big, lens[i]);
    CHECK(b.len == lens[i] + 6 + (lens[i] >= 126 ? 2 : 0) + (lens[i] >= 65536 ? 6 : 0));
    t_expect_n(&b, SK_WS_NO_LIMIT, 0, (const char *)w.data, w.len, __LINE__);
    free(w.data);
  }
  free(big);
  /* FRAME_END is returned without input */
  {
    sk_ws_parser_t p;
    size_t used;
    char *d, *buf;
    size_t dl;
    t_reset(&b);
    FRAME(&b, FIN | 1, 0, "");
    buf = malloc(b.len);
    if (!buf) abort();
    memcpy(buf, b.data, b.len);
    sk_ws_parser_init(&p, SK_WS_NO_LIMIT, 0);
    CHECK(sk_ws_parse(&p, buf, b.len, &used, &d, &dl) == SK_WS_FRAME_START && used == b.len);
    CHECK(sk_ws_parse(&p, NULL, 0, &used, &d, &dl) == SK_WS_FRAME_END && used == 0);
    CHECK(sk_ws_parse(&p, NULL, 0, &used, &d, &dl) == SK_WS_NEED_MORE && used == 0);
    free(buf);
  }
  free(b.data);
}

static void test_masking(void) {
  /* the RFC 6455 §5.7 example: a masked "Hello" */
  static const unsigned char rfc[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                      0x7f, 0x9f, 0x4d, 0x51, 0x58};
  t_bytes_t b = {0};
  t_put(&b, rfc, sizeof(rfc));
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[ttF5]Hello.");
  /* unmasked client frames (§5.1), also control frames, also empty ones */
  t_reset(&b);
  FRAME(&b, FIN | 1, NOMASK, "Hello");
  CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 2);
  t_reset(&b);
  FRAME(&b, FIN | 9, NOMASK, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  t_reset(&b);
  FRAME(&b, FIN | 1, 0, "ok");
  FRAME(&b, FIN | 8, NOMASK, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[ttF2]ok.#1002");
  free(b.data);
}

static void test_reserved_bits(void) {
  t_bytes_t b = {0};
  unsigned bits[] = {RSV2, RSV3, RSV1 | RSV2, RSV2 | RSV3, RSV1 | RSV2 | RSV3};
  size_t i;
  for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
    int rsv1;
    for (rsv1 = 0; rsv1 < 2; rsv1++) {
      t_reset(&b);
      FRAME(&b, FIN | bits[i] | 1, 0, "Hello");
      /* fails on the very first byte */
      CHECK(EXPECT(&b, SK_WS_NO_LIMIT, rsv1, "#1002") == 1);
      t_reset(&b);
      FRAME(&b, FIN | bits[i] | 9, 0, "");
      EXPECT(&b, SK_WS_NO_LIMIT, rsv1, "#1002");
    }
  }
  /* RSV1 without permessage-deflate */
  t_reset(&b);
  FRAME(&b, FIN | RSV1 | 1, 0, "x");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  /* with it: on a message's first frame only */
  EXPECT(&b, SK_WS_NO_LIMIT, 1, "[ttFRZ1]x.");
  t_reset(&b);
  FRAME(&b, RSV1 | 2, 0, "ab");
  FRAME(&b, 0, 0, "c");
  FRAME(&b, FIN, 0, "d");
  EXPECT(&b, SK_WS_NO_LIMIT, 1, "[bbRZ2]ab.[cbZ1]c.[cbFZ1]d.");
  t_reset(&b);
  FRAME(&b, RSV1 | 1, 0, "ab");
  FRAME(&b, FIN | RSV1, 0, "c");
  EXPECT(&b, SK_WS_NO_LIMIT, 1, "[ttRZ2]ab.#1002");
  /* never on control frames */
  t_reset(&b);
  FRAME(&b, FIN | RSV1 | 9, 0, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 1, "#1002");
  t_reset(&b);
  FRAME(&b, FIN | RSV1 | 8, 0, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 1, "#1002");
  /* the flag is per message: a plain message after a compressed one */
  t_reset(&b);
  FRAME(&b, FIN | RSV1 | 1, 0, "z");
  FRAME(&b, FIN | 1, 0, "p");
  EXPECT(&b, SK_WS_NO_LIMIT, 1, "[ttFRZ1]z.[ttF1]p.");
  free(b.data);
}

static void test_opcodes(void) {
  t_bytes_t b = {0};
  unsigned op;
  for (op = 3; op < 16; op++) {
    if (op >= 8 && op <= 10) continue;
    t_reset(&b);
    FRAME(&b, FIN | op, 0, "");
    CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 1);
    t_reset(&b);
    FRAME(&b, op, 0, "abc");
    EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
    /* after a valid frame, and inside a fragmented message */
    t_reset(&b);
    FRAME(&b, FIN | 1, 0, "a");
    FRAME(&b, FIN | op, 0, "");
    EXPECT(&b, SK_WS_NO_LIMIT, 0, "[ttF1]a.#1002");
    t_reset(&b);
    FRAME(&b, 1, 0, "a");
    FRAME(&b, FIN | op, 0, "");
    EXPECT(&b, SK_WS_NO_LIMIT, 0, "[tt1]a.#1002");
  }
  free(b.data);
}

static void test_control_frames(void) {
  t_bytes_t b = {0};
  char p125[126];
  memset(p125, 'x', sizeof(p125));
  t_reset(&b);
  t_frame(&b, FIN | 9, 0, p125, 125);
  t_expect_n(&b, SK_WS_NO_LIMIT, 0, NULL, 0, __LINE__);
  t_reset(&b);
  t_frame(&b, FIN | 9, 0, p125, 126);
  CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 2); /* fails at the length byte */
  t_reset(&b);
  t_frame(&b, FIN | 8, 0, p125, 126);
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  /* a short ping in a non-minimal extended length is still too long a field */
  t_reset(&b);
  FRAME(&b, FIN | 9, LEN16, "hi");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  /* fragmented control frames (§5.5) */
  t_reset(&b);
  FRAME(&b, 9, 0, "a");
  CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 1);
  t_reset(&b);
  FRAME(&b, 8, 0, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  t_reset(&b);
  FRAME(&b, 0xA, 0, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  /* control frames do not count against the data limit */
  t_reset(&b);
  t_frame(&b, FIN | 9, 0, p125, 125);
  FRAME(&b, FIN | 1, 0, "abcd");
  t_expect_n(&b, 4, 0, NULL, 0, __LINE__);
  free(b.data);
}

static void test_fragmentation(void) {
  t_bytes_t b = {0};
  /* three fragments with control frames in between (§5.4) */
  FRAME(&b, 1, 0, "frag");
  FRAME(&b, FIN | 9, 0, "ping");
  FRAME(&b, 0, 0, "men");
  FRAME(&b, FIN | 0xA, 0, "");
  FRAME(&b, FIN, 0, "ted");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[tt4]frag.[ppF4]ping.[ct3]men.[qqF0].[ctF3]ted.");
  /* empty fragments */
  t_reset(&b);
  FRAME(&b, 2, 0, "");
  FRAME(&b, 0, 0, "");
  FRAME(&b, FIN, 0, "");
  FRAME(&b, FIN | 1, 0, "n");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[bb0].[cb0].[cbF0].[ttF1]n.");
  /* continuation without a message */
  t_reset(&b);
  FRAME(&b, FIN, 0, "x");
  CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 1);
  t_reset(&b);
  FRAME(&b, 0, 0, "x");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  /* ... also right after a finished one */
  t_reset(&b);
  FRAME(&b, 1, 0, "a");
  FRAME(&b, FIN, 0, "b");
  FRAME(&b, FIN, 0, "c");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[tt1]a.[ctF1]b.#1002");
  /* a new data frame inside a message */
  t_reset(&b);
  FRAME(&b, 1, 0, "a");
  FRAME(&b, FIN | 1, 0, "b");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[tt1]a.#1002");
  t_reset(&b);
  FRAME(&b, 2, 0, "a");
  FRAME(&b, FIN | 9, 0, "");
  FRAME(&b, 2, 0, "b");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[bb1]a.[ppF0].#1002");
  /* a close inside a fragmented message is fine for the parser */
  t_reset(&b);
  FRAME(&b, 1, 0, "a");
  FRAME(&b, FIN | 8, 0, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[tt1]a.[xxF0].");
  free(b.data);
}

static void test_lengths(void) {
  t_bytes_t b = {0};
  static const unsigned char msb[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0};
  static const unsigned char max63[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF,
                                        0xFF, 0xFF, 0xFF, 1,    2,    3,    4};
  char small[300];
  memset(small, 'q', sizeof(small));
  /* §5.2: minimal length encodings only */
  FRAME(&b, FIN | 1, LEN16, "short");
  CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 4);
  t_reset(&b);
  t_frame(&b, FIN | 1, LEN16, small, 125);
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  t_reset(&b);
  t_frame(&b, FIN | 1, LEN16, small, 126);
  t_expect_n(&b, SK_WS_NO_LIMIT, 0, NULL, 0, __LINE__);
  t_reset(&b);
  t_frame(&b, FIN | 1, LEN64, small, 300);
  CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 10);
  t_reset(&b);
  FRAME(&b, FIN | 1, LEN64, "");
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002");
  /* the 64-bit length's top bit: fails at its first byte */
  t_reset(&b);
  t_put(&b, msb, sizeof(msb));
  CHECK(EXPECT(&b, SK_WS_NO_LIMIT, 0, "#1002") == 3);
  /* 2^63 - 1 is a legal length: only the limit stops it, at the header */
  t_reset(&b);
  t_put(&b, max63, sizeof(max63));
  EXPECT(&b, SK_WS_NO_LIMIT, 0, "[bbF9223372036854775807]");
  CHECK(EXPECT(&b, 1u << 20, 0, "#1009") == 10);
  free(b.data);
}

static void test_max_payload(void) {
  t_bytes_t b = {0};
  char big[2000];
  memset(big, 'm', sizeof(big));
  /* exactly the limit, then one more */
  FRAME(&b, FIN | 1, 0, "abcd");
  EXPECT(&b, 4, 0, "[ttF4]abcd.");
  EXPECT(&b, 3, 0, "#1009");
  /* refused at the header, before the payload arrives */
  t_reset(&b);
  t_frame(&b, FIN | 2, 0, big, 2000);
  CHECK(EXPECT(&b, 1000, 0, "#1009") == 4);
  t_reset(&b);
  t_frame(&b, FIN | 2, 0, big, 1000);
  b.len = 8; /* the header alone */
  EXPECT(&b, 999, 0, "#1009");
  EXPECT(&b, 1000, 0, "[bbF1000]");
  /* the limit is on the message: fragments add up */
  t_reset(&b);
  FRAME(&b, 1, 0, "abc");
  FRAME(&b, 0, 0, "def");
  FRAME(&b, FIN, 0, "gh");
  EXPECT(&b, 8, 0, "[tt3]abc.[ct3]def.[ctF2]gh.");
  CHECK(EXPECT(&b, 7, 0, "[tt3]abc.[ct3]def.#1009") == 2 * 9 + 2);
  /* and start over with each message */
  t_reset(&b);
  FRAME(&b, FIN | 1, 0, "abcd");
  FRAME(&b, 2, 0, "ab");
  FRAME(&b, FIN, 0, "cd");
  FRAME(&b, FIN | 1, 0, "abcd");
  EXPECT(&b, 4, 0, "[ttF4]abcd.[bb2]ab.[cbF2]cd.[ttF4]abcd.");
  /* a zero limit still allows empty messages */
  t_reset(&b);
  FRAME(&b, FIN | 1, 0, "");
  FRAME(&b, FIN | 9, 0, "p");
  FRAME(&b, FIN | 1, 0, "x");
  EXPECT(&b, 0, 0, "[ttF0].[ppF1]p.#1009");
  free(b.data);
}

/* A random stream of valid frames: the parser must reproduce every payload
 * whatever the splits, and agree with a plain reading of the bytes. */
static void test_random_streams(void) {
  int round;
  for (round = 0; round < 40; round++) {
    t_bytes_t b = {0}, want = {0};
    int in_msg = 0, nframes = 2 + (int)(t_next() % 12), f;
    for (f = 0; f < nframes; f++) {
      unsigned char pl[700];
      size_t len = (size_t)(t_next() % (t_next() % 4 == 0 ? 700 : 40)), i;
      unsigned op, b0;
      char hdr[64];
      for (i = 0; i < len; i++) pl[i] = (unsigned char)t_next();
      if (t_next() % 4 == 0) {
        op = 9 + (unsigned)(t_next() % 2);
        if (len > 125) len = 125;
        b0 = FIN | op;
      } else {
        op = in_msg ? 0 : 1 + (unsigned)(t_next() % 2);
        b0 = op | (t_next() % 3 == 0 ? FIN : 0);
        if (f == nframes - 1) b0 |= FIN;
        if (op != 0) in_msg = (int)op;
      }
      t_frame(&b, b0, 0, pl, len);
      snprintf(hdr, sizeof(hdr), "[%c%c%s%zu]", t_opc(op), t_opc(op >= 8 ? op : (unsigned)in_msg),
               (b0 & FIN) ? "F" : "", len);
      t_put(&want, hdr, strlen(hdr));
      t_put(&want, pl, len);
      t_put(&want, ".", 1);
      if (op < 8 && (b0 & FIN)) in_msg = 0;
    }
    t_expect_n(&b, SK_WS_NO_LIMIT, 0, (const char *)want.data, want.len, __LINE__);
    free(b.data);
    free(want.data);
  }
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Byte-at-a-time feeding: the index of the byte that failed, (size_t)-1 when
 * every byte was accepted; *complete: sk_utf8_finish at the end. */
static size_t t_utf8_fail_at(const char *s, size_t n, int *complete) {
  sk_utf8_state_t st;
  size_t i;
  sk_utf8_init(&st);
  for (i = 0; i < n; i++) {
    if (!sk_utf8_feed(&st, s + i, 1)) {
      *complete = 0;
      return i;
    }
  }
  *complete = sk_utf8_finish(&st);
  return (size_t)-1;
}

static void t_utf8(const char *s, size_t n, size_t want_fail_at, int want_valid, int line) {
  int complete;
  char *copy = malloc(n ? n : 1);
  size_t at, i;
  int whole, splits_ok = 1;
  if (!copy) abort();
  memcpy(copy, s, n);
  at = t_utf8_fail_at(copy, n, &complete);
  whole = sk_utf8_valid(copy, n);
  for (i = 0; i <= n; i++) {
    sk_utf8_state_t st;
    int ok;
    sk_utf8_init(&st);
    ok = sk_utf8_feed(&st, copy, i);
    ok = sk_utf8_feed(&st, copy + i, n - i) && ok;
    splits_ok &= (ok && sk_utf8_finish(&st)) == want_valid;
  }
  t_check(at == want_fail_at && complete == want_valid && whole == want_valid && splits_ok, line,
          "utf-8 verdict");
  if (at != want_fail_at) printf("  failed at %zu, want %zu\n", at, want_fail_at);
  free(copy);
}
#define OK8(lit) t_utf8(S(lit), (size_t)-1, 1, __LINE__)
#define TRUNC8(lit) t_utf8(S(lit), (size_t)-1, 0, __LINE__)
#define BAD8(lit, at) t_utf8(S(lit), (at), 0, __LINE__)

/* A plain reference: decode one sequence the long way. */
static int t_ref_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i], len, k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return 0;
    if (n - i < len) return 0;
    for (k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += len;
  }
  return 1;
}

static void test_utf8(void) {
  unsigned a, b, c;
  int agree = 1;
  OK8("");
  OK8("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!");
  OK8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* "kosme" */
  OK8("\x00");
  OK8("\xC2\x80");
  OK8("\xDF\xBF");
  OK8("\xE0\xA0\x80");
  OK8("\xEF\xBF\xBF");
  OK8("\xEF\xBF\xBE"); /* noncharacters are valid */
  OK8("\xED\x9F\xBF");
  OK8("\xEE\x80\x80");
  OK8("\xF0\x90\x80\x80");
  OK8("\xF4\x8F\xBF\xBF");
  /* clang-format would put each part of a literal split after a hex escape on a line
   * of its own: */
  /* clang-format off */
  OK8("abcdefghijklmnopqrstuvwxyz\xF0\x9F\x98\x80" "0123456789abcdef");
  /* clang-format on */
  /* the "fail fast" sequences: fail at the offending byte, mid-message */
  BAD8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12);
  BAD8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64", 12);
  BAD8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", 12);
  BAD8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90", 12);
  /* unexpected continuations */
  BAD8("\x80", 0);
  BAD8("\xBF", 0);
  BAD8("ab\x80\xBF", 2);
  BAD8("\xC2\x80\x80", 2);
  /* impossible bytes and code points past U+10FFFF */
  BAD8("\xFE", 0);
  BAD8("\xFF", 0);
  BAD8("\xF5\x80\x80\x80", 0);
  BAD8("\xF8\x88\x80\x80\x80", 0);
  BAD8("\xFC\x84\x80\x80\x80\x80", 0);
  BAD8("\xF4\x90\x80\x80", 1);
  BAD8("\xF7\xBF\xBF\xBF", 0);
  /* overlongs */
  BAD8("\xC0\xAF", 0);
  BAD8("\xC1\xBF", 0);
  BAD8("\xE0\x80\xAF", 1);
  BAD8("\xE0\x9F\xBF", 1);
  BAD8("\xF0\x80\x80\xAF", 1);
  BAD8("\xF0\x8F\xBF\xBF", 1);
  BAD8("\xC0\x80", 0);
  /* surrogates, single and paired */
  BAD8("\xED\xA0\x80", 1);
  BAD8("\xED\xAD\xBF", 1);
  BAD8("\xED\xBF\xBF", 1);
  BAD8("\xED\xA0\x80\xED\xB0\x80", 1);
  /* a sequence cut by an ASCII byte, a new lead or a too-early end */
  /* clang-format off */
  BAD8("\xC2" "A", 1);
  BAD8("\xE1\x80" "A", 2);
  /* clang-format on */
  BAD8("\xF1\x80\x80\xC2\x80", 3);
  TRUNC8("\xC2");
  TRUNC8("\xE0\xA0");
  TRUNC8("\xF0\x90\x80");
  TRUNC8("valid then cut \xF4\x8F\xBF");
  /* the failure is sticky */
  {
    sk_utf8_state_t st;
    sk_utf8_init(&st);
    CHECK(sk_utf8_feed(&st, S("\xFF")) == 0);
    CHECK(sk_utf8_feed(&st, S("a")) == 0);
    CHECK(!sk_utf8_finish(&st));
  }
  /* every 1-, 2- and 3-byte sequence against the reference */
  for (a = 0; a < 256; a++) {
    unsigned char s[4] = {(unsigned char)a};
    agree &= sk_utf8_valid((const char *)s, 1) == t_ref_utf8(s, 1);
    for (b = 0; b < 256; b++) {
      s[1] = (unsigned char)b;
      agree &= sk_utf8_valid((const char *)s, 2) == t_ref_utf8(s, 2);
      if (a < 0xC0) continue; /* the rest is covered by the shorter cases */
      for (c = 0; c < 256; c++) {
        s[2] = (unsigned char)c;
        agree &= sk_utf8_valid((const char *)s, 3) == t_ref_utf8(s, 3);
      }
    }
  }
  CHECK(agree);
  /* every 4-byte lead with sampled continuations, and every code point */
  agree = 1;
  for (a = 0xE0; a < 256; a++) {
    for (b = 0; b < 4096; b++) {
      unsigned char s[4] = {(unsigned char)a, (unsigned char)(0x70 + (t_next() % 0x60)),
                            (unsigned char)(0x70 + (t_next() % 0x60)),
                            (unsigned char)(0x70 + (t_next() % 0x60))};
      agree &= sk_utf8_valid((const char *)s, 4) == t_ref_utf8(s, 4);
    }
  }
  for (a = 0; a <= 0x10FFFF; a++) {
    unsigned char s[4];
    size_t n;
    if (a < 0x80) s[0] = (unsigned char)a, n = 1;
    else if (a < 0x800)
      s[0] = (unsigned char)(0xC0 | (a >> 6)), s[1] = (unsigned char)(0x80 | (a & 63)), n = 2;
    else if (a < 0x10000)
      s[0] = (unsigned char)(0xE0 | (a >> 12)), s[1] = (unsigned char)(0x80 | ((a >> 6) & 63)),
      s[2] = (unsigned char)(0x80 | (a & 63)), n = 3;
    else
      s[0] = (unsigned char)(0xF0 | (a >> 18)), s[1] = (unsigned char)(0x80 | ((a >> 12) & 63)),
      s[2] = (unsigned char)(0x80 | ((a >> 6) & 63)), s[3] = (unsigned char)(0x80 | (a & 63)),
      n = 4;
    agree &= sk_utf8_valid((const char *)s, n) == !(a >= 0xD800 && a <= 0xDFFF);
  }
  CHECK(agree);
  /* long mixed text in random pieces, and with one byte broken */
  {
    t_bytes_t t = {0};
    int i, ok = 1;
    for (i = 0; i < 500; i++) {
      static const char *const parts[] = {
          "a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "0123456789", "\xEF\xBF\xBD"};
      const char *part = parts[t_next() % 6];
      t_put(&t, part, strlen(part));
    }
    for (i = 0; i < 200; i++) {
      sk_utf8_state_t st;
      size_t at = 0;
      sk_utf8_init(&st);
      while (at < t.len) {
        size_t n = 1 + (size_t)(t_next() % 17);
        if (n > t.len - at) n = t.len - at;
        ok &= sk_utf8_feed(&st, (const char *)t.data + at, n);
        at += n;
      }
      ok &= sk_utf8_finish(&st);
    }
    CHECK(ok);
    t.data[t.len / 2] = (char)0xFF;
    CHECK(!sk_utf8_valid((const char *)t.data, t.len));
    free(t.data);
  }
}

/* ---- close frames ----------------------------------------------------- */

static void test_close(void) {
  unsigned code, got;
  const char *reason;
  size_t rlen;
  int all = 1;
  char out[SK_WS_MAX_CONTROL];
  char payload[4];
  char long_reason[200];
  for (code = 0; code < 70000; code++) {
    int want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
               (code >= 3000 && code <= 4999);
    all &= sk_ws_close_code_valid(code) == want;
    if (code < 65536) {
      payload[0] = (char)(code >> 8);
      payload[1] = (char)code;
      all &= sk_ws_close_parse(payload, 2, &got, NULL, NULL) == (want ? 0 : SK_WS_CLOSE_PROTOCOL);
      if (want) all &= got == code;
    }
  }
  CHECK(all);
  CHECK(!sk_ws_close_code_valid(1004) && !sk_ws_close_code_valid(1005) &&
        !sk_ws_close_code_valid(1006) && !sk_ws_close_code_valid(1015) &&
        !sk_ws_close_code_valid(1016) && !sk_ws_close_code_valid(2999) &&
        !sk_ws_close_code_valid(5000) && !sk_ws_close_code_valid(999) &&
        sk_ws_close_code_valid(1012) && sk_ws_close_code_valid(1014) &&
        sk_ws_close_code_valid(3000) && sk_ws_close_code_valid(4999));
  CHECK(sk_ws_close_parse(NULL, 0, &got, &reason, &rlen) == 0 && got == 1005 && rlen == 0);
  CHECK(sk_ws_close_parse(S("\x03"), &got, NULL, NULL) == 1002);
  CHECK(sk_ws_close_parse(S("\x03\xe8"), &got, &reason, &rlen) == 0 && got == 1000 && rlen == 0);
  /* clang-format off */
  CHECK(sk_ws_close_parse(S("\x03\xe8" "bye \xC3\xA9"), &got, &reason, &rlen) == 0 &&
        got == 1000 && rlen == 6 && memcmp(reason, "bye \xC3\xA9", 6) == 0);
  CHECK(sk_ws_close_parse(S("\x0f\xa0" "ok"), &got, NULL, NULL) == 0 && got == 4000);
  CHECK(sk_ws_close_parse(S("\x03\xe8" "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"),
                          &got, NULL, NULL) == 1007);
  CHECK(sk_ws_close_parse(S("\x03\xe8" "\xC2"), &got, NULL, NULL) == 1007);
  /* an invalid code is reported before an invalid reason */
  CHECK(sk_ws_close_parse(S("\x03\xed" "\xFF"), &got, NULL, NULL) == 1002);
  CHECK(sk_ws_close_parse(S("\x00\x00"), &got, NULL, NULL) == 1002);
  CHECK(sk_ws_close_parse(S("\x03\xe8" "a"), NULL, NULL, NULL) == 0);
  /* clang-format on */

  /* building: code big-endian, reason cut on a sequence boundary */
  CHECK(sk_ws_close_payload(out, 1000, NULL, 0) == 2 && memcmp(out, "\x03\xe8", 2) == 0);
  CHECK(sk_ws_close_payload(out, 0, "x", 1) == 0);
  CHECK(sk_ws_close_payload(out, 1005, "x", 1) == 0);
  CHECK(sk_ws_close_payload(out, 4999, S("why")) == 5 && memcmp(out, "\x13\x87why", 5) == 0);
  memset(long_reason, 'a', sizeof(long_reason));
  CHECK(sk_ws_close_payload(out, 1001, long_reason, 123) == 125);
  CHECK(sk_ws_close_payload(out, 1001, long_reason, 200) == 125);
  memcpy(long_reason + 122, "\xC3\xA9", 2); /* straddles 123 */
  CHECK(sk_ws_close_payload(out, 1001, long_reason, 124) == 124);
  memcpy(long_reason + 121, "\xE2\x82\xAC", 3);
  CHECK(sk_ws_close_payload(out, 1001, long_reason, 124) == 123);
  memset(long_reason, 'a', sizeof(long_reason));
  memcpy(long_reason + 120, "\xF0\x9F\x98\x80", 4);
  CHECK(sk_ws_close_payload(out, 1001, long_reason, 124) == 122);
  memset(long_reason, 'a', sizeof(long_reason));
  memcpy(long_reason + 119, "\xF0\x9F\x98\x80", 4); /* ends exactly at 123 */
  CHECK(sk_ws_close_payload(out, 1001, long_reason, 150) == 125);
  {
    /* any cut of a valid reason stays valid */
    int ok = 1, k;
    for (k = 0; k < 300; k++) {
      t_bytes_t r = {0};
      size_t n;
      while (r.len < 140) {
        static const char *const parts[] = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
        const char *part = parts[t_next() % 4];
        t_put(&r, part, strlen(part));
      }
      n = sk_ws_close_payload(out, 1000, (const char *)r.data, r.len);
      ok &= n >= 122 && n <= 125 && sk_ws_close_parse(out, n, &got, NULL, NULL) == 0;
      free(r.data);
    }
    CHECK(ok);
  }
}

/* ---- server frames ---------------------------------------------------- */

static void test_frame_header(void) {
  char h[SK_WS_MAX_HEADER];
  CHECK(sk_ws_frame_header(h, SK_WS_OP_TEXT, 1, 0, 5) == 2 && memcmp(h, "\x81\x05", 2) == 0);
  CHECK(sk_ws_frame_header(h, SK_WS_OP_BINARY, 0, 0, 0) == 2 && memcmp(h, "\x02\x00", 2) == 0);
  CHECK(sk_ws_frame_header(h, SK_WS_OP_TEXT, 1, 1, 125) == 2 && memcmp(h, "\xC1\x7D", 2) == 0);
  CHECK(sk_ws_frame_header(h, SK_WS_OP_CONT, 1, 0, 126) == 4 &&
        memcmp(h, "\x80\x7E\x00\x7E", 4) == 0);
  CHECK(sk_ws_frame_header(h, SK_WS_OP_BINARY, 1, 0, 65535) == 4 &&
        memcmp(h, "\x82\x7E\xFF\xFF", 4) == 0);
  CHECK(sk_ws_frame_header(h, SK_WS_OP_BINARY, 1, 0, 65536) == 10 &&
        memcmp(h, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0);
  CHECK(sk_ws_frame_header(h, SK_WS_OP_CLOSE, 1, 0, 0x0102030405060708ull) == 10 &&
        memcmp(h, "\x88\x7F\x01\x02\x03\x04\x05\x06\x07\x08", 10) == 0);
  CHECK(sk_ws_frame_header(h, SK_WS_OP_PONG, 1, 0, 3) == 2 && memcmp(h, "\x8A\x03", 2) == 0);
  {
    /* every header, masked the way a client would, parses back */
    uint64_t lens[] = {0, 1, 125, 126, 65535, 65536, 1ull << 40};
    size_t i;
    int ok = 1;
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
      char buf[SK_WS_MAX_HEADER + 4];
      size_t n = sk_ws_frame_header(buf, SK_WS_OP_BINARY, 1, 1, lens[i]), used, dl;
      sk_ws_parser_t p;
      char *d;
      buf[1] = (char)(buf[1] | 0x80);
      memcpy(buf + n, "\x01\x02\x03\x04", 4);
      sk_ws_parser_init(&p, SK_WS_NO_LIMIT, 1);
      ok &= sk_ws_parse(&p, buf, n + 4, &used, &d, &dl) == SK_WS_FRAME_START && used == n + 4 &&
            p.payload_len == lens[i] && p.fin && p.rsv1 && p.opcode == SK_WS_OP_BINARY;
    }
    CHECK(ok);
  }
}

/* ---- handshake -------------------------------------------------------- */

static void test_handshake(void) {
  char acc[SK_WS_ACCEPT_LEN], enc[200];
  unsigned char raw[150], dec[150];
  size_t n, len;
  int ok = 1;
  /* RFC 6455 §1.3 */
  CHECK(sk_ws_accept(S("dGhlIHNhbXBsZSBub25jZQ=="), acc) == 0 &&
        memcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", SK_WS_ACCEPT_LEN) == 0);
  CHECK(sk_ws_accept(S("x3JJHMbDL1EzLkh9GBhXDw=="), acc) == 0 &&
        memcmp(acc, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=", SK_WS_ACCEPT_LEN) == 0);
  CHECK(sk_ws_accept(S("short"), acc) == -1);
  CHECK(sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25jZQ==")));
  CHECK(sk_ws_key_valid(S("AAAAAAAAAAAAAAAAAAAAAA==")));
  CHECK(sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25jZR=="))); /* nonzero pad bits: accepted */
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25jZQ=")));
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25jZQ===")));
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25jZQ")));
  CHECK(!sk_ws_key_valid(S("AAAAAAAAAAAAAAAAAAAAAAA="))); /* 17 bytes */
  CHECK(!sk_ws_key_valid(S("AAAAAAAAAAAAAAAAAAAAAAAA"))); /* 18 bytes */
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25jZQ=A")));
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25j*Q==")));
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25j ZQ=")));
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbX=sZSBub25jZQ==")));
  CHECK(!sk_ws_key_valid(S("")));
  CHECK(!sk_ws_key_valid(S("dGhlIHNhbXBsZSBub25jZQ==\0")));
  /* base64 round trips and the RFC 4648 §10 vectors */
  CHECK(sk_ws_base64_encode(enc, "foobar", 6) == 8 && memcmp(enc, "Zm9vYmFy", 8) == 0);
  CHECK(sk_ws_base64_encode(enc, "fooba", 5) == 8 && memcmp(enc, "Zm9vYmE=", 8) == 0);
  CHECK(sk_ws_base64_encode(enc, "f", 1) == 4 && memcmp(enc, "Zg==", 4) == 0);
  CHECK(sk_ws_base64_encode(enc, "", 0) == 0);
  CHECK(sk_ws_base64_decode(dec, sizeof(dec), S("Zm8="), &len) == 0 && len == 2 &&
        memcmp(dec, "fo", 2) == 0);
  CHECK(sk_ws_base64_decode(dec, sizeof(dec), S(""), &len) == 0 && len == 0);
  CHECK(sk_ws_base64_decode(dec, 1, S("Zm8="), &len) == -1);
  CHECK(sk_ws_base64_decode(dec, sizeof(dec), S("Zm8"), &len) == -1);
  CHECK(sk_ws_base64_decode(dec, sizeof(dec), S("===="), &len) == -1);
  CHECK(sk_ws_base64_decode(dec, sizeof(dec), S("Z==="), &len) == -1);
  CHECK(sk_ws_base64_decode(dec, sizeof(dec), S("Zg==Zg=="), &len) == -1);
  for (n = 0; n < 150; n++) {
    size_t i, e;
    for (i = 0; i < n; i++) raw[i] = (unsigned char)t_next();
    e = sk_ws_base64_encode(enc, raw, n);
    ok &= e == (n + 2) / 3 * 4;
    ok &= sk_ws_base64_decode(dec, n, enc, e, &len) == 0 && len == n && memcmp(dec, raw, n) == 0;
  }
  CHECK(ok);
  /* header tokens */
  CHECK(sk_ws_header_has_token(S("keep-alive, Upgrade"), S("upgrade")));
  CHECK(sk_ws_header_has_token(S("UPGRADE"), S("upgrade")));
  CHECK(sk_ws_header_has_token(S(" \tupgrade\t "), S("upgrade")));
  CHECK(sk_ws_header_has_token(S(",,upgrade,,"), S("upgrade")));
  CHECK(sk_ws_header_has_token(S("a,b , Upgrade ,c"), S("upgrade")));
  CHECK(!sk_ws_header_has_token(S("keep-alive"), S("upgrade")));
  CHECK(!sk_ws_header_has_token(S("upgradex, xupgrade"), S("upgrade")));
  CHECK(!sk_ws_header_has_token(S("up grade"), S("upgrade")));
  CHECK(!sk_ws_header_has_token(S(""), S("upgrade")));
  CHECK(!sk_ws_header_has_token(NULL, 0, S("upgrade")));
  CHECK(!sk_ws_header_has_token(S("upgrad"), S("upgrade")));
  CHECK(sk_ws_header_has_token(S("WebSocket"), S("websocket")));
  /* subprotocols */
  {
    const char *p;
    size_t pl;
    CHECK(sk_ws_protocol_select(S("chat, superchat"), &p, &pl) == 1 && pl == 4 &&
          memcmp(p, "chat", 4) == 0);
    CHECK(sk_ws_protocol_select(S(" , ,  v2.proto \t, x"), &p, &pl) == 1 && pl == 8 &&
          memcmp(p, "v2.proto", 8) == 0);
    CHECK(sk_ws_protocol_select(S("only"), &p, &pl) == 1 && pl == 4);
    CHECK(sk_ws_protocol_select(S(""), &p, &pl) == 0 && p == NULL && pl == 0);
    CHECK(sk_ws_protocol_select(S(" , ,"), &p, &pl) == 0);
  }
}

int main(void) {
  test_framing();
  test_masking();
  test_reserved_bits();
  test_opcodes();
  test_control_frames();
  test_fragmentation();
  test_lengths();
  test_max_payload();
  test_random_streams();
  test_utf8();
  test_close();
  test_frame_header();
  test_handshake();
  return t_summary();
}
