"""The shared test app: one route per behaviour the HTTP tests check."""

import asyncio
import sys

from listen_line import announce

from socketify import App

app = App()


def describe(res, req, route):
    res.send(
        {
            "route": route,
            "method": req.get_method(),
            "url": req.get_url(),
            "full_url": req.get_full_url(),
            "params": req.get_parameters(),
            "queries": req.get_queries(),
            "ancient": req.is_ancient(),
        }
    )


# -- routing precedence --------------------------------------------------------
app.get("/prec/static", lambda res, req: describe(res, req, "static"))
app.get("/prec/:param", lambda res, req: describe(res, req, "param"))
app.get("/prec/*", lambda res, req: describe(res, req, "wildcard"))
app.any("/prec/any-only", lambda res, req: describe(res, req, "any-only"))
app.get("/both", lambda res, req: describe(res, req, "get"))
app.any("/both", lambda res, req: describe(res, req, "any"))
app.get("/params/:a/:b", lambda res, req: describe(res, req, "params"))
app.get("/deep/:a/x/:b/*", lambda res, req: describe(res, req, "deep"))


@app.post("/method")
def post_method(res, req):
    describe(res, req, "post")


for verb in ("put", "delete", "patch", "options", "connect", "trace"):
    getattr(app, verb)("/method", lambda res, req, verb=verb: describe(res, req, verb))
app.any("/method", lambda res, req: describe(res, req, "any"))
app.head("/head-route", lambda res, req: res.write_header("X-Head", "yes").end_without_body())
app.get("/head-route", lambda res, req: res.end("from get"))


# -- request accessors ------------------------------------------------------------
@app.get("/headers")
def headers(res, req):
    seen = []
    req.for_each_header(lambda name, value: seen.append([name, value]))
    res.send(
        {
            "headers": req.get_headers(),
            "each": seen,
            "host": req.get_header("host"),
            "missing": req.get_header("x-missing"),
        }
    )


@app.get("/query")
def query(res, req):
    res.send(
        {"a": req.get_query("a"), "b": req.get_query("b"), "missing": req.get_query("zzz"), "all": req.get_queries()}
    )


# -- response writers ----------------------------------------------------------------
app.get("/text", lambda res, req: res.end("hello"))
app.get("/bytes", lambda res, req: res.end(b"\x00\x01bytes"))
app.get("/json", lambda res, req: res.end({"ok": True, "list": [1, 2]}))
app.get("/empty", lambda res, req: res.end_without_body())
app.get("/none", lambda res, req: res.end(None))
app.get("/no-content", lambda res, req: res.write_status(204).end_without_body())
app.get("/not-modified", lambda res, req: res.write_status(304).end_without_body())


@app.get("/status/:code")
def status(res, req):
    res.write_status(int(req.get_parameter(0))).end("status")


@app.get("/status-text")
def status_text(res, req):
    res.write_status("418 I'm a teapot").write_header("X-Tea", "pot").end("short and stout")


@app.get("/stream")
def stream(res, req):
    res.write_header("Content-Type", "text/plain")
    for part in ("one,", "two,", "three"):
        res.write(part)
    res.end()


@app.get("/stream-sizes")
def stream_sizes(res, req):
    """Chunks of the sizes in ?sizes=a,b,c (decimal): hex chunk-size lines."""
    for size in req.get_query("sizes").split(","):
        res.write(b"x" * int(size))
    res.end()


@app.get("/stream-length")
def stream_length(res, req):
    res.write_header("Content-Length", "10")
    res.write("01234")
    res.end("56789")


@app.get("/send")
def send(res, req):
    q = req.get_query("kind")
    if q == "dict":
        res.send({"x": 1})
    elif q == "status-int":
        res.send("created", status=201)
    elif q == "status-str":
        res.send("gone", status="410 Gone")
    elif q == "headers":
        res.send(b"with headers", content_type="text/custom", headers=[("X-A", "1"), (b"X-B", b"2")])
    elif q == "list":
        res.send([1, 2, 3])
    else:
        res.send("plain")


@app.get("/header-types")
def header_types(res, req):
    res.write_header("X-Int", 42).write_header(b"X-Bytes", b"b").end("ok")


@app.get("/close-after")
def close_after(res, req):
    res.end("bye", end_connection=True)


# -- misuse --------------------------------------------------------------------------
@app.get("/end-twice")
def end_twice(res, req):
    res.end("first")
    res.end("second")
    res.write("after end")
    res.write_header("X-After", "end")
    res.send("again")


@app.get("/header-injection")
def header_injection(res, req):
    try:
        res.write_header("X-Evil", "a\r\nSet-Cookie: pwned=1")
    except ValueError as error:
        res.end("rejected: %s" % type(error).__name__)
        return
    res.end("accepted")


@app.get("/bad-types")
def bad_types(res, req):
    errors = []
    for call in (
        lambda: res.write_header(object(), "x"),
        lambda: res.write_status(12345),
        lambda: res.write_status(3.5),
    ):
        try:
            call()
        except (TypeError, ValueError) as error:
            errors.append(type(error).__name__)
    res.send({"errors": errors})


@app.get("/stale-request")
def stale_request(res, req):
    res.end("done")
    try:
        req.get_url()
    except RuntimeError:
        sys.stderr.write("stale request raised\n")


# -- errors ---------------------------------------------------------------------------
@app.get("/raise")
def raise_error(res, req):
    raise ValueError("boom")


@app.get("/raise-after-write")
def raise_after_write(res, req):
    res.write("partial")
    raise ValueError("boom after write")


@app.get("/raise-async")
async def raise_async(res, req):
    await asyncio.sleep(0.01)
    raise ValueError("async boom")


@app.get("/no-response")
def no_response(res, req):
    # Answered later, from a timer: the connection must stay usable meanwhile.
    asyncio.get_event_loop().call_later(0.2, lambda: res.end("late answer"))


# -- async -----------------------------------------------------------------------------
@app.get("/async")
async def async_handler(res, req):
    await asyncio.sleep(0.05)
    res.send(
        {
            "url": req.get_url(),
            "query": req.get_query("q"),
            "header": req.get_header("x-test"),
            "params": req.get_parameters(),
            "method": req.get_method(),
        }
    )


@app.get("/async/:id")
async def async_param(res, req):
    await asyncio.sleep(0.01)
    res.end("id=%s" % req.get_parameter(0))


@app.get("/async-no-await")
async def async_no_await(res, req):
    res.end("instant")


aborted = []


@app.get("/async-abort")
async def async_abort(res, req):
    res.on_aborted(lambda r: aborted.append(req.get_url()))
    await asyncio.sleep(0.5)
    res.end("too late")  # a no-op: the client is gone
    res.write("still nothing")


app.get("/aborted-count", lambda res, req: res.send({"aborted": len(aborted)}))


@app.get("/delay/:ms")
async def delay(res, req):
    await asyncio.sleep(int(req.get_parameter(0)) / 1000)
    res.end("delayed %s" % req.get_parameter(0))


# -- bodies ------------------------------------------------------------------------------
@app.post("/echo")
async def echo(res, req):
    body = (await res.get_data()).getvalue()
    res.write_header("X-Length", str(len(body))).end(body)


@app.post("/ignore-body")
def ignore_body(res, req):
    res.end("ignored")


@app.get("/remote")
def remote(res, req):
    res.send({"text": res.get_remote_address(), "bytes": list(res.get_remote_address_bytes() or b"")})


# -- yield --------------------------------------------------------------------------------
@app.get("/yield/:x")
def first(res, req):
    if req.get_parameter(0) == "pass":
        req.set_yield(True)
        return
    res.end("first")


app.get("/yield/*", lambda res, req: res.end("second"))


app.any("/*", lambda res, req: res.write_status(404).end("custom not found: %s" % req.get_url()))

app.listen(0, announce)
app.run()
print("run returned", flush=True)
