"""python -m socketify --workers N: the supervisor, its signals, and --reload."""

import os
import signal
import socket
import threading
import time

import pytest
import requests

from cli_runner import alive, children_of, cli, run_cli, unix_get, wait_for, write_module  # noqa: F401 (cli: the fixture)
from conftest import free_port

APP = """
import asyncio, os
from socketify import App

app = App()

@app.get("/")
def home(res, req):
    res.end(str(os.getpid()))

@app.get("/slow")
async def slow(res, req):
    await asyncio.sleep(1.5)
    res.end("slow %d" % os.getpid())

@app.get("/slower")
async def slower(res, req):
    await asyncio.sleep(20)
    res.end("slower %d" % os.getpid())
"""


@pytest.fixture
def appdir(tmp_path):
    write_module(tmp_path, "webapp", APP)
    return tmp_path


def get(port, path="/", timeout=10):
    return requests.get("http://127.0.0.1:%d%s" % (port, path), timeout=timeout, headers={"Connection": "close"})


def pids_seen(port, count):
    return {int(get(port).text) for _ in range(count)}


def assert_all_gone(pids):
    assert wait_for(lambda: not any(alive(pid) for pid in pids), 10), [p for p in pids if alive(p)]


class Load:
    """Threads sending requests on new connections; each result is
    (start time, end time, pid or None for a failure)."""

    def __init__(self, port, threads=6, path="/"):
        self.port = port
        self.path = path
        self.results = []
        self.errors = []
        self.running = True
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        while self.running:
            started = time.monotonic()
            try:
                response = get(self.port, self.path)
                pid = int(response.text.split()[-1]) if response.status_code == 200 else None
            except requests.RequestException as error:
                pid = None
                self.errors.append(repr(error))
            self.results.append((started, time.monotonic(), pid))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join(15)

    def failures(self):
        return [r for r in self.results if r[2] is None]


def test_requests_spread_over_four_workers_and_nothing_is_left(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "4")
    assert server.stdout_lines[-1].strip() == "Listening on http://127.0.0.1:%d now (4 workers)" % port
    workers = server.children()
    assert len(workers) == 4
    seen = set()
    wait_for(lambda: seen.update(pids_seen(port, 20)) or seen == set(workers), 20)
    assert seen == set(workers)
    assert server.stop() == 0
    assert_all_gone(workers)


def test_a_killed_worker_is_replaced_and_only_its_requests_fail(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "4")
    workers = server.children()
    threads = 6
    with Load(port, threads) as load:
        time.sleep(1.0)
        victim = workers[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        replacement = wait_for(lambda: [p for p in server.children() if p not in workers], 5)
        assert replacement, "no new worker within 5 s"
        replaced_in = time.monotonic() - killed_at
        new_pid = replacement[0]
        served_at = wait_for(lambda: next((r[1] for r in load.results if r[2] == new_pid), None), 10)
        assert served_at, "the new worker never answered"
        time.sleep(1.0)
    assert replaced_in < 3.0
    failures = load.failures()
    # Only requests the dead worker held: at most one per client thread, all
    # started before the kill (or in the instant it took the kernel to notice).
    assert len(failures) <= threads, failures
    assert all(started < killed_at + 0.5 for started, _, _ in failures), (killed_at, failures)
    assert not [r for r in load.results if r[0] >= served_at and r[2] is None]
    assert len([r for r in load.results if r[0] > served_at]) > 10  # the load went on
    all_pids = server.children()
    assert server.stop() == 0
    assert_all_gone(all_pids + workers)


def test_sigterm_finishes_every_request_in_flight(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "4")
    workers = server.children()
    results = []
    fast = Load(port, 4).__enter__()  # quick requests all along

    def slow():
        try:
            results.append(get(port, "/slow").text)
        except requests.RequestException as error:
            results.append(error)

    threads = [threading.Thread(target=slow) for _ in range(12)]
    for thread in threads:
        thread.start()
    time.sleep(0.7)  # every request has arrived and sleeps in its handler
    stopped_at = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    fast.__exit__()
    # A request sent before the signal (by a safe margin: it has arrived) is answered.
    early = [r for r in fast.results if r[0] < stopped_at - 0.05]
    assert len(early) > 20 and all(r[2] is not None for r in early), fast.errors
    with pytest.raises(requests.ConnectionError):  # no longer accepting
        get(port, timeout=2)
    for thread in threads:
        thread.join(15)
    assert len(results) == 12
    assert all(isinstance(r, str) and r.startswith("slow ") for r in results), results
    assert server.proc.wait(15) == 0
    assert_all_gone(workers)


def _request_cut_short(port):
    """(thread, outcome list): a /slower request (20 s) in a thread; the
    outcome says whether the server cut it, for the test's own thread to assert."""
    outcome = []

    def request():
        try:
            get(port, "/slower", timeout=30)
            outcome.append("answered")
        except requests.RequestException:
            outcome.append("cut")

    thread = threading.Thread(target=request)
    thread.start()
    time.sleep(0.5)
    return thread, outcome


def test_graceful_timeout_bounds_the_wait(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "2", "--timeout-graceful-shutdown", "0.3")
    workers = server.children()
    thread, outcome = _request_cut_short(port)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(15)
    assert time.monotonic() - started < 10  # the 0.3 s grace, not the 20 s the request wanted
    thread.join(10)
    assert outcome == ["cut"]
    assert_all_gone(workers)


def test_second_sigint_kills_at_once(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "2")
    workers = server.children()
    thread, outcome = _request_cut_short(port)
    server.proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(15)
    assert time.monotonic() - started < 10  # not the 20 s request nor the 30 s grace period
    thread.join(10)
    assert outcome == ["cut"]
    assert_all_gone(workers)


def test_workers_do_not_outlive_a_killed_supervisor(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "3")
    workers = server.children()
    assert len(workers) == 3
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(5)
    assert_all_gone(workers)


def test_sighup_replaces_every_worker_without_a_failure(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "2")
    old = server.children()
    with Load(port, 4) as load:
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGHUP)
        new = wait_for(
            lambda: (lambda now: now if len(now) == 2 and not set(now) & set(old) else None)(server.children()), 20
        )
        assert new, server.stderr()
        time.sleep(0.5)
    assert not load.failures(), (load.failures(), load.errors)
    assert {r[2] for r in load.results[-20:]} <= set(new)
    assert server.stop() == 0
    assert_all_gone(old + new)


def test_sigttin_and_sigttou_change_the_worker_count(cli):
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "2")
    server.proc.send_signal(signal.SIGTTIN)
    assert wait_for(lambda: len(server.children()) == 3, 10)
    three = server.children()
    server.proc.send_signal(signal.SIGTTOU)
    assert wait_for(lambda: len(server.children()) == 2, 10)
    assert wait_for(lambda: pids_seen(port, 12) <= set(server.children()), 5)
    assert server.stop() == 0
    assert_all_gone(three)


def test_sigttou_serves_every_connection_waiting_for_the_removed_worker(cli):
    # The removed worker's socket closes for good: what waits in its accept
    # queue must be accepted and answered first, not reset by the kernel.
    port = free_port()
    server = cli("webapp:app", "--port", port, "-w", "2")
    two = server.children()
    assert len(two) == 2
    with Load(port, 12) as load:
        assert wait_for(lambda: {r[2] for r in load.results} >= set(two), 20), load.errors
        server.proc.send_signal(signal.SIGTTOU)
        assert wait_for(lambda: len(server.children()) == 1, 20), server.stderr()
        (left,) = server.children()
        # Past the removal: answers come from the remaining worker alone.
        seen = len(load.results)
        assert wait_for(lambda: len(load.results) > seen + 50, 20), load.errors
    assert not load.failures(), (len(load.failures()), len(load.results), load.errors[:5])
    removed = set(two) - {left}
    assert any(r[2] in removed for r in load.results)
    assert {r[2] for r in load.results[-20:]} == {left}
    assert server.stop() == 0
    assert_all_gone(two)


def test_a_worker_that_cannot_start_stops_everything(appdir):
    write_module(
        appdir,
        "crashing",
        """
        raise RuntimeError("cannot start: no database")
    """,
    )
    started = time.monotonic()
    code, out, err = run_cli(appdir, "crashing:app", "-w", "3", "--port", free_port())
    assert code == 1
    assert time.monotonic() - started < 15
    assert err.strip().splitlines()[-1].startswith("socketify: error: cannot import 'crashing'")
    assert err.count("Traceback") == 1  # one worker said it, once: no restart loop


def test_busy_port_with_workers(appdir):
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    try:
        code, out, err = run_cli(appdir, "webapp:app", "-w", "2", "--port", port)
    finally:
        holder.close()
    assert code == 1 and err.strip().splitlines()[-1].startswith("socketify: error: port %d" % port)


def test_unix_socket_shared_by_workers(cli, tmp_path):
    path = str(tmp_path / "w.sock")
    server = cli("webapp:app", "--uds", path, "-w", "3")
    workers = server.children()

    def ask():
        data = unix_get(path)
        return int(data.split(b"\r\n\r\n", 1)[1])

    seen = set()
    assert wait_for(lambda: seen.add(ask()) or len(seen) >= 2, 20), seen
    assert seen <= set(workers)
    assert server.stop() == 0
    assert not os.path.exists(path)
    assert_all_gone(workers)


# -- --reload -----------------------------------------------------------------


def test_reload_picks_up_an_edit_and_survives_a_syntax_error(cli, tmp_path):
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    module = code_dir / "live.py"
    template = """
from socketify import App
app = App()
app.get("/", lambda res, req: res.end(%r))
"""
    module.write_text(template % "version 1")
    port = free_port()
    server = cli("live:app", "--port", port, "--reload", "--app-dir", str(code_dir))

    def answers(text):
        try:
            return get(port, timeout=2).text == text
        except requests.RequestException:
            return False

    assert answers("version 1")
    module.write_text(template % "version 2")
    # promptly: a new worker (a fresh Python importing the app) within 10 s, loaded CI included
    assert wait_for(lambda: answers("version 2"), 10)
    module.write_text("from socketify import App\napp = App(\n")  # a syntax error
    assert wait_for(lambda: "SyntaxError" in server.stderr(), 10)
    assert server.proc.poll() is None  # the supervisor waits for the next change
    assert answers("version 2")  # the running workers keep serving meanwhile
    module.write_text(template % "version 3")
    assert wait_for(lambda: answers("version 3"), 10)
    workers = server.children()
    assert server.stop() == 0
    assert_all_gone(workers)


def test_reload_include_and_exclude(cli, tmp_path):
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "settings.txt").write_text("one")
    (code_dir / "notes.py").write_text("# not watched\n")
    (code_dir / "live.py").write_text(
        "import pathlib\nfrom socketify import App\napp = App()\n"
        "text = (pathlib.Path(__file__).parent / 'settings.txt').read_text()\n"
        "app.get('/', lambda res, req: res.end(text))\n"
    )
    port = free_port()
    server = cli(
        "live:app",
        "--port",
        port,
        "--reload",
        "--app-dir",
        str(code_dir),
        "--reload-dir",
        str(code_dir),
        "--reload-include",
        "*.txt",
        "--reload-exclude",
        "notes.py",
    )
    first = server.children()
    (code_dir / "notes.py").write_text("# still not watched\n")
    time.sleep(1.0)
    assert server.children() == first
    (code_dir / "settings.txt").write_text("two")
    assert wait_for(lambda: get(port).text == "two", 10)


def test_sigterm_closes_websockets_with_1001_and_runs_the_shutdown_hooks(cli, appdir, tmp_path):
    marker = tmp_path / "hooks"
    marker.mkdir()
    write_module(
        appdir,
        "hooked",
        """
        import os
        from socketify import App

        def run(app):
            app.get("/", lambda res, req: res.end("ok"))
            app.ws("/ws", {"message": lambda ws, message, opcode: ws.send(message, opcode)})
            @app.on_shutdown
            def done():
                open(os.path.join(%r, str(os.getpid())), "w").close()
    """
        % str(marker),
    )
    port = free_port()
    server = cli("hooked:run", "--port", port, "-w", "2")
    workers = server.children()
    import websocket

    ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % port, timeout=10)
    ws.send("hi")
    assert ws.recv() == "hi"
    assert server.stop() == 0
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(frame.data[:2], "big") == 1001
    assert sorted(int(name) for name in os.listdir(marker)) == sorted(workers)
    assert_all_gone(workers)


def test_run_app_workers_for_the_adapters(serve):
    """The entry point ASGI.run(workers=N) / WSGI.run(workers=N) use: the
    workers' own listen(port) gets the socket the supervisor bound."""
    port = free_port()
    server = serve(
        """
        import os, sys
        from socketify import App
        from socketify.workers import run_app_workers

        port = int(sys.argv[1])

        def worker():
            app = App()
            app.get("/", lambda res, req: res.end(str(os.getpid())))
            app.listen(port)
            app.run()

        sys.exit(run_app_workers(port, worker, 2, on_ready=lambda n: print("PORT %d" % port, flush=True)))
    """,
        str(port),
    )
    workers = children_of(server.proc.pid)
    assert len(workers) == 2
    seen = set()
    assert wait_for(lambda: seen.update(pids_seen(port, 10)) or seen == set(workers), 20), seen
    assert server.stop() == 0
    assert_all_gone(workers)


def test_a_worker_that_keeps_dying_is_restarted_with_growing_delays(cli, appdir):
    write_module(
        appdir,
        "dying",
        """
        import os
        from socketify import App
        app = App()
        app.get("/", lambda res, req: res.end(str(os.getpid())))
        app.get("/die", lambda res, req: os._exit(1))
    """,
    )
    port = free_port()
    server = cli("dying:app", "--port", port, "-w", "2")
    for _ in range(3):
        before = set(server.children())
        with pytest.raises(requests.RequestException):
            get(port, "/die")
        assert wait_for(lambda before=before: len(server.children()) == 2 and set(server.children()) != before, 10)
    # the supervisor's lines reach its stderr file on their own schedule
    assert wait_for(lambda: server.stderr().count("died (exit 1)") == 3, 10), server.stderr()
    log = server.stderr()
    assert "starting a new one in 0.1 s" in log and "starting a new one in 0.2 s" in log
    assert get(port).ok
    workers = server.children()
    assert server.stop() == 0
    assert_all_gone(workers)


def test_a_worker_failing_to_start_after_a_good_start_is_retried(cli, appdir):
    """Only a program that never started stops the supervisor: a worker that
    cannot start later (its database is down a moment) is tried again while
    the others serve."""
    flag = appdir / "broken"
    write_module(
        appdir,
        "flaky",
        """
        import os
        from socketify import App
        if os.path.exists(%r):
            raise RuntimeError("cannot start: the database is down")
        app = App()
        app.get("/", lambda res, req: res.end(str(os.getpid())))
    """
        % str(flag),
    )
    port = free_port()
    server = cli("flaky:app", "--port", port, "-w", "2")
    first = server.children()
    flag.write_text("")
    os.kill(first[0], signal.SIGKILL)
    assert wait_for(lambda: server.stderr().count("failed to start") >= 2, 15), server.stderr()
    assert server.proc.poll() is None, server.stderr()
    assert first[1] in server.children()  # the other worker keeps serving
    flag.unlink()
    assert wait_for(lambda: len(server.children()) == 2 and first[0] not in server.children(), 15), server.stderr()
    assert wait_for(lambda: pids_seen(port, 10) == set(server.children()), 10)
    workers = server.children()
    assert server.stop() == 0
    assert_all_gone(workers + first)


def test_sigterm_to_the_whole_group_still_drains(cli, appdir, tmp_path):
    """systemd's KillMode=control-group: SIGTERM to the supervisor and to
    every worker at once; each worker then gets the supervisor's SIGTERM
    too, and both mean "drain": the request in flight is answered."""
    started = tmp_path / "started"
    write_module(
        appdir,
        "marked",
        """
        import asyncio, os
        from socketify import App

        app = App()

        @app.get("/slow")
        async def slow(res, req):
            open(%r, "w").close()
            await asyncio.sleep(1)
            res.end("slow %%d" %% os.getpid())
    """
        % str(started),
    )
    port = free_port()
    server = cli("marked:app", "--port", port, "-w", "2")
    workers = server.children()
    result = []
    thread = threading.Thread(target=lambda: result.append(get(port, "/slow", timeout=30)))
    thread.start()
    assert wait_for(started.exists, 10)  # the request is in a worker
    for pid in workers:
        os.kill(pid, signal.SIGTERM)
    server.proc.send_signal(signal.SIGTERM)
    thread.join(30)
    assert result and result[0].status_code == 200 and result[0].text.startswith("slow"), server.stderr()
    assert server.proc.wait(15) == 0
    assert_all_gone(workers)


def test_sighup_reads_the_env_file_again(cli, appdir, tmp_path):
    write_module(
        appdir,
        "greeter",
        """
        import os
        from socketify import App
        app = App()
        app.get("/", lambda res, req: res.end("%s %s" % (os.environ.get("GREETING"), os.environ.get("KEPT"))))
    """,
    )
    env_file = tmp_path / "app.env"
    env_file.write_text("GREETING=one\nKEPT=from-file\nGONE=soon\n")
    port = free_port()
    server = cli("greeter:app", "--port", port, "-w", "2", "--env-file", env_file, env={"KEPT": "real"})
    assert get(port).text == "one real"  # the real environment wins over the file
    env_file.write_text("GREETING=two\nKEPT=from-file\n")
    server.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: {get(port).text for _ in range(8)} == {"two real"}, 20), server.stderr()
    workers = server.children()
    assert server.stop() == 0
    assert_all_gone(workers)
