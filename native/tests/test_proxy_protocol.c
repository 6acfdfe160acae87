/* Tests for the PROXY protocol header parser (v1 and v2). Every input is
 * parsed from a heap copy of exactly its length, so under AddressSanitizer a
 * read past the bytes received is an error, not a silent success. Prints one
 * line per failed check and ends with "N passed, N failed". */
#include "proxy_protocol.h"

#include "harness.h"

static const char SIG[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};

static int parse_exact(const char *data, size_t len, sk_proxy_address_t *out, size_t *consumed) {
  char *copy = malloc(len ? len : 1);
  if (len) memcpy(copy, data, len);
  int r = sk_proxy_parse(len ? copy : NULL, len, out, consumed);
  free(copy);
  return r;
}

/* A v2 header: version/command byte, family/protocol byte, then body. */
static size_t v2(char *out, unsigned char ver_cmd, unsigned char fam, const void *body,
                 size_t body_len, size_t claimed_len) {
  memcpy(out, SIG, 12);
  out[12] = (char)ver_cmd;
  out[13] = (char)fam;
  out[14] = (char)(claimed_len >> 8);
  out[15] = (char)(claimed_len & 0xff);
  memcpy(out + 16, body, body_len);
  return 16 + body_len;
}

static void test_v2_inet(void) {
  const unsigned char body[12] = {10, 1, 2, 3, 10, 0, 0, 2, 0x0f, 0xa0, 0, 80};
  char buf[64];
  size_t len = v2(buf, 0x21, 0x11, body, sizeof body, sizeof body);
  sk_proxy_address_t addr;
  size_t used;
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_COMPLETE);
  CHECK(used == 28 && addr.family == 4 && addr.port == 4000);
  CHECK(memcmp(addr.address, "\x0a\x01\x02\x03", 4) == 0);
  /* Every prefix (the signature, part of the address...) waits for more. */
  for (size_t k = 0; k < len; k++)
    CHECKF(parse_exact(buf, k, &addr, &used) == SK_PROXY_INCOMPLETE && used == 0,
           "prefix %zu of a v2 header", k);
  /* Followed by a request: only the header is consumed. */
  char more[80];
  memcpy(more, buf, len);
  memcpy(more + len, "GET / HTTP/1.1\r\n", 16);
  CHECK(parse_exact(more, len + 16, &addr, &used) == SK_PROXY_COMPLETE && used == len);
}

static void test_v2_guards(void) {
  const unsigned char body[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
  char buf[80];
  sk_proxy_address_t addr;
  size_t used;
  /* A length field larger than what arrives: keep waiting. */
  size_t len = v2(buf, 0x21, 0x11, body, 12, 200);
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_INCOMPLETE);
  len = v2(buf, 0x21, 0x11, body, 12, 0xffff);
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_INCOMPLETE);
  /* AF_INET with fewer than its 12 address bytes, AF_INET6 with fewer than 36. */
  for (size_t short_len = 0; short_len < 12; short_len++) {
    len = v2(buf, 0x21, 0x11, body, short_len, short_len);
    CHECKF(parse_exact(buf, len, &addr, &used) == SK_PROXY_ERROR, "AF_INET body of %zu", short_len);
  }
  for (size_t short_len = 0; short_len < 36; short_len += 5) {
    len = v2(buf, 0x21, 0x21, body, short_len, short_len);
    CHECKF(parse_exact(buf, len, &addr, &used) == SK_PROXY_ERROR, "AF_INET6 body of %zu",
           short_len);
  }
  len = v2(buf, 0x21, 0x21, body, 36, 36);
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_COMPLETE && addr.family == 6);
  CHECK(memcmp(addr.address, body, 16) == 0);
  /* Version other than 2, command other than LOCAL/PROXY. */
  len = v2(buf, 0x11, 0x11, body, 12, 12);
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_ERROR);
  len = v2(buf, 0x22, 0x11, body, 12, 12);
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_ERROR);
  /* LOCAL: the proxy's own connection, no address; the body is skipped. */
  len = v2(buf, 0x20, 0x00, body, 5, 5);
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_COMPLETE && addr.family == 0 && used == 21);
  /* AF_UNIX: no IP address to report. */
  len = v2(buf, 0x21, 0x31, body, 36, 36);
  CHECK(parse_exact(buf, len, &addr, &used) == SK_PROXY_COMPLETE && addr.family == 0);
}

static void test_v1(void) {
  sk_proxy_address_t addr;
  size_t used;
  const char tcp4[] = "PROXY TCP4 192.168.1.7 10.0.0.2 5000 80\r\n";
  CHECK(parse_exact(S(tcp4), &addr, &used) == SK_PROXY_COMPLETE && used == sizeof tcp4 - 1);
  CHECK(addr.family == 4 && addr.port == 5000 && memcmp(addr.address, "\xc0\xa8\x01\x07", 4) == 0);
  for (size_t k = 0; k < sizeof tcp4 - 1; k++)
    CHECKF(parse_exact(tcp4, k, &addr, &used) == SK_PROXY_INCOMPLETE, "v1 prefix %zu", k);
  CHECK(parse_exact(S("PROXY TCP6 2001:db8::1 ::1 1 2\r\n"), &addr, &used) == SK_PROXY_COMPLETE &&
        addr.family == 6 && addr.address[0] == 0x20 && addr.address[15] == 1);
  CHECK(parse_exact(S("PROXY UNKNOWN\r\n"), &addr, &used) == SK_PROXY_COMPLETE && addr.family == 0);
  CHECK(parse_exact(S("PROXY TCP4 999.1.1.1 10.0.0.2 5000 80\r\n"), &addr, &used) ==
        SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1 10.0.0.2 70000 80\r\n"), &addr, &used) == SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1 10.0.0.2 5000 80\n"), &addr, &used) == SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1\r\n"), &addr, &used) == SK_PROXY_ERROR);
  /* The destination and its port are held to the same rules as the source. */
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1 10.0.0.999 5000 80\r\n"), &addr, &used) ==
        SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1 ::1 5000 80\r\n"), &addr, &used) == SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP6 ::1 10.0.0.2 5000 80\r\n"), &addr, &used) == SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1 10.0.0.2 5000 70000\r\n"), &addr, &used) ==
        SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1 10.0.0.2 5000 8x\r\n"), &addr, &used) == SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP4 1.1.1.1 10.0.0.2 5000 \r\n"), &addr, &used) == SK_PROXY_ERROR);
  CHECK(parse_exact(S("PROXY TCP6 ::1 fe80::2 5000 443\r\n"), &addr, &used) == SK_PROXY_COMPLETE);
  CHECK(addr.family == 6 && addr.port == 5000 && addr.address[15] == 1);
  /* No line end within the 107 bytes a v1 header may take. */
  char long_line[120];
  memcpy(long_line, "PROXY TCP4 ", 11);
  memset(long_line + 11, '1', sizeof long_line - 11);
  CHECK(parse_exact(long_line, sizeof long_line, &addr, &used) == SK_PROXY_ERROR);
  CHECK(parse_exact(long_line, 100, &addr, &used) == SK_PROXY_INCOMPLETE);
}

static void test_not_proxy(void) {
  sk_proxy_address_t addr;
  size_t used;
  CHECK(parse_exact(S("GET / HTTP/1.1\r\n"), &addr, &used) == SK_PROXY_NONE && used == 0);
  CHECK(parse_exact(S("\r\n\r\nX"), &addr, &used) == SK_PROXY_NONE);
  CHECK(parse_exact(S("PROX"), &addr, &used) == SK_PROXY_INCOMPLETE);
  CHECK(parse_exact(S("PROXYZ"), &addr, &used) == SK_PROXY_NONE);
  CHECK(parse_exact("", 0, &addr, &used) == SK_PROXY_INCOMPLETE);
}

int main(void) {
  test_v2_inet();
  test_v2_guards();
  test_v1();
  test_not_proxy();
  return t_summary();
}
