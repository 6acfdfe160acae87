"""Pub/sub (API.md sections 7 and 9): subscribe/unsubscribe/is_subscribed/
get_topics/for_each_topic, ws.publish (the sender included), app.publish,
num_subscribers, per-subscriber ordering, the subscription handler (also at
close), and 1,000 subscribed clients receiving 20 messages each in order.
"""

import asyncio
import base64
import itertools
import json
import os
import resource
import struct
import time
import urllib.parse
import urllib.request

import pytest
from wsframes import BINARY, CLOSE, TEXT, WSClient, close_frame, frame, inflate_message, server_frame

from conftest import HERE, Server, wait_for_value

APP = os.path.join(HERE, "apps", "ws_pubsub_app.py")
_names = itertools.count()


@pytest.fixture(scope="module", params=["sync", "async"])
def server(request):
    server = Server(APP, [request.param]).start()
    yield server
    server.stop()
    server.check_clean()


def http_json(server, path, **query):
    url = server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())["result"] if path != "/log" else json.loads(r.read())


def log_of(server, name):
    return http_json(server, "/log", name=name)


def wait_for(fn, predicate, timeout=8.0):
    return wait_for_value(fn, predicate, timeout, 0.02)


class Sub(WSClient):
    def call(self, op, **kw):
        kw["op"] = op
        self.send_text(json.dumps(kw))
        return self.reply(op)

    def reply(self, op):
        f = self.read_frame()
        assert f.opcode == TEXT, f
        data = json.loads(f.payload)
        assert data["op"] == op, data
        return data["result"]


def client(server, path="/ps", name=None, **kw):
    name = name or "p%d" % next(_names)
    c = Sub.connect(server.port, "%s?name=%s" % (path, name), **kw)
    c.name = name
    return c


def topic():
    return "topic-%d" % next(_names)


# =============================================================================
# Subscriptions of one socket
# =============================================================================


def test_subscribe_unsubscribe_is_subscribed(server):
    t = topic()
    with client(server) as c:
        assert c.call("is", topic=t) is False
        assert c.call("sub", topic=t) is True
        assert c.call("sub", topic=t) is False  # already subscribed
        assert c.call("is", topic=t) is True
        assert c.call("unsub", topic=t) is True
        assert c.call("unsub", topic=t) is False  # no longer subscribed
        assert c.call("is", topic=t) is False


def test_get_topics_and_for_each_topic(server):
    names = ["alpha", "beta/gamma", "δέλτα", "with space", ""]
    with client(server) as c:
        assert c.call("topics") == [] and c.call("each") == []
        for n in names:
            assert c.call("sub", topic=n) is True
        assert sorted(c.call("topics")) == sorted(names)
        assert sorted(c.call("each")) == sorted(names)
        c.call("unsub", topic="beta/gamma")
        assert sorted(c.call("topics")) == sorted(set(names) - {"beta/gamma"})


def test_topics_are_exact_strings_not_patterns(server):
    with client(server) as a, client(server) as b:
        a.call("sub", topic="news/*")
        b.call("sub", topic="news/sport")
        assert a.call("pub", topic="news/sport", msg="sport only") is True  # a: only the reply
        assert b.read_frame().raw == server_frame(TEXT, b"sport only")
        assert a.call("pub", topic="news/other", msg="nobody") is False
        assert a.nothing_pending(0.2) and b.nothing_pending(0.1)


# =============================================================================
# Publishing
# =============================================================================


def test_ws_publish_reaches_every_subscriber_including_sender(server):
    t = topic()
    with client(server) as a, client(server) as b, client(server) as c, client(server) as outsider:
        for x in (a, b, c):
            x.call("sub", topic=t)
        a.send_text(json.dumps({"op": "pub", "topic": t, "msg": "hello all"}))
        for x in (a, b, c):
            assert x.read_frame().raw == server_frame(TEXT, b"hello all")
        assert a.reply("pub") is True
        assert outsider.nothing_pending(0.2)


def test_sender_receives_its_own_publish_first(server):
    t = topic()
    with client(server) as a:
        a.call("sub", topic=t)
        a.send_text(json.dumps({"op": "pub", "topic": t, "msg": "mine"}))
        assert a.read_frame().raw == server_frame(TEXT, b"mine")
        assert a.reply("pub") is True


def test_publish_without_subscribers_returns_false(server):
    with client(server) as a:
        assert a.call("pub", topic=topic(), msg="nobody") is False
    assert http_json(server, "/publish", topic=topic(), msg="nobody") is False


def test_unsubscribed_socket_no_longer_receives(server):
    t = topic()
    with client(server) as a, client(server) as b:
        a.call("sub", topic=t)
        b.call("sub", topic=t)
        b.call("unsub", topic=t)
        assert http_json(server, "/publish", topic=t, msg="only a") is True
        assert a.read_frame().raw == server_frame(TEXT, b"only a")
        assert b.nothing_pending(0.2)


@pytest.mark.parametrize("binary", [False, True])
def test_app_publish_opcodes(server, binary):
    t = topic()
    with client(server) as a:
        a.call("sub", topic=t)
        q = {"topic": t, "msg": "from http"}
        if binary:
            q["binary"] = "1"
        assert http_json(server, "/publish", **q) is True
        assert a.read_frame().raw == server_frame(BINARY if binary else TEXT, b"from http")


def test_app_publish_default_opcodes(server):
    t = topic()
    with client(server) as a:
        a.call("sub", topic=t)
        assert http_json(server, "/publish-default", topic=t) == [True, True, True]
        assert a.read_frame().raw == server_frame(TEXT, b"text")
        assert a.read_frame().raw == server_frame(BINARY, b"\x00bytes")
        f = a.read_frame()
        assert f.opcode == TEXT and json.loads(f.payload) == {"json": True}


def test_app_publish_compressed(server):
    t = topic()
    with (
        client(server, "/psz", extensions="permessage-deflate") as z,
        client(server, "/ps") as p,
        client(server, "/psz") as z_plain,
    ):
        for x in (z, p, z_plain):
            x.call("sub", topic=t)
        text = "compressed publish " * 50
        assert http_json(server, "/publish", topic=t, msg=text, compress="1") is True
        f = z.read_frame()
        assert f.opcode == TEXT and f.rsv == 4 and inflate_message(f.payload) == text.encode()
        # Subscribers without the extension get it uncompressed.
        assert p.read_frame().raw == server_frame(TEXT, text.encode())
        assert z_plain.read_frame().raw == server_frame(TEXT, text.encode())


def test_ws_publish_compressed_binary(server):
    t = topic()
    with client(server, "/psz", extensions="permessage-deflate") as z:
        z.call("sub", topic=t)
        z.send_text(json.dumps({"op": "pub", "topic": t, "msg": "zz" * 500, "binary": True, "compress": True}))
        f = z.read_frame()
        assert f.opcode == BINARY and f.rsv == 4 and inflate_message(f.payload) == b"zz" * 500
        assert z.reply("pub") is True


def test_num_subscribers(server):
    t = topic()
    assert http_json(server, "/num", topic=t) == 0
    clients = [client(server) for _ in range(5)]
    try:
        for i, c in enumerate(clients):
            c.call("sub", topic=t)
            assert http_json(server, "/num", topic=t) == i + 1
        assert clients[0].call("num", topic=t) == 5
        clients[0].call("unsub", topic=t)
        assert http_json(server, "/num", topic=t) == 4
        clients[1].send_raw(close_frame(1000))
        clients[1].read_frame()
        clients[2].close_socket()
        wait_for(lambda: http_json(server, "/num", topic=t), lambda n: n == 2)
    finally:
        for c in clients:
            c.close_socket()
    wait_for(lambda: http_json(server, "/num", topic=t), lambda n: n == 0)


def test_num_subscribers_rejects_non_string_topic(server):
    assert http_json(server, "/num-bad") == "RuntimeError"


def test_ordering_per_subscriber(server):
    t1, t2 = topic(), topic()
    with client(server) as a, client(server) as b:
        a.call("sub", topic=t1)
        a.call("sub", topic=t2)
        b.call("sub", topic=t1)
        a.send_text(json.dumps({"op": "pubn", "topic": t1, "n": 300}))
        for i in range(300):
            assert a.read_frame().raw == server_frame(TEXT, b"%d" % i)
            assert b.read_frame().raw == server_frame(TEXT, b"%d" % i)
        a.send_text(json.dumps({"op": "pubn", "topic": t2, "n": 5}))
        for i in range(5):
            assert a.read_frame().raw == server_frame(TEXT, b"%d" % i)
        assert b.nothing_pending(0.2)


def test_direct_sends_and_publishes_keep_program_order(server):
    t = topic()
    with client(server) as a:
        a.call("sub", topic=t)
        a.send_text(json.dumps({"op": "mixed", "topic": t}))
        got = [a.read_frame().payload for _ in range(4)]
        assert got == [b"direct 1", b"published 1", b"direct 2", b"published 2"]


# =============================================================================
# The subscription handler
# =============================================================================


def test_subscription_handler_counts(server):
    t = topic()
    with client(server) as a, client(server) as b:
        a.call("sub", topic=t)
        b.call("sub", topic=t)
        a.call("sub", topic=t)  # no change: no event
        b.call("unsub", topic=t)
        b.call("unsub", topic=t)  # no change: no event
        b.call("sub", topic=t)
        b.call("sub", topic="other-" + t)
        wait_for(lambda: log_of(server, b.name), lambda log: len(log) == 4)
        assert log_of(server, a.name) == [[t, 1, 0]]
        assert log_of(server, b.name) == [[t, 2, 1], [t, 1, 2], [t, 2, 1], ["other-" + t, 1, 0]]


@pytest.mark.parametrize("how", ["client close frame", "tcp drop"])
def test_subscription_handler_at_client_close(server, how):
    """The automatic unsubscribe at close reaches the subscription handler,
    for every topic, whoever closes."""
    t = topic()
    with client(server) as a, client(server) as b:
        a.call("sub", topic=t)
        b.call("sub", topic=t)
        b.call("sub", topic="other-" + t)
        wait_for(lambda: log_of(server, b.name), lambda log: len(log) == 2)
        if how == "tcp drop":
            b.close_socket()
            code = 1006
        else:
            b.send_raw(close_frame(1000))
            assert b.read_frame().raw == server_frame(CLOSE, b"\x03\xe8")
            code = 1000
        log = wait_for(lambda: log_of(server, b.name), lambda log: ["close", code] in log)
        time.sleep(0.1)  # let any late event arrive
        log = log_of(server, b.name)
        unsubs = [e for e in log[2:] if e[0] != "close"]
        assert sorted(unsubs) == sorted([[t, 1, 2], ["other-" + t, 0, 1]]), log
        assert http_json(server, "/num", topic=t) == 1


def test_subscription_handler_at_server_end(server):
    t = topic()
    with client(server) as a:
        a.call("sub", topic=t)
        a.send_text(json.dumps({"op": "end"}))
        f = a.read_frame()
        assert f.opcode == CLOSE and f.close_code == 1000
    log = wait_for(lambda: log_of(server, a.name), lambda log: len(log) >= 3)
    assert log[0] == [t, 1, 0]
    assert [t, 0, 1] in log[1:] and ["close", 1000] in log[1:]
    assert http_json(server, "/num", topic=t) == 0


# =============================================================================
# 1,000 subscribers
# =============================================================================

N_CLIENTS = 1000
N_MESSAGES = 20


def _raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        pytest.skip("RLIMIT_NOFILE cannot be raised to %d (hard limit %r)" % (need, hard))


class AsyncClient:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port, path):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        return cls(reader, writer)

    def send_text(self, text):
        self.writer.write(frame(TEXT, text.encode()))

    async def read_frame(self):
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return b0 & 0x0F, await self.reader.readexactly(n)


@pytest.mark.serial
def test_thousand_subscribers_receive_twenty_messages_in_order():
    _raise_nofile(N_CLIENTS * 2 + 200)
    server = Server(APP, ["sync"]).start()
    try:
        asyncio.run(_thousand(server))
    finally:
        server.stop()
    server.check_clean()


async def _thousand(server):
    t = "broadcast"
    clients = []
    # Connect in batches so the listen backlog never overflows.
    for start in range(0, N_CLIENTS, 100):
        clients += await asyncio.gather(
            *[AsyncClient.connect(server.port, "/ps?name=k%d" % i) for i in range(start, min(N_CLIENTS, start + 100))]
        )
    for c in clients:
        c.send_text(json.dumps({"op": "sub", "topic": t}))

    async def subscribed(c):
        op, payload = await c.read_frame()
        assert op == TEXT and json.loads(payload) == {"op": "sub", "result": True}

    await asyncio.wait_for(asyncio.gather(*[subscribed(c) for c in clients]), 30)
    assert await asyncio.to_thread(http_json, server, "/num", topic=t) == N_CLIENTS

    clients[0].send_text(json.dumps({"op": "pubn", "topic": t, "n": N_MESSAGES}))

    async def receive_all(c):
        got = []
        for _ in range(N_MESSAGES):
            op, payload = await c.read_frame()
            assert op == TEXT
            got.append(payload.decode())
        return got

    results = await asyncio.wait_for(asyncio.gather(*[receive_all(c) for c in clients]), 30)
    expected = [str(i) for i in range(N_MESSAGES)]
    assert all(r == expected for r in results), [r for r in results if r != expected][:3]

    for c in clients:
        c.writer.write(close_frame(1000))
    for c in clients:
        op, payload = await asyncio.wait_for(c.read_frame(), 30)
        assert op == CLOSE and payload == b"\x03\xe8"
        c.writer.close()
    n = await asyncio.to_thread(wait_for, lambda: http_json(server, "/num", topic=t), lambda n: n == 0)
    assert n == 0
