"""Hand-built WebSocket frames for raw-socket tests (RFC 6455, RFC 7692).

Client frames are built byte by byte (masked unless told otherwise, any
RSV bits, any opcode, any length encoding); server frames are read and
checked (never masked) one at a time, keeping the bytes read past a frame
for the next read.
"""

import base64
import hashlib
import os
import socket
import struct
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10
TAIL = b"\x00\x00\xff\xff"


def accept_for(key):
    if isinstance(key, str):
        key = key.encode()
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def mask_bytes(payload, key):
    if not payload:
        return b""
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None, length_form=None):
    """One client frame. ``rsv`` is a 3-bit value (4 = RSV1, 2 = RSV2,
    1 = RSV3); ``length_form`` forces 7/16/64 for the length encoding."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    mbit = 0x80 if mask else 0
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + mask_bytes(payload, key)


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


def close_frame(code=None, reason=b"", **kw):
    return frame(CLOSE, close_payload(code, reason), **kw)


def server_frame(opcode, payload=b"", fin=True, rsv1=False):
    """The exact bytes the server must send for a frame (never masked)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes([b0, n]) + payload
    if n < 65536:
        return bytes([b0, 126]) + struct.pack("!H", n) + payload
    return bytes([b0, 127]) + struct.pack("!Q", n) + payload


def server_close(code=None, reason=b""):
    return server_frame(CLOSE, close_payload(code, reason))


def deflate_message(data, compressor=None):
    """RFC 7692 7.2.1: raw deflate, sync flush, trailing 00 00 ff ff removed."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    c = compressor or zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def inflate_message(data, decompressor=None):
    d = decompressor or zlib.decompressobj(-15)
    return d.decompress(data + TAIL)


class Closed(Exception):
    """The server closed the TCP connection."""


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "payload", "raw")

    def __init__(self, fin, rsv, opcode, payload, raw):
        self.fin, self.rsv, self.opcode, self.payload, self.raw = fin, rsv, opcode, payload, raw

    @property
    def close_code(self):
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self):
        return self.payload[2:]

    def __repr__(self):
        return "Frame(fin=%d rsv=%d op=%d len=%d %r)" % (
            self.fin,
            self.rsv,
            self.opcode,
            len(self.payload),
            self.payload[:40],
        )


class WSClient:
    """A raw WebSocket client connection on a socket."""

    def __init__(self, sock, head=b"", status=None, headers=None, buf=b""):
        self.sock = sock
        self.head = head
        self.status = status
        self.headers = headers or {}
        self.buf = buf

    # -- connection ------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        port,
        path="/echo",
        extensions=None,
        protocol=None,
        extra=b"",
        key=None,
        timeout=10.0,
        rcvbuf=None,
        expect_status=101,
    ):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = key or new_key()
        request = (
            "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, key)
        ).encode()
        if extensions is not None:
            request += b"Sec-WebSocket-Extensions: " + extensions.encode() + b"\r\n"
        if protocol is not None:
            request += b"Sec-WebSocket-Protocol: " + protocol.encode() + b"\r\n"
        request += extra + b"\r\n"
        sock.sendall(request)
        client = cls(sock)
        client.read_head()
        if expect_status is not None:
            assert client.status == expect_status, client.head
        if client.status == 101:
            assert client.headers.get("sec-websocket-accept") == accept_for(key), client.head
            assert client.headers.get("upgrade", "").lower() == "websocket", client.head
        return client

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise Closed("closed before the response head: %r" % self.buf)
            self.buf += data
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            self.headers[name.strip().lower().decode()] = value.strip().decode()
        return self.status

    def close_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_socket()

    # -- writing -----------------------------------------------------------------

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def send_text(self, text, **kw):
        self.send(TEXT, text, **kw)

    def send_binary(self, data, **kw):
        self.send(BINARY, data, **kw)

    def send_close(self, code=None, reason=b"", **kw):
        self.sock.sendall(close_frame(code, reason, **kw))

    def send_slowly(self, data, step=1, pause=0.0):
        """Byte by byte (or ``step`` bytes at a time), one write each."""
        for i in range(0, len(data), step):
            self.sock.sendall(data[i : i + step])
            if pause:
                time.sleep(pause)

    # -- reading -----------------------------------------------------------------

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for %d bytes, have %r" % (n, self.buf[:80]))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except ConnectionResetError:
                data = b""
            if not data:
                raise Closed("server closed with %d bytes pending: %r" % (len(self.buf), self.buf[:80]))
            self.buf += data

    def read_frame(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frames must not be masked: %r" % self.buf[:16]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        self._need(pos + n, deadline)
        raw = self.buf[: pos + n]
        payload = self.buf[pos : pos + n]
        self.buf = self.buf[pos + n :]
        return Frame(b0 >> 7, (b0 >> 4) & 7, b0 & 0x0F, payload, raw)

    def read_exact(self, n, timeout=10.0):
        """The next n raw bytes from the server."""
        self._need(n, time.monotonic() + timeout)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_message(self, timeout=10.0, decompressor=None):
        """A whole data message: (opcode, payload), answering nothing;
        control frames in between are returned as they come if not data."""
        first = self.read_frame(timeout)
        if first.opcode >= 8:
            return first.opcode, first.payload
        parts = [first.payload]
        f = first
        while not f.fin:
            f = self.read_frame(timeout)
            assert f.opcode == CONT, f
            parts.append(f.payload)
        data = b"".join(parts)
        if first.rsv & 4:
            data = inflate_message(data, decompressor)
        return first.opcode, data

    def expect_close(self, code, timeout=10.0):
        """Reads frames until a close frame; checks it is exactly ``code``
        (with no reason, as our server sends on errors) and that the server
        then closes TCP. Data frames before the close are returned."""
        before = []
        while True:
            f = self.read_frame(timeout)
            if f.opcode == CLOSE:
                break
            before.append(f)
        assert f.close_code == code, "expected close %r, got %r (%r)" % (code, f.close_code, f.raw)
        assert self.wait_eof(timeout), "the server did not close TCP after close %d" % code
        return f, before

    def wait_eof(self, timeout=10.0):
        """True when the server closes the TCP connection within timeout
        (bytes arriving first are kept in self.buf)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not data:
                return True
            self.buf += data

    def nothing_pending(self, wait=0.2):
        """True when the server sends nothing within ``wait`` s and stays open."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return not self.buf
        self.buf += data
        return False


def raw_handshake(port, request, timeout=5.0):
    """Sends a hand-written request; returns (status, headers, socket)."""
    client = WSClient(socket.create_connection(("127.0.0.1", port), timeout=timeout))
    client.sock.sendall(request)
    client.read_head()
    return client
