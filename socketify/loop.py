"""asyncio integration: the native loop is one readable fd inside asyncio.

asyncio (or uvloop) is the outer loop. The native loop's epoll/kqueue fd is
registered with ``add_reader``; each time it is readable one non-blocking
native iteration dispatches every ready event in C.

Coroutine handlers start *eagerly*: their first step runs inside the native
callback, while the request is still valid, and a handler that never awaits
finishes without ever touching the asyncio scheduler.
"""
import asyncio
import inspect
import logging
import sys
from types import GeneratorType
from typing import Any, Callable, Optional

__all__ = ["Loop", "start_coroutine", "is_awaitable", "as_coroutine"]

logger = logging.getLogger("socketify")

# 3.12 added eager tasks: the first step runs inside a real Task, so
# asyncio.current_task() and asyncio.timeout() work from the first line.
_NATIVE_EAGER = sys.version_info >= (3, 12)


async def _probe():  # only for its type
    pass


_probe_coro = _probe()
_CoroutineType = type(_probe_coro)
_probe_coro.close()


_AWAITABLE_TYPES = {_CoroutineType: True}


def is_awaitable(value: Any) -> bool:
    """True for a coroutine (fast path) or any other awaitable. Handlers
    often return ``res.end(...)``, i.e. a Response: the answer is cached per
    type, so the slow checks run once per type."""
    kind = type(value)
    known = _AWAITABLE_TYPES.get(kind)
    if known is not None:
        return known
    if kind is GeneratorType:  # a generator-based coroutine, or not: per object
        return inspect.isawaitable(value)
    known = _AWAITABLE_TYPES[kind] = hasattr(kind, "__await__")
    return known


def as_coroutine(value: Any):
    """A coroutine for any awaitable (futures and custom awaitables get wrapped)."""
    if type(value) is _CoroutineType or asyncio.iscoroutine(value):
        return value

    async def wrap():
        return await value

    return wrap()


class _Resume:
    """Continues a coroutine whose first step already ran outside any task.

    It hands the value the coroutine yielded (the future it waits on) to the
    Task driving it, then forwards every send/throw, exactly like
    ``yield from``, but starting after the first yield.
    """

    __slots__ = ("coro", "first")

    def __init__(self, coro, first) -> None:
        self.coro = coro
        self.first = first

    def __await__(self):
        coro = self.coro
        value = self.first
        self.first = None
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and throw() reach the coroutine
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _resume(coro, first):
    return await _Resume(coro, first)


def start_coroutine(loop: asyncio.AbstractEventLoop, coro, on_error: Callable[[BaseException], Any],
                    tasks: Optional[set] = None) -> Optional[asyncio.Future]:
    """Runs ``coro``'s first step now; returns the Task that carries on, or
    None when it finished at once. Errors go to ``on_error``."""

    def done(task: asyncio.Future) -> None:
        if tasks is not None:
            tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            on_error(error)

    if not loop.is_running():
        # Nothing can step it yet (a hook or error handler before run()):
        # it starts with the loop.
        task = loop.create_task(coro)
    elif _NATIVE_EAGER:
        task = asyncio.Task(coro, loop=loop, eager_start=True)
        if task.done():
            done(task)
            return None
    else:
        try:
            first = coro.send(None)
        except StopIteration:
            return None
        except BaseException as error:  # noqa: B902 - the handler's own error
            on_error(error)
            return None
        task = loop.create_task(_resume(coro, first))
    if tasks is not None:
        tasks.add(task)  # asyncio keeps only weak references to tasks
    task.add_done_callback(done)
    return task


class Loop:
    """The asyncio loop an App runs on, with the helpers socketify programs use."""

    def __init__(self, exception_handler: Optional[Callable] = None, task_factory_max_items: int = 0,
                 idle_relaxation_time: float = 0.01) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.exception_handler = exception_handler
        self.task_factory_max_items = task_factory_max_items
        self.idle_relaxation_time = idle_relaxation_time
        self.started = False
        self._tasks: set = set()
        if exception_handler is not None:
            self.loop.set_exception_handler(
                lambda loop, context: exception_handler(loop, context, None)
            )

    def _on_error(self, error: BaseException) -> None:
        if self.exception_handler is not None:
            self.exception_handler(self.loop, {"exception": error}, None)
        else:
            logger.error("uncaught error in a task", exc_info=error)

    def create_future(self) -> asyncio.Future:
        """A future bound to this loop."""
        return self.loop.create_future()

    def create_task(self, *args, **kwargs) -> asyncio.Task:
        """``loop.create_task``."""
        return self.loop.create_task(*args, **kwargs)

    def ensure_future(self, coro) -> asyncio.Future:
        """``asyncio.ensure_future`` on this loop."""
        return asyncio.ensure_future(coro, loop=self.loop)

    def create_background_task(self, fn: Callable) -> asyncio.Future:
        """Runs ``fn()`` (a coroutine function) as a task."""
        return self.ensure_future(fn())

    def run_async(self, task, response=None) -> Any:
        """Starts a coroutine eagerly; errors are logged or go to the exception handler."""
        if response is not None:
            return response.run_async(task)
        return start_coroutine(self.loop, task, self._on_error, self._tasks)

    def set_timeout(self, timeout: float, callback: Callable, user_data: Any = None):
        """Calls ``callback(user_data)`` after ``timeout`` milliseconds."""
        return self.loop.call_later(timeout / 1000.0, callback, user_data)

    def set_event_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Replaces the asyncio loop (before anything runs on it)."""
        self.loop = loop
        asyncio.set_event_loop(loop)

    def get_native_loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop itself."""
        return self.loop

    def run_until_complete(self, task=None) -> Any:
        """Runs the loop until ``task`` finishes."""
        self.started = True
        try:
            if task is None:
                return self.run_once()
            return self.loop.run_until_complete(task)
        finally:
            self.started = False

    def run(self, task=None) -> None:
        """Runs the loop until ``stop()``."""
        if task is not None:
            self.ensure_future(task)
        self.started = True
        try:
            self.loop.run_forever()
        finally:
            self.started = False

    def run_once(self) -> None:
        """Runs one iteration of the loop."""
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()

    def stop(self) -> None:
        """Stops ``run()``."""
        self.loop.stop()

    def dispose(self) -> None:
        """Closes the asyncio loop."""
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()
