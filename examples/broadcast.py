"""Pub/sub broadcast: every connected WebSocket subscribes to "broadcast",
and every message one of them sends is published to all of them (the
sender included). GET /announce?msg=... publishes from an HTTP handler.
"""

from socketify import App, CompressOptions, OpCode

app = App()


def ws_open(ws):
    ws.subscribe("broadcast")


def ws_message(ws, message, opcode):
    # ws.publish reaches every subscriber of the topic, this socket included.
    ws.publish("broadcast", message, opcode)


def ws_subscription(ws, topic, new_count, old_count):
    print("subscribers of %s: %d -> %d" % (topic, old_count, new_count), flush=True)


def announce(res, req):
    message = req.get_query("msg") or "(empty)"
    delivered = app.publish("broadcast", message, OpCode.TEXT)
    res.send({"delivered": delivered, "subscribers": app.num_subscribers("broadcast")})


app.ws(
    "/*",
    {
        "compression": CompressOptions.SHARED_COMPRESSOR,
        "max_payload_length": 16 * 1024,
        "idle_timeout": 60,
        "open": ws_open,
        "message": ws_message,
        "subscription": ws_subscription,
        "close": lambda ws, code, message: print("WebSocket closed", code, flush=True),
    },
)
app.get("/announce", announce)
app.any("/", lambda res, req: res.end("Connect with a WebSocket to join the broadcast."))
app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
