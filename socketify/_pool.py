"""Object pools may only reuse an object nothing else refers to; these
helpers prove that with reference counts (CPython). On PyPy there are none,
and nothing is reused."""

import sys
from typing import Any, Callable, Optional, Tuple, cast

__all__ = ["refcounts", "UNREFERENCED"]

# None on PyPy, where UNREFERENCED is None and so nothing calls refcounts().
getrefcount = cast(Callable[[Any], int], getattr(sys, "getrefcount", None))


def refcounts(res: Any, req: Any) -> Tuple[int, int]:
    return getrefcount(res), getrefcount(req)


class _Probe:
    pass


def _baseline_refcounts() -> Tuple[int, int]:
    # The same call shape as in the dispatcher: two locals passed to
    # _refcounts. What the interpreter adds for the call differs between
    # CPython versions, so it is measured rather than assumed.
    res, req = _Probe(), _Probe()
    return refcounts(res, req)


UNREFERENCED: Optional[Tuple[int, int]] = _baseline_refcounts() if getrefcount is not None else None
