"""Static files and sendfile (tests/test_static.py). argv[1]: the directory to serve."""

import os
import sys

from listen_line import announce

from socketify import App
from socketify.helpers import in_directory, sendfile, static_route

root = sys.argv[1]
app = App()

static_route(app, "/static", root)
static_route(app, "/", root)  # mounted at the root too: the most general route


@app.get("/send/:name")
async def send(res, req):
    await sendfile(res, req, os.path.join(root, req.get_parameter(0)))


@app.post("/send/:name")
def send_from_post(res, req):
    # sendfile answers any method; only GET gets ranges and conditionals
    return sendfile(res, req, os.path.join(root, req.get_parameter(0)))


aborts = {"count": 0}


@app.get("/watch/:name")
async def watch(res, req):
    def aborted(res):
        aborts["count"] += 1

    res.on_aborted(aborted)
    await sendfile(res, req, os.path.join(root, req.get_parameter(0)))


app.get("/aborts", lambda res, req: res.send(aborts))
app.get("/send-error", lambda res, req: sendfile(res, req, "bad\x00name"))


@app.get("/in-directory")
def check_in_directory(res, req):
    res.send(
        {
            "inside": in_directory(os.path.join(root, "hello.txt"), root),
            "root_itself": in_directory(root, root),
            "dotdot": in_directory(os.path.join(root, "..", "secret.txt"), root),
            "sibling_prefix": in_directory(root + "-sibling/x", root),
            "escaping_link": in_directory(os.path.join(root, "escape.txt"), root),
        }
    )


app.listen(0, announce)
app.run()
