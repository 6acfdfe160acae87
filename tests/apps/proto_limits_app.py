"""An app for the limit tests: ``proto_limits_app.py '<json App kwargs>'``."""

import json
import sys

from listen_line import announce

from socketify import App

app = App(**json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))


@app.post("/echo")
async def echo(res, req):
    body = (await res.get_data()).getvalue()
    res.write_header("X-Length", str(len(body))).end(body)


@app.get("/headers")
def headers(res, req):
    res.send({"count": len(req.get_headers())})


app.get("/text", lambda res, req: res.end("hello"))
app.listen(0, announce)
app.run()
