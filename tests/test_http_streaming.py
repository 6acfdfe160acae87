"""Streaming bodies both ways with bounded memory, and the response helpers."""

import asyncio
import hashlib
import json
import os
import socket
import struct
import time

import aiohttp
import pytest

import rawhttp
from conftest import app_server


@pytest.fixture(scope="module")
def stream_server():
    yield from app_server("stream_app.py")


def get_json(server, path):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        return json.loads(rawhttp.read_response(sock)[2])


@pytest.mark.serial
def test_100mb_upload_streams_with_constant_memory(stream_server):
    block = os.urandom(1 << 20)
    total = 100
    digest = hashlib.sha256()
    for _ in range(total):
        digest.update(block)
    rss_before = get_json(stream_server, "/state")["rss"]

    async def body():
        for _ in range(total):
            yield block

    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.post(
                stream_server.url + "/upload", data=body(), headers={"Content-Length": str(total << 20)}
            ) as r:
                return await r.json()

    result = asyncio.run(go())
    assert result == {"bytes": total << 20, "sha256": digest.hexdigest()}
    peak = get_json(stream_server, "/state")["upload_peak_rss"]
    assert peak - rss_before < 40 * 1024, "upload grew RSS by %d KiB" % (peak - rss_before)


def test_chunked_upload_through_on_data(stream_server):
    async def body():
        for i in range(50):
            yield b"%06d" % i * 1000

    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.post(stream_server.url + "/upload", data=body()) as r:
                return await r.json()

    expected = b"".join(b"%06d" % i * 1000 for i in range(50))
    assert asyncio.run(go()) == {"bytes": len(expected), "sha256": hashlib.sha256(expected).hexdigest()}


@pytest.mark.serial
def test_50mb_download_to_a_slow_reader_with_bounded_memory(stream_server):
    rss_before = get_json(stream_server, "/state")["rss"]
    with rawhttp.connect(stream_server.port, timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /download/50 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, _, body_start = head.partition(b"\r\n\r\n")
        assert b"Content-Length: %d" % (50 << 20) in head
        received = len(body_start)
        digest = hashlib.sha256(body_start)
        reads = 0
        while received < 50 << 20:
            data = sock.recv(256 * 1024)
            assert data, "closed early after %d bytes" % received
            received += len(data)
            digest.update(data)
            reads += 1
            if reads % 20 == 0:
                time.sleep(0.01)  # a slow reader: the server must wait, not buffer
    block = bytes(range(256)) * 256
    expected = hashlib.sha256()
    for _ in range(50 * 16):
        expected.update(block)
    assert digest.hexdigest() == expected.hexdigest()
    peak = get_json(stream_server, "/state")["download_peak_rss"]
    assert peak - rss_before < 30 * 1024, "download grew RSS by %d KiB" % (peak - rss_before)


def test_try_end_in_two_pieces(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"GET /try-end-sync HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert status == 200 and headers["content-length"] == "10000" and body == b"0123456789" * 1000


def test_try_end_head_sends_length_only(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"HEAD /try-end-sync HTTP/1.1\r\nHost: x\r\n\r\nGET /redirected HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock, head_request=True)
        assert headers["content-length"] == "10000"
        assert rawhttp.read_response(sock)[2] == b"landed"


def test_pause_and_resume(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello")
        time.sleep(0.1)
        sock.sendall(b" world")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert body == b"hello world"


def test_cookie_round_trip_in_aiohttp_jar(stream_server):
    async def go():
        # unsafe=True: the jar otherwise ignores cookies from IP-address hosts
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(stream_server.url + "/cookies/set") as r:
                set_cookies = r.headers.getall("Set-Cookie")
                await r.read()
            async with session.get(stream_server.url + "/cookies/get") as r:
                return set_cookies, await r.json()

    set_cookies, seen = asyncio.run(go())
    assert len(set_cookies) == 2  # one header per cookie
    session_cookie = [c for c in set_cookies if c.startswith("session=")][0]
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Max-Age=3600" in session_cookie
    assert seen == {"session": "abc 123", "theme": "dark", "missing": None}


def test_cookie_option_injection_refused(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"GET /cookies/evil HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert body == b"refused" and "x-injected" not in headers


def test_redirect(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"GET /redirect HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert status == 301 and headers["location"] == "/redirected" and headers["content-length"] == "0"


def test_render(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"GET /render HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert headers["content-type"].startswith("text/html")
    assert body == b'<h1>page {"user": "ana"}</h1>'


def _post(server, path, body, content_type):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.post(server.url + path, data=body, headers={"Content-Type": content_type}) as r:
                return await r.json()

    return asyncio.run(go())


def test_form_urlencoded_with_utf8(stream_server):
    result = _post(
        stream_server, "/form", "name=Jos%C3%A9+Silva&city=S%C3%A3o+Paulo&x=1&x=2", "application/x-www-form-urlencoded"
    )
    assert result == {"form": {"name": "José Silva", "city": "São Paulo", "x": "2"}}


def test_request_body_readers(stream_server):
    assert _post(stream_server, "/req-json", b'{"a": [1, 2]}', "application/json") == {
        "json": {"a": [1, 2]},
        "url": "/req-json",
    }
    assert _post(stream_server, "/req-text", "héllo".encode(), "text/plain") == {"text": "héllo"}
    assert _post(stream_server, "/req-json", b"not json", "application/json")["json"] is None


def _proxy_v2_header(src, dst, sport, dport):
    signature = b"\r\n\r\n\x00\r\nQUIT\n"
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return signature + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def test_proxy_protocol_v2(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(_proxy_v2_header("10.0.0.1", "10.0.0.2", 4000, 80))
        sock.sendall(b"GET /proxied HTTP/1.1\r\nHost: x\r\n\r\n")
        body = json.loads(rawhttp.read_response(sock)[2])
        # the next request on the same connection keeps the announced address
        sock.sendall(b"GET /proxied HTTP/1.1\r\nHost: x\r\n\r\n")
        again = json.loads(rawhttp.read_response(sock)[2])
    assert body == {"proxied": "10.0.0.1", "raw": [10, 0, 0, 1], "remote": "127.0.0.1", "fd": True}
    assert again == body


def test_proxy_protocol_v1_and_absent(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"PROXY TCP4 192.168.1.7 10.0.0.2 5000 80\r\nGET /proxied HTTP/1.1\r\nHost: x\r\n\r\n")
        assert json.loads(rawhttp.read_response(sock)[2])["proxied"] == "192.168.1.7"
    assert get_json(stream_server, "/proxied")["proxied"] is None


def test_malformed_proxy_header_is_400(stream_server):
    data = rawhttp.exchange(stream_server.port, b"PROXY TCP4 999.1.1.1 10.0.0.2 5000 80\r\nGET / HTTP/1.1\r\n\r\n")
    assert rawhttp.status_of(data) == 400


def test_cork_from_a_task(stream_server):
    with rawhttp.connect(stream_server.port) as sock:
        sock.sendall(b"GET /cork-async HTTP/1.1\r\nHost: x\r\n\r\nGET /cork-send HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
        assert (status, headers["x-corked"], body) == (202, "yes", b"corked")
        status, headers, body, _ = rawhttp.read_response(sock)
        assert (status, json.loads(body)) == (201, {"ok": 1})


def test_writes_after_abort_are_no_ops(stream_server):
    sock = rawhttp.connect(stream_server.port)
    sock.sendall(b"GET /write-after-abort HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.05)
    sock.close()
    deadline = time.monotonic() + 5
    while get_json(stream_server, "/state")["aborted_writes"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get_json(stream_server, "/state")["aborted_writes"] == 3
