"""ASGI 3 on the native core: HTTP, WebSocket and lifespan.

``ASGI(app).listen(8000).run()`` serves any ASGI 3 application (Starlette,
FastAPI, Django, Channels...). The core parses requests and packs everything
a scope needs in one call; this module turns ASGI messages into core calls:

- request bodies stream through ``receive()``; while the application is not
  receiving, the core stops reading from the socket (bounded memory);
- ``await send(...)`` of a body piece waits while the socket's send buffer is
  over its high-water mark (backpressure);
- a client that goes away turns a pending ``receive()`` into
  ``http.disconnect`` and makes ``send()`` raise ``ClientDisconnected`` (an
  ``OSError``, as spec version 2.4 asks).
"""

import asyncio
import collections.abc
import logging
import os
import threading
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, Union, cast
from urllib.parse import unquote

from . import _binding
from ._adapter import AdapterSettings
from ._binding import ffi, lib
from ._cache import RepeatCache
from .app import App, _default, _resolved
from .loop import start_coroutine
from .options import AppListenOptions, AppOptions
from .status import _STATUS_LINES, status_line
from .websocket import CompressOptions, OpCode, SendStatus
from .workers import kill_after, serve_in_thread, serve_workers

__all__ = ["ASGI", "ClientDisconnected"]

logger = logging.getLogger("socketify")

_ASGI_INFO = {"version": "3.0", "spec_version": "2.4"}
_SCRATCH_SIZE = 8192
# Over this many unsent bytes, ``await send(body)`` waits for the socket.
_HIGH_WATER = 256 * 1024
# A file sent with pathsend/zerocopy is read in pieces of this size.
_FILE_PIECE = 256 * 1024

_SK_OK = lib.SK_OK
_SK_ERR_STALE = lib.SK_ERR_STALE
_SK_ERR_INVALID = lib.SK_ERR_INVALID
_SK_RES_WRITABLE = lib.SK_RES_WRITABLE
_SK_RES_VALID = lib.SK_RES_VALID
_SK_RES_HEADERS_SENT = lib.SK_RES_HEADERS_SENT
_scope_pack = lib.sk_req_scope_pack
_write_head = lib.sk_res_write_head
_res_end = lib.sk_res_end
_res_write = lib.sk_res_write
_res_state = lib.sk_res_state
_res_buffered = lib.sk_res_buffered_amount
_respond = lib.sk_res_respond
_new = object.__new__
_unpack = ffi.unpack

_DISCONNECT = "http.disconnect"
_OP_TEXT = int(OpCode.TEXT)
_OP_BINARY = int(OpCode.BINARY)
_WS_SUCCESS = SendStatus.SUCCESS
_WS_BACKPRESSURE = SendStatus.BACKPRESSURE

# websocket_options keys (API.md section 11) and their defaults.
WEBSOCKET_DEFAULTS: Dict[str, Any] = {
    "compression": False,
    "max_payload_length": 16 * 1024 * 1024,
    "idle_timeout": 20,
    "max_backpressure": 16 * 1024 * 1024,
    "max_lifetime": 0,
    "close_on_backpressure_limit": 0,
    "reset_idle_timeout_on_send": True,
    "send_pings_automatically": True,
}


class ClientDisconnected(OSError):
    """``send()`` on a connection the client has closed (ASGI spec 2.4)."""


class _Done(asyncio.Future):
    """What ``send()`` returns when nothing needs waiting for: a completed
    future (awaiting it costs what awaiting any future costs) that is also a
    coroutine, so ``asyncio.create_task(send(message))`` works as with an
    ``async def send``."""

    __slots__ = ()

    def send(self, value: Any) -> None:
        raise StopIteration(None)

    def throw(self, typ: Any, value: Any = None, traceback: Any = None) -> None:
        raise typ if value is None else value

    def close(self) -> None:
        pass


collections.abc.Coroutine.register(_Done)


def _to_bytes(value: Any, what: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("latin-1")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode("ascii")
    raise TypeError("%s must be bytes or str, not %s" % (what, type(value).__name__))


# Header lists of bytes pairs seen before (as tuples) -> what _pack_headers
# returns: most applications send the same few. Bounded, and only lists seen
# twice: applications choose what goes in.
_PACKED_HEADERS: "RepeatCache[Tuple[bytes, int]]" = RepeatCache(1024)


def _pack_headers(headers: Any) -> Tuple[bytes, int]:
    """ASGI headers as the core takes them: ``name\0value`` pairs joined by
    NUL, and their count (the core checks that they pair up)."""
    if not headers:
        return b"", 0
    if type(headers) is not tuple:
        headers = tuple(headers)  # also what a generator gave, for the second look below
    try:
        known = _PACKED_HEADERS.get(headers)
    except (TypeError, ValueError):  # pairs that are lists, writable memoryviews: no cache
        known = None
        cacheable = False
    else:
        if known is not None:
            return known
        cacheable = True
    try:
        fields = [field for pair in headers for field in pair]
        packed = b"\0".join(fields), len(fields) >> 1  # an odd count cannot pair up: refused
    except TypeError:  # str or int values, or a pair that is not a pair
        pass
    else:
        if cacheable:
            _PACKED_HEADERS.offer(headers, packed)
        return packed
    parts: List[bytes] = []
    append = parts.append
    for name, value in headers:
        append(name if type(name) is bytes else _to_bytes(name, "header name"))
        append(value if type(value) is bytes else _to_bytes(value, "header value"))
    return b"\0".join(parts), len(parts) >> 1


def _status_line(status: Any) -> bytes:
    if type(status) is not int:
        if isinstance(status, int) and not isinstance(status, bool):
            status = int(status)
        else:
            raise TypeError("http.response.start needs an int status, not %r" % (status,))
    if not 100 <= status <= 999:
        raise ValueError("HTTP status %d is outside 100-999" % status)
    return status_line(status)


class _Scope:
    """What every scope of one server shares; built once per listen."""

    __slots__ = ("server", "http_scheme", "ws_scheme", "state", "root_path")

    def __init__(self, server: Optional[Tuple[str, Optional[int]]], tls: bool, root_path: str) -> None:
        self.server = server
        self.http_scheme = "https" if tls else "http"
        self.ws_scheme = "wss" if tls else "ws"
        self.state: Dict[str, Any] = {}
        self.root_path = root_path


def _read_request(native, res_id: int, req_ptr, scratch) -> List[bytes]:
    """The scope fields the core packs, split: flags, method, path, query,
    client ip, client port, then header names and values alternately."""
    size = _scope_pack(native, res_id, req_ptr, scratch, _SCRATCH_SIZE)
    if size > _SCRATCH_SIZE:
        buf = ffi.new("char[]", size)
        _scope_pack(native, res_id, req_ptr, buf, size)
        return _unpack(buf, size).split(b"\0")
    return _unpack(scratch, size).split(b"\0")


def _scope_from(parts: List[bytes], shared: _Scope, kind: str, scheme: str) -> Dict[str, Any]:
    """What HTTP and WebSocket scopes share, from _read_request's parts."""
    raw_path = parts[2]
    path = raw_path.decode("utf-8", "surrogateescape")
    if "%" in path:
        path = unquote(path)
    ip = parts[4]
    return {
        "type": kind,
        "asgi": _ASGI_INFO.copy(),  # each scope its own: an app may write to it
        "http_version": "1.1" if parts[0][0] == 49 else "1.0",
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "query_string": parts[3],
        "root_path": shared.root_path,
        "headers": list(zip(parts[6:-1:2], parts[7:-1:2])),
        "client": (ip.decode("ascii"), int(parts[5])) if ip else None,
        "server": shared.server,
        "state": shared.state.copy(),
    }


# -- HTTP --------------------------------------------------------------------

_PHASE_NONE = 0  # nothing sent
_PHASE_STARTED = 1  # http.response.start received, head not written yet
_PHASE_BODY = 2  # head written, body streaming
_PHASE_TRAILERS = 3  # body done, waiting for http.response.trailers
_PHASE_DONE = 4  # response complete


def _on_writable(cycle: "_HTTPCycle", offset: int) -> bool:
    waiter = cycle._send_waiter
    if waiter is not None:
        cycle._send_waiter = None
        if not waiter.done():
            waiter.set_result(None)
    return True


class _HTTPCycle:
    """One request/response: the state behind ``receive`` and ``send``.

    Each server derives a subclass carrying ``server``, ``native``, ``loop``
    and ``ready`` (a completed future) as class attributes, and every other
    field starts as a class default, so a request sets two attributes. While
    the response is in flight the cycle sits in the App's table of pending
    responses, so the core's abort, body and writable events reach it.

    ``send`` is a plain method returning an awaitable: the completed
    ``ready`` future when nothing needs waiting for (most messages), a
    coroutine when the socket's buffer is full or a file is streamed.
    """

    server: "_Server" = cast("_Server", None)
    native: Any = None
    loop: asyncio.AbstractEventLoop = cast(asyncio.AbstractEventLoop, None)
    ready: "asyncio.Future[None]" = cast("asyncio.Future[None]", None)
    _id: int
    phase = _PHASE_NONE
    status = b""
    headers = None
    trailers = False
    trailer_fields = None
    disconnected = False
    body_state = 0  # 0 no body, 1 body not asked for yet, 2 reading, 3 all delivered
    chunks = None
    paused = False
    _receive_waiter: Optional["asyncio.Future[Any]"] = None
    _send_waiter: Optional["asyncio.Future[Any]"] = None
    _writable_handler: Optional[Callable[["_HTTPCycle", int], bool]] = None
    _pending = False

    # -- core events ---------------------------------------------------------

    def _track(self) -> None:
        if not self._pending and self.phase != _PHASE_DONE and not self.disconnected:
            self._pending = True
            self.server.app._pending[self._id] = self

    def _untrack(self) -> None:
        if self._pending:
            self._pending = False
            self.server.app._pending.pop(self._id, None)

    def _on_data(self, chunk: bytes, is_last: bool) -> None:
        if is_last:
            self.body_state = 3
        waiter = self._receive_waiter
        if waiter is not None and not waiter.done():
            self._receive_waiter = None
            waiter.set_result({"type": "http.request", "body": chunk, "more_body": not is_last})
            return
        if self.chunks is None:
            self.chunks = [chunk]
        else:
            self.chunks.append(chunk)
        if not is_last and not self.paused:
            # The application is not receiving: stop reading the socket.
            self.paused = True
            lib.sk_res_pause(self.native, self._id)

    def _on_aborted(self) -> None:
        self._pending = False
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        """Resolves whatever the application waits on: the exchange is over."""
        waiter = self._receive_waiter
        if waiter is not None:
            self._receive_waiter = None
            if not waiter.done():
                waiter.set_result({"type": _DISCONNECT})
        waiter = self._send_waiter
        if waiter is not None:
            self._send_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- receive -------------------------------------------------------------

    async def receive(self) -> Dict[str, Any]:
        """The next ``http.request`` piece, then ``http.disconnect``."""
        if self.phase == _PHASE_DONE or self.disconnected:
            return {"type": _DISCONNECT}
        state = self.body_state
        if state == 0:
            self.body_state = 3
            return {"type": "http.request", "body": b"", "more_body": False}
        chunks = self.chunks
        if chunks:
            self.chunks = None
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            more = state != 3
            if self.paused and more:
                self.paused = False
                lib.sk_res_resume(self.native, self._id)
            return {"type": "http.request", "body": body, "more_body": more}
        if state == 1:
            self.body_state = 2
            self._track()
            if lib.sk_res_on_data(self.native, self._id) != _SK_OK:
                self.disconnected = True
                return {"type": _DISCONNECT}
        elif self.paused and state == 2:
            self.paused = False
            lib.sk_res_resume(self.native, self._id)
        if self._receive_waiter is not None:
            raise RuntimeError("receive() called again while a previous receive() is pending")
        self._track()
        waiter = self._receive_waiter = self.loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            # wait_for(receive(), t) and Starlette's is_disconnected() cancel
            # a receive: a piece that arrived in that instant is not lost.
            if waiter.done() and not waiter.cancelled():
                message = waiter.result()
                if message["type"] == "http.request":
                    self.chunks = [message["body"]] + (self.chunks or [])
            raise
        finally:
            if self._receive_waiter is waiter:  # the next receive() may wait again
                self._receive_waiter = None

    # -- send ----------------------------------------------------------------

    def send(self, message: Dict[str, Any]):
        """Takes ``http.response.*`` messages (start, body, trailers, pathsend, zerocopy)."""
        kind = message["type"]
        if kind == "http.response.body":
            phase = self.phase
            if phase == _PHASE_STARTED:
                more = message.get("more_body", False)
                if not more and not self.trailers:
                    self._respond(message.get("body", b""))
                    return self.ready
                self._write_head()
            elif phase != _PHASE_BODY:
                self._out_of_order(kind)
            else:
                more = message.get("more_body", False)
            body = message.get("body", b"")
            if body:
                self._write(body)
            if more:
                return self._drain()
            if self.trailers:
                self.phase = _PHASE_TRAILERS
            else:
                self._end()
            return self.ready
        if kind == "http.response.start":
            if self.phase != _PHASE_NONE:
                self._out_of_order(kind)
            if self.disconnected:
                raise ClientDisconnected("the client closed the connection")
            status = message["status"]
            line = _STATUS_LINES.get(status) if type(status) is int else None
            self.status = line if line is not None else _status_line(status)
            self.headers = message.get("headers")
            if message.get("trailers", False):
                self.trailers = True
            self.phase = _PHASE_STARTED
            return self.ready
        if kind == "http.response.trailers":
            return self._send_trailers(message)
        if kind == "http.response.pathsend":
            return self._send_path(message)
        if kind == "http.response.zerocopy":
            return self._send_zerocopy(message)
        raise ValueError("unexpected ASGI message %r on an http connection" % (kind,))

    def _out_of_order(self, kind: str) -> None:
        if self.disconnected:
            raise ClientDisconnected("the client closed the connection")
        if self.phase == _PHASE_NONE:
            raise RuntimeError("%s before http.response.start" % kind)
        raise RuntimeError(
            "%s after the response %s" % (kind, "was complete" if self.phase == _PHASE_DONE else "had started")
        )

    def _check(self, status: int) -> None:
        if status == _SK_OK:
            return
        if status == _SK_ERR_STALE:
            self.disconnected = True
            self._untrack()
            raise ClientDisconnected("the client closed the connection")
        if status == _SK_ERR_INVALID:
            raise ValueError(
                "invalid response status or header (header names are tokens, "
                "values have no control characters, Content-Length is digits)"
            )
        raise RuntimeError("the response is out of order (native status %d)" % status)

    def _write_head(self) -> None:
        packed, count = _pack_headers(self.headers)
        status = self.status
        result = _write_head(self.native, self._id, status, len(status), packed, len(packed), count)
        if result != _SK_OK:
            # The core wrote nothing: the application may start over.
            self.phase = _PHASE_NONE
            self._check(result)
        self.phase = _PHASE_BODY

    def _respond(self, body: Any) -> None:
        """The whole response in one core call: head and body (Content-Length by the core)."""
        headers = self.headers
        if headers:
            packed, count = _pack_headers(headers)
        else:
            packed, count = b"", 0
        if type(body) is not bytes:
            body = bytes(body)
        status = self.status
        result = _respond(self.native, self._id, status, len(status), packed, len(packed), count, body, len(body))
        if result != _SK_OK:
            if result == _SK_ERR_INVALID:
                self.phase = _PHASE_NONE  # nothing was written: the application may start over
            self._check(result)
        self.phase = _PHASE_DONE
        if self._pending or self._receive_waiter is not None:
            self._untrack()
            self._wake()

    def _write(self, body: Any) -> None:
        if type(body) is not bytes:
            body = bytes(body)
        self._check(_res_write(self.native, self._id, body, len(body)))

    def _end(self) -> None:
        self._check(_res_end(self.native, self._id, b"", 0, 0))
        self._complete()

    def _complete(self) -> None:
        self.phase = _PHASE_DONE
        self._untrack()
        self._wake()

    def _drain(self):
        """An awaitable that waits while the socket's send buffer is over the high-water mark."""
        state = _res_state(self.native, self._id)
        if state & _SK_RES_WRITABLE and state & _SK_RES_VALID:
            return self.ready
        return self._wait_writable()

    async def _wait_writable(self) -> None:
        native, res_id = self.native, self._id
        while True:
            state = _res_state(native, res_id)
            if not state & _SK_RES_VALID:
                self.disconnected = True
                self._untrack()
                raise ClientDisconnected("the client closed the connection")
            if state & _SK_RES_WRITABLE or _res_buffered(native, res_id) <= _HIGH_WATER:
                return
            self._track()
            self._writable_handler = _on_writable
            waiter = self._send_waiter = self.loop.create_future()
            await waiter

    async def _send_trailers(self, message: Dict[str, Any]) -> None:
        if self.phase != _PHASE_TRAILERS:
            if not self.trailers or self.phase < _PHASE_TRAILERS:
                raise RuntimeError(
                    "http.response.trailers needs 'trailers': True in http.response.start and a final body first"
                )
            self._out_of_order("http.response.trailers")
        fields = message.get("headers") or []
        if self.trailer_fields is None:
            self.trailer_fields = list(fields)
        else:
            self.trailer_fields.extend(fields)
        if message.get("more_trailers", False):
            return
        packed, count = _pack_headers(self.trailer_fields)
        self._check(lib.sk_res_end_with_trailers(self.native, self._id, packed, len(packed), count))
        self._complete()

    async def _send_file(self, file, offset: int, count: Optional[int]) -> None:
        """Streams ``count`` bytes (None: to the end) of an open file with backpressure."""
        if self.phase == _PHASE_STARTED:
            self._write_head()
        elif self.phase != _PHASE_BODY:
            self._out_of_order("a file body")
        fd = file.fileno()
        while count is None or count > 0:
            size = _FILE_PIECE if count is None else min(_FILE_PIECE, count)
            piece = os.pread(fd, size, offset)
            if not piece:
                break
            offset += len(piece)
            if count is not None:
                count -= len(piece)
            self._write(piece)
            await self._drain()

    async def _send_path(self, message: Dict[str, Any]) -> None:
        path = message["path"]
        with open(path, "rb") as file:
            await self._send_file(file, 0, None)
        self._end()

    async def _send_zerocopy(self, message: Dict[str, Any]) -> None:
        file = message["file"]
        offset = message.get("offset")
        if offset is None:
            offset = file.tell()
        count = message.get("count")
        await self._send_file(file, offset, count)
        if count is None or message.get("offset") is None:
            try:
                file.seek(0, os.SEEK_END) if count is None else file.seek(offset + count)
            except (OSError, ValueError):
                pass
        if message.get("more_body", False):
            await self._drain()
        else:
            self._end()

    # -- the application is done ------------------------------------------------

    def failed(self, error: BaseException) -> None:
        """The application raised: log it (unless it is our own disconnect error), then answer."""
        if isinstance(error, ClientDisconnected) and self.disconnected:
            self._untrack()
            return
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            self.server.app.close()
        elif not isinstance(error, asyncio.CancelledError):
            logger.error("Exception in ASGI application", exc_info=error)
        self.finish(error)

    def done(self, task: asyncio.Future) -> None:
        """A suspended application finished (its errors went to ``failed``)."""
        if task.cancelled():
            self.finish(asyncio.CancelledError())
        elif self.phase != _PHASE_DONE:
            self.finish(None)

    def finish(self, error: Optional[BaseException]) -> None:
        """After the application returned (or raised): make sure the client gets an answer."""
        if self.phase == _PHASE_DONE or self.disconnected:
            self._untrack()
            return
        native, res_id = self.native, self._id
        state = _res_state(native, res_id)
        if not state & _SK_RES_VALID:
            self._untrack()
            return
        if error is None:
            logger.error(
                "ASGI application returned without completing the response to %s",
                "a request" if self.phase == _PHASE_NONE else "its request",
            )
        if self.phase <= _PHASE_STARTED and not state & _SK_RES_HEADERS_SENT:
            message = b"Internal Server Error"
            lib.sk_res_send(
                native,
                res_id,
                b"500 Internal Server Error",
                25,
                b"text/plain; charset=utf-8",
                25,
                message,
                len(message),
                0,
            )
        else:
            lib.sk_res_close(native, res_id)  # half a response is out: close
        self.phase = _PHASE_DONE
        self._untrack()
        self._wake()


# -- WebSocket -----------------------------------------------------------------


class _WSCycle:
    """One ASGI WebSocket: the handshake response, then the socket."""

    def __init__(self, server: "_Server", res, scope: Dict[str, Any]) -> None:
        self.server = server
        self.res = res
        self.scope = scope
        self.ws: Any = None  # the WebSocket, from open on
        self.state = 0  # 0 connecting, 1 connect delivered, 2 accepted, 3 closed, 4 denial response
        self.queue: deque = deque()
        self.queued_bytes = 0
        self.close_code: Optional[int] = None
        self.close_reason = ""
        self.receive_waiter: Optional[asyncio.Future[Any]] = None
        self.drain_waiter: Optional[asyncio.Future[Any]] = None
        self.disconnect_delivered = False

    # -- events ----------------------------------------------------------------

    def on_gone_before_accept(self, res) -> None:
        if self.state < 2 or self.state == 4:
            self.state = 3
            self.close_code = 1006
            self._wake()

    def on_open(self, ws) -> None:
        self.ws = ws

    def on_message(self, data: Any) -> None:
        waiter = self.receive_waiter
        message = (
            {"type": "websocket.receive", "text": data}
            if type(data) is str
            else {"type": "websocket.receive", "bytes": data}
        )
        if waiter is not None and not waiter.done():
            self.receive_waiter = None
            waiter.set_result(message)
            return
        self.queue.append(message)
        self.queued_bytes += len(data)
        if self.queued_bytes > self.server.ws_queue_limit and self.ws is not None:
            # The application does not keep up: bounded memory beats a slow death.
            logger.warning(
                "ASGI WebSocket closed: over %d bytes received but not read by the app", self.server.ws_queue_limit
            )
            self.ws.end(1013, "receive queue full")

    def on_close(self, code: int, reason: bytes) -> None:
        if self.state != 3:
            self.state = 3
            self.close_code = code
            self.close_reason = reason.decode("utf-8", "replace")
        self._wake()

    def on_drain(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None:
            self.drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self.receive_waiter
        if waiter is not None:
            self.receive_waiter = None
            if not waiter.done():
                waiter.set_result(self._disconnect())
        self.on_drain()

    def _disconnect(self) -> Dict[str, Any]:
        self.disconnect_delivered = True
        return {"type": "websocket.disconnect", "code": self.close_code or 1005, "reason": self.close_reason}

    # -- receive ---------------------------------------------------------------

    async def receive(self) -> Dict[str, Any]:
        """websocket.connect, then websocket.receive messages, then websocket.disconnect."""
        if self.state == 0:
            self.state = 1
            return {"type": "websocket.connect"}
        queue = self.queue
        if queue:
            message = queue.popleft()
            self.queued_bytes -= len(message.get("text") or message.get("bytes") or b"")
            return message
        if self.state in (3, 4):
            return self._disconnect()
        if self.receive_waiter is not None:
            raise RuntimeError("receive() called again while a previous receive() is pending")
        waiter = self.receive_waiter = self.server.loop.create_future()
        try:
            return await waiter
        except asyncio.CancelledError:
            # A cancelled receive (wait_for timing out) loses no message.
            if waiter.done() and not waiter.cancelled():
                message = waiter.result()
                if message["type"] == "websocket.receive":
                    self.queue.appendleft(message)
                    self.queued_bytes += len(message.get("text") or message.get("bytes") or b"")
                else:
                    self.disconnect_delivered = False
            raise
        finally:
            if self.receive_waiter is waiter:
                self.receive_waiter = None

    # -- send ------------------------------------------------------------------

    def send(self, message: Dict[str, Any]):
        """Takes websocket.accept/send/close, the denial response and the pub/sub
        extension; returns an awaitable (completed unless the socket is backed up)."""
        kind = message["type"]
        if kind == "websocket.send":
            return self._send(message)
        if kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.close":
            self._close(message)
        elif kind == "websocket.http.response.start":
            self._deny_start(message)
        elif kind == "websocket.http.response.body":
            self._deny_body(message)
        elif kind == "websocket.publish":
            self._gone_check()
            data = message.get("bytes")
            if data is None:
                data = message.get("text", "")
            self.server.app.publish(message["topic"], data)
        elif kind == "websocket.subscribe":
            self._gone_check()
            self.ws.subscribe(message["topic"])
        elif kind == "websocket.unsubscribe":
            self._gone_check()
            self.ws.unsubscribe(message["topic"])
        else:
            raise ValueError("unexpected ASGI message %r on a websocket connection" % (kind,))
        return self.server.ready

    def _gone_check(self) -> None:
        if self.state == 3:
            raise ClientDisconnected("the WebSocket is closed")
        if self.state != 2:
            raise RuntimeError("the WebSocket was not accepted yet")

    def _accept(self, message: Dict[str, Any]) -> None:
        if self.state == 3:
            raise ClientDisconnected("the client went away before the WebSocket was accepted")
        if self.state != 1:
            raise RuntimeError(
                "websocket.accept %s" % ("before websocket.connect was received" if self.state == 0 else "sent twice")
            )
        res = self.res
        headers = dict(self.scope["headers"])
        key = headers.get(b"sec-websocket-key", b"")
        extensions = headers.get(b"sec-websocket-extensions", b"")
        protocol = message.get("subprotocol") or b""
        if isinstance(protocol, str):
            protocol = protocol.encode("ascii")
        packed, count = _pack_headers(message.get("headers"))
        ws_id = ffi.new("sk_res_id_t *")
        status = lib.sk_res_upgrade_with_headers(
            res._native,
            res._id,
            key,
            len(key),
            protocol,
            len(protocol),
            extensions,
            len(extensions),
            packed,
            len(packed),
            count,
            ws_id,
        )
        if status == _SK_ERR_STALE:
            self.state = 3
            self.close_code = 1006
            raise ClientDisconnected("the client went away before the WebSocket was accepted")
        if status == _SK_ERR_INVALID:
            raise ValueError("invalid subprotocol or header in websocket.accept")
        if status != _SK_OK:
            raise RuntimeError("websocket.accept failed (native status %d)" % status)
        res._done = True
        res._finished()
        self.state = 2
        self.server.app._ws_opened(ws_id[0], res._ws_behavior, self)

    def _send(self, message: Dict[str, Any]):
        if self.state != 2:
            self._gone_check()
        data = message.get("bytes")
        if data is None:
            text: Any = message.get("text")
            if text is None:
                raise ValueError("websocket.send needs 'bytes' or 'text'")
            status = self.ws.send(text, _OP_TEXT, self.server.ws_compress)
        else:
            status = self.ws.send(data, _OP_BINARY, self.server.ws_compress)
        if status == _WS_SUCCESS:
            return self.server.ready
        if status == _WS_BACKPRESSURE:
            return self._wait_drain()
        if self.state == 3 or self.ws._closed:
            raise ClientDisconnected("the WebSocket is closed")
        # Only reachable by sends that do not wait for each other (several
        # tasks): each awaited send waits below max_backpressure.
        logger.warning(
            "ASGI WebSocket message of %d bytes dropped: the send buffer was already over "
            "max_backpressure (sends from several tasks that do not await each other?)",
            len(data if data is not None else text),
        )
        return self.server.ready

    async def _wait_drain(self) -> None:
        while self.state == 2 and self.ws.get_buffered_amount() > self.server.ws_high_water:
            waiter = self.drain_waiter = self.server.loop.create_future()
            await waiter
        if self.state == 3:
            raise ClientDisconnected("the WebSocket is closed")

    def _close(self, message: Dict[str, Any]) -> None:
        code = message.get("code") or 1000
        reason = message.get("reason") or ""
        if self.state == 2:
            self.ws.end(code, reason)  # the close handler records the code
        elif self.state in (0, 1):
            # RFC 6455 4.2.2 / ASGI: closing before accept refuses the handshake with 403.
            self.state = 3
            self.close_code = code
            self.res.write_status(403).end_without_body()
        elif self.state == 4:
            raise RuntimeError("websocket.close during a denial response")

    def _deny_start(self, message: Dict[str, Any]) -> None:
        if self.state == 3:
            raise ClientDisconnected("the client went away")
        if self.state != 1:
            raise RuntimeError("websocket.http.response.start is only allowed before accept")
        res = self.res
        packed, count = _pack_headers(message.get("headers"))
        line = _status_line(message["status"])
        status = _write_head(res._native, res._id, line, len(line), packed, len(packed), count)
        if status == _SK_ERR_STALE:
            raise ClientDisconnected("the client went away")
        if status != _SK_OK:
            raise ValueError("invalid status or header in websocket.http.response.start")
        self.state = 4

    def _deny_body(self, message: Dict[str, Any]) -> None:
        if self.state != 4:
            if self.state == 3:
                raise ClientDisconnected("the client went away")
            raise RuntimeError("websocket.http.response.body before websocket.http.response.start")
        res = self.res
        body = bytes(message.get("body", b""))
        if message.get("more_body", False):
            status = _res_write(res._native, res._id, body, len(body))
        else:
            status = _res_end(res._native, res._id, body, len(body), 0)
            res._finished()
            self.state = 3
            self.close_code = 1000
        if status == _SK_ERR_STALE:
            raise ClientDisconnected("the client went away")

    def finish(self, error: Optional[BaseException]) -> None:
        """After the application returned or raised."""
        if self.state == 2:
            self.state = 3
            self.ws.end(1011 if error is not None else 1000)
        elif self.state in (0, 1):
            self.state = 3
            if error is None:
                logger.error("ASGI application returned without accepting or closing the WebSocket")
            self.res.send(b"Internal Server Error", status=500)
        elif self.state == 4:
            self.state = 3
            self.res.close()


# -- the server ------------------------------------------------------------------


def add_websocket_route(
    app: App,
    path: str,
    application: Callable,
    websocket_options: Optional[Dict[str, Any]] = None,
    *,
    root_path: str = "",
) -> Callable[[AppListenOptions], None]:
    """Serves an ASGI application's WebSocket scopes on ``path`` of an App
    that serves its HTTP otherwise (``WSGI(app, websocket=asgi_app)``).
    Returns what to call with the App's listen options once it listens
    (the scopes' ``server``)."""
    asgi = ASGI(application, websocket_options=websocket_options, lifespan=False, root_path=root_path)
    return _Server(asgi, app=app, ws_path=path).listening


class _Server:
    """The App behind an ASGI instance, in the process (or thread) that serves."""

    def __init__(self, asgi: "ASGI", app: Optional[App] = None, ws_path: str = "/*") -> None:
        """``app``: serve only the application's WebSockets, on ``ws_path`` of an
        App that serves HTTP otherwise (``add_websocket_route``)."""
        self.asgi = asgi
        self.application = asgi.app
        # websocket=<an ASGI application>: WebSocket scopes go to that one.
        websocket = asgi.websocket
        self.ws_application = websocket if callable(websocket) and not isinstance(websocket, dict) else asgi.app
        serves_http = app is None
        if app is None:
            app = App(
                asgi.options,
                task_factory_max_items=asgi.task_factory_max_items,
                lifespan=False,
                idle_timeout=asgi.idle_timeout,
                graceful_shutdown_timeout=asgi.graceful_timeout,
                close_unanswered=False,
                **asgi.limits,
            )
        self.app = app
        self.ws_path = ws_path
        self.loop = self.app.loop.loop
        self.native = self.app._native
        self.req_ptr = self.app._current_request
        self.scratch = ffi.new("char[]", _SCRATCH_SIZE)
        self.shared = _Scope(None, app.is_ssl, asgi.root_path)
        self.tasks: set = set()
        self.ws_cycles: set = set()
        ready = self.ready = _Done(loop=self.loop)
        ready.set_result(None)
        self.cycle_class: Type[_HTTPCycle] = type(
            "_HTTPCycle", (_HTTPCycle,), {"server": self, "native": self.native, "loop": self.loop, "ready": ready}
        )
        self.lifespan: Optional[_Lifespan] = None
        self.ws_high_water = 1024 * 1024
        self.ws_compress = False
        self.ws_queue_limit = 16 * 1024 * 1024
        self._http_extensions: Dict[str, Dict[str, Any]] = {"http.response.pathsend": {}, "http.response.zerocopy": {}}
        self._http_extensions_trailers = dict(self._http_extensions, **{"http.response.trailers": {}})
        self._ws_extensions: Dict[str, Dict[str, Any]] = {
            "websocket.http.response": {},
            "websocket.publish": {},
            "websocket.subscribe": {},
            "websocket.unsubscribe": {},
        }
        if serves_http:
            handler_id = _binding.register_route(self._dispatch, app_id=self.app._id)
            if lib.sk_app_route(self.native, ffi.NULL, 0, b"/*", 2, handler_id) != _SK_OK:
                raise RuntimeError("cannot route /* to the ASGI application")
        websocket = asgi.websocket
        if isinstance(websocket, dict):
            self.app.ws(ws_path, websocket)
        elif websocket:
            self._serve_websockets(asgi.websocket_options or {})

    # -- HTTP ----------------------------------------------------------------------

    def _dispatch(self, res_id: int) -> None:
        # _read_request, inlined: this runs once per request.
        scratch = self.scratch
        size = _scope_pack(self.native, res_id, self.req_ptr, scratch, _SCRATCH_SIZE)
        if size > _SCRATCH_SIZE:
            parts = _read_request(self.native, res_id, self.req_ptr, scratch)
        else:
            parts = _unpack(scratch, size).split(b"\0")
        flags = parts[0]
        scope = _scope_from(parts, self.shared, "http", self.shared.http_scheme)
        scope["method"] = parts[1].decode("latin-1")
        scope["extensions"] = (self._http_extensions_trailers if flags[2] == 49 else self._http_extensions).copy()
        cycle = _new(self.cycle_class)
        cycle._id = res_id
        if flags[1] == 49:
            cycle.body_state = 1
        task = start_coroutine(self.loop, self.application(scope, cycle.receive, cycle.send), cycle.failed, self.tasks)
        if task is not None:
            cycle._track()
            task.add_done_callback(cycle.done)
        elif cycle.phase != _PHASE_DONE:
            cycle.finish(None)

    def _task_error(self, error: BaseException) -> None:
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            self.app.close()
        elif not isinstance(error, Exception):
            logger.error("ASGI task ended with %r", error)

    # -- WebSocket -------------------------------------------------------------------

    def _serve_websockets(self, options: Dict[str, Any]) -> None:
        unknown = set(options) - set(WEBSOCKET_DEFAULTS)
        if unknown:
            raise ValueError("unknown websocket_options keys: %s" % ", ".join(sorted(unknown)))
        settings = dict(WEBSOCKET_DEFAULTS, **options)
        compression = settings["compression"]
        if compression is True:
            compression = CompressOptions.SHARED_COMPRESSOR | CompressOptions.SHARED_DECOMPRESSOR
        elif not compression:
            compression = CompressOptions.DISABLED
        self.ws_compress = bool(compression & 0xFF)
        max_backpressure = int(settings["max_backpressure"])
        if max_backpressure:
            self.ws_high_water = min(self.ws_high_water, max(max_backpressure // 2, 1))
        if settings["max_payload_length"]:
            self.ws_queue_limit = max(self.ws_queue_limit, 2 * int(settings["max_payload_length"]))
        server = self

        def upgrade(res, req, behavior):
            server._ws_upgrade(res, req)

        def on_open(ws):
            ws.get_user_data().on_open(ws)

        def on_message(ws, data, opcode):
            ws._user_data.on_message(data)

        def on_close(ws, code, reason):
            ws.get_user_data().on_close(code, reason or b"")

        def on_drain(ws):
            ws.get_user_data().on_drain()

        behavior = {
            "compression": int(compression),
            "max_payload_length": int(settings["max_payload_length"]),
            "idle_timeout": int(settings["idle_timeout"]),
            "max_backpressure": max_backpressure,
            "max_lifetime": int(settings["max_lifetime"]),
            "close_on_backpressure_limit": bool(settings["close_on_backpressure_limit"]),
            "reset_idle_timeout_on_send": bool(settings["reset_idle_timeout_on_send"]),
            "send_pings_automatically": bool(settings["send_pings_automatically"]),
            "upgrade": upgrade,
            "open": on_open,
            "message": on_message,
            "close": on_close,
            "drain": on_drain,
        }
        self.app.ws(self.ws_path, behavior)

    def _ws_upgrade(self, res, req) -> None:
        parts = _read_request(self.native, res._id, req._ptr, self.scratch)
        scope = _scope_from(parts, self.shared, "websocket", self.shared.ws_scheme)
        protocols: List[str] = []
        for name, value in scope["headers"]:
            if name == b"sec-websocket-protocol":
                protocols.extend(p.strip() for p in value.decode("latin-1").split(",") if p.strip())
        scope["subprotocols"] = protocols
        scope["extensions"] = self._ws_extensions.copy()
        cycle = _WSCycle(self, res, scope)
        res._aborted_handler = cycle.on_gone_before_accept
        self.ws_cycles.add(cycle)
        start_coroutine(self.loop, self._run_ws(scope, cycle), self._task_error, self.tasks)
        if not res._done:
            res._track()

    async def _run_ws(self, scope: Dict[str, Any], cycle: _WSCycle) -> None:
        try:
            await self.ws_application(scope, cycle.receive, cycle.send)
        except ClientDisconnected:
            cycle.finish(None) if cycle.state != 3 else None
        except BaseException as error:
            if cycle.disconnect_delivered:
                # Frameworks raise their own "disconnected" error once the
                # app read websocket.disconnect: the normal way out, no fault.
                logger.debug("ASGI WebSocket application ended with %r after the disconnect", error)
            elif not isinstance(error, asyncio.CancelledError):
                logger.error("Exception in ASGI application (WebSocket)", exc_info=error)
            cycle.finish(error)
            if not isinstance(error, Exception):
                raise
        else:
            cycle.finish(None)
        finally:
            self.ws_cycles.discard(cycle)

    # -- lifecycle -------------------------------------------------------------------

    def listen(self, port_or_options: Any, handler: Optional[Callable]) -> None:
        result: List[AppListenOptions] = []
        self.app.listen(port_or_options, result.append)
        config = result[0]
        self.listening(config)
        if handler is not None:
            handler(config)

    def listening(self, config: AppListenOptions) -> None:
        """The scopes' ``server``, from where the App listens."""
        if config.domain is not None:
            self.shared.server = (config.domain, None)
        else:
            self.shared.server = (config.host or "0.0.0.0", config.port)

    def serve(self, started: Optional[threading.Event] = None) -> None:
        """Lifespan startup, serving until close or a signal, then the graceful end;
        ``started`` is set once listening."""
        asgi = self.asgi
        loop = self.loop
        if asgi.lifespan:
            self.lifespan = _Lifespan(self.application, self.shared.state, loop)
            loop.run_until_complete(self.lifespan.startup())
            if self.lifespan.failed is not None:
                raise SystemExit("ASGI lifespan startup failed: %s" % (self.lifespan.failed or "(no message)"))
            if not self.lifespan.supported and asgi._lifespan_required:
                raise SystemExit(
                    "ASGI lifespan is on (--lifespan on) but the application does not "
                    "support it: %s" % self.lifespan.unsupported_reason
                )
        try:
            self.listen(asgi.listen_args[0], asgi.listen_args[1])
            if started is not None:
                started.set()
            self.app.run()
            # The core is drained (or past the graceful timeout): stop polling it,
            # since its poll would stop the loop again while we finish below.
            if self.app._attached:
                self.app._detach()
            # Tasks woken by the shutdown (websocket.disconnect, answered requests)
            # get to run their finally blocks; what still hangs is cancelled.
            pending = [t for t in self.tasks if not t.done()]
            if pending:
                # What is left of the one grace period (the supervisor's kill
                # margin counts on the drain taking no longer than it).
                deadline = getattr(self.app, "_close_deadline", None)
                timeout = asgi.graceful_timeout if deadline is None else max(0.0, deadline - loop.time())
                loop.run_until_complete(asyncio.wait(pending, timeout=timeout))
                for task in pending:
                    if not task.done():
                        task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            # Startup ran: shutdown runs too, even when listen() failed.
            if self.lifespan is not None:
                loop.run_until_complete(self.lifespan.shutdown())
            self.app.dispose()  # the core's sockets and the loop go now, not at some collection

    def close(self) -> None:
        self.app.close(self.asgi.graceful_timeout)


class _Lifespan:
    """The lifespan protocol: one long task that gets startup, then shutdown."""

    def __init__(self, application: Callable, state: Dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        self.application = application
        self.state = state
        self.loop = loop
        self.events: asyncio.Queue = asyncio.Queue()
        self.started = loop.create_future()
        self.stopped = loop.create_future()
        self.failed: Optional[str] = None
        self.supported = True
        self.unsupported_reason = ""
        self.task: Optional[asyncio.Task[None]] = None

    async def startup(self) -> None:
        self.task = self.loop.create_task(self._run())
        await self.events.put({"type": "lifespan.startup"})
        await asyncio.wait([self.task, self.started], return_when=asyncio.FIRST_COMPLETED)

    async def shutdown(self) -> None:
        if not self.supported or self.task is None or self.task.done() or self.failed is not None:
            return
        await self.events.put({"type": "lifespan.shutdown"})
        await asyncio.wait([self.task, self.stopped], return_when=asyncio.FIRST_COMPLETED)

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": _ASGI_INFO.copy(), "state": self.state}
        try:
            await self.application(scope, self.events.get, self._send)
        except BaseException as error:
            if not self.started.done():
                # An application without lifespan support raises here: serve without it.
                self.supported = False
                self.unsupported_reason = "%s: %s" % (type(error).__name__, error)
                logger.info(
                    "ASGI 'lifespan' unsupported by the application (%s: %s); serving without it",
                    type(error).__name__,
                    error,
                )
            elif not self.stopped.done():
                logger.error("Exception in ASGI lifespan", exc_info=error)
            if not isinstance(error, Exception):
                raise
        finally:
            for future in (self.started, self.stopped):
                if not future.done():
                    future.set_result(None)

    async def _send(self, message: Dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            if not self.started.done():
                self.started.set_result(None)
        elif kind == "lifespan.startup.failed":
            self.failed = str(message.get("message", ""))
            logger.error("ASGI lifespan startup failed: %s", self.failed)
            if not self.started.done():
                self.started.set_result(None)
        elif kind == "lifespan.shutdown.complete":
            if not self.stopped.done():
                self.stopped.set_result(None)
        elif kind == "lifespan.shutdown.failed":
            logger.error("ASGI lifespan shutdown failed: %s", message.get("message", ""))
            if not self.stopped.done():
                self.stopped.set_result(None)
        else:
            raise ValueError("unexpected ASGI message %r in lifespan" % (kind,))


_NOT_AN_APP = "ASGI needs an ASGI application (a callable taking scope, receive, send)"


class ASGI(AdapterSettings):
    """Serves an ASGI 3 application (HTTP, WebSocket, lifespan) on socketify.

    ``websocket``: True serves ASGI WebSockets; a dict is a socketify ws
    behaviour served on ``/*``; False serves none. ``websocket_options``:
    compression, max_payload_length, idle_timeout, max_backpressure,
    max_lifetime, close_on_backpressure_limit, reset_idle_timeout_on_send,
    send_pings_automatically. Keyword-only: ``root_path`` (the scope's),
    ``graceful_timeout`` (seconds ``close()`` waits for in-flight work) and
    ``idle_timeout`` (seconds a keep-alive connection may sit idle, or a
    client may stall sending its body or reading the answer); any other
    keyword is one of ``App``'s limits (``max_body_size``,
    ``max_header_size``, ``header_timeout``...).
    """

    def __init__(
        self,
        app: Callable,
        options: Optional[AppOptions] = None,
        websocket: Any = True,
        websocket_options: Optional[Dict[str, Any]] = None,
        task_factory_max_items: int = 100_000,
        lifespan: bool = True,
        *,
        root_path: str = "",
        graceful_timeout: float = _default(10.0),
        idle_timeout: int = _default(10),
        **limits: Any,
    ) -> None:
        super().__init__(
            app, options, websocket, websocket_options, task_factory_max_items, lifespan, not_an_app=_NOT_AN_APP
        )
        if websocket_options is not None:
            unknown = set(websocket_options) - set(WEBSOCKET_DEFAULTS)
            if unknown:
                raise ValueError("unknown websocket_options keys: %s" % ", ".join(sorted(unknown)))
        self.root_path = root_path
        # Not passed: the process-wide App defaults (the CLI's
        # --timeout-graceful-shutdown and --timeout-keep-alive).
        self.graceful_timeout = _resolved("graceful_shutdown_timeout", graceful_timeout)
        self.idle_timeout = _resolved("idle_timeout", idle_timeout)
        self.limits = limits
        self.listen_args: Tuple[Any, Optional[Callable]] = (None, None)
        self.server: Optional[_Server] = None
        self._lifespan_required = False  # the CLI's --lifespan on: no lifespan support is an error
        self._thread: Optional[threading.Thread] = None
        self._loop_thread: Optional[int] = None  # the thread serving, once run() started

    def listen(
        self,
        port_or_options: Union[int, dict, AppListenOptions, None] = None,
        handler: Optional[Callable[[AppListenOptions], Any]] = None,
    ) -> "ASGI":
        """Where to listen (a port, a dict or AppListenOptions); ``handler`` gets the real options."""
        self.listen_args = (port_or_options, handler)
        return self

    def run(self, workers: int = 1, block: bool = True) -> "ASGI":
        """Serves until ``close()``, SIGINT or SIGTERM (``block=False``: in a thread)."""
        if not isinstance(workers, int) or workers < 1:
            raise ValueError("workers must be a positive int")
        if workers > 1:
            serve_workers("ASGI", self.listen_args[0], self._serve, workers, block, self.graceful_timeout)
            return self
        if block:
            self._serve()
            return self
        serve_in_thread("ASGI", self, self._serve, "socketify-asgi")
        return self

    def _serve(self, started: Optional[threading.Event] = None) -> None:
        self._loop_thread = threading.get_ident()
        self.server = _Server(self)
        self.server.serve(started)

    def close(self) -> "ASGI":
        """Stops accepting, answers what is in flight, closes WebSockets (1001), then lifespan shutdown."""
        server = self.server
        if server is None:
            return self
        if threading.get_ident() != self._loop_thread:
            # The core and its loop belong to the serving thread: hand it over.
            try:
                server.loop.call_soon_threadsafe(server.close)
            except RuntimeError:  # it has stopped serving: its loop is closed
                return self
            if self._thread is not None:
                self._thread.join(kill_after(self.graceful_timeout))
        else:
            server.close()
        return self
