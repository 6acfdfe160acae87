"""A client that closes its connection while its response is pending has gone
away: on_aborted fires at once, not at the idle timeout (issue 11)."""

import queue
import socket
import subprocess
import threading
import time

from test_examples import run_example

import rawhttp
from conftest import free_port

GONE_APP = """
import asyncio
from listen_line import announce
from socketify import App

app = App(idle_timeout=30)


@app.get("/slow")
async def slow(res, req):
    res.on_aborted(lambda res: print("ABORTED", flush=True))
    print("STARTED", flush=True)
    await asyncio.sleep(0.6)
    print("AFTER aborted=%s" % res.aborted, flush=True)
    res.end("too late")


@app.get("/untracked")
async def untracked(res, req):
    print("STARTED", flush=True)
    await asyncio.sleep(0.6)
    print("UNTRACKED aborted=%s" % res.aborted, flush=True)
    res.end("too late")


@app.get("/streaming")
async def streaming(res, req):
    res.write_status(200).write_header("Content-Length", "6")
    res.write("abc")
    await asyncio.sleep(0.3)
    res.end("def")


app.get("/sync", lambda res, req: res.end("sync answer"))
app.listen(0, announce)
app.run()
"""


def wait_for_line(server, text, timeout):
    """The first stdout line of the server containing text, or None after
    timeout. Lines are read by a thread: select() on the buffered pipe could
    miss a line already in the reader's buffer."""
    lines = getattr(server, "_line_queue", None)
    if lines is None:
        lines = server._line_queue = queue.Queue()

        def pump(stream=server.proc.stdout):
            try:
                for line in stream:
                    lines.put(line)
            except (OSError, ValueError):
                pass  # the test stopped the server

        threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return None
        server.stdout_lines.append(line)
        if text in line:
            return line


def test_close_while_async_handler_waits_fires_on_aborted_at_once(serve):
    server = serve(GONE_APP)
    sock = rawhttp.connect(server.port)
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wait_for_line(server, "STARTED", 10) is not None  # the handler is awaiting
    started = time.monotonic()
    sock.close()
    assert wait_for_line(server, "ABORTED", 5) is not None
    # Long before the idle timeout (30 s here, where it used to come from)...
    assert time.monotonic() - started < 5
    # ...and before the handler's own 0.6 s sleep ended.
    assert "aborted=True" in wait_for_line(server, "AFTER", 5)


def test_aborted_is_set_without_an_on_aborted_handler(serve):
    server = serve(GONE_APP)
    sock = rawhttp.connect(server.port)
    sock.sendall(b"GET /untracked HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wait_for_line(server, "STARTED", 10) is not None
    sock.close()
    assert "aborted=True" in wait_for_line(server, "UNTRACKED", 3)


def test_curl_timing_out_is_an_abort(serve):
    server = serve(GONE_APP)
    out = subprocess.run(["curl", "-s", "-m", "0.2", server.url + "/slow"], capture_output=True, timeout=10)
    assert out.returncode != 0  # curl gave up
    assert wait_for_line(server, "ABORTED", 3) is not None


def test_half_close_while_handler_waits_is_an_abort(serve):
    # A half-closing client gets an answer only if the response had begun
    # before its FIN arrived (see the README): shutdown(SHUT_WR) here reads
    # exactly like close().
    server = serve(GONE_APP)
    sock = rawhttp.connect(server.port)
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wait_for_line(server, "STARTED", 10) is not None
    sock.shutdown(socket.SHUT_WR)
    assert rawhttp.read_until_close(sock, 3) == b""
    sock.close()
    assert wait_for_line(server, "ABORTED", 3) is not None


def test_half_close_after_a_sync_answer_still_gets_it(serve):
    server = serve(GONE_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /sync HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        data = rawhttp.read_until_close(sock, 3)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"sync answer")


def test_half_close_while_response_is_being_written_finishes_it(serve):
    server = serve(GONE_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /streaming HTTP/1.1\r\nHost: x\r\n\r\n")
        begun = b""
        sock.settimeout(10)
        while not begun.endswith(b"abc"):  # the head and "abc" are out
            piece = sock.recv(4096)
            assert piece, begun
            begun += piece
        sock.shutdown(socket.SHUT_WR)
        data = begun + rawhttp.read_until_close(sock, 3)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\nabcdef")


def test_async_example_abort_route_prints_its_line():
    port = free_port()
    server = run_example("async.py", port)
    try:
        with rawhttp.connect(port) as sock:
            sock.sendall(b"GET /abort HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.1)
        assert wait_for_line(server, "client went away", 3) is not None
    finally:
        server.stop()
