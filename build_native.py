"""cffi builder (API mode): compiles native/ into ``socketify._native``.

The cdef is read from ``native/include/socketify.h``, the one C API the
binding sees, so the two cannot drift apart; constants are declared with
``...`` so their values come from the header itself. Only the binding's own
glue (the callbacks into Python) is declared here.
"""

import glob
import os
import re
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = os.path.join(HERE, "native")


def _cdef_from_header(path):
    """The public header as cffi reads it: comments and preprocessor lines
    dropped, every constant declared as ``...`` (its value comes from C)."""
    with open(path) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    lines = []
    for line in text.splitlines():
        if line.startswith("#define "):
            name = line.split()[1]
            if name != "SOCKETIFY_H":
                lines.append("#define %s ..." % name)
        elif not line.startswith("#"):
            lines.append(line)
    return "\n".join(lines)


CDEF = (
    _cdef_from_header(os.path.join(NATIVE, "include", "socketify.h"))
    + """
sk_app_t *sk_py_app_create(const sk_app_config_t *config, void *user);
void sk_py_yield_request(void);
void sk_py_release_gil_while_blocked(sk_app_t *app);

extern "Python" void _sk_on_request(int handler_id, sk_res_id_t res);
extern "Python" void _sk_on_aborted(void *user, sk_res_id_t res);
extern "Python" void _sk_on_data(int app_id, sk_res_id_t res, const char *data, size_t len,
                                 int is_last);
extern "Python" void _sk_on_writable(void *user, sk_res_id_t res, uint64_t offset);
extern "Python" void _sk_on_missing_server_name(void *user, const char *host, size_t len);
extern "Python" void _sk_on_ws_message(int app_id, sk_res_id_t ws, const char *data, size_t len,
                                       int opcode);
extern "Python" void _sk_on_ws_ping(void *user, sk_res_id_t ws, const char *data, size_t len);
extern "Python" void _sk_on_ws_pong(void *user, sk_res_id_t ws, const char *data, size_t len);
extern "Python" void _sk_on_ws_close(void *user, sk_res_id_t ws, int code, const char *reason,
                                     size_t len);
extern "Python" void _sk_on_ws_drain(void *user, sk_res_id_t ws);
extern "Python" void _sk_on_ws_subscription(void *user, sk_res_id_t ws, const char *topic,
                                            size_t len, int new_count, int old_count);
extern "Python" void _sk_on_log(void *user, int level, const char *message, size_t len);
extern "Python" void _sk_on_topic(void *user, const char *topic, size_t len, int subscribed);
"""
)

SOURCE = """
#include <string.h>
#include "socketify.h"

/* Every core entry point returns without blocking (asyncio polls the core
 * with a zero timeout), so cffi's default of releasing the GIL around each
 * call only buys two lock handoffs per call, and one more per callback into
 * Python. Nor does the binding read ffi.errno (the core keeps what it needs,
 * e.g. sk_app_listen_errno), so the per-call errno save/restore goes too.
 * These names are the wrappers' hooks in cffi's generated code; were they
 * renamed, the defines would be unused and the defaults would apply. */
#undef Py_BEGIN_ALLOW_THREADS
#undef Py_END_ALLOW_THREADS
#define Py_BEGIN_ALLOW_THREADS {
#define Py_END_ALLOW_THREADS }
#undef _cffi_restore_errno
#undef _cffi_save_errno
#define _cffi_restore_errno() ((void)0)
#define _cffi_save_errno() ((void)0)

static void _sk_on_request(int handler_id, sk_res_id_t res);

/* A route handler is found by its id alone, and the request is the app's
 * sk_app_current_request (the binding holds its address), so the callback
 * converts two ints and returns nothing. A handler that yields to the next
 * route says so through sk_py_yield_request. */
static _Thread_local int sk_py_request_yielded;

static void sk_py_yield_request(void) { sk_py_request_yielded = 1; }

static int sk_py_on_request(void *user, int handler_id, sk_res_id_t res, sk_req_t *req) {
  (void)user;
  (void)req;
  int outer = sk_py_request_yielded;
  sk_py_request_yielded = 0;
  _sk_on_request(handler_id, res);
  int taken = !sk_py_request_yielded;
  sk_py_request_yielded = outer;
  return taken;
}
static void _sk_on_aborted(void *user, sk_res_id_t res);
static void _sk_on_data(int app_id, sk_res_id_t res, const char *data, size_t len, int is_last);
static void sk_py_on_data(void *user, sk_res_id_t res, const char *data, size_t len, int is_last) {
  _sk_on_data((int)(uintptr_t)user, res, data, len, is_last);
}
static void _sk_on_writable(void *user, sk_res_id_t res, uint64_t offset);
static void _sk_on_missing_server_name(void *user, const char *host, size_t len);
/* The hot per-message and per-body-piece callbacks get the app id as an int:
 * cheaper for Python than a pointer object. */
static void _sk_on_ws_message(int app_id, sk_res_id_t ws, const char *data, size_t len, int opcode);
static void sk_py_on_ws_message(void *user, sk_res_id_t ws, const char *data, size_t len, int opcode) {
  _sk_on_ws_message((int)(uintptr_t)user, ws, data, len, opcode);
}
static void _sk_on_ws_ping(void *user, sk_res_id_t ws, const char *data, size_t len);
static void _sk_on_ws_pong(void *user, sk_res_id_t ws, const char *data, size_t len);
static void _sk_on_ws_close(void *user, sk_res_id_t ws, int code, const char *reason, size_t len);
static void _sk_on_ws_drain(void *user, sk_res_id_t ws);
static void _sk_on_ws_subscription(void *user, sk_res_id_t ws, const char *topic, size_t len,
                                   int new_count, int old_count);
static void _sk_on_log(void *user, int level, const char *message, size_t len);
static void _sk_on_topic(void *user, const char *topic, size_t len, int subscribed);

/* The wrappers above keep the GIL through every call, so a wait that may
 * block (asyncio polling the core with a timeout) releases it itself, only
 * around the wait: executor threads run meanwhile, and the callbacks the
 * wait then dispatches pay nothing for it. PyPy releases it around every
 * call already. */
#if !defined(PYPY_VERSION) && defined(Py_PYTHON_H)
static _Thread_local PyThreadState *sk_py_blocked_state;
static void sk_py_before_block(void) { sk_py_blocked_state = PyEval_SaveThread(); }
static void sk_py_after_block(void) { PyEval_RestoreThread(sk_py_blocked_state); }
static void sk_py_release_gil_while_blocked(sk_app_t *app) {
  sk_app_set_block_hooks(app, sk_py_before_block, sk_py_after_block);
}
#else
static void sk_py_release_gil_while_blocked(sk_app_t *app) { (void)app; }
#endif

/* The callbacks are the binding's extern "Python" functions; wiring them here
 * keeps function pointers out of Python. */
static sk_app_t *sk_py_app_create(const sk_app_config_t *config, void *user) {
  sk_app_callbacks_t callbacks;
  memset(&callbacks, 0, sizeof callbacks);
  callbacks.user = user;
  callbacks.on_request = sk_py_on_request;
  callbacks.on_aborted = _sk_on_aborted;
  callbacks.on_data = sk_py_on_data;
  callbacks.on_writable = _sk_on_writable;
  callbacks.on_missing_server_name = _sk_on_missing_server_name;
  callbacks.on_ws_message = sk_py_on_ws_message;
  callbacks.on_ws_ping = _sk_on_ws_ping;
  callbacks.on_ws_pong = _sk_on_ws_pong;
  callbacks.on_ws_close = _sk_on_ws_close;
  callbacks.on_ws_drain = _sk_on_ws_drain;
  callbacks.on_ws_subscription = _sk_on_ws_subscription;
  callbacks.on_log = _sk_on_log;
  callbacks.on_topic = _sk_on_topic;
  return sk_app_create(config, &callbacks);
}
"""


def _sources():
    sources = sorted(glob.glob(os.path.join("native", "src", "*.c")))
    return [s for s in sources if not s.endswith(("_test.c",))]


def _compile_args():
    # NDEBUG: an impossible connection state transition closes the connection
    # in a release build; the ASan build (-UNDEBUG) asserts instead.
    args = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-DNDEBUG"]
    extra = os.environ.get("SOCKETIFY_CFLAGS", "")
    args += extra.split()
    return args


def _link_args():
    return os.environ.get("SOCKETIFY_LDFLAGS", "").split() + _static_link()[2]


def _static_link():
    """(libraries, static archives, link flags): the libraries named in
    ``SOCKETIFY_STATIC_LIBS`` (``make wheel`` sets ``z``) are linked from
    their static archive where the compiler finds one (on GNU ld, with the
    archive's symbols kept out of the module's exports); the rest, and any
    without an archive, dynamically."""
    import subprocess

    libraries, archives, flags = [], [], []
    wanted = os.environ.get("SOCKETIFY_STATIC_LIBS", "").split()
    for name in ("ssl", "crypto", "z"):
        path = ""
        if name in wanted and sys.platform.startswith("linux"):
            cc = os.environ.get("CC", "cc").split()
            archive = "lib%s.a" % name
            out = subprocess.run(cc + ["-print-file-name=" + archive], capture_output=True, text=True)
            path = out.stdout.strip() if out.returncode == 0 else ""
        if os.path.isabs(path) and os.path.exists(path):
            archives.append(path)
            flags.append("-Wl,--exclude-libs," + os.path.basename(path))
        else:
            libraries.append(name)
    return libraries, archives, flags


ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "socketify._native",
    SOURCE,
    sources=_sources(),
    include_dirs=[os.path.join("native", "include"), os.path.join("native", "src")],
    libraries=_static_link()[0],
    extra_objects=_static_link()[1],
    extra_compile_args=_compile_args(),
    extra_link_args=_link_args(),
)

if __name__ == "__main__":
    os.chdir(HERE)
    ffibuilder.compile(tmpdir=os.path.join(HERE, "build", "cffi"), verbose="-v" in sys.argv)
