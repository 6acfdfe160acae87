"""WSGI adapter: PEP 3333 as a real client sees it, on tests/apps/wsgi_app.py.

Every test runs twice: against the plain app, and against the app wrapped
in ``wsgiref.validate.validator`` with warnings as errors (a PEP violation
by the server then turns into a 500 and a traceback in the server's log)."""

import json
import os
import socket
import time
from urllib.parse import unquote_to_bytes

import pytest
import requests

import rawhttp
from conftest import HERE, Server

APP = os.path.join(HERE, "apps", "wsgi_app.py")


@pytest.fixture(scope="module", params=["plain", "validated"])
def server(request):
    args = ["--validate"] if request.param == "validated" else []
    server = Server(APP, args, env={"SOCKETIFY_TEST_SECRET": "must-not-leak"}).start()
    yield server
    assert server.stop() == 0
    log = server.stderr()
    for marker in ("WSGIWarning", "garbage collected without being closed"):
        assert marker not in log, log
    # The validator's complaints, except the one /not-bytes provokes on purpose.
    complaints = [
        entry
        for entry in log.split("WSGI application error")
        if ", in assert_" in entry and "non-bytestring ('a str')" not in entry
    ]
    assert not complaints, complaints


def get_json(server, path, **kwargs):
    response = requests.get(server.url + path, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


# -- environ -------------------------------------------------------------------


def test_environ_has_every_pep3333_key_and_nothing_from_os_environ(server):
    env = get_json(server, "/environ/a?x=1&y=%20", headers={"X-Custom": "v"})
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/environ/a"
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["SERVER_NAME"]
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert 0 < int(env["REMOTE_PORT"]) < 65536
    assert env["HTTP_HOST"] == "127.0.0.1:%d" % server.port
    assert env["HTTP_X_CUSTOM"] == "v"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.errors is stderr"] is True
    assert env["wsgi.file_wrapper"] == "FileWrapper"
    assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env and "HTTP_CONTENT_TYPE" not in env
    leaked = [k for k, v in env.items() if k in os.environ or v == "must-not-leak"]
    assert leaked == ["HTTP_HOST"] or leaked == [], leaked


def test_path_info_is_percent_decoded_bytes_as_latin1(server):
    env = get_json(server, "/environ/caf%C3%A9/a%2Fb%20c")
    # PEP 3333: the decoded bytes, each one a latin-1 character
    assert env["PATH_INFO"] == "/environ/caf\u00c3\u00a9/a/b c"
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/environ/café/a/b c"
    assert env["RAW_URI"] == "/environ/caf%C3%A9/a%2Fb%20c"


def test_duplicate_headers_are_joined_and_underscored_names_dropped(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            b"GET /environ HTTP/1.1\r\nHost: x\r\nX-Dup: one\r\nX-Dup: two\r\n"
            b"Cookie: a=1\r\nCookie: b=2\r\nX_Spoof: evil\r\nX-Spoof: good\r\n\r\n"
        )
        status, _, body, _ = rawhttp.read_response(sock)
    env = json.loads(body)
    assert status == 200
    assert env["HTTP_X_DUP"] == "one, two"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert env["HTTP_X_SPOOF"] == "good"


def test_content_type_and_length_and_http10(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"POST /environ HTTP/1.0\r\nContent-Type: text/x-test\r\nContent-Length: 5\r\n\r\nhello")
        status, _, body, _ = rawhttp.read_response(sock)
    env = json.loads(body)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["CONTENT_TYPE"] == "text/x-test"
    assert env["CONTENT_LENGTH"] == "5"
    assert env["body"] == "hello"
    assert "HTTP_HOST" not in env


def test_header_values_are_latin1_strings(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\nX-Bytes: caf\xc3\xa9\r\n\r\n")
        _, _, body, _ = rawhttp.read_response(sock)
    assert json.loads(body)["HTTP_X_BYTES"] == "caf\u00c3\u00a9"


# -- wsgi.input ------------------------------------------------------------------


def test_read_n_returns_exactly_n_bytes_until_the_end(server):
    body = os.urandom(100_000)
    response = requests.post(server.url + "/read-sizes?1000", data=body, timeout=10)
    result = response.json()
    assert result["total"] == 100_000
    assert result["lengths"] == [1000] * 100
    assert result["head"] == body[:16].decode("latin-1")


def test_chunked_request_body_reads_to_the_end(server):
    def pieces():
        for i in range(50):
            yield b"%04d" % i * 250

    response = requests.post(server.url + "/read-sizes?3000", data=pieces(), timeout=10)
    result = response.json()
    assert result["total"] == 50_000
    assert result["lengths"] == [3000] * 16 + [2000]


def test_readline_readlines_and_iteration(server):
    body = b"first line\nsecond line\nthird\nfourth\nfifth\nno newline at the end"
    response = requests.post(server.url + "/lines", data=body, timeout=10)
    assert response.json() == [
        "first line\n",
        "sec",
        "ond line\n",
        ["third\n"],
        ["fourth\n", "fifth\n", "no newline at the end"],
    ]


def test_expect_100_continue_is_sent_when_the_app_reads(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"POST /read-sizes?5 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"abcde")
        status, _, body, _ = rawhttp.read_response(sock)
    assert status == 200 and json.loads(body)["lengths"] == [5]


def test_unread_body_does_not_break_keep_alive(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
            b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert rawhttp.read_response(sock)[2] == b"ignored"
        assert rawhttp.read_response(sock)[2] == b"fast"


# -- responses --------------------------------------------------------------------


def test_write_callable_then_iterable_is_chunked(server):
    response = requests.get(server.url + "/write", timeout=10)
    assert response.text == "written then iterated"
    assert response.headers["Transfer-Encoding"] == "chunked"


def test_write_with_content_length_is_not_chunked(server):
    response = requests.get(server.url + "/write-length", timeout=10)
    assert response.text == "0123456789"
    assert response.headers["Content-Length"] == "10"
    assert "Transfer-Encoding" not in response.headers


def test_list_body_gets_a_content_length(server):
    response = requests.get(server.url + "/closing-list", timeout=10)
    assert response.text == "listed"
    if "--validate" not in server.args:  # the validator hides the list behind an iterator
        assert response.headers["Content-Length"] == "6"


def test_head_has_headers_and_no_body(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"HEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _, _ = rawhttp.read_response(sock, head_request=True)
        assert status == 200 and headers["content-length"] == str(len("a body HEAD must not carry"))
        # the next response follows at once: no body bytes in between
        assert rawhttp.read_response(sock)[2] == b"fast"


def closed_count(server):
    return int(requests.get(server.url + "/closed-count", timeout=10).text)


def wait_for_closed_count(server, expected):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if closed_count(server) >= expected:
            return True
        time.sleep(0.05)
    return False


def test_close_is_called_after_success_error_and_disconnect(server):
    before = closed_count(server)
    assert requests.get(server.url + "/closing", timeout=10).text == "abc"
    assert requests.get(server.url + "/closing-list", timeout=10).text == "listed"
    assert requests.get(server.url + "/write", timeout=10).text == "written then iterated"
    # an error in the middle of the iteration
    with pytest.raises(requests.exceptions.RequestException):
        _ = requests.get(server.url + "/closing-fails", timeout=10).content  # reading the body fails
    # the client leaves while the body streams
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /closing-slow HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(100)
    assert wait_for_closed_count(server, before + 5), closed_count(server) - before


def test_error_before_start_response_is_a_500_and_the_server_goes_on(server):
    response = requests.get(server.url + "/boom", timeout=10)
    assert response.status_code == 500
    assert requests.get(server.url + "/fast", timeout=10).text == "fast"
    assert "failure before start_response" in server.stderr()


def test_error_before_the_first_chunk_is_a_500(server):
    assert requests.get(server.url + "/closing-fails-first", timeout=10).status_code == 500


def test_error_after_the_response_started_closes_the_connection(server):
    data = rawhttp.exchange(server.port, b"GET /closing-fails HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert not data.endswith(b"0\r\n\r\n")  # never a complete chunked body
    assert "failure inside the iterable" in server.stderr()


def test_exc_info_before_sending_replaces_the_response(server):
    response = requests.get(server.url + "/exc-info-before", timeout=10)
    assert response.status_code == 503 and response.text == "replaced"


def test_exc_info_after_sending_reraises_and_closes(server):
    data = rawhttp.exchange(server.port, b"GET /exc-info-after HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK") and b"first part" in data
    assert b"never" not in data and not data.endswith(b"0\r\n\r\n")
    assert "ValueError: too late" in server.stderr()


def test_start_response_twice_without_exc_info_is_an_error(server):
    assert requests.get(server.url + "/twice", timeout=10).status_code == 500


def test_str_body_is_an_error(server):
    assert requests.get(server.url + "/not-bytes", timeout=10).status_code == 500


def test_body_shorter_than_content_length_closes_and_logs_one_line(server):
    data = rawhttp.exchange(server.port, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 10\r\n" in data
    assert data.endswith(b"\r\n\r\nabc")
    lines = [line for line in server.stderr().splitlines() if "declared Content-Length 10 but sent 3" in line]
    assert len(lines) >= 1 and "GET /short" in lines[0]


# -- wsgi.file_wrapper ------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "length"])
def test_file_wrapper_sends_the_file(server, query):
    response = requests.get(server.url + "/file?" + query, timeout=10)
    assert response.status_code == 200
    assert len(response.content) == 1 << 20
    assert response.content == bytes(range(256)) * 4096
    # a regular file gets its length even when the app gave none (the
    # validator hides the file wrapper behind an iterator)
    if query or "--validate" not in server.args:
        assert response.headers["Content-Length"] == str(1 << 20)


def test_file_wrapper_starts_at_the_current_position(server):
    response = requests.get(server.url + "/file?offset", timeout=10)
    assert response.content == (bytes(range(256)) * 4096)[1000:]
    if "--validate" not in server.args:
        assert response.headers["Content-Length"] == str((1 << 20) - 1000)


def test_file_wrapper_head(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"HEAD /file?length HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _, _ = rawhttp.read_response(sock, head_request=True)
        assert status == 200 and headers["content-length"] == str(1 << 20)
        assert rawhttp.read_response(sock)[2] == b"fast"


def test_many_keep_alive_requests_on_one_connection(server):
    with requests.Session() as session:
        for _ in range(200):
            assert session.get(server.url + "/fast", timeout=10).text == "fast"


def test_pipelined_requests_answer_in_order(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /sleep?0.3 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"slept"
        assert rawhttp.read_response(sock)[2] == b"fast"


def test_ipv6_client_address_and_port(server):
    try:
        sock = socket.create_connection(("::1", server.port), timeout=5)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with sock:
        sock.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = rawhttp.read_response(sock)
        local_port = sock.getsockname()[1]
    env = json.loads(body)
    assert status == 200
    assert env["REMOTE_ADDR"] == "::1" and env["REMOTE_PORT"] == str(local_port)


def test_remote_port_is_the_clients(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n")
        _, _, body, _ = rawhttp.read_response(sock)
        assert json.loads(body)["REMOTE_PORT"] == str(sock.getsockname()[1])


@pytest.mark.parametrize("target", ["/environ/%zz%4/%41%42b%", "/environ/a%00b?x=%00"])
def test_path_info_escapes_decode_as_urllib_does(server, target):
    # Malformed escapes stay as they are; a %00 decodes to a NUL like any byte.
    # (Sent raw: requests would re-quote the malformed escapes.)
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
        status, _, body, _ = rawhttp.read_response(sock)
    assert status == 200
    env = json.loads(body)
    path, _, query = target.partition("?")
    assert env["PATH_INFO"] == unquote_to_bytes(path).decode("latin-1")
    assert env["QUERY_STRING"] == query
    assert env["RAW_URI"] == target


def test_many_long_and_latin1_headers(server):
    names = ["X-Many-%d" % i for i in range(70)] + ["X-" + "l" * 300]
    head = "".join("%s: v%d\r\n" % (name, i) for i, name in enumerate(names)).encode()
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\n" + head + b"\r\n")
        status, _, body, _ = rawhttp.read_response(sock)
    env = json.loads(body)
    assert status == 200
    assert env["HTTP_X_LATIN"] == "caf\u00e9"
    for i, name in enumerate(names):
        assert env["HTTP_" + name.upper().replace("-", "_")] == "v%d" % i
