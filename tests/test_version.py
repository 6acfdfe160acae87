"""socketify.__version__: the installed metadata's, or the checkout's
pyproject.toml when imported from the source tree, never pkg_resources."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, TEST_INSTALLED, server_env

# PEP 440 public versions plus an optional local part (0+unknown).
PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$")


def _in_server_env(code):
    """Runs ``code`` where the test servers run (same interpreter and path)."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=server_env(),
        cwd=os.path.dirname(ROOT),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _pyproject_version():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        return re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M).group(1)


def test_version_is_a_pep440_string():
    version = _in_server_env("import socketify; print(socketify.__version__)")
    assert PEP440.match(version), version
    assert version != "0+unknown"


def test_version_without_pkg_resources():
    """Importing socketify must not import pkg_resources (deprecated, slow)."""
    out = _in_server_env("import sys, socketify; print('pkg_resources' in sys.modules)")
    assert out == "False"


@pytest.mark.skipif(TEST_INSTALLED, reason="the source tree is not imported in this run")
def test_source_tree_version_is_pyproject_version():
    out = _in_server_env("import socketify; print(socketify.__version__)")
    assert out == _pyproject_version()


@pytest.mark.skipif(not TEST_INSTALLED, reason="only meaningful against an installed package")
def test_installed_package_is_the_one_under_test():
    """Under make wheel-test the servers import the installed package (not
    the checkout), and its version is its metadata's."""
    out = _in_server_env(
        "import socketify, socketify._native as n, importlib.metadata as m;"
        "print(socketify.__file__); print(n.__file__); print(socketify.__version__);"
        "print(m.version('socketify'))"
    )
    package, native, version, metadata = out.splitlines()
    assert not package.startswith(ROOT + os.sep), package
    assert "site-packages" in package and "site-packages" in native, out
    assert version == metadata == _pyproject_version()


def test_version_sources(tmp_path, monkeypatch):
    """The fallbacks in order: a socketify pyproject.toml, the metadata, 0+unknown."""
    from socketify import _version

    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\n\n[project]\nname = "socketify"\nversion = "9.8.7"\n\n[tool.x]\nversion = "1"\n'
    )
    assert _version._source_tree_version(str(tmp_path)) == "9.8.7"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "1.0"\n')
    assert _version._source_tree_version(str(tmp_path)) is None
    assert _version._source_tree_version(str(tmp_path / "missing")) is None
    monkeypatch.setattr(_version, "_source_tree_version", lambda: None)
    monkeypatch.setattr(_version, "_metadata_version", lambda: None)
    assert _version.get_version() == "0+unknown"


def test_cli_version():
    """``python -m socketify --version`` prints socketify.__version__ (the CLI
    is another change; this test runs once it exists)."""
    if _in_server_env("import importlib.util as u; print(u.find_spec('socketify.__main__') is not None)") != "True":
        pytest.skip("python -m socketify does not exist on this branch yet")
    version = _in_server_env("import socketify; print(socketify.__version__)")
    out = subprocess.run(
        [sys.executable, "-m", "socketify", "--version"],
        capture_output=True,
        text=True,
        env=server_env(),
        cwd=os.path.dirname(ROOT),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert version in out.stdout
