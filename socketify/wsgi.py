"""WSGI (PEP 3333) on the native core.

The loop thread parses requests, builds the environ and writes responses.
WSGI applications block, so they run on a bounded pool of threads; a pool
thread never calls the core. What it sends goes back to the loop thread
through one queue (``_threads.LoopBridge``), and it waits while its response has too
much in flight (backpressure), as it waits for request body bytes that have
not arrived yet. The core stops reading a request body while the
application is not consuming it, so memory stays bounded both ways.
"""

import importlib
import io
import logging
import os
import re
import socket
import stat
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, cast
from urllib.parse import unquote_to_bytes

from . import _binding
from ._adapter import AdapterSettings
from ._binding import ffi, lib
from ._cache import RepeatCache
from ._threads import LoopBridge, ThreadPool
from ._wsgi_input import EMPTY_INPUT, ClientDisconnected, Input
from .app import App, _Default, _resolved
from .options import AppListenOptions, AppOptions
from .websocket import CompressOptions
from .workers import serve_in_thread, serve_workers
from .ws_routes import _Behavior

__all__ = ["WSGI", "FileWrapper", "ClientDisconnected"]

logger = logging.getLogger("socketify")

# Native calls of the per-request path, looked up once.
_SK_OK = lib.SK_OK
_sk_req_scope_pack = lib.sk_req_scope_pack
_sk_res_respond = lib.sk_res_respond
_sk_res_write_status = lib.sk_res_write_status
_sk_res_write_header = lib.sk_res_write_header
_sk_res_buffered_amount = lib.sk_res_buffered_amount
_unpack = ffi.unpack
_new = object.__new__
# What sk_req_scope_pack writes for most requests fits here (bigger ones get a buffer of their own).
_PACK_SIZE = 4096
# Keys the base environ holds for a moment (see _with_room): one past what a
# 32-slot table takes, so the table grows to 128 slots, room for ~60 keys.
_ENVIRON_ROOM = 22

SERVER_SOFTWARE = "socketify"
# A response's bytes handed to the loop but not yet taken by the kernel,
# past which the application's thread waits.
_SEND_HIGH = 256 * 1024
# Reads of a wsgi.file_wrapper file (at least this much per read).
_FILE_BLOCK = 64 * 1024
# A waiting pool thread re-checks its state this often (seconds): a lost
# wake-up can delay it, never hang it.
_WAIT_SLICE = 1.0

_STATUS_RE = re.compile(r"[1-9][0-9][0-9](?: [^\x00-\x08\x0a-\x1f\x7f]*)?\Z")
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# Every cache below is bounded, and keeps only what it has seen twice:
# clients and applications choose what goes in (see RepeatCache).
_CACHE_MAX = 2048

# Header name as the core gives it (lower case bytes) -> environ key; "" for
# a name that is dropped.
_HEADER_KEYS: "RepeatCache[str]" = RepeatCache(_CACHE_MAX)
_UNPREFIXED_KEYS = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


def _header_key(name: bytes) -> str:
    key = _UNPREFIXED_KEYS.get(name)
    if key is None:
        # A name with "_" would collide with its "-" twin (X_User vs X-User):
        # such headers are dropped, as nginx and gunicorn do.
        key = "" if b"_" in name else "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
    _HEADER_KEYS.offer(name, key)
    return key


class FileWrapper:
    """``wsgi.file_wrapper``: a file-like object as the response body.

    The server reads it in blocks on the application's thread and sends them
    with backpressure; a regular file without a Content-Length header gets
    one from its size."""

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        size = self.block_size
        while True:
            data = read(size)
            if not data:
                return
            yield data


# Checked and encoded start_response arguments, by value: most responses
# repeat the same status lines and headers.
_STATUS_CACHE: "RepeatCache[bytes]" = RepeatCache(_CACHE_MAX)
# (name, value) -> ((name, value) encoded, b"name\0value\0" for sk_res_respond)
_HEADER_CACHE: "RepeatCache[Tuple[Tuple[bytes, bytes], bytes]]" = RepeatCache(_CACHE_MAX)
_LENGTH_CACHE: "RepeatCache[Tuple[Tuple[bytes, bytes], bytes, int]]" = RepeatCache(_CACHE_MAX)  # Content-Length items
# A whole header list (as a tuple) -> what _encode_head returns after the status line.
_HEADS_CACHE: "RepeatCache[Tuple[Tuple[Tuple[bytes, bytes], ...], bytes, int, Optional[int]]]" = RepeatCache(_CACHE_MAX)


def _encode_head(status: Any, headers: Any) -> Tuple[bytes, Tuple[Tuple[bytes, bytes], ...], bytes, int, Optional[int]]:
    """start_response's arguments checked and encoded (latin-1, as PEP 3333
    says): (status line, headers, the same as b"name\\0value\\0" pieces
    joined, their count, declared Content-Length or None)."""
    line = _STATUS_CACHE.get(status) if type(status) is str else None
    if line is None:
        line = _encode_status(status)
    if type(headers) is not list:
        raise TypeError("WSGI response headers must be a list of (name, value) tuples, not %s" % type(headers).__name__)
    # Most applications send the same few header lists: one lookup for the
    # whole list.
    key: Any
    try:
        key = tuple(headers)
        known = _HEADS_CACHE.get(key)
    except TypeError:  # an unhashable item: the checks below say what is wrong
        key = known = None
    if known is not None:
        return (line,) + known
    encoded, pieces, length = _encode_headers(headers)
    head = (tuple(encoded), b"".join(pieces), len(pieces), length)
    if key is not None:
        _HEADS_CACHE.offer(key, head)
    return (line,) + head


def _encode_headers(headers: List[Any]) -> Tuple[List[Tuple[bytes, bytes]], List[bytes], Optional[int]]:
    """The checked and encoded headers: (pairs, b"name\\0value\\0" pieces,
    declared Content-Length or None)."""
    encoded = []
    pieces = []
    length = None
    cache = _HEADER_CACHE
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            raise TypeError("a WSGI response header must be a (name, value) tuple, not %r" % (item,))
        known: Any = cache.get(item)  # then a _LENGTH_CACHE entry
        if known is not None:
            encoded.append(known[0])
            pieces.append(known[1])
            continue
        known = _LENGTH_CACHE.get(item)
        if known is not None:
            encoded.append(known[0])
            pieces.append(known[1])
            length = known[2]
            continue
        name, value = item
        if type(name) is not str or type(value) is not str:
            raise TypeError("WSGI header names and values must be str: %r" % (item,))
        if not _TOKEN_RE.match(name):
            raise ValueError("invalid WSGI header name %r" % name)
        if _BAD_VALUE_RE.search(value):
            raise ValueError("control characters in the value of WSGI header %r" % name)
        pair = (name.encode("latin-1"), value.encode("latin-1"))
        piece = pair[0] + b"\0" + pair[1] + b"\0"
        if len(name) == 14 and name.lower() == "content-length":
            if not value.isdigit() or not value.isascii():
                raise ValueError("invalid Content-Length %r" % value)
            length = int(value)
            _LENGTH_CACHE.offer(item, (pair, piece, length))
        else:
            cache.offer(item, (pair, piece))
        encoded.append(pair)
        pieces.append(piece)
    return encoded, pieces, length


def _encode_status(status: Any) -> bytes:
    if type(status) is not str:
        raise TypeError("the WSGI status must be a str such as '200 OK', not %s" % type(status).__name__)
    if not _STATUS_RE.match(status):
        raise ValueError("invalid WSGI status %r: three digits, a space and a reason phrase" % status)
    line = status.encode("latin-1")
    _STATUS_CACHE.offer(status, line)
    return line


class _Exchange:
    """One request and its response, shared by the loop thread (the
    ``_loop_*`` methods) and the pool thread running the application.

    Fields start as class defaults: a request sets only what differs."""

    # application thread
    status: Optional[bytes] = None  # encoded by start_response
    headers: Any = None  # List[Tuple[bytes, bytes]], from start_response on
    pieces: bytes = b""  # the headers as b"name\0value\0" pairs (for sk_res_respond)
    count = 0  # how many pairs
    content_length: Optional[int] = None  # declared by the application
    headers_sent = False
    queued = 0  # body bytes handed to the loop
    # loop thread
    sent = 0  # body bytes the loop has taken
    written = 0  # body bytes written to the core
    congested = False  # the socket's buffer is over _SEND_HIGH
    # written by one side, read by the other
    aborted = False
    cond: Any = None  # a threading.Condition, created by whoever first needs to wait
    waiting = False
    # set by the loop thread before the application runs
    server: "WSGI"  # a class attribute of the per-server subclass
    # res and environ: from WSGI._on_request until _loop_forget drops them
    res: Any = None
    environ: Any = None
    head = False  # a HEAD request
    input: Any = EMPTY_INPUT  # the environ's wsgi.input

    # Created without __init__ (WSGI._on_request sets res and environ): one
    # call less per request.

    def _loop_with_body(self) -> None:
        """The request has a body: wsgi.input streams it."""
        self.cond = threading.Condition(threading.Lock())
        self.input = self.environ["wsgi.input"] = Input(self)

    # -- application thread ------------------------------------------------

    def start_response(self, status: str, headers: List[Tuple[str, str]], exc_info=None) -> Callable[[bytes], None]:
        """PEP 3333 ``start_response``: returns the ``write`` callable."""
        if exc_info is not None:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError(
                "start_response() was already called (pass exc_info to replace the response after an error)"
            )
        self.status, self.headers, self.pieces, self.count, self.content_length = _encode_head(status, headers)
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333 ``write``: sends ``data`` now, waiting while the client is slow."""
        if type(data) is not bytes:
            data = _body_bytes(data, "the data passed to write() must be bytes")
        if data:
            self.send(data)

    def send(self, data: bytes) -> None:
        """One non-empty piece of the body (the head goes with the first)."""
        if self.aborted or self.server._stopped:
            raise ClientDisconnected("the client closed the connection")
        bridge = self.server._bridge
        if not self.headers_sent:
            if self.status is None:
                raise AssertionError("the WSGI application sent body data before calling start_response()")
            self.headers_sent = True
            bridge.call(self._loop_head, self.status, self.headers)
        self.queued += len(data)
        bridge.call(self._loop_write, data)
        if self.congested or self.queued - self.sent > _SEND_HIGH:
            self._wait(lambda: not self.congested and self.queued - self.sent <= _SEND_HIGH)
            if self.aborted:
                raise ClientDisconnected("the client closed the connection")

    def respond(self, body: bytes) -> None:
        """The whole response at once (nothing was sent yet)."""
        if self.status is None:
            raise AssertionError("the WSGI application returned without calling start_response()")
        self.headers_sent = True
        self.server._bridge.call(self._loop_respond, self.status, self.pieces, self.count, self.content_length, body)

    def finish(self) -> None:
        """The body is complete."""
        if not self.headers_sent:
            self.respond(b"")
        else:
            self.server._bridge.call(self._loop_end, self.content_length)

    def send_file(self, wrapper: FileWrapper) -> None:
        """A ``wsgi.file_wrapper`` body: read in blocks, sent with backpressure,
        never past the declared Content-Length."""
        filelike = wrapper.filelike
        remaining = self.content_length
        if remaining is None and not self.headers_sent and self.status is not None:
            remaining = _regular_file_size(filelike)
            if remaining is not None:
                self.content_length = remaining
                self.headers += ((b"Content-Length", b"%d" % remaining),)
                self.pieces += b"Content-Length\0%d\0" % remaining
                self.count += 1
        block = max(int(wrapper.block_size or 0), _FILE_BLOCK)
        read = filelike.read
        while remaining is None or remaining > 0:
            data = read(block if remaining is None else min(block, remaining))
            if not data:
                break
            if type(data) is not bytes:
                data = bytes(data)
            if remaining is not None:
                remaining -= len(data)
            self.send(data)
        self.finish()

    def fail(self, error: BaseException) -> None:
        """The application raised: log it; 500 if nothing was sent, else close."""
        environ = self.environ
        logger.error(
            "WSGI application error on %s %s",
            environ["REQUEST_METHOD"],
            environ.get("RAW_URI", environ["PATH_INFO"]),
            exc_info=error,
        )
        self.server._bridge.call(self._loop_fail)

    def _wait(self, ready: Callable[[], Any]) -> None:
        """Blocks until ``ready()``, the client goes away or the server stops."""
        cond = self.cond
        if cond is None:
            # Only this thread creates it; the loop looks at it only once
            # ``waiting`` is set, below.
            cond = self.cond = threading.Condition(threading.Lock())
        server = self.server
        with cond:
            self.waiting = True
            try:
                while not ready() and not self.aborted and not server._stopped:
                    cond.wait(_WAIT_SLICE)
            finally:
                self.waiting = False

    # -- loop thread -------------------------------------------------------

    def _loop_notify(self) -> None:
        # The loop updates state first, then looks at ``waiting``; the
        # application sets ``waiting`` first, then looks at the state.
        if self.waiting:
            cond = self.cond
            with cond:
                cond.notify_all()

    def _loop_aborted(self, res) -> None:
        self.aborted = True
        self._loop_notify()

    def _loop_release_input(self) -> None:
        wsgi_input = self.input
        if wsgi_input is not EMPTY_INPUT and wsgi_input is not None:
            wsgi_input._loop_release()

    def _loop_head(self, status: bytes, headers: Sequence[Tuple[bytes, bytes]]) -> None:
        res = self.res
        if not res._done:
            _write_head(res, status, headers)

    def _loop_write(self, data: bytes) -> None:
        res = self.res
        if not res._done:
            res.write(data)
            self.written += len(data)
            if not res._done and _sk_res_buffered_amount(res._native, res._id) > _SEND_HIGH:
                self.congested = True
                res.on_writable(self._loop_writable)
        self.sent += len(data)
        self._loop_notify()

    def _loop_writable(self, res, offset: int) -> bool:
        self.congested = False
        self._loop_notify()
        return True

    def _loop_respond(self, status: bytes, headers: bytes, count: int, declared: Optional[int], body: bytes) -> None:
        res = self.res
        if self.input is not EMPTY_INPUT:
            self._loop_release_input()
        if not res._done:
            if declared is None or declared == len(body) or self.head:
                # HEAD: the declared length, no body
                result = _sk_res_respond(
                    res._native,
                    res._id,
                    status,
                    len(status),
                    headers,
                    len(headers),
                    count,
                    body,
                    0 if self.head and declared is not None else len(body),
                )
                if result == _SK_OK:
                    res._done = True
                    if res._pending:
                        res._finished()
                else:
                    res._check(result)  # gone: a no-op; anything else raises
            elif _write_head(res, status, headers):
                res.write(body)
                self.written += len(body)
                self._loop_end(declared)
                return
        self._loop_forget()

    def _loop_end(self, declared: Optional[int]) -> None:
        res = self.res
        self._loop_release_input()
        if not res._done:
            if declared is not None and declared != self.written and not self.head:
                environ = self.environ
                logger.error(
                    "WSGI application declared Content-Length %d but sent %d bytes on %s %s: %s",
                    declared,
                    self.written,
                    environ["REQUEST_METHOD"],
                    environ.get("RAW_URI", ""),
                    "closing the connection" if self.written < declared else "the excess was not sent",
                )
            res.end(b"")
        self._loop_forget()

    def _loop_forget(self) -> None:
        """The response is over (the application's last call for it): drop
        the references that make cycles, so memory goes back at once."""
        res = self.res
        res._aborted_handler = None
        res._data_handler = None
        res._writable_handler = None
        self.environ = None
        self.input = None

    def _loop_broken(self) -> None:
        """Sending failed half-way: the application's next call sees the
        exchange aborted; the client gets a 500 or a closed connection."""
        self.aborted = True
        try:
            self._loop_abandon()
        finally:
            self._loop_notify()

    def _loop_abandon(self) -> None:
        res = self.res
        self._loop_release_input()
        if not res._done:
            App._answer_500(res)

    def _loop_fail(self) -> None:
        self._loop_abandon()
        self._loop_forget()


def _write_head(res, status: bytes, headers: Union[bytes, Sequence[Tuple[bytes, bytes]]]) -> bool:
    """Status line and headers (pairs, or b"name\\0value\\0" pieces joined),
    checked and encoded by start_response, straight to the core. False when
    the client is gone."""
    native, res_id = res._native, res._id
    pairs: Sequence[Tuple[bytes, bytes]]
    if isinstance(headers, bytes):
        parts = headers.split(b"\0")
        pairs = [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
    else:
        pairs = headers
    result = _sk_res_write_status(native, res_id, status, len(status))
    if result == _SK_OK:
        for name, value in pairs:
            result = _sk_res_write_header(native, res_id, name, len(name), value, len(value))
            if result != _SK_OK:
                break
    if result != _SK_OK:
        res._check(result)  # gone: marks the response done; anything else raises
        return False
    return True


def _with_room(base: Dict[str, Any]) -> Dict[str, Any]:
    """BASE in a table with room for a request's headers: its copies then
    take them without growing (CPython copies a dict's table as it is)."""
    roomy: Dict[Any, Any] = dict(base)  # int keys hold the room, then go
    for key in range(_ENVIRON_ROOM - len(roomy)):
        roomy[key] = None
    for key in range(_ENVIRON_ROOM - len(base)):
        del roomy[key]
    return roomy


def _body_bytes(data: Any, rule: str) -> bytes:
    """A bytes-like piece of the body as bytes (the caller has checked for
    bytes itself, the common case); anything else is a TypeError saying ``rule``."""
    if not isinstance(data, (bytearray, memoryview)):
        raise TypeError("%s, not %s" % (rule, type(data).__name__))
    return bytes(data)


def _regular_file_size(filelike: Any) -> Optional[int]:
    """Bytes left from the current position of a regular file, or None."""
    try:
        info = os.fstat(filelike.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        return max(0, info.st_size - filelike.tell())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def _asgi_adapter() -> Any:
    """socketify.asgi, or None where this build has no ASGI adapter (looked up
    when needed: importing it with the package could make a cycle)."""
    try:
        return importlib.import_module(".asgi", __package__)
    except ModuleNotFoundError as missing:
        if missing.name != __package__ + ".asgi":
            raise  # the adapter is there but needs something that is not
        return None


def _default_threads() -> int:
    # concurrent.futures' rule for I/O-bound work.
    return min(32, (os.cpu_count() or 1) + 4)


_WS_OPTION_KEYS = (
    "max_payload_length",
    "idle_timeout",
    "max_backpressure",
    "max_lifetime",
    "close_on_backpressure_limit",
    "reset_idle_timeout_on_send",
    "send_pings_automatically",
)


def _ws_behavior(websocket: Dict[str, Any], websocket_options: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The socketify ws behaviour served on ``/*``: ``websocket_options``
    (ASGI-style keys; ``compression`` a bool) as defaults under the dict's own keys."""
    behavior: Dict[str, Any] = {}
    options = websocket_options or {}
    unknown = set(options) - set(_WS_OPTION_KEYS) - {"compression"}
    if unknown:
        raise ValueError("unknown websocket_options keys: %s" % ", ".join(sorted(unknown)))
    if "compression" in options:
        compression = options["compression"]
        behavior["compression"] = CompressOptions.SHARED_COMPRESSOR if compression is True else int(compression or 0)
    for key in _WS_OPTION_KEYS:
        if key in options:
            behavior[key] = options[key]
    behavior.update(websocket)
    return behavior


_NOT_AN_APP = "WSGI needs a WSGI application: a callable(environ, start_response)"


class WSGI(AdapterSettings):
    """Serves a PEP 3333 application on the native core.

    ``WSGI(app, options=None, websocket=None, websocket_options=None,
    task_factory_max_items=100_000, lifespan=False, *, threads=None, **limits)``:
    ``options`` (AppOptions) serves HTTPS; ``websocket`` a socketify ws
    behaviour dict served on ``/*`` (or an ASGI app, with the ASGI adapter);
    ``threads`` the size of the pool running the application (default
    ``min(32, cpu_count + 4)``); ``limits`` the keyword-only limits of ``App``
    (``idle_timeout``, ``max_body_size``...).
    """

    def __init__(
        self,
        app: Callable,
        options: Optional[AppOptions] = None,
        websocket: Any = None,
        websocket_options: Optional[Dict[str, Any]] = None,
        task_factory_max_items: int = 100_000,
        lifespan: bool = False,
        *,
        threads: Optional[int] = None,
        **limits: Any,
    ) -> None:
        super().__init__(
            app, options, websocket, websocket_options, task_factory_max_items, lifespan, not_an_app=_NOT_AN_APP
        )
        if threads is None:
            threads = _default_threads()
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError("threads must be a positive int")
        if websocket is not None and not isinstance(websocket, dict):
            if not callable(websocket):
                raise TypeError("websocket must be a ws behaviour dict, an ASGI application or None")
            if not hasattr(_asgi_adapter(), "add_websocket_route"):
                raise RuntimeError(
                    "an ASGI websocket application alongside WSGI needs the ASGI adapter "
                    "(socketify.asgi), which this build does not provide; pass a ws "
                    "behaviour dict instead"
                )
        if isinstance(websocket, dict):
            _Behavior(_ws_behavior(websocket, websocket_options))  # bad keys fail here, not in run()
        self.threads = threads
        self._limits = limits
        self._multiprocess = False  # run(workers=N > 1): the app is served by several processes
        self._listen_args: Tuple[Any, Any] = (None, None)
        self.server: Optional[App] = None  # the App serving, once run() started
        # both made by listen(), before the first request
        self._bridge: LoopBridge = cast(LoopBridge, None)
        self._pool: ThreadPool = cast(ThreadPool, None)
        # hands a request to the pool (loop thread); set by listen()
        self._submit: Callable[[_Exchange], None] = cast(Callable[[_Exchange], None], None)
        # --limit-concurrency (set by the CLI): an object with enter() -> bool
        # and leave(), and what to call with the environ of a request refused.
        self._in_flight: Any = None
        self._on_refused: Optional[Callable[[Dict[str, Any]], None]] = None
        self._base: Dict[str, Any] = {}
        self._stopped = False
        self._thread: Optional[threading.Thread] = None
        self._loop_thread: Optional[int] = None
        self._pack_buffer = ffi.new("char[]", _PACK_SIZE)  # sk_req_scope_pack's output (loop thread)
        self._close_requested = False

    def listen(
        self,
        port_or_options: Union[int, dict, AppListenOptions, None] = None,
        handler: Optional[Callable[[AppListenOptions], Any]] = None,
    ) -> "WSGI":
        """Where to listen (as ``App.listen``), used by ``run()``; ``handler``
        gets the real options once listening."""
        self._listen_args = (port_or_options, handler)
        return self

    def run(self, workers: int = 1, block: bool = True) -> "WSGI":
        """Serves until ``close()``, SIGINT or SIGTERM. ``block=False`` serves
        from a background thread and returns once listening."""
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError("workers must be a positive int")
        if workers != 1:
            self._multiprocess = True  # wsgi.multiprocess, in every worker
            serve_workers(
                "WSGI",
                self._listen_args[0],
                lambda: self._serve(None),
                workers,
                block,
                _resolved("graceful_shutdown_timeout", self._limits.get("graceful_shutdown_timeout", _Default(10.0))),
            )
            return self
        if block:
            self._serve(None)
            return self
        serve_in_thread("WSGI", self, self._serve, "socketify-wsgi-loop")
        return self

    def close(self) -> "WSGI":
        """Stops accepting, lets in-flight responses finish, then stops serving
        (from any thread)."""
        self._close_requested = True
        server = self.server
        if server is None:
            return self
        if threading.get_ident() == self._loop_thread:
            server.close()
        else:
            try:
                server.loop.get_native_loop().call_soon_threadsafe(server.close)
            except RuntimeError:  # the loop is already closed
                pass
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(30)
        return self

    # -- serving -------------------------------------------------------------

    def _serve(self, started: Optional[threading.Event]) -> None:
        limits = {"close_unanswered": False}  # a WSGI application may take its time
        limits.update(self._limits)
        server = App(self.options, task_factory_max_items=self.task_factory_max_items, lifespan=self.lifespan, **limits)
        self._loop_thread = threading.get_ident()
        self._bridge = LoopBridge(server.loop.get_native_loop())
        self._exchange_class = type("_Exchange", (_Exchange,), {"server": self})
        counted = self._in_flight is not None
        self._pool = pool = ThreadPool(self.threads, self._run_counted if counted else self._run_app, "socketify-wsgi")
        self._submit = self._admit if counted else pool.submit
        self._stopped = False
        try:
            self._route(server)
            if isinstance(self.websocket, dict):
                server.ws("/*", _ws_behavior(self.websocket, self.websocket_options))
            ws_listening = None
            if self.websocket is not None and not isinstance(self.websocket, dict):
                ws_listening = _asgi_adapter().add_websocket_route(server, "/*", self.websocket, self.websocket_options)
            port_or_options, handler = self._listen_args

            def listening(config: AppListenOptions) -> None:
                self._base = self._base_environ(config)
                if ws_listening is not None:
                    ws_listening(config)
                if handler is not None:
                    handler(config)

            server.listen(port_or_options, listening)
            self.server = server
            if started is not None:
                started.set()
            if self._close_requested:
                server.close()
            server.run()
        finally:
            # Requests still running see the server stopped and end quietly.
            self._stopped = True
            pool.shutdown(5.0)
            self._bridge.close()
            server.dispose()

    def _base_environ(self, config: AppListenOptions) -> Dict[str, Any]:
        """The environ keys that are the same for every request."""
        if config.domain is not None:
            name, port = "localhost", "0"
        else:
            host = config.host or ""
            name = socket.gethostname() if host in ("", "0.0.0.0", "::", "[::]") else host
            port = str(config.port)
        base = {
            # Set for every request (placeholders here): updating a key costs
            # less than adding one.
            "REQUEST_METHOD": "",
            "PATH_INFO": "",
            "QUERY_STRING": "",
            "RAW_URI": "",
            "SERVER_PROTOCOL": "",
            "REMOTE_ADDR": "",
            "REMOTE_PORT": "",
            "wsgi.input": EMPTY_INPUT,
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
            "SERVER_NAME": name,
            "SERVER_PORT": port,
            "SCRIPT_NAME": "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.options is not None else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": self._multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }
        return _with_room(base)

    def _route(self, server: App) -> None:
        """Every request to ``_on_request``: straight from the core (no Request
        object, no handler wrapper: the environ is the request), unless a
        route hook (the CLI's features) must wrap the handler."""
        if App._route_hook is not None:

            def handler(res, req) -> None:
                self._on_request(res, req._native())
                req._ptr = None  # the environ holds the request: the App need not copy it

            server.any("/*", handler)
            return
        response_class = server._response_class
        req_ptr = server._current_request
        on_request = self._on_request
        pending = server._pending

        def dispatch(res_id: int) -> None:
            res = _new(response_class)
            res._id = res_id
            try:
                on_request(res, req_ptr)
            except Exception as error:
                server._report_error(error, res, None)
                return
            except BaseException as error:  # SystemExit/KeyboardInterrupt: stop serving, as App does
                server._report_error(error, res, None)
                server.close()
                return
            if not res._done:  # listen for the client going away
                res._pending = True
                pending[res_id] = res

        handler_id = _binding.register_route(dispatch, app_id=server._id)
        if lib.sk_app_route(server._native, ffi.NULL, 0, b"/*", 2, handler_id) != _SK_OK:
            raise RuntimeError("the WSGI route could not be registered")

    def _on_request(self, res, req_ptr) -> None:
        """Loop thread: the environ, then the application on the pool."""
        environ = self._base.copy()
        # Request line, version, client address and headers in one call
        # (instead of one per field: each cffi call costs more than the
        # copying it saves).
        native, res_id = res._native, res._id
        buf = self._pack_buffer
        size = _sk_req_scope_pack(native, res_id, req_ptr, buf, _PACK_SIZE)
        if size > _PACK_SIZE:
            buf = ffi.new("char[]", size)
            _sk_req_scope_pack(native, res_id, req_ptr, buf, size)
        parts = _unpack(buf, size).split(b"\0")
        method = parts[1].decode("latin-1")
        url = parts[2].decode("latin-1")
        query = parts[3].decode("latin-1")
        environ["REQUEST_METHOD"] = method
        # PEP 3333: the percent-decoded bytes, as a latin-1 str.
        environ["PATH_INFO"] = unquote_to_bytes(parts[2]).decode("latin-1") if "%" in url else url
        environ["QUERY_STRING"] = query
        environ["RAW_URI"] = url + "?" + query if query else url
        environ["SERVER_PROTOCOL"] = "HTTP/1.1" if parts[0][0] == 49 else "HTTP/1.0"  # b"1": HTTP/1.1
        address = parts[4]
        if address:
            environ["REMOTE_ADDR"] = address.decode("ascii")
            environ["REMOTE_PORT"] = parts[5].decode("ascii")
        else:  # a UNIX socket: no address
            del environ["REMOTE_ADDR"], environ["REMOTE_PORT"]
        has_body = False
        headers_end = len(parts) - 1  # the last NUL leaves an empty part
        if headers_end > 6:
            keys = _HEADER_KEYS
            for i in range(6, headers_end, 2):
                name = parts[i]
                key = keys.get(name)
                if key is None:
                    key = _header_key(name)
                if not key:
                    continue
                value = parts[i + 1].decode("latin-1")
                previous = environ.get(key)
                if previous is not None:
                    if key == "CONTENT_LENGTH":
                        continue  # the parser let only equal values through
                    value = previous + ("; " if key == "HTTP_COOKIE" else ", ") + value
                environ[key] = value
            length = environ.get("CONTENT_LENGTH")
            has_body = (length is not None and length != "0") or "HTTP_TRANSFER_ENCODING" in environ
        exchange: _Exchange = _new(self._exchange_class)
        exchange.res = res
        exchange.environ = environ
        if method == "HEAD":
            exchange.head = True
        if has_body:
            exchange._loop_with_body()
        res._aborted_handler = exchange._loop_aborted
        self._submit(exchange)

    def _admit(self, exchange: _Exchange) -> None:
        """Loop thread, under a concurrency limit: counted here, where queued
        requests are seen too, and at the limit answered 503 at once."""
        if self._in_flight.enter():
            self._pool.submit(exchange)
            return
        if self._on_refused is not None:
            self._on_refused(exchange.environ)
        exchange._loop_respond(
            b"503 Service Unavailable", b"Content-Type\0text/plain\0", 1, None, b"Service Unavailable"
        )

    def _run_counted(self, exchange: _Exchange) -> None:
        """Pool thread: a counted request is over once its body was closed."""
        try:
            self._run_app(exchange)
        finally:
            self._in_flight.leave()

    def _run_app(self, exchange: _Exchange) -> None:
        """Pool thread: one request through the application, start to close()."""
        result = None
        try:
            result = self.app(exchange.environ, exchange.start_response)
            if isinstance(result, (list, tuple)) and not exchange.headers_sent:
                exchange.respond(b"".join(result))
            elif type(result) is FileWrapper:
                exchange.send_file(result)
            else:
                send = exchange.send
                for chunk in result:
                    if type(chunk) is not bytes:
                        chunk = _body_bytes(chunk, "a WSGI application must yield bytes")
                    if chunk:
                        send(chunk)
                exchange.finish()
        except ClientDisconnected:
            environ = exchange.environ
            logger.info("client went away during %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            self._bridge.call(exchange._loop_fail)  # nothing to answer: only the clean-up
        except BaseException as error:
            exchange.fail(error)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as error:
                    logger.error("close() of the WSGI response iterable raised", exc_info=error)
