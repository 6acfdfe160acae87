"""examples/django/: a Django project served through its WSGI entry point."""

import os
import re

import pytest
import requests

from conftest import ROOT, Server, free_port

pytest.importorskip("django")

PROJECT = os.path.join(ROOT, "examples", "django")


@pytest.fixture(scope="module")
def django_server(tmp_path_factory):
    port = free_port()
    source = open(os.path.join(PROJECT, "serve_wsgi.py")).read()
    source, count = re.subn(r"listen\(8000", "listen(%d" % port, source)
    assert count == 1
    path = tmp_path_factory.mktemp("django") / "serve_wsgi.py"
    path.write_text(source)
    server = Server(str(path), env={"PYTHONPATH": PROJECT}, ready_prefix="Listening on port").start()
    server.port = port
    yield server
    assert server.stop() == 0
    assert "Traceback" not in server.stderr(), server.stderr()


def test_index_and_unicode_path(django_server):
    assert requests.get(django_server.url + "/", timeout=10).text == "Hello from Django on socketify!\n"
    # Django decodes PATH_INFO from the latin-1 str PEP 3333 specifies
    assert requests.get(django_server.url + "/hello/caf%C3%A9", timeout=10).text == "Hello, café!"


def test_json_api(django_server):
    created = requests.post(django_server.url + "/api/items", json={"name": "socket"}, timeout=10)
    assert created.status_code == 201 and created.json()["count"] >= 1
    assert {"name": "socket"} in requests.get(django_server.url + "/api/items", timeout=10).json()["items"]


def test_csrf_protected_form(django_server):
    with requests.Session() as session:
        page = session.get(django_server.url + "/form", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        ok = session.post(
            django_server.url + "/form",
            data={"csrfmiddlewaretoken": token, "name": "Ada"},
            headers={"Referer": django_server.url + "/form"},
            timeout=10,
        )
        assert ok.status_code == 200 and ok.text == "Thanks, Ada"
    refused = requests.post(django_server.url + "/form", data={"name": "Mallory"}, timeout=10)
    assert refused.status_code == 403


def test_session_in_signed_cookies(django_server):
    with requests.Session() as session:
        counts = [session.get(django_server.url + "/counter", timeout=10).json()["count"] for _ in range(3)]
    assert counts == [1, 2, 3]


def test_streaming_response(django_server):
    with requests.get(django_server.url + "/stream", stream=True, timeout=10) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert response.text == "".join("chunk %d\n" % i for i in range(10))


def test_file_response(django_server):
    response = requests.get(django_server.url + "/download", timeout=10)
    expected = "".join("%d,%d\n" % (i, i * i) for i in range(5000)).encode()
    assert response.content == expected
    assert response.headers["Content-Length"] == str(len(expected))
    assert 'filename="data.csv"' in response.headers["Content-Disposition"]


def test_redirect_and_not_found(django_server):
    response = requests.get(django_server.url + "/old", allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert requests.get(django_server.url + "/nothing-here", timeout=10).status_code == 404
    head = requests.head(django_server.url + "/", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len("Hello from Django on socketify!\n"))
