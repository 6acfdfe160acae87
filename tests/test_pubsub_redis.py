"""Pub/sub across processes through a real redis-server (RedisBackplane):
every message reaches every subscriber of every process once and in order,
opcode and compress survive, Redis subscriptions follow the local ones,
Redis restarted or missing, a worker killed; and no redis without it.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from wsframes import BINARY, TEXT, WSClient, inflate_message, server_frame

from conftest import HERE, ROOT, Server, server_env, wait_for_value

APP = os.path.join(HERE, "apps", "pubsub_redis_app.py")


def http_json(server, path, **query):
    url = server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())["result"]


def wait_for(fn, predicate, timeout=15.0):
    return wait_for_value(fn, predicate, timeout)


def redis_cli(redis_server, *args):
    out = subprocess.run(
        ["redis-cli", "-p", str(redis_server.port)] + list(args), capture_output=True, text=True, timeout=10, check=True
    ).stdout
    return out.split()


def numsub(redis_server, topic):
    return int(redis_cli(redis_server, "PUBSUB", "NUMSUB", "socketify:" + topic)[1])


class Sub(WSClient):
    def call(self, op, **kw):
        kw["op"] = op
        self.send_text(json.dumps(kw))
        while True:
            f = self.read_frame()
            if f.opcode == TEXT and f.payload.startswith(b'{"op"'):
                reply = json.loads(f.payload)
                if reply["op"] == op:
                    return reply["result"]

    def texts(self, n, timeout=20.0):
        got = []
        try:
            for _ in range(n):
                opcode, data = self.read_message(timeout=timeout)
                got.append(data.decode() if opcode == TEXT else (opcode, data))
        except Exception as error:
            raise AssertionError("after %d of %d messages (last %r): %r" % (len(got), n, got[-3:], error)) from error
        return got


_clients = []


@pytest.fixture(autouse=True)
def close_clients():
    yield
    while _clients:
        _clients.pop().close_socket()


def sub(server, topics, path="/ws", **kw):
    """A client subscribed to ``topics`` on open (closed after the test)."""
    client = Sub.connect(server.port, "%s?topics=%s" % (path, ",".join(topics)), **kw)
    _clients.append(client)
    return client


@pytest.fixture
def cluster(redis_server):
    """start(n) -> n servers sharing the test's redis-server."""
    servers = []

    def start(n=2, *extra):
        new = [Server(APP, [redis_server.url] + list(extra)).start() for _ in range(n)]
        servers.extend(new)
        return new

    yield start
    while _clients:  # first: a server closing gracefully waits for its clients
        _clients.pop().close_socket()
    for server in servers:
        server.stop()
        print("server log:", server.stderr())  # shown when the test fails
        server.check_clean()


def wait_subscribed(redis_server, topic, processes):
    wait_for(lambda: numsub(redis_server, topic), lambda n: n == processes)


def run_python(code):
    """``code`` in a fresh interpreter (what it imports starts from nothing): the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=server_env(), cwd=ROOT, timeout=60
    )


def test_plain_app_imports_no_redis():
    code = (
        "import sys\nfrom socketify import App\napp = App()\napp.ws('/ws', {})\n"
        "app.publish('t', 'x')\n"
        "assert 'redis' not in sys.modules and 'socketify.pubsub' not in sys.modules, "
        "sorted(m for m in sys.modules if 'redis' in m or 'pubsub' in m)\nprint('ok')"
    )
    out = run_python(code)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_pubsub_package_imports_no_redis_until_named():
    code = (
        "import sys\nimport socketify.pubsub as p\nassert 'redis' not in sys.modules\n"
        "p.RedisBackplane\nassert 'redis' in sys.modules\nprint('ok')"
    )
    out = run_python(code)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_pubsub_argument_is_checked():
    code = (
        "from socketify import App\ntry:\n    App(pubsub=42)\nexcept TypeError as e:\n"
        "    print('TypeError', 'RedisBackplane' in str(e))\n"
    )
    out = run_python(code)
    assert out.stdout.strip() == "TypeError True", out.stderr


def test_every_message_reaches_every_subscriber_once_in_order(cluster, redis_server):
    a, b = cluster(2)
    clients = [sub(s, ["room"]) for s in (a, b, a, b)]
    wait_subscribed(redis_server, "room", 2)
    n = 300
    assert http_json(a, "/publish-loop", topic="room", n=n, tag="A") is True
    assert http_json(b, "/publish-loop", topic="room", n=n, tag="B") is True
    for client in clients:
        got = client.texts(2 * n)
        for tag in "AB":
            assert [m for m in got if m.startswith(tag + ":")] == ["%s:%d" % (tag, i) for i in range(n)]
        assert client.nothing_pending(0.3)
    for server in (a, b):
        stats = http_json(server, "/stats")
        assert stats["forwarded"] == n and stats["received"] == n and stats["lost"] == 0, stats
    for client in clients:
        client.close_socket()


def test_topics_not_subscribed_elsewhere_get_nothing(cluster, redis_server):
    a, b = cluster(2)
    x = sub(a, ["x"])
    y = sub(b, ["y"])
    wait_subscribed(redis_server, "x", 1)
    wait_subscribed(redis_server, "y", 1)
    http_json(a, "/publish", topic="y", msg="for y")
    http_json(b, "/publish", topic="x", msg="for x")
    assert y.texts(1) == ["for y"]
    assert x.texts(1) == ["for x"]
    assert x.nothing_pending(0.3) and y.nothing_pending(0.3)
    # B has no subscriber of "x": its copy of A's publishes never leaves Redis for it.
    assert http_json(b, "/stats")["received"] == 1


def test_opcode_and_compress_survive(cluster, redis_server):
    a, b = cluster(2)
    sender = sub(a, [], path="/wsz", extensions="permessage-deflate")
    z = sub(b, ["t"], path="/wsz", extensions="permessage-deflate")
    plain = sub(b, ["t"], path="/wsz")
    wait_subscribed(redis_server, "t", 1)
    data = "zz" * 500
    assert sender.call("pub", topic="t", msg=data, binary=True, compress=True) is False  # none local
    f = z.read_frame()
    assert f.opcode == BINARY and f.rsv == 4 and inflate_message(f.payload) == data.encode()
    assert plain.read_frame().raw == server_frame(BINARY, data.encode())
    sender.call("pub", topic="t", msg="plain text", compress=False)
    f = z.read_frame()
    assert f.opcode == TEXT and f.rsv == 0 and f.payload == b"plain text"
    assert plain.read_frame().raw == server_frame(TEXT, b"plain text")
    http_json(a, "/publish", topic="t", msg="compressed text " * 40, compress="1")
    f = z.read_frame()
    assert f.opcode == TEXT and f.rsv == 4 and inflate_message(f.payload) == ("compressed text " * 40).encode()
    assert plain.read_frame().raw == server_frame(TEXT, ("compressed text " * 40).encode())


def test_ws_publish_reaches_local_and_remote_once(cluster, redis_server):
    a, b = cluster(2)
    sender = sub(a, ["chat"])
    local = sub(a, ["chat"])
    remote = sub(b, ["chat"])
    wait_subscribed(redis_server, "chat", 2)
    for i in range(20):
        sender.send_text(json.dumps({"op": "pub", "topic": "chat", "msg": "m%d" % i}))
    expected = ["m%d" % i for i in range(20)]
    assert local.texts(20) == expected
    assert remote.texts(20) == expected
    got = [m for m in sender.texts(40) if not m.startswith('{"op"')]
    assert got == expected
    for client in (local, remote, sender):
        assert client.nothing_pending(0.3)


def test_redis_subscriptions_follow_local_subscribers(cluster, redis_server):
    (a,) = cluster(1)

    def channels():
        return sorted(redis_cli(redis_server, "PUBSUB", "CHANNELS", "socketify:*"))

    assert channels() == []
    one = sub(a, [])
    two = sub(a, [])
    assert one.call("sub", topic="news") is True
    wait_for(channels, lambda c: c == ["socketify:news"])
    assert two.call("sub", topic="news") is True
    assert two.call("sub", topic="sport") is True
    wait_for(channels, lambda c: c == ["socketify:news", "socketify:sport"])
    assert http_json(a, "/topics") == ["news", "sport"]
    assert http_json(a, "/cluster", topic="news") == {"processes": 1, "local": 2}
    assert one.call("unsub", topic="news") is True
    time.sleep(0.2)
    assert channels() == ["socketify:news", "socketify:sport"]  # two still listens
    two.close_socket()  # the last subscriber goes with its connection
    wait_for(channels, lambda c: c == [])
    assert http_json(a, "/cluster", topic="news") == {"processes": 0, "local": 0}
    one.call("sub", topic="news")
    wait_for(channels, lambda c: c == ["socketify:news"])


def test_cluster_count_counts_processes(cluster, redis_server):
    a, b, c = cluster(3)
    clients = [sub(a, ["t"]), sub(a, ["t"]), sub(b, ["t"])]
    wait_subscribed(redis_server, "t", 2)
    assert http_json(c, "/cluster", topic="t") == {"processes": 2, "local": 0}
    assert http_json(a, "/cluster", topic="t") == {"processes": 2, "local": 2}
    for client in clients:
        client.close_socket()


def test_killed_worker_subscriptions_vanish(cluster, redis_server):
    a, b = cluster(2)
    sa, sb = sub(a, ["t"]), sub(b, ["t"])
    wait_subscribed(redis_server, "t", 2)
    b.stop(sig=9)
    wait_subscribed(redis_server, "t", 1)
    http_json(a, "/publish", topic="t", msg="still here")
    assert sa.texts(1) == ["still here"]
    sb.close_socket()


def test_redis_restart_mid_stream(cluster, redis_server):
    a, b = cluster(2)
    on_a, on_b = sub(a, ["live"]), sub(b, ["live"])
    wait_subscribed(redis_server, "live", 2)
    http_json(a, "/publish-loop", topic="live", n=50, tag="before")
    expected = ["before:%d" % i for i in range(50)]
    assert on_a.texts(50) == expected and on_b.texts(50) == expected

    redis_server.stop()
    wait_for(lambda: http_json(a, "/stats")["connected"], lambda up: up is False)
    # Local pub/sub keeps working; what could not be forwarded is counted.
    http_json(a, "/publish-loop", topic="live", n=30, tag="during")
    assert on_a.texts(30) == ["during:%d" % i for i in range(30)]
    stats = http_json(a, "/stats")
    assert stats["lost"] >= 30 and stats["outages"] == 1, stats

    redis_server.start()
    for server in (a, b):
        wait_for(lambda server=server: http_json(server, "/stats")["connected"], lambda up: up is True)
    wait_subscribed(redis_server, "live", 2)  # every live topic subscribed again
    http_json(a, "/publish-loop", topic="live", n=50, tag="after")
    expected = ["after:%d" % i for i in range(50)]
    assert on_a.texts(50) == expected and on_b.texts(50) == expected
    assert on_b.nothing_pending(0.3)  # none of "during" (lost), nothing twice
    stats = http_json(a, "/stats")
    assert stats["outages"] == 1 and stats["connected"] is True, stats
    on_a.close_socket()
    on_b.close_socket()
    a.stop()
    log = a.stderr()
    assert log.count("lost Redis at") == 1, log
    assert log.count("is back after") == 1, log
    assert "publishes of this process were not forwarded" in log


def test_publish_loop_while_redis_restarts(cluster, redis_server):
    """Publishing goes on while Redis restarts: clients keep their sockets,
    what arrives arrives in order and once, every message after the
    recovery arrives, and the stats account for every publish."""
    a, b = cluster(2)
    on_b = sub(b, ["loop"])
    wait_subscribed(redis_server, "loop", 1)
    for batch in range(5):
        http_json(a, "/publish-loop", topic="loop", n=20, tag="before%d" % batch)
    assert on_b.texts(100) == ["before%d:%d" % (t, i) for t in range(5) for i in range(20)]
    redis_server.restart()
    sent = []
    deadline = time.monotonic() + 30
    while True:  # publish on until A has seen the outage end and B resubscribed
        tag = "during%d" % len(sent)
        http_json(a, "/publish-loop", topic="loop", n=20, tag=tag)
        sent += ["%s:%d" % (tag, i) for i in range(20)]
        stats = http_json(a, "/stats")
        if stats["outages"] == 1 and stats["connected"] and numsub(redis_server, "loop") == 1:
            break
        assert time.monotonic() < deadline, stats
    http_json(a, "/publish-loop", topic="loop", n=20, tag="after")
    received = []
    while not received or received[-1] != "after:19":
        received.append(on_b.texts(1)[0])
    assert received[-20:] == ["after:%d" % i for i in range(20)]
    during = received[:-20]
    assert len(set(during)) == len(during)
    assert during == [m for m in sent if m in set(during)]  # a subsequence: in order
    assert on_b.nothing_pending(0.3)
    stats = http_json(a, "/stats")
    # Not received: counted lost here, or accepted by Redis as it went down
    # (a quick restart may cost nothing at all).
    assert stats["outages"] == 1
    assert stats["published"] == stats["forwarded"] + stats["lost"] + stats["overflow"], stats


def test_redis_down_at_startup_is_a_clear_error(redis_server):
    redis_server.stop()
    server = Server(APP, [redis_server.url])
    with pytest.raises(RuntimeError):
        server.start()
    assert "cannot reach Redis at redis://127.0.0.1:%d/0" % redis_server.port in server.stderr()
    assert "connect_retry=True" in server.stderr()
    server.stop()


def test_redis_down_at_startup_with_retry(cluster, redis_server):
    redis_server.stop()
    (a, b) = cluster(2, "retry")
    x, y = sub(a, ["t"]), sub(b, ["t"])
    http_json(a, "/publish", topic="t", msg="local only")
    assert x.texts(1) == ["local only"]
    assert http_json(a, "/stats")["lost"] == 1
    redis_server.start()
    wait_subscribed(redis_server, "t", 2)
    for server in (a, b):
        wait_for(lambda server=server: http_json(server, "/stats")["connected"], lambda up: up is True)
    http_json(a, "/publish", topic="t", msg="everywhere")
    assert x.texts(1) == ["everywhere"] and y.texts(1) == ["everywhere"]
    assert y.nothing_pending(0.3)


def test_slow_redis_bounded_queue_overflow_counted(cluster, redis_server):
    a, b = cluster(1, "max_queue=50") + cluster(1)
    on_a, on_b = sub(a, ["t"]), sub(b, ["t"])
    wait_subscribed(redis_server, "t", 2)
    os.kill(redis_server.proc.pid, signal.SIGSTOP)  # Redis stops answering
    try:
        http_json(a, "/publish-loop", topic="t", n=300, tag="first")
        assert on_a.texts(300) == ["first:%d" % i for i in range(300)]  # local: at once
        time.sleep(0.5)
        http_json(a, "/publish-loop", topic="t", n=300, tag="second")
        assert on_a.texts(300) == ["second:%d" % i for i in range(300)]
        stats = http_json(a, "/stats")
        assert stats["overflow"] == 500 and stats["forwarded"] == 0, stats
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    # What fit in the queue goes out, in order, once Redis answers again.
    expected = ["first:%d" % i for i in range(50)] + ["second:%d" % i for i in range(50)]
    assert on_b.texts(100) == expected
    assert on_b.nothing_pending(0.3)
    stats = wait_for(lambda: http_json(a, "/stats"), lambda s: s["forwarded"] == 100)
    assert stats["published"] == 600 and stats["overflow"] == 500 and stats["lost"] == 0, stats
    a.stop()
    assert "not keeping up" in a.stderr()


def test_chat_cluster_example_two_processes_one_port(redis_server, tmp_path):
    """examples/chat_cluster.py run twice on one port: one room."""
    import re

    from conftest import free_port

    port = free_port()
    with open(os.path.join(ROOT, "examples", "chat_cluster.py")) as f:
        source = f.read()
    assert "app.listen(3000" in source
    script = tmp_path / "chat_cluster.py"
    script.write_text(re.sub(r"app\.listen\(3000", "app.listen(%d" % port, source))
    servers = [
        Server(str(script), env={"REDIS_URL": redis_server.url}, ready_prefix="Listening on port").start()
        for _ in range(2)
    ]
    clients = []
    try:
        by_pid = {}
        for i in range(60):  # the kernel picks the process of each connection
            c = Sub.connect(port, "/chat?name=c%d" % i)
            c.name = "c%d" % i
            pid = json.loads(c.read_message()[1])["pid"]
            clients.append(c)
            by_pid.setdefault(pid, []).append(c)
            if len(by_pid) == 2 and len(clients) >= 4:
                break
        assert sorted(by_pid) == sorted(s.proc.pid for s in servers)
        wait_subscribed(redis_server, "chat", 2)
        senders = [members[0] for members in by_pid.values()]
        for n in range(5):
            for s in senders:
                s.send_text("line %d" % n)
        for c in clients:
            got = [json.loads(m) for m in c.texts(10)]
            for s in senders:
                mine = [m["text"] for m in got if m["from"] == s.name]
                assert mine == ["line %d" % n for n in range(5)]
            assert c.nothing_pending(0.3)
        with urllib.request.urlopen("http://127.0.0.1:%d/who" % port, timeout=10) as r:
            who = json.loads(r.read())
        assert who["processes"] == 2 and who["here"] == len(by_pid[who["pid"]])
    finally:
        for c in clients:
            c.close_socket()
        for s in servers:
            assert s.stop(signal.SIGINT) == 0
            s.check_clean()


def _ip(*args):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)


@pytest.fixture
def two_machines(tmp_path):
    """Two network namespaces ("machines"), each joined to the host by a veth
    pair: (host address, namespace address) per machine. Skips, with the
    reason, where namespaces cannot be made (not root, no ip, a container)."""
    import random
    import shutil

    if shutil.which("ip") is None:
        pytest.skip("no ip command: cannot make network namespaces")
    tag = "%x" % (os.getpid() & 0xFFFF) + "%x" % random.randrange(256)
    names = ["skbp%s%d" % (tag, i) for i in range(2)]
    made = _ip("netns", "add", names[0])
    if made.returncode != 0:
        pytest.skip("network namespaces unavailable here: %s" % made.stderr.strip())
    _ip("netns", "add", names[1])
    net = random.randrange(16, 250)
    machines = []
    try:
        for i, ns in enumerate(names):
            host_if, ns_if = "vb%s%dh" % (tag, i), "vb%s%dn" % (tag, i)
            host_ip, ns_ip = "10.%d.%d.1" % (net, 10 + i), "10.%d.%d.2" % (net, 10 + i)
            for cmd in (
                ["link", "add", host_if, "type", "veth", "peer", "name", ns_if],
                ["link", "set", ns_if, "netns", ns],
                ["addr", "add", host_ip + "/24", "dev", host_if],
                ["link", "set", host_if, "up"],
                ["netns", "exec", ns, "ip", "addr", "add", ns_ip + "/24", "dev", ns_if],
                ["netns", "exec", ns, "ip", "link", "set", ns_if, "up"],
                ["netns", "exec", ns, "ip", "link", "set", "lo", "up"],
            ):
                done = _ip(*cmd)
                if done.returncode != 0:
                    pytest.skip("cannot set up a veth pair: ip %s: %s" % (" ".join(cmd), done.stderr.strip()))
            machines.append((ns, host_ip, ns_ip))
        yield machines
    finally:
        for ns in names:
            _ip("netns", "del", ns)  # takes its end of the veth pair, and so the pair


def test_two_machines_in_network_namespaces_share_one_redis(two_machines, tmp_path):
    """Two server processes, each in its own network namespace (its own
    interfaces and addresses), reach one Redis over veth links."""
    import shutil

    from conftest import RedisServer, ws_connect

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make test installs it through tools/test_deps.sh)")
    redis = RedisServer(binary, hosts=[h for _, h, _ in two_machines]).start()
    redis_port = redis.port
    import contextlib

    servers, clients, stack = [], [], contextlib.ExitStack()
    try:
        for ns, host_ip, ns_ip in two_machines:
            launcher = tmp_path / ("in_%s.py" % ns)
            launcher.write_text(
                "import os, sys\nos.execvp('ip', ['ip', 'netns', 'exec', %r, sys.executable, "
                "%r] + sys.argv[1:])\n" % (ns, APP)
            )
            deadline = time.monotonic() + 10
            while (
                subprocess.run(
                    ["redis-cli", "-h", host_ip, "-p", str(redis_port), "PING"], capture_output=True, text=True
                ).stdout.strip()
                != "PONG"
            ):
                assert time.monotonic() < deadline, "redis-server did not answer on %s" % host_ip
                time.sleep(0.1)
            server = Server(str(launcher), ["redis://%s:%d/0" % (host_ip, redis_port)]).start()
            server.address = ns_ip
            servers.append(server)
        for server in servers:
            for _ in range(2):
                clients.append(
                    stack.enter_context(
                        ws_connect("ws://%s:%d/ws?topics=room" % (server.address, server.port), open_timeout=10)
                    )
                )
        deadline = time.monotonic() + 15
        while True:
            out = subprocess.run(
                ["redis-cli", "-h", two_machines[0][1], "-p", str(redis_port), "PUBSUB", "NUMSUB", "socketify:room"],
                capture_output=True,
                text=True,
            ).stdout.split()
            if out[1:] == ["2"]:
                break
            assert time.monotonic() < deadline, out
            time.sleep(0.05)
        for server in servers:
            url = "http://%s:%d/publish-loop?topic=room&n=50&tag=%s" % (server.address, server.port, server.address)
            with urllib.request.urlopen(url, timeout=10) as r:
                assert json.loads(r.read())["result"] is True
        for client in clients:
            got = [client.recv(timeout=20) for _ in range(100)]
            for server in servers:
                assert [m for m in got if m.startswith(server.address + ":")] == [
                    "%s:%d" % (server.address, i) for i in range(50)
                ]
    finally:
        try:
            stack.close()
            for server in servers:
                server.stop()
        finally:
            redis.stop()  # killed if it does not stop in time
        for server in servers:
            server.check_clean()


def test_subscribed_waits_for_the_redis_subscription(cluster, redis_server):
    a, b = cluster(2)
    on_a = sub(a, [])
    for i in range(5):  # no polling: once confirmed, the very next publish arrives
        topic = "fresh%d" % i
        assert on_a.call("sub_wait", topic=topic) is True
        assert numsub(redis_server, topic) == 1
        http_json(b, "/publish", topic=topic, msg="first %d" % i)
        assert on_a.texts(1) == ["first %d" % i]


def test_foreign_messages_on_our_channels_are_counted_not_delivered(cluster, redis_server):
    (a,) = cluster(1)
    on_a = sub(a, ["t"])
    wait_subscribed(redis_server, "t", 1)
    assert redis_cli(redis_server, "PUBLISH", "socketify:t", "not an envelope") == ["1"]
    wait_for(lambda: http_json(a, "/stats")["ignored"], lambda n: n == 1)
    assert on_a.nothing_pending(0.3)


def test_outgoing_queue_is_bounded_in_bytes_too(cluster, redis_server):
    a, b = cluster(1, "max_queue_bytes=1000") + cluster(1)
    on_b = sub(b, ["t"])
    wait_subscribed(redis_server, "t", 1)
    # One handler queues all ten before the publishing task runs: 3 fit.
    http_json(a, "/publish-loop", topic="t", n=10, tag="big", pad=300)
    assert [m.split(".")[0] for m in on_b.texts(3)] == ["big:0", "big:1", "big:2"]
    assert on_b.nothing_pending(0.3)
    stats = http_json(a, "/stats")
    assert stats["overflow"] == 7 and stats["forwarded"] == 3, stats


def test_every_way_of_closing_unsubscribes_redis(cluster, redis_server):
    from wsframes import close_frame

    (a,) = cluster(1)
    topics = ["by-end", "by-close", "by-client-close", "by-tcp-drop"]
    clients = {t: sub(a, [t]) for t in topics}
    for t in topics:
        wait_subscribed(redis_server, t, 1)
    clients["by-end"].send_text(json.dumps({"op": "end"}))
    clients["by-close"].send_text(json.dumps({"op": "end", "abrupt": True}))
    clients["by-client-close"].send_raw(close_frame(1000))
    clients["by-tcp-drop"].close_socket()
    for t in topics:
        wait_subscribed(redis_server, t, 0)
    assert redis_cli(redis_server, "PUBSUB", "CHANNELS", "socketify:*") == []


def test_silent_redis_is_noticed_by_the_heartbeat(cluster, redis_server):
    """Redis stops answering without closing anything (a frozen or vanished
    host): the ping goes unanswered, the outage is reported, and once Redis
    answers again the backplane reconnects and resubscribes."""
    (a,) = cluster(1, "ping_interval=0.3", "command_timeout=0.7")
    on_a = sub(a, ["t"])
    wait_subscribed(redis_server, "t", 1)
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: http_json(a, "/stats"), lambda s: s["outages"] == 1 and not s["connected"])
        http_json(a, "/publish", topic="t", msg="local while frozen")
        assert on_a.texts(1) == ["local while frozen"]
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    wait_for(lambda: http_json(a, "/stats")["connected"], lambda up: up is True)
    wait_subscribed(redis_server, "t", 1)
    a.stop()
    assert a.stderr().count("lost Redis at") == 1 and "is back after" in a.stderr()


def test_set_pubsub_on_an_app_made_elsewhere(redis_server, serve):
    """What the CLI does with --pubsub-url: attach a backplane to an App the
    program built, before listen()."""
    server = serve(
        """
        import sys
        from listen_line import announce
        from socketify import App
        from socketify.pubsub import backplane_from_url
        app = App()
        app.ws("/ws", {"open": lambda ws: ws.subscribe("t")})
        app.set_pubsub(backplane_from_url(%r))
        try:
            app.set_pubsub(backplane_from_url(%r))
        except RuntimeError as error:
            print("second:", error, flush=True)
        app.listen(0, announce)
        try:
            app.set_pubsub(backplane_from_url(%r))
        except RuntimeError as error:
            print("late:", error, flush=True)
        app.run()
    """
        % ((redis_server.url,) * 3)
    )
    client = Sub.connect(server.port, "/ws")
    _clients.append(client)
    wait_subscribed(redis_server, "t", 1)
    assert "late: set_pubsub must be called before listen()" in server.proc.stdout.readline()
    assert "second: this App already has a pub/sub backplane" in "".join(server.stdout_lines)
    client.close_socket()  # before the server's graceful stop, which would wait for it


def test_publishes_redis_refuses_are_counted_and_logged_once(redis_server):
    """An ACL that forbids PUBLISH: local delivery goes on, every refused
    publish is counted, and the log has one line per batch, not per message."""
    redis_cli(redis_server, "ACL", "SETUSER", "nopublish", "on", "nopass", "~*", "&*", "+@all", "-publish")
    url = redis_server.url.replace("redis://", "redis://nopublish:x@")
    server = Server(APP, [url]).start()
    try:
        client = sub(server, ["t"])
        http_json(server, "/publish-loop", topic="t", n=5, tag="x")
        assert client.texts(5) == ["x:%d" % i for i in range(5)]
        stats = wait_for(lambda: http_json(server, "/stats"), lambda s: s["lost"] == 5)
        assert stats["forwarded"] == 0 and stats["outages"] == 0, stats
        client.close_socket()
    finally:
        server.stop()
    log = server.stderr()
    assert log.count("Redis refused 5 of 5 publishes") == 1 and "NOPERM" in log, log
    assert "nopublish:x@" not in log


def test_publishes_queued_at_shutdown_still_go_out(cluster, redis_server):
    a, b = cluster(2)
    on_b = sub(b, ["t"])
    wait_subscribed(redis_server, "t", 1)
    http_json(a, "/publish-loop", topic="t", n=2000, tag="last", close=1)
    assert on_b.texts(2000) == ["last:%d" % i for i in range(2000)]
    assert a.proc.wait(20) == 0  # run() returned after the backplane flushed
    assert "not forwarded" not in a.stderr()
