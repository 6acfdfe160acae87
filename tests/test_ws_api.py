"""The WebSocket API (API.md sections 6-8) and interoperability with real
client libraries: websockets, aiohttp and websocket-client, with and
without permessage-deflate.

The app (tests/apps/ws_api_app.py) runs twice: once with plain handlers and
once with ``async def`` handlers (upgrade included). Every event it sees is
logged under the client's ``?name=`` and read back over HTTP.
"""

import asyncio
import itertools
import json
import os
import time
import urllib.request

import aiohttp
import pytest
import websocket as wsclient  # websocket-client
import websockets.exceptions
from wsframes import BINARY, CLOSE, PING, PONG, TEXT, WSClient, deflate_message, server_close, server_frame

from conftest import (
    HERE,
    Server,
    ws_connect,  # websockets.sync.client.connect, PyPy-safe
)

APP = os.path.join(HERE, "apps", "ws_api_app.py")
_names = itertools.count()


@pytest.fixture(scope="module", params=["sync", "async"])
def server(request):
    server = Server(APP, [request.param]).start()
    server.mode = request.param
    yield server
    server.stop()
    server.check_clean()


@pytest.fixture(scope="module")
def sync_server():
    server = Server(APP, ["sync"]).start()
    yield server
    server.stop()
    server.check_clean()


def new_name(prefix="c"):
    return "%s%d" % (prefix, next(_names))


def http_json(server, path):
    with urllib.request.urlopen(server.url + path, timeout=5) as r:
        return json.loads(r.read())


def events(server, name):
    return http_json(server, "/log?name=" + name)


def wait_events(server, name, predicate, timeout=8.0):
    """Polls the log until predicate(log) holds; returns the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = events(server, name)
        if predicate(log):
            return log
        if time.monotonic() > deadline:
            raise AssertionError("condition not met; log for %s: %r" % (name, log))
        time.sleep(0.02)


def has(kind):
    return lambda log: any(e[0] == kind for e in log)


def first(log, kind):
    return next(e for e in log if e[0] == kind)


def ws_url(server, path, name):
    return "ws://127.0.0.1:%d%s?name=%s" % (server.port, path, name)


def raw(server, path="/api", name=None, **kw):
    name = name or new_name()
    client = WSClient.connect(server.port, "%s?name=%s" % (path, name), **kw)
    client.name = name
    return client


def server_rss_kb(server):
    with open("/proc/%d/status" % server.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# =============================================================================
# Interop: websockets, aiohttp, websocket-client
# =============================================================================


@pytest.mark.parametrize(
    "path,compression",
    [
        ("/api", None),
        ("/deflate", None),
        ("/deflate", "deflate"),
        ("/deflate-dedicated", "deflate"),
    ],
)
def test_websockets_library(server, path, compression):
    name = new_name()
    with ws_connect(
        ws_url(server, path, name), compression=compression, open_timeout=5, close_timeout=5, max_size=None
    ) as conn:
        negotiated = conn.response.headers.get("Sec-WebSocket-Extensions")
        if compression and path != "/api":
            assert negotiated and negotiated.startswith("permessage-deflate"), negotiated
        else:
            assert negotiated is None
        conn.send("hello ünïcode ✓")
        assert conn.recv(timeout=5) == "hello ünïcode ✓"
        conn.send(b"\x00\x01binary\xff")
        assert conn.recv(timeout=5) == b"\x00\x01binary\xff"
        big = ("large text " * 50000)[:400000]
        conn.send(big)
        assert conn.recv(timeout=10) == big
        blob = os.urandom(300000)
        conn.send(blob)
        assert conn.recv(timeout=10) == blob
        conn.send(["frag", "mented ", "text"])
        assert conn.recv(timeout=5) == "fragmented text"
    log = wait_events(server, name, has("close"))
    assert first(log, "close")[1] == 1000


@pytest.mark.parametrize("compress", [0, 15])
@pytest.mark.parametrize("path", ["/api", "/deflate", "/deflate-dedicated"])
def test_aiohttp_client(server, path, compress):
    name = new_name()

    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url(server, path, name), compress=compress, max_msg_size=0) as conn:
                negotiated = conn._response.headers.get("Sec-WebSocket-Extensions")
                if compress and path != "/api":
                    assert negotiated and "permessage-deflate" in negotiated
                else:
                    assert negotiated is None
                await conn.send_str("aiohttp text")
                msg = await conn.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.TEXT and msg.data == "aiohttp text"
                await conn.send_bytes(b"\x00aiohttp binary")
                msg = await conn.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == b"\x00aiohttp binary"
                payload = os.urandom(100000).hex()
                await conn.send_str(payload)
                msg = await conn.receive(timeout=10)
                assert msg.data == payload
                await conn.close(code=1000, message=b"aiohttp done")

    asyncio.run(go())
    log = wait_events(server, name, has("close"))
    assert first(log, "close")[1:] == [1000, "bytes", b"aiohttp done".hex()]


@pytest.mark.parametrize("deflate", [False, True])
def test_websocket_client_library(server, deflate):
    """websocket-client has no permessage-deflate of its own: with the
    extension offered in a header it still talks uncompressed (legal), and it
    sends a hand-compressed frame (RSV1) that the server must inflate."""
    name = new_name()
    header = ["Sec-WebSocket-Extensions: permessage-deflate"] if deflate else []
    conn = wsclient.create_connection(ws_url(server, "/deflate-in", name), header=header, timeout=5)
    try:
        negotiated = conn.getheaders().get("sec-websocket-extensions")
        if deflate:
            assert negotiated and negotiated.startswith("permessage-deflate")
        else:
            assert negotiated is None
        conn.send("websocket-client text")
        opcode, data = conn.recv_data()
        assert (opcode, data) == (wsclient.ABNF.OPCODE_TEXT, b"websocket-client text")
        conn.send_binary(b"\x00\xffwebsocket-client binary")
        opcode, data = conn.recv_data()
        assert (opcode, data) == (wsclient.ABNF.OPCODE_BINARY, b"\x00\xffwebsocket-client binary")
        if deflate:
            payload = b"compressed by hand " * 100
            conn.send_frame(wsclient.ABNF(1, 1, 0, 0, wsclient.ABNF.OPCODE_BINARY, 1, deflate_message(payload)))
            opcode, data = conn.recv_data()
            assert (opcode, data) == (wsclient.ABNF.OPCODE_BINARY, payload)
        conn.close(status=1000, reason=b"wsc bye")
    finally:
        conn.shutdown()
    log = wait_events(server, name, has("close"))
    assert first(log, "close")[1:] == [1000, "bytes", b"wsc bye".hex()]


# =============================================================================
# Behaviour handlers
# =============================================================================


def test_open_message_close_handlers(server):
    name = new_name()
    with ws_connect(ws_url(server, "/api", name), open_timeout=5) as conn:
        conn.send("hi there")
        assert conn.recv(timeout=5) == "hi there"
        conn.send(b"\x00\x01")
        assert conn.recv(timeout=5) == b"\x00\x01"
        conn.close(code=4000, reason="bye now")
    log = wait_events(server, name, has("close"))
    assert log == [
        ["open", "str"],
        ["message", "hi there", "str", 1],
        ["message", "0001", "bytes", 2],
        ["close", 4000, "bytes", b"bye now".hex()],
    ]


def test_close_handler_on_client_close_without_code(server):
    with raw(server) as c:
        c.send_close()
        assert c.read_frame().raw == b"\x88\x00"
        assert c.wait_eof(5)
    log = wait_events(server, c.name, has("close"))
    # RFC 6455 7.1.5: a close frame without a code is reported as 1005.
    assert first(log, "close")[1:] == [1005, "bytes", ""]


def test_close_handler_on_tcp_drop_is_1006(server):
    c = raw(server)
    c.send_text("x")
    c.read_frame()
    c.close_socket()
    log = wait_events(server, c.name, has("close"))
    assert first(log, "close")[1:] == [1006, "bytes", ""]


def test_close_handler_on_protocol_error(server):
    with raw(server) as c:
        c.send(TEXT, b"\xff")
        c.expect_close(1007)
    log = wait_events(server, c.name, has("close"))
    assert first(log, "close")[1] == 1007


def test_ping_and_pong_handlers(server):
    with raw(server) as c:
        c.send(PING, b"client ping")
        assert c.read_frame().raw == server_frame(PONG, b"client ping")
        c.send(PONG, b"unsolicited pong")
        c.send(PING, b"")
        assert c.read_frame().raw == server_frame(PONG, b"")
        log = wait_events(server, c.name, lambda log: len([e for e in log if e[0] in ("ping", "pong")]) >= 3)
    assert [e for e in log if e[0] in ("ping", "pong")] == [
        ["ping", "bytes", b"client ping".hex()],
        ["pong", "bytes", b"unsolicited pong".hex()],
        ["ping", "bytes", ""],
    ]


def test_server_ping_answered_by_client_reaches_pong_handler(server):
    with raw(server) as c:
        c.send_text("cmd:ping")
        f = c.read_frame()
        assert f.raw == server_frame(PING, b"server ping")
        c.send(PONG, f.payload)
        log = wait_events(server, c.name, has("pong"))
    assert first(log, "pong") == ["pong", "bytes", b"server ping".hex()]


def test_server_ping_with_websockets_library(server):
    name = new_name()
    with ws_connect(ws_url(server, "/api", name), open_timeout=5) as conn:
        conn.send("cmd:ping")
        log = wait_events(server, name, has("pong"))
        assert first(log, "pong")[2] == b"server ping".hex()


def test_handler_exception_does_not_break_the_connection(server):
    with raw(server) as c:
        c.send_text("cmd:raise")
        c.send_text("after the error")
        assert c.read_frame().raw == server_frame(TEXT, b"after the error")


# =============================================================================
# Sending
# =============================================================================


def test_send_statuses_and_default_opcodes(server):
    with raw(server) as c:
        c.send_text("cmd:statuses")
        frames = [c.read_frame() for _ in range(8)]
    assert [f.raw for f in frames[:4]] == [
        server_frame(TEXT, b"text"),  # str without opcode: TEXT
        server_frame(BINARY, b"\x00bin"),  # bytes without opcode: BINARY
        server_frame(BINARY, b"as binary"),
        server_frame(TEXT, b"as text"),
    ]
    assert frames[4].opcode == TEXT and json.loads(frames[4].payload) == {"json": [1, 2]}
    assert frames[5].raw == server_frame(BINARY, b"")
    assert frames[6].raw == server_frame(BINARY, b"ba")
    assert frames[7].opcode == TEXT and json.loads(frames[7].payload) == [1] * 7  # SUCCESS


def test_manual_fragments(server):
    with raw(server) as c:
        c.send_text("cmd:fragments")
        got = c.read_exact(len(b"\x01\x07Hello, \x00\x0bfragmented \x80\x05world\x02\x02\x01\x02\x80\x01\x03"))
        assert got == (b"\x01\x07Hello, \x00\x0bfragmented \x80\x05world\x02\x02\x01\x02\x80\x01\x03")
        assert json.loads(c.read_frame().payload) == [1] * 5


def test_manual_fragments_with_websockets_library(server):
    name = new_name()
    with ws_connect(ws_url(server, "/api", name), open_timeout=5) as conn:
        conn.send("cmd:fragments")
        assert conn.recv(timeout=5) == "Hello, fragmented world"
        assert conn.recv(timeout=5) == b"\x01\x02\x03"


def test_cork_and_cork_send(server):
    with raw(server) as c:
        c.send_text("cmd:cork")
        expected = (
            server_frame(TEXT, b"one")
            + server_frame(TEXT, b"two")
            + server_frame(BINARY, b"three")
            + server_frame(TEXT, b"four")
            + server_frame(TEXT, b"true")
        )
        assert c.read_exact(len(expected)) == expected


def test_large_send_from_server(server):
    with raw(server) as c:
        c.send_text("cmd:big:700000")
        f = c.read_frame()
        assert f.opcode == BINARY and f.payload == b"B" * 700000
        assert json.loads(c.read_frame().payload) in (0, 1)  # SUCCESS or BACKPRESSURE


# =============================================================================
# Closing from the server
# =============================================================================


def test_end_with_code_and_message(server):
    name = new_name()
    with ws_connect(ws_url(server, "/api", name), open_timeout=5) as conn:
        conn.send("cmd:end")
        with pytest.raises(websockets.exceptions.ConnectionClosedOK) as info:
            conn.recv(timeout=5)
    assert info.value.rcvd.code == 1000 and info.value.rcvd.reason == "bye"
    log = wait_events(server, name, has("close"))
    assert first(log, "close")[1:] == [1000, "bytes", b"bye".hex()]


@pytest.mark.parametrize(
    "cmd,expected",
    [
        ("end", server_close(1000, b"bye")),
        ("end_default", server_close(1000)),
        ("end_custom", server_close(4001, b"custom reason")),
        ("cork_end", server_close(1000, b"corked bye")),
    ],
)
def test_end_exact_close_frame(server, cmd, expected):
    with raw(server) as c:
        c.send_text("cmd:" + cmd)
        f = c.read_frame()
        assert f.raw == expected
        c.send_close(f.close_code)  # complete the handshake
        assert c.wait_eof(5)
    log = wait_events(server, c.name, has("close"))
    assert first(log, "close")[1] == f.close_code
    assert len([e for e in log if e[0] == "close"]) == 1


def test_end_without_client_answer_still_closes_tcp(server):
    with raw(server) as c:
        c.send_text("cmd:end_default")
        assert c.read_frame().raw == server_close(1000)
        assert c.wait_eof(6)


def test_close_is_abnormal_without_close_frame(server):
    name = new_name()
    with ws_connect(ws_url(server, "/api", name), open_timeout=5) as conn:
        conn.send("cmd:close")
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as info:
            conn.recv(timeout=5)
    assert info.value.rcvd is None  # no close frame: 1006 for the client
    log = wait_events(server, name, has("close"))
    assert first(log, "close")[1] == 1006


def test_close_raw_sees_eof_without_frame(server):
    with raw(server) as c:
        c.send_text("cmd:close")
        assert c.wait_eof(5)
        assert c.buf == b""


# =============================================================================
# State: address, user data, objects kept past close
# =============================================================================


def test_remote_address(server):
    with raw(server) as c:
        c.send_text("cmd:addr")
        assert json.loads(c.read_frame().payload) == {"text": "127.0.0.1", "bytes": "7f000001"}


def test_user_data(server):
    with raw(server) as c:
        c.send_text("cmd:user_data")
        assert json.loads(c.read_frame().payload) == {"user_data": c.name, "same_clone": c.name}


@pytest.mark.parametrize("how", ["client close", "tcp drop", "server end", "server close"])
def test_websocket_kept_past_close_is_harmless(server, how):
    with raw(server) as c:
        c.send_text("cmd:keep")
        assert c.read_frame().payload == b"kept"
        if how == "client close":
            c.send_close(1000)
            c.read_frame()
        elif how == "server end":
            c.send_text("cmd:end")
            c.read_frame()
        elif how == "server close":
            c.send_text("cmd:close")
    log = wait_events(server, c.name, has("close"))
    results = http_json(server, "/kept?name=" + c.name)
    crashes = {k: v for k, v in results.items() if isinstance(v, str) and v.startswith("crash")}
    assert crashes == {}
    for key in ("send", "send_text", "send_compressed", "send_first_fragment", "send_fragment", "send_last_fragment"):
        assert results[key] == 2, (key, results)  # SendStatus.DROPPED
    assert results["subscribe"] is False and results["unsubscribe"] is False
    assert results["is_subscribed"] is False and results["get_topics"] == []
    assert results["publish"] is False and results["get_buffered_amount"] == 0
    assert results["end"] is None and results["close"] is None
    assert results["get_user_data"] == c.name
    # No second close event came from the late end()/close().
    log = events(server, c.name)
    assert len([e for e in log if e[0] == "close"]) == 1
    # And the server still serves.
    with raw(server) as c2:
        c2.send_text("alive")
        assert c2.read_frame().raw == server_frame(TEXT, b"alive")


# =============================================================================
# Timeouts (sync app only: the handler kind does not matter here)
# =============================================================================


def test_idle_timeout_closes_an_idle_client(sync_server):
    with raw(sync_server, "/idle") as c:
        assert c.wait_eof(7)
        # Whatever came first can only be a close frame.
        while c.buf:
            f = c.read_frame(1)
            assert f.opcode == CLOSE, f
    log = wait_events(sync_server, c.name, has("close"))
    assert first(log, "close")[0] == "close"


def test_send_pings_automatically_keeps_client_alive(sync_server):
    """idle_timeout 1 s (a ping every tick): a client that only answers the
    server's pings is still connected after three of them, three idle
    windows later."""
    with raw(sync_server, "/autoping") as c:
        for _ in range(3):
            f = c.read_frame(timeout=5)
            assert f.raw == server_frame(PING, b""), f
            c.send(PONG, f.payload)
        c.send_text("still here")
        assert c.read_frame().raw == server_frame(TEXT, b"still here")
    log = wait_events(sync_server, c.name, has("pong"))
    assert first(log, "pong") == ["pong", "bytes", ""]


def test_websockets_library_answers_auto_pings(sync_server):
    name = new_name()
    with ws_connect(ws_url(sync_server, "/autoping", name), open_timeout=5, ping_interval=None) as conn:
        # three pongs: three idle windows of 1 s outlived
        wait_events(sync_server, name, lambda log: sum(e[0] == "pong" for e in log) >= 3)
        conn.send("alive after idle timeout")
        assert conn.recv(timeout=5) == "alive after idle timeout"


# =============================================================================
# Backpressure
# =============================================================================


def statuses_pattern(runs):
    return [status for status, _ in runs]


def test_backpressure_then_dropped_then_drain(server):
    with raw(server, "/bp", rcvbuf=4096) as c:
        c.send_text("cmd:flood:1000,16384")
        log = wait_events(server, c.name, has("flood"))
        runs, buffered = first(log, "flood")[1:]
        # SUCCESS while the kernel takes it, then BACKPRESSURE, then DROPPED.
        assert statuses_pattern(runs) == [1, 0, 2], runs
        assert buffered > 0
        assert not has("drain")(events(server, c.name))
        sent = runs[0][1] + runs[1][1]
        for _ in range(sent):
            f = c.read_frame()
            assert f.raw == server_frame(BINARY, b"f" * 16384)
        log = wait_events(server, c.name, has("drain"))
        assert first(log, "drain") == ["drain", 0]
        c.send_text("after drain")
        assert c.read_frame().raw == server_frame(TEXT, b"after drain")


def test_backpressure_async_sender(server):
    with raw(server, "/bp", rcvbuf=4096) as c:
        c.send_text("cmd:flood_async:400,16384")
        log = wait_events(server, c.name, has("flood"))
        runs = first(log, "flood")[1]
        assert statuses_pattern(runs) == [1, 0, 2], runs


@pytest.mark.serial
def test_backpressure_memory_stays_bounded(sync_server):
    """Ten clients stop reading while the server tries to send 32 MB to
    each: sends are DROPPED and the server's RSS does not follow."""
    clients = [raw(sync_server, "/bp", rcvbuf=4096) for _ in range(10)]
    try:
        for c in clients:
            c.send_text("cmd:flood:200,1")  # warm up: allocations of the first flood
        for c in clients:
            wait_events(sync_server, c.name, has("flood"))
            c.read_exact(200 * 3)
        before = server_rss_kb(sync_server)
        for c in clients:
            c.send_text("cmd:flood:2000,16384")
        for c in clients:
            log = wait_events(sync_server, c.name, lambda log: len([e for e in log if e[0] == "flood"]) == 2)
            runs = [e for e in log if e[0] == "flood"][1][1]
            assert statuses_pattern(runs) == [1, 0, 2], runs
            assert runs[-1][1] > 1500
        grown = server_rss_kb(sync_server) - before
        assert grown < 40 * 1024, "server RSS grew by %d kB" % grown
    finally:
        for c in clients:
            c.close_socket()


def test_close_on_backpressure_limit(server):
    with raw(server, "/bpclose", rcvbuf=4096) as c:
        c.send_text("cmd:flood:1000,16384")
        log = wait_events(server, c.name, has("close"))
        assert first(log, "close")[1] == 1008
        n = 0
        while True:
            f = c.read_frame()
            if f.opcode == CLOSE:
                break
            assert f.raw == server_frame(BINARY, b"f" * 16384)
            n += 1
        assert f.raw == server_close(1008)
        assert n > 0
        assert c.wait_eof(5)
