"""socketify benchmark suite: ours against socketify 0.0.31, uvicorn, granian
and the C ceiling, over loopback with wrk.

    make bench          # full: 3 runs of 5 s per scenario and server
    make bench-quick    # short: 1 run of 3 s
    python bench/run.py [--quick] [--runs N] [--scenarios a,b] [--servers x,y]
                        [--setup-only] [--no-instructions | --instructions-only]

HTTP scenarios are driven by wrk (over TLS for https-plaintext), WebSocket
scenarios by bench/wsload.c (our own generator, built into bench/.work).
Scenarios not run this time keep their previous results (from
bench/results.json), each marked with the date and commit it was measured at.

Our server runs under this interpreter (the project's ``.venv``); each peer
runs from its own venv under ``bench/.venvs/`` (created here, idempotently)
as a separate process. Servers run one at a time pinned to CPU 0, wrk pinned
to CPU 1. Writes ``bench/results.json`` (raw) and ``bench/RESULTS.md``.

Python 3.9 compatible, standard library only.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

import instructions

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
APPS = os.path.join(BENCH, "apps")
VENVS = os.path.join(BENCH, ".venvs")
WORK = os.path.join(BENCH, ".work")
LOGS = os.path.join(WORK, "logs")
CEILING_BIN = os.path.join(WORK, "ceiling")
WSLOAD_BIN = os.path.join(WORK, "wsload")
TLS_KEY = os.path.join(WORK, "key.pem")
TLS_CERT = os.path.join(WORK, "cert.pem")

SERVER_CPU = "0"
CLIENT_CPU = "1"
CONNECTIONS = 64
WARMUP_SECONDS = 2
READY_TIMEOUT = 60.0
QUIET_CORES = 0.15  # "idle enough" before a server starts
DISTURBED_CORES = 0.2  # a run during which others used more is tried again
WRK_BOUND_CORES = 0.95  # wrk at least this busy: the load generator was the limit
PIPELINE_DEPTH = 16
ECHO_BODY = b"0123456789abcdef" * 256  # the same 4 KiB as bench/post.lua

# Peer venvs: name -> pip requirements.
PEERS = {
    "reference": ["socketify==0.0.31"],
    "uvicorn": ["uvicorn[standard]"],
    "granian": ["granian[uvloop]"],
}

# Servers in table order: name -> label.
SERVERS = {
    "ours": "socketify (ours)",
    "reference": "socketify 0.0.31 (reference)",
    "uvicorn": "uvicorn (uvloop, httptools)",
    "granian": "granian (ASGI, uvloop)",
    "ceiling": "C ceiling (native core, no Python)",
    "ours-ext": "socketify (ours) + 3 extensions",
    "wsload-self": "wsload's own C server (generator ceiling)",
    "ours-wsgi": "socketify WSGI (ours)",
    "reference-wsgi": "socketify 0.0.31 WSGI (reference)",
    "granian-wsgi": "granian (WSGI)",
    "ours-2w": "socketify (ours), 2 workers (python -m socketify -w 2)",
    "ours-asgi-1w": "socketify (ours) ASGI, 1 worker (python -m socketify)",
    "ours-asgi-2w": "socketify (ours) ASGI, 2 workers",
    "uvicorn-2w": "uvicorn, 2 workers",
    "granian-2w": "granian, 2 workers",
    "ours-asgi": "socketify ASGI (ours)",
    "reference-asgi": "socketify 0.0.31 ASGI (reference)",
}
# Servers that run in another server's peer venv.
VENV_OF = {"reference-wsgi": "reference", "granian-wsgi": "granian"}

# Scenarios: name -> (method, path, wrk script and arguments, C ceiling serves it).
SCENARIOS = {
    "plaintext": ("GET", "/", [], True),
    "plaintext-pipelined": ("GET", "/", ["pipeline.lua", str(PIPELINE_DEPTH)], True),
    "json": ("GET", "/json", [], True),
    "params": ("GET", "/user/42/post/7?q=x", [], False),
    "post-echo": ("POST", "/echo", ["post.lua"], False),
    "async-sleep": ("GET", "/async", [], False),
    "ws-echo": ("WS", "/echo", ["-c", "64", "-k", "1"], True),
    "ws-echo-16": ("WS", "/echo", ["-c", "64", "-k", "16"], True),
    "pubsub-fanout": ("WS", "/pub", ["--pubsub", "--subs", "500", "--window", "16"], True),
    "pubsub-fanout-redis": ("WS", "/pub", ["--pubsub", "--subs", "500", "--window", "16", "--latency-at-half"], False),
    "https-plaintext": ("GET", "/", [], False),
    "extensions": ("GET", "/", [], False),
    "wsgi-plaintext": ("GET", "/", [], False),
    "plaintext-workers": ("GET", "/", [], False),
    # bench/apps/asgi_app.py served by each ASGI server
    "asgi-plaintext": ("GET", "/", [], False),
    "asgi-json": ("GET", "/json", [], False),
    "asgi-ws-echo": ("WS", "/echo", ["-c", "64", "-k", "1"], False),
}

WS_PAYLOAD = 20  # bytes per WebSocket message (wsload -s)
HTTP_SERVERS = ["ours", "reference", "uvicorn", "granian", "ceiling"]
WS_SERVERS = ["ours", "reference", "ceiling", "wsload-self"]
# Servers of each scenario (default HTTP_SERVERS), in table order.
SCENARIO_SERVERS = {
    "ws-echo": WS_SERVERS,
    "ws-echo-16": WS_SERVERS,
    "pubsub-fanout": WS_SERVERS,
    "pubsub-fanout-redis": ["ours"],
    "https-plaintext": ["ours", "reference"],
    "extensions": ["ours", "ours-ext"],
    "wsgi-plaintext": ["ours-wsgi", "reference-wsgi", "granian-wsgi"],
    "plaintext-workers": [
        "ours",
        "ours-2w",
        "ours-asgi-1w",
        "ours-asgi-2w",
        "uvicorn",
        "uvicorn-2w",
        "granian",
        "granian-2w",
    ],
    "asgi-plaintext": ["ours-asgi", "reference-asgi", "granian", "uvicorn"],
    "asgi-json": ["ours-asgi", "reference-asgi", "granian", "uvicorn"],
    "asgi-ws-echo": ["ours-asgi", "reference-asgi"],
}
# (server CPUs, client CPUs) where a scenario does not pin them apart: the
# workers rows let the server use every core, so wrk shares them (its share
# is in the "CPU wrk" column).
SCENARIO_CPUS = {"plaintext-workers": ("0,1", "0,1")}


def cpus(scenario):
    """(server CPUs, client CPUs) for taskset."""
    return SCENARIO_CPUS.get(scenario, (SERVER_CPU, CLIENT_CPU))


SKIPPED = []

# Instruction counts (callgrind, bench/instructions.py): scenario -> (the two
# servers compared, load). HTTP load: ("http", requests, pipelined depth,
# connections); WebSocket load: ("ws", seconds under callgrind).
INSTRUCTION_SCENARIOS = {
    "plaintext": (("ours", "reference"), ("http", 20000, 1, 32)),
    "plaintext-pipelined": (("ours", "reference"), ("http", 20000, PIPELINE_DEPTH, 16)),
    "json": (("ours", "reference"), ("http", 20000, 1, 32)),
    "params": (("ours", "reference"), ("http", 20000, 1, 32)),
    "ws-echo-16": (("ours", "reference"), ("ws", 10)),
    "extensions": (("ours", "ours-ext"), ("http", 20000, 1, 32)),
    "wsgi-plaintext": (("ours-wsgi", "granian-wsgi"), ("http", 20000, 1, 32)),
    "async-sleep": (("ours", "reference"), ("http", 20000, 1, 32)),
    "post-echo": (("ours", "reference"), ("http", 20000, 1, 32)),
    "asgi-plaintext": (("ours-asgi", "granian"), ("http", 20000, 1, 32)),
    "asgi-json": (("ours-asgi", "granian"), ("http", 20000, 1, 32)),
    "asgi-ws-echo": (("ours-asgi", "reference-asgi"), ("ws", 10)),
}

# Summary targets: (label, scenario, server, other server, threshold):
# median(server) / median(other) on that scenario must reach threshold
# (None: reported, no goal).
TARGETS = [
    ("plaintext: ours / reference", "plaintext", "ours", "reference", 1.25),
    ("json: ours / reference", "json", "ours", "reference", 1.25),
    ("pipelined: ours / reference", "plaintext-pipelined", "ours", "reference", 2.0),
    ("plaintext: ours / uvicorn", "plaintext", "ours", "uvicorn", 3.0),
    ("plaintext: ours / C ceiling", "plaintext", "ours", "ceiling", 0.5),
    ("ws-echo: ours / reference", "ws-echo", "ours", "reference", 1.25),
    ("ws-echo-16: ours / reference", "ws-echo-16", "ours", "reference", 2.0),
    ("pubsub-fanout: ours / reference", "pubsub-fanout", "ours", "reference", 1.0),
    ("https-plaintext: ours / reference", "https-plaintext", "ours", "reference", None),
    ("extensions: with 3 / without (ours)", "extensions", "ours-ext", "ours", 0.97),
    ("wsgi plaintext: ours / granian", "wsgi-plaintext", "ours-wsgi", "granian-wsgi", 1.5),
    ("wsgi plaintext: ours / reference", "wsgi-plaintext", "ours-wsgi", "reference-wsgi", None),
    ("2 workers: ours / granian (native API)", "plaintext-workers", "ours-2w", "granian-2w", 1.5),
    ("2 workers: ours ASGI / granian", "plaintext-workers", "ours-asgi-2w", "granian-2w", 1.25),
    ("ours: 2 workers / 1", "plaintext-workers", "ours-2w", "ours", None),
    ("ours ASGI: 2 workers / 1", "plaintext-workers", "ours-asgi-2w", "ours-asgi-1w", None),
    ("granian: 2 workers / 1", "plaintext-workers", "granian-2w", "granian", None),
    ("uvicorn: 2 workers / 1", "plaintext-workers", "uvicorn-2w", "uvicorn", None),
    # `other` as (scenario, server): compared with another scenario's figure.
    ("async-sleep: ours / our sync plaintext", "async-sleep", "ours", ("plaintext", "ours"), 0.6),
    ("async-sleep: ours / granian plaintext", "async-sleep", "ours", ("plaintext", "granian"), 1.5),
    ("post-echo: ours / uvicorn", "post-echo", "ours", "uvicorn", 2.0),
    ("post-echo: ours / granian", "post-echo", "ours", "granian", 2.0),
    ("asgi-plaintext: ours / granian", "asgi-plaintext", "ours-asgi", "granian", 1.5),
    ("asgi-json: ours / granian", "asgi-json", "ours-asgi", "granian", 1.5),
    ("asgi-plaintext: ours / reference ASGI", "asgi-plaintext", "ours-asgi", "reference-asgi", 2.0),
    ("asgi-json: ours / reference ASGI", "asgi-json", "ours-asgi", "reference-asgi", 2.0),
    ("asgi-ws-echo: ours / reference ASGI", "asgi-ws-echo", "ours-asgi", "reference-asgi", None),
]


def kind(scenario):
    """'ws' (wsload), 'https' (wrk over TLS) or 'http' (wrk)."""
    if SCENARIOS[scenario][0] == "WS":
        return "ws"
    return "https" if scenario == "https-plaintext" else "http"


def scenario_servers(scenario, selected):
    """The servers that run SCENARIO, among the SELECTED ones."""
    servers = SCENARIO_SERVERS.get(scenario, HTTP_SERVERS)
    return [s for s in servers if s in selected and (s != "ceiling" or SCENARIOS[scenario][3])]


# ---------------------------------------------------------------- utilities


def log(message):
    """Progress on stdout, flushed at once (make shows it live)."""
    print(message, flush=True)


def run(cmd, **kwargs):
    """subprocess.run with text output captured; never raises on exit status."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def one_line(text, limit=300):
    """TEXT on one line (first 'error' line first), at most LIMIT characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    joined = " | ".join(errors[:2] or lines[-2:])
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def last_line(path):
    """The last non-empty line of a log file, on one line."""
    with open(path, errors="replace") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    return one_line(lines[-1]) if lines else "(empty log)"


def venv_python(name):
    """The python of a peer venv."""
    return os.path.join(VENVS, name, "bin", "python")


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------- system and venvs

_apt_updated = False


def apt_install(packages):
    """apt-get install (after one apt-get update); False when it failed."""
    global _apt_updated
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        log("  cannot install %s: not root or no apt-get" % " ".join(packages))
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        run(["apt-get", "update", "-q"], env=env)
        _apt_updated = True
    result = run(["apt-get", "install", "-y", "-q"] + packages, env=env)
    if result.returncode != 0:
        log(result.stdout[-2000:])
    return result.returncode == 0


def has_libuv():
    """True when the dynamic loader knows libuv.so.1 (the reference needs it)."""
    result = run(["ldconfig", "-p"])
    return "libuv.so.1" in result.stdout


def ensure_system():
    """wrk, taskset and libuv1, installed with apt-get when missing."""
    if not shutil.which("wrk"):
        log("installing wrk")
        apt_install(["wrk"])
    if not shutil.which("taskset"):
        apt_install(["util-linux"])
    if not has_libuv():
        log("installing libuv1 (for socketify 0.0.31)")
        apt_install(["libuv1"])
    if instructions.available():
        log("installing valgrind (instruction counts)")
        apt_install(["valgrind"])
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench: wrk and taskset are needed")


def ensure_venv(name, requirements):
    """Creates bench/.venvs/NAME with REQUIREMENTS unless its stamp says it
    is there already. Returns None, or an error message."""
    path = os.path.join(VENVS, name)
    stamp = os.path.join(path, ".bench-stamp")
    wanted = " ".join(requirements)
    if os.path.exists(stamp) and os.path.exists(venv_python(name)):
        with open(stamp) as handle:
            if handle.read().strip() == wanted:
                return None
    log("setting up bench/.venvs/%s (%s)" % (name, wanted))
    if not os.path.exists(venv_python(name)):
        result = run([sys.executable, "-m", "venv", path])
        if result.returncode != 0:
            return "venv creation failed: " + one_line(result.stdout)
    result = run([venv_python(name), "-m", "pip", "install", "-q", "--disable-pip-version-check"] + requirements)
    if result.returncode != 0:
        return "pip install failed: " + one_line(result.stdout)
    with open(stamp, "w") as handle:
        handle.write(wanted + "\n")
    return None


def build_ceiling():
    """Compiles bench/ceiling.c with the native core when a source is newer
    than the binary. Returns None, or an error message."""
    sources = sorted(
        os.path.join("native", "src", f) for f in os.listdir(os.path.join(ROOT, "native", "src")) if f.endswith(".c")
    )
    deps = [os.path.join(ROOT, p) for p in sources] + [
        os.path.join(BENCH, "ceiling.c"),
        os.path.join(ROOT, "native", "include", "socketify.h"),
    ]
    deps += [
        os.path.join(ROOT, "native", "src", f)
        for f in os.listdir(os.path.join(ROOT, "native", "src"))
        if f.endswith(".h")
    ]
    if os.path.exists(CEILING_BIN):
        built = os.path.getmtime(CEILING_BIN)
        if all(os.path.getmtime(d) <= built for d in deps):
            return None
    cmd = [os.environ.get("CC", "cc"), "-O2", "-std=c11", "-Inative/include", "-Inative/src"]
    cmd += sources + ["bench/ceiling.c", "-lssl", "-lcrypto", "-lz", "-o", CEILING_BIN]
    result = run(cmd, cwd=ROOT)
    if result.returncode != 0:
        return "ceiling build failed: " + one_line(result.stdout)
    return None


def build_wsload():
    """Compiles bench/wsload.c when it is newer than the binary. None, or an error."""
    source = os.path.join(BENCH, "wsload.c")
    if os.path.exists(WSLOAD_BIN) and os.path.getmtime(source) <= os.path.getmtime(WSLOAD_BIN):
        return None
    result = run([os.environ.get("CC", "cc"), "-O2", "-std=c11", "-Wall", source, "-o", WSLOAD_BIN])
    if result.returncode != 0:
        return "wsload build failed: " + one_line(result.stdout)
    return None


def make_certificate():
    """A self-signed certificate for 127.0.0.1 (once). None, or an error."""
    if os.path.exists(TLS_KEY) and os.path.exists(TLS_CERT):
        return None
    if not shutil.which("openssl"):
        return "no openssl CLI to make a certificate"
    result = run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            TLS_KEY,
            "-out",
            TLS_CERT,
            "-days",
            "3650",
            "-subj",
            "/CN=127.0.0.1",
        ]
    )
    if result.returncode != 0:
        return "openssl req failed: " + one_line(result.stdout)
    return None


def setup():
    """System tools, peer venvs, the ceiling and wsload binaries and the TLS
    certificate. Returns {server: error} for every server that cannot run
    ("tool:ws" / "tool:https": every server of those scenarios)."""
    os.makedirs(LOGS, exist_ok=True)
    ensure_system()
    broken = {}
    for name, requirements in PEERS.items():
        error = ensure_venv(name, requirements)
        if error:
            broken[name] = error
            log("  %s: %s" % (name, error))
    error = build_ceiling()
    if error:
        broken["ceiling"] = error
        log("  " + error)
    for server, venv in VENV_OF.items():
        if venv in broken:
            broken[server] = broken[venv]
    for key, make in (("tool:ws", build_wsload), ("tool:https", make_certificate)):
        error = make()
        if error:
            broken[key] = error
            log("  " + error)
    return broken


# ------------------------------------------------------------------ servers


def server_command(server, port, scenario):
    """The command line that serves SCENARIO on PORT (unpinned)."""
    app, extra = os.path.join(APPS, "socketify_app.py"), []
    if scenario == "pubsub-fanout-redis":
        app = os.path.join(APPS, "socketify_ws_cluster.py")
    elif kind(scenario) == "ws":
        app = os.path.join(APPS, "socketify_ws_app.py")
    elif kind(scenario) == "https":
        extra = ["--tls", TLS_KEY, TLS_CERT]
    elif scenario == "extensions":
        app = os.path.join(APPS, "socketify_ext_app.py")
        extra = [] if server == "ours-ext" else ["--no-extensions"]
    if server == "ours-wsgi":
        return [sys.executable, os.path.join(APPS, "wsgi_app.py"), str(port)]
    if server == "reference-wsgi":
        return [venv_python("reference"), os.path.join(APPS, "wsgi_app.py"), str(port)]
    if server == "granian-wsgi":
        return [venv_python("granian"), os.path.join(APPS, "wsgi_granian.py"), str(port)]
    if server in ("ours", "ours-ext"):
        return [sys.executable, app, str(port)] + extra
    if server in ("ours-2w", "ours-asgi-1w", "ours-asgi-2w"):
        target = "socketify_cli_app:run" if server == "ours-2w" else "asgi_app:app"
        return [
            sys.executable,
            "-m",
            "socketify",
            target,
            "--port",
            str(port),
            "--workers",
            server[-2],
            "--lifespan",
            "off",
        ]
    if server in ("uvicorn-2w", "granian-2w"):
        return [venv_python(server[:-3]), os.path.join(APPS, "asgi_server.py"), server[:-3], str(port), "2"]
    if server == "reference":
        return [venv_python("reference"), app, str(port)] + extra
    if server == "wsload-self":
        return [WSLOAD_BIN, "--serve", str(port)]
    if server in ("uvicorn", "granian"):
        return [venv_python(server), os.path.join(APPS, "asgi_server.py"), server, str(port)]
    if server in ("ours-asgi", "reference-asgi"):
        python = sys.executable if server == "ours-asgi" else venv_python("reference")
        return [python, os.path.join(APPS, "asgi_server.py"), "socketify", str(port)]
    if server == "ceiling":
        return [CEILING_BIN, str(port)]
    raise ValueError(server)


def server_env():
    """The environment servers run in: unbuffered output, no PYTHONPATH (each
    interpreter finds its own packages)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    return env


def start_server(server, port, log_path, scenario):
    """Starts SERVER pinned to the server CPU, in its own process group."""
    cmd = ["taskset", "-c", cpus(scenario)[0]] + server_command(server, port, scenario)
    handle = open(log_path, "w")
    proc = subprocess.Popen(
        cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=APPS, env=server_env(), start_new_session=True
    )
    handle.close()
    return proc


def stop_server(proc):
    """SIGTERM to the server, then SIGKILL to its process group if needed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its group: granian's workers too
    except OSError:
        pass
    proc.wait()


def http_request(port, method, path, body=None, timeout=2.0, tls=False):
    """(status, body) of one request over a fresh connection (TLS: any
    certificate accepted)."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(proc, port, tls=False):
    """Waits until GET / answers 200. Returns None, or an error message."""
    deadline = time.time() + READY_TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            return "exited with status %s before it was ready" % proc.returncode
        try:
            if http_request(port, "GET", "/", timeout=1.0, tls=tls)[0] == 200:
                return None
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return "not ready after %.0f s" % READY_TIMEOUT


def pipelined_count(port, path, depth):
    """Sends DEPTH pipelined GETs in one write; the number of complete
    'Hello, World!' responses read back within 2 s."""
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode() * depth
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
        sock.sendall(request)
        try:
            while data.count(b"Hello, World!") < depth:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    return data.count(b"Hello, World!")


def check_scenario(scenario, port):
    """One request checked by hand before wrk runs. None, or what is wrong."""
    method, path = SCENARIOS[scenario][0], SCENARIOS[scenario][1]
    if kind(scenario) == "ws":
        return None  # wsload verifies every message, from the warm-up run on
    try:
        if scenario == "plaintext-pipelined":
            got = pipelined_count(port, path, PIPELINE_DEPTH)
            return None if got == PIPELINE_DEPTH else "%d of %d pipelined responses" % (got, PIPELINE_DEPTH)
        body = ECHO_BODY if method == "POST" else None
        status, answer = http_request(port, method, path, body, tls=kind(scenario) == "https")
    except (OSError, http.client.HTTPException) as error:
        return "check request failed: %r" % error
    expected = {
        "plaintext": lambda b: b == b"Hello, World!",
        "json": lambda b: json.loads(b) == {"message": "Hello, World!"},
        "params": lambda b: b == b"user 42 post 7 q x",
        "post-echo": lambda b: b == ECHO_BODY,
        "async-sleep": lambda b: b == b"Hello, World!",
        "https-plaintext": lambda b: b == b"Hello, World!",
        "extensions": lambda b: b == b"Hello, World!",
        "wsgi-plaintext": lambda b: b == b"Hello, World!",
        "plaintext-workers": lambda b: b == b"Hello, World!",
        "asgi-plaintext": lambda b: b == b"Hello, World!",
        "asgi-json": lambda b: json.loads(b) == {"message": "Hello, World!"},
    }[scenario]
    try:
        good = status == 200 and expected(answer)
    except ValueError:
        good = False
    return None if good else "unexpected answer: %s %r" % (status, answer[:80])


def process_table():
    """{pid: (parent pid, CPU ticks used)} of every process, from /proc/*/stat."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    stat = handle.read()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def process_tree(pid, table=None):
    """PID and all its descendants."""
    table = process_table() if table is None else table
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, (parent, _) in table.items() if parent in frontier]
        tree += frontier
    return tree


def rss_mib(pid):
    """VmRSS of the server process and its children, in MiB."""
    total_kib = 0
    for member in process_tree(pid):
        try:
            with open("/proc/%d/status" % member) as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
        except OSError:
            pass
    return round(total_kib / 1024.0, 1)


# --------------------------------------------------------------------- wrk


def cpu_snapshot(pid):
    """(busy ticks of all CPUs, ticks of the server tree, seconds of our
    waited-for children i.e. wrk) at this instant."""
    with open("/proc/stat") as handle:
        ticks = [int(n) for n in handle.readline().split()[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait (steal counts)
    table = process_table()
    server = sum(table[p][1] for p in process_tree(pid, table) if p in table)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, server, usage.ru_utime + usage.ru_stime


def machine_busy(seconds):
    """Cores in use over SECONDS (while no server runs: other processes)."""
    before = cpu_snapshot(os.getpid())
    time.sleep(seconds)
    return cpu_use(before, cpu_snapshot(os.getpid()), seconds)[2]


def wait_for_quiet(max_wait):
    """Waits up to MAX_WAIT seconds for the machine to be nearly idle (other
    sessions' builds and tests share it); returns the last reading."""
    deadline = time.time() + max_wait
    busy = machine_busy(0.5)
    while busy > QUIET_CORES and time.time() < deadline:
        busy = machine_busy(0.5)
    return busy


def cpu_use(before, after, elapsed):
    """(server, wrk, other) CPU over a run, in cores (0.25 = a quarter of one
    core). "other" is everything else: how noisy the machine was."""
    hz = float(os.sysconf("SC_CLK_TCK"))
    busy = (after[0] - before[0]) / hz
    server = (after[1] - before[1]) / hz
    load = after[2] - before[2]
    other = max(0.0, busy - server - load)
    return tuple(round(x / elapsed, 2) for x in (server, load, other))


def wrk(scenario, port, seconds, pid):
    """One wrk run pinned to the client CPU; a dict of what it reported and
    of the CPU the server, wrk and other processes used meanwhile."""
    _, path, script, _ = SCENARIOS[scenario]
    cmd = ["taskset", "-c", cpus(scenario)[1], "wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % seconds]
    if script:
        cmd += ["-s", os.path.join(BENCH, script[0])]
    cmd.append("%s://127.0.0.1:%d%s" % ("https" if kind(scenario) == "https" else "http", port, path))
    if script[1:]:
        cmd += ["--"] + script[1:]
    before, start = cpu_snapshot(pid), time.time()
    result = run(cmd, timeout=seconds + 30)
    elapsed, after = time.time() - start, cpu_snapshot(pid)
    report = parse_wrk(result.stdout)
    report["server_cpu"], report["wrk_cpu"], report["other_cpu"] = cpu_use(before, after, elapsed)
    return report


def wsload_command(scenario, port, seconds):
    """The wsload command line for SCENARIO (unpinned)."""
    cmd = [WSLOAD_BIN, "--port", str(port), "-d", str(seconds), "-s", str(WS_PAYLOAD)]
    if "--pubsub" not in SCENARIOS[scenario][2]:
        cmd += ["--path", SCENARIOS[scenario][1]]
    return cmd + SCENARIOS[scenario][2]


def wsload_fields(output):
    """The key=value fields of wsload's RESULT line ({} when there is none)."""
    match = re.search(r"^RESULT .*", output, re.M)
    return dict(f.split("=", 1) for f in match.group(0).split()[1:]) if match else {}


def wsload(scenario, port, seconds, pid):
    """One wsload run pinned to the client CPU, like wrk(); "error" is set
    when it failed (a verification failure included)."""
    cmd = ["taskset", "-c", CLIENT_CPU] + wsload_command(scenario, port, seconds)
    before, start = cpu_snapshot(pid), time.time()
    try:
        result = run(cmd, timeout=seconds + 60)
        output, status = result.stdout, result.returncode
    except subprocess.TimeoutExpired:
        output, status = "wsload timed out", -1
    elapsed, after = time.time() - start, cpu_snapshot(pid)
    fields = wsload_fields(output)
    report = {
        "rps": float(fields.get("rate", 0)),
        "requests": int(fields.get("messages", 0)),
        "non_2xx": 0,
        "socket_errors": 0,
        "error": None if status == 0 and fields else "wsload: " + one_line(output),
    }
    if "p99_us" in fields:  # pub/sub: publish-to-delivery latency
        report["p50_ms"] = float(fields["p50_us"]) / 1000
        report["p99_ms"] = float(fields["p99_us"]) / 1000
    report["server_cpu"], report["wrk_cpu"], report["other_cpu"] = cpu_use(before, after, elapsed)
    return report


def load(scenario, port, seconds, pid):
    """wrk or wsload, as the scenario needs."""
    return (wsload if kind(scenario) == "ws" else wrk)(scenario, port, seconds, pid)


def parse_wrk(output):
    """Requests/sec, request count, non-2xx responses and socket errors."""

    def number(pattern):
        match = re.search(pattern, output)
        return float(match.group(1)) if match else 0.0

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "requests": int(number(r"(\d+) requests in")),
        "non_2xx": int(number(r"Non-2xx or 3xx responses: (\d+)")),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


# ---------------------------------------------------------------- one bench


def bench_once(server, scenario, seconds, quiet_wait):
    """Wait for a quiet machine, start, check, warm up, one measured run,
    RSS, stop: one server, one scenario, one round. Returns (wrk sample with
    "rss_mib", None) or (None, error)."""
    wait_for_quiet(quiet_wait)
    port = free_port()
    log_path = os.path.join(LOGS, "%s-%s.log" % (scenario, server))
    proc = start_server(server, port, log_path, scenario)
    try:
        error = wait_ready(proc, port, kind(scenario) == "https") or check_scenario(scenario, port)
        if error:
            return None, "%s: %s (log: %s)" % (error, last_line(log_path), os.path.relpath(log_path, ROOT))
        warm = load(scenario, port, WARMUP_SECONDS, proc.pid)
        if warm.get("error"):
            return None, "warm-up: %s (log: %s)" % (warm["error"], os.path.relpath(log_path, ROOT))
        sample = load(scenario, port, seconds, proc.pid)
        error = sample.pop("error", None)
        if error:
            return None, "run: %s (log: %s)" % (error, os.path.relpath(log_path, ROOT))
        if proc.poll() is not None:
            return None, "server died during the run (log: %s)" % os.path.relpath(log_path, ROOT)
        sample["rss_mib"] = rss_mib(proc.pid)
        return sample, None
    finally:
        stop_server(proc)


def summarize(samples, error):
    """The result of one server on one scenario from its rounds."""
    if error or not samples:
        return {"status": "failed", "error": error or "no run", "runs": samples}
    rates = [s["rps"] for s in samples]
    return {
        "status": "ok",
        "error": None,
        "runs": samples,
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "rss_mib": samples[-1]["rss_mib"],
        "non_2xx": sum(s["non_2xx"] for s in samples),
        "socket_errors": sum(s["socket_errors"] for s in samples),
        "other_cpu": max(s["other_cpu"] for s in samples),
        "server_cpu": statistics.median(s["server_cpu"] for s in samples),
        "wrk_cpu": statistics.median(s["wrk_cpu"] for s in samples),
    }


def bench_undisturbed(server, scenario, seconds, quiet_wait, retries):
    """bench_once, tried again (up to RETRIES times) while other processes
    used more than DISTURBED_CORES during the run; the least disturbed
    sample is kept, with the number of retries it took."""
    best = None
    for attempt in range(retries + 1):
        sample, error = bench_once(server, scenario, seconds, quiet_wait)
        if error:
            return None, error
        sample["retries"] = attempt
        if best is None or sample["other_cpu"] < best["other_cpu"]:
            best = sample
        if sample["other_cpu"] <= DISTURBED_CORES or attempt == retries:
            break
        log("  %-20s %-10s disturbed (other CPU %.2f), again" % (scenario, server, sample["other_cpu"]))
    return best, None


def bench_scenario(scenario, servers, broken, runs, seconds, quiet_wait, retries):
    """RUNS rounds over the servers (each round restarts each server), so
    that a burst of load from elsewhere on the machine spreads over all
    servers instead of landing on one server's runs."""
    servers = scenario_servers(scenario, servers)
    samples = {server: [] for server in servers}
    errors = {server: broken.get("tool:" + kind(scenario)) or broken.get(server) for server in servers}
    for round_number in range(1, runs + 1):
        # Every other round runs the servers in reverse: whatever drifts with
        # time or follows from the previous server (caches, CPU frequency,
        # TCP state) favours no server.
        for server in servers if round_number % 2 else list(reversed(servers)):
            if errors[server]:
                continue
            sample, errors[server] = bench_undisturbed(server, scenario, seconds, quiet_wait, retries)
            if sample:
                samples[server].append(sample)
                log(
                    "  %-20s %-10s run %d/%d %10.0f %s  CPU server %.2f client %.2f other %.2f"
                    % (
                        scenario,
                        server,
                        round_number,
                        runs,
                        sample["rps"],
                        "msg/s" if kind(scenario) == "ws" else "req/s",
                        sample["server_cpu"],
                        sample["wrk_cpu"],
                        sample["other_cpu"],
                    )
                )
    results = {server: summarize(samples[server], errors[server]) for server in servers}
    for server in servers:
        log_result(scenario, server, results[server])
    return results


def count_instructions(server, scenario, quick):
    """Instructions per request (or message) of SERVER on SCENARIO, under
    callgrind: {"per_unit", "ir", "units"} or {"error"}."""
    load_kind = INSTRUCTION_SCENARIOS[scenario][1]
    port = free_port()
    work_dir = os.path.join(WORK, "callgrind")

    def ready(proc):
        return wait_ready(proc, port)

    if load_kind[0] == "http":
        _, total, depth, connections = load_kind
        method, path = SCENARIOS[scenario][0], SCENARIOS[scenario][1]
        body = ECHO_BODY if method == "POST" else None
        total = total // 4 if quick else total

        def load_fn(warmup):
            count = instructions.WARMUP_REQUESTS if warmup else total
            instructions.http_load(port, path, count, depth, connections, method, body)
            return count
    else:
        seconds = load_kind[1] // 2 if quick else load_kind[1]

        def load_fn(warmup):
            result = run(wsload_command(scenario, port, 2 if warmup else seconds), timeout=seconds + 120)
            fields = wsload_fields(result.stdout)
            if result.returncode != 0 or fields.get("errors") != "0":
                raise OSError("wsload: " + one_line(result.stdout))
            return int(fields["messages"])

    return instructions.measure(
        server_command(server, port, scenario), APPS, port, ready, load_fn, work_dir, env=server_env()
    )


def instruction_counts(scenarios, broken, quick, servers=None):
    """{scenario: {server: count}} for the selected scenarios that have an
    instruction comparison (only the SERVERS selected, when given)."""
    unavailable = instructions.available()
    counts = {}
    for scenario in scenarios:
        if scenario not in INSTRUCTION_SCENARIOS:
            continue
        counts[scenario] = {}
        for server in INSTRUCTION_SCENARIOS[scenario][0]:
            if servers is not None and server not in servers:
                continue
            error = unavailable or broken.get(server) or (broken.get("tool:ws") if kind(scenario) == "ws" else None)
            result = {"error": error} if error else count_instructions(server, scenario, quick)
            counts[scenario][server] = result
            if "error" in result:
                log("  instructions %-20s %-10s FAILED: %s" % (scenario, server, result["error"]))
            else:
                log(
                    "  instructions %-20s %-10s %8.0f per %s"
                    % (scenario, server, result["per_unit"], "message" if kind(scenario) == "ws" else "request")
                )
    return counts


def bench_all(scenarios, servers, broken, config, on_scenario_done):
    """Every scenario for every server, one server process at a time."""
    results = {}
    for scenario in scenarios:
        results[scenario] = bench_scenario(
            scenario, servers, broken, config["runs"], config["seconds"], config["quiet_wait"], config["retries"]
        )
        on_scenario_done(results)
    return results


def log_result(scenario, server, result):
    """One progress line per server and scenario."""
    if result["status"] != "ok":
        log("= %-20s %-10s FAILED: %s" % (scenario, server, result["error"]))
    else:
        log(
            "= %-20s %-10s %10.0f %s  (min %.0f, max %.0f)  RSS %.1f MiB"
            % (
                scenario,
                server,
                result["median"],
                "msg/s" if kind(scenario) == "ws" else "req/s",
                result["min"],
                result["max"],
                result["rss_mib"],
            )
        )


# ----------------------------------------------------------- machine facts


def git_commit():
    """Short HEAD commit, with '+dirty' when tracked files differ from it."""
    head = run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).stdout.strip() or "unknown"
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT).stdout.strip()
    return head + ("+dirty" if dirty else "")


def cpu_model():
    """The 'model name' of /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    """The 1-minute load average (other engineers' builds and tests show here)."""
    with open("/proc/loadavg") as handle:
        return float(handle.read().split()[0])


def python_facts(python, packages):
    """'Python X.Y.Z; pkg A.B, ...' for one interpreter, or the error."""
    code = (
        "import platform, importlib.metadata as m\n"
        "out = ['Python ' + platform.python_version()]\n"
        "for p in %r:\n"
        "    try: out.append(p + ' ' + m.version(p))\n"
        "    except Exception: pass\n"
        "print(', '.join(out))" % (packages,)
    )
    result = run([python, "-c", code])
    return result.stdout.strip() if result.returncode == 0 else "unavailable"


def machine_facts():
    """Date, commit, machine and interpreter facts for the report header."""
    wrk_version = run(["wrk", "-v"]).stdout.splitlines()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "wrk": wrk_version[0].split(" Copyright")[0].strip() if wrk_version else "unknown",
        "load_start": load_average(),
        "load_end": None,
        "pythons": {
            "ours": python_facts(sys.executable, ["cffi"]),
            "reference": python_facts(venv_python("reference"), ["socketify"]),
            "uvicorn": python_facts(venv_python("uvicorn"), ["uvicorn", "uvloop", "httptools"]),
            "granian": python_facts(venv_python("granian"), ["granian"]),
        },
    }


# ------------------------------------------------------------------ report


def fmt_rate(value):
    """Requests per second with thousands separators."""
    return f"{value:,.0f}"


def ratio(results, scenario, server, other):
    """median(server) / median(other) on SCENARIO (OTHER may be a
    (scenario, server) pair), or None."""
    other_scenario = scenario
    if isinstance(other, tuple):
        other_scenario, other = other
    a = results.get(scenario, {}).get(server, {})
    b = results.get(other_scenario, {}).get(other, {})
    if a.get("status") != "ok" or b.get("status") != "ok" or not b.get("median"):
        return None
    return a["median"] / b["median"]


def fmt_ratio(value, percent=False):
    """'1.23x' or '45%' (or n/a)."""
    if value is None:
        return "n/a"
    return "%.0f%%" % (value * 100) if percent else "%.2fx" % value


def scenario_table(scenario, results):
    """Markdown table of one scenario, with notes on failures and errors."""
    ws = kind(scenario) == "ws"
    client = "wsload" if ws else "wrk"
    unit = "deliveries/s" if scenario.startswith("pubsub-fanout") else ("msg/s" if ws else "req/s")
    lines = [
        "| server | median %s | min | max | RSS MiB | vs reference | of C ceiling "
        "| CPU server / %s | other CPU |" % (unit, client),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for server, result in results[scenario].items():
        label = SERVERS[server]
        if result["status"] != "ok":
            lines.append("| %s | failed | | | | | | | |" % label)
            notes.append("%s failed: %s" % (label, result["error"]))
            continue
        lines.append(
            "| %s | %s | %s | %s | %.1f | %s | %s | %.2f / %.2f | %.2f |"
            % (
                label,
                fmt_rate(result["median"]),
                fmt_rate(result["min"]),
                fmt_rate(result["max"]),
                result["rss_mib"],
                fmt_ratio(ratio(results, scenario, server, "reference")),
                fmt_ratio(ratio(results, scenario, server, "ceiling"), percent=True),
                result["server_cpu"],
                result["wrk_cpu"],
                result["other_cpu"],
            )
        )
        if result["wrk_cpu"] >= WRK_BOUND_CORES:
            notes.append(
                "%s: %s used %.2f of its core: client-bound, the server can do more"
                % (label, client, result["wrk_cpu"])
            )
        if result["non_2xx"] or result["socket_errors"]:
            notes.append(
                "%s: %d non-2xx responses, %d socket errors" % (label, result["non_2xx"], result["socket_errors"])
            )
    return "\n".join(lines + ([""] + ["- " + n for n in notes] if notes else []))


def summary_rows(results):
    """(label, value, target, verdict) for every target."""
    rows = []
    for label, scenario, server, other, threshold in TARGETS:
        value = ratio(results, scenario, server, other)
        percent = other == "ceiling"
        if threshold is None:
            rows.append((label, fmt_ratio(value, percent), "(reported)", "-"))
            continue
        verdict = "n/a" if value is None else ("PASS" if value >= threshold else "MISS")
        target = (">= %.0f%%" % (threshold * 100)) if percent else (">= %.2fx" % threshold)
        rows.append((label, fmt_ratio(value, percent), target, verdict))
    return rows


def summary_table(results):
    """Markdown table of the targets, with a note when the C ceiling it is
    measured against was held back by wrk."""
    lines = ["| target | measured | goal | verdict |", "|---|---:|---:|---|"]
    lines += ["| %s | %s | %s | %s |" % row for row in summary_rows(results)]
    bound = [
        scenario
        for scenario in results
        if kind(scenario) == "http" and results[scenario].get("ceiling", {}).get("wrk_cpu", 0) >= WRK_BOUND_CORES
    ]
    if bound:
        lines += [
            "",
            "The C ceiling was client-bound (wrk used its whole core) in: %s; there "
            "the fraction of the ceiling is an upper bound. Pipelined, where wrk is not "
            "the limit, ours reaches %s of the ceiling."
            % (", ".join(bound), fmt_ratio(ratio(results, "plaintext-pipelined", "ours", "ceiling"), True)),
        ]
    return "\n".join(lines)


METHOD = """Method: one server process at a time, pinned to CPU %s; wrk pinned to CPU %s,
`wrk -t1 -c%d -d%ds`, over 127.0.0.1. Each scenario runs in %d round(s); in
each round every server is started afresh (after waiting up to %d s for the
machine to be nearly idle), answers one request checked by hand, gets a %d s
wrk warm-up, one measured wrk run, its RSS read (VmRSS of the process and its
children) and is stopped. A run during which other processes used more than
%.1f core is done again (up to %d times; the least disturbed one is kept).
Rounds spread each server's runs over time, so a burst of load from other
processes lands on every server alike; every other round runs the servers in
reverse order, so no server always follows the same one.

Shown: median, min and max req/s over the rounds; RSS after the last round;
"vs reference" = median / median of socketify 0.0.31; "of C ceiling" = median /
median of `bench/ceiling.c` (the native core with C callbacks, no Python);
"CPU server / wrk" = the cores each used during a run (median): wrk near 1.00
with the server below it means the single wrk thread, not the server, was the
limit; "other CPU" = the most CPU that processes other than the server and wrk
used during one of its kept runs: above ~0.2 that run was disturbed (this
machine is shared with other sessions' builds and tests).

Apps: `bench/apps/socketify_app.py` (ours and the reference run the same file),
`bench/apps/asgi_app.py` (raw ASGI) served by `bench/apps/asgi_server.py`
(uvicorn: uvloop + httptools; granian: one worker, one runtime thread, uvloop).
The socketify plaintext handler writes `Content-Type: text/plain` then calls
`res.end()`, as the ceiling does with `sk_res_write_header` + `sk_res_end`. The
echo handler keeps each pending Response in a set while `get_data()` runs:
without that socketify 0.0.31 aborts under concurrent POSTs
(`ffi.from_handle() ... points to garbage` in its on_data handler); ours runs the
same code.

WebSocket scenarios (`ws-echo`, `ws-echo-16`, `pubsub-fanout`) are driven by
`bench/wsload.c`, our own single-threaded epoll generator (pinned to CPU %s
like wrk; the warm-up run is also its first check), against
`bench/apps/socketify_ws_app.py` (ours and the reference run the same file;
the C ceiling is `bench/ceiling.c`'s WebSocket routes). Every connection
does the HTTP upgrade (the Sec-WebSocket-Accept is checked), then sends
masked text frames of %d bytes; every echo is compared byte for byte with
what that connection sent, in order. Pub/sub: one publisher on `/pub` (the
app publishes each of its messages to topic "bench" with `app.publish`), 500
subscribers on `/sub` (subscribed in `open`, which then sends "subscribed":
the start barrier); the publisher keeps 16 messages in flight (a message
counts as done once all 500 subscribers have it), each subscriber checks it
gets every sequence number in order with the exact payload; the rate is
deliveries/s summed over the subscribers. "wsload's own C server" is
`wsload --serve`, a trivial epoll WebSocket server inside the generator:
what the generator can drive on this machine. uvicorn and granian are not
run for WebSockets (this suite compares the socketify API only there).

`https-plaintext`: the plaintext app with `App(AppOptions(key_file_name=...,
cert_file_name=...))` (a self-signed RSA-2048 certificate made once with the
`openssl` CLI in `bench/.work`), wrk over https (keep-alive: the handshake
cost is not measured, the record layer is). `extensions`: ours only,
`bench/apps/socketify_ext_app.py` with three extensions registered (each two
request methods, two response methods, one property on each; the handler
answers through one of them, `res.plain`) against the same app with none
registered (the handler makes the same two calls itself)."""


def measured_line(meta):
    """When, at which commit and how a scenario was measured."""
    if not meta:
        return "Measured: unknown."
    return "Measured: %s, commit `%s`, %d run(s) of %d s%s." % (
        meta["date"],
        meta["commit"],
        meta["runs"],
        meta["seconds"],
        " (--quick)" if meta.get("quick") else "",
    )


def scenario_note(scenario, results):
    """A line under some tables (the ratio the scenario is about)."""
    if scenario == "extensions":
        return "With 3 extensions / without: %s." % fmt_ratio(ratio(results, "extensions", "ours-ext", "ours"))
    if scenario == "pubsub-fanout-redis":
        return redis_fanout_note(results)
    if kind(scenario) == "ws":
        self_rate = results[scenario].get("wsload-self", {})
        if self_rate.get("status") != "ok":
            return None
        parts = []
        for names, what in ((("ours", "reference"), "the best Python server"), (("ceiling",), "the C ceiling")):
            rates = [
                results[scenario][n]["median"] for n in names if results[scenario].get(n, {}).get("status") == "ok"
            ]
            if rates:
                parts.append("%s %s" % (fmt_ratio(self_rate["median"] / max(rates)), what))
        return "Generator headroom: wsload drove its own server at %s." % " and ".join(parts)
    return None


def redis_fanout_note(results):
    """Two workers through Redis next to one process: rate ratio and latency."""
    ours = results["pubsub-fanout-redis"].get("ours", {})
    if ours.get("status") != "ok":
        return None
    latency = [(r["p50_ms"], r["p99_ms"]) for r in ours["runs"] if "p99_ms" in r]
    single = results.get("pubsub-fanout", {}).get("ours", {})
    parts = []
    if single.get("status") == "ok":
        parts.append(
            "%s of one process's deliveries/s (target >= 50%%)"
            % fmt_ratio(ours["median"] / single["median"], percent=True)
        )
    if latency:
        parts.append(
            "publish-to-delivery latency p50 %.2f ms, p99 %.2f ms at half that rate "
            "(median over runs; target p99 < 5 ms)"
            % (statistics.median(pair[0] for pair in latency), statistics.median(pair[1] for pair in latency))
        )
    return "Two workers through Redis: %s." % "; ".join(parts) if parts else None


def instruction_table(counts):
    """The callgrind section of RESULTS.md."""
    lines = [
        "## Instructions per request (callgrind)",
        "",
        "Throughput on this shared VM moves by up to 30 % from run to run; instruction",
        "counts do not. `bench/instructions.py` runs each server under `valgrind",
        "--tool=callgrind`, warms it up, zeroes the counters, sends a fixed load",
        "(HTTP: 20,000 requests from a checking client, 32 connections, or 16 pipelined",
        "on 16; WebSocket: wsload, 64 connections, 16 messages in flight, for 10 s)",
        "and divides the server's user-space instructions (interpreter, cffi, core,",
        "libc; the kernel's share is not counted) by the requests or messages served.",
        '"Fewer" = the other server\'s count / ours: how many times fewer instructions',
        "ours executes (for extensions: without / with, so 1.00x means free).",
        "",
        "| scenario | ours | other | other's count | fewer | measured |",
        "|---|---:|---|---:|---:|---|",
    ]
    for scenario, entry in counts.items():
        first, second = INSTRUCTION_SCENARIOS[scenario][0]
        servers = entry["servers"]
        if scenario == "extensions":
            first, second = second, first  # ours with extensions, against without
        mine, other = servers.get(first, {}), servers.get(second, {})

        def cell(result):
            return (
                "{:,.0f}".format(result["per_unit"])
                if "per_unit" in result
                else ("failed: " + result.get("error", "not run"))
            )

        fewer = (
            "%.2fx" % (other["per_unit"] / mine["per_unit"]) if "per_unit" in mine and "per_unit" in other else "n/a"
        )
        lines.append(
            "| %s | %s | %s | %s | %s | %s, `%s`%s |"
            % (
                scenario,
                cell(mine),
                SERVERS[second],
                cell(other),
                fewer,
                entry["date"],
                entry["commit"],
                " (quick)" if entry.get("quick") else "",
            )
        )
    return "\n".join(lines)


def render_report(facts, config, results, scenario_meta, counts=None):
    """The whole of RESULTS.md."""
    pythons = "\n".join("  - %s: %s" % (name, text) for name, text in facts["pythons"].items())
    out = [
        "# Benchmark results",
        "",
        "Generated by `bench/run.py%s` (do not edit by hand; raw numbers in `bench/results.json`)."
        % (" --quick" if config["quick"] else ""),
        "",
        "- date: %s" % facts["date"],
        "- commit: `%s`" % facts["commit"],
        "- machine: %s cores, %s, kernel %s" % (facts["cores"], facts["cpu"], facts["kernel"]),
        "- load generator: %s" % facts["wrk"],
        "- load average (1 min) at start / end: %s / %s" % (facts["load_start"], facts["load_end"]),
        "- interpreters:",
        pythons,
        "",
        METHOD
        % (
            SERVER_CPU,
            CLIENT_CPU,
            CONNECTIONS,
            config["seconds"],
            config["runs"],
            config["quiet_wait"],
            WARMUP_SECONDS,
            DISTURBED_CORES,
            config["retries"],
            CLIENT_CPU,
            WS_PAYLOAD,
        ),
        "",
        "Scenarios not rerun by the last invocation keep their earlier results; each "
        "section says when and at which commit it was measured.",
        "",
        "## Summary",
        "",
        summary_table(results),
        "",
    ]
    if counts:
        out += [instruction_table(counts), ""]
    for scenario in results:
        out += [
            "## %s" % scenario,
            "",
            scenario_description(scenario),
            "",
            measured_line(scenario_meta.get(scenario)),
            "",
            scenario_table(scenario, results),
            "",
        ]
        extra = scenario_note(scenario, results)
        if extra:
            out += [extra, ""]
    out += ["## Not built yet", ""]
    out += ["- %s: skipped: not built yet" % name for name in SKIPPED]
    return "\n".join(out).rstrip() + "\n"


def scenario_description(scenario):
    """One line on what the scenario sends."""
    return {
        "ws-echo": "64 WebSocket connections on `/echo`, 1 message of %d bytes in flight each; echoed messages/s. uvicorn and granian: not run for WebSockets."
        % WS_PAYLOAD,
        "ws-echo-16": "64 WebSocket connections on `/echo`, 16 messages of %d bytes in flight each; echoed messages/s. uvicorn and granian: not run for WebSockets."
        % WS_PAYLOAD,
        "pubsub-fanout": '1 publisher, 500 subscribers on topic "bench", 16 messages of %d bytes in flight; deliveries/s over all subscribers, order checked. uvicorn and granian: not run for WebSockets.'
        % WS_PAYLOAD,
        "pubsub-fanout-redis": "`pubsub-fanout` across two worker processes on one port (`bench/apps/socketify_ws_cluster.py`: SO_REUSEPORT splits the 500 subscribers, the publisher lands on one), every publish carried to the other worker by a local redis-server through `RedisBackplane`; deliveries/s over all subscribers, order checked; then as long again at half the publish rate for the publish-to-delivery latency p50/p99 (`wsload --latency-at-half`; the single-threaded generator's own reading of 500 sockets is inside that figure).",
        "https-plaintext": "`GET /` -> `Hello, World!` over TLS (wrk over https, keep-alive; self-signed RSA-2048 certificate). socketify-API servers only.",
        "extensions": "`GET /` -> `Hello, World!`: ours with three extensions registered (the handler calls the extension method `res.plain`) against ours without (`--no-extensions`). The reference has no `app.register`.",
        "plaintext": "`GET /` -> `Hello, World!` (text/plain).",
        "plaintext-pipelined": "`GET /` pipelined %d deep (`bench/pipeline.lua`); each response counts."
        % PIPELINE_DEPTH,
        "json": '`GET /json` -> `{"message": "Hello, World!"}` (`res.send(dict)` / ASGI json).',
        "params": "`GET /user/42/post/7?q=x` on route `/user/:id/post/:post`: both parameters and the query arg read, short text answer. The C ceiling has no such route.",
        "plaintext-workers": "`GET /` -> `Hello, World!` with 1 and 2 worker processes; server and wrk share both CPUs (wrk's share in the CPU column). Ours with 2 workers: `python -m socketify -w 2` on `bench/apps/socketify_cli_app.py` (native API) or `asgi_app.py` (our ASGI adapter); uvicorn and granian with `workers=2`.",
        "post-echo": "`POST /echo` with a 4 KiB body echoed back (`await res.get_data()`; `bench/post.lua`). The C ceiling has no such route.",
        "wsgi-plaintext": "`GET /` -> `Hello, World!` from a framework-free WSGI app (`bench/apps/wsgi_app.py`): our `WSGI` (default thread pool), socketify 0.0.31's `WSGI`, granian `--interface wsgi` (one worker, one runtime thread).",
        "async-sleep": "`GET /async` -> `Hello, World!` from an `async def` handler that first does `await asyncio.sleep(0)` (ASGI: the same await before the response). The C ceiling has no such route.",
        "asgi-plaintext": "`GET /` -> `Hello, World!` from the raw ASGI app `bench/apps/asgi_app.py`, served by each ASGI server (`bench/apps/asgi_server.py`).",
        "asgi-json": '`GET /json` -> `{"message": "Hello, World!"}` from the raw ASGI app `bench/apps/asgi_app.py`.',
        "asgi-ws-echo": "64 WebSocket connections on `/echo` of the raw ASGI app, 1 message of %d bytes in flight each; echoed messages/s. uvicorn and granian run without WebSockets here."
        % WS_PAYLOAD,
    }[scenario]


def load_previous():
    """(results, scenario_meta, instruction counts) of bench/results.json, or empty ones. Older
    files without per-scenario metadata get their run's date and commit."""
    try:
        with open(os.path.join(BENCH, "results.json")) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}, {}, {}
    results = {s: r for s, r in data.get("results", {}).items() if s in SCENARIOS}
    counts = {s: c for s, c in data.get("instructions", {}).items() if s in INSTRUCTION_SCENARIOS}
    meta, config = data.get("meta", {}), data.get("config", {})
    fallback = {
        "date": meta.get("date", "unknown"),
        "commit": meta.get("commit", "unknown"),
        "runs": config.get("runs", 0),
        "seconds": config.get("seconds", 0),
        "quick": config.get("quick", False),
    }
    scenario_meta = data.get("scenario_meta", {})
    return results, {s: scenario_meta.get(s, fallback) for s in results}, counts


def write_outputs(facts, config, results, previous, counts=None):
    """bench/results.json and bench/RESULTS.md (the load average now is the
    end load): this run's scenarios, plus the PREVIOUS (results,
    scenario_meta) of the scenarios not rerun, in SCENARIOS order."""
    facts["load_end"] = load_average()
    old_results, old_meta, old_counts = previous
    this = {
        "date": facts["date"],
        "commit": facts["commit"],
        "runs": config["runs"],
        "seconds": config["seconds"],
        "quick": config["quick"],
    }
    merged_counts = {}
    for scenario in INSTRUCTION_SCENARIOS:
        if counts and scenario in counts:
            merged_counts[scenario] = {
                "date": facts["date"],
                "commit": facts["commit"],
                "quick": config["quick"],
                "servers": counts[scenario],
            }
        elif scenario in old_counts:
            merged_counts[scenario] = old_counts[scenario]
    merged, scenario_meta = {}, {}
    for scenario in SCENARIOS:
        if scenario in results:
            merged[scenario], scenario_meta[scenario] = results[scenario], this
        elif scenario in old_results:
            merged[scenario], scenario_meta[scenario] = old_results[scenario], old_meta[scenario]
    with open(os.path.join(BENCH, "results.json"), "w") as handle:
        json.dump(
            {
                "meta": facts,
                "config": config,
                "scenario_meta": scenario_meta,
                "results": merged,
                "instructions": merged_counts,
            },
            handle,
            indent=2,
        )
        handle.write("\n")
    with open(os.path.join(BENCH, "RESULTS.md"), "w") as handle:
        handle.write(render_report(facts, config, merged, scenario_meta, merged_counts))
    return merged


# -------------------------------------------------------------------- main


def parse_args():
    """Command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s per scenario and server")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset")
    parser.add_argument("--setup-only", action="store_true", help="install and build, no runs")
    parser.add_argument("--runs", type=int, default=None, help="rounds per scenario (default 3; 1 with --quick)")
    parser.add_argument("--no-instructions", action="store_true", help="skip the callgrind instruction counts")
    parser.add_argument(
        "--instructions-only", action="store_true", help="only the callgrind instruction counts (no timed runs)"
    )
    args = parser.parse_args()
    for value, known in ((args.scenarios, SCENARIOS), (args.servers, SERVERS)):
        unknown = set(value.split(",")) - set(known)
        if unknown:
            parser.error("unknown: %s" % ", ".join(sorted(unknown)))
    return args


def main():
    """Set up, run every scenario, write the report and print the summary."""
    args = parse_args()
    runs = args.runs if args.runs else (1 if args.quick else 3)
    config = {
        "quick": args.quick,
        "runs": runs,
        "seconds": 3 if args.quick else 5,
        "quiet_wait": 1 if args.quick else 5,
        "retries": 1 if args.quick else 2,
    }
    broken = setup()
    if args.setup_only:
        return
    facts = machine_facts()
    scenarios = [s for s in SCENARIOS if s in args.scenarios.split(",")]
    servers = [s for s in SERVERS if s in args.servers.split(",")]
    log("benchmarking %s x %s: %d run(s) of %d s" % (len(scenarios), len(servers), config["runs"], config["seconds"]))
    previous = load_previous()
    if args.instructions_only:
        scenarios_timed = []
    else:
        scenarios_timed = scenarios
    results = bench_all(
        scenarios_timed, servers, broken, config, lambda partial: write_outputs(facts, config, partial, previous)
    )
    counts = None
    if not args.no_instructions:
        log("counting instructions per request (callgrind)")
        counts = instruction_counts(scenarios, broken, args.quick, servers)
    merged = write_outputs(facts, config, results, previous, counts)
    log("\n" + summary_table(merged))
    log("\nwrote bench/RESULTS.md and bench/results.json")


if __name__ == "__main__":
    main()
