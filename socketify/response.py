"""Response: writes the answer to one request."""

import asyncio
import datetime
import re
from http.cookies import SimpleCookie
from io import BytesIO
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, Tuple, Union, cast
from urllib.parse import parse_qsl, quote_plus

from ._binding import check, ffi, lib, native_address, run_corked
from .request import _SCRATCH_SIZE
from .status import invalid_status, status_line

if TYPE_CHECKING:
    from .app import App
    from .request import Request

__all__ = ["Response", "AppResponse"]

_SK_OK = lib.SK_OK
_SK_ERR_STATE = lib.SK_ERR_STATE
_SK_ERR_INVALID = lib.SK_ERR_INVALID

# Hot native calls, looked up once instead of on every request.
_sk_res_end = lib.sk_res_end
_sk_res_send = lib.sk_res_send
_sk_res_write = lib.sk_res_write
_sk_res_write_header = lib.sk_res_write_header
_sk_res_take_body = lib.sk_res_take_body
_SK_RES_BODY_TOO_BIG = lib.SK_RES_BODY_TOO_BIG

_JSON = b"application/json"
_TEXT_PLAIN = b"text/plain"
_STATUS_OK = b"200 OK"
_MAX_BODY_SIZE = (1 << 64) - 1


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _invalid_header(name: bytes, value: bytes) -> ValueError:
    """What is wrong with a header the core refused (the rules of its
    sk_field_valid, said in words)."""
    if not _TOKEN.fullmatch(name):
        return ValueError(
            "invalid header name %r: a header name is a token (letters, digits and "
            "!#$%%&'*+-.^_`|~), with no spaces, colons or control characters" % name
        )
    if name.lower() == b"content-length":
        return ValueError("invalid Content-Length %r: it must be plain digits" % value)
    return ValueError(
        "invalid value for header %r: CR, LF, NUL and other control characters are not allowed in a header value" % name
    )


def _to_bytes(value: Any, what: str) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is str:
        return value.encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return str(value).encode()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value).encode("latin-1")
    raise TypeError("%s must be str or bytes, not %s" % (what, type(value).__name__))


class Response:
    """The response to one request.

    Every write method returns ``self``. After the client went away
    (``aborted``) or the response ended, writes are documented no-ops.
    """

    # Per-app subclasses (App._response_class) carry ``app`` and ``_native``
    # as class attributes, and every other field starts as a class default, so
    # creating a Response per request sets a single attribute.
    app: "App" = cast("App", None)
    _native: Any = None
    aborted = False
    _done = False
    _aborted_handler: Optional[Callable[..., Any]] = None
    _data_handler: Optional[Callable[..., Any]] = None
    _writable_handler: Optional[Callable[..., Any]] = None
    _cookies: Optional[SimpleCookie] = None
    _pending = False
    _ws_behavior: Any = None  # set on the response to a WebSocket upgrade request
    _chunk_future: Optional["asyncio.Future[Any]"] = None  # the pending send_chunk piece
    _req: Optional["Request"] = None  # the Request, once the response outlives its dispatch
    _body_read = False  # get_data() returned the whole body

    def __init__(self, res_id: int) -> None:
        self._id = res_id

    # -- internal -------------------------------------------------------

    def _check(self, status: int) -> bool:
        """Maps a native status to Python (``_binding.check``): True when the
        call took effect, False (and the response done) when it is gone."""
        if check(
            status,
            "invalid status line or header (control characters are not allowed)",
            "headers cannot be written after the body has started",
        ):
            return True
        self._done = True  # aborted or already ended: a documented no-op
        return False

    def _started(self) -> bool:
        """True once anything of the response (status, headers, body) was written."""
        state = lib.sk_res_state(self._native, self._id)
        return not state & lib.SK_RES_VALID or bool(state & (lib.SK_RES_HEADERS_SENT | lib.SK_RES_BODY_STARTED))

    def _finished(self) -> None:
        self._done = True
        if self._pending:
            self.app._pending.pop(self._id, None)
            self._pending = False
            self._req = None  # req._res refers back: no cycle left for the GC

    def _body(self, message: Any) -> Tuple[bytes, bool]:
        """(bytes, is_json) for any payload the API accepts."""
        if type(message) is bytes:
            return message, False
        if type(message) is str:
            return message.encode(), False
        if message is None:
            return b"", False
        if isinstance(message, (bytearray, memoryview)):
            return bytes(message), False
        if isinstance(message, str):
            return str(message).encode(), False
        dumped = self.app._json_serializer.dumps(message)
        return (dumped.encode() if isinstance(dumped, str) else bytes(dumped)), True

    def _discard_head(self) -> bool:
        """Forgets the status, headers and cookies not sent yet; True when
        the response can start over (nothing of it left the process)."""
        self._cookies = None
        return lib.sk_res_discard_head(self._native, self._id) == _SK_OK

    def _write_pending_cookies(self) -> None:
        cookies = self._cookies
        if cookies:
            self._cookies = None
            for morsel in cookies.values():
                self.write_header(b"Set-Cookie", morsel.OutputString())

    # -- status and headers ---------------------------------------------

    def write_status(self, status: Union[int, str, bytes]) -> "Response":
        """Writes the status line. It must come before any header or body;
        a later call is a no-op (the status has already been sent)."""
        if self._done:
            return self
        line = status_line(status)
        result = lib.sk_res_write_status(self._native, self._id, line, len(line))
        if result == _SK_ERR_INVALID:
            raise invalid_status(line, "the reason phrase may hold no control characters; at most 256 bytes")
        if result != _SK_ERR_STATE:
            self._check(result)
        return self

    def write_header(self, key: Union[str, bytes], value: Any) -> "Response":
        """Adds a header. ``Content-Length``, ``Transfer-Encoding`` and
        ``Connection`` are read for their meaning; the framing is ours."""
        if self._done:
            return self
        # str and bytes first, without a call: this runs for most responses.
        if type(key) is str:
            name = key.encode()
        else:
            name = key if type(key) is bytes else _to_bytes(key, "header name")
        if type(value) is str:
            value = value.encode()
        elif type(value) is not bytes:
            if isinstance(value, (int, float, str, bytearray, memoryview)) and not isinstance(value, bool):
                value = _to_bytes(value, "header value")
            else:
                value, _ = self._body(value)
        status = _sk_res_write_header(self._native, self._id, name, len(name), value, len(value))
        if status != _SK_OK:
            if status == _SK_ERR_INVALID:
                raise _invalid_header(name, value)
            self._check(status)
        return self

    # -- body -----------------------------------------------------------

    def write(self, message: Any) -> "Response":
        """Writes a body chunk without ending; without a Content-Length the
        body is sent with chunked transfer encoding."""
        if self._done:
            return self
        if self._cookies:
            self._write_pending_cookies()
        data, _ = self._body(message)
        self._check(_sk_res_write(self._native, self._id, data, len(data)))
        return self

    def end(self, message: Any = b"", end_connection: bool = False) -> "Response":
        """Ends the response with a body (Content-Length added). A dict or
        list is sent as JSON; None ends without a body."""
        if self._done:
            return self
        if message is None:
            return self.end_without_body(end_connection)
        if type(message) is bytes:
            data = message
        elif type(message) is str:
            data = message.encode()
        else:
            data, is_json = self._body(message)
            if is_json and not lib.sk_res_state(self._native, self._id) & lib.SK_RES_BODY_STARTED:
                self.write_header(b"Content-Type", _JSON)
        if self._cookies:
            self._write_pending_cookies()
        status = _sk_res_end(self._native, self._id, data, len(data), 1 if end_connection else 0)
        if status == _SK_OK:
            self._done = True
            if self._pending:
                self._finished()
        else:
            self._check(status)
        return self

    def end_without_body(self, end_connection: bool = False) -> "Response":
        """Ends the response with headers only (``Content-Length: 0`` unless
        the status or a HEAD request forbids a body)."""
        if self._done:
            return self
        if self._cookies:
            self._write_pending_cookies()
        if self._check(lib.sk_res_end_without_body(self._native, self._id, 1 if end_connection else 0)):
            self._finished()
        return self

    def send(
        self,
        message: Any = b"",
        content_type: Union[str, bytes] = _TEXT_PLAIN,
        status: Union[int, str, bytes] = _STATUS_OK,
        headers: Optional[Iterable[Tuple[Any, Any]]] = None,
        end_connection: bool = False,
    ) -> "Response":
        """Status, headers, Content-Type and body in one call; a dict or list
        is sent as JSON with ``application/json``."""
        if self._done:
            return self
        if type(message) is dict or type(message) is list:
            dumped = self.app._json_serializer.dumps(message)
            data = dumped.encode() if type(dumped) is str else bytes(dumped)
            is_json = True
        else:
            data, is_json = self._body(message)
        if is_json and (content_type is _TEXT_PLAIN or content_type in (b"text/plain", "text/plain")):
            content_type = _JSON
        if type(content_type) is str:
            content_type = content_type.encode("latin-1")
        # The core writes the status only if none was written yet.
        line = status if status is _STATUS_OK else status_line(status)
        if headers or self._cookies:
            self.write_status(line)
            line = None  # type: ignore[assignment]  # written above: the core is given none
            if headers:
                for name, value in headers:
                    self.write_header(name, value)
            self._write_pending_cookies()
        if content_type is None:
            content_type, ct_len = ffi.NULL, 0
        else:
            ct_len = len(content_type)
        result = _sk_res_send(
            self._native,
            self._id,
            ffi.NULL if line is None else line,
            0 if line is None else len(line),
            content_type,
            ct_len,
            data,
            len(data),
            1 if end_connection else 0,
        )
        if result == _SK_OK:
            self._done = True
            if self._pending:
                self._finished()
        else:
            self._check(result)
        return self

    # -- state ----------------------------------------------------------

    def has_responded(self) -> bool:
        """True once the response ended (False after an abort)."""
        return self._done and not self.aborted

    def on_aborted(self, handler: Callable[["Response"], Any]) -> "Response":
        """Calls ``handler(res)`` if the client goes away before the response ends."""
        self._aborted_handler = handler
        self._track()
        return self

    def grab_aborted_handler(self) -> "Response":
        """Tracks aborts (sets ``aborted``) without a user callback."""
        self._track()
        return self

    def _track(self) -> None:
        if not self._pending and not self._done:
            self._pending = True
            self.app._pending[self._id] = self

    def _on_aborted(self) -> None:
        self.aborted = True
        self._done = True
        self._pending = False
        handler = self._aborted_handler
        req, self._req = self._req, None
        if handler is not None:
            self._aborted_handler = None
            self.app._runner.call(handler, (self,), self, req)

    # -- body reading ---------------------------------------------------

    def on_data(self, handler: Callable[["Response", bytes, bool], Any]) -> "Response":
        """Calls ``handler(res, chunk, is_last)`` for every piece of the request body."""
        if self._done:
            return self
        self._data_handler = handler
        self._track()
        self._check(lib.sk_res_on_data(self._native, self._id))
        return self

    def _on_data(self, chunk: bytes, is_last: bool) -> None:
        handler = self._data_handler
        if handler is not None:
            self.app._runner.call(handler, (self, chunk, is_last), self, self._req)

    def _take_body(self) -> Optional[bytes]:
        """The whole body at once if all of it has arrived and nothing read
        it yet (the common case for small bodies), else None."""
        app = self.app
        lenp = app._lenp
        status = _sk_res_take_body(self._native, self._id, app._scratch, _SCRATCH_SIZE, lenp)
        if status == _SK_OK:
            return ffi.unpack(app._scratch, lenp[0])
        if status == _SK_RES_BODY_TOO_BIG:
            size = lenp[0]
            buf = ffi.new("char[]", size)
            if _sk_res_take_body(self._native, self._id, buf, size, lenp) == _SK_OK:
                return ffi.unpack(buf, lenp[0])
        return None

    async def get_data(self) -> BytesIO:
        """The whole request body (what arrived, if the client aborted)."""
        if self._done or self._body_read:
            return BytesIO()
        data = self._take_body()
        if data is not None:
            self._body_read = True
            return BytesIO(data)  # no future, no loop round trip
        buffer = BytesIO()
        future = self.app.loop.create_future()

        def collect(res, chunk, is_last):
            buffer.write(chunk)
            if is_last and not future.done():
                future.set_result(None)

        def aborted(res):
            if not future.done():
                future.set_result(None)

        self._aborted_handler = _chain(self._aborted_handler, aborted)
        self.on_data(collect)
        await future
        self._body_read = True
        buffer.seek(0)
        return buffer

    async def get_text(self, encoding: str = "utf-8") -> Optional[str]:
        """The request body decoded as text, or None if it cannot be decoded."""
        data = (await self.get_data()).getvalue()
        try:
            return data.decode(encoding)
        except Exception:
            return None

    async def get_json(self) -> Any:
        """The request body parsed as JSON, or None."""
        data = (await self.get_data()).getvalue()
        try:
            return self.app._json_serializer.loads(data)
        except Exception:
            return None

    # -- flow control and connection -----------------------------------

    def pause(self) -> "Response":
        """Stops reading from the client until ``resume()``."""
        if not self._done:
            self._check(lib.sk_res_pause(self._native, self._id))
        return self

    def resume(self) -> "Response":
        """Restarts reading after ``pause()``."""
        if not self._done:
            self._check(lib.sk_res_resume(self._native, self._id))
        return self

    def write_continue(self) -> "Response":
        """Sends ``100 Continue`` (for ``Expect: 100-continue``)."""
        if not self._done:
            result = lib.sk_res_write_continue(self._native, self._id)
            if result != _SK_ERR_STATE:
                self._check(result)
        return self

    def close(self) -> "Response":
        """Closes the connection at once, without finishing the response."""
        if not self._done:
            lib.sk_res_close(self._native, self._id)
            self.aborted = True
            self._finished()
        return self

    def get_write_offset(self) -> int:
        """Body bytes written so far."""
        return lib.sk_res_write_offset(self._native, self._id)

    def get_buffered_amount(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return lib.sk_res_buffered_amount(self._native, self._id)

    def get_remote_address_bytes(self) -> Optional[bytes]:
        """The peer's IP address as 4 or 16 raw bytes (None on a UNIX socket)."""
        return native_address(lib.sk_res_remote_address, self._native, self._id, False)

    def get_remote_address(self) -> Optional[str]:
        """The peer's IP address as text, e.g. ``"127.0.0.1"``."""
        return native_address(lib.sk_res_remote_address, self._native, self._id, True)

    def run_async(self, coro) -> Any:
        """Runs a coroutine on the app loop; errors go to the error handler."""
        self.grab_aborted_handler()
        return self.app._runner.start(coro, self, self._req)

    # -- known-size bodies and backpressure ------------------------------

    def try_end(self, message: Any, total_size: int, end_connection: bool = False) -> Tuple[bool, bool]:
        """Writes one piece of a body of ``total_size`` bytes. Returns
        ``(ok, has_responded)``; ``ok`` is False under backpressure: wait for
        ``on_writable`` before writing more."""
        if self._done:
            return False, self.has_responded()
        if type(total_size) is not int:
            if not isinstance(total_size, int) or isinstance(total_size, bool):
                raise TypeError(
                    "try_end: total_size must be an int (the whole body's length in bytes), "
                    "not %s" % type(total_size).__name__
                )
            total_size = int(total_size)
        if total_size < 0 or total_size > _MAX_BODY_SIZE:
            raise ValueError(
                "try_end: total_size must be between 0 and 2**64-1 (the whole body's "
                "length in bytes), not %d" % total_size
            )
        data, _ = self._body(message)
        written = lib.sk_res_write_offset(self._native, self._id)
        if written + len(data) > total_size:
            raise ValueError(
                "try_end: this piece of %d bytes, after %d bytes already written, goes past "
                "total_size=%d; total_size is the length of the whole body" % (len(data), written, total_size)
            )
        if self._cookies:
            self._write_pending_cookies()
        done = ffi.new("int *")
        result = lib.sk_res_try_end(
            self._native, self._id, data, len(data), total_size, 1 if end_connection else 0, done
        )
        if result < 0:
            self._check(result)
            return False, False
        if done[0]:
            self._done = True
            if self._pending:
                self._finished()
        return bool(result), bool(done[0])

    def write_offset(self, offset: int) -> "Response":
        """Accepted for compatibility: the core always accepts a whole piece,
        so the offset it reports is already where the next piece starts."""
        return self

    def on_writable(self, handler: Callable[["Response", int], bool]) -> "Response":
        """Calls ``handler(res, offset)`` when the send buffer drains."""
        self._writable_handler = handler
        self._track()
        return self

    def send_chunk(self, buffer: Any, total_size: int) -> "asyncio.Future":
        """Writes one piece of a known-size body; the future resolves to
        ``(ok, done)`` once the piece has left (or the client went away)."""
        future = self.app.loop.create_future()
        if self._done:
            future.set_result((False, self.has_responded()))
            return future
        if self._chunk_future is None:
            # Hooks installed once per response; each piece swaps the future.
            def writable(res, offset):
                ok, done = res.try_end(b"", total_size)
                pending = res._chunk_future
                if ok and pending is not None and not pending.done():
                    pending.set_result((ok, done))
                return ok

            def aborted(res):
                pending = res._chunk_future
                if pending is not None and not pending.done():
                    pending.set_result((False, True))

            self.on_writable(writable)
            self.add_aborted_handler(aborted)
        self._chunk_future = future
        ok, done = self.try_end(buffer, total_size)
        if self.aborted and not future.done():
            future.set_result((False, True))
        elif (ok or done) and not future.done():
            future.set_result((ok, done))
        return future

    def add_aborted_handler(self, handler: Callable[["Response"], Any]) -> "Response":
        """Adds ``handler(res)`` to run on abort, keeping any handler already set."""
        self._aborted_handler = _chain(self._aborted_handler, handler)
        self._track()
        return self

    # -- corking --------------------------------------------------------

    def cork(self, callback: Callable[["Response"], Any]) -> "Response":
        """Runs ``callback(res)`` so that all its writes leave in one syscall."""
        run_corked(self._native, callback, self)
        return self

    def cork_end(self, message: Any = b"", end_connection: bool = False) -> "Response":
        """``end`` inside ``cork``."""
        return self.cork(lambda res: res.end(message, end_connection))

    def cork_send(
        self,
        message: Any = b"",
        content_type: Union[str, bytes] = _TEXT_PLAIN,
        status: Union[int, str, bytes] = _STATUS_OK,
        headers=None,
        end_connection: bool = False,
    ) -> "Response":
        """``send`` inside ``cork``."""
        return self.cork(lambda res: res.send(message, content_type, status, headers, end_connection))

    # -- helpers --------------------------------------------------------

    def set_cookie(self, name: str, value: str, options: Optional[Dict[str, Any]] = None) -> "Response":
        """Adds a ``Set-Cookie`` header (one per cookie) when the headers go
        out. ``options``: path, domain, expires (datetime or str), max_age /
        max-age, secure, httponly, samesite, comment, version."""
        if self._done:
            return self
        # Built aside and added only once every option passed: a refused
        # option leaves no half-made cookie behind.
        cookie = SimpleCookie()
        cookie[name] = quote_plus(str(value))
        morsel = cookie[name]
        for key, option in (options or {}).items():
            key = key.lower().replace("_", "-")
            if key == "expires" and isinstance(option, datetime.datetime):
                if option.tzinfo is not None:
                    option = option.astimezone(datetime.timezone.utc)
                option = option.strftime("%a, %d %b %Y %H:%M:%S GMT")
            if isinstance(option, str) and any(c in option for c in "\r\n;"):
                raise ValueError("cookie option %r contains a forbidden character" % key)
            morsel[key] = option
        if self._cookies is None:
            self._cookies = SimpleCookie()
        self._cookies[name] = morsel
        return self

    def redirect(self, location: str, status_code: int = 302) -> "Response":
        """Answers with ``status_code`` and a ``Location`` header."""
        self.write_status(status_code)
        self.write_header(b"Location", location)
        return self.end(b"")

    def render(self, *args, **kwargs) -> "Response":
        """Renders with the app's template engine and sends it as text/html."""
        template = self.app._template
        if template is None:
            raise RuntimeError("no template engine: call app.template(engine) first")
        html = template.render(*args, **kwargs)
        return self.cork(lambda res: res.write_header(b"Content-Type", b"text/html; charset=utf-8").end(html))

    async def get_form_urlencoded(self, encoding: str = "utf-8") -> Optional[Dict[str, str]]:
        """The request body parsed as a URL-encoded form (last value per key), or None."""
        data = (await self.get_data()).getvalue()
        try:
            text = data.decode("ascii")
            return dict(parse_qsl(text, keep_blank_values=True, encoding=encoding, errors="strict"))
        except (UnicodeDecodeError, ValueError):
            return None

    def get_proxied_remote_address_bytes(self) -> Optional[bytes]:
        """The client address from a PROXY protocol header, as raw bytes, or None."""
        return native_address(lib.sk_res_proxied_address, self._native, self._id, False)

    def get_proxied_remote_address(self) -> Optional[str]:
        """The client address from a PROXY protocol header, as text, or None."""
        return native_address(lib.sk_res_proxied_address, self._native, self._id, True)

    def get_native_handle(self) -> Optional[int]:
        """The socket's file descriptor, or None once the connection closed."""
        fd = lib.sk_res_native_handle(self._native, self._id)
        return fd if fd >= 0 else None

    # -- WebSocket upgrade ------------------------------------------------

    def upgrade(
        self,
        sec_web_socket_key: Union[str, bytes],
        sec_web_socket_protocol: Union[str, bytes],
        sec_web_socket_extensions: Union[str, bytes],
        socket_context: Any,
        user_data: Any = None,
    ) -> bool:
        """Completes a WebSocket handshake (from a ws route's ``upgrade``
        handler, possibly after ``await``). ``user_data`` is what
        ``ws.get_user_data()`` returns. False if the client went away."""
        if self._done:
            return False
        behavior = self._ws_behavior
        if behavior is None:
            raise RuntimeError("upgrade() is only possible on a request to an app.ws route")
        key = _to_bytes(sec_web_socket_key or b"", "sec_web_socket_key")
        protocol = _to_bytes(sec_web_socket_protocol or b"", "sec_web_socket_protocol")
        extensions = _to_bytes(sec_web_socket_extensions or b"", "sec_web_socket_extensions")
        ws_id = ffi.new("sk_res_id_t *")
        status = lib.sk_res_upgrade(
            self._native, self._id, key, len(key), protocol, len(protocol), extensions, len(extensions), ws_id
        )
        if not check(
            status,
            "invalid Sec-WebSocket-Key or Sec-WebSocket-Protocol",
            "the response has already started; it cannot be upgraded",
        ):
            self._done = True
            return False
        self._done = True
        if self._pending:
            self._finished()
        self.app._ws_opened(ws_id[0], behavior, user_data)
        return True


def _chain(first: Optional[Callable], second: Callable) -> Callable:
    if first is None:
        return second

    def both(res):
        second(res)
        return first(res)

    return both


AppResponse = Response
