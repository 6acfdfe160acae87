"""HTTP status lines, computed once."""
from http import HTTPStatus
from typing import Dict, Union

_STATUS_LINES: Dict[int, bytes] = {
    int(s): ("%d %s" % (int(s), s.phrase)).encode("latin-1") for s in HTTPStatus
}
_STATUS_LINES.update({
    413: b"413 Content Too Large",
    422: b"422 Unprocessable Content",
})


def status_line(status: Union[int, str, bytes]) -> bytes:
    """``404`` / ``"404"`` / ``b"404 Not Found"`` -> ``b"404 Not Found"``."""
    if type(status) is int:
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
        if 100 <= status <= 999:
            # RFC 9112 4: the reason phrase is optional.
            return b"%d " % status
        raise ValueError("invalid HTTP status code: %r" % (status,))
    if isinstance(status, str):
        status = status.encode("latin-1")
    if isinstance(status, (bytes, bytearray, memoryview)):
        status = bytes(status).strip()
        if len(status) == 3 and status.isdigit():
            return status_line(int(status))
        return status
    if isinstance(status, int):  # IntEnum such as HTTPStatus.OK
        return status_line(int(status))
    raise TypeError("status must be int, str or bytes, not %s" % type(status).__name__)
