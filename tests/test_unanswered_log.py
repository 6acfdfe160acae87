"""When the idle timeout closes a connection whose request never got a
response, the log names the request (issue 11)."""

import time

import rawhttp

FORGETFUL_APP = """
from listen_line import announce
from socketify import App

app = App(idle_timeout=1)
app.get("/forgot", lambda res, req: None)
app.post("/upload", lambda res, req: res.on_data(lambda res, chunk, last: None))
app.get("/ok", lambda res, req: res.end("ok"))
app.listen(0, announce)
app.run()
"""


def wait_for_log(server, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.stderr():
            return server.stderr()
        time.sleep(0.1)
    return server.stderr()


def test_unanswered_request_is_named_when_the_idle_timer_closes_it(serve):
    server = serve(FORGETFUL_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /forgot?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_until_close(sock, 6) == b""
    log = wait_for_log(server, "GET /forgot", 3)
    line = [entry for entry in log.splitlines() if "GET /forgot" in entry]
    assert len(line) == 1 and "no response after 1 s" in line[0] and "end()" in line[0], log


def test_a_body_that_never_comes_says_so(serve):
    server = serve(FORGETFUL_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        rawhttp.read_until_close(sock, 6)
    log = wait_for_log(server, "POST /upload", 3)
    assert "POST /upload: no response, and the request body stopped arriving" in log, log


def test_answered_and_idle_connections_log_nothing(serve):
    server = serve(FORGETFUL_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"ok"
        assert rawhttp.read_until_close(sock, 6) == b""  # idle keep-alive closed quietly
    time.sleep(0.3)
    assert "no response" not in server.stderr()
