/* Corked output. Writes made while the loop dispatches are gathered in one
 * per-loop cork buffer owned by one connection at a time and leave with one
 * syscall when the owner changes or the iteration ends. What the kernel does
 * not take goes to the connection's own backlog, allocated only then.
 *
 * The transport layer: it touches only conn->transport (and the app's cork
 * and loop), and tells the connection what happened through its functions
 * (sk_conn_close, sk_conn_output_room, sk_app_defer); it knows no HTTP. */
#include "internal.h"

#include <string.h>
#include <sys/socket.h>

void sk_out_mark_broken(sk_conn_t *conn) {
  /* The peer is gone. Closing here could call back into Python in the middle
   * of a Python call, so the close is queued for the loop instead. */
  conn->transport.broken = 1;
  sk_app_defer(conn->app, conn);
}

void sk_out_watch_refused(sk_conn_t *conn) {
  /* The poller refused (out of kernel memory): the event this connection
   * waits for might never come, so it ends instead of hanging. */
  sk_app_log(conn->app, SK_LOG_ERROR,
             "the poller refused to change what a connection waits for (out of kernel "
             "memory?); closing the connection");
  sk_out_mark_broken(conn);
}

/* Everything queued so far has reached the kernel. */
static void output_drained(sk_conn_t *conn) {
  sk_transport_t *t = &conn->transport;
  if (t->shut_when_drained && !t->write_shut) {
    t->write_shut = 1;
    /* Half-close rather than close: a close with unread input makes the kernel
     * send RST, which can destroy the response before the client reads it. */
    sk_transport_shutdown_write(t);
    /* The client already closed its side: nothing is left to wait for. */
    if (t->peer_eof) sk_conn_close(conn, 0);
  }
}

static void keep_remainder(sk_conn_t *conn, const char *a, size_t a_len, const char *b,
                           size_t b_len, size_t written) {
  sk_transport_t *t = &conn->transport;
  if (written < a_len) {
    if (sk_buf_append(&t->backlog, a + written, a_len - written) != SK_OK) goto fail;
    written = 0;
  } else {
    written -= a_len;
  }
  if (b_len > written && sk_buf_append(&t->backlog, b + written, b_len - written) != SK_OK)
    goto fail;
  sk_out_watch(conn, t->watch.interest | SK_EV_WRITE);
  return;
fail:
  sk_out_mark_broken(conn);
}

static void write_now(sk_conn_t *conn, const char *a, size_t a_len, const char *b, size_t b_len) {
  sk_transport_t *t = &conn->transport;
  long n = sk_transport_write(t, a, a_len, b, b_len);
  if (n < 0) {
    sk_out_mark_broken(conn);
    return;
  }
  if ((size_t)n < a_len + b_len) {
    keep_remainder(conn, a, a_len, b, b_len, (size_t)n);
    return;
  }
  output_drained(conn);
}

void sk_out_flush(sk_app_t *app) {
  sk_conn_t *conn = app->cork_owner;
  size_t len = app->cork_len;
  app->cork_owner = NULL;
  app->cork_len = 0;
  if (!conn || conn->transport.closed || conn->transport.broken) return;
  sk_transport_t *t = &conn->transport;
  t->cork_mark_intact = 0; /* what was corked is leaving */
  if (len == 0) {
    if (t->backlog.len == 0) output_drained(conn);
    return;
  }
  if (t->backlog.len) {
    if (sk_buf_append(&t->backlog, app->cork_buf, len) != SK_OK) sk_out_mark_broken(conn);
    return;
  }
  write_now(conn, app->cork_buf, len, NULL, 0);
}

int sk_out_write(sk_conn_t *conn, const char *data, size_t len) {
  sk_transport_t *t = &conn->transport;
  sk_app_t *app = conn->app;
  if (t->closed) return SK_ERR_STALE;
  if (t->broken || len == 0) return SK_OK; /* the peer is gone: nothing to deliver */
  /* HTTP's inactivity timer; a WebSocket's idle timer is websocket.c's (it
   * restarts on receive, or on send only with reset_idle_timeout_on_send). */
  if (t->writes_refresh_deadline) t->deadline = sk_deadline_in(app, app->config.idle_timeout_s);
  if (t->backlog.len) {
    /* Order matters more than syscalls: queue behind what is already waiting. */
    t->cork_mark_intact = 0;
    if (app->cork_owner == conn) sk_out_flush(app);
    if (sk_buf_append(&t->backlog, data, len) != SK_OK) sk_out_mark_broken(conn);
    return SK_OK;
  }
  if (app->cork_owner != conn) {
    sk_out_flush(app);
    app->cork_owner = conn;
  }
  if (len <= SK_CORK_BUFFER_SIZE - app->cork_len) {
    memcpy(app->cork_buf + app->cork_len, data, len);
    app->cork_len += len;
    return SK_OK;
  }
  /* Too big for the cork: send what is corked and the new data together. */
  t->cork_mark_intact = 0;
  size_t corked = app->cork_len;
  app->cork_owner = NULL;
  app->cork_len = 0;
  write_now(conn, app->cork_buf, corked, data, len);
  return SK_OK;
}

int sk_out_drain_backlog(sk_conn_t *conn) {
  sk_transport_t *t = &conn->transport;
  if (t->backlog.len == 0) {
    sk_out_watch(conn, t->watch.interest & ~SK_EV_WRITE);
    return 1;
  }
  long n = sk_transport_write(t, t->backlog.data, t->backlog.len, NULL, 0);
  if (n < 0) {
    sk_conn_close(conn, 1);
    return 0;
  }
  int was_full = sk_out_full(t);
  sk_buf_consume(&t->backlog, (size_t)n);
  if (was_full && !sk_out_full(t)) sk_conn_output_room(conn);
  if (t->backlog.len) return 0;
  sk_out_watch(conn, t->watch.interest & ~SK_EV_WRITE);
  if (t->writes_refresh_deadline)
    t->deadline = sk_deadline_in(conn->app, conn->app->config.idle_timeout_s);
  output_drained(conn);
  return 1;
}

void sk_out_shut_when_drained(sk_conn_t *conn) {
  sk_transport_t *t = &conn->transport;
  sk_app_t *app = conn->app;
  t->shut_when_drained = 1;
  if (app->cork_owner == conn && !app->dispatching) sk_out_flush(app);
  if (app->cork_owner != conn && t->backlog.len == 0) output_drained(conn);
}

int sk_out_take_back(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  sk_transport_t *t = &conn->transport;
  if (!t->cork_mark_intact || app->cork_owner != conn || app->cork_len < t->cork_mark) return 0;
  app->cork_len = t->cork_mark;
  t->cork_mark_intact = 0;
  return 1;
}
