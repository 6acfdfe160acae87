"""Worker processes: N copies of one server sharing its port, under a supervisor.

``run_workers(start_worker, workers=N)`` forks N processes that each call
``start_worker()``, which builds a server, listens and runs until it is told
to stop. The supervisor binds the listening sockets and the workers inherit
them (``App.listen`` picks them up): one SO_REUSEPORT socket per worker slot
on a TCP port, so the kernel spreads connections over the workers, or one
UNIX socket shared by all. A socket outlives the worker that accepts on it,
so connections waiting in its queue are served by the next one instead of
being reset when a worker is replaced or dies.

The supervisor (the calling process):

- restarts a worker that dies, with a growing delay if it keeps dying; a
  first worker that dies before it listens (a bad import, a bad certificate,
  a busy port) stops everything with exit code 1 instead of looping, while
  after a successful start such a failure is retried with the same delays;
- on SIGTERM/SIGINT sends SIGTERM to every worker (each drains: stops
  accepting, finishes what is in flight for up to ``graceful_timeout``, runs
  its shutdown hooks) and SIGKILLs those still running ``kill_after()``
  seconds later; a second SIGTERM/SIGINT kills at once;
- on SIGHUP replaces the workers one at a time, each new one listening before
  the old one drains, so no connection is refused;
- on SIGTTIN/SIGTTOU adds/removes a worker.

Workers never outlive the supervisor: on Linux the kernel sends them SIGTERM
when it dies (PR_SET_PDEATHSIG), elsewhere they watch their parent pid.

A worker reports that it listens through ``notify_listening()``, which
``App.listen`` calls; outside a supervisor it does nothing.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ["run_workers", "run_app_workers", "notify_listening", "inherited_socket", "in_worker", "BOOT_FAILED"]

logger = logging.getLogger("socketify.workers")

# A worker's exit status when it failed before listening and said why on stderr.
BOOT_FAILED = 3

# Set in a worker process only.
_ready_fd: Optional[int] = None
# ("tcp", port) or ("unix", absolute path) -> (fd, port) of a socket the supervisor bound
_inherited: Dict[Tuple[str, Any], Tuple[int, int]] = {}
# The socket objects behind those fds, which own them.
_inherited_sockets: List[socket.socket] = []

_RESTART_DELAY_MAX = 5.0
_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD)
_STABLE_AFTER = 10.0  # a worker that lived this long resets the restart delay
# After its grace period a stopping worker still cancels what hangs and runs
# its shutdown hooks (lifespan shutdown): time it gets before SIGKILL.
_SHUTDOWN_MARGIN = 5.0


def kill_after(graceful_timeout: float) -> float:
    """Seconds a worker told to stop has before the supervisor kills it: its
    own grace period for in-flight work, then its shutdown hooks."""
    return graceful_timeout + _SHUTDOWN_MARGIN


def in_worker() -> bool:
    """True inside a worker process started by ``run_workers``."""
    return _ready_fd is not None


def notify_listening() -> None:
    """Tells the supervisor this worker listens (the first call counts)."""
    global _ready_fd
    fd = _ready_fd
    if fd is None or fd < 0:
        return
    _ready_fd = -1
    try:
        os.write(fd, b"L")
        os.close(fd)
    except OSError:
        pass


def inherited_socket(config: Any) -> Optional[Tuple[int, int]]:
    """(fd, port) of the listening socket the supervisor bound for this
    ``AppListenOptions`` (a worker's; None elsewhere: the app binds its own)."""
    if not _inherited:
        return None
    if config.domain is not None:
        return _inherited.get(("unix", os.path.abspath(config.domain)))
    return _inherited.get(("tcp", config.port))


def release_inherited() -> None:
    """Closes this worker's copies of the supervisor's sockets: an App that
    shuts down calls it before closing its own, so that its close is the
    last and the kernel stops queueing connections on a socket that no one
    will accept from (they would be reset when the worker exits). A later
    ``App.listen`` in this worker binds a socket of its own."""
    _inherited.clear()
    while _inherited_sockets:
        _inherited_sockets.pop().close()


def bind_tcp_socket(host: Optional[str], port: int) -> socket.socket:
    """A listening TCP socket with SO_REUSEPORT (several of them share the
    port). No host: every interface, IPv6 dual-stack where there is IPv6
    (as ``App.listen`` does)."""
    if not host:
        try:
            return _bind_tcp(socket.AF_INET6, socket.SOCK_STREAM, 0, ("::", port))
        except OSError:
            host = "0.0.0.0"
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    return _bind_tcp(family, kind, proto, address)


def _bind_tcp(family: int, kind: int, proto: int, address: Any) -> socket.socket:
    options = [(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)]
    if hasattr(socket, "SO_REUSEPORT"):
        options.append((socket.SOL_SOCKET, socket.SO_REUSEPORT, 1))
    if family == socket.AF_INET6:
        options.append((socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0))
    return _listening(socket.socket(family, kind, proto), address, options)


def _listening(sock: socket.socket, address: Any, options: Sequence[Tuple[int, int, int]] = ()) -> socket.socket:
    """``sock`` with ``options`` set, bound to ``address`` and listening;
    closed if any step fails."""
    try:
        for level, name, value in options:
            sock.setsockopt(level, name, value)
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def bind_unix_socket(path: str) -> socket.socket:
    """Binds and listens on a UNIX socket, replacing a stale socket file."""
    if os.path.exists(path):
        import stat

        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise OSError(errno.EADDRINUSE, "%s exists and is not a socket" % path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)  # left by a server that is gone
        except OSError:
            pass
        else:
            raise OSError(errno.EADDRINUSE, "another server answers on %s" % path)
        finally:
            probe.close()
    return _listening(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), path)


def _die_with_parent(parent: int) -> None:
    """Makes the kernel (Linux) or a watcher thread SIGTERM us once ``parent`` is gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0:
                if os.getppid() != parent:  # it died before prctl took effect
                    os.kill(os.getpid(), signal.SIGTERM)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="socketify-parent-watch", daemon=True).start()


class _Worker:
    __slots__ = ("pid", "slot", "ready_fd", "ready", "started", "retiring", "replaces", "stopped_at")

    def __init__(self, pid: int, slot: int, ready_fd: int, replaces: Optional[_Worker]) -> None:
        self.pid = pid
        self.slot = slot
        self.ready_fd = ready_fd
        self.ready = False
        self.started = time.monotonic()
        self.retiring = False
        self.replaces = replaces
        self.stopped_at = 0.0


class Supervisor:
    """Runs and watches the worker processes (see the module docstring)."""

    def __init__(
        self,
        start_worker: Callable[[], None],
        workers: int,
        graceful_timeout: float,
        bind: Optional[Tuple[Optional[str], int]] = None,
        uds: Optional[str] = None,
        keep_going: bool = False,
        on_ready: Optional[Callable[[int], None]] = None,
        on_reload: Optional[Callable[[], None]] = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.start_worker = start_worker
        self.target = workers
        self.graceful_timeout = graceful_timeout  # the workers' own
        self.kill_timeout = kill_after(graceful_timeout)
        self.keep_going = keep_going  # --reload: a worker failing to boot waits for the next change
        self.on_ready = on_ready
        self.on_reload = on_reload  # before the new workers of a reload are forked (--env-file)
        self.workers: List[_Worker] = []
        self.bind: Any = bind  # (host, port), or None for a UNIX socket only
        self.requested_port = bind[1] if bind is not None else None
        self.listeners: Dict[int, socket.socket] = {}  # slot -> its TCP socket
        self.uds_path: Any = os.path.abspath(uds) if uds else None
        self.uds_socket: Optional[socket.socket] = None
        self.signals: List[int] = []
        self.stopping_since: Optional[float] = None
        self.exit_code = 0
        self.restart_delay = 0.0
        self.respawn_at: List[float] = []
        self.rolling: List[_Worker] = []  # old workers a SIGHUP replaces one by one
        self.announced = False
        self.boot_failed = False
        self.ever_ready = False
        self.pid = os.getpid()

    # -- signals ------------------------------------------------------------

    def _install_signals(self):
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        previous = {}

        def record(signum, frame):
            self.signals.append(signum)

        for signum in _HANDLED:
            previous[signum] = signal.signal(signum, record)
        previous_wakeup = signal.set_wakeup_fd(self._wake_w)
        return previous, previous_wakeup

    def _restore_signals(self, saved) -> None:
        previous, previous_wakeup = saved
        signal.set_wakeup_fd(previous_wakeup)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- sockets ------------------------------------------------------------

    def _listener(self, slot: int) -> Optional[socket.socket]:
        if self.bind is None:
            return None
        sock = self.listeners.get(slot)
        if sock is None:
            host, port = self.bind
            sock = bind_tcp_socket(host, port)
            if port == 0:  # the kernel chose: every other slot joins that port
                self.bind = (host, sock.getsockname()[1])
            self.listeners[slot] = sock
        return sock

    def _drop_listener(self, slot: int) -> None:
        sock = self.listeners.pop(slot, None)
        if sock is not None:
            sock.close()

    def _close_listeners(self) -> None:
        for slot in list(self.listeners):
            self._drop_listener(slot)
        if self.uds_socket is not None:
            self.uds_socket.close()
            self.uds_socket = None
            try:
                os.unlink(self.uds_path)
            except OSError:
                pass

    # -- workers ------------------------------------------------------------

    def _free_slot(self) -> int:
        used = {w.slot for w in self.workers if not w.retiring or w.replaces is not None}
        slot = 0
        while slot in used:
            slot += 1
        return slot

    def spawn(self, replaces: Optional[_Worker] = None) -> _Worker:
        """Forks one worker (the successor of ``replaces``, in its slot, if given)."""
        slot = replaces.slot if replaces is not None else self._free_slot()
        listener = self._listener(slot)
        ready_r, ready_w = os.pipe()
        # Signals wait while the child swaps the supervisor's handlers for its
        # own: one sent to it in between must not be lost.
        signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
        pid = -1
        try:
            pid = os.fork()
        finally:
            if pid != 0:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED)
        if pid == 0:  # the worker
            code: Any = 0  # SystemExit's code: int, str or None
            try:
                os.close(ready_r)
                self._become_worker(ready_w, listener)
                self.start_worker()
            except SystemExit as exit_:
                code = exit_.code
                if code is not None and not isinstance(code, int):
                    print(code, file=sys.stderr)
                    code = 1
                code = code or 0
                if code and _ready_fd is not None and _ready_fd >= 0:
                    code = BOOT_FAILED  # it failed before listening and said why
            except BaseException:
                traceback.print_exc()
                code = BOOT_FAILED if (_ready_fd is not None and _ready_fd >= 0) else 1
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        os.close(ready_w)
        os.set_blocking(ready_r, False)
        worker = _Worker(pid, slot, ready_r, replaces)
        self.workers.append(worker)
        return worker

    def _become_worker(self, ready_w: int, listener: Optional[socket.socket]) -> None:
        global _ready_fd
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        # A worker writing to a terminal must not be stopped (it is in its own
        # process group, so the terminal's Ctrl-C reaches only the supervisor,
        # which turns it into one SIGTERM per worker).
        signal.signal(signal.SIGTTIN, signal.SIG_IGN)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED)
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        os.close(self._wake_r)
        os.close(self._wake_w)
        for other in self.workers:
            if other.ready_fd >= 0:
                os.close(other.ready_fd)
        self.workers = []
        # Only its own slot's socket: a socket the supervisor closes must close.
        for sock in self.listeners.values():
            if sock is not listener:
                sock.close()
        _die_with_parent(self.pid)
        _ready_fd = ready_w
        if listener is not None:
            _inherited[("tcp", self.bind[1])] = (listener.fileno(), self.bind[1])
        if listener is not None and self.requested_port != self.bind[1]:
            _inherited[("tcp", self.requested_port)] = (listener.fileno(), self.bind[1])  # port 0
        if self.uds_socket is not None:
            _inherited[("unix", self.uds_path)] = (self.uds_socket.fileno(), 0)
        _inherited_sockets.extend(s for s in (listener, self.uds_socket) if s is not None)
        # Workers share the port on purpose: no "port already served" warning.
        os.environ["SOCKETIFY_REUSE_PORT"] = "1"

    def _find(self, pid: int) -> Optional[_Worker]:
        for worker in self.workers:
            if worker.pid == pid:
                return worker
        return None

    def _kill(self, worker: _Worker, signum: int) -> None:
        try:
            os.kill(worker.pid, signum)
        except ProcessLookupError:
            pass

    def retire(self, worker: _Worker) -> None:
        """Tells one worker to drain and exit."""
        if not worker.retiring:
            worker.retiring = True
            worker.stopped_at = time.monotonic()
            self._kill(worker, signal.SIGTERM)

    def live(self) -> List[_Worker]:
        """The workers not told to stop."""
        return [w for w in self.workers if not w.retiring]

    # -- events -------------------------------------------------------------

    def _on_ready(self, worker: _Worker) -> None:
        worker.ready = True
        self.ever_ready = True
        if worker.replaces is not None:
            old, worker.replaces = worker.replaces, None
            self.retire(old)
            logger.info("worker %d replaced worker %d", worker.pid, old.pid)
        if not self.announced and all(w.ready for w in self.live()) and len(self.live()) >= self.target:
            self.announced = True
            if self.on_ready is not None:
                self.on_ready(len(self.live()))

    def _on_exit(self, worker: _Worker, status: int) -> None:
        self.workers.remove(worker)
        if worker.ready_fd >= 0:
            os.close(worker.ready_fd)
            worker.ready_fd = -1
        if worker.slot >= self.target and not any(w.slot == worker.slot for w in self.workers):
            self._drop_listener(worker.slot)
        if worker.retiring or self.stopping_since is not None:
            return
        code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        if not worker.ready:
            # It never listened: its own error is on stderr already.
            old = worker.replaces
            if self.keep_going:
                logger.error("worker %d failed to start (exit %s); waiting for a file change", worker.pid, code)
                self._cancel_replacements()
                self.boot_failed = True
                return
            if old is not None and old.ready:
                logger.error("new worker %d failed to start (exit %s); the running workers stay", worker.pid, code)
                self._cancel_replacements()
                return
            if not self.ever_ready:
                # Nothing ever started: the program cannot, so say it once and stop.
                if code != BOOT_FAILED:
                    logger.error("worker %d exited with %s before it listened; stopping", worker.pid, code)
                self.exit_code = 1
                self.stop()
                return
            # The program did start before (a restart meets a passing
            # failure: a database down, a file being replaced): keep serving
            # with the workers that run, and try again, more slowly each time.
            what = "failed to start"
        else:
            what = "died"
            if time.monotonic() - worker.started >= _STABLE_AFTER:
                self.restart_delay = 0.0
        logger.warning(
            "worker %d %s (exit %s); starting a new one%s",
            worker.pid,
            what,
            code,
            " in %.1f s" % self.restart_delay if self.restart_delay else "",
        )
        self.respawn_at.append(time.monotonic() + self.restart_delay)
        self.restart_delay = min(_RESTART_DELAY_MAX, max(0.1, self.restart_delay * 2))

    def _cancel_replacements(self) -> None:
        self.rolling = []
        for worker in list(self.workers):
            if worker.replaces is not None:
                worker.replaces = None
                if not worker.ready:
                    self.retire(worker)

    def reload(self, one_by_one: bool) -> None:
        """Replaces every worker by a new process (new code), each new one
        listening before its predecessor drains."""
        if self.stopping_since is not None:
            return
        if self.on_reload is not None:
            self.on_reload()
        self.boot_failed = False
        old = [w for w in self.live() if w.replaces is None]
        if one_by_one:
            self.rolling = old
        else:
            for worker in old:
                if not self._replace(worker):
                    break
        if not old:
            self._fill()

    def _replace(self, old: _Worker) -> bool:
        """Starts the successor of ``old``; False (logged) when the system refuses."""
        try:
            self.spawn(replaces=old)
            return True
        except OSError as error:
            logger.error("cannot start a new worker (%s); the running workers stay", error)
            self.rolling = []
            return False

    def stop(self) -> None:
        """Starts the graceful stop of every worker."""
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
            self.respawn_at = []
            self.rolling = []
            # Ours first, as in _fill: each worker accepts what waits in its
            # socket's queue, then closes it; new clients are refused then.
            self._close_listeners()
            for worker in self.workers:
                self.retire(worker)

    def _handle_signals(self) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            if signum in (signal.SIGTERM, signal.SIGINT):
                if self.stopping_since is not None:
                    logger.warning("second stop signal: killing the workers now")
                    for worker in self.workers:
                        self._kill(worker, signal.SIGKILL)
                else:
                    logger.info("stopping: the workers finish what is in flight (up to %g s)", self.graceful_timeout)
                    self.stop()
            elif signum == signal.SIGHUP:
                logger.info("SIGHUP: replacing the workers one at a time")
                self.reload(one_by_one=True)
            elif signum == signal.SIGTTIN:
                self.target += 1
                logger.info("SIGTTIN: %d workers", self.target)
            elif signum == signal.SIGTTOU:
                if self.target > 1:
                    self.target -= 1
                    logger.info("SIGTTOU: %d workers", self.target)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._find(pid)
            if worker is not None:
                self._on_exit(worker, status)

    def _fill(self) -> None:
        """Starts or retires workers to match the target count."""
        if self.stopping_since is not None or self.boot_failed:
            return
        now = time.monotonic()
        self.respawn_at = [t for t in self.respawn_at if t > now]
        live = self.live()
        current = [w for w in live if w.replaces is None]
        missing = self.target - len(current) - len(self.respawn_at)
        if not self.ever_ready:
            # One worker first: a program that cannot start says so once,
            # not once per worker.
            missing = min(missing, 1 - len(live))
        for _ in range(max(0, missing)):
            try:
                self.spawn()
            except OSError as error:  # no process or socket to be had now
                if not self.ever_ready:
                    raise  # at start: the caller says so and exits
                logger.error("cannot start a worker (%s); trying again in 1 s", error)
                self.respawn_at.append(time.monotonic() + 1.0)
                break
        extra = len(current) - self.target
        if extra > 0:
            for worker in sorted(current, key=lambda w: w.slot, reverse=True)[:extra]:
                # Our copy goes first: the worker's close then really closes
                # the socket, after it accepted what waits in its queue (a
                # socket left open here would keep queueing connections that
                # no one accepts, all reset when it closes later).
                if worker.slot >= self.target:
                    self._drop_listener(worker.slot)
                self.retire(worker)
        if self.rolling and not any(w.replaces is not None for w in self.workers):
            old = self.rolling.pop(0)
            if old in self.workers and not old.retiring:
                self._replace(old)

    # -- the loop -----------------------------------------------------------

    def run(self, watch: Optional[Callable[[], bool]] = None, watch_interval: float = 0.25) -> int:
        """Runs until stopped; returns the exit code (0, or 1 after a failed start)."""
        saved = self._install_signals()
        worker: Optional[_Worker]
        try:
            if self.uds_path is not None:
                self.uds_socket = bind_unix_socket(self.uds_path)
            self._fill()
            next_watch = time.monotonic() + watch_interval
            while True:
                self._handle_signals()
                self._reap()
                if self.stopping_since is not None:
                    if not self.workers:
                        break
                    if time.monotonic() - self.stopping_since > self.kill_timeout:
                        for worker in self.workers:
                            logger.warning("worker %d still running after %g s: killed", worker.pid, self.kill_timeout)
                            self._kill(worker, signal.SIGKILL)
                        self.stopping_since = time.monotonic() + 3600  # killed: only reap now
                else:
                    self._fill()
                    for worker in self.workers:  # a draining old worker past its time
                        if worker.retiring and time.monotonic() - worker.stopped_at > self.kill_timeout:
                            self._kill(worker, signal.SIGKILL)
                            worker.stopped_at = float("inf")
                timeout = 1.0
                deadlines = [w.stopped_at + self.kill_timeout for w in self.workers if w.retiring]
                if self.stopping_since is not None:
                    deadlines.append(self.stopping_since + self.kill_timeout)
                if deadlines:
                    timeout = max(0.01, min(timeout, min(deadlines) - time.monotonic() + 0.01))
                if self.respawn_at:
                    timeout = max(0.0, min(timeout, min(self.respawn_at) - time.monotonic()))
                if watch is not None and self.stopping_since is None:
                    now = time.monotonic()
                    if now >= next_watch:
                        next_watch = now + watch_interval
                        if watch():
                            logger.warning("a file changed: reloading")
                            self.reload(one_by_one=False)
                            continue
                    timeout = max(0.0, min(timeout, next_watch - now))
                fds = [self._wake_r] + [w.ready_fd for w in self.workers if not w.ready and w.ready_fd >= 0]
                try:
                    readable, _, _ = select.select(fds, [], [], timeout)
                except InterruptedError:
                    continue
                for fd in readable:
                    if fd == self._wake_r:
                        try:
                            while os.read(self._wake_r, 512):
                                pass
                        except BlockingIOError:
                            pass
                        continue
                    worker = next((w for w in self.workers if w.ready_fd == fd), None)
                    if worker is None:
                        continue
                    try:
                        data = os.read(fd, 1)
                    except OSError:
                        data = b""
                    if data:
                        self._on_ready(worker)
                    else:  # closed without a word: it is exiting; waitpid will say
                        os.close(fd)
                        worker.ready_fd = -1
        finally:
            for worker in self.workers:
                self._kill(worker, signal.SIGKILL)
            while self.workers:
                worker = self.workers.pop()
                try:
                    os.waitpid(worker.pid, 0)
                except ChildProcessError:
                    pass
            self._restore_signals(saved)
            self._close_listeners()
        return self.exit_code


def run_workers(
    start_worker: Callable[[], None],
    workers: int = 1,
    *,
    graceful_timeout: float = 30.0,
    bind: Optional[Tuple[Optional[str], int]] = None,
    uds: Optional[str] = None,
    keep_going: bool = False,
    on_ready: Optional[Callable[[int], None]] = None,
    watch: Optional[Callable[[], bool]] = None,
    on_reload: Optional[Callable[[], None]] = None,
) -> int:
    """Runs ``start_worker()`` in ``workers`` forked processes until SIGTERM or
    SIGINT; returns the exit code (1 when a worker failed before listening).

    ``start_worker`` builds one server, listens and serves until SIGTERM.
    With ``bind=(host, port)`` (or ``uds=path``) the sockets are bound here
    and ``App.listen`` on that port (path) in a worker uses them; without
    either, each worker binds its own. ``on_ready(n)`` runs once every worker
    listens. ``watch()``, polled four times a second, returns True to reload
    every worker (``--reload``); ``keep_going`` keeps the supervisor alive
    when a new worker fails to start. ``on_reload()`` runs before the new
    workers of a reload (SIGHUP, ``watch``) are forked.
    """
    if os.name != "posix":
        raise RuntimeError("worker processes need os.fork (POSIX)")
    supervisor = Supervisor(start_worker, workers, graceful_timeout, bind, uds, keep_going, on_ready, on_reload)
    return supervisor.run(watch)


def run_app_workers(
    port_or_options: Any,
    start_worker: Callable[[], None],
    workers: int,
    *,
    graceful_timeout: float = 30.0,
    on_ready: Optional[Callable[[int], None]] = None,
) -> int:
    """``run_workers`` for a server that listens on ``port_or_options`` (what
    ``App.listen`` takes: None, a port, a dict or AppListenOptions): that
    address is bound here once and shared by the workers, whose
    ``App.listen(port_or_options)`` picks it up. For ``ASGI.run(workers=N)``
    and ``WSGI.run(workers=N)``."""
    bind: Optional[Tuple[Optional[str], int]] = None
    uds = None
    if port_or_options is None:
        bind = (None, 0)
    elif isinstance(port_or_options, int) and not isinstance(port_or_options, bool):
        bind = (None, port_or_options)
    elif isinstance(port_or_options, dict):
        bind = (port_or_options.get("host", "0.0.0.0"), port_or_options.get("port", 0))
    elif getattr(port_or_options, "domain", None) is not None:
        uds = port_or_options.domain
    else:
        bind = (getattr(port_or_options, "host", None), getattr(port_or_options, "port", 0))
    return run_workers(start_worker, workers, graceful_timeout=graceful_timeout, bind=bind, uds=uds, on_ready=on_ready)


def serve_in_thread(who: str, server: Any, serve: Callable[[threading.Event], None], name: str) -> None:
    """``run(block=False)`` of the ASGI and WSGI servers: ``serve(started)``
    in a daemon thread (``server._thread``, set before it starts, so that
    ``close()`` from any thread knows it), which sets ``started`` once
    listening. Returns then, or raises what ``serve`` raised before it
    listened; a failure after that is logged in one line."""
    started = threading.Event()
    failure: List[BaseException] = []

    def main() -> None:
        try:
            serve(started)
        except BaseException as error:  # handed to run()'s caller, or logged
            if started.is_set():
                logger.error("%s server thread stopped", who, exc_info=error)
            failure.append(error)
        finally:
            started.set()  # run() never waits on a thread that is gone

    server._thread = threading.Thread(target=main, name=name, daemon=True)
    server._thread.start()
    started.wait()
    if failure:
        raise failure[0]


def serve_workers(
    who: str, port_or_options: Any, serve_one: Callable[[], None], workers: int, block: bool, graceful_timeout: float
) -> None:
    """``run(workers=N)`` of the ASGI and WSGI servers: this process becomes
    the supervisor of N forked workers, each running ``serve_one()`` on the
    shared address, until SIGTERM/SIGINT. A failed start (or a supervisor
    exit code other than 0) raises SystemExit with that code."""
    if not block:
        raise ValueError(
            "%s.run(workers=%d, block=False): this process supervises the workers, "
            "so it blocks; pass block=True" % (who, workers)
        )
    code = run_app_workers(port_or_options, serve_one, workers, graceful_timeout=graceful_timeout)
    if code:
        raise SystemExit(code)
