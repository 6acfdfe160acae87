"""``tls_options_app.py JSON``: builds ``App(AppOptions(**JSON))`` and prints
``OK`` with whether it has a native TLS handle; a bad option raises (the
traceback goes to stderr and the exit code is 1). An empty JSON object
builds a plain ``App()``."""

import json
import sys

from socketify import App, AppOptions

kwargs = json.loads(sys.argv[1])
app = App(AppOptions(**kwargs)) if kwargs else App()
print("OK handle=%s" % (app.get_native_handle() is not None), flush=True)
