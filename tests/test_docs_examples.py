"""Documentation that cannot rot: every Python code block in docs/ and
README.md is run, unless the line right before its fence is
``<!-- fragment -->``.

A block that serves (it calls ``.listen(3000...)`` or ``.run()``) is started
as a server with the port rewritten to a free one, requested, then stopped
with SIGINT, which must end it cleanly (exit 0, no traceback). The requests
are the ``<!-- check: ... -->`` lines right after the closing fence:

    <!-- check: GET /user/7 -> 200 "user 7" -->
    <!-- check: POST /echo body "hi" header "X-Token: 1" -> 200 "hi" -->
    <!-- check: POST /upload file "photo=cat.txt:meow" -> 200 "cat.txt" -->
    <!-- check: HTTPS GET / -> 200 "Hello" -->
    <!-- check: HTTPS GET / host "localhost" -> 200 "Hello" -->   (SNI: localhost)
    <!-- check: WS /chat "hello" -> "hello" -->
    <!-- check: EXITS -->   (the program ends by itself; it must exit 0)
    <!-- check: STDOUT "run() returned" -->   (the program prints this)

(a GET reads only until the expected text arrives, so endless streams such
as Server-Sent Events can be checked; ``\n`` in the text is a newline). A serving block without checks gets
one: ``GET /`` answered with a status below 500. Any other block runs as a
script and must exit 0. Blocks run in a temporary directory holding
``key.pem``/``cert.pem`` (passphrase ``1234``) for the TLS examples, plus a
``public/`` folder and a ``templates/`` folder for the static-file and
template examples.
"""

import glob
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import HERE, ROOT, free_port, server_env, stop_process

FRAGMENT = "<!-- fragment -->"
CHECK = re.compile(r"^<!--\s*check:\s*(.*?)\s*-->\s*$")
FENCE_OPEN = re.compile(r"^(\s*)(```+|~~~+)\s*(python|py|python3)\s*$")
SERVES = re.compile(r"\.listen\(|\.run\(\)")


class Block:
    """One fenced Python block of a Markdown file."""

    def __init__(self, path, line, source, fragment, checks):
        self.path = path
        self.line = line
        self.source = source
        self.fragment = fragment
        self.checks = checks

    @property
    def name(self):
        return "%s:%d" % (os.path.relpath(self.path, ROOT), self.line)


def parse_blocks(path, text=None):
    """The Python blocks of a Markdown file, in order."""
    if text is None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match.group(1), match.group(2)
        start = i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1  # the closing fence
        checks = []
        while i < len(lines) and CHECK.match(lines[i].strip()):
            checks.append(CHECK.match(lines[i].strip()).group(1))
            i += 1
        fragment = start > 0 and lines[start - 1].strip() == FRAGMENT
        blocks.append(Block(path, start + 1, "\n".join(body) + "\n", fragment, checks))
    return blocks


def documents():
    paths = [os.path.join(ROOT, "README.md")]
    paths += sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    return [p for p in paths if os.path.exists(p)]


def all_blocks():
    return [b for path in documents() for b in parse_blocks(path)]


# -- checks ------------------------------------------------------------------------------


class Check:
    """A parsed ``check:`` line."""

    def __init__(self, text):
        words = shlex.split(text, posix=True)
        self.text = text
        self.tls = bool(words) and words[0] == "HTTPS"
        if self.tls:
            words = words[1:]
        if "->" not in words:
            raise ValueError("check without '->': %r" % text)
        arrow = words.index("->")
        request, expect = words[:arrow], words[arrow + 1 :]
        self.method, self.path = request[0], request[1]
        self.body = None
        self.headers = {}
        self.files = {}
        self.message = None
        self.host = "127.0.0.1"
        self.ca_file = True  # the test certificate, set by run_block
        rest = request[2:]
        if self.method == "WS":
            self.message = rest[0] if rest else ""
            rest = []
        while rest:
            key, value = rest[0], rest[1]
            rest = rest[2:]
            if key == "body":
                self.body = value.encode()
            elif key == "header":
                name, _, val = value.partition(":")
                self.headers[name.strip()] = val.strip()
            elif key == "host":
                self.host = value
            elif key == "file":
                field, _, spec = value.partition("=")
                filename, _, content = spec.partition(":")
                self.files[field] = (filename, content.encode())
            else:
                raise ValueError("unknown check word %r in %r" % (key, text))
        self.status = None
        self.expect = None
        for word in expect:
            if word.isdigit() and self.status is None and self.method != "WS":
                self.status = int(word)
            else:
                self.expect = word.replace("\\n", "\n").replace("\\r", "\r")


def _http(check, port):
    """Performs an HTTP check; reads the body only until the expected text
    shows up, so an endless stream (SSE) can be checked too."""
    import requests

    scheme = "https" if check.tls else "http"
    url = "%s://%s:%d%s" % (scheme, check.host, port, check.path)
    kwargs = dict(headers=check.headers, timeout=10, stream=True, verify=check.ca_file, allow_redirects=False)
    if check.files:
        kwargs["files"] = check.files
    elif check.body is not None:
        kwargs["data"] = check.body
    with requests.request(check.method, url, **kwargs) as response:
        if check.status is not None:
            assert response.status_code == check.status, (check.text, response.status_code)
        else:
            assert response.status_code < 500, (check.text, response.status_code)
        if check.expect is None:
            return
        seen = b""
        deadline = time.monotonic() + 10
        for piece in response.iter_content(chunk_size=None):
            seen += piece
            if check.expect.encode() in seen:
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError("%r not in the body %r" % (check.expect, seen[:2000]))


def _ws(check, port):
    import websocket

    ws = websocket.create_connection("ws://127.0.0.1:%d%s" % (port, check.path), timeout=10)
    try:
        ws.send(check.message)
        received = ws.recv()
        if isinstance(received, bytes):
            received = received.decode("utf-8", "replace")
        assert check.expect is None or check.expect in received, (check.text, received)
    finally:
        ws.close()


# -- running -----------------------------------------------------------------------------


def _workdir(tmp_path):
    """The directory a block runs in: certificates, a public/ and a templates/ folder."""
    sys.path.insert(0, os.path.join(ROOT, "examples", "misc"))
    try:
        from make_certs import make_certs
    finally:
        sys.path.pop(0)
    make_certs(str(tmp_path))
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("<h1>Hello from a file</h1>\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "hello.html").write_text("<p>Hello, {{ name }}!</p>\n")
    return tmp_path


def _rewrite_port(source, port):
    source = re.sub(r"\.listen\(\s*3000\b", ".listen(%d" % port, source)
    return re.sub(r"([\"']port[\"']\s*:\s*)3000\b", r"\g<1>%d" % port, source)


def _wait_listening(proc, port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _wait_output(path, text, name, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError("%s: %r not printed; stdout:\n%s" % (name, text, path.read_text()))


def run_block(block, tmp_path):
    """Runs one block as its section of the docstring says; raises on failure."""
    workdir = _workdir(tmp_path)
    script = workdir / "block.py"
    env = server_env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], HERE])
    if not SERVES.search(block.source):
        script.write_text(block.source)
        out = subprocess.run(
            [sys.executable, str(script)], cwd=str(workdir), env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, "%s failed:\n%s%s" % (block.name, out.stdout, out.stderr)
        return
    port = free_port()
    script.write_text(_rewrite_port(block.source, port))
    err_path = workdir / "stderr.txt"
    out_path = workdir / "stdout.txt"
    with open(err_path, "w") as err:
        with open(out_path, "w") as out:
            proc = subprocess.Popen([sys.executable, str(script)], cwd=str(workdir), env=env, stdout=out, stderr=err)
    try:
        assert _wait_listening(proc, port), "%s did not listen on the rewritten port %d:\n%s" % (
            block.name,
            port,
            err_path.read_text(),
        )
        for text in block.checks or ["GET / ->"]:
            if text == "EXITS":  # the program stops by itself (e.g. app.close() from a route)
                proc.wait(15)
                continue
            if text.startswith("STDOUT "):  # the program prints this (within 10 s)
                _wait_output(out_path, shlex.split(text)[1], block.name)
                continue
            check = Check(text)
            check.ca_file = str(workdir / "cert.pem")
            try:
                (_ws if check.method == "WS" else _http)(check, port)
            except AssertionError as error:
                stderr = err_path.read_text()
                raise AssertionError("%s: %s\nserver stderr:\n%s" % (block.name, error, stderr)) from error
    finally:
        stop_process(proc, signal.SIGINT, 15)
    stderr = err_path.read_text()
    assert proc.returncode == 0, "%s exited with %s after SIGINT:\n%s" % (block.name, proc.returncode, stderr)
    assert "Traceback" not in stderr, "%s logged an error:\n%s" % (block.name, stderr)


BLOCKS = all_blocks()


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.fragment], ids=lambda b: b.name)
def test_block_runs(block, tmp_path):
    run_block(block, tmp_path)


def test_blocks_found():
    """The collector sees the documentation (an empty parametrization would
    pass silently)."""
    runnable = [b for b in BLOCKS if not b.fragment]
    assert len(runnable) >= 1, [b.name for b in BLOCKS]
    if os.path.isdir(os.path.join(ROOT, "docs")):
        assert any(b.path.startswith(os.path.join(ROOT, "docs")) for b in runnable)


def test_fragments_have_no_checks():
    """A check after a fragment would never run: a mistake to report."""
    wrong = [b.name for b in BLOCKS if b.fragment and b.checks]
    assert not wrong, wrong


def test_checks_parse():
    for block in BLOCKS:
        for text in block.checks:
            if text != "EXITS" and not text.startswith("STDOUT "):
                Check(text)


def test_parser_and_runner_catch_an_unmarked_broken_block(tmp_path):
    """The rule itself: an unmarked block that does not run fails, a marked
    one is skipped, and checks are read from the lines after the fence."""
    text = (
        "intro\n\n```python\nundefined_name\n```\n\n"
        "<!-- fragment -->\n```python\nundefined_name\n```\n\n"
        "```py\nprint('ok')\n```\n<!-- check: GET / -> 200 \"x\" -->\n"
    )
    blocks = parse_blocks(str(tmp_path / "doc.md"), text)
    assert [(b.fragment, b.checks) for b in blocks] == [(False, []), (True, []), (False, ['GET / -> 200 "x"'])]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(AssertionError, match="failed"):
        run_block(blocks[0], tmp_path / "a")
    run_block(blocks[2], tmp_path / "b")


def test_a_server_block_is_requested(tmp_path):
    """A serving block is really requested: a wrong expectation fails."""
    source = (
        "from socketify import App\napp = App()\napp.get('/', lambda res, req: res.end('hi'))\n"
        "app.listen(3000, lambda config: print('listening', flush=True))\napp.run()\n"
    )
    good = Block("x.md", 1, source, False, ['GET / -> 200 "hi"', 'STDOUT "listening"'])
    bad = Block("x.md", 1, source, False, ['GET / -> 200 "bye"'])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    run_block(good, tmp_path / "a")
    with pytest.raises(AssertionError):
        run_block(bad, tmp_path / "b")
