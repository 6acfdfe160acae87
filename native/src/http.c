/* Per-connection HTTP/1.1 state: reading, parsing, body framing, routing,
 * keep-alive, pipelining and timeouts. One request is in flight per
 * connection at a time; pipelined requests wait in the input buffer, so
 * responses always leave in request order even when a handler is async. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void conn_on_event(sk_watch_t *watch, unsigned events);

sk_conn_t *sk_conn_create(sk_app_t *app, int fd, const struct sockaddr_storage *peer,
                          socklen_t peer_len) {
  sk_conn_t *conn = calloc(1, sizeof *conn);
  if (!conn) return NULL;
  conn->app = app;
  conn->transport.watch.fd = fd;
  conn->transport.watch.on_event = conn_on_event;
  sk_state_open(conn);
  conn->peer = *peer;
  conn->peer_len = peer_len;
  conn->transport.deadline = sk_deadline_in(conn->app, app->config.header_timeout_s);
  if (sk_loop_add(&app->loop, &conn->transport.watch, SK_EV_READ) != SK_OK) {
    free(conn);
    return NULL;
  }
  return conn;
}

void sk_conn_update_reading(sk_conn_t *conn) {
  if (conn->transport.closed) return;
  /* Stop reading while the application asked us to, while the client has
   * already closed its side, while too much of its input is waiting on a
   * slow handler, or, between requests, while it does not read what we
   * answered; the kernel's window then pushes back on the client. Output
   * never stops the reading of a request body: a handler may wait for the
   * body before it writes more, and the client for us to read it. */
  int off = conn->transport.user_paused || conn->transport.peer_eof ||
            conn->transport.in.len + conn->exchange.body.len > SK_MAX_BUFFERED_INPUT ||
            (conn->phase == SK_PHASE_HEAD && sk_out_full(&conn->transport));
  if (conn->phase == SK_PHASE_CLOSING || conn->phase == SK_PHASE_WS) off = conn->transport.peer_eof;
  unsigned interest = conn->transport.watch.interest;
  interest = off ? (interest & ~SK_EV_READ) : (interest | SK_EV_READ);
  conn->transport.reading_off = off;
  sk_out_watch(conn, interest);
}

void sk_conn_close(sk_conn_t *conn, int abort_response) {
  if (conn->transport.closed) return;
  sk_app_t *app = conn->app;
  conn->transport.closed = 1;
  if (app->cork_owner == conn) {
    app->cork_owner = NULL;
    app->cork_len = 0;
  }
  sk_loop_remove(&app->loop, &conn->transport.watch);
  sk_tls_detach(&conn->transport);
  sk_socket_close(conn->transport.watch.fd);
  conn->transport.watch.fd = -1;

  /* Unlink and release the slot first, so the id is stale before Python hears
   * of the abort. */
  if (conn->prev) conn->prev->next = conn->next;
  else app->conns = conn->next;
  if (conn->next) conn->next->prev = conn->prev;
  app->slots[conn->slot] = NULL;
  app->free_slots[app->free_slot_count++] = conn->slot;
  app->conn_count--;
  if (app->conn_count == 0 && !app->shutting_down && !app->accept_paused)
    sk_loop_set_tick(&app->loop, 0);
  sk_app_resume_accepting(app); /* its fd is free again */

  sk_ws_on_conn_close(conn);
  uint32_t serial = conn->exchange.serial;
  sk_state_aborted(conn);
  conn->next = app->graveyard;
  app->graveyard = conn;
  if (abort_response && serial != 0 && conn->exchange.stage != SK_RES_DONE &&
      conn->phase != SK_PHASE_WS && app->cb.on_aborted)
    app->cb.on_aborted(app->cb.user, sk_conn_id_of(serial, conn->slot));
}

/* ---- request body ---- */

static void reset_for_next_request(sk_conn_t *conn) {
  sk_state_next_request(conn);
  conn->exchange.body_wanted = 0;
  conn->transport.user_paused = 0;
  sk_buf_free(&conn->exchange.body);
  conn->transport.deadline = sk_deadline_in(conn->app, conn->app->config.idle_timeout_s);
}

static void finish_request_if_done(sk_conn_t *conn) {
  if (conn->phase == SK_PHASE_REQUEST && conn->exchange.body_done &&
      conn->exchange.stage == SK_RES_DONE)
    reset_for_next_request(conn);
}

/* Hand body bytes to the application, or keep them until it asks. */
static void deliver_body(sk_conn_t *conn, const char *data, size_t len, int last) {
  sk_app_t *app = conn->app;
  conn->exchange.body_received += len;
  if (last) conn->exchange.body_done = 1;
  if (conn->exchange.stage == SK_RES_DONE) {
    finish_request_if_done(conn); /* the response ended: the rest is discarded */
    return;
  }
  if (!conn->exchange.body_wanted || conn->exchange.body.len) {
    if (sk_buf_append(&conn->exchange.body, data, len) != SK_OK) sk_conn_close(conn, 1);
    if (conn->exchange.body_wanted) sk_app_defer(app, conn);
    return;
  }
  if (len == 0 && !last) return;
  if (last) conn->exchange.body_last_sent = 1;
  uint64_t id = sk_conn_id_of(conn->exchange.serial, conn->slot);
  if (app->cb.on_data) app->cb.on_data(app->cb.user, id, data, len, last);
}

void sk_conn_deliver_body(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  if (!conn->exchange.body_wanted || conn->exchange.stage == SK_RES_DONE ||
      conn->exchange.serial == 0)
    return;
  if (conn->exchange.body.len == 0 && (!conn->exchange.body_done || conn->exchange.body_last_sent))
    return;
  int last = conn->exchange.body_done;
  if (last) conn->exchange.body_last_sent = 1;
  uint64_t id = sk_conn_id_of(conn->exchange.serial, conn->slot);
  /* Python copies the bytes before it returns; the buffer is ours again after. */
  sk_buf_t body = conn->exchange.body;
  conn->exchange.body = (sk_buf_t){0};
  if (app->cb.on_data)
    app->cb.on_data(app->cb.user, id, body.data ? body.data : "", body.len, last);
  sk_buf_free(&body);
}

static int body_too_large(sk_conn_t *conn, uint64_t more) {
  uint64_t limit = conn->app->config.max_body_size;
  return limit && (conn->exchange.body_received + more > limit ||
                   conn->exchange.body_received + more < more);
}

/* Feeds request-body bytes; returns how many were used. */
static size_t feed_body(sk_conn_t *conn, const char *data, size_t len) {
  if (conn->exchange.body_kind == SK_BODY_LENGTH) {
    size_t take = (size_t)SK_MIN((uint64_t)len, conn->exchange.body_remaining);
    conn->exchange.body_remaining -= take;
    deliver_body(conn, data, take, conn->exchange.body_remaining == 0);
    return take;
  }
  size_t pos = 0;
  while (!conn->transport.closed && !conn->exchange.body_done) {
    size_t consumed = 0, chunk_len = 0;
    const char *chunk = NULL;
    int r = sk_chunked_decode(&conn->exchange.chunked, &conn->app->limits, data + pos, len - pos,
                              &consumed, &chunk, &chunk_len);
    pos += consumed;
    if (r == SK_CHUNK_DATA) {
      if (body_too_large(conn, chunk_len)) {
        sk_res_write_error(conn, 413);
        return len;
      }
      deliver_body(conn, chunk, chunk_len, 0);
    } else if (r == SK_CHUNK_DONE) {
      deliver_body(conn, "", 0, 1);
    } else if (r == SK_CHUNK_NEED_MORE) {
      break;
    } else {
      sk_res_write_error(conn, 400);
      return len;
    }
  }
  return pos;
}

/* ---- routing ---- */

typedef struct dispatch_ctx {
  sk_conn_t *conn;
  uint32_t serial;
  sk_req_t *req;
} dispatch_ctx_t;

static int visit_route(void *ctx_ptr, int handler_id, const sk_route_params_t *params) {
  dispatch_ctx_t *ctx = ctx_ptr;
  sk_conn_t *conn = ctx->conn;
  sk_app_t *app = conn->app;
  ctx->req->params = params;
  if (handler_id & SK_WS_ROUTE_FLAG) {
    int behavior = handler_id & ~SK_WS_ROUTE_FLAG;
    int r = sk_ws_check_upgrade(conn, ctx->req->http, behavior);
    if (r <= 0) return r == 0; /* -1: not an upgrade, try the HTTP routes */
    handler_id = app->ws_behaviors[behavior].handler_id;
  }
  ctx->req->handler_id = handler_id;
  uint64_t id = sk_conn_id_of(ctx->serial, conn->slot);
  int taken = app->cb.on_request(app->cb.user, handler_id, id, ctx->req);
  /* A handler that already wrote something owns the response, whatever it
   * said about yielding: a second response must never reach the wire. */
  if (conn->transport.closed || conn->exchange.serial != ctx->serial ||
      conn->exchange.stage != SK_RES_NONE)
    return 1;
  if (!taken) conn->exchange.upgrade_behavior = 0;
  return taken;
}

static void dispatch(sk_conn_t *conn, const sk_http_request_t *http) {
  sk_app_t *app = conn->app;
  /* Dispatch never nests, so one request view per app serves every call: a
   * binding can hold its address instead of converting it per request. */
  sk_req_t *req = &app->current_request;
  req->http = http;
  req->params = NULL;
  dispatch_ctx_t ctx = {conn, conn->exchange.serial, req};
  const char *path = http->path.data;
  size_t path_len = http->path.len;
  if (http->flags & SK_REQ_AUTHORITY_FORM) {
    /* CONNECT host:port is routed as "/host:port", so a catch-all route (or one
     * for the authority itself) takes it; get_url() stays the authority. */
    sk_buf_t *route_path = &app->authority_path;
    route_path->len = 0;
    if (sk_buf_append(route_path, "/", 1) != SK_OK ||
        sk_buf_append(route_path, path, path_len) != SK_OK) {
      sk_res_write_error(conn, 500);
      return;
    }
    path = route_path->data;
    path_len = route_path->len;
  }
  /* The router also offers GET routes to HEAD; the body is never written.
   * A connection that named a known host (SNI) tries that host's routes first. */
  int taken = 0;
  if (app->ws_router && (http->flags & SK_REQ_HAS_UPGRADE))
    taken = sk_router_match(app->ws_router, http->method.data, http->method.len, path, path_len,
                            visit_route, &ctx);
  const sk_router_t *host_router = sk_sni_router(app, conn->sni_entry);
  if (host_router && !taken && !conn->transport.closed && conn->exchange.serial == ctx.serial)
    taken = sk_router_match(host_router, http->method.data, http->method.len, path, path_len,
                            visit_route, &ctx);
  if (!taken && !conn->transport.closed && conn->exchange.serial == ctx.serial)
    taken = sk_router_match(app->router, http->method.data, http->method.len, path, path_len,
                            visit_route, &ctx);
  if (!taken && !conn->transport.closed && conn->exchange.serial == ctx.serial &&
      conn->exchange.stage == SK_RES_NONE)
    sk_res_write_not_found(conn);
}

static void remember_pending_line(sk_conn_t *conn, const sk_http_request_t *http) {
  size_t cap = sizeof conn->exchange.pending_line;
  size_t method_len = SK_MIN(http->method.len, cap / 4);
  size_t path_len = SK_MIN(http->path.len, cap - method_len - 1);
  memcpy(conn->exchange.pending_line, http->method.data, method_len);
  conn->exchange.pending_line[method_len] = ' ';
  memcpy(conn->exchange.pending_line + method_len + 1, http->path.data, path_len);
  conn->exchange.pending_line_len = (uint8_t)(method_len + 1 + path_len);
}

static void begin_request(sk_conn_t *conn, const sk_http_request_t *http) {
  sk_app_t *app = conn->app;
  conn->exchange.version_minor = http->version_minor;
  conn->exchange.req_flags = http->flags;
  conn->exchange.body_kind = http->body_kind;
  conn->exchange.body_remaining = http->body_kind == SK_BODY_LENGTH ? http->content_length : 0;
  conn->exchange.body_received = 0;
  sk_chunked_init(&conn->exchange.chunked);
  conn->exchange.body_done = http->body_kind == SK_BODY_NONE ||
                             (http->body_kind == SK_BODY_LENGTH && http->content_length == 0);
  conn->exchange.body_wanted = 0;
  conn->exchange.body_last_sent = 0;
  conn->exchange.sent_continue = 0;
  conn->transport.user_paused = 0;
  conn->exchange.head_request = http->method.len == 4 && memcmp(http->method.data, "HEAD", 4) == 0;
  int keep_alive = http->version_minor == 1 ? !(http->flags & SK_REQ_CONNECTION_CLOSE)
                                            : (http->flags & SK_REQ_CONNECTION_KEEP_ALIVE) &&
                                                  !(http->flags & SK_REQ_CONNECTION_CLOSE);
  if (app->shutting_down || conn->transport.peer_eof) keep_alive = 0;
  sk_state_begin_request(conn, keep_alive);
  conn->had_request = 1;
  conn->exchange.status_code = 0;
  conn->exchange.has_content_length = 0;
  conn->exchange.has_date = 0;
  conn->exchange.chunked_out = 0;
  conn->exchange.no_body = conn->exchange.head_request;
  conn->exchange.declared_length = 0;
  conn->exchange.write_offset = 0;
  conn->transport.deadline = sk_deadline_in(conn->app, app->config.idle_timeout_s);

  if (http->body_kind == SK_BODY_LENGTH && body_too_large(conn, http->content_length)) {
    sk_res_write_error(conn, 413);
    return;
  }
  uint32_t serial = conn->exchange.serial;
  dispatch(conn, http);
  if (!conn->transport.closed && conn->exchange.serial == serial &&
      conn->exchange.stage != SK_RES_DONE)
    remember_pending_line(conn, http);
}

/* Parses and dispatches as many requests as data[0..len) holds; returns the
 * bytes used. What is left is a partial head or requests pipelined behind
 * one whose response is still pending. */
static size_t process_bytes(sk_conn_t *conn, char *data, size_t len) {
  sk_app_t *app = conn->app;
  size_t pos = 0;
  conn->in_dispatch = 1;
  while (!conn->transport.closed) {
    if (conn->phase == SK_PHASE_HEAD) {
      if (pos == len) break;
      if (sk_out_full(&conn->transport)) break; /* resumed when the output drains */
      if (!conn->proxy_checked) {
        /* A PROXY header may only open the connection. */
        size_t used = 0;
        int r = sk_proxy_parse(data + pos, len - pos, &conn->proxy, &used);
        if (r == SK_PROXY_INCOMPLETE) break;
        if (r < 0) {
          pos = len;
          sk_res_write_error(conn, 400);
          break;
        }
        conn->proxy_checked = 1;
        pos += used;
        continue;
      }
      /* A partial head kept at the start of conn->transport.in was parsed before: parse
       * again only when the new bytes can change the answer. */
      size_t seen = pos == 0 && data == conn->transport.in.data ? conn->exchange.head_seen : 0;
      if (seen && seen <= len && !sk_http_head_worth_parsing(data, len, seen, &app->limits)) break;
      size_t head_len = 0;
      int r = sk_http_parse_request(data + pos, len - pos, &app->limits, &app->request, &head_len);
      if (r == SK_PARSE_INCOMPLETE) {
        conn->exchange.head_seen = len - pos; /* what stays in conn->transport.in, at its start */
        break;
      }
      conn->exchange.head_seen = 0;
      if (r < 0) {
        pos = len;
        sk_res_write_error(conn, -r);
        break;
      }
      pos += head_len;
      conn->exchange.dispatch_input = data + pos;
      conn->exchange.dispatch_input_len = len - pos;
      conn->exchange.dispatch_taken = 0;
      begin_request(conn, &app->request);
      conn->exchange.dispatch_input = NULL;
      pos += conn->exchange.dispatch_taken; /* a body the handler took whole */
      conn->exchange.dispatch_taken = 0;
    } else if (conn->phase == SK_PHASE_REQUEST) {
      if (!conn->exchange.body_done) {
        if (pos == len) break;
        size_t used = feed_body(conn, data + pos, len - pos);
        pos += used;
        if (used == 0) break;
        continue;
      }
      if (conn->exchange.stage != SK_RES_DONE) break; /* async response pending */
      reset_for_next_request(conn);
    } else if (conn->phase == SK_PHASE_WS) {
      pos += sk_ws_process(conn, data + pos, len - pos);
      break;
    } else {
      pos = len; /* closing: input is discarded */
      break;
    }
  }
  conn->in_dispatch = 0;
  return pos;
}

void sk_conn_process(sk_conn_t *conn) {
  if (conn->transport.closed || conn->transport.in.len == 0) return;
  size_t used = process_bytes(conn, conn->transport.in.data, conn->transport.in.len);
  if (!conn->transport.closed) sk_buf_consume(&conn->transport.in, used);
  if (!conn->transport.closed && conn->transport.peer_eof && conn->phase == SK_PHASE_HEAD)
    sk_conn_after_peer_eof(conn);
}

void sk_conn_after_peer_eof(sk_conn_t *conn) {
  /* Requests still waiting behind unsent output are answered once it drains
   * (sk_out_drain_backlog resumes them); a partial head never completes. */
  if (conn->transport.in.len && sk_out_full(&conn->transport)) return;
  if (conn->transport.backlog.len) sk_conn_finish_close(conn); /* what we owe still goes out */
  else sk_conn_close(conn, 1);
}

void sk_conn_finish_close(sk_conn_t *conn) {
  sk_state_start_closing(conn);
  conn->transport.in.len = 0;
  conn->exchange.head_seen = 0;
  sk_buf_free(&conn->exchange.body);
  /* Give the peer a little time to read the response and close its side. */
  conn->transport.deadline = sk_deadline_in(conn->app, 2);
  sk_out_shut_when_drained(conn);
  sk_conn_update_reading(conn);
}

void sk_conn_output_room(sk_conn_t *conn) {
  /* The client reads again: start the requests it pipelined meanwhile. */
  if (conn->phase == SK_PHASE_HEAD) sk_app_defer(conn->app, conn);
}

void sk_conn_response_done(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  sk_state_response_ended(conn);
  if (!conn->exchange.body_wanted) sk_buf_free(&conn->exchange.body);
  if (!conn->exchange.keep_alive) {
    sk_conn_finish_close(conn);
    return;
  }
  finish_request_if_done(conn);
  if (conn->phase == SK_PHASE_HEAD && !conn->in_dispatch) {
    if (conn->transport.in.len || conn->transport.peer_eof) sk_app_defer(app, conn);
  }
  sk_conn_update_reading(conn);
}

/* The client closed its sending side (or the whole connection). */
static void on_peer_eof(sk_conn_t *conn) {
  conn->transport.peer_eof = 1;
  /* Requests it sent before the EOF are still answered. */
  if (conn->phase != SK_PHASE_REQUEST) sk_conn_process(conn);
  if (conn->transport.closed) return;
  switch (conn->phase) {
  case SK_PHASE_HEAD: sk_conn_after_peer_eof(conn); return;
  case SK_PHASE_CLOSING:
    /* Output still queued: output_drained closes once it is out. */
    if (conn->transport.backlog.len == 0 && conn->app->cork_owner != conn) sk_conn_close(conn, 0);
    else sk_conn_update_reading(conn);
    return;
  case SK_PHASE_REQUEST:
    /* A body cut short can never complete, and a client that closes while
     * its response has not started has gone away (as uWS, nginx and Node
     * read it): abort now, so the handler hears of it at once instead of at
     * the idle timeout (a head only staged has not started it). A response
     * already being written is finished. */
    if (!conn->exchange.body_done || conn->exchange.stage < SK_RES_BODY) {
      sk_conn_close(conn, 1);
      return;
    }
    sk_state_no_keep_alive(conn);
    sk_conn_update_reading(conn);
    return;
  default: sk_conn_close(conn, 1); return;
  }
}

static void on_readable(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  int eof = 0;
  long n = sk_transport_read(&conn->transport, app->recv_buf, SK_RECV_BUFFER_SIZE, &eof);
  if (conn->transport.tls_read_wants_write)
    sk_out_watch(conn, conn->transport.watch.interest | SK_EV_WRITE);
  if (n < 0) {
    sk_conn_close(conn, 1);
    return;
  }
  if (eof) {
    on_peer_eof(conn);
    return;
  }
  if (n == 0) return;
  if (conn->phase == SK_PHASE_CLOSING) return; /* lingering close: discard */
  if (conn->phase == SK_PHASE_HEAD && conn->transport.in.len == 0)
    conn->transport.deadline = sk_deadline_in(conn->app, app->config.header_timeout_s);
  else if (conn->phase == SK_PHASE_REQUEST)
    conn->transport.deadline = sk_deadline_in(conn->app, app->config.idle_timeout_s);

  if (conn->transport.in.len == 0) {
    /* Common case: parse straight from the shared receive buffer and copy
     * only a leftover. */
    size_t used = process_bytes(conn, app->recv_buf, (size_t)n);
    if (!conn->transport.closed && used < (size_t)n && conn->phase != SK_PHASE_CLOSING &&
        sk_buf_append(&conn->transport.in, app->recv_buf + used, (size_t)n - used) != SK_OK)
      sk_conn_close(conn, 1);
  } else {
    if (sk_buf_append(&conn->transport.in, app->recv_buf, (size_t)n) != SK_OK) {
      sk_conn_close(conn, 1);
      return;
    }
    sk_conn_process(conn);
  }
  sk_conn_update_reading(conn);
}

static void conn_on_event(sk_watch_t *watch, unsigned events) {
  sk_conn_t *conn = (sk_conn_t *)watch;
  if (conn->transport.closed) return;
  if (conn->transport.tls_write_wants_read && (events & SK_EV_READ)) {
    events |= SK_EV_WRITE; /* TLS needed a read to carry on writing */
    conn->transport.tls_write_wants_read = 0;
  }
  if (conn->transport.tls_read_wants_write && (events & SK_EV_WRITE)) {
    events |= SK_EV_READ; /* TLS needed a write to carry on reading */
    if (conn->transport.backlog.len == 0)
      sk_out_watch(conn, conn->transport.watch.interest & ~SK_EV_WRITE);
  }
  if (events & SK_EV_WRITE) {
    int drained = sk_out_drain_backlog(conn);
    if (conn->transport.closed) return;
    sk_app_t *app = conn->app;
    if (drained && conn->phase == SK_PHASE_WS) sk_ws_on_drain(conn);
    else if (drained && conn->exchange.serial && conn->exchange.stage == SK_RES_BODY &&
             app->cb.on_writable)
      app->cb.on_writable(app->cb.user, sk_conn_id_of(conn->exchange.serial, conn->slot),
                          conn->exchange.write_offset);
    if (conn->transport.closed) return;
  }
  if (events & (SK_EV_READ | SK_EV_ERROR)) on_readable(conn);
}

void sk_conn_on_tick(sk_conn_t *conn) {
  if (conn->transport.closed) return;
  if (conn->phase == SK_PHASE_WS) {
    sk_ws_on_tick(conn);
    return;
  }
  if (conn->transport.deadline == 0 || conn->app->loop.now_ticks < conn->transport.deadline) return;
  if (!conn->app->config.close_unanswered && conn->phase == SK_PHASE_REQUEST &&
      conn->exchange.stage != SK_RES_DONE && conn->transport.backlog.len == 0 &&
      (conn->exchange.body_done || conn->transport.user_paused)) {
    /* The client sent what it owes and reads what it gets: the application
     * is working on its answer (a slow query, a quiet stream), and that time
     * is not the client's idleness. */
    conn->transport.deadline = sk_deadline_in(conn->app, conn->app->config.idle_timeout_s);
    return;
  }
  if (conn->phase == SK_PHASE_HEAD && conn->transport.in.len > 0) {
    sk_res_write_error(conn, 408); /* slow client: the head did not arrive in time */
    conn->transport.deadline = sk_deadline_in(conn->app, 2);
    return;
  }
  if (conn->phase == SK_PHASE_REQUEST && conn->exchange.stage < SK_RES_BODY &&
      conn->exchange.serial != 0) {
    /* Without this line a handler that forgot to respond is invisible: the
     * client just sees the connection close. */
    sk_app_t *app = conn->app;
    if (conn->exchange.body_done)
      sk_app_log(app, SK_LOG_WARNING,
                 "%.*s: no response after %u s (idle_timeout); closing the connection. Did the "
                 "handler forget to call end()?",
                 (int)conn->exchange.pending_line_len, conn->exchange.pending_line,
                 app->config.idle_timeout_s);
    else
      sk_app_log(app, SK_LOG_WARNING,
                 "%.*s: no response, and the request body stopped arriving for %u s "
                 "(idle_timeout); closing the connection",
                 (int)conn->exchange.pending_line_len, conn->exchange.pending_line,
                 app->config.idle_timeout_s);
  }
  sk_conn_close(conn, 1);
}
