"""socketify: a fast HTTP server and web framework for Python on a native C core."""
from .app import App, SSLApp
from .extensions import AppExtension
from .loop import Loop
from .options import AppListenOptions, AppOptions
from .request import AppRequest, Request
from .response import AppResponse, Response

__all__ = [
    "App",
    "AppExtension",
    "AppListenOptions",
    "AppOptions",
    "AppRequest",
    "AppResponse",
    "Loop",
    "Request",
    "Response",
    "SSLApp",
]

__version__ = "0.1.0"
