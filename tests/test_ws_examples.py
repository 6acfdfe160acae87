"""The WebSocket examples run and behave as their docstrings say:
examples/websockets.py (echo), examples/broadcast.py (pub/sub) and
examples/chat/ (a browser chat, driven by a real headless Chromium)."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import (
    ROOT,
    Server,
    free_port,
    ws_connect,  # websockets.sync.client.connect, PyPy-safe
)

EXAMPLES = os.path.join(ROOT, "examples")


def start_example(tmp_path, relative):
    """Copies an example (with its directory for examples/chat) to tmp_path,
    rewrites its fixed port 3000 to a free one and starts it."""
    port = free_port()
    source_dir = os.path.dirname(os.path.join(EXAMPLES, relative))
    target_dir = tmp_path / "example"
    if os.path.dirname(relative):
        shutil.copytree(source_dir, target_dir)
    else:
        target_dir.mkdir()
    script = target_dir / os.path.basename(relative)
    source = open(os.path.join(EXAMPLES, relative)).read()
    assert "app.listen(3000" in source
    script.write_text(re.sub(r"app\.listen\(3000", "app.listen(%d" % port, source))
    server = Server(str(script), ready_prefix="Listening on port").start()
    server.port = port
    return server


@pytest.fixture
def example(tmp_path):
    servers = []

    def start(relative):
        server = start_example(tmp_path, relative)
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.stop(signal.SIGINT) == 0
        server.check_clean()


def get(server, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (server.port, path), timeout=5) as r:
        return r.status, r.headers, r.read()


# -- examples/websockets.py -----------------------------------------------------------------


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_websockets_echo_example(example, compression):
    server = example("websockets.py")
    assert get(server, "/")[2] == b"Nothing to see here, connect with a WebSocket!"
    with ws_connect("ws://127.0.0.1:%d/echo" % server.port, compression=compression, open_timeout=5) as conn:
        if compression:
            assert conn.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
        assert conn.recv(timeout=5) == "Hello World!"
        conn.send("echo me ✓")
        assert conn.recv(timeout=5) == "echo me ✓"
        conn.send(b"\x00\x01\x02")
        assert conn.recv(timeout=5) == b"\x00\x01\x02"
        big = "x" * 200000
        conn.send(big)
        assert conn.recv(timeout=5) == big


@pytest.mark.parametrize("name", ["websockets.py", "broadcast.py"])
def test_example_upgrade_at_root_reaches_ws_route(example, name):
    """app.ws("/*") and app.any("/") together (the reference's own example
    layout): a WebSocket upgrade on "/" must reach the ws route (uWS gives
    upgrade routes the highest priority); plain GET / stays HTTP."""
    server = example(name)
    with ws_connect("ws://127.0.0.1:%d/" % server.port, open_timeout=5) as conn:
        conn.send("at the root")
        if name == "websockets.py":
            assert conn.recv(timeout=5) == "Hello World!"
        assert conn.recv(timeout=5) == "at the root"
    assert get(server, "/")[0] == 200


# -- examples/broadcast.py ------------------------------------------------------------------


def test_broadcast_example(example):
    server = example("broadcast.py")
    url = "ws://127.0.0.1:%d/room" % server.port
    with ws_connect(url, open_timeout=5) as a, ws_connect(url, open_timeout=5, compression=None) as b:
        # Both are subscribed once /announce counts them.
        status, _, body = get(server, "/announce?msg=hello+everyone")
        assert json.loads(body) == {"delivered": True, "subscribers": 2}
        assert a.recv(timeout=5) == "hello everyone"
        assert b.recv(timeout=5) == "hello everyone"
        a.send("from a")
        assert a.recv(timeout=5) == "from a"  # the sender gets its own message
        assert b.recv(timeout=5) == "from a"
        b.send(b"\x00binary from b")
        assert a.recv(timeout=5) == b"\x00binary from b"
        assert b.recv(timeout=5) == b"\x00binary from b"
    status, _, body = get(server, "/announce?msg=nobody")
    # The closes may still be in flight: poll until both unsubscribed.
    deadline = time.monotonic() + 5
    while json.loads(body)["subscribers"] and time.monotonic() < deadline:
        time.sleep(0.05)
        body = get(server, "/announce?msg=nobody")[2]
    assert json.loads(body) == {"delivered": False, "subscribers": 0}


# -- examples/chat ----------------------------------------------------------------------------


def test_chat_example_page_and_python_clients(example):
    server = example("chat/index.py")
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"new WebSocket(" in body and b"/chat" in body
    base = "ws://127.0.0.1:%d/chat" % server.port
    with ws_connect(base + "?name=alice", open_timeout=5) as alice:
        assert json.loads(alice.recv(timeout=5)) == {"type": "welcome", "name": "alice"}
        assert json.loads(alice.recv(timeout=5)) == {"type": "join", "name": "alice"}
        with ws_connect(base + "?name=bob", open_timeout=5) as bob:
            assert json.loads(bob.recv(timeout=5)) == {"type": "welcome", "name": "bob"}
            assert json.loads(bob.recv(timeout=5)) == {"type": "join", "name": "bob"}
            assert json.loads(alice.recv(timeout=5)) == {"type": "join", "name": "bob"}
            bob.send("hi alice")
            for conn in (alice, bob):
                assert json.loads(conn.recv(timeout=5)) == {"type": "say", "name": "bob", "text": "hi alice"}
            alice.send(b"\x89PNG fake image")
            for conn in (alice, bob):
                assert conn.recv(timeout=5) == b"\x89PNG fake image"
        assert json.loads(alice.recv(timeout=5)) == {"type": "leave", "name": "bob"}


def chromium_binary():
    path = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if path:
        return path
    pytest.skip("chromium is not installed (make test installs it through tools/test_deps.sh)")


def run_chromium(binary, url, profile, timeout=30):
    """Opens url in headless Chromium; returns the text of the page's #result
    once the page has written it (None after timeout) and Chromium's stderr.
    The page is polled over the DevTools protocol: --dump-dom with a virtual
    time budget dumped it before a WebSocket exchange was over when the
    machine was busy, as virtual time does not wait for WebSocket traffic."""
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--user-data-dir=%s" % profile,
        "--remote-debugging-port=0",
        url,
    ]
    log = profile / "stderr.txt"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout
    expression = "(document.getElementById('result') || {}).textContent || ''"
    try:
        # Chromium writes the port it chose to DevToolsActivePort.
        port_file, page = profile / "DevToolsActivePort", None
        while page is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if port_file.exists() and port_file.read_text().strip():
                port = int(port_file.read_text().split()[0])
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                    page = next((t for t in json.loads(r.read()) if t["type"] == "page"), None)
        if page is None:
            return None, log.read_text(errors="replace")
        with ws_connect(page["webSocketDebuggerUrl"], open_timeout=5, max_size=None) as cdp:
            asked = 0
            while time.monotonic() < deadline:
                asked += 1
                cdp.send(
                    json.dumps(
                        {
                            "id": asked,
                            "method": "Runtime.evaluate",
                            "params": {"expression": expression, "returnByValue": True},
                        }
                    )
                )
                reply = {}
                while reply.get("id") != asked:  # events may come first
                    reply = json.loads(cdp.recv(timeout=5))
                value = reply.get("result", {}).get("result", {}).get("value")
                if value:
                    return value, log.read_text(errors="replace")
                time.sleep(0.05)
        return None, log.read_text(errors="replace")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_chat_example_in_headless_chromium(example, tmp_path):
    binary = chromium_binary()
    server = example("chat/index.py")
    base = "ws://127.0.0.1:%d/chat" % server.port
    # A Python participant watches the browser's messages arrive in the room.
    with ws_connect(base + "?name=watcher", open_timeout=5) as watcher:
        assert json.loads(watcher.recv(timeout=5))["type"] == "welcome"
        assert json.loads(watcher.recv(timeout=5)) == {"type": "join", "name": "watcher"}
        url = "http://127.0.0.1:%d/?selftest=1&name=chromium" % server.port
        result, stderr = run_chromium(binary, url, tmp_path / "profile")
        assert result, "no self-test result in the page within 30 s:\n%s" % stderr[-2000:]
        result = json.loads(result)
        assert result == {"welcome": "chromium", "text": "hello from the browser ✓", "binary": [0, 1, 2, 127, 128, 255]}
        seen = [watcher.recv(timeout=5) for _ in range(4)]
    assert json.loads(seen[0]) == {"type": "join", "name": "chromium"}
    assert json.loads(seen[1]) == {"type": "say", "name": "chromium", "text": "hello from the browser ✓"}
    assert seen[2] == bytes([0, 1, 2, 127, 128, 255])
    assert json.loads(seen[3]) == {"type": "leave", "name": "chromium"}
