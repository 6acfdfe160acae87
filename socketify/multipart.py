"""Streaming ``multipart/form-data`` (RFC 7578) parsing in constant memory.

``MultipartParser`` is a sans-IO state machine: feed it the body in pieces
of any size (a boundary may be split anywhere) and it reports each part's
beginning, its data and its end, through callbacks and as a list of events.

``parse_multipart(res, req, ...)`` reads a request body through
``res.on_data`` with it: fields are collected as text, files are streamed to
temporary files (or to an ``on_file`` callback), and it returns
``(fields, files)``. Malformed bodies and exceeded limits raise
``MultipartError`` (answer 400).
"""

import asyncio
import os
import tempfile
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Tuple, Union, cast
from urllib.parse import unquote

from .loop import is_awaitable

__all__ = [
    "MultipartError",
    "MultipartParser",
    "Part",
    "UploadedFile",
    "FormDict",
    "parse_multipart",
    "get_boundary",
    "parse_options_header",
    "PART_BEGIN",
    "PART_DATA",
    "PART_END",
]

PART_BEGIN = "part_begin"
PART_DATA = "part_data"
PART_END = "part_end"

DEFAULT_MAX_PARTS = 1000
DEFAULT_MAX_HEADER_SIZE = 16 * 1024
DEFAULT_MAX_FIELD_SIZE = 1024 * 1024
_MAX_PADDING = 1024  # transport padding (spaces) allowed after a boundary

_TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class MultipartError(ValueError):
    """The body is not valid multipart/form-data or exceeds a limit."""


# -- header values ---------------------------------------------------------------


def parse_options_header(value: Optional[str]) -> Tuple[str, Dict[str, str]]:
    """Splits ``type; key=value; key="quoted"`` into the lower-cased main
    value and a dict of parameters (lower-cased names). ``key*=`` (RFC 8187,
    ``charset'lang'pct-encoded``) wins over ``key=``."""
    if not value:
        return "", {}
    main, _, rest = value.partition(";")
    params: Dict[str, str] = {}
    extended: Dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        start = i
        while i < n and rest[i] not in "=;":
            i += 1
        key = rest[start:i].strip().lower()
        if i >= n or rest[i] == ";":
            continue  # a parameter without a value carries nothing
        i += 1  # "="
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            i += 1
            chars = []
            while i < n and rest[i] != '"':
                # Only \" and \\ are escapes: browsers send Windows paths unescaped.
                if rest[i] == "\\" and i + 1 < n and rest[i + 1] in '"\\':
                    i += 1
                chars.append(rest[i])
                i += 1
            i += 1  # closing quote (or the end)
            val = "".join(chars)
            while i < n and rest[i] != ";":
                i += 1
        else:
            start = i
            while i < n and rest[i] != ";":
                i += 1
            val = rest[start:i].strip()
        if not key:
            continue
        if key.endswith("*"):
            charset, sep1, remainder = val.partition("'")
            _lang, sep2, encoded = remainder.partition("'")
            if sep1 and sep2:
                try:
                    extended.setdefault(key[:-1], unquote(encoded, encoding=charset or "utf-8", errors="strict"))
                except (LookupError, UnicodeDecodeError):
                    pass
            continue
        params.setdefault(key, val)
    params.update(extended)
    return main.strip().lower(), params


def get_boundary(content_type: Optional[str]) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type, as bytes."""
    if not content_type:
        raise MultipartError("missing Content-Type")
    main, params = parse_options_header(content_type)
    if main != "multipart/form-data":
        raise MultipartError("Content-Type is not multipart/form-data")
    boundary = params.get("boundary")
    if not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    return _check_boundary(boundary)


def _check_boundary(boundary: Union[str, bytes]) -> bytes:
    if isinstance(boundary, str):
        try:
            boundary = boundary.encode("ascii")
        except UnicodeEncodeError:
            raise MultipartError("the boundary must be ASCII") from None
    boundary = bytes(boundary)
    # RFC 2046 allows 1-70 characters; some clients go longer. CR/LF never.
    if not 1 <= len(boundary) <= 200 or any(c < 0x20 or c > 0x7E for c in boundary):
        raise MultipartError("invalid multipart boundary")
    return boundary


# -- parts -----------------------------------------------------------------------


class Part:
    """One part's headers, as the parser reports it."""

    __slots__ = ("name", "filename", "content_type", "charset", "headers", "size")

    def __init__(self, headers: Dict[str, str]) -> None:
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise MultipartError("a part has no Content-Disposition")
        kind, params = parse_options_header(disposition)
        if kind != "form-data":
            raise MultipartError("a part's Content-Disposition is not form-data")
        if "name" not in params:
            raise MultipartError("a part has no name")
        self.headers = headers
        self.name: str = params["name"]
        filename = params.get("filename")
        # Old browsers send a full Windows path: keep its last component.
        if filename and (filename[1:3] == ":\\" or filename[:2] == "\\\\"):
            filename = filename.rsplit("\\", 1)[-1]
        self.filename: Optional[str] = filename
        content_type, type_params = parse_options_header(headers.get("content-type"))
        self.content_type: Optional[str] = headers.get("content-type") and content_type
        self.charset: Optional[str] = type_params.get("charset")
        self.size = 0

    @property
    def is_file(self) -> bool:
        """A part with a ``filename`` parameter (even empty) is a file."""
        return self.filename is not None

    def __repr__(self) -> str:
        return "<Part name=%r filename=%r content_type=%r size=%d>" % (
            self.name,
            self.filename,
            self.content_type,
            self.size,
        )


def _parse_part_headers(block: bytes) -> Dict[str, str]:
    headers: Dict[str, str] = {}
    last = None
    for line in block.split(b"\r\n"):
        if b"\n" in line or b"\r" in line or b"\x00" in line:
            raise MultipartError("invalid line ending in part headers")
        if line[:1] in (b" ", b"\t"):
            if last is None:
                raise MultipartError("invalid part header continuation")
            headers[last] += " " + _header_text(line.strip())  # obsolete line folding
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or any(c not in _TOKEN_CHARS for c in name):
            raise MultipartError("invalid part header %r" % line[:100])
        last = name.decode("ascii").lower()
        headers[last] = _header_text(value.strip())
    return headers


def _header_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")  # what browsers send for non-ASCII file names
    except UnicodeDecodeError:
        return value.decode("latin-1")


# -- the parser --------------------------------------------------------------------

_PREAMBLE, _AFTER_BOUNDARY, _HEADERS, _DATA, _END, _ERROR = range(6)

Event = Tuple[str, Part, bytes]


class MultipartParser:
    """Incremental multipart/form-data parser (no I/O).

    ``feed(data)`` takes the next piece of the body (any size, down to one
    byte) and returns the events it completed, each a tuple
    ``(kind, part, data)``: ``(PART_BEGIN, part, b"")``,
    ``(PART_DATA, part, chunk)``, ``(PART_END, part, b"")``. The optional
    callbacks ``on_part_begin(part)``, ``on_data(part, chunk)`` and
    ``on_part_end(part)`` are called for the same events, in order.
    ``close()`` checks that the body ended with the closing boundary.

    Limits (``MultipartError`` when exceeded): ``max_parts``,
    ``max_header_size`` (bytes of one part's header section),
    ``max_file_size`` (bytes of one file part), ``max_field_size`` (bytes
    of one non-file part). None disables a limit.
    """

    def __init__(
        self,
        boundary: Union[str, bytes],
        on_part_begin: Optional[Callable[[Part], Any]] = None,
        on_data: Optional[Callable[[Part, bytes], Any]] = None,
        on_part_end: Optional[Callable[[Part], Any]] = None,
        *,
        max_parts: Optional[int] = DEFAULT_MAX_PARTS,
        max_header_size: Optional[int] = DEFAULT_MAX_HEADER_SIZE,
        max_file_size: Optional[int] = None,
        max_field_size: Optional[int] = DEFAULT_MAX_FIELD_SIZE,
    ) -> None:
        self.boundary = _check_boundary(boundary)
        self.on_part_begin = on_part_begin
        self.on_data = on_data
        self.on_part_end = on_part_end
        self.max_parts = max_parts
        self.max_header_size = max_header_size
        self.max_file_size = max_file_size
        self.max_field_size = max_field_size
        self._delimiter = b"\r\n--" + self.boundary
        # The first boundary may open the body without a CRLF before it.
        self._buffer = bytearray(b"\r\n")
        self._state = _PREAMBLE
        self._scanned = 0  # header bytes already searched for the blank line
        self._part: Optional[Part] = None
        self._error: Optional[str] = None
        self.parts = 0

    @property
    def complete(self) -> bool:
        """True once the closing boundary was read."""
        return self._state == _END

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> List[Event]:
        """Parses the next piece of the body; returns the completed events."""
        if self._state == _ERROR:
            raise MultipartError(self._error)
        if self._state == _END or not data:
            return []  # the epilogue is ignored
        self._buffer += data
        events: List[Event] = []
        try:
            self._run(events)
        except MultipartError as error:
            self._state = _ERROR
            self._error = str(error)
            self._buffer = bytearray()
            raise
        return events

    def close(self) -> List[Event]:
        """The body ended: raises MultipartError unless it was complete."""
        if self._state == _ERROR:
            raise MultipartError(self._error)
        if self._state != _END:
            self._state = _ERROR
            self._error = "the multipart body ended before its closing boundary"
            raise MultipartError(self._error)
        return []

    # -- internals -------------------------------------------------------------

    def _emit(self, events: List[Event], kind: str, part: Part, data: bytes = b"") -> None:
        events.append((kind, part, data))
        if kind == PART_DATA:
            if self.on_data is not None:
                self.on_data(part, data)
        elif kind == PART_BEGIN:
            if self.on_part_begin is not None:
                self.on_part_begin(part)
        elif self.on_part_end is not None:
            self.on_part_end(part)

    def _data(self, events: List[Event], chunk: bytes) -> None:
        part = cast(Part, self._part)  # _DATA: inside a part
        part.size += len(chunk)
        if part.filename is not None:
            if self.max_file_size is not None and part.size > self.max_file_size:
                raise MultipartError("file %r is larger than %d bytes" % (part.name, self.max_file_size))
        elif self.max_field_size is not None and part.size > self.max_field_size:
            raise MultipartError("field %r is larger than %d bytes" % (part.name, self.max_field_size))
        self._emit(events, PART_DATA, part, chunk)

    def _run(self, events: List[Event]) -> None:
        buf = self._buffer
        delimiter = self._delimiter
        dlen = len(delimiter)
        pos = 0
        try:
            while True:
                state = self._state
                if state == _DATA:
                    i = buf.find(delimiter, pos)
                    if i >= 0:
                        if i > pos:
                            self._data(events, bytes(buf[pos:i]))
                        pos = i + dlen
                        part, self._part = cast(Part, self._part), None
                        self._state = _AFTER_BOUNDARY
                        self._emit(events, PART_END, part)
                        continue
                    # Everything but a possible start of the delimiter is data.
                    # The boundary has no CR, so only the last CR can start one.
                    end = len(buf)
                    k = buf.rfind(b"\r", max(pos, end - dlen + 1))
                    if k >= 0 and delimiter.startswith(buf[k:]):
                        end = k
                    if end > pos:
                        self._data(events, bytes(buf[pos:end]))
                        pos = end
                    return
                if state == _PREAMBLE:
                    i = buf.find(delimiter, pos)
                    if i < 0:
                        pos = max(pos, len(buf) - dlen + 1)  # keep a possible partial delimiter
                        return
                    pos = i + dlen
                    self._state = _AFTER_BOUNDARY
                elif state == _AFTER_BOUNDARY:
                    if len(buf) - pos < 2:
                        return
                    if buf[pos : pos + 2] == b"--":
                        self._state = _END
                        pos = len(buf)
                        return
                    j = pos
                    while j < len(buf) and buf[j] in (0x20, 0x09):
                        j += 1
                    if j - pos > _MAX_PADDING:
                        raise MultipartError("invalid boundary line")
                    if len(buf) - j < 2:
                        if j < len(buf) and buf[j] != 0x0D:
                            raise MultipartError("invalid boundary line")
                        return
                    if buf[j : j + 2] != b"\r\n":
                        raise MultipartError("invalid boundary line")
                    pos = j + 2
                    self._state = _HEADERS
                    self._scanned = pos
                elif state == _HEADERS:
                    if len(buf) - pos < 2:
                        return
                    if buf[pos : pos + 2] == b"\r\n":
                        block_end, body_start = pos, pos + 2  # a part without headers
                    else:
                        i = buf.find(b"\r\n\r\n", max(pos, self._scanned - 3))
                        limit = self.max_header_size
                        if i < 0:
                            self._scanned = len(buf)
                            if limit is not None and len(buf) - pos > limit + 4:
                                raise MultipartError("part headers larger than %d bytes" % limit)
                            return
                        block_end, body_start = i, i + 4
                    if self.max_header_size is not None and block_end - pos > self.max_header_size:
                        raise MultipartError("part headers larger than %d bytes" % self.max_header_size)
                    headers = _parse_part_headers(bytes(buf[pos:block_end])) if block_end > pos else {}
                    if self.max_parts is not None and self.parts >= self.max_parts:
                        raise MultipartError("more than %d parts" % self.max_parts)
                    part = Part(headers)
                    self.parts += 1
                    pos = body_start
                    self._part = part
                    self._state = _DATA
                    self._emit(events, PART_BEGIN, part)
                else:  # _END: the epilogue is discarded
                    pos = len(buf)
                    return
        finally:
            if self._state != _ERROR:
                # "pos" is relative to the buffer, the scan mark too.
                if self._state == _HEADERS:
                    self._scanned = max(0, self._scanned - pos)
                del buf[:pos]


# -- results ---------------------------------------------------------------------


class FormDict(dict):
    """A dict of the first value per name; ``getlist(name)`` has them all."""

    def __init__(self) -> None:
        super().__init__()
        self._lists: Dict[str, list] = {}

    def add(self, key: str, value: Any) -> None:
        values = self._lists.setdefault(key, [])
        values.append(value)
        if len(values) == 1:
            dict.__setitem__(self, key, value)

    def getlist(self, key: str) -> list:
        """Every value sent under ``key`` (an empty list if none)."""
        return list(self._lists.get(key, ()))

    def lists(self):
        """(name, [values]) pairs."""
        return [(key, list(values)) for key, values in self._lists.items()]


class UploadedFile:
    """A file part that was received.

    ``path`` is the temporary file holding it (None when it went to an
    ``on_file`` callback); it belongs to the caller: ``save(destination)``
    moves it, ``delete()`` removes it. ``filename`` is the name the client
    sent; never use it as a path without sanitising it.
    """

    def __init__(self, part: Part, path: Optional[str]) -> None:
        self.name = part.name
        self.filename = part.filename
        self.content_type = part.content_type
        self.headers = part.headers
        self.path = path
        self.size = 0

    def open(self, mode: str = "rb"):
        """Opens the stored file."""
        if self.path is None:
            raise ValueError("this upload was streamed to on_file: nothing is stored")
        return open(self.path, mode)

    def read(self) -> bytes:
        """The whole content (meant for small files)."""
        with self.open() as f:
            return f.read()

    def save(self, destination) -> str:
        """Moves the stored file to ``destination``; returns the new path."""
        import shutil

        if self.path is None:
            raise ValueError("this upload was streamed to on_file: nothing is stored")
        self.path = shutil.move(self.path, os.fspath(destination))
        return self.path

    def delete(self) -> None:
        """Removes the stored file (if it is still there)."""
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None

    def __repr__(self) -> str:
        return "<UploadedFile name=%r filename=%r content_type=%r size=%d>" % (
            self.name,
            self.filename,
            self.content_type,
            self.size,
        )


async def parse_multipart(
    res,
    req,
    upload_dir: Optional[str] = None,
    on_file: Optional[Callable[[str, Optional[str], Optional[str], bytes, bool], Any]] = None,
    *,
    max_parts: Optional[int] = DEFAULT_MAX_PARTS,
    max_header_size: Optional[int] = DEFAULT_MAX_HEADER_SIZE,
    max_file_size: Optional[int] = None,
    max_field_size: Optional[int] = DEFAULT_MAX_FIELD_SIZE,
    encoding: str = "utf-8",
) -> Tuple[FormDict, FormDict]:
    """Reads a ``multipart/form-data`` request body in constant memory.

    Returns ``(fields, files)``: ``fields`` maps names to text (decoded with
    the part's charset or ``encoding``), ``files`` maps names to
    ``UploadedFile`` (both are ``FormDict``: the first value per name,
    ``getlist`` for all). Files are written to temporary files in
    ``upload_dir`` (the system temp dir by default), or, with ``on_file``,
    handed to ``on_file(name, filename, content_type, chunk, is_last)``
    (sync or async; the last call has ``is_last=True`` and an empty chunk)
    and not stored. Raises ``MultipartError`` for a bad body, an exceeded
    limit or a client that went away; temporary files are removed then.
    """
    content_type = req.get_header("content-type")  # before any await
    parser = MultipartParser(
        get_boundary(content_type),
        max_parts=max_parts,
        max_header_size=max_header_size,
        max_file_size=max_file_size,
        max_field_size=max_field_size,
    )
    if res.aborted:
        raise MultipartError("the client went away")
    if res.has_responded():
        raise MultipartError("the response already ended: the body can no longer be read")
    loop = asyncio.get_running_loop()
    queue: deque = deque()
    state: Dict[str, Any] = {"waiter": None, "aborted": False, "paused": False, "stopped": False}

    def wake() -> None:
        waiter = state["waiter"]
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_data(res_, chunk: bytes, is_last: bool) -> None:
        if state["stopped"]:
            return  # parsing failed: the rest of the body is not wanted
        queue.append((chunk, is_last))
        if len(queue) >= 4 and not state["paused"]:
            state["paused"] = True
            res_.pause()  # the parser is behind (an async on_file): let TCP push back
        wake()

    def on_aborted(res_) -> None:
        state["aborted"] = True
        wake()

    res.add_aborted_handler(on_aborted)
    res.on_data(on_data)

    fields = FormDict()
    files = FormDict()
    stored: List[UploadedFile] = []
    sink: Any = None  # the open temp file, or the field's bytearray
    upload: Optional[UploadedFile] = None
    try:
        finished = False
        while not finished:
            while not queue:
                if state["aborted"]:
                    raise MultipartError("the client went away before the body was complete")
                state["waiter"] = loop.create_future()
                await state["waiter"]
                state["waiter"] = None
            chunk, finished = queue.popleft()
            if state["paused"] and len(queue) <= 1:
                state["paused"] = False
                res.resume()
            events = parser.feed(chunk)
            if finished:
                events.extend(parser.close())
            for kind, part, data in events:
                if kind == PART_DATA:
                    if upload is None:
                        sink += data
                    else:
                        upload.size += len(data)
                        if sink is None:
                            result = cast(Callable[..., Any], on_file)(
                                part.name, part.filename, part.content_type, data, False
                            )
                            if is_awaitable(result):
                                await result
                        else:
                            sink.write(data)
                elif kind == PART_BEGIN:
                    if part.is_file:
                        if on_file is not None:
                            upload = UploadedFile(part, None)
                            sink = None
                        else:
                            fd, path = tempfile.mkstemp(prefix="socketify-upload-", dir=upload_dir)
                            sink = os.fdopen(fd, "wb")
                            upload = UploadedFile(part, path)
                            stored.append(upload)
                    else:
                        upload = None
                        sink = bytearray()
                else:  # PART_END
                    if upload is None:
                        charset = part.charset or encoding
                        try:
                            text = bytes(sink).decode(charset)
                        except LookupError:
                            text = bytes(sink).decode(encoding, "strict")
                        except UnicodeDecodeError:
                            raise MultipartError("field %r is not valid %s" % (part.name, charset)) from None
                        fields.add(part.name, text)
                    else:
                        if sink is None:
                            result = cast(Callable[..., Any], on_file)(
                                part.name, part.filename, part.content_type, b"", True
                            )
                            if is_awaitable(result):
                                await result
                        else:
                            sink.close()
                        files.add(part.name, upload)
                    sink = None
                    upload = None
    except BaseException:
        state["stopped"] = True
        queue.clear()
        if hasattr(sink, "close"):
            sink.close()
        for item in stored:
            item.delete()
        if state["paused"] and not res.aborted:
            res.resume()
        raise
    return fields, files
