"""HTTPS: TLS servers (tests/apps/tls_app.py) against real clients (aiohttp,
curl, openssl s_client, the ssl module), with certificates made by trustme."""

import asyncio
import hashlib
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

import aiohttp
import pytest
import trustme

import rawhttp
from conftest import HERE, ROOT, Server, free_port, server_env, write_encrypted_key

TLS_APP = os.path.join(HERE, "apps", "tls_app.py")
OPTIONS_APP = os.path.join(HERE, "apps", "tls_options_app.py")
HEADER_TIMEOUT = 2  # tls_app.py main mode
MIB20 = 20 << 20
BLOCK = bytes(range(256)) * 256


def body_of(size):
    return (BLOCK * (size // len(BLOCK) + 1))[:size]


def client_env():
    """curl and openssl run without the sanitizer runtime the servers may get."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


# -- certificates -----------------------------------------------------------------

DEFAULT_SAN = (("DNS", "localhost"), ("IP Address", "127.0.0.1"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A directory of PEM files: ca.pem, NAME.pem + NAME.key per server name,
    server.key.enc (passphrase 1234), client certificates, another CA."""
    root = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    other_ca = trustme.CA()
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    other_ca.cert_pem.write_to_path(str(root / "other_ca.pem"))

    def leaf(name, *identities, authority=ca, **kwargs):
        cert = authority.issue_cert(*identities, **kwargs)
        with open(root / (name + ".pem"), "wb") as f:
            for blob in cert.cert_chain_pems:
                f.write(blob.bytes())
        cert.private_key_pem.write_to_path(str(root / (name + ".key")))
        cert.private_key_and_cert_chain_pem.write_to_path(str(root / (name + ".both.pem")))
        return cert

    server = leaf("server", "localhost", "127.0.0.1")
    leaf("a", "a.test")
    leaf("b", "*.b.test")
    leaf("removed", "removed.test")
    leaf("live", "live.test")
    leaf("ondemand", "*.ondemand.test")
    leaf("client", "client.test")
    leaf("other_client", "client.test", authority=other_ca)
    leaf("rsa", "localhost", "127.0.0.1", key_type=trustme.KeyType.RSA)

    write_encrypted_key(server.private_key_pem.bytes(), root / "server.key.enc", b"1234")
    (root / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            "group:ffdhe3072",
            "-out",
            str(root / "dh3072.pem"),
        ],
        check=True,
        capture_output=True,
        env=client_env(),
        timeout=30,
    )
    return str(root)


def cpath(certs, name):
    return os.path.join(certs, name)


def client_context(
    certs, client_cert=None, max_version=None, check_hostname=True, alpn=None, ciphers=None, ca="ca.pem"
):
    ctx = ssl.create_default_context(cafile=cpath(certs, ca))
    ctx.check_hostname = check_hostname
    if client_cert:
        ctx.load_cert_chain(cpath(certs, client_cert))
    if max_version:
        ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_connect(port, certs, server_hostname="localhost", **kwargs):
    """A connected, handshaken TLS socket to 127.0.0.1:port."""
    ctx = client_context(certs, **kwargs)
    raw = rawhttp.connect(port)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise


def request(path, host="localhost", method="GET", body=b""):
    head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
    if body or method == "POST":
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def https_get(port, certs, path="/", server_hostname="localhost", **kwargs):
    """(status, body, subjectAltName of the certificate the server presented)."""
    with tls_connect(port, certs, server_hostname, **kwargs) as sock:
        san = sock.getpeercert()["subjectAltName"]
        sock.sendall(request(path, server_hostname or "127.0.0.1"))
        status, headers, body, _ = rawhttp.read_response(sock)
    return status, body, san


def fetch(url, certs, method="GET", **kwargs):
    async def go():
        ctx = client_context(certs)
        async with aiohttp.ClientSession() as session:
            async with session.request(method, url, ssl=ctx, **kwargs) as response:
                return response.status, response.headers, await response.read()

    return asyncio.run(go())


def curl(*args, timeout=30):
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20"] + list(args), capture_output=True, env=client_env(), timeout=timeout
    )


def s_client(port, *args, timeout=15):
    """openssl s_client: (exit code, stdout + stderr)."""
    out = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
        input=b"",
        capture_output=True,
        env=client_env(),
        timeout=timeout,
    )
    return out.returncode, (out.stdout + out.stderr).decode("utf-8", "replace")


def client_hello(server_hostname="localhost"):
    """The bytes of a real ClientHello (TLS 1.2/1.3) for server_hostname."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    data = outgoing.read()
    assert data[:1] == b"\x16" and len(data) > 100
    return data


def closed_by(sock, deadline):
    """True when the server closes ``sock`` (EOF or reset) before ``deadline``
    (a time.monotonic() value); everything it sends meanwhile is read."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        except ssl.SSLError:
            return True


def assert_serves(server, certs):
    """A normal HTTPS client is answered (the server is alive and serving)."""
    assert https_get(server.port, certs, "/n/7")[:2] == (200, b"response 7")
    assert server.proc.poll() is None


@pytest.fixture(scope="module")
def tls_server(certs):
    server = Server(TLS_APP, [certs, "main"]).start()
    yield server
    server.stop()
    server.check_clean()


@pytest.fixture(scope="module")
def mtls_server(certs):
    server = Server(TLS_APP, [certs, "mtls"]).start()
    yield server
    server.stop()
    server.check_clean()


# -- HTTPS with aiohttp and curl --------------------------------------------------------


def test_aiohttp_get_and_post(tls_server, certs):
    base = "https://localhost:%d" % tls_server.port
    status, headers, body = fetch(base + "/", certs)
    assert (status, body) == (200, b"default route")
    assert headers["Content-Length"] == str(len(body))
    status, headers, body = fetch(base + "/small", certs, "POST", data=b"posted over tls")
    assert (status, body) == (200, b"posted over tls")


def test_aiohttp_by_ip_address_without_sni(tls_server, certs):
    status, _, body = fetch("https://127.0.0.1:%d/n/1" % tls_server.port, certs)
    assert (status, body) == (200, b"response 1")


def test_native_handle_is_the_tls_context(tls_server, certs):
    status, _, body = fetch("https://localhost:%d/native" % tls_server.port, certs)
    assert json.loads(body) == {"handle": True}


@pytest.mark.parametrize("path", ["/stream/%d" % MIB20, "/end/%d" % MIB20])
def test_aiohttp_large_response(tls_server, certs, path):
    status, headers, body = fetch("https://localhost:%d%s" % (tls_server.port, path), certs)
    assert status == 200 and len(body) == MIB20
    assert hashlib.sha256(body).digest() == hashlib.sha256(body_of(MIB20)).digest()


def test_aiohttp_large_upload(tls_server, certs):
    data = random.Random(7).randbytes(MIB20)
    status, _, body = fetch("https://localhost:%d/echo" % tls_server.port, certs, "POST", data=data)
    assert status == 200
    assert json.loads(body) == {"bytes": MIB20, "sha256": hashlib.sha256(data).hexdigest()}


def test_curl_get_post_and_large_download(tls_server, certs, tmp_path):
    base = "https://localhost:%d" % tls_server.port
    ca = cpath(certs, "ca.pem")
    out = curl("--cacert", ca, base + "/")
    assert out.returncode == 0 and out.stdout == b"default route", out.stderr
    out = curl("--cacert", ca, "--data-binary", "curl body", base + "/small")
    assert out.returncode == 0 and out.stdout == b"curl body", out.stderr
    big = tmp_path / "big"
    out = curl("--cacert", ca, "-o", str(big), base + "/stream/%d" % MIB20)
    assert out.returncode == 0, out.stderr
    assert hashlib.sha256(big.read_bytes()).digest() == hashlib.sha256(body_of(MIB20)).digest()
    upload = tmp_path / "upload"
    upload.write_bytes(random.Random(8).randbytes(MIB20))
    out = curl("--cacert", ca, "--data-binary", "@" + str(upload), base + "/echo")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sha256"] == hashlib.sha256(upload.read_bytes()).hexdigest()


def test_curl_without_the_ca_refuses_the_certificate(tls_server, certs):
    out = curl("https://localhost:%d/" % tls_server.port)
    assert out.returncode == 60 and out.stdout == b""  # peer certificate cannot be authenticated


# -- one connection: keep-alive and pipelining --------------------------------------------


def test_keep_alive_on_one_tls_connection(tls_server, certs):
    with tls_connect(tls_server.port, certs) as sock:
        for i in range(6):
            sock.sendall(request("/n/%d" % i))
            status, headers, body, _ = rawhttp.read_response(sock)
            assert (status, body) == (200, b"response %d" % i)
            assert headers.get("connection", "").lower() != "close"
        sock.sendall(request("/small", method="POST", body=b"x" * 100000))
        assert rawhttp.read_response(sock)[2] == b"x" * 100000
        sock.sendall(request("/end/%d" % (3 << 20)))
        assert rawhttp.read_response(sock)[2] == body_of(3 << 20)
        sock.sendall(request("/n/last"))
        assert rawhttp.read_response(sock)[2] == b"response last"


def test_pipelining_over_tls(tls_server, certs):
    batch = b"".join(request("/n/%d" % i) for i in range(8))
    batch += request("/small", method="POST", body=b"in the middle")
    batch += b"".join(request("/n/%d" % i) for i in range(8, 12))
    with tls_connect(tls_server.port, certs) as sock:
        sock.sendall(batch)
        bodies = [rawhttp.read_response(sock)[2] for _ in range(13)]
    expected = [b"response %d" % i for i in range(8)] + [b"in the middle"]
    expected += [b"response %d" % i for i in range(8, 12)]
    assert bodies == expected


def test_request_one_byte_per_tls_record(tls_server, certs):
    data = request("/small", method="POST", body=b"slowly") + request("/n/2")
    with tls_connect(tls_server.port, certs) as sock:
        for i in range(len(data)):
            sock.sendall(data[i : i + 1])  # each send is its own TLS record
        assert rawhttp.read_response(sock)[2] == b"slowly"
        assert rawhttp.read_response(sock)[2] == b"response 2"


# -- protocol versions and ALPN ---------------------------------------------------------


def test_s_client_negotiates_tls13_and_alpn(tls_server, certs):
    code, out = s_client(
        tls_server.port, "-servername", "localhost", "-CAfile", cpath(certs, "ca.pem"), "-alpn", "http/1.1"
    )
    assert code == 0, out
    assert "New, TLSv1.3, Cipher is" in out, out
    assert "ALPN protocol: http/1.1" in out, out
    assert "Verify return code: 0 (ok)" in out, out


def test_s_client_without_alpn(tls_server, certs):
    code, out = s_client(tls_server.port, "-servername", "localhost", "-CAfile", cpath(certs, "ca.pem"))
    assert code == 0 and "New, TLSv1.3" in out and "No ALPN negotiated" in out, out


def test_alpn_other_protocol_only_is_not_selected(tls_server, certs):
    # A client that offers only h2 gets no ALPN answer (not a refused handshake).
    with tls_connect(tls_server.port, certs, alpn=["h2"]) as sock:
        assert sock.selected_alpn_protocol() is None
        sock.sendall(request("/n/3"))
        assert rawhttp.read_response(sock)[2] == b"response 3"
    with tls_connect(tls_server.port, certs, alpn=["h2", "http/1.1"]) as sock:
        assert sock.selected_alpn_protocol() == "http/1.1" and sock.version() == "TLSv1.3"


def test_tls12_when_the_client_caps_at_12(tls_server, certs):
    code, out = s_client(tls_server.port, "-tls1_2", "-servername", "localhost", "-CAfile", cpath(certs, "ca.pem"))
    assert code == 0 and "New, TLSv1.2, Cipher is" in out, out
    with tls_connect(tls_server.port, certs, max_version=ssl.TLSVersion.TLSv1_2) as sock:
        assert sock.version() == "TLSv1.2"
        sock.sendall(request("/n/12"))
        assert rawhttp.read_response(sock)[2] == b"response 12"


def test_tls11_is_refused(tls_server, certs):
    # SECLEVEL=0 so that the client really offers TLS 1.1; the server answers
    # with a protocol_version alert.
    code, out = s_client(tls_server.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "localhost")
    assert code != 0, out
    assert "alert protocol version" in out, out
    assert_serves(tls_server, certs)


# -- SNI --------------------------------------------------------------------------------


def test_sni_exact_name_has_its_certificate_and_routes(tls_server, certs):
    status, body, san = https_get(tls_server.port, certs, "/", "a.test")
    assert san == (("DNS", "a.test"),)
    assert (status, body) == (200, b"route for a.test")
    assert https_get(tls_server.port, certs, "/only-a", "a.test")[:2] == (200, b"only on a.test")
    # the app's own routes answer what the name's routes do not have
    assert https_get(tls_server.port, certs, "/n/4", "a.test")[:2] == (200, b"response 4")


def test_sni_name_is_case_insensitive(tls_server, certs):
    status, body, san = https_get(tls_server.port, certs, "/", "A.Test", check_hostname=False)
    assert san == (("DNS", "a.test"),) and body == b"route for a.test"


def test_sni_wildcard_name(tls_server, certs):
    for host in ("x.b.test", "other-1.b.test"):
        status, body, san = https_get(tls_server.port, certs, "/", host)
        assert san == (("DNS", "*.b.test"),)
        assert (status, body) == (200, b"route for *.b.test")


@pytest.mark.parametrize("host", ["b.test", "deep.x.b.test", "unknown.test", "removed.test"])
def test_sni_unmatched_names_get_the_default_certificate_and_routes(tls_server, certs, host):
    status, body, san = https_get(tls_server.port, certs, "/", host, check_hostname=False)
    assert san == DEFAULT_SAN
    assert (status, body) == (200, b"default route")
    assert https_get(tls_server.port, certs, "/only-a", host, check_hostname=False)[0] == 404


def test_no_sni_gets_the_default_certificate(tls_server, certs):
    status, body, san = https_get(tls_server.port, certs, "/", None, check_hostname=False)
    assert san == DEFAULT_SAN and (status, body) == (200, b"default route")


def test_remove_server_name_while_serving(tls_server, certs):
    port = tls_server.port
    status, body, san = https_get(port, certs, "/", "live.test")
    assert san == (("DNS", "live.test"),) and body == b"route for live.test"
    with tls_connect(port, certs, "live.test") as kept:
        kept.sendall(request("/", "live.test"))
        assert rawhttp.read_response(kept)[2] == b"route for live.test"
        assert https_get(port, certs, "/remove-live")[:2] == (200, b"removed")
        status, body, san = https_get(port, certs, "/", "live.test", check_hostname=False)
        assert san == DEFAULT_SAN and body == b"default route"
        # a connection made before the removal goes on being served
        kept.sendall(request("/n/5", "live.test"))
        assert rawhttp.read_response(kept)[:3:2] == (200, b"response 5")


def test_missing_server_name_adds_a_name_on_demand(tls_server, certs):
    port = tls_server.port
    # the very first handshake for the name already gets the new certificate
    status, body, san = https_get(port, certs, "/", "first.ondemand.test")
    assert san == (("DNS", "*.ondemand.test"),)
    assert (status, body) == (200, b"on demand route for first.ondemand.test")
    status, body, san = https_get(port, certs, "/", "first.ondemand.test")
    assert body == b"on demand route for first.ondemand.test"
    # a name the handler does not add: the default certificate answers
    status, body, san = https_get(port, certs, "/", "nobody.test", check_hostname=False)
    assert san == DEFAULT_SAN and body == b"default route"
    calls = json.loads(https_get(port, certs, "/missing-calls")[1])
    assert calls.count("first.ondemand.test") == 1  # only until it was added
    assert "nobody.test" in calls
    assert "a.test" not in calls and "x.b.test" not in calls


def test_curl_sni_with_resolve(tls_server, certs):
    port = tls_server.port
    out = curl(
        "--cacert", cpath(certs, "ca.pem"), "--resolve", "a.test:%d:127.0.0.1" % port, "https://a.test:%d/" % port
    )
    assert out.returncode == 0 and out.stdout == b"route for a.test", out.stderr
    out = curl(
        "--cacert", cpath(certs, "ca.pem"), "--resolve", "y.b.test:%d:127.0.0.1" % port, "https://y.b.test:%d/" % port
    )
    assert out.returncode == 0 and out.stdout == b"route for *.b.test", out.stderr


# -- mutual TLS -------------------------------------------------------------------------


def mtls_fails(port, certs, **kwargs):
    """True when a client is refused: an SSL error (or a reset) at the
    handshake or on the first read, and no HTTP response."""
    try:
        with tls_connect(port, certs, **kwargs) as sock:
            sock.settimeout(5)
            # TLS 1.3: the client's handshake ends before the server checks its
            # certificate; the refusal (an alert) is what the first read gets.
            data = sock.recv(65536)
            if data:
                return False
            sock.sendall(request("/"))
            return not sock.recv(65536).startswith(b"HTTP/")
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_mtls_client_with_a_certificate_from_the_ca_is_served(mtls_server, certs):
    for max_version in (None, ssl.TLSVersion.TLSv1_2):
        status, body, san = https_get(
            mtls_server.port, certs, "/", client_cert="client.both.pem", max_version=max_version
        )
        assert (status, body) == (200, b"mutual tls ok")
    out = curl(
        "--cacert",
        cpath(certs, "ca.pem"),
        "--cert",
        cpath(certs, "client.pem"),
        "--key",
        cpath(certs, "client.key"),
        "https://localhost:%d/" % mtls_server.port,
    )
    assert out.returncode == 0 and out.stdout == b"mutual tls ok", out.stderr


@pytest.mark.parametrize("client_cert", [None, "other_client.both.pem"])
@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2])
def test_mtls_refuses_clients_without_a_valid_certificate(mtls_server, certs, client_cert, max_version):
    assert mtls_fails(mtls_server.port, certs, client_cert=client_cert, max_version=max_version)
    if max_version is not None:
        # TLS 1.2: the handshake itself fails on the client
        ctx = client_context(certs, client_cert=client_cert, max_version=max_version)
        with rawhttp.connect(mtls_server.port) as raw:
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                ctx.wrap_socket(raw, server_hostname="localhost")
    # and the server keeps serving the others
    status, body, _ = https_get(mtls_server.port, certs, "/", client_cert="client.both.pem")
    assert (status, body) == (200, b"mutual tls ok")
    assert mtls_server.proc.poll() is None


def test_mtls_curl_without_a_certificate_fails(mtls_server, certs):
    out = curl("--cacert", cpath(certs, "ca.pem"), "https://localhost:%d/" % mtls_server.port)
    assert out.returncode != 0 and b"mutual tls ok" not in out.stdout


# -- options: passphrase, ciphers, DH parameters, errors -----------------------------------


def run_options(options, certs):
    """Runs tests/apps/tls_options_app.py: (exit code, stdout, stderr)."""
    options = {k: (cpath(certs, v) if k.endswith("file_name") else v) for k, v in options.items()}
    out = subprocess.run(
        [sys.executable, OPTIONS_APP, json.dumps(options)],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=30,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return out.returncode, out.stdout, out.stderr


def test_passphrase_protected_key_with_the_right_passphrase(tls_server, certs):
    # tls_server itself runs with server.key.enc (passphrase 1234)
    assert b"ENCRYPTED" in open(cpath(certs, "server.key.enc"), "rb").read()
    assert_serves(tls_server, certs)
    code, out, err = run_options(
        {"key_file_name": "server.key.enc", "cert_file_name": "server.pem", "passphrase": "1234"}, certs
    )
    assert (code, out.strip()) == (0, "OK handle=True"), err


def test_plain_app_has_no_native_handle(certs):
    code, out, err = run_options({}, certs)
    assert (code, out.strip()) == (0, "OK handle=False"), err


@pytest.mark.parametrize(
    "options,names",
    [
        (
            {"key_file_name": "server.key.enc", "cert_file_name": "server.pem", "passphrase": "wrong"},
            ["server.key.enc"],
        ),
        ({"key_file_name": "server.key.enc", "cert_file_name": "server.pem"}, ["server.key.enc"]),
        ({"key_file_name": "missing.key", "cert_file_name": "server.pem"}, ["missing.key"]),
        ({"key_file_name": "server.key", "cert_file_name": "missing.pem"}, ["missing.pem"]),
        ({"key_file_name": "server.key", "cert_file_name": "garbage.pem"}, ["garbage.pem"]),
        ({"key_file_name": "a.key", "cert_file_name": "server.pem"}, ["a.key", "server.pem"]),
        (
            {"key_file_name": "server.key", "cert_file_name": "server.pem", "ssl_ciphers": "NOT-A-CIPHER"},
            ["NOT-A-CIPHER"],
        ),
        (
            {"key_file_name": "server.key", "cert_file_name": "server.pem", "ca_file_name": "missing-ca.pem"},
            ["missing-ca.pem"],
        ),
        (
            {"key_file_name": "server.key", "cert_file_name": "server.pem", "dh_params_file_name": "missing-dh.pem"},
            ["missing-dh.pem"],
        ),
    ],
    ids=[
        "wrong-passphrase",
        "no-passphrase",
        "missing-key",
        "missing-cert",
        "garbage-cert",
        "key-cert-mismatch",
        "bad-ciphers",
        "missing-ca",
        "missing-dh",
    ],
)
def test_bad_options_raise_runtime_error_naming_the_file(certs, options, names):
    code, out, err = run_options(options, certs)
    assert code == 1 and "OK" not in out, (out, err)
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert last.startswith("RuntimeError: "), err
    assert any((cpath(certs, n) if not n.isupper() else n) in last for n in names), last


def test_ssl_ciphers_limit_tls12_ciphers(serve, certs):
    server = serve(
        """
        import sys
        from listen_line import announce
        from socketify import App, AppOptions
        d = sys.argv[1]
        app = App(AppOptions(key_file_name=d + "/server.key", cert_file_name=d + "/server.pem",
                             ssl_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
        app.get("/", lambda res, req: res.end("cipher ok"))
        app.listen(0, announce)
        app.run()
    """,
        certs,
    )
    v12 = ssl.TLSVersion.TLSv1_2
    with tls_connect(server.port, certs, max_version=v12) as sock:
        assert sock.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
        sock.sendall(request("/"))
        assert rawhttp.read_response(sock)[2] == b"cipher ok"
    with pytest.raises(ssl.SSLError):
        tls_connect(server.port, certs, max_version=v12, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    assert https_get(server.port, certs)[:2] == (200, b"cipher ok")  # TLS 1.3 unaffected


def test_dh_params_file_is_used(serve, certs):
    server = serve(
        """
        import sys
        from listen_line import announce
        from socketify import App, AppOptions
        d = sys.argv[1]
        app = App(AppOptions(key_file_name=d + "/rsa.key", cert_file_name=d + "/rsa.pem",
                             dh_params_file_name=d + "/dh3072.pem",
                             ssl_ciphers="DHE-RSA-AES128-GCM-SHA256"))
        app.get("/", lambda res, req: res.end("dhe ok"))
        app.listen(0, announce)
        app.run()
    """,
        certs,
    )
    code, out = s_client(
        server.port,
        "-tls1_2",
        "-cipher",
        "DHE-RSA-AES128-GCM-SHA256",
        "-CAfile",
        cpath(certs, "ca.pem"),
        "-servername",
        "localhost",
    )
    assert code == 0 and "Cipher is DHE-RSA-AES128-GCM-SHA256" in out, out
    assert re.search(r"Server Temp Key: (DH|FFDHE), ?3072 bits", out), out
    status, body, _ = https_get(
        server.port, certs, max_version=ssl.TLSVersion.TLSv1_2, ciphers="DHE-RSA-AES128-GCM-SHA256"
    )
    assert (status, body) == (200, b"dhe ok")


# -- bad input on the TLS port ----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        random.Random(1).randbytes(4096),
        b"\x16\x03\x01\xff\xff" + random.Random(2).randbytes(2000),
        b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
    ],
    ids=["plain-http", "garbage", "oversized-record", "malformed-client-hello"],
)
def test_bad_bytes_close_only_that_connection(tls_server, certs, data):
    with tls_connect(tls_server.port, certs) as other:
        with rawhttp.connect(tls_server.port) as sock:
            sock.sendall(data)
            start = time.monotonic()
            assert closed_by(sock, start + HEADER_TIMEOUT + 3)
            sock.settimeout(1)
        # a connection open meanwhile is unaffected, and new clients are served
        other.sendall(request("/n/8"))
        assert rawhttp.read_response(other)[2] == b"response 8"
    assert_serves(tls_server, certs)


def test_truncated_client_hello_then_close(tls_server, certs):
    hello = client_hello()
    for cut in (1, 5, len(hello) // 2, len(hello) - 1):
        with rawhttp.connect(tls_server.port) as sock:
            sock.sendall(hello[:cut])
        assert_serves(tls_server, certs)


def test_stalled_handshakes_are_closed_within_the_header_timeout(tls_server, certs):
    hello = client_hello()
    stalled = []
    try:
        stalled.append(rawhttp.connect(tls_server.port))  # nothing sent
        half = rawhttp.connect(tls_server.port)
        half.sendall(hello[: len(hello) // 2])  # half a ClientHello
        stalled.append(half)
        whole = rawhttp.connect(tls_server.port)
        whole.sendall(hello)  # a whole ClientHello, then no Finished
        stalled.append(whole)
        done = tls_connect(tls_server.port, certs)  # handshake done, no request
        stalled.append(done)
        start = time.monotonic()
        # the stalled ones do not hold up anyone else
        assert https_get(tls_server.port, certs, "/n/9")[:2] == (200, b"response 9")
        deadline = start + HEADER_TIMEOUT + 3
        results = [closed_by(sock, deadline) for sock in stalled]
        assert results == [True, True, True, True]
    finally:
        for sock in stalled:
            sock.close()
    assert_serves(tls_server, certs)


def test_client_closing_mid_response_does_not_hurt_the_server(tls_server, certs):
    for _ in range(3):
        sock = tls_connect(tls_server.port, certs)
        sock.sendall(request("/stream/%d" % MIB20))
        sock.recv(65536)
        sock.close()  # abort the download
    assert_serves(tls_server, certs)


# -- examples/https.py -------------------------------------------------------------------


def test_https_example(tmp_path):
    make = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "misc", "make_certs.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert make.returncode == 0, make.stderr
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    assert b"ENCRYPTED" in open(key, "rb").read()

    port = free_port()
    source = open(os.path.join(ROOT, "examples", "https.py")).read()
    assert "app.listen(3000" in source
    path = tmp_path / "example_https.py"
    path.write_text(source.replace("app.listen(3000", "app.listen(%d" % port))
    server = Server(
        str(path), env={"SOCKETIFY_KEY_FILE": key, "SOCKETIFY_CERT_FILE": cert}, ready_prefix="Listening on port"
    ).start()
    try:
        assert server.stdout_lines[-1].strip() == "Listening on port https://localhost:%d now" % port
        out = curl("--cacert", cert, "https://localhost:%d/" % port)
        assert out.returncode == 0, out.stderr
        assert out.stdout == b"Hello World socketify from Python over HTTPS!"
        ctx = ssl.create_default_context(cafile=cert)
        with ctx.wrap_socket(rawhttp.connect(port), server_hostname="localhost") as sock:
            assert sock.version() == "TLSv1.3"
    finally:
        assert server.stop(signal.SIGINT) == 0
    assert "Traceback" not in server.stderr(), server.stderr()
    server.check_clean()
