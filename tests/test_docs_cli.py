"""docs/cli.md documents every option of ``python -m socketify --help``,
and documents no option the command does not have."""

import os
import re
import subprocess
import sys

from conftest import ROOT, server_env

OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])\b")


def _help_options():
    out = subprocess.run(
        [sys.executable, "-m", "socketify", "--help"],
        cwd=ROOT,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    # "options:" from Python 3.10 on, "optional arguments:" before
    options_part = re.split(r"^(?:options|optional arguments):", out.stdout, maxsplit=1, flags=re.M)[1]
    # Only the option columns: lines that start (after indentation) with a dash.
    found = set()
    for line in options_part.splitlines():
        stripped = line.strip()
        if stripped.startswith("-"):
            head = re.split(r"\s{2,}", stripped)[0]
            found.update(OPTION.findall(head))
    return found


def _table_options():
    """The options named in the first column of the option table of docs/cli.md."""
    with open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("| Option |", 1)[1].split("\n\n", 1)[0]
    found = set()
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        found.update(OPTION.findall(first))
    return found


def test_every_help_option_is_in_the_docs_table_and_nothing_else():
    in_help = _help_options()
    in_docs = _table_options()
    assert len(in_help) > 30, in_help  # the parser above really read the help
    assert in_help - in_docs == set(), "options missing from docs/cli.md"
    assert in_docs - in_help == set(), "docs/cli.md documents options --help does not have"


def test_every_environment_variable_in_the_table_is_read():
    """Each ``SOCKETIFY_X`` of the table is the variable of its option."""
    from socketify import cli

    names = {"SOCKETIFY_" + dest.upper() for _flags, dest, _kind, _default, _text in cli._OPTIONS}
    names.add("SOCKETIFY_APP")
    with open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8") as f:
        documented = set(re.findall(r"`(SOCKETIFY_[A-Z_]+)`", f.read()))
    assert documented - names == set()
    assert names - documented == set()
