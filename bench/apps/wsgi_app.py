"""WSGI benchmark app (no framework): ours, socketify 0.0.31's WSGI and granian.

Usage: python wsgi_app.py PORT (ours or the reference: the same file runs under
the project's python and under bench/.venvs/reference's). granian imports
``wsgi_app:app`` through wsgi_server.py.
"""

import sys

PLAIN = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(PLAIN)))]


def app(environ, start_response):
    """GET / -> Hello, World! as text/plain; anything else 404."""
    if environ["PATH_INFO"] == "/":
        start_response("200 OK", HEADERS)
        return [PLAIN]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"Not Found"]


def main():
    """Serves on argv[1] with socketify's WSGI (ours or the reference)."""
    from socketify import WSGI

    port = int(sys.argv[1])
    WSGI(app).listen(port, lambda config: print("ready: WSGI on http://127.0.0.1:%d" % port, flush=True)).run()


if __name__ == "__main__":
    main()
