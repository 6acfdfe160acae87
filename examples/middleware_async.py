"""Async and sync middlewares mixed in one chain. Once a middleware is
``async def``, the rest of the chain runs as a coroutine; ``req`` stays
readable after every ``await``.

    python examples/middleware_async.py
    curl -H "Authorization: Bearer t1" "localhost:3000/?theme=dark"
"""

import asyncio

from socketify import App
from socketify.middleware import middleware

SESSIONS = {"t1": {"name": "Ana"}, "t2": {"name": "Bruno"}}


async def get_user(authorization):
    await asyncio.sleep(0.01)  # e.g. a database or a cache lookup
    if authorization and authorization.startswith("Bearer "):
        return SESSIONS.get(authorization[7:])
    return None


async def auth(res, req, data=None):
    user = await get_user(req.get_header("authorization"))
    if not user:
        res.write_status(403).end("not authorized")
        return False
    return {"user": user}


def preferences(res, req, data):
    # still valid after the await in auth: a plain str, not a list
    data["theme"] = req.get_query("theme") or "light"
    return data


async def load_messages(res, req, data):
    await asyncio.sleep(0)
    data["messages"] = ["welcome back, %s" % data["user"]["name"]]
    return data


def home(res, req, data):
    res.cork_end(data)


app = App()
app.get("/", middleware(auth, preferences, load_messages, home))
app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
