"""A small browser chat: GET / serves index.html; the page connects to the
/chat WebSocket. Every participant subscribes to the "room" topic; text
messages (JSON chat lines) and binary messages (shared files, shown as
their size) are published to the whole room, the sender included.

Run it and open http://localhost:3000/ in two browser tabs.
"""

import itertools
import json
import os

from socketify import App, CompressOptions, OpCode

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "index.html"), "rb") as f:
    PAGE = f.read()

app = App()
names = itertools.count(1)


def home(res, req):
    res.write_header("Content-Type", "text/html; charset=utf-8").end(PAGE)


def chat_upgrade(res, req, context):
    # The user data of a socket: its nickname (from ?name=, else a number).
    name = (req.get_query("name") or "guest-%d" % next(names))[:32]
    res.upgrade(
        req.get_header("sec-websocket-key"), "", req.get_header("sec-websocket-extensions"), context, {"name": name}
    )


def chat_open(ws):
    ws.subscribe("room")
    me = ws.get_user_data()["name"]
    ws.send(json.dumps({"type": "welcome", "name": me}), OpCode.TEXT)
    ws.publish("room", json.dumps({"type": "join", "name": me}), OpCode.TEXT)


def chat_message(ws, message, opcode):
    me = ws.get_user_data()["name"]
    if opcode == OpCode.TEXT:
        text = str(message)[:1000]
        ws.publish("room", json.dumps({"type": "say", "name": me, "text": text}), OpCode.TEXT)
    else:
        # Binary messages go to everybody as they are.
        ws.publish("room", message, OpCode.BINARY)


def chat_close(ws, code, message):
    data = ws.get_user_data()
    if data:
        app.publish("room", json.dumps({"type": "leave", "name": data["name"]}), OpCode.TEXT)


app.get("/", home)
app.ws(
    "/chat",
    {
        "compression": CompressOptions.SHARED_COMPRESSOR,
        "max_payload_length": 64 * 1024,
        "idle_timeout": 120,
        "send_pings_automatically": True,
        "upgrade": chat_upgrade,
        "open": chat_open,
        "message": chat_message,
        "close": chat_close,
    },
)
app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
