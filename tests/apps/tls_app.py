"""The HTTPS test app: ``tls_app.py CERT_DIR [main|mtls]``.

``main``: the default certificate has an encrypted key (passphrase 1234);
SNI entries a.test and *.b.test with their own certificates and routes, a
removed entry, one removed at run time, and certificates on demand for
``*.ondemand.test`` through ``missing_server_name``. ``mtls``: clients must
present a certificate signed by the test CA.
"""

import hashlib
import os
import sys

from listen_line import announce

from socketify import App, AppOptions

CERTS = sys.argv[1]
MODE = sys.argv[2] if len(sys.argv) > 2 else "main"


def path(name):
    return os.path.join(CERTS, name)


def options(name, **kwargs):
    return AppOptions(key_file_name=path(name + ".key"), cert_file_name=path(name + ".pem"), **kwargs)


BLOCK = bytes(range(256)) * 256  # 64 KiB


def body_of(size):
    return (BLOCK * (size // len(BLOCK) + 1))[:size]


if MODE == "mtls":
    app = App(options("server", ca_file_name=path("ca.pem")))
    app.get("/", lambda res, req: res.end("mutual tls ok"))
    app.listen(0, announce)
    app.run()
    sys.exit(0)

app = App(
    AppOptions(key_file_name=path("server.key.enc"), cert_file_name=path("server.pem"), passphrase="1234"),
    header_timeout=2,
)

# -- SNI ------------------------------------------------------------------------
app.add_server_name("a.test", options("a"))
app.add_server_name("*.b.test", options("b"))
app.domain("a.test").get("/", lambda res, req: res.end("route for a.test"))
app.domain("a.test").get("/only-a", lambda res, req: res.end("only on a.test"))
app.domain("*.b.test").get("/", lambda res, req: res.end("route for *.b.test"))

app.add_server_name("removed.test", options("removed"))
app.domain("removed.test").get("/", lambda res, req: res.end("route for removed.test"))
app.remove_server_name("removed.test")

app.add_server_name("live.test", options("live"))
app.domain("live.test").get("/", lambda res, req: res.end("route for live.test"))

missing_calls = []


def on_missing(hostname):
    missing_calls.append(hostname)
    if hostname.endswith(".ondemand.test"):
        app.add_server_name(hostname, options("ondemand"))
        app.domain(hostname).get("/", lambda res, req: res.end("on demand route for " + hostname))


app.missing_server_name(on_missing)


@app.get("/remove-live")
def remove_live(res, req):
    app.remove_server_name("live.test")
    res.end("removed")


@app.get("/missing-calls")
def missing(res, req):
    res.send(missing_calls)


# -- default routes ---------------------------------------------------------------
app.get("/", lambda res, req: res.end("default route"))


@app.get("/native")
def native(res, req):
    res.send({"handle": app.get_native_handle() is not None})


@app.get("/n/:i")
def numbered(res, req):
    res.end("response %s" % req.get_parameter(0))


@app.post("/echo")
def echo(res, req):
    digest = hashlib.sha256()
    received = [0]

    def on_data(res, chunk, is_last):
        digest.update(chunk)
        received[0] += len(chunk)
        if is_last:
            res.send({"bytes": received[0], "sha256": digest.hexdigest()})

    res.on_data(on_data)


@app.post("/small")
async def small(res, req):
    res.end((await res.get_data()).getvalue())


@app.get("/end/:bytes")
def end_big(res, req):
    res.end(body_of(int(req.get_parameter(0))))


@app.get("/stream/:bytes")
async def stream(res, req):
    total = int(req.get_parameter(0))
    sent = 0
    res.write_header("Content-Type", "application/octet-stream")
    while sent < total:
        piece = BLOCK[: min(len(BLOCK), total - sent)]
        await res.send_chunk(piece, total)
        if res.aborted:
            return
        sent += len(piece)


app.listen(0, announce)
app.run()
