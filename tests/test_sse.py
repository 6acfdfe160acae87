"""Server-Sent Events: format, streaming to real clients, disconnect detection."""

import asyncio
import time

import aiohttp
import pytest

from socketify.sse import format_event

import rawhttp
from conftest import app_server


@pytest.fixture(scope="module")
def server():
    yield from app_server("mw_sse_app.py")


async def read_event(response):
    """Reads one dispatched event like a browser's EventSource (comments skipped)."""
    event = {"data": []}
    while True:
        line = await response.content.readline()
        if not line:
            raise EOFError
        line = line.decode("utf-8").rstrip("\r\n")
        if not line:
            if event["data"] or len(event) > 1:
                return event
            continue
        if line.startswith(":"):
            event.setdefault("comments", []).append(line[1:].strip())
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            event["data"].append(value)
        else:
            event[field] = value


async def stats_async(server):
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "/stats") as r:
            return await r.json()


def stats(server):
    return asyncio.run(stats_async(server))


def wait_for(server, predicate):
    deadline = time.monotonic() + 5
    current = stats(server)
    while time.monotonic() < deadline and not predicate(current):
        current = stats(server)
    return current


# -- the wire format -------------------------------------------------------------------


def test_format_event():
    assert format_event("hi") == b"data: hi\n\n"
    assert format_event("a\nb\r\nc\rd", event="e", id=3, retry=500) == (
        b"id: 3\nevent: e\nretry: 500\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    )
    assert format_event({"x": 1}) == b'data: {"x": 1}\n\n'
    assert format_event("") == b"data:\n\n"
    assert format_event("end\n") == b"data: end\ndata:\n\n"
    assert format_event(event="ping") == b"event: ping\n\n"
    for bad in (
        dict(data="x", id="a\nb"),
        dict(data="x", event="a\rb"),
        dict(data="x", retry=-1),
        dict(data="x", retry="5"),
        dict(),
        dict(data="nul\x00"),
    ):
        with pytest.raises(ValueError):
            format_event(**bad)


# -- streaming --------------------------------------------------------------------------


def test_headers_and_first_event(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events") as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "text/event-stream; charset=utf-8"
                assert r.headers["Cache-Control"] == "no-cache"
                assert r.headers["Transfer-Encoding"] == "chunked"
                event = await read_event(r)
                assert event == {"data": ["welcome"], "event": "hello", "id": "1", "retry": "1000"}
                # then keep-alive comments
                line = await r.content.readline()
                while line == b"\n":
                    line = await r.content.readline()
                assert line == b": ping\n"

    asyncio.run(go())


def test_broadcast_reaches_every_client(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            streams = [await session.get(server.url + "/events") for _ in range(3)]
            try:
                for r in streams:
                    assert (await read_event(r))["event"] == "hello"
                async with session.post(server.url + "/broadcast?event=news", data="first line\nsecond line") as p:
                    assert (await p.json())["sent"] >= 3
                for r in streams:
                    event = await read_event(r)
                    assert event["event"] == "news" and event["data"] == ["first line", "second line"]
            finally:
                for r in streams:
                    r.close()

    asyncio.run(go())


def test_finite_stream_exact_bytes(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /finite HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
        assert status == 200 and headers["x-stream"] == "finite"
        assert headers["transfer-encoding"] == "chunked"
        assert body == (
            b"data: line one\ndata: line two\ndata: line three\ndata: line four\n\n"
            b'id: 7\nevent: data\ndata: {"json": [1, 2]}\n\n'
            b": just a comment\n\n"
            b"event: empty\ndata:\n\n"
            b"data: bytes \xc3\xa9\n\n"
        )
        # the stream ended properly: the connection serves the next request
        sock.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[0] == 200


def test_events_from_an_async_handler(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/async-events") as r:
                events = [await read_event(r) for _ in range(3)]
                assert await r.content.read() == b""
                return events

    assert asyncio.run(go()) == [{"data": [str(i)], "id": str(i)} for i in range(3)]


def test_http10_client_gets_the_stream_until_close(server):
    response = rawhttp.exchange(server.port, b"GET /async-events HTTP/1.0\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" not in head.lower()
    assert body == b"id: 0\ndata: 0\n\nid: 1\ndata: 1\n\nid: 2\ndata: 2\n\n"


# -- closing -----------------------------------------------------------------------


def test_client_disconnect_is_seen_by_the_server(server):
    before = wait_for(server, lambda s: s["open"] == 0)  # earlier tests' streams are gone

    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events?user_abort=1") as r:
                assert (await read_event(r))["event"] == "hello"

    asyncio.run(go())
    after = wait_for(server, lambda s: s["aborted"] > before["aborted"] and s["user_abort"] > before["user_abort"])
    assert after["aborted"] == before["aborted"] + 1
    assert after["closed"] == before["closed"] + 1
    # the route's own on_aborted handler still ran
    assert after["user_abort"] == before["user_abort"] + 1
    assert after["open"] == before["open"]


def test_wait_closed_returns_when_the_client_leaves(server):
    before = wait_for(server, lambda s: s["open"] == 0)

    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/wait-closed") as r:
                assert (await read_event(r))["data"] == ["waiting"]

    asyncio.run(go())
    # this stream sends nothing more: the server notices on the next broadcast
    deadline = time.monotonic() + 5
    current = before
    while time.monotonic() < deadline and current["waited"] == before["waited"]:

        async def poke():
            async with aiohttp.ClientSession() as session:
                async with session.post(server.url + "/broadcast", data="poke") as p:
                    await p.read()

        asyncio.run(poke())
        current = stats(server)
    assert current["waited"] == before["waited"] + 1


def test_server_side_close_ends_the_stream(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events") as r:
                assert (await read_event(r))["event"] == "hello"
                before = await stats_async(server)
                async with session.post(server.url + "/close-all") as p:
                    assert await p.read() == b"closed"
                with pytest.raises(EOFError):
                    while True:
                        await read_event(r)
                return before

    before = asyncio.run(go())
    after = stats(server)
    assert after["closed_by_server"] >= before["closed_by_server"] + 1 and after["open"] == 0
