"""Raw-socket HTTP helpers for protocol edge cases."""

import socket
import time
import weakref

# Bytes read past the end of one response (a pipelined next one), per socket.
_leftover = weakref.WeakKeyDictionary()


def connect(port, timeout=5.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_close(sock, timeout=5.0):
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    except socket.timeout:
        chunks.append(b"<timeout>")
    except ConnectionResetError:
        chunks.append(b"<reset>")
    return b"".join(chunks)


def exchange(port, data, timeout=5.0):
    """Sends ``data`` and returns everything until the server closes."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return read_until_close(sock, timeout)


def read_response(sock, timeout=5.0, head_request=False):
    """Reads exactly one response: (status, headers dict lower-case, body, extra).
    Extra bytes (pipelined responses) are kept for the next call on the socket."""
    status, headers, body, rest = _read_response(sock, timeout, head_request)
    if rest:
        _leftover[sock] = rest
    return status, headers, body, rest


def _read_response(sock, timeout, head_request):
    sock.settimeout(timeout)
    buf = _leftover.pop(sock, b"")
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed before the head: %r" % buf)
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    if head_request or status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", rest
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed mid-body")
            rest += data
        return status, headers, rest[:length], rest[length:]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += sock.recv(65536)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += sock.recv(65536)
            body += rest[:size]
            rest = rest[size + 2 :]
            if size == 0:
                return status, headers, body, rest
    body = rest + read_until_close(sock, timeout)
    return status, headers, body, b""


def status_of(response: bytes) -> int:
    if not response.startswith(b"HTTP/1.1 "):
        return -1
    return int(response[9:12])


def wait_closed(sock, timeout=5.0):
    """True when the server closed the connection within timeout."""
    sock.settimeout(timeout)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            if not sock.recv(65536):
                return True
    except (socket.timeout, ConnectionResetError):
        return isinstance(time, object) and False
    return False
