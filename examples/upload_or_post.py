"""Reading request bodies: piece by piece, whole, as JSON, text, a
URL-encoded form, or a multipart upload streamed to disk.

    python examples/upload_or_post.py
    curl -d 'hello' localhost:3000/upload
    curl -H 'Content-Type: application/json' -d '{"a": 1}' localhost:3000/upload_json
    curl -F name=Ana -F photo=@examples/upload_or_post.py localhost:3000/upload_multipart
"""

import hashlib
import tempfile

from socketify import App
from socketify.multipart import MultipartError, parse_multipart

app = App()


def upload(res, req):
    # the body arrives in pieces as they come off the socket
    buffer = bytearray()

    def on_data(res, chunk, is_last):
        buffer.extend(chunk)
        if is_last:
            res.cork_end(b"Got %d bytes: %s" % (len(buffer), bytes(buffer[:40])))

    res.on_data(on_data)


def upload_chunks(res, req):
    # constant memory: hash the body without keeping it
    digest = hashlib.sha256()
    sizes = []

    def on_data(res, chunk, is_last):
        digest.update(chunk)
        sizes.append(len(chunk))
        if is_last:
            res.cork_end({"bytes": sum(sizes), "pieces": len(sizes), "sha256": digest.hexdigest()})

    res.on_data(on_data)


async def upload_json(res, req):
    people = await res.get_json()
    if people is None:
        return res.write_status(400).end("send JSON")
    res.cork_end({"received": people})


async def upload_text(res, req):
    text = await res.get_text()
    res.cork_end("Your text was: %s" % text)


async def upload_urlencoded(res, req):
    form = await res.get_form_urlencoded()
    res.cork_end({"form": form})


async def upload_multipart(res, req):
    try:
        fields, files = await parse_multipart(
            res, req, upload_dir=tempfile.gettempdir(), max_file_size=50 * 1024 * 1024
        )
    except MultipartError as error:
        return res.write_status(400).end("Bad upload: %s" % error)
    summary = {"fields": dict(fields), "files": []}
    for upload in files.values():
        with upload.open() as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        summary["files"].append(
            {
                "field": upload.name,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "size": upload.size,
                "sha256": digest,
            }
        )
        upload.delete()  # or upload.save("/somewhere/safe/name")
    res.cork_end(summary)


app.post("/upload", upload)
app.post("/upload_chunks", upload_chunks)
app.post("/upload_json", upload_json)
app.post("/upload_text", upload_text)
app.post("/upload_urlencoded", upload_urlencoded)
app.post("/upload_multipart", upload_multipart)
app.any("/*", lambda res, req: res.write_status(404).end("Not Found"))

app.listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port, flush=True))
app.run()
