"""The interface between an App and a pub/sub backplane engine, and the
binary envelope every engine puts around a message."""

from __future__ import annotations

import os
import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

__all__ = [
    "Backplane",
    "BackplaneStats",
    "BackplaneUnavailable",
    "Deliver",
    "pack_envelope",
    "unpack_envelope",
    "ENVELOPE_VERSION",
]

# deliver(topic, payload, opcode, compress): fan a message from another
# process out to this process's subscribers (the native publish, no forwarding).
Deliver = Callable[[bytes, bytes, int, int], object]

# The envelope: version (1 byte), origin id (8 bytes), flags (1 byte:
# opcode in the low 4 bits, compress in bit 4), then the payload as is.
ENVELOPE_VERSION = 1
_HEADER = struct.Struct("!B8sB")
HEADER_SIZE = _HEADER.size
_COMPRESS = 0x10


def new_origin() -> bytes:
    """A random id naming this process's messages (drawn again after a fork)."""
    return os.urandom(8)


def pack_envelope(origin: bytes, opcode: int, compress: bool) -> bytes:
    """The header that precedes the payload of a message sent to other processes."""
    return _HEADER.pack(ENVELOPE_VERSION, origin, (opcode & 0x0F) | (_COMPRESS if compress else 0))


def unpack_envelope(data: bytes) -> Optional[Tuple[bytes, int, int, bytes]]:
    """(origin, opcode, compress, payload), or None for a message that is not
    an envelope of this version (another program's traffic on the channel)."""
    if len(data) < HEADER_SIZE or data[0] != ENVELOPE_VERSION:
        return None
    _, origin, flags = _HEADER.unpack_from(data)
    opcode = flags & 0x0F
    if opcode not in (1, 2):
        return None
    return origin, opcode, 1 if flags & _COMPRESS else 0, data[HEADER_SIZE:]


class BackplaneUnavailable(ConnectionError):
    """The backplane's server cannot be reached when the App starts (and the
    engine was not asked to start without it)."""


@dataclass
class BackplaneStats:
    """Counters of one backplane; nothing it drops goes uncounted."""

    published: int = 0  # publishes handed to the backplane by this process
    forwarded: int = 0  # of those, accepted by the broker
    lost: int = 0  # not forwarded: broker down, or the connection broke mid-batch
    overflow: int = 0  # not forwarded: the outgoing queue was full (broker too slow)
    received: int = 0  # messages from other processes delivered to local subscribers
    ignored: int = 0  # messages on our channels that were not our envelopes
    outages: int = 0  # times the broker connection was lost (or never made)
    connected: bool = False  # both connections (publish, subscribe) are up


class Backplane(ABC):
    """A pub/sub engine shared by many processes.

    The App calls ``bind`` once, ``start``/``stop`` around serving, ``publish``
    for every publish (after delivering it locally), and ``subscribe`` /
    ``unsubscribe`` when a topic gains its first or loses its last local
    subscriber. The engine calls the ``deliver`` it was bound with for every
    message published by another process on a topic subscribed here.
    """

    def __init__(self) -> None:
        self.stats = BackplaneStats()
        self._deliver: Optional[Deliver] = None

    def bind(self, deliver: Deliver) -> None:
        """Attaches the backplane to one App (a second App raises)."""
        if self._deliver is not None:
            raise RuntimeError("a backplane serves one App; create one per App")
        self._deliver = deliver

    @property
    @abstractmethod
    def started(self) -> bool:
        """Whether ``start`` ran (and ``stop`` did not)."""

    @abstractmethod
    async def start(self) -> None:
        """Connects to the broker (raising a clear error, or retrying, per the engine's options)."""

    @abstractmethod
    async def stop(self) -> None:
        """Forwards what is queued (briefly), then disconnects."""

    @abstractmethod
    def publish(self, topic: bytes, payload: bytes, opcode: int, compress: bool) -> None:
        """Queues a message for the other processes; never blocks."""

    @abstractmethod
    def subscribe(self, topic: bytes) -> None:
        """A topic got its first local subscriber: receive it from the other processes."""

    @abstractmethod
    def unsubscribe(self, topic: bytes) -> None:
        """A topic lost its last local subscriber: stop receiving it."""

    @abstractmethod
    async def num_subscribers(self, topic: bytes) -> int:
        """A cluster-wide count for ``topic`` (the engine documents its unit)."""
