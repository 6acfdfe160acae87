"""The router, middleware, upload, static-file and SSE examples run and answer
as their docstrings say (port 3000 rewritten to a free port)."""

import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal

import aiohttp

import rawhttp
from conftest import ROOT, Server, free_port

EXAMPLES = os.path.join(ROOT, "examples")


@contextlib.contextmanager
def example(name, *args):
    """Runs examples/<name> on a free port; stops it with SIGINT (exit 0)."""
    port = free_port()
    source = open(os.path.join(EXAMPLES, name)).read()
    assert "app.listen(3000" in source
    source = re.sub(r"app\.listen\(3000", "app.listen(%d" % port, source)
    path = os.path.join(ROOT, "build", "example_http_" + name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(source)
    server = Server(path, args, ready_prefix="Listening on port").start()
    server.port = port
    try:
        yield server, path
    finally:
        code = server.stop(signal.SIGINT)
        server.check_clean()
    assert code == 0, server.stderr()


def request(server, path, method="GET", **kwargs):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.request(method, server.url + path, allow_redirects=False, **kwargs) as r:
                return r.status, r.headers, await r.read()

    return asyncio.run(go())


def get_json(server, path, method="GET", **kwargs):
    status, headers, body = request(server, path, method, **kwargs)
    return status, json.loads(body)


# -- router_and_basics.py ----------------------------------------------------------


def test_router_and_basics():
    with example("router_and_basics.py") as (server, _):
        assert request(server, "/")[2] == b"Hello :)"
        assert request(server, "/anything", "PURGE")[2] == b"Any route with method: PURGE"
        assert request(server, "/user/agent", headers={"User-Agent": "tester/1"})[2] == b"Your user agent is: tester/1"
        assert request(server, "/user/1")[2] == b"Hello user with id 1!"
        assert request(server, "/user/2")[:3:2] == (404, b"Oops! /user/2 not found.")
        assert request(server, "/nowhere")[0] == 404

        status, headers, body = request(server, "/cookies", headers={"Cookie": "session=abc"})
        assert body == b"Your session cookie was: abc"
        cookie = headers["Set-Cookie"]
        assert cookie.startswith("session=socketify+python") and "HttpOnly" in cookie and "Path=/" in cookie

        assert get_json(server, "/query?name=Ana&x=1&x=2")[1] == {
            "name": "Ana",
            "all": {"name": ["Ana"], "x": ["1", "2"]},
        }
        status, headers, body = request(server, "/json")
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"message": "I'm an application/json!"}
        assert request(server, "/delayed?delay=0.01")[2] == b"Hello sorry for the delay!"
        assert get_json(server, "/sleepy", headers={"User-Agent": "ua"})[1] == {
            "message": "I'm delayed!",
            "user-agent": "ua",
        }

        status, headers, body = request(server, "/custom_header")
        assert headers["Content-Type"] == "application/octet-stream" and headers["X-Powered-By"] == "socketify"
        assert body == b"got octet!"

        with rawhttp.connect(server.port) as sock:
            sock.sendall(b"GET /send_in_parts HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body, _ = rawhttp.read_response(sock)
        assert headers["transfer-encoding"] == "chunked" and body == b"I can send messages in parts!"

        status, headers, body = request(server, "/redirect")
        assert status == 302 and headers["Location"] == "/redirect_target"
        assert request(server, "/redirect_target")[2] == b"You got redirected to here :D"

        assert request(server, "/echo", "POST", data=b"echo me")[2] == b"echo me"
        assert get_json(server, "/api/status")[1] == {"status": "ok"}
        assert get_json(server, "/api/items/5", "PUT", json={"name": "x"})[1] == {"id": "5", "item": {"name": "x"}}
        assert request(server, "/status")[0] == 404  # the prefix is part of the path


# -- middleware.py / middleware_async.py / middleware_router.py ---------------------------


def test_middleware_example():
    with example("middleware.py") as (server, _):
        assert request(server, "/")[:3:2] == (403, b"not authorized")
        status, body = get_json(server, "/", headers={"Authorization": "Bearer alice-token"})
        assert status == 200 and body == {"user": {"name": "Alice", "role": "admin"}, "greeting": "Hello, Alice"}
        assert request(server, "/admin", headers={"Authorization": "Bearer bob-token"})[:3:2] == (403, b"admins only")
        assert (
            request(server, "/admin", headers={"Authorization": "Bearer alice-token"})[2]
            == b"Welcome to the admin area, Alice"
        )


def test_middleware_async_example():
    with example("middleware_async.py") as (server, _):
        assert request(server, "/")[:3:2] == (403, b"not authorized")
        status, body = get_json(server, "/?theme=dark", headers={"Authorization": "Bearer t1"})
        assert status == 200 and body == {"user": {"name": "Ana"}, "theme": "dark", "messages": ["welcome back, Ana"]}

        async def many():
            async with aiohttp.ClientSession() as session:

                async def one(token, theme):
                    async with session.get(
                        server.url + "/?theme=" + theme, headers={"Authorization": "Bearer " + token}
                    ) as r:
                        return await r.json()

                return await asyncio.gather(*(one("t%d" % (i % 2 + 1), "c%d" % i) for i in range(20)))

        for i, body in enumerate(asyncio.run(many())):
            assert body["theme"] == "c%d" % i
            assert body["user"]["name"] == ("Ana" if i % 2 == 0 else "Bruno")
        assert get_json(server, "/", headers={"Authorization": "Bearer t2"})[1]["theme"] == "light"


def test_middleware_router_example():
    with example("middleware_router.py") as (server, _):
        auth = {"Authorization": "secret"}
        assert request(server, "/")[:3:2] == (403, b"not authorized")
        assert request(server, "/", headers=auth)[2] == b"Hello, World"
        assert request(server, "/another", headers=auth)[2] == b"Hello, World from another middie ;)"
        assert request(server, "/another_way", headers=auth)[2] == b"Hello, World from another middie ;)"
        assert request(server, "/another_way")[0] == 403
        assert get_json(server, "/api/items/3", headers=auth)[1] == {"id": "3", "greeting": "Hello, World"}
        status, body = get_json(server, "/api/items", "POST", json={"a": 1}, headers=auth)
        assert status == 201 and body == {"created": {"a": 1}}
        assert request(server, "/api/items", "POST", json={"a": 1})[0] == 403
        assert request(server, "/public")[2] == b"no auth here"


# -- upload_or_post.py -----------------------------------------------------------------


def test_upload_or_post_example():
    with example("upload_or_post.py") as (server, _):
        assert request(server, "/upload", "POST", data=b"hello")[2] == b"Got 5 bytes: hello"
        big = os.urandom(1_000_000)
        status, body = get_json(server, "/upload_chunks", "POST", data=big)
        assert body["bytes"] == len(big) and body["sha256"] == hashlib.sha256(big).hexdigest()
        assert body["pieces"] >= 1
        assert get_json(server, "/upload_json", "POST", json=[{"name": "Ana"}])[1] == {"received": [{"name": "Ana"}]}
        assert request(server, "/upload_json", "POST", data=b"{nope")[0] == 400
        assert request(server, "/upload_text", "POST", data="olá".encode())[2] == "Your text was: olá".encode()
        assert get_json(server, "/upload_urlencoded", "POST", data={"a": "1", "b": "x y"})[1] == {
            "form": {"a": "1", "b": "x y"}
        }

        form = aiohttp.FormData()
        form.add_field("name", "Ana")
        photo = os.urandom(300_000)
        form.add_field("photo", photo, filename="photo.jpg", content_type="image/jpeg")
        status, body = get_json(server, "/upload_multipart", "POST", data=form)
        assert status == 200 and body["fields"] == {"name": "Ana"}
        assert body["files"] == [
            {
                "field": "photo",
                "filename": "photo.jpg",
                "content_type": "image/jpeg",
                "size": len(photo),
                "sha256": hashlib.sha256(photo).hexdigest(),
            }
        ]
        status, headers, text = request(
            server,
            "/upload_multipart",
            "POST",
            data=b"junk",
            headers={"Content-Type": "multipart/form-data; boundary=zz"},
        )
        assert status == 400 and text.startswith(b"Bad upload:")


# -- static_files.py ---------------------------------------------------------------------


def test_static_files_example(tmp_path):
    (tmp_path / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "a.txt").write_text("0123456789abcdef")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("docs")
    (tmp_path.parent / "outside.txt").write_text("secret")
    with example("static_files.py", str(tmp_path)) as (server, path):
        status, headers, body = request(server, "/")
        assert body == b"<h1>home</h1>" and headers["Content-Type"] == "text/html; charset=utf-8"
        status, headers, body = request(server, "/a.txt")
        assert status == 200 and body == b"0123456789abcdef" and headers["Accept-Ranges"] == "bytes"
        status, headers2, body = request(server, "/a.txt", headers={"If-None-Match": headers["ETag"]})
        assert status == 304 and body == b""
        status, headers2, body = request(server, "/a.txt", headers={"If-Modified-Since": headers["Last-Modified"]})
        assert status == 304
        status, headers, body = request(server, "/a.txt", headers={"Range": "bytes=10-"})
        assert status == 206 and body == b"abcdef" and headers["Content-Range"] == "bytes 10-15/16"
        assert request(server, "/a.txt", headers={"Range": "bytes=16-"})[0] == 416
        assert request(server, "/docs/")[2] == b"docs"
        assert request(server, "/docs")[1]["Location"] == "/docs/"
        status, headers, body = request(server, "/a.txt", "HEAD")
        assert status == 200 and body == b"" and headers["Content-Length"] == "16"
        with rawhttp.connect(server.port) as sock:
            sock.sendall(b"GET /../outside.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body, _ = rawhttp.read_response(sock)
        assert status == 404 and body == b"Not Found"
        assert request(server, "/missing.txt")[:3:2] == (404, b"Not Found")
        with open(path, "rb") as f:
            assert request(server, "/source")[2] == f.read()


# -- sse.py -------------------------------------------------------------------------------


def test_sse_example():
    with example("sse.py") as (server, _):
        status, headers, body = request(server, "/")
        assert status == 200 and b"EventSource" in body

        async def go():
            async with aiohttp.ClientSession() as session:
                async with session.get(server.url + "/events") as r:
                    assert r.headers["Content-Type"].startswith("text/event-stream")

                    async def next_event():
                        event, data = None, []
                        while True:
                            line = (await r.content.readline()).decode().rstrip("\n")
                            if line.startswith("event: "):
                                event = line[7:]
                            elif line.startswith("data: "):
                                data.append(line[6:])
                            elif not line and (event or data):
                                return event, "\n".join(data)

                    assert await next_event() == ("hello", "connected")
                    async with session.post(server.url + "/broadcast", data="hi there") as p:
                        assert (await p.json())["clients"] >= 1
                    while True:
                        event, data = await next_event()
                        if event == "broadcast":
                            assert data == "hi there"
                            return
                        assert event == "tick" and re.fullmatch(r"\d\d:\d\d:\d\d", data)

        asyncio.run(go())
