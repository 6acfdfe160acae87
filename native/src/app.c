/* The glue behind socketify.h: the app object, listeners, accepting, the
 * slot table behind response ids, the per-second tick and deferred work. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SK_ACCEPT_BATCH 64

void sk_app_config_default(sk_app_config_t *config) {
  config->max_request_line = 8192;
  config->max_header_bytes = 8192;
  config->max_header_count = 100;
  config->header_timeout_s = 10;
  config->idle_timeout_s = 10;
  config->max_body_size = 0;
}

void sk_app_update_date(sk_app_t *app) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char text[SK_DATE_LEN + 8];
  /* RFC 9110 5.6.7: IMF-fixdate, always 29 characters. */
  int n = snprintf(text, sizeof text, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                   days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                   (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (n == SK_DATE_LEN) memcpy(app->date, text, SK_DATE_LEN + 1);
}

/* ---- slots: response id -> connection ---- */

static int grow_slots(sk_app_t *app) {
  uint32_t cap = app->slot_cap ? app->slot_cap * 2 : 1024;
  if (cap <= app->slot_cap) return SK_ERR_NOMEM;
  sk_conn_t **slots = realloc(app->slots, cap * sizeof *slots);
  if (!slots) return SK_ERR_NOMEM;
  app->slots = slots;
  uint32_t *free_slots = realloc(app->free_slots, cap * sizeof *free_slots);
  if (!free_slots) return SK_ERR_NOMEM;
  app->free_slots = free_slots;
  /* Push new slots so that the lowest index is handed out first. */
  for (uint32_t i = cap; i > app->slot_cap; i--) {
    slots[i - 1] = NULL;
    free_slots[app->free_slot_count++] = i - 1;
  }
  app->slot_cap = cap;
  return SK_OK;
}

sk_conn_t *sk_app_lookup(const sk_app_t *app, sk_res_id_t res) {
  uint32_t slot = (uint32_t)(res & 0xffffffffu);
  uint32_t serial = (uint32_t)(res >> 32);
  if (serial == 0 || slot >= app->slot_cap) return NULL;
  sk_conn_t *conn = app->slots[slot];
  if (!conn || conn->closed || conn->serial != serial) return NULL;
  return conn;
}

uint32_t sk_app_next_serial(sk_app_t *app) {
  if (++app->next_serial == 0) app->next_serial = 1;
  return app->next_serial;
}

void sk_app_defer(sk_app_t *app, sk_conn_t *conn) {
  if (conn->deferred || conn->closed) return;
  conn->deferred = 1;
  conn->deferred_next = app->deferred;
  app->deferred = conn;
  sk_loop_wake(&app->loop);
}

static void run_deferred(sk_app_t *app) {
  /* Handlers may queue more work; take the list a batch at a time. */
  for (int round = 0; app->deferred && round < 16; round++) {
    sk_conn_t *conn = app->deferred;
    app->deferred = NULL;
    while (conn) {
      sk_conn_t *next = conn->deferred_next;
      conn->deferred = 0;
      conn->deferred_next = NULL;
      if (!conn->closed) {
        if (conn->broken) {
          sk_conn_close(conn, 1);
        } else {
          sk_conn_deliver_body(conn);
          if (!conn->closed && (conn->phase == SK_PHASE_HEAD || conn->phase == SK_PHASE_WS))
            sk_conn_process(conn);
          if (!conn->closed && conn->peer_eof && conn->phase == SK_PHASE_HEAD)
            sk_conn_close(conn, 1);
          if (!conn->closed) sk_conn_update_reading(conn);
        }
      }
      conn = next;
    }
  }
  if (app->deferred) sk_loop_wake(&app->loop);
}

static void free_graveyard(sk_app_t *app) {
  while (app->graveyard) {
    sk_conn_t *conn = app->graveyard;
    if (conn->deferred) break; /* still referenced by the deferred list */
    app->graveyard = conn->next;
    sk_ws_free(conn->ws);
    sk_buf_free(&conn->in);
    sk_buf_free(&conn->backlog);
    sk_buf_free(&conn->body);
    free(conn);
  }
}

/* ---- listening and accepting ---- */

static void on_accept(sk_watch_t *watch, unsigned events) {
  (void)events;
  sk_listener_t *listener = (sk_listener_t *)watch;
  sk_app_t *app = listener->app;
  for (int i = 0; i < SK_ACCEPT_BATCH && !app->shutting_down; i++) {
    struct sockaddr_storage peer;
    socklen_t peer_len;
    int fd = sk_socket_accept(watch->fd, &peer, &peer_len);
    if (fd < 0) return; /* EAGAIN, or EMFILE: level-triggered, retried next time */
    if (app->free_slot_count == 0 && grow_slots(app) != SK_OK) {
      sk_socket_close(fd);
      return;
    }
    sk_conn_t *conn = sk_conn_create(app, fd, &peer, peer_len);
    if (!conn) {
      sk_socket_close(fd);
      return;
    }
    if (app->tls_ctx && sk_tls_attach(conn, app->tls_ctx) != SK_OK) {
      sk_loop_remove(&app->loop, &conn->watch);
      sk_socket_close(fd);
      free(conn);
      return;
    }
    conn->slot = app->free_slots[--app->free_slot_count];
    app->slots[conn->slot] = conn;
    conn->next = app->conns;
    if (app->conns) app->conns->prev = conn;
    app->conns = conn;
    if (app->conn_count++ == 0) {
      sk_app_update_date(app);
      sk_loop_set_tick(&app->loop, 1);
    }
  }
}

static int add_listener(sk_app_t *app, int fd, const char *unix_path) {
  sk_listener_t *listener = calloc(1, sizeof *listener);
  if (!listener) {
    sk_socket_close(fd);
    return SK_ERR_NOMEM;
  }
  listener->app = app;
  listener->watch.fd = fd;
  listener->watch.on_event = on_accept;
  if (unix_path) {
    listener->unix_path = strdup(unix_path);
    if (!listener->unix_path) {
      free(listener);
      sk_socket_close(fd);
      return SK_ERR_NOMEM;
    }
  }
  if (sk_loop_add(&app->loop, &listener->watch, SK_EV_READ) != SK_OK) {
    free(listener->unix_path);
    free(listener);
    sk_socket_close(fd);
    return SK_ERR_SYSTEM;
  }
  listener->next = app->listeners;
  app->listeners = listener;
  return SK_OK;
}

/* errno is kept with the app: the binding does not carry errno across calls
 * (see build_native.py), and Python may clobber it before reading. */
static int listen_result(sk_app_t *app, int status) {
  if (status == SK_ERR_SYSTEM) app->listen_errno = errno;
  else app->listen_errno = status == SK_ERR_NOMEM ? ENOMEM : 0;
  return status;
}

int sk_app_listen(sk_app_t *app, const char *host, int port, int options, int *bound_port) {
  int fd = sk_socket_listen_tcp(host, port, options, bound_port);
  if (fd < 0) return listen_result(app, SK_ERR_SYSTEM);
  return listen_result(app, add_listener(app, fd, NULL));
}

int sk_app_listen_unix(sk_app_t *app, const char *path, int options) {
  int fd = sk_socket_listen_unix(path, options);
  if (fd < 0) return listen_result(app, SK_ERR_SYSTEM);
  return listen_result(app, add_listener(app, fd, path));
}

int sk_app_listen_errno(const sk_app_t *app) { return app->listen_errno; }

sk_req_t *sk_app_current_request(sk_app_t *app) { return &app->current_request; }

static void close_listeners(sk_app_t *app) {
  while (app->listeners) {
    sk_listener_t *listener = app->listeners;
    app->listeners = listener->next;
    sk_loop_remove(&app->loop, &listener->watch);
    sk_socket_close(listener->watch.fd);
    if (listener->unix_path) unlink(listener->unix_path);
    free(listener->unix_path);
    free(listener);
  }
}

/* ---- the app ---- */

static void on_tick(void *ctx) {
  sk_app_t *app = ctx;
  sk_app_update_date(app);
  for (sk_conn_t *conn = app->conns, *next; conn; conn = next) {
    next = conn->next;
    sk_conn_on_tick(conn);
  }
}

static void on_wake(void *ctx) {
  run_deferred(ctx);
}

sk_app_t *sk_app_create(const sk_app_config_t *config, const sk_app_callbacks_t *callbacks) {
  sk_app_t *app = calloc(1, sizeof *app);
  if (!app) return NULL;
  if (config) app->config = *config;
  else sk_app_config_default(&app->config);
  if (app->config.max_header_count > SK_HTTP_MAX_HEADERS_CAP)
    app->config.max_header_count = SK_HTTP_MAX_HEADERS_CAP;
  if (app->config.header_timeout_s == 0) app->config.header_timeout_s = 10;
  if (app->config.idle_timeout_s == 0) app->config.idle_timeout_s = 10;
  app->limits.max_request_line = app->config.max_request_line;
  app->limits.max_header_bytes = app->config.max_header_bytes;
  app->limits.max_header_count = app->config.max_header_count;
  if (callbacks) app->cb = *callbacks;
  app->recv_buf = malloc(SK_RECV_BUFFER_SIZE);
  app->cork_buf = malloc(SK_CORK_BUFFER_SIZE);
  app->router = sk_router_create();
  if (!app->recv_buf || !app->cork_buf || !app->router || sk_loop_init(&app->loop) != SK_OK) {
    if (app->router) sk_router_destroy(app->router);
    free(app->recv_buf);
    free(app->cork_buf);
    free(app);
    return NULL;
  }
  app->loop.ctx = app;
  app->loop.on_tick = on_tick;
  app->loop.on_wake = on_wake;
  sk_app_update_date(app);
  return app;
}

void sk_app_destroy(sk_app_t *app) {
  if (!app) return;
  close_listeners(app);
  app->shutting_down = 1;
  memset(&app->cb, 0, sizeof app->cb); /* no callbacks while tearing down */
  while (app->conns) {
    app->conns->serial = 0; /* no callbacks while tearing down */
    sk_conn_close(app->conns, 0);
  }
  app->deferred = NULL;
  for (sk_conn_t *conn = app->graveyard; conn; conn = conn->next) conn->deferred = 0;
  free_graveyard(app);
  sk_loop_free(&app->loop);
  for (size_t i = 0; i < app->publish_count; i++) sk_buf_free(&app->publishes[i].payload);
  free(app->publishes);
  app->publish_touched = NULL;
  if (app->pubsub) sk_pubsub_destroy(app->pubsub);
  sk_ws_behaviors_free(app);
  sk_sni_free(app);
  sk_tls_context_free(app->tls_ctx);
  sk_router_destroy(app->router);
  free(app->slots);
  free(app->free_slots);
  free(app->recv_buf);
  free(app->cork_buf);
  free(app);
}

int sk_app_fd(const sk_app_t *app) {
  return app->loop.backend_fd;
}

int sk_app_poll(sk_app_t *app, int timeout_ms) {
  if (app->dispatching) return SK_ERR_BUSY;
  if (app->deferred || app->publish_count) timeout_ms = 0;
  app->dispatching = 1;
  int handled = sk_loop_run_once(&app->loop, timeout_ms);
  run_deferred(app);
  sk_ws_drain_publishes(app);
  sk_out_flush(app);
  app->dispatching = 0;
  free_graveyard(app);
  return handled;
}

int sk_app_watch_outer(sk_app_t *app, int fd) {
  return sk_loop_watch_outer(&app->loop, fd);
}

int sk_app_run_once(sk_app_t *app, int timeout_ms) {
  app->loop.outer_ready = 0;
  int handled = sk_app_poll(app, timeout_ms);
  return handled < 0 ? handled : app->loop.outer_ready;
}

void sk_app_set_block_hooks(sk_app_t *app, void (*before)(void), void (*after)(void)) {
  app->loop.before_block = before;
  app->loop.after_block = after;
}

int sk_app_route(sk_app_t *app, const char *method, size_t method_len, const char *pattern,
                 size_t pattern_len, int handler_id) {
  int r = sk_router_add(app->router, method, method_len, pattern, pattern_len, handler_id);
  if (r == SK_ROUTER_OK) return SK_OK;
  return r == SK_ROUTER_ERR_NOMEM ? SK_ERR_NOMEM : SK_ERR_INVALID;
}

void sk_app_shutdown(sk_app_t *app) {
  app->shutting_down = 1;
  close_listeners(app);
  sk_out_flush(app); /* a response ended just now must still go out */
  sk_loop_set_tick(&app->loop, app->conn_count > 0);
  for (sk_conn_t *conn = app->conns, *next; conn; conn = next) {
    next = conn->next;
    if (conn->phase == SK_PHASE_HEAD) {
      /* Idle or mid-head: nothing is owed to it beyond what is being sent. */
      if (conn->backlog.len) sk_out_finish_close(conn);
      else sk_conn_close(conn, 1);
    } else if (conn->phase == SK_PHASE_REQUEST) {
      conn->keep_alive = 0; /* answer the request in flight, then close */
    } else if (conn->phase == SK_PHASE_WS) {
      sk_ws_shutdown(conn); /* 1001 going away */
    }
  }
  sk_loop_wake(&app->loop);
}

size_t sk_app_connection_count(const sk_app_t *app) {
  return app->conn_count;
}

int sk_app_use_tls(sk_app_t *app, const sk_tls_options_t *options, char *err, size_t err_cap) {
  struct ssl_ctx_st *ctx = sk_tls_context_create(options, err, err_cap);
  if (!ctx) return SK_ERR_INVALID;
  sk_tls_context_free(app->tls_ctx);
  app->tls_ctx = ctx;
  sk_sni_enable(app, ctx);
  return SK_OK;
}

void *sk_app_native_handle(const sk_app_t *app) {
  return app->tls_ctx;
}
