"""Each ASGI scope owns its dicts (an app writing to ``scope["asgi"]`` or
``scope["extensions"]`` changes no other request's), ``send()`` works with
``asyncio.create_task``, and an awaited WebSocket message larger than
``max_backpressure`` is sent, not dropped (as the README says)."""

import json

import requests

from conftest import ws_connect

APP = """
import asyncio, json
from listen_line import announce
from socketify import ASGI


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return
    seen = {"asgi": sorted(scope["asgi"]), "extensions": sorted(scope["extensions"])}
    scope["asgi"]["leak"] = 1  # what a careless app might do
    scope["extensions"]["leak"] = {}
    if scope["type"] == "http":
        # send() as create_task / ensure_future callers use it
        await asyncio.create_task(send({"type": "http.response.start", "status": 200,
                                         "headers": [(b"content-type", b"application/json")]}))
        await asyncio.ensure_future(send({"type": "http.response.body", "body": json.dumps(seen).encode()}))
        return
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(seen)})
    await send({"type": "websocket.send", "bytes": b"x" * 65536})  # over max_backpressure, awaited: sent
    await asyncio.create_task(send({"type": "websocket.send", "text": "after"}))
    await receive()


ASGI(app, websocket_options={"max_backpressure": 1024}).listen({"host": "127.0.0.1", "port": 0}, announce).run()
"""


def test_http_scopes_do_not_share_their_dicts(serve):
    server = serve(APP)
    for _ in range(3):
        response = requests.get(server.url + "/", timeout=5)
        assert response.status_code == 200, server.stderr()
        seen = response.json()
        assert "leak" not in seen["asgi"] and "leak" not in seen["extensions"], seen
        assert "version" in seen["asgi"] and "http.response.pathsend" in seen["extensions"]
    assert "Traceback" not in server.stderr()


def test_websocket_scopes_do_not_share_their_dicts_and_a_big_awaited_message_is_sent(serve):
    server = serve(APP)
    for _ in range(2):
        with ws_connect("ws://127.0.0.1:%d/" % server.port) as ws:
            seen = json.loads(ws.recv(timeout=10))
            assert "leak" not in seen["asgi"] and "leak" not in seen["extensions"], seen
            assert "websocket.publish" in seen["extensions"]
            assert ws.recv(timeout=10) == b"x" * 65536
            assert ws.recv(timeout=10) == "after"
    assert "dropped" not in server.stderr()
