"""The async runtime: third-party asyncio libraries inside handlers (aiohttp
client, redis.asyncio, wait_for, run_in_executor, timers), the one callback
runner (awaitables returned from any callback, error routing with the right
request, SystemExit/KeyboardInterrupt), eager tasks, and request bodies read
at once or in pieces."""

import concurrent.futures
import json
import os
import socket
import time

import pytest

import rawhttp
from conftest import HERE, Server

APP = os.path.join(HERE, "apps", "async_runtime_app.py")


@pytest.fixture(scope="module")
def other_server():
    """A second local server for the aiohttp client route."""
    server = Server(os.path.join(HERE, "apps", "basic_app.py")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["socketify-loop", "uvloop"])
def loop_env(request):
    """Every test runs on our own asyncio loop and, when it is installed, on uvloop."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
        return {"SOCKETIFY_UVLOOP": "1"}
    return {"SOCKETIFY_UVLOOP": "0"}


@pytest.fixture(scope="module")
def app_server(other_server, loop_env):
    server = Server(APP, [str(other_server.port)], env=loop_env).start()
    yield server
    server.stop()


def get(server, path, timeout=10):
    with rawhttp.connect(server.port, timeout=timeout) as sock:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        return rawhttp.read_response(sock, timeout)[:3]


def post(server, path, body, headers=b"", timeout=10):
    with rawhttp.connect(server.port, timeout=timeout) as sock:
        sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (path.encode(), len(body), headers) + body
        )
        return rawhttp.read_response(sock, timeout)[:3]


def events(server):
    return get(server, "/events")[2].decode().splitlines()


def wait_for_event(server, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(server) if text in e]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("no event %r in %r" % (text, events(server)))


# -- third-party asyncio libraries -------------------------------------------


def test_aiohttp_client_request_from_the_first_line_of_a_handler(app_server):
    pytest.importorskip("aiohttp")
    status, _, body = get(app_server, "/aiohttp")
    assert (status, body) == (200, b"other said: hello")


def test_redis_asyncio_against_a_real_redis_server(redis_server, other_server, serve, loop_env):
    pytest.importorskip("redis.asyncio")
    server = serve(APP, str(other_server.port), redis_server.url, env=loop_env)
    assert get(server, "/redis?key=a&value=one")[2] == b"one 1"
    assert get(server, "/redis?key=a&value=two")[2] == b"two 2"


def test_wait_for_timeout_fires_and_does_not(app_server):
    assert get(app_server, "/wait_for/fires")[2] == b"timed out"
    assert get(app_server, "/wait_for/done")[2] == b"slept"


def test_asyncio_timeout_in_the_first_line(app_server):
    assert get(app_server, "/timeout")[2] == b"timed out"


def test_run_in_executor_runs_in_a_thread_while_the_loop_serves(app_server):
    # Four blocking calls of 0.3 s at once: they overlap (the loop waits with
    # the GIL released) and other requests are answered meanwhile.
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        slow = [pool.submit(get, app_server, "/executor/v%d" % i) for i in range(4)]
        time.sleep(0.05)
        assert get(app_server, "/never-awaits")[2] == b"done at once"
        bodies = sorted(f.result()[2] for f in slow)
    assert bodies == [b"v%d from thread" % i for i in range(4)]


def test_running_loop_tasks_and_timers(app_server):
    assert get(app_server, "/loop")[2] == b"True True True timer child"


def test_a_suspended_handler_task_is_in_all_tasks(app_server):
    assert get(app_server, "/all-tasks")[2] == b"True True"


def test_tasks_another_thread_creates_meanwhile_are_all_registered(app_server):
    answer = get(app_server, "/tasks-from-a-thread")[2]
    assert answer.count(b" of ") == 1, answer
    registered, _of, made = answer.split()
    assert registered == made


def test_ended_handler_tasks_leave_asyncios_registry(app_server):
    for _ in range(60):
        assert get(app_server, "/all-tasks")[2] == b"True True"
    size = get(app_server, "/registry-size")[2]
    if size == b"n/a":
        pytest.skip("this asyncio keeps no registry of tasks in Python")
    assert int(size) < 30


def test_the_loop_an_app_runs_on(app_server, loop_env):
    answer = get(app_server, "/loop-type")[2]
    if loop_env["SOCKETIFY_UVLOOP"] == "1":
        assert answer.startswith(b"uvloop nested=False")
    else:
        # one wait per iteration: the core waits for asyncio's fds, not the reverse
        assert answer == b"socketify.loop nested=True core-fd-watched-by-asyncio=False"


# -- the callback runner ---------------------------------------------------


def test_coroutine_that_never_awaits(app_server):
    assert get(app_server, "/never-awaits")[2] == b"done at once"


def test_handler_error_is_routed_with_its_request(app_server):
    status, _, body = get(app_server, "/boom")
    assert (status, body) == (500, b"handled: ValueError")
    assert "error ValueError boom GET /boom" in events(app_server)
    status, _, body = get(app_server, "/boom-later")
    assert (status, body) == (500, b"handled: ValueError")
    assert "error ValueError later GET /boom-later" in events(app_server)


@pytest.mark.parametrize("kind", ["coroutine", "awaitable"])
def test_on_data_handler_returning_an_awaitable_runs_it(app_server, kind):
    status, _, body = post(app_server, "/on-data/" + kind, b"abc")
    assert (status, body) == (200, kind.encode() + b": abc")


def test_on_data_handler_returning_a_future_gets_its_error_routed(app_server):
    status, _, body = post(app_server, "/on-data/future", b"abc")
    assert (status, body) == (500, b"handled: RuntimeError")
    assert "error RuntimeError future failed POST /on-data/future" in events(app_server)


def test_on_data_handler_error_is_routed_with_its_request(app_server):
    status, _, body = post(app_server, "/on-data/raise", b"abc")
    assert (status, body) == (500, b"handled: LookupError")
    assert "error LookupError on_data failed POST /on-data/raise" in events(app_server)


def _abort(server, path):
    sock = rawhttp.connect(server.port)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    wait_for_event(server, "waiting for abort")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # a reset: the server sees the client go away at once


def test_on_aborted_coroutine_runs(app_server):
    _abort(app_server, "/abort/coroutine")
    wait_for_event(app_server, "aborted coroutine ran")


def test_on_aborted_future_error_is_routed(app_server):
    _abort(app_server, "/abort/future")
    found = wait_for_event(app_server, "abort future failed")
    assert found == ["error RuntimeError abort future failed GET /abort/future"]


def test_system_exit_in_a_handler_answers_500_and_keeps_serving(app_server):
    assert get(app_server, "/exit")[:1] == (500,)
    assert get(app_server, "/exit-later")[:1] == (500,)
    assert get(app_server, "/never-awaits")[2] == b"done at once"
    assert app_server.proc.poll() is None


def test_keyboard_interrupt_in_a_handler_answers_500_and_closes(other_server, serve, loop_env):
    server = serve(APP, str(other_server.port), env=loop_env)
    assert get(server, "/interrupt")[:1] == (500,)
    assert server.proc.wait(10) == 0  # a graceful close: run() returned
    assert "KeyboardInterrupt raised in a handler: closing" in server.stderr()


def test_default_error_log_names_method_and_path(tmp_path, serve):
    source = tmp_path / "app.py"
    source.write_text(
        "import sys\n"
        "sys.path.insert(0, %r)\n"
        "from listen_line import announce\n"
        "from socketify import App\n"
        "app = App()\n"
        "def broken(res, req):\n"
        "    raise ValueError('kaput')\n"
        "app.get('/broken/:id', broken)\n"
        "app.listen(0, announce)\n"
        "app.run()\n" % os.path.join(HERE, "apps")
    )
    server = serve(str(source))
    assert get(server, "/broken/7?x=1")[0] == 500
    server.stop()
    err = server.stderr()
    assert "uncaught error in the request handler for GET /broken/7" in err
    assert "ValueError: kaput" in err


def test_sync_handler_returning_a_value_warns_once_naming_it(other_server, serve, loop_env):
    server = serve(APP, str(other_server.port), env=loop_env)
    with rawhttp.connect(server.port, timeout=0.5) as sock:
        sock.sendall(b"GET /returns-value HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(socket.timeout):
            sock.recv(100)
    with rawhttp.connect(server.port, timeout=0.5) as sock:
        sock.sendall(b"GET /returns-value HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(socket.timeout):
            sock.recv(100)
    assert get(server, "/returns-response")[2] == b"fine"
    server.stop()
    warnings = [line for line in server.stderr().splitlines() if "returns_value" in line]
    assert len(warnings) == 1, server.stderr()
    assert "GET /returns-value returned a dict without responding" in warnings[0]
    assert "returns_response" not in server.stderr()


# -- tasks -----------------------------------------------------------------


def test_create_task_is_eager_and_calls_its_done_callback(app_server):
    assert get(app_server, "/create-task")[2] == b"first step / returned / second step"
    wait_for_event(app_server, "done callback True")


def test_task_factory_starts_tasks_eagerly(app_server):
    assert get(app_server, "/task-factory")[2] == b"child ran, after create"


# -- bodies ------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 4096, 4097, 300_000])
def test_echo_bodies_of_every_size(app_server, size):
    body = bytes(i % 251 for i in range(size))
    status, _, answer = post(app_server, "/echo", body)
    assert (status, answer) == (200, body)
    status, _, answer = post(app_server, "/echo-later", body)
    assert (status, answer) == (200, body)


def test_body_split_across_reads(app_server):
    with rawhttp.connect(app_server.port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        time.sleep(0.1)
        sock.sendall(b"56789")
        assert rawhttp.read_response(sock)[2] == b"0123456789"


def test_chunked_body_and_expect_continue(app_server):
    with rawhttp.connect(app_server.port) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        assert rawhttp.read_response(sock)[2] == b"abcde"
    with rawhttp.connect(app_server.port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"xyz")
        assert rawhttp.read_response(sock)[2] == b"xyz"


def test_pipelined_posts_keep_their_bodies_and_order(app_server):
    requests = b"".join(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(b"body%d" % i), b"body%d" % i)
        for i in range(20)
    )
    requests += b"GET /never-awaits HTTP/1.1\r\nHost: x\r\n\r\n"
    with rawhttp.connect(app_server.port) as sock:
        sock.sendall(requests)
        answers = [rawhttp.read_response(sock)[2] for _ in range(21)]
    assert answers == [b"body%d" % i for i in range(20)] + [b"done at once"]


def test_get_json_and_the_request_after_it(app_server):
    status, _, body = post(app_server, "/json", b'{"a": [1, 2]}', b"X-Test: yes\r\n")
    assert status == 200
    assert json.loads(body) == {"got": {"a": [1, 2]}, "url": "/json", "ua": "yes"}


def test_second_get_data_is_empty(app_server):
    assert post(app_server, "/body-then-data", b"12345")[2] == b"5 0"
