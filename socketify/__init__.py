"""socketify: a fast HTTP server and web framework for Python on a native C core."""

from .app import App, SSLApp
from .asgi import ASGI
from .extensions import AppExtension
from .helpers import in_directory, sendfile, static_route
from .loop import Loop, RequestTask, TaskFactory, create_task
from .middleware import DecoratorRouter, MiddlewareRouter, middleware
from .multipart import MultipartError, MultipartParser, UploadedFile, parse_multipart
from .options import AppListenOptions, AppOptions
from .request import AppRequest, Request
from .response import AppResponse, Response
from .sse import SSE, open_sse
from .websocket import CompressOptions, OpCode, SendStatus, WebSocket
from .wsgi import WSGI

__all__ = [
    "App",
    "ASGI",
    "AppExtension",
    "AppListenOptions",
    "AppOptions",
    "AppRequest",
    "AppResponse",
    "CompressOptions",
    "Loop",
    "OpCode",
    "Request",
    "Response",
    "SSLApp",
    "SendStatus",
    "WebSocket",
    "sendfile",
    "static_route",
    "in_directory",
    "middleware",
    "MiddlewareRouter",
    "DecoratorRouter",
    "parse_multipart",
    "MultipartParser",
    "MultipartError",
    "UploadedFile",
    "SSE",
    "open_sse",
    "WSGI",
    "create_task",
    "TaskFactory",
    "RequestTask",
]

from ._version import __version__ as __version__  # noqa: E402  (metadata, or pyproject.toml in a checkout)
