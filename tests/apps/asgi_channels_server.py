"""Serves the Channels project in asgi_channels with socketify.ASGI."""

from asgi_channels.asgi import application
from listen_line import announce

from socketify import ASGI

ASGI(application).listen(0, announce).run()
