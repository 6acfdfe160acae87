/* permessage-deflate (RFC 7692) on top of zlib.
 *
 * - sk_pmd_negotiate(): picks the first acceptable permessage-deflate offer
 *   of a client's Sec-WebSocket-Extensions header for the server's
 *   configuration and writes the response header value.
 * - sk_pmd_deflate(): compresses one message (raw DEFLATE, flushed with an
 *   empty stored block whose 00 00 ff ff tail is stripped, §7.2.1).
 * - sk_pmd_inflate(): decompresses one message fed piecewise, appending the
 *   00 00 ff ff tail at its end (§7.2.2), in bounded steps: the output never
 *   grows past max_payload + 1 bytes, so a small "zip bomb" cannot use more
 *   memory than a plain message of the maximum size.
 *
 * Errors are negated WebSocket close codes, like the frame parser's. */
#ifndef SK_WS_DEFLATE_H
#define SK_WS_DEFLATE_H

#include <stddef.h>

#define SK_PMD_OK 0
#define SK_PMD_ERR_CORRUPT (-1002) /* not a valid DEFLATE stream (§7.2.2: fail) */
#define SK_PMD_ERR_TOO_BIG (-1009) /* inflated message over max_payload */
#define SK_PMD_ERR_NOMEM (-1011)   /* allocation failed (or zlib misuse) */

/* Room for the longest response value sk_pmd_negotiate can write. */
#define SK_PMD_RESPONSE_MAX 128

/* The server's wishes. The shared compressor is one deflate stream used by
 * every connection, so it can only be offered without context takeover; a
 * shared decompressor likewise needs client_no_context_takeover. */
typedef struct sk_pmd_config {
  int enabled;             /* 0: never negotiate */
  int shared_compressor;   /* 1: answer server_no_context_takeover always */
  int compressor_bits;     /* our compressor's window, 9..15 (the shared one's too) */
  int shared_decompressor; /* 1: answer client_no_context_takeover always */
  int decompressor_bits;   /* a dedicated decompressor's window, 8..15; ignored
                              when shared (a fresh 15-bit window per message) */
} sk_pmd_config_t;

/* What was agreed: how to create the deflater and the inflater. */
typedef struct sk_pmd_params {
  int server_no_context_takeover; /* deflater: reset before every message */
  int client_no_context_takeover; /* inflater: reset before every message */
  int server_window_bits;         /* deflater window, 9..15 */
  int client_window_bits;         /* the client's window, 8..15 */
} sk_pmd_params_t;

/* Negotiate from header[0..len) (a Sec-WebSocket-Extensions value; several
 * such headers should be joined with ", "). Offers are tried in order;
 * invalid ones (unknown or duplicate parameters, bad values) and ones we
 * cannot honour (server_max_window_bits=8, which zlib cannot produce, or a
 * window below the shared compressor's) are skipped (§5, §7.1). Returns 1
 * with *params and the response value in resp[0..*resp_len) (not
 * NUL-terminated), or 0 when nothing was accepted (also when disabled or
 * resp_cap < SK_PMD_RESPONSE_MAX). */
int sk_pmd_negotiate(const sk_pmd_config_t *cfg, const char *header, size_t len,
                     sk_pmd_params_t *params, char *resp, size_t resp_cap, size_t *resp_len);

/* A growable byte buffer: compressed and inflated messages are appended to
 * it. Start zeroed; the caller owns it and frees it with sk_pmd_buf_free. */
typedef struct sk_pmd_buf {
  char *data;
  size_t len, cap;
} sk_pmd_buf_t;

void sk_pmd_buf_free(sk_pmd_buf_t *buf);

typedef struct sk_pmd_deflater sk_pmd_deflater_t;
typedef struct sk_pmd_inflater sk_pmd_inflater_t;

/* level: zlib level (-1 default, 0..9); window_bits 9..15; mem_level 1..9;
 * no_context_takeover: reset before each message (a shared compressor must
 * set it). NULL on bad arguments or no memory. */
sk_pmd_deflater_t *sk_pmd_deflater_create(int level, int window_bits, int mem_level,
                                          int no_context_takeover);
void sk_pmd_deflater_destroy(sk_pmd_deflater_t *d);

/* Compress one whole message, appending the payload (to send with RSV1 on
 * the first frame) to out. An empty result is a valid compressed empty
 * message. Returns SK_PMD_OK or SK_PMD_ERR_NOMEM (the stream is then reset,
 * so the next message starts without context). */
int sk_pmd_deflate(sk_pmd_deflater_t *d, const char *in, size_t len, sk_pmd_buf_t *out);

/* Forget the compression context now. */
void sk_pmd_deflater_reset(sk_pmd_deflater_t *d);

/* window_bits 8..15 (the client's window; 8 is raised to 9, which accepts
 * more, because some zlib versions silently compress with 9 when asked for
 * 8); no_context_takeover: reset before each message. */
sk_pmd_inflater_t *sk_pmd_inflater_create(int window_bits, int no_context_takeover);
void sk_pmd_inflater_destroy(sk_pmd_inflater_t *inf);

/* Feed the compressed payload of one message, in as many calls as frames
 * arrive; final != 0 on the last call (after the last frame's data, possibly
 * with len 0). The inflated bytes are appended to out, whose len must be 0
 * when a message starts: out->len never exceeds max_payload on success, and
 * out->cap never exceeds max(its old cap, max_payload + 1). On error the
 * message is abandoned (the next call starts a new one with a fresh stream);
 * the connection should be failed with the negated code. A shared inflater
 * must be fed each message in a single final call, since other connections'
 * messages go through the same stream. */
int sk_pmd_inflate(sk_pmd_inflater_t *inf, const char *in, size_t len, int final, sk_pmd_buf_t *out,
                   size_t max_payload);

#endif
