"""Raw ASGI benchmark app (no framework) for uvicorn and granian.

Same behaviour as socketify_app.py: ``/``, ``/json``,
``/user/{id}/post/{post}?q=x``, ``POST /echo`` and ``/async``.
"""

import asyncio
import json
from urllib.parse import parse_qs

PLAIN = b"Hello, World!"
JSON_BODY = json.dumps({"message": "Hello, World!"}).encode()
TEXT_HEADERS = [(b"content-type", b"text/plain")]
JSON_HEADERS = [(b"content-type", b"application/json")]
NOT_FOUND = b"Not Found"


async def respond(send, status, headers, body):
    """Sends a complete response with a Content-Length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers + [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    """The whole request body."""
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def params_body(path, query_string):
    """The /user/:id/post/:post answer, or None when the path does not match."""
    parts = path.split("/")
    if len(parts) != 5 or parts[1] != "user" or parts[3] != "post":
        return None
    query = parse_qs(query_string.decode("latin-1")).get("q", [None])[0]
    return ("user %s post %s q %s" % (parts[2], parts[4], query)).encode()


async def websocket_echo(receive, send):
    """``/echo`` over WebSocket: every message back as it came."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def app(scope, receive, send):
    """The ASGI entry point (HTTP, a WebSocket echo; lifespan is acknowledged)."""
    if scope["type"] == "websocket":
        await websocket_echo(receive, send)
        return
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    method = scope["method"]
    if path == "/" and method == "GET":
        await respond(send, 200, TEXT_HEADERS, PLAIN)
    elif path == "/json" and method == "GET":
        await respond(send, 200, JSON_HEADERS, JSON_BODY)
    elif path == "/async" and method == "GET":
        await asyncio.sleep(0)
        await respond(send, 200, TEXT_HEADERS, PLAIN)
    elif path == "/echo" and method == "POST":
        await respond(send, 200, [], await read_body(receive))
    else:
        body = params_body(path, scope["query_string"]) if method == "GET" else None
        if body is None:
            await respond(send, 404, TEXT_HEADERS, NOT_FOUND)
        else:
            await respond(send, 200, TEXT_HEADERS, body)
