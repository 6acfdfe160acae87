"""A bounded cache for values derived from what applications and clients
send (encoded header lists, status lines, environ keys)."""

from typing import Any, Dict, Generic, Hashable, Set, TypeVar

_Value = TypeVar("_Value")


class RepeatCache(Dict[Any, _Value], Generic[_Value]):
    """A dict that keeps a value only once its key has been offered twice,
    and starts over when full.

    A value unique to one request (a session cookie, a request id) is then
    never kept, and a stream of them can neither hold more than ``limit``
    entries nor push out, for good, the few values an application repeats:
    those come back at their second sight after a start over. Lookups are
    plain ``dict.get``; only ``offer`` costs more. Safe to share between
    threads under the GIL (each operation is one dict or set call)."""

    __slots__ = ("limit", "_seen")

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self._seen: Set[Hashable] = set()

    def offer(self, key: Hashable, value: _Value) -> None:
        """Keep ``value`` for ``key`` if ``key`` was offered before."""
        seen = self._seen
        if key in seen:
            if len(self) >= self.limit:
                self.clear()
            self[key] = value
            seen.discard(key)
        else:
            if len(seen) >= self.limit:
                seen.clear()
            seen.add(key)
