"""Limits and slow clients over raw sockets, against the real server.

414 for a request line over max_request_line_size (also while it is still
incomplete), 431 for a header section over max_header_size bytes or
max_header_count fields, 413 for a body over max_body_size, and slow clients
(header_timeout) and idle keep-alive connections (idle_timeout) closed. Every
limit answer closes the connection; the server keeps serving others.
"""

import json
import os
import select
import socket
import time

import pytest

from rawhttp import connect, read_response, read_until_close, status_of

HERE = os.path.dirname(os.path.abspath(__file__))
LIMITS_APP = os.path.join(HERE, "apps", "proto_limits_app.py")
HOST = b"Host: localhost\r\n"

# Small limits; header/idle timeouts long enough that they never explain an
# answer in the tests that are not about them.
SMALL = dict(
    max_request_line_size=256,
    max_header_size=1024,
    max_header_count=10,
    header_timeout=10,
    idle_timeout=10,
    max_body_size=1000,
)
# Short timeouts for the slow-client tests.
TIMEOUT_S = 2
MARGIN_S = 3
SLOW = dict(SMALL, header_timeout=TIMEOUT_S, idle_timeout=TIMEOUT_S)


@pytest.fixture
def small_server(serve):
    return serve(LIMITS_APP, json.dumps(SMALL))


@pytest.fixture
def slow_server(serve):
    return serve(LIMITS_APP, json.dumps(SLOW))


# -- helpers ----------------------------------------------------------------------------------


def request(port, raw):
    with connect(port) as sock:
        sock.sendall(raw)
        status, headers, body, rest = read_response(sock)
        assert rest == b""
        return status, headers, body


def assert_alive(port):
    assert request(port, b"GET /text HTTP/1.1\r\n" + HOST + b"\r\n")[::2] == (200, b"hello")


def assert_rejected(port, raw, status, timeout=5.0, parts=None):
    """``raw`` (or ``parts``, sent one after the other) gets exactly one
    ``status`` response with ``Connection: close``, then the server closes;
    a new connection is then served normally."""
    with connect(port, timeout) as sock:
        try:
            for part in parts or [raw]:
                sock.sendall(part)
                if parts:
                    time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read it all
        data = read_until_close(sock, timeout)
    assert not data.endswith(b"<timeout>"), "not closed within %ss: %r" % (timeout, data)
    assert status_of(data) == status, "expected %d, got %r" % (status, data[:300])
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    assert headers.get("connection", "").lower() == "close", data
    assert len(body.replace(b"<reset>", b"")) == int(headers["content-length"]), data
    assert_alive(port)
    return data


def get_with_line_len(total, target_prefix=b"/text?p="):
    """A GET whose request line (CRLF excluded) is exactly ``total`` bytes."""
    fixed = len(b"GET ") + len(target_prefix) + len(b" HTTP/1.1")
    return b"GET " + target_prefix + b"a" * (total - fixed) + b" HTTP/1.1\r\n" + HOST + b"\r\n"


def get_with_section_len(total, count=1):
    """A GET whose header section (after the request line, final CRLF
    included) is exactly ``total`` bytes, in ``count`` fields (Host included)."""
    lines = [HOST] + [b"X-F%d: v\r\n" % i for i in range(count - 2)]
    used = sum(len(x) for x in lines) + 2
    pad = total - used - len(b"X-Pad: \r\n")
    assert pad >= 0
    lines.append(b"X-Pad: " + b"p" * pad + b"\r\n")
    section = b"".join(lines) + b"\r\n"
    assert len(section) == total and section.count(b"\r\n") - 1 == count
    return b"GET /headers HTTP/1.1\r\n" + section


def get_with_fields(count):
    lines = [HOST] + [b"X-Field-%d: %d\r\n" % (i, i) for i in range(count - 1)]
    return b"GET /headers HTTP/1.1\r\n" + b"".join(lines) + b"\r\n"


def wait_for_close(sock, deadline):
    """Reads until EOF or ``deadline``; returns (closed, bytes received)."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, data
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, data
        except ConnectionResetError:
            return True, data
        if not chunk:
            return True, data
        data += chunk


def assert_timeout_answer(data):
    """A timed-out client gets a plain close, or a 408 then the close."""
    if data:
        assert status_of(data) == 408, data
        assert b"\r\nconnection: close\r\n" in data.lower(), data


# -- request line: 414 -------------------------------------------------------------------------


def test_url_over_limit_is_414(small_server):
    raw = b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n" + HOST + b"\r\n"
    assert_rejected(small_server.port, raw, 414)


def test_request_line_at_limit_is_served_one_more_byte_is_414(small_server):
    raw = get_with_line_len(256)
    assert raw.index(b"\r\n") == 256
    status, _, body = request(small_server.port, raw)
    assert (status, body) == (200, b"hello")
    assert_rejected(small_server.port, get_with_line_len(257), 414)


def test_incomplete_request_line_over_limit_is_414_at_once(small_server):
    # No CRLF yet, but already past the limit: answered right away, long
    # before the 10 s header timeout.
    assert_rejected(small_server.port, b"GET /" + b"a" * 400, 414, timeout=3)


def test_incomplete_request_line_over_limit_in_pieces_is_414(small_server):
    parts = [b"GET /" + b"a" * 100, b"b" * 100, b"c" * 100, b"d" * 100]
    assert_rejected(small_server.port, None, 414, timeout=3, parts=parts)


def test_endless_method_is_414(small_server):
    assert_rejected(small_server.port, b"A" * 300, 414, timeout=3)


def test_default_request_line_limit(basic_server):
    raw = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n"
    assert_rejected(basic_server.port, raw, 414)
    status, _, _ = request(basic_server.port, get_with_line_len(8192, b"/text?p="))
    assert status == 200


# -- header section: 431 -----------------------------------------------------------------------


def test_one_big_header_is_431(small_server):
    raw = b"GET /text HTTP/1.1\r\n" + HOST + b"X-Big: " + b"b" * 1100 + b"\r\n\r\n"
    assert_rejected(small_server.port, raw, 431)


def test_header_bytes_over_limit_in_few_fields_is_431(small_server):
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 150) for i in range(7))
    raw = b"GET /text HTTP/1.1\r\n" + HOST + fields + b"\r\n"
    assert_rejected(small_server.port, raw, 431)


def test_incomplete_header_section_over_limit_is_431_at_once(small_server):
    raw = b"GET /text HTTP/1.1\r\n" + HOST + b"X-Big: " + b"b" * 1100  # no line end yet
    assert_rejected(small_server.port, raw, 431, timeout=3)


def test_incomplete_header_section_over_limit_in_pieces_is_431(small_server):
    # The head is parsed again only when new bytes can change the answer:
    # passing the header limit is such a moment, line end or not.
    parts = [b"GET /text HTTP/1.1\r\n" + HOST + b"X-Big: " + b"b" * 300] + [b"b" * 300] * 3
    assert_rejected(small_server.port, None, 431, timeout=3, parts=parts)


def test_head_trickled_a_byte_at_a_time_is_served(small_server):
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 80) for i in range(8))
    raw = b"GET /text HTTP/1.1\r\n" + HOST + fields + b"\r\n"
    with connect(small_server.port) as sock:
        for i in range(len(raw)):
            sock.sendall(raw[i : i + 1])
        status, _, body, rest = read_response(sock)
    assert (status, body, rest) == (200, b"hello", b"")
    assert_alive(small_server.port)


def test_header_section_at_limit_is_served_one_more_byte_is_431(small_server):
    status, _, body = request(small_server.port, get_with_section_len(1024, count=3))
    assert status == 200 and json.loads(body) == {"count": 3}
    assert_rejected(small_server.port, get_with_section_len(1025, count=3), 431)


def test_header_count_over_limit_is_431(small_server):
    status, _, body = request(small_server.port, get_with_fields(10))
    assert status == 200 and json.loads(body) == {"count": 10}
    assert_rejected(small_server.port, get_with_fields(11), 431)
    assert_rejected(small_server.port, get_with_fields(50), 431)


def test_empty_header_fields_count_too(small_server):
    raw = b"GET /text HTTP/1.1\r\n" + HOST + b"X-E:\r\n" * 10 + b"\r\n"
    assert_rejected(small_server.port, raw, 431)


def test_default_header_count_limit(basic_server):
    status, _, _ = request(basic_server.port, get_with_fields(100))
    assert status == 200
    assert_rejected(basic_server.port, get_with_fields(101), 431)


def test_default_header_size_limit(basic_server):
    raw = b"GET /text HTTP/1.1\r\n" + HOST + b"X-Big: " + b"b" * (9 * 1024) + b"\r\n\r\n"
    assert_rejected(basic_server.port, raw, 431)


def test_default_8000_byte_header_section_is_served(basic_server):
    raw = get_with_section_len(8000, count=20)
    status, _, body = request(basic_server.port, raw)
    assert status == 200, body
    assert json.loads(body)["host"] == "localhost"


def test_chunked_trailers_are_bounded(small_server):
    trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"t" * 200) for i in range(8))
    raw = (
        b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" + trailers + b"\r\n"
    )
    data = assert_rejected_any(small_server.port, raw)
    assert status_of(data) in (400, 431), data


def test_chunked_trailer_count_is_bounded(small_server):
    trailers = b"X-T: 1\r\n" * 20
    raw = (
        b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" + trailers + b"\r\n"
    )
    data = assert_rejected_any(small_server.port, raw)
    assert status_of(data) in (400, 431), data


def test_chunk_extension_line_is_bounded(small_server):
    raw = (
        b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"3;x=" + b"e" * 2000 + b"\r\nabc\r\n0\r\n\r\n"
    )
    assert_rejected(small_server.port, raw, 400, timeout=3)


def assert_rejected_any(port, raw):
    # Trailers are bounded "like headers" (PROTOCOL.md) without a fixed status:
    # a framing error (400) or a header-size error (431) are both accepted.
    with connect(port) as sock:
        sock.sendall(raw)
        data = read_until_close(sock, 5)
    assert not data.endswith(b"<timeout>"), data
    assert b"\r\nconnection: close\r\n" in data.lower(), data
    assert_alive(port)
    return data


# -- body: 413 -------------------------------------------------------------------------------


def test_body_at_limit_is_served(small_server):
    body = bytes(range(250)) * 4
    status, headers, echoed = request(
        small_server.port, b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 1000\r\n\r\n" + body
    )
    assert status == 200 and echoed == body and headers["x-length"] == "1000"


def test_content_length_over_limit_is_413(small_server):
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 1001\r\n\r\n" + b"x" * 1001
    assert_rejected(small_server.port, raw, 413)


def test_content_length_over_limit_is_413_before_the_body(small_server):
    # Answered from the head alone: the client need not send the body.
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 100000000\r\n\r\n"
    assert_rejected(small_server.port, raw, 413, timeout=3)


def test_chunked_body_at_limit_is_served(small_server):
    chunks = b"".join(b"190\r\n" + b"c" * 400 + b"\r\n" for _ in range(2)) + b"C8\r\n" + b"d" * 200 + b"\r\n"
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    status, headers, body = request(small_server.port, raw)
    assert status == 200 and headers["x-length"] == "1000" and body == b"c" * 800 + b"d" * 200


def test_chunked_body_over_limit_is_413(small_server):
    chunks = b"".join(b"190\r\n" + b"c" * 400 + b"\r\n" for _ in range(3))
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    assert_rejected(small_server.port, raw, 413)


def test_chunked_body_growing_past_limit_is_413(small_server):
    head = b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
    chunk = b"258\r\n" + b"c" * 600 + b"\r\n"
    # The second chunk crosses the limit; the terminating chunk never comes.
    assert_rejected(small_server.port, None, 413, timeout=3, parts=[head, chunk, chunk])


def test_chunked_body_one_huge_chunk_size_is_413(small_server):
    raw = b"POST /echo HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n" + b"x" * 2000
    assert_rejected(small_server.port, raw, 413, timeout=3)


# -- slow clients --------------------------------------------------------------------------------


def test_slowloris_partial_heads_are_closed_others_served(slow_server):
    port = slow_server.port
    partial = [connect(port) for _ in range(5)]
    silent = connect(port)  # connects and never sends a byte
    try:
        start = time.monotonic()
        for i, sock in enumerate(partial):
            # Partial heads cut at different places; the final CRLF never comes.
            head = b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n"
            sock.sendall(head[: len(head) - 7 * i])
        # Others are served normally meanwhile.
        for i in range(10):
            status, _, body = request(port, b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n\r\n%02d" % i)
            assert (status, body) == (200, b"%02d" % i)
        for sock in partial + [silent]:
            closed, data = wait_for_close(sock, start + TIMEOUT_S + MARGIN_S)
            assert closed, "slow client still open after %ss: %r" % (TIMEOUT_S + MARGIN_S, data)
            assert_timeout_answer(data)
    finally:
        for sock in partial + [silent]:
            sock.close()
    assert_alive(port)


def test_idle_keep_alive_connection_is_closed(slow_server):
    port = slow_server.port
    with connect(port) as sock:
        sock.sendall(b"GET /text HTTP/1.1\r\n" + HOST + b"\r\n")
        status, _, body, rest = read_response(sock)
        assert (status, body, rest) == (200, b"hello", b"")
        start = time.monotonic()
        closed, data = wait_for_close(sock, start + TIMEOUT_S + MARGIN_S)
        assert closed, "idle keep-alive connection still open: %r" % data
        assert_timeout_answer(data)
    assert_alive(port)


def test_partial_second_request_on_keep_alive_is_closed(slow_server):
    port = slow_server.port
    with connect(port) as sock:
        sock.sendall(b"GET /text HTTP/1.1\r\n" + HOST + b"\r\n")
        assert read_response(sock)[::2] == (200, b"hello")
        start = time.monotonic()
        sock.sendall(b"GET /text HTTP/1.1\r\n")  # and nothing more
        closed, data = wait_for_close(sock, start + TIMEOUT_S + MARGIN_S)
        assert closed, "partial second head still open: %r" % data
        assert_timeout_answer(data)


def test_trickling_header_bytes_do_not_reset_the_timeout(slow_server):
    port = slow_server.port
    with connect(port) as sock:
        start = time.monotonic()
        deadline = start + TIMEOUT_S + MARGIN_S
        sock.sendall(b"GET /text HTTP/1.1\r\n" + HOST)
        trickle = b"X-Slow: " + b"s" * 100  # never finished: no CRLF ever comes
        received = b""
        closed = False
        i = 0
        while time.monotonic() < deadline and not closed:
            try:
                sock.sendall(trickle[i : i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            i += 1
            ready, _, _ = select.select([sock], [], [], 0.5)
            if ready:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                received += chunk
        assert closed, "a client trickling a header byte every 0.5 s was still open after %ss" % (TIMEOUT_S + MARGIN_S)
        assert_timeout_answer(received)
    assert_alive(port)
