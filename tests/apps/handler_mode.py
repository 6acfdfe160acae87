"""The sync/async switch of the WebSocket test apps (``app.py sync|async``)."""

import asyncio
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else "sync"


def handler(fn):
    """``fn`` itself in sync mode; in async mode an ``async def`` that awaits
    once before calling it."""
    if MODE == "sync":
        return fn

    async def async_handler(*args):
        await asyncio.sleep(0)
        return fn(*args)

    return async_handler
