"""examples/asgi_starlette.py and examples/asgi_fastapi.py run and answer."""

import asyncio
import json
import os
import re
import signal
import time

import requests
import websockets

from conftest import ROOT, Server, free_port


def run_asgi_example(name):
    """Runs an example with its fixed port 3000 rewritten to a free one."""
    port = free_port()
    source = open(os.path.join(ROOT, "examples", name)).read()
    source = re.sub(r"\.listen\(3000", ".listen(%d" % port, source)
    path = os.path.join(ROOT, "build", "example_" + name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(source)
    server = Server(path, ready_prefix="Listening on port").start()
    server.port = port
    return server


def test_asgi_starlette_example():
    server = run_asgi_example("asgi_starlette.py")
    try:
        assert requests.get(server.url + "/", timeout=5).text == "Hello from Starlette on socketify!"
        assert requests.get(server.url + "/users/ana", timeout=5).json() == {"user": "ana", "visits": 1}
        assert requests.get(server.url + "/countdown", timeout=5).text == "3...\n2...\n1...\nliftoff\n"

        async def talk():
            async with websockets.connect("ws://127.0.0.1:%d/echo" % server.port) as ws:
                await ws.send("ping")
                return await ws.recv()

        assert asyncio.run(talk()) == "echo: ping"
    finally:
        assert server.stop(signal.SIGINT) == 0
    assert "Traceback" not in server.stderr()


def test_asgi_fastapi_example():
    server = run_asgi_example("asgi_fastapi.py")
    try:
        assert requests.get(server.url + "/", timeout=5).json() == {"message": "Hello from FastAPI on socketify!"}
        resp = requests.post(server.url + "/orders", json={"item": "tea", "quantity": 2}, timeout=5)
        assert resp.json() == {"accepted": "tea", "quantity": 2}
        assert requests.post(server.url + "/orders", json={"quantity": 2}, timeout=5).status_code == 422
        deadline = time.monotonic() + 5  # the background task runs after the response went out
        while requests.get(server.url + "/orders", timeout=5).json() != [{"item": "tea", "quantity": 2}]:
            assert time.monotonic() < deadline, "the background task never ran"
            time.sleep(0.05)
        resp = requests.post(server.url + "/upload", files={"file": ("a.txt", b"x" * 200_000)}, timeout=10)
        assert resp.json() == {"filename": "a.txt", "size": 200_000}

        async def talk():
            async with websockets.connect("ws://127.0.0.1:%d/ws" % server.port) as ws:
                await ws.send(json.dumps({"numbers": [1, 2, 3]}))
                return json.loads(await ws.recv())

        assert asyncio.run(talk()) == {"sum": 6}
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in server.stderr()
