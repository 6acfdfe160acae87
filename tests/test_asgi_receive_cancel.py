"""A ``receive()`` the application cancels (``asyncio.wait_for`` timing out,
Starlette's ``request.is_disconnected()``) leaves the next ``receive()``
working, for HTTP and WebSocket, over real sockets."""

import os

import pytest

import rawhttp
from conftest import wait_for_value, ws_connect

RAW_APP = """
import asyncio
from listen_line import announce
from socketify import ASGI


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return
    if scope["type"] == "http":
        timed_out = 0
        for _ in range(2):  # no body byte was sent yet: each wait times out
            try:
                await asyncio.wait_for(receive(), 0.01)
            except asyncio.TimeoutError:
                timed_out += 1
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        # The client sends the body once it reads this line.
        await send({"type": "http.response.body", "body": b"timeouts %d\\n" % timed_out,
                    "more_body": True})
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b"body " + body})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    timed_out = 0
    for _ in range(2):
        try:
            await asyncio.wait_for(receive(), 0.01)
        except asyncio.TimeoutError:
            timed_out += 1
    await send({"type": "websocket.send", "text": "timeouts %d" % timed_out})
    message = await receive()
    await send({"type": "websocket.send", "text": "got " + message["text"]})
    await send({"type": "websocket.close", "code": 1000})


ASGI(app).listen({"host": "127.0.0.1", "port": 0}, announce).run()
"""

STARLETTE_APP = """
import asyncio
import os
from listen_line import announce
from socketify import ASGI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def upload(request):
    body = await request.body()  # is_disconnected() would take (and drop) a body piece
    gone = [await request.is_disconnected(), await request.is_disconnected()]
    return PlainTextResponse("%r %d %s" % (gone, len(body), body[:3].decode()))


async def watch(request):
    # Polls until the client leaves (the common "stop streaming" loop).
    polls = 0
    while not await request.is_disconnected():
        polls += 1
        if polls == 3:
            open(os.environ["MARK"] + ".polling", "w").close()
        await asyncio.sleep(0.01)
    open(os.environ["MARK"] + ".gone", "w").close()
    return PlainTextResponse("never read")


ASGI(Starlette(routes=[Route("/upload", upload, methods=["POST"]), Route("/watch", watch)]),
     lifespan=False).listen({"host": "127.0.0.1", "port": 0}, announce).run()
"""


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        piece = sock.recv(1)
        assert piece, "connection closed after %r" % data
        data += piece
    return data


def test_http_receive_after_timed_out_receives(serve):
    server = serve(RAW_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 200")
        assert read_line(sock) == b"b\r\n"  # the chunk's size
        assert read_line(sock) == b"timeouts 2\n"
        sock.sendall(b"hello")
        rest = b""
        while b"0\r\n\r\n" not in rest:
            piece = sock.recv(4096)
            assert piece, rest
            rest += piece
    assert b"body hello" in rest
    assert "RuntimeError" not in server.stderr()


def test_websocket_receive_after_timed_out_receives(serve):
    server = serve(RAW_APP)
    with ws_connect("ws://127.0.0.1:%d/" % server.port) as ws:
        assert ws.recv(timeout=10) == "timeouts 2"
        ws.send("ping")
        assert ws.recv(timeout=10) == "got ping"
    assert "RuntimeError" not in server.stderr()


def test_starlette_is_disconnected_then_body(serve):
    pytest.importorskip("starlette")
    server = serve(STARLETTE_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        status, _headers, body, _ = rawhttp.read_response(sock)
    assert status == 200, body
    assert body == b"[False, False] 3 abc"
    assert "RuntimeError" not in server.stderr()


def test_starlette_is_disconnected_sees_the_client_leave(serve, tmp_path):
    pytest.importorskip("starlette")
    mark = str(tmp_path / "mark")
    server = serve(STARLETTE_APP, env={"MARK": mark})
    sock = rawhttp.connect(server.port)
    sock.sendall(b"GET /watch HTTP/1.1\r\nHost: h\r\n\r\n")
    # The handler polls is_disconnected(), each call cancelling a receive();
    # once it polls, the client leaves and the loop must see it.
    wait_for_value(lambda: os.path.exists(mark + ".polling") or server.stderr(), bool, 10)
    assert os.path.exists(mark + ".polling"), server.stderr()
    sock.close()
    wait_for_value(lambda: os.path.exists(mark + ".gone") or server.stderr(), bool, 10)
    assert os.path.exists(mark + ".gone"), server.stderr()
