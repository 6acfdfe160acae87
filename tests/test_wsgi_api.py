"""WSGI adapter: the launcher's surface (arguments, run/close, HTTPS, UNIX
sockets, graceful shutdown, ws behaviour dict)."""

import json
import os
import signal
import socket
import threading
import time

import pytest
import requests

from socketify import ASGI, WSGI, AppListenOptions

import rawhttp
from conftest import HERE, Server, server_certificate


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_constructor_refuses_what_it_cannot_serve():
    with pytest.raises(TypeError):
        WSGI("not an app")
    with pytest.raises(ValueError):
        WSGI(hello, threads=0)
    with pytest.raises(ValueError):
        WSGI(hello, websocket={"message": print, "no_such_key": 1})
    with pytest.raises(ValueError):
        WSGI(hello, websocket={}, websocket_options={"no_such_option": 1})
    with pytest.raises(TypeError):
        WSGI(hello, websocket=42)


async def hello_asgi(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})


# run(block=False) is one launcher for both adapters (workers.serve_in_thread).
SERVERS = {"WSGI": lambda: WSGI(hello, threads=2), "ASGI": lambda: ASGI(hello_asgi, lifespan=False)}


@pytest.mark.parametrize("adapter", sorted(SERVERS))
def test_run_without_blocking_then_close_from_another_thread(adapter):
    ports = []
    server = SERVERS[adapter]().listen(
        AppListenOptions(port=0, host="127.0.0.1"), lambda config: ports.append(config.port)
    )
    server.run(block=False)
    try:
        assert requests.get("http://127.0.0.1:%d/" % ports[0], timeout=10).text == "hello"
    finally:
        server.close()
    with pytest.raises(requests.ConnectionError):
        requests.get("http://127.0.0.1:%d/" % ports[0], timeout=2)


@pytest.mark.parametrize("adapter", sorted(SERVERS))
def test_listen_failure_is_raised_by_run(adapter):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = SERVERS[adapter]().listen(AppListenOptions(port=port, host="127.0.0.1", options=1))
        with pytest.raises(RuntimeError, match="Failed to listen"):
            server.run(block=False)


ENVIRON_APP = """
import json, sys
from listen_line import announce
from socketify import WSGI, AppListenOptions, AppOptions

def app(environ, start_response):
    keys = ("wsgi.url_scheme", "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "REMOTE_PORT")
    body = json.dumps({k: environ.get(k) for k in keys}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

mode = sys.argv[1]
if mode == "tls":
    options = AppOptions(key_file_name=sys.argv[2], cert_file_name=sys.argv[3])
    WSGI(app, options).listen(AppListenOptions(port=0, host="127.0.0.1"), announce).run()
else:
    def ready(config):
        print("PORT 0", flush=True)
    WSGI(app).listen(AppListenOptions(domain=sys.argv[2]), ready).run()
"""


def test_https_sets_the_url_scheme(tmp_path, serve):
    context = server_certificate(tmp_path, "key.pem", "cert.pem")
    server = serve(ENVIRON_APP, "tls", str(tmp_path / "key.pem"), str(tmp_path / "cert.pem"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status, _, body, _ = rawhttp.read_response(sock)
    env = json.loads(body)
    assert status == 200
    assert env["wsgi.url_scheme"] == "https"
    assert env["SERVER_NAME"] == "127.0.0.1" and env["SERVER_PORT"] == str(server.port)


def test_unix_socket(tmp_path, serve):
    path = str(tmp_path / "wsgi.sock")
    serve(ENVIRON_APP, "unix", path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status, _, body, _ = rawhttp.read_response(sock)
    env = json.loads(body)
    assert status == 200
    assert env["SERVER_NAME"] == "localhost" and env["SERVER_PORT"] == "0"
    assert env["REMOTE_ADDR"] is None and env["REMOTE_PORT"] is None


def test_sigterm_lets_the_request_in_flight_finish():
    server = Server(os.path.join(HERE, "apps", "wsgi_app.py")).start()
    try:
        box = {}
        thread = threading.Thread(
            target=lambda: box.setdefault("r", requests.get(server.url + "/sleep?1", timeout=20)), daemon=True
        )
        thread.start()
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        thread.join(20)
        assert box["r"].text == "slept"
        assert box["r"].headers.get("Connection") == "close"
        assert server.proc.wait(20) == 0
    finally:
        server.stop()


WS_APP = """
from listen_line import announce
from socketify import WSGI, CompressOptions

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"http"]

def open_(ws):
    ws.send("opened")

WSGI(app, websocket={"open": open_, "message": lambda ws, m, op: ws.send(m, op)},
     websocket_options={"compression": True, "max_payload_length": 1024, "idle_timeout": 30}
     ).listen(0, announce).run()
"""


def test_ws_behaviour_dict_with_websocket_options(serve):
    websocket = pytest.importorskip("websocket")
    server = serve(WS_APP)
    ws = websocket.create_connection(
        "ws://127.0.0.1:%d/any/path" % server.port, timeout=10, header=["Sec-WebSocket-Extensions: permessage-deflate"]
    )
    try:
        assert "permessage-deflate" in ws.getheaders().get("sec-websocket-extensions", "")
        assert ws.recv() == "opened"
        ws.send("echo me")
        assert ws.recv() == "echo me"
        ws.send("x" * 2000)  # over max_payload_length: closed with 1009
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            ws.recv()
            ws.recv()
    finally:
        ws.close()
    assert requests.get(server.url + "/", timeout=10).text == "http"


WSGI_WITH_ASGI_WS = """
from listen_line import announce
from socketify import WSGI


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"http from WSGI"]


async def chat(scope, receive, send):
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": "echo " + message["text"]})


WSGI(app, websocket=chat).listen(0, announce).run()
"""


def test_an_asgi_application_serves_the_websockets_beside_the_wsgi_app(serve):
    import websocket

    server = serve(WSGI_WITH_ASGI_WS)
    assert requests.get(server.url + "/any/path", timeout=10).text == "http from WSGI"
    ws = websocket.create_connection("ws://127.0.0.1:%d/chat" % server.port, timeout=10)
    try:
        ws.send("hi")
        assert ws.recv() == "echo hi"
    finally:
        ws.close()
    assert requests.get(server.url + "/", timeout=10).text == "http from WSGI"
