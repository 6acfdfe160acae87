/* WebSocket protocol pieces (RFC 6455): client frame parser, UTF-8
 * validation, close payloads, server frame headers, handshake helpers.
 *
 * The frame parser checks every header rule as soon as the byte carrying it
 * arrives, so a bad frame fails at the same byte whatever the read splits
 * were, and before any of its payload is accepted. */
#include "ws_protocol.h"

#include "ascii.h"

#include <string.h>

#include <openssl/evp.h>

/* ---- frame parser (§5.2) ---------------------------------------------- */

enum {
  S_BYTE0,   /* FIN, RSV1-3, opcode */
  S_BYTE1,   /* MASK, 7-bit length */
  S_LEN16,   /* 16-bit extended length */
  S_LEN64,   /* 64-bit extended length */
  S_MASK,    /* 4-byte masking key */
  S_PAYLOAD, /* handing out payload slices */
  S_END,     /* payload complete: FRAME_END is due */
  S_ERROR,
};

#define IS_CONTROL(op) (((op)&0x8u) != 0)

void sk_ws_parser_init(sk_ws_parser_t *p, uint64_t max_payload, int allow_rsv1) {
  memset(p, 0, sizeof(*p));
  p->max_payload = max_payload;
  p->allow_rsv1 = allow_rsv1 != 0;
  p->state = S_BYTE0;
}

static int fail(sk_ws_parser_t *p, int close_code) {
  p->state = S_ERROR;
  p->close_code = close_code;
  return -close_code;
}

/* Byte 0 carries every rule about opcodes, reserved bits and fragmentation. */
static int on_byte0(sk_ws_parser_t *p, unsigned c) {
  unsigned op = c & 0x0Fu;
  int fin = (c & 0x80u) != 0, rsv1 = (c & 0x40u) != 0;

  /* §5.2: RSV2/RSV3 need an extension defining them; we negotiate none. */
  if (c & 0x30u) return fail(p, SK_WS_CLOSE_PROTOCOL);
  /* §5.2: opcodes 3-7 and 11-15 are reserved. */
  if ((op >= 3 && op <= 7) || op >= 11) return fail(p, SK_WS_CLOSE_PROTOCOL);
  if (IS_CONTROL(op)) {
    /* §5.5: control frames are never fragmented; RFC 7692 §6: RSV1 is for
     * data messages only. */
    if (!fin || rsv1) return fail(p, SK_WS_CLOSE_PROTOCOL);
  } else if (op == SK_WS_OP_CONT) {
    /* §5.4: a continuation needs an open message; RFC 7692 §6.1: RSV1 only
     * on a message's first frame. */
    if (!p->in_message || rsv1) return fail(p, SK_WS_CLOSE_PROTOCOL);
    p->in_message = !fin;
  } else {
    /* §5.4: a new data message cannot start inside another one. */
    if (p->in_message || (rsv1 && !p->allow_rsv1)) return fail(p, SK_WS_CLOSE_PROTOCOL);
    p->in_message = !fin;
    p->msg_opcode = op;
    p->msg_compressed = rsv1;
    p->message_total = 0;
  }
  p->opcode = op;
  p->fin = fin;
  p->rsv1 = rsv1;
  p->message_opcode = IS_CONTROL(op) ? op : p->msg_opcode;
  p->compressed = IS_CONTROL(op) ? 0 : p->msg_compressed;
  return 0;
}

/* The length is known: account it against the message limit before any of
 * the payload arrives. */
static int set_length(sk_ws_parser_t *p, uint64_t len) {
  p->payload_len = len;
  p->remaining = len;
  if (!IS_CONTROL(p->opcode)) {
    if (len > p->max_payload - p->message_total) return fail(p, SK_WS_CLOSE_TOO_BIG);
    p->message_total += len;
  }
  p->state = S_MASK;
  p->hdr_left = 4;
  return 0;
}

/* XOR buf with the key, starting at key offset pos (§5.3). Eight bytes at a
 * time: the key repeats every 4 bytes, so an 8-byte rotated copy of it lines
 * up with every 8-byte step. */
static void unmask(char *buf, size_t n, const unsigned char key[4], unsigned pos) {
  unsigned char *b = (unsigned char *)buf, k8[8];
  uint64_t kw, w;
  size_t i = 0;
  unsigned j;
  for (j = 0; j < 8; j++) k8[j] = key[(pos + j) & 3u];
  memcpy(&kw, k8, 8);
  for (; n - i >= 8; i += 8) {
    memcpy(&w, b + i, 8);
    w ^= kw;
    memcpy(b + i, &w, 8);
  }
  for (; i < n; i++) b[i] ^= key[(pos + i) & 3u];
}

int sk_ws_parse(sk_ws_parser_t *p, char *in, size_t len, size_t *consumed, char **data,
                size_t *data_len) {
  size_t i = 0;
  int rc;

  *consumed = 0;
  *data = NULL;
  *data_len = 0;
  switch (p->state) {
  case S_ERROR: return -p->close_code;
  case S_END: p->state = S_BYTE0; return SK_WS_FRAME_END;
  case S_PAYLOAD: {
    size_t n = len;
    if (n == 0) return SK_WS_NEED_MORE;
    if (p->remaining < n) n = (size_t)p->remaining;
    unmask(in, n, p->mask, p->mask_pos);
    p->mask_pos = (p->mask_pos + (unsigned)(n & 3u)) & 3u;
    p->remaining -= n;
    if (p->remaining == 0) p->state = S_END;
    *data = in;
    *data_len = n;
    *consumed = n;
    return SK_WS_DATA;
  }
  default: break;
  }

  while (i < len) {
    unsigned c = (unsigned char)in[i++];
    switch (p->state) {
    case S_BYTE0:
      if ((rc = on_byte0(p, c)) != 0) return rc;
      p->state = S_BYTE1;
      break;
    case S_BYTE1:
      /* §5.1: a server MUST close on an unmasked client frame. */
      if (!(c & 0x80u)) return fail(p, SK_WS_CLOSE_PROTOCOL);
      c &= 0x7Fu;
      /* §5.5: control payloads are at most 125 bytes. */
      if (IS_CONTROL(p->opcode) && c > SK_WS_MAX_CONTROL) return fail(p, SK_WS_CLOSE_PROTOCOL);
      p->len_acc = 0;
      if (c == 126) {
        p->state = S_LEN16;
        p->hdr_left = 2;
      } else if (c == 127) {
        p->state = S_LEN64;
        p->hdr_left = 8;
      } else if ((rc = set_length(p, c)) != 0) {
        return rc;
      }
      break;
    case S_LEN16:
    case S_LEN64:
      /* §5.2: the 64-bit length's most significant bit MUST be 0. */
      if (p->state == S_LEN64 && p->hdr_left == 8 && (c & 0x80u))
        return fail(p, SK_WS_CLOSE_PROTOCOL);
      p->len_acc = (p->len_acc << 8) | c;
      if (--p->hdr_left > 0) break;
      /* §5.2: "the minimal number of bytes MUST be used to encode the length". */
      if (p->state == S_LEN16 ? p->len_acc < 126 : p->len_acc <= 0xFFFFu)
        return fail(p, SK_WS_CLOSE_PROTOCOL);
      if ((rc = set_length(p, p->len_acc)) != 0) return rc;
      break;
    case S_MASK:
      p->mask[4 - p->hdr_left] = (unsigned char)c;
      if (--p->hdr_left > 0) break;
      p->mask_pos = 0;
      p->state = p->payload_len > 0 ? S_PAYLOAD : S_END;
      *consumed = i;
      return SK_WS_FRAME_START;
    default: /* unreachable: the other states returned above */
      return fail(p, SK_WS_CLOSE_PROTOCOL);
    }
  }
  *consumed = len;
  return SK_WS_NEED_MORE;
}

/* ---- UTF-8 (RFC 3629 §4) ---------------------------------------------- */

void sk_utf8_init(sk_utf8_state_t *s) {
  s->need = 0;
  s->lo = 0x80;
  s->hi = 0xBF;
  s->failed = 0;
}

int sk_utf8_feed(sk_utf8_state_t *s, const char *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data, *end;
  unsigned need = s->need, lo = s->lo, hi = s->hi, c;

  if (s->failed) return 0;
  if (len == 0) return 1; /* data may be NULL */
  end = p + len;
  while (p < end) {
    if (need == 0) {
      /* ASCII runs, 8 bytes at a time. */
      uint64_t w;
      while (end - p >= 8) {
        memcpy(&w, p, 8);
        if (w & 0x8080808080808080ull) break;
        p += 8;
      }
      if (p == end) break;
      c = *p++;
      if (c < 0x80) continue;
      /* The first byte fixes the length and, through the range of the
       * second byte, rules out overlongs (C0, C1, E0 80-9F, F0 80-8F),
       * surrogates (ED A0-BF) and code points past U+10FFFF (F4 90-BF, F5-FF). */
      if (c < 0xC2) {
        goto bad; /* a stray continuation byte, or an overlong C0/C1 */
      } else if (c < 0xE0) {
        need = 1;
        lo = 0x80;
        hi = 0xBF;
      } else if (c < 0xF0) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
      } else if (c < 0xF5) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
      } else {
        goto bad;
      }
    } else {
      c = *p++;
      if (c < lo || c > hi) goto bad;
      need--;
      lo = 0x80;
      hi = 0xBF;
    }
  }
  s->need = need;
  s->lo = (unsigned char)lo;
  s->hi = (unsigned char)hi;
  return 1;
bad:
  s->failed = 1;
  return 0;
}

int sk_utf8_finish(const sk_utf8_state_t *s) {
  return !s->failed && s->need == 0;
}

int sk_utf8_valid(const char *data, size_t len) {
  sk_utf8_state_t s;
  sk_utf8_init(&s);
  return sk_utf8_feed(&s, data, len) && sk_utf8_finish(&s);
}

/* ---- close frames (§5.5.1, §7.4) -------------------------------------- */

int sk_ws_close_code_valid(unsigned code) {
  /* §7.4.1/§7.4.2: 1004-1006 and 1015 are reserved or never sent; 1012-1014
   * are registered with IANA; 3000-4999 belong to libraries and apps. */
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

int sk_ws_close_parse(const char *payload, size_t len, unsigned *code, const char **reason,
                      size_t *reason_len) {
  unsigned c;
  if (code) *code = SK_WS_CLOSE_NO_STATUS;
  if (reason) *reason = NULL;
  if (reason_len) *reason_len = 0;
  if (len == 0) return 0;
  /* §5.5.1: a body starts with a 2-byte code. */
  if (len == 1) return SK_WS_CLOSE_PROTOCOL;
  c = ((unsigned)(unsigned char)payload[0] << 8) | (unsigned char)payload[1];
  if (!sk_ws_close_code_valid(c)) return SK_WS_CLOSE_PROTOCOL;
  if (!sk_utf8_valid(payload + 2, len - 2)) return SK_WS_CLOSE_INVALID_DATA;
  if (code) *code = c;
  if (reason) *reason = payload + 2;
  if (reason_len) *reason_len = len - 2;
  return 0;
}

size_t sk_ws_close_payload(char out[SK_WS_MAX_CONTROL], unsigned code, const char *reason,
                           size_t reason_len) {
  size_t n = reason_len, back;
  if (code == 0 || code == SK_WS_CLOSE_NO_STATUS) return 0;
  out[0] = (char)((code >> 8) & 0xFFu);
  out[1] = (char)(code & 0xFFu);
  if (reason == NULL) return 2;
  if (n > SK_WS_MAX_CONTROL - 2) {
    /* Cut before the sequence that straddles the limit: step back over at
     * most 3 continuation bytes to its lead byte. */
    n = SK_WS_MAX_CONTROL - 2;
    for (back = 0; back < 3 && n > 0 && ((unsigned char)reason[n] & 0xC0u) == 0x80u; back++) n--;
  }
  memcpy(out + 2, reason, n);
  return 2 + n;
}

/* ---- server frames (§5.2) --------------------------------------------- */

size_t sk_ws_frame_header(char out[SK_WS_MAX_HEADER], unsigned opcode, int fin, int rsv1,
                          uint64_t payload_len) {
  int i;
  out[0] = (char)((fin ? 0x80u : 0u) | (rsv1 ? 0x40u : 0u) | (opcode & 0x0Fu));
  if (payload_len < 126) {
    out[1] = (char)payload_len;
    return 2;
  }
  if (payload_len <= 0xFFFFu) {
    out[1] = 126;
    out[2] = (char)((payload_len >> 8) & 0xFFu);
    out[3] = (char)(payload_len & 0xFFu);
    return 4;
  }
  out[1] = 127;
  for (i = 0; i < 8; i++) out[2 + i] = (char)((payload_len >> (56 - 8 * i)) & 0xFFu);
  return 10;
}

/* ---- handshake (§4.2.1, §4.2.2) --------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sk_ws_base64_encode(char *out, const void *in, size_t len) {
  const unsigned char *s = in;
  size_t i, o = 0;
  for (i = 0; len - i >= 3; i += 3) {
    uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
    out[o++] = B64[v >> 18];
    out[o++] = B64[(v >> 12) & 63u];
    out[o++] = B64[(v >> 6) & 63u];
    out[o++] = B64[v & 63u];
  }
  if (len - i > 0) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (len - i == 2) v |= (uint32_t)s[i + 1] << 8;
    out[o++] = B64[v >> 18];
    out[o++] = B64[(v >> 12) & 63u];
    out[o++] = len - i == 2 ? B64[(v >> 6) & 63u] : '=';
    out[o++] = '=';
  }
  return o;
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int sk_ws_base64_decode(void *out, size_t cap, const char *in, size_t len, size_t *out_len) {
  unsigned char *d = out;
  size_t i, o = 0, pad = 0, total;
  /* Padded input only (RFC 4648 §3.2): whole quanta, '=' only at the end.
   * Nonzero pad bits are accepted (§3.5 lets decoders choose). */
  if (len % 4 != 0) return -1;
  if (len > 0 && in[len - 1] == '=') pad = in[len - 2] == '=' ? 2 : 1;
  total = len / 4 * 3 - pad;
  if (total > cap) return -1;
  for (i = 0; i < len; i += 4) {
    int v[4], k, n = 4;
    uint32_t w = 0;
    if (i + 4 == len) n = 4 - (int)pad;
    for (k = 0; k < 4; k++) {
      v[k] = k < n ? b64_value((unsigned char)in[i + (size_t)k]) : 0;
      if (v[k] < 0) return -1;
      w = (w << 6) | (uint32_t)v[k];
    }
    d[o++] = (unsigned char)(w >> 16);
    if (n > 2) d[o++] = (unsigned char)(w >> 8);
    if (n > 3) d[o++] = (unsigned char)w;
  }
  *out_len = o;
  return 0;
}

int sk_ws_key_valid(const char *key, size_t len) {
  unsigned char raw[18];
  size_t n;
  /* §4.2.1 item 5: "base64-encoded ... that, when decoded, is 16 bytes". */
  if (len != 24) return 0;
  return sk_ws_base64_decode(raw, sizeof(raw), key, len, &n) == 0 && n == 16;
}

int sk_ws_accept(const char *key, size_t len, char out[SK_WS_ACCEPT_LEN]) {
  static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char joined[24 + sizeof(GUID) - 1];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  if (!sk_ws_key_valid(key, len)) return -1;
  /* §4.2.2 item 5.4: base64(SHA-1(key + GUID)), the key as sent. */
  memcpy(joined, key, 24);
  memcpy(joined + 24, GUID, sizeof(GUID) - 1);
  if (EVP_Digest(joined, sizeof(joined), md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
    return -1;
  sk_ws_base64_encode(out, md, 20);
  return 0;
}

/* Next element of a comma-separated list (RFC 9110 §5.6.1), OWS trimmed.
 * Returns 0 at the end of the list. */
static int next_element(const char **pos, const char *end, const char **el, size_t *el_len) {
  const char *p = *pos, *s, *e;
  if (p >= end) return 0;
  s = p;
  while (p < end && *p != ',') p++;
  e = p;
  *pos = p < end ? p + 1 : p;
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
  *el = s;
  *el_len = (size_t)(e - s);
  return 1;
}

int sk_ws_header_has_token(const char *value, size_t len, const char *token, size_t token_len) {
  const char *pos = value, *end, *el;
  size_t n, i;
  if (value == NULL || token_len == 0) return 0;
  end = value + len;
  while (next_element(&pos, end, &el, &n)) {
    if (n != token_len) continue;
    for (i = 0; i < n && sk_ascii_lower(el[i]) == sk_ascii_lower(token[i]); i++) {
    }
    if (i == n) return 1;
  }
  return 0;
}

int sk_ws_protocol_select(const char *value, size_t len, const char **out, size_t *out_len) {
  const char *pos = value, *end, *el;
  size_t n;
  *out = NULL;
  *out_len = 0;
  if (value == NULL) return 0;
  end = value + len;
  while (next_element(&pos, end, &el, &n)) {
    if (n > 0) {
      *out = el;
      *out_len = n;
      return 1;
    }
  }
  return 0;
}
