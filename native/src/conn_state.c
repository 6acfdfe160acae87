/* The connection's state machine (see conn_state.h). One function per
 * transition, each checking where it starts from, so the rules of the
 * phase (HEAD, REQUEST, CLOSING, WS) and of the response stage (NONE,
 * STATUS, BODY, DONE) read in one place. */
#include "internal.h"

#include <assert.h>

/* An impossible transition: a bug of ours, never the client's doing. */
static void refuse(sk_conn_t *conn, const char *transition) {
  sk_app_log(conn->app, SK_LOG_ERROR,
             "internal error: connection in phase %d, response stage %d cannot %s; closing it",
             (int)conn->phase, (int)conn->stage, transition);
  assert(!"impossible connection state transition");
  sk_out_mark_broken(conn); /* closed at the next loop iteration */
}

#define REQUIRE(condition, transition) \
  do {                                 \
    if (!(condition)) {                \
      refuse(conn, transition);        \
      return;                          \
    }                                  \
  } while (0)

void sk_state_open(sk_conn_t *conn) {
  conn->phase = SK_PHASE_HEAD;
  conn->stage = SK_RES_NONE;
  conn->serial = 0;
  conn->keep_alive = 1;
}

void sk_state_begin_request(sk_conn_t *conn, int keep_alive) {
  REQUIRE(conn->phase == SK_PHASE_HEAD, "begin a request");
  conn->phase = SK_PHASE_REQUEST;
  conn->stage = SK_RES_NONE;
  conn->keep_alive = keep_alive != 0;
  conn->keep_alive_before_head = conn->keep_alive;
  conn->serial = sk_app_next_serial(conn->app);
}

void sk_state_next_request(sk_conn_t *conn) {
  REQUIRE(conn->phase == SK_PHASE_REQUEST && conn->stage == SK_RES_DONE, "take the next request");
  conn->phase = SK_PHASE_HEAD;
  conn->stage = SK_RES_NONE;
  conn->serial = 0;
}

void sk_state_head_staged(sk_conn_t *conn) {
  REQUIRE(conn->phase == SK_PHASE_REQUEST && conn->stage == SK_RES_NONE, "stage a status line");
  conn->stage = SK_RES_STATUS;
}

void sk_state_response_started(sk_conn_t *conn) {
  REQUIRE(conn->phase == SK_PHASE_REQUEST &&
              (conn->stage == SK_RES_NONE || conn->stage == SK_RES_STATUS),
          "start a response body");
  conn->stage = SK_RES_BODY;
}

void sk_state_head_discarded(sk_conn_t *conn) {
  REQUIRE(conn->phase == SK_PHASE_REQUEST && conn->stage != SK_RES_DONE, "discard a head");
  conn->stage = SK_RES_NONE;
  conn->keep_alive = conn->keep_alive_before_head;
}

void sk_state_response_ended(sk_conn_t *conn) {
  /* HEAD: the core answers a head it refused (400, 408, 413...). */
  REQUIRE((conn->phase == SK_PHASE_REQUEST || conn->phase == SK_PHASE_HEAD) &&
              conn->stage != SK_RES_DONE,
          "end a response");
  conn->stage = SK_RES_DONE;
  conn->serial = 0;
}

void sk_state_no_keep_alive(sk_conn_t *conn) {
  conn->keep_alive = 0;
}

void sk_state_start_closing(sk_conn_t *conn) {
  conn->phase = SK_PHASE_CLOSING;
  conn->keep_alive = 0;
}

void sk_state_upgraded(sk_conn_t *conn) {
  REQUIRE(conn->phase == SK_PHASE_REQUEST && conn->stage == SK_RES_NONE, "upgrade");
  conn->phase = SK_PHASE_WS;
  conn->stage = SK_RES_DONE;
  conn->keep_alive = 0;
  conn->serial = sk_app_next_serial(conn->app);
}

void sk_state_ws_id_retired(sk_conn_t *conn) {
  REQUIRE(conn->phase == SK_PHASE_WS, "retire a WebSocket id");
  conn->serial = sk_app_next_serial(conn->app);
}

void sk_state_aborted(sk_conn_t *conn) {
  conn->serial = 0;
}
