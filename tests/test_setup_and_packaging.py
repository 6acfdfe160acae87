"""Set-up as a new user meets it: the build is quiet, what the examples need
is declared, the examples write nothing into the source tree, and an
unbuilt checkout says how to build."""

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT, TEST_INSTALLED, Server, free_port, server_env

# These look at the source tree itself (its build files, an unbuilt copy of
# it): a run against the installed package has only the tests.
needs_source_tree = pytest.mark.skipif(TEST_INSTALLED, reason="needs the source tree, not an installed package")

EXAMPLES = os.path.join(ROOT, "examples")


def _example_files():
    for folder, _, names in os.walk(EXAMPLES):
        for name in names:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


@needs_source_tree
def test_build_configuration_prints_no_deprecation_warning():
    out = subprocess.run(
        [sys.executable, "setup.py", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr and "deprecated" not in out.stderr, out.stderr


def test_license_is_an_spdx_string():
    assert _pyproject()["project"]["license"] == "MIT"


@needs_source_tree
def test_the_makefile_shows_the_build_output_unfiltered():
    makefile = open(os.path.join(ROOT, "Makefile")).read()
    build = [line for line in makefile.splitlines() if "build_ext --inplace" in line]
    assert build and all("grep" not in line for line in build), build


def _is_stdlib(name):
    """Whether ``name`` is a standard-library module (sys.stdlib_module_names
    is 3.10+; on 3.9, where its spec lives tells)."""
    if hasattr(sys, "stdlib_module_names"):
        return name in sys.stdlib_module_names
    if name in sys.builtin_module_names:
        return True
    import importlib.util
    import sysconfig

    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None and spec.origin else ""
    stdlib = sysconfig.get_paths()["stdlib"]
    return origin.startswith(stdlib) and "site-packages" not in origin


def test_every_package_the_examples_import_is_declared():
    declared = {
        re.split(r"[<>=!~ \[]", req)[0].lower() for req in _pyproject()["project"]["optional-dependencies"]["examples"]
    }
    local = {os.path.splitext(name)[0] for _, dirs, names in os.walk(EXAMPLES) for name in names + dirs}
    needed = {}
    for path in _example_files():
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if not _is_stdlib(top) and top not in local and top != "socketify":
                    needed.setdefault(top, os.path.relpath(path, ROOT))
    assert needed, "the examples use msgpack and cryptography"
    missing = {name: where for name, where in needed.items() if name.lower() not in declared}
    assert not missing, "imported by examples but not in the examples extra: %r" % missing


def test_no_example_waits_for_an_api_that_exists():
    stale = [os.path.relpath(path, ROOT) for path in _example_files() if "once released" in open(path).read()]
    assert not stale


def test_https_example_writes_its_keys_to_a_temporary_directory(tmp_path):
    misc = os.path.join(EXAMPLES, "misc")
    before = set(os.listdir(misc))
    port = free_port()
    source = open(os.path.join(EXAMPLES, "https.py")).read()
    path = tmp_path / "example_https.py"
    # run from a copy whose make_certs import still finds examples/misc
    path.write_text(
        source.replace("app.listen(3000", "app.listen(%d" % port).replace(
            "os.path.dirname(os.path.abspath(__file__))", repr(EXAMPLES)
        )
    )
    env = {k: "" for k in ("SOCKETIFY_KEY_FILE", "SOCKETIFY_CERT_FILE")}
    server = Server(str(path), env=env, cwd=str(tmp_path), ready_prefix="Listening on port").start()
    try:
        cert_line = [line for line in server.stdout_lines if line.startswith("certificate: ")]
        assert cert_line, server.stdout_lines
        cert = cert_line[0].split(": ", 1)[1].strip()
        assert os.path.commonpath([cert, tempfile.gettempdir()]) == tempfile.gettempdir()
        assert os.path.exists(cert)
        out = subprocess.run(
            ["curl", "-s", "--cacert", cert, "https://localhost:%d/" % port], capture_output=True, timeout=20
        )
        assert out.stdout == b"Hello World socketify from Python over HTTPS!", out.stderr
    finally:
        import signal

        assert server.stop(signal.SIGINT) == 0, server.stderr()
    assert set(os.listdir(misc)) == before, "nothing new in examples/misc"
    assert not os.path.exists(os.path.dirname(cert)), "the key directory is removed on exit"


@needs_source_tree
def test_importing_an_unbuilt_checkout_says_how_to_build(tmp_path):
    copy = tmp_path / "socketify"
    shutil.copytree(
        os.path.join(ROOT, "socketify"),
        str(copy),
        ignore=shutil.ignore_patterns("_native*", "__pycache__", ".native.stamp"),
    )
    env = server_env()
    env["PYTHONPATH"] = str(tmp_path)
    # -S: no site-packages, so no installed (or editable) socketify to fall back on
    out = subprocess.run(
        [sys.executable, "-S", "-c", "import socketify"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError:"), out.stderr
    assert "make build" in last and "pip install ." in last, last
