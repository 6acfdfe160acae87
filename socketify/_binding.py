"""The binding: loads ``socketify._native``, owns every ``@ffi.def_extern``
callback, the tables those callbacks dispatch through, and ``check``, the
one mapping of the core's status codes to Python exceptions.

The rule kept: only this module loads the extension, defines callbacks or
decides what a status means. The API modules (app, request, response,
websocket, the adapters) do call ``lib`` functions and ``ffi`` helpers
directly, imported from here, many bound to module globals: a wrapper
function per native call would put one more Python call on every request
(each request makes several native calls), which the per-request budget
does not allow. ``build_native.py`` declares the C surface; nothing else does.

Route handlers live in one process-wide table indexed by the handler id the
native router hands back, so a request reaches its dispatcher with a list
index instead of a handle lookup.
"""

import logging
import os
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple, Union, overload

try:
    from ._native import ffi, lib
except ModuleNotFoundError as missing:
    if missing.name != __package__ + "._native":
        raise
    raise ModuleNotFoundError(
        "socketify's native core (socketify._native) is not built: run `make build` in the "
        "source tree, or install the package with `pip install .`",
        name=missing.name,
    ) from None

__all__ = ["ffi", "lib", "check", "register_route", "register_app", "unregister_app", "native_address", "run_corked"]

logger = logging.getLogger("socketify")

# handler id -> dispatcher(res_id); a handler that yields calls lib.sk_py_yield_request()
_routes: List[Optional[Callable]] = []
# app id (the native "user" pointer) -> App, for the rarer per-response callbacks
_apps: Dict[int, object] = {}
# app id -> the handler ids of its routes, dropped with the app (unregister_app)
_app_routes: Dict[int, List[int]] = {}
# handler ids whose app is gone: handed out again before the table grows
_free_route_ids: List[int] = []


# handler id -> the names of its route's :param segments (for req.get_parameter("id"))
route_parameter_names: Dict[int, Tuple[str, ...]] = {}


_SK_ERR_STALE = lib.SK_ERR_STALE
_SK_ERR_STATE = lib.SK_ERR_STATE
_SK_ERR_INVALID = lib.SK_ERR_INVALID
_SK_ERR_NOMEM = lib.SK_ERR_NOMEM
_SK_ERR_SYSTEM = lib.SK_ERR_SYSTEM
_SK_ERR_BUSY = lib.SK_ERR_BUSY


def check(status: int, invalid: str = "invalid argument", state: str = "call out of order") -> bool:
    """What a core status means to the caller, one exception type per kind:
    True when the call took effect (SK_OK or any other non-negative result);
    False for SK_ERR_STALE (the response, WebSocket or connection is gone:
    the call is a documented no-op); ValueError for a bad argument
    (``invalid`` says which), RuntimeError for a call out of order
    (``state`` says why) or from inside a callback, MemoryError, and
    OSError with the errno of a failed system call."""
    if status >= 0:
        return True
    if status == _SK_ERR_STALE:
        return False
    if status == _SK_ERR_INVALID:
        raise ValueError(invalid)
    if status == _SK_ERR_STATE:
        raise RuntimeError(state)
    if status == _SK_ERR_BUSY:
        raise RuntimeError("the core cannot do that from inside one of its own callbacks")
    if status == _SK_ERR_NOMEM:
        raise MemoryError("the native core is out of memory")
    if status == _SK_ERR_SYSTEM:
        errno = ffi.errno
        raise OSError(errno, os.strerror(errno) if errno else "a system call of the native core failed")
    raise RuntimeError("native call failed with status %d" % status)


def register_route(dispatcher: Callable, parameter_names: Tuple[str, ...] = (), app_id: Optional[int] = None) -> int:
    """Keeps ``dispatcher`` for the core's callbacks; returns the handler id
    the core is given. With ``app_id`` the route goes with that app
    (``unregister_app``)."""
    if _free_route_ids:
        handler_id = _free_route_ids.pop()
        _routes[handler_id] = dispatcher
    else:
        _routes.append(dispatcher)
        handler_id = len(_routes) - 1
    if parameter_names:
        route_parameter_names[handler_id] = parameter_names
    if app_id is not None:
        _app_routes.setdefault(app_id, []).append(handler_id)
    return handler_id


def register_app(app_id: int, app) -> None:
    """The native side calls back with ``app_id`` cast to ``void *``."""
    _apps[app_id] = app


def unregister_app(app_id: int) -> None:
    """Forgets an app registered by ``register_app`` and the routes registered
    with its ``app_id`` (no-op if there are none). Only once its native app
    is released: nothing may call these handler ids any more."""
    _apps.pop(app_id, None)
    for handler_id in _app_routes.pop(app_id, ()):
        _routes[handler_id] = None
        route_parameter_names.pop(handler_id, None)
        _free_route_ids.append(handler_id)


@overload
def native_address(function: Callable, native: Any, handle_id: int, as_text: Literal[True]) -> Optional[str]: ...
@overload
def native_address(function: Callable, native: Any, handle_id: int, as_text: Literal[False]) -> Optional[bytes]: ...


def native_address(function: Callable, native: Any, handle_id: int, as_text: bool) -> Union[str, bytes, None]:
    """Calls one of the core's address getters (remote, proxied; response or
    WebSocket): the address as text or as raw bytes, None when there is none."""
    buf = ffi.new("char[64]")
    n = function(native, handle_id, buf, 64, 1 if as_text else 0)
    if n <= 0:
        return None
    data = ffi.unpack(buf, n)
    return data.decode("ascii") if as_text else data


def run_corked(native: Any, callback: Callable[[Any], Any], arg: Any) -> None:
    """Runs ``callback(arg)`` with the app's output corked, so that everything
    it writes leaves in one syscall (``res.cork``, ``ws.cork``)."""
    lib.sk_app_cork(native, 1)
    try:
        callback(arg)
    finally:
        lib.sk_app_cork(native, 0)


def _app_of(user):
    return _apps.get(int(ffi.cast("uintptr_t", user)))


def _tell_app(user, method: str, *args) -> None:
    """``app.<method>(*args)`` for the App behind a callback's ``user``, if
    it is still registered (a released App's late events are dropped)."""
    app = _app_of(user)
    if app is not None:
        getattr(app, method)(*args)


def _log_callback_error(exc_type, exc, tb):
    logger.error("error in a socketify callback", exc_info=(exc_type, exc, tb))


def _request_callback_error(exc_type, exc, tb):
    # The dispatcher failed before a handler owned the response: the core
    # moves on (next route, or 404) instead of leaving the client waiting.
    _log_callback_error(exc_type, exc, tb)
    lib.sk_py_yield_request()


@ffi.def_extern(onerror=_request_callback_error)
def _sk_on_request(handler_id, res_id):
    _routes[handler_id](res_id)


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_aborted(user, res_id):
    _tell_app(user, "_on_native_aborted", res_id)


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_data(app_id, res_id, data, length, is_last):
    app = _apps.get(app_id)
    if app is not None:
        app._on_native_data(res_id, ffi.unpack(data, length) if length else b"", bool(is_last))


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_writable(user, res_id, offset):
    _tell_app(user, "_on_native_writable", res_id, offset)


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_missing_server_name(user, host, length):
    _tell_app(user, "_on_missing_server_name", ffi.unpack(host, length).decode("ascii", "replace"))


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_ws_message(app_id, ws_id, data, length, opcode):
    _apps[app_id]._on_ws_message(ws_id, ffi.unpack(data, length), opcode)


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_ws_ping(user, ws_id, data, length):
    _tell_app(user, "_on_ws_control", "ping", ws_id, ffi.unpack(data, length))


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_ws_pong(user, ws_id, data, length):
    _tell_app(user, "_on_ws_control", "pong", ws_id, ffi.unpack(data, length))


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_ws_close(user, ws_id, code, reason, length):
    _tell_app(user, "_on_ws_close", ws_id, code, ffi.unpack(reason, length) if length else b"")


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_ws_drain(user, ws_id):
    _tell_app(user, "_on_ws_drain", ws_id)


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_log(user, level, message, length):
    logger.log(level, ffi.unpack(message, length).decode("utf-8", "replace"))


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_ws_subscription(user, ws_id, topic, length, new_count, old_count):
    _tell_app(user, "_on_ws_subscription", ws_id, ffi.unpack(topic, length), new_count, old_count)


@ffi.def_extern(onerror=_log_callback_error)
def _sk_on_topic(user, topic, length, subscribed):
    _tell_app(user, "_on_topic", ffi.unpack(topic, length), bool(subscribed))
