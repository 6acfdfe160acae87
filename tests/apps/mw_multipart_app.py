"""Multipart uploads (tests/test_multipart.py). argv[1]: the upload directory."""

import asyncio
import hashlib
import os
import sys

from listen_line import announce

from socketify import App
from socketify.multipart import MultipartError, parse_multipart

upload_dir = sys.argv[1]
app = App()


def describe(fields, files):
    result = {"fields": dict(fields), "field_lists": dict(fields.lists()), "files": {}}
    for name, uploads in files.lists():
        described = []
        for upload in uploads:
            data = upload.read() if upload.path else b""
            described.append(
                {
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "size": upload.size,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "in_upload_dir": upload.path is not None and os.path.dirname(upload.path) == upload_dir,
                }
            )
            upload.delete()
        result["files"][name] = described
    return result


def bad_request(res, error):
    res.write_status(400).end("bad multipart: %s" % error)


@app.post("/upload")
async def upload(res, req):
    try:
        fields, files = await parse_multipart(res, req, upload_dir)
    except MultipartError as error:
        return bad_request(res, error)
    res.send(describe(fields, files))


@app.post("/upload/limits")
async def upload_limits(res, req):
    try:
        fields, files = await parse_multipart(
            res, req, upload_dir, max_parts=3, max_file_size=1000, max_field_size=100, max_header_size=200
        )
    except MultipartError as error:
        return bad_request(res, error)
    res.send(describe(fields, files))


def make_on_file(hashes, sizes, ends, is_async):
    def on_file(name, filename, content_type, chunk, is_last):
        hashes.setdefault(name, hashlib.sha256()).update(chunk)
        sizes[name] = sizes.get(name, 0) + len(chunk)
        if is_last:
            ends.append(name)

    if not is_async:
        return on_file

    async def on_file_async(name, filename, content_type, chunk, is_last):
        await asyncio.sleep(0)  # a slow consumer: the body must wait for it
        on_file(name, filename, content_type, chunk, is_last)

    return on_file_async


@app.post("/upload/stream/:mode")
async def upload_stream(res, req):
    hashes, sizes, ends = {}, {}, []
    on_file = make_on_file(hashes, sizes, ends, req.get_parameter(0) == "async")
    try:
        fields, files = await parse_multipart(res, req, on_file=on_file)
    except MultipartError as error:
        return bad_request(res, error)
    res.send(
        {
            "fields": dict(fields),
            "hashes": {name: h.hexdigest() for name, h in hashes.items()},
            "sizes": sizes,
            "ends": ends,
            "stored": [f.path for f in files.values()],
            "reported_sizes": {name: f.size for name, f in files.items()},
        }
    )


@app.get("/leftovers")
def leftovers(res, req):
    res.send({"files": sorted(os.listdir(upload_dir))})


app.listen(0, announce)
app.run()
