"""Static files with caching headers, ranges and HEAD.

Serves a directory (the first argument, or this examples folder) at ``/``
with ``app.static``, and one file from a handler with ``sendfile``.

    python examples/static_files.py [DIRECTORY]
    curl -i localhost:3000/hello_world.py
    curl -i -H 'Range: bytes=0-9' localhost:3000/hello_world.py
"""

import os
import sys

from socketify import App, sendfile

directory = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

app = App()


# sendfile answers 304, 206, 416 and 404 by itself
@app.get("/source")
async def source(res, req):
    await sendfile(res, req, os.path.abspath(__file__))


# GET (and HEAD) /<path> serves files under ``directory``; a folder serves its
# index.html; anything outside (.., symlinks out) is a 404
app.static("/", directory)

app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
