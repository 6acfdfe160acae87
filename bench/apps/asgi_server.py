"""Serves asgi_app.py with uvicorn, granian or socketify's ASGI, one process, one worker.

Usage: python asgi_server.py uvicorn|granian|socketify PORT [WORKERS]
Run with the python of bench/.venvs/uvicorn or bench/.venvs/granian; for
socketify, ours (the repository's python) or bench/.venvs/reference (0.0.31).
WORKERS (default 1): worker processes, for the workers rows (uvicorn, granian).
uvicorn uses uvloop and httptools; granian runs its ASGI interface with
uvloop, one worker and one runtime thread. Access logs are off for both.
"""

import os
import sys
from pathlib import Path

APPS = os.path.dirname(os.path.abspath(__file__))


# uvicorn's settings, for one process and for its own supervisor alike.
UVICORN_SETTINGS = dict(
    host="127.0.0.1",
    loop="uvloop",
    http="httptools",
    ws="none",
    lifespan="off",
    access_log=False,
    log_level="warning",
)


def serve_uvicorn(port, workers=1):
    """uvicorn with uvloop + httptools; prints a ready line once bound."""
    import uvicorn

    if workers > 1:  # its own supervisor; the bench waits for an HTTP answer
        uvicorn.run("asgi_app:app", port=port, workers=workers, **UVICORN_SETTINGS)
        return

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            print("ready: uvicorn on http://127.0.0.1:%d" % port, flush=True)

    Server(uvicorn.Config("asgi_app:app", port=port, **UVICORN_SETTINGS)).run()


def serve_granian(port, workers=1):
    """granian's ASGI interface; it logs 'Listening at' when it binds (the
    bench waits for an HTTP answer in any case)."""
    from granian import Granian

    print("starting: granian on http://127.0.0.1:%d" % port, flush=True)
    Granian(
        "asgi_app:app",
        address="127.0.0.1",
        port=port,
        interface="asgi",
        workers=workers,
        runtime_threads=1,
        loop="uvloop",
        http="1",
        websockets=False,
        log_access=False,
        working_dir=Path(APPS),
    ).serve()


def serve_socketify(port):
    """socketify.ASGI (whichever socketify this python imports), lifespan on."""
    from asgi_app import app

    from socketify import ASGI

    ASGI(app).listen(
        port, lambda config: print("ready: socketify ASGI on http://127.0.0.1:%d" % port, flush=True)
    ).run()


def main():
    """Dispatches on argv[1]."""
    server, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    sys.path.insert(0, APPS)
    if server == "socketify":
        serve_socketify(port)
    else:
        {"uvicorn": serve_uvicorn, "granian": serve_granian}[server](port, workers)


if __name__ == "__main__":
    main()
