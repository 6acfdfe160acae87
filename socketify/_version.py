"""The version a user sees as ``socketify.__version__``.

An installed package (wheel, sdist, ``pip install .``) answers from its
metadata. A checkout imported straight from the source tree (PYTHONPATH, or
an editable install) answers from its own ``pyproject.toml`` instead: the
metadata there may belong to another installed copy, or be missing. With
neither, the version is ``0+unknown`` (a valid PEP 440 local version that
sorts below every release).
"""

from __future__ import annotations

import os
import re

UNKNOWN = "0+unknown"
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _source_tree_version(root: str = _SOURCE_ROOT) -> str | None:
    """The ``[project]`` version in ``root/pyproject.toml`` when that file is
    socketify's own, else None (read with a regex: tomllib is 3.11+)."""
    try:
        with open(os.path.join(root, "pyproject.toml"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if project is None:
        return None
    body = project.group(1)
    name = re.search(r'^name\s*=\s*"([^"]+)"', body, re.M)
    version = re.search(r'^version\s*=\s*"([^"]+)"', body, re.M)
    if name is None or version is None or name.group(1) != "socketify":
        return None
    return version.group(1)


def _metadata_version() -> str | None:
    """The installed distribution's version, or None when there is none."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover (3.8 and older)
        return None
    try:
        return version("socketify")
    except PackageNotFoundError:
        return None


def get_version() -> str:
    """socketify's version: the source tree's if imported from one, else the
    installed metadata's, else ``0+unknown``."""
    return _source_tree_version() or _metadata_version() or UNKNOWN


__version__ = get_version()
