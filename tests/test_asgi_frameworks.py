"""Real Starlette and FastAPI applications served by socketify.ASGI,
driven by requests, aiohttp and websockets over real sockets."""

import asyncio
import json
import os
import time

import aiohttp
import pytest
import requests
import websockets

from conftest import HERE, Server

APP = os.path.join(HERE, "apps", "asgi_frameworks_app.py")


def _framework_server(framework):
    server = Server(APP, [framework]).start()
    yield server
    assert "Traceback" not in server.stderr(), server.stderr()  # nothing here is an app error
    server.stop()
    server.check_clean()


@pytest.fixture(scope="module")
def starlette_server():
    yield from _framework_server("starlette")


@pytest.fixture(scope="module")
def fastapi_server():
    yield from _framework_server("fastapi")


def wait_json(url, expected, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = requests.get(url, timeout=5).json()
        if expected in value:
            return value
        time.sleep(0.05)
    raise AssertionError("%r never appeared at %s" % (expected, url))


def ws_url(server, path):
    return "ws://127.0.0.1:%d%s" % (server.port, path)


# -- Starlette -----------------------------------------------------------------------


def test_starlette_routing_and_plaintext(starlette_server):
    resp = requests.get(starlette_server.url + "/", timeout=5)
    assert resp.status_code == 200
    assert resp.text == "Hello from Starlette"
    assert resp.headers["content-type"].startswith("text/plain")
    assert requests.get(starlette_server.url + "/nope", timeout=5).status_code == 404


def test_starlette_path_params_query_and_lifespan_state(starlette_server):
    resp = requests.get(starlette_server.url + "/users/42?q=hi%20there", timeout=5)
    assert resp.json() == {"id": 42, "q": "hi there", "db": "connected"}


def test_starlette_json_body(starlette_server):
    resp = requests.post(starlette_server.url + "/json", json={"a": [1, 2, 3]}, timeout=5)
    assert resp.json() == {"got": {"a": [1, 2, 3]}}


def test_starlette_form_and_file_upload(starlette_server):
    content = os.urandom(2_000_000)
    resp = requests.post(
        starlette_server.url + "/form",
        data={"name": "report"},
        files={"file": ("data.bin", content, "application/octet-stream")},
        timeout=20,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == "report"
    assert body["filename"] == "data.bin"
    assert body["size"] == len(content)
    assert body["head"] == content[:10].decode("latin-1")


def test_starlette_streaming_response(starlette_server):
    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(starlette_server.url + "/stream?count=50") as resp:
                assert resp.headers["transfer-encoding"] == "chunked"
                return await resp.text()

    assert asyncio.run(main()) == "".join("line %d\n" % i for i in range(50))


def test_starlette_file_response_with_range(starlette_server, tmp_path):
    path = tmp_path / "big.bin"
    content = os.urandom(1_500_000)
    path.write_bytes(content)
    resp = requests.get(starlette_server.url + "/file", params={"path": str(path)}, timeout=10)
    assert resp.status_code == 200
    assert resp.content == content
    assert resp.headers["content-length"] == str(len(content))
    assert "download.bin" in resp.headers["content-disposition"]
    resp = requests.get(
        starlette_server.url + "/file", params={"path": str(path)}, headers={"Range": "bytes=10-19"}, timeout=10
    )
    assert resp.status_code == 206
    assert resp.content == content[10:20]
    head = requests.head(starlette_server.url + "/file", params={"path": str(path)}, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(content))


def test_starlette_background_task(starlette_server):
    resp = requests.get(starlette_server.url + "/background?v=job1", timeout=5)
    assert resp.text == "queued"
    wait_json(starlette_server.url + "/background-done", "job1")


def test_starlette_websocket_endpoints(starlette_server):
    async def main():
        async with websockets.connect(ws_url(starlette_server, "/ws?name=ana")) as ws:
            assert json.loads(await ws.recv()) == {"hello": "ana"}
            await ws.send("one")
            assert await ws.recv() == "echo: one"
        async with websockets.connect(ws_url(starlette_server, "/counter")) as ws:
            await ws.send(json.dumps({"n": 1}))
            return json.loads(await ws.recv())

    assert asyncio.run(main()) == {"n": 2}


def test_starlette_many_concurrent_requests(starlette_server):
    async def main():
        async with aiohttp.ClientSession() as session:

            async def one(i):
                async with session.get(starlette_server.url + "/users/%d" % i) as resp:
                    return (await resp.json())["id"]

            return await asyncio.gather(*(one(i) for i in range(200)))

    assert asyncio.run(main()) == list(range(200))


# -- FastAPI -------------------------------------------------------------------------


def test_fastapi_json_routes(fastapi_server):
    assert requests.get(fastapi_server.url + "/", timeout=5).json() == {"hello": "fastapi"}
    assert requests.get(fastapi_server.url + "/items/7?q=x", timeout=5).json() == {"item_id": 7, "q": "x"}
    resp = requests.get(fastapi_server.url + "/items/notanint", timeout=5)
    assert resp.status_code == 422
    resp = requests.get(fastapi_server.url + "/missing", timeout=5)
    assert resp.status_code == 404 and resp.json() == {"detail": "nothing here"}


def test_fastapi_body_validation_and_lifespan_state(fastapi_server):
    resp = requests.post(fastapi_server.url + "/items", json={"name": "pen", "price": 1.5}, timeout=5)
    assert resp.json() == {"name": "pen", "price": 1.5, "model": "loaded"}
    assert requests.post(fastapi_server.url + "/items", json={"name": "pen"}, timeout=5).status_code == 422


def test_fastapi_upload(fastapi_server):
    content = os.urandom(500_000)
    resp = requests.post(
        fastapi_server.url + "/upload", data={"note": "n1"}, files={"file": ("f.bin", content)}, timeout=20
    )
    assert resp.json() == {"filename": "f.bin", "size": len(content), "note": "n1"}


def test_fastapi_streaming_and_file(fastapi_server, tmp_path):
    assert requests.get(fastapi_server.url + "/stream", timeout=5).text == "chunk0,chunk1,chunk2,"
    path = tmp_path / "f.txt"
    path.write_text("file body")
    resp = requests.get(fastapi_server.url + "/file", params={"path": str(path)}, timeout=5)
    assert resp.text == "file body"


def test_fastapi_background_tasks(fastapi_server):
    assert requests.get(fastapi_server.url + "/background?v=fa", timeout=5).json() == {"queued": "fa"}
    wait_json(fastapi_server.url + "/background-done", "fa")


def test_fastapi_websocket(fastapi_server):
    async def main():
        async with websockets.connect(ws_url(fastapi_server, "/ws")) as ws:
            results = []
            for n in (1, 2, 3):
                await ws.send(json.dumps({"n": n}))
                results.append(json.loads(await ws.recv())["double"])
            return results

    assert asyncio.run(main()) == [2, 4, 6]
