"""Request getters: parameters by name or by index, and one rule for a
Request kept past its handler (every getter raises once the handler returned
with the response ended, unless the request was copied)."""

import json

import pytest

import rawhttp

GETTERS = {
    "get_method": "r.get_method()",
    "get_url": "r.get_url()",
    "get_full_url": "r.get_full_url()",
    "get_header": "r.get_header('host')",
    "get_headers": "r.get_headers()",
    "for_each_header": "r.for_each_header(lambda n, v: None)",
    "get_query": "r.get_query('q')",
    "get_queries": "r.get_queries()",
    "get_parameter": "r.get_parameter(0)",
    "get_parameter_by_name": "r.get_parameter('id')",
    "get_parameters": "r.get_parameters()",
    "get_cookie": "r.get_cookie('c')",
    "get_cookies": "r.get_cookies()",
    "is_ancient": "r.is_ancient()",
}

APP = """
import asyncio
from socketify import App

app = App()
kept = {}

def params(res, req):
    res.end({"by_name": req.get_parameter("id"), "by_index": req.get_parameter(0),
             "unknown": req.get_parameter("nope"), "past_end": req.get_parameter(5)})

app.get("/users/:id", params)

@app.get("/two/:first/:second")
async def two(res, req):
    await asyncio.sleep(0.01)
    res.end([req.get_parameter("second"), req.get_parameter("first"), req.get_parameters()])

@app.get("/unnamed/*")
def unnamed(res, req):
    res.end({"by_name": req.get_parameter("id"), "all": req.get_parameters()})

@app.get("/wrong-type/:id")
def wrong_type(res, req):
    try:
        req.get_parameter(None)
    except TypeError as error:
        res.end(str(error))

@app.get("/keep/:id")
def keep(res, req):
    req.get_url()              # read before the end: cached, but the rule still holds
    req.get_header("host")
    req.get_headers()
    kept[req.get_query("mode")] = req
    if req.get_query("mode") == "preserved":
        req.preserve()
    res.end("kept")

@app.get("/keep-async/:id")
async def keep_async(res, req):
    await asyncio.sleep(0.01)  # the request is copied when the handler suspends
    kept["async"] = req
    res.end("kept")

GETTERS = %(getters)r

@app.get("/probe")
def probe(res, req):
    r = kept[req.get_query("mode")]
    report = {}
    for name, expression in GETTERS.items():
        try:
            value = eval(expression, {"r": r})
            report[name] = ["ok", repr(value)]
        except Exception as error:
            report[name] = [type(error).__name__, str(error)]
    try:
        r.preserve()
        report["preserve"] = ["ok", ""]
    except Exception as error:
        report["preserve"] = [type(error).__name__, str(error)]
    res.end(report)

app.listen(0, lambda config: print("PORT %%d" %% config.port, flush=True))
app.run()
""" % {"getters": GETTERS}


def get(port, path, extra=b""):
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: h\r\nCookie: c=1\r\n" + extra + b"\r\n")
        return rawhttp.read_response(sock)


@pytest.fixture(scope="module")
def server():
    import pathlib
    import tempfile

    from conftest import Server, write_app

    with tempfile.TemporaryDirectory() as directory:
        script = write_app(pathlib.Path(directory), APP)
        server = Server(script).start()
        yield server
        server.stop()
        server.check_clean()


def test_parameters_by_name_and_by_index(server):
    status, _, body, _ = get(server.port, "/users/42")
    assert status == 200
    assert json.loads(body) == {"by_name": "42", "by_index": "42", "unknown": None, "past_end": None}


def test_parameters_by_name_after_await(server):
    assert json.loads(get(server.port, "/two/a%20b/c")[2]) == ["c", "a b", ["a b", "c"]]


def test_a_route_without_names_has_none(server):
    assert json.loads(get(server.port, "/unnamed/x/y")[2]) == {"by_name": None, "all": []}


def test_a_wrong_parameter_type_says_what_is_accepted(server):
    body = get(server.port, "/wrong-type/1")[2].decode()
    assert "position" in body and "name" in body and "/users/:id" in body and "NoneType" in body


def _probe(server, mode):
    assert get(server.port, "/keep/7?mode=%s&q=v" % mode)[2] == b"kept"
    return json.loads(get(server.port, "/probe?mode=%s" % mode)[2])


def test_every_getter_of_a_finished_request_raises(server):
    report = _probe(server, "finished")
    for name in list(GETTERS) + ["preserve"]:
        kind, message = report[name]
        assert kind == "RuntimeError", (name, report[name])
        assert "finished" in message and "preserve()" in message, (name, message)


def test_every_getter_of_a_preserved_request_answers(server):
    report = _probe(server, "preserved")
    assert all(kind == "ok" for kind, _ in report.values()), report
    assert report["get_parameter_by_name"][1] == "'7'"
    assert report["get_full_url"][1] == "'/keep/7?mode=preserved&q=v'"
    assert report["get_header"][1] == "'h'" and report["get_cookie"][1] == "'1'"


def test_every_getter_of_a_request_copied_at_await_answers(server):
    assert get(server.port, "/keep-async/9?q=v")[2] == b"kept"
    report = json.loads(get(server.port, "/probe?mode=async")[2])
    assert all(kind == "ok" for kind, _ in report.values()), report
    assert report["get_parameter_by_name"][1] == "'9'" and report["get_query"][1] == "'v'"
