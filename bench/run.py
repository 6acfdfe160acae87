"""socketify benchmark suite: ours against socketify 0.0.31, uvicorn, granian
and the C ceiling, over loopback with wrk.

    make bench          # full: 3 runs of 5 s per scenario and server
    make bench-quick    # short: 1 run of 3 s
    python bench/run.py [--quick] [--scenarios a,b] [--servers x,y] [--setup-only]

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
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
APPS = os.path.join(BENCH, "apps")
VENVS = os.path.join(BENCH, ".venvs")
WORK = os.path.join(BENCH, ".work")
LOGS = os.path.join(WORK, "logs")
CEILING_BIN = os.path.join(WORK, "ceiling")

SERVER_CPU = "0"
CLIENT_CPU = "1"
CONNECTIONS = 64
WARMUP_SECONDS = 2
READY_TIMEOUT = 60.0
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
}

# Scenarios: name -> (method, path, wrk script and arguments, C ceiling serves it).
SCENARIOS = {
    "plaintext": ("GET", "/", [], True),
    "plaintext-pipelined": ("GET", "/", ["pipeline.lua", str(PIPELINE_DEPTH)], True),
    "json": ("GET", "/json", [], True),
    "params": ("GET", "/user/42/post/7?q=x", [], False),
    "post-echo": ("POST", "/echo", ["post.lua"], False),
}

SKIPPED = ["websocket", "asgi-adapter", "wsgi", "https", "extensions"]

# Summary targets: (label, kind, scenario, other server, threshold).
# kind "ratio": ours / other >= threshold on that scenario.
TARGETS = [
    ("plaintext: ours / reference", "plaintext", "reference", 1.25),
    ("json: ours / reference", "json", "reference", 1.25),
    ("pipelined: ours / reference", "plaintext-pipelined", "reference", 2.0),
    ("plaintext: ours / uvicorn", "plaintext", "uvicorn", 3.0),
    ("plaintext: ours / C ceiling", "plaintext", "ceiling", 0.5),
]


# ---------------------------------------------------------------- utilities

def log(message):
    """Progress on stdout, flushed at once (make shows it live)."""
    print(message, flush=True)


def run(cmd, **kwargs):
    """subprocess.run with text output captured; never raises on exit status."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs)


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
            return "venv creation failed: " + result.stdout[-500:]
    result = run([venv_python(name), "-m", "pip", "install", "-q",
                  "--disable-pip-version-check"] + requirements)
    if result.returncode != 0:
        return "pip install failed: " + result.stdout[-500:]
    with open(stamp, "w") as handle:
        handle.write(wanted + "\n")
    return None


def build_ceiling():
    """Compiles bench/ceiling.c with the native core when a source is newer
    than the binary. Returns None, or an error message."""
    sources = sorted(os.path.join("native", "src", f)
                     for f in os.listdir(os.path.join(ROOT, "native", "src")) if f.endswith(".c"))
    deps = [os.path.join(ROOT, p) for p in sources] + [
        os.path.join(BENCH, "ceiling.c"), os.path.join(ROOT, "native", "include", "socketify.h")]
    deps += [os.path.join(ROOT, "native", "src", f)
             for f in os.listdir(os.path.join(ROOT, "native", "src")) if f.endswith(".h")]
    if os.path.exists(CEILING_BIN):
        built = os.path.getmtime(CEILING_BIN)
        if all(os.path.getmtime(d) <= built for d in deps):
            return None
    cmd = [os.environ.get("CC", "cc"), "-O2", "-std=c11", "-Inative/include", "-Inative/src"]
    cmd += sources + ["bench/ceiling.c", "-lssl", "-lcrypto", "-lz", "-o", CEILING_BIN]
    result = run(cmd, cwd=ROOT)
    if result.returncode != 0:
        return "ceiling build failed: " + result.stdout[-1000:]
    return None


def setup():
    """System tools, peer venvs and the ceiling binary. Returns {server: error}
    for every server that cannot run."""
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
    return broken


# ------------------------------------------------------------------ servers

def server_command(server, port):
    """The command line that serves every scenario on PORT (unpinned)."""
    app = os.path.join(APPS, "socketify_app.py")
    if server == "ours":
        return [sys.executable, app, str(port)]
    if server == "reference":
        return [venv_python("reference"), app, str(port)]
    if server in ("uvicorn", "granian"):
        return [venv_python(server), os.path.join(APPS, "asgi_server.py"), server, str(port)]
    if server == "ceiling":
        return [CEILING_BIN, str(port)]
    raise ValueError(server)


def start_server(server, port, log_path):
    """Starts SERVER pinned to the server CPU, in its own process group."""
    cmd = ["taskset", "-c", SERVER_CPU] + server_command(server, port)
    handle = open(log_path, "w")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=APPS,
                            env=env, start_new_session=True)
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


def http_request(port, method, path, body=None, timeout=2.0):
    """(status, body) of one request over a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(proc, port):
    """Waits until GET / answers 200. Returns None, or an error message."""
    deadline = time.time() + READY_TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            return "exited with status %s before it was ready" % proc.returncode
        try:
            if http_request(port, "GET", "/", timeout=1.0)[0] == 200:
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
    try:
        if scenario == "plaintext-pipelined":
            got = pipelined_count(port, path, PIPELINE_DEPTH)
            return None if got == PIPELINE_DEPTH else "%d of %d pipelined responses" % (
                got, PIPELINE_DEPTH)
        body = ECHO_BODY if method == "POST" else None
        status, answer = http_request(port, method, path, body)
    except (OSError, http.client.HTTPException) as error:
        return "check request failed: %r" % error
    expected = {
        "plaintext": lambda b: b == b"Hello, World!",
        "json": lambda b: json.loads(b) == {"message": "Hello, World!"},
        "params": lambda b: b == b"user 42 post 7 q x",
        "post-echo": lambda b: b == ECHO_BODY,
    }[scenario]
    try:
        good = status == 200 and expected(answer)
    except ValueError:
        good = False
    return None if good else "unexpected answer: %s %r" % (status, answer[:80])


def process_tree(pid):
    """PID and all its descendants (from /proc/*/stat)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    stat = handle.read()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rfind(")") + 2:].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
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

def wrk(scenario, port, seconds):
    """One wrk run pinned to the client CPU; a dict of what it reported."""
    method, path, script = SCENARIOS[scenario][0], SCENARIOS[scenario][1], SCENARIOS[scenario][2]
    cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % seconds]
    if script:
        cmd += ["-s", os.path.join(BENCH, script[0])]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    if script[1:]:
        cmd += ["--"] + script[1:]
    result = run(cmd, timeout=seconds + 30)
    return parse_wrk(result.stdout)


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

def bench_one(server, scenario, runs, seconds):
    """Start, check, warm up, measure and stop one server for one scenario."""
    port = free_port()
    log_path = os.path.join(LOGS, "%s-%s.log" % (scenario, server))
    proc = start_server(server, port, log_path)
    try:
        error = wait_ready(proc, port) or check_scenario(scenario, port)
        if error:
            return {"status": "failed", "error": error, "log": os.path.relpath(log_path, ROOT)}
        wrk(scenario, port, WARMUP_SECONDS)
        samples = [wrk(scenario, port, seconds) for _ in range(runs)]
        alive = proc.poll() is None
        rss = rss_mib(proc.pid) if alive else None
    finally:
        stop_server(proc)
    rates = [s["rps"] for s in samples]
    return {
        "status": "ok" if alive else "failed",
        "error": None if alive else "server died during the runs",
        "runs": samples,
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "rss_mib": rss,
        "non_2xx": sum(s["non_2xx"] for s in samples),
        "socket_errors": sum(s["socket_errors"] for s in samples),
    }


def bench_all(scenarios, servers, broken, runs, seconds, on_scenario_done):
    """Every scenario for every server, one server process at a time."""
    results = {}
    for scenario in scenarios:
        results[scenario] = {}
        for server in servers:
            if server == "ceiling" and not SCENARIOS[scenario][3]:
                continue
            if server in broken:
                results[scenario][server] = {"status": "failed", "error": broken[server]}
            else:
                results[scenario][server] = bench_one(server, scenario, runs, seconds)
            log_result(scenario, server, results[scenario][server])
        on_scenario_done(results)
    return results


def log_result(scenario, server, result):
    """One progress line."""
    if result["status"] != "ok":
        log("  %-20s %-10s FAILED: %s" % (scenario, server, result["error"]))
    else:
        log("  %-20s %-10s %12.0f req/s  (min %.0f, max %.0f)  RSS %.1f MiB" % (
            scenario, server, result["median"], result["min"], result["max"], result["rss_mib"]))


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


def python_facts(python, packages):
    """'Python X.Y.Z; pkg A.B, ...' for one interpreter, or the error."""
    code = ("import platform, importlib.metadata as m\n"
            "out = ['Python ' + platform.python_version()]\n"
            "for p in %r:\n"
            "    try: out.append(p + ' ' + m.version(p))\n"
            "    except Exception: pass\n"
            "print(', '.join(out))" % (packages,))
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
        "wrk": wrk_version[0].strip() if wrk_version else "unknown",
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
    return "{:,.0f}".format(value)


def ratio(results, scenario, server, other):
    """median(server) / median(other) on SCENARIO, or None."""
    a = results.get(scenario, {}).get(server, {})
    b = results.get(scenario, {}).get(other, {})
    if a.get("status") != "ok" or b.get("status") != "ok" or not b.get("median"):
        return None
    return a["median"] / b["median"]


def fmt_ratio(value, percent=False):
    """'1.23x' or '45%' (or n/a)."""
    if value is None:
        return "n/a"
    return "%.0f%%" % (value * 100) if percent else "%.2fx" % value


def scenario_table(scenario, results):
    """Markdown table of one scenario."""
    lines = ["| server | median req/s | min | max | RSS MiB | vs reference | of C ceiling |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for server, result in results[scenario].items():
        label = SERVERS[server]
        if result["status"] != "ok":
            lines.append("| %s | failed | | | | | |" % label)
            notes.append("%s: %s" % (label, result["error"]))
            continue
        lines.append("| %s | %s | %s | %s | %.1f | %s | %s |" % (
            label, fmt_rate(result["median"]), fmt_rate(result["min"]), fmt_rate(result["max"]),
            result["rss_mib"], fmt_ratio(ratio(results, scenario, server, "reference")),
            fmt_ratio(ratio(results, scenario, server, "ceiling"), percent=True)))
        if result["non_2xx"] or result["socket_errors"]:
            notes.append("%s: %d non-2xx responses, %d socket errors" % (
                label, result["non_2xx"], result["socket_errors"]))
    return "\n".join(lines + [""] + ["- " + n for n in notes])


def summary_rows(results):
    """(label, value, target, verdict) for every target."""
    rows = []
    for label, scenario, other, threshold in TARGETS:
        value = ratio(results, scenario, "ours", other)
        percent = other == "ceiling"
        verdict = "n/a" if value is None else ("PASS" if value >= threshold else "MISS")
        target = (">= %.0f%%" % (threshold * 100)) if percent else (">= %.2fx" % threshold)
        rows.append((label, fmt_ratio(value, percent), target, verdict))
    return rows


def summary_table(results):
    """Markdown table of the targets."""
    lines = ["| target | measured | goal | verdict |", "|---|---:|---:|---|"]
    lines += ["| %s | %s | %s | %s |" % row for row in summary_rows(results)]
    return "\n".join(lines)


def render_report(facts, config, results):
    """The whole of RESULTS.md."""
    pythons = "\n".join("  - %s: %s" % (name, text) for name, text in facts["pythons"].items())
    out = [
        "# Benchmark results",
        "",
        "Generated by `bench/run.py%s` (do not edit by hand; raw numbers in `bench/results.json`)." % (
            " --quick" if config["quick"] else ""),
        "",
        "- date: %s" % facts["date"],
        "- commit: `%s`" % facts["commit"],
        "- machine: %s cores, %s, kernel %s" % (facts["cores"], facts["cpu"], facts["kernel"]),
        "- load generator: %s" % facts["wrk"],
        "- interpreters:",
        pythons,
        "",
        "Method: each server in its own process, one at a time, pinned to CPU %s; wrk pinned "
        "to CPU %s, `wrk -t1 -c%d -d%ds`, over 127.0.0.1. Per scenario and server: a %d s "
        "warm-up, then %d run(s); the median, min and max req/s are shown, RSS is VmRSS of the "
        "server process (and its children) after the runs. Every server answers one request "
        "checked by hand before wrk starts. \"vs reference\" is the ratio to socketify 0.0.31; "
        "\"of C ceiling\" is the fraction of `bench/ceiling.c` (the native core with C callbacks)." % (
            SERVER_CPU, CLIENT_CPU, CONNECTIONS, config["seconds"], WARMUP_SECONDS, config["runs"]),
        "",
        "## Summary",
        "",
        summary_table(results),
        "",
    ]
    for scenario in results:
        out += ["## %s" % scenario, "", scenario_description(scenario), "", scenario_table(scenario, results), ""]
    out += ["## Not built yet", ""]
    out += ["- %s: skipped: not built yet" % name for name in SKIPPED]
    return "\n".join(out).rstrip() + "\n"


def scenario_description(scenario):
    """One line on what the scenario sends."""
    return {
        "plaintext": "`GET /` -> `Hello, World!` (text/plain).",
        "plaintext-pipelined": "`GET /` pipelined %d deep (`bench/pipeline.lua`); each response counts." % PIPELINE_DEPTH,
        "json": "`GET /json` -> `{\"message\": \"Hello, World!\"}` (`res.send(dict)` / ASGI json).",
        "params": "`GET /user/42/post/7?q=x` on route `/user/:id/post/:post`: both parameters and the query arg read, short text answer. The C ceiling has no such route.",
        "post-echo": "`POST /echo` with a 4 KiB body echoed back (`await res.get_data()`; `bench/post.lua`). The C ceiling has no such route.",
    }[scenario]


def write_outputs(facts, config, results):
    """bench/results.json and bench/RESULTS.md."""
    with open(os.path.join(BENCH, "results.json"), "w") as handle:
        json.dump({"meta": facts, "config": config, "results": results}, handle, indent=2)
        handle.write("\n")
    with open(os.path.join(BENCH, "RESULTS.md"), "w") as handle:
        handle.write(render_report(facts, config, results))


# -------------------------------------------------------------------- main

def parse_args():
    """Command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s per scenario and server")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset")
    parser.add_argument("--setup-only", action="store_true", help="install and build, no runs")
    args = parser.parse_args()
    for value, known in ((args.scenarios, SCENARIOS), (args.servers, SERVERS)):
        unknown = set(value.split(",")) - set(known)
        if unknown:
            parser.error("unknown: %s" % ", ".join(sorted(unknown)))
    return args


def main():
    """Set up, run every scenario, write the report and print the summary."""
    args = parse_args()
    config = {"quick": args.quick, "runs": 1 if args.quick else 3, "seconds": 3 if args.quick else 5}
    broken = setup()
    if args.setup_only:
        return
    facts = machine_facts()
    scenarios = [s for s in SCENARIOS if s in args.scenarios.split(",")]
    servers = [s for s in SERVERS if s in args.servers.split(",")]
    log("benchmarking %s x %s: %d run(s) of %d s" % (
        len(scenarios), len(servers), config["runs"], config["seconds"]))
    results = bench_all(scenarios, servers, broken, config["runs"], config["seconds"],
                        lambda partial: write_outputs(facts, config, partial))
    write_outputs(facts, config, results)
    log("\n" + summary_table(results))
    log("\nwrote bench/RESULTS.md and bench/results.json")


if __name__ == "__main__":
    main()
