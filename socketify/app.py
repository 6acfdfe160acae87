"""App: routes, listening, running and stopping."""

import asyncio
import itertools
import logging
import os
import signal
import threading
from typing import Any, Callable, Dict, List, Optional, Union

from . import _binding, workers as _workers
from ._binding import check, ffi, lib
from ._json import default_json
from ._pool import UNREFERENCED as _UNREFERENCED, refcounts as _refcounts
from ._proxy import proxy_protocol_mode, trust_proxies
from ._routes import RouteMethods
from .extensions import AppExtension, derive_class
from .loop import (
    CallbackRunner,
    CoroutineType as _CoroutineType,
    Loop,
    SocketifyEventLoop,
    as_coroutine as _as_coroutine,
    describe_request,
    is_awaitable as _is_awaitable_result,
)
from .options import AppListenOptions, AppOptions
from .request import _SCRATCH_SIZE as _REQUEST_SCRATCH_SIZE, Request, route_parameter_names
from .response import Response
from .websocket import WebSocket
from .ws_routes import WebSocketRoutes

__all__ = ["App", "SSLApp"]

logger = logging.getLogger("socketify")

_app_ids = itertools.count(1)
_new = object.__new__


def _raise_open_file_limit() -> None:
    """A server holds one fd per client: lift the soft limit to the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def _seconds(value: Any, name: str) -> float:
    """A non-negative number of seconds, or a ValueError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError("%s must be a non-negative number of seconds, not %r" % (name, value))
    return float(value)


def _listen_flags(config: AppListenOptions) -> int:
    """The core's listen flags: exclusive, shared on purpose (``reuse_port``,
    or ``SOCKETIFY_REUSE_PORT=1`` as the CLI sets for its workers), or
    shared by default (with a warning when another server is there)."""
    flags = config.options
    if config.reuse_port is False:
        return flags | lib.SK_LISTEN_EXCLUSIVE_PORT
    if flags & lib.SK_LISTEN_EXCLUSIVE_PORT:
        return flags
    if config.reuse_port or os.environ.get("SOCKETIFY_REUSE_PORT") == "1":
        flags |= lib.SK_LISTEN_REUSE_PORT
    return flags


class _Default:
    """The built-in default of an ``App(...)`` parameter, marking it "not
    passed": ``App.__init__`` uses the process-wide default set by
    ``set_app_defaults`` in its place when there is one."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)  # help(App) shows the plain default


def _default(value: Any) -> Any:
    """``_Default(value)``, typed as Any so that a parameter keeps the type of
    the values a caller may pass."""
    return _Default(value)


# Process-wide defaults for App(...) arguments the caller does not pass; the
# CLI fills it in each worker (set_app_defaults), nothing else writes it.
_app_defaults: Dict[str, Any] = {}
_DEFAULTABLE = (
    "options",
    "request_response_factory_max_items",
    "websocket_factory_max_items",
    "task_factory_max_items",
    "lifespan",
    "idle_timeout",
    "graceful_shutdown_timeout",
    "pubsub",
)


def set_app_defaults(**values: Any) -> None:
    """Makes ``values`` the defaults of every later ``App(...)`` in this process;
    arguments a program passes explicitly still win (the CLI's options)."""
    unknown = sorted(set(values) - set(_DEFAULTABLE))
    if unknown:
        raise TypeError(
            "set_app_defaults: no App(...) default named %s (known: %s)" % (", ".join(unknown), ", ".join(_DEFAULTABLE))
        )
    _app_defaults.update(values)


def _resolved(name: str, value: Any) -> Any:
    """``value``, or the process-wide default for ``name`` if the caller did not pass one."""
    if isinstance(value, _Default):
        return _app_defaults.get(name, value.value)
    return value


def _plural(count: int, noun: str) -> str:
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def _recycle(res: Response, req: Request, res_pool: list, req_pool: list) -> None:
    """Returns a finished pair to the pools; the caller checked that nothing
    else refers to them (reuse would otherwise leak one request into the next)."""
    res.__dict__.clear()
    req.__dict__.clear()
    res_pool.append(res)
    req_pool.append(req)


class App(RouteMethods, WebSocketRoutes):
    """A socketify application: an HTTP server with a router, on a native core.

    ``App(options=None, request_response_factory_max_items=0,
    websocket_factory_max_items=0, task_factory_max_items=100_000,
    lifespan=True, idle_relaxation_time=0.01)``. The keyword-only limits
    bound what a client may send; each has a defined answer (414, 431, 413,
    or a closed connection for a slow client). ``graceful_shutdown_timeout``
    is how long ``close()`` (and the first SIGINT/SIGTERM) lets in-flight
    responses and WebSocket closes finish before closing what is left.
    ``proxy_protocol``: who may
    send a PROXY header (True: any client, False: nobody, or a list of
    trusted addresses/networks). ``close_unanswered=False`` keeps the idle
    timeout from closing a request the handler is still working on (the
    ASGI and WSGI adapters use it). ``pubsub`` takes a backplane
    (``socketify.pubsub.RedisBackplane(url)``, or just its URL, for a
    backplane of this App's own) that carries ``publish`` to
    every other process sharing it.
    """

    # ``_route_hook(app, path, handler) -> (path, handler)``, applied to every
    # route added afterwards (``handler`` None for a WebSocket route). Set by
    # the CLI in its own process for the access log, proxy headers, root path
    # and concurrency limit, so that none of them costs anything when off.
    _route_hook: Optional[Callable] = None

    def __init__(
        self,
        options: Optional[AppOptions] = _default(None),
        request_response_factory_max_items: int = _default(0),
        websocket_factory_max_items: int = _default(0),
        task_factory_max_items: int = _default(100_000),
        lifespan: bool = _default(True),
        idle_relaxation_time: float = 0.01,
        *,
        max_request_line_size: int = 8192,
        max_header_size: int = 8192,
        max_header_count: int = 100,
        header_timeout: int = 10,
        idle_timeout: int = _default(10),
        max_body_size: int = 0,
        graceful_shutdown_timeout: float = _default(10.0),
        proxy_protocol: Any = True,
        close_unanswered: bool = True,
        pubsub: Optional[Any] = _default(None),
    ) -> None:
        options = _resolved("options", options)
        request_response_factory_max_items = _resolved(
            "request_response_factory_max_items", request_response_factory_max_items
        )
        websocket_factory_max_items = _resolved("websocket_factory_max_items", websocket_factory_max_items)
        task_factory_max_items = _resolved("task_factory_max_items", task_factory_max_items)
        lifespan = _resolved("lifespan", lifespan)
        idle_timeout = _resolved("idle_timeout", idle_timeout)
        graceful_shutdown_timeout = _resolved("graceful_shutdown_timeout", graceful_shutdown_timeout)
        pubsub = _resolved("pubsub", pubsub)
        if options is not None and not isinstance(options, AppOptions):
            raise TypeError("options must be an AppOptions or None")
        for name, value in (
            ("max_request_line_size", max_request_line_size),
            ("max_header_size", max_header_size),
            ("max_header_count", max_header_count),
            ("header_timeout", header_timeout),
            ("idle_timeout", idle_timeout),
            ("max_body_size", max_body_size),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError("%s must be a non-negative int" % name)
        if max_header_count > 256:
            raise ValueError("max_header_count must be at most 256")
        self.graceful_shutdown_timeout = _seconds(graceful_shutdown_timeout, "graceful_shutdown_timeout")

        self._options = options
        self.SSL = 1 if options is not None else 0
        self.is_ssl = options is not None
        self.lifespan = lifespan
        self.request_response_factory_max_items = request_response_factory_max_items
        self.websocket_factory_max_items = websocket_factory_max_items
        self.loop = Loop(
            lambda loop, context, response: self._report_error(
                context.get("exception") or RuntimeError(context.get("message")), response, None
            ),
            task_factory_max_items,
            idle_relaxation_time,
        )
        self.run_async = self.loop.run_async
        # Every call into user code goes through the runner; the error
        # handler's own failures are only logged (never fed back to it).
        self._runner = CallbackRunner(lambda: self.loop.loop, self._report_error, self.close)
        self._error_runner = CallbackRunner(
            lambda: self.loop.loop, lambda e, res, req: logger.error("error in the error handler", exc_info=e)
        )
        self.handlers: List[Callable[..., Any]] = []
        self._json_serializer = default_json
        self._template = None
        self._error_handler: Optional[Callable] = None
        self._start_hooks: List[Callable[[], Any]] = []
        self._shutdown_hooks: List[Callable[[], Any]] = []
        # res id -> what the core's abort, data and writable events go to: a
        # Response, or an ASGI/WSGI adapter's own per-request object
        self._pending: Dict[int, Any] = {}
        self._res_pool: list = []
        self._req_pool: list = []
        self._closing = False
        self._attached = False
        self._selector: Optional[Any] = None  # the SocketifyEventLoop selector this app drives
        self._force_stop: Optional[asyncio.TimerHandle] = None
        self._lenp = ffi.new("size_t *")
        self._scratch = ffi.new("char[]", _REQUEST_SCRATCH_SIZE)
        self._id = next(_app_ids)

        config = ffi.new("sk_app_config_t *")
        lib.sk_app_config_default(config)
        config.max_request_line = max_request_line_size
        config.max_header_bytes = max_header_size
        config.max_header_count = max_header_count
        config.header_timeout_s = header_timeout
        config.idle_timeout_s = idle_timeout
        config.max_body_size = max_body_size
        config.proxy_protocol, trusted_proxies = proxy_protocol_mode(proxy_protocol)
        config.close_unanswered = 1 if close_unanswered else 0
        self._user = ffi.cast("void *", self._id)
        self._native = lib.sk_py_app_create(config, self._user)
        if self._native == ffi.NULL:
            raise RuntimeError("Failed to create connection")
        trust_proxies(self._native, trusted_proxies)
        self._current_request = lib.sk_app_current_request(self._native)
        if options is not None:
            self._use_tls(options)
        _binding.register_app(self._id, self)
        self.app = self._native
        self._extensions: list = []  # (request, response, ws) AppExtension triples
        self._derive_classes()
        self._init_websockets()
        if pubsub is not None:
            self._use_backplane(pubsub)

    # -- configuration ----------------------------------------------------

    def json_serializer(self, json_serializer: Any) -> "App":
        """Uses ``json_serializer.dumps``/``loads`` for every JSON payload."""
        self._json_serializer = json_serializer
        return self

    def template(self, template_engine: Any) -> "App":
        """Sets the engine behind ``res.render`` (an object with ``render``)."""
        self._template = template_engine
        return self

    def get_native_handle(self):
        """The SSL_CTX pointer of a TLS app (a cffi ``void *``); None for a plain app."""
        handle = lib.sk_app_native_handle(self._native)
        return None if handle == ffi.NULL else handle

    @staticmethod
    def _tls_options(options: AppOptions):
        """(sk_tls_options_t *, keep-alive list for its C strings)."""
        keep = []

        def text(value):
            if value is None:
                return ffi.NULL
            data = ffi.new("char[]", os.fsencode(value))
            keep.append(data)
            return data

        native = ffi.new("sk_tls_options_t *")
        native.key_file_name = text(options.key_file_name)
        native.cert_file_name = text(options.cert_file_name)
        native.passphrase = text(options.passphrase)
        native.dh_params_file_name = text(options.dh_params_file_name)
        native.ca_file_name = text(options.ca_file_name)
        native.ssl_ciphers = text(options.ssl_ciphers)
        native.ssl_prefer_low_memory_usage = int(options.ssl_prefer_low_memory_usage)
        return native, keep

    def _use_tls(self, options: AppOptions) -> None:
        native, keep = self._tls_options(options)
        error = ffi.new("char[512]")
        if lib.sk_app_use_tls(self._native, native, error, 512) != lib.SK_OK:
            lib.sk_app_destroy(self._native)
            self._native = ffi.NULL
            raise RuntimeError(ffi.string(error).decode("utf-8", "replace"))

    # -- SNI ----------------------------------------------------------------

    def add_server_name(self, hostname_pattern: str, options: Optional[AppOptions] = None) -> "App":
        """Serves ``hostname_pattern`` (``*`` matches within one label) with its
        own certificate (``options``; None: the app's) and its own routes
        (``app.domain(hostname_pattern)``), tried before the app's."""
        if not isinstance(hostname_pattern, str) or not hostname_pattern:
            raise TypeError("hostname_pattern must be a non-empty str")
        if options is not None and not isinstance(options, AppOptions):
            raise TypeError("options must be an AppOptions or None")
        native, keep = self._tls_options(options) if options is not None else (ffi.NULL, None)
        error = ffi.new("char[512]")
        status = lib.sk_app_add_server_name(self._native, hostname_pattern.encode("idna"), native, error, 512)
        if status != lib.SK_OK:
            raise RuntimeError(
                ffi.string(error).decode("utf-8", "replace") or "cannot add server name %r" % hostname_pattern
            )
        return self

    def remove_server_name(self, hostname_pattern: str) -> "App":
        """Stops serving ``hostname_pattern`` with its own certificate and routes."""
        lib.sk_app_remove_server_name(self._native, hostname_pattern.encode("idna"))
        return self

    def missing_server_name(self, handler: Callable[[str], Any]) -> "App":
        """``handler(hostname)`` runs when a TLS client asks for a name no entry
        matches; it may call ``add_server_name`` to serve it from this handshake on."""
        self._missing_server_name_handler = handler
        return self

    def _on_missing_server_name(self, hostname: str) -> None:
        handler = getattr(self, "_missing_server_name_handler", None)
        if handler is not None:
            self._runner.call(handler, (hostname,))

    def domain(self, hostname_pattern: str) -> "DomainRouter":
        """Routes that answer only clients that named ``hostname_pattern`` (SNI)."""
        return DomainRouter(self, hostname_pattern)

    def on_start(self, method: Callable) -> Callable:
        """Registers a hook run inside ``listen()`` before the socket is bound."""
        self._start_hooks.append(method)
        return method

    def on_shutdown(self, method: Callable) -> Callable:
        """Registers a hook run after ``run()`` stops."""
        self._shutdown_hooks.append(method)
        return method

    def on_error(self, handler: Callable) -> Callable:
        """Decorator form of ``set_error_handler``."""
        self.set_error_handler(handler)
        return handler

    def set_error_handler(self, handler: Optional[Callable]) -> "App":
        """``handler(error, res, req)``, sync or async; res/req may be None."""
        if handler is not None and not callable(handler):
            raise TypeError("the error handler must be callable")
        self._error_handler = handler
        return self

    # -- extensions -------------------------------------------------------

    def register(self, extension: Callable[[AppExtension, AppExtension, AppExtension], Any]) -> "App":
        """Calls ``extension(request, response, ws)`` and adds the methods and
        properties it declares to this app's objects. Works before or after
        routes are added; a name clash raises ``ValueError`` here."""
        if not callable(extension):
            raise TypeError("an extension is a callable taking (request, response, ws)")
        triple = (AppExtension("request"), AppExtension("response"), AppExtension("ws"))
        extension(*triple)
        previous = self._extensions
        self._extensions = previous + [triple]
        try:
            self._derive_classes()
        except Exception:
            self._extensions = previous
            self._derive_classes()
            raise
        # pooled objects belong to the old classes
        self._res_pool.clear()
        self._req_pool.clear()
        self._ws_pool.clear()
        return self

    def _derive_classes(self) -> None:
        self._request_class = derive_class(
            Request, (t[0] for t in self._extensions), app=self, _lenp=self._lenp, _scratch=self._scratch
        )
        self._response_class = derive_class(Response, (t[1] for t in self._extensions), app=self, _native=self._native)
        self._websocket_class = derive_class(
            WebSocket, (t[2] for t in self._extensions), app=self, _native=self._native
        )

    # -- routing ----------------------------------------------------------

    def _add_route(
        self, method: Optional[str], path: str, handler: Callable, server_name: Optional[str] = None
    ) -> None:
        if not isinstance(path, str):
            raise TypeError("path must be a str")
        if not callable(handler):
            raise TypeError("handler must be callable")
        if App._route_hook is not None:
            path, handler = App._route_hook(self, path, handler)
        pattern = path.encode("utf-8")
        native = self._native  # first: a released App raises before registering anything
        handler_id = _binding.register_route(self._make_dispatcher(handler), route_parameter_names(path), self._id)
        self.handlers.append(handler)
        name = ffi.NULL if method is None else method.encode("ascii")
        name_len = 0 if method is None else len(name)
        if server_name is None:
            status = lib.sk_app_route(native, name, name_len, pattern, len(pattern), handler_id)
        else:
            status = lib.sk_app_route_server_name(
                native, server_name.encode("idna"), name, name_len, pattern, len(pattern), handler_id
            )
        check(
            status,
            "invalid route pattern %r%s"
            % (path, "" if server_name is None else " (or unknown server name %r)" % server_name),
        )

    def _make_dispatcher(self, handler: Callable) -> Callable[[int], None]:
        app = self
        runner = self._runner
        pool_size = self.request_response_factory_max_items
        res_pool, req_pool = self._res_pool, self._req_pool
        req_ptr = self._current_request  # the same for every request of this app

        def dispatch(res_id: int) -> None:
            if res_pool:
                res = res_pool.pop()
                res._id = res_id
                req = req_pool.pop()
                req._ptr = req_ptr
            else:
                # What __init__ would do, without running it: cheaper by a call.
                res = _new(app._response_class)
                res._id = res_id
                req = _new(app._request_class)
                req._ptr = req_ptr
            req._res = res
            # The runner's call, inlined (this runs for every request): the
            # runner starts what the handler returned and routes its errors.
            try:
                result = handler(res, req)
            except BaseException as error:  # noqa: B902 - SystemExit too: a 500, serving goes on
                runner.fail(error, res, req)
                result = None
            task = None
            if result is not None and result is not res:
                if type(result) is _CoroutineType:  # an async def handler
                    task = runner.start(result, res, req)
                else:
                    task = runner.returned(result, handler, res, req)
            if res._done:
                if task is None:
                    req._ptr = None
                    if pool_size and len(res_pool) < pool_size and _UNREFERENCED is not None:
                        req._res = None
                        if _refcounts(res, req) == _UNREFERENCED:
                            _recycle(res, req, res_pool, req_pool)
                    return
            elif req._yield:
                req._ptr = None
                lib.sk_py_yield_request()
                return
            else:
                res._track()  # listen for the client going away
            # Work goes on after this call: copy the request while it is valid.
            res._req = req
            req._snapshot()

        return dispatch

    def router(self, prefix: str = "", *middlewares):
        """``app.router("/api", auth).get("/x")``: prefixed decorator routes with middlewares."""
        from .middleware import DecoratorRouter

        return DecoratorRouter(self, prefix, *middlewares)

    def static(self, route: str, directory) -> "App":
        """Serves the files under ``directory`` at ``route`` (GET and HEAD ``route/*``)."""
        from .helpers import static_route

        static_route(self, route, directory)
        return self

    # -- coroutines and errors ---------------------------------------------

    def _start_coroutine(self, coro, res: Optional[Response], req: Optional[Request]):
        """Starts an awaitable through the runner (kept for callers outside this module)."""
        return self._runner.start(coro, res, req)

    def _report_error(self, error: BaseException, res: Optional[Response], req: Optional[Request]) -> None:
        """Hands an error to the error handler, or logs it (naming the
        request) and answers 500 when the response is still open."""
        if res is not None and not res._done:
            res._discard_head()  # the error's answer starts from a clean head
        handler = self._error_handler
        if handler is not None:
            try:
                result = handler(error, res, req)
            except Exception as handler_error:
                logger.error("error in the error handler", exc_info=handler_error)
            else:
                if result is not None and _is_awaitable_result(result):
                    self._error_runner.start(result)
                return
        else:
            where = describe_request(res, req)
            logger.error(
                "uncaught error in the request handler for %s" % where if where else "uncaught error in a handler",
                exc_info=error,
            )
        if res is not None and not res._done:
            self._answer_500(res)

    @staticmethod
    def _answer_500(res: Response) -> None:
        if res._discard_head():
            res.send(b"Internal Server Error", status=500)
        elif lib.sk_res_state(res._native, res._id) & lib.SK_RES_VALID:
            res.close()  # half a response is out: closing is the only honest answer

    # -- native callbacks (from _binding) ----------------------------------

    def _on_native_aborted(self, res_id: int) -> None:
        res = self._pending.pop(res_id, None)
        if res is not None:
            res._on_aborted()

    def _on_native_data(self, res_id: int, chunk: bytes, is_last: bool) -> None:
        res = self._pending.get(res_id)
        if res is not None:
            res._on_data(chunk, is_last)

    def _on_native_writable(self, res_id: int, offset: int) -> None:
        res = self._pending.get(res_id)
        if res is not None and res._writable_handler is not None:
            self._runner.call(res._writable_handler, (res, offset), res)

    # -- listening ----------------------------------------------------------

    def _run_hooks(self, hooks) -> None:
        for hook in hooks:
            try:
                result = hook()
                if result is not None and _is_awaitable_result(result):
                    if self.loop.loop.is_running():
                        self._start_coroutine(_as_coroutine(result), None, None)
                    else:
                        self.loop.loop.run_until_complete(_as_coroutine(result))
            except Exception as error:
                self._report_error(error, None, None)

    def _attach(self) -> None:
        """Puts the core into the asyncio loop: as the wait of our own loop
        class (one wait per iteration), or as a reader on any other loop."""
        if self._attached:
            return
        loop = self.loop.loop
        selector = loop.core_selector() if isinstance(loop, SocketifyEventLoop) else None
        if (
            selector is not None
            and not selector.attached
            and selector.can_nest()
            and lib.sk_app_watch_outer(self._native, selector.inner_fileno()) == lib.SK_OK
        ):
            lib.sk_py_release_gil_while_blocked(self._native)
            selector.attach(self._run_once)
            self._selector = selector
        else:
            loop.add_reader(lib.sk_app_fd(self._native), self._poll)
        self._attached = True

    def _detach(self) -> None:
        selector = self._selector
        if selector is not None:
            selector.attach(None)
            lib.sk_app_watch_outer(self._native, -1)
            self._selector = None
        elif not self.loop.loop.is_closed():
            self.loop.loop.remove_reader(lib.sk_app_fd(self._native))
        self._attached = False

    def _run_once(self, timeout_ms: int) -> bool:
        """One core iteration as the loop's wait; True when asyncio's own
        selector has events too."""
        ready = lib.sk_app_run_once(self._native, timeout_ms)
        if ready < 0:  # the wait itself failed: stop loudly rather than spin
            raise OSError("the native event loop failed to wait (status %d)" % ready)
        if self._closing and lib.sk_app_connection_count(self._native) == 0:
            self._stop_loop()
        return ready > 0

    def _poll(self) -> None:
        lib.sk_app_poll(self._native, 0)
        if self._closing and lib.sk_app_connection_count(self._native) == 0:
            self._stop_loop()

    def listen(
        self,
        port_or_options: Union[int, dict, AppListenOptions, None] = None,
        handler: Optional[Callable[[AppListenOptions], Any]] = None,
    ) -> "App":
        """Starts listening on a port, a dict (``port``, ``host``, ``options``) or
        ``AppListenOptions`` (``domain`` for a UNIX socket); ``handler`` gets the
        real options (port 0 picks a free port). Raises RuntimeError after
        ``close()``: a closed App does not serve again."""
        if self._closing:
            raise RuntimeError(
                "listen() after close(): this App has shut down and does not serve again; "
                "create a new App to listen again"
            )
        if self.lifespan and self._start_hooks:
            hooks, self._start_hooks = self._start_hooks, []
            self._run_hooks(hooks)
        _raise_open_file_limit()
        if self.backplane is not None:
            self._start_backplane()
        if port_or_options is None:
            config = AppListenOptions(port=0)
        elif isinstance(port_or_options, AppListenOptions):
            config = port_or_options
        elif isinstance(port_or_options, dict):
            config = AppListenOptions(
                port=port_or_options.get("port", 0),
                host=port_or_options.get("host", "0.0.0.0"),
                options=port_or_options.get("options", 0),
                reuse_port=port_or_options.get("reuse_port"),
            )
        elif isinstance(port_or_options, int) and not isinstance(port_or_options, bool):
            config = AppListenOptions(port=port_or_options)
        else:
            raise TypeError("listen takes a port, a dict or AppListenOptions")

        # (fd, port) of the socket a worker supervisor bound for this address
        shared = _workers.inherited_socket(config)
        if config.domain is not None:
            path = os.fsencode(config.domain)
            if shared is not None:
                status = lib.sk_app_listen_fd(self._native, shared[0])
            else:
                status = lib.sk_app_listen_unix(self._native, path, config.options)
            if status != lib.SK_OK:
                reason = os.strerror(lib.sk_app_listen_errno(self._native))
                raise RuntimeError("Failed to listen on %s: %s" % (config.domain, reason))
            result = AppListenOptions(domain=config.domain, options=config.options)
        else:
            bound = ffi.new("int *")
            host = config.host.encode("idna") if config.host else ffi.NULL
            if shared is not None:
                status = lib.sk_app_listen_fd(self._native, shared[0])
                bound[0] = shared[1]
            else:
                status = lib.sk_app_listen(self._native, host, config.port, _listen_flags(config), bound)
            if status != lib.SK_OK:
                reason = os.strerror(lib.sk_app_listen_errno(self._native))
                raise RuntimeError("Failed to listen on port %d: %s" % (config.port, reason))
            if lib.sk_app_listen_shared(self._native):
                logger.warning(
                    "port %d is already served by another process: both now share it (SO_REUSEPORT) and "
                    "each gets part of the connections; stop the other server, or pass reuse_port=True "
                    "(or set SOCKETIFY_REUSE_PORT=1) if sharing is intended",
                    bound[0],
                )
            result = AppListenOptions(
                port=bound[0], host=config.host or "0.0.0.0", options=config.options, reuse_port=config.reuse_port
            )
        self._attach()
        _workers.notify_listening()
        if handler is not None:
            handler(result)
        return self

    # -- running and stopping ----------------------------------------------

    def run(self) -> "App":
        """Serves until ``close()``, SIGINT or SIGTERM, then runs the shutdown
        hooks. The first signal shuts down gracefully (see ``close``); a second
        one closes the remaining connections at once."""
        loop = self.loop.loop
        self._attach()
        self._fill_pools()
        installed = []
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(signum, self._on_signal, signum)
                    installed.append(signum)
                except (ValueError, RuntimeError, NotImplementedError):
                    pass
        try:
            self.loop.run()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
            self._cancel_force_stop()
        if self.backplane is not None:
            self._stop_backplane()
        if self.lifespan and self._shutdown_hooks:
            self._run_hooks(self._shutdown_hooks)
        if self._closing:
            self._release()  # closed and its loop ended: it never serves again
        return self

    def _fill_pools(self) -> None:
        """Pre-allocates the Request/Response pool (request_response_factory_max_items)."""
        while len(self._res_pool) < self.request_response_factory_max_items:
            res = self._response_class(0)
            req = self._request_class(None)
            res.__dict__.clear()
            req.__dict__.clear()
            self._res_pool.append(res)
            self._req_pool.append(req)
        while len(self._ws_pool) < self.websocket_factory_max_items:
            ws = self._websocket_class(0)
            ws.__dict__.clear()
            self._ws_pool.append(ws)

    def close(self, graceful_timeout: Optional[float] = None) -> "App":
        """Stops accepting, closes idle connections, closes WebSockets with
        1001 Going Away, lets in-flight responses finish (up to
        ``graceful_timeout`` seconds, default: the App's
        ``graceful_shutdown_timeout``), closes what is left, then makes
        ``run()`` return. A closed App does not listen again."""
        if self._closing:
            return self
        timeout = (
            self.graceful_shutdown_timeout
            if graceful_timeout is None
            else _seconds(graceful_timeout, "graceful_timeout")
        )
        self._closing = True
        self._close_deadline = self.loop.loop.time() + timeout  # the ASGI adapter's last wait ends with it
        if _workers.in_worker():
            _workers.release_inherited()  # our listeners' close must be the sockets' last
        lib.sk_app_shutdown(self._native)
        if lib.sk_app_connection_count(self._native) == 0:
            self._stop_loop()
        else:
            self._force_stop = self.loop.loop.call_later(timeout, self._grace_expired, timeout)
        return self

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if not self._closing:
            self.close()
            waiting = lib.sk_app_connection_count(self._native)
            if waiting:
                logger.warning(
                    "%s: shutting down, waiting up to %gs for %s to finish (send SIGINT or SIGTERM "
                    "again to stop at once)",
                    name,
                    self.graceful_shutdown_timeout,
                    _plural(waiting, "connection"),
                )
            return
        if _workers.in_worker():
            # The supervisor escalates (SIGKILL) on its own; a repeated signal
            # here is the service manager's (systemd's control group) and the
            # supervisor's both saying "drain", not "stop now".
            logger.info("%s again: already draining (the supervisor stops this worker)", name)
            return
        logger.warning(
            "%s again: stopping now, closing %s",
            name,
            _plural(lib.sk_app_connection_count(self._native), "open connection"),
        )
        self._stop_now()

    def _grace_expired(self, timeout: float) -> None:
        self._force_stop = None
        left = lib.sk_app_connection_count(self._native)
        if left:
            logger.warning("shutdown: %s still open after %gs; closing them", _plural(left, "connection"), timeout)
        self._stop_now()

    def _stop_now(self) -> None:
        """Ends a shutdown at once: every connection closed, the loop stopped."""
        lib.sk_app_close_connections(self._native)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._cancel_force_stop()
        self.loop.stop()

    def _cancel_force_stop(self) -> None:
        """Drops the pending end of the grace period, if any (the app stops anyway)."""
        if self._force_stop is not None:
            self._force_stop.cancel()
            self._force_stop = None

    def dispose(self) -> None:
        """Closes the app, its connections and its loop, and frees its native
        resources (see ``run``)."""
        if "_native" in self.__dict__:  # else released by run(), which stopped all this already
            self.close()
            lib.sk_app_close_connections(self._native)
            self._cancel_force_stop()
            if self.backplane is not None:
                self._stop_backplane()
            if self._attached:
                self._detach()
        self.loop.dispose()
        self._release()

    def _release(self) -> None:
        """Frees the native app (its sockets, poller, timers, buffers and
        connections) and drops its callbacks and routes from the binding,
        once its loop has ended for good. What only points at it (a
        Response or WebSocket kept by the program, the response class's
        ``_native``) points at the empty shell the core keeps, where every
        handle is stale: their calls are the documented no-ops, never a use
        of freed memory. The shell goes with this object (``__del__``); the
        App's own later use raises RuntimeError (``_released_class``)."""
        native = self.__dict__.get("_native")
        if native is None or native == ffi.NULL:
            return
        released = _released_class(type(self))  # first: it may run a subclass's __init_subclass__
        self._cancel_force_stop()
        if self._attached:
            self._detach()
        lib.sk_app_release(native)
        _binding.unregister_app(self._id)
        self._pending.clear()
        self._websockets.clear()
        self._released_native = native
        self.__class__ = released  # from here _native raises RuntimeError, before the pointer goes
        del self.__dict__["_native"]

    def __del__(self) -> None:  # only reached once nothing refers to the app
        native = self.__dict__.get("_native", self.__dict__.get("_released_native"))
        if native is not None and native != ffi.NULL:
            lib.sk_app_destroy(native)
        self.__dict__.pop("_native", None)
        self.__dict__.pop("_released_native", None)


def _closed_app_native(app: App) -> Any:
    raise RuntimeError(
        "this App is closed and its loop has ended (run() returned or dispose() ran): "
        "it cannot be used again; create a new App"
    )


def _released_class(cls: type) -> type:
    """``cls`` whose ``_native``, which every use of the native app goes
    through, raises: what a released App becomes. A subclass swapped in at
    release rather than an ``App.__getattr__``: a class with ``__getattr__``
    loses CPython's specialised attribute loads, which cost every request
    about 700 instructions."""
    released = cls.__dict__.get("_socketify_released_class")  # kept on the class: freed with it
    if released is None:
        namespace = {
            "_native": property(_closed_app_native),
            "_socketify_released": True,  # for an __init_subclass__ hook that keeps a registry
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
        }
        released = type(cls.__name__, (cls,), namespace)
        cls._socketify_released_class = released  # type: ignore[attr-defined]
    return released


class DomainRouter(RouteMethods):
    """``app.domain(name)``: the route methods of App, for one SNI host name."""

    def __init__(self, app: App, hostname_pattern: str) -> None:
        self.app = app
        self.hostname_pattern = hostname_pattern

    def _add_route(self, method: Optional[str], path: str, handler: Callable[..., Any]) -> None:
        self.app._add_route(method, path, handler, self.hostname_pattern)


def SSLApp(options: AppOptions, *args: Any, **kwargs: Any) -> App:
    """An HTTPS/WSS app: ``App(options, ...)`` that requires ``AppOptions``."""
    if not isinstance(options, AppOptions):
        raise TypeError("SSLApp needs an AppOptions")
    return App(options, *args, **kwargs)
