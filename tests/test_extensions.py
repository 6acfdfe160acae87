"""app.register: extension methods and properties on Request and Response."""

import json
import subprocess
import sys

import msgpack
import pytest

import rawhttp
from conftest import server_env


def get(server, path, headers=b""):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        return rawhttp.read_response(sock)


EXT_APP = """
import asyncio, sys
from listen_line import announce
from socketify import App
from socketify.middleware import middleware

app = App(request_response_factory_max_items=int(sys.argv[1]))

def extension(request, response, ws):
    @request.method
    async def get_user(self):
        token = self.get_header("token")
        return {"name": "Test"} if token else {"name": "Anonymous"}

    @request.method
    def cart_size(self):
        return len(self.cart)

    @response.method
    def send_json_sorted(self, value):
        import json
        self.write_header("Content-Type", "application/json")
        return self.end(json.dumps(value, sort_keys=True))

    @response.method
    async def later(self, text):
        await asyncio.sleep(0.01)
        return self.end(text)

    request.property("cart", [])
    response.property("hits", 0)

def second(request, response, ws):
    @response.method
    def tagged(self, text):
        self.write_header("X-Ext", "second")
        return self.send_json_sorted({"text": text, "user_cart": None})

    request.property("session", {"visits": 0})

if sys.argv[2] == "before":
    app.register(extension)
    app.register(second)

@app.get("/cart")
async def cart(res, req):
    user = await req.get_user()
    req.cart.append(req.get_query("item"))
    res.hits += 1
    req.session["visits"] += 1
    res.send_json_sorted({"user": user, "cart": req.cart, "size": req.cart_size(),
                          "hits": res.hits, "visits": req.session["visits"]})

app.get("/tagged", lambda res, req: res.tagged("hi"))
app.get("/later", lambda res, req: res.later("done later"))

def mw(res, req, data=None):
    req.cart.append("from-middleware")
    return True

app.get("/mw", middleware(mw, lambda res, req, data: res.send({"cart": req.cart})))

if sys.argv[2] == "after":
    app.register(extension)
    app.register(second)

app.listen(0, announce)
app.run()
"""


@pytest.mark.parametrize("pool", [0, 4])
@pytest.mark.parametrize("when", ["before", "after"])
def test_methods_and_fresh_properties(serve, pool, when):
    server = serve(EXT_APP, str(pool), when)
    for item in ("apple", "pear", "fig"):
        body = json.loads(get(server, "/cart?item=" + item, b"token: t\r\n")[2])
        # every request starts with its own empty cart and counters
        assert body == {"user": {"name": "Test"}, "cart": [item], "size": 1, "hits": 1, "visits": 1}
    body = json.loads(get(server, "/cart?item=x")[2])
    assert body["user"] == {"name": "Anonymous"}


def test_composition_and_async_methods(serve):
    server = serve(EXT_APP, "0", "before")
    status, headers, body, _ = get(server, "/tagged")
    assert headers["x-ext"] == "second" and json.loads(body) == {"text": "hi", "user_cart": None}
    assert get(server, "/later")[2] == b"done later"


def test_properties_in_middleware(serve):
    server = serve(EXT_APP, "0", "before")
    for _ in range(2):
        assert json.loads(get(server, "/mw")[2]) == {"cart": ["from-middleware"]}


@pytest.mark.parametrize(
    "source,message",
    [
        (
            "def ext(request, response, ws):\n    @response.method\n    def end(self):\n        pass\n",
            "clashes with a built-in",
        ),
        ("def ext(request, response, ws):\n    request.property('get_header', 1)\n", "clashes with a built-in"),
        (
            "def ext(request, response, ws):\n    request.property('cart', [])\n"
            "def ext2(request, response, ws):\n    request.property('cart', [])\n",
            "already defined",
        ),
        ("def ext(request, response, ws):\n    request.property('not an identifier')\n", "must be an identifier"),
    ],
)
def test_clashes_raise_at_register(source, message):
    code = (
        "from socketify import App\n" + source + "app = App()\n"
        "app.register(ext)\n"
        "try:\n"
        "    app.register(globals().get('ext2', ext))\n"
        "except ValueError as e:\n"
        "    print('ValueError:', e)\n"
    )
    wrapped = (
        "try:\n"
        + "".join("    " + line + "\n" for line in code.splitlines())
        + "except ValueError as e:\n    print('ValueError:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, timeout=30, env=server_env())
    assert "ValueError:" in out.stdout and message in out.stdout, out.stdout + out.stderr


def test_extensions_example(tmp_path):
    from test_examples import free_port, run_example

    port = free_port()
    server = run_example("extensions.py", port)
    try:
        with rawhttp.connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\ntoken: abc\r\n\r\n")
            status, headers, body, _ = rawhttp.read_response(sock)
        assert headers["content-type"] == "application/msgpack"
        assert msgpack.unpackb(body) == {"user": {"name": "Test"}, "cart": ["apple"], "at": "2026-01-01T00:00:00"}
    finally:
        server.stop()


WS_EXT_APP = """
from listen_line import announce
from socketify import App, OpCode

app = App(websocket_factory_max_items=4)

class User:
    def __init__(self, username):
        self.username = username

def extension(request, response, ws):
    @ws.method
    def send_pm(self, to_username, message):
        user_data = self.get_user_data()
        pm_topic = "pm-%s+%s" % tuple(sorted((to_username, user_data.username)))
        if app.num_subscribers(pm_topic) > 0:
            return self.publish(pm_topic, message, OpCode.TEXT)
        self.subscribe(pm_topic)
        self.publish("signal-%s" % to_username,
                     {"type": "pm", "username": user_data.username, "message": message}, OpCode.TEXT)

    ws.property("sent", 0)

def upgrade(res, req, context):
    res.upgrade(req.get_header("sec-websocket-key"), req.get_header("sec-websocket-protocol"),
                req.get_header("sec-websocket-extensions"), context, User(req.get_query("user")))

def open(ws):
    ws.subscribe("signal-%s" % ws.get_user_data().username)

def message(ws, message, opcode):
    import json
    data = json.loads(message)
    if data.get("join"):
        ws.subscribe(data["join"])
        ws.send({"joined": data["join"]}, OpCode.TEXT)
        return
    ws.sent += 1
    ws.send_pm(data["to"], data["text"])

app.register(extension)
app.ws("/chat", {"upgrade": upgrade, "open": open, "message": message})
app.listen(0, announce)
app.run()
"""


def test_ws_extension_send_pm_across_two_clients(serve):
    import asyncio

    import websockets

    server = serve(WS_EXT_APP)
    url = "ws://127.0.0.1:%d/chat?user=" % server.port

    async def main():
        async with websockets.connect(url + "ana") as ana, websockets.connect(url + "bob") as bob:
            await ana.send(json.dumps({"to": "bob", "text": "hi bob"}))
            signal = json.loads(await bob.recv())
            assert signal == {"type": "pm", "username": "ana", "message": "hi bob"}
            await bob.send(json.dumps({"join": "pm-ana+bob"}))
            assert json.loads(await bob.recv()) == {"joined": "pm-ana+bob"}
            await bob.send(json.dumps({"to": "ana", "text": "hello ana"}))
            # the topic exists now: both ends of the conversation receive it
            assert await ana.recv() == "hello ana"
            assert await bob.recv() == "hello ana"

    asyncio.run(main())
