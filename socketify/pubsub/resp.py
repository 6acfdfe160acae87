"""The slice of RESP2 (the Redis protocol) the backplane's hot path speaks,
sans-IO: commands packed into bytes, replies parsed out of what was read.

redis-py makes the connections (URL, AUTH, SELECT, TLS); past that, the
publishing and subscribing connections carry only PUBLISH / SUBSCRIBE /
UNSUBSCRIBE / PING and their replies, parsed here in a loop over whole
buffers rather than one awaited call per reply.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

__all__ = ["pack_command", "publish_parts", "RespError", "RespParser", "ProtocolError"]

Reply = Union[bytes, int, None, "RespError", List["Reply"]]


_MESSAGE = b"message"
_MESSAGE_HEAD = b"*3\r\n$7\r\nmessage\r\n"
_MESSAGE_HEAD_LEN = len(_MESSAGE_HEAD)


class RespError(str):
    """An error reply (``-ERR ...``), kept as a value."""


class ProtocolError(Exception):
    """Bytes that are not RESP2: the connection cannot be trusted further."""


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def pack_command(*args: bytes) -> bytes:
    """One command as a RESP array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


def publish_parts(channel: bytes, header: bytes, payload: bytes) -> Tuple[bytes, bytes, bytes]:
    """PUBLISH channel (header + payload) as three pieces for ``writelines``:
    the payload is not copied into a new string."""
    return (
        b"*3\r\n$7\r\nPUBLISH\r\n%s$%d\r\n%s" % (_bulk(channel), len(header) + len(payload), header),
        payload,
        b"\r\n",
    )


class RespParser:
    """Replies out of a byte stream: ``feed(data)`` returns every reply that
    is complete, keeping the rest for the next call."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def pending(self) -> int:
        """Bytes received and not yet part of a complete reply."""
        return len(self._buf)

    def feed(self, data: bytes) -> List[Reply]:
        """Adds ``data``; returns the replies now complete, in order."""
        buf = self._buf
        buf += data
        replies: List[Reply] = []
        pos = 0
        end = len(buf)
        while pos < end:
            if buf.startswith(_MESSAGE_HEAD, pos):
                # A published message, the reply this parser exists for: its
                # two bulk strings read without the general recursion.
                parsed = self._message(buf, pos + _MESSAGE_HEAD_LEN, end)
            else:
                parsed = self._parse(buf, pos, end)
            if parsed is None:
                break
            reply, pos = parsed
            replies.append(reply)
        if pos:
            del buf[:pos]
        return replies

    def _message(self, buf: bytearray, pos: int, end: int) -> Optional[Tuple[Reply, int]]:
        """[b"message", channel, data] from after its array header, or None."""
        items: List[Reply] = [_MESSAGE]
        for _ in range(2):
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            if buf[pos] != 0x24:  # '$'
                raise ProtocolError("a pub/sub message whose parts are not bulk strings")
            start = eol + 2
            stop = start + self._int(buf, pos, eol)
            if stop + 2 > end:
                return None
            if stop < start or buf[stop : stop + 2] != b"\r\n":
                raise ProtocolError("a bulk string without its CRLF")
            items.append(bytes(buf[start:stop]))
            pos = stop + 2
        return items, pos

    def _parse(self, buf: bytearray, pos: int, end: int) -> Optional[Tuple[Reply, int]]:
        """(reply, position after it) or None when incomplete."""
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            if end - pos > 65536:
                raise ProtocolError("a RESP line longer than 64 KiB")
            return None
        kind = buf[pos]
        if kind == 0x2A:  # '*' array
            count = self._int(buf, pos, eol)
            if count < 0:
                return None, eol + 2
            items: List[Reply] = []
            pos = eol + 2
            for _ in range(count):
                if pos >= end:
                    return None
                parsed = self._parse(buf, pos, end)
                if parsed is None:
                    return None
                item, pos = parsed
                items.append(item)
            return items, pos
        if kind == 0x24:  # '$' bulk string
            length = self._int(buf, pos, eol)
            if length < 0:
                return None, eol + 2
            start = eol + 2
            stop = start + length
            if stop + 2 > end:
                return None
            if buf[stop : stop + 2] != b"\r\n":
                raise ProtocolError("a bulk string without its CRLF")
            return bytes(buf[start:stop]), stop + 2
        if kind == 0x3A:  # ':' integer
            return self._int(buf, pos, eol), eol + 2
        if kind == 0x2B:  # '+' simple string
            return bytes(buf[pos + 1 : eol]), eol + 2
        if kind == 0x2D:  # '-' error
            return RespError(buf[pos + 1 : eol].decode("utf-8", "replace")), eol + 2
        raise ProtocolError("unexpected RESP type byte %r" % bytes(buf[pos : pos + 1]))

    @staticmethod
    def _int(buf: bytearray, pos: int, eol: int) -> int:
        try:
            return int(buf[pos + 1 : eol])
        except ValueError:
            raise ProtocolError("a RESP length or integer that is not a number") from None
