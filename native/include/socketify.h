/* socketify native core: the one C API the Python binding sees.
 *
 * Opaque handles, plain C types and callbacks taking a `void *user`. Every
 * call that can fail returns a status (SK_OK or a negative SK_ERR_*).
 *
 * Responses are named by an sk_res_id_t, never by a pointer: the id carries a
 * connection slot and a per-response serial, so a call through an id whose
 * response has ended or whose connection has closed is detected here and
 * answered with SK_ERR_STALE instead of touching freed memory.
 *
 * A sk_req_t pointer is valid only during the on_request callback that
 * received it. */
#ifndef SOCKETIFY_H
#define SOCKETIFY_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk_app sk_app_t;
typedef struct sk_req sk_req_t;
typedef uint64_t sk_res_id_t;

#define SK_OK 0
#define SK_ERR_STALE (-1)   /* response ended or aborted, connection closed */
#define SK_ERR_STATE (-2)   /* call out of order (e.g. a header after the body began) */
#define SK_ERR_INVALID (-3) /* bad argument (CR/LF in a header, bad status line...) */
#define SK_ERR_NOMEM (-4)
#define SK_ERR_SYSTEM (-5)    /* an OS call failed; errno says why */
#define SK_RES_BODY_TOO_BIG 1 /* sk_res_take_body: a bigger buffer is needed */
#define SK_ERR_BUSY (-6)      /* sk_app_poll called from inside a callback */

/* sk_res_state() bits */
#define SK_RES_VALID 0x01        /* the id names a live, unfinished response */
#define SK_RES_HEADERS_SENT 0x02 /* the status line was written */
#define SK_RES_BODY_STARTED 0x04 /* the header section was finished */
#define SK_RES_WRITABLE 0x08     /* nothing is waiting in the send buffer */

/* on_log levels (the values of Python's logging levels) */
#define SK_LOG_WARNING 30
#define SK_LOG_ERROR 40

/* sk_app_config_t.proxy_protocol: who may open a connection with a PROXY
 * protocol header (v1 or v2) that sets the proxied client address. */
#define SK_PROXY_ACCEPT_NONE 0    /* nobody: such a header is a bad request */
#define SK_PROXY_ACCEPT_ANY 1     /* every client (the default, as the reference) */
#define SK_PROXY_ACCEPT_TRUSTED 2 /* only peers in the networks of sk_app_trust_proxy */

/* AppListenOptions.options */
#define SK_LISTEN_DEFAULT 0
#define SK_LISTEN_EXCLUSIVE_PORT 1 /* no SO_REUSEPORT */
/* SO_REUSEPORT on purpose (workers sharing a port): no check for a socket
 * already listening there (see sk_app_listen_shared). */
#define SK_LISTEN_REUSE_PORT 2

typedef struct sk_app_config {
  size_t max_request_line;   /* 414 past it; default 8192 */
  size_t max_header_bytes;   /* 431 past it; default 8192 */
  size_t max_header_count;   /* 431 past it; default 100 */
  unsigned header_timeout_s; /* a request head must arrive within it; default 10 */
  unsigned idle_timeout_s;   /* keep-alive idle and in-flight inactivity; default 10 */
  uint64_t max_body_size;    /* 413 past it; 0 = unlimited (default) */
  unsigned proxy_protocol;   /* SK_PROXY_ACCEPT_*; default ANY */
  /* 1 (default): the idle timeout also closes a request the application has
   * not answered (the reference's rule; logged). 0: a request whose client
   * sent everything and reads what it gets waits for the application (the
   * ASGI/WSGI adapters, whose applications may take their time). */
  unsigned close_unanswered;
} sk_app_config_t;

typedef struct sk_app_callbacks {
  void *user;
  /* A request matched route `handler_id`. Return nonzero when the route took
   * the request, 0 to yield it to the next matching route. */
  int (*on_request)(void *user, int handler_id, sk_res_id_t res, sk_req_t *req);
  /* The client went away (or timed out) before the response ended. */
  void (*on_aborted)(void *user, sk_res_id_t res);
  /* Request body bytes, once sk_res_on_data() asked for them. */
  void (*on_data)(void *user, sk_res_id_t res, const char *data, size_t len, int is_last);
  /* The send buffer drained while the response was in flight. */
  void (*on_writable)(void *user, sk_res_id_t res, uint64_t offset);
  /* A TLS client asked for a host name no entry matches (may add one now). */
  void (*on_missing_server_name)(void *user, const char *host, size_t len);
  /* WebSocket events (ws is an sk_res_id_t naming the WebSocket). Closes the
   * program asked for (sk_ws_end/sk_ws_close) are not reported here. */
  void (*on_ws_message)(void *user, sk_res_id_t ws, const char *data, size_t len, int opcode);
  void (*on_ws_ping)(void *user, sk_res_id_t ws, const char *data, size_t len);
  void (*on_ws_pong)(void *user, sk_res_id_t ws, const char *data, size_t len);
  void (*on_ws_close)(void *user, sk_res_id_t ws, int code, const char *reason, size_t len);
  void (*on_ws_drain)(void *user, sk_res_id_t ws);
  void (*on_ws_subscription)(void *user, sk_res_id_t ws, const char *topic, size_t len,
                             int new_count, int old_count);
  /* Something the operator should know (one line of text, SK_LOG_* level):
   * accept failing at the fd limit, a request left unanswered... */
  void (*on_log)(void *user, int level, const char *message, size_t len);
  /* A topic got its first local subscriber (subscribed=1) or lost its last
   * (subscribed=0). Only called after sk_app_report_topics(app, 1): a
   * cross-process backplane follows the topics this process needs. */
  void (*on_topic)(void *user, const char *topic, size_t len, int subscribed);
} sk_app_callbacks_t;

/* TLS settings (AppOptions); NULL fields are unset. */
typedef struct sk_tls_options {
  const char *key_file_name;
  const char *cert_file_name;
  const char *passphrase;
  const char *dh_params_file_name;
  const char *ca_file_name;
  const char *ssl_ciphers;
  int ssl_prefer_low_memory_usage; /* accepted; idle buffers are always released */
} sk_tls_options_t;

/* A WebSocket route's behaviour (the app.ws dict). */
typedef struct sk_ws_config {
  unsigned compression;        /* CompressOptions bits */
  uint64_t max_payload_length; /* 1009 past it (after inflating); 0 = none */
  unsigned idle_timeout_s;     /* 0 = none */
  uint64_t max_backpressure;   /* sends past it are dropped; 0 = none */
  int close_on_backpressure_limit;
  int reset_idle_timeout_on_send;
  int send_pings_automatically;
  unsigned max_lifetime_min; /* 0 = none */
  int has_subscription_handler;
} sk_ws_config_t;

#define SK_WS_SEND_BACKPRESSURE 0
#define SK_WS_SEND_SUCCESS 1
#define SK_WS_SEND_DROPPED 2

void sk_app_config_default(sk_app_config_t *config);

/* ---- app and loop ---- */
sk_app_t *sk_app_create(const sk_app_config_t *config, const sk_app_callbacks_t *callbacks);
void sk_app_destroy(sk_app_t *app);
/* Frees everything the app holds (sockets, connections, poller, timers,
 * buffers, routes) but the app struct itself, which stays as an empty
 * shell: every response or WebSocket id is then stale, and listening,
 * routing or polling answers SK_ERR_STATE. For the binding, whose stale
 * handles may still point at the app; sk_app_destroy frees the shell. */
void sk_app_release(sk_app_t *app);
int sk_app_released(const sk_app_t *app);
int sk_app_fd(const sk_app_t *app); /* readable whenever sk_app_poll has work */
/* Run one loop iteration, waiting up to timeout_ms (-1: forever, 0: not at all).
 * Returns the number of events handled or a negative status. */
int sk_app_poll(sk_app_t *app, int timeout_ms);
/* Nest an outer event loop's own poll fd (asyncio's selector) in the core's
 * wait, so one wait per iteration serves both loops; fd -1 stops it. */
int sk_app_watch_outer(sk_app_t *app, int fd);
/* sk_app_poll that also says whether the outer fd became readable: 1 (the
 * outer loop has events to collect), 0, or a negative status. */
int sk_app_run_once(sk_app_t *app, int timeout_ms);
/* Functions run around a wait that may block (timeout != 0); NULL: none. */
void sk_app_set_block_hooks(sk_app_t *app, void (*before)(void), void (*after)(void));
/* method NULL: any method. A CONNECT route's pattern may be an authority
 * ("host:port"), matched by authority-form CONNECT requests. Returns SK_OK or
 * a negative status. */
int sk_app_route(sk_app_t *app, const char *method, size_t method_len, const char *pattern,
                 size_t pattern_len, int handler_id);
/* host NULL: all interfaces, IPv6 dual-stack when the kernel has IPv6.
 * Returns SK_OK and the bound port in *bound_port. */
int sk_app_listen(sk_app_t *app, const char *host, int port, int options, int *bound_port);
int sk_app_listen_unix(sk_app_t *app, const char *path, int options);
/* Accept on a socket that is already listening (inherited from a supervisor
 * process, e.g. one UNIX socket shared by workers). The app takes a duplicate
 * of fd; fd itself stays open and the socket file is never unlinked. */
int sk_app_listen_fd(sk_app_t *app, int fd);
/* The errno of the last failed sk_app_listen / sk_app_listen_unix /
 * sk_app_listen_fd. */
int sk_app_listen_errno(const sk_app_t *app);
/* 1 when the last successful sk_app_listen found a socket already listening
 * on its address and port (another server: SO_REUSEPORT now shares the
 * connections between them); never with EXCLUSIVE_PORT, REUSE_PORT or port 0. */
int sk_app_listen_shared(const sk_app_t *app);
/* Stop accepting, close idle connections, close the others once their
 * response ends. sk_app_connection_count() reaches 0 when drained. */
void sk_app_shutdown(sk_app_t *app);
size_t sk_app_connection_count(const sk_app_t *app);
/* Close every connection now (the end of a shutdown whose wait ran out, or
 * was cut short): aborts and WebSocket closes are reported as usual.
 * SK_ERR_BUSY from inside a callback. */
int sk_app_close_connections(sk_app_t *app);
/* With SK_PROXY_ACCEPT_TRUSTED: peers in address/prefix_bits (address 4 or
 * 16 bytes, network order) may send a PROXY header. IPv4 clients of a
 * dual-stack socket are matched as IPv4. */
int sk_app_trust_proxy(sk_app_t *app, const void *address, size_t len, unsigned prefix_bits);
/* Serve TLS on every listener of this app. On failure the reason (naming
 * the file) is written to err. */
int sk_app_use_tls(sk_app_t *app, const sk_tls_options_t *options, char *err, size_t err_cap);
/* The app's SSL_CTX, or NULL for a plain app. */
void *sk_app_native_handle(const sk_app_t *app);
/* SNI: a host name pattern ("*.example.com") with its own certificate
 * (options NULL: the app's) and its own routes, tried before the app's. */
int sk_app_add_server_name(sk_app_t *app, const char *pattern, const sk_tls_options_t *options,
                           char *err, size_t err_cap);
int sk_app_remove_server_name(sk_app_t *app, const char *pattern);
int sk_app_route_server_name(sk_app_t *app, const char *pattern, const char *method,
                             size_t method_len, const char *path, size_t path_len, int handler_id);

/* ---- request (valid only inside on_request) ---- */
/* The request on_request is given: the same address for the app's lifetime,
 * valid (describing the request being dispatched) only inside on_request. */
sk_req_t *sk_app_current_request(sk_app_t *app);
const char *sk_req_method(const sk_req_t *req, size_t *len);
const char *sk_req_url(const sk_req_t *req, size_t *len);   /* path, no query */
const char *sk_req_query(const sk_req_t *req, size_t *len); /* after '?', raw */
/* Value of the first header named `lower_name` (ASCII case-insensitive), or NULL. */
const char *sk_req_header(const sk_req_t *req, const char *lower_name, size_t name_len,
                          size_t *len);
size_t sk_req_header_count(const sk_req_t *req);
/* Writes every header as "lowercase-name\0value\0" into out; returns the bytes
 * needed (call with cap 0 to size the buffer); writes only if they fit. */
size_t sk_req_headers_pack(const sk_req_t *req, char *out, size_t cap);
/* Every :param value as "value\0" in route order (values never hold a NUL:
 * the parser refuses one in the request target); same sizing rule. */
size_t sk_req_params_pack(const sk_req_t *req, char *out, size_t cap);
size_t sk_req_param_count(const sk_req_t *req);
const char *sk_req_param(const sk_req_t *req, size_t index, size_t *len);
int sk_req_is_ancient(const sk_req_t *req); /* HTTP/1.0 */
/* The handler id of the route the request is being offered to (the one passed
 * to on_request), so a binding can look up that route's parameter names. */
int sk_req_handler_id(const sk_req_t *req);
/* The whole request in one buffer, to keep it past on_request:
 * "method\0path\0query\0" A N "\0" (A: '1' for HTTP/1.0 else '0'; N: the
 * header count in decimal), then the headers as sk_req_headers_pack writes
 * them, then the parameters as sk_req_params_pack does. Same sizing rule. */
size_t sk_req_pack(const sk_req_t *req, char *out, size_t cap);
/* Everything an ASGI scope needs from the request being dispatched to `res`,
 * in one call: "VBT\0method\0path\0query\0client_ip\0client_port\0" and
 * then "lowercase-name\0value\0" per header, in order, duplicates kept. V is
 * '0' (HTTP/1.0) or '1'; B is '1' when a request body follows, else '0'; T
 * is '1' when the client accepts trailers (TE: trailers). The
 * client fields are empty on a UNIX socket. Same sizing rule as
 * sk_req_headers_pack. */
size_t sk_req_scope_pack(sk_app_t *app, sk_res_id_t res, const sk_req_t *req, char *out,
                         size_t cap);

/* ---- response ---- */
int sk_res_state(const sk_app_t *app, sk_res_id_t res);
/* "200 OK", "404 Not Found"...: three digits and an optional reason. */
int sk_res_write_status(sk_app_t *app, sk_res_id_t res, const char *status, size_t len);
int sk_res_write_header(sk_app_t *app, sk_res_id_t res, const char *name, size_t name_len,
                        const char *value, size_t value_len);
/* Takes back the response written so far, so it can start over (e.g. as a
 * 500 after an error): the status line and headers, held back until the
 * header section ends, and any head and body still in the cork (written
 * during this dispatch, not yet flushed). SK_ERR_STATE once bytes of the
 * response may have left the process. */
int sk_res_discard_head(sk_app_t *app, sk_res_id_t res);
/* A body chunk; without a Content-Length header the body is sent chunked. */
int sk_res_write(sk_app_t *app, sk_res_id_t res, const char *data, size_t len);
int sk_res_end(sk_app_t *app, sk_res_id_t res, const char *data, size_t len, int close_connection);
int sk_res_end_without_body(sk_app_t *app, sk_res_id_t res, int close_connection);
/* Status, Content-Type and body in one call (status/content_type may be NULL). */
int sk_res_send(sk_app_t *app, sk_res_id_t res, const char *status, size_t status_len,
                const char *content_type, size_t content_type_len, const char *body,
                size_t body_len, int close_connection);
/* The status line and `count` headers given as "name\0value\0" pairs (the
 * last NUL may be left out), in one call (each header as sk_res_write_header takes it). SK_ERR_INVALID
 * when the pairs do not add up to `count` or a field is invalid. */
int sk_res_write_head(sk_app_t *app, sk_res_id_t res, const char *status, size_t status_len,
                      const char *headers, size_t headers_len, size_t count);
/* A whole response in one call: sk_res_write_head, then sk_res_end with
 * `body` (Content-Length from the core unless the headers gave one). */
int sk_res_respond(sk_app_t *app, sk_res_id_t res, const char *status, size_t status_len,
                   const char *headers, size_t headers_len, size_t count, const char *body,
                   size_t body_len);
/* Ends a response with trailer fields ("name\0value\0" pairs, `count` of
 * them) after the last chunk. A response that is not chunked (the handler
 * gave a Content-Length) has nowhere to put them: it just ends. */
int sk_res_end_with_trailers(sk_app_t *app, sk_res_id_t res, const char *fields, size_t len,
                             size_t count);
/* Start delivering the request body through on_data (sends 100 Continue
 * when the client asked for it). */
int sk_res_on_data(sk_app_t *app, sk_res_id_t res);
/* The whole request body at once, when all of it has arrived and none was
 * handed out yet: copies it into out and returns SK_OK (*len = its size);
 * SK_RES_BODY_TOO_BIG when cap is smaller (*len = the size needed, nothing
 * taken); SK_ERR_STATE when it has not all arrived or sk_res_on_data already
 * streams it (then use sk_res_on_data). */
int sk_res_take_body(sk_app_t *app, sk_res_id_t res, char *out, size_t cap, size_t *len);
int sk_res_pause(sk_app_t *app, sk_res_id_t res);
int sk_res_resume(sk_app_t *app, sk_res_id_t res);
int sk_res_write_continue(sk_app_t *app, sk_res_id_t res);
int sk_res_close(sk_app_t *app, sk_res_id_t res); /* hard close, aborts */
/* One piece of a body whose total size is known (Content-Length: total).
 * Returns 1 when everything written so far reached the kernel, 0 under
 * backpressure (wait for on_writable), or a negative status; *done is set
 * once the whole body was written and the response ended. */
int sk_res_try_end(sk_app_t *app, sk_res_id_t res, const char *data, size_t len, uint64_t total,
                   int close_connection, int *done);
uint64_t sk_res_write_offset(const sk_app_t *app, sk_res_id_t res);
size_t sk_res_buffered_amount(const sk_app_t *app, sk_res_id_t res);
/* Peer address as text ("127.0.0.1", "::1") or raw bytes (4 or 16); returns
 * the length written, 0 for a UNIX socket, or a negative status. */
int sk_res_remote_address(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap, int as_text);
/* The peer's raw address (4 or 16 bytes) followed by its port (2 bytes, big
 * endian) in one call; returns 6 or 18, 0 for a UNIX socket, or a negative status. */
int sk_res_remote_endpoint(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap);
/* The client address a PROXY protocol header announced; 0 when there was none. */
int sk_res_proxied_address(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap,
                           int as_text);
int sk_res_native_handle(const sk_app_t *app, sk_res_id_t res); /* the socket fd, or <0 */

/* While corked (depth > 0), writes made outside a dispatch wait and leave
 * together with the outermost uncork. */
void sk_app_cork(sk_app_t *app, int corked);

/* ---- WebSockets ---- */
/* A WebSocket route: upgrade requests on GET `pattern` run Python route
 * `handler_id` (which calls sk_res_upgrade or answers over HTTP); other
 * requests fall through to the HTTP routes. */
int sk_app_ws_route(sk_app_t *app, const char *pattern, size_t pattern_len,
                    const sk_ws_config_t *config, int handler_id);
/* Completes the handshake: 101, negotiated subprotocol and extensions. The
 * WebSocket's id goes to *ws. */
int sk_res_upgrade(sk_app_t *app, sk_res_id_t res, const char *key, size_t key_len,
                   const char *protocol, size_t protocol_len, const char *extensions,
                   size_t extensions_len, sk_res_id_t *ws);
/* sk_res_upgrade with extra response headers ("name\0value\0" pairs,
 * `count` of them) in the 101 answer. */
int sk_res_upgrade_with_headers(sk_app_t *app, sk_res_id_t res, const char *key, size_t key_len,
                                const char *protocol, size_t protocol_len, const char *extensions,
                                size_t extensions_len, const char *headers, size_t headers_len,
                                size_t count, sk_res_id_t *ws);
/* Returns an SK_WS_SEND_* status or a negative SK_ERR_*. */
int sk_ws_send(sk_app_t *app, sk_res_id_t ws, const char *data, size_t len, int opcode,
               int compress, int fin);
int sk_ws_end(sk_app_t *app, sk_res_id_t ws, int code, const char *reason, size_t reason_len);
int sk_ws_close(sk_app_t *app, sk_res_id_t ws);
size_t sk_ws_buffered_amount(const sk_app_t *app, sk_res_id_t ws);
int sk_ws_remote_address(const sk_app_t *app, sk_res_id_t ws, char *out, size_t cap, int as_text);
/* 1 newly (un)subscribed, 0 no change, negative status. */
int sk_ws_subscribe(sk_app_t *app, sk_res_id_t ws, const char *topic, size_t len, size_t *old_count,
                    size_t *new_count);
int sk_ws_unsubscribe(sk_app_t *app, sk_res_id_t ws, const char *topic, size_t len,
                      size_t *old_count, size_t *new_count);
int sk_ws_is_subscribed(const sk_app_t *app, sk_res_id_t ws, const char *topic, size_t len);
/* Topics as "name\0name\0"; returns the bytes needed. */
size_t sk_ws_topics_pack(sk_app_t *app, sk_res_id_t ws, char *out, size_t cap);
/* Queues a message for every subscriber (delivered at the end of the loop
 * iteration, in order). Returns 1 if anyone is subscribed, 0 if not. */
int sk_app_publish(sk_app_t *app, const char *topic, size_t topic_len, const char *data, size_t len,
                   int opcode, int compress);
size_t sk_app_num_subscribers(const sk_app_t *app, const char *topic, size_t len);
/* Report topics becoming non-empty/empty through on_topic (off by default). */
void sk_app_report_topics(sk_app_t *app, int on);

#endif
