"""One chat room across many processes (and machines), through Redis.

Run Redis, then this program as many times as you like: every copy listens
on port 3000 (the kernel spreads connections over them, SO_REUSEPORT) and
every copy uses the same Redis, so the room is one room:

    redis-server &
    python examples/chat_cluster.py &
    python examples/chat_cluster.py &

REDIS_URL chooses the Redis (default redis://127.0.0.1:6379/0). Join with a
WebSocket at ws://localhost:3000/chat?name=ann: the server greets you with
{"welcome": name, "pid": pid}, then every text you send reaches every
member, in every process, as {"from": name, "pid": pid, "text": text}.
GET /who answers {"pid", "here": members in this process, "processes":
processes of the cluster that have members}.
"""

import json
import os

from socketify import App, OpCode
from socketify.pubsub import RedisBackplane

ROOM = "chat"
app = App(pubsub=RedisBackplane(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")))


def upgrade(res, req, context):
    name = req.get_query("name") or "anonymous"
    res.upgrade(
        req.get_header("sec-websocket-key"),
        req.get_header("sec-websocket-protocol") or "",
        req.get_header("sec-websocket-extensions") or "",
        context,
        name,
    )


def joined(ws):
    ws.send(json.dumps({"welcome": ws.get_user_data(), "pid": os.getpid()}), OpCode.TEXT)
    ws.subscribe(ROOM)


def said(ws, message, opcode):
    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
    # Delivered here at once, and to the other processes through Redis.
    app.publish(ROOM, json.dumps({"from": ws.get_user_data(), "pid": os.getpid(), "text": text}), OpCode.TEXT)


async def who(res, req):
    processes = await app.backplane.num_subscribers(ROOM)
    res.send({"pid": os.getpid(), "here": app.num_subscribers(ROOM), "processes": processes})


app.ws("/chat", {"upgrade": upgrade, "open": joined, "message": said, "idle_timeout": 120})
app.get("/who", who)
app.listen(3000, lambda config: print("Listening on port http://localhost:%d now" % config.port, flush=True))
app.run()
