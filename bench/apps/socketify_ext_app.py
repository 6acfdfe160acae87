"""Extensions benchmark app (ours only: socketify 0.0.31 has no app.register).

Usage: python socketify_ext_app.py PORT [--no-extensions]

With extensions (the default), three extensions are registered, each adding
two methods and one property to Request and to Response; the plaintext
handler answers through one of those methods (``res.plain``). With
``--no-extensions`` nothing is registered and the handler does the same two
calls itself, so the two runs differ only by the extensions.
"""

import sys

from socketify import App

PLAIN = "Hello, World!"


def extension_one(request, response, ws):
    """Adds res.plain (the one the handler calls)."""

    @request.method
    def ext1_user(self):
        return "anonymous"

    @request.method
    def ext1_token(self):
        return self.get_header("token")

    request.property("ext1_cart", [])

    @response.method
    def plain(self, text):
        self.write_header("Content-Type", "text/plain")
        return self.end(text)

    @response.method
    def ext1_json(self, value):
        return self.send(value)

    response.property("ext1_sent", False)


def numbered_extension(n):
    """Extension N: two request and two response methods, one property each."""

    def extension(request, response, ws):
        def user(self):
            return n

        def token(self):
            return self.get_header("token")

        user.__name__, token.__name__ = "ext%d_user" % n, "ext%d_token" % n
        request.method(user)
        request.method(token)
        request.property("ext%d_cart" % n, [])

        def text(self, value):
            return self.end(str(value))

        def status(self, code):
            return self.write_status(code)

        text.__name__, status.__name__ = "ext%d_text" % n, "ext%d_status" % n
        response.method(text)
        response.method(status)
        response.property("ext%d_sent" % n, False)

    return extension


def plaintext_ext(res, req):
    """GET / through the extension method."""
    res.plain(PLAIN)


def plaintext(res, req):
    """GET / without extensions: the same calls."""
    res.write_header("Content-Type", "text/plain")
    res.end(PLAIN)


def main():
    """Registers the extensions (unless --no-extensions) and the route."""
    port = int(sys.argv[1])
    app = App()
    if "--no-extensions" in sys.argv:
        app.get("/", plaintext)
    else:
        app.register(extension_one)
        app.register(numbered_extension(2))
        app.register(numbered_extension(3))
        app.get("/", plaintext_ext)
    app.listen(port, lambda config: print("ready: socketify on http://127.0.0.1:%d" % config.port, flush=True))
    app.run()


if __name__ == "__main__":
    main()
