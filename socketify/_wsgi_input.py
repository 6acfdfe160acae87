"""``wsgi.input``: the request body as it arrives, for the WSGI adapter."""

from collections import deque
from typing import List, Optional

__all__ = ["ClientDisconnected", "EMPTY_INPUT", "Input"]

# Request body bytes received but not yet read by the application, past
# which the core stops reading from the socket (and resumes below _INPUT_LOW).
_INPUT_HIGH = 256 * 1024
_INPUT_LOW = 64 * 1024


class ClientDisconnected(OSError):
    """The client went away: raised by ``wsgi.input`` reads and ``write()``.
    The server ends the request quietly when the application lets it propagate."""


class _EmptyInput:
    """``wsgi.input`` of a request without a body (stateless, shared)."""

    def read(self, size: Optional[int] = -1) -> bytes:
        """Always ``b""``."""
        return b""

    def readline(self, size: Optional[int] = -1) -> bytes:
        """Always ``b""``."""
        return b""

    def readlines(self, hint: Optional[int] = -1) -> List[bytes]:
        """Always ``[]``."""
        return []

    def __iter__(self):
        return iter(())


EMPTY_INPUT = _EmptyInput()


class Input:
    """``wsgi.input``: the request body as it arrives, never buffered whole.

    The first read asks the core for the body (sending ``100 Continue`` when
    the client waits for it); pieces are queued here and the socket is
    paused while more than _INPUT_HIGH bytes wait for the application."""

    def __init__(self, exchange) -> None:  # a wsgi._Exchange
        self._ex = exchange
        self._chunks: deque = deque()  # loop appends, application pops
        self._received = 0  # written by the loop thread only
        self._consumed = 0  # written by the application thread only
        self._eof = False
        self._started = False
        self._paused = False  # loop thread only writes it
        self._resume_asked = False
        self._buf = bytearray()  # application side: what a read did not return

    # -- application thread ------------------------------------------------

    def _resume_due(self) -> bool:
        """The core is paused, the application has caught up, and no resume is on its way."""
        return self._paused and not self._resume_asked and self._received - self._consumed < _INPUT_LOW

    def _ask_resume(self) -> None:
        self._resume_asked = True
        self._ex.server._bridge.call(self._loop_resume)

    def _next_chunk(self) -> bytes:
        """The next piece of the body, waiting for it; ``b""`` at its end."""
        chunks = self._chunks
        ex = self._ex
        while True:
            if chunks:
                chunk = chunks.popleft()
                self._consumed += len(chunk)
                if self._resume_due():
                    self._ask_resume()
                return chunk
            if self._eof:
                return b""
            if ex.aborted or ex.server._stopped:
                raise ClientDisconnected("the client closed the connection before sending the whole body")
            if not self._started:
                self._started = True
                ex.server._bridge.call(self._loop_start)
            # The loop may pause after this thread's last pop (it read
            # _consumed before that pop): with nothing left to pop, only
            # this check asks it to resume, so the wait ends on it too.
            if self._resume_due():
                self._ask_resume()
            ex._wait(lambda: chunks or self._eof or self._resume_due())

    def read(self, size: Optional[int] = -1) -> bytes:
        """Up to ``size`` bytes (all of the rest when omitted or negative);
        fewer only at the end of the body."""
        buf = self._buf
        if size is None or size < 0:
            parts = [bytes(buf)]
            buf.clear()
            while True:
                chunk = self._next_chunk()
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        if not buf and size:
            chunk = self._next_chunk()
            if len(chunk) == size or not chunk:
                return chunk
            buf += chunk
        while len(buf) < size:
            chunk = self._next_chunk()
            if not chunk:
                break
            buf += chunk
        data = bytes(buf[:size])
        del buf[:size]
        return data

    def readline(self, size: Optional[int] = -1) -> bytes:
        """One line, ``\\n`` included (at most ``size`` bytes when given)."""
        buf = self._buf
        limit = -1 if size is None else size
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end >= 0:
                end += 1
                break
            if 0 <= limit <= len(buf):
                end = limit
                break
            start = len(buf)
            chunk = self._next_chunk()
            if not chunk:
                end = len(buf)
                break
            buf += chunk
        if 0 <= limit < end:
            end = limit
        line = bytes(buf[:end])
        del buf[:end]
        return line

    def readlines(self, hint: Optional[int] = -1) -> List[bytes]:
        """Lines until the end of the body (or until ``hint`` bytes were read)."""
        lines: List[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    # -- loop thread -------------------------------------------------------

    def _loop_start(self) -> None:
        self._ex.res.on_data(self._loop_data)

    def _loop_data(self, res, chunk: bytes, is_last: bool) -> None:
        if chunk:
            self._chunks.append(chunk)
            self._received += len(chunk)
        if is_last:
            self._eof = True
        elif not self._paused and self._received - self._consumed > _INPUT_HIGH:
            self._paused = True
            res.pause()
        self._ex._loop_notify()

    def _loop_resume(self) -> None:
        self._resume_asked = False
        if self._paused and self._received - self._consumed < _INPUT_HIGH:
            self._paused = False
            self._ex.res.resume()

    def _loop_broken(self) -> None:
        self._ex._loop_broken()

    def _loop_release(self) -> None:
        """The response ends: let the core read (and discard) the rest."""
        if self._paused:
            self._paused = False
            self._ex.res.resume()
