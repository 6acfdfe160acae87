"""ASGI 3 served by socketify.ASGI: the scope, streaming both ways, errors,
lifespan, WebSockets and the spec's edge cases, over real sockets."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest
import requests
import websockets

import rawhttp
from conftest import HERE, Server, server_certificate, server_env

APP = os.path.join(HERE, "apps", "asgi_raw_app.py")


@pytest.fixture(scope="module")
def asgi_server():
    server = Server(APP).start()
    yield server
    server.stop()
    server.check_clean()


def events(server):
    return requests.get(server.url + "/events", timeout=5).json()


def wait_event(server, key, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(server).get(key)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("no %r event; events: %r" % (key, events(server)))


def ws_url(server, path):
    return "ws://127.0.0.1:%d%s" % (server.port, path)


def run(coro):
    return asyncio.run(coro)


# -- scope --------------------------------------------------------------------------


def test_http_scope_is_complete(asgi_server):
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(
            b"GET /scope/caf%C3%A9%20x?a=1&b=%20 HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Mixed-Case: V\r\n\r\n"
        )
        status, headers, body, _ = rawhttp.read_response(sock)
        client_port = sock.getsockname()[1]
    assert status == 200
    scope = json.loads(body)
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["asgi"]["spec_version"] == "2.4"
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope/caf\u00e9 x"
    assert scope["raw_path"] == "/scope/caf%C3%A9%20x"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["root_path"] == ""
    assert scope["headers"] == [["host", "h"], ["x-dup", "1"], ["x-dup", "2"], ["x-mixed-case", "V"]]
    assert scope["client"] == ["127.0.0.1", client_port]
    assert scope["server"][1] == asgi_server.port
    assert scope["state"]["greeting"] == "hello from lifespan"
    assert "http.response.pathsend" in scope["extensions"]
    assert "http.response.trailers" not in scope["extensions"]  # the client did not send TE: trailers


def test_state_is_a_shallow_copy_per_request(asgi_server):
    first = requests.get(asgi_server.url + "/scope", timeout=5).json()
    second = requests.get(asgi_server.url + "/scope", timeout=5).json()
    # Each request sees lifespan's values in a dict of its own...
    assert "mutated" not in second["state"]
    # ...holding the same objects (the list lifespan created is shared).
    assert len(second["state"]["items"]) == len(first["state"]["items"]) + 1


def test_http_1_0_scope(asgi_server):
    data = rawhttp.exchange(asgi_server.port, b"GET /scope HTTP/1.0\r\n\r\n")
    assert b"200 OK" in data.split(b"\r\n")[0]
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["http_version"] == "1.0"


# -- request bodies -------------------------------------------------------------------


def test_request_body_arrives_in_pieces_with_more_body(asgi_server):
    async def main():
        async def body():
            for _ in range(8):
                yield b"a" * 100_000
                await asyncio.sleep(0.02)

        async with aiohttp.ClientSession() as session:
            async with session.post(asgi_server.url + "/count", data=body()) as resp:
                return await resp.json(content_type=None)

    result = run(main())
    assert result["total"] == 800_000
    assert result["pieces"] > 1


def test_echo_streams_request_into_chunked_response(asgi_server):
    payload = os.urandom(300_000)
    resp = requests.post(asgi_server.url + "/echo", data=payload, timeout=10)
    assert resp.status_code == 200
    assert resp.headers.get("transfer-encoding") == "chunked"
    assert resp.content == payload


def test_chunked_request_body(asgi_server):
    def gen():
        yield b"hello "
        yield b"world"

    resp = requests.post(asgi_server.url + "/echo", data=gen(), timeout=10)
    assert resp.content == b"hello world"


# -- responses -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 299, 418, 599, 999])
def test_any_status_code_is_kept(asgi_server, code):
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(b"GET /status/%d HTTP/1.1\r\nHost: x\r\n\r\n" % code)
        status, _, body, _ = rawhttp.read_response(sock)
    assert status == code
    assert body == b"status"


def test_204_has_no_body(asgi_server):
    data = rawhttp.exchange(asgi_server.port, b"GET /status/204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 204")
    assert data.endswith(b"\r\n\r\n")


def test_header_values_of_every_type(asgi_server):
    data = rawhttp.exchange(asgi_server.port, b"GET /header-types HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = data.split(b"\r\n\r\n")[0]
    assert b"x-bytes: b" in head
    assert b"x-str: s" in head
    assert b"x-int: 42" in head
    assert head.count(b"set-cookie:") == 2


@pytest.mark.parametrize("shape", ["lists", "memoryview", "generator", "tuple"])
def test_header_lists_of_every_shape_twice(asgi_server, shape):
    # Twice: the second answer may come from the cache of packed header lists.
    for _ in range(2):
        data = rawhttp.exchange(
            asgi_server.port,
            b"GET /header-shapes?shape=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % shape.encode(),
        )
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"x-one: 1\r\nx-two: 2" in head
        assert body == shape.encode()


def test_header_injection_is_refused(asgi_server):
    data = rawhttp.exchange(asgi_server.port, b"GET /bad-header HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Injected" not in data
    assert data.endswith(b"refused")


def test_head_gets_headers_without_body(asgi_server):
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(b"HEAD /scope HTTP/1.1\r\nHost: x\r\n\r\nGET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock, head_request=True)
        assert status == 200
        assert body == b""
        assert int(headers["content-length"]) > 0
        # The next response on the same connection is intact: no body leaked.
        status, _, body, _ = rawhttp.read_response(sock)
        assert (status, body) == (200, b"status")


def test_content_length_from_the_app_is_honoured(asgi_server):
    resp = requests.get(asgi_server.url + "/stream?size=1000&count=5&cl=1", timeout=5)
    assert resp.headers["content-length"] == "5000"
    assert "transfer-encoding" not in resp.headers
    assert len(resp.content) == 5000


def test_trailers_when_the_client_asks(asgi_server):
    data = rawhttp.exchange(
        asgi_server.port, b"GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n"
    )
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"4\r\ndata\r\n0\r\nx-checksum: abc\r\n\r\n"


def test_trailers_scope_extension_only_with_te(asgi_server):
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(b"GET /scope HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
        scope = json.loads(rawhttp.read_response(sock)[2])
    assert "http.response.trailers" in scope["extensions"]


def test_pathsend_and_zerocopy(asgi_server, tmp_path):
    path = tmp_path / "file.bin"
    content = os.urandom(700_000)
    path.write_bytes(content)
    resp = requests.get(asgi_server.url + "/pathsend", params={"file": str(path)}, timeout=10)
    assert resp.content == content
    assert resp.headers["content-length"] == str(len(content))
    resp = requests.get(asgi_server.url + "/zerocopy", params={"file": str(path)}, timeout=10)
    assert resp.content == content[2:7]


# -- errors ----------------------------------------------------------------------------


def test_exception_before_start_is_500_and_server_keeps_serving(asgi_server):
    resp = requests.get(asgi_server.url + "/raise", timeout=5)
    assert resp.status_code == 500
    assert requests.get(asgi_server.url + "/status/200", timeout=5).status_code == 200
    assert "boom before start" in asgi_server.stderr()
    assert "Traceback" in asgi_server.stderr()


def test_exception_after_start_closes_the_connection(asgi_server):
    data = rawhttp.exchange(asgi_server.port, b"GET /raise-after-start HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200")
    assert b"partial" in data
    assert not data.endswith(b"0\r\n\r\n")  # never a clean end of a broken response
    assert requests.get(asgi_server.url + "/status/200", timeout=5).status_code == 200


def test_returning_without_a_response_is_500(asgi_server):
    assert requests.get(asgi_server.url + "/no-response", timeout=5).status_code == 500


# -- disconnects -----------------------------------------------------------------------


def test_http_disconnect_after_the_response(asgi_server):
    assert requests.get(asgi_server.url + "/after-response", timeout=5).text == "done"
    assert wait_event(asgi_server, "after_response") == ["http.disconnect"]


def test_pending_receive_gets_disconnect_while_app_works(asgi_server):
    """The client leaves while the app still works: a pending receive()
    gets http.disconnect promptly (not after the idle timeout)."""
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
    assert wait_event(asgi_server, "wait_disconnect", timeout=5) == ["http.disconnect"]


def test_pending_receive_gets_disconnect_with_a_body_in_flight(asgi_server):
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(b"POST /count?slow=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
        time.sleep(0.3)
    # The body can never complete: the pending receive() learns it at once.
    assert wait_event(asgi_server, "count_disconnect", timeout=3) == [1000]
    assert requests.get(asgi_server.url + "/status/200", timeout=5).status_code == 200


def test_send_after_client_left_raises_oserror_and_is_not_logged(asgi_server):
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(b"GET /slow-stream HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(100)
    name, is_oserror = wait_event(asgi_server, "send_after_disconnect", timeout=10)[0]
    assert is_oserror is True
    assert name == "ClientDisconnected"
    time.sleep(0.2)
    assert "ClientDisconnected" not in asgi_server.stderr()


# -- memory bounds ----------------------------------------------------------------------


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


SIZE_MB = int(os.environ.get("ASGI_BIG_MB", "1024"))


@pytest.mark.serial
def test_big_upload_to_a_slow_app_keeps_memory_bounded(asgi_server):
    """SIZE_MB (1 GB by default; ASGI_BIG_MB scales it) sent to an app that
    takes one piece, does not receive for a second, then reads slowly: the core stops
    reading while the app is not receiving, so the server's RSS stays far
    below the upload."""
    import threading

    before = rss_kb(asgi_server.proc.pid)
    block = b"z" * (1 << 20)
    peak = [before]
    sent = [0]

    with rawhttp.connect(asgi_server.port, timeout=120) as sock:
        sock.sendall(
            b"POST /count?delay=1&slow=0.001 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (SIZE_MB << 20)
        )

        def upload():
            for _ in range(SIZE_MB):
                sock.sendall(block)
                sent[0] += 1

        sender = threading.Thread(target=upload, daemon=True)
        sender.start()
        while sender.is_alive():
            peak[0] = max(peak[0], rss_kb(asgi_server.proc.pid))
            sender.join(0.02)
        status, _, body, _ = rawhttp.read_response(sock, timeout=120)
    assert status == 200
    assert json.loads(body)["total"] == SIZE_MB << 20
    growth_mb = (peak[0] - before) / 1024
    assert growth_mb < 64, "server RSS grew by %.0f MB for a %d MB upload" % (growth_mb, SIZE_MB)


@pytest.mark.serial
def test_big_download_to_a_slow_reader_keeps_memory_bounded(asgi_server):
    before = rss_kb(asgi_server.proc.pid)
    peak = before
    total = 0
    count = SIZE_MB * 4  # pieces of 256 KiB
    with rawhttp.connect(asgi_server.port, timeout=120) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /stream?size=262144&count=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % count)
        reads = 0
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            total += len(data)
            reads += 1
            if reads % 64 == 0:
                peak = max(peak, rss_kb(asgi_server.proc.pid))
                if reads < 2000:
                    time.sleep(0.001)  # a slow reader at first
    assert total > (count * 262144)  # body plus chunk framing
    growth_mb = (peak - before) / 1024
    assert growth_mb < 64, "server RSS grew by %.0f MB for a %d MB download" % (growth_mb, SIZE_MB)


# -- lifespan ---------------------------------------------------------------------------


def test_startup_failed_exits_nonzero_with_the_message():
    proc = subprocess.run(
        [sys.executable, APP], env=server_env({"ASGI_FAIL_STARTUP": "1"}), capture_output=True, text=True, timeout=30
    )
    assert proc.returncode != 0
    assert "database unreachable" in proc.stderr
    assert "PORT" not in proc.stdout


def test_app_without_lifespan_support_is_served(serve):
    server = serve(APP, "no-lifespan-support")
    assert requests.get(server.url + "/", timeout=5).text == "no lifespan: True"


def test_lifespan_false_never_sends_lifespan(serve):
    server = serve(APP, "lifespan-off")
    scope = requests.get(server.url + "/scope", timeout=5).json()
    assert "greeting" not in scope["state"]


def test_graceful_shutdown_answers_requests_and_closes_websockets(tmp_path):
    record = tmp_path / "record.txt"
    server = Server(APP, env={"ASGI_RECORD": str(record)}).start()
    try:

        async def main():
            async with websockets.connect(ws_url(server, "/ws/shutdown")) as ws:
                async with aiohttp.ClientSession() as session:
                    slow = asyncio.ensure_future(session.get(server.url + "/slow?s=1"))
                    await asyncio.sleep(0.3)
                    server.proc.send_signal(signal.SIGTERM)
                    resp = await slow
                    text = await resp.text()
                    assert resp.status == 200 and text == "slow done"
                    assert resp.headers.get("connection", "").lower() == "close"
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except websockets.ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd else None
            return None

        code = run(main())
        assert code in (1001, 1012)
        assert server.proc.wait(15) == 0
    finally:
        server.stop()
    lines = record.read_text().splitlines()
    assert 'shutdown_disconnect ["websocket.disconnect", %d]' % code in lines
    assert "shutdown_finally true" in lines
    assert lines[-1] == 'lifespan "shutdown"'


# -- WebSockets -------------------------------------------------------------------------


def test_websocket_echo_subprotocol_headers_and_scope(asgi_server):
    async def main():
        async with websockets.connect(ws_url(asgi_server, "/ws/echo?x=1"), subprotocols=["p1", "p2"]) as ws:
            assert ws.subprotocol == "p1"
            assert ws.response.headers["x-accepted"] == "yes"
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00\x01")
            assert await ws.recv() == b"\x00\x01"
            await ws.send("scope")
            scope = json.loads(await ws.recv())
            await ws.close(code=4005, reason="client done")
            return scope

    scope = run(main())
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/ws/echo"
    assert scope["query_string"] == "x=1"
    assert scope["subprotocols"] == ["p1", "p2"]
    assert "websocket.http.response" in scope["extensions"]
    assert "method" not in scope
    assert [4005, "client done"] in wait_event(asgi_server, "echo_disconnect")


def test_close_before_accept_is_403(asgi_server):
    async def main():
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(ws_url(asgi_server, "/ws/close-before-accept")):
                pass
        return info.value.response.status_code

    assert run(main()) == 403


def test_denial_response_extension(asgi_server):
    async def main():
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(ws_url(asgi_server, "/ws/deny")):
                pass
        return info.value.response

    response = run(main())
    assert response.status_code == 401
    assert response.headers["x-denied"] == "1"
    assert response.body == b"go away"


def close_frame_received(server, path, send=None):
    """The close frame the server sends on ``path`` (after the message ``send``, if any)."""

    async def main():
        async with websockets.connect(ws_url(server, path)) as ws:
            if send is not None:
                await ws.send(send)
            with pytest.raises(websockets.ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd

    return run(main())


def test_server_close_code_and_reason_on_the_wire_then_disconnect(asgi_server):
    rcvd = close_frame_received(asgi_server, "/ws/server-close")
    assert (rcvd.code, rcvd.reason) == (4002, "server says bye")
    assert wait_event(asgi_server, "after_close") == [["websocket.disconnect", 4002]]


def test_app_close_after_a_message(asgi_server):
    rcvd = close_frame_received(asgi_server, "/ws/echo", "close-me")
    assert (rcvd.code, rcvd.reason) == (4001, "as you wish")


def test_client_leaves_before_accept(asgi_server):
    with rawhttp.connect(asgi_server.port) as sock:
        sock.sendall(
            b"GET /ws/late-accept HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        time.sleep(0.2)
    time.sleep(0.3)

    async def go():
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(ws_url(asgi_server, "/ws/go-late")):
                pass

    run(go())
    assert wait_event(asgi_server, "late_receive") == ["websocket.disconnect"]
    assert wait_event(asgi_server, "late_accept") == ["ClientDisconnected"]


def test_send_on_a_gone_websocket_raises_oserror(asgi_server):
    async def main():
        async with websockets.connect(ws_url(asgi_server, "/ws/send-after-gone")) as ws:
            await ws.close(code=1000)

    run(main())
    assert wait_event(asgi_server, "gone_receive") == [["websocket.disconnect", 1000]]
    assert wait_event(asgi_server, "gone_send") == ["ClientDisconnected"]


def test_exception_in_websocket_app_closes_1011(asgi_server):
    assert close_frame_received(asgi_server, "/ws/raise", "trigger").code == 1011
    assert "ws boom" in asgi_server.stderr()


@pytest.mark.serial
def test_websocket_send_waits_for_a_slow_reader(asgi_server):
    """128 MiB sent to a client that waits before reading: every message
    arrives, in order (send() waited instead of dropping), and the server's
    memory stays bounded."""
    before = rss_kb(asgi_server.proc.pid)

    async def main():
        async with websockets.connect(ws_url(asgi_server, "/ws/flood"), max_size=None, max_queue=1) as ws:
            await asyncio.sleep(1.0)
            peak = rss_kb(asgi_server.proc.pid)
            seen = []
            while True:
                message = await asyncio.wait_for(ws.recv(), 30)
                if message == "done":
                    return seen, peak
                seen.append(message[0])
                if len(seen) % 16 == 0:
                    peak = max(peak, rss_kb(asgi_server.proc.pid))
                    await asyncio.sleep(0.05)

    seen, peak = run(main())
    assert seen == [i % 256 for i in range(128)]
    assert (peak - before) / 1024 < 64, "server RSS grew by %.0f MB" % ((peak - before) / 1024)


def test_pubsub_extension(asgi_server):
    async def main():
        async with (
            websockets.connect(ws_url(asgi_server, "/ws/pubsub")) as a,
            websockets.connect(ws_url(asgi_server, "/ws/pubsub")) as b,
        ):
            await asyncio.sleep(0.1)
            await a.send("to everyone")
            return await asyncio.wait_for(a.recv(), 5), await asyncio.wait_for(b.recv(), 5)

    assert run(main()) == ("to everyone", "to everyone")


def test_permessage_deflate_per_websocket_options(serve):
    server = serve(APP, "compress")

    async def main():
        async with websockets.connect(ws_url(server, "/ws/echo"), compression="deflate") as ws:
            extensions = ws.response.headers.get("sec-websocket-extensions", "")
            await ws.send("compressible " * 100)
            return extensions, await ws.recv()

    extensions, echoed = run(main())
    assert "permessage-deflate" in extensions
    assert echoed == "compressible " * 100


def test_no_compression_by_default(asgi_server):
    async def main():
        async with websockets.connect(ws_url(asgi_server, "/ws/echo"), compression="deflate") as ws:
            return ws.response.headers.get("sec-websocket-extensions")

    assert run(main()) is None


# -- construction and modes -------------------------------------------------------------


def test_https_scope_and_wss(serve, tmp_path):
    context = server_certificate(tmp_path)
    server = serve(APP, "tls", str(tmp_path))

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get("https://127.0.0.1:%d/scope" % server.port, ssl=context) as resp:
                scope = await resp.json()
        async with websockets.connect("wss://127.0.0.1:%d/ws/echo" % server.port, ssl=context) as ws:
            await ws.send("scope")
            ws_scope = json.loads(await ws.recv())
        return scope, ws_scope

    scope, ws_scope = run(main())
    assert scope["scheme"] == "https"
    assert ws_scope["scheme"] == "wss"


def test_websocket_dict_serves_a_native_behaviour(serve):
    server = serve(APP, "native-ws")

    async def main():
        async with websockets.connect(ws_url(server, "/anything")) as ws:
            first = await ws.recv()
            await ws.send("x")
            return first, await ws.recv()

    assert run(main()) == ("native hello", "native: x")
    assert requests.get(server.url + "/status/201", timeout=5).status_code == 201


def test_websocket_false_serves_no_websockets(serve):
    server = serve(APP, "no-ws")

    async def main():
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(ws_url(server, "/ws/echo")):
                pass

    run(main())  # the upgrade request reached the ASGI app as plain HTTP
    assert requests.get(server.url + "/status/200", timeout=5).status_code == 200


def test_run_block_false_and_close():
    proc = subprocess.run([sys.executable, APP, "thread"], env=server_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "body status" in proc.stdout
    assert "closed; lifespan ['shutdown']" in proc.stdout


def test_constructor_checks():
    from socketify import ASGI

    with pytest.raises(TypeError):
        ASGI("not an app")
    with pytest.raises(ValueError):
        ASGI(lambda scope, receive, send: None, websocket_options={"max_payload": 1})
    with pytest.raises(TypeError):
        ASGI(lambda scope, receive, send: None, options={"key_file_name": "x"})
    # Another ASGI application as websocket: it gets the WebSocket scopes
    # (tests/test_wsgi_asgi_websocket.py serves one).
    ASGI(lambda scope, receive, send: None, websocket=lambda scope, receive, send: None)


def test_a_slow_application_is_not_an_idle_client(serve):
    """idle_timeout (1 s here: a close within 2 one-second ticks) closes idle
    keep-alive connections, not a request whose application takes longer to
    answer."""
    server = serve(APP, "short-idle")
    assert requests.get(server.url + "/slow?s=2.5", timeout=10).text == "slow done"
    with rawhttp.connect(server.port) as sock:  # an idle keep-alive connection is still closed
        sock.sendall(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n\r\n")
        rawhttp.read_response(sock)
        assert rawhttp.read_until_close(sock, timeout=8) == b""


def test_app_limits_apply_to_an_asgi_server(serve):
    server = serve("""
from listen_line import announce
from socketify import ASGI


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d" % len(body)})


ASGI(app, lifespan=False, max_body_size=10).listen(0, announce).run()
""")
    assert requests.post(server.url + "/", data=b"x" * 10, timeout=10).text == "10"
    assert requests.post(server.url + "/", data=b"x" * 11, timeout=10).status_code == 413


def test_close_from_another_thread_while_run_blocks_the_main_thread():
    code = """
import threading, urllib.request
from socketify import ASGI

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"up"})

ports = []
server = ASGI(app, lifespan=False)

def client():
    import time
    while not ports:
        time.sleep(0.01)
    print(urllib.request.urlopen("http://127.0.0.1:%d/" % ports[0]).read().decode(), flush=True)
    server.close()

threading.Thread(target=client).start()
server.listen(0, lambda config: ports.append(config.port)).run()
print("run returned", flush=True)
"""
    proc = subprocess.run([sys.executable, "-c", code], env=server_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["up", "run", "returned"], proc.stdout
