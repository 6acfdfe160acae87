"""Error handlers, hooks, serializers and object pooling."""

import json
import platform

import pytest

import rawhttp


def get(server, path, head=False):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (b"HEAD" if head else b"GET", path.encode()))
        return rawhttp.read_response(sock, head_request=head)


ERRORS_APP = """
import asyncio, sys
from listen_line import announce
from socketify import App

app = App()
seen = []

if sys.argv[1] == "sync":
    @app.on_error
    def on_error(error, res, req):
        seen.append([type(error).__name__, str(error), res is not None, req is not None])
        if res is not None:
            res.write_status(500).end("handled: %s" % error)
else:
    async def on_error(error, res, req):
        await asyncio.sleep(0.01)
        seen.append([type(error).__name__, str(error), res is not None, req is not None])
        if res is not None:
            res.write_status(500).end("handled async: %s" % error)
    app.set_error_handler(on_error)

@app.on_start
def start():
    raise RuntimeError("start hook failed")

@app.get("/sync")
def sync(res, req):
    raise ValueError("sync boom")

@app.get("/async")
async def failing(res, req):
    await asyncio.sleep(0.01)
    raise KeyError("async boom")

app.get("/seen", lambda res, req: res.send(seen))
app.listen(0, announce)
app.run()
"""


@pytest.mark.parametrize("mode,prefix", [("sync", b"handled: "), ("async", b"handled async: ")])
def test_error_handler(serve, mode, prefix):
    server = serve(ERRORS_APP, mode)
    status, _, body, _ = get(server, "/sync")
    assert status == 500 and body == prefix + b"sync boom"
    status, _, body, _ = get(server, "/async")
    assert status == 500 and body == prefix + b"'async boom'"
    seen = json.loads(get(server, "/seen")[2])
    # an async handler's calls may interleave: compare as a set
    assert sorted(seen) == sorted(
        [
            ["RuntimeError", "start hook failed", False, False],
            ["ValueError", "sync boom", True, True],
            ["KeyError", "'async boom'", True, True],
        ]
    )


FEATURES_APP = """
import json as stdjson
from listen_line import announce
from socketify import App

class Serializer:
    @staticmethod
    def dumps(value):
        return stdjson.dumps(value, separators=(",", ":"), sort_keys=True)
    @staticmethod
    def loads(value):
        return stdjson.loads(value)

app = App(request_response_factory_max_items=8)
app.json_serializer(Serializer)
kept = []
seen = set()

@app.get("/json")
def as_json(res, req):
    res.end({"b": 2, "a": 1})

@app.get("/pooled")
def pooled(res, req):
    seen.add((id(res), id(req)))
    if req.get_query("keep"):
        kept.append(req)
    leak = getattr(res, "leak", None)
    res.leak = req.get_query("mark")
    res.send({"leak": leak, "native": app.get_native_handle()})

app.get("/distinct", lambda res, req: res.send({"distinct": len(seen)}))
app.listen(0, announce)
app.run()
"""


def test_custom_json_serializer(serve):
    server = serve(FEATURES_APP)
    assert get(server, "/json")[2] == b'{"a":1,"b":2}'


def test_pooling_reuses_objects_without_leaking_state(serve):
    server = serve(FEATURES_APP)
    for i in range(20):
        status, _, body, _ = get(server, "/pooled?mark=%d" % i)
        assert json.loads(body) == {"leak": None, "native": None}
    # sequential requests reuse the same pooled pair (on CPython: PyPy has no
    # reference counts to prove nobody kept an object, so it does not pool)
    if platform.python_implementation() != "PyPy":
        assert json.loads(get(server, "/distinct")[2])["distinct"] <= 2
    # a request the handler keeps is never recycled
    get(server, "/pooled?keep=1&mark=kept")
    for _ in range(5):
        assert json.loads(get(server, "/pooled?mark=x")[2])["leak"] is None
