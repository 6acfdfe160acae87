"""Extensions: methods and properties added to every Request and Response.

pip install ".[examples]"    # msgpack
python examples/extensions.py
"""

import datetime

from msgpack import packb

from socketify import App

app = App()


def encode_datetime(obj):
    if isinstance(obj, datetime.datetime):
        return obj.isoformat()
    return obj


def extension(request, response, ws):
    @request.method
    async def get_user(self):
        token = self.get_header("token")
        return {"name": "Test"} if token else {"name": "Anonymous"}

    @response.method
    def msgpack(self, value):
        self.write_header(b"Content-Type", b"application/msgpack")
        data = packb(value, default=encode_datetime, use_bin_type=True)
        return self.end(data)

    # usable from extension methods and middlewares; every request gets its own list
    request.property("cart", [])


app.register(extension)


@app.get("/")
async def home(res, req):
    user = await req.get_user()
    req.cart.append("apple")
    res.msgpack({"user": user, "cart": req.cart, "at": datetime.datetime(2026, 1, 1)})


app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
