"""Routers that apply middlewares to every route they register.

``MiddlewareRouter(app, *middlewares)``: ``router.get(path, handler)``
(chainable). ``DecoratorRouter(app, prefix, *middlewares)``:
``@router.get(path)`` (the decorator returns the handler).

    python examples/middleware_router.py
    curl -H "Authorization: secret" localhost:3000/
    curl -H "Authorization: secret" -X POST -d '{"a": 1}' localhost:3000/api/items
"""

import asyncio

from socketify import App
from socketify.middleware import DecoratorRouter, MiddlewareRouter, middleware


async def get_user(authorization):
    await asyncio.sleep(0)  # something async, like a session store
    if authorization == "secret":
        return {"greeting": "Hello, World"}
    return None


async def auth(res, req, data=None):
    user = await get_user(req.get_header("authorization"))
    if not user:
        res.write_status(403).end("not authorized")
        return False
    return user


def another_middie(res, req, data=None):
    # sync and async middlewares mix freely
    data["greeting"] = "%s from another middie ;)" % data["greeting"]
    return data


def home(res, req, user=None):
    res.cork_end(user["greeting"])


app = App()

# every route of this router runs auth first
auth_router = MiddlewareRouter(app, auth)
auth_router.get("/", home).get("/another", middleware(another_middie, home))

# several middlewares at once
other_router = MiddlewareRouter(app, auth, another_middie)
other_router.get("/another_way", home)

# a prefix, middlewares and decorators
api = DecoratorRouter(app, "/api", auth)


@api.get("/items/:id")
def get_item(res, req, user):
    res.end({"id": req.get_parameter(0), "greeting": user["greeting"]})


@api.post("/items")
async def create_item(res, req, user):
    item = await res.get_json()
    res.write_status(201).end({"created": item})


# public routes stay as usual
app.get("/public", lambda res, req: res.end("no auth here"))

app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
