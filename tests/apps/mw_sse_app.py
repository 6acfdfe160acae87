"""Server-Sent Events (tests/test_sse.py)."""

import asyncio

from listen_line import announce

from socketify import App
from socketify.sse import SSE, open_sse

app = App()
clients = set()
stats = {"opened": 0, "closed": 0, "aborted": 0, "closed_by_server": 0, "user_abort": 0, "waited": 0}


def on_close(sse):
    clients.discard(sse)
    stats["closed"] += 1
    stats["aborted" if sse.aborted else "closed_by_server"] += 1


@app.get("/events")
async def events(res, req):
    if req.get_query("user_abort"):

        def user_abort(res):
            stats["user_abort"] += 1

        res.on_aborted(user_abort)
    sse = SSE(res, on_close=on_close)
    clients.add(sse)
    stats["opened"] += 1
    sse.send("welcome", event="hello", id=1, retry=1000)
    # keep-alive comments: they also reveal a client that left
    while not sse.closed:
        await asyncio.sleep(0.05)
        sse.comment("ping")


@app.post("/broadcast")
async def broadcast(res, req):
    event = req.get_query("event")
    data = await res.get_text()
    sent = sum(1 for sse in list(clients) if sse.send(data, event=event))
    res.send({"sent": sent})


@app.get("/finite")
def finite(res, req):
    sse = open_sse(res, on_close=on_close, headers=[("X-Stream", "finite")])
    sse.send("line one\nline two\r\nline three\rline four")
    sse.send({"json": [1, 2]}, event="data", id="7")
    sse.comment("just a comment")
    sse.send("", event="empty")
    sse.send(b"bytes \xc3\xa9")
    sse.close()
    assert sse.send("after close") is False and sse.comment() is False


@app.get("/async-events")
async def async_events(res, req):
    sse = SSE(res)
    for i in range(3):
        await asyncio.sleep(0)
        sse.send(str(i), id=i)
    sse.close()


@app.get("/wait-closed")
async def wait_closed(res, req):
    sse = SSE(res, on_close=on_close)
    clients.add(sse)
    sse.send("waiting")
    await sse.wait_closed()
    stats["waited"] += 1


@app.post("/close-all")
def close_all(res, req):
    for sse in list(clients):
        sse.close()
    res.end("closed")


app.get("/stats", lambda res, req: res.send({**stats, "open": len(clients)}))

app.listen(0, announce)
app.run()
