"""ASGI lifespan at the edges: shutdown runs when listen() fails after
startup, the App is disposed when serving ends, and the CLI's
``--lifespan on`` refuses an application without lifespan support."""

import socket
import subprocess
import sys

from cli_runner import run_cli, write_module
from conftest import server_env

MARKED = """
import os, sys
from socketify import ASGI


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            with open(os.environ["MARKS"], "a") as f:
                f.write(message["type"] + "\\n")
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
"""


def test_lifespan_shutdown_runs_when_listen_fails(tmp_path):
    marks = tmp_path / "marks"
    script = tmp_path / "app.py"
    script.write_text(
        MARKED
        + """
ASGI(app).listen({"host": "127.0.0.1", "port": int(sys.argv[1])}).run()
"""
    )
    with socket.socket() as busy:  # no SO_REUSEPORT: the port cannot be shared
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        proc = subprocess.run(
            [sys.executable, str(script), str(busy.getsockname()[1])],
            env=server_env({"MARKS": str(marks)}),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode != 0 and "Failed to listen" in proc.stderr, proc.stderr
    assert marks.read_text().split() == ["lifespan.startup", "lifespan.shutdown"]


def test_serving_ends_with_the_app_disposed(tmp_path):
    """Each run/close cycle gives back its sockets and its event loop."""
    script = tmp_path / "app.py"
    script.write_text(
        MARKED
        + """
def sockets():
    found = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink("/proc/self/fd/" + name).startswith("socket:")
        except OSError:  # the listing's own descriptor
            pass
    return found


counts = []
for _ in range(4):
    server = ASGI(app, lifespan=False).listen({"host": "127.0.0.1", "port": 0})
    server.run(block=False)
    server.close()
    server._thread.join(10)
    assert not server._thread.is_alive()
    assert server.server.app.loop.loop.is_closed()
    counts.append(sockets())
server.close()  # after the end: a no-op
print(counts)
"""
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        env=server_env({"MARKS": str(tmp_path / "m")}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    counts = [int(n) for n in proc.stdout.strip().splitlines()[-1].strip("[]").split(",")]
    assert counts == counts[:1] * 4, counts


NO_LIFESPAN = """
async def app(scope, receive, send):
    assert scope["type"] == "http", "lifespan is not supported"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def test_lifespan_on_refuses_an_app_without_lifespan(tmp_path):
    write_module(tmp_path, "nolife", NO_LIFESPAN)
    code, out, err = run_cli(tmp_path, "nolife:app", "--lifespan", "on")
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("socketify: error: ASGI lifespan is on") and "not supported" in last, err
    assert "Listening" not in out
