"""Routes for streaming, backpressure, cookies and the other response helpers."""

import asyncio
import hashlib
import json

from listen_line import announce

from socketify import App

app = App()
state = {"upload_peak_rss": 0, "download_peak_rss": 0, "aborted_writes": 0}


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@app.post("/upload")
def upload(res, req):
    digest = hashlib.sha256()
    received = [0]

    def on_data(res, chunk, is_last):
        digest.update(chunk)
        received[0] += len(chunk)
        if received[0] % (8 << 20) < len(chunk):
            state["upload_peak_rss"] = max(state["upload_peak_rss"], rss_kib())
        if is_last:
            res.send({"bytes": received[0], "sha256": digest.hexdigest()})

    res.on_data(on_data)


BLOCK = bytes(range(256)) * 256  # 64 KiB


@app.get("/download/:mib")
async def download(res, req):
    total = int(req.get_parameter(0)) << 20
    sent = 0
    res.write_header("Content-Type", "application/octet-stream")
    while sent < total:
        piece = BLOCK[: min(len(BLOCK), total - sent)]
        ok, done = await res.send_chunk(piece, total)
        if res.aborted:
            return
        sent += len(piece)
        if sent % (4 << 20) == 0:
            state["download_peak_rss"] = max(state["download_peak_rss"], rss_kib())


@app.get("/try-end-sync")
def try_end_sync(res, req):
    body = b"0123456789" * 1000
    ok, done = res.try_end(body[:4000], len(body))
    ok2, done2 = res.try_end(body[4000:], len(body))
    assert done2 and not done


@app.get("/state")
def get_state(res, req):
    res.send(dict(state, rss=rss_kib()))


@app.post("/pause")
def pause(res, req):
    chunks = []
    res.pause()

    def on_data(res, chunk, is_last):
        chunks.append(chunk)
        if is_last:
            res.end(b"".join(chunks))

    def later():
        res.on_data(on_data)
        res.resume()

    asyncio.get_event_loop().call_later(0.3, later)


@app.get("/cookies/set")
def set_cookies(res, req):
    res.set_cookie("session", "abc 123", {"path": "/", "httponly": True, "samesite": "Lax", "max-age": 3600})
    res.set_cookie("theme", "dark", {"path": "/"})
    res.end("set")


@app.get("/cookies/get")
def get_cookies(res, req):
    res.send(
        {"session": req.get_cookie("session"), "theme": req.get_cookie("theme"), "missing": req.get_cookie("missing")}
    )


@app.get("/cookies/evil")
def evil_cookie(res, req):
    try:
        res.set_cookie("x", "y", {"path": "/\r\nX-Injected: 1"})
    except ValueError:
        res.end("refused")
        return
    res.end("accepted")


@app.get("/redirect")
def redirect(res, req):
    res.redirect("/redirected", 301)


app.get("/redirected", lambda res, req: res.end("landed"))


class Template:
    def render(self, name, **context):
        return "<h1>%s %s</h1>" % (name, json.dumps(context, sort_keys=True))


app.template(Template())
app.get("/render", lambda res, req: res.render("page", user="ana"))


@app.post("/form")
async def form(res, req):
    res.send({"form": await res.get_form_urlencoded()})


@app.post("/req-json")
async def req_json(res, req):
    res.send({"json": await req.get_json(), "url": req.get_url()})


@app.post("/req-text")
async def req_text(res, req):
    res.send({"text": await req.get_text()})


@app.get("/proxied")
def proxied(res, req):
    raw = res.get_proxied_remote_address_bytes()
    res.send(
        {
            "proxied": res.get_proxied_remote_address(),
            "raw": list(raw) if raw else None,
            "remote": res.get_remote_address(),
            "fd": res.get_native_handle() is not None,
        }
    )


@app.get("/cork-async")
async def cork_async(res, req):
    await asyncio.sleep(0.01)
    res.cork(lambda r: r.write_status(202).write_header("X-Corked", "yes").end("corked"))


@app.get("/cork-send")
async def cork_send(res, req):
    await asyncio.sleep(0)
    res.cork_send({"ok": 1}, status=201)


@app.get("/write-after-abort")
async def write_after_abort(res, req):
    res.on_aborted(lambda r: None)
    await asyncio.sleep(0.3)
    for _ in range(3):
        res.write("x").end("y").send("z")
        state["aborted_writes"] += 1


app.listen(0, announce)
app.run()
