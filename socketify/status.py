"""HTTP status lines, computed once."""

from http import HTTPStatus
from typing import Dict, Union

_STATUS_LINES: Dict[int, bytes] = {int(s): ("%d %s" % (int(s), s.phrase)).encode("latin-1") for s in HTTPStatus}
_STATUS_LINES.update(
    {
        413: b"413 Content Too Large",
        422: b"422 Unprocessable Content",
    }
)


_NOT_A_STATUS = (
    "%r is not a valid HTTP status: use an int from 100 to 999, or a str/bytes "
    'with that code and an optional reason phrase, e.g. 404 or "404 Not Found"'
)


def invalid_status(status: Union[int, str, bytes], why: str = "") -> ValueError:
    """The error for a status that is not one, naming it (and why, if given)."""
    if isinstance(status, (bytes, bytearray, memoryview)):
        status = bytes(status).decode("latin-1")
    return ValueError(_NOT_A_STATUS % (status,) + (" (%s)" % why if why else ""))


def status_line(status: Union[int, str, bytes]) -> bytes:
    """``404`` / ``"404"`` / ``b"404 Not Found"`` -> ``b"404 Not Found"``."""
    if type(status) is int:
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
        if 100 <= status <= 999:
            # RFC 9112 4: the reason phrase is optional.
            return b"%d " % status
        raise invalid_status(status)
    if isinstance(status, str):
        try:
            status = status.encode("latin-1")
        except UnicodeEncodeError:
            raise invalid_status(status, "not latin-1 text") from None
    if isinstance(status, (bytes, bytearray, memoryview)):
        status = bytes(status).strip()
        if len(status) == 3 and status.isdigit():
            return status_line(int(status))
        # RFC 9112 4: status-code SP [ reason-phrase ]
        if len(status) < 4 or not status[:3].isdigit() or status[3:4] != b" " or status[:1] == b"0":
            raise invalid_status(status)
        return status
    if isinstance(status, int):  # IntEnum such as HTTPStatus.OK
        return status_line(int(status))
    raise TypeError("status must be int, str or bytes, not %s" % type(status).__name__)
