"""The ASGI and WSGI servers' timeouts reach the core: ``graceful_timeout``
on a signal, the CLI's ``--timeout-keep-alive`` and
``--timeout-graceful-shutdown``, and the supervisor's kill margin leaving
room for the lifespan shutdown."""

import os
import signal

import pytest

import rawhttp
from cli_runner import cli, write_module  # noqa: F401 (cli: the fixture)
from conftest import free_port, wait_for_value

HANGING_ASGI = """
import asyncio
from listen_line import announce
from socketify import ASGI


async def app(scope, receive, send):
    if scope["type"] == "http":
        print("HANGING", flush=True)
        await asyncio.Event().wait()


ASGI(app, lifespan=False, graceful_timeout=1).listen({"host": "127.0.0.1", "port": 0}, announce).run()
"""


def test_asgi_graceful_timeout_applies_to_a_signal(serve):
    server = serve(HANGING_ASGI)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert server.proc.stdout.readline().startswith("HANGING")
        server.proc.send_signal(signal.SIGTERM)
        assert rawhttp.wait_closed(sock, timeout=8)  # closed after 1 s, not the default 10
    assert server.proc.wait(10) == 0
    log = server.stderr()
    assert "waiting up to 1s" in log and "still open after 1s" in log, log


APPS = {
    "asgi": """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                import os
                open(os.path.join(os.environ["MARKS"], "down-%d" % os.getpid()), "w").close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/hang":
        import asyncio, os
        open(os.path.join(os.environ["MARKS"], "hang-%d" % os.getpid()), "w").close()
        await asyncio.Event().wait()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
""",
    "wsgi": """
def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
""",
}


@pytest.fixture
def appdir(tmp_path):
    for name, source in APPS.items():
        write_module(tmp_path, name + "_app", source)
    return tmp_path


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_cli_timeout_keep_alive_reaches_the_adapters(cli, kind, tmp_path):
    port = free_port()
    cli("%s_app:app" % kind, "--port", port, "--timeout-keep-alive", "1", env={"MARKS": str(tmp_path)})
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        status, _headers, body, _ = rawhttp.read_response(sock)
        assert (status, body) == (200, b"ok")
        assert rawhttp.wait_closed(sock, timeout=8)  # idle 1 s (and a tick), not the default 10


def test_supervisor_gives_the_lifespan_shutdown_time_after_the_grace(cli, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    port = free_port()
    server = cli(
        "asgi_app:app", "--port", port, "-w", "2", "--timeout-graceful-shutdown", "1", env={"MARKS": str(marks)}
    )
    workers = server.children()
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET /hang HTTP/1.1\r\nHost: h\r\n\r\n")
        wait_for_value(lambda: os.listdir(marks), bool, 10)  # a worker runs the request
        assert server.stop() == 0
    # The worker drained its hanging request for 1 s, then ran lifespan shutdown.
    down = sorted(int(n[5:]) for n in os.listdir(marks) if n.startswith("down-"))
    assert down == sorted(workers), server.stderr()
    assert "killed" not in server.stderr()


def test_asgi_timeouts_follow_the_app_defaults_unless_passed(monkeypatch):
    """What the CLI sets (set_app_defaults) is ASGI's default too; an
    argument the program passes still wins."""
    from socketify import ASGI, app as app_module

    monkeypatch.setattr(app_module, "_app_defaults", {})
    app_module.set_app_defaults(idle_timeout=3, graceful_shutdown_timeout=4.0)

    async def app(scope, receive, send):
        pass

    defaulted, explicit = ASGI(app), ASGI(app, idle_timeout=7, graceful_timeout=8.0)
    assert (defaulted.idle_timeout, defaulted.graceful_timeout) == (3, 4.0)
    assert (explicit.idle_timeout, explicit.graceful_timeout) == (7, 8.0)
