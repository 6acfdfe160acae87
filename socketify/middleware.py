"""Middleware composition and routers that apply middlewares to routes.

A middleware is ``fn(res, req, data)``: it receives what the previous one
returned as ``data`` (None for the first) and returns the ``data`` for the
next one. A falsy return value stops the chain (the middleware that stops it
is expected to have answered, e.g. with a 403).

``middleware(*functions)`` composes them into one route handler
``handler(res, req, data=None)``. While every function returns plain values
the chain runs synchronously and the handler returns the last value. As soon
as a function returns an awaitable (an ``async def`` middleware), the rest of
the chain continues inside a coroutine and the handler returns that
coroutine: the App starts it at once (its first step still runs inside the
request), and every later ``req`` read keeps working after ``await``.
Exceptions are not caught here: they reach the app's error handler.
"""

from typing import Any, Awaitable, Callable, List, Optional, Tuple

from ._routes import RouteMethods, verb_of
from .loop import is_awaitable

__all__ = ["middleware", "sync_middleware", "async_middleware", "MiddlewareRouter", "DecoratorRouter"]

Middleware = Callable[[Any, Any, Any], Any]


def _check_functions(functions) -> List[Middleware]:
    if not functions:
        raise TypeError("middleware() needs at least one function")
    for function in functions:
        if not callable(function):
            raise TypeError("middleware %r is not callable" % (function,))
    return list(functions)


async def _continue(functions: List[Middleware], index: int, res, req, pending: Awaitable) -> Any:
    """Runs the chain from ``functions[index]`` on, ``pending`` being the
    awaitable the previous function returned."""
    data = await pending
    count = len(functions)
    while data and index < count:
        data = functions[index](res, req, data)
        index += 1
        if is_awaitable(data):
            data = await data
    return data


def middleware(*functions: Middleware) -> Callable[..., Any]:
    """Composes ``fn(res, req, data)`` callables left to right into one
    route handler ``handler(res, req, data=None)``.

    Each function gets the previous one's return value as ``data``; a falsy
    return stops the chain. A chain of plain functions stays synchronous;
    from the first awaitable result on, the rest runs in a coroutine that
    the handler returns (the App starts it eagerly). A composed handler can
    itself be used as a middleware of another chain.
    """
    chain = _check_functions(functions)
    count = len(chain)

    def middleware_route(res, req, data=None):
        index = 0
        while index < count:
            data = chain[index](res, req, data)
            index += 1
            if is_awaitable(data):
                return _continue(chain, index, res, req, data)
            if not data:
                break
        return data

    middleware_route.middlewares = tuple(chain)  # type: ignore[attr-defined]  # for introspection
    return middleware_route


# Names of the reference's specialised composers: both are the general one.
sync_middleware = middleware
async_middleware = middleware


def _compose(middlewares, handler: Callable) -> Callable:
    if not callable(handler):
        raise TypeError("handler must be callable")
    if middlewares:
        return middleware(*middlewares, handler)
    return handler


class _Router(RouteMethods):
    """What both routers share: each route goes to ``app``'s verb of the same
    name at ``prefix + path``, its handler behind the router's middlewares."""

    prefix = ""

    def __init__(self, app: Any, middlewares: Tuple[Middleware, ...]) -> None:
        self.app = app
        self.middlewares = _check_functions(middlewares) if middlewares else []

    def _add_route(self, method: Optional[str], path: str, handler: Callable[..., Any]) -> None:
        getattr(self.app, verb_of(method))(self.prefix + path, _compose(self.middlewares, handler))


class MiddlewareRouter(_Router):
    """Registers routes on ``app`` with ``middlewares`` run before each handler.

    ``router.get(path, handler)`` (and post, options, delete, patch, put,
    head, connect, trace, any) registers ``middleware(*middlewares, handler)``
    and returns the router, so calls chain; ``@router.get(path)`` is the
    decorator form. The handler is called as ``handler(res, req, data)``
    with the last middleware's result.
    """

    def __init__(self, app: Any, *middlewares: Middleware) -> None:
        super().__init__(app, middlewares)


class DecoratorRouter(_Router):
    """Route decorators with a path ``prefix`` and ``middlewares``.

    ``@router.get("/path")`` registers ``prefix + "/path"``; with middlewares
    the handler runs last in ``middleware(*middlewares, handler)`` and gets
    ``(res, req, data)``, without them it is registered as is. Every
    decorator returns the handler unchanged; ``router.get(path, handler)``
    is the call form, returning the router.
    """

    def __init__(self, app: Any, prefix: str = "", *middlewares: Middleware) -> None:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        super().__init__(app, middlewares)
        self.prefix = prefix
