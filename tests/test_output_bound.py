"""A client that pipelines requests and never reads the answers must not make
the server hold unbounded output (issue 11): the server stops starting its
requests while the connection's queued output is above a limit, and resumes
when the client reads again."""

import socket
import threading
import time

import pytest

import rawhttp

BIG_APP = """
import asyncio
from listen_line import announce
from socketify import App

app = App(idle_timeout=60)
BODY = b"x" * 16384
app.get("/big", lambda res, req: res.end(BODY))


@app.get("/big-async")
async def big_async(res, req):
    await asyncio.sleep(0)
    res.end(BODY)


app.get("/small", lambda res, req: res.end("small"))
app.listen(0, announce)
app.run()
"""


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def flood(port, path, count):
    """Sends count pipelined GETs from a thread, never reading; returns the
    socket and the sender thread."""
    sock = rawhttp.connect(port, timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    request = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    batch = request * 1000

    def send():
        try:
            for _ in range(count // 1000):
                sock.sendall(batch)
        except OSError:
            pass  # the test closed the socket while the server pushed back

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sock, sender


@pytest.mark.serial
@pytest.mark.parametrize("path,count", [(b"/big", 100000), (b"/big-async", 20000)])
def test_unread_pipelined_responses_keep_memory_bounded(serve, path, count):
    server = serve(BIG_APP)
    pid = server.proc.pid
    with rawhttp.connect(server.port) as warm:
        warm.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        rawhttp.read_response(warm)
    before = rss_kib(pid)
    sock, sender = flood(server.port, path, count)
    peak = before
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        peak = max(peak, rss_kib(pid))
        time.sleep(0.1)
    # Unbounded, this reached 1.6 GB (sync) and 334 MB (async) within seconds.
    print("RSS before %d KiB, peak %d KiB" % (before, peak))
    assert peak - before < 64 * 1024, (before, peak)
    # Other clients are served meanwhile.
    with rawhttp.connect(server.port) as other:
        other.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(other)[2] == b"small"
    # The flooding client reads again: its responses come, in order, well
    # past what was queued when it stopped reading.
    for _ in range(1500):
        status, headers, body, _ = rawhttp.read_response(sock, timeout=10)
        assert status == 200 and len(body) == 16384
    sock.close()
    sender.join(10)
