/* Internal structures of the native core; never seen by the binding. */
#ifndef SK_INTERNAL_H
#define SK_INTERNAL_H

/* -std=c11 hides POSIX from the libc headers; ask for it back. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* accept4, SOCK_NONBLOCK */
#elif defined(__APPLE__) && !defined(_DARWIN_C_SOURCE)
#define _DARWIN_C_SOURCE
#endif

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

#include "socketify.h"
#include "http_parser.h"
#include "router.h"
#include "proxy_protocol.h"
#include "pubsub.h"
#include "ws_deflate.h"
#include "ws_protocol.h"
#include "ascii.h"

/* ---- growable byte buffer (buffer.c) ---- */
typedef struct sk_buf {
  char *data;
  size_t len;
  size_t cap;
} sk_buf_t;

int sk_buf_reserve(sk_buf_t *buf, size_t extra);
int sk_buf_append(sk_buf_t *buf, const void *data, size_t len);
void sk_buf_consume(sk_buf_t *buf, size_t len); /* drop len bytes from the front */
void sk_buf_free(sk_buf_t *buf);
/* A doubling array's storage, grown (realloc) to the next capacity; *cap is
 * updated on success, NULL (old storage intact) on failure. */
void *sk_array_grow(void *items, size_t *cap, size_t item_size, size_t first_cap);

/* ---- event loop (loop.c, loop_epoll.c / loop_kqueue.c) ---- */
#define SK_EV_READ 0x1u
#define SK_EV_WRITE 0x2u
#define SK_EV_ERROR 0x4u /* error or hang-up: the fd should be closed */

typedef struct sk_watch sk_watch_t;
typedef void (*sk_watch_fn)(sk_watch_t *watch, unsigned events);

/* Embedded as the first member of whatever owns the fd, so the callback can
 * cast back to its owner. */
struct sk_watch {
  int fd;
  unsigned interest; /* SK_EV_READ | SK_EV_WRITE currently registered */
  sk_watch_fn on_event;
};

typedef struct sk_loop {
  int backend_fd; /* epoll or kqueue fd: the pollable fd asyncio watches */
  int tick_fd;    /* timerfd (epoll backend); -1 on kqueue */
  int wake_read_fd;
  int wake_write_fd;
  int wake_pending;
  int tick_armed;
  uint64_t now_ticks; /* seconds elapsed, advanced by the tick */
  void (*on_tick)(void *ctx);
  void (*on_wake)(void *ctx);
  void *ctx;
  sk_watch_t tick_watch;
  sk_watch_t wake_watch;
  /* An outer loop's own poll fd (asyncio's selector) nested in ours, so one
   * wait serves both: outer_ready says it has events to collect. */
  sk_watch_t outer_watch;
  int outer_ready;
  /* Called around a wait that may block (timeout != 0), e.g. to let other
   * threads of the embedding interpreter run meanwhile. */
  void (*before_block)(void);
  void (*after_block)(void);
} sk_loop_t;

int sk_loop_init(sk_loop_t *loop);
void sk_loop_free(sk_loop_t *loop);
int sk_loop_add(sk_loop_t *loop, sk_watch_t *watch, unsigned interest);
int sk_loop_modify(sk_loop_t *loop, sk_watch_t *watch, unsigned interest);
void sk_loop_remove(sk_loop_t *loop, sk_watch_t *watch);
int sk_loop_run_once(sk_loop_t *loop, int timeout_ms); /* events handled, or <0 */
void sk_loop_wake(sk_loop_t *loop);                    /* make the loop fd readable */
void sk_loop_set_tick(sk_loop_t *loop, int armed);     /* 1 s timer on/off */
int sk_loop_watch_outer(sk_loop_t *loop, int fd);      /* fd -1: stop watching */

/* Backend: the only functions that differ between epoll and kqueue. */
int sk_backend_init(sk_loop_t *loop);
void sk_backend_free(sk_loop_t *loop);
int sk_backend_ctl(sk_loop_t *loop, sk_watch_t *watch, unsigned old_interest,
                   unsigned new_interest);
int sk_backend_wait(sk_loop_t *loop, int timeout_ms);
int sk_backend_set_tick(sk_loop_t *loop, int armed);

/* ---- sockets (socket.c) ---- */
/* *shared: set to 1 when another socket already listened there (checked only
 * for a fixed port shared by default, not with EXCLUSIVE_PORT or REUSE_PORT). */
int sk_socket_listen_tcp(const char *host, int port, int options, int *bound_port, int *shared);
int sk_socket_listen_unix(const char *path, int options);
int sk_socket_adopt_listener(int fd);
int sk_socket_has_input(int fd); /* bytes wait to be read (MSG_PEEK) */
int sk_socket_accept(int listen_fd, struct sockaddr_storage *addr, socklen_t *addr_len);
/* Returns bytes moved, 0 on EAGAIN, -1 on a dead socket (errno kept). */
long sk_socket_read(int fd, char *buf, size_t cap, int *eof);
long sk_socket_write(int fd, const char *data, size_t len);
long sk_socket_write2(int fd, const char *a, size_t a_len, const char *b, size_t b_len);
void sk_socket_close(int fd);
int sk_socket_format_address(const struct sockaddr_storage *addr, char *out, size_t cap,
                             int as_text);
int sk_socket_port(const struct sockaddr_storage *addr); /* -1 when not TCP */
void sk_socket_address_from_raw(struct sockaddr_storage *addr, const void *raw, size_t raw_len);

/* ---- TLS and the transport every connection uses (tls.c) ---- */
struct ssl_st;
struct ssl_ctx_st;
struct sk_transport;
struct ssl_ctx_st *sk_tls_context_create(const sk_tls_options_t *options, char *err, size_t cap);
void sk_tls_context_free(struct ssl_ctx_st *ctx);
/* owner: what SSL_get_app_data gives back (the SNI callback's connection). */
int sk_tls_attach(struct sk_transport *t, struct ssl_ctx_st *ctx, void *owner);
void sk_tls_detach(struct sk_transport *t);
/* Plain or TLS, like sk_socket_read/write: bytes moved, 0 to retry later, -1 dead. */
long sk_transport_read(struct sk_transport *t, char *buf, size_t cap, int *eof);
long sk_transport_write(struct sk_transport *t, const char *a, size_t a_len, const char *b,
                        size_t b_len);
void sk_transport_shutdown_write(struct sk_transport *t);

/* sni.c */
struct sk_app;
void sk_sni_enable(struct sk_app *app, struct ssl_ctx_st *ctx);
const sk_router_t *sk_sni_router(const struct sk_app *app, uint32_t sni_entry);
void sk_sni_free(struct sk_app *app);

/* ---- HTTP connections (http.c, response.c) ---- */
enum sk_conn_phase {
  SK_PHASE_HEAD = 0, /* waiting for (the rest of) a request head */
  SK_PHASE_REQUEST,  /* a request is in flight (body and/or response pending) */
  SK_PHASE_CLOSING,  /* response sent, write side shut, draining reads */
  SK_PHASE_WS,       /* upgraded: WebSocket frames */
};

enum sk_res_stage {
  SK_RES_NONE = 0, /* nothing written */
  SK_RES_STATUS,   /* status line (and maybe headers) written */
  SK_RES_BODY,     /* header section finished, body streaming */
  SK_RES_DONE,     /* response complete */
};

typedef struct sk_conn sk_conn_t;

/* A WebSocket route's settings and shared (de)compressors. */
typedef struct sk_ws_behavior {
  sk_ws_config_t config;
  int handler_id; /* the Python route that runs the upgrade */
  sk_pmd_config_t pmd;
  int mem_level;
  int compress_enabled;
  sk_pmd_deflater_t *shared_deflater;
  sk_pmd_inflater_t *shared_inflater;
} sk_ws_behavior_t;

/* Per-connection WebSocket state (websocket.c). */
typedef struct sk_ws {
  uint32_t behavior;
  sk_ws_parser_t parser;
  sk_utf8_state_t utf8;
  sk_buf_t message; /* a message assembled from frames or reads */
  char *direct;     /* a whole message still inside the input buffer */
  size_t direct_len;
  char control[SK_WS_MAX_CONTROL];
  size_t control_len;
  int deflate; /* permessage-deflate negotiated */
  sk_pmd_params_t pmd;
  sk_pmd_inflater_t *inflater; /* dedicated, or NULL for the behaviour's shared one */
  sk_pmd_deflater_t *deflater;
  sk_pmd_buf_t inflated;
  unsigned idle_s;
  uint64_t lifetime_deadline;
  unsigned close_sent : 1;
  unsigned close_notified : 1;
  unsigned ping_sent : 1;
  unsigned unsubscribed : 1;
  unsigned sending_fragments : 1;
  uint32_t *publish_indexes; /* queued publishes this subscriber gets */
  size_t publish_count, publish_cap;
} sk_ws_t;

typedef struct sk_publish {
  sk_buf_t payload;
  unsigned opcode;
  int compress;
} sk_publish_t;

#define SK_WS_ROUTE_FLAG (1 << 30) /* router handler ids of WebSocket routes */

/* The transport: the socket, TLS, the bytes in and out, the timer. It knows
 * nothing of HTTP; output.c and tls.c touch nothing else of a connection. */
typedef struct sk_transport {
  sk_watch_t watch;   /* first: the loop hands it back to us (see sk_conn) */
  struct ssl_st *ssl; /* NULL on a plain connection */
  uint64_t deadline;  /* loop tick at which the timeout fires; 0 = none */
  sk_buf_t in;        /* unprocessed input: a partial head or pipelined requests */
  sk_buf_t backlog;   /* output the kernel did not take yet */
  /* Where the owner's mark stands in the app's cork buffer, and whether
   * everything corked since then is still there (nothing of it left); a
   * byte of its own, not a bit: every flush clears it with one store. */
  size_t cork_mark;
  uint8_t cork_mark_intact;
  unsigned closed : 1;                  /* socket closed, waiting to be freed */
  unsigned broken : 1;                  /* a write failed: close at the next iteration */
  unsigned reading_off : 1;             /* EPOLLIN removed (paused or buffer full) */
  unsigned user_paused : 1;             /* sk_res_pause: the program stopped the reading */
  unsigned write_shut : 1;              /* shutdown(SHUT_WR) done */
  unsigned shut_when_drained : 1;       /* shutdown(SHUT_WR) once the output is out */
  unsigned writes_refresh_deadline : 1; /* output restarts the inactivity timer (HTTP) */
  unsigned peer_eof : 1;                /* the client closed its sending side */
  unsigned tls_read_wants_write : 1;    /* SSL_read needs the socket writable */
  unsigned tls_write_wants_read : 1;    /* SSL_write needs the socket readable */
} sk_transport_t;

/* The exchange: the request in flight, its response, a pending or done
 * upgrade. */
typedef struct sk_exchange {
  uint32_t serial;  /* of the response (or WebSocket) in flight; 0 when none */
  size_t head_seen; /* bytes of a partial head at the start of `in` parsed so far */
  sk_buf_t body;    /* request body received before on_data was asked for */
  sk_buf_t head;    /* status line and headers written so far, not yet sent */
  /* While a request is dispatched: the input after its head (possibly its
   * whole body), and how much of it sk_res_take_body handed out. */
  const char *dispatch_input;
  size_t dispatch_input_len;
  size_t dispatch_taken;

  /* request in flight */
  int version_minor;
  unsigned req_flags; /* SK_REQ_* of the request */
  enum sk_http_body_kind body_kind;
  uint64_t body_remaining; /* SK_BODY_LENGTH: bytes still to come */
  uint64_t body_received;
  sk_chunked_t chunked;
  unsigned body_done : 1;      /* the whole request body was received */
  unsigned body_wanted : 1;    /* sk_res_on_data was called */
  unsigned body_last_sent : 1; /* on_data saw is_last */
  unsigned head_request : 1;   /* HEAD: never write a body */
  unsigned keep_alive : 1;     /* the connection survives this response */
  unsigned sent_continue : 1;

  /* response in flight */
  enum sk_res_stage stage;
  int status_code;
  unsigned has_content_length : 1; /* the handler wrote a Content-Length header */
  unsigned has_date : 1;
  unsigned chunked_out : 1;
  unsigned no_body : 1;                /* HEAD request or 1xx/204/304 status */
  unsigned keep_alive_before_head : 1; /* restored when the head is discarded */
  uint64_t declared_length;
  uint64_t write_offset; /* body bytes written */
  /* "METHOD /path" of a request that outlived its dispatch (truncated), for
   * the warning when the idle timeout closes it unanswered; copied only then,
   * so a request answered at once pays nothing for it. */
  char pending_line[120];
  uint8_t pending_line_len;

  /* upgrade */
  sk_ws_t *ws;               /* set once upgraded */
  uint32_t upgrade_behavior; /* 1 + behaviour of a pending upgrade */
} sk_exchange_t;

struct sk_conn {
  /* First, and its watch first in it: the loop hands the watch back to us. */
  sk_transport_t transport;
  sk_exchange_t exchange;
  sk_app_t *app;
  uint32_t sni_entry;       /* 1 + index into app->sni, 0 for none */
  sk_conn_t *prev, *next;   /* every live connection */
  sk_conn_t *deferred_next; /* work queued for the next loop iteration */
  uint32_t slot;
  enum sk_conn_phase phase;
  unsigned deferred : 1;      /* on the deferred list */
  unsigned in_dispatch : 1;   /* input of this connection is being processed */
  unsigned proxy_checked : 1; /* the PROXY header window has passed */
  unsigned had_request : 1;   /* a request head was parsed on this connection */
  unsigned publish_listed : 1;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  sk_proxy_address_t proxy; /* family 0: no PROXY header */
  sk_conn_t *publish_next;  /* on app->publish_touched */
};
_Static_assert(offsetof(struct sk_conn, transport.watch) == 0,
               "a connection's watch is where the loop's pointer to it points");

typedef struct sk_sni_entry {
  char *pattern;          /* NULL once removed */
  struct ssl_ctx_st *ctx; /* NULL: the app's own certificate */
  sk_router_t *router;    /* routes for this name, tried first */
} sk_sni_entry_t;

typedef struct sk_proxy_network {
  uint8_t address[16];
  uint8_t len; /* 4 or 16 */
  uint8_t prefix_bits;
} sk_proxy_network_t;

typedef struct sk_listener {
  sk_watch_t watch;
  sk_app_t *app;
  struct sk_listener *next;
  char *unix_path; /* removed on close */
} sk_listener_t;

struct sk_req {
  const sk_http_request_t *http;
  const sk_route_params_t *params;
  int handler_id; /* the route being offered the request */
};

#define SK_RECV_BUFFER_SIZE (256 * 1024)
#define SK_CORK_BUFFER_SIZE (64 * 1024)
#define SK_DATE_LEN 37 /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
/* How much request input (pipelined requests, unread body) we hold for one
 * connection before we stop reading from it. */
#define SK_MAX_BUFFERED_INPUT (1024 * 1024)
/* How much unsent output one connection may queue before we stop starting
 * its pipelined requests (and reading more of them): a client that sends
 * requests and never reads the answers must not grow our memory. */
#define SK_MAX_BUFFERED_OUTPUT (512 * 1024)

struct sk_app {
  sk_loop_t loop;
  sk_app_config_t config;
  sk_http_limits_t limits;
  sk_app_callbacks_t cb;
  sk_router_t *router;
  sk_listener_t *listeners;
  struct ssl_ctx_st *tls_ctx; /* NULL: plain HTTP */
  sk_sni_entry_t *sni;
  size_t sni_count, sni_cap;

  sk_conn_t *conns; /* list head */
  size_t conn_count;
  sk_conn_t **slots; /* slot -> connection, for response ids */
  uint32_t slot_cap;
  uint32_t *free_slots;
  uint32_t free_slot_count;
  uint32_t next_serial;

  sk_conn_t *deferred;  /* connections with queued work */
  sk_conn_t *graveyard; /* closed, freed at the end of the iteration */
  int dispatching;      /* inside sk_app_poll */
  int user_corked;      /* sk_app_cork depth: writes wait for the uncork */
  int shutting_down;
  int released;                /* sk_app_release: only the struct is left, every handle is stale */
  int listen_errno;            /* why the last listen failed (0: it did not) */
  int listen_shared;           /* the last listen found another socket listening there */
  int accept_paused;           /* out of fds: listeners are not polled */
  uint64_t accept_resume_tick; /* ...until a connection closes or this tick */
  long long accept_logged_at;  /* time() of the last "out of fds" line */

  char *recv_buf;
  char *cork_buf;
  size_t cork_len;
  sk_conn_t *cork_owner;

  char date[SK_DATE_LEN + 1];
  sk_http_request_t request; /* the head being dispatched (big: kept out of the stack) */
  sk_req_t current_request;  /* what on_request is given (sk_app_current_request) */
  sk_buf_t authority_path;   /* "/host:port": how a CONNECT authority is routed */
  struct sk_proxy_network *trusted_proxies; /* SK_PROXY_ACCEPT_TRUSTED */
  size_t trusted_proxy_count, trusted_proxy_cap;

  sk_router_t *ws_router; /* WebSocket routes, for upgrade requests */
  sk_ws_behavior_t *ws_behaviors;
  size_t ws_behavior_count, ws_behavior_cap;
  sk_pmd_buf_t ws_scratch; /* compressed outgoing message */
  sk_pubsub_t *pubsub;
  sk_publish_t *publishes; /* queued for the end of the iteration */
  size_t publish_count, publish_cap, publish_bytes;
  sk_conn_t *publish_touched;
  int publish_draining;
  int report_topics; /* on_topic wanted (a backplane is attached) */
};

/* The loop tick at which a timeout of `seconds` from now fires; +1: the
 * tick may come right after the deadline is set. */
static inline uint64_t sk_deadline_in(const sk_app_t *app, uint64_t seconds) {
  return app->loop.now_ticks + seconds + 1;
}

void sk_out_flush(sk_app_t *app); /* flush the cork owner */
/* Inside a dispatch the loop flushes once at the end; a call from an asyncio
 * task has no such end, so it flushes itself, unless the caller corked to
 * send several calls' worth at once. */
static inline void sk_out_flush_outside_dispatch(sk_app_t *app) {
  if (!app->dispatching && !app->user_corked) sk_out_flush(app);
}

/* app.c */
sk_conn_t *sk_app_lookup(const sk_app_t *app, sk_res_id_t res);
void sk_app_log(sk_app_t *app, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void sk_app_resume_accepting(sk_app_t *app); /* a connection closed: an fd is free */
/* sk_router_add with the core's status codes; a CONNECT route may name an
 * authority ("host:port") instead of a path. */
int sk_app_add_route(sk_router_t *router, const char *method, size_t method_len,
                     const char *pattern, size_t pattern_len, int handler_id);
uint32_t sk_app_next_serial(sk_app_t *app);
void sk_app_defer(sk_app_t *app, sk_conn_t *conn);
void sk_app_update_date(sk_app_t *app);

/* http.c: connection lifecycle and request processing */
sk_conn_t *sk_conn_create(sk_app_t *app, int fd, const struct sockaddr_storage *peer,
                          socklen_t peer_len);
void sk_conn_close(sk_conn_t *conn, int abort_response);
void sk_conn_process(sk_conn_t *conn); /* parse and dispatch buffered input */
void sk_conn_on_tick(sk_conn_t *conn);
void sk_conn_update_reading(sk_conn_t *conn);
void sk_conn_response_done(sk_conn_t *conn);
void sk_conn_deliver_body(sk_conn_t *conn);
void sk_conn_after_peer_eof(sk_conn_t *conn); /* idle and the client closed: finish up */
void sk_conn_finish_close(sk_conn_t *conn);   /* CLOSING: close after the output is out */
void sk_conn_output_room(sk_conn_t *conn);    /* output fell below the limit again */

/* output.c: corked writes */
int sk_out_write(sk_conn_t *conn, const char *data, size_t len);
int sk_out_drain_backlog(sk_conn_t *conn);      /* on writable */
void sk_out_shut_when_drained(sk_conn_t *conn); /* half-close once the output is out */
void sk_out_mark_broken(sk_conn_t *conn);       /* the peer is gone: close next iteration */
/* sk_loop_modify for a connection; a refusal is logged and closes it. */
void sk_out_watch_refused(sk_conn_t *conn);
static inline void sk_out_watch(sk_conn_t *conn, unsigned interest) {
  sk_watch_t *watch = &conn->transport.watch;
  if (watch->interest == interest) return; /* the usual case: nothing to change */
  if (__builtin_expect(sk_loop_modify(&conn->app->loop, watch, interest) != SK_OK, 0))
    sk_out_watch_refused(conn);
}
/* Marks where the output stands, so that what is written after it can be
 * taken back (sk_out_take_back) while all of it is still corked. */
static inline void sk_out_mark(sk_conn_t *conn) {
  sk_app_t *app = conn->app;
  conn->transport.cork_mark_intact = conn->transport.backlog.len == 0;
  conn->transport.cork_mark = app->cork_owner == conn ? app->cork_len : 0;
}
/* Drops what was written since sk_out_mark: 1, or 0 when some of it left. */
int sk_out_take_back(sk_conn_t *conn);
/* More output queued than one connection may hold: its pipelined requests
 * (and reading them) wait until it drains. */
static inline int sk_out_full(const sk_transport_t *t) {
  return t->backlog.len > SK_MAX_BUFFERED_OUTPUT;
}

/* websocket.c */
int sk_ws_check_upgrade(sk_conn_t *conn, const sk_http_request_t *http, int behavior);
size_t sk_ws_process(sk_conn_t *conn, char *data, size_t len);
void sk_ws_on_tick(sk_conn_t *conn);
void sk_ws_on_drain(sk_conn_t *conn);
void sk_ws_on_conn_close(sk_conn_t *conn);
void sk_ws_shutdown(sk_conn_t *conn);
void sk_ws_fail(sk_conn_t *conn, unsigned code, int notify);
void sk_ws_free(sk_ws_t *ws);
void sk_ws_drain_publishes(sk_app_t *app);
void sk_ws_behaviors_free(sk_app_t *app);

/* response.c */
int sk_res_write_error(sk_conn_t *conn, int status); /* canned 4xx/5xx + close */
/* The same with extra header lines ("Name: value\r\n"). */
int sk_res_write_error_with(sk_conn_t *conn, int status, const char *extra, size_t extra_len);
int sk_res_write_not_found(sk_conn_t *conn);
/* A header field as we accept it from a handler (token name, no control
 * characters in the value, a Content-Length of plain digits). */
int sk_field_valid(const char *name, size_t name_len, const char *value, size_t value_len);
/* Walks packed "name\0value\0" pairs (the last NUL may be left out): 1 with
 * the next pair, 0 at the end, -1 when a name has no NUL after it. */
int sk_pairs_next(const char **cursor, const char *end, sk_slice_t *name, sk_slice_t *value);
/* Every pair valid, and exactly `count` of them. */
int sk_pairs_valid(const char *packed, size_t len, size_t count);

#define SK_MIN(a, b) ((a) < (b) ? (a) : (b))

#include "conn_state.h" /* the transitions: inline, over the complete sk_conn */

#endif
