"""WebSocket conformance over raw sockets, organised like the Autobahn
testsuite categories (1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes,
5 fragmentation, 6 UTF-8, 7 close, 9 limits, 12/13 permessage-deflate) plus
the opening handshake.

Every frame is built by hand (tests/wsframes.py) and the EXACT bytes the
server answers are checked: echoes, pongs, and the close frame (code, no
reason) it sends on a protocol error, followed by the TCP close. The rules
are those of docs/protocol.md (WebSocket part).
"""

import json
import os
import struct
import zlib

import pytest
from wsframes import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    WSClient,
    accept_for,
    close_frame,
    deflate_message,
    frame,
    inflate_message,
    raw_handshake,
    server_close,
    server_frame,
)

from socketify import CompressOptions

from conftest import HERE, Server

APP = os.path.join(HERE, "apps", "ws_conf_app.py")
MAX = 2 * 1024 * 1024  # max_payload_length of /echo
SMALL = 1000  # max_payload_length of /small
SHARED = int(CompressOptions.SHARED_COMPRESSOR)
DEDICATED = int(CompressOptions.DEDICATED_COMPRESSOR | CompressOptions.DEDICATED_DECOMPRESSOR)
DEDICATED_4K = int(CompressOptions.DEDICATED_COMPRESSOR_4KB | CompressOptions.DEDICATED_DECOMPRESSOR_4KB)


def _server(config):
    server = Server(APP, [json.dumps(config)]).start()
    return server


@pytest.fixture(scope="module")
def plain():
    server = _server({})
    yield server
    server.stop()
    server.check_clean()


@pytest.fixture(scope="module")
def shared():
    server = _server({"compression": SHARED})
    yield server
    server.stop()
    server.check_clean()


@pytest.fixture(scope="module")
def dedicated():
    server = _server({"compression": DEDICATED})
    yield server
    server.stop()
    server.check_clean()


@pytest.fixture(scope="module")
def dedicated_4k():
    server = _server({"compression": DEDICATED_4K})
    yield server
    server.stop()
    server.check_clean()


@pytest.fixture(params=["shared", "dedicated"])
def compressed(request):
    """A server with permessage-deflate enabled (each compressor kind)."""
    return request.getfixturevalue(request.param)


def ws(server, path="/echo", **kw):
    return WSClient.connect(server.port, path, **kw)


def expect_bytes(c, expected, timeout=10.0):
    got = c.read_exact(len(expected), timeout)
    assert got == expected, "expected %r..., got %r..." % (expected[:60], got[:60])


def expect_nothing_else(c):
    """A ping with a marker must be answered by exactly its pong next: proves
    no extra frame was sent before it and the connection is still open."""
    c.send(PING, b"marker")
    expect_bytes(c, server_frame(PONG, b"marker"))


def expect_fail(c, code):
    """The server sends exactly Close(code) (no reason) and closes TCP."""
    f, before = c.expect_close(code)
    assert f.raw == server_close(code), f.raw
    return before


def expect_echo(c, opcode, payload):
    expect_bytes(c, server_frame(opcode, payload))


# =============================================================================
# Opening handshake
# =============================================================================


def request(
    path="/echo",
    key="dGhlIHNhbXBsZSBub25jZQ==",
    version="13",
    connection="Upgrade",
    upgrade="websocket",
    http="HTTP/1.1",
    extra="",
):
    lines = ["GET %s %s" % (path, http), "Host: localhost"]
    if upgrade is not None:
        lines.append("Upgrade: " + upgrade)
    if connection is not None:
        lines.append("Connection: " + connection)
    if key is not None:
        lines.append("Sec-WebSocket-Key: " + key)
    if version is not None:
        lines.append("Sec-WebSocket-Version: " + version)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def test_handshake_rfc_sample_key(plain):
    c = raw_handshake(plain.port, request())
    with c:
        assert c.status == 101, c.head
        assert c.head.startswith(b"HTTP/1.1 101 ")
        # RFC 6455 section 1.3's worked example.
        assert c.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert c.headers["upgrade"].lower() == "websocket"
        assert "upgrade" in c.headers["connection"].lower()
        assert "sec-websocket-protocol" not in c.headers
        assert "sec-websocket-extensions" not in c.headers
        c.send_text("after handshake")
        expect_echo(c, TEXT, b"after handshake")


@pytest.mark.parametrize(
    "connection,upgrade",
    [
        ("Upgrade", "websocket"),
        ("upgrade", "WebSocket"),
        ("keep-alive, Upgrade", "websocket"),
        ("UPGRADE , keep-alive", "WEBSOCKET"),
    ],
)
def test_handshake_tokens_are_case_insensitive_lists(plain, connection, upgrade):
    with raw_handshake(plain.port, request(connection=connection, upgrade=upgrade)) as c:
        assert c.status == 101, c.head


def test_handshake_missing_key_is_400(plain):
    with raw_handshake(plain.port, request(key=None)) as c:
        assert c.status == 400, c.head
        assert c.wait_eof(5)


@pytest.mark.parametrize(
    "key",
    [
        "abc",  # too short
        "dGhlIHNhbXBsZSBub25jZQ",  # 16 bytes but not padded
        "dGhlIHNhbXBsZSBub25jZQ==AAAA",  # 19 bytes
        "dGhlIHNhbXBsZSBub25j",  # 15 bytes
        "AAAAAAAAAAAAAAAAAAAAAAA=",  # 17 bytes
        "!!!!!!!!!!!!!!!!!!!!!!==",  # not base64
        "",  # empty
    ],
)
def test_handshake_bad_key_is_400(plain, key):
    with raw_handshake(plain.port, request(key=key)) as c:
        assert c.status == 400, c.head


@pytest.mark.parametrize("version", ["12", "8", "14"])
def test_handshake_wrong_version_is_426(plain, version):
    with raw_handshake(plain.port, request(version=version)) as c:
        assert c.status == 426, c.head
        assert c.headers.get("sec-websocket-version") == "13", c.head


def test_handshake_missing_connection_upgrade_is_400(plain):
    with raw_handshake(plain.port, request(connection=None)) as c:
        assert c.status == 400, c.head
    with raw_handshake(plain.port, request(connection="keep-alive")) as c:
        assert c.status == 400, c.head


def test_handshake_http10_is_400(plain):
    with raw_handshake(plain.port, request(http="HTTP/1.0")) as c:
        assert c.status == 400, c.head


def test_non_upgrade_get_falls_through_to_http_route(plain):
    with raw_handshake(plain.port, b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n") as c:
        assert c.status == 200, c.head
        n = int(c.headers["content-length"])
        assert c.read_exact(n) == b"plain http"


@pytest.mark.parametrize("path", ["/prio/static", "/prio/any", "/prio/other"])
def test_upgrade_prefers_ws_route_over_more_specific_http_route(plain, path):
    """app.ws("/prio/*") with app.get("/prio/static") and app.any("/prio/any"):
    as in uWS (upgrade routes have the highest priority), an upgrade request
    reaches the ws route; the same GET without upgrade reaches HTTP."""
    with ws(plain, path) as c:
        c.send_text("ws wins")
        expect_echo(c, TEXT, b"ws wins")
    if path != "/prio/other":
        request = b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode()
        with raw_handshake(plain.port, request) as c:
            assert c.status == 200, c.head
            body = c.read_exact(int(c.headers["content-length"]))
            assert body == (b"http static" if path == "/prio/static" else b"http any")


def test_frames_in_the_same_write_as_the_handshake(plain):
    data = request() + frame(TEXT, b"one") + frame(BINARY, b"two") + frame(PING, b"3")
    with raw_handshake(plain.port, data) as c:
        assert c.status == 101
        expect_echo(c, TEXT, b"one")
        expect_echo(c, BINARY, b"two")
        expect_bytes(c, server_frame(PONG, b"3"))


@pytest.mark.parametrize(
    "offer,selected",
    [
        ("chat, superchat", "chat"),
        ("superchat,chat", "superchat"),
        ("  v2.proto  ,  v1.proto", "v2.proto"),
        ("only", "only"),
    ],
)
def test_default_upgrade_selects_first_protocol(plain, offer, selected):
    with ws(plain, protocol=offer) as c:
        assert c.headers.get("sec-websocket-protocol") == selected, c.head


@pytest.mark.parametrize("path", ["/custom-sync", "/custom-async"])
def test_custom_upgrade_handler_user_data_and_protocol(plain, path):
    with ws(plain, path, protocol="x, chat", extra=b"X-Token: secret\r\n") as c:
        assert c.headers.get("sec-websocket-protocol") == "chat", c.head
        opcode, data = c.read_message()
        assert opcode == TEXT
        user = json.loads(data)
        assert user == {"token": "secret", "url": path, "kind": path.split("-")[1], "protocol": "chat"}
        c.send_text("still echoing")
        expect_echo(c, TEXT, b"still echoing")


@pytest.mark.parametrize("path", ["/custom-sync", "/custom-async"])
def test_custom_upgrade_handler_without_protocol(plain, path):
    with ws(plain, path, extra=b"X-Token: secret\r\n") as c:
        assert "sec-websocket-protocol" not in c.headers, c.head
        assert json.loads(c.read_message()[1])["protocol"] == ""


@pytest.mark.parametrize("path", ["/custom-sync", "/custom-async"])
def test_custom_upgrade_handler_refuses_with_401(plain, path):
    with ws(plain, path, expect_status=401) as c:
        n = int(c.headers["content-length"])
        assert c.read_exact(n) == b"unauthorized"
        assert "sec-websocket-accept" not in c.headers


# =============================================================================
# 1. Framing
# =============================================================================

SIZES = [0, 1, 125, 126, 127, 128, 65535, 65536, 1024 * 1024]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_1_echo_sizes(plain, opcode, size):
    payload = (b"*" * size) if opcode == TEXT else os.urandom(size)
    with ws(plain) as c:
        c.send(opcode, payload)
        expect_echo(c, opcode, payload)
        expect_nothing_else(c)


@pytest.mark.parametrize(
    "size,form,header",
    [
        (0, 7, b"\x82\x00"),
        (125, 7, b"\x82\x7d"),
        (126, 16, b"\x82\x7e\x00\x7e"),
        (65535, 16, b"\x82\x7e\xff\xff"),
        (65536, 64, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_1_length_encodings_exact(plain, size, form, header):
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    with ws(plain) as c:
        c.send(BINARY, payload, length_form=form)
        expect_bytes(c, header + payload)


@pytest.mark.parametrize("size", [0, 1, 5, 125, 126, 300])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_1_frame_split_byte_by_byte(plain, opcode, size):
    payload = b"b" * size
    with ws(plain) as c:
        c.send_slowly(frame(opcode, payload))
        expect_echo(c, opcode, payload)


def test_1_large_frame_split_in_odd_chunks(plain):
    payload = os.urandom(70000)
    with ws(plain) as c:
        c.send_slowly(frame(BINARY, payload), step=997)
        expect_echo(c, BINARY, payload)


def test_1_many_frames_in_one_write(plain):
    frames = b"".join(frame(TEXT if i % 2 else BINARY, b"msg %d" % i) for i in range(200))
    with ws(plain) as c:
        c.send_raw(frames)
        for i in range(200):
            expect_echo(c, TEXT if i % 2 else BINARY, b"msg %d" % i)
        expect_nothing_else(c)


def test_1_many_mixed_size_frames_in_one_write(plain):
    sizes = [0, 126, 5, 65536, 1, 70000, 125]
    payloads = [os.urandom(n) for n in sizes]
    with ws(plain) as c:
        c.send_raw(b"".join(frame(BINARY, p) for p in payloads))
        for p in payloads:
            expect_echo(c, BINARY, p)


def test_1_mask_key_of_zeros_and_fixed_key(plain):
    with ws(plain) as c:
        c.send(TEXT, b"zeros", key=b"\x00\x00\x00\x00")
        expect_echo(c, TEXT, b"zeros")
        c.send(TEXT, b"fixed key", key=b"\x37\xfa\x21\x3d")
        expect_echo(c, TEXT, b"fixed key")


def test_1_64bit_length_with_top_bit_set_is_1002(plain):
    with ws(plain) as c:
        c.send_raw(b"\x82\xff" + struct.pack("!Q", (1 << 63) | 5) + b"\x00\x00\x00\x00" + b"hello")
        expect_fail(c, 1002)


# =============================================================================
# 2. Pings and pongs
# =============================================================================


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"Hello, world!",
        bytes(range(125)),
        b"\x00\xff\xfe\xfd",
        "κόσμε".encode(),
        b"x" * 124,
    ],
)
def test_2_ping_payload_echoed_in_pong(plain, payload):
    with ws(plain) as c:
        c.send(PING, payload)
        expect_bytes(c, server_frame(PONG, payload))


def test_2_ping_125_bytes_ok(plain):
    with ws(plain) as c:
        c.send(PING, b"\xfe" * 125)
        expect_bytes(c, b"\x8a\x7d" + b"\xfe" * 125)
        expect_nothing_else(c)


def test_2_ping_126_bytes_is_1002(plain):
    with ws(plain) as c:
        c.send(PING, b"\xfe" * 126)
        expect_fail(c, 1002)


def test_2_ping_with_16bit_length_form_is_1002(plain):
    with ws(plain) as c:
        c.send(PING, b"short", length_form=16)
        expect_fail(c, 1002)


def test_2_fragmented_ping_is_1002(plain):
    with ws(plain) as c:
        c.send(PING, b"frag", fin=False)
        c.send(CONT, b"ment")
        expect_fail(c, 1002)


@pytest.mark.parametrize("payload", [b"", b"unsolicited", b"\x00" * 125])
def test_2_unsolicited_pong_is_ignored(plain, payload):
    with ws(plain) as c:
        c.send(PONG, payload)
        c.send_text("after pong")
        expect_echo(c, TEXT, b"after pong")
        expect_nothing_else(c)


def test_2_unsolicited_pong_then_ping(plain):
    with ws(plain) as c:
        c.send(PONG, b"ignored")
        c.send(PING, b"answered")
        expect_bytes(c, server_frame(PONG, b"answered"))


def test_2_ping_split_byte_by_byte(plain):
    with ws(plain) as c:
        c.send_slowly(frame(PING, b"slow ping"))
        expect_bytes(c, server_frame(PONG, b"slow ping"))


def test_2_ten_pings_in_one_write(plain):
    with ws(plain) as c:
        c.send_raw(b"".join(frame(PING, b"ping %d" % i) for i in range(10)))
        expect_bytes(c, b"".join(server_frame(PONG, b"ping %d" % i) for i in range(10)))


def test_2_unmasked_ping_is_1002(plain):
    with ws(plain) as c:
        c.send(PING, b"naked", mask=False)
        expect_fail(c, 1002)


# =============================================================================
# 3. Reserved bits (no extension negotiated)
# =============================================================================


@pytest.mark.parametrize("rsv", range(1, 8))
@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING, CLOSE])
def test_3_reserved_bits_without_extension_are_1002(plain, opcode, rsv):
    payload = b"\x03\xe8" if opcode == CLOSE else b"rsv"
    with ws(plain) as c:
        c.send(opcode, payload, rsv=rsv)
        assert expect_fail(c, 1002) == []


def test_3_reserved_bits_after_a_valid_echo(plain):
    with ws(plain) as c:
        c.send_raw(frame(TEXT, b"before") + frame(TEXT, b"bad", rsv=2) + frame(PING, b"never"))
        before = expect_fail(c, 1002)
        assert [f.raw for f in before] == [server_frame(TEXT, b"before")]


def test_3_reserved_bits_on_continuation_are_1002(plain):
    with ws(plain) as c:
        c.send(TEXT, b"start", fin=False)
        c.send(CONT, b"end", rsv=1)
        expect_fail(c, 1002)


# =============================================================================
# 4. Opcodes
# =============================================================================

RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_4_reserved_opcode_is_1002(plain, opcode):
    with ws(plain) as c:
        c.send(opcode, b"")
        expect_fail(c, 1002)


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_4_reserved_opcode_with_payload_after_echo(plain, opcode):
    with ws(plain) as c:
        c.send_raw(frame(TEXT, b"ok") + frame(opcode, b"reserved payload") + frame(PING, b"never"))
        before = expect_fail(c, 1002)
        assert [f.raw for f in before] == [server_frame(TEXT, b"ok")]


@pytest.mark.parametrize("opcode", [3, 11])
def test_4_reserved_opcode_inside_fragmented_message(plain, opcode):
    with ws(plain) as c:
        c.send(TEXT, b"part", fin=False)
        c.send(opcode, b"x")
        expect_fail(c, 1002)


# =============================================================================
# 5. Fragmentation
# =============================================================================


def fragments(opcode, pieces, rsv=0):
    out = []
    for i, piece in enumerate(pieces):
        out.append(frame(opcode if i == 0 else CONT, piece, fin=i == len(pieces) - 1, rsv=rsv if i == 0 else 0))
    return out


@pytest.mark.parametrize(
    "pieces",
    [
        [b"frag", b"ment"],
        [b"a", b"b", b"c"],
        [b"", b"empty first"],
        [b"empty last", b""],
        [b"", b"", b""],
        [b"x" * 70000, b"y" * 126, b"z"],
        [bytes([i]) for i in range(97, 123)],
    ],
)
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_5_fragmented_message_is_reassembled(plain, opcode, pieces):
    with ws(plain) as c:
        c.send_raw(b"".join(fragments(opcode, pieces)))
        expect_echo(c, opcode, b"".join(pieces))
        expect_nothing_else(c)


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_5_fragments_in_separate_writes(plain, opcode):
    with ws(plain) as c:
        for f in fragments(opcode, [b"one ", b"two ", b"three"]):
            c.send_raw(f)
        expect_echo(c, opcode, b"one two three")


def test_5_fragments_sent_byte_by_byte(plain):
    with ws(plain) as c:
        c.send_slowly(b"".join(fragments(TEXT, [b"Hello, ", b"fragmented ", b"world"])))
        expect_echo(c, TEXT, b"Hello, fragmented world")


def test_5_hundred_one_byte_fragments(plain):
    pieces = [b"%d" % (i % 10) for i in range(100)]
    with ws(plain) as c:
        c.send_raw(b"".join(fragments(BINARY, pieces)))
        expect_echo(c, BINARY, b"".join(pieces))


@pytest.mark.parametrize("split", ["one write", "separate writes"])
def test_5_ping_between_fragments(plain, split):
    parts = fragments(TEXT, [b"frag", b"ment"])
    data = [parts[0], frame(PING, b"in between"), parts[1]]
    with ws(plain) as c:
        if split == "one write":
            c.send_raw(b"".join(data))
        else:
            for d in data:
                c.send_raw(d)
        expect_bytes(c, server_frame(PONG, b"in between"))
        expect_echo(c, TEXT, b"fragment")


def test_5_pong_between_fragments_is_ignored(plain):
    parts = fragments(BINARY, [b"frag", b"ment"])
    with ws(plain) as c:
        c.send_raw(parts[0] + frame(PONG, b"unsolicited") + parts[1])
        expect_echo(c, BINARY, b"fragment")
        expect_nothing_else(c)


def test_5_many_pings_between_many_fragments(plain):
    pieces = [b"p%d" % i for i in range(20)]
    parts = fragments(TEXT, pieces)
    data = b"".join(p + frame(PING, b"%d" % i) for i, p in enumerate(parts))
    with ws(plain) as c:
        c.send_raw(data)
        expect_bytes(c, b"".join(server_frame(PONG, b"%d" % i) for i in range(19)))
        expect_echo(c, TEXT, b"".join(pieces))
        expect_bytes(c, server_frame(PONG, b"19"))


def test_5_close_between_fragments_answers_close(plain):
    with ws(plain) as c:
        c.send_raw(frame(TEXT, b"never", fin=False) + close_frame(1000))
        f, before = c.expect_close(1000)
        assert before == [] and f.raw == server_close(1000)


@pytest.mark.parametrize("fin", [True, False])
def test_5_continuation_without_start_is_1002(plain, fin):
    with ws(plain) as c:
        c.send(CONT, b"orphan", fin=fin)
        expect_fail(c, 1002)


def test_5_continuation_after_finished_message_is_1002(plain):
    with ws(plain) as c:
        c.send_raw(frame(TEXT, b"done") + frame(CONT, b"late"))
        assert [f.raw for f in expect_fail(c, 1002)] == [server_frame(TEXT, b"done")]


@pytest.mark.parametrize("first,second", [(TEXT, TEXT), (TEXT, BINARY), (BINARY, TEXT), (BINARY, BINARY)])
@pytest.mark.parametrize("second_fin", [True, False])
def test_5_new_data_frame_inside_fragmented_message_is_1002(plain, first, second, second_fin):
    with ws(plain) as c:
        c.send(first, b"start", fin=False)
        c.send(second, b"intruder", fin=second_fin)
        expect_fail(c, 1002)


@pytest.mark.parametrize("opcode", [CLOSE, PONG])
def test_5_fragmented_control_frame_is_1002(plain, opcode):
    with ws(plain) as c:
        c.send(opcode, b"", fin=False)
        expect_fail(c, 1002)


# =============================================================================
# 6. UTF-8
# =============================================================================

VALID_UTF8 = [
    "",
    "Hello-µ@ßöäüàá-UTF-8!!",
    "κόσμε",
    "\u0080",
    "\u07ff",
    "\u0800",
    "\ufffd",
    "\uffff",
    "\U00010000",
    "\U0010ffff",
    "\ud7ff",
    "\ue000",
    "😀🎉👍",
    "中文字符测试",
    "\x00\x7f",
    "mixed ascii + 日本語 + emoji 🚀 + ñ",
]

INVALID_UTF8 = [
    b"\x80",  # lone continuation
    b"\xbf",
    b"\xc0\x80",  # overlong NUL
    b"\xc1\xbf",  # overlong
    b"\xe0\x80\xaf",  # overlong 3-byte
    b"\xf0\x80\x80\xaf",  # overlong 4-byte
    b"\xed\xa0\x80",  # UTF-16 surrogate
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80",  # 5-byte form
    b"\xfc\x84\x80\x80\x80\x80",  # 6-byte form
    b"\xfe",
    b"\xff",
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
    b"abc\xc3",  # truncated at the end
    b"\xe2\x82",  # truncated 3-byte
    b"\xf0\x9f\x98",  # truncated 4-byte
    b"\xc3\x28",  # bad continuation
    b"\xe2\x28\xa1",
]


@pytest.mark.parametrize("text", VALID_UTF8)
def test_6_valid_utf8_text_is_echoed(plain, text):
    with ws(plain) as c:
        c.send(TEXT, text.encode("utf-8"))
        expect_echo(c, TEXT, text.encode("utf-8"))


@pytest.mark.parametrize("text", ["κόσμε", "😀🎉", "Hello-µ@ßöäüàá-UTF-8!!", "\U0010ffff\u0800"])
def test_6_valid_utf8_fragmented_at_every_byte(plain, text):
    data = text.encode("utf-8")
    with ws(plain) as c:
        c.send_raw(b"".join(fragments(TEXT, [data[i : i + 1] for i in range(len(data))])))
        expect_echo(c, TEXT, data)


@pytest.mark.parametrize("text", ["κόσμε", "😀🎉"])
def test_6_valid_utf8_frame_split_byte_by_byte(plain, text):
    data = text.encode("utf-8")
    with ws(plain) as c:
        c.send_slowly(frame(TEXT, data))
        expect_echo(c, TEXT, data)


@pytest.mark.parametrize("data", INVALID_UTF8, ids=lambda d: d.hex())
def test_6_invalid_utf8_is_1007(plain, data):
    with ws(plain) as c:
        c.send(TEXT, data)
        expect_fail(c, 1007)


@pytest.mark.parametrize("data", INVALID_UTF8[:8], ids=lambda d: d.hex())
def test_6_invalid_utf8_fragmented_is_1007(plain, data):
    pieces = [b"valid start "] + [data[i : i + 1] for i in range(len(data))] + [b" end"]
    with ws(plain) as c:
        c.send_raw(b"".join(fragments(TEXT, pieces)))
        expect_fail(c, 1007)


def test_6_binary_messages_are_not_utf8_checked(plain):
    with ws(plain) as c:
        c.send(BINARY, b"\xff\xfe\xed\xa0\x80")
        expect_echo(c, BINARY, b"\xff\xfe\xed\xa0\x80")


@pytest.mark.parametrize("bad", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90"])
def test_6_fail_fast_in_first_fragment(plain, bad):
    """The invalid byte is in the first fragment: 1007 must come before the
    message's other fragments are ever sent."""
    with ws(plain) as c:
        c.send(TEXT, b"ok so far " + bad + b" more", fin=False)
        expect_fail(c, 1007)


def test_6_fail_fast_mid_frame(plain):
    """A 1000-byte text frame of which only the first 20 bytes (holding an
    invalid sequence) are sent: 1007 without waiting for the rest."""
    key = b"\x11\x22\x33\x44"
    whole = frame(TEXT, b"valid text \xc0\x80" + b"z" * 987, key=key)
    with ws(plain) as c:
        c.send_raw(whole[: 8 + 20])
        expect_fail(c, 1007)


def test_6_fail_fast_in_middle_fragment(plain):
    with ws(plain) as c:
        c.send(TEXT, b"first", fin=False)
        c.send(CONT, b"second \xf8 bad", fin=False)
        expect_fail(c, 1007)


def test_6_invalid_utf8_after_valid_messages(plain):
    with ws(plain) as c:
        c.send_raw(frame(TEXT, "κόσμε".encode()) + frame(TEXT, b"\xce\xba\xe1\xbd"))
        before = expect_fail(c, 1007)
        assert [f.raw for f in before] == [server_frame(TEXT, "κόσμε".encode())]


# =============================================================================
# 7. Close handling
# =============================================================================

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID_CODES)
def test_7_valid_close_code_is_echoed(plain, code):
    with ws(plain) as c:
        c.send_close(code)
        f, before = c.expect_close(code)
        assert before == [] and f.raw == server_close(code)


@pytest.mark.parametrize("code", INVALID_CODES)
def test_7_invalid_close_code_is_1002(plain, code):
    with ws(plain) as c:
        c.send_close(code)
        expect_fail(c, 1002)


def test_7_empty_close_is_answered_with_empty_close(plain):
    with ws(plain) as c:
        c.send_close()
        expect_bytes(c, b"\x88\x00")
        assert c.wait_eof(5)


def test_7_close_with_one_byte_payload_is_1002(plain):
    with ws(plain) as c:
        c.send(CLOSE, b"\x03")
        expect_fail(c, 1002)


@pytest.mark.parametrize("reason", [b"bye", "κόσμε".encode(), b"r" * 123])
def test_7_close_with_valid_reason(plain, reason):
    with ws(plain) as c:
        c.send_close(1000, reason)
        f, _ = c.expect_close(1000)
        assert f.close_reason in (b"", reason)


@pytest.mark.parametrize(
    "reason", [b"\xff", b"bye \xc0\x80", b"\xed\xa0\x80", b"truncated \xe2\x82"], ids=lambda d: d.hex()
)
def test_7_close_reason_with_invalid_utf8_is_1007(plain, reason):
    with ws(plain) as c:
        c.send_close(1000, reason)
        expect_fail(c, 1007)


def test_7_close_payload_over_125_bytes_is_1002(plain):
    with ws(plain) as c:
        c.send(CLOSE, struct.pack("!H", 1000) + b"r" * 124)  # 126-byte payload
        expect_fail(c, 1002)


def test_7_frames_after_close_are_ignored(plain):
    with ws(plain) as c:
        c.send_raw(close_frame(1000) + frame(TEXT, b"after close") + frame(PING, b"after close"))
        f, before = c.expect_close(1000)
        assert before == [] and f.raw == server_close(1000)
        assert c.buf == b""


def test_7_message_then_close_in_one_write(plain):
    with ws(plain) as c:
        c.send_raw(frame(TEXT, b"last words") + close_frame(1001))
        f, before = c.expect_close(1001)
        assert [b.raw for b in before] == [server_frame(TEXT, b"last words")]


def test_7_close_split_byte_by_byte(plain):
    with ws(plain) as c:
        c.send_slowly(close_frame(3000, b"slow"))
        f, before = c.expect_close(3000)
        assert before == [] and f.close_reason in (b"", b"slow")


def test_7_unmasked_close_is_1002(plain):
    with ws(plain) as c:
        c.send_close(1000, mask=False)
        expect_fail(c, 1002)


@pytest.mark.parametrize("opcode", [TEXT, BINARY, CONT, PONG])
def test_7_unmasked_client_frame_is_1002(plain, opcode):
    with ws(plain) as c:
        c.send(opcode, b"not masked", mask=False)
        expect_fail(c, 1002)


def test_7_server_survives_tcp_close_without_close_frame(plain):
    with ws(plain) as c:
        c.send(TEXT, b"x" * 10, fin=False)
    with ws(plain) as c:
        c.send_text("still serving")
        expect_echo(c, TEXT, b"still serving")


# =============================================================================
# 9. Limits (max_payload_length)
# =============================================================================


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_9_message_at_the_limit_is_accepted(plain, opcode):
    with ws(plain, "/small") as c:
        c.send(opcode, b"L" * SMALL)
        expect_echo(c, opcode, b"L" * SMALL)


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_9_message_over_the_limit_is_1009(plain, opcode):
    with ws(plain, "/small") as c:
        c.send(opcode, b"L" * (SMALL + 1))
        expect_fail(c, 1009)


def test_9_over_limit_header_alone_is_1009(plain):
    """The length in the header is enough: no need to send the payload."""
    with ws(plain, "/small") as c:
        c.send_raw(b"\x82\xfe" + struct.pack("!H", SMALL + 1) + b"\x01\x02\x03\x04")
        expect_fail(c, 1009)


def test_9_huge_64bit_length_is_1009(plain):
    with ws(plain) as c:
        c.send_raw(b"\x82\xff" + struct.pack("!Q", 1 << 62) + b"\x01\x02\x03\x04")
        expect_fail(c, 1009)


def test_9_over_2mib_on_echo_is_1009(plain):
    with ws(plain) as c:
        c.send(BINARY, b"\x00" * (MAX + 1))
        expect_fail(c, 1009)


@pytest.mark.parametrize("pieces", [[600, 401], [500, 500, 1], [1] * 1001, [SMALL, 1]])
def test_9_fragmented_message_over_the_limit_is_1009(plain, pieces):
    with ws(plain, "/small") as c:
        c.send_raw(b"".join(fragments(BINARY, [b"f" * n for n in pieces])))
        expect_fail(c, 1009)


def test_9_fragmented_message_at_the_limit_is_accepted(plain):
    with ws(plain, "/small") as c:
        c.send_raw(b"".join(fragments(TEXT, [b"f" * 500, b"g" * 499, b"h"])))
        expect_echo(c, TEXT, b"f" * 500 + b"g" * 499 + b"h")


def test_9_limit_counts_per_message_not_per_connection(plain):
    with ws(plain, "/small") as c:
        for i in range(5):
            c.send(BINARY, b"%d" % i * SMALL)
            expect_echo(c, BINARY, b"%d" % i * SMALL)


# =============================================================================
# 12/13. permessage-deflate
# =============================================================================


def params(value):
    """A Sec-WebSocket-Extensions value as (name, frozenset of params)."""
    if value is None:
        return None
    items = [p.strip().replace(" ", "") for p in value.split(";")]
    return items[0], frozenset(items[1:])


NEGOTIATION = [
    # (server, offer, expected response or None)
    ("plain", "permessage-deflate", None),
    ("shared", "permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    (
        "shared",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    (
        "shared",
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    ("shared", "permessage-deflate; server_max_window_bits=10", None),
    (
        "shared",
        "permessage-deflate; server_max_window_bits=10, permessage-deflate",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    (
        "shared",
        "permessage-deflate; server_max_window_bits=15",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15",
    ),
    ("dedicated", "permessage-deflate", "permessage-deflate"),
    ("dedicated", "permessage-deflate; client_max_window_bits", "permessage-deflate"),
    ("dedicated", "permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10"),
    ("dedicated", "permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
    ("dedicated", 'permessage-deflate; server_max_window_bits="11"', "permessage-deflate; server_max_window_bits=11"),
    ("dedicated", "permessage-deflate; server_max_window_bits=8", None),
    ("dedicated", "permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
    ("dedicated", "permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
    (
        "dedicated",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    ("dedicated", "permessage-deflate; unknown_param", None),
    ("dedicated", "permessage-deflate; server_max_window_bits", None),
    ("dedicated", "permessage-deflate; client_max_window_bits=16", None),
    ("dedicated", "permessage-deflate; client_max_window_bits=7", None),
    ("dedicated", "permessage-deflate; server_no_context_takeover=1", None),
    ("dedicated", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
    ("dedicated", "permessage-deflate; unknown_param, permessage-deflate", "permessage-deflate"),
    ("dedicated", "x-webkit-deflate-frame", None),
    ("dedicated", "foo, permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9"),
    # DEDICATED_COMPRESSOR_4KB is a 9-bit window (9 << 4 | memLevel 2);
    # DEDICATED_DECOMPRESSOR_4KB a 12-bit one.
    ("dedicated_4k", "permessage-deflate", "permessage-deflate; server_max_window_bits=9"),
    (
        "dedicated_4k",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12",
    ),
    (
        "dedicated_4k",
        "permessage-deflate; client_max_window_bits=10; server_max_window_bits=9",
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10",
    ),
]


@pytest.mark.parametrize("server_name,offer,expected", NEGOTIATION)
def test_12_negotiation(request, server_name, offer, expected):
    server = request.getfixturevalue(server_name)
    with ws(server, extensions=offer) as c:
        assert params(c.headers.get("sec-websocket-extensions")) == params(expected), c.head
        # Either way the connection works uncompressed.
        c.send_text("plain")
        expect_echo(c, TEXT, b"plain")


@pytest.mark.parametrize("size", [0, 1, 100, 10000, 100000, 1024 * 1024])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_12_client_compressed_message_is_inflated(compressed, opcode, size):
    payload = (b"compress me! " * (size // 13 + 1))[:size]
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(opcode, deflate_message(payload), rsv=4)
        expect_echo(c, opcode, payload)
        expect_nothing_else(c)


def test_12_incompressible_data_compressed(compressed):
    payload = os.urandom(50000)
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(BINARY, deflate_message(payload), rsv=4)
        expect_echo(c, BINARY, payload)


def test_12_compressed_message_in_fragments(compressed):
    payload = ("fragmented and compressed " * 500).encode()
    data = deflate_message(payload)
    pieces = [data[:10], data[10:50], data[50:]]
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send_raw(b"".join(fragments(TEXT, pieces, rsv=4)))
        expect_echo(c, TEXT, payload)


def test_12_compressed_and_uncompressed_messages_mixed(compressed):
    with ws(compressed, extensions="permessage-deflate") as c:
        for i in range(6):
            payload = b"message %d " % i * 50
            if i % 2:
                c.send(TEXT, payload)
            else:
                c.send(TEXT, deflate_message(payload), rsv=4)
            expect_echo(c, TEXT, payload)


def test_12_without_context_takeover_each_message_fresh(shared):
    with ws(shared, extensions="permessage-deflate; client_no_context_takeover") as c:
        for _ in range(3):
            c.send(TEXT, deflate_message("same text again " * 20), rsv=4)
            expect_echo(c, TEXT, ("same text again " * 20).encode())


def test_12_context_takeover_across_messages(dedicated):
    """Without client_no_context_takeover the client may keep its window:
    later messages refer back to earlier ones."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    with ws(dedicated, extensions="permessage-deflate") as c:
        assert "client_no_context_takeover" not in c.headers["sec-websocket-extensions"]
        text = os.urandom(2000).hex().encode()
        sizes = []
        for _ in range(4):
            data = deflate_message(text, compressor)
            sizes.append(len(data))
            c.send(TEXT, data, rsv=4)
            expect_echo(c, TEXT, text)
        assert sizes[1] < sizes[0] // 4  # the back-reference really was used


def test_12_client_window_bits_negotiated(dedicated):
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -10)
    with ws(dedicated, extensions="permessage-deflate; client_max_window_bits=10") as c:
        assert "client_max_window_bits=10" in c.headers["sec-websocket-extensions"]
        for i in range(3):
            payload = ("window bits %d " % i).encode() * 400
            c.send(BINARY, deflate_message(payload, compressor), rsv=4)
            expect_echo(c, BINARY, payload)


def test_12_rsv1_on_continuation_is_1002(compressed):
    data = deflate_message(b"abc" * 100)
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(TEXT, data[:5], fin=False, rsv=4)
        c.send(CONT, data[5:], rsv=4)
        expect_fail(c, 1002)


def test_12_rsv1_on_continuation_of_uncompressed_message_is_1002(compressed):
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(TEXT, b"plain start", fin=False)
        c.send(CONT, deflate_message(b"end"), rsv=4)
        expect_fail(c, 1002)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_12_rsv1_on_control_frame_is_1002(compressed, opcode):
    payload = b"\x03\xe8" if opcode == CLOSE else b""
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(opcode, payload, rsv=4)
        expect_fail(c, 1002)


@pytest.mark.parametrize("rsv", [2, 1, 6, 5])
def test_12_rsv2_rsv3_with_compression_are_1002(compressed, rsv):
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(TEXT, deflate_message(b"x"), rsv=rsv)
        expect_fail(c, 1002)


def test_12_rsv1_when_not_negotiated_is_1002(compressed):
    with ws(compressed) as c:
        assert "sec-websocket-extensions" not in c.headers
        c.send(TEXT, deflate_message(b"not negotiated"), rsv=4)
        expect_fail(c, 1002)


@pytest.mark.parametrize("path,inflated", [("/small", 100000), ("/echo", 16 * 1024 * 1024)])
def test_12_zip_bomb_is_1009(compressed, path, inflated):
    bomb = deflate_message(b"\x00" * inflated)
    limit = SMALL if path == "/small" else MAX
    assert len(bomb) < limit  # the frame itself is within the limit
    with ws(compressed, path, extensions="permessage-deflate") as c:
        c.send(BINARY, bomb, rsv=4)
        expect_fail(c, 1009)


def test_12_fragmented_zip_bomb_is_1009(compressed):
    bomb = deflate_message(b"\x00" * 100000)
    with ws(compressed, "/small", extensions="permessage-deflate") as c:
        c.send_raw(b"".join(fragments(BINARY, [bomb[:20], bomb[20:40], bomb[40:]], rsv=4)))
        expect_fail(c, 1009)


def test_12_compressed_at_the_limit_is_accepted(compressed):
    with ws(compressed, "/small", extensions="permessage-deflate") as c:
        c.send(BINARY, deflate_message(b"\x00" * SMALL), rsv=4)
        expect_echo(c, BINARY, b"\x00" * SMALL)


def test_12_compressed_invalid_utf8_is_1007(compressed):
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(TEXT, deflate_message(b"valid then \xed\xa0\x80"), rsv=4)
        expect_fail(c, 1007)


def test_12_corrupt_deflate_data_is_1002(compressed):
    with ws(compressed, extensions="permessage-deflate") as c:
        c.send(BINARY, b"\xff\xff\xff\xff\xff\xff", rsv=4)
        expect_fail(c, 1002)


@pytest.mark.parametrize("size", [0, 10, 1000, 100000])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_13_server_compressed_messages_decompress(compressed, opcode, size):
    payload = (b"server side compression " * (size // 24 + 1))[:size]
    decompressor = zlib.decompressobj(-15)
    with ws(compressed, "/zecho", extensions="permessage-deflate") as c:
        for _ in range(3):
            c.send(opcode, payload)
            f = c.read_frame()
            assert f.opcode == opcode and f.fin == 1 and f.rsv == 4, f
            assert inflate_message(f.payload, decompressor) == payload
        expect_nothing_else(c)


def test_13_shared_compressor_messages_are_independent(shared):
    """server_no_context_takeover: every message inflates on its own."""
    with ws(shared, "/zecho", extensions="permessage-deflate") as c:
        for _ in range(3):
            c.send(TEXT, b"independent " * 100)
            f = c.read_frame()
            assert f.rsv == 4
            assert inflate_message(f.payload) == b"independent " * 100


def test_13_server_no_context_takeover_requested_from_dedicated(dedicated):
    with ws(dedicated, "/zecho", extensions="permessage-deflate; server_no_context_takeover") as c:
        for _ in range(3):
            c.send(BINARY, b"fresh window " * 100)
            f = c.read_frame()
            assert f.rsv == 4
            assert inflate_message(f.payload) == b"fresh window " * 100


def test_13_server_window_bits_respected(dedicated):
    """With server_max_window_bits=9 the server's stream must inflate with a
    512-byte window."""
    text = b"".join(os.urandom(300).hex().encode() * 3 for _ in range(30))
    decompressor = zlib.decompressobj(-9)
    with ws(dedicated, "/zecho", extensions="permessage-deflate; server_max_window_bits=9") as c:
        for _ in range(2):
            c.send(BINARY, text)
            f = c.read_frame()
            assert f.rsv == 4
            assert inflate_message(f.payload, decompressor) == text


def test_13_dedicated_4k_window_respected(dedicated_4k):
    """DEDICATED_COMPRESSOR_4KB compresses with a 512-byte (9-bit) window."""
    text = b"".join(os.urandom(300).hex().encode() * 3 for _ in range(30))
    decompressor = zlib.decompressobj(-9)
    with ws(dedicated_4k, "/zecho", extensions="permessage-deflate") as c:
        c.send(BINARY, text)
        f = c.read_frame()
        assert f.rsv == 4
        assert inflate_message(f.payload, decompressor) == text


def test_13_compress_true_without_negotiation_sends_plain(compressed):
    with ws(compressed, "/zecho") as c:
        c.send(TEXT, b"not negotiated " * 10)
        expect_echo(c, TEXT, b"not negotiated " * 10)
