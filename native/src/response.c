/* Writing responses: status line, headers, framing (Content-Length or
 * chunked), the cached Date, keep-alive, HEAD without a body. The framing
 * headers are always ours: a handler's Content-Length, Transfer-Encoding and
 * Connection headers are read for their meaning, never copied blindly, so a
 * handler cannot desynchronise the connection. */
#include "internal.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static sk_conn_t *live_conn(const sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = sk_app_lookup(app, res);
  /* A connection whose write failed is as good as gone: its close is queued. */
  return conn && conn->exchange.stage != SK_RES_DONE && !conn->transport.broken ? conn : NULL;
}

void sk_app_cork(sk_app_t *app, int corked) {
  if (corked) {
    app->user_corked++;
  } else if (app->user_corked > 0 && --app->user_corked == 0) {
    sk_out_flush_outside_dispatch(app);
  }
}

static int ascii_icontains(const char *hay, size_t hay_len, const char *lower, size_t lower_len) {
  for (size_t i = 0; i + lower_len <= hay_len; i++)
    if (sk_ascii_ieq(hay + i, lower_len, lower, lower_len)) return 1;
  return 0;
}

static int is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return 1;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int valid_field_value(const char *value, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)value[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return 0; /* CR/LF would inject headers */
  }
  return 1;
}

static int status_has_no_body(int code) {
  return (code >= 100 && code < 200) || code == 204 || code == 304;
}

/* The status line and the headers are kept in conn->exchange.head until the header
 * section ends (finish_head), so a head the handler gave up on (an error, a
 * refused header) can be discarded whole: nothing of it ever left. */
static int stage_head(sk_conn_t *conn, const char *a, size_t a_len, const char *b, size_t b_len,
                      const char *c, size_t c_len) {
  sk_buf_t *head = &conn->exchange.head;
  if (sk_buf_reserve(head, a_len + b_len + c_len) != SK_OK) return SK_ERR_NOMEM;
  memcpy(head->data + head->len, a, a_len);
  memcpy(head->data + head->len + a_len, b, b_len);
  memcpy(head->data + head->len + a_len + b_len, c, c_len);
  head->len += a_len + b_len + c_len;
  return SK_OK;
}

static int write_status_line(sk_conn_t *conn, const char *status, size_t len) {
  int status_code = 0;
  if (len < 3 || len > 256) return SK_ERR_INVALID;
  for (int i = 0; i < 3; i++) {
    if (status[i] < '0' || status[i] > '9') return SK_ERR_INVALID;
    status_code = status_code * 10 + (status[i] - '0');
  }
  if (status_code < 100 || (len > 3 && status[3] != ' ')) return SK_ERR_INVALID;
  if (!valid_field_value(status, len)) return SK_ERR_INVALID;
  conn->exchange.head.len = 0;
  int r = stage_head(conn, "HTTP/1.1 ", 9, status, len, "\r\n", 2);
  if (r != SK_OK) return r;
  conn->exchange.status_code = status_code;
  if (status_has_no_body(status_code)) conn->exchange.no_body = 1;
  sk_state_head_staged(conn);
  return SK_OK;
}

static int ensure_status(sk_conn_t *conn) {
  return conn->exchange.stage == SK_RES_NONE ? write_status_line(conn, "200 OK", 6) : SK_OK;
}

static void decide_keep_alive(sk_conn_t *conn) {
  /* An unread request body we would have to drain: close instead when it is
   * big or of unknown size. */
  if (!conn->exchange.body_done &&
      (conn->exchange.body_kind == SK_BODY_CHUNKED || conn->exchange.body_remaining > 256 * 1024))
    sk_state_no_keep_alive(conn);
  if (conn->app->shutting_down) sk_state_no_keep_alive(conn);
}

enum head_mode { HEAD_FIXED, HEAD_EMPTY, HEAD_STREAM };

static void release_head(sk_conn_t *conn) {
  /* Kept for the next response, unless a big head grew it. */
  if (conn->exchange.head.cap > 4096) sk_buf_free(&conn->exchange.head);
  conn->exchange.head.len = 0;
}

/* A number in base 10 or 16 into out (room for 20 characters); returns
 * its length. Replaces snprintf, which costs more than the rest of the head. */
static size_t format_digits(char *out, uint64_t value, unsigned base) {
  char reversed[20];
  size_t count = 0;
  do {
    reversed[count++] = "0123456789abcdef"[value % base];
    value /= base;
  } while (value && count < sizeof reversed);
  for (size_t i = 0; i < count; i++) out[i] = reversed[count - 1 - i];
  return count;
}

/* Ends the header section with the headers that are ours to decide. */
static void finish_head(sk_conn_t *conn, enum head_mode mode, uint64_t body_len) {
  sk_app_t *app = conn->app;
  /* Until the cork leaves, the whole response can still be taken back. */
  sk_out_mark(conn);
  if (conn->exchange.stage == SK_RES_NONE) {
    /* Nothing staged: the whole head leaves in this call anyway. */
    sk_out_write(conn, "HTTP/1.1 200 OK\r\n", 17);
    conn->exchange.status_code = 200;
  } else {
    sk_out_write(conn, conn->exchange.head.data, conn->exchange.head.len);
    release_head(conn);
  }
  decide_keep_alive(conn);

  char head[160];
  size_t n = 0;
  int has_length = 0;
  uint64_t length = 0;
  if (mode == HEAD_FIXED) {
    has_length = !status_has_no_body(conn->exchange.status_code);
    length = (conn->exchange.head_request && conn->exchange.has_content_length && body_len == 0)
                 ? conn->exchange.declared_length
                 : body_len;
  } else if (mode == HEAD_EMPTY) {
    /* HEAD gets the headers GET would get: Content-Length 0 unless the
     * handler declared the length of the body it would have sent. */
    if (!status_has_no_body(conn->exchange.status_code)) {
      has_length = 1;
      if (conn->exchange.has_content_length) length = conn->exchange.declared_length;
    }
  } else if (!conn->exchange.no_body) {
    if (conn->exchange.has_content_length) {
      has_length = 1;
      length = conn->exchange.declared_length;
    } else if (conn->exchange.version_minor == 1) {
      conn->exchange.chunked_out = 1;
      memcpy(head + n, "Transfer-Encoding: chunked\r\n", 28);
      n += 28;
    } else {
      sk_state_no_keep_alive(conn); /* HTTP/1.0: the close delimits the body */
    }
  } else if (conn->exchange.has_content_length) {
    has_length = 1;
    length = conn->exchange.declared_length;
  }
  if (has_length) {
    memcpy(head + n, "Content-Length: ", 16);
    n += 16;
    n += format_digits(head + n, length, 10);
    memcpy(head + n, "\r\n", 2);
    n += 2;
  }
  if (!conn->exchange.keep_alive) {
    memcpy(head + n, "Connection: close\r\n", 19);
    n += 19;
  } else if (conn->exchange.version_minor == 0) {
    memcpy(head + n, "Connection: keep-alive\r\n", 24);
    n += 24;
  }
  if (!conn->exchange.has_date) sk_out_write(conn, app->date, SK_DATE_LEN);
  memcpy(head + n, "\r\n", 2);
  n += 2;
  sk_out_write(conn, head, n);
  sk_state_response_started(conn);
}

/* Writes a piece of the body; returns how much of it counts towards the
 * body (write_offset): all of it, except past a declared Content-Length. */
static size_t write_body(sk_conn_t *conn, const char *data, size_t len) {
  if (conn->exchange.has_content_length && !conn->exchange.chunked_out) {
    /* Never send more than we announced: the excess would be read as the
     * next response. The body is then complete and the connection goes on. */
    uint64_t room = conn->exchange.declared_length > conn->exchange.write_offset
                        ? conn->exchange.declared_length - conn->exchange.write_offset
                        : 0;
    len = (size_t)SK_MIN((uint64_t)len, room);
  }
  if (conn->exchange.no_body || len == 0) return len;
  if (conn->exchange.chunked_out) {
    char size_line[24];
    size_t n = format_digits(size_line, len, 16);
    memcpy(size_line + n, "\r\n", 2);
    sk_out_write(conn, size_line, n + 2);
    sk_out_write(conn, data, len);
    sk_out_write(conn, "\r\n", 2);
  } else {
    sk_out_write(conn, data, len);
  }
  return len;
}

int sk_res_state(const sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return 0;
  int state = SK_RES_VALID;
  if (conn->exchange.stage >= SK_RES_STATUS) state |= SK_RES_HEADERS_SENT;
  if (conn->exchange.stage >= SK_RES_BODY) state |= SK_RES_BODY_STARTED;
  if (conn->transport.backlog.len == 0) state |= SK_RES_WRITABLE;
  return state;
}

int sk_res_write_status(sk_app_t *app, sk_res_id_t res, const char *status, size_t len) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.stage != SK_RES_NONE) return SK_ERR_STATE;
  return write_status_line(conn, status, len);
}

/* Content-Length as the handler gave it: plain digits, no overflow. */
static int parse_length(const char *value, size_t len, uint64_t *out) {
  uint64_t length = 0;
  if (len == 0 || len > 19) return 0;
  for (size_t i = 0; i < len; i++) {
    if (value[i] < '0' || value[i] > '9') return 0;
    length = length * 10 + (uint64_t)(value[i] - '0');
  }
  *out = length;
  return 1;
}

int sk_field_valid(const char *name, size_t name_len, const char *value, size_t value_len) {
  if (name_len == 0) return 0;
  for (size_t i = 0; i < name_len; i++)
    if (!is_tchar((unsigned char)name[i])) return 0;
  uint64_t length;
  if (sk_ascii_ieq(name, name_len, "content-length", 14) &&
      !parse_length(value, value_len, &length))
    return 0;
  return valid_field_value(value, value_len);
}

int sk_pairs_next(const char **cursor, const char *end, sk_slice_t *name, sk_slice_t *value) {
  const char *p = *cursor;
  if (p >= end) return 0;
  const char *nul = memchr(p, '\0', (size_t)(end - p));
  if (!nul) return -1;
  name->data = p;
  name->len = (size_t)(nul - p);
  p = nul + 1;
  /* The last value may end at `end` without its NUL (b"\0".join(fields)). */
  nul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
  value->data = p;
  value->len = (size_t)((nul ? nul : end) - p);
  *cursor = nul ? nul + 1 : end;
  return 1;
}

int sk_pairs_valid(const char *packed, size_t len, size_t count) {
  const char *cursor = packed, *end = packed + len;
  sk_slice_t name, value;
  size_t seen = 0;
  int r;
  while ((r = sk_pairs_next(&cursor, end, &name, &value)) == 1) {
    if (!sk_field_valid(name.data, name.len, value.data, value.len)) return 0;
    seen++;
  }
  return r == 0 && seen == count;
}

/* A header already validated: the framing ones are read for their meaning. */
static int put_header(sk_conn_t *conn, const char *name, size_t name_len, const char *value,
                      size_t value_len) {
  if (sk_ascii_ieq(name, name_len, "content-length", 14)) {
    conn->exchange.has_content_length = 1;
    parse_length(value, value_len, &conn->exchange.declared_length);
    return SK_OK;
  }
  if (sk_ascii_ieq(name, name_len, "transfer-encoding", 17)) return SK_OK; /* framing is ours */
  if (sk_ascii_ieq(name, name_len, "connection", 10)) {
    if (ascii_icontains(value, value_len, "close", 5)) sk_state_no_keep_alive(conn);
    return SK_OK;
  }
  int r = ensure_status(conn);
  if (r == SK_OK) r = stage_head(conn, name, name_len, ": ", 2, value, value_len);
  if (r == SK_OK) r = stage_head(conn, "\r\n", 2, "", 0, "", 0);
  if (r == SK_OK && sk_ascii_ieq(name, name_len, "date", 4)) conn->exchange.has_date = 1;
  return r;
}

int sk_res_discard_head(sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.stage == SK_RES_BODY) {
    /* The head and maybe some body went out of the handler, but while they
     * are all still in the cork nothing has left the process. */
    if (!sk_out_take_back(conn)) return SK_ERR_STATE;
    conn->exchange.chunked_out = 0;
    conn->exchange.write_offset = 0;
  }
  release_head(conn);
  sk_state_head_discarded(conn);
  conn->exchange.status_code = 0;
  conn->exchange.has_content_length = 0; /* a Content-Length header is part of the head too */
  conn->exchange.declared_length = 0;
  conn->exchange.has_date = 0;
  conn->exchange.no_body = conn->exchange.head_request;
  return SK_OK;
}

int sk_res_write_header(sk_app_t *app, sk_res_id_t res, const char *name, size_t name_len,
                        const char *value, size_t value_len) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.stage == SK_RES_BODY) return SK_ERR_STATE;
  if (!sk_field_valid(name, name_len, value, value_len)) return SK_ERR_INVALID;
  return put_header(conn, name, name_len, value, value_len);
}

int sk_res_write_head(sk_app_t *app, sk_res_id_t res, const char *status, size_t status_len,
                      const char *headers, size_t headers_len, size_t count) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.stage != SK_RES_NONE) return SK_ERR_STATE;
  /* Validate everything first: nothing reaches the wire from a bad head. */
  if (!sk_pairs_valid(headers, headers_len, count)) return SK_ERR_INVALID;
  int r = write_status_line(conn, status, status_len);
  if (r != SK_OK) return r;
  const char *cursor = headers, *end = headers + headers_len;
  sk_slice_t name, value;
  while (sk_pairs_next(&cursor, end, &name, &value) == 1)
    put_header(conn, name.data, name.len, value.data, value.len);
  return SK_OK;
}

int sk_res_write(sk_app_t *app, sk_res_id_t res, const char *data, size_t len) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.stage != SK_RES_BODY) finish_head(conn, HEAD_STREAM, 0);
  conn->exchange.write_offset += write_body(conn, data, len);
  sk_out_flush_outside_dispatch(app);
  return SK_OK;
}

static void end_response(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  if (conn->exchange.chunked_out) {
    sk_out_write(conn, "0\r\n\r\n", 5);
  } else if (conn->exchange.has_content_length && !conn->exchange.no_body &&
             conn->exchange.write_offset != conn->exchange.declared_length) {
    sk_state_no_keep_alive(conn); /* the body fell short of what we announced */
  }
  sk_conn_response_done(conn);
  sk_out_flush_outside_dispatch(app);
}

int sk_res_end(sk_app_t *app, sk_res_id_t res, const char *data, size_t len, int close_connection) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (close_connection) sk_state_no_keep_alive(conn);
  if (conn->exchange.stage != SK_RES_BODY) {
    finish_head(conn, HEAD_FIXED, len);
    if (!conn->exchange.no_body) sk_out_write(conn, data, len);
    conn->exchange.write_offset += len;
    sk_conn_response_done(conn);
    sk_out_flush_outside_dispatch(app);
    return SK_OK;
  }
  conn->exchange.write_offset += write_body(conn, data, len);
  end_response(conn);
  return SK_OK;
}

int sk_res_end_without_body(sk_app_t *app, sk_res_id_t res, int close_connection) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (close_connection) sk_state_no_keep_alive(conn);
  if (conn->exchange.stage != SK_RES_BODY) {
    finish_head(conn, HEAD_EMPTY, 0);
    sk_conn_response_done(conn);
    sk_out_flush_outside_dispatch(app);
    return SK_OK;
  }
  end_response(conn);
  return SK_OK;
}

int sk_res_send(sk_app_t *app, sk_res_id_t res, const char *status, size_t status_len,
                const char *content_type, size_t content_type_len, const char *body,
                size_t body_len, int close_connection) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.stage == SK_RES_BODY) return SK_ERR_STATE;
  if (status && conn->exchange.stage == SK_RES_NONE) {
    int r = write_status_line(conn, status, status_len);
    if (r != SK_OK) return r;
  }
  if (content_type) {
    int r = sk_res_write_header(app, res, "Content-Type", 12, content_type, content_type_len);
    if (r != SK_OK) return r;
  }
  return sk_res_end(app, res, body, body_len, close_connection);
}

int sk_res_try_end(sk_app_t *app, sk_res_id_t res, const char *data, size_t len, uint64_t total,
                   int close_connection, int *done) {
  *done = 0;
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (close_connection) sk_state_no_keep_alive(conn);
  if (conn->exchange.stage != SK_RES_BODY) {
    conn->exchange.has_content_length = 1;
    conn->exchange.declared_length = total;
    finish_head(conn, HEAD_STREAM, 0);
  }
  conn->exchange.write_offset += write_body(conn, data, len);
  if (conn->exchange.write_offset >= conn->exchange.declared_length || conn->exchange.no_body) {
    end_response(conn);
    *done = 1;
    return conn->transport.closed || conn->transport.backlog.len == 0;
  }
  /* Backpressure is only known once the corked bytes met the kernel. */
  if (app->cork_owner == conn && !app->user_corked) sk_out_flush(app);
  return conn->transport.closed || conn->transport.backlog.len == 0;
}

int sk_res_respond(sk_app_t *app, sk_res_id_t res, const char *status, size_t status_len,
                   const char *headers, size_t headers_len, size_t count, const char *body,
                   size_t body_len) {
  int r = sk_res_write_head(app, res, status, status_len, headers, headers_len, count);
  if (r != SK_OK) return r;
  return sk_res_end(app, res, body, body_len, 0);
}

int sk_res_end_with_trailers(sk_app_t *app, sk_res_id_t res, const char *fields, size_t len,
                             size_t count) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (!sk_pairs_valid(fields, len, count)) return SK_ERR_INVALID;
  if (conn->exchange.stage != SK_RES_BODY) finish_head(conn, HEAD_STREAM, 0);
  if (!conn->exchange.chunked_out) {
    end_response(conn);
    return SK_OK;
  }
  /* RFC 9112 7.1.2: the last chunk, then the trailer section. */
  sk_out_write(conn, "0\r\n", 3);
  const char *cursor = fields, *end = fields + len;
  sk_slice_t name, value;
  while (sk_pairs_next(&cursor, end, &name, &value) == 1) {
    sk_out_write(conn, name.data, name.len);
    sk_out_write(conn, ": ", 2);
    sk_out_write(conn, value.data, value.len);
    sk_out_write(conn, "\r\n", 2);
  }
  sk_out_write(conn, "\r\n", 2);
  sk_conn_response_done(conn);
  sk_out_flush_outside_dispatch(app);
  return SK_OK;
}

int sk_res_on_data(sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.body_wanted) return SK_OK;
  conn->exchange.body_wanted = 1;
  /* RFC 9110 10.1.1: the client waits for 100 before sending the body. */
  if ((conn->exchange.req_flags & SK_REQ_EXPECT_CONTINUE) && !conn->exchange.body_done &&
      !conn->exchange.sent_continue && conn->exchange.stage == SK_RES_NONE) {
    conn->exchange.sent_continue = 1;
    sk_out_write(conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    sk_out_flush_outside_dispatch(app);
  }
  /* Deliver what already arrived on the next iteration, never from inside
   * this call: handlers must not run re-entrantly. */
  sk_app_defer(app, conn);
  return SK_OK;
}

int sk_res_take_body(sk_app_t *app, sk_res_id_t res, char *out, size_t cap, size_t *len) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.body_wanted) return SK_ERR_STATE; /* already streaming through on_data */
  if (conn->exchange.body_done) {
    /* Everything arrived before anyone asked: it waits in conn->exchange.body. */
    *len = conn->exchange.body.len;
    if (conn->exchange.body.len > cap) return SK_RES_BODY_TOO_BIG;
    if (conn->exchange.body.len) memcpy(out, conn->exchange.body.data, conn->exchange.body.len);
    sk_buf_free(&conn->exchange.body);
    conn->exchange.body_wanted = 1;
    conn->exchange.body_last_sent = 1;
    return SK_OK;
  }
  /* Inside the dispatch of its request, a Content-Length body that arrived
   * with the head is still in the input, not yet fed: take it from there. */
  if (conn->in_dispatch && conn->exchange.dispatch_input &&
      conn->exchange.body_kind == SK_BODY_LENGTH && conn->exchange.body_received == 0 &&
      conn->exchange.body.len == 0 &&
      conn->exchange.body_remaining <=
          conn->exchange.dispatch_input_len - conn->exchange.dispatch_taken) {
    size_t size = (size_t)conn->exchange.body_remaining;
    *len = size;
    if (size > cap) return SK_RES_BODY_TOO_BIG;
    memcpy(out, conn->exchange.dispatch_input + conn->exchange.dispatch_taken, size);
    conn->exchange.dispatch_taken += size;
    conn->exchange.body_received = size;
    conn->exchange.body_remaining = 0;
    conn->exchange.body_done = 1;
    conn->exchange.body_wanted = 1;
    conn->exchange.body_last_sent = 1;
    return SK_OK;
  }
  return SK_ERR_STATE;
}

int sk_res_write_continue(sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->exchange.stage != SK_RES_NONE) return SK_ERR_STATE;
  if (!conn->exchange.sent_continue) {
    conn->exchange.sent_continue = 1;
    sk_out_write(conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    sk_out_flush_outside_dispatch(app);
  }
  return SK_OK;
}

static int set_paused(sk_app_t *app, sk_res_id_t res, int paused) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return SK_ERR_STALE;
  conn->transport.user_paused = paused != 0;
  sk_conn_update_reading(conn);
  return SK_OK;
}

int sk_res_pause(sk_app_t *app, sk_res_id_t res) {
  return set_paused(app, res, 1);
}

int sk_res_resume(sk_app_t *app, sk_res_id_t res) {
  return set_paused(app, res, 0);
}

int sk_res_close(sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = sk_app_lookup(app, res);
  if (!conn) return SK_ERR_STALE;
  /* What was written so far still goes out; then the connection ends. No
   * abort callback: the caller knows it closed the connection. */
  if (app->cork_owner == conn) sk_out_flush(app);
  if (conn->transport.closed) return SK_OK;
  sk_state_aborted(conn);
  sk_conn_close(conn, 0);
  return SK_OK;
}

uint64_t sk_res_write_offset(const sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = live_conn(app, res);
  return conn ? conn->exchange.write_offset : 0;
}

size_t sk_res_buffered_amount(const sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = live_conn(app, res);
  if (!conn) return 0;
  return conn->transport.backlog.len + (app->cork_owner == conn ? app->cork_len : 0);
}

int sk_res_remote_address(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap,
                          int as_text) {
  sk_conn_t *conn = sk_app_lookup(app, res);
  if (!conn) return SK_ERR_STALE;
  return sk_socket_format_address(&conn->peer, out, cap, as_text);
}

int sk_res_remote_endpoint(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap) {
  sk_conn_t *conn = sk_app_lookup(app, res);
  if (!conn) return SK_ERR_STALE;
  int n = sk_socket_format_address(&conn->peer, out, cap, 0);
  if (n <= 0) return n;
  if ((size_t)n + 2 > cap) return SK_ERR_INVALID;
  uint16_t port = 0; /* network order in both families */
  if (conn->peer.ss_family == AF_INET) port = ((const struct sockaddr_in *)&conn->peer)->sin_port;
  else port = ((const struct sockaddr_in6 *)&conn->peer)->sin6_port;
  memcpy(out + n, &port, 2);
  return n + 2;
}

int sk_res_proxied_address(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap,
                           int as_text) {
  sk_conn_t *conn = sk_app_lookup(app, res);
  if (!conn) return SK_ERR_STALE;
  if (conn->proxy.family == 0) return 0;
  struct sockaddr_storage addr;
  sk_socket_address_from_raw(&addr, conn->proxy.address, conn->proxy.family == 4 ? 4 : 16);
  return sk_socket_format_address(&addr, out, cap, as_text);
}

int sk_res_native_handle(const sk_app_t *app, sk_res_id_t res) {
  sk_conn_t *conn = sk_app_lookup(app, res);
  return conn ? conn->transport.watch.fd : SK_ERR_STALE;
}

/* ---- answers the core gives on its own ---- */

static const char *reason_phrase(int status) {
  switch (status) {
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 408: return "Request Timeout";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 426: return "Upgrade Required";
  case 431: return "Request Header Fields Too Large";
  case 501: return "Not Implemented";
  case 505: return "HTTP Version Not Supported";
  default: return "Internal Server Error";
  }
}

/* extra: whole header lines ("Name: value\r\n") the status calls for. */
static void write_canned(sk_conn_t *conn, int status, int close, const char *extra,
                         size_t extra_len) {
  const char *reason = reason_phrase(status);
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Length: %zu\r\n%s",
                   status, reason, strlen(reason), close ? "Connection: close\r\n" : "");
  sk_out_write(conn, head, (size_t)n);
  sk_out_write(conn, extra, extra_len);
  sk_out_write(conn, conn->app->date, SK_DATE_LEN);
  sk_out_write(conn, "\r\n", 2);
  if (!conn->exchange.head_request) sk_out_write(conn, reason, strlen(reason));
}

int sk_res_write_error(sk_conn_t *conn, int status) {
  return sk_res_write_error_with(conn, status, NULL, 0);
}

int sk_res_write_error_with(sk_conn_t *conn, int status, const char *extra, size_t extra_len) {
  if (conn->transport.closed) return SK_ERR_STALE;
  sk_app_t *app = conn->app;
  uint32_t serial = conn->exchange.serial;
  int in_flight =
      conn->phase == SK_PHASE_REQUEST && serial != 0 && conn->exchange.stage != SK_RES_DONE;
  if (in_flight && conn->exchange.stage == SK_RES_BODY) {
    /* Half a response is on the wire: no status can follow it. */
    sk_conn_close(conn, 1);
    return SK_OK;
  }
  release_head(conn); /* a head never sent is simply dropped */
  conn->exchange.head_request = 0;
  write_canned(conn, status, 1, extra, extra_len);
  /* Done already: a canned answer to a body that kept coming after it. */
  if (conn->exchange.stage != SK_RES_DONE) sk_state_response_ended(conn);
  sk_conn_finish_close(conn);
  if (in_flight && app->cb.on_aborted)
    app->cb.on_aborted(app->cb.user, sk_conn_id_of(serial, conn->slot));
  return SK_OK;
}

int sk_res_write_not_found(sk_conn_t *conn) {
  conn->exchange.status_code = 404;
  decide_keep_alive(conn);
  write_canned(conn, 404, !conn->exchange.keep_alive, NULL, 0);
  sk_conn_response_done(conn);
  return SK_OK;
}
