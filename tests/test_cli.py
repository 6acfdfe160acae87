"""python -m socketify: loading APP, every option as a client sees it, and bad input."""

import asyncio
import os
import socket
import sys
import threading
import time

import pytest
import requests

from cli_runner import cli, run_cli, unix_get, wait_for, write_module  # noqa: F401 (cli: the fixture)
from conftest import ROOT, free_port, write_encrypted_key

APP = """
import asyncio, os
from socketify import App

started = []
app = App()

@app.on_start
def on_start():
    started.append(True)

@app.get("/")
def home(res, req):
    res.end("home %d" % os.getpid())

@app.get("/whoami")
def whoami(res, req):
    res.end(str(res.get_remote_address()))

@app.get("/started")
def was_started(res, req):
    res.end("yes" if started else "no")

@app.get("/env")
def env(res, req):
    res.end(os.environ.get("GREETING", "unset"))

@app.get("/config")
def config(res, req):
    res.end("%d %d" % (app.request_response_factory_max_items, app.websocket_factory_max_items))

@app.get("/slow")
async def slow(res, req):
    await asyncio.sleep(1.5)
    res.end("slow done")

@app.get("/status/:code")
def status(res, req):
    res.write_status(int(req.get_parameter(0))).end("status")
"""


@pytest.fixture
def appdir(tmp_path):
    write_module(tmp_path, "webapp", APP)
    return tmp_path


def get(port, path="/", **kwargs):
    return requests.get("http://127.0.0.1:%d%s" % (port, path), timeout=10, **kwargs)


def assert_one_error_line(code, stderr, *words):
    assert code == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("socketify: error: "), stderr
    for word in words:
        assert word in last, stderr
    return last


# -- APP ----------------------------------------------------------------------


def test_serves_an_app_object(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port)
    assert server.stdout_lines[-1].strip() == "Listening on http://127.0.0.1:%d now" % port
    assert get(port).text == "home %d" % server.proc.pid  # one process: no supervisor


def test_short_host_and_port_flags(cli):
    port = free_port()
    cli("webapp:app", "-h", "127.0.0.1", "-p", port)
    assert get(port).text.startswith("home")


def test_module_and_attribute_case_is_kept_and_dotted_paths_work(cli, tmp_path):
    write_module(
        tmp_path,
        "MixedCase",
        """
        from socketify import App
        class Holder:
            Application = App()
        Holder.Application.get("/", lambda res, req: res.end("mixed"))
    """,
    )
    port = free_port()
    cli("MixedCase:Holder.Application", "--port", port)
    assert get(port).text == "mixed"


def test_run_function_gets_an_app_built_from_the_options(cli, tmp_path):
    write_module(
        tmp_path,
        "runner",
        """
        def run(app):
            app.get("/", lambda res, req: res.end("run %d" % app.request_response_factory_max_items))
    """,
    )
    port = free_port()
    cli("runner:run", "--port", port, "--req-res-factory-maxitems", "7")
    assert get(port).text == "run 7"


@pytest.mark.parametrize("how", ["parens", "flag"])
def test_factory(cli, tmp_path, how):
    write_module(
        tmp_path,
        "factory",
        """
        from socketify import App
        def make():
            app = App()
            app.get("/", lambda res, req: res.end("made"))
            return app
    """,
    )
    port = free_port()
    args = ["factory:make()"] if how == "parens" else ["factory:make", "--factory"]
    cli(*args, "--port", port)
    assert get(port).text == "made"


def test_app_dir(cli, tmp_path):
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    write_module(
        sub,
        "far",
        """
        from socketify import App
        app = App()
        app.get("/", lambda res, req: res.end("far"))
    """,
    )
    port = free_port()
    cli("far:app", "--app-dir", str(sub), "--port", port)
    assert get(port).text == "far"


def test_interface_detection():
    sys.path.insert(0, ROOT)
    from socketify import App
    from socketify.cli import CliError, detect_interface

    async def asgi(scope, receive, send):
        pass

    class AsgiClass:
        async def __call__(self, scope, receive, send):
            pass

    class SyncReturningCoroutine:  # middleware style: returns the coroutine
        def __call__(self, scope, receive, send):
            return asgi(scope, receive, send)

    def wsgi(environ, start_response):
        return []

    class WsgiClass:
        def __call__(self, environ, start_response):
            return []

    def run(app):
        pass

    assert detect_interface(asgi) == "asgi"
    assert detect_interface(AsgiClass()) == "asgi"
    assert detect_interface(SyncReturningCoroutine()) == "asgi"
    assert detect_interface(wsgi) == "wsgi"
    assert detect_interface(WsgiClass()) == "wsgi"
    assert detect_interface(run) == "socketify"
    app = App()
    try:
        assert detect_interface(app) == "socketify"
    finally:
        app.dispose()
    with pytest.raises(CliError):
        detect_interface(lambda *args: None)
    with pytest.raises(CliError):
        detect_interface(42)


# -- bad input: one line, exit 1 ---------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["webapp:app", "--no-such-flag"], ["--no-such-flag"]),
        (["webapp:app", "--port", "99999"], ["99999"]),
        (["webapp:app", "--port", "http"], ["http"]),
        (["webapp:app", "--workers", "0"], ["--workers"]),
        (["webapp:app", "--interface", "cgi"], ["cgi"]),
        (["webapp:app", "--interface", "ssgi"], ["ssgi"]),
        (["webapp:app", "--lifespan", "maybe"], ["maybe"]),
        (["webapp:app", "--ws-auto-ping", "perhaps"], ["perhaps"]),
        (["webapp"], ["module:attribute"]),
        ([], ["APP"]),
        (["nosuchmodule:app"], ["nosuchmodule"]),
        (["webapp:nothing"], ["nothing"]),
        (["webapp:app", "--ssl-keyfile", "missing.key", "--ssl-certfile", "missing.pem"], ["missing.key"]),
        (["webapp:app", "--env-file", "missing.env"], ["missing.env"]),
        (["webapp:app", "--forwarded-allow-ips", "not-an-ip"], ["not-an-ip"]),
    ],
)
def test_bad_input_is_one_line_and_exit_1(appdir, args, words):
    code, out, err = run_cli(appdir, *args)
    assert_one_error_line(code, err, *words)
    assert "Traceback" not in err


def test_a_module_that_raises_shows_its_own_traceback_then_one_line(tmp_path):
    write_module(
        tmp_path,
        "broken",
        """
        def helper():
            raise ValueError("the module's own error")
        helper()
    """,
    )
    code, out, err = run_cli(tmp_path, "broken:app")
    assert_one_error_line(code, err, "broken", "the module's own error")
    assert "Traceback" in err and "broken.py" in err and "helper()" in err
    assert "socketify/cli.py" not in err  # the import's traceback, not ours


def test_busy_port(appdir):
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    try:
        code, out, err = run_cli(appdir, "webapp:app", "--port", port)
    finally:
        holder.close()
    assert_one_error_line(code, err, str(port), "in use")


def test_busy_port_held_by_another_socketify_server(cli, appdir):
    port = free_port()
    cli("webapp:app", "--port", port)
    code, out, err = run_cli(appdir, "webapp:app", "--port", port)
    assert_one_error_line(code, err, str(port), "in use")


def test_help_and_version(appdir):
    code, out, err = run_cli(appdir, "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--host" in text and "-h is --host" in text and "--timeout-graceful-shutdown" in text
    code, out, err = run_cli(appdir, "--version")
    assert code == 0
    sys.path.insert(0, ROOT)
    import socketify

    assert out.startswith("socketify %s" % socketify.__version__)
    code, out, err = run_cli(appdir, "-v")
    assert code == 0 and out.startswith("socketify ")
    code, out, err = run_cli(appdir, "-h")  # -h is the host: it wants a value
    assert_one_error_line(code, err, "-h")


# -- options as the client sees them -------------------------------------------------


def test_uds(cli, tmp_path):
    path = str(tmp_path / "s.sock")
    server = cli("webapp:app", "--uds", path)
    assert path in server.stdout_lines[-1]
    data = unix_get(path)
    assert data.startswith(b"HTTP/1.1 200") and b"home" in data
    server.stop()
    assert not os.path.exists(path)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    import trustme

    root = tmp_path_factory.mktemp("clitls")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    write_encrypted_key(cert.private_key_pem.bytes(), root / "key.enc", b"s3cret")
    (root / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    return root


def test_tls_with_a_password_protected_key(cli, tls_files):
    port = free_port()
    server = cli(
        "webapp:app",
        "--port",
        port,
        "--ssl-keyfile",
        tls_files / "key.enc",
        "--ssl-certfile",
        tls_files / "cert.pem",
        "--ssl-keyfile-password",
        "s3cret",
        "--ssl-ciphers",
        "ECDHE+AESGCM",
    )
    assert "https://" in server.stdout_lines[-1]
    response = requests.get("https://127.0.0.1:%d/" % port, verify=str(tls_files / "ca.pem"), timeout=10)
    assert response.text.startswith("home")


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("case", ["password", "garbage"])
def test_bad_certificate_is_one_line(appdir, tls_files, case, workers):
    if case == "password":
        args = [
            "--ssl-keyfile",
            tls_files / "key.enc",
            "--ssl-certfile",
            tls_files / "cert.pem",
            "--ssl-keyfile-password",
            "wrong",
        ]
    else:
        args = ["--ssl-keyfile", tls_files / "key.pem", "--ssl-certfile", tls_files / "garbage.pem"]
    code, out, err = run_cli(appdir, "webapp:app", "--port", free_port(), "-w", workers, *args)
    assert_one_error_line(code, err, "TLS")
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("socketify: error")]) == 1


def test_access_log_is_off_by_default_and_one_common_format_line_when_on(cli):
    port = free_port()
    quiet = cli("webapp:app", "--port", port)
    get(port, "/status/404")
    quiet.stop()
    assert '"GET' not in quiet.stderr()
    port = free_port()
    loud = cli("webapp:app", "--port", port, "--access-log")
    assert get(port, "/status/404?x=1").status_code == 404
    assert get(port, "/").status_code == 200
    lines = wait_for(lambda: [line for line in loud.stderr().splitlines() if '"GET' in line] or None, 5)
    loud.stop()
    lines = [line for line in loud.stderr().splitlines() if '"GET' in line]
    assert len(lines) == 2, lines
    assert lines[0].startswith("127.0.0.1 - - [") and lines[0].endswith('"GET /status/404?x=1 HTTP/1.1" 404 -')
    assert lines[1].endswith('"GET / HTTP/1.1" 200 -')


def test_log_level_hides_info_lines(cli):
    port = free_port()
    quiet = cli("webapp:app", "--port", port, "-w", "2", "--log-level", "warning", "--access-log")
    get(port)
    assert quiet.stop() == 0
    assert "INFO" not in quiet.stderr() and '"GET' not in quiet.stderr()
    port = free_port()
    chatty = cli("webapp:app", "--port", port, "-w", "2")
    assert chatty.stop() == 0
    assert "INFO: stopping" in chatty.stderr()


def test_proxy_headers_only_from_allowed_addresses(cli):
    forwarded = {"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}
    port = free_port()
    cli("webapp:app", "--port", port)
    assert get(port, "/whoami", headers=forwarded).text == "127.0.0.1"  # off by default
    port = free_port()
    cli("webapp:app", "--port", port, "--proxy-headers")  # trusts 127.0.0.1 by default
    assert get(port, "/whoami", headers=forwarded).text == "203.0.113.7"
    assert get(port, "/whoami").text == "127.0.0.1"
    port = free_port()
    cli("webapp:app", "--port", port, "--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8")
    assert get(port, "/whoami", headers=forwarded).text == "127.0.0.1"  # not from a trusted proxy


def test_proxy_headers_in_the_access_log(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "--proxy-headers", "--access-log")
    get(port, "/", headers={"X-Forwarded-For": "198.51.100.2"})
    assert wait_for(lambda: "198.51.100.2 - - [" in server.stderr(), 5)


def test_root_path_mounts_the_routes(cli):
    port = free_port()
    cli("webapp:app", "--port", port, "--root-path", "/api")
    assert get(port, "/api/").text.startswith("home")
    assert get(port, "/api/env").text == "unset"
    assert get(port, "/env").status_code == 404


def test_limit_concurrency(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "--limit-concurrency", "1", "--access-log")
    results = {}

    def slow():
        results["slow"] = get(port, "/slow", headers={"Connection": "close"})

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)
    busy = get(port, "/", headers={"Connection": "close"})
    thread.join()
    assert busy.status_code == 503
    assert results["slow"].text == "slow done"
    # once the server has seen the other connections close
    assert wait_for(lambda: get(port, "/", headers={"Connection": "close"}).status_code == 200, 5)
    assert wait_for(lambda: '"GET / HTTP/1.1" 503 -' in server.stderr(), 5)


def _idle_close_seconds(port, limit):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(limit)
        started = time.monotonic()
        data = sock.recv(4096)
        assert data.startswith(b"HTTP/1.1 200")
        try:
            while sock.recv(4096):
                pass
        except socket.timeout:
            return None
        return time.monotonic() - started


def test_timeout_keep_alive(cli):
    port = free_port()
    cli("webapp:app", "--port", port, "--timeout-keep-alive", "1")
    closed_after = _idle_close_seconds(port, 6)
    assert closed_after is not None and closed_after < 5
    port = free_port()
    cli("webapp:app", "--port", port)  # default 10 s
    assert _idle_close_seconds(port, 3) is None


def test_env_file_and_socketify_variables(cli, appdir):
    env_file = appdir / "app.env"
    env_file.write_text("# settings\nGREETING='hi there'\nexport SOCKETIFY_ACCESS_LOG=true\n")
    port = free_port()
    server = cli("webapp:app", "--env-file", env_file, env={"SOCKETIFY_PORT": str(port)})
    assert get(port, "/env").text == "hi there"
    assert wait_for(lambda: '"GET /env' in server.stderr(), 5)


def test_command_line_beats_environment(cli):
    port = free_port()
    cli("webapp:app", "--port", port, env={"SOCKETIFY_PORT": "1"})
    assert get(port).ok


def test_web_concurrency_sets_the_default_workers(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, env={"WEB_CONCURRENCY": "2"})
    assert server.stdout_lines[-1].strip().endswith("(2 workers)")
    assert len(server.children()) == 2


def test_lifespan_off_skips_the_start_hook(cli):
    port = free_port()
    cli("webapp:app", "--port", port)
    assert get(port, "/started").text == "yes"
    port = free_port()
    cli("webapp:app", "--port", port, "--lifespan", "off")
    assert get(port, "/started").text == "no"


def test_factory_maxitems_reach_the_app(cli):
    port = free_port()
    cli(
        "webapp:app",
        "--port",
        port,
        "--req-res-factory-maxitems",
        "5",
        "--ws-factory-maxitems",
        "3",
        "--task-factory-maxitems",
        "10",
    )
    assert get(port, "/config").text == "5 3"


def test_disable_listen_log(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "--disable-listen-log", "true", wait_port=port)
    assert get(port).ok
    server.stop()
    assert not any("Listening" in line for line in server.stdout_lines)
    port = free_port()
    server = cli("webapp:app", "--port", port, "--disable-listen-log", "false")  # "false" is false
    assert server.stdout_lines[-1].startswith("Listening on")


WS_MODULE = """
def message(ws, message, opcode):
    ws.send(message, opcode)

behavior = {"message": message}
"""


def _ws_connect(port, **kwargs):
    import websocket

    return websocket.create_connection("ws://127.0.0.1:%d/any/path" % port, timeout=10, **kwargs)


def test_ws_behaviour_module_with_its_options(cli, appdir):
    write_module(appdir, "wsmod", WS_MODULE)
    port = free_port()
    cli(
        "webapp:app",
        "--port",
        port,
        "--ws",
        "wsmod:behavior",
        "--ws-max-size",
        "1000",
        "--ws-per-message-deflate",
        "false",
    )
    ws = _ws_connect(port)
    assert "permessage-deflate" not in (ws.getheaders() or {}).get("sec-websocket-extensions", "")
    ws.send("hello")
    assert ws.recv() == "hello"
    ws.close()
    port = free_port()
    cli("webapp:app", "--port", port, "--ws", "wsmod:behavior", "--ws-per-message-deflate", "true")
    ws = _ws_connect(port, header=["Sec-WebSocket-Extensions: permessage-deflate"])
    assert "permessage-deflate" in ws.getheaders().get("sec-websocket-extensions", "")
    ws.close()


def test_ws_max_size_close_code(cli, appdir):
    write_module(appdir, "wsmod", WS_MODULE)
    port = free_port()
    cli("webapp:app", "--port", port, "--ws", "wsmod:behavior", "--ws-max-size", "1000")

    async def go():
        import websockets

        async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
            await ws.send("y" * 10)
            assert await ws.recv() == "y" * 10
            await ws.send("y" * 5000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(go()) == 1009


def test_ws_none_serves_no_websockets(cli, appdir):
    write_module(appdir, "wsmod", WS_MODULE)
    port = free_port()
    cli("webapp:app", "--port", port, "--ws", "none")
    import websocket

    with pytest.raises(websocket.WebSocketBadStatusException):
        _ws_connect(port)


def test_interface_forced(cli, appdir, tmp_path):
    write_module(
        tmp_path,
        "plainwsgi",
        """
        def application(environ, start_response):
            start_response("200 OK", [])
            return [b"wsgi"]
    """,
    )
    code, out, err = run_cli(tmp_path, "plainwsgi:application", "--interface", "socketify")
    assert_one_error_line(code, err, "socketify")
    port = free_port()
    cli("webapp:app", "--port", port, "--interface", "socketify")
    assert get(port).ok


def test_asgi_and_wsgi_paths(cli, tmp_path):
    """The adapters come from socketify.asgi / socketify.wsgi; without them
    the CLI says so in one line."""
    write_module(
        tmp_path,
        "adapters",
        """
        async def asgi(scope, receive, send):
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    await send({"type": message["type"] + ".complete"})
                    if message["type"] == "lifespan.shutdown":
                        return
            body = ("%s %s %s %s" % (scope["client"][0], scope["scheme"], scope["root_path"],
                                     scope["path"])).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})

        def wsgi(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [("%s %s %s" % (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"],
                                   environ["SCRIPT_NAME"])).encode()]
    """,
    )
    for interface, attr in (("asgi", "asgi"), ("wsgi", "wsgi")):
        try:
            __import__("socketify." + interface)
            present = True
        except ImportError:
            present = False
        args = ["adapters:" + attr, "--proxy-headers", "--root-path", "/r", "--access-log"]
        if not present:
            code, out, err = run_cli(tmp_path, *args, "--port", free_port())
            assert_one_error_line(code, err, "socketify." + interface)
            continue
        port = free_port()
        cli(*args, "--port", port, cwd=tmp_path)
        text = get(port, "/x", headers={"X-Forwarded-For": "192.0.2.1", "X-Forwarded-Proto": "https"}).text
        assert text.startswith("192.0.2.1 https /r")


def test_asgi_wrapper_in_process(caplog):
    """The ASGI features, driven directly (no adapter needed)."""
    sys.path.insert(0, ROOT)
    from socketify._serve import Features, TrustedProxies, asgi_wrapper

    seen = []

    async def app(scope, receive, send):
        seen.append(scope)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"abc"})

    features = Features(proxy=TrustedProxies("127.0.0.1"), root_path="/api/", limit_concurrency=5, access_log=True)
    caplog.set_level("INFO", logger="socketify.access")
    wrapped = asgi_wrapper(app, features)
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
        "path": "/x",
        "raw_path": b"/x",
        "root_path": "",
        "method": "GET",
        "query_string": b"",
        "headers": [(b"x-forwarded-for", b"198.51.100.9"), (b"x-forwarded-proto", b"https")],
    }
    asyncio.run(wrapped(scope, receive, send))
    inner = seen[0]
    assert inner["client"] == ("198.51.100.9", 0) and inner["scheme"] == "https"
    assert inner["root_path"] == "/api" and inner["path"] == "/api/x" and inner["raw_path"] == b"/api/x"
    assert scope["path"] == "/x"  # the server's scope is not changed
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    lines = [r.getMessage() for r in caplog.records if r.name == "socketify.access"]
    assert len(lines) == 1 and lines[0].startswith("198.51.100.9 - - [")
    assert lines[0].endswith('"GET /api/x HTTP/1.1" 201 3')
    untrusted = dict(scope, client=("192.0.2.50", 1))
    seen.clear()
    asyncio.run(wrapped(untrusted, receive, send))
    assert seen[0]["client"] == ("192.0.2.50", 1) and seen[0]["scheme"] == "http"


def test_ws_idle_timeout_and_auto_ping(cli, appdir):
    import websocket

    write_module(appdir, "wsmod", WS_MODULE)
    port = free_port()
    cli("webapp:app", "--port", port, "--ws", "wsmod:behavior", "--ws-idle-timeout", "1", "--ws-auto-ping", "false")
    quiet = _ws_connect(port)
    quiet.settimeout(8)
    started = time.monotonic()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:
            quiet.recv()
    assert time.monotonic() - started < 7  # closed for idleness
    port = free_port()
    cli("webapp:app", "--port", port, "--ws", "wsmod:behavior", "--ws-idle-timeout", "1")
    pinged = _ws_connect(port)  # websocket-client answers the server's pings while reading
    pinged.settimeout(10)
    pings = 0
    while pings < 3:  # a ping a second: three idle windows outlived
        opcode, _ = pinged.recv_data_frame(True)
        pings += opcode == websocket.ABNF.OPCODE_PING
    pinged.send("still here")
    while True:
        opcode, frame = pinged.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            break
    assert frame.data == b"still here"
    pinged.close()


def test_every_ws_flag_reaches_the_websocket_options(appdir):
    sys.path.insert(0, ROOT)
    from socketify.cli import _websocket_options, parse_args

    args = parse_args(
        [
            "webapp:app",
            "--ws-max-size",
            "10",
            "--ws-auto-ping",
            "false",
            "--ws-idle-timeout",
            "30",
            "--ws-reset-idle-on-send",
            "no",
            "--ws-per-message-deflate",
            "--ws-max-lifetime",
            "5",
            "--ws-max-backpressure",
            "99",
            "--ws-close-on-backpressure-limit",
        ]
    )
    assert _websocket_options(args) == {
        "compression": True,
        "max_payload_length": 10,
        "idle_timeout": 30,
        "max_backpressure": 99,
        "max_lifetime": 5,
        "close_on_backpressure_limit": 1,
        "reset_idle_timeout_on_send": False,
        "send_pings_automatically": False,
    }
    defaults = _websocket_options(parse_args(["webapp:app"]))
    assert defaults == {
        "compression": False,
        "max_payload_length": 16777216,
        "idle_timeout": 20,
        "max_backpressure": 16777216,
        "max_lifetime": 0,
        "close_on_backpressure_limit": 0,
        "reset_idle_timeout_on_send": True,
        "send_pings_automatically": True,
    }


def test_adapter_calls_use_the_documented_api(tmp_path, monkeypatch):
    """What the CLI hands socketify.asgi.ASGI / socketify.wsgi.WSGI: the
    constructor, listen(port_or_options, handler) and run(workers=1, block=True)."""
    import types

    sys.path.insert(0, ROOT)
    from socketify import cli as cli_module

    write_module(
        tmp_path,
        "adapted",
        """
        async def asgi(scope, receive, send):
            pass

        def wsgi(environ, start_response):
            return []
    """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from socketify import App, app as app_module

    # serve() sets App's defaults in what is normally a worker process
    monkeypatch.setattr(app_module, "_app_defaults", {})
    monkeypatch.setattr(App, "_route_hook", None)
    calls = []

    class Adapter:
        def __init__(
            self,
            app,
            options=None,
            websocket=None,
            websocket_options=None,
            task_factory_max_items=100_000,
            lifespan=True,
        ):
            calls.append(("init", app, options, websocket, websocket_options, task_factory_max_items, lifespan))

        def listen(self, port_or_options, handler=None):
            calls.append(("listen", port_or_options))
            return self

        def run(self, workers=1, block=True):
            calls.append(("run", workers, block))

    for name, cls_name in (("asgi", "ASGI"), ("wsgi", "WSGI")):
        monkeypatch.setitem(sys.modules, "socketify." + name, types.SimpleNamespace(**{cls_name: Adapter}))
    args = cli_module.parse_args(
        ["adapted:asgi", "--port", "8123", "--lifespan", "off", "--task-factory-maxitems", "7", "--ws-max-size", "99"]
    )
    cli_module.serve(args, supervised=True)
    init, listen, run = calls
    import adapted

    assert init[1] is adapted.asgi and init[2] is None and init[3] is True and init[5] == 7 and init[6] is False
    assert init[4]["max_payload_length"] == 99
    assert listen == ("listen", {"host": "127.0.0.1", "port": 8123}) and run == ("run", 1, True)
    calls.clear()
    args = cli_module.parse_args(["adapted:wsgi", "--uds", str(tmp_path / "s.sock"), "--access-log"])
    cli_module.serve(args, supervised=True)
    init, listen, run = calls
    assert init[1] is not adapted.wsgi and init[3] is None and init[6] is True  # wrapped for the access log
    assert listen[1].domain == str(tmp_path / "s.sock")


def test_wsgi_wrapper_in_process(caplog):
    """The WSGI features, driven directly (no adapter needed)."""
    sys.path.insert(0, ROOT)
    from socketify._serve import Features, TrustedProxies, wsgi_wrapper

    seen = []

    def app(environ, start_response):
        seen.append(dict(environ))
        start_response("202 Accepted", [("Content-Type", "text/plain")])
        return [b"ab", b"cd"]

    caplog.set_level("INFO", logger="socketify.access")
    wrapped = wsgi_wrapper(
        app, Features(proxy=TrustedProxies("10.0.0.0/8"), root_path="/r", access_log=True, limit_concurrency=3)
    )
    base = {
        "REMOTE_ADDR": "10.1.2.3",
        "HTTP_X_FORWARDED_FOR": "192.0.2.9",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.url_scheme": "http",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/p",
        "QUERY_STRING": "a=1",
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    statuses = []
    body = wrapped(dict(base), lambda status, headers, exc_info=None: statuses.append(status))
    assert b"".join(body) == b"abcd"
    body.close()
    assert statuses == ["202 Accepted"]
    inner = seen[0]
    assert inner["REMOTE_ADDR"] == "192.0.2.9" and inner["wsgi.url_scheme"] == "https"
    assert inner["SCRIPT_NAME"] == "/r"
    lines = [r.getMessage() for r in caplog.records if r.name == "socketify.access"]
    assert len(lines) == 1 and lines[0].endswith('"GET /p?a=1 HTTP/1.1" 202 4')
    untrusted = dict(base, REMOTE_ADDR="203.0.113.1")
    seen.clear()
    wrapped(untrusted, lambda *a: None).close()
    assert seen[0]["REMOTE_ADDR"] == "203.0.113.1" and seen[0]["wsgi.url_scheme"] == "http"


def test_app_defaults_yield_to_explicit_arguments(monkeypatch):
    """set_app_defaults (what serve() calls in a worker) changes only the
    arguments a program does not pass; an unknown name is a TypeError."""
    sys.path.insert(0, ROOT)
    from socketify import App, app as app_module

    monkeypatch.setattr(app_module, "_app_defaults", {})
    app_module.set_app_defaults(lifespan=False, request_response_factory_max_items=9)
    defaulted, explicit = App(), App(None, 3, lifespan=True)
    try:
        assert defaulted.lifespan is False and defaulted.request_response_factory_max_items == 9
        assert explicit.lifespan is True and explicit.request_response_factory_max_items == 3
    finally:
        defaulted.dispose()
        explicit.dispose()
    with pytest.raises(TypeError, match="max_lifetime"):
        app_module.set_app_defaults(max_lifetime=1)
    import inspect

    marked = [
        name
        for name, parameter in inspect.signature(App.__init__).parameters.items()
        if isinstance(parameter.default, app_module._Default)
    ]
    assert sorted(marked) == sorted(app_module._DEFAULTABLE)  # each one App.__init__ resolves


def test_limit_concurrency_503s_are_in_the_access_log_of_the_asgi_wrapper(caplog):
    """ASGI as for socketify apps: a request refused by --limit-concurrency
    gets its access-log line (WSGI counts in the server: test_cli_wsgi_features)."""
    sys.path.insert(0, ROOT)
    from socketify._serve import Features, asgi_wrapper

    caplog.set_level("INFO", logger="socketify.access")
    features = Features(access_log=True, limit_concurrency=1)
    inner = []

    async def asgi_app(scope, receive, send):
        async def collect(message):
            inner.append(message.get("status"))

        await asgi_wrapped(dict(scope, path="/second-asgi"), receive, collect)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first"})

    async def ignore(message):
        pass

    asgi_wrapped = asgi_wrapper(asgi_app, features)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/first-asgi",
        "client": ("192.0.2.1", 1),
        "http_version": "1.1",
        "headers": [],
    }
    asyncio.run(asgi_wrapped(scope, None, ignore))
    assert inner == [503, None]
    lines = [r.getMessage() for r in caplog.records if r.name == "socketify.access"]
    assert any(line.endswith('"GET /second-asgi HTTP/1.1" 503 19') for line in lines), lines


@pytest.mark.parametrize("flag,value", [("--ws-idle-timeout", "961"), ("--ws-max-lifetime", "241")])
def test_websocket_timers_past_what_the_core_holds_are_refused(tmp_path, flag, value):
    write_module(tmp_path, "webapp", "from socketify import App\napp = App()\n")
    code, _, err = run_cli(tmp_path, "webapp:app", flag, value)
    assert code == 1 and "is more than the" in err and err.strip().count("\n") == 0, err
