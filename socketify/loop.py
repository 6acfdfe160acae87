"""asyncio integration: one wait per loop iteration, and one way to call user code.

asyncio stays the outer loop, but the App's loop is ``SocketifyEventLoop``: a
plain ``asyncio.SelectorEventLoop`` whose selector is the native core. The
core's epoll/kqueue watches asyncio's own selector fd next to the sockets it
serves, so one wait per iteration covers both: native events are dispatched
in C during the wait, and asyncio's selector is asked for its events only
when its fd was readable. It is a real asyncio loop for user code
(``get_running_loop``, tasks, ``run_in_executor``, timers, third-party
clients); any other loop (uvloop, a user's policy) gets the core's fd through
``add_reader`` instead.

Every call into user code goes through ``CallbackRunner`` (one per App): it
calls the function, starts what it returns if that is awaitable, and routes
any error to the app's error handler with the right response and request.

Coroutines start *eagerly*: the first step runs inside the native callback,
already inside a real Task (so ``asyncio.current_task()``, ``asyncio.timeout``
and client libraries' timeouts work from the first line), and a coroutine
that finishes without suspending is never scheduled.
"""

import asyncio
import inspect
import logging
import math
import os
import selectors
import sys
from contextvars import copy_context
from types import GeneratorType
from typing import Any, Callable, Optional

__all__ = [
    "Loop",
    "SocketifyEventLoop",
    "CallbackRunner",
    "create_task",
    "TaskFactory",
    "RequestTask",
    "is_awaitable",
    "as_coroutine",
    "describe_request",
]

logger = logging.getLogger("socketify")

# 3.12 added eager tasks; before it, the Task's first scheduled step is
# caught and run at once (see _eager_task).
_NATIVE_EAGER = sys.version_info >= (3, 12)
_Task: Any = asyncio.Task  # Any: eager_start and context are newer than the 3.9 stubs
_current_task = asyncio.current_task
_running_loop = asyncio.events._get_running_loop  # C; loop.is_running() is Python in asyncio
# The running task of a loop in one C call (asyncio.current_task is a Python
# function before 3.12); where asyncio has no such table, current_task itself.
# (3.14 keeps the current task in the thread state: the dict stays empty.)
_current_tasks = getattr(asyncio.tasks, "_current_tasks", None)
_task_of: Callable[[Any], Any]
if type(_current_tasks) is dict and sys.version_info < (3, 14):
    _task_of = _current_tasks.get
else:

    def _task_of(loop: Any) -> Any:
        return _current_task(loop)


if not _NATIVE_EAGER:
    # What 3.12's eager start does itself. A Task registers itself in
    # asyncio's registry (all_tasks()) as it is built, as asyncio's own do:
    # the registry is shared by every thread, so it is not bypassed here.
    from asyncio.tasks import _enter_task, _leave_task

# The name of the Tasks that run handlers and ASGI applications. Before 3.12
# a Task formats its default name ("Task-N") when it is created: ~1k
# instructions per request.
_HANDLER_TASK_NAME = "socketify-handler"

# The class of the tasks socketify starts (the reference's name for it).
RequestTask = asyncio.Task


async def _probe():  # only for its type
    pass


_probe_coro = _probe()
CoroutineType = _CoroutineType = type(_probe_coro)
_probe_coro.close()

_AWAITABLE_TYPES = {_CoroutineType: True, type(None): False}


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


# -- eager tasks -------------------------------------------------------------


class _StepCatcher:
    """Stands in for ``loop.call_soon`` while a Task is created, to keep the
    Task's first step instead of scheduling it."""

    __slots__ = ("step", "context", "catch")

    def __init__(self) -> None:
        self.step = None
        self.context = None
        # What stands in for call_soon: a bound method, called without the
        # keyword-argument dict an instance's __call__ would need.
        self.catch = self._catch

    def _catch(self, callback, *args, context=None):
        self.step = callback
        self.context = context


def _eager_task(loop: asyncio.AbstractEventLoop, coro, context=None, name=None) -> "asyncio.Task[Any]":
    """A Task whose first step has already run (inside the Task) when this
    returns; ``loop`` must be the loop running in this thread. ``name``: the
    Task's name (None: asyncio's "Task-N")."""
    if _NATIVE_EAGER:
        return _Task(coro, loop=loop, eager_start=True, context=context, name=name)
    # The Task (C or Python) schedules its first step with loop.call_soon,
    # looked up on the loop at that moment: an instance attribute catches it
    # and the step runs now, exactly as the loop would have run it. A task
    # started from inside another one's step steps aside meanwhile, as 3.12's
    # eager tasks do.
    outer = _task_of(loop)
    if outer is not None:
        _leave_task(loop, outer)
        try:
            return _eager_task(loop, coro, context, name)
        finally:
            _enter_task(loop, outer)
    overrides = loop.__dict__
    catcher = overrides.get("_socketify_step_catcher")
    if catcher is None:  # one per loop: a loop runs in one thread, other loops in others
        catcher = overrides["_socketify_step_catcher"] = _StepCatcher()
    overrides["call_soon"] = catcher.catch
    try:
        if context is None:
            task = _Task(coro, loop=loop, name=name)
        else:
            task = context.run(_Task, coro, loop=loop, name=name)
    finally:
        del overrides["call_soon"]
    step, step_context = catcher.step, catcher.context
    catcher.step = catcher.context = None
    if step is not None:  # else a Task class that did not schedule its first step
        if step_context is None:
            step()
        else:
            step_context.run(step)
    return task


def create_task(
    loop: asyncio.AbstractEventLoop, coro, default_done_callback: Optional[Callable] = None, context=None
) -> asyncio.Future:
    """A task whose first step runs now (eager) when ``loop`` is running,
    else at the loop's next iteration; ``default_done_callback(task)`` runs
    when it is done; ``context`` is the contextvars context it runs in."""
    if _running_loop() is loop:
        task = _eager_task(loop, coro, context)
    elif context is not None:
        task = context.run(loop.create_task, coro)
    else:
        task = loop.create_task(coro)
    if default_done_callback is not None:
        task.add_done_callback(default_done_callback)
    return task


class TaskFactory:
    """An asyncio task factory (``loop.set_task_factory(TaskFactory())``) that
    starts every task eagerly, as ``create_task`` does. Tasks are asyncio's C
    Tasks, allocated per task: ``task_factory_max_items`` is accepted for
    compatibility and not used for a pool (see the README)."""

    def __init__(self, task_factory_max_items: int = 100_000) -> None:
        self.task_factory_max_items = task_factory_max_items

    def __call__(self, loop: asyncio.AbstractEventLoop, coro, context=None, **kwargs) -> asyncio.Future:
        """Creates one eager task."""
        if kwargs.get("eager_start") is False or _running_loop() is not loop:
            if context is not None:
                kwargs["context"] = context
            return _Task(coro, loop=loop, **kwargs)
        kwargs.pop("eager_start", None)
        task = _eager_task(loop, coro, context)
        name = kwargs.get("name")
        if name is not None:
            task.set_name(name)
        return task


# -- the callback runner -----------------------------------------------------


class CallbackRunner:
    """Calls user code: calls the function, starts what it returns if that
    is awaitable (eagerly, as a Task), and routes any error to ``report(error,
    res, req)`` with the response and request it concerns.

    ``SystemExit`` raised by user code is reported like any error (the
    request gets its 500) and the server keeps serving; ``KeyboardInterrupt``
    is reported, then ``on_interrupt()`` runs (an App closes gracefully: it
    is how a program asks to stop)."""

    def __init__(
        self,
        get_loop: Callable[[], asyncio.AbstractEventLoop],
        report: Callable[[BaseException, Any, Any], None],
        on_interrupt: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.get_loop = get_loop
        self.report = report
        self.on_interrupt = on_interrupt
        self.tasks: set = set()  # asyncio keeps only weak references to tasks
        self._warned: set = set()

    def call(self, fn: Callable, args: tuple, res=None, req=None) -> Optional[asyncio.Future]:
        """Runs ``fn(*args)``; returns the Task carrying on an awaitable
        result, or None when there is nothing left to run."""
        try:
            result = fn(*args)
        except BaseException as error:  # noqa: B902 - user code: routed, never raised into the core
            self.fail(error, res, req)
            return None
        if result is None or not is_awaitable(result):
            return None
        return self.start(result, res, req)

    def returned(self, result: Any, handler: Callable, res, req) -> Optional[asyncio.Future]:
        """A route handler returned ``result`` (not None, not the Response):
        start it if it is awaitable, else warn (once per handler) when the
        response was left untouched, since the client will get no answer."""
        if is_awaitable(result):
            return self.start(result, res, req)
        if not res._done and not res._pending and handler not in self._warned and not res._started():
            self._warned.add(handler)
            logger.warning(
                "request handler %s for %s returned a %s without responding; the client gets no "
                "answer (respond with res.end() / res.send(), or return None)",
                getattr(handler, "__qualname__", handler),
                describe_request(res, req) or "a request",
                type(result).__name__,
            )
        return None

    def start(self, awaitable: Any, res=None, req=None) -> Optional[asyncio.Future]:
        """Starts an awaitable eagerly; returns its Task, or None when it
        finished in its first step."""
        return _start_eager(self.get_loop(), _guarded(awaitable, self, res, req), self.tasks)

    def fail(self, error: BaseException, res=None, req=None) -> None:
        """Routes an error raised by user code (see the class docstring)."""
        self.report(error, res, req)
        if isinstance(error, KeyboardInterrupt) and self.on_interrupt is not None:
            logger.warning("KeyboardInterrupt raised in a handler: closing")
            self.on_interrupt()


def start_coroutine(
    loop: asyncio.AbstractEventLoop, coro, on_error: Callable[[BaseException], Any], tasks: Optional[set] = None
) -> Optional[asyncio.Future]:
    """Runs ``coro``'s first step now, inside its Task; returns the Task that
    carries on (kept in ``tasks`` until it ends), or None when it finished at
    once. What it raises goes to ``on_error``, inside the Task; a
    cancellation is not an error. For servers that route errors themselves
    (the ASGI adapter); user handlers go through ``CallbackRunner``."""
    return _start_eager(loop, _routed(coro, on_error, tasks), tasks)


def _start_eager(loop: asyncio.AbstractEventLoop, coro, tasks: Optional[set]) -> Optional[asyncio.Future]:
    if _running_loop() is not loop:
        # Nothing can step it yet (a hook or error handler before run()):
        # it starts with the loop.
        task = loop.create_task(coro)
    else:
        task = _eager_task(loop, coro, None, _HANDLER_TASK_NAME)
        if task.done():
            return None
    if tasks is not None:
        tasks.add(task)
    return task


async def _routed(coro, on_error: Callable[[BaseException], Any], tasks: Optional[set]):
    """Runs ``coro`` for ``start_coroutine``, handing what it raises to ``on_error``."""
    try:
        return await coro
    except (GeneratorExit, asyncio.CancelledError):
        raise
    except BaseException as error:  # noqa: B902 - routed, as the old done-callback did
        on_error(error)
    finally:
        if tasks:
            tasks.discard(_task_of(_running_loop()))


def describe_request(res, req) -> str:
    """``"GET /path"`` of the request an error belongs to, or ''."""
    if req is None and res is not None:
        req = getattr(res, "_req", None)
    if req is None:
        return ""
    try:
        return "%s %s" % (req.get_method(), req.get_url())
    except Exception:  # noqa: BLE001 - a request no longer readable: no name
        return ""


async def _guarded(awaitable, runner: CallbackRunner, res, req):
    """Runs ``awaitable``, routing what it raises: the Task of every user
    coroutine runs this, so errors need no done-callback and no loop round trip."""
    try:
        return await awaitable
    except GeneratorExit:
        raise
    except asyncio.CancelledError as cancelled:
        if res is not None and not res._done:
            runner.report(cancelled, res, req)  # the client still gets its answer
        raise
    except BaseException as error:  # noqa: B902 - SystemExit too: answered, the server keeps serving
        runner.fail(error, res, req)
    finally:
        tasks = runner.tasks
        if tasks:
            tasks.discard(_task_of(_running_loop()))


# -- the event loop ----------------------------------------------------------


class _CoreSelector(selectors.BaseSelector):
    """asyncio's selector with the native core's wait in front of it.

    Registrations go to an ordinary selector (epoll/kqueue) whose fd the core
    watches; ``select`` runs one core iteration (dispatching native events in
    C) and asks the inner selector only when its fd was readable."""

    def __init__(self) -> None:
        self._inner = selectors.DefaultSelector()
        self._run_once: Optional[Callable[[int], bool]] = None

    def can_nest(self) -> bool:
        """Whether the inner selector has an fd the core can watch."""
        return hasattr(self._inner, "fileno")

    def inner_fileno(self) -> int:
        """The inner selector's own fd."""
        return self._inner.fileno()

    def attach(self, run_once: Optional[Callable[[int], bool]]) -> None:
        """``run_once(timeout_ms) -> inner fd readable``; None detaches."""
        self._run_once = run_once

    @property
    def attached(self) -> bool:
        """Whether a core drives this selector."""
        return self._run_once is not None

    def register(self, fileobj, events, data=None):
        """Registers with the inner selector."""
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj):
        """Unregisters from the inner selector."""
        return self._inner.unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        """Modifies in the inner selector."""
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: Optional[float] = None):
        """One core iteration, then the inner selector's events if it has any."""
        run_once = self._run_once
        if run_once is None:
            return self._inner.select(timeout)
        if timeout is None:
            timeout_ms = -1
        elif timeout <= 0:
            timeout_ms = 0
        else:
            timeout_ms = math.ceil(timeout * 1000)
        if run_once(timeout_ms):
            return self._inner.select(0)
        return []

    def get_key(self, fileobj):
        """The inner selector's key."""
        return self._inner.get_key(fileobj)

    def get_map(self):
        """The inner selector's map."""
        return self._inner.get_map()

    def close(self) -> None:
        """Closes the inner selector."""
        self._run_once = None
        self._inner.close()


class _Handle(asyncio.Handle):
    """asyncio's Handle, built in one call when the loop is not in debug mode
    (no source traceback to take)."""

    __slots__ = ()

    def __init__(self, callback, args, loop, context) -> None:  # noqa: D107 - Handle's own fields
        self._context = context if context is not None else copy_context()
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class SocketifyEventLoop(asyncio.SelectorEventLoop):
    """A standard asyncio selector loop whose waits are the native core's
    (one syscall per iteration for both); see the module docstring."""

    _selector: "_CoreSelector"  # BaseSelectorEventLoop's, which the stubs do not declare

    def __init__(self) -> None:
        super().__init__(_CoreSelector())

    def call_soon(self, callback, *args, context=None):
        """``call_soon``, without the debug-mode work when not in debug mode
        (every Task step that yields goes through here)."""
        if self._debug or self._closed:
            return super().call_soon(callback, *args, context=context)
        handle = _Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def core_selector(self) -> _CoreSelector:
        """The selector an App attaches its core to."""
        return self._selector


def _new_loop() -> asyncio.AbstractEventLoop:
    """The loop an App runs on: the one the program's event loop policy
    makes, if it set one; else uvloop when it is installed (it runs the
    asyncio machinery in C: fewer instructions per request, though it waits
    twice per iteration), unless SOCKETIFY_UVLOOP=0; else SocketifyEventLoop."""
    policy = asyncio.get_event_loop_policy()
    if type(policy) is not asyncio.DefaultEventLoopPolicy or sys.platform == "win32":
        return policy.new_event_loop()
    if os.environ.get("SOCKETIFY_UVLOOP", "1") != "0":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return SocketifyEventLoop()


class Loop:
    """The asyncio loop an App runs on, with the helpers socketify programs use."""

    def __init__(
        self,
        exception_handler: Optional[Callable] = None,
        task_factory_max_items: int = 0,
        idle_relaxation_time: float = 0.01,
    ) -> None:
        self.loop = _new_loop()
        asyncio.set_event_loop(self.loop)
        self.exception_handler = exception_handler
        self.task_factory_max_items = task_factory_max_items
        self.idle_relaxation_time = idle_relaxation_time
        self.started = False
        self.runner = CallbackRunner(lambda: self.loop, lambda error, res, req: self._on_error(error))
        if exception_handler is not None:
            self.loop.set_exception_handler(lambda loop, context: exception_handler(loop, context, None))

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
        return self.runner.start(task)

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
