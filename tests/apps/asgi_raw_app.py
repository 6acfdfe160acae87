"""A raw ASGI application exercising the edges of the spec, served by ASGI.

Every path is one behaviour; what the server did to the application (the
messages it received, the errors send raised) is recorded in EVENTS and read
back over /events. ``ASGI_RECORD`` names a file where the WebSocket
``finally`` blocks append a line (they may run during shutdown).
"""

import asyncio
import json
import os
import sys

from listen_line import announce

from socketify import ASGI

EVENTS = {}
RECORD = os.environ.get("ASGI_RECORD")


def record(key, value):
    EVENTS.setdefault(key, []).append(value)
    if RECORD:
        with open(RECORD, "a") as f:
            f.write("%s %s\n" % (key, json.dumps(value)))


def jsonable(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


async def read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client left")
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def respond(send, status, body, headers=None):
    await send(
        {"type": "http.response.start", "status": status, "headers": headers or [(b"content-type", b"text/plain")]}
    )
    await send({"type": "http.response.body", "body": body})


def query(scope):
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if os.environ.get("ASGI_FAIL_STARTUP"):
                await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
                return
            scope["state"]["greeting"] = "hello from lifespan"
            scope["state"]["items"] = []
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            record("lifespan", "shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def http(scope, receive, send):
    path = scope["path"]
    q = query(scope)
    if path == "/events":
        await respond(send, 200, json.dumps(EVENTS).encode(), [(b"content-type", b"application/json")])
    elif path.startswith("/scope"):
        body = await read_body(receive)
        data = {k: jsonable(v) for k, v in scope.items()}
        data["body_length"] = len(body)
        scope["state"].setdefault("items", []).append(1)  # shallow copy: same list, own dict
        scope["state"]["mutated"] = True
        await respond(send, 200, json.dumps(data).encode(), [(b"content-type", b"application/json")])
    elif path == "/echo":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            await send(
                {"type": "http.response.body", "body": message["body"], "more_body": message.get("more_body", False)}
            )
            if not message.get("more_body"):
                return
    elif path == "/count":
        total = pieces = 0
        slow = float(q.get("slow", "0"))
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                record("count_disconnect", total)
                return
            total += len(message.get("body", b""))
            pieces += 1
            if slow:
                await asyncio.sleep(slow)
            if pieces == 1:
                await asyncio.sleep(float(q.get("delay", "0")))  # not receiving for a while
            if not message.get("more_body"):
                break
        await respond(send, 200, json.dumps({"total": total, "pieces": pieces}).encode())
    elif path == "/stream":
        size, count = int(q.get("size", "65536")), int(q.get("count", "16"))
        piece = b"x" * size
        headers = [(b"content-length", str(size * count).encode())] if q.get("cl") else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            for _ in range(count):
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except OSError as error:
            record("stream_error", type(error).__name__)
            raise
    elif path.startswith("/status/"):
        code = int(path.rsplit("/", 1)[1])
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b"" if code in (204, 304) else b"status"})
    elif path == "/header-types":
        await respond(
            send,
            200,
            b"ok",
            [(b"x-bytes", b"b"), ("x-str", "s"), (b"x-int", 42), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")],
        )
    elif path == "/header-shapes":
        shape = query(scope)["shape"]
        pairs = [(b"x-one", b"1"), (b"x-two", b"2")]
        if shape == "lists":
            headers = [list(pair) for pair in pairs]
        elif shape == "memoryview":
            headers = [(b"x-one", memoryview(bytearray(b"1"))), (b"x-two", b"2")]
        elif shape == "generator":
            headers = (pair for pair in pairs)
        else:
            headers = tuple(pairs)
        await respond(send, 200, shape.encode(), headers)
    elif path == "/bad-header":
        try:
            await respond(send, 200, b"never", [(b"x-bad", b"a\r\nInjected: 1")])
        except ValueError:
            await respond(send, 200, b"refused")
    elif path == "/raise":
        raise RuntimeError("boom before start")
    elif path == "/raise-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom after start")
    elif path == "/no-response":
        return
    elif path == "/wait-disconnect":
        await read_body(receive)
        # Working: the disconnect must reach this pending receive.
        message = await receive()
        record("wait_disconnect", message["type"])
    elif path == "/after-response":
        await respond(send, 200, b"done")
        message = await receive()
        record("after_response", message["type"])
    elif path == "/slow-stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for _ in range(200):
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                await asyncio.sleep(0.05)
        except OSError as error:
            record("send_after_disconnect", [type(error).__name__, isinstance(error, OSError)])
            raise
    elif path == "/trailers":
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")], "more_trailers": False})
    elif path == "/pathsend":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(os.path.getsize(q["file"])).encode())],
            }
        )
        await send({"type": "http.response.pathsend", "path": q["file"]})
    elif path == "/zerocopy":
        with open(q["file"], "rb") as f:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.zerocopy", "file": f, "offset": 2, "count": 5})
    elif path == "/slow":
        await asyncio.sleep(float(q.get("s", "1")))
        await respond(send, 200, b"slow done")
    else:
        await respond(send, 404, b"no such test path")


async def websocket(scope, receive, send):
    path = scope["path"]
    message = await receive()
    assert message["type"] == "websocket.connect"
    if path == "/ws/echo":
        protocol = scope["subprotocols"][0] if scope["subprotocols"] else None
        await send({"type": "websocket.accept", "subprotocol": protocol, "headers": [(b"x-accepted", b"yes")]})
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    record("echo_disconnect", [message["code"], message.get("reason", "")])
                    return
                if message.get("text") == "scope":
                    await send(
                        {
                            "type": "websocket.send",
                            "text": json.dumps(jsonable({k: v for k, v in scope.items() if k != "state"})),
                        }
                    )
                elif message.get("text") == "close-me":
                    await send({"type": "websocket.close", "code": 4001, "reason": "as you wish"})
                elif "text" in message:
                    await send({"type": "websocket.send", "text": message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"]})
        finally:
            record("echo_finally", path)
    elif path == "/ws/close-before-accept":
        await send({"type": "websocket.close"})
    elif path == "/ws/deny":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"text/plain"), (b"x-denied", b"1")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"go away"})
    elif path == "/ws/server-close":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4002, "reason": "server says bye"})
        message = await receive()
        record("after_close", [message["type"], message.get("code")])
    elif path == "/ws/late-accept":
        # The client leaves before we accept: the next receive says so, accept raises OSError.
        for _ in range(100):
            await asyncio.sleep(0.05)
            if EVENTS.get("late_go"):
                break
        message = await receive()
        record("late_receive", message["type"])
        try:
            await send({"type": "websocket.accept"})
            record("late_accept", "no error")
        except OSError as error:
            record("late_accept", type(error).__name__)
    elif path == "/ws/send-after-gone":
        await send({"type": "websocket.accept"})
        message = await receive()
        record("gone_receive", [message["type"], message.get("code")])
        try:
            await send({"type": "websocket.send", "text": "anyone?"})
            record("gone_send", "no error")
        except OSError as error:
            record("gone_send", type(error).__name__)
    elif path == "/ws/raise":
        await send({"type": "websocket.accept"})
        await receive()
        raise RuntimeError("ws boom")
    elif path == "/ws/pubsub":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.subscribe", "topic": "room"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.publish", "topic": "room", "text": message.get("text", "")})
    elif path == "/ws/shutdown":
        await send({"type": "websocket.accept"})
        try:
            message = await receive()
            record("shutdown_disconnect", [message["type"], message.get("code")])
        finally:
            record("shutdown_finally", True)
    elif path == "/ws/flood":
        # 128 messages of 1 MiB to a client that reads slowly: send() waits, nothing is dropped.
        await send({"type": "websocket.accept"})
        piece = b"m" * (1 << 20)
        for i in range(128):
            await send({"type": "websocket.send", "bytes": bytes([i % 256]) + piece})
        await send({"type": "websocket.send", "text": "done"})
        message = await receive()
        record("flood_end", message["type"])
    elif path == "/ws/go-late":
        EVENTS["late_go"] = [True]
        await send({"type": "websocket.close"})
    else:
        await send({"type": "websocket.close", "code": 4404})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)
    else:
        await websocket(scope, receive, send)


async def no_lifespan_app(scope, receive, send):
    if scope["type"] != "http":
        raise ValueError("only http here")
    await respond(send, 200, b"no lifespan: %s" % str("state" in scope and scope["state"] == {}).encode())


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "full"
    if mode == "no-lifespan-support":
        ASGI(no_lifespan_app).listen(0, announce).run()
    elif mode == "lifespan-off":
        ASGI(app, lifespan=False).listen(0, announce).run()
    elif mode == "compress":
        ASGI(app, websocket_options={"compression": True}).listen(0, announce).run()
    elif mode == "tls":
        from socketify import AppOptions

        certs = sys.argv[2]
        ASGI(
            app,
            options=AppOptions(
                key_file_name=os.path.join(certs, "server.key"), cert_file_name=os.path.join(certs, "server.pem")
            ),
        ).listen(0, announce).run()
    elif mode == "native-ws":
        # websocket=dict: a socketify ws behaviour on /*, ASGI for HTTP
        behavior = {
            "open": lambda ws: ws.send("native hello"),
            "message": lambda ws, message, opcode: ws.send("native: %s" % message, opcode),
        }
        ASGI(app, websocket=behavior).listen(0, announce).run()
    elif mode == "short-idle":
        ASGI(app, idle_timeout=1).listen(0, announce).run()
    elif mode == "no-ws":
        ASGI(app, websocket=False).listen(0, announce).run()
    elif mode == "thread":
        # run(block=False) serves from a thread; close() from here ends it.
        import urllib.request

        server = ASGI(app).listen(0, lambda config: EVENTS.setdefault("port", [config.port])).run(block=False)
        port = EVENTS["port"][0]
        print("body %s" % urllib.request.urlopen("http://127.0.0.1:%d/status/200" % port).read().decode(), flush=True)
        server.close()
        print("closed; lifespan %s" % EVENTS.get("lifespan"), flush=True)
    else:
        ASGI(app).listen(0, announce).run()
