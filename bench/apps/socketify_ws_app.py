"""WebSocket benchmark app for the socketify API: ours and the reference peer.

The same file runs under both interpreters (see socketify_app.py). Routes,
for bench/wsload.c:
  GET /      -> Hello, World! (readiness check)
  ws /echo   -> every message sent back with its opcode
  ws /sub    -> subscribed to topic "bench", then sent "subscribed" (the
                generator's start barrier)
  ws /pub    -> every message published to "bench" with app.publish

Usage: python socketify_ws_app.py PORT   (prints a ready line, serves until killed)
With SOCKETIFY_PUBSUB_URL set (ours only), publishes go through that Redis
(``RedisBackplane``) and /sub says "subscribed" once Redis confirmed the
subscription (bench/apps/socketify_ws_cluster.py runs such workers).
"""

import os
import sys

from socketify import App, OpCode

TOPIC = "bench"
BEHAVIOR = {
    "max_payload_length": 16 * 1024,
    "idle_timeout": 120,
    "max_backpressure": 64 * 1024 * 1024,
}


def main():
    """Registers the routes, listens on argv[1] and runs the loop."""
    port = int(sys.argv[1])
    pubsub_url = os.environ.get("SOCKETIFY_PUBSUB_URL")
    if pubsub_url:
        from socketify.pubsub import RedisBackplane

        app = App(pubsub=RedisBackplane(pubsub_url))
    else:
        app = App()

    def echo(ws, message, opcode):
        ws.send(message, opcode)

    def subscribe(ws):
        ws.subscribe(TOPIC)
        if app_has_backplane:
            return subscribed_cluster_wide(ws)
        ws.send("subscribed", OpCode.TEXT)

    async def subscribed_cluster_wide(ws):
        await app.backplane.subscribed(TOPIC, timeout=10)
        ws.send("subscribed", OpCode.TEXT)

    app_has_backplane = getattr(app, "backplane", None) is not None

    def publish(ws, message, opcode):
        app.publish(TOPIC, message, OpCode.TEXT)

    def ignore(ws, message, opcode):
        pass

    app.get("/", lambda res, req: res.end("Hello, World!"))
    app.ws("/echo", dict(BEHAVIOR, message=echo))
    app.ws("/sub", dict(BEHAVIOR, open=subscribe, message=ignore))
    app.ws("/pub", dict(BEHAVIOR, message=publish))
    app.listen(port, lambda config: print("ready: socketify ws on http://127.0.0.1:%d" % config.port, flush=True))
    app.run()


if __name__ == "__main__":
    main()
