"""Instructions per request, counted by callgrind: the bench's repeatable figure.

Throughput on a shared 2-core VM swings by up to 30 % between runs; the
number of instructions a server executes per request does not (valgrind
counts the same total for the same binary and inputs). This runs a server
under ``valgrind --tool=callgrind``, warms it up, zeroes the counters
(``callgrind_control -z``), sends a fixed load, dumps the counters and divides
the server's user-space instructions (interpreter, cffi, native core, libc;
not the kernel) by the requests or messages served.

HTTP load comes from a small deterministic client here (N requests over C
connections, D pipelined per write, every response checked for its full
length); WebSocket load from bench/wsload.c, whose message count is used.

Python 3.9 compatible, standard library only.
"""

import os
import re
import selectors
import shutil
import socket
import subprocess
import time

WARMUP_REQUESTS = 3000


def available():
    """None when valgrind and callgrind_control are installed, else why not."""
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    return "not installed: " + ", ".join(missing) if missing else None


def _response_length(port, request):
    """Length of one full response (head and Content-Length body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("connection closed before the response head")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("connection closed inside the response body")
            body += chunk
        return len(head) + 4 + length


def http_load(port, path, total, depth, connections, method="GET", body=None):
    """Sends TOTAL requests (METHOD, with BODY when given) for PATH, DEPTH per
    write on each of CONNECTIONS connections, and reads every response in
    full (fixed-size responses). Raises OSError when a response is missing or
    has another size."""
    if body is None:
        request = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (method, path)).encode()
    else:
        request = (
            "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: %d\r\n\r\n" % (method, path, len(body))
        ).encode() + body
    size = _response_length(port, request)
    selector = selectors.DefaultSelector()
    remaining = total
    socks = []
    try:
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.setblocking(False)
            socks.append(sock)
            state = {"expect": 0, "got": 0}
            selector.register(sock, selectors.EVENT_READ, state)
            count = min(depth, remaining)
            if count:
                remaining -= count
                state["expect"] = count * size
                sock.sendall(request * count)
        busy = sum(1 for key in selector.get_map().values() if key.data["expect"])
        deadline = time.time() + 600
        while busy:
            events = selector.select(timeout=30)
            if not events or time.time() > deadline:
                raise OSError("the server stopped answering")
            for key, _ in events:
                state = key.data
                chunk = key.fileobj.recv(1 << 20)
                if not chunk:
                    raise OSError("the server closed a connection")
                state["got"] += len(chunk)
                if state["got"] > state["expect"]:
                    raise OSError("responses of different sizes")
                if state["got"] == state["expect"]:
                    count = min(depth, remaining)
                    remaining -= count
                    state["got"], state["expect"] = 0, count * size
                    if count:
                        key.fileobj.setblocking(True)
                        key.fileobj.sendall(request * count)
                        key.fileobj.setblocking(False)
                    else:
                        busy -= 1
    finally:
        for sock in socks:
            sock.close()
        selector.close()


def _total_instructions(path):
    with open(path) as handle:
        for line in handle:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise ValueError("no totals in %s" % path)


def _process_tree(pid):
    """PID and its descendants (servers such as granian serve from a child process)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def measure(cmd, cwd, port, ready, load, work_dir, env=None):
    """Instructions per unit of LOAD for the server CMD (listening on PORT).

    READY(proc) returns None once the server answers (or an error);
    LOAD(count_warmup) runs the load and returns the units served. Returns
    {"ir": total, "units": n, "per_unit": ir/n} or {"error": ...}. Every
    process of the server's tree is counted (callgrind follows children)."""
    os.makedirs(work_dir, exist_ok=True)
    for name in os.listdir(work_dir):
        if name.startswith("callgrind.out"):
            os.unlink(os.path.join(work_dir, name))
    out_pattern = os.path.join(work_dir, "callgrind.out.%p")
    log_path = os.path.join(work_dir, "server.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--trace-children=yes", "--callgrind-out-file=" + out_pattern] + cmd,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        error = ready(proc)
        if error:
            return {"error": error}
        load(True)
        pids = _process_tree(proc.pid)
        for pid in pids:
            subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True)
        units = load(False)
        for pid in pids:
            subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True)
        time.sleep(0.5)
        total = 0
        for pid in pids:
            dumps = sorted(
                (n for n in os.listdir(work_dir) if re.match(r"callgrind\.out\.%d\.\d+$" % pid, n)),
                key=lambda n: os.path.getmtime(os.path.join(work_dir, n)),
            )
            if dumps:
                total += _total_instructions(os.path.join(work_dir, dumps[-1]))
        if not total or not units:
            return {"error": "no callgrind dump or no load served"}
        return {"ir": total, "units": units, "per_unit": total / units}
    except (OSError, ValueError, subprocess.CalledProcessError) as error:
        return {"error": "%s: %s" % (type(error).__name__, error)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
