"""Extensions: ``app.register(extension)`` adds methods and properties to the
app's Request, Response and WebSocket classes.

Each App owns subclasses of the three classes (``App._request_class`` etc.).
Registering an extension derives them again with the extension's methods as
plain class attributes (bound by ordinary attribute lookup, so a request
pays nothing for a method it does not call) and its properties as
descriptors that hand every instance its own copy of the default on first
use. Clearing an instance's ``__dict__`` (what the object pools do) resets
every property.
"""

import copy
from typing import Any, Callable, Dict, Iterable, Tuple, Type

__all__ = ["AppExtension", "ExtensionProperty", "derive_class"]


class ExtensionProperty:
    """A per-instance attribute whose first read yields a private copy of the default."""

    __slots__ = ("name", "default")

    def __init__(self, name: str, default: Any) -> None:
        self.name = name
        self.default = default

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        # A non-data descriptor: once stored in the instance dict, the value
        # is found there first and this is never called again for it.
        value = copy.deepcopy(self.default)
        instance.__dict__[self.name] = value
        return value


class AppExtension:
    """What an extension receives for each of request, response and ws:
    ``@x.method`` adds a method, ``x.property(name, default)`` a property."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.methods: Dict[str, Callable] = {}
        self.properties: Dict[str, Any] = {}

    def method(self, function: Callable) -> Callable:
        """Decorator: adds ``function`` (sync or async, taking ``self``) as a method."""
        if not callable(function):
            raise TypeError("%s.method needs a function" % self.kind)
        name = function.__name__
        self._claim(name)
        self.methods[name] = function
        return function

    def property(self, name: str, default_value: Any = None) -> None:
        """Adds an attribute that starts as a copy of ``default_value`` on every instance."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError("%s property name must be an identifier, not %r" % (self.kind, name))
        self._claim(name)
        self.properties[name] = default_value

    def _claim(self, name: str) -> None:
        if name in self.methods or name in self.properties:
            raise ValueError("%s extension defines %r twice" % (self.kind, name))

    def attributes(self) -> Iterable[Tuple[str, Any]]:
        for name, function in self.methods.items():
            yield name, function
        for name, default in self.properties.items():
            yield name, ExtensionProperty(name, default)


def derive_class(base: Type, extensions: Iterable[AppExtension], **class_attributes: Any) -> Type:
    """A subclass of ``base`` carrying ``class_attributes`` and every
    extension's methods and properties, in registration order. A name that
    is already part of ``base`` (a built-in method) or was added by an
    earlier extension raises ``ValueError``."""
    namespace: Dict[str, Any] = dict(class_attributes)
    added: Dict[str, str] = {}
    for extension in extensions:
        for name, value in extension.attributes():
            if name.startswith("__") or hasattr(base, name) or name in class_attributes:
                raise ValueError(
                    "extension %s.%s clashes with a built-in %s attribute" % (extension.kind, name, base.__name__)
                )
            if name in added:
                raise ValueError("extension %s.%s is already defined by another extension" % (extension.kind, name))
            added[name] = extension.kind
            namespace[name] = value
    namespace["__module__"] = base.__module__
    namespace["__qualname__"] = base.__qualname__
    return type(base.__name__, (base,), namespace)
