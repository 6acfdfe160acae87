"""pubsub-fanout-redis: socketify_ws_app.py as two worker processes on one
port (SO_REUSEPORT spreads the connections), publishing through a
redis-server started here on a free port.

Usage: python socketify_ws_cluster.py PORT [WORKERS]   (prints a ready line
once every worker listens; SIGTERM/SIGINT stop the workers and Redis)
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis() -> "tuple[subprocess.Popen, str]":
    """A redis-server without persistence; (process, url) once it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("pubsub-fanout-redis needs redis-server (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, "redis://127.0.0.1:%d/0" % port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("redis-server did not answer on port %d" % port)


def main() -> None:
    """Starts Redis and the workers, waits for a signal, stops them all."""
    port = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    redis, url = start_redis()
    env = dict(os.environ, SOCKETIFY_PUBSUB_URL=url, PYTHONUNBUFFERED="1")
    procs = [
        subprocess.Popen(
            [sys.executable, os.path.join(HERE, "socketify_ws_app.py"), port],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(workers)
    ]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        for proc in procs:
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                sys.exit("a worker did not start: %r" % line)
        print(
            "ready: %d socketify workers on http://127.0.0.1:%s through Redis at %s" % (workers, port, url), flush=True
        )
        while not stop and all(p.poll() is None for p in procs):
            time.sleep(0.2)
    finally:
        for proc in procs + [redis]:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs + [redis]:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
