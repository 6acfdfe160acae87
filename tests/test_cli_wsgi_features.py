"""The CLI's per-request features on a WSGI app, through a real server:
``--limit-concurrency`` counts requests as they arrive (queued ones too) and
answers 503 at once; ``--access-log`` keeps a ``wsgi.file_wrapper`` body a
FileWrapper (block reads, Content-Length from the file's size)."""

import os

import pytest

import rawhttp
from cli_runner import cli, wait_for, write_module  # noqa: F401 (cli: the fixture)
from conftest import free_port

APP = """
import os, time, uuid

MARKS = os.environ["MARKS"]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/hold":
        open(os.path.join(MARKS, "held-" + uuid.uuid4().hex), "w").close()
        while not os.path.exists(os.path.join(MARKS, "release")):
            time.sleep(0.01)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"held"])
    if path == "/file":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(os.environ["BIG"], "rb"), 1024)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
"""

# The pool's size on this machine (WSGI's default): a limit at least this
# big was never reached when the pool's threads did the counting.
THREADS = min(32, (os.cpu_count() or 1) + 4)


@pytest.fixture
def appdir(tmp_path):
    write_module(tmp_path, "wsgiapp", APP)
    (tmp_path / "marks").mkdir()
    (tmp_path / "big.bin").write_bytes(os.urandom(300_000))
    return tmp_path


def env_for(appdir):
    return {"MARKS": str(appdir / "marks"), "BIG": str(appdir / "big.bin")}


def held(appdir):
    return len([n for n in os.listdir(appdir / "marks") if n.startswith("held-")])


def test_limit_concurrency_counts_queued_requests_and_answers_503(cli, appdir):
    port = free_port()
    server = cli("wsgiapp:app", "--port", port, "--limit-concurrency", THREADS, "--access-log", env=env_for(appdir))
    holders = []
    try:
        for _ in range(THREADS):
            sock = rawhttp.connect(port, timeout=20)
            sock.sendall(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
            holders.append(sock)
        assert wait_for(lambda: held(appdir) == THREADS, 10), held(appdir)
        # Every pool thread is busy: the next request is over the limit, refused now.
        with rawhttp.connect(port) as sock:
            sock.sendall(b"GET /over HTTP/1.1\r\nHost: h\r\n\r\n")
            status, _headers, body, _ = rawhttp.read_response(sock, timeout=10)
        assert (status, body) == (503, b"Service Unavailable")
        (appdir / "marks" / "release").write_text("")
        for sock in holders:
            status, _headers, body, _ = rawhttp.read_response(sock, timeout=10)
            assert (status, body) == (200, b"held")
    finally:
        for sock in holders:
            sock.close()
    # Each count ends once its body is closed: the limit frees up again.
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert rawhttp.read_response(sock)[0] == 200
    assert wait_for(lambda: '"GET /over HTTP/1.1" 503 19' in server.stderr(), 5), server.stderr()


def test_a_request_over_the_limit_while_one_is_queued(cli, appdir):
    """A limit of 1 with a pool of several threads: the second request is
    refused although a thread is free."""
    port = free_port()
    cli("wsgiapp:app", "--port", port, "--limit-concurrency", "1", env=env_for(appdir))
    with rawhttp.connect(port, timeout=20) as holder:
        holder.sendall(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
        assert wait_for(lambda: held(appdir) == 1, 10)
        with rawhttp.connect(port) as sock:
            sock.sendall(b"POST /over HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
            assert rawhttp.read_response(sock, timeout=10)[0] == 503
        (appdir / "marks" / "release").write_text("")
        assert rawhttp.read_response(holder, timeout=10)[0] == 200


@pytest.mark.parametrize("flags", [["--access-log"], ["--access-log", "--limit-concurrency", "4"]])
def test_file_wrapper_survives_the_access_log(cli, appdir, flags):
    port = free_port()
    server = cli("wsgiapp:app", "--port", port, *flags, env=env_for(appdir))
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET /file HTTP/1.1\r\nHost: h\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock, timeout=10)
    assert status == 200 and body == (appdir / "big.bin").read_bytes()
    # The server recognised the FileWrapper: its length from the file, not chunked.
    assert headers.get("content-length") == "300000", headers
    assert wait_for(lambda: '"GET /file HTTP/1.1" 200 300000' in server.stderr(), 5), server.stderr()
