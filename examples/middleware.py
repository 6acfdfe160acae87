"""Middlewares: functions ``fn(res, req, data)`` run in order before a route
handler. Each returns the ``data`` the next one receives; a falsy return
stops the chain (after answering, e.g. with a 403).

    python examples/middleware.py
    curl -H "Authorization: Bearer alice-token" localhost:3000/
"""

from socketify import App
from socketify.middleware import middleware  # also: from socketify import middleware

USERS = {"alice-token": {"name": "Alice", "role": "admin"}, "bob-token": {"name": "Bob", "role": "user"}}


def auth(res, req, data=None):
    token = (req.get_header("authorization") or "").removeprefix("Bearer ").strip()
    user = USERS.get(token)
    if user is None:
        res.write_status(403).end("not authorized")
        return False  # stops the chain: nothing after this runs
    return {"user": dict(user)}


def admin_only(res, req, data):
    if data["user"]["role"] != "admin":
        res.write_status(403).end("admins only")
        return False
    return data


def greeting(res, req, data):
    data["greeting"] = "Hello, %s" % data["user"]["name"]
    return data


def home(res, req, data):
    res.end(data)


def admin(res, req, data):
    res.end("Welcome to the admin area, %s" % data["user"]["name"])


app = App()
app.get("/", middleware(auth, greeting, home))
app.get("/admin", middleware(auth, admin_only, admin))
app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
