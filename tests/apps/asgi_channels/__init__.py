"""A small Django Channels project for the ASGI tests (in-memory channel layer)."""
