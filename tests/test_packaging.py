"""The packaging configuration refers to things that exist: the tests the
wheel builds run, the build switches they set, the files the sdist ships."""

import os
import re

from conftest import ROOT

WORKFLOWS = os.path.join(ROOT, ".github", "workflows")


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _present(*parts):
    return os.path.exists(os.path.join(ROOT, *parts))


def test_cibuildwheel_test_command_runs_existing_tests():
    if not _present("pyproject.toml") or not _present("build_native.py"):
        import pytest

        pytest.skip("needs the source tree")
    text = _read("pyproject.toml")
    command = re.search(r'^test-command = "(.*)"$', text, re.M).group(1)
    tests = re.findall(r"\{project\}/(tests/test_\w+\.py)", command)
    assert tests, command
    for test in tests:
        assert _present(test), test
    assert "SOCKETIFY_TEST_INSTALLED=1" in command


def test_build_switches_are_known_to_the_builder():
    """Every SOCKETIFY_* variable the wheel builds set is read by build_native.py."""
    if not _present("build_native.py"):
        import pytest

        pytest.skip("needs the source tree")
    builder = _read("build_native.py")
    used = set(re.findall(r"\b(SOCKETIFY_[A-Z_]+)\b", _read("pyproject.toml") + _read("tools", "build_wheel.sh")))
    assert used, "no build switches found"
    for name in used - {"SOCKETIFY_TEST_INSTALLED"}:
        assert name in builder, name


def test_workflows_use_the_same_test_subset():
    """The sdist job of wheels.yml runs the tests the wheels run."""
    if not _present(".github", "workflows", "wheels.yml"):
        import pytest

        pytest.skip("needs the source tree")
    command = re.search(r'^test-command = "(.*)"$', _read("pyproject.toml"), re.M).group(1)
    wheel_tests = re.findall(r"\{project\}/(tests/test_\w+\.py)", command)
    workflow = _read(".github", "workflows", "wheels.yml")
    for test in wheel_tests:
        assert test in workflow, test
    assert "pypa/cibuildwheel@" in workflow and "id-token: write" in workflow
    assert ".ci/run" in _read(".github", "workflows", "ci.yml")


def test_sdist_manifest_ships_the_native_sources():
    if not _present("MANIFEST.in"):
        import pytest

        pytest.skip("needs the source tree")
    manifest = _read("MANIFEST.in")
    for line in ("include build_native.py", "recursive-include native *.c *.h", "include CHANGELOG.md"):
        assert line in manifest, line


def test_every_python_package_of_the_source_tree_is_shipped():
    """setuptools' explicit package list must name every folder of socketify/
    that holds Python modules, or the wheel silently lacks it."""
    if not _present("socketify", "__init__.py"):
        import pytest

        pytest.skip("needs the source tree")
    listed = re.search(r"^packages = \[(.*?)\]$", _read("pyproject.toml"), re.M).group(1)
    shipped = set(re.findall(r'"([^"]+)"', listed))
    found = set()
    for folder, dirs, files in os.walk(os.path.join(ROOT, "socketify")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if "__init__.py" in files:
            found.add(os.path.relpath(folder, ROOT).replace(os.sep, "."))
    assert found == shipped, (found, shipped)
