"""Pub/sub app: ``ws_pubsub_app.py sync|async``.

Clients connect to /ps?name=<id> (or /psz, with permessage-deflate) and send
JSON commands as text: {"op": "sub"|"unsub"|"is"|"topics"|"each"|"num",
"topic": t} answer {"op": ..., "result": ...}; {"op": "pub", "topic", "msg",
"binary", "compress"} publishes through ws.publish then answers;
{"op": "pubn", "topic", "n"} calls app.publish n times ("0", "1", ...) and
answers nothing. Subscription events are logged per name: GET /log?name=.
GET /publish?topic=&msg=[&binary=1][&compress=1] and GET /num?topic= use
app.publish / app.num_subscribers from HTTP handlers.
"""

import json

from handler_mode import handler
from listen_line import announce

from socketify import App, CompressOptions, OpCode

app = App()
LOG = {}


def upgrade(res, req, context):
    res.upgrade(
        req.get_header("sec-websocket-key"),
        "",
        req.get_header("sec-websocket-extensions"),
        context,
        req.get_query("name") or "anonymous",
    )


def reply(ws, op, result):
    ws.send(json.dumps({"op": op, "result": result}), OpCode.TEXT)


def on_message(ws, message, opcode):
    cmd = json.loads(message)
    op, topic = cmd["op"], cmd.get("topic")
    if op == "sub":
        reply(ws, op, ws.subscribe(topic))
    elif op == "unsub":
        reply(ws, op, ws.unsubscribe(topic))
    elif op == "is":
        reply(ws, op, ws.is_subscribed(topic))
    elif op == "topics":
        reply(ws, op, ws.get_topics())
    elif op == "each":
        seen = []
        ws.for_each_topic(seen.append)
        reply(ws, op, seen)
    elif op == "num":
        reply(ws, op, app.num_subscribers(topic))
    elif op == "pub":
        msg = cmd["msg"].encode() if cmd.get("binary") else cmd["msg"]
        opcode = OpCode.BINARY if cmd.get("binary") else OpCode.TEXT
        reply(ws, op, ws.publish(topic, msg, opcode, cmd.get("compress", False)))
    elif op == "pubn":
        for i in range(cmd["n"]):
            app.publish(topic, str(i), OpCode.TEXT)
    elif op == "mixed":
        # Direct sends and publishes interleaved: one order for everybody.
        ws.send("direct 1", OpCode.TEXT)
        app.publish(topic, "published 1", OpCode.TEXT)
        ws.send("direct 2", OpCode.TEXT)
        app.publish(topic, "published 2", OpCode.TEXT)
    elif op == "end":
        ws.end(1000, "done")


def on_subscription(ws, topic, new_count, old_count):
    LOG.setdefault(ws.get_user_data(), []).append([topic, new_count, old_count])


def on_close(ws, code, message):
    LOG.setdefault(ws.get_user_data(), []).append(["close", code])


behavior = {
    "upgrade": upgrade,
    "message": handler(on_message),
    "subscription": handler(on_subscription),
    "close": handler(on_close),
    "idle_timeout": 60,
    "max_backpressure": 16 * 1024 * 1024,
}
app.ws("/ps", behavior)
app.ws("/psz", dict(behavior, compression=CompressOptions.SHARED_COMPRESSOR))


@app.get("/log")
def get_log(res, req):
    res.send(LOG.get(req.get_query("name"), []))


@app.get("/publish")
def http_publish(res, req):
    topic = req.get_query("topic")
    msg = req.get_query("msg") or ""
    binary = req.get_query("binary") == "1"
    result = app.publish(
        topic,
        msg.encode() if binary else msg,
        OpCode.BINARY if binary else OpCode.TEXT,
        req.get_query("compress") == "1",
    )
    res.send({"result": result})


@app.get("/publish-default")
def http_publish_default(res, req):
    """app.publish without opcode: str as TEXT, bytes as BINARY, dict as JSON."""
    topic = req.get_query("topic")
    res.send(
        {"result": [app.publish(topic, "text"), app.publish(topic, b"\x00bytes"), app.publish(topic, {"json": True})]}
    )


@app.get("/num")
def http_num(res, req):
    res.send({"result": app.num_subscribers(req.get_query("topic"))})


@app.get("/num-bad")
def http_num_bad(res, req):
    try:
        app.num_subscribers(42)
    except RuntimeError:
        res.send({"result": "RuntimeError"})
        return
    res.send({"result": "no error"})


app.listen(0, announce)
app.run()
