"""The WSGI test app: one path per behaviour tests/test_wsgi_*.py checks.

``python wsgi_app.py [--validate] [--threads N]``: ``--validate`` wraps the
app in ``wsgiref.validate.validator`` with every warning turned into an
error, so any PEP 3333 violation by the server becomes a 500.
"""

import atexit
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from wsgiref.validate import validator

from listen_line import announce

from socketify import WSGI

CLOSED = {"count": 0}  # close() calls of the iterables below
LOCK = threading.Lock()
FILE_DATA = bytes(range(256)) * 4096  # 1 MiB
_TMP = tempfile.mkdtemp(prefix="socketify-wsgi-")
atexit.register(shutil.rmtree, _TMP, True)
FILE_PATH = os.path.join(_TMP, "data.bin")
with open(FILE_PATH, "wb") as f:
    f.write(FILE_DATA)


def count_close():
    with LOCK:
        CLOSED["count"] += 1


class Closing:
    """An iterable with close(), whose iteration may fail half-way."""

    def __init__(self, chunks, fail_at=None, delay=0.0):
        self.chunks = chunks
        self.fail_at = fail_at
        self.delay = delay

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failure inside the iterable")
            if self.delay:
                time.sleep(self.delay)
            yield chunk

    def close(self):
        count_close()


def text(start_response, body, status="200 OK", headers=()):
    data = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))] + list(headers))
    return [data]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING", "")
    method = environ["REQUEST_METHOD"]
    wsgi_input = environ["wsgi.input"]

    if path.startswith("/environ"):
        plain = {k: v for k, v in environ.items() if isinstance(v, str)}
        plain["wsgi.version"] = list(environ["wsgi.version"])
        for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated"):
            plain[key] = environ[key]
        errors = environ["wsgi.errors"]
        plain["wsgi.errors is stderr"] = errors is sys.stderr or hasattr(errors, "errors")
        plain["wsgi.file_wrapper"] = environ["wsgi.file_wrapper"].__name__
        plain["body"] = wsgi_input.read(1 << 20).decode("latin-1")
        return text(start_response, json.dumps(plain))

    if path == "/read-sizes":
        # read(n) in pieces of n bytes: the lengths seen, then a digest
        size = int(query or "1000")
        lengths, total = [], bytearray()
        while True:
            piece = wsgi_input.read(size)
            if not piece:
                break
            lengths.append(len(piece))
            total += piece
        return text(
            start_response, json.dumps({"lengths": lengths, "total": len(total), "head": total[:16].decode("latin-1")})
        )

    if path == "/lines":
        first = wsgi_input.readline()
        limited = wsgi_input.readline(3)
        rest_of_line = wsgi_input.readline()
        some = wsgi_input.readlines(1)
        iterated = [line for line in wsgi_input]
        return text(
            start_response,
            json.dumps(
                [x.decode() for x in [first, limited, rest_of_line]]
                + [[x.decode() for x in some], [x.decode() for x in iterated]]
            ),
        )

    if path == "/count-slowly":
        # reads the body slowly: the server must hold only a bounded part of it
        total = 0
        while True:
            piece = wsgi_input.read(65536)
            if not piece:
                break
            total += len(piece)
            time.sleep(0.001)
        return text(start_response, str(total))

    if path == "/ignore-body":
        return text(start_response, "ignored")

    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"then ")
        return Closing([b"iterated"])

    if path == "/write-length":
        write = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        write(b"0123456789")
        return []

    if path == "/closed-count":
        return text(start_response, str(CLOSED["count"]))

    if path == "/closing":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"a", b"b", b"c"])

    if path == "/closing-list":
        start_response("200 OK", [("Content-Type", "text/plain")])

        class ClosingList(list):
            def close(self):
                count_close()

        return ClosingList([b"listed"])

    if path == "/closing-fails":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"a", b"b", b"c"], fail_at=1)

    if path == "/closing-fails-first":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"a", b"b"], fail_at=0)

    if path == "/closing-slow":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"x" * 1024] * 200, delay=0.02)

    if path == "/boom":
        raise RuntimeError("failure before start_response")

    if path == "/exc-info-before":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("changed my mind")
        except ValueError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced"]

    if path == "/exc-info-after":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"first part")
        try:
            raise ValueError("too late")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"never"]

    if path == "/twice":
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"never"]

    if path == "/short":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return Closing([b"abc"])

    if path == "/file":
        f = open(FILE_PATH, "rb")
        if "offset" in query:
            f.seek(1000)
        headers = [("Content-Type", "application/octet-stream")]
        if "length" in query:
            headers.append(("Content-Length", str(len(FILE_DATA))))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 8192)

    if path == "/sleep":
        time.sleep(float(query or "1"))
        return text(start_response, "slept")

    if path == "/fast":
        return text(start_response, "fast")

    if path == "/big":
        # megabytes of body, produced as fast as the server takes them
        megabytes = int(query or "100")
        block = b"z" * 65536
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Closing([block] * (megabytes * 16))

    if path == "/rss":
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return text(start_response, str(int(line.split()[1]) * 1024))
        return text(start_response, "0")

    if path == "/head":
        return text(start_response, "a body HEAD must not carry")

    if path == "/not-bytes":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a str"]

    return text(start_response, "not found: %s %s" % (method, path), status="404 Not Found")


def main():
    logging.basicConfig(level=logging.INFO)  # "client went away" lines are INFO
    threads = None
    if "--threads" in sys.argv:
        threads = int(sys.argv[sys.argv.index("--threads") + 1])
    served = app
    if "--validate" in sys.argv:
        warnings.simplefilter("error")
        served = validator(app)
    ws = {"message": lambda ws, message, opcode: ws.send(message, opcode)} if "--ws" in sys.argv else None
    WSGI(served, websocket=ws, threads=threads).listen(0, announce).run()


if __name__ == "__main__":
    main()
