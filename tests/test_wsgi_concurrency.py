"""WSGI adapter: the thread pool (a slow app never stalls the others or the
WebSockets of the same worker) and bounded memory both ways (backpressure)."""

import os
import socket
import threading
import time

import pytest
import requests
import websocket

import rawhttp
from conftest import HERE, Server

APP = os.path.join(HERE, "apps", "wsgi_app.py")
MB = 1024 * 1024


@pytest.fixture
def start():
    servers = []

    def run(*args):
        server = Server(APP, list(args)).start()
        servers.append(server)
        return server

    yield run
    for server in servers:
        assert server.stop() == 0


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def in_thread(fn, *args):
    box = {}

    def run():
        try:
            box["result"] = fn(*args)
        except BaseException as error:  # surfaced by the caller
            box["error"] = error
        box["done_at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_a_slow_request_does_not_block_a_fast_one(start):
    server = start()
    slow, slow_box = in_thread(lambda: requests.get(server.url + "/sleep?3", timeout=20).text)
    time.sleep(0.3)  # the slow one is inside the app now
    fast = requests.get(server.url + "/fast", timeout=20)
    fast_done = time.monotonic()
    slow.join(20)
    assert fast.text == "fast" and slow_box["result"] == "slept"
    assert fast_done < slow_box["done_at"]


def test_websockets_stay_responsive_while_apps_are_busy(start):
    server = start("--ws", "--threads", "2")
    busy = [in_thread(lambda: requests.get(server.url + "/sleep?3", timeout=20).text) for _ in range(2)]
    time.sleep(0.3)
    ws = websocket.create_connection("ws://127.0.0.1:%d/chat" % server.port, timeout=10)
    try:
        ws.send("ping over ws")
        assert ws.recv() == "ping over ws"
        echoed_at = time.monotonic()
    finally:
        ws.close()
    for thread, box in busy:
        thread.join(20)
        assert box["result"] == "slept"
        assert echoed_at < box["done_at"]
    # HTTP on the same port still reaches the WSGI app
    assert requests.get(server.url + "/fast", timeout=10).text == "fast"


def test_the_pool_is_bounded(start):
    server = start("--threads", "2")
    began = time.monotonic()
    sleepers = [in_thread(lambda: requests.get(server.url + "/sleep?1", timeout=20).text) for _ in range(4)]
    for thread, box in sleepers:
        thread.join(20)
        assert box["result"] == "slept"
    # two threads, four one-second requests: two rounds, whatever the load
    assert time.monotonic() - began >= 1.9


@pytest.mark.serial
def test_a_huge_response_to_a_slow_reader_keeps_memory_bounded(start):
    server = start()
    baseline = rss(server.proc.pid)
    sock = rawhttp.connect(server.port, timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.sendall(b"GET /big?300 HTTP/1.1\r\nHost: x\r\n\r\n")
    received = 0
    peak = 0
    # read slowly at first: the app must wait instead of queueing 300 MB
    for _ in range(40):
        received += len(sock.recv(65536))
        time.sleep(0.05)
        peak = max(peak, rss(server.proc.pid))
    assert peak - baseline < 48 * MB, (peak - baseline) / MB
    # then everything, as fast as possible
    total = 300 * MB
    buf = b""
    while True:
        data = sock.recv(1 << 20)
        if not data:
            break
        buf += data[-16:]
        received += len(data)
        if buf.endswith(b"0\r\n\r\n"):
            break
        buf = buf[-16:]
    sock.close()
    peak = max(peak, rss(server.proc.pid))
    assert received > total  # the body plus the chunk framing
    assert peak - baseline < 48 * MB, (peak - baseline) / MB


@pytest.mark.serial
def test_a_huge_upload_to_a_slow_app_keeps_memory_bounded(start):
    server = start()
    baseline = rss(server.proc.pid)
    total = 200 * MB
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], rss(server.proc.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    block = b"u" * (1 << 20)

    def body():
        for _ in range(total // len(block)):
            yield block

    try:
        # a generator: sent chunked
        response = requests.post(server.url + "/count-slowly", data=body(), timeout=120)
    finally:
        stop.set()
        watcher.join()
    assert response.text == str(total)
    assert peak[0] - baseline < 48 * MB, (peak[0] - baseline) / MB


def test_a_client_leaving_mid_upload_ends_the_request(start):
    server = start()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"POST /count-slowly HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 100000)
        time.sleep(0.2)
    # the server keeps serving, and says what happened
    assert requests.get(server.url + "/fast", timeout=10).text == "fast"
    deadline = time.monotonic() + 10
    while "client went away during POST /count-slowly" not in server.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "client went away during POST /count-slowly" in server.stderr()


def test_input_resumes_a_socket_the_loop_paused_after_the_last_read():
    """The loop pauses the socket on a stale look at what the application has
    consumed (the application emptied the queue meanwhile): the next read asks
    for a resume instead of waiting forever. Loop and core are stand-ins here,
    to hold that interleaving still."""
    import types

    from socketify._wsgi_input import _INPUT_HIGH, Input
    from socketify.wsgi import _Exchange

    resumed = []

    class Response:
        def resume(self):
            resumed.append(True)
            wsgi_input._loop_data(self, b"rest", True)  # the core reads again: the last piece

    bridge = types.SimpleNamespace(call=lambda fn, *args: fn(*args))  # runs "loop" calls at once
    exchange = _Exchange.__new__(_Exchange)
    exchange.server = types.SimpleNamespace(_bridge=bridge, _stopped=False)
    exchange.res = Response()
    wsgi_input = Input(exchange)
    wsgi_input._started = True
    wsgi_input._received = wsgi_input._consumed = _INPUT_HIGH + 1  # all read...
    wsgi_input._paused = True  # ...and the socket paused on the stale look
    got = []
    reader = threading.Thread(target=lambda: got.append(wsgi_input.read()), daemon=True)
    reader.start()
    reader.join(10)
    assert got == [b"rest"] and resumed == [True]


def test_calls_handed_to_a_closed_loop_are_dropped_not_kept():
    """A pool thread outliving its server (past the shutdown wait) keeps
    calling the bridge: nothing accumulates."""
    import asyncio

    from socketify._threads import LoopBridge

    loop = asyncio.new_event_loop()
    bridge = LoopBridge(loop)
    bridge.call(print, "queued before the loop stopped")  # a wake-up is pending
    bridge.close()
    loop.close()
    for i in range(3):
        bridge.call(print, i)
    assert len(bridge._calls) == 0
