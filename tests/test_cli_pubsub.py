"""python -m socketify --workers 4 --pubsub-url: one chat room across
worker processes, through a real redis-server."""

import json
import time

import pytest
import redis
import websocket

from cli_runner import Cli, run_cli, wait_for, write_module
from conftest import free_port

ROOM_APP = """
import json, os
from socketify import App, OpCode

app = App()


def on_open(ws):
    ws.subscribe("room")
    ws.send(json.dumps({"pid": os.getpid()}), OpCode.TEXT)


def on_message(ws, message, opcode):
    app.publish("room", message, OpCode.TEXT)


app.ws("/chat", {"open": on_open, "message": on_message})
"""


def test_a_publish_reaches_subscribers_on_every_worker_exactly_once(tmp_path, redis_server):
    write_module(tmp_path, "room", ROOM_APP)
    port = free_port()
    runner = Cli(tmp_path, "room:app", "--port", port, "--workers", 4, "--pubsub-url", redis_server.url)
    runner.start()
    clients = []
    try:
        pids = set()
        # SO_REUSEPORT spreads connections by hash: enough clients land on several workers
        while len(clients) < 24:
            ws = websocket.create_connection("ws://127.0.0.1:%d/chat" % port, timeout=10)
            clients.append(ws)
            pids.add(json.loads(ws.recv())["pid"])
        assert len(pids) >= 2, pids
        # a worker's subscription reaches Redis a round trip after the open: wait for it
        client = redis.Redis.from_url(redis_server.url)
        workers_subscribed = lambda: client.pubsub_numsub("socketify:room")[0][1]  # noqa: E731
        assert wait_for(lambda: workers_subscribed() >= len(pids), 10), workers_subscribed()
        for i in range(5):
            clients[i].send("hello %d" % i)
            for ws in clients:
                assert ws.recv() == "hello %d" % i
        # none twice: a duplicate would come from Redis within a round trip,
        # so one wait for all the clients, not one each
        time.sleep(0.3)
        for ws in clients:
            ws.settimeout(0.01)
            try:
                extra = ws.recv()
            except websocket.WebSocketTimeoutException:
                extra = None
            assert extra is None, extra
    finally:
        for ws in clients:
            ws.close()
        code = runner.stop()
        stderr = runner.stderr()
        runner.cleanup()  # any worker left behind, and the stderr file
    assert code == 0, stderr


def test_a_bad_pubsub_url_is_one_line(tmp_path):
    write_module(tmp_path, "room", ROOM_APP)
    code, out, err = run_cli(tmp_path, "room:app", "--port", free_port(), "--pubsub-url", "http://x")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("socketify: error: --pubsub-url: unknown pub/sub backplane URL")


@pytest.mark.parametrize("workers", [1, 2])
def test_pubsub_url_without_the_redis_package_is_one_line(tmp_path, workers):
    write_module(tmp_path, "room", ROOM_APP)
    # A stand-in package first on the path: "import redis" fails as where it is not installed.
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n"
    )
    code, out, err = run_cli(
        tmp_path, "room:app", "--port", free_port(), "--workers", workers, "--pubsub-url", "redis://127.0.0.1:1/0"
    )
    assert code == 1, err
    assert err.strip().splitlines() == [
        "socketify: error: --pubsub-url: the Redis pub/sub backplane needs the redis package "
        "(pip install 'socketify[redis]')"
    ], err


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unreachable_pubsub_url_is_one_line(tmp_path, workers):
    write_module(tmp_path, "room", ROOM_APP)
    url = "redis://127.0.0.1:%d/0" % free_port()  # nothing listens there
    code, out, err = run_cli(tmp_path, "room:app", "--port", free_port(), "--workers", workers, "--pubsub-url", url)
    assert code == 1, err
    assert err.strip().splitlines() == [err.strip().splitlines()[-1]], err  # one line, no traceback
    assert "cannot reach Redis at" in err and "socketify: error:" in err, err


def test_a_pubsub_url_gives_every_app_a_backplane_of_its_own(tmp_path):
    """What --pubsub-url sets as the App default in a worker: a URL, so a
    program that builds two Apps does not share one backplane between them."""
    from socketify import App
    from socketify.pubsub import RedisBackplane

    url = "redis://127.0.0.1:%d/0" % free_port()
    first, second = App(pubsub=url), App(pubsub=url)
    try:
        assert isinstance(first.backplane, RedisBackplane) and isinstance(second.backplane, RedisBackplane)
        assert first.backplane is not second.backplane
    finally:
        first.dispose()
        second.dispose()
