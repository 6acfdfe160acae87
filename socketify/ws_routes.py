"""The WebSocket half of App: ``app.ws(pattern, behavior)``, pub/sub, and the
native WebSocket events, as a mixin App inherits."""

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Type, Union

from . import _binding
from ._binding import check, ffi, lib
from ._pool import UNREFERENCED, refcounts
from .loop import is_awaitable
from .request import route_parameter_names
from .websocket import OpCode, WebSocket, encode_message

if TYPE_CHECKING:
    from .loop import CallbackRunner, Loop
    from .pubsub import Backplane
    from .request import Request
    from .response import Response

__all__ = ["WebSocketRoutes", "DEFAULT_BEHAVIOR"]

# Defaults of the socketify.py API (not of the C++ library underneath).
DEFAULT_BEHAVIOR: Dict[str, Any] = {
    "compression": 0,
    "max_payload_length": 16 * 1024,
    "idle_timeout": 120,
    "max_backpressure": 64 * 1024,
    "close_on_backpressure_limit": False,
    "reset_idle_timeout_on_send": False,
    "send_pings_automatically": False,
    "max_lifetime": 0,
}
_OPCODE_TEXT = OpCode.TEXT  # enum attribute lookups are slow before 3.12
_OPCODE_BINARY = OpCode.BINARY
_HANDLERS = ("upgrade", "open", "message", "drain", "ping", "pong", "close", "subscription")


def _int_option(behavior: Dict[str, Any], name: str, low: int, high: int) -> int:
    value = behavior.get(name, DEFAULT_BEHAVIOR[name])
    if value is None:
        value = DEFAULT_BEHAVIOR[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("ws behavior %r must be an int, not %r" % (name, value))
    if not low <= value <= high:
        raise ValueError("ws behavior %r must be between %d and %d, not %d" % (name, low, high, value))
    return value


class _Behavior:
    """A route's behaviour dict, validated, with its handlers looked up once."""

    __slots__ = _HANDLERS + ("options",)
    upgrade: Optional[Callable[..., Any]]
    open: Optional[Callable[..., Any]]
    message: Optional[Callable[..., Any]]
    drain: Optional[Callable[..., Any]]
    ping: Optional[Callable[..., Any]]
    pong: Optional[Callable[..., Any]]
    close: Optional[Callable[..., Any]]
    subscription: Optional[Callable[..., Any]]
    options: Dict[str, Any]

    def __init__(self, behavior: Dict[str, Any]) -> None:
        if not isinstance(behavior, dict):
            raise TypeError("app.ws needs a behavior dict")
        unknown = set(behavior) - set(DEFAULT_BEHAVIOR) - set(_HANDLERS)
        if unknown:
            raise ValueError("unknown ws behavior keys: %s" % ", ".join(sorted(unknown)))
        for name in _HANDLERS:
            handler = behavior.get(name)
            if handler is not None and not callable(handler):
                raise TypeError("ws behavior %r must be callable" % name)
            setattr(self, name, handler)
        self.options = behavior


class WebSocketRoutes:
    """Mixed into App."""

    # The cross-process pub/sub engine (App(pubsub=...)), or None.
    backplane: Optional["Backplane"] = None

    # What App supplies (set in App.__init__), declared for the type checker.
    _native: Any
    _id: int
    _route_hook: Optional[Callable[..., Tuple[str, Any]]]
    _current_request: Any
    _json_serializer: Any
    _response_class: Type["Response"]
    _request_class: Type["Request"]
    _websocket_class: Type[WebSocket]
    _runner: "CallbackRunner"
    _attached: bool
    loop: "Loop"
    websocket_factory_max_items: int
    _start_coroutine: Callable[..., Any]

    def _init_websockets(self) -> None:
        self._websockets: Dict[int, WebSocket] = {}
        self._ws_pool: list = []

    def ws(self, path: str, behavior: Dict[str, Any]) -> "WebSocketRoutes":
        """A WebSocket route. ``behavior`` keys: compression, max_payload_length,
        idle_timeout (s, 0 = none), max_backpressure, close_on_backpressure_limit,
        reset_idle_timeout_on_send, send_pings_automatically, max_lifetime
        (minutes), and the handlers upgrade, open, message, drain, ping, pong,
        close, subscription (sync or async). A request without
        ``Upgrade: websocket`` falls through to the HTTP routes."""
        if not isinstance(path, str):
            raise TypeError("path must be a str")
        if self._route_hook is not None:  # see App._route_hook
            path = self._route_hook(path, None)[0]
        b = _Behavior(behavior)
        config = ffi.new("sk_ws_config_t *")
        config.compression = _int_option(behavior, "compression", 0, 0xFFFF)
        config.max_payload_length = _int_option(behavior, "max_payload_length", 0, 1 << 62)
        config.idle_timeout_s = _int_option(behavior, "idle_timeout", 0, 960)
        config.max_backpressure = _int_option(behavior, "max_backpressure", 0, 1 << 62)
        config.close_on_backpressure_limit = 1 if behavior.get("close_on_backpressure_limit") else 0
        config.reset_idle_timeout_on_send = 1 if behavior.get("reset_idle_timeout_on_send") else 0
        config.send_pings_automatically = 1 if behavior.get("send_pings_automatically") else 0
        config.max_lifetime_min = _int_option(behavior, "max_lifetime", 0, 240)
        config.has_subscription_handler = 1 if b.subscription else 0
        native = self._native  # first: a released App raises before registering anything
        handler_id = _binding.register_route(self._make_upgrade_dispatcher(b), route_parameter_names(path), self._id)
        pattern = path.encode()
        check(lib.sk_app_ws_route(native, pattern, len(pattern), config, handler_id), "invalid route pattern %r" % path)
        return self

    def _make_upgrade_dispatcher(self, behavior: _Behavior) -> Callable[[int], None]:
        app = self
        upgrade = behavior.upgrade

        req_ptr = self._current_request

        def dispatch(res_id: int) -> None:
            res = app._response_class(res_id)
            req = app._request_class(req_ptr)
            req._res = res
            res._ws_behavior = behavior
            task = app._runner.call(upgrade or _default_upgrade, (res, req, behavior), res, req)
            if task is not None or not res._done:
                res._req = req
                req._snapshot()
                if not res._done:
                    res._track()
            else:
                req._ptr = None

        return dispatch

    # -- pub/sub ------------------------------------------------------------------

    def publish(
        self, topic: Union[str, bytes], message: Any, opcode: Optional[OpCode] = None, compress: bool = False
    ) -> bool:
        """Sends ``message`` to every WebSocket subscribed to ``topic`` in this
        process, and through the backplane (``App(pubsub=...)``) to every
        other process. Without ``opcode``: str/dict/list as TEXT, bytes as
        BINARY. Returns True when the topic has subscribers in this process."""
        name = WebSocket._topic(topic)
        data, code = encode_message(self._json_serializer, message, opcode)
        native = self.__dict__.get("_native")
        if native is None:  # released (App.run returned): no subscriber left, as for a stale WebSocket
            return False
        status = lib.sk_app_publish(native, name, len(name), data, len(data), code, 1 if compress else 0)
        check(status, "publish takes OpCode.TEXT or OpCode.BINARY")
        backplane = self.backplane
        if backplane is not None:
            backplane.publish(name, data, code, compress)
        return status == 1

    def num_subscribers(self, topic: Union[str, bytes]) -> int:
        """How many WebSockets of this process are subscribed to ``topic``
        (with a backplane: ``await app.backplane.num_subscribers(topic)``
        counts the processes that have subscribers)."""
        if not isinstance(topic, (str, bytes, bytearray, memoryview)):
            raise RuntimeError("topic must be str or bytes")
        name = WebSocket._topic(topic)
        native = self.__dict__.get("_native")
        return 0 if native is None else lib.sk_app_num_subscribers(native, name, len(name))

    # -- the cross-process backplane ------------------------------------------------

    def set_pubsub(self, backplane: Any) -> "WebSocketRoutes":
        """Attaches a cross-process pub/sub backplane, as ``App(pubsub=...)``
        does (for an App made elsewhere, e.g. by the CLI); call it before
        ``listen()``, which connects it."""
        if getattr(self, "_attached", False):
            raise RuntimeError("set_pubsub must be called before listen()")
        self._use_backplane(backplane)
        return self

    def _use_backplane(self, backplane: Any) -> None:
        from .pubsub import Backplane, backplane_from_url  # only for apps that use one

        if isinstance(backplane, str):
            backplane = backplane_from_url(backplane)
        if self.backplane is not None:
            raise RuntimeError("this App already has a pub/sub backplane")
        if not isinstance(backplane, Backplane):
            raise TypeError(
                "pubsub must be a socketify.pubsub backplane (e.g. RedisBackplane(url)) "
                "or its URL, not %r" % (backplane,)
            )
        native, publish = self._native, lib.sk_app_publish

        def deliver(topic: bytes, payload: bytes, opcode: int, compress: int) -> None:
            # Straight to the core's fan-out: not App.publish, so never forwarded again.
            publish(native, topic, len(topic), payload, len(payload), opcode, compress)

        backplane.bind(deliver)
        self.backplane = backplane
        lib.sk_app_report_topics(native, 1)

    def _start_backplane(self) -> None:
        """Connects the backplane (from listen): a clear error here when the
        broker is unreachable, before the port is bound."""
        backplane = self.backplane
        if backplane is None or backplane.started:
            return
        loop = self.loop.loop
        if loop.is_running():
            self._start_coroutine(backplane.start(), None, None)
        else:
            loop.run_until_complete(backplane.start())

    def _stop_backplane(self) -> None:
        """Flushes and disconnects the backplane (after the loop stopped)."""
        backplane = self.backplane
        loop = self.loop.loop
        if backplane is None or not backplane.started or loop.is_closed():
            return
        if loop.is_running():
            self._start_coroutine(backplane.stop(), None, None)
            return
        future = asyncio.ensure_future(backplane.stop(), loop=loop)
        while not future.done():
            try:
                loop.run_until_complete(future)
            except RuntimeError:
                # A poll of a closing app stops the loop again: keep going.
                if loop.is_closed():
                    raise
        future.result()

    def _on_topic(self, topic: bytes, subscribed: bool) -> None:
        """From the core: ``topic`` got its first, or lost its last, local subscriber."""
        backplane = self.backplane
        if backplane is not None:
            if subscribed:
                backplane.subscribe(topic)
            else:
                backplane.unsubscribe(topic)

    # -- events from the core -------------------------------------------------------

    def _ws_opened(self, ws_id: int, behavior: _Behavior, user_data: Any) -> WebSocket:
        if self._ws_pool:
            ws = self._ws_pool.pop()
            ws._id = ws_id
        else:
            ws = self._websocket_class(ws_id)
        ws._behavior = behavior
        ws._user_data = user_data
        self._websockets[ws_id] = ws
        if behavior.open is not None:
            self._ws_call(behavior.open, ws)
        return ws

    def _ws_call(self, handler: Callable, *args: Any) -> None:
        self._runner.call(handler, args)

    def _on_ws_message(self, ws_id: int, data: bytes, opcode: int) -> None:
        ws = self._websockets.get(ws_id)
        if ws is None:
            return
        handler = ws._behavior.message
        if handler is None:
            return
        # The runner's call, inlined: this runs once per message.
        try:
            if opcode == 1:
                result = handler(ws, data.decode(), _OPCODE_TEXT)  # the core validated the UTF-8
            else:
                result = handler(ws, data, _OPCODE_BINARY)
        except BaseException as error:  # noqa: B902 - routed like every user error
            self._runner.fail(error)
            return
        if result is not None and is_awaitable(result):
            self._runner.start(result)

    def _on_ws_control(self, kind: str, ws_id: int, data: bytes) -> None:
        ws = self._websockets.get(ws_id)
        if ws is not None:
            handler = getattr(ws._behavior, kind)
            if handler is not None:
                self._ws_call(handler, ws, data)

    def _on_ws_drain(self, ws_id: int) -> None:
        ws = self._websockets.get(ws_id)
        if ws is not None and ws._behavior.drain is not None:
            self._ws_call(ws._behavior.drain, ws)

    def _on_ws_close(self, ws_id: int, code: int, reason: bytes) -> None:
        ws = self._websockets.get(ws_id)
        if ws is None:
            return
        self._ws_closed(ws, code, reason)
        # websocket_factory_max_items: reuse the wrapper when nobody kept it.
        if (
            UNREFERENCED is not None
            and len(self._ws_pool) < self.websocket_factory_max_items
            and type(ws) is self._websocket_class
            and refcounts(ws, None)[0] == UNREFERENCED[0]
        ):
            ws.__dict__.clear()
            self._ws_pool.append(ws)

    def _ws_closed(self, ws: WebSocket, code: int, reason: bytes) -> None:
        if ws._closed:
            return
        ws._closed = True
        self._websockets.pop(ws._id, None)
        handler = ws._behavior.close if ws._behavior is not None else None
        if handler is not None:
            self._ws_call(handler, ws, code, reason)

    def _on_ws_subscription(self, ws_id: int, topic: bytes, new_count: int, old_count: int) -> None:
        ws = self._websockets.get(ws_id)
        if ws is not None:
            self._ws_subscription_changed(ws, topic, new_count, old_count)

    def _ws_subscription_changed(self, ws: WebSocket, topic: bytes, new_count: int, old_count: int) -> None:
        handler = ws._behavior.subscription if ws._behavior is not None else None
        if handler is not None:
            self._ws_call(handler, ws, topic.decode("utf-8", "surrogateescape"), new_count, old_count)


def _first_protocol(header: Optional[str]) -> str:
    if not header:
        return ""
    for item in header.split(","):
        item = item.strip()
        if item:
            return item
    return ""


def _default_upgrade(res, req, behavior: _Behavior) -> None:
    """The upgrade without an ``upgrade`` handler: accept, pick the client's
    first subprotocol, negotiate compression."""
    res.upgrade(
        req.get_header("sec-websocket-key") or "",
        _first_protocol(req.get_header("sec-websocket-protocol")),
        req.get_header("sec-websocket-extensions") or "",
        behavior,
    )
