/* The connection's state machine: the only code that writes a connection's
 * phase, response stage, serial and keep-alive. Each transition is named and
 * checked against the current state; an impossible one is a bug in the core:
 * an assertion in debug builds, in release builds one log line and a clean
 * close at the next loop iteration (sk_state_refuse, conn_state.c).
 * Everything else only reads the fields.
 *
 * The transitions run several times per request, so they are inline; this
 * header is included at the end of internal.h, where sk_conn is complete. */
#ifndef SK_CONN_STATE_H
#define SK_CONN_STATE_H

#include <stdint.h>

/* The id Python holds for the response or WebSocket in flight: the serial in
 * the high half, the slot in the low half (see sk_app_lookup). */
static inline uint64_t sk_conn_id_of(uint32_t serial, uint32_t slot) {
  return ((uint64_t)serial << 32) | slot;
}

/* An impossible transition: asserts, or logs and closes the connection. */
void sk_state_refuse(sk_conn_t *conn, const char *transition);

#define SK_STATE_REQUIRE(condition, transition)                                                    \
  do {                                                                                             \
    if (__builtin_expect(!(condition), 0)) {                                                       \
      sk_state_refuse(conn, transition);                                                           \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

/* In REQUEST, with the response at `stage`: where most transitions start. */
static inline int sk_state_response_at(const sk_conn_t *conn, enum sk_res_stage stage) {
  return conn->phase == SK_PHASE_REQUEST && conn->exchange.stage == stage;
}

/* A new connection: waiting for a head, keep-alive until told otherwise. */
static inline void sk_state_open(sk_conn_t *conn) {
  conn->phase = SK_PHASE_HEAD;
  conn->exchange.stage = SK_RES_NONE;
  conn->exchange.serial = 0;
  conn->exchange.keep_alive = 1;
  conn->transport.writes_refresh_deadline = 1;
}

/* HEAD -> REQUEST: a parsed head; the response gets a fresh serial. */
static inline void sk_state_begin_request(sk_conn_t *conn, int keep_alive) {
  SK_STATE_REQUIRE(conn->phase == SK_PHASE_HEAD, "begin a request");
  conn->phase = SK_PHASE_REQUEST;
  conn->exchange.stage = SK_RES_NONE;
  conn->exchange.keep_alive = keep_alive != 0;
  conn->exchange.keep_alive_before_head = conn->exchange.keep_alive;
  conn->exchange.serial = sk_app_next_serial(conn->app);
}

/* REQUEST with its response done -> HEAD: ready for the next request. */
static inline void sk_state_next_request(sk_conn_t *conn) {
  SK_STATE_REQUIRE(sk_state_response_at(conn, SK_RES_DONE), "take the next request");
  conn->phase = SK_PHASE_HEAD;
  conn->exchange.stage = SK_RES_NONE;
  conn->exchange.serial = 0;
}

/* Response NONE -> STATUS: a status line is staged. */
static inline void sk_state_head_staged(sk_conn_t *conn) {
  SK_STATE_REQUIRE(sk_state_response_at(conn, SK_RES_NONE), "stage a status line");
  conn->exchange.stage = SK_RES_STATUS;
}

/* Response NONE/STATUS -> BODY: the header section left; the body streams. */
static inline void sk_state_response_started(sk_conn_t *conn) {
  SK_STATE_REQUIRE(sk_state_response_at(conn, SK_RES_NONE) ||
                       sk_state_response_at(conn, SK_RES_STATUS),
                   "start a response body");
  conn->exchange.stage = SK_RES_BODY;
}

/* Response back to NONE: the staged head (and corked body) was taken back;
 * keep-alive is what the request asked for again. */
static inline void sk_state_head_discarded(sk_conn_t *conn) {
  SK_STATE_REQUIRE(conn->phase == SK_PHASE_REQUEST && conn->exchange.stage != SK_RES_DONE,
                   "discard a head");
  conn->exchange.stage = SK_RES_NONE;
  conn->exchange.keep_alive = conn->exchange.keep_alive_before_head;
}

/* Response -> DONE: its id is dead from now on. In HEAD the core answers a
 * head it refused (400, 408, 431...). */
static inline void sk_state_response_ended(sk_conn_t *conn) {
  SK_STATE_REQUIRE((conn->phase == SK_PHASE_REQUEST || conn->phase == SK_PHASE_HEAD) &&
                       conn->exchange.stage != SK_RES_DONE,
                   "end a response");
  conn->exchange.stage = SK_RES_DONE;
  conn->exchange.serial = 0;
}

/* The connection will not carry another request after this response. */
static inline void sk_state_no_keep_alive(sk_conn_t *conn) {
  conn->exchange.keep_alive = 0;
}

/* Any phase -> CLOSING: what is queued goes out, then the write side shuts. */
static inline void sk_state_start_closing(sk_conn_t *conn) {
  conn->phase = SK_PHASE_CLOSING;
  conn->exchange.keep_alive = 0;
}

/* REQUEST with nothing written -> WS: the WebSocket gets its own serial. */
static inline void sk_state_upgraded(sk_conn_t *conn) {
  SK_STATE_REQUIRE(sk_state_response_at(conn, SK_RES_NONE), "upgrade");
  conn->phase = SK_PHASE_WS;
  conn->exchange.stage = SK_RES_DONE;
  conn->exchange.keep_alive = 0;
  /* A WebSocket's idle timer is websocket.c's: it restarts on receive, or on
   * send only with reset_idle_timeout_on_send. */
  conn->transport.writes_refresh_deadline = 0;
  conn->exchange.serial = sk_app_next_serial(conn->app);
}

/* WS: the WebSocket's id is retired (the program ended it); the socket stays
 * open for the close handshake. */
static inline void sk_state_ws_id_retired(sk_conn_t *conn) {
  SK_STATE_REQUIRE(conn->phase == SK_PHASE_WS, "retire a WebSocket id");
  conn->exchange.serial = sk_app_next_serial(conn->app);
}

/* The connection is going away: no id reaches it any more. */
static inline void sk_state_aborted(sk_conn_t *conn) {
  conn->exchange.serial = 0;
}

#undef SK_STATE_REQUIRE
#endif
