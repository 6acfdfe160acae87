"""Pub/sub across processes and machines: ``App(..., pubsub=RedisBackplane(url))``.

``Backplane`` is the small interface an engine implements; ``RedisBackplane``
(Redis pub/sub, through redis-py) is the engine shipped. Importing this
package does not import redis; naming ``RedisBackplane`` does.
"""
from typing import Any

from .base import Backplane, BackplaneStats

__all__ = ["Backplane", "BackplaneStats", "RedisBackplane"]


def __getattr__(name: str) -> Any:
    # PEP 562: the redis client is imported only by a program that uses it.
    if name == "RedisBackplane":
        from .redis import RedisBackplane
        return RedisBackplane
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
