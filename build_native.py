"""cffi builder (API mode): compiles native/ into ``socketify._native``.

The cdef below mirrors ``native/include/socketify.h``, the one C API the
binding sees. Constants are declared with ``...`` so their values always come
from the header itself.
"""
import glob
import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = os.path.join(HERE, "native")

CDEF = """
typedef struct sk_app sk_app_t;
typedef struct sk_req sk_req_t;
typedef uint64_t sk_res_id_t;

#define SK_OK ...
#define SK_ERR_STALE ...
#define SK_ERR_STATE ...
#define SK_ERR_INVALID ...
#define SK_ERR_NOMEM ...
#define SK_ERR_SYSTEM ...
#define SK_ERR_BUSY ...
#define SK_RES_VALID ...
#define SK_RES_HEADERS_SENT ...
#define SK_RES_BODY_STARTED ...
#define SK_RES_WRITABLE ...
#define SK_LISTEN_DEFAULT ...
#define SK_LISTEN_EXCLUSIVE_PORT ...

typedef struct sk_app_config {
  size_t max_request_line;
  size_t max_header_bytes;
  size_t max_header_count;
  unsigned header_timeout_s;
  unsigned idle_timeout_s;
  uint64_t max_body_size;
} sk_app_config_t;

typedef struct sk_tls_options {
  const char *key_file_name;
  const char *cert_file_name;
  const char *passphrase;
  const char *dh_params_file_name;
  const char *ca_file_name;
  const char *ssl_ciphers;
  int ssl_prefer_low_memory_usage;
} sk_tls_options_t;

typedef struct sk_ws_config {
  unsigned compression;
  uint64_t max_payload_length;
  unsigned idle_timeout_s;
  uint64_t max_backpressure;
  int close_on_backpressure_limit;
  int reset_idle_timeout_on_send;
  int send_pings_automatically;
  unsigned max_lifetime_min;
  int has_subscription_handler;
} sk_ws_config_t;

void sk_app_config_default(sk_app_config_t *config);
sk_app_t *sk_py_app_create(const sk_app_config_t *config, void *user);
void sk_app_destroy(sk_app_t *app);
int sk_app_fd(const sk_app_t *app);
int sk_app_poll(sk_app_t *app, int timeout_ms);
int sk_app_route(sk_app_t *app, const char *method, size_t method_len, const char *pattern,
                 size_t pattern_len, int handler_id);
int sk_app_listen(sk_app_t *app, const char *host, int port, int options, int *bound_port);
int sk_app_listen_unix(sk_app_t *app, const char *path, int options);
void sk_app_shutdown(sk_app_t *app);
size_t sk_app_connection_count(const sk_app_t *app);
int sk_app_use_tls(sk_app_t *app, const sk_tls_options_t *options, char *err, size_t err_cap);
void *sk_app_native_handle(const sk_app_t *app);
int sk_app_add_server_name(sk_app_t *app, const char *pattern, const sk_tls_options_t *options,
                           char *err, size_t err_cap);
int sk_app_remove_server_name(sk_app_t *app, const char *pattern);
int sk_app_route_server_name(sk_app_t *app, const char *pattern, const char *method,
                             size_t method_len, const char *path, size_t path_len,
                             int handler_id);

const char *sk_req_method(const sk_req_t *req, size_t *len);
const char *sk_req_url(const sk_req_t *req, size_t *len);
const char *sk_req_query(const sk_req_t *req, size_t *len);
const char *sk_req_header(const sk_req_t *req, const char *lower_name, size_t name_len,
                          size_t *len);
size_t sk_req_header_count(const sk_req_t *req);
size_t sk_req_headers_pack(const sk_req_t *req, char *out, size_t cap);
size_t sk_req_param_count(const sk_req_t *req);
const char *sk_req_param(const sk_req_t *req, size_t index, size_t *len);
int sk_req_is_ancient(const sk_req_t *req);

int sk_res_state(const sk_app_t *app, sk_res_id_t res);
int sk_res_write_status(sk_app_t *app, sk_res_id_t res, const char *status, size_t len);
int sk_res_write_header(sk_app_t *app, sk_res_id_t res, const char *name, size_t name_len,
                        const char *value, size_t value_len);
int sk_res_write(sk_app_t *app, sk_res_id_t res, const char *data, size_t len);
int sk_res_end(sk_app_t *app, sk_res_id_t res, const char *data, size_t len,
               int close_connection);
int sk_res_end_without_body(sk_app_t *app, sk_res_id_t res, int close_connection);
int sk_res_send(sk_app_t *app, sk_res_id_t res, const char *status, size_t status_len,
                const char *content_type, size_t content_type_len, const char *body,
                size_t body_len, int close_connection);
int sk_res_on_data(sk_app_t *app, sk_res_id_t res);
int sk_res_pause(sk_app_t *app, sk_res_id_t res);
int sk_res_resume(sk_app_t *app, sk_res_id_t res);
int sk_res_write_continue(sk_app_t *app, sk_res_id_t res);
int sk_res_close(sk_app_t *app, sk_res_id_t res);
int sk_res_try_end(sk_app_t *app, sk_res_id_t res, const char *data, size_t len, uint64_t total,
                   int close_connection, int *done);
uint64_t sk_res_write_offset(const sk_app_t *app, sk_res_id_t res);
size_t sk_res_buffered_amount(const sk_app_t *app, sk_res_id_t res);
int sk_res_remote_address(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap,
                          int as_text);
int sk_res_proxied_address(const sk_app_t *app, sk_res_id_t res, char *out, size_t cap,
                           int as_text);
int sk_res_native_handle(const sk_app_t *app, sk_res_id_t res);
void sk_app_cork(sk_app_t *app, int corked);

int sk_app_ws_route(sk_app_t *app, const char *pattern, size_t pattern_len,
                    const sk_ws_config_t *config, int handler_id);
int sk_res_upgrade(sk_app_t *app, sk_res_id_t res, const char *key, size_t key_len,
                   const char *protocol, size_t protocol_len, const char *extensions,
                   size_t extensions_len, sk_res_id_t *ws);
int sk_ws_send(sk_app_t *app, sk_res_id_t ws, const char *data, size_t len, int opcode,
               int compress, int fin);
int sk_ws_end(sk_app_t *app, sk_res_id_t ws, int code, const char *reason, size_t reason_len);
int sk_ws_close(sk_app_t *app, sk_res_id_t ws);
size_t sk_ws_buffered_amount(const sk_app_t *app, sk_res_id_t ws);
int sk_ws_remote_address(const sk_app_t *app, sk_res_id_t ws, char *out, size_t cap, int as_text);
int sk_ws_subscribe(sk_app_t *app, sk_res_id_t ws, const char *topic, size_t len,
                    size_t *old_count, size_t *new_count);
int sk_ws_unsubscribe(sk_app_t *app, sk_res_id_t ws, const char *topic, size_t len,
                      size_t *old_count, size_t *new_count);
int sk_ws_is_subscribed(const sk_app_t *app, sk_res_id_t ws, const char *topic, size_t len);
size_t sk_ws_topics_pack(sk_app_t *app, sk_res_id_t ws, char *out, size_t cap);
int sk_app_publish(sk_app_t *app, const char *topic, size_t topic_len, const char *data,
                   size_t len, int opcode, int compress);
size_t sk_app_num_subscribers(const sk_app_t *app, const char *topic, size_t len);

extern "Python" int _sk_on_request(void *user, int handler_id, sk_res_id_t res, sk_req_t *req);
extern "Python" void _sk_on_aborted(void *user, sk_res_id_t res);
extern "Python" void _sk_on_data(void *user, sk_res_id_t res, const char *data, size_t len,
                                 int is_last);
extern "Python" void _sk_on_writable(void *user, sk_res_id_t res, uint64_t offset);
extern "Python" void _sk_on_missing_server_name(void *user, const char *host, size_t len);
extern "Python" void _sk_on_ws_message(void *user, sk_res_id_t ws, const char *data, size_t len,
                                       int opcode);
extern "Python" void _sk_on_ws_ping(void *user, sk_res_id_t ws, const char *data, size_t len);
extern "Python" void _sk_on_ws_pong(void *user, sk_res_id_t ws, const char *data, size_t len);
extern "Python" void _sk_on_ws_close(void *user, sk_res_id_t ws, int code, const char *reason,
                                     size_t len);
extern "Python" void _sk_on_ws_drain(void *user, sk_res_id_t ws);
extern "Python" void _sk_on_ws_subscription(void *user, sk_res_id_t ws, const char *topic,
                                            size_t len, int new_count, int old_count);
"""

SOURCE = """
#include <string.h>
#include "socketify.h"

static int _sk_on_request(void *user, int handler_id, sk_res_id_t res, sk_req_t *req);
static void _sk_on_aborted(void *user, sk_res_id_t res);
static void _sk_on_data(void *user, sk_res_id_t res, const char *data, size_t len, int is_last);
static void _sk_on_writable(void *user, sk_res_id_t res, uint64_t offset);
static void _sk_on_missing_server_name(void *user, const char *host, size_t len);
static void _sk_on_ws_message(void *user, sk_res_id_t ws, const char *data, size_t len, int opcode);
static void _sk_on_ws_ping(void *user, sk_res_id_t ws, const char *data, size_t len);
static void _sk_on_ws_pong(void *user, sk_res_id_t ws, const char *data, size_t len);
static void _sk_on_ws_close(void *user, sk_res_id_t ws, int code, const char *reason, size_t len);
static void _sk_on_ws_drain(void *user, sk_res_id_t ws);
static void _sk_on_ws_subscription(void *user, sk_res_id_t ws, const char *topic, size_t len,
                                   int new_count, int old_count);

/* The callbacks are the binding's extern "Python" functions; wiring them here
 * keeps function pointers out of Python. */
static sk_app_t *sk_py_app_create(const sk_app_config_t *config, void *user) {
  sk_app_callbacks_t callbacks;
  memset(&callbacks, 0, sizeof callbacks);
  callbacks.user = user;
  callbacks.on_request = _sk_on_request;
  callbacks.on_aborted = _sk_on_aborted;
  callbacks.on_data = _sk_on_data;
  callbacks.on_writable = _sk_on_writable;
  callbacks.on_missing_server_name = _sk_on_missing_server_name;
  callbacks.on_ws_message = _sk_on_ws_message;
  callbacks.on_ws_ping = _sk_on_ws_ping;
  callbacks.on_ws_pong = _sk_on_ws_pong;
  callbacks.on_ws_close = _sk_on_ws_close;
  callbacks.on_ws_drain = _sk_on_ws_drain;
  callbacks.on_ws_subscription = _sk_on_ws_subscription;
  return sk_app_create(config, &callbacks);
}
"""


def _sources():
    sources = sorted(glob.glob(os.path.join("native", "src", "*.c")))
    return [s for s in sources if not s.endswith(("_test.c",))]


def _compile_args():
    args = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
            "-fvisibility=hidden"]
    extra = os.environ.get("SOCKETIFY_CFLAGS", "")
    args += extra.split()
    return args


def _link_args():
    return os.environ.get("SOCKETIFY_LDFLAGS", "").split()


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "socketify._native",
    SOURCE,
    sources=_sources(),
    include_dirs=[os.path.join("native", "include"), os.path.join("native", "src")],
    libraries=["ssl", "crypto", "z"],
    extra_compile_args=_compile_args(),
    extra_link_args=_link_args(),
)

if __name__ == "__main__":
    os.chdir(HERE)
    ffibuilder.compile(tmpdir=os.path.join(HERE, "build", "cffi"), verbose="-v" in sys.argv)
