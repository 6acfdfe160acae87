"""ASGI(...).run(workers=N) and WSGI(...).run(workers=N): the process
becomes the supervisor of N workers sharing the port; SIGTERM drains them
and leaves no process behind."""

import signal

import pytest
import requests

from cli_runner import alive, children_of, wait_for

ASGI_APP = """
import os
from listen_line import announce
from socketify import ASGI


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})


ASGI(app, lifespan=False).listen(0, announce).run(workers=2)
"""

WSGI_APP = """
import os
from listen_line import announce
from socketify import WSGI


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d %s" % (os.getpid(), str(environ["wsgi.multiprocess"]).encode())]


WSGI(app).listen(0, announce).run(workers=2)
"""


@pytest.mark.parametrize("source,kind", [(ASGI_APP, "asgi"), (WSGI_APP, "wsgi")])
def test_run_with_two_workers_spreads_requests_and_stops_cleanly(serve, source, kind):
    server = serve(source)
    supervisor = server.proc.pid
    assert wait_for(lambda: len(children_of(supervisor)) == 2, 10), children_of(supervisor)
    workers = children_of(supervisor)
    answers = set()
    for _ in range(200):  # SO_REUSEPORT hashes new connections over the workers
        body = requests.get(server.url + "/", headers={"Connection": "close"}, timeout=10).text
        answers.add(body)
        if len({answer.split()[0] for answer in answers}) == 2:
            break
    pids = {int(answer.split()[0]) for answer in answers}
    assert pids == set(workers), (pids, workers)
    if kind == "wsgi":
        assert all(answer.endswith("True") for answer in answers), answers  # wsgi.multiprocess
    assert server.stop(signal.SIGTERM) == 0, server.stderr()
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 10), [p for p in workers if alive(p)]


@pytest.mark.parametrize("kind", ["ASGI", "WSGI"])
def test_workers_need_a_blocking_run(kind):
    import socketify

    server = getattr(socketify, kind)(lambda *args: None)
    with pytest.raises(ValueError, match="block=True"):
        server.run(workers=2, block=False)
    with pytest.raises(ValueError):
        server.run(workers=0)


def test_the_cli_tells_a_wsgi_app_it_runs_in_several_processes(tmp_path):
    from cli_runner import Cli, write_module
    from conftest import free_port

    write_module(
        tmp_path,
        "multi",
        """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(environ["wsgi.multiprocess"]).encode()]
""",
    )
    port = free_port()
    runner = Cli(tmp_path, "multi:app", "--port", port, "--workers", 2).start()
    try:
        assert requests.get("http://127.0.0.1:%d/" % port, timeout=10).text == "True"
    finally:
        assert runner.stop() == 0, runner.stderr()
