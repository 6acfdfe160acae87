"""The route verbs (``get``, ``post``, ... ``any``) of App and of every router,
written once over one ``_add_route(method, path, handler)`` hook.

Each verb works as a call, ``app.get(path, handler)``, which returns the
object so calls chain, or as a decorator, ``@app.get(path)``, which returns
the function unchanged.
"""

from typing import Any, Callable, Optional, TypeVar, overload

__all__ = ["RouteMethods"]

_Self = TypeVar("_Self", bound="RouteMethods")
_Handler = TypeVar("_Handler", bound=Callable[..., Any])


class RouteMethods:
    """Mixin: the route verbs of App, ``app.domain(...)``, ``app.router(...)``
    and ``MiddlewareRouter``; a class supplies ``_add_route``."""

    __slots__ = ()

    def _add_route(self, method: Optional[str], path: str, handler: Callable[..., Any]) -> None:
        """Registers ``handler`` for ``method`` (None: every method) at ``path``."""
        raise NotImplementedError

    def _route(self, method: Optional[str], path: str, handler: Optional[Callable[..., Any]]) -> Any:
        if handler is None:

            def decorator(fn: _Handler) -> _Handler:
                self._add_route(method, path, fn)
                return fn

            return decorator
        self._add_route(method, path, handler)
        return self

    @overload
    def get(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def get(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def get(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes GET (and HEAD, unless a HEAD route exists) to ``handler(res, req)``.
        Without ``handler`` it is a decorator."""
        return self._route("GET", path, handler)

    @overload
    def post(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def post(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def post(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes POST; a decorator without ``handler``."""
        return self._route("POST", path, handler)

    @overload
    def put(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def put(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def put(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes PUT; a decorator without ``handler``."""
        return self._route("PUT", path, handler)

    @overload
    def delete(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def delete(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def delete(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes DELETE; a decorator without ``handler``."""
        return self._route("DELETE", path, handler)

    @overload
    def patch(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def patch(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def patch(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes PATCH; a decorator without ``handler``."""
        return self._route("PATCH", path, handler)

    @overload
    def options(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def options(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def options(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes OPTIONS; a decorator without ``handler``."""
        return self._route("OPTIONS", path, handler)

    @overload
    def head(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def head(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def head(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes HEAD; a decorator without ``handler``."""
        return self._route("HEAD", path, handler)

    @overload
    def connect(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def connect(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def connect(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes CONNECT; a decorator without ``handler``."""
        return self._route("CONNECT", path, handler)

    @overload
    def trace(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def trace(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def trace(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes TRACE; a decorator without ``handler``."""
        return self._route("TRACE", path, handler)

    @overload
    def any(self: _Self, path: str, handler: Callable[..., Any]) -> _Self: ...
    @overload
    def any(self, path: str, handler: None = None) -> Callable[[_Handler], _Handler]: ...

    def any(self, path: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Routes every method (custom ones too); a decorator without ``handler``."""
        return self._route(None, path, handler)


def verb_of(method: Optional[str]) -> str:
    """The verb's attribute name for ``method`` (None: ``any``), for routers
    that forward to another object's verbs."""
    return "any" if method is None else method.lower()
