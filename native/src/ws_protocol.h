/* WebSocket protocol pieces (RFC 6455), pure functions of their input.
 *
 * - sk_ws_parse(): incremental parser for the frames a client sends. It is
 *   fed arbitrary splits of the byte stream (one byte at a time works), keeps
 *   the frame header in its own state and hands back one event per call:
 *   the start of a frame, a slice of unmasked payload (unmasked in place in
 *   the caller's buffer), the end of a frame, "need more", or an error whose
 *   absolute value is the close code to send (1002 or 1009).
 * - sk_utf8_*: incremental UTF-8 validation, failing at the first bad byte.
 * - sk_ws_close_*: close payload validation and construction.
 * - sk_ws_frame_header(): header of an (unmasked) server frame.
 * - handshake helpers: Sec-WebSocket-Key / -Accept, base64, header tokens.
 *
 * Nothing here allocates, except sk_ws_accept() through OpenSSL's digest. */
#ifndef SK_WS_PROTOCOL_H
#define SK_WS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* Opcodes (§5.2, §11.8). */
#define SK_WS_OP_CONT 0x0
#define SK_WS_OP_TEXT 0x1
#define SK_WS_OP_BINARY 0x2
#define SK_WS_OP_CLOSE 0x8
#define SK_WS_OP_PING 0x9
#define SK_WS_OP_PONG 0xA

/* Close codes (§7.4.1) used by this module and its callers. */
#define SK_WS_CLOSE_NORMAL 1000
#define SK_WS_CLOSE_GOING_AWAY 1001
#define SK_WS_CLOSE_PROTOCOL 1002
#define SK_WS_CLOSE_UNSUPPORTED 1003
#define SK_WS_CLOSE_NO_STATUS 1005 /* never sent: "the close frame had no code" */
#define SK_WS_CLOSE_ABNORMAL 1006  /* never sent: "the TCP connection just ended" */
#define SK_WS_CLOSE_INVALID_DATA 1007
#define SK_WS_CLOSE_POLICY 1008
#define SK_WS_CLOSE_TOO_BIG 1009
#define SK_WS_CLOSE_INTERNAL 1011

/* Return values of sk_ws_parse. Errors are the negated close code. */
#define SK_WS_NEED_MORE 0   /* all input consumed (or none given), no event */
#define SK_WS_FRAME_START 1 /* header complete: read the frame fields of the parser */
#define SK_WS_DATA 2        /* *data, *data_len: unmasked payload bytes */
#define SK_WS_FRAME_END 3   /* the frame's payload is complete */
#define SK_WS_ERR_PROTOCOL (-SK_WS_CLOSE_PROTOCOL)
#define SK_WS_ERR_TOO_BIG (-SK_WS_CLOSE_TOO_BIG)

#define SK_WS_MAX_HEADER 14   /* 2 + 8 (length) + 4 (mask) */
#define SK_WS_MAX_CONTROL 125 /* control frame payload limit (§5.5) */
#define SK_WS_NO_LIMIT UINT64_MAX

typedef struct sk_ws_parser {
  /* Configuration, set by sk_ws_parser_init. */
  uint64_t max_payload; /* limit on a data message's total payload (as received,
                           i.e. compressed when RSV1 is set); control frames
                           are bounded by 125 instead */
  int allow_rsv1;       /* permessage-deflate was negotiated */

  /* The current frame: set at SK_WS_FRAME_START, valid through its
   * SK_WS_FRAME_END (the next header overwrites them). A data message is
   * complete at the FRAME_END of a data frame (opcode < 8) with fin set. */
  unsigned opcode;         /* as sent: 0 for a continuation */
  unsigned message_opcode; /* TEXT/BINARY for every frame of a data message
                              (continuations included); the opcode for control */
  int fin;
  int rsv1;       /* RSV1 of this frame */
  int compressed; /* data frames: RSV1 of the message's first frame */
  uint64_t payload_len;
  int close_code; /* after an error: the code to close with (1002 or 1009) */

  /* Private. */
  int state;
  unsigned hdr_left; /* bytes left in the length or mask field */
  uint64_t len_acc;
  uint64_t remaining; /* payload bytes left in the current frame */
  uint64_t message_total;
  unsigned char mask[4];
  unsigned mask_pos;
  int in_message;
  unsigned msg_opcode;
  int msg_compressed;
} sk_ws_parser_t;

/* max_payload: SK_WS_NO_LIMIT for none; allow_rsv1: nonzero when
 * permessage-deflate was negotiated. */
void sk_ws_parser_init(sk_ws_parser_t *p, uint64_t max_payload, int allow_rsv1);

/* Parse from in[0..len). *consumed is always set: the caller continues with
 * in + *consumed (also after NEED_MORE, where it is all of len). On
 * SK_WS_DATA the slice lies inside in[0..len) and has been unmasked in
 * place. A frame with an empty payload gives FRAME_START then FRAME_END
 * (FRAME_END needs no input: it is returned even when len is 0). After an
 * error every call returns the same error and consumes nothing. */
int sk_ws_parse(sk_ws_parser_t *p, char *in, size_t len, size_t *consumed, char **data,
                size_t *data_len);

/* ---- UTF-8 (RFC 3629 §4, as required by RFC 6455 §5.6, §8.1) ---- */

typedef struct sk_utf8_state {
  unsigned need;        /* continuation bytes still expected */
  unsigned char lo, hi; /* allowed range of the next continuation byte */
  int failed;
} sk_utf8_state_t;

void sk_utf8_init(sk_utf8_state_t *s);
/* Returns 1 while the bytes so far are a valid prefix, 0 from the first
 * invalid byte on (sticky). */
int sk_utf8_feed(sk_utf8_state_t *s, const char *data, size_t len);
/* At the end of a message: 1 if valid and no sequence is left open. */
int sk_utf8_finish(const sk_utf8_state_t *s);
/* Whole buffer: 1 if valid. */
int sk_utf8_valid(const char *data, size_t len);

/* ---- close frames (§5.5.1, §7.4) ---- */

/* Is a code received in a close frame acceptable? (1000-1003, 1007-1014,
 * 3000-4999) */
int sk_ws_close_code_valid(unsigned code);

/* Validate a received close payload. Returns 0 when valid, with *code the
 * received code (SK_WS_CLOSE_NO_STATUS for an empty payload) and the reason
 * slice; otherwise the code to close with: 1002 (one byte, invalid code) or
 * 1007 (reason not UTF-8). The out parameters may be NULL. */
int sk_ws_close_parse(const char *payload, size_t len, unsigned *code, const char **reason,
                      size_t *reason_len);

/* Build a close payload into out[0..125): the code big-endian, then the
 * reason cut to 123 bytes at a UTF-8 sequence boundary. code 0 or 1005
 * gives an empty payload. Returns the payload length. */
size_t sk_ws_close_payload(char out[SK_WS_MAX_CONTROL], unsigned code, const char *reason,
                           size_t reason_len);

/* ---- server frames (§5.2) ---- */

/* Header of an unmasked server frame; returns its size (2, 4 or 10). */
size_t sk_ws_frame_header(char out[SK_WS_MAX_HEADER], unsigned opcode, int fin, int rsv1,
                          uint64_t payload_len);

/* ---- handshake (§4.2) ---- */

#define SK_WS_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 */

/* Standard base64 with '=' padding (RFC 4648 §4). encode writes
 * 4 * ceil(len / 3) chars (no NUL) and returns that count. decode returns 0
 * and the length in *out_len, or -1 when the input is not canonical-length
 * padded base64 or does not fit in cap bytes. */
size_t sk_ws_base64_encode(char *out, const void *in, size_t len);
int sk_ws_base64_decode(void *out, size_t cap, const char *in, size_t len, size_t *out_len);

/* Sec-WebSocket-Key: base64 decoding to exactly 16 bytes. */
int sk_ws_key_valid(const char *key, size_t len);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) into out.
 * Returns 0, or -1 when the key is invalid or the digest failed. */
int sk_ws_accept(const char *key, size_t len, char out[SK_WS_ACCEPT_LEN]);

/* Does a comma-separated header value (e.g. "keep-alive, Upgrade") hold the
 * token, compared case-insensitively? Elements are trimmed of OWS. */
int sk_ws_header_has_token(const char *value, size_t len, const char *token, size_t token_len);

/* The first non-empty element of a Sec-WebSocket-Protocol list, as a slice
 * of value. Returns 1 when found, 0 when the list is empty. */
int sk_ws_protocol_select(const char *value, size_t len, const char **out, size_t *out_len);

#endif
