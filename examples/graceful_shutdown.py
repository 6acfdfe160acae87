"""GET /shutdown answers, then stops the server; in-flight requests finish.

Ctrl-C or SIGTERM does the same: requests in flight get up to
graceful_shutdown_timeout seconds to finish (a log line says how many there
are), WebSockets are closed with 1001 Going Away, then the shutdown hooks
run and run() returns. A second Ctrl-C stops at once.
"""

from socketify import App

app = App(graceful_shutdown_timeout=5)


@app.on_shutdown
def bye():
    print("shutdown hook ran", flush=True)


app.get("/", lambda res, req: res.end("Hello"))


@app.get("/shutdown")
def shutdown(res, req):
    res.end("good bye!")
    app.close()


app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
print("run() returned", flush=True)
