"""Middlewares and routers (tests/test_middleware.py)."""

import asyncio

from listen_line import announce

from socketify import App
from socketify.middleware import DecoratorRouter, MiddlewareRouter, middleware

app = App()
calls = []  # names of the middlewares that ran, for /calls


def record(name):
    def fn(res, req, data):
        calls.append(name)
        data = list(data or [])
        data.append(name)
        return data

    fn.__name__ = name
    return fn


def async_record(name):
    async def fn(res, req, data):
        await asyncio.sleep(0)
        calls.append(name)
        data = list(data or [])
        data.append(name)
        return data

    fn.__name__ = name
    return fn


def deny(res, req, data):
    calls.append("deny")
    res.write_status(403).end("denied")
    return False


async def async_deny(res, req, data):
    await asyncio.sleep(0)
    calls.append("async_deny")
    res.write_status(403).end("async denied")
    return None


def finish(res, req, data):
    res.send({"chain": data, "sync": True})


async def async_finish(res, req, data):
    await asyncio.sleep(0)
    res.send({"chain": data, "sync": False})


def boom(res, req, data):
    raise ValueError("sync boom")


async def async_boom(res, req, data):
    await asyncio.sleep(0)
    raise ValueError("async boom")


@app.on_error
def on_error(error, res, req):
    if res is not None:
        res.write_status(500).end("handled: %s" % error)


@app.get("/calls")
def get_calls(res, req):
    res.send({"calls": calls})


@app.post("/calls/reset")
def reset_calls(res, req):
    calls.clear()
    res.end("ok")


# -- middleware() ---------------------------------------------------------------
app.get("/sync", middleware(record("a"), record("b"), finish))
app.get("/sync/stop", middleware(record("a"), deny, record("never"), finish))
app.get("/async", middleware(async_record("a"), record("b"), async_record("c"), finish))
app.get("/async/last", middleware(record("a"), record("b"), async_finish))
app.get("/async/stop", middleware(record("a"), async_deny, record("never"), finish))
app.get("/sync/error", middleware(record("a"), boom, finish))
app.get("/async/error", middleware(async_record("a"), async_boom, finish))
app.get("/nested", middleware(middleware(record("a"), async_record("b")), record("c"), finish))


async def read_after_await(res, req, data):
    await asyncio.sleep(0.001)
    return {
        "auth": req.get_header("authorization"),
        "theme": req.get_query("theme"),
        "param": req.get_parameter(0),
        "url": req.get_url(),
        "method": req.get_method(),
    }


def add_more(res, req, data):
    data["more"] = True
    return data


def send_data(res, req, data):
    res.send(data)


app.get("/after-await/:id", middleware(read_after_await, add_more, send_data))


def identify(res, req, data):
    return {"user": req.get_header("x-user")}


def hello_user(res, req, data):
    res.end("hello %s" % data["user"])


# -- MiddlewareRouter ---------------------------------------------------------------
def require_user(res, req, data):
    user = req.get_header("x-user")
    if not user:
        res.write_status(401).end("who are you?")
        return False
    return {"user": user}


async def async_require_user(res, req, data):
    await asyncio.sleep(0)
    return require_user(res, req, data)


def echo_method(res, req, data):
    res.send({"method": req.get_method(), "data": data})


router = MiddlewareRouter(app, require_user)
chain_results = []
for verb in ("get", "post", "options", "delete", "patch", "put", "head", "connect", "trace", "any"):
    path = "/mr/" + verb
    chain_results.append(getattr(router, verb)(path, echo_method) is router)
# a HEAD route answers with headers only
router.head("/mr/headers", lambda res, req, data: res.write_header("X-User", data["user"]).end_without_body())
MiddlewareRouter(app, async_require_user, add_more).get("/mr/async", echo_method)
MiddlewareRouter(app).get("/mr/none", lambda res, req: res.end("no middlewares"))


# -- DecoratorRouter ------------------------------------------------------------------
api = DecoratorRouter(app, "/api", require_user)
decorated = {}
for verb in ("get", "post", "options", "delete", "patch", "put", "head", "connect", "trace", "any"):

    def handler(res, req, data, verb=verb):
        res.send({"route": verb, "method": req.get_method(), "data": data})

    decorated[verb] = getattr(api, verb)("/" + verb)(handler) is handler


@api.get("/user/:id")
async def api_user(res, req, data):
    await asyncio.sleep(0)
    res.send({"id": req.get_parameter(0), "user": data["user"]})


plain = DecoratorRouter(app)


@plain.get("/plain")
def plain_handler(res, req):
    res.end("plain %s" % req.get_method())


@plain.post("/plain")
async def plain_post(res, req):
    body = await res.get_text()
    res.end("posted %s" % body)


async_prefixed = DecoratorRouter(app, "/v2", async_require_user, lambda res, req, d: {**d, "v": 2})


@async_prefixed.put("/item")
def put_item(res, req, data):
    res.send(data)


# Every route object takes both forms (socketify/_routes.py): a MiddlewareRouter
# as a decorator, a DecoratorRouter as a chaining call.
@router.patch("/mr/decorated")
def mr_decorated(res, req, data):
    res.send({"form": "decorator", "data": data})


both_forms = {
    "middleware_router_decorator_returns_handler": mr_decorated.__name__ if mr_decorated else None,
    "decorator_router_call_returns_router": api.delete(
        "/called", lambda res, req, data: res.send({"form": "call", "data": data})
    )
    is api,
}


@app.get("/introspect")
def introspect(res, req):
    res.send(
        {
            "middleware_router_chains": chain_results,
            "both_forms": both_forms,
            "decorators_return_handler": decorated,
            "plain_handler": plain_handler.__name__ if plain_handler else None,
            "plain_post": plain_post.__name__ if plain_post else None,
            "put_item": put_item.__name__ if put_item else None,
            "sync_result": middleware(record("x"), record("y"))(None, None),
            "sync_result_with_data": middleware(record("z"))(None, None, ["start"]),
            "stopped_result": middleware(lambda res, req, d: 0, record("never"))(None, None),
        }
    )


app.listen(0, announce)
app.run()
