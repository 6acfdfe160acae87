"""HTTPS on port 3000 with the certificate in examples/misc/ (created by
examples/misc/make_certs.py when missing; key passphrase "1234").

SOCKETIFY_KEY_FILE, SOCKETIFY_CERT_FILE and SOCKETIFY_PASSPHRASE point it at
other files.

    curl --cacert examples/misc/cert.pem https://localhost:3000/
"""
import os
import sys

from socketify import App, AppOptions

key_file = os.environ.get("SOCKETIFY_KEY_FILE")
cert_file = os.environ.get("SOCKETIFY_CERT_FILE")
if not (key_file and cert_file):
    misc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "misc")
    sys.path.insert(0, misc)
    from make_certs import make_certs

    key_file, cert_file = make_certs(misc)

app = App(AppOptions(key_file_name=key_file, cert_file_name=cert_file,
                     passphrase=os.environ.get("SOCKETIFY_PASSPHRASE", "1234")))
app.get("/", lambda res, req: res.end("Hello World socketify from Python over HTTPS!"))
app.listen(3000, lambda config: print("Listening on port https://localhost:%d now\n" % config.port, flush=True))
app.run()
