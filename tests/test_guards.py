"""Guards the core has that no other test pins: stale Response and WebSocket
handles read nothing (also once their slot serves a new connection), and the
router falls back from a static branch to a parameter branch."""

import json
import socket

import pytest
import wsframes

import rawhttp
from conftest import served

APP = """
import json
from socketify import App

app = App()
kept = {}

def describe(handle):
    raw = handle.get_remote_address_bytes()
    report = {"address": handle.get_remote_address(), "address_bytes": None if raw is None else list(raw)}
    if hasattr(handle, "get_native_handle"):
        proxied = handle.get_proxied_remote_address_bytes()
        report.update(fd=handle.get_native_handle(), proxied=handle.get_proxied_remote_address(),
                      proxied_bytes=None if proxied is None else list(proxied))
    else:
        report.update(buffered=handle.get_buffered_amount())
    return report

@app.get("/keep/:name")
def keep(res, req):
    kept[req.get_parameter(0)] = res
    res.end(json.dumps(describe(res)))

@app.get("/probe/:name")
def probe(res, req):
    res.end(json.dumps({"kept": describe(kept[req.get_parameter(0)]), "live": describe(res)}))

def ws_message(ws, message, opcode):
    name, _, command = message.partition(" ")
    if command == "keep":
        kept[name] = ws
        ws.send(json.dumps(describe(ws)))
    elif command == "end":
        ws.end(1000, "bye")

app.ws("/ws", {"message": ws_message})

app.get("/a/b/c", lambda res, req: res.end("static c"))
app.get("/a/:x/d", lambda res, req: res.end("param d, x=%s" % req.get_parameter("x")))

app.listen({"port": 0, "host": "127.0.0.1"}, lambda config: print("PORT %d" % config.port, flush=True))
app.run()
"""

GONE = {"address": None, "address_bytes": None, "fd": None, "proxied": None, "proxied_bytes": None}


@pytest.fixture(scope="module")
def server():
    with served(APP) as server:
        yield server


def connect_from(port, source="127.0.0.1"):
    """A connection from another loopback address, so a new connection in a
    reused slot cannot be mistaken for the old one."""
    sock = socket.socket()
    sock.settimeout(5)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def get_json(sock, path, prefix=b""):
    sock.sendall(prefix + b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return json.loads(rawhttp.read_response(sock)[2])


def test_a_kept_response_reads_nothing_after_end(server):
    with rawhttp.connect(server.port) as first:
        live = get_json(first, "/keep/ended")
        assert live["address"] == "127.0.0.1" and live["address_bytes"] == [127, 0, 0, 1]
        assert isinstance(live["fd"], int) and live["fd"] >= 0
        # the same keep-alive connection is still open; the response has ended
        assert get_json(first, "/probe/ended")["kept"] == GONE
        with rawhttp.connect(server.port) as other:
            assert get_json(other, "/probe/ended")["kept"] == GONE


def test_a_kept_response_reads_nothing_once_its_slot_serves_another_connection(server):
    proxy = b"PROXY TCP4 192.168.1.7 10.0.0.2 5000 80\r\n"
    with rawhttp.connect(server.port) as first:
        live = get_json(first, "/keep/reused")
    assert live["address"] == "127.0.0.1"
    # the first connection is closed: its slot (and likely its fd) goes to the next one
    with connect_from(server.port, "127.0.0.2") as second:
        report = get_json(second, "/probe/reused", proxy)
    assert report["live"]["address"] == "127.0.0.2"
    assert report["kept"] == GONE, report


def test_a_kept_websocket_reads_nothing_after_the_client_closed(server):
    client = wsframes.WSClient.connect(server.port, "/ws")
    client.send_text("closed keep")
    assert json.loads(client.read_message()[1]) == {
        "address": "127.0.0.1",
        "address_bytes": [127, 0, 0, 1],
        "buffered": 0,
    }
    client.send_close(1000)
    client.expect_close(1000)
    client.close_socket()
    gone = {"address": None, "address_bytes": None, "buffered": 0}
    with rawhttp.connect(server.port) as sock:
        assert get_json(sock, "/probe/closed")["kept"] == gone
    # a new WebSocket takes the slot: the kept one must not read it
    newer = wsframes.WSClient.connect(server.port, "/ws")
    newer.send_text("newer keep")
    assert json.loads(newer.read_message()[1])["address"] == "127.0.0.1"
    with connect_from(server.port, "127.0.0.2") as sock:
        assert get_json(sock, "/probe/closed")["kept"] == gone
    newer.close_socket()


def test_a_kept_websocket_reads_nothing_after_the_server_ended_it(server):
    client = wsframes.WSClient.connect(server.port, "/ws")
    client.send_text("ended keep")
    assert json.loads(client.read_message()[1])["address"] == "127.0.0.1"
    client.send_text("ended end")
    frame = client.read_frame()
    assert frame.opcode == wsframes.CLOSE and frame.close_code == 1000
    with rawhttp.connect(server.port) as sock:
        kept = get_json(sock, "/probe/ended")["kept"]
    assert kept == {"address": None, "address_bytes": None, "buffered": 0}
    client.close_socket()


@pytest.mark.parametrize(
    "path,body", [("/a/b/d", b"param d, x=b"), ("/a/b/c", b"static c"), ("/a/z/d", b"param d, x=z")]
)
def test_the_router_falls_back_from_a_static_branch_to_a_parameter(server, path, body):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, got, _ = rawhttp.read_response(sock)
    assert (status, got) == (200, body)


def test_no_route_at_the_end_of_a_static_branch_is_404(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /a/b/e HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[0] == 404
