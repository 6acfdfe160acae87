"""10,000 idle WebSocket connections held at once, with the server's RSS."""

import asyncio
import base64
import json
import os
import resource

import pytest

import rawhttp

IDLE_APP = """
from listen_line import announce
from socketify import App

app = App()

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

app.ws("/idle", {"open": lambda ws: ws.subscribe("all"), "idle_timeout": 0})
app.get("/stats", lambda res, req: res.send({"rss_kib": rss_kib(), "subscribers": app.num_subscribers("all")}))
app.get("/publish", lambda res, req: res.send({"sent": app.publish("all", "wake up")}))
app.listen(0, announce)
app.run()
"""

COUNT = 10_000


def stats(port):
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        return json.loads(rawhttp.read_response(sock)[2])


@pytest.mark.serial
def test_ten_thousand_idle_websockets(serve, capsys):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, COUNT + 1000), hard))
    server = serve(IDLE_APP)
    before = stats(server.port)["rss_kib"]

    async def open_one(semaphore):
        async with semaphore:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            key = base64.b64encode(os.urandom(16))
            writer.write(
                b"GET /idle HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n"
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101 ")
            return reader, writer

    async def main():
        semaphore = asyncio.Semaphore(500)
        conns = await asyncio.gather(*(open_one(semaphore) for _ in range(COUNT)))
        held = stats(server.port)
        # every one of them is still alive: a publish reaches all
        with rawhttp.connect(server.port) as sock:
            sock.sendall(b"GET /publish HTTP/1.1\r\nHost: x\r\n\r\n")
            assert json.loads(rawhttp.read_response(sock)[2]) == {"sent": True}
        frames = await asyncio.gather(*(reader.readexactly(9) for reader, _ in conns))
        for _, writer in conns:
            writer.close()
        return held, frames

    held, frames = asyncio.run(main())
    assert held["subscribers"] == COUNT
    assert all(frame == b"\x81\x07wake up" for frame in frames)
    per_connection = (held["rss_kib"] - before) * 1024 / COUNT
    with capsys.disabled():
        print(
            "\n%d idle WebSockets: server RSS %.1f MiB (%.1f MiB before), %.0f bytes per connection"
            % (COUNT, held["rss_kib"] / 1024, before / 1024, per_connection)
        )
    assert per_connection < 16 * 1024


SEND_ONLY_APP = """
from listen_line import announce
from socketify import App

app = App(idle_timeout=1)  # HTTP keep-alive: 1 s
app.ws("/ws", {"open": lambda ws: ws.subscribe("t"), "idle_timeout": 30})
app.get("/publish", lambda res, req: res.send({"sent": app.publish("t", "tick")}))
app.listen(0, announce)
app.run()
"""


def test_websocket_that_only_receives_keeps_its_own_idle_timeout(serve):
    """A server send must not put the HTTP idle timeout on a WebSocket: the
    subscriber stays open for its own idle_timeout (30 s), not 1 s."""
    from wsframes import TEXT, WSClient

    server = serve(SEND_ONLY_APP)
    with WSClient.connect(server.port, "/ws") as ws:
        for _ in range(2):
            with rawhttp.connect(server.port) as sock:
                sock.sendall(b"GET /publish HTTP/1.1\r\nHost: x\r\n\r\n")
                assert json.loads(rawhttp.read_response(sock)[2]) == {"sent": True}
                f = ws.read_frame()
                assert f.opcode == TEXT and f.payload == b"tick"
                # Its idle timer started after the send, so once the HTTP
                # idle timeout has closed it, it would have closed the
                # WebSocket too.
                assert rawhttp.wait_closed(sock, timeout=5)
            assert ws.nothing_pending(0.2)
