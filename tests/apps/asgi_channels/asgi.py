"""The ASGI entry point: Channels routing for WebSockets, a tiny HTTP app for the test's probes."""

import json

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    )
    django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from .consumers import EVENTS, RoomConsumer  # noqa: E402


async def events_http(scope, receive, send):
    """GET /events: what the consumers recorded, as JSON."""
    body = json.dumps(EVENTS).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


application = ProtocolTypeRouter(
    {
        "http": events_http,
        "websocket": URLRouter([path("ws/room/<str:room>/", RoomConsumer.as_asgi())]),
    }
)
