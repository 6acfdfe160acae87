"""Serves wsgi_app.py with granian's WSGI interface: one worker, one runtime
thread, no access log. Usage: python wsgi_granian.py PORT (with the python of
bench/.venvs/granian)."""

import os
import sys
from pathlib import Path

from granian import Granian

APPS = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    port = int(sys.argv[1])
    sys.path.insert(0, APPS)
    print("starting: granian WSGI on http://127.0.0.1:%d" % port, flush=True)
    Granian(
        "wsgi_app:app",
        address="127.0.0.1",
        port=port,
        interface="wsgi",
        workers=1,
        runtime_threads=1,
        http="1",
        websockets=False,
        log_access=False,
        working_dir=Path(APPS),
    ).serve()
