"""What the CLI adds around an application: access log, proxy headers, root
path and a concurrency limit, for the socketify, ASGI and WSGI interfaces.

Each feature is installed only when it is switched on, so a server started
without them runs exactly the code ``app.run()`` runs.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ._binding import lib, native_address

__all__ = ["Features", "TrustedProxies", "socketify_route_hook", "asgi_wrapper", "wsgi_wrapper", "limit_wsgi"]

access_logger = logging.getLogger("socketify.access")


class TrustedProxies:
    """The ``--forwarded-allow-ips`` list: addresses and networks, or ``*``."""

    def __init__(self, spec: str) -> None:
        self.any = False
        self.networks: List[Any] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            if item == "*":
                self.any = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError("--forwarded-allow-ips: %r is not an IP address or network" % item) from None

    def trusts(self, address: Optional[str]) -> bool:
        """True for a trusted proxy address (a UNIX-socket peer, None, is local: trusted)."""
        if address is None or self.any:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def client(self, peer: Optional[str], forwarded_for: Optional[str]) -> Optional[str]:
        """The client address from ``X-Forwarded-For`` sent by ``peer``: the
        rightmost entry that is not a trusted proxy (None: keep the peer)."""
        if not forwarded_for or not self.trusts(peer):
            return None
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if not hops:
            return None
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0]


class Features:
    """The CLI's per-request options; ``active`` is False when all are off."""

    def __init__(
        self,
        access_log: bool = False,
        proxy: Optional[TrustedProxies] = None,
        root_path: str = "",
        limit_concurrency: Optional[int] = None,
    ) -> None:
        self.access_log = access_log
        self.proxy = proxy
        self.root_path = root_path.rstrip("/")
        self.limit = limit_concurrency

    @property
    def active(self) -> bool:
        """Whether any feature is on (off: the app is served untouched)."""
        return bool(self.access_log or self.proxy or self.root_path or self.limit)


def _log_access(client: Optional[str], method: str, target: str, version: str, status: Any, size: Any) -> None:
    """One line per request, in the Common Log Format."""
    access_logger.info(
        '%s - - [%s] "%s %s %s" %s %s',
        client or "-",
        time.strftime("%d/%b/%Y:%H:%M:%S %z"),
        method,
        target,
        version,
        status,
        size if size is not None else "-",
    )


def _status_code(status: Any) -> int:
    if isinstance(status, int):
        return status
    if isinstance(status, bytes):
        status = status.decode("latin-1")
    try:
        return int(str(status).split(None, 1)[0])
    except (ValueError, IndexError):
        return 0


# -- the socketify interface ------------------------------------------------


def _response_class(base: Any, features: Features) -> type:
    """A subclass of an app's Response class that reports the proxied client
    address and writes the access-log line when the response ends."""
    namespace: Dict[str, Any] = {"_cli_features": features, "_cli_client": None, "_cli_request": None, "_cli_status": 0}
    base_remote, base_remote_bytes = base.get_remote_address, base.get_remote_address_bytes

    if features.proxy is not None:

        def get_remote_address(self) -> Optional[str]:
            """The client's address (X-Forwarded-For from a trusted proxy), else the peer's."""
            return self._cli_client or base_remote(self)

        def get_remote_address_bytes(self) -> Optional[bytes]:
            """The client's address as raw bytes (see ``get_remote_address``)."""
            if self._cli_client:
                try:
                    return ipaddress.ip_address(self._cli_client).packed
                except ValueError:
                    return None
            return base_remote_bytes(self)

        namespace["get_remote_address"] = get_remote_address
        namespace["get_remote_address_bytes"] = get_remote_address_bytes

    if features.access_log:
        base_write_status, base_send = base.write_status, base.send

        def write_status(self, status):
            if not self._cli_status and not self._done:
                self._cli_status = _status_code(status)
            return base_write_status(self, status)

        def send(self, message=b"", content_type=b"text/plain", status=b"200 OK", headers=None, end_connection=False):
            if not self._cli_status and not self._done:
                self._cli_status = _status_code(status)
            return base_send(self, message, content_type, status, headers, end_connection)

        def get_done(self) -> bool:
            return self.__dict__.get("_cli_done", False)

        def set_done(self, value: bool) -> None:
            # Every way a response ends sets _done: the one place to log it.
            if value and not self.__dict__.get("_cli_done", False):
                request = self._cli_request
                if request is not None:
                    self._cli_request = None
                    status = 499 if self.aborted else (self._cli_status or 200)
                    _log_access(self._cli_client or request[0], request[1], request[2], request[3], status, None)
            self.__dict__["_cli_done"] = value

        namespace.update(write_status=write_status, send=send, _done=property(get_done, set_done))

    return type(base.__name__, (base,), namespace)


def socketify_route_hook(features: Features) -> Callable:
    """The ``App._route_hook`` that installs ``features`` on every route."""

    def wrap(app, handler: Callable) -> Callable:
        limit = features.limit
        proxy = features.proxy
        access_log = features.access_log
        native_count = lib.sk_app_connection_count

        def handler_with_features(res, req):
            if proxy is not None:
                res._cli_client = proxy.client(_peer(res), req.get_header("x-forwarded-for"))
            if access_log:
                res._cli_request = (
                    _peer(res),
                    req.get_method(),
                    req.get_full_url(),
                    "HTTP/1.0" if req.is_ancient() else "HTTP/1.1",
                )
            if limit is not None and native_count(app._native) > limit:
                res.send(b"Service Unavailable", status=503)
                return None
            return handler(res, req)

        return handler_with_features

    def hook(app, path: str, handler: Optional[Callable]) -> Tuple[str, Optional[Callable]]:
        if features.root_path and path.startswith("/"):
            path = features.root_path + path
        if handler is None:
            return path, None
        if getattr(app._response_class, "_cli_features", None) is not features:
            app._response_class = _response_class(app._response_class, features)
        return path, wrap(app, handler)

    return hook


def _peer(res) -> Optional[str]:
    """The TCP peer's address, whatever the proxy headers say."""
    return native_address(lib.sk_res_remote_address, res._native, res._id, True)


class _InFlight:
    """Requests in progress against ``--limit-concurrency``: entered on the
    loop thread, left there (ASGI) or on a WSGI pool thread, hence the lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        """Counts one more request; False (and nothing counted) at the limit."""
        with self._lock:
            if self.count >= self.limit:
                return False
            self.count += 1
            return True

    def leave(self) -> None:
        """One request is over."""
        with self._lock:
            self.count -= 1


class _LoggedBody:
    """A WSGI response iterable that writes the access-log line when closed."""

    def __init__(self, body: Iterable[bytes], line: tuple, state: dict) -> None:
        self.body = body
        self.line = line
        self.state = state
        self.size = 0

    def __iter__(self):
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            line = self.line
            _log_access(line[0], line[1], line[2], line[3], self.state["status"], self.size)


class _LoggedFile:
    """The file of a ``wsgi.file_wrapper`` body, counting what is read and
    writing the access-log line when closed: the server still sees a
    FileWrapper (its block reads, its Content-Length from the file size)."""

    def __init__(self, filelike: Any, logged: _LoggedBody) -> None:
        self._filelike = filelike
        self._logged = logged

    def read(self, size: int = -1) -> bytes:
        data = self._filelike.read(size)
        self._logged.size += len(data)
        return data

    def __getattr__(self, name: str) -> Any:  # fileno, tell...: the file's own
        return getattr(self._filelike, name)

    def close(self) -> None:
        self._logged.close()


def _logged_body(result: Any, line: tuple, state: dict) -> Any:
    """``result`` with its access-log line written when it is closed."""
    file_wrapper: Any = _file_wrapper_class()
    if file_wrapper is not None and type(result) is file_wrapper:
        logged = _LoggedBody(result, line, state)
        return file_wrapper(_LoggedFile(result.filelike, logged), result.block_size)
    return _LoggedBody(result, line, state)


def _file_wrapper_class() -> Optional[type]:
    try:
        from .wsgi import FileWrapper
    except ImportError:
        return None
    return FileWrapper


# -- ASGI -------------------------------------------------------------------


def _header(headers: Iterable[Tuple[bytes, bytes]], name: bytes) -> Optional[str]:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def asgi_wrapper(app: Callable, features: Features) -> Callable:
    """An ASGI app that applies ``features`` around ``app``."""
    in_flight = _InFlight(features.limit) if features.limit is not None else None

    async def with_features(scope, receive, send):
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            return await app(scope, receive, send)
        scope = dict(scope)
        if features.proxy is not None:
            client = scope.get("client")
            peer = client[0] if client else None
            if features.proxy.trusts(peer):
                headers = scope.get("headers") or []
                forwarded = features.proxy.client(peer, _header(headers, b"x-forwarded-for"))
                if forwarded:
                    scope["client"] = (forwarded, 0)
                proto = _header(headers, b"x-forwarded-proto")
                if proto:
                    proto = proto.split(",")[0].strip().lower()
                    if kind == "websocket":
                        proto = {"https": "wss", "http": "ws"}.get(proto, proto)
                    if proto in ("http", "https", "ws", "wss"):
                        scope["scheme"] = proto
        if features.root_path:
            scope["root_path"] = features.root_path
            scope["path"] = features.root_path + scope.get("path", "")
            if scope.get("raw_path") is not None:
                scope["raw_path"] = features.root_path.encode("utf-8") + scope["raw_path"]
        if features.access_log and kind == "http":
            state = {"status": 0, "size": 0}
            inner_send = send
            client = scope.get("client")
            query = scope.get("query_string") or b""
            target = scope.get("path", "") + ("?" + query.decode("latin-1") if query else "")
            line = (
                client[0] if client else None,
                scope.get("method", "-"),
                target,
                "HTTP/" + scope.get("http_version", "1.1"),
            )

            async def send(message):
                kind_ = message.get("type")
                if kind_ == "http.response.start":
                    state["status"] = message.get("status", 200)
                elif kind_ == "http.response.body":
                    state["size"] += len(message.get("body", b"") or b"")
                    if not message.get("more_body", False):
                        _log_access(line[0], line[1], line[2], line[3], state["status"], state["size"])
                await inner_send(message)

        if in_flight is None:
            return await app(scope, receive, send)
        if not in_flight.enter():  # after the log's send: logged too
            if kind == "http":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"19")],
                    }
                )
                await send({"type": "http.response.body", "body": b"Service Unavailable"})
            else:
                await send({"type": "websocket.close", "code": 1013})
            return None
        try:
            return await app(scope, receive, send)
        finally:
            in_flight.leave()

    return with_features


# -- WSGI -------------------------------------------------------------------


def wsgi_wrapper(app: Callable, features: Features) -> Callable:
    """A WSGI app that applies ``features`` around ``app`` (but the
    concurrency limit, which the server counts: see ``limit_wsgi``)."""

    def with_features(environ, start_response):
        if features.proxy is not None:
            peer = environ.get("REMOTE_ADDR") or None
            if features.proxy.trusts(peer):
                forwarded = features.proxy.client(peer, environ.get("HTTP_X_FORWARDED_FOR"))
                if forwarded:
                    environ["REMOTE_ADDR"] = forwarded
                proto = environ.get("HTTP_X_FORWARDED_PROTO")
                if proto:
                    proto = proto.split(",")[0].strip().lower()
                    if proto in ("http", "https"):
                        environ["wsgi.url_scheme"] = proto
        if features.root_path:
            environ["SCRIPT_NAME"] = features.root_path + environ.get("SCRIPT_NAME", "")
        if features.access_log:
            state = {"status": 0}
            inner_start = start_response
            query = environ.get("QUERY_STRING")
            line = (
                environ.get("REMOTE_ADDR"),
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "") + ("?" + query if query else ""),
                environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            )

            def start_response(status, headers, exc_info=None):
                state["status"] = _status_code(status)
                return inner_start(status, headers, exc_info)

        result = app(environ, start_response)
        return _logged_body(result, line, state) if features.access_log else result

    return with_features


def limit_wsgi(server: Any, features: Features) -> None:
    """``--limit-concurrency`` for a WSGI server: requests are counted when
    they arrive, on the loop thread (queued ones too: a pool thread counting
    would never see more than the pool's size), until their body is closed;
    over the limit, a 503 at once (with its access-log line)."""
    if features.limit is None:
        return
    server._in_flight = _InFlight(features.limit)
    if features.access_log:
        proxy = features.proxy

        def refused(environ: dict) -> None:
            client = environ.get("REMOTE_ADDR") or None
            if proxy is not None:
                client = proxy.client(client, environ.get("HTTP_X_FORWARDED_FOR")) or client
            query = environ.get("QUERY_STRING")
            _log_access(
                client,
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "") + ("?" + query if query else ""),
                environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                503,
                19,
            )

        server._on_refused = refused
