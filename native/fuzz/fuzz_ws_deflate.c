/* libFuzzer target for native/src/ws_deflate.c.
 *
 * Negotiation: the input, as a Sec-WebSocket-Extensions value, is
 * negotiated against four server configurations. An accepted offer must
 * give parameters in range, a response within SK_PMD_RESPONSE_MAX that
 * honours the offer's limits, and the response, offered back, must be
 * accepted with the very same parameters and response.
 *
 * Inflate: the input, as a compressed message, is inflated under a small
 * max_payload (picked by the first byte) whole and in pseudo-random pieces;
 * both must give the same status and bytes, never more than max_payload
 * bytes of output nor a buffer past max_payload + 1 bytes.
 *
 * Deflate: the input, split into two messages, is compressed and inflated
 * back with and without context takeover and must come back unchanged.
 * Any violation calls abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                 \
  do {                                                                                             \
    if (!(c)) abort();                                                                             \
  } while (0)

static const sk_pmd_config_t CONFIGS[4] = {
    {1, 0, 15, 0, 15}, /* dedicated */
    {1, 1, 15, 1, 15}, /* shared */
    {1, 0, 10, 0, 9},  /* small dedicated windows */
    {1, 1, 12, 0, 8},  /* shared compressor, tiny decompressor */
};

static const size_t LIMITS[4] = {0, 100, 4096, 70000};

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static int contains(const char *s, size_t n, const char *lit) {
  size_t k = strlen(lit), i;
  for (i = 0; i + k <= n; i++)
    if (memcmp(s + i, lit, k) == 0) return 1;
  return 0;
}

static void check_negotiation(const char *hdr, size_t n) {
  size_t c;
  for (c = 0; c < 4; c++) {
    const sk_pmd_config_t *cfg = &CONFIGS[c];
    sk_pmd_params_t pm, pm2;
    char resp[SK_PMD_RESPONSE_MAX], resp2[SK_PMD_RESPONSE_MAX];
    size_t rl = (size_t)-1, rl2;
    if (!sk_pmd_negotiate(cfg, hdr, n, &pm, resp, sizeof(resp), &rl)) {
      REQUIRE(rl == 0);
      continue;
    }
    REQUIRE(rl >= 18 && rl <= SK_PMD_RESPONSE_MAX && memcmp(resp, "permessage-deflate", 18) == 0);
    REQUIRE(pm.server_window_bits >= 9 && pm.server_window_bits <= 15);
    REQUIRE(pm.server_window_bits <= (cfg->compressor_bits < 9 ? 9 : cfg->compressor_bits));
    REQUIRE(pm.client_window_bits >= 8 && pm.client_window_bits <= 15);
    REQUIRE(!cfg->shared_compressor || pm.server_no_context_takeover);
    REQUIRE(!cfg->shared_decompressor || pm.client_no_context_takeover);
    REQUIRE(pm.server_no_context_takeover == contains(resp, rl, "server_no_context_takeover"));
    REQUIRE(pm.client_no_context_takeover == contains(resp, rl, "client_no_context_takeover"));
    /* the response, offered back, negotiates to itself */
    REQUIRE(sk_pmd_negotiate(cfg, resp, rl, &pm2, resp2, sizeof(resp2), &rl2) == 1);
    REQUIRE(rl2 == rl && memcmp(resp2, resp, rl) == 0);
    REQUIRE(memcmp(&pm, &pm2, sizeof(pm)) == 0);
  }
}

static int inflate_pieces(const char *in, size_t n, size_t max, int pieces, sk_pmd_buf_t *out) {
  sk_pmd_inflater_t *inf = sk_pmd_inflater_create(15, 1);
  size_t at = 0;
  int rc = SK_PMD_OK;
  REQUIRE(inf != NULL);
  do {
    size_t k = pieces ? (size_t)(next() % 40) : n;
    char *piece;
    if (k > n - at) k = n - at;
    piece = malloc(k ? k : 1);
    REQUIRE(piece != NULL);
    memcpy(piece, in + at, k);
    rc = sk_pmd_inflate(inf, piece, k, at + k == n, out, max);
    free(piece);
    at += k;
    REQUIRE(out->len <= max + 1 && out->cap <= max + 1);
    if (rc != SK_PMD_OK) break;
    REQUIRE(out->len <= max);
  } while (at < n);
  REQUIRE(rc == SK_PMD_OK || rc == SK_PMD_ERR_CORRUPT || rc == SK_PMD_ERR_TOO_BIG);
  sk_pmd_inflater_destroy(inf);
  return rc;
}

static void check_inflate(const char *in, size_t n, size_t max) {
  sk_pmd_buf_t a = {0}, b = {0};
  int ra = inflate_pieces(in, n, max, 0, &a), rb = inflate_pieces(in, n, max, 1, &b);
  REQUIRE(ra == rb);
  if (ra == SK_PMD_OK) REQUIRE(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
  sk_pmd_buf_free(&a);
  sk_pmd_buf_free(&b);
}

static void check_roundtrip(const char *in, size_t n, unsigned sel) {
  int takeover = sel & 1, bits = 9 + (int)((sel >> 1) % 7), m;
  sk_pmd_deflater_t *d = sk_pmd_deflater_create((int)(sel % 10), bits, 1 + (int)((sel >> 4) % 9),
                                                !takeover);
  sk_pmd_inflater_t *inf = sk_pmd_inflater_create(bits, !takeover);
  size_t cut = n ? (size_t)(next() % (n + 1)) : 0;
  REQUIRE(d != NULL && inf != NULL);
  for (m = 0; m < 3; m++) {
    /* messages: in[0..cut), in[cut..n), then in[0..cut) again */
    const char *msg = m == 1 ? in + cut : in;
    size_t len = m == 1 ? n - cut : cut;
    sk_pmd_buf_t c = {0}, u = {0};
    REQUIRE(sk_pmd_deflate(d, msg, len, &c) == SK_PMD_OK);
    REQUIRE(c.len > 0); /* never empty: an empty payload would desync the peer */
    REQUIRE(sk_pmd_inflate(inf, c.data, c.len, 1, &u, len) == SK_PMD_OK);
    REQUIRE(u.len == len && (len == 0 || memcmp(u.data, msg, len) == 0));
    sk_pmd_buf_free(&c);
    sk_pmd_buf_free(&u);
  }
  sk_pmd_deflater_destroy(d);
  sk_pmd_inflater_destroy(inf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy = calloc(size ? size : 1, 1);
  size_t i;
  REQUIRE(copy != NULL);
  if (size) memcpy(copy, data, size);
  rng = 0x9e3779b97f4a7c15ull;
  for (i = 0; i < size && i < 64; i++) rng = (rng ^ data[i]) * 0x100000001b3ull;
  if (rng == 0) rng = 1;

  check_negotiation(copy, size);
  if (size > 0) {
    check_inflate(copy + 1, size - 1, LIMITS[data[0] & 3]);
    check_roundtrip(copy + 1, size - 1, data[0]);
  }
  free(copy);
  return 0;
}
