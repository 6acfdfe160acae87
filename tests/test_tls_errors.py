"""Each TLS misconfiguration gets its own message at App(AppOptions(...))
(issue 11): a missing key file, a key/cert mismatch, a wrong or missing
passphrase, a certificate without a key."""

import pytest
from test_tls import certs, cpath, run_options  # noqa: F401  (certs is a fixture)


def error_of(options, certs):
    code, out, err = run_options(options, certs)
    assert code == 1 and "OK" not in out, (out, err)
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert last.startswith("RuntimeError: "), err
    return last


def test_missing_key_file_says_the_file_is_missing(certs):
    last = error_of({"key_file_name": "missing.key", "cert_file_name": "server.pem"}, certs)
    assert "cannot read the private key file" in last and "No such file" in last
    assert cpath(certs, "missing.key") in last and "passphrase" not in last


def test_key_that_does_not_match_the_certificate(certs):
    last = error_of({"key_file_name": "a.key", "cert_file_name": "server.pem"}, certs)
    assert "does not match the certificate" in last and "passphrase" not in last


def test_wrong_passphrase(certs):
    last = error_of({"key_file_name": "server.key.enc", "cert_file_name": "server.pem", "passphrase": "wrong"}, certs)
    assert "wrong passphrase" in last and "match" not in last


def test_encrypted_key_without_a_passphrase(certs):
    last = error_of({"key_file_name": "server.key.enc", "cert_file_name": "server.pem"}, certs)
    assert "encrypted and no passphrase was given" in last


def test_a_file_that_is_no_key(certs):
    last = error_of({"key_file_name": "server.pem", "cert_file_name": "server.pem"}, certs)
    assert "not a PEM private key" in last and "passphrase" not in last


@pytest.mark.parametrize(
    "options,message",
    [
        ({"cert_file_name": "server.pem"}, "cert_file_name is set but key_file_name is not"),
        ({"key_file_name": "server.key"}, "key_file_name is set but cert_file_name is not"),
    ],
)
def test_one_half_of_the_pair_is_refused_at_once(certs, options, message):
    assert message in error_of(options, certs)


def test_missing_certificate_file(certs):
    last = error_of({"key_file_name": "server.key", "cert_file_name": "missing.pem"}, certs)
    assert "cannot read the certificate file" in last and "No such file" in last


def test_the_right_pair_still_works(certs):
    code, out, err = run_options(
        {"key_file_name": "server.key.enc", "cert_file_name": "server.pem", "passphrase": "1234"}, certs
    )
    assert (code, out.strip()) == (0, "OK handle=True"), err
