"""Errors from sync and async handlers reach one error handler."""

import asyncio

from socketify import App

app = App()


@app.on_error
def on_error(error, res, req):
    # res and req are None for errors outside a request (hooks, the loop)
    print("Something went wrong:", repr(error), flush=True)
    if res is not None and not res.aborted:
        res.write_status(500).end("Sorry, we did something wrong")


@app.get("/")
def home(res, req):
    raise RuntimeError("sync failure")


@app.get("/async")
async def failing(res, req):
    await asyncio.sleep(0)
    raise RuntimeError("async failure")


app.get("/ok", lambda res, req: res.end("fine"))
app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
