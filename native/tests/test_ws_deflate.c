/* Tests for native/src/ws_deflate.c: permessage-deflate negotiation, round
 * trips for every negotiated variant, the RFC 7692 §7.2.3 examples, corrupt
 * input, window sizes and the zip-bomb bound. Prints one line per failed
 * check and ends with "N passed, N failed"; exits nonzero on failure. */
#include "ws_deflate.h"

#include <zlib.h>

#define T_RNG_SEED 0x2545f4914f6cdd1dull
#define T_FAULTY_ALLOC
#include "harness.h"

/* A second copy of the module, renamed and built on the harness allocator
 * that fails on demand and records its peak (t_alloc_biggest), to exercise
 * every out-of-memory path and to measure what a zip bomb costs. */
#define SK_PMD_MALLOC t_malloc
#define SK_PMD_REALLOC t_realloc
#define SK_PMD_FREE t_free
#define sk_pmd_negotiate faulty_pmd_negotiate
#define sk_pmd_buf_free faulty_pmd_buf_free
#define sk_pmd_deflater_create faulty_pmd_deflater_create
#define sk_pmd_deflater_destroy faulty_pmd_deflater_destroy
#define sk_pmd_deflate faulty_pmd_deflate
#define sk_pmd_deflater_reset faulty_pmd_deflater_reset
#define sk_pmd_inflater_create faulty_pmd_inflater_create
#define sk_pmd_inflater_destroy faulty_pmd_inflater_destroy
#define sk_pmd_inflate faulty_pmd_inflate
#include "ws_deflate.c"
#undef sk_pmd_negotiate
#undef sk_pmd_buf_free
#undef sk_pmd_deflater_create
#undef sk_pmd_deflater_destroy
#undef sk_pmd_deflate
#undef sk_pmd_deflater_reset
#undef sk_pmd_inflater_create
#undef sk_pmd_inflater_destroy
#undef sk_pmd_inflate

static const sk_pmd_config_t DEDICATED = {1, 0, 15, 0, 15};
static const sk_pmd_config_t SHARED = {1, 1, 15, 1, 15};
static const sk_pmd_config_t SMALL = {1, 0, 12, 0, 9};
static const sk_pmd_config_t SHARED_C = {1, 1, 15, 0, 15};

/* Negotiate on an exact-size copy of the header; compare the response. */
static void t_neg(const sk_pmd_config_t *cfg, const char *hdr, const char *want, int line,
                  sk_pmd_params_t *pm_out) {
  size_t n = strlen(hdr), rl = 99;
  char *copy = malloc(n ? n : 1), resp[SK_PMD_RESPONSE_MAX];
  sk_pmd_params_t pm;
  int rc, ok;
  if (!copy) abort();
  memcpy(copy, hdr, n);
  memset(&pm, 0x5a, sizeof(pm));
  rc = sk_pmd_negotiate(cfg, copy, n, &pm, resp, sizeof(resp), &rl);
  if (want == NULL) {
    ok = rc == 0 && rl == 0;
  } else {
    ok = rc == 1 && rl == strlen(want) && memcmp(resp, want, rl) == 0 &&
         pm.server_window_bits >= 9 && pm.server_window_bits <= 15 && pm.client_window_bits >= 8 &&
         pm.client_window_bits <= 15;
  }
  t_check(ok, line, "negotiation");
  if (!ok)
    printf("  offer \"%s\": rc %d, got \"%.*s\", want \"%s\"\n", hdr, rc, rc == 1 ? (int)rl : 0,
           resp, want ? want : "(declined)");
  if (pm_out) *pm_out = pm;
  free(copy);
}
#define NEG(cfg, hdr, want) t_neg(&(cfg), (hdr), (want), __LINE__, NULL)

static void test_negotiation(void) {
  sk_pmd_params_t pm;
  char resp[SK_PMD_RESPONSE_MAX];
  size_t rl;
  sk_pmd_config_t off = DEDICATED;

  /* dedicated compressor and decompressor, 15-bit windows */
  t_neg(&DEDICATED, "permessage-deflate", "permessage-deflate", __LINE__, &pm);
  CHECK(!pm.server_no_context_takeover && !pm.client_no_context_takeover &&
        pm.server_window_bits == 15 && pm.client_window_bits == 15);
  NEG(DEDICATED, "permessage-deflate; client_max_window_bits", "permessage-deflate");
  NEG(DEDICATED, "permessage-deflate; server_no_context_takeover",
      "permessage-deflate; server_no_context_takeover");
  t_neg(&DEDICATED, "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; client_no_context_takeover", __LINE__, &pm);
  CHECK(pm.client_no_context_takeover && !pm.server_no_context_takeover);
  t_neg(&DEDICATED, "permessage-deflate; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=10", __LINE__, &pm);
  CHECK(pm.server_window_bits == 10);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=15",
      "permessage-deflate; server_max_window_bits=15");
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=9",
      "permessage-deflate; server_max_window_bits=9");
  /* zlib cannot deflate with an 8-bit window: the offer is declined */
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=8", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=8, permessage-deflate",
      "permessage-deflate");
  t_neg(&DEDICATED, "permessage-deflate; client_max_window_bits=10",
        "permessage-deflate; client_max_window_bits=10", __LINE__, &pm);
  CHECK(pm.client_window_bits == 10);
  t_neg(&DEDICATED, "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=8", __LINE__, &pm);
  CHECK(pm.client_window_bits == 8);
  NEG(DEDICATED, "permessage-deflate; client_max_window_bits=15", "permessage-deflate");
  NEG(DEDICATED,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=12; client_max_window_bits=11",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=12; client_max_window_bits=11");

  /* shared compressor and decompressor */
  t_neg(&SHARED, "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover", __LINE__,
        &pm);
  CHECK(pm.server_no_context_takeover && pm.client_no_context_takeover &&
        pm.server_window_bits == 15 && pm.client_window_bits == 15);
  NEG(SHARED, "permessage-deflate",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  NEG(SHARED, "permessage-deflate; client_max_window_bits=9",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "client_max_window_bits=9");
  /* the shared window cannot shrink for one client */
  NEG(SHARED, "permessage-deflate; server_max_window_bits=10", NULL);
  NEG(SHARED, "permessage-deflate; server_max_window_bits=15",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "server_max_window_bits=15");
  NEG(SHARED_C, "permessage-deflate; client_max_window_bits",
      "permessage-deflate; server_no_context_takeover");

  /* small dedicated windows: announced, the client's only when offered */
  t_neg(&SMALL, "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9", __LINE__, &pm);
  CHECK(pm.server_window_bits == 12 && pm.client_window_bits == 9);
  t_neg(&SMALL, "permessage-deflate", "permessage-deflate; server_max_window_bits=12", __LINE__,
        &pm);
  CHECK(pm.client_window_bits == 15);
  NEG(SMALL, "permessage-deflate; server_max_window_bits=14; client_max_window_bits=8",
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=8");
  NEG(SMALL, "permessage-deflate; server_max_window_bits=10",
      "permessage-deflate; server_max_window_bits=10");

  /* invalid offers are skipped (§5) */
  NEG(DEDICATED, "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      NULL);
  NEG(DEDICATED, "permessage-deflate; client_max_window_bits; client_max_window_bits=10", NULL);
  NEG(DEDICATED, "permessage-deflate; foo", NULL);
  NEG(DEDICATED, "permessage-deflate; foo=1", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=7", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=16", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=08", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=010", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=25", NULL);
  NEG(DEDICATED, "permessage-deflate; client_max_window_bits=\"9 \"", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=0xa", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=-9", NULL);
  NEG(DEDICATED, "permessage-deflate; client_max_window_bits=0", NULL);
  NEG(DEDICATED, "permessage-deflate; client_max_window_bits=\"\"", NULL);
  NEG(DEDICATED, "permessage-deflate; server_no_context_takeover=1", NULL);
  NEG(DEDICATED, "permessage-deflate; client_no_context_takeover=\"\"", NULL);
  NEG(DEDICATED, "permessage-deflate; client_max_window_bits=", NULL);
  NEG(DEDICATED, "permessage-deflate;", NULL);
  NEG(DEDICATED, "permessage-deflate; ; client_max_window_bits", NULL);
  NEG(DEDICATED, "permessage-deflate client_max_window_bits", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=\"10", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=1 0", NULL);
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=10; foo, x; y=\"a,b\"", NULL);
  /* ... and the next offer is tried */
  NEG(DEDICATED, "permessage-deflate; foo, permessage-deflate; server_max_window_bits=11",
      "permessage-deflate; server_max_window_bits=11");
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=\"10, permessage-deflate", NULL);
  NEG(DEDICATED, "permessage-deflate; x=\"a,b\\\"c,\", permessage-deflate", "permessage-deflate");
  NEG(DEDICATED, ";;;, permessage-deflate", "permessage-deflate");
  NEG(DEDICATED, "permessage-deflate;, permessage-deflate", "permessage-deflate");
  NEG(DEDICATED, "= , permessage-deflate", "permessage-deflate");

  /* syntax freedom: OWS, quoted values, case, empty elements, others */
  NEG(DEDICATED, "  permessage-deflate  ;  server_max_window_bits = 10  ",
      "permessage-deflate; server_max_window_bits=10");
  NEG(DEDICATED, "permessage-deflate;server_max_window_bits=\"10\"",
      "permessage-deflate; server_max_window_bits=10");
  NEG(DEDICATED, "permessage-deflate; server_max_window_bits=\"1\\0\"",
      "permessage-deflate; server_max_window_bits=10");
  NEG(DEDICATED, "PerMessage-Deflate; Server_Max_Window_Bits=9",
      "permessage-deflate; server_max_window_bits=9");
  NEG(DEDICATED, ",, ,permessage-deflate,,", "permessage-deflate");
  NEG(DEDICATED, "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
      "permessage-deflate");
  NEG(DEDICATED, "foo; a=\"x,y\"; b=2, permessage-deflate; client_no_context_takeover",
      "permessage-deflate; client_no_context_takeover");
  NEG(DEDICATED, "permessage-deflate-x", NULL);
  NEG(DEDICATED, "", NULL);
  NEG(DEDICATED, "x-webkit-deflate-frame", NULL);
  NEG(DEDICATED, "\"permessage-deflate\"", NULL);

  /* the longest answer fits in SK_PMD_RESPONSE_MAX */
  {
    static const sk_pmd_config_t wide = {1, 0, 15, 0, 15};
    const char *all =
        "permessage-deflate; server_no_context_takeover; "
        "client_no_context_takeover; server_max_window_bits=10; "
        "client_max_window_bits=12";
    sk_pmd_config_t c = wide;
    c.compressor_bits = 14;
    c.decompressor_bits = 14;
    t_neg(&c, all, all, __LINE__, &pm);
    CHECK(strlen(all) <= SK_PMD_RESPONSE_MAX);
    CHECK(pm.server_window_bits == 10 && pm.client_window_bits == 12 &&
          pm.server_no_context_takeover && pm.client_no_context_takeover);
  }
  /* disabled, too small a response buffer, NULL header */
  off.enabled = 0;
  NEG(off, "permessage-deflate", NULL);
  CHECK(sk_pmd_negotiate(&DEDICATED, S("permessage-deflate"), &pm, resp, 64, &rl) == 0);
  CHECK(sk_pmd_negotiate(&DEDICATED, NULL, 0, &pm, resp, sizeof(resp), &rl) == 0 && rl == 0);
}

/* ---- compression ------------------------------------------------------ */

/* Compress then inflate, the inflater fed in random pieces. */
static int t_roundtrip(sk_pmd_deflater_t *d, sk_pmd_inflater_t *inf, const char *msg, size_t len,
                       size_t *clen) {
  sk_pmd_buf_t c = {0}, u = {0};
  size_t at = 0;
  int ok = sk_pmd_deflate(d, msg, len, &c) == SK_PMD_OK;
  if (clen) *clen = c.len;
  while (ok) {
    size_t n = (size_t)(t_next() % 50);
    int final;
    if (t_next() % 4 == 0) n = c.len;
    if (n > c.len - at) n = c.len - at;
    final = at + n == c.len && t_next() % 2;
    ok = sk_pmd_inflate(inf, c.data + at, n, final, &u, SIZE_MAX) == SK_PMD_OK;
    at += n;
    if (final) break;
  }
  ok = ok && u.len == len && (len == 0 || memcmp(u.data, msg, len) == 0);
  sk_pmd_buf_free(&c);
  sk_pmd_buf_free(&u);
  return ok;
}

/* A message of len bytes: random (kind 0), text-like (1) or repetitive (2). */
static void t_fill(char *buf, size_t len, int kind) {
  static const char *const words[] = {"socket ", "frame ",    "deflate ", "message ",
                                      "window ", "{\"id\": ", "42, ",     "\"text\": \"hello\"} "};
  size_t i = 0;
  while (i < len) {
    if (kind == 0) {
      buf[i++] = (char)t_next();
    } else {
      const char *w = kind == 1 ? words[t_next() % 8] : "abcabcabc";
      size_t n = strlen(w);
      if (n > len - i) n = len - i;
      memcpy(buf + i, w, n);
      i += n;
    }
  }
}

static void test_roundtrips(void) {
  static const char *const offers[] = {
      "permessage-deflate",
      "permessage-deflate; client_max_window_bits",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      "permessage-deflate; server_max_window_bits=9; client_max_window_bits=8",
      "permessage-deflate; server_max_window_bits=11; client_max_window_bits=13",
  };
  const sk_pmd_config_t *cfgs[] = {&DEDICATED, &SHARED, &SMALL, &SHARED_C};
  static const size_t sizes[] = {0, 1, 5, 100, 1000, 5000, 70000};
  char *msg = malloc(70000);
  size_t o, c, s;
  if (!msg) abort();
  for (c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
    for (o = 0; o < sizeof(offers) / sizeof(offers[0]); o++) {
      sk_pmd_params_t pm;
      char resp[SK_PMD_RESPONSE_MAX];
      size_t rl;
      sk_pmd_deflater_t *sd, *cd;
      sk_pmd_inflater_t *si, *ci;
      int ok = 1;
      if (!sk_pmd_negotiate(cfgs[c], offers[o], strlen(offers[o]), &pm, resp, sizeof(resp), &rl))
        continue; /* (shared, window 9) is declined: tested above */
      /* server -> client and client -> server (a zlib client cannot do 8) */
      sd = sk_pmd_deflater_create(-1, pm.server_window_bits, 8, pm.server_no_context_takeover);
      ci = sk_pmd_inflater_create(pm.server_window_bits, pm.server_no_context_takeover);
      cd = sk_pmd_deflater_create(1, pm.client_window_bits < 9 ? 9 : pm.client_window_bits, 8,
                                  pm.client_no_context_takeover);
      si = sk_pmd_inflater_create(pm.client_window_bits, pm.client_no_context_takeover);
      CHECK(sd && ci && cd && si);
      if (!(sd && ci && cd && si)) continue;
      for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int kind;
        for (kind = 0; kind < 3; kind++) {
          t_fill(msg, sizes[s], kind);
          ok &= t_roundtrip(sd, ci, msg, sizes[s], NULL);
          ok &= t_roundtrip(cd, si, msg, sizes[s], NULL);
          /* the same message again: with context takeover it costs less */
          ok &= t_roundtrip(sd, ci, msg, sizes[s], NULL);
        }
      }
      t_check(ok, __LINE__, offers[o]);
      sk_pmd_deflater_destroy(sd);
      sk_pmd_deflater_destroy(cd);
      sk_pmd_inflater_destroy(si);
      sk_pmd_inflater_destroy(ci);
    }
  }
  free(msg);
}

static void test_context_takeover(void) {
  char msg[3000];
  size_t first, again, n;
  int ok;
  sk_pmd_deflater_t *d = sk_pmd_deflater_create(-1, 15, 8, 0);
  sk_pmd_deflater_t *dn = sk_pmd_deflater_create(-1, 15, 8, 1);
  sk_pmd_inflater_t *i = sk_pmd_inflater_create(15, 0);
  sk_pmd_inflater_t *in_ = sk_pmd_inflater_create(15, 1);
  t_fill(msg, sizeof(msg), 0);
  CHECK(t_roundtrip(d, i, msg, sizeof(msg), &first));
  CHECK(t_roundtrip(d, i, msg, sizeof(msg), &again));
  CHECK(first > 2900 && again < 50); /* the second refers back to the first */
  CHECK(t_roundtrip(dn, in_, msg, sizeof(msg), &first));
  CHECK(t_roundtrip(dn, in_, msg, sizeof(msg), &again));
  CHECK(first > 2900 && again == first);
  /* an inflater without takeover can read a no-takeover stream ... */
  CHECK(t_roundtrip(dn, i, msg, sizeof(msg), &n));
  /* ... but a takeover stream's back-references break a resetting one */
  ok = t_roundtrip(d, in_, msg, sizeof(msg), &n);
  CHECK(!ok);
  /* an explicit reset drops the context */
  sk_pmd_deflater_reset(d);
  sk_pmd_inflater_destroy(i);
  i = sk_pmd_inflater_create(15, 0);
  CHECK(t_roundtrip(d, i, msg, sizeof(msg), &first) && first > 2900);
  sk_pmd_deflater_destroy(d);
  sk_pmd_deflater_destroy(dn);
  sk_pmd_inflater_destroy(i);
  sk_pmd_inflater_destroy(in_);
}

static int t_inflate_is(sk_pmd_inflater_t *inf, const char *in, size_t len, const char *want,
                        size_t want_len) {
  sk_pmd_buf_t u = {0};
  int ok = sk_pmd_inflate(inf, in, len, 1, &u, 1000) == SK_PMD_OK && u.len == want_len &&
           (want_len == 0 || memcmp(u.data, want, want_len) == 0);
  sk_pmd_buf_free(&u);
  return ok;
}

static void test_rfc_examples(void) {
  sk_pmd_inflater_t *inf = sk_pmd_inflater_create(15, 0);
  sk_pmd_deflater_t *d = sk_pmd_deflater_create(-1, 15, 8, 0);
  sk_pmd_buf_t c = {0};
  /* §7.2.3.1 */
  CHECK(t_inflate_is(inf, S("\xf2\x48\xcd\xc9\xc9\x07\x00"), S("Hello")));
  /* §7.2.3.2: the second message refers to the first */
  CHECK(t_inflate_is(inf, S("\xf2\x00\x11\x00\x00"), S("Hello")));
  /* §7.2.3.3: a stored block */
  CHECK(t_inflate_is(inf, S("\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00"), S("Hello")));
  /* §7.2.3.4: a block with BFINAL set, then more messages */
  CHECK(t_inflate_is(inf, S("\xf3\x48\xcd\xc9\xc9\x07\x00\x00"), S("Hello")));
  CHECK(t_inflate_is(inf, S("\xf2\x48\xcd\xc9\xc9\x07\x00"), S("Hello")));
  /* §7.2.3.5: two blocks in one message */
  CHECK(t_inflate_is(inf, S("\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00"), S("Hello")));
  /* §7.2.3.6: an empty message, as a single 00 or as nothing at all; the
   * stream goes on after either */
  CHECK(t_inflate_is(inf, S("\x00"), S("")));
  CHECK(t_inflate_is(inf, S(""), S("")));
  CHECK(t_inflate_is(inf, S("\xf2\x00\x11\x00\x00"), S("Hello")));
  /* our deflater gives the §7.2.3.1 bytes, and an empty message after a
   * flush is the single byte 00 */
  CHECK(sk_pmd_deflate(d, S("Hello"), &c) == SK_PMD_OK && c.len == 7 &&
        memcmp(c.data, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7) == 0);
  c.len = 0;
  CHECK(sk_pmd_deflate(d, S(""), &c) == SK_PMD_OK && c.len == 1 && c.data[0] == 0);
  CHECK(t_inflate_is(inf, c.data, c.len, S("")));
  c.len = 0;
  CHECK(sk_pmd_deflate(d, S(""), &c) == SK_PMD_OK && c.len == 1 && c.data[0] == 0);
  CHECK(t_inflate_is(inf, c.data, c.len, S("")));
  CHECK(t_inflate_is(inf, S(""), S("")));
  c.len = 0;
  CHECK(sk_pmd_deflate(d, S("Hello"), &c) == SK_PMD_OK && c.len > 0 && c.len < 7);
  CHECK(t_inflate_is(inf, c.data, c.len, S("Hello")));
  /* output is appended */
  c.len = 0;
  sk_pmd_deflater_reset(d);
  CHECK(sk_pmd_deflate(d, S("Hello"), &c) == SK_PMD_OK && c.len == 7);
  sk_pmd_deflater_reset(d);
  CHECK(sk_pmd_deflate(d, S("Hello"), &c) == SK_PMD_OK && c.len == 14 &&
        memcmp(c.data + 7, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7) == 0);
  /* a fresh stream's empty message is the single byte 00 */
  c.len = 0;
  sk_pmd_deflater_reset(d);
  CHECK(sk_pmd_deflate(d, S(""), &c) == SK_PMD_OK && c.len == 1 && c.data[0] == 0);
  sk_pmd_buf_free(&c);
  sk_pmd_deflater_destroy(d);
  sk_pmd_inflater_destroy(inf);
}

static void test_corrupt(void) {
  sk_pmd_inflater_t *inf = sk_pmd_inflater_create(15, 0);
  sk_pmd_buf_t u = {0};
  int bad = 0, k;
  /* block type 11 is reserved */
  CHECK(sk_pmd_inflate(inf, S("\x07\x00"), 1, &u, 1000) == SK_PMD_ERR_CORRUPT);
  /* the stream is reset after an error: the next message decodes */
  u.len = 0;
  CHECK(t_inflate_is(inf, S("\xf2\x48\xcd\xc9\xc9\x07\x00"), S("Hello")));
  /* a stored block whose NLEN is not the complement of LEN */
  u.len = 0;
  CHECK(sk_pmd_inflate(inf, S("\x00\x05\x00\x00\x00hello"), 1, &u, 1000) == SK_PMD_ERR_CORRUPT);
  /* a distance before the start of the window */
  u.len = 0;
  CHECK(sk_pmd_inflate(inf, S("\xf2\x00\x11\x00\x00"), 1, &u, 1000) == SK_PMD_ERR_CORRUPT);
  /* detected as soon as the bad bytes arrive, before the final call */
  u.len = 0;
  CHECK(sk_pmd_inflate(inf, S("\xff\xff\xff\xff"), 0, &u, 1000) == SK_PMD_ERR_CORRUPT);
  /* random garbage: an error or some output, never a crash or a hang */
  for (k = 0; k < 2000; k++) {
    char g[64];
    size_t n = 1 + (size_t)(t_next() % 64);
    int rc;
    t_fill(g, n, 0);
    u.len = 0;
    rc = sk_pmd_inflate(inf, g, n, 1, &u, 100);
    bad |= !(rc == SK_PMD_OK || rc == SK_PMD_ERR_CORRUPT || rc == SK_PMD_ERR_TOO_BIG);
    bad |= u.len > 101 || (rc == SK_PMD_OK && u.len > 100);
  }
  CHECK(!bad);
  sk_pmd_buf_free(&u);
  sk_pmd_inflater_destroy(inf);
}

static void test_windows(void) {
  /* data with repeats 600 and 20000 bytes back */
  char *msg = malloc(50000);
  int bits, ok = 1;
  if (!msg) abort();
  t_fill(msg, 20000, 0);
  memcpy(msg + 20000, msg, 20000);
  memcpy(msg + 40000, msg + 39400, 600);
  t_fill(msg + 40600, 9400, 0);
  for (bits = 9; bits <= 15; bits++) {
    sk_pmd_deflater_t *d = sk_pmd_deflater_create(-1, bits, 8, 1);
    sk_pmd_inflater_t *same = sk_pmd_inflater_create(bits, 1);
    sk_pmd_inflater_t *eight = sk_pmd_inflater_create(8, 1);
    size_t n;
    ok &= d && same && eight;
    if (!ok) break;
    ok &= t_roundtrip(d, same, msg, 50000, &n);
    ok &= (n < 35000) == (bits == 15); /* only 32 KiB sees the 20000-byte repeat */
    /* 8 means "9": it reads what a 9-bit deflater writes */
    if (bits == 9) ok &= t_roundtrip(d, eight, msg, 50000, &n);
    sk_pmd_deflater_destroy(d);
    sk_pmd_inflater_destroy(same);
    sk_pmd_inflater_destroy(eight);
  }
  CHECK(ok);
  {
    /* an inflater with a smaller window than the stream fails cleanly */
    sk_pmd_deflater_t *d = sk_pmd_deflater_create(9, 15, 9, 1);
    sk_pmd_inflater_t *small = sk_pmd_inflater_create(10, 1);
    sk_pmd_buf_t c = {0}, u = {0};
    CHECK(sk_pmd_deflate(d, msg, 50000, &c) == SK_PMD_OK);
    CHECK(sk_pmd_inflate(small, c.data, c.len, 1, &u, SIZE_MAX) == SK_PMD_ERR_CORRUPT);
    sk_pmd_buf_free(&c);
    sk_pmd_buf_free(&u);
    sk_pmd_deflater_destroy(d);
    sk_pmd_inflater_destroy(small);
  }
  /* bad arguments */
  CHECK(sk_pmd_deflater_create(-1, 8, 8, 0) == NULL);
  CHECK(sk_pmd_deflater_create(-1, 16, 8, 0) == NULL);
  CHECK(sk_pmd_deflater_create(10, 15, 8, 0) == NULL);
  CHECK(sk_pmd_deflater_create(-1, 15, 0, 0) == NULL);
  CHECK(sk_pmd_inflater_create(7, 0) == NULL);
  CHECK(sk_pmd_inflater_create(16, 0) == NULL);
  sk_pmd_deflater_destroy(NULL);
  sk_pmd_inflater_destroy(NULL);
  free(msg);
}

/* The inflated size is bounded, and so is the memory spent finding out. */
static void test_zip_bomb(void) {
  size_t big = 8u << 20, max = 65536, at;
  char *zeros = calloc(big, 1);
  sk_pmd_deflater_t *d = faulty_pmd_deflater_create(9, 15, 9, 1);
  sk_pmd_inflater_t *inf = faulty_pmd_inflater_create(15, 1);
  sk_pmd_buf_t c = {0}, u = {0};
  int rc = SK_PMD_OK;
  if (!zeros || !d || !inf) abort();
  CHECK(faulty_pmd_deflate(d, zeros, big, &c) == SK_PMD_OK && c.len < 20000);
  t_alloc_biggest = 0;
  rc = faulty_pmd_inflate(inf, c.data, c.len, 1, &u, max);
  CHECK(rc == SK_PMD_ERR_TOO_BIG);
  CHECK(u.len <= max + 1 && u.cap <= max + 1 && t_alloc_biggest <= max + 1);
  /* fed a byte at a time, it stops as soon as the limit is passed */
  u.len = 0;
  for (at = 0; at < c.len; at++) {
    rc = faulty_pmd_inflate(inf, c.data + at, 1, at + 1 == c.len, &u, max);
    if (rc != SK_PMD_OK) break;
  }
  CHECK(rc == SK_PMD_ERR_TOO_BIG && at < c.len / 2 && u.cap <= max + 1);
  /* exactly the limit passes, one byte less does not */
  {
    sk_pmd_buf_t c2 = {0}, u2 = {0};
    CHECK(faulty_pmd_deflate(d, zeros, 5000, &c2) == SK_PMD_OK);
    CHECK(faulty_pmd_inflate(inf, c2.data, c2.len, 1, &u2, 5000) == SK_PMD_OK && u2.len == 5000);
    u2.len = 0;
    CHECK(faulty_pmd_inflate(inf, c2.data, c2.len, 1, &u2, 4999) == SK_PMD_ERR_TOO_BIG);
    u2.len = 0;
    CHECK(faulty_pmd_inflate(inf, c2.data, c2.len, 1, &u2, 0) == SK_PMD_ERR_TOO_BIG);
    faulty_pmd_buf_free(&u2);
    CHECK(faulty_pmd_inflate(inf, c2.data, c2.len, 1, &u2, 5000) == SK_PMD_OK && u2.cap <= 5001);
    /* a buffer not emptied before the message counts against the limit */
    CHECK(faulty_pmd_inflate(inf, c2.data, c2.len, 1, &u2, 5000) == SK_PMD_ERR_TOO_BIG);
    faulty_pmd_buf_free(&c2);
    faulty_pmd_buf_free(&u2);
  }
  faulty_pmd_buf_free(&c);
  faulty_pmd_buf_free(&u);
  faulty_pmd_deflater_destroy(d);
  faulty_pmd_inflater_destroy(inf);
  free(zeros);
  CHECK(t_alloc_live == 0);
}

/* Fail the k-th allocation for k = 0, 1, 2, ... until a whole scenario
 * runs without failing: every path must report the failure and leak
 * nothing. */
static void test_nomem(void) {
  long k;
  int finished = 0, all_clean = 1, saw_nomem = 0, sane = 1;
  char msg[20000];
  t_fill(msg, sizeof(msg), 0);
  for (k = 0; k < 1000 && !finished; k++) {
    sk_pmd_deflater_t *d;
    sk_pmd_inflater_t *inf;
    sk_pmd_buf_t c = {0}, u = {0};
    int rc1 = -1, rc2 = -1, rc3 = -1;
    t_alloc_countdown = k;
    d = faulty_pmd_deflater_create(-1, 15, 8, 0);
    inf = faulty_pmd_inflater_create(15, 0);
    if (d && inf) {
      rc1 = faulty_pmd_deflate(d, msg, sizeof(msg), &c);
      if (rc1 == SK_PMD_OK) rc2 = faulty_pmd_inflate(inf, c.data, c.len, 1, &u, SIZE_MAX);
      if (rc2 == SK_PMD_OK) {
        sane &= u.len == sizeof(msg) && memcmp(u.data, msg, sizeof(msg)) == 0;
        c.len = u.len = 0;
        rc3 = faulty_pmd_deflate(d, msg, sizeof(msg), &c);
        if (rc3 == SK_PMD_OK) rc3 = faulty_pmd_inflate(inf, c.data, c.len, 1, &u, SIZE_MAX);
      }
    }
    sane &= rc1 == -1 || rc1 == SK_PMD_OK || rc1 == SK_PMD_ERR_NOMEM;
    sane &= rc2 == -1 || rc2 == SK_PMD_OK || rc2 == SK_PMD_ERR_NOMEM;
    saw_nomem |= rc1 == SK_PMD_ERR_NOMEM || rc2 == SK_PMD_ERR_NOMEM || !d || !inf;
    if (d && inf && rc3 == SK_PMD_OK && t_alloc_countdown >= 0) finished = 1;
    t_alloc_countdown = -1;
    faulty_pmd_buf_free(&c);
    faulty_pmd_buf_free(&u);
    faulty_pmd_deflater_destroy(d);
    faulty_pmd_inflater_destroy(inf);
    all_clean &= t_alloc_live == 0;
  }
  CHECK(finished);
  CHECK(saw_nomem);
  CHECK(sane);
  CHECK(all_clean);
}

int main(void) {
  test_negotiation();
  test_roundtrips();
  test_context_takeover();
  test_rfc_examples();
  test_corrupt();
  test_windows();
  test_zip_bomb();
  test_nomem();
  return t_summary();
}
