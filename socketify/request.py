"""Request: read access to the request being handled."""

from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, cast
from urllib.parse import parse_qs, unquote, unquote_plus

from . import _binding
from ._binding import ffi, lib

if TYPE_CHECKING:
    from .app import App
    from .response import Response

__all__ = ["Request", "AppRequest", "route_parameter_names"]

_SCRATCH_SIZE = 4096

_FINISHED = (
    "this Request is finished: its handler returned after the response ended, so the request "
    "is gone; read what you need while the handler runs, or call req.preserve() in the handler "
    "to keep every value"
)


def route_parameter_names(pattern: str) -> Tuple[str, ...]:
    """The names of a route pattern's ``:param`` segments, in order."""
    return tuple(segment[1:] for segment in pattern.split("/") if segment.startswith(":"))


def _text(data: bytes) -> str:
    # UTF-8 as clients send it; surrogateescape keeps any other byte lossless.
    return data.decode("utf-8", "surrogateescape")


def _parse_query(raw: str) -> Dict[str, List[str]]:
    """``parse_qs(raw, keep_blank_values=True)``; a query with nothing to
    decode (no ``%``, no ``+``), the usual case, is split directly (several
    times faster than parse_qs, with the same result)."""
    if "%" in raw or "+" in raw:
        return parse_qs(raw, keep_blank_values=True)
    queries: Dict[str, List[str]] = {}
    for pair in raw.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            values = queries.get(name)
            if values is None:
                queries[name] = [value]
            else:
                values.append(value)
    return queries


class Request:
    """The request a route handler receives.

    Reads go straight to the native parser's view of the request while the
    handler runs. When the handler suspends (``await``) or returns without
    responding, the request is copied into Python first, so it stays usable
    for as long as the response is in flight.

    One rule for every getter of a Request kept past its handler: once the
    handler has returned with the response ended, each of them raises
    ``RuntimeError`` (also for values read before), unless the request was
    copied (``preserve()``, or the handler awaited or returned before
    ending), in which case each of them keeps answering.
    """

    # Per-app subclasses (App._request_class) carry ``app`` and ``_lenp`` as
    # class attributes; every cached field starts as a class default, so
    # creating a Request per request sets a single attribute.
    app: "App" = cast("App", None)
    _lenp: Any = None
    _scratch: Any = None  # per app: char[_SCRATCH_SIZE] the core packs values into
    _method: Optional[str] = None
    _url: Optional[str] = None
    _query: Optional[str] = None
    _headers: Optional[Dict[str, str]] = None
    _parameters: Optional[List[str]] = None
    _queries: Optional[Dict[str, List[str]]] = None
    _cookies: Optional[SimpleCookie] = None
    _yield = False
    _ancient: Optional[bool] = None
    _route: Optional[int] = None  # handler id of the matched route: the key to its parameter names
    # Every value was copied into Python (preserve(), or the handler awaited or
    # returned before the response ended): the getters answer from the copy.
    _copied = False
    _res: Optional["Response"] = None
    _raw_copy: Optional[bytes] = None  # what sk_req_pack wrote, decoded on first use (_from_copy)
    _copy_parts: Optional[List[bytes]] = None  # the snapshot's items, once decoded
    _copied_headers = 0

    def __init__(self, ptr) -> None:
        self._ptr = ptr

    # -- lifetime -------------------------------------------------------

    def _native(self):
        ptr = self._ptr
        if ptr is None:
            raise RuntimeError(_FINISHED)
        return ptr

    def _packed(self, pack: Callable) -> bytes:
        """What one of the core's pack functions (headers, parameters) writes:
        into the app's scratch buffer, or a buffer of its own when bigger."""
        ptr = self._native()
        buf = self._scratch
        size = pack(ptr, buf, _SCRATCH_SIZE)
        if size > _SCRATCH_SIZE:
            buf = ffi.new("char[]", size)
            pack(ptr, buf, size)
        return ffi.unpack(buf, size)

    def _snapshot(self) -> None:
        """Copies everything out of the native request (it is about to go
        away) in one call; the values are decoded when asked for."""
        ptr = self._ptr
        if ptr is None:
            return
        self._raw_copy = self._packed(lib.sk_req_pack)
        if self._route is None:
            self._route = lib.sk_req_handler_id(ptr)
        self._copied = True
        self._ptr = None

    def _from_copy(self) -> bool:
        """Decodes the snapshot into the cached fields; False when there is none."""
        raw = self._raw_copy
        if raw is None:
            return False
        self._raw_copy = None
        parts = raw.split(b"\0")
        if self._method is None:
            self._method = parts[0].decode("latin-1")
        if self._url is None:
            self._url = parts[1].decode("latin-1")
        if self._query is None:
            self._query = parts[2].decode("latin-1")
        flags = parts[3]
        if self._ancient is None:
            self._ancient = flags[:1] == b"1"
        self._copy_parts = parts
        self._copied_headers = int(flags[1:])
        return True

    def _copied_part(self, headers: bool) -> List[bytes]:
        """The header (name, value, ...) or parameter items of the snapshot."""
        if self._copy_parts is None and not self._from_copy():
            self._native()  # raises: the request is gone and was never copied
        parts = cast(List[bytes], self._copy_parts)
        end = 4 + 2 * self._copied_headers
        return parts[4:end] if headers else parts[end:-1]

    def preserve(self) -> "Request":
        """Copies the request into Python so every getter keeps working after
        ``await`` and after the handler returns; returns self."""
        if self._ptr is None and not self._copied:
            raise RuntimeError(_FINISHED)
        self._snapshot()
        return self

    # -- request line ---------------------------------------------------

    def get_method(self) -> str:
        """The method as sent (case preserved), e.g. ``"GET"``."""
        method = self._method
        if method is None or (self._ptr is None and not self._copied):
            if self._ptr is None and self._from_copy():
                return cast(str, self._method)
            lenp = self._lenp
            data = lib.sk_req_method(self._native(), lenp)
            method = self._method = ffi.unpack(data, lenp[0]).decode("latin-1")
        return method

    def get_url(self) -> str:
        """The path, without the query string and not percent-decoded."""
        url = self._url
        if url is None or (self._ptr is None and not self._copied):
            if self._ptr is None and self._from_copy():
                return cast(str, self._url)
            lenp = self._lenp
            data = lib.sk_req_url(self._native(), lenp)
            url = self._url = ffi.unpack(data, lenp[0]).decode("latin-1")
        return url

    def _raw_query(self) -> str:
        query = self._query
        if query is None or (self._ptr is None and not self._copied):
            if self._ptr is None and self._from_copy():
                return cast(str, self._query)
            lenp = self._lenp
            data = lib.sk_req_query(self._native(), lenp)
            query = self._query = ffi.unpack(data, lenp[0]).decode("latin-1") if lenp[0] else ""
        return query

    def get_full_url(self) -> str:
        """The path plus ``?query`` when there is one."""
        query = self._raw_query()
        return self.get_url() + "?" + query if query else self.get_url()

    def is_ancient(self) -> bool:
        """True for HTTP/1.0 clients."""
        ancient = self._ancient
        if ancient is None or (self._ptr is None and not self._copied):
            if self._ptr is None and self._from_copy():
                return cast(bool, self._ancient)
            ancient = self._ancient = bool(lib.sk_req_is_ancient(self._native()))
        return ancient

    # -- headers --------------------------------------------------------

    def get_header(self, lower_case_header: Union[str, bytes]) -> Optional[str]:
        """The value of a header (name in lower case), or None."""
        headers = self._headers
        if headers is not None and (self._ptr is not None or self._copied):
            value = headers.get(lower_case_header)  # type: ignore[arg-type]  # bytes: a miss, then decoded
            if value is None:  # the names are stored in lower case, as str
                name = (
                    lower_case_header
                    if isinstance(lower_case_header, str)
                    else bytes(lower_case_header).decode("latin-1")
                )
                value = headers.get(name.lower())
            return value
        if self._ptr is None and self._copied:
            self.get_headers()  # decodes the copy
            return self.get_header(lower_case_header)
        ptr = self._native()
        raw = lower_case_header.encode("latin-1") if isinstance(lower_case_header, str) else bytes(lower_case_header)
        lenp = self._lenp
        data = lib.sk_req_header(ptr, raw.lower(), len(raw), lenp)
        if data == ffi.NULL:
            return None
        return _text(ffi.unpack(data, lenp[0]))

    def get_headers(self) -> Dict[str, str]:
        """Every header as a dict of lower-case name -> value (a repeated header keeps the last)."""
        headers = self._headers
        if headers is None or (self._ptr is None and not self._copied):
            parts: Sequence[bytes]
            if self._ptr is None and self._copied:
                parts = self._copied_part(True)
            else:
                packed = self._packed(lib.sk_req_headers_pack)
                parts = packed.split(b"\0")[:-1] if packed else ()
            headers = {}
            for i in range(0, len(parts) - 1, 2):
                headers[parts[i].decode("latin-1")] = _text(parts[i + 1])
            self._headers = headers
        return headers

    def for_each_header(self, handler: Callable[[str, str], None]) -> None:
        """Calls ``handler(name, value)`` for every header."""
        for name, value in self.get_headers().items():
            handler(name, value)

    # -- query ----------------------------------------------------------

    def get_queries(self) -> Dict[str, List[str]]:
        """The query string parsed into lists of values (``parse_qs``)."""
        queries = self._queries
        if queries is None or (self._ptr is None and not self._copied):
            queries = self._queries = _parse_query(self._raw_query())
        return queries

    def get_query(self, key: str) -> Optional[str]:
        """The first value of a query parameter, percent-decoded, or None."""
        values = self.get_queries().get(key)
        return values[0] if values else None

    # -- route parameters -------------------------------------------------

    def get_parameters(self) -> List[str]:
        """Every ``:param`` value of the matched route, percent-decoded."""
        params = self._parameters
        if params is None or (self._ptr is None and not self._copied):
            raws: Sequence[bytes]
            if self._ptr is None and self._copied:
                raws = self._copied_part(False)
            else:
                packed = self._packed(lib.sk_req_params_pack)
                raws = packed[:-1].split(b"\0") if packed else ()
            params = []
            for raw in raws:
                value = _text(raw)
                params.append(unquote(value) if "%" in value else value)
            self._parameters = params
        return params

    def get_parameter(self, index: Union[int, str]) -> Optional[str]:
        """The value of the N-th ``:param`` or, by name, of ``:index`` in the
        route pattern (``"id"`` for ``/users/:id``); None if there is none."""
        params = self._parameters
        if params is None or (self._ptr is None and not self._copied):
            params = self.get_parameters()
        try:  # by position, the common case, at no extra cost
            # a str index raises TypeError here: by position costs no isinstance
            if 0 <= index < len(params):  # type: ignore[operator]
                return params[index]  # type: ignore[index]
            return None
        except TypeError:
            pass
        if not isinstance(index, str):
            raise TypeError(
                "get_parameter takes the parameter's position (0 for the first :param) or its "
                "name in the route pattern ('id' for /users/:id), not %s" % type(index).__name__
            )
        names = self._parameter_names()
        if index not in names:
            return None
        position = names.index(index)
        return params[position] if position < len(params) else None

    def _parameter_names(self) -> Tuple[str, ...]:
        route = self._route
        if route is None:
            route = self._route = lib.sk_req_handler_id(self._native())
        return _binding.route_parameter_names.get(route, ())

    # -- cookies --------------------------------------------------------

    def get_cookies(self) -> Optional[SimpleCookie]:
        """The parsed ``Cookie`` header, or None."""
        if self._cookies is None or (self._ptr is None and not self._copied):
            raw = self.get_header("cookie")
            if raw is None:
                return None
            jar = SimpleCookie()
            try:
                jar.load(raw)
            except Exception:
                return None
            self._cookies = jar
        return self._cookies

    def get_cookie(self, name: str) -> Optional[str]:
        """The value of one cookie, or None."""
        jar = self.get_cookies()
        if jar is None or name not in jar:
            return None
        return unquote_plus(jar[name].value)

    # -- body (read through the response, which owns the connection) ---

    async def get_data(self):
        """The whole request body as a BytesIO."""
        return await cast("Response", self._res).get_data()

    async def get_text(self, encoding: str = "utf-8") -> Optional[str]:
        """The request body as text, or None."""
        return await cast("Response", self._res).get_text(encoding)

    async def get_json(self):
        """The request body parsed as JSON, or None."""
        return await cast("Response", self._res).get_json()

    async def get_form_urlencoded(self, encoding: str = "utf-8") -> Optional[Dict[str, str]]:
        """The request body as a URL-encoded form, or None."""
        return await cast("Response", self._res).get_form_urlencoded(encoding)

    # -- routing --------------------------------------------------------

    def set_yield(self, value: bool) -> None:
        """Ask the router to try the next matching route after this handler."""
        self._yield = bool(value)

    def get_yield(self) -> bool:
        """Whether this handler yielded to the next route."""
        return self._yield


AppRequest = Request
