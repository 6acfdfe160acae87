"""Autobahn|Testsuite (``wstest -m fuzzingclient``) against two echo servers:
the native WebSocket API and the ASGI adapter, both with permessage-deflate.

    python tools/autobahn.py [native|asgi]   # installs the suite once, runs every case
    AUTOBAHN_CASES=13.3.*,9.1.1 python tools/autobahn.py   # a subset
    python tools/autobahn.py serve native|asgi PORT   # (used by the runner)

The suite is Python 2 only: pyenv's 2.7.18 installs ``autobahntestsuite``
with ``pip install --target build/autobahn/site`` and the runner adds that
folder with ``site.addsitedir``. One client per server, both at once;
reports go to build/autobahn/reports/<server>; the exit status is non-zero
when any case fails.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "autobahn")
SITE = os.path.join(WORK, "site")
REPORTS = os.path.join(WORK, "reports")
SUITE = "autobahntestsuite==0.8.2"
# Case 9.* sends messages up to 16 MiB; room for them in either direction.
LIMIT = 64 * 1024 * 1024
PASSING = ("OK", "NON-STRICT", "INFORMATIONAL")
# 13.3.* and 13.5.* offer permessage-deflate with server_max_window_bits=8:
# zlib has no 8-bit raw deflate window, so the core declines those offers
# (RFC 7692 lets a server decline) and the suite reports UNIMPLEMENTED.
DECLINED = ("UNIMPLEMENTED",)


def python2():
    """The Python 2.7 interpreter the suite needs (pyenv's 2.7.18 or python2 on PATH)."""
    candidates = [
        os.environ.get("AUTOBAHN_PYTHON2", ""),
        os.path.expanduser("~/.pyenv/versions/2.7.18/bin/python"),
        shutil.which("python2.7") or "",
        shutil.which("python2") or "",
    ]
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            return candidate
    raise SystemExit("autobahn: no Python 2.7 found (pyenv install 2.7.18, or set AUTOBAHN_PYTHON2)")


def install(py2):
    """pip install --target build/autobahn/site, once."""
    if os.path.exists(os.path.join(SITE, "autobahntestsuite")):
        return
    os.makedirs(WORK, exist_ok=True)
    subprocess.run([py2, "-m", "pip", "install", "-q", "--target", SITE, SUITE], check=True)


# -- the echo servers ----------------------------------------------------------------


def serve_native(port):
    from socketify import App, CompressOptions

    app = App()
    app.ws(
        "/*",
        {
            "compression": CompressOptions.SHARED_COMPRESSOR | CompressOptions.SHARED_DECOMPRESSOR,
            "max_payload_length": LIMIT,
            "max_backpressure": LIMIT,
            "idle_timeout": 60,
            "message": lambda ws, message, opcode: ws.send(message, opcode, compress=True),
        },
    )
    app.listen(port, lambda config: print("ready native %d" % config.port, flush=True))
    app.run()


def serve_asgi(port):
    from socketify import ASGI

    async def echo(scope, receive, send):
        if scope["type"] != "websocket":
            if scope["type"] == "lifespan":
                return
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            await send(dict(message, type="websocket.send"))

    options = {"compression": True, "max_payload_length": LIMIT, "max_backpressure": LIMIT, "idle_timeout": 60}
    ASGI(echo, websocket_options=options).listen(
        port, lambda config: print("ready asgi %d" % config.port, flush=True)
    ).run()


# -- the runner -----------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(kind, port):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "serve", kind, str(port)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        proc.kill()
        raise SystemExit("autobahn: the %s echo server did not start" % kind)
    return proc


def start_suite(py2, name, port):
    """One fuzzingclient per server, each with its reports in REPORTS/name:
    the client is single-threaded, so on two cores two of them at once take
    about the time of one."""
    outdir = os.path.join(REPORTS, name)
    spec = {
        "outdir": outdir,
        "servers": [{"agent": name, "url": "ws://127.0.0.1:%d" % port}],
        "cases": os.environ.get("AUTOBAHN_CASES", "*").split(","),
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }
    spec_path = os.path.join(WORK, "fuzzingclient-%s.json" % name)
    with open(spec_path, "w") as f:
        json.dump(spec, f, indent=2)
    runner = (
        "import site, sys; site.addsitedir(%r); "
        "sys.argv = ['wstest', '-m', 'fuzzingclient', '-s', %r]; "
        "from autobahntestsuite.wstest import run; run()"
    ) % (SITE, spec_path)
    return subprocess.Popen([py2, "-c", runner], cwd=WORK, stdout=subprocess.DEVNULL)


def check_reports(names):
    failures = 0
    for name in names:
        with open(os.path.join(REPORTS, name, "index.json")) as f:
            cases = json.load(f).get(name, {})
        declined = [case for case, r in cases.items() if r["behavior"] in DECLINED]
        bad = {
            case: (r["behavior"], r["behaviorClose"])
            for case, r in cases.items()
            if (r["behavior"] not in PASSING + DECLINED) or r["behaviorClose"] not in PASSING
        }
        print(
            "autobahn %-7s %d cases, %d failed, %d declined (8-bit deflate window)%s"
            % (name, len(cases), len(bad), len(declined), (": " + ", ".join(sorted(bad)[:20])) if bad else "")
        )
        failures += len(bad) + (0 if cases else 1)
    return failures


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        {"native": serve_native, "asgi": serve_asgi}[sys.argv[2]](int(sys.argv[3]))
        return
    py2 = python2()
    install(py2)
    shutil.rmtree(REPORTS, ignore_errors=True)
    kinds = sys.argv[1:] or ["native", "asgi"]
    procs, servers, clients = [], [], []
    try:
        for kind in kinds:
            port = free_port()
            procs.append(start(kind, port))
            servers.append((kind, port))
        clients.extend(start_suite(py2, kind, port) for kind, port in servers)
        for client in clients:
            if client.wait() != 0:
                raise SystemExit("autobahn: a fuzzingclient failed (exit status %d)" % client.returncode)
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    failures = check_reports(kinds)
    print("reports: %s" % ", ".join(os.path.join(REPORTS, kind, "index.html") for kind in kinds))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
