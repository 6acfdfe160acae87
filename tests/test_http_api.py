"""Request and Response API over real sockets (aiohttp and raw clients)."""

import asyncio
import json
import socket
import time

import aiohttp
import pytest

import rawhttp
from conftest import fetch, fetch_json

# -- routing -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,route",
    [
        ("/prec/static", "static"),
        ("/prec/other", "param"),
        ("/prec/a/b/c", "wildcard"),
        ("/prec", "wildcard"),
    ],
)
def test_static_beats_param_beats_wildcard(basic_server, path, route):
    status, body = fetch_json(basic_server, path)
    assert status == 200 and body["route"] == route


def test_method_route_beats_any_when_equally_specific(basic_server):
    assert fetch_json(basic_server, "/both")[1]["route"] == "get"
    assert fetch_json(basic_server, "/both", "POST")[1]["route"] == "any"


def test_any_route_is_reached_by_every_method(basic_server):
    assert fetch_json(basic_server, "/prec/any-only", "DELETE")[1]["route"] == "any-only"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_every_method_helper(basic_server, method):
    status, body = fetch_json(basic_server, "/method", method)
    assert status == 200
    assert body["route"] == method.lower() and body["method"] == method


def test_connect_method(basic_server):
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n")
        status, _, body, _ = rawhttp.read_response(sock)
    # An authority-form CONNECT is routed as "/127.0.0.1:80": the app's
    # any("/*") answers it, and get_url() is the authority.
    assert status == 404 and body == b"custom not found: 127.0.0.1:80"


def test_custom_method_reaches_any(basic_server):
    status, body = fetch_json(basic_server, "/method", "PURGE")
    assert status == 200 and body["route"] == "any" and body["method"] == "PURGE"


def test_parameters_are_all_returned_and_decoded(basic_server):
    status, body = fetch_json(basic_server, "/params/x%20y/z")
    assert body["params"] == ["x y", "z"]
    status, body = fetch_json(basic_server, "/deep/1/x/2/rest/of/it")
    assert body["route"] == "deep" and body["params"] == ["1", "2"]


def test_decorator_routes(basic_server):
    assert fetch_json(basic_server, "/method", "POST")[1]["route"] == "post"


def test_set_yield_falls_through_to_next_route(basic_server):
    assert fetch(basic_server, "/yield/pass")[2] == b"second"
    assert fetch(basic_server, "/yield/stop")[2] == b"first"


def test_catch_all_route(basic_server):
    status, _, body = fetch(basic_server, "/nowhere/at/all")
    assert status == 404 and body == b"custom not found: /nowhere/at/all"


# -- request accessors ---------------------------------------------------------


def test_url_full_url_and_queries(basic_server):
    status, body = fetch_json(basic_server, "/prec/static?a=1&a=2&b=x%20y&empty=")
    assert body["url"] == "/prec/static"
    assert body["full_url"] == "/prec/static?a=1&a=2&b=x%20y&empty="
    assert body["queries"] == {"a": ["1", "2"], "b": ["x y"], "empty": [""]}


def test_get_query(basic_server):
    status, body = fetch_json(basic_server, "/query?a=%C3%A9t%C3%A9&b=1+2")
    assert body["a"] == "été" and body["b"] == "1 2" and body["missing"] is None


def test_queries_with_nothing_to_decode(basic_server):
    status, body = fetch_json(basic_server, "/query?a=1&a=2&b=&c")
    assert body["a"] == "1" and body["b"] == ""
    assert body["all"] == {"a": ["1", "2"], "b": [""], "c": [""]}


def test_parameters_and_headers_larger_than_the_scratch_buffer(basic_server):
    # The core packs parameters and headers into a 4 KiB buffer per app;
    # bigger ones take a buffer of their own.
    long_a, long_b = "a" * 3000, "%C3%A9" + "b" * 2000
    status, body = fetch_json(basic_server, "/params/%s/%s" % (long_a, long_b))
    assert body["params"] == [long_a, "é" + "b" * 2000]
    big = "v" * 6000
    status, body = fetch_json(basic_server, "/headers", headers={"X-Big": big})
    assert body["headers"]["x-big"] == big


def test_headers(basic_server):
    status, body = fetch_json(basic_server, "/headers", headers={"X-Custom": "Value", "X-UTF": "é"})
    assert body["headers"]["x-custom"] == "Value"
    assert body["headers"]["x-utf"] == "é"
    assert body["host"] == "127.0.0.1:%d" % basic_server.port
    assert ["x-custom", "Value"] in body["each"]
    assert body["missing"] is None


def test_is_ancient(basic_server):
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /prec/static HTTP/1.0\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert status == 200 and json.loads(body)["ancient"] is True
    assert fetch_json(basic_server, "/prec/static")[1]["ancient"] is False


def test_remote_address(basic_server):
    body = fetch_json(basic_server, "/remote")[1]
    assert body["text"] == "127.0.0.1" and body["bytes"] == [127, 0, 0, 1]


# -- response writers ----------------------------------------------------------


def test_end_text_and_bytes(basic_server):
    status, headers, body = fetch(basic_server, "/text")
    assert (status, body, headers["Content-Length"]) == (200, b"hello", "5")
    assert "Date" in headers
    assert fetch(basic_server, "/bytes")[2] == b"\x00\x01bytes"


def test_end_dict_is_json(basic_server):
    status, headers, body = fetch(basic_server, "/json")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"ok": True, "list": [1, 2]}


def test_end_without_body_has_zero_length(basic_server):
    for path in ("/empty", "/none"):
        status, headers, body = fetch(basic_server, path)
        assert status == 200 and headers["Content-Length"] == "0" and body == b""


def test_no_body_statuses(basic_server):
    with rawhttp.connect(basic_server.port) as sock:
        for path, code in ((b"/no-content", 204), (b"/not-modified", 304)):
            sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body, rest = rawhttp.read_response(sock)
            assert status == code and "content-length" not in headers and rest == b""
        sock.sendall(b"GET /text HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"hello"


@pytest.mark.parametrize(
    "code,line", [(201, "201 Created"), (404, "404 Not Found"), (299, "299 "), (503, "503 Service Unavailable")]
)
def test_write_status_int(basic_server, code, line):
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /status/%d HTTP/1.1\r\nHost: x\r\n\r\n" % code)
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 " + line.encode() + b"\r\n")
    assert data.endswith(b"status")


def test_write_status_text_and_header(basic_server):
    status, headers, body = fetch(basic_server, "/status-text")
    assert status == 418 and headers["X-Tea"] == "pot" and body == b"short and stout"


def test_write_streams_chunked(basic_server):
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert headers["transfer-encoding"] == "chunked" and body == b"one,two,three"
    assert fetch(basic_server, "/stream")[2] == b"one,two,three"


def test_chunk_size_lines_are_lowercase_hex(basic_server):
    sizes = [1, 10, 15, 16, 255, 4096, 74565]
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /stream-sizes?sizes=%s HTTP/1.1\r\nHost: x\r\n\r\n" % ",".join(map(str, sizes)).encode())
        data = b""
        while not data.endswith(b"\r\n0\r\n\r\n"):
            chunk = sock.recv(1 << 20)
            assert chunk, "connection closed early"
            data += chunk
    body = data.partition(b"\r\n\r\n")[2]
    for size in sizes:
        line, _, body = body.partition(b"\r\n")
        assert line == b"%x" % size
        assert body[:size] == b"x" * size and body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]
    assert body == b"0\r\n\r\n"


def test_write_with_content_length_is_not_chunked(basic_server):
    status, headers, body = fetch(basic_server, "/stream-length")
    assert headers["Content-Length"] == "10" and "Transfer-Encoding" not in headers
    assert body == b"0123456789"


def test_write_streams_to_http10_by_closing(basic_server):
    data = rawhttp.exchange(basic_server.port, b"GET /stream HTTP/1.0\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"chunked" not in head.lower() and body == b"one,two,three"


@pytest.mark.parametrize(
    "kind,status,ctype,body",
    [
        ("dict", 200, "application/json", b'{"x": 1}'),
        ("list", 200, "application/json", b"[1, 2, 3]"),
        ("status-int", 201, "text/plain", b"created"),
        ("status-str", 410, "text/plain", b"gone"),
        ("plain", 200, "text/plain", b"plain"),
        ("headers", 200, "text/custom", b"with headers"),
    ],
)
def test_send(basic_server, kind, status, ctype, body):
    got_status, headers, got_body = fetch(basic_server, "/send?kind=" + kind)
    assert (got_status, headers["Content-Type"], got_body) == (status, ctype, body)
    assert headers["Content-Length"] == str(len(body))
    if kind == "headers":
        assert headers["X-A"] == "1" and headers["X-B"] == "2"


def test_header_value_types(basic_server):
    status, headers, body = fetch(basic_server, "/header-types")
    assert status == 200 and headers["X-Int"] == "42" and headers["X-Bytes"] == "b"


def test_end_connection_closes(basic_server):
    data = rawhttp.exchange(basic_server.port, b"GET /close-after HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Connection: close" in data and data.endswith(b"bye")


# -- misuse never breaks the server ----------------------------------------------


def test_end_twice_and_write_after_end_are_no_ops(basic_server):
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /end-twice HTTP/1.1\r\nHost: x\r\n\r\nGET /text HTTP/1.1\r\nHost: x\r\n\r\n")
        first = rawhttp.read_response(sock)
        assert first[0] == 200 and first[2] == b"first"
        second = rawhttp.read_response(sock)
        assert second[2] == b"hello"


def test_header_injection_is_refused(basic_server):
    status, headers, body = fetch(basic_server, "/header-injection")
    assert body == b"rejected: ValueError" and "Set-Cookie" not in headers


def test_bad_types_raise_clear_errors(basic_server):
    assert fetch_json(basic_server, "/bad-types")[1]["errors"] == ["TypeError", "ValueError", "TypeError"]


def test_request_after_response_raises(basic_server):
    assert fetch(basic_server, "/stale-request")[2] == b"done"


# -- errors --------------------------------------------------------------------


def test_handler_exception_gives_500(basic_server):
    status, headers, body = fetch(basic_server, "/raise")
    assert status == 500 and body == b"Internal Server Error"
    assert fetch(basic_server, "/text")[2] == b"hello"


def test_async_handler_exception_gives_500(basic_server):
    assert fetch(basic_server, "/raise-async")[0] == 500


def test_exception_after_a_write_still_in_the_cork_gives_500(basic_server):
    # "partial" never left the process: it is taken back and the client gets
    # a clean 500 (an error after bytes left closes: test_atomic_heads.py).
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /raise-after-write HTTP/1.1\r\nHost: x\r\n\r\nGET /text HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = rawhttp.read_response(sock)
        assert (status, body) == (500, b"Internal Server Error")
        assert rawhttp.read_response(sock)[2] == b"hello"


def test_handler_without_response_is_answered_later(basic_server):
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /no-response HTTP/1.1\r\nHost: x\r\n\r\nGET /text HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"late answer"
        assert rawhttp.read_response(sock)[2] == b"hello"


# -- async -----------------------------------------------------------------------


def test_async_request_usable_after_await(basic_server):
    status, body = fetch_json(basic_server, "/async?q=v", headers={"X-Test": "kept"})
    assert body == {"url": "/async", "query": "v", "header": "kept", "params": [], "method": "GET"}


def test_async_without_await(basic_server):
    assert fetch(basic_server, "/async-no-await")[2] == b"instant"


def test_abort_during_async_handler(basic_server):
    before = fetch_json(basic_server, "/aborted-count")[1]["aborted"]
    sock = rawhttp.connect(basic_server.port)
    sock.sendall(b"GET /async-abort HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()

    def poll():
        for _ in range(50):
            status, body = fetch_json(basic_server, "/aborted-count")
            if body["aborted"] > before:
                return body["aborted"]
            time.sleep(0.05)
        return None

    assert poll() == before + 1
    time.sleep(0.6)  # the handler wakes up and writes into the void
    assert fetch(basic_server, "/text")[2] == b"hello"


def test_many_concurrent_async_requests(basic_server):
    async def go():
        async with aiohttp.ClientSession() as session:

            async def one(i):
                async with session.get(basic_server.url + "/async/%d" % i) as r:
                    return await r.text()

            return await asyncio.gather(*(one(i) for i in range(200)))

    assert asyncio.run(go()) == ["id=%d" % i for i in range(200)]


# -- bodies --------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1000, 300_000, 3_000_000])
def test_post_body_echo(basic_server, size):
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    status, headers, body = fetch(basic_server, "/echo", "POST", data=payload)
    assert status == 200 and headers["X-Length"] == str(size) and body == payload


def test_chunked_upload_echo(basic_server):
    async def gen():
        for i in range(20):
            yield b"chunk-%d;" % i

    status, headers, body = fetch(basic_server, "/echo", "POST", data=gen())
    assert body == b"".join(b"chunk-%d;" % i for i in range(20))
