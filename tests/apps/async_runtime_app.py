"""The async runtime under test: third-party asyncio libraries inside
handlers, the callback runner's routing of results and errors, request bodies.

Usage: python async_runtime_app.py [OTHER_PORT [REDIS_URL]]
OTHER_PORT: a second local HTTP server the aiohttp client route calls;
REDIS_URL: the redis-server the redis.asyncio route uses.
"""

import asyncio
import sys
import threading
import time

from listen_line import announce

from socketify import App, RequestTask, TaskFactory, create_task

OTHER_PORT = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "-" else None
REDIS_URL = sys.argv[2] if len(sys.argv) > 2 else None

app = App()
events = []  # what callbacks recorded, read back through /events


def note(text):
    events.append(text)
    print("EVENT " + text, flush=True)


@app.on_error
def on_error(error, res, req):
    where = "%s %s" % (req.get_method(), req.get_url()) if req is not None else "-"
    note("error %s %s %s" % (type(error).__name__, error, where))
    if res is not None and not res.aborted:
        res.write_status(500).end("handled: %s" % type(error).__name__)


# -- third-party asyncio libraries -------------------------------------------


@app.get("/aiohttp")
async def aiohttp_client(res, req):
    import aiohttp

    # The first line: no await before it, so this runs inside the request callback.
    async with aiohttp.ClientSession() as session:
        async with session.get(
            "http://127.0.0.1:%d/text" % OTHER_PORT, timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            body = await response.text()
    res.end("other said: %s" % body)


@app.get("/redis")
async def redis_roundtrip(res, req):
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        key = "socketify-test:%s" % req.get_query("key")
        await client.set(key, req.get_query("value"))
        value = await client.get(key)
        await client.incr(key + ":count")
        count = await client.get(key + ":count")
    finally:
        await client.aclose() if hasattr(client, "aclose") else await client.close()
    res.end("%s %s" % (value.decode(), count.decode()))


@app.get("/wait_for/fires")
async def wait_for_fires(res, req):
    try:
        await asyncio.wait_for(asyncio.sleep(5), timeout=0.05)
        res.end("no timeout")
    except asyncio.TimeoutError:
        res.end("timed out")


@app.get("/wait_for/done")
async def wait_for_done(res, req):
    value = await asyncio.wait_for(asyncio.sleep(0.01, result="slept"), timeout=5)
    res.end(value)


@app.get("/timeout")
async def timeout_first_line(res, req):
    if not hasattr(asyncio, "timeout"):  # 3.11+
        res.end("timed out")
        return
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(5)
        res.end("no timeout")
    except TimeoutError:
        res.end("timed out")


def blocking_work(seconds, value):
    time.sleep(seconds)  # holds no lock the loop needs
    return "%s from %s" % (value, "thread" if threading.current_thread() is not threading.main_thread() else "main")


@app.get("/executor/:value")
async def executor(res, req):
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, blocking_work, 0.3, req.get_parameter(0))
    res.end(result)


@app.get("/loop")
async def loop_facts(res, req):
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    fired = loop.create_future()
    loop.call_later(0.02, fired.set_result, "timer")
    child = asyncio.ensure_future(asyncio.sleep(0, result="child"))
    res.end(
        "%s %s %s %s %s"
        % (loop is app.loop.loop, current is not None, isinstance(current, RequestTask), await fired, await child)
    )


@app.get("/all-tasks")
async def all_tasks(res, req):
    # A handler's task is in asyncio's registry from its first step on, as
    # asyncio's own tasks are, and after it suspended.
    first_step = asyncio.current_task() in asyncio.all_tasks()
    await asyncio.sleep(0)
    res.end("%s %s" % (first_step, asyncio.current_task() in asyncio.all_tasks()))


@app.get("/tasks-from-a-thread")
async def tasks_from_a_thread(res, req):
    # Tasks another thread's loop creates while handlers start here are all
    # in that thread's asyncio.all_tasks(): the registry is shared.
    seen = []

    def other_thread():
        async def main():
            count = 500 if sys.implementation.name == "pypy" else 20000
            made = [asyncio.ensure_future(asyncio.sleep(0.2)) for _ in range(count)]
            await asyncio.sleep(0)
            registered = None
            while registered is None:
                try:
                    registered = asyncio.all_tasks()
                except RuntimeError:
                    # Before 3.10 all_tasks() gives up ("Set changed size
                    # during iteration") after 1000 tries while another
                    # thread adds tasks as fast as this one: ask again.
                    pass
            seen.append("%d of %d" % (sum(1 for task in made if task in registered), count))
            for task in made:
                task.cancel()
            await asyncio.gather(*made, return_exceptions=True)

        try:
            asyncio.run(main())
        except BaseException as error:  # reported in the answer, not lost in the thread
            seen.append("error %r" % (error,))

    async def nothing():
        pass

    from socketify.loop import create_task

    # Tasks started here the way handlers are, with the threads switching
    # as often as they can, so the two overlap.
    interval = sys.getswitchinterval()
    if sys.implementation.name != "pypy":  # (PyPy crawls at this interval)
        sys.setswitchinterval(1e-6)
    try:
        thread = threading.Thread(target=other_thread)
        thread.start()
        loop = asyncio.get_running_loop()
        while thread.is_alive():
            for _ in range(100):
                create_task(loop, nothing())
            await asyncio.sleep(0)
    finally:
        sys.setswitchinterval(interval)
    res.end(seen[0])


@app.get("/registry-size")
def registry_size(res, req):
    # asyncio's registry of tasks: what it holds for tasks that have ended
    # must go away with them.
    import gc

    # PyPy frees an object with a finalizer (a Task has __del__) in the
    # collection after the one that ran the finalizer: two collections.
    gc.collect()
    gc.collect()
    # Before 3.12, _all_tasks; then _scheduled_tasks (eager tasks that
    # suspended move there).
    registry = getattr(asyncio.tasks, "_all_tasks", None)
    if registry is None:
        registry = getattr(asyncio.tasks, "_scheduled_tasks", None)
    res.end("n/a" if registry is None else str(len(registry)))


@app.get("/loop-type")
def loop_type(res, req):
    from socketify._binding import lib

    # SocketifyEventLoop: the core drives the selector; asyncio does not watch the core's fd.
    core_fd = lib.sk_app_fd(app._native)
    watched = (
        core_fd in {key.fd for key in app.loop.loop._selector.get_map().values()}
        if hasattr(app.loop.loop, "_selector")
        else "n/a"
    )
    res.end(
        "%s nested=%s core-fd-watched-by-asyncio=%s"
        % (type(app.loop.loop).__module__, app._selector is not None, watched)
    )


# -- the callback runner ---------------------------------------------------


@app.get("/never-awaits")
async def never_awaits(res, req):
    res.end("done at once")


@app.get("/returns-value")
def returns_value(res, req):
    return {"oops": "forgot to respond"}


@app.get("/returns-response")
def returns_response(res, req):
    return res.end("fine")


@app.get("/boom")
def boom(res, req):
    raise ValueError("boom")


@app.get("/boom-later")
async def boom_later(res, req):
    await asyncio.sleep(0)
    raise ValueError("later")


@app.get("/exit")
def system_exit(res, req):
    raise SystemExit(3)


@app.get("/exit-later")
async def system_exit_later(res, req):
    await asyncio.sleep(0)
    raise SystemExit(4)


@app.get("/interrupt")
def keyboard_interrupt(res, req):
    raise KeyboardInterrupt


class Later:
    """An awaitable that is neither a coroutine nor a Future."""

    def __init__(self, action):
        self.action = action

    def __await__(self):
        yield from asyncio.sleep(0.01).__await__()
        return self.action()


@app.post("/on-data/:kind")
def on_data_kinds(res, req):
    kind = req.get_parameter(0)
    chunks = []

    def collect(res, chunk, is_last):
        chunks.append(chunk)
        if not is_last:
            return None
        if kind == "coroutine":

            async def finish():
                await asyncio.sleep(0.01)
                res.end(b"coroutine: " + b"".join(chunks))

            return finish()
        if kind == "future":
            future = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, future.set_exception, RuntimeError("future failed"))
            return future
        if kind == "awaitable":
            return Later(lambda: res.end(b"awaitable: " + b"".join(chunks)))
        raise LookupError("on_data failed")

    res.on_data(collect)


@app.get("/abort/:kind")
def abort_kinds(res, req):
    kind = req.get_parameter(0)

    async def aborted_coroutine(res):
        await asyncio.sleep(0.01)
        note("aborted coroutine ran")

    def aborted_future(res):
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_exception, RuntimeError("abort future failed"))
        return future

    res.on_aborted(aborted_coroutine if kind == "coroutine" else aborted_future)
    note("waiting for abort %s" % kind)


@app.get("/events")
def list_events(res, req):
    res.end("\n".join(events))


# -- tasks -----------------------------------------------------------------


@app.get("/create-task")
def create_task_route(res, req):
    order = []

    async def work():
        order.append("first step")
        await asyncio.sleep(0)
        order.append("second step")
        res.end(" / ".join(order))

    task = create_task(app.loop.loop, work(), lambda t: note("done callback %s" % t.done()))
    order.append("returned")
    res.grab_aborted_handler()
    assert isinstance(task, RequestTask)


@app.get("/task-factory")
async def task_factory_route(res, req):
    loop = asyncio.get_running_loop()
    loop.set_task_factory(TaskFactory(100))
    try:
        seen = []

        async def child():
            seen.append("child ran")

        task = asyncio.ensure_future(child())
        seen.append("after create")
        await task
    finally:
        loop.set_task_factory(None)
    res.end(", ".join(seen))


# -- bodies ------------------------------------------------------------------


@app.post("/echo")
async def echo(res, req):
    body = await res.get_data()
    res.end(body.getvalue())


@app.post("/echo-later")
async def echo_later(res, req):
    await asyncio.sleep(0.05)  # the body arrives (and waits) meanwhile
    body = await req.get_data()
    res.end(body.getvalue())


@app.post("/json")
async def json_body(res, req):
    res.end({"got": await res.get_json(), "url": req.get_url(), "ua": req.get_header("x-test")})


@app.post("/body-then-data")
async def body_then_data(res, req):
    first = await res.get_data()
    second = await res.get_data()  # nothing is left: an empty body, at once
    res.end(b"%d %d" % (len(first.getvalue()), len(second.getvalue())))


app.listen(0, announce)
app.run()
