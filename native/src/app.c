/* The glue behind socketify.h: the app object, listeners, accepting, the
 * slot table behind response ids, the per-second tick and deferred work. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SK_ACCEPT_BATCH 64
/* More than a listen queue holds (the kernel caps it at somaxconn, 4096 by
 * default). */
#define SK_DRAIN_MAX 8192

void sk_app_config_default(sk_app_config_t *config) {
  config->max_request_line = 8192;
  config->max_header_bytes = 8192;
  config->max_header_count = 100;
  config->header_timeout_s = 10;
  config->idle_timeout_s = 10;
  config->max_body_size = 0;
  config->proxy_protocol = SK_PROXY_ACCEPT_ANY;
  config->close_unanswered = 1;
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
  if (!conn || conn->transport.closed || conn->exchange.serial != serial) return NULL;
  return conn;
}

uint32_t sk_app_next_serial(sk_app_t *app) {
  if (++app->next_serial == 0) app->next_serial = 1;
  return app->next_serial;
}

void sk_app_defer(sk_app_t *app, sk_conn_t *conn) {
  if (conn->deferred || conn->transport.closed) return;
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
      if (!conn->transport.closed) {
        if (conn->transport.broken) {
          sk_conn_close(conn, 1);
        } else {
          sk_conn_deliver_body(conn);
          if (!conn->transport.closed &&
              (conn->phase == SK_PHASE_HEAD || conn->phase == SK_PHASE_WS))
            sk_conn_process(conn);
          if (!conn->transport.closed && conn->transport.peer_eof && conn->phase == SK_PHASE_HEAD)
            sk_conn_after_peer_eof(conn);
          if (!conn->transport.closed) sk_conn_update_reading(conn);
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
    sk_ws_free(conn->exchange.ws);
    sk_buf_free(&conn->transport.in);
    sk_buf_free(&conn->transport.backlog);
    sk_buf_free(&conn->exchange.body);
    sk_buf_free(&conn->exchange.head);
    free(conn);
  }
}

void sk_app_log(sk_app_t *app, int level, const char *format, ...) {
  if (!app->cb.on_log) return;
  char line[512];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (n < 0) return;
  app->cb.on_log(app->cb.user, level, line, SK_MIN((size_t)n, sizeof line - 1));
}

/* ---- listening and accepting ---- */

/* Returns how many listeners the poller refused to change (out of kernel
 * memory). */
static int set_listeners_polled(sk_app_t *app, int polled) {
  int refused = 0;
  for (sk_listener_t *listener = app->listeners; listener; listener = listener->next)
    if (sk_loop_modify(&app->loop, &listener->watch, polled ? SK_EV_READ : 0) != SK_OK) refused++;
  return refused;
}

/* At most one line a minute: the condition lasts, the log must stay readable. */
static int accept_log_due(sk_app_t *app) {
  long long now = (long long)time(NULL);
  if (app->accept_logged_at != 0 && now - app->accept_logged_at < 60) return 0;
  app->accept_logged_at = now;
  return 1;
}

/* accept() failed for want of a file descriptor or kernel memory. The
 * pending connection stays queued and the listening socket readable, so
 * polling it again at once would spin: stop polling the listeners until a
 * connection closes (an fd is free) or the next tick, and keep serving the
 * connections we have. */
static void pause_accepting(sk_app_t *app, int error) {
  app->accept_paused = 1;
  app->accept_resume_tick = sk_deadline_in(app, 0);
  /* A listener still polled makes accept fail again at once: the loop spins
   * until it can be paused, which the line below says. */
  int still_polled = set_listeners_polled(app, 0);
  sk_loop_set_tick(&app->loop, 1);
  if (accept_log_due(app))
    sk_app_log(app, SK_LOG_ERROR,
               "cannot accept connections: %s (%zu open); new connections wait until one "
               "closes (raise the limit with ulimit -n)%s",
               strerror(error), app->conn_count,
               still_polled ? "; the poller also refused to pause the listening sockets" : "");
}

void sk_app_resume_accepting(sk_app_t *app) {
  if (!app->accept_paused || app->shutting_down) return;
  app->accept_paused = 0;
  if (set_listeners_polled(app, 1) == 0) return;
  /* Never stop accepting for good: try again at the next tick. */
  app->accept_paused = 1;
  app->accept_resume_tick = sk_deadline_in(app, 0);
  sk_loop_set_tick(&app->loop, 1);
  if (accept_log_due(app))
    sk_app_log(app, SK_LOG_ERROR,
               "cannot poll the listening sockets again (out of kernel memory?); new "
               "connections wait, retrying every second");
}

int sk_app_trust_proxy(sk_app_t *app, const void *address, size_t len, unsigned prefix_bits) {
  if ((len != 4 && len != 16) || prefix_bits > len * 8) return SK_ERR_INVALID;
  if (app->trusted_proxy_count == app->trusted_proxy_cap) {
    void *grown = sk_array_grow(app->trusted_proxies, &app->trusted_proxy_cap,
                                sizeof *app->trusted_proxies, 4);
    if (!grown) return SK_ERR_NOMEM;
    app->trusted_proxies = grown;
  }
  sk_proxy_network_t *network = &app->trusted_proxies[app->trusted_proxy_count++];
  memset(network, 0, sizeof *network);
  memcpy(network->address, address, len);
  network->len = (uint8_t)len;
  network->prefix_bits = (uint8_t)prefix_bits;
  return SK_OK;
}

static int in_network(const sk_proxy_network_t *network, const uint8_t *address, size_t len) {
  if (network->len != len) return 0;
  unsigned full = network->prefix_bits / 8, rest = network->prefix_bits % 8;
  if (memcmp(network->address, address, full) != 0) return 0;
  if (rest == 0) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (network->address[full] & mask) == (address[full] & mask);
}

/* Whether this peer may open with a PROXY header (HAProxy's spec: only a
 * trusted proxy may, else any client picks the address the app sees). */
static int proxy_header_allowed(const sk_app_t *app, const struct sockaddr_storage *peer) {
  if (app->config.proxy_protocol == SK_PROXY_ACCEPT_ANY) return 1;
  if (app->config.proxy_protocol != SK_PROXY_ACCEPT_TRUSTED) return 0;
  uint8_t raw[16];
  int len = sk_socket_format_address(peer, (char *)raw, sizeof raw, 0);
  if (len != 4 && len != 16) return 0; /* a UNIX socket peer has no address to match */
  for (size_t i = 0; i < app->trusted_proxy_count; i++)
    if (in_network(&app->trusted_proxies[i], raw, (size_t)len)) return 1;
  return 0;
}

/* Accepts one waiting connection: 1 when one was taken, 0 when accepting
 * stops for now (the queue is empty, or out of fds or memory). */
static int accept_one(sk_app_t *app, int listen_fd) {
  struct sockaddr_storage peer;
  socklen_t peer_len;
  int fd = sk_socket_accept(listen_fd, &peer, &peer_len);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
      pause_accepting(app, errno);
    return 0; /* EAGAIN: nothing more; ECONNABORTED and the like: next time */
  }
  if (app->free_slot_count == 0 && grow_slots(app) != SK_OK) {
    sk_socket_close(fd);
    return 0;
  }
  sk_conn_t *conn = sk_conn_create(app, fd, &peer, peer_len);
  if (!conn) {
    sk_socket_close(fd);
    return 0;
  }
  if (app->tls_ctx && sk_tls_attach(&conn->transport, app->tls_ctx, conn) != SK_OK) {
    sk_loop_remove(&app->loop, &conn->transport.watch);
    sk_socket_close(fd);
    free(conn);
    return 0;
  }
  conn->proxy_checked = !proxy_header_allowed(app, &peer);
  conn->slot = app->free_slots[--app->free_slot_count];
  app->slots[conn->slot] = conn;
  conn->next = app->conns;
  if (app->conns) app->conns->prev = conn;
  app->conns = conn;
  if (app->conn_count++ == 0) {
    sk_app_update_date(app);
    sk_loop_set_tick(&app->loop, 1);
  }
  return 1;
}

static void on_accept(sk_watch_t *watch, unsigned events) {
  (void)events;
  sk_listener_t *listener = (sk_listener_t *)watch;
  sk_app_t *app = listener->app;
  for (int i = 0; i < SK_ACCEPT_BATCH && !app->shutting_down; i++)
    if (!accept_one(app, watch->fd)) return;
}

/* Takes every connection already queued on the listeners, so that a
 * graceful shutdown serves them rather than have the kernel reset them when
 * the sockets close. A connection the kernel queues between the last accept
 * and the close is still reset (on a SO_REUSEPORT group, Linux's
 * net.ipv4.tcp_migrate_req hands it to another member instead); the window
 * is a few system calls wide. The bound keeps a flood of new connections
 * from holding the shutdown up. */
static void drain_listeners(sk_app_t *app) {
  if (app->accept_paused) return; /* out of fds: what waits cannot be taken now */
  for (sk_listener_t *listener = app->listeners; listener; listener = listener->next) {
    int taken = 0;
    while (taken < SK_DRAIN_MAX && accept_one(app, listener->watch.fd)) taken++;
  }
}

static int add_listener(sk_app_t *app, int fd, const char *unix_path) {
  if (app->released) {
    sk_socket_close(fd);
    return SK_ERR_STATE;
  }
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
  app->listen_shared = 0;
  int fd = sk_socket_listen_tcp(host, port, options, bound_port, &app->listen_shared);
  if (fd < 0) return listen_result(app, SK_ERR_SYSTEM);
  return listen_result(app, add_listener(app, fd, NULL));
}

int sk_app_listen_unix(sk_app_t *app, const char *path, int options) {
  int fd = sk_socket_listen_unix(path, options);
  if (fd < 0) return listen_result(app, SK_ERR_SYSTEM);
  return listen_result(app, add_listener(app, fd, path));
}

int sk_app_listen_fd(sk_app_t *app, int fd) {
  int copy = sk_socket_adopt_listener(fd);
  if (copy < 0) return listen_result(app, SK_ERR_SYSTEM);
  /* No path: the socket file belongs to whoever bound it, not to this app. */
  return listen_result(app, add_listener(app, copy, NULL));
}

int sk_app_listen_errno(const sk_app_t *app) {
  return app->listen_errno;
}

int sk_app_listen_shared(const sk_app_t *app) {
  return app->listen_shared;
}

sk_req_t *sk_app_current_request(sk_app_t *app) {
  return &app->current_request;
}

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
  if (app->accept_paused && app->loop.now_ticks >= app->accept_resume_tick)
    sk_app_resume_accepting(app);
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

void sk_app_release(sk_app_t *app) {
  if (!app || app->released) return;
  close_listeners(app);
  app->shutting_down = 1;
  memset(&app->cb, 0, sizeof app->cb); /* no callbacks while tearing down */
  while (app->conns) {
    sk_state_aborted(app->conns); /* no callbacks while tearing down */
    sk_conn_close(app->conns, 0);
  }
  app->deferred = NULL;
  for (sk_conn_t *conn = app->graveyard; conn; conn = conn->next) conn->deferred = 0;
  free_graveyard(app);
  sk_loop_free(&app->loop);
  for (size_t i = 0; i < app->publish_count; i++) sk_buf_free(&app->publishes[i].payload);
  free(app->publishes);
  app->publishes = NULL;
  app->publish_count = app->publish_cap = 0;
  app->publish_touched = NULL;
  if (app->pubsub) sk_pubsub_destroy(app->pubsub);
  app->pubsub = NULL;
  sk_ws_behaviors_free(app);
  sk_sni_free(app);
  sk_tls_context_free(app->tls_ctx);
  app->tls_ctx = NULL;
  sk_router_destroy(app->router);
  app->router = NULL;
  sk_buf_free(&app->authority_path);
  free(app->trusted_proxies);
  app->trusted_proxies = NULL;
  app->trusted_proxy_count = app->trusted_proxy_cap = 0;
  /* No slots: every response and WebSocket id now looks up as stale. */
  free(app->slots);
  free(app->free_slots);
  app->slots = NULL;
  app->free_slots = NULL;
  app->slot_cap = app->free_slot_count = 0;
  free(app->recv_buf);
  free(app->cork_buf);
  app->recv_buf = app->cork_buf = NULL;
  app->cork_owner = NULL;
  app->cork_len = 0;
  app->released = 1;
}

int sk_app_released(const sk_app_t *app) {
  return app->released;
}

void sk_app_destroy(sk_app_t *app) {
  if (!app) return;
  sk_app_release(app);
  free(app);
}

int sk_app_fd(const sk_app_t *app) {
  return app->loop.backend_fd;
}

int sk_app_poll(sk_app_t *app, int timeout_ms) {
  if (app->released) return SK_ERR_STATE;
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
  if (app->released) return SK_ERR_STATE;
  return sk_loop_watch_outer(&app->loop, fd);
}

int sk_app_run_once(sk_app_t *app, int timeout_ms) {
  if (app->released) return SK_ERR_STATE;
  app->loop.outer_ready = 0;
  int handled = sk_app_poll(app, timeout_ms);
  return handled < 0 ? handled : app->loop.outer_ready;
}

void sk_app_set_block_hooks(sk_app_t *app, void (*before)(void), void (*after)(void)) {
  app->loop.before_block = before;
  app->loop.after_block = after;
}

int sk_app_add_route(sk_router_t *router, const char *method, size_t method_len,
                     const char *pattern, size_t pattern_len, int handler_id) {
  int r;
  if (method && method_len == 7 && memcmp(method, "CONNECT", 7) == 0 && pattern_len > 0 &&
      pattern[0] != '/') {
    /* A CONNECT route may name an authority ("host:port"): it is stored as
     * "/host:port", which is how an authority-form CONNECT is routed. */
    char *path = malloc(pattern_len + 1);
    if (!path) return SK_ERR_NOMEM;
    path[0] = '/';
    memcpy(path + 1, pattern, pattern_len);
    r = sk_router_add(router, method, method_len, path, pattern_len + 1, handler_id);
    free(path);
  } else {
    r = sk_router_add(router, method, method_len, pattern, pattern_len, handler_id);
  }
  if (r == SK_ROUTER_OK) return SK_OK;
  return r == SK_ROUTER_ERR_NOMEM ? SK_ERR_NOMEM : SK_ERR_INVALID;
}

int sk_app_route(sk_app_t *app, const char *method, size_t method_len, const char *pattern,
                 size_t pattern_len, int handler_id) {
  if (app->released) return SK_ERR_STATE;
  return sk_app_add_route(app->router, method, method_len, pattern, pattern_len, handler_id);
}

void sk_app_shutdown(sk_app_t *app) {
  if (app->released) return;
  if (!app->shutting_down) drain_listeners(app);
  app->shutting_down = 1;
  close_listeners(app);
  sk_out_flush(app); /* a response ended just now must still go out */
  sk_loop_set_tick(&app->loop, app->conn_count > 0);
  for (sk_conn_t *conn = app->conns, *next; conn; conn = next) {
    next = conn->next;
    if (conn->phase == SK_PHASE_HEAD) {
      /* Idle keep-alive: nothing is owed to it beyond what is being sent. A
       * request that arrived before the shutdown (part of its head read, or
       * its bytes waiting in the kernel) is answered, with Connection: close;
       * so is the first request of a connection accepted just before, which
       * gets a short grace to send it. */
      if (conn->transport.backlog.len) {
        sk_conn_finish_close(conn);
      } else if (conn->transport.in.len == 0 && !sk_socket_has_input(conn->transport.watch.fd)) {
        if (conn->had_request) sk_conn_close(conn, 1);
        else if (conn->transport.deadline > sk_deadline_in(app, 1))
          conn->transport.deadline = sk_deadline_in(app, 1);
      }
    } else if (conn->phase == SK_PHASE_REQUEST) {
      sk_state_no_keep_alive(conn); /* answer the request in flight, then close */
    } else if (conn->phase == SK_PHASE_WS) {
      sk_ws_shutdown(conn); /* 1001 going away */
    }
  }
  sk_loop_wake(&app->loop);
}

size_t sk_app_connection_count(const sk_app_t *app) {
  return app->conn_count;
}

int sk_app_close_connections(sk_app_t *app) {
  if (app->dispatching) return SK_ERR_BUSY;
  /* Each close reports itself (aborted response, WebSocket 1006), so the
   * program hears of every connection it loses. */
  while (app->conns) sk_conn_close(app->conns, 1);
  return SK_OK;
}

int sk_app_use_tls(sk_app_t *app, const sk_tls_options_t *options, char *err, size_t err_cap) {
  if (app->released) return SK_ERR_STATE;
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
