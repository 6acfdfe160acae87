"""One request to a server made from the installed package: what make
wheel-test runs under every other CPython to show that one abi3 wheel
serves them all. Prints the body and the Python version."""

import asyncio
import sys

import socketify

app = socketify.App()
app.get("/", lambda res, req: res.end("ok %s" % socketify.__version__))
port = []
app.listen(0, lambda config: port.append(config.port))


result = []


async def probe():
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port[0])
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
        result.append(answer.split(b"\r\n\r\n", 1)[-1].decode())
    finally:
        app.close()


app.run_async(probe())
app.run()
body = result[0] if result else "(no answer)"
print(body, "on Python", sys.version.split()[0], "from", socketify.__file__)
sys.exit(0 if body == "ok %s" % socketify.__version__ else 1)
