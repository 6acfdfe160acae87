"""multipart/form-data: the sans-IO parser, then parse_multipart on a real server."""

import asyncio
import hashlib
import json
import os
import random
import time

import aiohttp
import pytest

from socketify.multipart import (
    PART_BEGIN,
    PART_DATA,
    PART_END,
    FormDict,
    MultipartError,
    MultipartParser,
    get_boundary,
    parse_options_header,
)

import rawhttp
from conftest import HERE, Server

B = "----socketifyBoundary7MA4YWxk"


def part(name, data, filename=None, content_type=None, extra=b""):
    """One part as browsers send it (UTF-8 names and file names, unescaped)."""
    disposition = b'Content-Disposition: form-data; name="%s"' % name.encode()
    if filename is not None:
        disposition += b'; filename="%s"' % filename.encode()
    head = disposition + b"\r\n"
    if content_type:
        head += b"Content-Type: %s\r\n" % content_type.encode()
    return head + extra + b"\r\n" + data


def body(*parts, boundary=B, preamble=b"", epilogue=b""):
    b = boundary.encode()
    out = preamble + (b"\r\n" if preamble else b"")
    for p in parts:
        out += b"--" + b + b"\r\n" + p + b"\r\n"
    return out + b"--" + b + b"--" + epilogue


# Content that looks like the delimiter without being it.
TRICKY = (
    b"a\r\n--"
    + B[:-1].encode()
    + b"\r\n\r\r\n-\r\n--\r"
    + b"--"
    + B.encode()
    + b"x"
    + b"\r" * 3
    + b"\r\n--"
    + B[:10].encode()
)
SAMPLE = body(
    part("title", "héllo wörld".encode()),
    part("empty", b""),
    part("doc", TRICKY, filename="nötes.txt", content_type="text/plain"),
    part("blob", bytes(range(256)) * 4, filename="data.bin", content_type="application/octet-stream"),
    part("doc", b"second file", filename="", content_type="text/plain"),
    preamble=b"This is the preamble.\r\nIgnore it.",
    epilogue=b"\r\nThis is the epilogue.",
)


def collect(chunks, boundary=B, **limits):
    """Feeds ``chunks``; returns [(name, filename, content_type, data)] in order."""
    parser = MultipartParser(boundary, **limits)
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    parts = []
    for kind, p, data in events:
        if kind == PART_BEGIN:
            parts.append([p.name, p.filename, p.content_type, b""])
        elif kind == PART_DATA:
            assert data, "no empty data events"
            parts[-1][3] += data
        else:
            assert kind == PART_END and p.size == len(parts[-1][3])
    return [tuple(p) for p in parts]


EXPECTED = [
    ("title", None, None, "héllo wörld".encode()),
    ("empty", None, None, b""),
    ("doc", "nötes.txt", "text/plain", TRICKY),
    ("blob", "data.bin", "application/octet-stream", bytes(range(256)) * 4),
    ("doc", "", "text/plain", b"second file"),
]


# -- the sans-IO parser ---------------------------------------------------------------


def test_parser_whole_body():
    assert collect([SAMPLE]) == EXPECTED


def test_parser_byte_by_byte():
    assert collect([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]) == EXPECTED


def test_parser_split_at_every_position():
    for i in range(len(SAMPLE) + 1):
        assert collect([SAMPLE[:i], SAMPLE[i:]]) == EXPECTED, i


def test_parser_split_twice_around_every_delimiter():
    delimiter = b"\r\n--" + B.encode()
    starts = [i for i in range(len(SAMPLE)) if SAMPLE.startswith(delimiter, i)]
    for start in starts:
        for i in range(start - 2, start + len(delimiter) + 4):
            for j in range(i, start + len(delimiter) + 6):
                assert collect([SAMPLE[:i], SAMPLE[i:j], SAMPLE[j:]]) == EXPECTED, (i, j)


def test_parser_random_chunkings():
    rng = random.Random(7)
    for _ in range(200):
        chunks, pos = [], 0
        while pos < len(SAMPLE):
            size = rng.choice([1, 2, 3, 5, 8, 40, 41, 100, 1000])
            chunks.append(SAMPLE[pos : pos + size])
            pos += size
        assert collect(chunks) == EXPECTED


def test_parser_data_arrives_in_constant_memory():
    """A big part is reported as it arrives, never held whole."""
    parser = MultipartParser(B)
    head = b"--" + B.encode() + b'\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\n'
    events = parser.feed(head)
    assert [e[0] for e in events] == [PART_BEGIN]
    received = 0
    for _ in range(1000):
        events = parser.feed(b"x" * 10000)
        received += sum(len(d) for kind, p, d in events if kind == PART_DATA)
        assert len(parser._buffer) < 100
    assert received == 1000 * 10000
    events = parser.feed(b"\r\n--" + B.encode() + b"--\r\n")
    assert [e[0] for e in events] == [PART_END] and parser.complete


def test_parser_callbacks_match_events():
    seen = []
    parser = MultipartParser(
        B,
        on_part_begin=lambda p: seen.append(("begin", p.name)),
        on_data=lambda p, d: seen.append(("data", p.name, d)),
        on_part_end=lambda p: seen.append(("end", p.name)),
    )
    events = []
    for i in range(0, len(SAMPLE), 7):
        events.extend(parser.feed(SAMPLE[i : i + 7]))
    parser.close()
    as_tuples = [
        ("begin", p.name) if k == PART_BEGIN else ("end", p.name) if k == PART_END else ("data", p.name, d)
        for k, p, d in events
    ]
    assert seen == as_tuples and seen[0] == ("begin", "title") and seen[-1] == ("end", "doc")


def test_parser_first_boundary_without_preamble_and_padding():
    raw = b"--" + B.encode() + b"  \t\r\n" + part("a", b"1") + b"\r\n--" + B.encode() + b"--"
    assert collect([raw]) == [("a", None, None, b"1")]


def test_parser_epilogue_and_trailing_garbage_are_ignored():
    parser = MultipartParser(B)
    parser.feed(body(part("a", b"1")))
    assert parser.complete
    assert parser.feed(b"\r\nanything at all --" + B.encode()) == []
    parser.close()


def test_parser_part_headers():
    raw = body(part("f", b"x", extra=b"X-Extra:  spaced value \r\nContent-Type: text/plain; charset=latin-1\r\n"))
    parser = MultipartParser(B)
    events = parser.feed(raw)
    p = events[0][1]
    assert p.headers["x-extra"] == "spaced value"
    assert p.content_type == "text/plain" and p.charset == "latin-1"
    assert not p.is_file


def test_parser_filename_forms():
    def first_part(disposition):
        raw = body(b"Content-Disposition: " + disposition + b"\r\n\r\ndata")
        return MultipartParser(B).feed(raw)[0][1]

    assert first_part(b'form-data; name="a"; filename="x.txt"').filename == "x.txt"
    assert first_part(b'form-data; name="a"; filename=""').filename == ""
    assert first_part(b'form-data; name="a"; filename=""').is_file
    assert first_part(b'form-data; name="a"').filename is None
    assert first_part(b'form-data; name="a"; filename="C:\\Users\\me\\pic.png"').filename == "pic.png"
    assert first_part(b'form-data; name="a"; filename="say \\"hi\\".txt"').filename == 'say "hi".txt'
    assert first_part(b"form-data; name=a; filename=plain.txt").filename == "plain.txt"
    assert (
        first_part(b'form-data; name="a"; filename="fallback.txt"; filename*=UTF-8\'\'%C3%A9t%C3%A9.txt').filename
        == "été.txt"
    )
    assert first_part('form-data; name="ünï"; filename="日本.txt"'.encode()).name == "ünï"
    assert first_part('form-data; name="ünï"; filename="日本.txt"'.encode()).filename == "日本.txt"
    assert first_part(b'FORM-DATA; NAME="upper"').name == "upper"


def test_parser_folded_header_is_unfolded():
    raw = body(b'Content-Disposition: form-data;\r\n name="folded"\r\n\r\nv')
    assert collect([raw]) == [("folded", None, None, b"v")]


@pytest.mark.parametrize(
    "raw,message",
    [
        (body(part("a", b"1"))[:-2], "closing boundary"),  # no closing --
        (b"no boundary anywhere", "closing boundary"),
        (b"", "closing boundary"),
        (body(part("a", b"1")), None),  # sanity: valid
        (b"--" + B.encode() + b"X\r\n" + part("a", b"1") + b"\r\n--" + B.encode() + b"--", "boundary"),
        (
            b"--" + B.encode() + b"\r\n" + b"Content-Type: text/plain\r\n\r\nx\r\n--" + B.encode() + b"--",
            "Content-Disposition",
        ),
        (body(b'Content-Disposition: attachment; name="a"\r\n\r\nx'), "form-data"),
        (body(b'Content-Disposition: form-data; filename="a"\r\n\r\nx'), "no name"),
        (body(b'Content-Disposition form-data; name="a"\r\n\r\nx'), "invalid part header"),
        (body(b'Content-Disposition: form-data; name="a"\nX: y\r\n\r\nx'), "line ending"),
        (body(b'Bad Name: v\r\nContent-Disposition: form-data; name="a"\r\n\r\nx'), "invalid part header"),
        (body(b"\r\nx"), "Content-Disposition"),
    ],
)
def test_parser_rejects_malformed_bodies(raw, message):
    if message is None:
        collect([raw])
        return
    for chunks in ([raw], [raw[i : i + 1] for i in range(len(raw))]):
        with pytest.raises(MultipartError, match=message):
            collect(chunks)


def test_parser_limits():
    many = body(*(part("f%d" % i, b"v") for i in range(5)))
    assert len(collect([many], max_parts=5)) == 5
    with pytest.raises(MultipartError, match="more than 4 parts"):
        collect([many], max_parts=4)
    big_field = body(part("f", b"x" * 101))
    assert collect([big_field], max_field_size=101)
    with pytest.raises(MultipartError, match="larger than 100"):
        collect([big_field], max_field_size=100)
    big_file = body(part("f", b"x" * 1001, filename="a"))
    assert collect([big_file], max_file_size=1001, max_field_size=10)  # files are not fields
    with pytest.raises(MultipartError, match="larger than 1000"):
        collect([big_file], max_file_size=1000)
    long_header = body(part("f", b"x", extra=b"X-Long: " + b"y" * 300 + b"\r\n"))
    with pytest.raises(MultipartError, match="headers larger"):
        collect([long_header], max_header_size=200)
    with pytest.raises(MultipartError, match="headers larger"):  # also when it never ends
        collect([long_header[i : i + 1] for i in range(len(long_header))], max_header_size=200)
    unlimited = dict(max_parts=None, max_header_size=None, max_file_size=None, max_field_size=None)
    assert len(collect([many + b""], **unlimited)) == 5


def test_parser_is_dead_after_an_error():
    parser = MultipartParser(B)
    with pytest.raises(MultipartError):
        parser.feed(b"--" + B.encode() + b"!!")
    with pytest.raises(MultipartError):
        parser.feed(b"more")
    with pytest.raises(MultipartError):
        parser.close()


@pytest.mark.parametrize("boundary", ["", "a\r\nb", "x" * 201, "bé"])
def test_parser_rejects_bad_boundaries(boundary):
    with pytest.raises(MultipartError):
        MultipartParser(boundary)


def test_get_boundary_and_options():
    assert get_boundary("multipart/form-data; boundary=abc") == b"abc"
    assert get_boundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"') == b"a b:c"
    for bad in (None, "", "text/plain; boundary=abc", "multipart/form-data", "multipart/mixed; boundary=x"):
        with pytest.raises(MultipartError):
            get_boundary(bad)
    assert parse_options_header('form-data; name="a;b"; x=1') == ("form-data", {"name": "a;b", "x": "1"})
    assert parse_options_header("text/plain") == ("text/plain", {})
    assert parse_options_header(None) == ("", {})


def test_form_dict():
    d = FormDict()
    d.add("a", "1")
    d.add("a", "2")
    d.add("b", "3")
    assert d == {"a": "1", "b": "3"} and d.getlist("a") == ["1", "2"] and d.getlist("zz") == []


# -- parse_multipart on a real server -------------------------------------------------


@pytest.fixture(scope="module")
def upload_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("uploads"))


@pytest.fixture(scope="module")
def server(upload_dir):
    server = Server(os.path.join(HERE, "apps", "mw_multipart_app.py"), [upload_dir]).start()
    yield server
    server.stop()
    server.check_clean()


def post(server, path, data=None, **kwargs):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.post(server.url + path, data=data, **kwargs) as r:
                return r.status, await r.read()

    return asyncio.run(go())


def form(*fields, files=()):
    data = aiohttp.FormData()
    for name, value in fields:
        data.add_field(name, value)
    for name, filename, content, content_type in files:
        data.add_field(name, content, filename=filename, content_type=content_type)
    return data


def sha(data):
    return hashlib.sha256(data).hexdigest()


def leftovers(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/leftovers") as r:
                return (await r.json())["files"]

    return asyncio.run(go())


def test_upload_fields_and_files(server):
    big = os.urandom(2 * 1024 * 1024 + 17)
    status, raw = post(
        server,
        "/upload",
        form(
            ("name", "Ana"),
            ("city", "São Paulo"),
            ("tag", "a"),
            ("tag", "b"),
            files=[
                ("avatar", "me.png", big, "image/png"),
                ("docs", "a.txt", b"first", "text/plain"),
                ("docs", "b.txt", b"second", "text/plain"),
                ("empty", "nothing.bin", b"", "application/octet-stream"),
            ],
        ),
    )
    assert status == 200, raw
    result = json.loads(raw)
    assert result["fields"] == {"name": "Ana", "city": "São Paulo", "tag": "a"}
    assert result["field_lists"]["tag"] == ["a", "b"]
    (avatar,) = result["files"]["avatar"]
    assert avatar == {
        "filename": "me.png",
        "content_type": "image/png",
        "size": len(big),
        "sha256": sha(big),
        "in_upload_dir": True,
    }
    assert [d["filename"] for d in result["files"]["docs"]] == ["a.txt", "b.txt"]
    assert [d["sha256"] for d in result["files"]["docs"]] == [sha(b"first"), sha(b"second")]
    assert result["files"]["empty"][0]["size"] == 0
    assert leftovers(server) == []


def test_upload_over_chunked_encoding_in_tiny_pieces(server):
    raw = SAMPLE
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=" + B.encode() + b"\r\n\r\n"
        )
        for i in range(0, len(raw), 13):
            piece = raw[i : i + 13]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        status, headers, response, _ = rawhttp.read_response(sock)
    assert status == 200, response
    result = json.loads(response)
    assert result["fields"] == {"title": "héllo wörld", "empty": ""}
    assert [d["sha256"] for d in result["files"]["doc"]] == [sha(TRICKY), sha(b"second file")]
    assert result["files"]["blob"][0]["size"] == 1024
    assert [d["filename"] for d in result["files"]["doc"]] == ["nötes.txt", ""]


def test_upload_streamed_to_on_file(server):
    big = os.urandom(3 * 1024 * 1024)
    for mode in ("sync", "async"):
        status, raw = post(
            server,
            "/upload/stream/" + mode,
            form(
                ("note", "hi"),
                files=[("big", "big.bin", big, "application/octet-stream"), ("small", "s.txt", b"tiny", "text/plain")],
            ),
        )
        assert status == 200, raw
        result = json.loads(raw)
        assert result["fields"] == {"note": "hi"}
        assert result["hashes"] == {"big": sha(big), "small": sha(b"tiny")}
        assert result["sizes"] == {"big": len(big), "small": 4}
        assert result["reported_sizes"] == {"big": len(big), "small": 4}
        assert result["ends"] == ["big", "small"] and result["stored"] == [None, None]
    assert leftovers(server) == []


@pytest.mark.parametrize(
    "content_type,payload,message",
    [
        ("text/plain", b"hello", "not multipart/form-data"),
        ("multipart/form-data", b"x", "without a boundary"),
        ("multipart/form-data; boundary=" + B, b"garbage without boundary", "closing boundary"),
        ("multipart/form-data; boundary=" + B, b"", "closing boundary"),
        ("multipart/form-data; boundary=" + B, body(part("f", b"data", filename="f.bin"))[:-10], "closing boundary"),
        ("multipart/form-data; boundary=" + B, body(b"Content-Type: x\r\n\r\ny"), "Content-Disposition"),
        ("multipart/form-data; boundary=" + B, body(part("f", b"\xff\xfe")), "not valid utf-8"),
    ],
)
def test_malformed_uploads_are_400(server, content_type, payload, message):
    status, raw = post(server, "/upload", payload, headers={"Content-Type": content_type})
    assert status == 400 and message in raw.decode()
    assert leftovers(server) == []


@pytest.mark.parametrize(
    "payload,message",
    [
        (body(*(part("f%d" % i, b"v") for i in range(4))), "more than 3 parts"),
        (body(part("f", b"x" * 101)), "larger than 100 bytes"),
        (body(part("f", b"x" * 5000, filename="big.bin")), "larger than 1000 bytes"),
        (body(part("f", b"x", extra=b"X-Long: " + b"y" * 300 + b"\r\n")), "headers larger than 200"),
    ],
)
def test_upload_limits_are_400(server, payload, message):
    status, raw = post(
        server, "/upload/limits", payload, headers={"Content-Type": "multipart/form-data; boundary=" + B}
    )
    assert status == 400 and message in raw.decode(), raw
    assert leftovers(server) == []


def test_limit_hit_early_in_a_big_upload(server):
    """The 400 goes out while the client is still sending; temp files are removed."""
    payload = body(part("f", os.urandom(4 * 1024 * 1024), filename="big.bin"))
    status, raw = post(
        server, "/upload/limits", payload, headers={"Content-Type": "multipart/form-data; boundary=" + B}
    )
    assert status == 400 and b"larger than 1000 bytes" in raw
    assert leftovers(server) == []


def test_client_leaving_mid_upload_removes_the_temp_file(server):
    head = body(part("f", b"", filename="partial.bin"))
    head = head[: head.index(b"\r\n--" + B.encode() + b"--")]
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n"
            b"Content-Type: multipart/form-data; boundary=" + B.encode() + b"\r\n\r\n" + head
        )
        sent = 0
        while sent < 1_000_000:
            sock.sendall(b"z" * 65536)
            sent += 65536
        # wait until the server stored part of it
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not leftovers(server):
            pass
        assert len(leftovers(server)) == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and leftovers(server):
        pass
    assert leftovers(server) == []
    assert post(server, "/upload", form(files=[("ok", "ok.txt", b"yes", "text/plain")]))[0] == 200
