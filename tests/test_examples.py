"""Every example runs and answers as its README section says."""

import os
import re
import signal
import subprocess
import sys

import rawhttp
from conftest import ROOT, Server, free_port

EXAMPLES = os.path.join(ROOT, "examples")


def run_example(name, port):
    """Runs an example with its fixed port rewritten to a free one."""
    source = open(os.path.join(EXAMPLES, name)).read()
    source = re.sub(r"app\.listen\(3000", "app.listen(%d" % port, source)
    path = os.path.join(ROOT, "build", "example_" + name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(source)
    return Server(path, ready_prefix="Listening on port").start()


def test_hello_world():
    port = free_port()
    server = run_example("hello_world.py", port)
    try:
        with rawhttp.connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status, headers, body, _ = rawhttp.read_response(sock)
        assert status == 200 and body == b"Hello World socketify from Python!"
        out = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/" % port], capture_output=True, timeout=10)
        assert out.stdout == b"Hello World socketify from Python!"
    finally:
        assert server.stop(signal.SIGINT) == 0
    server.check_clean()


def test_sanitizer_build_is_the_one_under_test(tmp_path):
    """Under ``make asan`` the servers must really load the instrumented core."""
    if not os.environ.get("SOCKETIFY_TEST_PRELOAD"):
        import pytest

        pytest.skip("only meaningful under make asan")
    from conftest import server_env

    script = tmp_path / "which.py"
    script.write_text("import socketify._native as n; print(n.__file__)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=server_env(), timeout=30)
    assert os.path.join("build", "asan") in out.stdout, out.stdout + out.stderr


def _get(port, path, headers=b""):
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        return rawhttp.read_response(sock)


def test_error_handler_example():
    port = free_port()
    server = run_example("error_handler.py", port)
    try:
        for path in ("/", "/async"):
            status, _, body, _ = _get(port, path)
            assert (status, body) == (500, b"Sorry, we did something wrong")
        assert _get(port, "/ok")[2] == b"fine"
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        out = server.proc.stdout.read()
        assert "RuntimeError('sync failure')" in out and "RuntimeError('async failure')" in out
    finally:
        server.stop()


def test_graceful_shutdown_example():
    port = free_port()
    server = run_example("graceful_shutdown.py", port)
    try:
        assert _get(port, "/")[2] == b"Hello"
        assert _get(port, "/shutdown")[2] == b"good bye!"
        assert server.proc.wait(10) == 0
        rest = server.proc.stdout.read()
        assert "shutdown hook ran" in rest and "run() returned" in rest
    finally:
        server.stop()


def test_async_example():
    port = free_port()
    server = run_example("async.py", port)
    try:
        assert _get(port, "/")[2] == b"Hello with delay!"
        import json

        body = json.loads(_get(port, "/json?name=ana", b"User-Agent: tester\r\n")[2])
        assert body == {"message": "Hello", "user-agent": "tester", "query": "ana"}
        sock = rawhttp.connect(port)
        sock.sendall(b"GET /abort HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.close()
        assert _get(port, "/")[2] == b"Hello with delay!"
    finally:
        server.stop()
