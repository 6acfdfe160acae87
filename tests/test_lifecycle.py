"""listen variants, run/close, signals, lifespan hooks, UNIX sockets, idle CPU."""

import errno
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import rawhttp
from conftest import SANITIZER_MARKERS, Server, server_env


def get(port, path="/"):
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        return rawhttp.read_response(sock)


LISTEN_APP = """
import json, sys
from socketify import App, AppListenOptions
app = App()
app.get("/", lambda res, req: res.end("hi"))
mode = sys.argv[1]
def show(config):
    print("CONFIG", json.dumps(config.__dict__), flush=True)
    print("PORT %d" % (config.port or 0), flush=True)
if mode == "int0":
    app.listen(0, show)
elif mode == "none":
    app.listen(None, show)
elif mode == "dict":
    app.listen({"port": 0, "host": "127.0.0.1"}, show)
elif mode == "options":
    app.listen(AppListenOptions(port=0, host="127.0.0.1", options=1), show)
elif mode == "unix":
    app.listen(AppListenOptions(domain=sys.argv[2]), show)
app.run()
print("RUN RETURNED", flush=True)
"""


@pytest.mark.parametrize(
    "mode,host", [("int0", "0.0.0.0"), ("none", "0.0.0.0"), ("dict", "127.0.0.1"), ("options", "127.0.0.1")]
)
def test_listen_variants_report_the_real_port(serve, mode, host):
    server = serve(LISTEN_APP, mode)
    config_line = [line for line in server.stdout_lines if line.startswith("CONFIG")][0]
    import json

    config = json.loads(config_line.split(" ", 1)[1])
    assert config["port"] == server.port and server.port > 0
    assert config["host"] == host
    assert get(server.port)[2] == b"hi"


def test_listen_on_ipv6_loopback_when_dual_stack(serve):
    server = serve(LISTEN_APP, "int0")
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        sock = socket.create_connection(("::1", server.port), timeout=3)
    except OSError:
        pytest.skip("IPv6 loopback not available here")
    with sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"hi"


def test_unix_domain_socket(tmp_path):
    path = str(tmp_path / "app.sock")
    script = tmp_path / "unix_app.py"
    script.write_text(LISTEN_APP)
    server = Server(str(script), ["unix", path], ready_prefix="CONFIG").start()
    try:
        assert os.path.exists(path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert rawhttp.read_response(sock)[2] == b"hi"
        result = subprocess.run(
            ["curl", "-s", "--unix-socket", path, "http://localhost/"], capture_output=True, timeout=10
        )
        assert result.stdout == b"hi"
    finally:
        assert server.stop() == 0
    assert not os.path.exists(path), "the socket file is removed on close"


def test_exclusive_port_refuses_a_second_listener(serve, tmp_path):
    server = serve(LISTEN_APP, "options")
    script = tmp_path / "second.py"
    script.write_text(
        "from socketify import App, AppListenOptions\n"
        "app = App()\n"
        "try:\n"
        "    app.listen(AppListenOptions(port=%d, host='127.0.0.1'))\n"
        "except RuntimeError as e:\n"
        "    print('ERROR', e)\n" % server.port
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30, env=server_env())
    assert out.stdout.startswith("ERROR Failed to listen on port %d" % server.port), out.stderr
    # The core keeps the errno of the failed listen: the OS's reason is shown.
    assert os.strerror(errno.EADDRINUSE) in out.stdout, out.stdout


def test_a_failed_unix_listen_says_why(tmp_path):
    from socketify import App, AppListenOptions

    app = App()
    missing = tmp_path / "no-such-dir" / "app.sock"
    with pytest.raises(RuntimeError) as caught:
        app.listen(AppListenOptions(domain=str(missing)))
    assert str(missing) in str(caught.value)
    assert os.strerror(errno.ENOENT) in str(caught.value)
    app.dispose()


def test_default_port_sharing_lets_two_processes_listen(serve):
    first = serve(LISTEN_APP, "dict")
    shared = (
        """
from socketify import App
app = App()
app.get("/", lambda res, req: res.end("second"))
app.listen({"port": %d, "host": "127.0.0.1"}, lambda c: print("PORT %%d" %% c.port, flush=True))
app.run()
"""
        % first.port
    )
    second = serve(shared)
    assert second.port == first.port


def test_bad_listen_arguments_raise():
    code = (
        "from socketify import App, AppListenOptions\n"
        "app = App()\n"
        "for bad in ('x', 3.5, [1]):\n"
        "    try:\n"
        "        app.listen(bad)\n"
        "    except TypeError:\n"
        "        print('TypeError')\n"
        "for kwargs in ({'port': -1}, {'port': 70000}, {'domain': '/tmp/x', 'port': 80}):\n"
        "    try:\n"
        "        AppListenOptions(**kwargs)\n"
        "    except RuntimeError:\n"
        "        print('RuntimeError')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=server_env())
    assert out.stdout.split() == ["TypeError"] * 3 + ["RuntimeError"] * 3, out.stderr


HOOKS_APP = """
import asyncio, sys
from socketify import App
app = App(lifespan=sys.argv[1] == "on")
@app.on_start
async def started():
    await asyncio.sleep(0)
    print("START HOOK", flush=True)
@app.on_shutdown
def stopped():
    print("SHUTDOWN HOOK", flush=True)
@app.get("/slow")
async def slow(res, req):
    await asyncio.sleep(0.5)
    res.end("finished in flight")
@app.get("/close")
def close(res, req):
    res.end("closing")
    app.close()
app.listen(0, lambda c: print("PORT %d" % c.port, flush=True))
app.run()
print("RUN RETURNED", flush=True)
"""


def _rest_of_stdout(server):
    out = server.proc.stdout.read()
    return "".join(server.stdout_lines) + out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_and_finishes_in_flight(serve, sig):
    server = serve(HOOKS_APP, "on")
    assert "START HOOK" in "".join(server.stdout_lines)
    sock = rawhttp.connect(server.port)
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    server.proc.send_signal(sig)
    status, headers, body, _ = rawhttp.read_response(sock)
    assert body == b"finished in flight" and headers.get("connection") == "close"
    sock.close()
    assert server.proc.wait(10) == 0
    out = _rest_of_stdout(server)
    assert "SHUTDOWN HOOK" in out and "RUN RETURNED" in out
    # the port is free again
    with pytest.raises(OSError):
        rawhttp.connect(server.port, timeout=1)


def test_close_from_handler(serve):
    server = serve(HOOKS_APP, "on")
    assert get(server.port, "/close")[2] == b"closing"
    assert server.proc.wait(10) == 0
    assert "RUN RETURNED" in _rest_of_stdout(server)


def test_lifespan_off_skips_hooks(serve):
    server = serve(HOOKS_APP, "off")
    assert get(server.port, "/close")[2] == b"closing"
    assert server.proc.wait(10) == 0
    out = _rest_of_stdout(server)
    assert "START HOOK" not in out and "SHUTDOWN HOOK" not in out and "RUN RETURNED" in out


def test_close_drops_idle_keepalive_connections(serve):
    server = serve(HOOKS_APP, "on")
    idle = rawhttp.connect(server.port)
    idle.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    assert rawhttp.read_response(idle)[2] == b"finished in flight"
    assert get(server.port, "/close")[2] == b"closing"
    assert server.proc.wait(10) == 0
    assert rawhttp.read_until_close(idle, timeout=3) == b""


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.serial
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_idle_server_uses_no_cpu(serve):
    server = serve(HOOKS_APP, "on")
    idle = rawhttp.connect(server.port)  # an open keep-alive connection too
    get(server.port, "/close-not-found")
    window = 2  # two one-second ticks
    before = _cpu_seconds(server.proc.pid)
    time.sleep(window)
    used = _cpu_seconds(server.proc.pid) - before
    idle.close()
    assert used / window < 0.02, "idle CPU %.1f%%" % (100 * used / window)


MANY_APPS = r"""
import gc, os, socket, sys, threading
from socketify import App


def fd_count():
    return len(os.listdir("/proc/self/fd"))


def fetch(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk


def serve_one(kept):
    app = App()

    @app.get("/")
    def home(res, req):
        kept.append(res)
        res.end("served")
        app.close()

    app.ws("/ws", {})
    ports = []
    app.listen(0, lambda config: ports.append(config.port))
    answers = []
    client = threading.Thread(target=lambda: answers.append(fetch(ports[0])))
    client.start()
    app.run()
    client.join()
    assert answers[0].endswith(b"served"), answers
    return app


def refused(call):
    try:
        call()
    except RuntimeError as error:
        return "create a new App" in str(error)
    return False


kept = []
serve_one(kept).dispose()  # the first event loop opens process-wide fds of its own
start = fd_count()
# Kept alive: only the release at the end of run() (and dispose() for the
# asyncio loop) can give their fds back, not the garbage collector.
apps = []
for _ in range(200):
    app = serve_one(kept)
    app.dispose()
    apps.append(app)
print("FDS %d %d" % (start, fd_count()), flush=True)

# A Response kept past its App's end is a stale handle: no-ops, no crash.
res = kept[-1]
res.write_status(200).end("late")
print("STALE", res.get_write_offset(), res.get_buffered_amount(), res.get_remote_address(), flush=True)
app = apps[-1]
print("REFUSED", refused(app.run), refused(lambda: app.get("/x", lambda res, req: None)),
      refused(lambda: app.ws("/y", {})), refused(lambda: app.listen(0)), flush=True)
print("PUBLISH", app.publish("topic", "x"), app.num_subscribers("topic"), flush=True)
# Still an App by isinstance and by name (a subclass of it now); and a live
# App class keeps CPython's fast attribute loads, which an App.__getattr__
# would turn off for every request.
print("KIND", isinstance(app, App), type(app).__name__, "__getattr__" in vars(App), flush=True)
app.close()
app.dispose()  # both still fine on a released App
# Run alone (no dispose): the core's own fds go when run() returns.
before = fd_count()
app = App()
app.listen(0)
app.loop.loop.call_soon(app.close)
app.run()
print("RUN", fd_count() - before, flush=True)
del apps, app, res, kept
gc.collect()  # frees every App's remaining shell: ASan sees each freed once
print("DONE ok", flush=True)
"""


def test_apps_free_their_native_resources_when_their_loop_ends(tmp_path):
    script = tmp_path / "many.py"
    script.write_text(MANY_APPS)
    proc = subprocess.run([sys.executable, str(script)], env=server_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for marker in SANITIZER_MARKERS:
        assert marker not in proc.stderr, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    start, end = map(int, lines["FDS"].split())
    assert end == start
    assert lines["STALE"] == "0 0 None"
    assert lines["REFUSED"] == "True True True True"
    assert lines["PUBLISH"] == "False 0"
    assert lines["KIND"] == "True App False"
    # What is left is the asyncio loop's (closed by dispose()); the core's
    # poller, timer, wake pipe and listener are gone.
    assert int(lines["RUN"]) <= 5, lines["RUN"]
    assert "DONE" in lines
