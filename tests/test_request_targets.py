"""CONNECT in both target forms, and absolute-form targets, over raw sockets
(issue 11; RFC 9112 §3.2)."""

import json

import pytest

import rawhttp

TARGETS_APP = """
from listen_line import announce
from socketify import App

app = App()


def describe(route):
    def handler(res, req):
        res.send({"route": route, "method": req.get_method(), "url": req.get_url(),
                  "full_url": req.get_full_url(), "host": req.get_header("host"),
                  "headers_host": req.get_headers().get("host")})
    return handler


app.connect("/verb", describe("verb"))
app.connect("/pinned.example:443", describe("pinned"))
app.connect("bare.example:8443", describe("bare"))
app.connect("/*", describe("connect-any"))
app.get("/x", describe("get-x"))
app.listen(0, announce)
app.run()
"""


@pytest.fixture(scope="module")
def server():
    from conftest import served

    with served(TARGETS_APP) as server:
        yield server


def ask(server, raw):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(raw)
        status, _, body, _ = rawhttp.read_response(sock)
        # The connection stays in sync: a second request behind it is answered.
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: after\r\n\r\n")
        assert json.loads(rawhttp.read_response(sock)[2])["route"] == "get-x"
    return status, json.loads(body) if status == 200 else body


def test_connect_origin_form_is_routed_by_path(server):
    status, body = ask(server, b"CONNECT /verb HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and body["route"] == "verb" and body["method"] == "CONNECT"
    assert body["url"] == "/verb"


def test_connect_authority_form_reaches_the_wildcard_route(server):
    status, body = ask(server, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert status == 200 and body["route"] == "connect-any"
    assert body["url"] == "example.com:443" and body["full_url"] == "example.com:443"


def test_connect_authority_form_reaches_a_route_for_the_authority(server):
    status, body = ask(server, b"CONNECT pinned.example:443 HTTP/1.1\r\nHost: pinned.example:443\r\n\r\n")
    assert status == 200 and body["route"] == "pinned" and body["url"] == "pinned.example:443"


def test_connect_route_may_name_the_authority_without_a_slash(server):
    status, body = ask(server, b"CONNECT bare.example:8443 HTTP/1.1\r\nHost: bare.example:8443\r\n\r\n")
    assert status == 200 and body["route"] == "bare" and body["url"] == "bare.example:8443"


def test_connect_ipv6_authority(server):
    status, body = ask(server, b"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n")
    assert status == 200 and body["route"] == "connect-any" and body["url"] == "[::1]:8443"


@pytest.mark.parametrize("target", [b"host", b"host:", b"http://a:1/", b"*"])
def test_connect_with_a_bad_target_is_400(server, target):
    data = rawhttp.exchange(server.port, b"CONNECT " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert rawhttp.status_of(data) == 400


def test_absolute_form_authority_replaces_a_conflicting_host(server):
    status, body = ask(server, b"GET http://a.example/x?q=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n")
    assert status == 200 and body["route"] == "get-x"
    assert body["host"] == "a.example" and body["headers_host"] == "a.example"
    assert body["url"] == "/x" and body["full_url"] == "/x?q=1"


def test_absolute_form_authority_with_port(server):
    status, body = ask(server, b"GET http://a.example:8080/x HTTP/1.1\r\nHost: b\r\n\r\n")
    assert body["host"] == "a.example:8080" and body["headers_host"] == "a.example:8080"
