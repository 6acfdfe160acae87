"""Async handlers: the request stays usable after await."""

import asyncio

from socketify import App

app = App()


async def delayed_hello(delay, res):
    await asyncio.sleep(delay)  # some async work
    res.cork_end("Hello with delay!")


@app.get("/")
def home(res, req):
    # a sync handler can hand the response to a coroutine
    res.run_async(delayed_hello(0.01, res))


@app.get("/json")
async def json_handler(res, req):
    user_agent = req.get_header("user-agent")  # read before or after await alike
    await asyncio.sleep(0.01)
    res.cork_send({"message": "Hello", "user-agent": user_agent, "query": req.get_query("name")})


@app.get("/abort")
async def abortable(res, req):
    res.on_aborted(lambda res: print("client went away", flush=True))
    await asyncio.sleep(0.5)
    res.end("too late if the client left")  # a no-op then


app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
