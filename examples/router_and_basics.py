"""Routing basics: methods, parameters, queries, headers, cookies, JSON,
redirects, streaming in parts, async handlers, route fall-through and a
prefixed decorator router.

    python examples/router_and_basics.py
    curl localhost:3000/user/1 ; curl localhost:3000/json ; curl localhost:3000/api/status
"""

import asyncio
from datetime import datetime, timedelta, timezone

from socketify import App

app = App()


def home(res, req):
    res.end("Hello :)")


def anything(res, req):
    # app.any answers every method, custom ones too
    res.end("Any route with method: %s" % req.get_method())


def user_agent(res, req):
    res.end("Your user agent is: %s" % req.get_header("user-agent"))


def user(res, req):
    # parameters are read by index, percent-decoded
    if req.get_parameter(0) == "1":
        res.end("Hello user with id 1!")
    else:
        # not ours: let the next matching route (the not-found one) answer
        req.set_yield(True)


def cookies(res, req):
    res.set_cookie(
        "session",
        "socketify python",
        {
            "path": "/",
            "httponly": True,
            "samesite": "Lax",
            "expires": datetime.now(timezone.utc) + timedelta(minutes=30),
        },
    )
    res.end("Your session cookie was: %s" % req.get_cookie("session"))


def query(res, req):
    res.end({"name": req.get_query("name"), "all": req.get_queries()})


def json(res, req):
    # a dict or a list is sent as JSON with Content-Type: application/json
    res.end({"message": "I'm an application/json!"})


async def delayed(res, req):
    # read what you need from req whenever you like: it stays valid after await
    delay = float(req.get_query("delay") or 0)
    await asyncio.sleep(delay)
    res.cork_end("Hello sorry for the delay!")


async def sleepy_json(res, req):
    await asyncio.sleep(0.1)
    res.cork_end({"message": "I'm delayed!", "user-agent": req.get_header("user-agent")})


def custom_header(res, req):
    res.write_header("Content-Type", "application/octet-stream")
    res.write_header("X-Powered-By", "socketify")
    res.end("got octet!")


def send_in_parts(res, req):
    # without a Content-Length the body is streamed with chunked encoding
    res.write("I can")
    res.write(" send ")
    res.write("messages")
    res.end(" in parts!")


def redirect(res, req):
    res.redirect("/redirect_target", 302)


def redirect_target(res, req):
    res.end("You got redirected to here :D")


def not_found(res, req):
    res.write_status(404).end("Oops! %s not found." % req.get_url())


app.get("/", home)
app.any("/anything", anything)
app.get("/user/agent", user_agent)
app.get("/user/:id", user)
app.get("/cookies", cookies)
app.get("/query", query)
app.get("/json", json)
app.get("/delayed", delayed)
app.get("/sleepy", sleepy_json)
app.get("/custom_header", custom_header)
app.get("/send_in_parts", send_in_parts)
app.get("/redirect", redirect)
app.get("/redirect_target", redirect_target)


# every method helper is also a decorator
@app.post("/echo")
async def echo(res, req):
    body = await res.get_data()  # a BytesIO
    res.end(body.getvalue())


# routes under a common prefix
api = app.router("/api")


@api.get("/status")
def status(res, req):
    res.end({"status": "ok"})


@api.put("/items/:id")
async def put_item(res, req):
    res.end({"id": req.get_parameter(0), "item": await res.get_json()})


# registered last, matched last: the most general pattern
app.any("/*", not_found)

app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
