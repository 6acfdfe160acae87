"""Serves the example Django project through its WSGI entry point.

python examples/django/serve_wsgi.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mysite.wsgi import application  # noqa: E402

from socketify import WSGI  # noqa: E402

if __name__ == "__main__":

    def on_listen(config):
        print("Listening on port http://localhost:%d now" % config.port, flush=True)

    WSGI(application).listen(8000, on_listen).run()
