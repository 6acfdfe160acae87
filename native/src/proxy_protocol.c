/* PROXY protocol v1 ("PROXY TCP4 a b p q\r\n", at most 107 bytes) and v2
 * (12-byte signature, binary header) as specified by HAProxy's
 * proxy-protocol.txt. Only the source address is kept. */
#include "proxy_protocol.h"

#include <string.h>

static const char V2_SIGNATURE[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                      '\n', 'Q',  'U',  'I',  'T',  '\n'};
#define V1_MAX 107

/* True while buf[0..len) is still a prefix of `lit`. */
static int prefix_of(const char *buf, size_t len, const char *lit, size_t lit_len) {
  return memcmp(buf, lit, len < lit_len ? len : lit_len) == 0;
}

static int parse_v2(const unsigned char *p, size_t len, sk_proxy_address_t *out, size_t *consumed) {
  if (len < 16) return SK_PROXY_INCOMPLETE;
  unsigned version = p[12] >> 4, command = p[12] & 0x0f;
  size_t body = ((size_t)p[14] << 8) | p[15];
  if (version != 2 || command > 1) return SK_PROXY_ERROR;
  if (len < 16 + body) return SK_PROXY_INCOMPLETE;
  memset(out, 0, sizeof *out);
  *consumed = 16 + body;
  if (command == 0) return SK_PROXY_COMPLETE; /* LOCAL: the proxy's own connection */
  unsigned family = p[13] >> 4;
  if (family == 1) { /* AF_INET: src(4) dst(4) sport(2) dport(2) */
    if (body < 12) return SK_PROXY_ERROR;
    out->family = 4;
    memcpy(out->address, p + 16, 4);
    out->port = (uint16_t)((p[24] << 8) | p[25]);
  } else if (family == 2) { /* AF_INET6: src(16) dst(16) sport(2) dport(2) */
    if (body < 36) return SK_PROXY_ERROR;
    out->family = 6;
    memcpy(out->address, p + 16, 16);
    out->port = (uint16_t)((p[48] << 8) | p[49]);
  }
  return SK_PROXY_COMPLETE; /* AF_UNSPEC / AF_UNIX: no IP address to report */
}

static int parse_ipv4(const char *s, size_t len, uint8_t out[4]) {
  size_t pos = 0;
  for (int part = 0; part < 4; part++) {
    unsigned value = 0, digits = 0;
    while (pos < len && s[pos] >= '0' && s[pos] <= '9' && digits < 4) {
      value = value * 10 + (unsigned)(s[pos++] - '0');
      digits++;
    }
    if (digits == 0 || digits > 3 || value > 255) return 0;
    out[part] = (uint8_t)value;
    if (part < 3 && (pos >= len || s[pos++] != '.')) return 0;
  }
  return pos == len;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

/* RFC 4291 2.2 text form, with "::" compression (no embedded IPv4). */
static int parse_ipv6(const char *s, size_t len, uint8_t out[16]) {
  uint16_t groups[8] = {0};
  int count = 0, gap = -1;
  size_t pos = 0;
  if (len >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    pos = 2;
  }
  while (pos < len) {
    if (count == 8) return 0;
    unsigned value = 0, digits = 0;
    while (pos < len && hex_value(s[pos]) >= 0 && digits < 5) {
      value = value * 16 + (unsigned)hex_value(s[pos++]);
      digits++;
    }
    if (digits == 0 || digits > 4) return 0;
    groups[count++] = (uint16_t)value;
    if (pos == len) break;
    if (s[pos++] != ':') return 0;
    if (pos < len && s[pos] == ':') {
      if (gap >= 0) return 0;
      gap = count;
      pos++;
    } else if (pos == len) {
      return 0;
    }
  }
  if (gap < 0 && count != 8) return 0;
  if (gap >= 0 && count > 7) return 0;
  memset(out, 0, 16);
  int tail = gap >= 0 ? count - gap : 0;
  for (int i = 0; i < count - tail; i++) {
    out[2 * i] = (uint8_t)(groups[i] >> 8);
    out[2 * i + 1] = (uint8_t)groups[i];
  }
  for (int i = 0; i < tail; i++) {
    int slot = 8 - tail + i;
    out[2 * slot] = (uint8_t)(groups[gap + i] >> 8);
    out[2 * slot + 1] = (uint8_t)groups[gap + i];
  }
  return 1;
}

/* A decimal port, 0-65535, digits only. */
static int parse_port(const char *s, size_t len, uint16_t *out) {
  unsigned port = 0;
  if (len == 0 || len > 5) return 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    port = port * 10 + (unsigned)(s[i] - '0');
  }
  if (port > 65535) return 0;
  *out = (uint16_t)port;
  return 1;
}

/* An address of the line's protocol ("TCP4" or "TCP6"): its family (4 or
 * 6), or 0 when the protocol is another or the text is not such an address. */
static int parse_address(const char *proto, size_t proto_len, const char *s, size_t len,
                         uint8_t out[16]) {
  if (proto_len != 4) return 0;
  if (memcmp(proto, "TCP4", 4) == 0) return parse_ipv4(s, len, out) ? 4 : 0;
  if (memcmp(proto, "TCP6", 4) == 0) return parse_ipv6(s, len, out) ? 6 : 0;
  return 0;
}

static int parse_v1(const char *buf, size_t len, sk_proxy_address_t *out, size_t *consumed) {
  const char *end = memchr(buf, '\n', len < V1_MAX ? len : V1_MAX);
  if (!end) return len >= V1_MAX ? SK_PROXY_ERROR : SK_PROXY_INCOMPLETE;
  size_t line_len = (size_t)(end - buf);
  if (line_len < 7 || buf[line_len - 1] != '\r') return SK_PROXY_ERROR;
  line_len -= 1; /* without CR */
  memset(out, 0, sizeof *out);
  *consumed = line_len + 2;
  /* "PROXY" SP proto SP src SP dst SP sport SP dport */
  const char *fields[6];
  size_t lens[6];
  size_t count = 0, pos = 0;
  while (pos <= line_len && count < 6) {
    size_t start = pos;
    while (pos < line_len && buf[pos] != ' ') pos++;
    fields[count] = buf + start;
    lens[count++] = pos - start;
    pos++;
  }
  if (count >= 2 && lens[1] == 7 && memcmp(fields[1], "UNKNOWN", 7) == 0) return SK_PROXY_COMPLETE;
  if (count != 6 || pos <= line_len) return SK_PROXY_ERROR;
  /* The destination is checked as strictly as the source, though only the
   * source is kept: a line that is wrong anywhere comes from no real proxy. */
  uint8_t destination[16];
  uint16_t destination_port;
  int family = parse_address(fields[1], lens[1], fields[2], lens[2], out->address);
  if (family == 0 || parse_address(fields[1], lens[1], fields[3], lens[3], destination) != family ||
      !parse_port(fields[4], lens[4], &out->port) ||
      !parse_port(fields[5], lens[5], &destination_port))
    return SK_PROXY_ERROR;
  out->family = family;
  return SK_PROXY_COMPLETE;
}

int sk_proxy_parse(const char *buf, size_t len, sk_proxy_address_t *out, size_t *consumed) {
  *consumed = 0;
  if (len == 0) return SK_PROXY_INCOMPLETE;
  if (prefix_of(buf, len, V2_SIGNATURE, sizeof V2_SIGNATURE)) {
    if (len < sizeof V2_SIGNATURE) return SK_PROXY_INCOMPLETE;
    return parse_v2((const unsigned char *)buf, len, out, consumed);
  }
  if (prefix_of(buf, len, "PROXY ", 6)) {
    if (len < 6) return SK_PROXY_INCOMPLETE;
    return parse_v1(buf, len, out, consumed);
  }
  return SK_PROXY_NONE;
}
