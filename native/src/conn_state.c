/* The connection's state machine: the transitions are inline in
 * conn_state.h; this is what happens when one is impossible. */
#include "internal.h"

#include <assert.h>

/* A bug of ours, never the client's doing: the state cannot be trusted, so
 * the connection ends rather than write a response out of order. */
void sk_state_refuse(sk_conn_t *conn, const char *transition) {
  sk_app_log(conn->app, SK_LOG_ERROR,
             "internal error: connection in phase %d, response stage %d cannot %s; closing it",
             (int)conn->phase, (int)conn->exchange.stage, transition);
  assert(!"impossible connection state transition");
  sk_out_mark_broken(conn); /* closed at the next loop iteration */
}
