/* The connection's state machine: the only code that writes a connection's
 * phase, response stage, serial and keep-alive. Each transition is named and
 * checked against the current state; an impossible one is a bug in the core:
 * an assertion in debug builds, in release builds one log line and a clean
 * close at the next loop iteration. Everything else only reads the fields. */
#ifndef SK_CONN_STATE_H
#define SK_CONN_STATE_H

#include <stdint.h>

struct sk_conn;

/* The id Python holds for the response or WebSocket in flight: the serial in
 * the high half, the slot in the low half (see sk_app_lookup). */
static inline uint64_t sk_conn_id_of(uint32_t serial, uint32_t slot) {
  return ((uint64_t)serial << 32) | slot;
}

/* A new connection: waiting for a head, keep-alive until told otherwise. */
void sk_state_open(struct sk_conn *conn);
/* HEAD -> REQUEST: a parsed head; the response gets a fresh serial. */
void sk_state_begin_request(struct sk_conn *conn, int keep_alive);
/* REQUEST with its response done -> HEAD: ready for the next request. */
void sk_state_next_request(struct sk_conn *conn);
/* Response NONE -> STATUS: a status line is staged. */
void sk_state_head_staged(struct sk_conn *conn);
/* Response NONE/STATUS -> BODY: the header section left; the body streams. */
void sk_state_response_started(struct sk_conn *conn);
/* Response back to NONE: the staged head (and corked body) was taken back;
 * keep-alive is what the request asked for again. */
void sk_state_head_discarded(struct sk_conn *conn);
/* Response -> DONE: its id is dead from now on. */
void sk_state_response_ended(struct sk_conn *conn);
/* The connection will not carry another request after this response. */
void sk_state_no_keep_alive(struct sk_conn *conn);
/* Any phase -> CLOSING: what is queued goes out, then the write side shuts. */
void sk_state_start_closing(struct sk_conn *conn);
/* REQUEST with nothing written -> WS: the WebSocket gets its own serial. */
void sk_state_upgraded(struct sk_conn *conn);
/* WS: the WebSocket's id is retired (the program ended it), the socket stays
 * open for the close handshake. */
void sk_state_ws_id_retired(struct sk_conn *conn);
/* The connection is going away: no id reaches it any more. */
void sk_state_aborted(struct sk_conn *conn);

#endif
