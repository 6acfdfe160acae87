"""Misuse of the Response API gets an error that names the actual problem:
a status that is not one, and try_end totals that cannot hold the data."""

import pytest

import rawhttp
from conftest import served

APP = """
from socketify import App

app = App()

def catching(call):
    def handler(res, req):
        try:
            call(res)
        except Exception as error:
            res.end("%s: %s" % (type(error).__name__, error))
    return handler

app.get("/status/banana", catching(lambda res: res.write_status("banana")))
app.get("/status/bytes", catching(lambda res: res.write_status(b"20x Bad")))
app.get("/status/control", catching(lambda res: res.write_status("200 O\\x01K")))
app.get("/status/big-int", catching(lambda res: res.write_status(1000)))
app.get("/status/send", catching(lambda res: res.send("x", status="banana")))
app.get("/status/uncaught", lambda res, req: res.write_status("banana"))
app.get("/status/fine", lambda res, req: res.write_status("299 Custom").end("ok"))
app.get("/header/name", catching(lambda res: res.write_header("bad name", "x")))
app.get("/header/value", catching(lambda res: res.write_header("X-Ok", "a\\r\\nb")))
app.get("/header/length", catching(lambda res: res.write_header("Content-Length", "12x")))
app.get("/try-end/short", catching(lambda res: res.try_end(b"x" * 20, 10)))
app.get("/try-end/negative", catching(lambda res: res.try_end(b"x", -1)))
app.get("/try-end/not-int", catching(lambda res: res.try_end(b"x", "10")))

@app.get("/try-end/pieces")
def pieces(res, req):
    assert res.try_end(b"x" * 5, 10) == (True, False)
    try:
        res.try_end(b"y" * 6, 10)
    except ValueError as error:
        print("PIECE-ERROR", error, flush=True)
    res.try_end(b"y" * 5, 10)

app.listen(0, lambda config: print("PORT %d" % config.port, flush=True))
app.run()
"""


@pytest.fixture(scope="module")
def server():
    with served(APP) as server:
        yield server


def get(server, path):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = rawhttp.read_response(sock)
        return status, body.decode()


@pytest.mark.parametrize(
    "path,shown",
    [
        ("/status/banana", "'banana'"),
        ("/status/bytes", "'20x Bad'"),
        ("/status/big-int", "1000"),
        ("/status/send", "'banana'"),
    ],
)
def test_a_status_that_is_not_one_says_so(server, path, shown):
    status, body = get(server, path)
    assert status == 200
    assert body.startswith("ValueError: %s is not a valid HTTP status" % shown), body
    assert "control characters are not allowed" not in body
    assert "100 to 999" in body and "404 Not Found" in body


def test_a_status_with_a_control_character_says_which_rule(server):
    body = get(server, "/status/control")[1]
    assert "is not a valid HTTP status" in body and "control characters" in body, body


@pytest.mark.parametrize(
    "path,message",
    [
        ("/header/name", "ValueError: invalid header name b'bad name': a header name is a token"),
        ("/header/value", "ValueError: invalid value for header b'X-Ok': CR, LF, NUL"),
        ("/header/length", "ValueError: invalid Content-Length b'12x': it must be plain digits"),
    ],
)
def test_a_refused_header_says_what_is_wrong_with_it(server, path, message):
    status, body = get(server, path)
    assert status == 200 and body.startswith(message), body


def test_an_uncaught_bad_status_is_a_500_and_the_log_names_it(server):
    assert get(server, "/status/uncaught")[0] == 500
    assert "'banana' is not a valid HTTP status" in server.stderr()


def test_a_status_with_any_three_digit_code_works(server):
    assert get(server, "/status/fine") == (299, "ok")


def test_try_end_with_a_total_smaller_than_the_data_raises(server):
    status, body = get(server, "/try-end/short")
    assert status == 200, body
    assert body.startswith("ValueError: try_end: this piece of 20 bytes") and "total_size=10" in body, body


def test_try_end_with_a_negative_total_raises_a_value_error(server):
    body = get(server, "/try-end/negative")[1]
    assert body.startswith("ValueError: try_end: total_size must be between 0 and"), body
    assert "not -1" in body


def test_try_end_with_a_total_that_is_not_an_int_raises_a_type_error(server):
    assert get(server, "/try-end/not-int")[1].startswith("TypeError: try_end: total_size must be an int")


def test_try_end_refuses_a_piece_past_the_total_and_takes_the_right_one(server):
    assert get(server, "/try-end/pieces") == (200, "xxxxxyyyyy")
    log = "".join(server.stdout_lines) + server.proc.stdout.readline()
    assert "PIECE-ERROR try_end: this piece of 6 bytes, after 5 bytes already written" in log, log
