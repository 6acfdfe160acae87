"""Static files: ``sendfile`` (conditional and range requests) and ``static_route``."""

import asyncio
import email.utils
import logging
import mimetypes
import os
from stat import S_ISREG
from typing import Optional, Tuple, cast
from urllib.parse import unquote

from .middleware import DecoratorRouter, MiddlewareRouter, middleware

__all__ = ["sendfile", "static_route", "in_directory", "middleware", "MiddlewareRouter", "DecoratorRouter"]

logger = logging.getLogger("socketify")

CHUNK_SIZE = 64 * 1024
YIELD_EVERY = 16  # pieces sent without waiting before the loop gets a turn

# Compressed files are served as what they are (a .tar.gz downloads as a
# gzip file): a Content-Encoding would make clients unpack them.
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}
_TEXT_TYPES = (
    "application/javascript",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "image/svg+xml",
    "application/manifest+json",
)


def content_type_for(filename: str) -> str:
    """The Content-Type for a file name (``; charset=utf-8`` for text)."""
    content_type, encoding = mimetypes.guess_type(filename, strict=False)
    if encoding:
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    if not content_type:
        return "application/octet-stream"
    if content_type.startswith("text/") or content_type in _TEXT_TYPES:
        return content_type + "; charset=utf-8"
    return content_type


def _http_date_timestamp(value: Optional[str]) -> Optional[int]:
    """An HTTP date (IMF-fixdate, RFC 850 or asctime) as a Unix timestamp, or None."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    try:
        return int(parsed.timestamp())  # a date without zone is taken as UTC (RFC 9110 5.6.7)
    except (OverflowError, OSError, ValueError):
        return None


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison against a list of entity tags or ``*``."""
    header = header.strip()
    if header == "*":
        return True
    opaque = etag[2:] if etag.startswith("W/") else etag
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == opaque:
            return True
    return False


_IGNORE = object()  # the Range header is to be ignored: serve the whole file
_UNSATISFIABLE = object()


def parse_range(header: Optional[str], size: int):
    """Parses a ``Range`` header against a file of ``size`` bytes.

    Returns ``(start, end)`` (inclusive) for one satisfiable range,
    ``_IGNORE`` (no header, another unit, or several ranges: the whole file
    is served, as RFC 9110 allows) or ``_UNSATISFIABLE`` (416).
    """
    if header is None:
        return _IGNORE
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return _IGNORE
    if "," in spec:
        return _IGNORE
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if (
        not dash
        or (first and not first.isdigit())
        or (last and not last.isdigit())
        or not (first or last)
        or not spec.isascii()
    ):
        return _UNSATISFIABLE
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return _UNSATISFIABLE
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if end < start or start >= size:
        return _UNSATISFIABLE
    return start, min(end, size - 1)


def _validators(stat: os.stat_result) -> Tuple[str, str, int]:
    mtime = int(stat.st_mtime)
    last_modified = email.utils.formatdate(mtime, usegmt=True)
    etag = 'W/"%x-%x"' % (stat.st_mtime_ns, stat.st_size)
    return last_modified, etag, mtime


def _not_found(res) -> None:
    res.write_status(404).write_header("Content-Type", "text/plain; charset=utf-8").end(b"Not Found")


async def sendfile(res, req, filename) -> None:
    """Serves ``filename`` with conditional (If-None-Match, If-Modified-Since)
    and single-range (Range, If-Range) support.

    Answers 404 when the file does not exist, 304 when the client's copy is
    current, 206 for a satisfiable range, 416 for an unsatisfiable one, and
    200 with the whole file otherwise (also for several ranges). The body is
    streamed in 64 KiB pieces with backpressure; HEAD gets the headers only.
    Errors are logged and answered with 500 (or a closed connection once
    part of the file was sent).
    """
    # Everything the request says is read before the first await.
    method = req.get_method()
    if_modified_since = req.get_header("if-modified-since")
    if_none_match = req.get_header("if-none-match")
    range_header = req.get_header("range")
    if_range = req.get_header("if-range")
    res.grab_aborted_handler()

    started = False
    try:
        try:
            stat = os.stat(filename)
        except (FileNotFoundError, NotADirectoryError):
            return _not_found(res)
        if not S_ISREG(stat.st_mode):  # a directory, a FIFO, a device: not a file to serve
            return _not_found(res)
        try:
            handle = open(filename, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return _not_found(res)
        with handle:
            stat = os.fstat(handle.fileno())
            size = stat.st_size
            last_modified, etag, mtime = _validators(stat)
            is_get_or_head = method in ("GET", "HEAD")

            # RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it.
            not_modified = False
            if is_get_or_head:
                if if_none_match is not None:
                    not_modified = _etag_matches(if_none_match, etag)
                else:
                    since = _http_date_timestamp(if_modified_since)
                    not_modified = since is not None and mtime <= since
            if not_modified:
                started = True
                res.write_status(304)
                res.write_header("Last-Modified", last_modified)
                res.write_header("ETag", etag)
                res.end_without_body()
                return

            byte_range = parse_range(range_header, size) if method == "GET" else _IGNORE
            if byte_range is not _IGNORE and if_range is not None and not _if_range_matches(if_range, etag, mtime):
                byte_range = _IGNORE

            started = True
            if byte_range is _UNSATISFIABLE:
                res.write_status(416)
                res.write_header("Content-Range", "bytes */%d" % size)
                res.write_header("Accept-Ranges", "bytes")
                res.write_header("Last-Modified", last_modified)
                res.write_header("ETag", etag)
                res.end_without_body()
                return
            if byte_range is _IGNORE:
                start, end = 0, size - 1
                res.write_status(200)
            else:
                start, end = cast(Tuple[int, int], byte_range)
                res.write_status(206)
                res.write_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            total = end - start + 1
            res.write_header("Content-Type", content_type_for(os.fsdecode(filename)))
            res.write_header("Last-Modified", last_modified)
            res.write_header("ETag", etag)
            res.write_header("Accept-Ranges", "bytes")

            if method == "HEAD" or total <= 0:
                res.write_header("Content-Length", str(max(total, 0)))
                res.end_without_body()
                return

            if start:
                handle.seek(start)
            remaining = total
            without_wait = 0
            while remaining > 0:
                piece = handle.read(min(CHUNK_SIZE, remaining))
                if not piece:  # the file shrank under us: the body cannot be completed
                    res.close()
                    return
                remaining -= len(piece)
                future = res.send_chunk(piece, total)
                if future.done():
                    # The kernel took it at once: awaiting would not give the
                    # loop a turn, so yield now and then to serve the others
                    # (and to hear about a client that went away).
                    ok, done = future.result()
                    without_wait += 1
                    if without_wait >= YIELD_EVERY and not done:
                        without_wait = 0
                        await asyncio.sleep(0)
                else:
                    without_wait = 0
                    ok, done = await future
                if done or not ok or res.aborted:
                    return
    except Exception as error:  # noqa: BLE001 - answered, and logged
        logger.error("sendfile(%r) failed", filename, exc_info=error)
        if res.aborted or res.has_responded():
            return
        if started:
            res.close()  # the status line may already be out: closing is the only honest answer
        else:
            res.send(b"Internal Server Error", status=500)


def _if_range_matches(if_range: str, etag: str, mtime: int) -> bool:
    """If-Range: a strong match is needed; our ETag is weak, so only an exact
    Last-Modified date validates the range."""
    value = if_range.strip()
    if value.startswith('"') or value.startswith("W/"):
        return False
    since = _http_date_timestamp(value)
    return since is not None and since == mtime


def in_directory(file, directory) -> bool:
    """True when ``file`` (after resolving symlinks) is ``directory`` or lies under it."""
    directory = os.path.realpath(directory)
    file = os.path.realpath(file)
    try:
        return os.path.commonpath([file, directory]) == directory
    except ValueError:  # different drives
        return False


def resolve_static_path(root: str, tail: str) -> Optional[str]:
    """Maps the URL tail below a static route to a path inside ``root`` (a
    realpath), or None when it is unsafe or undecodable."""
    try:
        decoded = unquote(tail, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\x00" in decoded:
        return None
    parts = []
    for segment in decoded.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == ".." or (os.sep != "/" and ":" in segment):
            return None
        parts.append(segment)
    candidate = os.path.join(root, *parts) if parts else root
    real = os.path.realpath(candidate)
    if not in_directory(real, root):
        return None
    return real


def static_route(app, route: str, directory) -> None:
    """Serves the files under ``directory`` at ``route`` (``GET route/*``;
    HEAD is answered by the same route). A directory serves its
    ``index.html``; anything outside ``directory`` (``..``, encoded dots,
    symlinks pointing out) is a 404."""
    if not isinstance(route, str):
        raise TypeError("route must be a str")
    root = os.path.realpath(os.fspath(directory))
    prefix = route.rstrip("/")

    def route_handler(res, req):
        url = req.get_url()
        if not url.startswith(prefix):
            return _not_found(res)
        tail = url[len(prefix) :]
        if tail and not tail.startswith("/"):
            # "/static" matched "/static/*" but "/staticx" must not
            return _not_found(res)
        path = resolve_static_path(root, tail)
        if path is None:
            return _not_found(res)
        if os.path.isdir(path):
            if not url.endswith("/"):
                # relative links in the index need the trailing slash
                query = req.get_full_url()[len(url) :]
                res.write_status(301).write_header("Location", url + "/" + query).end(b"")
                return None
            path = os.path.join(path, "index.html")
            if not os.path.isfile(path) or not in_directory(path, root):
                return _not_found(res)
        return sendfile(res, req, path)

    app.get(prefix + "/*", route_handler)
