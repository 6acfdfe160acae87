"""Server-Sent Events: a clock every second and messages broadcast to
every connected browser.

    python examples/sse.py   # then open http://localhost:3000
    curl -N localhost:3000/events
    curl -d 'hi everyone' localhost:3000/broadcast
"""

import asyncio
import time

from socketify import App
from socketify.sse import SSE

PAGE = b"""<!doctype html>
<meta charset="utf-8"><title>socketify SSE</title>
<p>Time: <span id="clock">?</span></p>
<form id="f"><input id="m" placeholder="message"><button>broadcast</button></form>
<ul id="log"></ul>
<script>
const events = new EventSource("/events");
events.addEventListener("tick", (e) => { clock.textContent = e.data; });
events.addEventListener("broadcast", (e) => {
  const li = document.createElement("li"); li.textContent = e.data; log.append(li);
});
f.onsubmit = (e) => { e.preventDefault(); fetch("/broadcast", {method: "POST", body: m.value}); m.value = ""; };
</script>
"""

app = App()
clients = set()


def home(res, req):
    res.write_header("Content-Type", "text/html; charset=utf-8").end(PAGE)


async def events(res, req):
    sse = SSE(res, on_close=clients.discard)
    clients.add(sse)
    sse.send("connected", event="hello", retry=2000)
    # while the client is there: the time, every second (this also keeps
    # the connection alive and reveals a client that left)
    while not sse.closed:
        sse.send(time.strftime("%H:%M:%S"), event="tick")
        await asyncio.sleep(1)


async def broadcast(res, req):
    message = await res.get_text()
    for sse in list(clients):
        sse.send(message, event="broadcast")
    res.end({"clients": len(clients)})


app.get("/", home)
app.get("/events", events)
app.post("/broadcast", broadcast)

app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
