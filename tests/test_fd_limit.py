"""At the file-descriptor limit the server backs off instead of spinning on
accept (EMFILE), says so once, keeps serving the connections it has, and
accepts again once clients go away (issue 11)."""

import os
import resource
import socket
import time

import pytest

import rawhttp

LIMITED_APP = """
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

from listen_line import announce
from socketify import App

app = App(idle_timeout=60)
app.get("/", lambda res, req: res.end("ok"))
app.listen(0, announce)
app.run()
"""

CLIENTS = 1000


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_clients(port, count):
    clients = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        clients.append(sock)
    time.sleep(0.5)
    for sock in clients:
        try:
            sock.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass  # not connected (beyond the listen backlog): it still waits
    return clients


@pytest.mark.serial
def test_fd_limit_backs_off_keeps_serving_and_recovers(serve):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CLIENTS + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, CLIENTS + 200), hard))
    server = serve(LIMITED_APP)
    pid = server.proc.pid
    keeper = rawhttp.connect(server.port)
    keeper.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert rawhttp.read_response(keeper)[2] == b"ok"

    clients = open_clients(server.port, CLIENTS)
    try:
        time.sleep(0.5)
        start = cpu_seconds(pid)
        time.sleep(2)
        used = cpu_seconds(pid) - start
        # Spinning on accept burnt the whole 2 s.
        assert used < 0.7, used
        # A connection it already had is still served.
        keeper.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(keeper)[2] == b"ok"
    finally:
        for sock in clients:
            sock.close()
    keeper.close()

    # Once the clients went away, new ones are accepted again.
    deadline = time.monotonic() + 15
    while True:
        try:
            with rawhttp.connect(server.port, timeout=2) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert rawhttp.read_response(sock, timeout=2)[2] == b"ok"
            break
        except (OSError, ConnectionError):
            assert time.monotonic() < deadline, "not serving again"
            time.sleep(0.2)
    time.sleep(0.3)
    log = server.stderr()
    assert log.count("cannot accept connections: Too many open files") == 1, log
