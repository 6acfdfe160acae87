"""sendfile and static_route: conditional requests, ranges, HEAD, traversal."""

import asyncio
import email.utils
import hashlib
import json
import os
import socket
import time

import aiohttp
import pytest

import conftest
import rawhttp
from conftest import app_server

BIG_SIZE = 16 * 1024 * 1024 + 12345  # many 64 KiB pieces, more than the socket buffers hold
HUGE_SIZE = 256 * 1024 * 1024  # sparse: thousands of pieces


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("static")
    root = base / "public"
    root.mkdir()
    (root / "index.html").write_text("<h1>root index</h1>")
    (root / "hello.txt").write_text("Hello static world!\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "style.css").write_text("body { color: red }")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "archive.tar.gz").write_bytes(b"\x1f\x8b fake gzip")
    (root / "blob.unknownext").write_bytes(b"?")
    (root / "with space.txt").write_text("spaced")
    (root / "été.txt").write_text("accent")
    big = os.urandom(BIG_SIZE)
    (root / "big.bin").write_bytes(big)
    with open(root / "huge.bin", "wb") as f:
        f.truncate(HUGE_SIZE)
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("<p>sub index</p>")
    (root / "sub" / "page.txt").write_text("sub page")
    (root / "noindex").mkdir()
    (root / "noindex" / "file.txt").write_text("x")
    (base / "secret.txt").write_text("TOP SECRET")
    (base / "public-sibling").mkdir()
    (base / "public-sibling" / "x").write_text("sibling")
    os.symlink(base / "secret.txt", root / "escape.txt")
    os.symlink(base, root / "escape-dir")
    os.symlink(root / "hello.txt", root / "link-inside.txt")
    # a fixed modification time makes the date tests exact
    mtime = 1_700_000_000
    os.utime(root / "hello.txt", (mtime, mtime))
    return {"root": str(root), "base": str(base), "big": big, "mtime": mtime}


@pytest.fixture(scope="module")
def server(files):
    yield from app_server("mw_static_app.py", files["root"])


def fetch(server, path, method="GET", **kwargs):
    return conftest.fetch(server, path, method, allow_redirects=False, **kwargs)


def raw(server, target, method=b"GET", headers=b""):
    """One request with the target sent verbatim (no client normalisation);
    checks the connection is still usable afterwards."""
    with rawhttp.connect(server.port) as sock:
        sock.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        response = rawhttp.read_response(sock, head_request=(method == b"HEAD"))
        sock.sendall(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        follow = rawhttp.read_response(sock)
        assert follow[0] == 200 and follow[2] == b"Hello static world!\n"
    return response[:3]


HTTP_DATE = email.utils.formatdate(1_700_000_000, usegmt=True)


# -- plain GET ---------------------------------------------------------------------


def test_get_file_with_headers(server, files):
    status, headers, body = fetch(server, "/static/hello.txt")
    assert status == 200 and body == b"Hello static world!\n"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Last-Modified"] == HTTP_DATE
    assert headers["ETag"].startswith('W/"')
    assert "Content-Range" not in headers  # a 200 carries no Content-Range


def test_root_mount_serves_the_same_files(server):
    status, headers, body = fetch(server, "/hello.txt")
    assert status == 200 and body == b"Hello static world!\n"
    assert fetch(server, "/")[2] == b"<h1>root index</h1>"


def test_big_file_streams_intact(server, files):
    status, headers, body = fetch(server, "/static/big.bin")
    assert status == 200 and len(body) == BIG_SIZE
    assert hashlib.sha256(body).digest() == hashlib.sha256(files["big"]).digest()
    assert headers["Content-Length"] == str(BIG_SIZE)


def test_concurrent_big_downloads(server, files):
    async def go():
        async with aiohttp.ClientSession() as session:

            async def one():
                async with session.get(server.url + "/static/big.bin") as r:
                    return await r.read()

            return await asyncio.gather(*(one() for _ in range(4)))

    expected = hashlib.sha256(files["big"]).digest()
    for body in asyncio.run(go()):
        assert hashlib.sha256(body).digest() == expected


def read_body_fast(sock, length):
    """Reads a response head and ``length`` body bytes without quadratic copies."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        assert data, "closed before the head"
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    body = bytearray(rest)
    while len(body) < length:
        data = sock.recv(1 << 20)
        assert data, "closed mid-body"
        body += data
    return head, bytes(body)


def test_slow_reader_gets_everything(server, files):
    """Backpressure: with a small receive window the server must wait for
    the socket to drain (on_writable) several times."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(20)
    sock.connect(("127.0.0.1", server.port))
    with sock:
        sock.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = read_body_fast(sock, BIG_SIZE)
        assert head.startswith(b"HTTP/1.1 200 ") and body == files["big"]
        # the connection is reusable after the streamed body
        sock.sendall(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"Hello static world!\n"


@pytest.mark.parametrize(
    "name,content_type",
    [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("image.png", "image/png"),
        ("archive.tar.gz", "application/gzip"),
        ("blob.unknownext", "application/octet-stream"),
    ],
)
def test_content_types(server, name, content_type):
    status, headers, body = fetch(server, "/static/" + name)
    assert status == 200 and headers["Content-Type"] == content_type
    assert "Content-Encoding" not in headers


def test_empty_file(server):
    status, headers, body = raw(server, b"/static/empty.txt")
    assert status == 200 and body == b"" and headers["content-length"] == "0"


def test_percent_encoded_names(server):
    assert fetch(server, "/static/with%20space.txt")[2] == b"spaced"
    assert fetch(server, "/static/%C3%A9t%C3%A9.txt")[2] == b"accent"


def test_missing_file_is_404_with_a_body(server):
    status, headers, body = raw(server, b"/static/nope.txt")
    assert status == 404 and body == b"Not Found" and headers["content-length"] == "9"


def test_symlink_inside_the_root_is_served(server):
    assert fetch(server, "/static/link-inside.txt")[2] == b"Hello static world!\n"


# -- directories ------------------------------------------------------------------


def test_directory_serves_index(server):
    assert fetch(server, "/static/sub/")[2] == b"<p>sub index</p>"
    assert fetch(server, "/static/")[2] == b"<h1>root index</h1>"
    assert fetch(server, "/static/sub/page.txt")[2] == b"sub page"


def test_directory_without_slash_redirects(server):
    status, headers, body = fetch(server, "/static/sub?x=1")
    assert status == 301 and headers["Location"] == "/static/sub/?x=1"
    status, headers, body = fetch(server, "/static")
    assert status == 301 and headers["Location"] == "/static/"


def test_directory_without_index_is_404(server):
    status, headers, body = raw(server, b"/static/noindex/")
    assert status == 404 and body == b"Not Found"
    assert fetch(server, "/static/noindex/file.txt")[2] == b"x"


# -- HEAD -------------------------------------------------------------------------


def test_head_gets_headers_and_length_only(server, files):
    status, headers, body = raw(server, b"/static/big.bin", b"HEAD")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(BIG_SIZE)
    assert headers["accept-ranges"] == "bytes" and "last-modified" in headers and "etag" in headers
    status, headers, body = raw(server, b"/static/hello.txt", b"HEAD")
    assert headers["content-length"] == "20" and headers["content-type"] == "text/plain; charset=utf-8"


def test_head_ignores_range(server):
    status, headers, body = raw(server, b"/static/hello.txt", b"HEAD", b"Range: bytes=0-4\r\n")
    assert status == 200 and headers["content-length"] == "20" and "content-range" not in headers


def test_head_of_missing_file(server):
    status, headers, body = raw(server, b"/static/nope.txt", b"HEAD")
    assert status == 404 and headers["content-length"] == "9"


# -- conditional requests ------------------------------------------------------------


@pytest.mark.parametrize(
    "since",
    [
        HTTP_DATE,  # equal
        "Wed, 15 Nov 2023 00:00:00 GMT",  # later
        "Tuesday, 14-Nov-23 22:13:20 GMT",  # RFC 850 form, equal
        "Tue Nov 14 22:13:20 2023",  # asctime form, equal
    ],
)
def test_if_modified_since_not_modified(server, since):
    status, headers, body = raw(server, b"/static/hello.txt", headers=b"If-Modified-Since: %s\r\n" % since.encode())
    assert status == 304 and body == b""
    assert headers["last-modified"] == HTTP_DATE and headers["etag"].startswith('W/"')
    assert "content-length" not in headers


@pytest.mark.parametrize("since", ["Mon, 13 Nov 2023 00:00:00 GMT", "not a date", ""])
def test_if_modified_since_modified_or_invalid(server, since):
    status, headers, body = raw(server, b"/static/hello.txt", headers=b"If-Modified-Since: %s\r\n" % since.encode())
    assert status == 200 and body == b"Hello static world!\n"


def test_if_none_match(server):
    etag = fetch(server, "/static/hello.txt")[1]["ETag"]
    for value in (etag, etag[2:], '"other", ' + etag, "*"):
        status, headers, body = raw(server, b"/static/hello.txt", headers=b"If-None-Match: %s\r\n" % value.encode())
        assert status == 304 and headers["etag"] == etag, value
    status, headers, body = raw(server, b"/static/hello.txt", headers=b'If-None-Match: "nope"\r\n')
    assert status == 200


def test_if_none_match_takes_precedence_over_if_modified_since(server):
    status, headers, body = raw(
        server, b"/static/hello.txt", headers=b'If-None-Match: "nope"\r\nIf-Modified-Since: %s\r\n' % HTTP_DATE.encode()
    )
    assert status == 200 and body == b"Hello static world!\n"


def test_etag_changes_with_the_file(server, files):
    path = os.path.join(files["root"], "changing.txt")
    with open(path, "w") as f:
        f.write("one")
    first = fetch(server, "/static/changing.txt")[1]["ETag"]
    with open(path, "w") as f:
        f.write("three")
    status, headers, body = raw(server, b"/static/changing.txt", headers=b"If-None-Match: %s\r\n" % first.encode())
    assert status == 200 and body == b"three" and headers["etag"] != first


# -- ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,start,end",
    [
        ("bytes=0-4", 0, 4),
        ("bytes=6-", 6, 19),
        ("bytes=-7", 13, 19),
        ("bytes=-500", 0, 19),  # longer suffix than the file: all of it
        ("bytes=10-999", 10, 19),  # end past the file: clamped
        ("bytes=19-19", 19, 19),
        (" bytes = 2 - 3 ", 2, 3),
    ],
)
def test_single_range(server, spec, start, end):
    content = b"Hello static world!\n"
    status, headers, body = raw(server, b"/static/hello.txt", headers=b"Range: %s\r\n" % spec.encode())
    assert status == 206 and body == content[start : end + 1]
    assert headers["content-range"] == "bytes %d-%d/20" % (start, end)
    assert headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize(
    "spec", ["bytes=20-", "bytes=100-200", "bytes=-0", "bytes=5-2", "bytes=abc", "bytes=-", "bytes=1-x"]
)
def test_unsatisfiable_range(server, spec):
    status, headers, body = raw(server, b"/static/hello.txt", headers=b"Range: %s\r\n" % spec.encode())
    assert status == 416 and headers["content-range"] == "bytes */20" and body == b""


@pytest.mark.parametrize("spec", ["bytes=0-1,5-6", "items=0-4", "bytes=0-1, -3"])
def test_multiple_ranges_or_other_units_serve_the_whole_file(server, spec):
    status, headers, body = raw(server, b"/static/hello.txt", headers=b"Range: %s\r\n" % spec.encode())
    assert status == 200 and body == b"Hello static world!\n" and "content-range" not in headers


def test_range_in_a_big_file(server, files):
    status, headers, body = fetch(server, "/static/big.bin", headers={"Range": "bytes=100000-1300000"})
    assert status == 206 and body == files["big"][100000:1300001]
    assert headers["Content-Range"] == "bytes 100000-1300000/%d" % BIG_SIZE


def test_if_range(server):
    status, headers, body = raw(
        server, b"/static/hello.txt", headers=b"Range: bytes=0-4\r\nIf-Range: %s\r\n" % HTTP_DATE.encode()
    )
    assert status == 206 and body == b"Hello"
    status, headers, body = raw(
        server, b"/static/hello.txt", headers=b"Range: bytes=0-4\r\nIf-Range: Mon, 13 Nov 2023 00:00:00 GMT\r\n"
    )
    assert status == 200 and body == b"Hello static world!\n"
    etag = fetch(server, "/static/hello.txt")[1]["ETag"]
    # a weak entity tag never validates a range (RFC 9110 13.1.5)
    status, headers, body = raw(
        server, b"/static/hello.txt", headers=b"Range: bytes=0-4\r\nIf-Range: %s\r\n" % etag.encode()
    )
    assert status == 200


def test_range_of_an_empty_file_is_unsatisfiable(server):
    status, headers, body = raw(server, b"/static/empty.txt", headers=b"Range: bytes=0-\r\n")
    assert status == 416 and headers["content-range"] == "bytes */0"


# -- path traversal ---------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/static/../secret.txt",
        b"/static/%2e%2e/secret.txt",
        b"/static/%2E%2E%2Fsecret.txt",
        b"/static/..%2fsecret.txt",
        b"/static/sub/../../secret.txt",
        b"/static/sub/%2e%2e/%2e%2e/secret.txt",
        b"/static/..%5csecret.txt",
        b"/static/%2fetc%2fpasswd",
        b"/static//etc/passwd",
        b"/static/hello.txt%00.png",
        b"/static/escape.txt",
        b"/static/escape-dir/secret.txt",
        b"/static/%ff%fe.txt",
        b"/../secret.txt",
        b"/%2e%2e/public-sibling/x",
    ],
)
def test_traversal_is_a_404_with_a_body(server, target):
    status, headers, body = raw(server, target)
    assert status == 404 and body == b"Not Found" and headers["content-length"] == "9"


def test_in_directory(server):
    status, headers, body = fetch(server, "/in-directory")
    assert json.loads(body) == {
        "inside": True,
        "root_itself": True,
        "dotdot": False,
        "sibling_prefix": False,
        "escaping_link": False,
    }


# -- sendfile directly ----------------------------------------------------------------


def test_sendfile_from_an_async_handler(server):
    status, headers, body = fetch(server, "/send/hello.txt", headers={"Range": "bytes=0-4"})
    assert status == 206 and body == b"Hello"
    status, headers, body = raw(server, b"/send/missing.txt")
    assert status == 404 and body == b"Not Found"


def test_sendfile_for_other_methods_ignores_range(server):
    status, headers, body = fetch(server, "/send/hello.txt", "POST", headers={"Range": "bytes=0-4"})
    assert status == 200 and body == b"Hello static world!\n"


def test_sendfile_of_a_directory_is_404(server):
    status, headers, body = raw(server, b"/send/sub")
    assert status == 404 and body == b"Not Found"


def test_sendfile_error_is_500(server):
    status, headers, body = raw(server, b"/send-error")
    assert status == 500 and body


def test_client_going_away_mid_file(server, files):
    for _ in range(3):
        with rawhttp.connect(server.port) as sock:
            sock.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            received = 0
            while received < 200_000:
                received += len(sock.recv(65536))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    # the server is still fine
    assert fetch(server, "/static/hello.txt")[2] == b"Hello static world!\n"
    assert "big.bin" not in server.stderr() and "RecursionError" not in server.stderr()


def test_abort_during_a_long_stream_reaches_the_users_abort_handler(server):
    """A client leaving after thousands of pieces: sendfile stops, the
    route's own on_aborted handler runs, the server logs no error."""
    before = json.loads(fetch(server, "/aborts")[2])["count"]
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /watch/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        while received < 100 * 1024 * 1024:
            data = sock.recv(1 << 20)
            assert data
            received += len(data)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    deadline = time.monotonic() + 5
    count = before
    while time.monotonic() < deadline and count == before:
        count = json.loads(fetch(server, "/aborts")[2])["count"]
    assert count == before + 1
    assert "RecursionError" not in server.stderr()
    assert "huge.bin" not in server.stderr()
