"""The backplane's RESP2 slice (socketify/pubsub/resp.py) and message
envelope (base.py), sans-IO: every reply parses the same whole, byte by
byte and in random splits; bad bytes are a ProtocolError, not a guess."""

import random

import pytest

from socketify.pubsub.base import HEADER_SIZE, pack_envelope, unpack_envelope
from socketify.pubsub.resp import ProtocolError, RespError, RespParser, pack_command, publish_parts

STREAM = (
    b"*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n"
    b"*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$5\r\nhe\r\no\r\n"
    b":42\r\n-ERR wrong\r\n+OK\r\n$-1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    b"*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$0\r\n\r\n"
)
EXPECTED = [
    [b"subscribe", b"room", 1],
    [b"message", b"room", b"he\r\no"],
    42,
    RespError("ERR wrong"),
    b"OK",
    None,
    [b"pong", b""],
    [b"message", b"room", b""],
]


def feed_in_pieces(cuts):
    parser, got, pos = RespParser(), [], 0
    for cut in sorted(cuts) + [len(STREAM)]:
        got += parser.feed(STREAM[pos:cut])
        pos = cut
    assert parser.pending() == 0
    return got


def test_whole_stream():
    assert RespParser().feed(STREAM) == EXPECTED


def test_byte_by_byte():
    assert feed_in_pieces(range(1, len(STREAM))) == EXPECTED


def test_random_splits():
    rng = random.Random(7)
    for _ in range(200):
        cuts = rng.sample(range(1, len(STREAM)), rng.randrange(1, 12))
        assert feed_in_pieces(cuts) == EXPECTED


def test_incomplete_reply_waits():
    parser = RespParser()
    assert parser.feed(b"*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$5\r\nhel") == []
    assert parser.pending() > 0
    assert parser.feed(b"lo\r\n") == [[b"message", b"room", b"hello"]]


@pytest.mark.parametrize(
    "bad",
    [
        b"?what\r\n",
        b":12x\r\n",
        b"$3\r\nabcXY",
        b"*x\r\n",
        b"*3\r\n$7\r\nmessage\r\n:1\r\n",
        b"*3\r\n$7\r\nmessage\r\n$2\r\nabXY",
    ],
)
def test_bad_bytes_are_a_protocol_error(bad):
    with pytest.raises(ProtocolError):
        RespParser().feed(bad)


def test_endless_line_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        RespParser().feed(b"+" + b"x" * 70000)


def test_commands_round_trip():
    assert RespParser().feed(pack_command(b"SUBSCRIBE", b"a", b"b c")) == [[b"SUBSCRIBE", b"a", b"b c"]]
    header = pack_envelope(b"12345678", 2, True)
    assert RespParser().feed(b"".join(publish_parts(b"ch", header, b"\x00\xff"))) == [
        [b"PUBLISH", b"ch", header + b"\x00\xff"]
    ]


def test_envelope():
    header = pack_envelope(b"ABCDEFGH", 1, False)
    assert len(header) == HEADER_SIZE == 10
    assert unpack_envelope(header + b"hi") == (b"ABCDEFGH", 1, 0, b"hi")
    assert unpack_envelope(pack_envelope(b"ABCDEFGH", 2, True)) == (b"ABCDEFGH", 2, 1, b"")
    assert unpack_envelope(b"short") is None  # not ours: counted as ignored, not delivered
    assert unpack_envelope(b"\x02" + header[1:]) is None  # another version
    assert unpack_envelope(pack_envelope(b"ABCDEFGH", 9, False)) is None  # not a data opcode


def test_backplane_from_url():
    from socketify.pubsub import RedisBackplane, backplane_from_url

    backplane = backplane_from_url("redis://127.0.0.1:6379/0", channel_prefix="app:")
    assert isinstance(backplane, RedisBackplane) and backplane.channel_prefix == b"app:"
    assert isinstance(backplane_from_url("unix:///run/redis.sock"), RedisBackplane)
    with pytest.raises(ValueError, match="expected redis://"):
        backplane_from_url("nats://x")
