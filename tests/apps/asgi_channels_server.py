"""Serves the Channels project in asgi_channels with socketify.ASGI."""
from listen_line import announce
from socketify import ASGI

from asgi_channels.asgi import application

ASGI(application).listen(0, announce).run()
