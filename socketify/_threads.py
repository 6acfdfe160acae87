"""Blocking work next to the single-threaded core: a fixed pool of threads,
and the bridge that carries their calls back to the loop thread (the only
thread that may call the core)."""

import logging
import queue
import socket
import threading
import time
from collections import deque
from typing import Any, Callable, List

__all__ = ["LoopBridge", "ThreadPool"]

logger = logging.getLogger("socketify")


class LoopBridge:
    """Calls from any thread, run in order on the loop thread.

    One byte on a socket pair the loop watches wakes it for every call queued
    until it runs, so a busy pool costs one wake-up per loop iteration, not
    one per call (and no asyncio handle per wake-up, as
    ``call_soon_threadsafe`` would make)."""

    def __init__(self, loop) -> None:
        self._loop = loop
        self._calls: deque = deque()
        self._scheduled = False
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._wake = self._wake_out.send
        loop.add_reader(self._wake_in.fileno(), self._woken)

    def call(self, fn: Callable, *args: Any) -> None:
        """Runs ``fn(*args)`` on the loop thread, after the calls queued before it."""
        self._calls.append((fn, args))
        # Append before the check: a run that already cleared the flag then
        # sees the call; otherwise this schedules one (at worst a spare run).
        if not self._scheduled:
            self._scheduled = True
            try:
                self._wake(b"\0")
            except BlockingIOError:  # bytes are waiting already: the loop will run
                pass
            except OSError:  # closed: nobody can answer any more
                self._calls.clear()
                self._scheduled = False  # so later calls are dropped too, not kept forever

    def close(self) -> None:
        """Stops watching for calls (on the loop thread, before it closes);
        later calls are dropped."""
        try:
            self._loop.remove_reader(self._wake_in.fileno())
        except (RuntimeError, ValueError):  # the loop is closed already
            pass
        self._wake_out.close()
        self._wake_in.close()
        self._calls.clear()
        self._scheduled = False  # a later call finds the socket closed and is dropped

    def _woken(self) -> None:
        try:
            self._wake_in.recv(4096)
        except OSError:  # nothing left to read (a spare wake-up)
            pass
        self._run()

    def _run(self) -> None:
        self._scheduled = False
        calls = self._calls
        # Only what is queued now: calls queued meanwhile get their own run,
        # so a flood from the pool cannot starve the loop's I/O.
        for _ in range(len(calls)):
            fn, args = calls.popleft()
            try:
                fn(*args)
            except Exception:
                logger.exception("error in a call handed to the loop thread")
                # The call's owner (a response in flight) must not wait forever.
                broken = getattr(getattr(fn, "__self__", None), "_loop_broken", None)
                if broken is not None:
                    try:
                        broken()
                    except Exception:
                        logger.exception("error while abandoning a response")


class ThreadPool:
    """A fixed number of threads running ``run(item)`` for items in arrival order.

    Threads start with the first request (after any fork of worker processes)."""

    def __init__(self, size: int, run: Callable[[Any], None], name: str = "socketify-worker") -> None:
        self.size = size
        self.name = name
        self._run = run
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []

    def submit(self, item: Any) -> None:
        """Queues ``item`` for the next free thread (starting the threads on first use)."""
        if not self._threads:
            for i in range(self.size):
                thread = threading.Thread(target=self._work, name="%s-%d" % (self.name, i), daemon=True)
                thread.start()
                self._threads.append(thread)
        self._queue.put(item)

    def _work(self) -> None:
        get = self._queue.get
        run = self._run
        while True:
            item = get()
            if item is None:
                return
            try:
                run(item)
            except BaseException:  # run() handles the app's errors: this is ours
                logger.exception("error in a worker thread")

    def shutdown(self, timeout: float) -> None:
        """Stops the threads once the requests queued before this call are done
        (waiting up to ``timeout`` seconds; they are daemons)."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
