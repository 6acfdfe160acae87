"""A Flask app served by socketify's WSGI adapter.

    python examples/wsgi_flask.py

Flask views block, so they run on the adapter's thread pool (``threads=``);
the event loop keeps serving other connections meanwhile.
"""

import atexit
import os
import shutil
import tempfile
import time

from flask import Flask, Response, redirect, request, send_file, stream_with_context, url_for

from socketify import WSGI

app = Flask(__name__)
_TMP = tempfile.mkdtemp(prefix="socketify-flask-")
atexit.register(shutil.rmtree, _TMP, True)
DOWNLOAD = os.path.join(_TMP, "report.txt")
with open(DOWNLOAD, "w") as f:
    f.write("quarterly report\n" * 1000)


@app.get("/")
def index():
    visits = int(request.cookies.get("visits", "0")) + 1
    response = Response("Hello from Flask on socketify! Visit number %d.\n" % visits, mimetype="text/plain")
    response.set_cookie("visits", str(visits), httponly=True)
    return response


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        name = request.form.get("name", "")
        upload = request.files.get("file")
        size = len(upload.read()) if upload else 0
        return {"name": name, "file_size": size}
    return (
        '<form method="post" enctype="multipart/form-data">'
        '<input name="name"><input type="file" name="file"><button>Send</button></form>'
    )


@app.get("/old")
def old():
    return redirect(url_for("index"))


@app.get("/stream")
def stream():
    def lines():
        for i in range(5):
            yield "line %d\n" % i
            time.sleep(0.01)

    return Response(stream_with_context(lines()), mimetype="text/plain")


@app.get("/download")
def download():
    return send_file(DOWNLOAD, as_attachment=True, download_name="report.txt")


if __name__ == "__main__":

    def on_listen(config):
        print("Listening on port http://localhost:%d now" % config.port, flush=True)

    WSGI(app, threads=8).listen(8000, on_listen).run()
