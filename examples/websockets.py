"""WebSocket echo server: every message comes back with its opcode.

Try it with any WebSocket client, e.g. in a browser console:
    ws = new WebSocket("ws://localhost:3000/"); ws.onmessage = e => console.log(e.data)
"""

from socketify import App, CompressOptions, OpCode


def ws_open(ws):
    print("A WebSocket got connected from", ws.get_remote_address(), flush=True)
    ws.send("Hello World!", OpCode.TEXT)


def ws_message(ws, message, opcode):
    # str messages arrive for TEXT frames, bytes for BINARY ones.
    status = ws.send(message, opcode)
    # SendStatus.BACKPRESSURE: the client reads slower than we write; "drain"
    # is called once the buffered data went out.
    return status


def ws_drain(ws):
    print("WebSocket drained, buffered now:", ws.get_buffered_amount(), flush=True)


def ws_close(ws, code, message):
    print("WebSocket closed with", code, message, flush=True)


app = App()
app.ws(
    "/*",
    {
        "compression": CompressOptions.SHARED_COMPRESSOR,
        "max_payload_length": 16 * 1024 * 1024,
        "idle_timeout": 12,
        "open": ws_open,
        "message": ws_message,
        "drain": ws_drain,
        "close": ws_close,
    },
)
app.any("/", lambda res, req: res.end("Nothing to see here, connect with a WebSocket!"))
app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
