"""A server in a cluster sharing one Redis:
``pubsub_redis_app.py URL [retry] [NAME=VALUE...]`` (max_queue,
max_queue_bytes, ping_interval, command_timeout: RedisBackplane options).

WebSocket /ws?topics=a,b (or /wsz, with permessage-deflate) subscribes to
those topics on open. Text commands: {"op": "sub"|"unsub"|"sub_wait",
"topic"} answer {"op", "result"} (sub_wait once Redis confirmed it);
{"op": "pub", "topic", "msg", "binary", "compress"} calls ws.publish;
{"op": "end", "abrupt"} closes the socket (ws.end, or ws.close).
HTTP: /publish?topic=&msg=[&binary=1][&compress=1] (app.publish),
/publish-loop?topic=&n=&tag=[&pad=][&close=1] (n publishes "tag:i" + pad
dots; then app.close()),
/stats (the backplane's counters), /cluster?topic= (processes with
subscribers, and local subscribers), /topics (backplane.topics()).
"""

import dataclasses
import json
import sys

from listen_line import announce

from socketify import App, CompressOptions, OpCode
from socketify.pubsub import RedisBackplane

OPTIONS = dict(arg.split("=", 1) for arg in sys.argv[2:] if "=" in arg)
app = App(
    pubsub=RedisBackplane(
        sys.argv[1],
        connect_retry="retry" in sys.argv[2:],
        max_queue=int(OPTIONS.get("max_queue", 10_000)),
        max_queue_bytes=int(OPTIONS.get("max_queue_bytes", 1 << 26)),
        ping_interval=float(OPTIONS.get("ping_interval", 5)),
        command_timeout=float(OPTIONS.get("command_timeout", 5)),
        reconnect_delay=0.05,
        max_reconnect_delay=0.5,
    )
)


def upgrade(res, req, context):
    topics = [t for t in (req.get_query("topics") or "").split(",") if t]
    res.upgrade(req.get_header("sec-websocket-key"), "", req.get_header("sec-websocket-extensions"), context, topics)


def on_open(ws):
    for topic in ws.get_user_data():
        ws.subscribe(topic)


async def subscribe_and_wait(ws, topic):
    ws.subscribe(topic)
    await app.backplane.subscribed(topic, timeout=10)
    ws.send(json.dumps({"op": "sub_wait", "result": True}), OpCode.TEXT)


def on_message(ws, message, opcode):
    cmd = json.loads(message)
    op, topic = cmd["op"], cmd.get("topic")
    if op == "sub_wait":  # answers once Redis confirmed the subscription
        return subscribe_and_wait(ws, topic)
    if op == "sub":
        result = ws.subscribe(topic)
    elif op == "unsub":
        result = ws.unsubscribe(topic)
    elif op == "end":  # the server closes: ws.end or ws.close
        if cmd.get("abrupt"):
            ws.close()
        else:
            ws.end(1000, "bye")
        return
    elif op == "pub":
        binary = cmd.get("binary")
        result = ws.publish(
            topic,
            cmd["msg"].encode() if binary else cmd["msg"],
            OpCode.BINARY if binary else OpCode.TEXT,
            cmd.get("compress", False),
        )
    else:
        result = "unknown op"
    ws.send(json.dumps({"op": op, "result": result}), OpCode.TEXT)


behavior = {
    "upgrade": upgrade,
    "open": on_open,
    "message": on_message,
    "idle_timeout": 120,
    "max_backpressure": 64 * 1024 * 1024,
}
app.ws("/ws", behavior)
app.ws("/wsz", dict(behavior, compression=CompressOptions.SHARED_COMPRESSOR))


@app.get("/publish")
def publish(res, req):
    binary = req.get_query("binary") == "1"
    msg = req.get_query("msg") or ""
    res.send(
        {
            "result": app.publish(
                req.get_query("topic"),
                msg.encode() if binary else msg,
                OpCode.BINARY if binary else OpCode.TEXT,
                req.get_query("compress") == "1",
            )
        }
    )


@app.get("/publish-loop")
def publish_loop(res, req):
    topic, tag = req.get_query("topic"), req.get_query("tag") or ""
    pad = "." * int(req.get_query("pad") or 0)
    for i in range(int(req.get_query("n"))):
        app.publish(topic, "%s:%d%s" % (tag, i, pad), OpCode.TEXT)
    res.send({"result": True})
    if req.get_query("close") == "1":
        app.close()


@app.get("/stats")
def stats(res, req):
    res.send({"result": dataclasses.asdict(app.backplane.stats)})


@app.get("/topics")
async def topics(res, req):
    res.send({"result": [t.decode() for t in await app.backplane.topics()]})


@app.get("/cluster")
async def cluster(res, req):
    topic = req.get_query("topic")
    count = await app.backplane.num_subscribers(topic)
    res.send({"result": {"processes": count, "local": app.num_subscribers(topic)}})


app.listen(0, announce)
app.run()
