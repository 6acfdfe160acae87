"""Server-Sent Events (``text/event-stream``) over a streaming response.

    def events(res, req):
        sse = SSE(res, on_close=lambda sse: clients.discard(sse))
        clients.add(sse)
        sse.send("hello", event="greeting", id=1)

``SSE(res)`` (or ``open_sse(res)``) answers ``200`` with
``Content-Type: text/event-stream`` and ``Cache-Control: no-cache`` and
sends the headers at once; ``send`` writes one event, ``comment`` a
keep-alive line, ``close`` ends the stream. When the client goes away
``closed`` becomes True and ``on_close(sse)`` is called (once; also after
``close()``), and ``await sse.wait_closed()`` returns.

A client that disconnects is noticed when the connection reports it, at the
latest on a following write: send a ``comment()`` every few seconds (which
also keeps the connection from reaching the server's idle timeout).
"""

import asyncio
import json
from typing import Any, Callable, Iterable, List, Optional, Tuple

__all__ = ["SSE", "open_sse", "format_event"]


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    else:
        value = str(value)
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError("an SSE %s cannot contain CR, LF or NUL" % what)
    return value


def format_event(
    data: Any = None,
    event: Optional[str] = None,
    id: Any = None,
    retry: Optional[int] = None,
    dumps: Callable[[Any], str] = json.dumps,
) -> bytes:
    """One event in the ``text/event-stream`` format. ``data`` may be str,
    bytes (UTF-8) or anything else (JSON); each of its lines becomes a
    ``data:`` line (CR LF, CR and LF all split lines)."""
    lines = []
    if id is not None:
        lines.append("id: " + _text(id, "id"))
    if event is not None:
        lines.append("event: " + _text(event, "event name"))
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError("retry must be a non-negative int (milliseconds)")
        lines.append("retry: %d" % retry)
    if data is not None:
        if isinstance(data, (bytes, bytearray, memoryview)):
            text = bytes(data).decode("utf-8")
        elif isinstance(data, str):
            text = data
        else:
            dumped = dumps(data)
            text = dumped.decode("utf-8") if isinstance(dumped, bytes) else dumped
        if "\x00" in text:
            raise ValueError("SSE data cannot contain NUL")
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            lines.append("data: " + line if line else "data:")
    if not lines:
        raise ValueError("an event needs data, an event name, an id or retry")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class SSE:
    """A Server-Sent Events stream on ``res``.

    ``SSE(res, on_close=None, headers=None, status=200)``: writes the status
    and the event-stream headers (plus any extra ``(name, value)`` pairs) and
    sends them at once. Call it before the first ``await`` of the handler,
    or anywhere while the response has not started.
    """

    def __init__(
        self,
        res,
        on_close: Optional[Callable[["SSE"], Any]] = None,
        headers: Optional[Iterable[Tuple[Any, Any]]] = None,
        status: Any = 200,
    ) -> None:
        self.res = res
        self.on_close = on_close
        self.aborted = False
        self._closed = False
        self._waiters: List[asyncio.Future[Any]] = []
        app = getattr(res, "app", None)
        serializer = getattr(app, "_json_serializer", None) or json
        self._dumps = serializer.dumps
        res.add_aborted_handler(self._on_aborted)
        if res.aborted:
            self._finish(aborted=True)
            return
        res.write_status(status)
        res.write_header("Content-Type", "text/event-stream; charset=utf-8")
        res.write_header("Cache-Control", "no-cache")
        res.write_header("X-Accel-Buffering", "no")  # proxies must not hold the stream back
        for name, value in headers or ():
            res.write_header(name, value)
        res.write(b"")  # the head goes out now; the body is chunked

    @property
    def closed(self) -> bool:
        """True once the client went away or ``close()`` was called."""
        return self._closed

    def send(self, data: Any = None, event: Optional[str] = None, id: Any = None, retry: Optional[int] = None) -> bool:
        """Sends one event; False when the stream is closed (nothing sent)."""
        payload = format_event(data, event, id, retry, self._dumps)
        return self._write(payload)

    def comment(self, text: str = "") -> bool:
        """Sends a comment line (ignored by clients): a keep-alive."""
        text = _text(text, "comment") if text else ""
        return self._write((": " + text + "\n\n" if text else ":\n\n").encode("utf-8"))

    def close(self) -> None:
        """Ends the stream (the chunked body is terminated)."""
        if self._closed:
            return
        self.res.end_without_body()
        self._finish(aborted=False)

    async def wait_closed(self) -> None:
        """Returns once the stream is closed (client gone or ``close()``)."""
        if self._closed:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        await future

    def _write(self, payload: bytes) -> bool:
        if self._closed:
            return False
        if self.res.aborted:
            self._finish(aborted=True)
            return False
        self.res.write(payload)
        return not self.res.aborted

    def _on_aborted(self, res) -> None:
        self._finish(aborted=True)

    def _finish(self, aborted: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self.aborted = aborted
        for future in self._waiters:
            if not future.done():
                future.set_result(None)
        self._waiters = []
        callback = self.on_close
        if callback is not None:
            self.on_close = None
            app = getattr(self.res, "app", None)
            if app is not None:
                app._runner.call(callback, (self,), self.res)
            else:
                result = callback(self)
                if asyncio.iscoroutine(result):
                    asyncio.ensure_future(result)

    def __repr__(self) -> str:
        return "<SSE %s>" % ("closed" if self._closed else "open")


def open_sse(
    res,
    on_close: Optional[Callable[[SSE], Any]] = None,
    headers: Optional[Iterable[Tuple[Any, Any]]] = None,
    status: Any = 200,
) -> SSE:
    """Starts a Server-Sent Events stream on ``res``: ``SSE(res, ...)``."""
    return SSE(res, on_close, headers, status)
