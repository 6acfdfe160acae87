"""Shutting down: the first SIGINT/SIGTERM drains for graceful_shutdown_timeout
seconds with one log line, a second one stops at once; WebSockets get 1001;
shutdown hooks run; a closed App refuses to listen again."""

import signal
import time

import pytest
import wsframes

import rawhttp

APP = """
import asyncio, sys
from socketify import App

app = App(graceful_shutdown_timeout=float(sys.argv[1]))

@app.on_shutdown
def stopped():
    print("SHUTDOWN HOOK", flush=True)

@app.get("/never")
def never(res, req):
    res.on_aborted(lambda res: print("ABORTED", flush=True))  # and never answered

@app.get("/slow")
async def slow(res, req):
    await asyncio.sleep(0.5)
    res.end("finished in flight")

app.ws("/ws", {
    "open": lambda ws: print("WS OPEN", flush=True),
    "close": lambda ws, code, message: print("WS CLOSE %d" % code, flush=True),
})
app.listen(0, lambda config: print("PORT %d" % config.port, flush=True))
app.run()
print("RUN RETURNED", flush=True)
"""


def _pending_request(server, path="/never"):
    sock = rawhttp.connect(server.port, timeout=30)
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _stdout(server):
    return "".join(server.stdout_lines) + server.proc.stdout.read()


def _handled(server, sock):
    """Waits until the server holds the request (an idle connection would be
    closed at once by the shutdown instead of waited for)."""
    time.sleep(0.3)
    sock.setblocking(False)
    try:
        assert sock.recv(1) == b"", "no answer expected"
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_waits_as_configured_then_closes_with_one_line(serve, sig):
    server = serve(APP, "1")
    sock = _pending_request(server)
    _handled(server, sock)
    started = time.monotonic()
    server.proc.send_signal(sig)
    assert server.proc.wait(20) == 0
    assert time.monotonic() - started < 8, "graceful_shutdown_timeout=1 bounds the wait"
    assert rawhttp.read_until_close(sock, timeout=5) == b""
    log = server.stderr()
    name = signal.Signals(sig).name
    lines = [line for line in log.splitlines() if "shutting down" in line]
    assert lines == [
        "%s: shutting down, waiting up to 1s for 1 connection to finish "
        "(send SIGINT or SIGTERM again to stop at once)" % name
    ], log
    assert "shutdown: 1 connection still open after 1s; closing them" in log
    out = _stdout(server)
    assert "ABORTED" in out, "the closed request's abort handler ran"
    assert "SHUTDOWN HOOK" in out and "RUN RETURNED" in out


def test_second_signal_stops_at_once(serve):
    server = serve(APP, "120")
    sock = _pending_request(server)
    _handled(server, sock)
    server.proc.send_signal(signal.SIGINT)
    assert _wait_for(lambda: "shutting down, waiting up to 120s for 1 connection" in server.stderr())
    started = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(20) == 0
    assert time.monotonic() - started < 10, "the second signal does not wait"
    assert rawhttp.read_until_close(sock, timeout=5) == b""
    assert "SIGINT again: stopping now, closing 1 open connection" in server.stderr()
    out = _stdout(server)
    assert "ABORTED" in out and "SHUTDOWN HOOK" in out and "RUN RETURNED" in out


def test_in_flight_responses_finish_within_the_wait(serve):
    server = serve(APP, "30")
    sock = _pending_request(server, "/slow")
    time.sleep(0.1)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    status, headers, body, _ = rawhttp.read_response(sock)
    assert (status, body, headers.get("connection")) == (200, b"finished in flight", "close")
    assert server.proc.wait(20) == 0
    assert time.monotonic() - started < 10, "run() returns once drained, not after the timeout"
    assert "still open" not in server.stderr()


def test_shutdown_closes_websockets_with_1001_and_runs_the_hooks(serve):
    server = serve(APP, "30")
    client = wsframes.WSClient.connect(server.port, "/ws")
    while "WS OPEN\n" not in server.stdout_lines:  # the open handler ran: the upgrade is done
        line = server.proc.stdout.readline()
        assert line, "the server exited"
        server.stdout_lines.append(line)
    server.proc.send_signal(signal.SIGTERM)
    frame = client.read_frame(timeout=10)
    assert frame.opcode == wsframes.CLOSE and frame.close_code == 1001, frame
    client.send_close(1001)
    assert client.wait_eof(10)
    assert server.proc.wait(20) == 0
    out = _stdout(server)
    assert "WS CLOSE 1001" in out and "SHUTDOWN HOOK" in out and "RUN RETURNED" in out


def test_nothing_open_means_no_wait_and_no_line(serve):
    server = serve(APP, "30")
    assert rawhttp.exchange(server.port, b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    assert "shutting down" not in server.stderr()
    assert "RUN RETURNED" in _stdout(server)


def test_listen_after_close_raises():
    from socketify import App

    app = App()
    app.listen(0)
    app.close()
    with pytest.raises(RuntimeError) as caught:
        app.listen(0)
    assert "listen() after close()" in str(caught.value) and "new App" in str(caught.value)
    app.dispose()


@pytest.mark.parametrize("bad", [-1, "5", None, True])
def test_graceful_shutdown_timeout_is_checked(bad):
    from socketify import App

    with pytest.raises(ValueError) as caught:
        App(graceful_shutdown_timeout=bad)
    assert "graceful_shutdown_timeout" in str(caught.value)


QUEUED_APP = """
import os, sys, time
from socketify import App

app = App()
flag = sys.argv[1]

@app.get("/")
def home(res, req):
    res.end("served")

@app.get("/close")
def close(res, req):
    # The loop stays here, accepting nothing, until the test has queued its
    # connections: then they all wait in the listen queue when close() runs.
    print("HOLDING", flush=True)
    while not os.path.exists(flag):
        time.sleep(0.01)
    app.close()
    res.end("closing")

app.listen(0, lambda config: print("PORT %d" % config.port, flush=True))
app.run()
"""


def test_close_serves_the_connections_waiting_to_be_accepted(serve, tmp_path):
    flag = tmp_path / "go"
    server = serve(QUEUED_APP, str(flag))
    closer = rawhttp.connect(server.port, timeout=30)
    closer.sendall(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
    assert server.proc.stdout.readline().strip() == "HOLDING"
    queued = []
    for _ in range(40):
        sock = rawhttp.connect(server.port, timeout=30)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        queued.append(sock)
    flag.touch()
    assert rawhttp.read_response(closer, timeout=30)[2] == b"closing"
    answers = [rawhttp.read_response(sock, timeout=30)[::2] for sock in queued]
    assert answers == [(200, b"served")] * 40
    assert server.proc.wait(20) == 0
