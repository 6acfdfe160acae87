"""WebSocket conformance app: ``ws_conf_app.py '<json behavior overrides>'``.

Routes (each takes the overrides, e.g. {"compression": 1}):
  /echo    echoes every message with its opcode (max_payload_length 2 MiB)
  /zecho   the same, sent with compress=True
  /small   echo with max_payload_length 1000
  /custom-sync, /custom-async   an upgrade handler: needs ``X-Token: secret``
           (else 401), picks "chat" when offered, passes user data; open
           sends the user data as JSON
  GET /echo (no upgrade)        an HTTP route the ws route falls through to
  /prio/*  a wildcard ws route shadowing the HTTP routes /prio/static, /prio/any
"""

import asyncio
import json
import sys

from listen_line import announce

from socketify import App, OpCode

overrides = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
app = App()


def echo(ws, message, opcode):
    ws.send(message, opcode)


def zecho(ws, message, opcode):
    ws.send(message, opcode, compress=True)


def behavior(**kw):
    b = {"max_payload_length": 2 * 1024 * 1024, "idle_timeout": 60, "message": echo}
    b.update(kw)
    b.update(overrides)
    return b


def pick_protocol(header):
    offered = [p.strip() for p in (header or "").split(",") if p.strip()]
    return "chat" if "chat" in offered else (offered[0] if offered else "")


def custom_upgrade_sync(res, req, context):
    token = req.get_header("x-token")
    if token != "secret":
        res.write_status(401).end("unauthorized")
        return
    user = {
        "token": token,
        "url": req.get_url(),
        "kind": "sync",
        "protocol": pick_protocol(req.get_header("sec-websocket-protocol")),
    }
    res.upgrade(
        req.get_header("sec-websocket-key"), user["protocol"], req.get_header("sec-websocket-extensions"), context, user
    )


async def custom_upgrade_async(res, req, context):
    # Everything needed from req is read before the first await.
    token = req.get_header("x-token")
    key = req.get_header("sec-websocket-key")
    protocol = pick_protocol(req.get_header("sec-websocket-protocol"))
    extensions = req.get_header("sec-websocket-extensions")
    url = req.get_url()
    await asyncio.sleep(0.01)
    if token != "secret":
        res.write_status(401).end("unauthorized")
        return
    res.upgrade(key, protocol, extensions, context, {"token": token, "url": url, "kind": "async", "protocol": protocol})


def send_user_data(ws):
    ws.send(json.dumps(ws.get_user_data()), OpCode.TEXT)


app.ws("/echo", behavior())
app.ws("/zecho", behavior(message=zecho))
app.ws("/small", behavior(max_payload_length=1000))
app.ws("/custom-sync", behavior(upgrade=custom_upgrade_sync, open=send_user_data))
app.ws("/custom-async", behavior(upgrade=custom_upgrade_async, open=send_user_data))
app.get("/echo", lambda res, req: res.end("plain http"))
# A wildcard ws route and more specific HTTP routes under it: upgrade
# requests go to the ws route first (uWS gives upgrade routes the highest
# priority), the others fall through to HTTP.
app.ws("/prio/*", behavior())
app.get("/prio/static", lambda res, req: res.end("http static"))
app.any("/prio/any", lambda res, req: res.end("http any"))
app.listen(0, announce)
app.run()
