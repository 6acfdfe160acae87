"""PROXY protocol: the guards of the v2 parser no other test holds, and the
proxy_protocol option that limits who may send a PROXY header (issue 11)."""

import json
import socket
import struct
import time

import pytest

import rawhttp

PROXY_APP = """
import json
import sys
from listen_line import announce
from socketify import App

app = App(header_timeout=1, proxy_protocol=json.loads(sys.argv[1]))
app.get("/proxied", lambda res, req: res.send({"proxied": res.get_proxied_remote_address(),
                                               "remote": res.get_remote_address()}))
app.listen(0, announce)
app.run()
"""

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
GET = b"GET /proxied HTTP/1.1\r\nHost: x\r\n\r\n"


def v2_inet(src, dst="10.0.0.2", sport=4000, dport=80, body=None):
    if body is None:
        body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def v2_inet6(src):
    body = socket.inet_pton(socket.AF_INET6, src) + bytes(16) + struct.pack("!HH", 1, 2)
    return SIGNATURE + bytes([0x21, 0x21]) + struct.pack("!H", len(body)) + body


def proxied(sock):
    status, _, body, _ = rawhttp.read_response(sock)
    assert status == 200, body
    return json.loads(body)["proxied"]


@pytest.fixture
def any_proxy(serve):
    return serve(PROXY_APP, "true")


def test_v2_header_split_across_reads(any_proxy):
    header = v2_inet("10.1.2.3")
    with rawhttp.connect(any_proxy.port) as sock:
        sock.sendall(header[:20])  # the signature and part of the address
        time.sleep(0.2)
        sock.sendall(header[20:] + GET)
        assert proxied(sock) == "10.1.2.3"


def test_v2_split_inside_the_signature_and_the_length(any_proxy):
    header = v2_inet6("2001:db8::7")
    with rawhttp.connect(any_proxy.port) as sock:
        for cut in (5, 15, 30):
            sock.sendall(header[:cut])
            header = header[cut:]
            time.sleep(0.1)
        sock.sendall(header + GET)
        assert proxied(sock) == "2001:db8::7"


def test_v2_length_larger_than_what_arrives_waits_then_times_out(any_proxy):
    header = v2_inet("10.1.2.3")
    claimed = SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", 200) + header[16:]
    with rawhttp.connect(any_proxy.port) as sock:
        sock.sendall(claimed + GET)  # the GET is read as more of the header
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(1)  # nothing yet: the header may still be coming
        data = rawhttp.read_until_close(sock, 6)
    assert data == b"" or rawhttp.status_of(data) == 408, data


def test_v2_inet_header_shorter_than_its_addresses_is_400(any_proxy):
    short = v2_inet("10.1.2.3", body=socket.inet_aton("10.1.2.3") + b"\x00" * 4)  # 8 of 12 bytes
    data = rawhttp.exchange(any_proxy.port, short + GET)
    assert rawhttp.status_of(data) == 400


def test_default_accepts_a_proxy_header_from_any_client(any_proxy):
    with rawhttp.connect(any_proxy.port) as sock:
        sock.sendall(b"PROXY TCP4 192.168.1.7 10.0.0.2 5000 80\r\n" + GET)
        assert proxied(sock) == "192.168.1.7"


def test_proxy_protocol_off_refuses_the_header(serve):
    server = serve(PROXY_APP, "false")
    data = rawhttp.exchange(server.port, b"PROXY TCP4 192.168.1.7 10.0.0.2 5000 80\r\n" + GET)
    assert rawhttp.status_of(data) == 400
    data = rawhttp.exchange(server.port, v2_inet("10.1.2.3") + GET)
    assert rawhttp.status_of(data) == 400
    with rawhttp.connect(server.port) as sock:
        sock.sendall(GET)
        assert proxied(sock) is None


def test_untrusted_client_cannot_set_the_proxied_address(serve):
    server = serve(PROXY_APP, json.dumps(["10.0.0.0/8", "::1"]))
    data = rawhttp.exchange(server.port, v2_inet("10.1.2.3") + GET)
    assert rawhttp.status_of(data) == 400


def test_trusted_proxy_sets_the_proxied_address(serve):
    server = serve(PROXY_APP, json.dumps(["10.0.0.0/8", "127.0.0.0/8"]))
    with rawhttp.connect(server.port) as sock:
        sock.sendall(v2_inet("10.1.2.3") + GET)
        assert proxied(sock) == "10.1.2.3"
    with rawhttp.connect(server.port) as sock:  # a trusted proxy may also send none
        sock.sendall(GET)
        assert proxied(sock) is None


def test_bad_trusted_entry_is_a_clear_error():
    from socketify import App

    with pytest.raises(ValueError, match="not an IP address"):
        App(proxy_protocol=["localhost"])
    with pytest.raises(TypeError):
        App(proxy_protocol="10.0.0.0/8")
