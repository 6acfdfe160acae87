"""GET /shutdown answers, then stops the server; in-flight requests finish."""
from socketify import App

app = App()


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
