"""What the ASGI and WSGI servers share: the settings they hand to the App
serving them, checked once when the server is made."""

from typing import Any, Callable, Dict, Optional

from .options import AppOptions


class AdapterSettings:
    """The arguments ``ASGI(...)`` and ``WSGI(...)`` take in the same places."""

    def __init__(
        self,
        app: Callable,
        options: Optional[AppOptions],
        websocket: Any,
        websocket_options: Optional[Dict[str, Any]],
        task_factory_max_items: int,
        lifespan: bool,
        *,
        not_an_app: str,
    ) -> None:
        if not callable(app):
            raise TypeError(not_an_app)
        if options is not None and not isinstance(options, AppOptions):
            raise TypeError("options must be an AppOptions or None")
        self.app = app
        self.options = options
        self.websocket = websocket
        self.websocket_options = websocket_options
        self.task_factory_max_items = task_factory_max_items
        self.lifespan = lifespan
