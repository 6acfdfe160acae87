"""HTTPS on port 3000 with a self-signed certificate for localhost, made by
examples/misc/make_certs.py in a temporary directory (removed on exit; key
passphrase "1234"). The certificate's path is printed at start.

SOCKETIFY_KEY_FILE, SOCKETIFY_CERT_FILE and SOCKETIFY_PASSPHRASE point it at
other files (then nothing is created).

    pip install ".[examples]"    # cryptography, to make the certificate
    python examples/https.py
    curl --cacert <the printed cert.pem> https://localhost:3000/
"""

import os
import sys
import tempfile

from socketify import App, AppOptions


def serve(key_file: str, cert_file: str) -> None:
    app = App(
        AppOptions(
            key_file_name=key_file, cert_file_name=cert_file, passphrase=os.environ.get("SOCKETIFY_PASSPHRASE", "1234")
        )
    )
    app.get("/", lambda res, req: res.end("Hello World socketify from Python over HTTPS!"))
    app.listen(3000, lambda config: print("Listening on port https://localhost:%d now\n" % config.port, flush=True))
    app.run()


key_file = os.environ.get("SOCKETIFY_KEY_FILE")
cert_file = os.environ.get("SOCKETIFY_CERT_FILE")
if key_file and cert_file:
    serve(key_file, cert_file)
else:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "misc"))
    from make_certs import make_certs

    # Never into the source tree: a fresh directory, gone when the server stops.
    with tempfile.TemporaryDirectory(prefix="socketify-https-") as directory:
        key_file, cert_file = make_certs(directory)
        print("certificate: %s" % cert_file, flush=True)
        serve(key_file, cert_file)
