"""Test servers run as real processes on 127.0.0.1, on a free port, stopped by PID."""

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEST_INSTALLED = os.environ.get("SOCKETIFY_TEST_INSTALLED") == "1"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def _port_slice():
    """(lowest port, how many) this pytest process hands out, below the
    kernel's ephemeral range; None where that range leaves no room."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            ceiling = int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if ceiling - _PORT_FLOOR < 1000:
        return None
    slices = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")) + 1
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    # The last slice: the serial pass, or a worker xdist started in place of a crashed one.
    index = min(int(worker[2:]), slices - 1) if worker[:2] == "gw" and worker[2:].isdigit() else slices - 1
    width = (ceiling - _PORT_FLOOR) // slices
    return _PORT_FLOOR + index * width, width


_PORT_FLOOR = 10000
_ports = None  # (low, width, next offset), set by the first free_port()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (for programs
    given a port number, such as the CLI and the examples).

    Picked below the kernel's ephemeral range: a port out of ``bind(0)`` is
    one a client connection made by a test running beside this one may take
    as its local port a moment later, and the server then fails to start
    with "already in use". Each pytest-xdist worker counts through its own
    slice of that range (a replacement for a crashed worker shares the
    spare slice with the serial pass, which runs later)."""
    import random
    import socket

    global _ports
    if _ports is None:
        bounds = _port_slice()
        # A random start, so a later pytest run does not reuse a port in TIME_WAIT.
        _ports = (bounds[0], bounds[1], random.randrange(bounds[1])) if bounds else ()
    if not _ports:  # no room below the ephemeral range here
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    low, width, offset = _ports
    for step in range(width):
        port = low + (offset + step) % width
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))  # without SO_REUSEADDR: a port in TIME_WAIT is skipped too
            except OSError:
                continue
        _ports = (low, width, offset + step + 1)
        return port
    raise RuntimeError("no free port in %d..%d" % (low, low + width - 1))


def server_env(extra=None):
    """Environment for a process that imports socketify: under ``make asan``
    the sanitizer runtime is preloaded there (and only there: curl and the
    other clients run without it). ``SOCKETIFY_TEST_INSTALLED=1`` leaves the
    source tree off the path, so the installed package is what runs
    (``make wheel-test``)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra or {}))
    source = None if TEST_INSTALLED else ROOT
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), source, os.path.join(HERE, "apps")) if p)
    preload = os.environ.get("SOCKETIFY_TEST_PRELOAD")
    if preload:
        env["LD_PRELOAD"] = preload
    if sys.implementation.name == "pypy":
        # PyPy frees body pieces at its next minor collection and lets young
        # large objects add up to a multiple of its nursery, which it sizes
        # from the CPU cache /proc/cpuinfo reports (480 MB on some VMs:
        # hundreds of MB of garbage between collections). A nursery of a real
        # cache's size makes the memory bounds the tests measure the server's,
        # not the VM's.
        env.setdefault("PYPY_GC_NURSERY", "4MB")
    return env


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Sends ``sig`` to a live ``proc``, waits up to ``timeout`` s, then kills
    it; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def wait_for_value(fn, predicate, timeout, interval=0.05):
    """Calls ``fn`` until ``predicate`` accepts its value (returned) or
    ``timeout`` s pass (AssertionError naming the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met: %r" % (value,))
        time.sleep(interval)


class Server:
    """A socketify program in a subprocess. The program prints
    ``PORT <n>`` once it listens (see ``listen_line`` in the apps)."""

    def __init__(self, script, args=(), env=None, cwd=None, ready_prefix="PORT "):
        self.script = script
        self.args = list(args)
        self.env = server_env(env)
        self.cwd = cwd or ROOT
        self.ready_prefix = ready_prefix
        self.proc = None
        self.port = None
        self._stderr_text = ""
        self.stdout_lines = []
        self.stderr_path = None

    def start(self, timeout=20.0):
        import tempfile

        err = tempfile.NamedTemporaryFile(prefix="socketify-test-", suffix=".err", delete=False)
        self.stderr_path = err.name
        self.proc = subprocess.Popen(
            [sys.executable, self.script] + self.args,
            stdout=subprocess.PIPE,
            stderr=err,
            env=self.env,
            cwd=self.cwd,
            text=True,
        )
        err.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.stdout_lines.append(line)
            if line.startswith(self.ready_prefix):
                self.port = int(line[len(self.ready_prefix) :].split()[0]) if self.ready_prefix == "PORT " else None
                return self
        self.stop()
        raise RuntimeError("server did not start:\n%s" % self.stderr())

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stderr(self):
        if self.stderr_path is None:
            return getattr(self, "_stderr_text", "")
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops the server by PID; returns its exit code. A sanitizer report
        in its stderr fails the test."""
        if self.proc is None:
            return None
        code = stop_process(self.proc, sig, timeout)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr_text = self.stderr()
        if self.stderr_path:
            os.unlink(self.stderr_path)
            self.stderr_path = None
        self.check_clean()
        return code

    def check_clean(self):
        text = self.stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, text


def write_app(tmp_path, source, name="app.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def server_certificate(directory, key_name="server.key", cert_name="server.pem"):
    """A certificate for 127.0.0.1 and localhost from a new trustme CA, its
    key and chain written into ``directory``; returns a client SSL context
    that trusts that CA. Skips where trustme is not installed."""
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(os.path.join(str(directory), key_name))
    cert.cert_chain_pems[0].write_to_path(os.path.join(str(directory), cert_name))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def write_encrypted_key(private_key_pem, path, passphrase):
    """The PEM private key, encrypted with ``passphrase`` (PKCS#8), into ``path``."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_key_pem, None)
    pathlib.Path(path).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )


@contextlib.contextmanager
def served(source):
    """A started Server running the program ``source``, for a module-scoped
    fixture (``with served(APP) as server: yield server``); stopped and
    checked on exit."""
    with tempfile.TemporaryDirectory() as directory:
        server = Server(write_app(pathlib.Path(directory), source)).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def serve(tmp_path):
    """serve(source_or_path, *args) -> a started Server; stopped and checked at teardown."""
    servers = []

    def start(source, *args, env=None, **kwargs):
        script = source if source.endswith(".py") and os.path.exists(source) else write_app(tmp_path, source)
        server = Server(script, args, env=env, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        server.check_clean()


def app_server(name, *args, env=None):
    """Body of a module-scoped fixture: runs tests/apps/<name> with args
    (and env added to its environment), yields the started Server, then
    stops it and checks its stderr."""
    server = Server(os.path.join(HERE, "apps", name), list(args), env=env).start()
    yield server
    server.stop()
    server.check_clean()


@pytest.fixture(scope="module")
def basic_server():
    """One shared server running tests/apps/basic_app.py for the module."""
    yield from app_server("basic_app.py")


def fetch(server, path, method="GET", **kwargs):
    """One request through aiohttp: (status, headers, body bytes)."""
    import asyncio

    import aiohttp

    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.request(method, server.url + path, **kwargs) as response:
                return response.status, response.headers, await response.read()

    return asyncio.run(go())


def fetch_json(server, path, method="GET", **kwargs):
    """Like fetch, with the body decoded as JSON: (status, value)."""
    import json

    status, _headers, body = fetch(server, path, method, **kwargs)
    return status, json.loads(body)


class RedisServer:
    """A real redis-server on a free 127.0.0.1 port, with no persistence,
    stopped by PID. ``restart()`` stops it and starts it again on the same
    port (for tests of reconnection)."""

    def __init__(self, binary, hosts=("127.0.0.1",)):
        self.binary = binary
        self.hosts = list(hosts)  # it binds them all and must answer on the first
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self, timeout=10.0):
        import socket

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind"]
            + self.hosts
            + ["--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self.proc.stderr.read().decode(errors="replace"))
            try:
                with socket.create_connection((self.hosts[0], self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer on port %d" % self.port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None:
            stop_process(self.proc, sig)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture
def redis_server():
    """A fresh redis-server for one test (installed by ``make test`` through
    tools/test_deps.sh; the test skips with the reason where it is missing)."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make test installs it through tools/test_deps.sh)")
    server = RedisServer(binary).start()
    yield server
    server.stop()


def ws_connect(uri, **kwargs):
    """websockets' sync client (``websockets.sync.client.connect``). On PyPy
    its keepalive thread is left out: that thread and ``close()`` both join
    the receiving thread, and two joiners race inside PyPy's Thread.join
    ("cannot release un-acquired lock", pypy/pypy#5079; seen with PyPy
    7.3.11, fixed in later releases). The tests are too short for a
    keepalive ping to matter."""
    import platform

    from websockets.sync.client import connect

    if platform.python_implementation() == "PyPy":
        kwargs["ping_interval"] = None
    return connect(uri, **kwargs)
