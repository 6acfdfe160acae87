"""examples/wsgi_flask.py: a real Flask app (forms, file upload, cookies,
redirects, streaming, send_file) through the WSGI adapter."""

import os
import re

import pytest
import requests

from conftest import ROOT, Server, free_port

pytest.importorskip("flask")


def run_rewritten(relative_path, port, tmp_path):
    """Runs an example with its fixed port 8000 rewritten to ``port``."""
    source = open(os.path.join(ROOT, relative_path)).read()
    source, count = re.subn(r"listen\(8000", "listen(%d" % port, source)
    assert count == 1
    path = tmp_path / os.path.basename(relative_path)
    path.write_text(source)
    return Server(str(path), ready_prefix="Listening on port").start()


@pytest.fixture
def flask_server(tmp_path):
    port = free_port()
    server = run_rewritten("examples/wsgi_flask.py", port, tmp_path)
    server.port = port
    yield server
    assert server.stop() == 0
    assert "Traceback" not in server.stderr(), server.stderr()


def test_cookies_persist_across_requests(flask_server):
    with requests.Session() as session:
        first = session.get(flask_server.url + "/", timeout=10)
        second = session.get(flask_server.url + "/", timeout=10)
    assert "Visit number 1." in first.text and "Visit number 2." in second.text
    assert "HttpOnly" in first.headers["Set-Cookie"]


def test_form_with_a_file_upload(flask_server):
    data = os.urandom(300_000)
    response = requests.post(
        flask_server.url + "/form", data={"name": "Ada"}, files={"file": ("blob.bin", data)}, timeout=10
    )
    assert response.json() == {"name": "Ada", "file_size": 300_000}
    urlencoded = requests.post(flask_server.url + "/form", data={"name": "Grace Hopper & co"}, timeout=10)
    assert urlencoded.json() == {"name": "Grace Hopper & co", "file_size": 0}
    assert "<form" in requests.get(flask_server.url + "/form", timeout=10).text


def test_redirect(flask_server):
    response = requests.get(flask_server.url + "/old", allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Hello from Flask" in requests.get(flask_server.url + "/old", timeout=10).text


def test_streaming_response(flask_server):
    with requests.get(flask_server.url + "/stream", stream=True, timeout=10) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        lines = list(response.iter_lines())
    assert lines == [b"line %d" % i for i in range(5)]


def test_send_file_whole_range_and_head(flask_server):
    expected = b"quarterly report\n" * 1000
    response = requests.get(flask_server.url + "/download", timeout=10)
    assert response.content == expected
    assert response.headers["Content-Length"] == str(len(expected))
    assert "attachment" in response.headers["Content-Disposition"]
    partial = requests.get(flask_server.url + "/download", headers={"Range": "bytes=17-33"}, timeout=10)
    assert partial.status_code == 206 and partial.content == b"quarterly report\n"
    head = requests.head(flask_server.url + "/download", timeout=10)
    assert head.headers["Content-Length"] == str(len(expected)) and head.content == b""
    etag = response.headers["ETag"]
    cached = requests.get(flask_server.url + "/download", headers={"If-None-Match": etag}, timeout=10)
    assert cached.status_code == 304 and cached.content == b""


def test_not_found_and_method_not_allowed(flask_server):
    assert requests.get(flask_server.url + "/missing", timeout=10).status_code == 404
    assert requests.post(flask_server.url + "/old", timeout=10).status_code == 405
