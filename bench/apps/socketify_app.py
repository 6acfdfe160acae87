"""Benchmark app for the socketify API: ours and the reference peer.

The same file runs under both: with the project's ``.venv`` python it imports
our package, with ``bench/.venvs/reference/bin/python`` it imports
socketify 0.0.31 from PyPI. Every scenario's route is registered, so one
process serves any scenario.

Usage: python socketify_app.py PORT [--tls KEY CERT]
(prints a ready line, serves until killed; --tls: HTTPS with
``App(AppOptions(key_file_name=KEY, cert_file_name=CERT))``)
"""

import asyncio
import sys

from socketify import App

PLAIN = "Hello, World!"
MESSAGE = {"message": "Hello, World!"}

# Responses waiting for their body. socketify 0.0.31 aborts the process
# ("ffi.from_handle() ... points to garbage" in its on_data handler) under
# concurrent POSTs unless the Response is kept alive while get_data() is
# pending; holding it costs ours nothing measurable, so both run this code.
_pending = set()


def plaintext(res, req):
    """GET / -> Hello, World! as text/plain."""
    res.write_header("Content-Type", "text/plain")
    res.end(PLAIN)


def json_hello(res, req):
    """GET /json -> {"message": "Hello, World!"} as application/json."""
    res.send(MESSAGE)


def params(res, req):
    """GET /user/:id/post/:post?q=x -> both parameters and the query arg."""
    user = req.get_parameter(0)
    post = req.get_parameter(1)
    query = req.get_query("q")
    res.write_header("Content-Type", "text/plain")
    res.end("user %s post %s q %s" % (user, post, query))


async def echo(res, req):
    """POST /echo -> the request body, as sent."""
    _pending.add(res)
    try:
        body = await res.get_data()
        res.end(body.getvalue())
    finally:
        _pending.discard(res)


async def async_plaintext(res, req):
    """GET /async -> Hello, World! after one ``await asyncio.sleep(0)``."""
    await asyncio.sleep(0)
    res.write_header("Content-Type", "text/plain")
    res.end(PLAIN)


def main():
    """Registers the routes, listens on argv[1] and runs the loop."""
    port = int(sys.argv[1])
    if "--tls" in sys.argv:
        from socketify import AppOptions

        at = sys.argv.index("--tls")
        app = App(AppOptions(key_file_name=sys.argv[at + 1], cert_file_name=sys.argv[at + 2]))
    else:
        app = App()
    app.get("/", plaintext)
    app.get("/json", json_hello)
    app.get("/user/:id/post/:post", params)
    app.post("/echo", echo)
    app.get("/async", async_plaintext)
    app.listen(port, lambda config: print("ready: socketify on http://127.0.0.1:%d" % config.port, flush=True))
    app.run()


if __name__ == "__main__":
    main()
