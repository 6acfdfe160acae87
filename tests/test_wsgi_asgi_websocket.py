"""``WSGI(app, websocket=asgi_app)``: the ASGI application's WebSocket
scopes say where the server listens (scheme ws/wss, server host and port)
and, through the CLI, carry --root-path; ``--ws`` with an ASGI app serves
that app's WebSocket scopes next to an ASGI app's HTTP."""

import json

import pytest

from cli_runner import cli, run_cli, write_module  # noqa: F401 (cli: the fixture)
from conftest import free_port, server_certificate, ws_connect

WS_APP = """
import json


async def ws_scope(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    shown = {k: scope[k] for k in ("scheme", "server", "root_path", "path")}
    await send({"type": "websocket.send", "text": json.dumps(shown)})
    await send({"type": "websocket.close", "code": 1000})


NUMBER = 3


async def http_only(scope, receive, send):
    # An ASGI app whose own WebSocket handling refuses everything.
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"http"})


def wsgi(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
"""

PROGRAM = (
    WS_APP
    + """
import sys
from listen_line import announce
from socketify import AppOptions, WSGI

options = None
if len(sys.argv) > 1:
    options = AppOptions(key_file_name=sys.argv[1] + "/server.key", cert_file_name=sys.argv[1] + "/server.pem")
WSGI(wsgi, options=options, websocket=ws_scope).listen({"host": "127.0.0.1", "port": 0}, announce).run()
"""
)


def test_scope_of_a_websocket_next_to_wsgi(serve):
    server = serve(PROGRAM)
    with ws_connect("ws://127.0.0.1:%d/chat" % server.port) as ws:
        scope = json.loads(ws.recv(timeout=10))
    assert scope == {"scheme": "ws", "server": ["127.0.0.1", server.port], "root_path": "", "path": "/chat"}


def test_scope_of_a_websocket_next_to_wsgi_over_tls(serve, tmp_path):
    context = server_certificate(tmp_path)
    server = serve(PROGRAM, str(tmp_path))
    with ws_connect("wss://127.0.0.1:%d/chat" % server.port, ssl=context) as ws:
        scope = json.loads(ws.recv(timeout=10))
    assert scope["scheme"] == "wss" and scope["server"] == ["127.0.0.1", server.port]


@pytest.fixture
def appdir(tmp_path):
    write_module(tmp_path, "mixed", WS_APP)
    return tmp_path


def test_cli_root_path_reaches_the_websocket_scopes(cli):
    port = free_port()
    cli("mixed:wsgi", "--port", port, "--ws", "mixed:ws_scope", "--root-path", "/api")
    with ws_connect("ws://127.0.0.1:%d/chat" % port) as ws:
        scope = json.loads(ws.recv(timeout=10))
    assert scope["root_path"] == "/api" and scope["path"] == "/api/chat"
    assert scope["server"] == ["127.0.0.1", port]


def test_cli_ws_with_an_asgi_app_serves_its_websockets_next_to_an_asgi_app(cli):
    port = free_port()
    cli("mixed:http_only", "--port", port, "--ws", "mixed:ws_scope")
    with ws_connect("ws://127.0.0.1:%d/chat" % port) as ws:
        scope = json.loads(ws.recv(timeout=10))
    assert scope["path"] == "/chat" and scope["scheme"] == "ws"


def test_cli_ws_with_something_else_is_refused(appdir):
    code, _out, err = run_cli(appdir, "mixed:ws_scope", "--ws", "mixed:NUMBER")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("socketify: error: --ws mixed:NUMBER: not a WebSocket")
