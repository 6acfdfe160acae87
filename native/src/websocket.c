/* WebSocket connections (RFC 6455, RFC 7692): the upgrade, reading frames
 * into messages, the close handshake, ping/pong, timeouts, sending with
 * backpressure limits, and pub/sub delivery. The frame grammar, UTF-8 and
 * deflate live in ws_protocol.c and ws_deflate.c; topics in pubsub.c. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SK_WS_CLOSE_WAIT_S 2 /* how long we wait for the client's close frame */

static sk_res_id_t ws_id(const sk_conn_t *conn) {
  return sk_conn_id_of(conn->exchange.serial, conn->slot);
}

static sk_ws_behavior_t *behavior_of(const sk_conn_t *conn) {
  return &conn->app->ws_behaviors[conn->exchange.ws->behavior];
}

/* ---- behaviours ---- */

int sk_app_ws_route(sk_app_t *app, const char *pattern, size_t pattern_len,
                    const sk_ws_config_t *config, int handler_id) {
  if (app->released) return SK_ERR_STATE;
  if (handler_id < 0 || handler_id >= SK_WS_ROUTE_FLAG) return SK_ERR_INVALID;
  if (app->ws_behavior_count == app->ws_behavior_cap) {
    void *grown =
        sk_array_grow(app->ws_behaviors, &app->ws_behavior_cap, sizeof *app->ws_behaviors, 4);
    if (!grown) return SK_ERR_NOMEM;
    app->ws_behaviors = grown;
  }
  sk_ws_behavior_t *b = &app->ws_behaviors[app->ws_behavior_count];
  memset(b, 0, sizeof *b);
  b->config = *config;
  b->handler_id = handler_id;
  unsigned compression = config->compression;
  unsigned compressor = compression & 0xff, decompressor = (compression >> 8) & 0x0f;
  b->pmd.enabled = compression != 0;
  /* CompressOptions: SHARED_COMPRESSOR is 1; a dedicated compressor carries
   * its window bits in bits 4-7 and its zlib memLevel in bits 0-3. */
  b->pmd.shared_compressor = compressor <= 1;
  b->pmd.compressor_bits = compressor > 1 ? (int)(compressor >> 4) : 15;
  b->mem_level = compressor > 1 ? (int)(compressor & 0x0f) : 8;
  if (b->pmd.compressor_bits < 9 || b->pmd.compressor_bits > 15) b->pmd.compressor_bits = 15;
  if (b->mem_level < 1 || b->mem_level > 9) b->mem_level = 8;
  b->compress_enabled = compressor != 0;
  /* Decompressor: 0 or 1 (SHARED_DECOMPRESSOR) share one window-less
   * inflater; 9..15 are dedicated windows. */
  b->pmd.shared_decompressor = decompressor <= 1;
  b->pmd.decompressor_bits = decompressor >= 8 ? (int)decompressor : 15;
  /* WebSocket routes live in their own tree, tried first for upgrade
   * requests only: a more specific HTTP route never hides them from an
   * upgrade, and they never answer a plain request. */
  if (!app->ws_router && !(app->ws_router = sk_router_create())) return SK_ERR_NOMEM;
  int r = sk_router_add(app->ws_router, "GET", 3, pattern, pattern_len,
                        SK_WS_ROUTE_FLAG | (int)app->ws_behavior_count);
  if (r != SK_ROUTER_OK) return r == SK_ROUTER_ERR_NOMEM ? SK_ERR_NOMEM : SK_ERR_INVALID;
  app->ws_behavior_count++;
  return SK_OK;
}

void sk_ws_behaviors_free(sk_app_t *app) {
  for (size_t i = 0; i < app->ws_behavior_count; i++) {
    if (app->ws_behaviors[i].shared_deflater)
      sk_pmd_deflater_destroy(app->ws_behaviors[i].shared_deflater);
    if (app->ws_behaviors[i].shared_inflater)
      sk_pmd_inflater_destroy(app->ws_behaviors[i].shared_inflater);
  }
  free(app->ws_behaviors);
  app->ws_behaviors = NULL;
  if (app->ws_router) sk_router_destroy(app->ws_router);
  app->ws_router = NULL;
  app->ws_behavior_count = app->ws_behavior_cap = 0;
  sk_pmd_buf_free(&app->ws_scratch);
}

/* ---- the handshake ---- */

static const char *header(const sk_http_request_t *http, const char *lower, size_t len,
                          size_t *value_len) {
  sk_req_t req = {http, NULL, 0};
  return sk_req_header(&req, lower, len, value_len);
}

/* Called by the router for a WebSocket route. Returns -1 when the request is
 * not an upgrade at all (it falls through to HTTP routes), 0 when it was
 * answered with an error, 1 when the upgrade handler should run. */
int sk_ws_check_upgrade(sk_conn_t *conn, const sk_http_request_t *http, int behavior) {
  size_t upgrade_len = 0, connection_len = 0, key_len = 0, version_len = 0;
  const char *upgrade = header(http, "upgrade", 7, &upgrade_len);
  if (!upgrade || !sk_ws_header_has_token(upgrade, upgrade_len, "websocket", 9)) return -1;
  const char *connection = header(http, "connection", 10, &connection_len);
  const char *key = header(http, "sec-websocket-key", 17, &key_len);
  const char *version = header(http, "sec-websocket-version", 21, &version_len);
  /* RFC 6455 4.2.1: GET, HTTP/1.1, Connection: upgrade, a 16-byte key. */
  if (http->version_minor != 1 || !connection ||
      !sk_ws_header_has_token(connection, connection_len, "upgrade", 7) || !key ||
      !sk_ws_key_valid(key, key_len)) {
    sk_res_write_error(conn, 400);
    return 0;
  }
  if (!version || version_len != 2 || memcmp(version, "13", 2) != 0) {
    /* 4.4: tell the client which version we speak. */
    static const char version_field[] = "Sec-WebSocket-Version: 13\r\n";
    sk_res_write_error_with(conn, 426, version_field, sizeof version_field - 1);
    return 0;
  }
  conn->exchange.upgrade_behavior = (uint32_t)behavior + 1;
  return 1;
}

void sk_ws_free(sk_ws_t *ws) {
  if (!ws) return;
  free(ws->publish_indexes);
  sk_buf_free(&ws->message);
  sk_pmd_buf_free(&ws->inflated);
  if (ws->inflater) sk_pmd_inflater_destroy(ws->inflater);
  if (ws->deflater) sk_pmd_deflater_destroy(ws->deflater);
  free(ws);
}

int sk_res_upgrade(sk_app_t *app, sk_res_id_t res, const char *key, size_t key_len,
                   const char *protocol, size_t protocol_len, const char *extensions,
                   size_t extensions_len, sk_res_id_t *ws_out) {
  return sk_res_upgrade_with_headers(app, res, key, key_len, protocol, protocol_len, extensions,
                                     extensions_len, "", 0, 0, ws_out);
}

int sk_res_upgrade_with_headers(sk_app_t *app, sk_res_id_t res, const char *key, size_t key_len,
                                const char *protocol, size_t protocol_len, const char *extensions,
                                size_t extensions_len, const char *headers, size_t headers_len,
                                size_t count, sk_res_id_t *ws_out) {
  sk_conn_t *conn = sk_app_lookup(app, res);
  if (!conn || conn->exchange.stage == SK_RES_DONE) return SK_ERR_STALE;
  if (!conn->exchange.upgrade_behavior || conn->exchange.stage != SK_RES_NONE) return SK_ERR_STATE;
  if (!sk_ws_key_valid(key, key_len)) return SK_ERR_INVALID;
  if (!sk_pairs_valid(headers, headers_len, count)) return SK_ERR_INVALID;
  for (size_t i = 0; i < protocol_len; i++)
    if ((unsigned char)protocol[i] < 0x21 || (unsigned char)protocol[i] > 0x7e)
      return SK_ERR_INVALID;
  uint32_t behavior = conn->exchange.upgrade_behavior - 1;
  sk_ws_behavior_t *b = &app->ws_behaviors[behavior];

  sk_ws_t *ws = calloc(1, sizeof *ws);
  if (!ws) return SK_ERR_NOMEM;
  ws->behavior = behavior;
  char negotiated[SK_PMD_RESPONSE_MAX];
  size_t negotiated_len = 0;
  if (b->pmd.enabled && extensions_len &&
      sk_pmd_negotiate(&b->pmd, extensions, extensions_len, &ws->pmd, negotiated, sizeof negotiated,
                       &negotiated_len)) {
    ws->deflate = 1;
    if (!ws->pmd.client_no_context_takeover || !b->pmd.shared_decompressor) {
      ws->inflater =
          sk_pmd_inflater_create(ws->pmd.client_window_bits, ws->pmd.client_no_context_takeover);
      if (!ws->inflater) goto nomem;
    }
    if (b->compress_enabled && !b->pmd.shared_compressor) {
      ws->deflater = sk_pmd_deflater_create(-1, ws->pmd.server_window_bits, b->mem_level,
                                            ws->pmd.server_no_context_takeover);
      if (!ws->deflater) goto nomem;
    }
  }
  char accept[SK_WS_ACCEPT_LEN];
  if (sk_ws_accept(key, key_len, accept) != 0) {
    sk_ws_free(ws);
    return SK_ERR_INVALID;
  }
  static const char head[] =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: ";
  static const char protocol_field[] = "\r\nSec-WebSocket-Protocol: ";
  static const char extensions_field[] = "\r\nSec-WebSocket-Extensions: ";
  sk_out_write(conn, head, sizeof head - 1);
  sk_out_write(conn, accept, SK_WS_ACCEPT_LEN);
  if (protocol_len) {
    sk_out_write(conn, protocol_field, sizeof protocol_field - 1);
    sk_out_write(conn, protocol, protocol_len);
  }
  if (negotiated_len) {
    sk_out_write(conn, extensions_field, sizeof extensions_field - 1);
    sk_out_write(conn, negotiated, negotiated_len);
  }
  const char *cursor = headers, *end = headers + headers_len;
  sk_slice_t name, value;
  while (sk_pairs_next(&cursor, end, &name, &value) == 1) {
    sk_out_write(conn, "\r\n", 2);
    sk_out_write(conn, name.data, name.len);
    sk_out_write(conn, ": ", 2);
    sk_out_write(conn, value.data, value.len);
  }
  sk_out_write(conn, "\r\n\r\n", 4);

  sk_ws_parser_init(&ws->parser,
                    b->config.max_payload_length ? b->config.max_payload_length : SK_WS_NO_LIMIT,
                    ws->deflate);
  conn->exchange.ws = ws;
  sk_state_upgraded(conn); /* the WebSocket gets its own id */
  conn->exchange.upgrade_behavior = 0;
  sk_buf_free(&conn->exchange.body);
  ws->idle_s = b->config.idle_timeout_s;
  conn->transport.deadline = ws->idle_s ? sk_deadline_in(app, ws->idle_s) : 0;
  ws->lifetime_deadline =
      b->config.max_lifetime_min ? sk_deadline_in(app, 60ull * b->config.max_lifetime_min) : 0;
  *ws_out = ws_id(conn);
  /* Frames the client sent right behind its handshake wait in conn->transport.in. */
  if (!conn->in_dispatch && conn->transport.in.len) sk_app_defer(app, conn);
  sk_out_flush_outside_dispatch(app);
  return SK_OK;
nomem:
  sk_ws_free(ws);
  return SK_ERR_NOMEM;
}

/* ---- sending ---- */

static int over_backpressure(const sk_conn_t *conn) {
  const sk_ws_behavior_t *b = behavior_of(conn);
  size_t buffered =
      conn->transport.backlog.len + (conn->app->cork_owner == conn ? conn->app->cork_len : 0);
  return b->config.max_backpressure && buffered > b->config.max_backpressure;
}

static void write_frame(sk_conn_t *conn, unsigned opcode, int fin, int rsv1, const char *data,
                        size_t len) {
  char head[SK_WS_MAX_HEADER];
  size_t head_len = sk_ws_frame_header(head, opcode, fin, rsv1, len);
  sk_out_write(conn, head, head_len);
  sk_out_write(conn, data, len);
}

static int send_status(const sk_conn_t *conn) {
  return conn->transport.backlog.len ? SK_WS_SEND_BACKPRESSURE : SK_WS_SEND_SUCCESS;
}

/* Compresses into the app's scratch buffer; returns 1 when the compressed
 * form should be sent. */
static int compress_message(sk_conn_t *conn, const char *data, size_t len) {
  sk_app_t *app = conn->app;
  sk_ws_behavior_t *b = behavior_of(conn);
  sk_pmd_deflater_t *deflater = conn->exchange.ws->deflater;
  if (!deflater) {
    if (!b->shared_deflater)
      b->shared_deflater = sk_pmd_deflater_create(-1, b->pmd.compressor_bits, b->mem_level, 1);
    deflater = b->shared_deflater;
    if (!deflater) return 0;
  }
  app->ws_scratch.len = 0;
  if (sk_pmd_deflate(deflater, data, len, &app->ws_scratch) != SK_PMD_OK) return 0;
  return 1;
}

static int send_message(sk_conn_t *conn, unsigned opcode, const char *data, size_t len,
                        int compress, int fin) {
  sk_ws_t *ws = conn->exchange.ws;
  sk_ws_behavior_t *b = behavior_of(conn);
  if (ws->close_sent) return SK_WS_SEND_DROPPED;
  if (over_backpressure(conn)) {
    if (b->config.close_on_backpressure_limit) {
      sk_ws_fail(conn, SK_WS_CLOSE_POLICY, 1);
    }
    return SK_WS_SEND_DROPPED;
  }
  int is_data = opcode == SK_WS_OP_TEXT || opcode == SK_WS_OP_BINARY;
  /* RFC 7692: only whole messages are compressed here (a fragmented one
   * would need one deflate stream across its frames). */
  if (compress && ws->deflate && b->compress_enabled && is_data && fin && !ws->sending_fragments &&
      compress_message(conn, data, len)) {
    write_frame(conn, opcode, 1, 1, conn->app->ws_scratch.data ? conn->app->ws_scratch.data : "",
                conn->app->ws_scratch.len);
  } else {
    write_frame(conn, opcode, fin, 0, data, len);
  }
  if (is_data || opcode == SK_WS_OP_CONT) ws->sending_fragments = !fin;
  if (b->config.reset_idle_timeout_on_send && ws->idle_s)
    conn->transport.deadline = sk_deadline_in(conn->app, ws->idle_s);
  return send_status(conn);
}

static sk_conn_t *live_ws(const sk_app_t *app, sk_res_id_t id) {
  sk_conn_t *conn = sk_app_lookup(app, id);
  return conn && conn->phase == SK_PHASE_WS && conn->exchange.ws ? conn : NULL;
}

int sk_ws_send(sk_app_t *app, sk_res_id_t id, const char *data, size_t len, int opcode,
               int compress, int fin) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn) return SK_ERR_STALE;
  if (opcode < 0 || opcode > 10 || (opcode > 2 && opcode < 8)) return SK_ERR_INVALID;
  if (opcode >= 8 && (len > SK_WS_MAX_CONTROL || !fin)) return SK_ERR_INVALID;
  sk_ws_drain_publishes(app);
  int status = send_message(conn, (unsigned)opcode, data, len, compress, fin);
  sk_out_flush_outside_dispatch(app);
  return status;
}

/* ---- closing ---- */

static void unsubscribe_all(sk_conn_t *conn);

static void notify_close(sk_conn_t *conn, unsigned code, const char *reason, size_t reason_len) {
  sk_app_t *app = conn->app;
  if (conn->exchange.ws->close_notified) return;
  /* Subscription events first: the program still knows the socket then. */
  unsubscribe_all(conn);
  conn->exchange.ws->close_notified = 1;
  if (app->cb.on_ws_close)
    app->cb.on_ws_close(app->cb.user, ws_id(conn), (int)code, reason, reason_len);
}

/* Send our close frame and wait (briefly) for the client's. */
static void send_close(sk_conn_t *conn, unsigned code, const char *reason, size_t reason_len) {
  sk_ws_t *ws = conn->exchange.ws;
  if (ws->close_sent) return;
  char payload[SK_WS_MAX_CONTROL];
  size_t n = sk_ws_close_payload(payload, code, reason, reason_len);
  write_frame(conn, SK_WS_OP_CLOSE, 1, 0, payload, n);
  ws->close_sent = 1;
  conn->transport.deadline = sk_deadline_in(conn->app, SK_WS_CLOSE_WAIT_S);
}

/* Protocol error or policy: close frame with `code`, then TCP close. */
void sk_ws_fail(sk_conn_t *conn, unsigned code, int notify) {
  if (conn->transport.closed || !conn->exchange.ws) return;
  send_close(conn, code, NULL, 0);
  if (notify) notify_close(conn, code, NULL, 0);
  unsubscribe_all(conn);
  sk_conn_finish_close(conn);
}

int sk_ws_end(sk_app_t *app, sk_res_id_t id, int code, const char *reason, size_t reason_len) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn) return SK_ERR_STALE;
  if (code == 0) code = SK_WS_CLOSE_NORMAL;
  if (code < 1000 || code > 4999) return SK_ERR_INVALID;
  sk_ws_drain_publishes(app);
  send_close(conn, (unsigned)code, reason, reason_len);
  /* The caller runs its close handler itself: the id is dead from now on. */
  conn->exchange.ws->close_notified = 1;
  unsubscribe_all(conn);
  sk_state_ws_id_retired(conn);
  sk_out_flush_outside_dispatch(app);
  return SK_OK;
}

int sk_ws_close(sk_app_t *app, sk_res_id_t id) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn) return SK_ERR_STALE;
  conn->exchange.ws->close_notified = 1;
  unsubscribe_all(conn);
  if (app->cork_owner == conn) sk_out_flush(app);
  if (!conn->transport.closed) sk_conn_close(conn, 0);
  return SK_OK;
}

/* The connection is going away (any reason): last rites for the WebSocket. */
void sk_ws_on_conn_close(sk_conn_t *conn) {
  /* The sk_ws_t itself lives until the connection is freed: callers up the
   * stack may still be reading it. */
  if (!conn->exchange.ws) return;
  notify_close(conn, SK_WS_CLOSE_ABNORMAL, NULL, 0);
  unsubscribe_all(conn);
}

/* ---- receiving ---- */

static void deliver_message(sk_conn_t *conn, unsigned opcode, const char *data, size_t len) {
  sk_app_t *app = conn->app;
  if (app->cb.on_ws_message)
    app->cb.on_ws_message(app->cb.user, ws_id(conn), data ? data : "", len, (int)opcode);
}

static int finish_data_message(sk_conn_t *conn, const char *direct, size_t direct_len) {
  sk_ws_t *ws = conn->exchange.ws;
  sk_ws_behavior_t *b = behavior_of(conn);
  unsigned opcode = ws->parser.message_opcode;
  const char *data = direct ? direct : ws->message.data;
  size_t len = direct ? direct_len : ws->message.len;
  if (ws->parser.compressed) {
    sk_pmd_inflater_t *inflater = ws->inflater;
    if (!inflater) {
      if (!b->shared_inflater) b->shared_inflater = sk_pmd_inflater_create(15, 1);
      inflater = b->shared_inflater;
      if (!inflater) return SK_WS_CLOSE_INTERNAL;
    }
    ws->inflated.len = 0;
    uint64_t limit = b->config.max_payload_length ? b->config.max_payload_length : SIZE_MAX;
    int r = sk_pmd_inflate(inflater, data ? data : "", len, 1, &ws->inflated, (size_t)limit);
    if (r != SK_PMD_OK) return (unsigned)-r;
    data = ws->inflated.data;
    len = ws->inflated.len;
    if (opcode == SK_WS_OP_TEXT && !sk_utf8_valid(data ? data : "", len))
      return SK_WS_CLOSE_INVALID_DATA;
  } else if (opcode == SK_WS_OP_TEXT && !sk_utf8_finish(&ws->utf8)) {
    return SK_WS_CLOSE_INVALID_DATA;
  }
  deliver_message(conn, opcode, data, len);
  if (!conn->transport.closed && conn->exchange.ws) {
    ws->message.len = 0;
    if (ws->message.cap > 64 * 1024) sk_buf_free(&ws->message);
    if (ws->inflated.cap > 64 * 1024) sk_pmd_buf_free(&ws->inflated);
  }
  return 0;
}

static int handle_control(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  sk_ws_t *ws = conn->exchange.ws;
  unsigned opcode = ws->parser.opcode;
  const char *payload = ws->control;
  size_t len = ws->control_len;
  if (opcode == SK_WS_OP_PING) {
    if (!ws->close_sent) write_frame(conn, SK_WS_OP_PONG, 1, 0, payload, len); /* 5.5.3 */
    if (app->cb.on_ws_ping) app->cb.on_ws_ping(app->cb.user, ws_id(conn), payload, len);
    return 0;
  }
  if (opcode == SK_WS_OP_PONG) {
    if (app->cb.on_ws_pong) app->cb.on_ws_pong(app->cb.user, ws_id(conn), payload, len);
    return 0;
  }
  /* CLOSE */
  unsigned code = 0;
  const char *reason = NULL;
  size_t reason_len = 0;
  int invalid = sk_ws_close_parse(payload, len, &code, &reason, &reason_len);
  if (invalid) return invalid;
  if (ws->close_sent) {
    /* Our close was answered: the handshake is complete. */
    sk_conn_close(conn, 0);
    return -1;
  }
  /* Echo the code (5.5.1); an empty close is answered with an empty one. */
  send_close(conn, code == SK_WS_CLOSE_NO_STATUS ? 0 : code, reason, reason_len);
  notify_close(conn, code, reason, reason_len);
  unsubscribe_all(conn);
  if (!conn->transport.closed) sk_conn_finish_close(conn);
  return -1;
}

/* Consumes WebSocket bytes; returns how many were used (all, normally). */
size_t sk_ws_process(sk_conn_t *conn, char *data, size_t len) {
  size_t pos = 0;
  while (!conn->transport.closed && conn->phase == SK_PHASE_WS && conn->exchange.ws) {
    sk_ws_t *ws = conn->exchange.ws;
    size_t consumed = 0, chunk_len = 0;
    char *chunk = NULL;
    int r = sk_ws_parse(&ws->parser, data + pos, len - pos, &consumed, &chunk, &chunk_len);
    pos += consumed;
    int fail = 0;
    if (r == SK_WS_NEED_MORE) break;
    if (r < 0) {
      fail = -r;
    } else if (r == SK_WS_FRAME_START) {
      ws->direct = NULL;
      if (ws->parser.opcode >= 8) {
        ws->control_len = 0;
      } else if (ws->parser.opcode != SK_WS_OP_CONT) {
        ws->message.len = 0;
        if (ws->parser.message_opcode == SK_WS_OP_TEXT) sk_utf8_init(&ws->utf8);
      }
    } else if (r == SK_WS_DATA) {
      if (ws->parser.opcode >= 8) {
        size_t room = SK_WS_MAX_CONTROL - ws->control_len;
        size_t take = chunk_len < room ? chunk_len : room;
        memcpy(ws->control + ws->control_len, chunk, take);
        ws->control_len += take;
      } else {
        if (ws->parser.message_opcode == SK_WS_OP_TEXT && !ws->parser.compressed &&
            !sk_utf8_feed(&ws->utf8, chunk, chunk_len)) {
          fail = SK_WS_CLOSE_INVALID_DATA; /* fail fast, mid-fragment (8.1) */
        } else if (ws->parser.fin && ws->message.len == 0 && !ws->direct &&
                   chunk_len == ws->parser.payload_len) {
          /* The whole message in one slice: deliver it from the input. */
          ws->direct = chunk;
          ws->direct_len = chunk_len;
        } else {
          if (ws->direct) {
            if (sk_buf_append(&ws->message, ws->direct, ws->direct_len) != SK_OK)
              fail = SK_WS_CLOSE_INTERNAL;
            ws->direct = NULL;
          }
          if (!fail && sk_buf_append(&ws->message, chunk, chunk_len) != SK_OK)
            fail = SK_WS_CLOSE_INTERNAL;
        }
      }
    } else if (r == SK_WS_FRAME_END) {
      if (ws->idle_s) conn->transport.deadline = sk_deadline_in(conn->app, ws->idle_s);
      ws->ping_sent = 0;
      if (ws->parser.opcode >= 8) {
        int h = handle_control(conn);
        if (h < 0) break;
        fail = h;
      } else if (ws->parser.fin) {
        fail = finish_data_message(conn, ws->direct, ws->direct ? ws->direct_len : 0);
        if (conn->exchange.ws) ws->direct = NULL;
      }
    }
    if (fail) {
      sk_ws_fail(conn, (unsigned)fail, 1);
      break;
    }
  }
  return len; /* after a close or failure the rest is discarded */
}

void sk_ws_on_tick(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  sk_ws_t *ws = conn->exchange.ws;
  uint64_t now = app->loop.now_ticks;
  if (ws->close_sent) {
    if (conn->transport.deadline && now >= conn->transport.deadline) sk_conn_close(conn, 0);
    return;
  }
  if (ws->lifetime_deadline && now >= ws->lifetime_deadline) {
    sk_ws_fail(conn, SK_WS_CLOSE_GOING_AWAY, 1);
    return;
  }
  if (!ws->idle_s || !conn->transport.deadline) return;
  sk_ws_behavior_t *b = behavior_of(conn);
  /* Ping half-way through the idle window so a live client's pong keeps it open. */
  if (b->config.send_pings_automatically && !ws->ping_sent &&
      now + (ws->idle_s + 1) / 2 >= conn->transport.deadline) {
    ws->ping_sent = 1;
    write_frame(conn, SK_WS_OP_PING, 1, 0, "", 0);
    return;
  }
  if (now >= conn->transport.deadline) {
    notify_close(conn, SK_WS_CLOSE_ABNORMAL, NULL, 0);
    sk_conn_close(conn, 0);
  }
}

void sk_ws_on_drain(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  if (conn->exchange.ws && !conn->exchange.ws->close_sent && app->cb.on_ws_drain)
    app->cb.on_ws_drain(app->cb.user, ws_id(conn));
}

void sk_ws_shutdown(sk_conn_t *conn) {
  if (conn->exchange.ws && !conn->exchange.ws->close_sent)
    sk_ws_fail(conn, SK_WS_CLOSE_GOING_AWAY, 1);
}

/* ---- introspection ---- */

size_t sk_ws_buffered_amount(const sk_app_t *app, sk_res_id_t id) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn) return 0;
  return conn->transport.backlog.len + (app->cork_owner == conn ? app->cork_len : 0);
}

int sk_ws_remote_address(const sk_app_t *app, sk_res_id_t id, char *out, size_t cap, int as_text) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn) return SK_ERR_STALE;
  return sk_socket_format_address(&conn->peer, out, cap, as_text);
}

/* ---- pub/sub ---- */

static int subs_ready(sk_app_t *app) {
  if (!app->pubsub) app->pubsub = sk_pubsub_create(0);
  return app->pubsub != NULL;
}

void sk_app_report_topics(sk_app_t *app, int on) {
  app->report_topics = on != 0;
}

/* Tell the backplane when a topic gains its first or loses its last local
 * subscriber; nothing to do (one test) when no backplane is attached. */
static void topic_changed(sk_app_t *app, const char *topic, size_t len, size_t old_count,
                          size_t new_count) {
  if (app->report_topics && app->cb.on_topic && (old_count == 0) != (new_count == 0))
    app->cb.on_topic(app->cb.user, topic, len, new_count != 0);
}

/* sk_pubsub_subscribe or sk_pubsub_unsubscribe for a WebSocket, after the
 * publishes queued before it; the counts go to the caller and, when the
 * topic's local subscribers came or went, to the backplane. */
static int change_membership(sk_app_t *app, sk_conn_t *conn,
                             int (*change)(sk_pubsub_t *ps, void *sub, const char *topic,
                                           size_t len, size_t *old_count, size_t *new_count),
                             const char *topic, size_t len, size_t *old_count, size_t *new_count) {
  sk_ws_drain_publishes(app);
  size_t before = 0, after = 0;
  int r = change(app->pubsub, conn, topic, len, &before, &after);
  if (old_count) *old_count = before;
  if (new_count) *new_count = after;
  if (r == 1) topic_changed(app, topic, len, before, after);
  return r;
}

int sk_ws_subscribe(sk_app_t *app, sk_res_id_t id, const char *topic, size_t len, size_t *old_count,
                    size_t *new_count) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn) return SK_ERR_STALE;
  if (!subs_ready(app)) return SK_ERR_NOMEM;
  int r = change_membership(app, conn, sk_pubsub_subscribe, topic, len, old_count, new_count);
  return r < 0 ? SK_ERR_NOMEM : r;
}

int sk_ws_unsubscribe(sk_app_t *app, sk_res_id_t id, const char *topic, size_t len,
                      size_t *old_count, size_t *new_count) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn) return SK_ERR_STALE;
  if (!app->pubsub) return 0;
  return change_membership(app, conn, sk_pubsub_unsubscribe, topic, len, old_count, new_count);
}

int sk_ws_is_subscribed(const sk_app_t *app, sk_res_id_t id, const char *topic, size_t len) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn || !app->pubsub) return 0;
  return sk_pubsub_is_subscribed(app->pubsub, conn, topic, len);
}

typedef struct pack_ctx {
  char *out;
  size_t cap, need;
} pack_ctx_t;

static int pack_topic(void *ctx_ptr, const char *topic, size_t len) {
  pack_ctx_t *ctx = ctx_ptr;
  if (ctx->out && ctx->need + len + 1 <= ctx->cap) {
    memcpy(ctx->out + ctx->need, topic, len);
    ctx->out[ctx->need + len] = '\0';
  }
  ctx->need += len + 1;
  return 0;
}

size_t sk_ws_topics_pack(sk_app_t *app, sk_res_id_t id, char *out, size_t cap) {
  sk_conn_t *conn = live_ws(app, id);
  if (!conn || !app->pubsub) return 0;
  pack_ctx_t ctx = {out, cap, 0};
  sk_pubsub_for_each_topic(app->pubsub, conn, pack_topic, &ctx);
  return ctx.need;
}

typedef struct unsub_ctx {
  sk_conn_t *conn;
} unsub_ctx_t;

static void on_auto_unsubscribe(void *ctx_ptr, const char *topic, size_t len, size_t old_count,
                                size_t new_count) {
  unsub_ctx_t *ctx = ctx_ptr;
  sk_app_t *app = ctx->conn->app;
  if (app->cb.on_ws_subscription && behavior_of(ctx->conn)->config.has_subscription_handler)
    app->cb.on_ws_subscription(app->cb.user, ws_id(ctx->conn), topic, len, (int)new_count,
                               (int)old_count);
  topic_changed(app, topic, len, old_count, new_count);
}

static void unsubscribe_all(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  if (!app->pubsub || !conn->exchange.ws || conn->exchange.ws->unsubscribed) return;
  conn->exchange.ws->unsubscribed = 1;
  sk_ws_drain_publishes(app);
  unsub_ctx_t ctx = {conn};
  sk_pubsub_unsubscribe_all(app->pubsub, conn, on_auto_unsubscribe, &ctx);
}

size_t sk_app_num_subscribers(const sk_app_t *app, const char *topic, size_t len) {
  return app->pubsub ? sk_pubsub_count(app->pubsub, topic, len) : 0;
}

/* Publishes are queued and delivered together at the end of the loop
 * iteration: every subscriber then gets all its messages in one write. A
 * direct send, subscribe or close drains the queue first, so each
 * subscriber sees messages in the order the program produced them. */
typedef struct publish_ctx {
  sk_app_t *app;
  size_t index;
  size_t undelivered; /* subscribers we had no memory to queue it for */
} publish_ctx_t;

static int mark_subscriber(void *ctx_ptr, void *sub) {
  publish_ctx_t *ctx = ctx_ptr;
  sk_conn_t *conn = sub;
  if (conn->transport.closed || !conn->exchange.ws || conn->exchange.ws->close_sent) return 0;
  sk_app_t *app = ctx->app;
  sk_ws_t *ws = conn->exchange.ws;
  if (!conn->publish_listed) {
    conn->publish_listed = 1;
    conn->publish_next = app->publish_touched;
    app->publish_touched = conn;
  }
  if (ws->publish_count == ws->publish_cap) {
    void *grown =
        sk_array_grow(ws->publish_indexes, &ws->publish_cap, sizeof *ws->publish_indexes, 8);
    if (!grown) {
      ctx->undelivered++; /* reported by sk_app_publish */
      return 0;
    }
    ws->publish_indexes = grown;
  }
  ws->publish_indexes[ws->publish_count++] = (uint32_t)ctx->index;
  return 0;
}

int sk_app_publish(sk_app_t *app, const char *topic, size_t topic_len, const char *data, size_t len,
                   int opcode, int compress) {
  if (opcode != SK_WS_OP_TEXT && opcode != SK_WS_OP_BINARY) return SK_ERR_INVALID;
  if (!app->pubsub || sk_pubsub_count(app->pubsub, topic, topic_len) == 0) return 0;
  if (app->publish_count == app->publish_cap) {
    void *grown = sk_array_grow(app->publishes, &app->publish_cap, sizeof *app->publishes, 16);
    if (!grown) return SK_ERR_NOMEM;
    app->publishes = grown;
  }
  sk_publish_t *p = &app->publishes[app->publish_count];
  memset(p, 0, sizeof *p);
  if (sk_buf_append(&p->payload, data, len) != SK_OK) return SK_ERR_NOMEM;
  p->opcode = (unsigned)opcode;
  p->compress = compress;
  publish_ctx_t ctx = {app, app->publish_count, 0};
  app->publish_count++;
  sk_pubsub_for_each_subscriber(app->pubsub, topic, topic_len, mark_subscriber, &ctx);
  if (ctx.undelivered)
    sk_app_log(app, SK_LOG_ERROR,
               "publish to \"%.*s\": out of memory, %zu subscriber(s) will not get the message",
               (int)SK_MIN(topic_len, 200), topic, ctx.undelivered);
  /* Bound the queue; otherwise it drains at the end of the iteration. */
  if (app->publish_count >= 1024 || app->publish_bytes + len > 16u * 1024 * 1024) {
    sk_ws_drain_publishes(app);
  } else {
    app->publish_bytes += len;
    if (!app->dispatching) sk_loop_wake(&app->loop);
  }
  return 1;
}

void sk_ws_drain_publishes(sk_app_t *app) {
  if (app->publish_draining || app->publish_count == 0) return;
  app->publish_draining = 1;
  sk_conn_t *conn = app->publish_touched;
  app->publish_touched = NULL;
  while (conn) {
    sk_conn_t *next = conn->publish_next;
    sk_ws_t *ws = conn->exchange.ws;
    conn->publish_next = NULL;
    conn->publish_listed = 0;
    if (ws && !conn->transport.closed) {
      for (size_t i = 0; i < ws->publish_count && !conn->transport.closed; i++) {
        sk_publish_t *p = &app->publishes[ws->publish_indexes[i]];
        send_message(conn, p->opcode, p->payload.data ? p->payload.data : "", p->payload.len,
                     p->compress, 1);
      }
    }
    if (ws) ws->publish_count = 0;
    conn = next;
  }
  for (size_t i = 0; i < app->publish_count; i++) sk_buf_free(&app->publishes[i].payload);
  app->publish_count = 0;
  app->publish_bytes = 0;
  app->publish_draining = 0;
  sk_out_flush_outside_dispatch(app);
}
