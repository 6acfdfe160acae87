/* libFuzzer target for native/src/proxy_protocol.c.
 *
 * The input is parsed whole and as each of its prefixes, as the server does
 * while the first bytes of a connection arrive: a prefix may only answer
 * INCOMPLETE or exactly what the whole input answers; a COMPLETE header
 * must be found exactly when its last byte arrives, and then describe the
 * same bytes whatever follows.
 *
 * A COMPLETE answer is checked against the wire: v1 ends at the first LF,
 * after a CR, within 107 bytes, and its source address is what inet_pton
 * reads from the third field (our IPv6 grammar is a subset of inet_pton's;
 * our IPv4 grammar also takes leading zeros, which inet_pton refuses); v2
 * spans 16 + the length field and carries the bytes at fixed offsets.
 *
 * Every buffer ends exactly where its allocation ends, so AddressSanitizer
 * sees any read past the end. Any violation calls abort(). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                 \
  do {                                                                                             \
    if (!(c)) abort();                                                                             \
  } while (0)

static int parse_exact(const uint8_t *data, size_t len, sk_proxy_address_t *out, size_t *used) {
  char *copy = malloc(len ? len : 1);
  int r;
  REQUIRE(copy != NULL);
  if (len) memcpy(copy, data, len);
  r = sk_proxy_parse(len ? copy : NULL, len, out, used);
  free(copy);
  REQUIRE(r == SK_PROXY_NONE || r == SK_PROXY_INCOMPLETE || r == SK_PROXY_COMPLETE ||
          r == SK_PROXY_ERROR);
  if (r == SK_PROXY_COMPLETE) {
    REQUIRE(*used > 0 && *used <= len);
    REQUIRE(out->family == 0 || out->family == 4 || out->family == 6);
  } else if (r != SK_PROXY_ERROR) {
    REQUIRE(*used == 0); /* the server skips *used bytes after NONE too */
  }
  return r;
}

static void check_v1(const uint8_t *data, size_t used, const sk_proxy_address_t *a) {
  const char *line = (const char *)data, *f[4];
  size_t lens[4], pos = 6, i;
  char text[64];
  unsigned char ref[16];
  REQUIRE(used <= 107 && used >= 8 && data[used - 1] == '\n' && data[used - 2] == '\r');
  REQUIRE(memchr(data, '\n', used - 1) == NULL);
  if (a->family == 0) return; /* UNKNOWN */
  /* "PROXY " proto SP src SP dst SP sport SP dport CR LF */
  for (i = 0; i < 4; i++) {
    const char *sp = memchr(line + pos, ' ', used - 2 - pos);
    REQUIRE(sp != NULL);
    f[i] = line + pos;
    lens[i] = (size_t)(sp - f[i]);
    pos += lens[i] + 1;
  }
  REQUIRE(lens[0] == 4 && memcmp(f[0], a->family == 4 ? "TCP4" : "TCP6", 4) == 0);
  REQUIRE(lens[1] < sizeof text);
  memcpy(text, f[1], lens[1]);
  text[lens[1]] = '\0';
  if (a->family == 6) {
    REQUIRE(inet_pton(AF_INET6, text, ref) == 1 && memcmp(ref, a->address, 16) == 0);
  } else if (inet_pton(AF_INET, text, ref) == 1) {
    REQUIRE(memcmp(ref, a->address, 4) == 0);
  }
}

static void check_v2(const uint8_t *data, size_t used, const sk_proxy_address_t *a) {
  size_t body = ((size_t)data[14] << 8) | data[15];
  REQUIRE(used == 16 + body && (data[12] >> 4) == 2);
  if ((data[12] & 0x0f) == 0 || ((data[13] >> 4) != 1 && (data[13] >> 4) != 2)) {
    REQUIRE(a->family == 0); /* LOCAL, or no IP address */
  } else if (a->family == 4) {
    REQUIRE(body >= 12 && memcmp(a->address, data + 16, 4) == 0);
    REQUIRE(a->port == ((data[24] << 8) | data[25]));
  } else {
    REQUIRE(a->family == 6 && body >= 36 && memcmp(a->address, data + 16, 16) == 0);
    REQUIRE(a->port == ((data[48] << 8) | data[49]));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sk_proxy_address_t whole, part;
  size_t used, part_used, k;
  int r = parse_exact(data, size, &whole, &used), p;
  if (r == SK_PROXY_COMPLETE) {
    if (data[0] == 'P') check_v1(data, used, &whole);
    else check_v2(data, used, &whole);
  }
  for (k = 0; k < size; k++) {
    p = parse_exact(data, k, &part, &part_used);
    if (r == SK_PROXY_COMPLETE && k < used) {
      REQUIRE(p == SK_PROXY_INCOMPLETE);
    } else {
      REQUIRE(p == SK_PROXY_INCOMPLETE || p == r);
      if (p == SK_PROXY_COMPLETE)
        REQUIRE(part_used == used && part.family == whole.family && part.port == whole.port &&
                memcmp(part.address, whole.address, sizeof part.address) == 0);
    }
    /* a header needs at most 107 (v1) or 16 + 65535 (v2) bytes to settle */
    if (k > 16 + 65535) break;
  }
  return 0;
}
