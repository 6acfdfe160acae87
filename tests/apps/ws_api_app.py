"""WebSocket API app: ``ws_api_app.py sync|async``: every handler is a plain
function or an ``async def`` (which awaits once before acting).

Clients connect to /<route>?name=<id>; every event is logged under that
name and read back with ``GET /log?name=<id>``. Text messages starting with
``cmd:`` run a WebSocket method (see ``command``); other messages are echoed
with their opcode.
"""

import asyncio
import json

from handler_mode import MODE, handler
from listen_line import announce

from socketify import App, CompressOptions, OpCode

app = App()
LOG = {}
KEPT = {}


def log(ws, *event):
    LOG.setdefault(ws.get_user_data() or "?", []).append(list(event))


def first_protocol(req):
    return (req.get_header("sec-websocket-protocol") or "").split(",")[0].strip()


def upgrade(res, req, context):
    name = req.get_query("name") or "anonymous"
    res.upgrade(
        req.get_header("sec-websocket-key"),
        first_protocol(req),
        req.get_header("sec-websocket-extensions"),
        context,
        name,
    )


async def upgrade_async(res, req, context):
    name = req.get_query("name") or "anonymous"
    key = req.get_header("sec-websocket-key")
    protocol = first_protocol(req)
    extensions = req.get_header("sec-websocket-extensions")
    await asyncio.sleep(0)
    res.upgrade(key, protocol, extensions, context, name)


def on_open(ws):
    log(ws, "open", type(ws.get_user_data()).__name__)


def describe(message):
    return message if isinstance(message, str) else message.hex()


def on_message(ws, message, opcode):
    log(ws, "message", describe(message), type(message).__name__, int(opcode))
    if isinstance(message, str) and message.startswith("cmd:"):
        command(ws, message[4:])
    else:
        ws.send(message, opcode)


def on_message_compressed_echo(ws, message, opcode):
    ws.send(message, opcode, compress=True)


def on_drain(ws):
    log(ws, "drain", ws.get_buffered_amount())


def on_ping(ws, message):
    log(ws, "ping", type(message).__name__, describe(message))


def on_pong(ws, message):
    log(ws, "pong", type(message).__name__, describe(message))


def on_close(ws, code, message):
    log(ws, "close", code, type(message).__name__, describe(message) if message is not None else None)


def on_subscription(ws, topic, new_count, old_count):
    log(ws, "subscription", topic, new_count, old_count)


class SendTally:
    """The statuses of a run of sends, run-length encoded, and the buffered
    amount seen at the first BACKPRESSURE."""

    def __init__(self):
        self.runs = []
        self.buffered = None

    def send(self, ws, chunk):
        status = int(ws.send(chunk))
        if status == 0 and self.buffered is None:
            self.buffered = ws.get_buffered_amount()
        if self.runs and self.runs[-1][0] == status:
            self.runs[-1][1] += 1
        else:
            self.runs.append([status, 1])
        return status


def flood(ws, count, size):
    """Sends ``count`` messages of ``size`` bytes whatever happens and logs
    their SendTally."""
    tally = SendTally()
    chunk = b"f" * size
    for _ in range(count):
        tally.send(ws, chunk)
    log(ws, "flood", tally.runs, tally.buffered)


async def flood_async(ws, count, size):
    """The same spread over loop iterations, so the kernel takes what it can
    between sends."""
    tally = SendTally()
    chunk = b"f" * size
    for _ in range(count):
        if tally.send(ws, chunk) == 2:
            break
        await asyncio.sleep(0.001)
    log(ws, "flood", tally.runs, tally.buffered)


def command(ws, cmd):
    name, _, arg = cmd.partition(":")
    if name == "statuses":
        statuses = [
            ws.send("text"),
            ws.send(b"\x00bin"),
            ws.send("as binary", OpCode.BINARY),
            ws.send(b"as text", OpCode.TEXT),
            ws.send({"json": [1, 2]}),
            ws.send(None),
            ws.send(bytearray(b"ba")),
        ]
        ws.send(json.dumps([int(s) for s in statuses]))
    elif name == "fragments":
        a = ws.send_first_fragment("Hello, ", OpCode.TEXT)
        b = ws.send_fragment("fragmented ")
        c = ws.send_last_fragment("world")
        d = ws.send_first_fragment(b"\x01\x02")
        e = ws.send_last_fragment(b"\x03")
        ws.send(json.dumps([int(a), int(b), int(c), int(d), int(e)]))
    elif name == "end":
        ws.end(1000, "bye")
    elif name == "end_default":
        ws.end()
    elif name == "end_custom":
        ws.end(4001, "custom reason")
    elif name == "cork_end":
        ws.cork_end(1000, "corked bye")
    elif name == "close":
        ws.close()
    elif name == "cork":
        result = ws.cork(lambda w: [w.send("one"), w.send("two"), w.send(b"three")])
        ws.cork_send("four")
        ws.send(json.dumps(result is ws))
    elif name == "addr":
        raw = ws.get_remote_address_bytes()
        ws.send(json.dumps({"text": ws.get_remote_address(), "bytes": raw.hex() if raw else None}))
    elif name == "user_data":
        ws.send(json.dumps({"user_data": ws.get_user_data(), "same_clone": ws.clone().get_user_data()}))
    elif name == "keep":
        KEPT[ws.get_user_data()] = ws
        ws.send("kept")
    elif name == "ping":
        ws.send(b"server ping", OpCode.PING)
    elif name == "subscribe":
        ws.send(json.dumps(ws.subscribe(arg)))
    elif name == "unsubscribe":
        ws.send(json.dumps(ws.unsubscribe(arg)))
    elif name == "flood":
        count, size = (int(x) for x in arg.split(","))
        flood(ws, count, size)
    elif name == "flood_async":
        count, size = (int(x) for x in arg.split(","))
        asyncio.ensure_future(flood_async(ws, count, size))
    elif name == "big":
        ws.send(json.dumps(int(ws.send(b"B" * int(arg)))))
    elif name == "raise":
        raise RuntimeError("handler error on purpose")
    else:
        ws.send("unknown command " + cmd)


def behavior(**kw):
    b = {
        "upgrade": upgrade_async if MODE == "async" else upgrade,
        "open": handler(on_open),
        "message": handler(on_message),
        "drain": handler(on_drain),
        "ping": handler(on_ping),
        "pong": handler(on_pong),
        "close": handler(on_close),
        "subscription": handler(on_subscription),
        "idle_timeout": 60,
        "max_payload_length": 1 << 20,
    }
    b.update(kw)
    return b


app.ws("/api", behavior())
app.ws("/bp", behavior(max_backpressure=64 * 1024))
app.ws("/bpclose", behavior(max_backpressure=64 * 1024, close_on_backpressure_limit=True))
app.ws("/idle", behavior(idle_timeout=2))
app.ws("/autoping", behavior(idle_timeout=1, send_pings_automatically=True))
app.ws("/deflate", behavior(compression=CompressOptions.SHARED_COMPRESSOR, message=handler(on_message_compressed_echo)))
app.ws("/deflate-in", behavior(compression=CompressOptions.SHARED_COMPRESSOR))
app.ws(
    "/deflate-dedicated",
    behavior(
        compression=CompressOptions.DEDICATED_COMPRESSOR | CompressOptions.DEDICATED_DECOMPRESSOR,
        message=handler(on_message_compressed_echo),
    ),
)


@app.get("/log")
def get_log(res, req):
    res.send(LOG.get(req.get_query("name"), []))


@app.get("/kept")
def use_kept(res, req):
    """Calls every WebSocket method on a socket kept past its close."""
    ws = KEPT.get(req.get_query("name"))
    results = {}
    calls = {
        "send": lambda: ws.send("late"),
        "send_text": lambda: ws.send("late", OpCode.TEXT),
        "send_compressed": lambda: ws.send(b"late", OpCode.BINARY, True),
        "send_first_fragment": lambda: ws.send_first_fragment("a"),
        "send_fragment": lambda: ws.send_fragment("b"),
        "send_last_fragment": lambda: ws.send_last_fragment("c"),
        "cork_send": lambda: ws.cork_send("d") is ws,
        "cork": lambda: ws.cork(lambda w: w.send("e")) is ws,
        "end": lambda: ws.end(),
        "end_reason": lambda: ws.end(1000, "late"),
        "cork_end": lambda: ws.cork_end(1000, "late"),
        "close": lambda: ws.close(),
        "get_buffered_amount": lambda: ws.get_buffered_amount(),
        "subscribe": lambda: ws.subscribe("late-topic"),
        "unsubscribe": lambda: ws.unsubscribe("late-topic"),
        "is_subscribed": lambda: ws.is_subscribed("late-topic"),
        "get_topics": lambda: ws.get_topics(),
        "for_each_topic": lambda: ws.for_each_topic(lambda t: None),
        "publish": lambda: ws.publish("late-topic", "x"),
        "get_user_data": lambda: ws.get_user_data(),
        "get_remote_address": lambda: ws.get_remote_address(),
        "get_remote_address_bytes": lambda: ws.get_remote_address_bytes(),
        "clone": lambda: ws.clone() is not None,
    }
    for key, call in calls.items():
        try:
            value = call()
            results[key] = int(value) if hasattr(value, "value") else value
        except Exception as error:  # reported to the test as a crash
            results[key] = "crash: %r" % (error,)
    res.send(results)


app.listen(0, announce)
app.run()
