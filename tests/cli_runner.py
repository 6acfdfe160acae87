"""Runs ``python -m socketify`` as a subprocess for the CLI tests."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from conftest import free_port, server_env, stop_process


def write_module(directory, name, source):
    """Writes ``name``.py into ``directory`` (a pathlib.Path)."""
    path = directory / (name + ".py")
    path.write_text(textwrap.dedent(source))
    return str(path)


class Cli:
    """``python -m socketify ARGS`` in ``cwd``; ``start()`` waits for the
    listening line (or, with ``wait_port``, for the port to answer)."""

    def __init__(self, cwd, *args, env=None):
        self.cwd = str(cwd)
        self.args = [str(a) for a in args]
        self.env = server_env(env)
        self.proc = None
        self.stdout_lines = []
        self._err = None

    def start(self, timeout=30.0, wait_port=None):
        self._err = tempfile.NamedTemporaryFile(prefix="socketify-cli-", suffix=".err", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "socketify"] + self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
        )
        deadline = time.monotonic() + timeout
        if wait_port is not None:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", wait_port), timeout=1).close()
                    return self
                except OSError:
                    time.sleep(0.05)
        else:
            while time.monotonic() < deadline:
                line = self.proc.stdout.readline()
                if not line:
                    break
                self.stdout_lines.append(line)
                if line.startswith("Listening on"):
                    return self
        self.stop(signal.SIGKILL)
        raise RuntimeError("the CLI did not start:\n%s" % self.stderr())

    def stderr(self):
        if self._err is None:
            return ""
        with open(self._err.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def children(self):
        """PIDs of the supervisor's live child processes."""
        return children_of(self.proc.pid)

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Signals the CLI and waits; returns its exit code."""
        if self.proc is None:
            return None
        stop_process(self.proc, sig, timeout)
        if self.proc.stdout and not self.proc.stdout.closed:
            self.stdout_lines += self.proc.stdout.readlines()
            self.proc.stdout.close()
        return self.proc.returncode

    def cleanup(self):
        """Kills the CLI if it still runs, and every worker it had (never one
        left behind, even when a test failed), and removes its stderr file."""
        if self.proc is not None and self.proc.poll() is None:
            pids = self.children()
            self.stop(signal.SIGKILL)
            for pid in pids:
                if alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass  # it exited meanwhile
        if self._err is not None:
            try:
                os.unlink(self._err.name)
            except OSError:
                pass


@pytest.fixture
def cli(appdir):
    """``start(*args, env=None, cwd=None, **start_kwargs)``: a started Cli in
    the test module's ``appdir`` (or ``cwd``); each is cleaned up after the test.
    A test module imports this fixture and defines ``appdir``."""
    started = []

    def start(*args, env=None, cwd=None, **kwargs):
        runner = Cli(cwd or appdir, *args, env=env)
        started.append(runner)
        return runner.start(**kwargs)

    yield start
    for runner in started:
        runner.cleanup()


def run_cli(cwd, *args, env=None, timeout=30.0):
    """Runs the CLI to its end: (exit code, stdout, stderr). Without a port
    of its own (--port or SOCKETIFY_PORT in ``env``) it gets a free one: the
    CLI binds before it loads the app, and the default 8000 may be another's."""
    env = dict(env or {})
    env.setdefault("SOCKETIFY_PORT", str(free_port()))
    proc = subprocess.run(
        [sys.executable, "-m", "socketify"] + [str(a) for a in args],
        cwd=str(cwd),
        env=server_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def children_of(pid):
    """Live (not zombie) processes whose parent is ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def alive(pid):
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def unix_get(path):
    """The raw response to ``GET /`` over the Unix socket at ``path``."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Polls ``predicate`` until it is truthy; returns its value or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
