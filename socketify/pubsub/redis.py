"""RedisBackplane: WebSocket pub/sub across processes and machines through
Redis pub/sub.

Two connections per process, opened by redis-py (URL, AUTH, SELECT, TLS):
one publishes (an outgoing queue drained by one task, a pipeline of PUBLISH
per batch), one subscribes to ``channel_prefix + topic`` for exactly the
topics that have a local subscriber. Past the handshake both are read and
written directly, with replies parsed in bulk (resp.py): no awaited call
per message. A message carries a small binary envelope (origin id, opcode,
compress flag) so a process skips its own messages and the frame type
survives the trip.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import time
from typing import Any, Deque, Dict, List, Optional, Set, Tuple, Union, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError, RedisError, TimeoutError as RedisTimeoutError

from .base import Backplane, BackplaneUnavailable, Deliver, new_origin, pack_envelope, unpack_envelope
from .resp import ProtocolError, RespError, RespParser, pack_command, publish_parts

__all__ = ["RedisBackplane"]

logger = logging.getLogger("socketify.pubsub")

# What a broken or unreachable broker raises (redis-py wraps most OSErrors).
_LINK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
_MESSAGE = b"message"
_PING = pack_command(b"PING")


def _takes_protocol() -> bool:
    """Whether this redis-py speaks RESP3 at all (5.0+: it may default to it)."""
    for cls in aioredis.Connection.__mro__:
        init = cls.__dict__.get("__init__")
        if init is not None and "protocol" in inspect.signature(init).parameters:
            return True
    return False


class RedisBackplane(Backplane):
    """``App(..., pubsub=RedisBackplane("redis://host:6379/0"))``: every
    ``publish`` also reaches the subscribers of every other process using the
    same Redis and ``channel_prefix``.

    ``connect_retry``: when Redis is unreachable at start-up, False (the
    default) raises ``ConnectionError`` from ``listen()``; True starts anyway
    (local pub/sub only) and keeps retrying. ``max_queue`` bounds the
    publishes waiting for Redis (over it they are dropped and counted in
    ``stats.overflow``), and so does ``max_queue_bytes`` (their payload
    bytes, default 64 MiB); ``max_batch`` is the most PUBLISH commands sent in
    one pipeline. ``reconnect_delay`` / ``max_reconnect_delay`` bound the
    exponential backoff between reconnection attempts; ``command_timeout``
    is how long Redis may take to answer a batch or a ping before the
    connection counts as broken. Other keyword arguments go to redis-py's
    connection (``password``, ``ssl_*``, ``socket_connect_timeout``...).
    """

    def __init__(
        self,
        url: str,
        channel_prefix: str = "socketify:",
        *,
        connect_retry: bool = False,
        max_queue: int = 10_000,
        max_queue_bytes: int = 64 * 1024 * 1024,
        max_batch: int = 512,
        reconnect_delay: float = 0.05,
        max_reconnect_delay: float = 5.0,
        command_timeout: float = 5.0,
        ping_interval: float = 5.0,
        **connection_kwargs: Any,
    ) -> None:
        super().__init__()
        if not isinstance(url, str) or not url:
            raise TypeError("RedisBackplane needs a redis:// URL")
        if not isinstance(channel_prefix, (str, bytes)):
            raise TypeError("channel_prefix must be str or bytes")
        if max_queue < 1 or max_batch < 1 or max_queue_bytes < 1:
            raise ValueError("max_queue, max_queue_bytes and max_batch must be at least 1")
        self.url = url
        self.channel_prefix = channel_prefix.encode() if isinstance(channel_prefix, str) else channel_prefix
        self.connect_retry = connect_retry
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.max_batch = max_batch
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.command_timeout = command_timeout
        self.ping_interval = ping_interval
        connection_kwargs.setdefault("socket_connect_timeout", command_timeout)
        connection_kwargs.setdefault("socket_keepalive", True)
        # The subscribing connection waits for messages without a deadline;
        # every other wait has its own (command_timeout).
        connection_kwargs.setdefault("socket_timeout", None)
        if _takes_protocol():
            # RESP2, the protocol resp.py parses (and every Redis speaks).
            connection_kwargs["protocol"] = 2
        # The backplane does its own reconnecting (and counts what it costs).
        connection_kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        self._connection_kwargs = connection_kwargs
        # _pool, _wake and _loop are set by start(); nothing uses them before.
        self._pool: aioredis.ConnectionPool = cast(Any, None)
        self._client: Optional[aioredis.Redis] = None
        self._origin = b""
        self._started = False
        self._stopping = False
        # outgoing: (channel, envelope header, payload)
        self._queue: Deque[Tuple[bytes, bytes, bytes]] = collections.deque()
        self._queued_bytes = 0  # payload bytes in _queue
        self._wake: asyncio.Event = cast(Any, None)
        self._writer: Any = None  # the publishing connection when up
        self._reader: Any = None  # the subscribing connection when up
        self._tasks: List[asyncio.Task] = []
        # topics with a local subscriber, and those asked of Redis on this connection
        self._topics: Set[bytes] = set()
        self._asked: Set[bytes] = set()
        self._sync_scheduled = False
        self._loop: asyncio.AbstractEventLoop = cast(Any, None)
        # topics Redis confirmed on the current connection, and who waits for one
        self._confirmed: Set[bytes] = set()
        self._waiters: Dict[bytes, List[asyncio.Future]] = {}
        self._down_since: Optional[float] = None
        self._down_lost = 0  # stats.lost + stats.overflow when the outage began
        self._overflowing = False
        self._last_seen = 0.0

    # -- the Backplane interface ------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether ``start`` ran (and ``stop`` did not)."""
        return self._started

    async def start(self) -> None:
        """Connects both connections; raises ``ConnectionError`` when Redis is
        unreachable, unless ``connect_retry`` (then it retries in the background)."""
        if self._started:
            return
        self._origin = new_origin()  # per process: a forked worker draws its own
        self._stopping = False
        self._pool = aioredis.ConnectionPool.from_url(self.url, **self._connection_kwargs)
        self._client = aioredis.Redis(connection_pool=self._pool)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        writer = reader = None
        try:
            writer = await self._connect()
            reader = await self._connect()
        except _LINK_ERRORS + (RedisError, ProtocolError) as error:
            if writer is not None:
                await writer.conn.disconnect(nowait=True)
            if not self.connect_retry:
                await self._pool.disconnect()
                raise BackplaneUnavailable(
                    "socketify pub/sub: cannot reach Redis at %s: %s (pass "
                    "RedisBackplane(..., connect_retry=True) to start without it "
                    "and keep retrying)" % (self._safe_url(), error)
                ) from error
            writer = reader = None
            self._went_down(error)
        self._writer, self._reader = writer, reader
        self._started = True
        loop = self._loop
        self._tasks = [
            loop.create_task(self._publish_loop()),
            loop.create_task(self._subscribe_loop()),
            loop.create_task(self._heartbeat_loop()),
        ]
        self._update_connected()

    async def stop(self) -> None:
        """Sends what is queued (up to ``command_timeout``), then disconnects."""
        if not self._started:
            return
        self._stopping = True
        self._wake.set()
        publisher, others = self._tasks[0], self._tasks[1:]
        for task in others:
            task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(publisher), self.command_timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            publisher.cancel()
        await asyncio.gather(publisher, *others, return_exceptions=True)
        if self._queue:
            self.stats.lost += len(self._queue)
            logger.warning("socketify pub/sub: %d publishes not forwarded to Redis at shutdown", len(self._queue))
            self._queue.clear()
            self._queued_bytes = 0
        for link in (self._writer, self._reader):
            if link is not None:
                await link.conn.disconnect(nowait=True)
        self._writer = self._reader = None
        await self._pool.disconnect()
        self._started = False
        self.stats.connected = False

    def publish(self, topic: bytes, payload: bytes, opcode: int, compress: bool) -> None:
        """Queues the message for the other processes (never blocks, never raises)."""
        stats = self.stats
        stats.published += 1
        if not self._started or self._writer is None:
            stats.lost += 1  # Redis is down: the outage log line reports the count
            return
        queue = self._queue
        if len(queue) >= self.max_queue or self._queued_bytes + len(payload) > self.max_queue_bytes:
            stats.overflow += 1
            if not self._overflowing:
                self._overflowing = True
                logger.warning(
                    "socketify pub/sub: Redis is not keeping up; the outgoing queue is full "
                    "(%d messages, %d bytes) and new publishes are dropped (counted in "
                    "stats.overflow)",
                    len(queue),
                    self._queued_bytes,
                )
            return
        self._queued_bytes += len(payload)
        queue.append((self.channel_prefix + topic, pack_envelope(self._origin, opcode, compress), payload))
        if len(queue) == 1:
            self._wake.set()

    def subscribe(self, topic: bytes) -> None:
        """Subscribes ``channel_prefix + topic`` on Redis (soon, in one batch)."""
        self._topics.add(bytes(topic))
        self._schedule_sync()

    def unsubscribe(self, topic: bytes) -> None:
        """Unsubscribes ``channel_prefix + topic`` on Redis (soon, in one batch)."""
        self._topics.discard(bytes(topic))
        self._schedule_sync()

    async def num_subscribers(self, topic: Union[str, bytes]) -> int:
        """How many processes, on every machine, have at least one local
        subscriber to ``topic`` (Redis ``PUBSUB NUMSUB``): each such process
        holds one Redis subscription for it. ``app.num_subscribers(topic)``
        counts this process's WebSockets."""
        if self._client is None:
            raise RuntimeError("the backplane is not started (App.listen starts it)")
        name = topic.encode() if isinstance(topic, str) else bytes(topic)
        result = await asyncio.wait_for(self._client.pubsub_numsub(self.channel_prefix + name), self.command_timeout)
        return int(result[0][1]) if result else 0

    async def subscribed(self, topic: Union[str, bytes], timeout: Optional[float] = None) -> None:
        """Waits until Redis confirmed this process's subscription to ``topic``
        (subscribe a WebSocket first): from then on, messages other processes
        publish to it arrive here. ``asyncio.TimeoutError`` after ``timeout`` s."""
        name = topic.encode() if isinstance(topic, str) else bytes(topic)
        if name in self._confirmed:
            return
        future = self._loop.create_future() if self._loop else asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            waiting = self._waiters.get(name)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._waiters[name]

    def _confirm(self, kind: bytes, channel: bytes) -> None:
        """A SUBSCRIBE or UNSUBSCRIBE confirmation from Redis."""
        topic = bytes(channel)[len(self.channel_prefix) :]
        if kind == b"subscribe":
            self._confirmed.add(topic)
            for future in self._waiters.pop(topic, ()):
                if not future.done():
                    future.set_result(None)
        elif kind == b"unsubscribe":
            self._confirmed.discard(topic)

    async def topics(self) -> List[bytes]:
        """The topics some process subscribes to on this Redis (``PUBSUB CHANNELS prefix*``)."""
        if self._client is None:
            raise RuntimeError("the backplane is not started (App.listen starts it)")
        prefix = self.channel_prefix
        pattern = (
            prefix.replace(b"\\", b"\\\\").replace(b"*", b"\\*").replace(b"?", b"\\?").replace(b"[", b"\\[") + b"*"
        )
        channels = await asyncio.wait_for(self._client.pubsub_channels(pattern), self.command_timeout)
        return sorted(bytes(cast(bytes, c))[len(prefix) :] for c in channels)  # no decode_responses: bytes

    # -- connections and outages ------------------------------------------------

    async def _connect(self) -> _Link:
        """A new connection, proven by a PING answered within ``command_timeout``
        (a frozen server accepts TCP connections but answers nothing)."""
        conn = self._pool.make_connection()
        await asyncio.wait_for(conn.connect(), self.command_timeout)
        link = _Link(conn)
        try:
            link.writer.write(_PING)
            replies: list = []
            while not replies:
                data = await asyncio.wait_for(link.reader.read(4096), self.command_timeout)
                if not data:
                    raise RedisConnectionError("Connection closed by server.")
                replies = link.parser.feed(data)
            if isinstance(replies[0], RespError):
                raise RedisError("Redis refused PING: %s" % replies[0])
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        return link

    def _safe_url(self) -> str:
        """The URL without its password, for logs."""
        url = self.url
        scheme, sep, rest = url.partition("://")
        if sep and "@" in rest:
            return "%s://***@%s" % (scheme, rest.rsplit("@", 1)[1])
        return url

    def _went_down(self, error: BaseException) -> None:
        """One log line per outage, however many messages it costs."""
        self.stats.connected = False
        if self._down_since is not None or self._stopping:
            return
        # Both connections go to the same server: when one breaks, drop the
        # other too, so neither is counted "back" while it is dead; the
        # publishing task is woken to reconnect.
        for link in (self._writer, self._reader):
            if link is not None:
                link.close()
        self._writer = self._reader = None
        if self._wake is not None:
            self._wake.set()
        self._down_since = time.monotonic()
        self._down_lost = self.stats.lost + self.stats.overflow
        self.stats.outages += 1
        logger.warning(
            "socketify pub/sub: lost Redis at %s (%s); publishes reach this process's "
            "subscribers only, and other processes' messages are missed, until it is back",
            self._safe_url(),
            str(error) or type(error).__name__,
        )

    def _update_connected(self) -> None:
        up = self._writer is not None and self._reader is not None
        self.stats.connected = up
        if up and self._down_since is not None:
            lost = self.stats.lost + self.stats.overflow - self._down_lost
            logger.warning(
                "socketify pub/sub: Redis at %s is back after %.1f s; %d publishes of this "
                "process were not forwarded during the outage",
                self._safe_url(),
                time.monotonic() - self._down_since,
                lost,
            )
            self._down_since = None

    async def _backoff(self, delay: float) -> float:
        await asyncio.sleep(delay)
        return min(delay * 2, self.max_reconnect_delay)

    # -- publishing -------------------------------------------------------------

    async def _publish_loop(self) -> None:
        """Drains the queue: one write of up to ``max_batch`` PUBLISH commands,
        then their replies, parsed in bulk."""
        delay = self.reconnect_delay
        queue, stats = self._queue, self.stats
        while True:
            link = self._writer
            if link is None:
                if self._stopping:
                    return
                try:
                    link = self._writer = await self._connect()
                except _LINK_ERRORS + (RedisError, ProtocolError) as error:
                    self._went_down(error)
                    delay = await self._backoff(delay)
                    continue
                delay = self.reconnect_delay
                self._update_connected()
            if not queue:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            count = min(len(queue), self.max_batch)
            parts: List[bytes] = []
            for _ in range(count):
                message = queue.popleft()
                self._queued_bytes -= len(message[2])
                parts.extend(publish_parts(*message))
            self._overflowing = False
            done = 0
            refused: List[RespError] = []
            try:
                link.writer.writelines(parts)
                await asyncio.wait_for(link.writer.drain(), self.command_timeout)
                while done < count:
                    data = await asyncio.wait_for(link.reader.read(65536), self.command_timeout)
                    if not data:
                        raise RedisConnectionError("Connection closed by server.")
                    for reply in link.parser.feed(data):
                        done += 1
                        if isinstance(reply, RespError):  # e.g. an ACL that forbids PUBLISH
                            stats.lost += 1
                            refused.append(reply)
                        else:
                            stats.forwarded += 1
                if refused:  # one line per batch, however many
                    logger.warning(
                        "socketify pub/sub: Redis refused %d of %d publishes (counted in stats.lost): %s",
                        len(refused),
                        count,
                        refused[0],
                    )
            except _LINK_ERRORS + (RedisError, ProtocolError) as error:
                # Sent but unanswered: they may or may not have gone out; at
                # most once, so they count as lost.
                stats.lost += count - done
                if self._writer is link:
                    self._writer = None
                link.close()
                self._went_down(error)

    # -- subscribing ------------------------------------------------------------

    def _schedule_sync(self) -> None:
        """Subscription changes of one loop iteration go out in one write."""
        if self._started and not self._sync_scheduled and self._reader is not None and not self._loop.is_closed():
            self._sync_scheduled = True
            self._loop.call_soon(self._sync_subscriptions)

    def _sync_subscriptions(self) -> None:
        """Brings Redis's subscriptions on the subscribing connection in line
        with the local topics: one SUBSCRIBE and one UNSUBSCRIBE at most."""
        self._sync_scheduled = False
        link = self._reader
        if link is None:
            return  # the next connection subscribes everything
        add = self._topics - self._asked
        remove = self._asked - self._topics
        prefix = self.channel_prefix
        parts = []
        if add:
            parts.append(pack_command(b"SUBSCRIBE", *(prefix + t for t in add)))
        if remove:
            parts.append(pack_command(b"UNSUBSCRIBE", *(prefix + t for t in remove)))
        if parts:
            self._asked |= add
            self._asked -= remove
            link.writer.write(b"".join(parts))  # a broken link shows in the read loop

    async def _subscribe_loop(self) -> None:
        """Reads what Redis pushes and hands each message from another process
        to the native publish (one call per message, no forwarding)."""
        delay = self.reconnect_delay
        prefix_len = len(self.channel_prefix)
        origin, stats = self._origin, self.stats
        while True:
            link = self._reader
            if link is None:
                try:
                    link = await self._connect()
                except _LINK_ERRORS + (RedisError, ProtocolError) as error:
                    self._went_down(error)
                    delay = await self._backoff(delay)
                    continue
                delay = self.reconnect_delay
                self._reader = link
            # A new connection: subscribe every live topic again.
            self._asked = set()
            self._confirmed = set()
            self._last_seen = time.monotonic()
            self._update_connected()
            self._schedule_sync()
            deliver, read, feed = cast(Deliver, self._deliver), link.reader.read, link.parser.feed
            try:
                while True:
                    data = await read(262144)
                    if not data:
                        raise RedisConnectionError("Connection closed by server.")
                    self._last_seen = time.monotonic()
                    for reply in feed(data):
                        if type(reply) is not list or len(reply) != 3:
                            if isinstance(reply, RespError):
                                logger.warning("socketify pub/sub: Redis said: %s", reply)
                            continue  # pongs
                        kind, channel, data = reply
                        if kind != _MESSAGE:
                            self._confirm(kind, channel)
                            continue
                        envelope = unpack_envelope(data)
                        if envelope is None:
                            stats.ignored += 1
                        elif envelope[0] != origin:  # ours went out locally at publish
                            stats.received += 1
                            deliver(channel[prefix_len:], envelope[3], envelope[1], envelope[2])
            except _LINK_ERRORS + (RedisError, ProtocolError) as error:
                if self._reader is link:
                    self._reader = None
                link.close()
                self._went_down(error)
                delay = await self._backoff(delay)

    async def _heartbeat_loop(self) -> None:
        """PINGs the subscribing connection so a silent broker (a vanished host)
        is noticed: nothing heard for ``command_timeout`` past a ping closes
        the connection, and the read loop reconnects."""
        while True:
            await asyncio.sleep(self.ping_interval)
            link = self._reader
            if link is None:
                continue
            if time.monotonic() - self._last_seen > self.ping_interval + self.command_timeout:
                link.close()
            else:
                link.writer.write(_PING)


class _Link:
    """A connection redis-py opened (URL, AUTH, SELECT, TLS done), then read
    and written directly: the hot path parses replies in bulk (resp.py)."""

    __slots__ = ("conn", "reader", "writer", "parser")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        # redis-py keeps the asyncio streams of an open connection here.
        self.reader = cast(asyncio.StreamReader, getattr(conn, "_reader", None))
        self.writer = cast(asyncio.StreamWriter, getattr(conn, "_writer", None))
        if not isinstance(self.reader, asyncio.StreamReader) or not isinstance(self.writer, asyncio.StreamWriter):
            raise RuntimeError(
                "this redis-py version does not expose its connection streams; RedisBackplane needs redis>=4.2,<9"
            )
        self.parser = RespParser()

    def close(self) -> None:
        """Closes the socket now (a pending read then ends) and lets redis-py
        tidy its connection object; idempotent."""
        self.writer.close()
        asyncio.get_running_loop().create_task(self.conn.disconnect(nowait=True))
