"""Pub/sub across processes and machines: ``App(..., pubsub=RedisBackplane(url))``.

``Backplane`` is the small interface an engine implements; ``RedisBackplane``
(Redis pub/sub, through redis-py) is the engine shipped. Importing this
package does not import redis; naming ``RedisBackplane`` does.
"""

from typing import Any

from .base import Backplane, BackplaneStats, BackplaneUnavailable

__all__ = ["Backplane", "BackplaneStats", "BackplaneUnavailable", "RedisBackplane", "backplane_from_url"]

_REDIS_SCHEMES = ("redis", "rediss", "unix")


def backplane_from_url(url: str, **options: Any) -> Backplane:
    """The backplane a URL names (for ``--pubsub-url`` / ``SOCKETIFY_PUBSUB_URL``):
    ``redis://``, ``rediss://`` (TLS) and ``unix://`` give a ``RedisBackplane``;
    ``options`` go to its constructor."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in _REDIS_SCHEMES:
        return _redis_backplane_class()(url, **options)
    raise ValueError("unknown pub/sub backplane URL %r (expected redis://, rediss:// or unix://)" % url)


def _redis_backplane_class() -> Any:
    """RedisBackplane; without the redis package, an ImportError that says how to get it."""
    try:
        from .redis import RedisBackplane
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] != "redis":
            raise
        raise ModuleNotFoundError(
            "the Redis pub/sub backplane needs the redis package (pip install 'socketify[redis]')", name="redis"
        ) from None
    return RedisBackplane


def __getattr__(name: str) -> Any:
    # PEP 562: the redis client is imported only by a program that uses it.
    if name == "RedisBackplane":
        return _redis_backplane_class()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
