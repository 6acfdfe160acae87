"""A Django Channels consumer (in-memory channel layer) served by socketify.ASGI:
connect, group send, server-initiated close and client disconnect, each
running the consumer's cleanup."""

import asyncio
import json
import os
import time

import pytest
import requests
import websockets

from conftest import HERE, Server


@pytest.fixture(scope="module")
def channels_server():
    server = Server(os.path.join(HERE, "apps", "asgi_channels_server.py")).start()
    yield server
    assert "Traceback" not in server.stderr(), server.stderr()
    server.stop()
    server.check_clean()


def url(server, room):
    return "ws://127.0.0.1:%d/ws/room/%s/" % (server.port, room)


def wait_for(server, event, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = requests.get(server.url + "/events", timeout=5).json()
        if event in events:
            return events
        time.sleep(0.05)
    raise AssertionError("%r never recorded: %r" % (event, events))


def test_connect_and_group_send_reach_every_member(channels_server):
    async def main():
        async with (
            websockets.connect(url(channels_server, "lobby")) as a,
            websockets.connect(url(channels_server, "lobby")) as b,
            websockets.connect(url(channels_server, "other")) as c,
        ):
            await a.send("hi all")
            got_a = json.loads(await asyncio.wait_for(a.recv(), 5))
            got_b = json.loads(await asyncio.wait_for(b.recv(), 5))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.recv(), 0.3)  # another group hears nothing
            return got_a, got_b

    got_a, got_b = asyncio.run(main())
    assert got_a == got_b == {"room": "lobby", "text": "hi all"}
    events = requests.get(channels_server.url + "/events", timeout=5).json()
    assert events.count(["connect", "lobby"]) >= 2


def test_client_disconnect_runs_cleanup(channels_server):
    async def main():
        async with websockets.connect(url(channels_server, "client-leaves")) as ws:
            await ws.close(code=1000)

    asyncio.run(main())
    wait_for(channels_server, ["cleanup", "client-leaves", 1000])


def test_server_initiated_close_runs_cleanup(channels_server):
    async def main():
        async with websockets.connect(url(channels_server, "server-closes")) as ws:
            await ws.send("leave")
            with pytest.raises(websockets.ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            return info.value.rcvd.code

    assert asyncio.run(main()) == 4000
    wait_for(channels_server, ["cleanup", "server-closes", 4000])


def test_group_member_left_gets_nothing_and_others_still_do(channels_server):
    async def main():
        async with websockets.connect(url(channels_server, "mixed")) as stay:
            async with websockets.connect(url(channels_server, "mixed")):
                pass  # joins and leaves
            await asyncio.sleep(0.2)
            await stay.send("still here")
            return json.loads(await asyncio.wait_for(stay.recv(), 5))

    assert asyncio.run(main()) == {"room": "mixed", "text": "still here"}
