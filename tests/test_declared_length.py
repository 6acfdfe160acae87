"""A handler that writes more than the Content-Length it declared: the wire
carries a body of exactly the declared length, then the next pipelined
response, never a stray byte (issue 11)."""

import pytest

import rawhttp

LENGTH_APP = """
from listen_line import announce
from socketify import App

app = App()


def two_writes(res, req):
    res.write_header("Content-Length", "5")
    res.write("abc")
    res.write("defgh")  # 3 bytes too many
    res.end()


def one_big_write(res, req):
    res.write_header("Content-Length", "5")
    res.write("0123456789")
    res.end()


def big_write_then_end_data(res, req):
    res.write_header("Content-Length", "5")
    res.write("01234")
    res.end("56789")


def try_end_past_total(res, req):
    res.try_end("abcdefg", 5)  # ValueError before a byte is written


def try_end_past_total_later(res, req):
    res.try_end("abc", 5)
    res.try_end("defg", 5)  # 3 + 4 > 5: ValueError after 3 bytes went out


app.get("/two-writes", two_writes)
app.get("/one-big-write", one_big_write)
app.get("/end-data", big_write_then_end_data)
app.get("/try-end", try_end_past_total)
app.get("/try-end-later", try_end_past_total_later)
app.get("/next", lambda res, req: res.end("next"))
app.listen(0, announce)
app.run()
"""

HEAD_OF_NEXT = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize(
    "path,body",
    [
        (b"/two-writes", b"abcde"),
        (b"/one-big-write", b"01234"),
        (b"/end-data", b"01234"),
    ],
)
def test_body_is_cut_at_the_declared_length_and_the_next_response_follows(serve, path, body):
    server = serve(LENGTH_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, first, rest = rawhttp.read_response(sock)
        assert (status, headers["content-length"], first) == (200, "5", body)
        assert "connection" not in headers  # the connection goes on
        # Right after the declared body: the next response's status line.
        assert rest == b"" or rest.startswith(HEAD_OF_NEXT[: len(rest)]), rest
        assert rawhttp.read_response(sock)[2] == b"next"
        sock.settimeout(0.3)
        try:
            extra = sock.recv(100)
        except OSError:
            extra = b""
        assert extra == b"", extra


def test_try_end_past_its_total_is_refused_before_anything_is_written(serve):
    """The ValueError comes before a byte leaves: a clean 500, and the
    pipelined request behind it is answered."""
    server = serve(LENGTH_APP)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /try-end HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[0] == 500
        assert rawhttp.read_response(sock)[2] == b"next"
    assert "ValueError" in server.stderr()


def test_try_end_past_its_total_after_bytes_went_out_closes_without_a_stray_byte(serve):
    server = serve(LENGTH_APP)
    data = rawhttp.exchange(
        server.port, b"GET /try-end-later HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 5" in head, data
    assert body == b"abc", data  # cut short, then closed: never "defg", never /next's answer
