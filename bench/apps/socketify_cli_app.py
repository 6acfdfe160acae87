"""The plaintext route of socketify_app.py as a ``run(app)`` function, for
``python -m socketify socketify_cli_app:run --workers N`` (the workers rows)."""

from socketify_app import plaintext


def run(app):
    """Adds ``GET /`` to the App the CLI built."""
    app.get("/", plaintext)
