"""WebSocket, OpCode, SendStatus, CompressOptions."""

from enum import IntEnum
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Union, cast

from ._binding import check, ffi, lib, native_address, run_corked

if TYPE_CHECKING:
    from .app import App

__all__ = ["WebSocket", "OpCode", "SendStatus", "CompressOptions"]


class OpCode(IntEnum):
    """WebSocket frame opcodes (RFC 6455 section 5.2)."""

    CONTINUATION = 0
    TEXT = 1
    BINARY = 2
    CLOSE = 8
    PING = 9
    PONG = 10


class SendStatus(IntEnum):
    """What happened to a message given to ``send``."""

    BACKPRESSURE = 0  # queued: the client reads slower than we write
    SUCCESS = 1
    DROPPED = 2  # over max_backpressure, or the socket is closing


class CompressOptions(IntEnum):
    """permessage-deflate settings for ``app.ws(..., {"compression": ...})``;
    a compressor value may be OR-ed with a decompressor value."""

    DISABLED = 0
    SHARED_COMPRESSOR = 1
    SHARED_DECOMPRESSOR = 1 << 8
    DEDICATED_DECOMPRESSOR_32KB = 15 << 8
    DEDICATED_DECOMPRESSOR_16KB = 14 << 8
    DEDICATED_DECOMPRESSOR_8KB = 13 << 8
    DEDICATED_DECOMPRESSOR_4KB = 12 << 8
    DEDICATED_DECOMPRESSOR_2KB = 11 << 8
    DEDICATED_DECOMPRESSOR_1KB = 10 << 8
    DEDICATED_DECOMPRESSOR_512B = 9 << 8
    DEDICATED_DECOMPRESSOR = 15 << 8
    DEDICATED_COMPRESSOR_3KB = 9 << 4 | 1
    DEDICATED_COMPRESSOR_4KB = 9 << 4 | 2
    DEDICATED_COMPRESSOR_8KB = 10 << 4 | 3
    DEDICATED_COMPRESSOR_16KB = 11 << 4 | 4
    DEDICATED_COMPRESSOR_32KB = 12 << 4 | 5
    DEDICATED_COMPRESSOR_64KB = 13 << 4 | 6
    DEDICATED_COMPRESSOR_128KB = 14 << 4 | 7
    DEDICATED_COMPRESSOR_256KB = 15 << 4 | 8
    DEDICATED_COMPRESSOR = 15 << 4 | 8


_SUCCESS = SendStatus.SUCCESS
_DROPPED = SendStatus.DROPPED
_STATUSES = (SendStatus.BACKPRESSURE, SendStatus.SUCCESS, SendStatus.DROPPED)
_TEXT = 1
_BINARY = 2
# opcode (an OpCode or a plain int; they hash alike) -> int, without int()
_OPCODE_VALUES = {int(code): int(code) for code in OpCode}
_sk_ws_send = lib.sk_ws_send


def encode_message(serializer: Any, message: Any, opcode: Optional[int]):
    """(bytes, opcode) for a message: without an opcode, str and JSON (dict,
    list...) go as TEXT and bytes as BINARY."""
    if type(message) is bytes:
        return message, _BINARY if opcode is None else int(opcode)
    if type(message) is str:
        return message.encode(), _TEXT if opcode is None else int(opcode)
    if message is None:
        return b"", _BINARY if opcode is None else int(opcode)
    if isinstance(message, (bytearray, memoryview)):
        return bytes(message), _BINARY if opcode is None else int(opcode)
    if isinstance(message, str):
        return str(message).encode(), _TEXT if opcode is None else int(opcode)
    dumped = serializer.dumps(message)
    data = dumped.encode() if isinstance(dumped, str) else bytes(dumped)
    return data, _TEXT if opcode is None else int(opcode)


class WebSocket:
    """One WebSocket connection, valid from ``open`` to ``close``.

    After the close (or after ``end``/``close`` from the program) every
    method is a documented no-op: ``send`` returns ``SendStatus.DROPPED``,
    the others return False/None/empty values.
    """

    # Per-app subclasses carry ``app`` and ``_native``; per-instance fields
    # start as class defaults.
    app: "App" = cast("App", None)
    _native: Any = None
    _closed = False
    _user_data: Any = None
    _behavior: Any = None  # the route's ws_routes._Behavior

    def __init__(self, ws_id: int) -> None:
        self._id = ws_id

    # -- data -----------------------------------------------------------------

    def _payload(self, message: Any, opcode: Optional[int]):
        return encode_message(self.app._json_serializer, message, opcode)

    def send(
        self, message: Any, opcode: Optional[OpCode] = None, compress: bool = False, fin: bool = True
    ) -> SendStatus:
        """Sends a message. Without ``opcode``, str (and dict/list, as JSON)
        goes as TEXT and bytes as BINARY. Returns a ``SendStatus``."""
        if self._closed:
            return _DROPPED
        kind = type(message)
        if kind is str or kind is bytes:  # the common case, without a call
            data = message.encode() if kind is str else message
            code: Optional[int]
            if opcode is None:
                code = _TEXT if kind is str else _BINARY
            else:
                code = _OPCODE_VALUES.get(opcode)
                if code is None:
                    code = int(opcode)
        else:
            data, code = self._payload(message, opcode)
        status = _sk_ws_send(self._native, self._id, data, len(data), code, 1 if compress else 0, 1 if fin else 0)
        if status >= 0:
            return _STATUSES[status]
        check(
            status,
            "invalid opcode %r for this message (control frames carry at most 125 "
            "bytes and cannot be fragmented)" % (opcode,),
        )
        self._closed = True  # gone (a stale id): dropped, as after close
        return _DROPPED

    def send_first_fragment(self, message: Any, opcode: OpCode = OpCode.BINARY, compress: bool = False) -> SendStatus:
        """Starts a fragmented message."""
        return self.send(message, opcode, compress, False)

    def send_fragment(self, message: Any, compress: bool = False) -> SendStatus:
        """Continues a fragmented message."""
        return self.send(message, OpCode.CONTINUATION, compress, False)

    def send_last_fragment(self, message: Any, compress: bool = False) -> SendStatus:
        """Ends a fragmented message."""
        return self.send(message, OpCode.CONTINUATION, compress, True)

    def cork(self, callback: Callable[["WebSocket"], Any]) -> "WebSocket":
        """Runs ``callback(ws)`` so its sends leave in one syscall."""
        run_corked(self._native, callback, self)
        return self

    def cork_send(
        self, message: Any, opcode: Optional[OpCode] = None, compress: bool = False, fin: bool = True
    ) -> "WebSocket":
        """``send`` inside ``cork``; returns self."""
        self.cork(lambda ws: ws.send(message, opcode, compress, fin))
        return self

    # -- closing ----------------------------------------------------------------

    def end(self, code: int = 0, message: Any = None) -> None:
        """Closes gracefully: a close frame with ``code`` (0 means 1000) and
        ``message``; the ``close`` handler runs now."""
        if self._closed:
            return
        reason = b"" if message is None else self._payload(message, None)[0]
        status = lib.sk_ws_end(self._native, self._id, int(code), reason, len(reason))
        if check(status, "close code must be 0 or between 1000 and 4999"):
            self.app._ws_closed(self, code or 1000, reason)
        else:
            self._closed = True

    def cork_end(self, code: int = 0, message: Any = None) -> None:
        """``end`` inside ``cork``."""
        run_corked(self._native, lambda ws: ws.end(code, message), self)

    def close(self) -> None:
        """Closes the TCP connection at once, without a close frame (the
        client sees 1006); the ``close`` handler runs now."""
        if self._closed:
            return
        lib.sk_ws_close(self._native, self._id)
        self.app._ws_closed(self, 1006, b"")

    # -- state ------------------------------------------------------------------

    def get_buffered_amount(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return 0 if self._closed else lib.sk_ws_buffered_amount(self._native, self._id)

    def get_user_data(self) -> Any:
        """The ``user_data`` given to ``res.upgrade``, or None."""
        return self._user_data

    def get_user_data_uuid(self) -> Optional[int]:
        """A number identifying this socket's user data (None without user data)."""
        return self._id if self._user_data is not None else None

    def get_remote_address_bytes(self) -> Optional[bytes]:
        """The peer's IP address as raw bytes."""
        return native_address(lib.sk_ws_remote_address, self._native, self._id, False)

    def get_remote_address(self) -> Optional[str]:
        """The peer's IP address as text."""
        return native_address(lib.sk_ws_remote_address, self._native, self._id, True)

    def clone(self) -> "WebSocket":
        """This WebSocket (objects already live as long as the connection)."""
        return self

    # -- pub/sub ----------------------------------------------------------------

    @staticmethod
    def _topic(topic: Union[str, bytes]) -> bytes:
        if isinstance(topic, str):
            return topic.encode()
        if isinstance(topic, (bytes, bytearray, memoryview)):
            return bytes(topic)
        raise TypeError("topic must be str or bytes, not %s" % type(topic).__name__)

    def _subscription(self, native_call, topic: Union[str, bytes]) -> bool:
        if self._closed:
            return False
        name = self._topic(topic)
        counts = ffi.new("size_t[2]")
        result = native_call(self._native, self._id, name, len(name), counts, counts + 1)
        if result == 1:
            self.app._ws_subscription_changed(self, name, counts[1], counts[0])
        return result == 1

    def subscribe(self, topic: Union[str, bytes]) -> bool:
        """Subscribes to a topic; True when newly subscribed."""
        return self._subscription(lib.sk_ws_subscribe, topic)

    def unsubscribe(self, topic: Union[str, bytes]) -> bool:
        """Unsubscribes from a topic; True when it was subscribed."""
        return self._subscription(lib.sk_ws_unsubscribe, topic)

    def is_subscribed(self, topic: Union[str, bytes]) -> bool:
        """Whether this socket is subscribed to ``topic``."""
        if self._closed:
            return False
        name = self._topic(topic)
        return bool(lib.sk_ws_is_subscribed(self._native, self._id, name, len(name)))

    def get_topics(self) -> List[str]:
        """The topics this socket is subscribed to, in subscription order."""
        if self._closed:
            return []
        size = lib.sk_ws_topics_pack(self._native, self._id, ffi.NULL, 0)
        if not size:
            return []
        buf = ffi.new("char[]", size)
        lib.sk_ws_topics_pack(self._native, self._id, buf, size)
        return [t.decode("utf-8", "surrogateescape") for t in ffi.unpack(buf, size).split(b"\0")[:-1]]

    def for_each_topic(self, handler: Callable[[str], Any]) -> None:
        """Calls ``handler(topic)`` for every topic."""
        for topic in self.get_topics():
            handler(topic)

    def publish(
        self, topic: Union[str, bytes], message: Any, opcode: Optional[OpCode] = None, compress: bool = False
    ) -> bool:
        """Publishes to every subscriber of ``topic``, this socket included
        when it is subscribed."""
        return self.app.publish(topic, message, opcode, compress)
