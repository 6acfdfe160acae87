"""Writes a self-signed certificate for localhost (cert.pem) and its key
(key.pem, encrypted with the passphrase "1234") for examples/https.py.

    python examples/misc/make_certs.py DIRECTORY

Existing files are kept. Needs the ``cryptography`` package
(``pip install ".[examples]"``)."""

import datetime
import ipaddress
import os
import sys

PASSPHRASE = b"1234"


def make_certs(directory: str):
    """Returns (key path, cert path), creating them if either is missing."""
    key_path = os.path.join(directory, "key.pem")
    cert_path = os.path.join(directory, "cert.pem")
    if os.path.exists(key_path) and os.path.exists(cert_path):
        return key_path, cert_path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    os.makedirs(directory, exist_ok=True)
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(PASSPHRASE),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_certs.py DIRECTORY (where key.pem and cert.pem are written)")
    key, cert = make_certs(sys.argv[1])
    print("key: %s\ncert: %s (passphrase %s)" % (key, cert, PASSPHRASE.decode()))
