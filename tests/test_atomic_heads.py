"""A head the handler gave up on (an exception, a refused header) before any
byte of it left the process is discarded whole: the client gets a clean 500
(or the error handler's answer) on a connection that keeps working (issue 11)."""

import pytest

import rawhttp

HEADS_APP = """
import asyncio
from listen_line import announce
from socketify import App

app = App()


def fail_after_head(res, req):
    res.write_status(201).write_header("X-Half", "1").write_header("Content-Length", "3")
    raise RuntimeError("after the head")


async def fail_after_await(res, req):
    res.write_status(202).write_header("X-Half", "1")
    await asyncio.sleep(0.05)
    raise RuntimeError("after an await")


def bad_redirect(res, req):
    res.redirect("/ok\\r\\nX-Injected: 1")


def bad_send_header(res, req):
    res.send("body", headers=[("X-Fine", "1"), ("X-Bad", "a\\r\\nb")])


def bad_cookie(res, req):
    res.set_cookie("good", "1")
    res.set_cookie("session", "s3cret", {"path": "/\\r\\nX-Injected: 1"})


def cookie_caught(res, req):
    try:
        res.set_cookie("session", "s3cret", {"path": "/\\r\\nX-Injected: 1"})
    except ValueError:
        pass
    res.end("no cookie")


def fail_after_corked_body(res, req):
    res.write_status(200).write_header("Content-Length", "10")
    res.write("abc")  # still in the cork: nothing left the process
    raise RuntimeError("before the dispatch ended")


def fail_after_chunk(res, req):
    res.write("chunk")  # chunked, still corked
    raise RuntimeError("before the dispatch ended")


async def fail_after_body(res, req):
    res.write_status(200).write_header("Content-Length", "10")
    res.write("abc")
    await asyncio.sleep(0.05)  # "abc" left with the head
    raise RuntimeError("after the body started")


app.get("/head", fail_after_head)
app.get("/await", fail_after_await)
app.get("/redirect", bad_redirect)
app.get("/send", bad_send_header)
app.get("/cookie", bad_cookie)
app.get("/cookie-caught", cookie_caught)
app.get("/body", fail_after_body)
app.get("/corked-body", fail_after_corked_body)
app.get("/chunk", fail_after_chunk)
app.get("/ok", lambda res, req: res.end("ok"))
app.listen(0, announce)
app.run()
"""

HANDLER_APP = """
from listen_line import announce
from socketify import App

app = App()


@app.on_error
def on_error(error, res, req):
    res.write_status(418).end("handled: %s" % error)


def fail_after_head(res, req):
    res.write_status(201).write_header("X-Half", "1")
    raise RuntimeError("boom")


app.get("/head", fail_after_head)
app.get("/ok", lambda res, req: res.end("ok"))
app.listen(0, announce)
app.run()
"""


def pipelined(port, path):
    """GET path with GET /ok pipelined behind it: both responses."""
    with rawhttp.connect(port) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        first = rawhttp.read_response(sock)
        second = rawhttp.read_response(sock)
    return first, second


@pytest.mark.parametrize("path", [b"/head", b"/await", b"/redirect", b"/send", b"/cookie", b"/corked-body", b"/chunk"])
def test_abandoned_head_becomes_a_clean_500_and_the_connection_goes_on(serve, path):
    server = serve(HEADS_APP)
    (status, headers, body, _), second = pipelined(server.port, path)
    assert status == 500 and body == b"Internal Server Error", (headers, body)
    assert not any(name.startswith("x-") for name in headers), headers
    assert "set-cookie" not in headers and "location" not in headers, headers
    assert "connection" not in headers  # kept alive
    assert second[0] == 200 and second[2] == b"ok"


def test_a_refused_cookie_option_leaves_no_cookie(serve):
    server = serve(HEADS_APP)
    (status, headers, body, _), _ = pipelined(server.port, b"/cookie-caught")
    assert (status, body) == (200, b"no cookie") and "set-cookie" not in headers


def test_error_handler_answers_on_a_clean_head(serve):
    server = serve(HANDLER_APP)
    (status, headers, body, _), second = pipelined(server.port, b"/head")
    assert (status, body) == (418, b"handled: boom") and "x-half" not in headers
    assert second[2] == b"ok"


def test_error_after_bytes_left_closes_the_connection(serve):
    server = serve(HEADS_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /body HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        data = rawhttp.read_until_close(sock, 5)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\nabc"), data
