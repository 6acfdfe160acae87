"""A second server on a port another process already serves: SO_REUSEPORT
stays on by default, but the newcomer logs one warning naming the port,
unless sharing was asked for (reuse_port=True, AppListenOptions.REUSE_PORT,
SOCKETIFY_REUSE_PORT=1)."""

import errno
import os
import signal
import subprocess
import sys

import pytest

import rawhttp
from conftest import free_port, server_env

APP = """
import sys
from socketify import App, AppListenOptions
port, mode = int(sys.argv[1]), sys.argv[2]
app = App()
app.get("/", lambda res, req: res.end(mode))
show = lambda config: print("PORT %d" % config.port, flush=True)
if mode == "default":
    app.listen({"port": port, "host": "127.0.0.1"}, show)
elif mode == "all-interfaces":
    app.listen(port, show)
elif mode == "dict":
    app.listen({"port": port, "host": "127.0.0.1", "reuse_port": True}, show)
elif mode == "options":
    app.listen(AppListenOptions(port=port, host="127.0.0.1", options=AppListenOptions.REUSE_PORT), show)
elif mode == "field":
    app.listen(AppListenOptions(port=port, host="127.0.0.1", reuse_port=True), show)
elif mode == "exclusive":
    try:
        app.listen(AppListenOptions(port=port, host="127.0.0.1", reuse_port=False), show)
    except RuntimeError as error:
        print("ERROR", error, flush=True)
        sys.exit(0)
app.run()
"""

WARNING = "port %d is already served by another process"


@pytest.fixture
def app_path(tmp_path):
    path = tmp_path / "reuse_app.py"
    path.write_text(APP)
    return str(path)


def start(serve, app_path, port, mode, env=None):
    return serve(app_path, str(port), mode, env=env)


def test_a_second_server_on_a_served_port_warns(serve, app_path):
    port = free_port()
    first = start(serve, app_path, port, "default")
    second = start(serve, app_path, port, "default")
    assert second.port == first.port == port
    with rawhttp.connect(port) as sock:  # the default is kept: the port is shared, not refused
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"default"
    log = second.stderr()
    lines = [line for line in log.splitlines() if WARNING % port in line]
    assert len(lines) == 1, log
    assert "reuse_port=True" in lines[0] and "SOCKETIFY_REUSE_PORT=1" in lines[0]
    assert WARNING % port not in first.stderr()


def test_all_interfaces_also_sees_a_loopback_server(serve, app_path):
    port = free_port()
    start(serve, app_path, port, "default")
    second = start(serve, app_path, port, "all-interfaces")
    assert WARNING % port in second.stderr()


@pytest.mark.parametrize("mode", ["dict", "options", "field"])
def test_sharing_asked_for_does_not_warn(serve, app_path, mode):
    port = free_port()
    start(serve, app_path, port, "default")
    second = start(serve, app_path, port, mode)
    assert second.port == port
    assert "already served" not in second.stderr()


def test_the_workers_environment_variable_means_sharing_on_purpose(serve, app_path):
    port = free_port()
    start(serve, app_path, port, "default", env={"SOCKETIFY_REUSE_PORT": "1"})
    second = start(serve, app_path, port, "default", env={"SOCKETIFY_REUSE_PORT": "1"})
    assert "already served" not in second.stderr()


def test_reuse_port_false_is_an_exclusive_port(serve, app_path):
    port = free_port()
    start(serve, app_path, port, "default")
    out = subprocess.run(
        [sys.executable, app_path, str(port), "exclusive"], capture_output=True, text=True, timeout=30, env=server_env()
    )
    assert out.stdout.startswith("ERROR Failed to listen on port %d" % port), out.stderr
    assert os.strerror(errno.EADDRINUSE) in out.stdout


def test_a_restart_on_the_same_port_does_not_warn(serve, app_path):
    port = free_port()
    old = start(serve, app_path, port, "default")
    with rawhttp.connect(port) as sock:  # leaves a connection in TIME_WAIT
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        rawhttp.read_until_close(sock)
    assert old.stop(signal.SIGTERM) == 0
    new = start(serve, app_path, port, "default")
    assert new.port == port
    assert "already served" not in new.stderr()


def test_conflicting_reuse_options_are_refused():
    from socketify import AppListenOptions

    with pytest.raises(RuntimeError):
        AppListenOptions(port=1, options=AppListenOptions.EXCLUSIVE_PORT, reuse_port=True)
    with pytest.raises(RuntimeError):
        AppListenOptions(port=1, reuse_port="yes")
