"""HTTP/1.1 protocol conformance over raw sockets, against the real server.

The rules checked here are the ones in docs/protocol.md (HTTP part):
request-line and field-line grammar, message framing (request smuggling),
chunked bodies, pipelining and response order, keep-alive, Expect:
100-continue and HEAD. Every bad request must get its exact status, then a
closed connection, and the server must go on serving new connections.
"""

import json
import socket
import time

import pytest

from rawhttp import connect, exchange, read_until_close, status_of

HOST = b"Host: localhost\r\n"


# -- helpers -----------------------------------------------------------------------------


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value) in order
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        values = [v for n, v in self.headers if n == name.lower()]
        assert len(values) <= 1, "header %s sent %d times: %r" % (name, len(values), self.raw_head)
        return values[0] if values else None

    def header_names(self):
        return [n for n, _ in self.headers]

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.raw_head, self.body[:200])


class Client:
    """One connection with a read buffer, so pipelined responses are read
    one after the other without losing bytes between them."""

    def __init__(self, port, timeout=5.0):
        self.sock = connect(port, timeout)
        self.timeout = timeout
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def send_slowly(self, data, step=1, pause=0.002):
        """Sends ``data`` ``step`` bytes per send; the pause keeps the
        segments apart so the server sees many small reads."""
        for i in range(0, len(data), step):
            self.sock.sendall(data[i : i + step])
            time.sleep(pause)

    def _fill(self):
        self.sock.settimeout(self.timeout)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the server; buffered: %r" % self.buf)
        self.buf += data

    def _take_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw_head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = raw_head.split(b"\r\n")
        version, code, reason = (lines[0].split(b" ", 2) + [b""])[:3]
        assert version == b"HTTP/1.1", raw_head
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep, "malformed response header line %r" % line
            headers.append((name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")))
        return int(code), reason, headers, raw_head

    def read_response(self, head_request=False):
        status, reason, headers, raw_head = self.read_head()
        response = Response(status, reason, headers, b"", raw_head)
        if head_request or status in (204, 304) or 100 <= status < 200:
            return response
        te = response.header("transfer-encoding")
        length = response.header("content-length")
        if te is not None:
            assert te == "chunked", raw_head
            assert length is None, "both Content-Length and Transfer-Encoding: %r" % raw_head
            body = b""
            while True:
                size = int(self._take_line(), 16)
                if size == 0:
                    while self._take_line():  # trailers, then the empty line
                        pass
                    break
                body += self._take(size)
                assert self._take(2) == b"\r\n"
            response.body = body
        elif length is not None:
            response.body = self._take(int(length))
        else:
            response.body = self.read_until_close()
        return response

    def read_until_close(self, timeout=None):
        """Everything until EOF; fails if the server keeps the connection open."""
        data = self.buf + read_until_close(self.sock, timeout or self.timeout)
        self.buf = b""
        assert not data.endswith(b"<timeout>"), "the server did not close: %r" % data
        return data.replace(b"<reset>", b"")

    def assert_closed(self, timeout=None):
        rest = self.read_until_close(timeout)
        assert rest == b"", "bytes after the last response: %r" % rest

    def request(self, data, head_request=False):
        self.send(data)
        return self.read_response(head_request)


def get(path, extra=b"", version=b"1.1"):
    return b"GET " + path + b" HTTP/" + version + b"\r\n" + HOST + extra + b"\r\n"


def post(path, body, extra=b""):
    return b"POST " + path + b" HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


def post_chunked(path, chunked_body, extra=b""):
    return (
        b"POST " + path + b" HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n" + extra + b"\r\n" + chunked_body
    )


def parse_one(raw):
    """Parses a complete byte string holding exactly one response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, "no complete response: %r" % raw
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return status_of(raw), headers, body


def assert_alive(port):
    """A fresh connection is served normally."""
    with Client(port) as c:
        r = c.request(get(b"/text"))
        assert r.status == 200 and r.body == b"hello", r


def assert_rejected(port, raw, status, send_slowly=False):
    """``raw`` is answered with exactly one ``status`` response, with
    ``Connection: close``, then the connection is closed; the server then
    still serves a new connection."""
    with Client(port) as c:
        if send_slowly:
            c.send_slowly(raw)
        else:
            c.send(raw)
        data = c.read_until_close()
    code, headers, body = parse_one(data)
    assert code == status, "request %r: expected %d, got %r" % (raw, status, data)
    assert headers.get("connection", "").lower() == "close", data
    assert len(body) == int(headers["content-length"]), "extra bytes after the error: %r" % data
    assert_alive(port)
    return data


def describe(response):
    assert response.status == 200, response
    return json.loads(response.body)


# -- request line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\x01\x02\x03garbage\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /text\r\n" + HOST + b"\r\n",
        b" GET /text HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /text HTTP/1.1 extra\r\n" + HOST + b"\r\n",
        b"G(T /text HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /te xt HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /text#frag HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /t\x7fext HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /t\xffext HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET text HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET * HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /text http/1.1\r\n" + HOST + b"\r\n",
        b"GET /text HTTP/1.1\r\r\n" + HOST + b"\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
    ],
    ids=[
        "binary",
        "one-word",
        "no-target",
        "no-version",
        "leading-space",
        "extra-token",
        "bad-method-char",
        "space-in-target",
        "fragment",
        "del-in-target",
        "high-byte-in-target",
        "relative-target",
        "asterisk-with-get",
        "lowercase-version",
        "cr-cr-lf",
        "tls-hello",
    ],
)
def test_garbage_request_line_is_400_and_closed(basic_server, raw):
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET  /text HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /text  HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /text HTTP/1.1 \r\n" + HOST + b"\r\n",
        b"GET\t/text HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET /text\tHTTP/1.1\r\n" + HOST + b"\r\n",
    ],
    ids=["double-space-1", "double-space-2", "trailing-space", "tab-1", "tab-2"],
)
def test_request_line_whitespace_is_strict(basic_server, raw):
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/1.2", b"HTTP/1.9", b"HTTP/3.0", b"HTTP/0.9"])
def test_unsupported_version_is_505(basic_server, version):
    assert_rejected(basic_server.port, b"GET /text " + version + b"\r\n" + HOST + b"\r\n", 505)


@pytest.mark.parametrize(
    "version", [b"HTTP/1", b"HTTP/1.", b"HTTP/11", b"HTTP/1.1.1", b"HTTP/1.x", b"HTTPS/1.1", b"HTTP/10.0"]
)
def test_malformed_version_is_400(basic_server, version):
    assert_rejected(basic_server.port, b"GET /text " + version + b"\r\n" + HOST + b"\r\n", 400)


def test_lowercase_method_is_a_different_method_routed_to_any(basic_server):
    with Client(basic_server.port) as c:
        data = describe(c.request(b"get /method HTTP/1.1\r\n" + HOST + b"\r\n"))
        assert data["route"] == "any" and data["method"] == "get"
        # The same connection goes on with a regular GET.
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


def test_extension_method_reaches_any_route(basic_server):
    with Client(basic_server.port) as c:
        data = describe(c.request(b"PURGE /method HTTP/1.1\r\n" + HOST + b"\r\n"))
        assert data["route"] == "any" and data["method"] == "PURGE"


def test_absolute_form_routes_by_path(basic_server):
    with Client(basic_server.port) as c:
        data = describe(c.request(b"GET http://x/prec/static HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert data["route"] == "static" and data["url"] == "/prec/static"
        data = describe(
            c.request(b"GET http://example.com:8080/prec/abc?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
        )
        assert data["route"] == "param" and data["params"] == ["abc"]
        assert data["url"] == "/prec/abc" and data["full_url"] == "/prec/abc?q=1"


def test_absolute_form_without_path_is_root(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(b"GET http://x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert r.status == 404 and r.body == b"custom not found: /", r


def test_absolute_form_still_needs_host(basic_server):
    assert_rejected(basic_server.port, b"GET http://x/text HTTP/1.1\r\n\r\n", 400)


@pytest.mark.parametrize("target", [b"http:/x/text", b"http:///text", b"http://x@y/text", b"1http://x/text"])
def test_malformed_absolute_form_is_400(basic_server, target):
    assert_rejected(basic_server.port, b"GET " + target + b" HTTP/1.1\r\n" + HOST + b"\r\n", 400)


def test_options_asterisk_gets_an_answer(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n")
        # No route matches "*": the catch-all "any /*" only takes paths. It is
        # a valid request though, so anything but a 400 or a hang; the
        # connection stays usable.
        assert r.status == 404, r
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


def test_empty_lines_before_the_request_line_are_skipped(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(b"\r\n\r\n" + get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


# -- field lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /text HTTP/1.1\n" + b"Host: localhost\n\n",
        b"GET /text HTTP/1.1\r\nHost: localhost\n\r\n",
        b"GET /text HTTP/1.1\r\nHost: localhost\r\n\n",
        b"GET /text HTTP/1.1\r\nHost: localhost\r\nX-A: 1\nX-B: 2\r\n\r\n",
    ],
    ids=["all-lf", "lf-after-header", "lf-final", "lf-between-headers"],
)
def test_bare_lf_line_endings_are_400(basic_server, raw):
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize(
    "line",
    [
        b"X-A: a\x00b",
        b"X-A: \x00",
        b"X-A: a\rb",
        b"X-A: a\x01b",
        b"X-A: a\x7fb",
    ],
    ids=["nul", "only-nul", "cr", "ctl-01", "del"],
)
def test_control_chars_in_value_are_400(basic_server, line):
    assert_rejected(basic_server.port, b"GET /text HTTP/1.1\r\n" + HOST + line + b"\r\n\r\n", 400)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /text HTTP/1.1\r\n" + HOST + b"X-A: one\r\n two\r\n\r\n",
        b"GET /text HTTP/1.1\r\n" + HOST + b"X-A: one\r\n\ttwo\r\n\r\n",
        b"GET /text HTTP/1.1\r\n Host: localhost\r\n\r\n",
    ],
    ids=["fold-sp", "fold-htab", "first-line-indented"],
)
def test_obs_fold_is_400(basic_server, raw):
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize(
    "line",
    [
        b"X-A : 1",
        b"X-A\t: 1",
        b"Host : localhost",
        b"X-A 1",
        b"X-A",
        b"no colon at all",
        b": value",
        b":",
        b"X(A): 1",
        b'X"A: 1',
        b"X@A: 1",
        b"X\xe9A: 1",
    ],
    ids=[
        "space-before-colon",
        "tab-before-colon",
        "host-space-before-colon",
        "no-colon-1",
        "no-colon-2",
        "no-colon-3",
        "empty-name",
        "empty-name-empty-value",
        "paren-in-name",
        "quote-in-name",
        "at-in-name",
        "high-byte-in-name",
    ],
)
def test_malformed_field_line_is_400(basic_server, line):
    assert_rejected(basic_server.port, b"GET /text HTTP/1.1\r\n" + HOST + line + b"\r\n\r\n", 400)


def test_missing_host_on_http11_is_400(basic_server):
    assert_rejected(basic_server.port, b"GET /text HTTP/1.1\r\n\r\n", 400)
    assert_rejected(basic_server.port, b"GET /text HTTP/1.1\r\nX-Host: a\r\n\r\n", 400)


def test_two_host_headers_are_400(basic_server):
    assert_rejected(basic_server.port, b"GET /text HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)
    assert_rejected(basic_server.port, b"GET /text HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400)


@pytest.mark.parametrize("value", [b"a b", b"a@b", b"a/b", b"a:b:c", b"a:x", b"[::1", b"a%zz"])
def test_invalid_host_value_is_400(basic_server, value):
    assert_rejected(basic_server.port, b"GET /text HTTP/1.1\r\nHost: " + value + b"\r\n\r\n", 400)


@pytest.mark.parametrize("value", [b"localhost", b"localhost:8080", b"127.0.0.1", b"[::1]:80", b"ex-ample.com"])
def test_valid_host_values_are_accepted(basic_server, value):
    with Client(basic_server.port) as c:
        r = c.request(b"GET /text HTTP/1.1\r\nHost: " + value + b"\r\n\r\n")
        assert (r.status, r.body) == (200, b"hello")


def test_http10_without_host_is_served(basic_server):
    with Client(basic_server.port) as c:
        c.send(b"GET /text HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello"), r
        c.assert_closed()


def test_header_values_are_trimmed_and_names_case_preserved(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(b"GET /headers HTTP/1.1\r\n" + HOST + b"X-Mixed-Case:  \t spaced value \t \r\nX-Empty:\r\n\r\n")
        data = describe(r)
        each = {name.lower(): value for name, value in data["each"]}
        assert each["x-mixed-case"] == "spaced value"
        assert each["x-empty"] == ""


# -- framing / smuggling -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
    ],
    ids=["cl-then-te", "te-then-cl", "te-then-cl0"],
)
def test_content_length_with_transfer_encoding_is_400(basic_server, headers):
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + headers + b"\r\n5\r\nhello\r\n0\r\n\r\n"
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: 5, 6\r\n",
        b"Content-Length: 6\r\nContent-Length: 5, 5\r\n",
    ],
    ids=["two-fields", "list", "field-and-list"],
)
def test_differing_content_lengths_are_400(basic_server, headers):
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + headers + b"\r\nhello!"
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize(
    "value",
    [
        b"+5",
        b"-5",
        b"0x5",
        b"5 5",
        b"5.0",
        b"5a",
        b"",
        b"five",
        b"5,",
        b",5",
        b"1e3",
        b"99999999999999999999999",
        b"18446744073709551621",
        b"9223372036854775808",
    ],
    ids=[
        "plus",
        "minus",
        "hex",
        "two-numbers",
        "decimal",
        "trailing-letter",
        "empty",
        "word",
        "trailing-comma",
        "leading-comma",
        "exponent",
        "huge",
        "u64-wrap-to-5",
        "int64-max+1",
    ],
)
def test_invalid_content_length_is_400(basic_server, value):
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: " + value + b"\r\n\r\nhello"
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize(
    "te",
    [
        b"chunked, chunked",
        b"xchunked",
        b"chunkedx",
        b"chunked, gzip",
        b"identity",
        b"gzip",
        b"chunked,",
        b", chunked",
        b"chunked;q=1",
        b'"chunked"',
    ],
    ids=[
        "twice",
        "xchunked",
        "chunkedx",
        "chunked-not-last",
        "identity",
        "gzip-only",
        "trailing-comma",
        "leading-comma",
        "param",
        "quoted",
    ],
)
def test_bad_transfer_encoding_is_400(basic_server, te):
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: " + te + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert_rejected(basic_server.port, raw, 400)


def test_two_chunked_transfer_encoding_fields_are_400(basic_server):
    raw = (
        b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert_rejected(basic_server.port, raw, 400)


@pytest.mark.parametrize(
    "headers",
    [
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Transfer-Encoding: deflate, chunked\r\n",
        b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["gzip-chunked", "deflate-chunked", "split-fields"],
)
def test_undecoded_coding_before_chunked_is_501(basic_server, headers):
    # The message can be framed (chunked is last) but we do not decode gzip:
    # refused, never passed through as if it were the plain body.
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + headers + b"\r\n5\r\nhello\r\n0\r\n\r\n"
    assert_rejected(basic_server.port, raw, 501)


def test_transfer_encoding_case_insensitive(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(b"POST /echo HTTP/1.1\r\n" + HOST + b"transfer-encoding: ChUnKeD\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        assert (r.status, r.body) == (200, b"hello")


def test_transfer_encoding_on_http10_is_400(basic_server):
    raw = b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert_rejected(basic_server.port, raw, 400)


def test_smuggled_request_is_not_served(basic_server):
    # A classic CL.TE payload: whatever framing one side picks, the server
    # must answer with a single 400 and never run the smuggled GET.
    raw = (
        b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /text HTTP/1.1\r\n" + HOST + b"\r\n"
    )
    data = assert_rejected(basic_server.port, raw, 400)
    assert b"hello" not in data


# -- chunked request bodies -------------------------------------------------------------------


def test_chunked_body_with_extensions_and_trailers(basic_server):
    body = (
        b"5;ext=1\r\nhello\r\n"
        b'1 ; name = "quoted \\" value" ; flag\r\n,\r\n'
        b"A\r\n wonderful\r\n"
        b"0006;x=y\r\n world\r\n"
        b"0;last=1\r\nX-Trailer: t\r\nX-Other:  value \r\n\r\n"
    )
    with Client(basic_server.port) as c:
        r = c.request(post_chunked(b"/echo", body))
        assert r.status == 200, r
        assert r.body == b"hello, wonderful world"
        assert r.header("x-length") == "22"
        # The connection is still in sync.
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


def test_chunked_body_uppercase_hex_and_binary_data(basic_server):
    payload = bytes(range(256)) * 2 + b"\r\n0\r\n\r\n"  # data that looks like framing
    body = b"%X\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n"
    with Client(basic_server.port) as c:
        r = c.request(post_chunked(b"/echo", body))
        assert r.status == 200 and r.body == payload


def test_empty_chunked_body(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(post_chunked(b"/echo", b"0\r\n\r\n"))
        assert r.status == 200 and r.body == b"" and r.header("x-length") == "0"


def test_chunked_request_sent_one_byte_at_a_time(basic_server):
    raw = post_chunked(b"/echo", b"3;a=b\r\nabc\r\n4\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n")
    with Client(basic_server.port) as c:
        c.send_slowly(raw)
        r = c.read_response()
        assert r.status == 200 and r.body == b"abcdefg" and r.header("x-length") == "7"


@pytest.mark.parametrize(
    "chunked",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"-1\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"5;\r\nhello\r\n0\r\n\r\n",
        b"5;a=\r\nhello\r\n0\r\n\r\n",
        b'5;a="unterminated\r\nhello\r\n0\r\n\r\n',
        b"FFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n",
        b"5\r\nhello\r\n0\r\n folded: x\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\n",
    ],
    ids=[
        "zz",
        "negative",
        "leading-space",
        "0x-prefix",
        "plus",
        "empty-size",
        "lf-after-size",
        "trailing-space",
        "empty-ext",
        "ext-no-value",
        "unterminated-quote",
        "overflow",
        "missing-crlf-after-data",
        "lf-after-data",
        "trailer-no-colon",
        "trailer-fold",
        "trailer-nul",
        "final-bare-lf",
    ],
)
def test_invalid_chunked_body_is_400(basic_server, chunked):
    assert_rejected(basic_server.port, post_chunked(b"/echo", chunked), 400)


def test_invalid_chunk_size_sent_slowly_is_400(basic_server):
    assert_rejected(basic_server.port, post_chunked(b"/echo", b"5\r\nhello\r\nzz\r\n"), 400, send_slowly=True)


def test_chunked_body_then_pipelined_request(basic_server):
    raw = (
        post_chunked(b"/echo", b"4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n")
        + get(b"/async/7")
        + post_chunked(b"/echo", b"1\r\nz\r\n0\r\nT: 1\r\n\r\n")
        + get(b"/text")
    )
    with Client(basic_server.port) as c:
        c.send(raw)
        assert c.read_response().body == b"abcdef"
        assert c.read_response().body == b"id=7"
        assert c.read_response().body == b"z"
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")


def test_chunked_body_to_handler_that_ignores_it(basic_server):
    # The handler never reads the body; the server must still skip it
    # correctly (or close): the next pipelined request is never read as body.
    raw = post_chunked(b"/ignore-body", b"3\r\nabc\r\n0\r\n\r\n") + get(b"/text")
    with Client(basic_server.port) as c:
        c.send(raw)
        r = c.read_response()
        assert (r.status, r.body) == (200, b"ignored")
        if r.header("connection") == "close":
            c.assert_closed()
        else:
            r = c.read_response()
            assert (r.status, r.body) == (200, b"hello")


# -- Content-Length bodies -------------------------------------------------------------------


def test_content_length_body_split_across_many_sends(basic_server):
    body = bytes(range(256)) * 4
    with Client(basic_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 37):
            c.send(body[i : i + 37])
            time.sleep(0.002)
        r = c.read_response()
        assert r.status == 200 and r.body == body and r.header("x-length") == str(len(body))


def test_head_and_body_split_mid_header(basic_server):
    raw = post(b"/echo", b"split body")
    with Client(basic_server.port) as c:
        for part in (raw[:7], raw[7:30], raw[30:-3], raw[-3:]):
            c.send(part)
            time.sleep(0.01)
        r = c.read_response()
        assert r.status == 200 and r.body == b"split body"


def test_zero_length_body(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(post(b"/echo", b""))
        assert r.status == 200 and r.body == b"" and r.header("x-length") == "0"
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


def test_post_without_body_framing_has_empty_body(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(b"POST /echo HTTP/1.1\r\n" + HOST + b"\r\n")
        assert r.status == 200 and r.body == b"" and r.header("x-length") == "0"


def test_large_content_length_body(basic_server):
    body = (b"0123456789abcdef" * 16384)[:200001]
    with Client(basic_server.port, timeout=10) as c:
        r = c.request(post(b"/echo", body))
        assert r.status == 200 and r.header("x-length") == str(len(body)) and r.body == body


def test_body_looking_like_a_request_is_not_parsed(basic_server):
    inner = get(b"/text")
    with Client(basic_server.port) as c:
        r = c.request(post(b"/echo", inner))
        assert r.status == 200 and r.body == inner
        r = c.request(get(b"/json"))
        assert r.status == 200 and json.loads(r.body) == {"ok": True, "list": [1, 2]}


def test_ignored_body_then_pipelined_get(basic_server):
    raw = (
        post(b"/ignore-body", b"x" * 100)
        + get(b"/text")
        + post(b"/ignore-body", b"GET / HTTP/1.1\r\n\r\n")
        + get(b"/json")
    )
    with Client(basic_server.port) as c:
        c.send(raw)
        r = c.read_response()
        assert (r.status, r.body) == (200, b"ignored")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"ignored")
        r = c.read_response()
        assert r.status == 200 and json.loads(r.body)["ok"] is True
        # Still usable afterwards.
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


def test_ignored_body_arriving_later_then_get(basic_server):
    with Client(basic_server.port) as c:
        c.send(b"POST /ignore-body HTTP/1.1\r\n" + HOST + b"Content-Length: 10\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"ignored")
        c.send(b"0123456789" + get(b"/text"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")


# -- pipelining ----------------------------------------------------------------------------


def test_100_pipelined_requests_answered_in_order(basic_server):
    paths = [b"/async/%d" % i if i % 2 == 0 else b"/text" for i in range(100)]
    with Client(basic_server.port, timeout=10) as c:
        c.send(b"".join(get(p) for p in paths))
        for i in range(len(paths)):
            r = c.read_response()
            expected = b"id=%d" % i if i % 2 == 0 else b"hello"
            assert (r.status, r.body) == (200, expected), "response %d" % i
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


def test_pipelined_mixed_slow_and_fast(basic_server):
    raw = (
        get(b"/delay/100")
        + get(b"/text")
        + post(b"/echo", b"abc")
        + get(b"/async/1")
        + get(b"/no-response")
        + get(b"/async-no-await")
        + get(b"/stream")
    )
    expected = [b"delayed 100", b"hello", b"abc", b"id=1", b"late answer", b"instant", b"one,two,three"]
    with Client(basic_server.port) as c:
        c.send(raw)
        bodies = [c.read_response().body for _ in expected]
        assert bodies == expected


def test_pipelined_requests_sent_one_byte_at_a_time(basic_server):
    raw = get(b"/text") + post(b"/echo", b"bytewise") + get(b"/async/3") + get(b"/prec/static")
    with Client(basic_server.port) as c:
        c.send_slowly(raw)
        assert c.read_response().body == b"hello"
        assert c.read_response().body == b"bytewise"
        assert c.read_response().body == b"id=3"
        assert describe(c.read_response())["route"] == "static"


def test_pipelined_request_after_error_is_ignored(basic_server):
    raw = get(b"/text") + b"BROKEN\r\n\r\n" + get(b"/json")
    with Client(basic_server.port) as c:
        c.send(raw)
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        r = c.read_response()
        assert r.status == 400 and r.header("connection") == "close"
        c.assert_closed()


# -- keep-alive / Connection --------------------------------------------------------------------


def test_sequential_requests_on_one_connection(basic_server):
    with Client(basic_server.port) as c:
        for i in range(20):
            path = [b"/text", b"/json", b"/async/%d" % i, b"/stream", b"/empty"][i % 5]
            r = c.request(get(path))
            assert r.status == 200, r
            assert r.header("connection") is None, r
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello")


@pytest.mark.parametrize("value", [b"close", b"Close", b"keep-alive, close", b"CLOSE , foo"])
def test_connection_close(basic_server, value):
    raw = get(b"/text", b"Connection: " + value + b"\r\n") + get(b"/json")
    with Client(basic_server.port) as c:
        c.send(raw)
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        assert r.header("connection") == "close"
        # The pipelined GET after it is ignored.
        c.assert_closed()


def test_connection_close_on_async_handler(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(get(b"/async/5", b"Connection: close\r\n"))
        assert (r.status, r.body) == (200, b"id=5") and r.header("connection") == "close"
        c.assert_closed()


def test_connection_close_on_streamed_response(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(get(b"/stream", b"Connection: close\r\n"))
        assert (r.status, r.body) == (200, b"one,two,three") and r.header("connection") == "close"
        c.assert_closed()


def test_handler_ends_connection(basic_server):
    with Client(basic_server.port) as c:
        c.send(get(b"/close-after") + get(b"/text"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"bye") and r.header("connection") == "close"
        c.assert_closed()


def test_http10_closes_after_response(basic_server):
    with Client(basic_server.port) as c:
        c.send(b"GET /text HTTP/1.0\r\n\r\n" + b"GET /json HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        assert r.header("connection") == "close"
        c.assert_closed()


def test_http10_keep_alive(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(b"GET /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert (r.status, r.body) == (200, b"hello")
        assert r.header("connection").lower() == "keep-alive"
        r = c.request(b"GET /async/2 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        assert (r.status, r.body) == (200, b"id=2")
        assert r.header("connection").lower() == "keep-alive"
        data = describe(c.request(b"GET /prec/static HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
        assert data["ancient"] is True
        # Without keep-alive the next one closes.
        r = c.request(b"GET /text HTTP/1.0\r\n\r\n")
        assert (r.status, r.body) == (200, b"hello") and r.header("connection") == "close"
        c.assert_closed()


def test_http10_streamed_response_is_close_delimited(basic_server):
    with Client(basic_server.port) as c:
        c.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        # HTTP/1.0 has no chunked coding: without a length the close ends the body.
        assert r.status == 200 and r.header("transfer-encoding") is None
        assert r.header("content-length") is None
        assert r.body == b"one,two,three"


def test_http11_streamed_response_is_chunked(basic_server):
    with Client(basic_server.port) as c:
        r = c.request(get(b"/stream"))
        assert r.status == 200 and r.header("transfer-encoding") == "chunked"
        assert r.body == b"one,two,three"
        r = c.request(get(b"/stream-length"))
        assert r.status == 200 and r.header("content-length") == "10" and r.body == b"0123456789"
        assert r.header("transfer-encoding") is None


def test_client_half_close_before_async_answer_is_an_abort(basic_server):
    # EOF while the response has not started: the client went away (see
    # test_client_gone.py); no answer, the connection closes at once.
    with Client(basic_server.port) as c:
        c.send(get(b"/delay/500"))
        c.sock.shutdown(socket.SHUT_WR)
        assert c.read_until_close(timeout=2) == b""


# -- Expect: 100-continue ------------------------------------------------------------------------


@pytest.mark.parametrize("expect", [b"100-continue", b"100-Continue"])
def test_expect_100_continue(basic_server, expect):
    with Client(basic_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 11\r\nExpect: " + expect + b"\r\n\r\n")
        # The body is not sent until the interim response arrives.
        while len(c.buf) < 25:
            c._fill()
        assert c.buf.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), c.buf
        interim = c.read_response()
        assert interim.status == 100
        c.send(b"hello world")
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello world" and r.header("x-length") == "11"
        # Next request without Expect: no stray 100.
        r = c.request(post(b"/echo", b"again"))
        assert r.status == 200 and r.body == b"again"


def test_expect_100_continue_with_chunked_body(basic_server):
    with Client(basic_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        assert c.read_response().status == 100
        c.send(b"3\r\nabc\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"abc"


def test_expect_100_continue_body_already_sent(basic_server):
    # The client did not wait: whether a 100 comes first or not, the final
    # response follows and the connection stays in sync.
    with Client(basic_server.port) as c:
        c.send(post(b"/echo", b"eager", b"Expect: 100-continue\r\n") + get(b"/text"))
        r = c.read_response()
        if r.status == 100:
            r = c.read_response()
        assert r.status == 200 and r.body == b"eager"
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")


def test_expect_100_continue_not_sent_when_handler_ignores_body(basic_server):
    with Client(basic_server.port) as c:
        c.send(b"POST /ignore-body HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"ignored"), r
        # A client that still sends the body stays in sync.
        c.send(b"hello" + get(b"/text"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello"), r


def test_expect_100_continue_ignored_on_http10(basic_server):
    with Client(basic_server.port) as c:
        c.send(b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        time.sleep(0.3)  # room for a wrong 100 to be sent before the body
        c.send(b"hello")
        data = c.read_until_close()
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert b"100 Continue" not in data
    assert data.endswith(b"\r\n\r\nhello")


# -- HEAD ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [b"/text", b"/json", b"/bytes", b"/stream-length", b"/empty", b"/send?kind=headers", b"/status/201"]
)
def test_head_on_get_route_has_same_headers_and_no_body(basic_server, path):
    with Client(basic_server.port) as c:
        g = c.request(get(path))
        h = c.request(b"HEAD " + path + b" HTTP/1.1\r\n" + HOST + b"\r\n", head_request=True)
        assert h.status == g.status
        strip = lambda r: [(n, v) for n, v in r.headers if n != "date"]  # noqa: E731
        assert strip(h) == strip(g), (h.raw_head, g.raw_head)
        if g.body:
            assert h.header("content-length") == str(len(g.body))
        # No body bytes follow the HEAD response: the next response starts right away.
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello"), r


def test_head_pipelined_with_gets(basic_server):
    with Client(basic_server.port) as c:
        c.send(
            b"HEAD /text HTTP/1.1\r\n"
            + HOST
            + b"\r\n"
            + get(b"/json")
            + b"HEAD /async/4 HTTP/1.1\r\n"
            + HOST
            + b"\r\n"
            + get(b"/text")
        )
        h = c.read_response(head_request=True)
        assert h.status == 200 and h.header("content-length") == "5"
        assert json.loads(c.read_response().body)["ok"] is True
        h = c.read_response(head_request=True)
        assert h.status == 200 and h.header("content-length") == "4"
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")


def test_head_uses_explicit_head_route(basic_server):
    with Client(basic_server.port) as c:
        h = c.request(b"HEAD /head-route HTTP/1.1\r\n" + HOST + b"\r\n", head_request=True)
        assert h.status == 200 and h.header("x-head") == "yes"
        r = c.request(get(b"/head-route"))
        assert r.status == 200 and r.body == b"from get" and r.header("x-head") is None


def test_head_on_streamed_route_sends_no_chunks(basic_server):
    with Client(basic_server.port) as c:
        h = c.request(b"HEAD /stream HTTP/1.1\r\n" + HOST + b"\r\n", head_request=True)
        assert h.status == 200
        assert h.header("content-type") == "text/plain"
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello"), r


def test_head_on_404_has_no_body(basic_server):
    with Client(basic_server.port) as c:
        h = c.request(b"HEAD /nowhere HTTP/1.1\r\n" + HOST + b"\r\n", head_request=True)
        assert h.status == 404
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello"), r


def test_head_http10_keep_alive(basic_server):
    with Client(basic_server.port) as c:
        h = c.request(b"HEAD /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", head_request=True)
        assert h.status == 200 and h.header("content-length") == "5"
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello"), r


HEAD_APP = """
from listen_line import announce
from socketify import App

app = App()
app.get("/text", lambda res, req: res.end("hello"))
app.get("/json", lambda res, req: res.end({"ok": True}))
app.get("/empty", lambda res, req: res.end_without_body())


@app.get("/stream")
def stream(res, req):
    res.write_header("Content-Type", "text/plain")
    for part in ("one,", "two,", "three"):
        res.write(part)
    res.end()


@app.get("/async")
async def async_text(res, req):
    res.end("async body")


app.listen(0, announce)
app.run()
"""


@pytest.mark.parametrize("path", [b"/text", b"/json", b"/empty", b"/stream", b"/async"])
def test_head_without_catch_all_route(serve, path):
    # The same HEAD rules on an app without an "any /*" route.
    server = serve(HEAD_APP)
    with Client(server.port) as c:
        g = c.request(get(path))
        assert g.status == 200
        h = c.request(b"HEAD " + path + b" HTTP/1.1\r\n" + HOST + b"\r\n", head_request=True)
        assert h.status == 200, h
        if g.header("content-length") is not None:
            assert h.header("content-length") == g.header("content-length"), (h, g)
        assert h.header("content-type") == g.header("content-type")
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello"), r


# -- default 404 ------------------------------------------------------------------------------


ROOT_ONLY_APP = """
from listen_line import announce
from socketify import App

app = App()
app.get("/", lambda res, req: res.end("root"))
app.listen(0, announce)
app.run()
"""


def test_default_404_keeps_connection_usable(serve):
    server = serve(ROOT_ONLY_APP)
    with Client(server.port) as c:
        r = c.request(get(b"/nope"))
        assert r.status == 404 and r.header("connection") is None
        r = c.request(get(b"/"))
        assert (r.status, r.body) == (200, b"root")
        # A 404 for a request with a body the server skips.
        c.send(post(b"/nope", b"hello") + get(b"/"))
        assert c.read_response().status == 404
        r = c.read_response()
        assert (r.status, r.body) == (200, b"root")
        h = c.request(b"HEAD /nope HTTP/1.1\r\n" + HOST + b"\r\n", head_request=True)
        assert h.status == 404
        r = c.request(get(b"/"))
        assert (r.status, r.body) == (200, b"root")
        r = c.request(b"DELETE / HTTP/1.1\r\n" + HOST + b"\r\n")
        assert r.status == 404
    # Errors on this server too leave it serving.
    raw = b"GET / HTTP/1.1\r\n\r\n"
    data = exchange(server.port, raw)
    assert status_of(data) == 400, data
    with Client(server.port) as c:
        assert c.request(get(b"/")).body == b"root"


HALF_CLOSE_APP = """
from listen_line import announce
from socketify import App

app = App(idle_timeout=5)
app.post("/ignore-body", lambda res, req: res.end("ignored"))


@app.post("/echo")
async def echo(res, req):
    res.end((await res.get_data()).getvalue())


app.get("/text", lambda res, req: res.end("hello"))
app.listen(0, announce)
app.run()
"""


def test_half_close_during_unread_body_closes_promptly(serve):
    # The response is done but the announced body never comes: the client
    # half-closes, so it can never come. The server must close now, not
    # hold the connection until the idle timeout (5 s here).
    server = serve(HALF_CLOSE_APP)
    with Client(server.port) as c:
        r = c.request(b"POST /ignore-body HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\n")
        assert (r.status, r.body) == (200, b"ignored")
        c.sock.shutdown(socket.SHUT_WR)
        c.assert_closed(timeout=2)
    assert_alive_on(server.port)


def test_half_close_during_truncated_body_closes_promptly(serve):
    # A handler waiting for a body the client cut short (half-close after 3
    # of 10 bytes): the connection is closed at once.
    server = serve(HALF_CLOSE_APP)
    with Client(server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 10\r\n\r\nabc")
        time.sleep(0.1)
        c.sock.shutdown(socket.SHUT_WR)
        data = c.read_until_close(timeout=2)
        assert b"abc" not in data or status_of(data) != 200, data
    assert_alive_on(server.port)


def assert_alive_on(port):
    with Client(port) as c:
        r = c.request(get(b"/text"))
        assert (r.status, r.body) == (200, b"hello"), r


# -- survival ------------------------------------------------------------------------------------


def test_server_still_serves_after_everything(basic_server):
    assert_alive(basic_server.port)
    with Client(basic_server.port) as c:
        r = c.request(get(b"/aborted-count"))
        assert r.status == 200
    assert basic_server.proc.poll() is None, basic_server.stderr()
