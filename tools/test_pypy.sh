#!/usr/bin/env bash
# make test-pypy: the whole suite under PyPy 3 (not only the compat subset of
# make test-compat), in .venv-compat/pypy-full with the test extra of
# pyproject.toml and an in-place PyPy build of the core. Packages that ship
# Rust extensions (cryptography, pydantic-core) are taken as wheels only:
# their newest releases have no PyPy 3.9 wheels, and building them needs a
# Rust toolchain; pip then picks the newest release that has one.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/apt_install.sh
# Debian's PyPy 3.9, installed here when missing, so a fresh CI machine has it.
if [ -z "${PYPY:-}" ] && ! command -v pypy3 >/dev/null 2>&1; then
  apt_install "PyPy" pypy3 pypy3-dev || true
fi
pypy=${PYPY:-$(command -v pypy3 || true)}
[ -n "$pypy" ] || { echo "pypy3 not found (apt-get install pypy3 pypy3-dev)" >&2; exit 1; }
venv=.venv-compat/pypy-full
if [ ! -f "$venv/.stamp" ] || [ pyproject.toml -nt "$venv/.stamp" ]; then
  [ -x "$venv/bin/python" ] || "$pypy" -m venv "$venv"
  "$venv/bin/pip" install -q -U pip setuptools wheel cffi >/dev/null 2>&1
  mkdir -p build
  "$venv/bin/python" -c 'import re; t = open("pyproject.toml").read(); print("\n".join(re.findall(r"\"([^\"]+)\"", re.search(r"^test = \[(.*?)\]\s*$", t, re.M | re.S).group(1))))' > build/pypy-test-requirements.txt
  "$venv/bin/pip" install -q --prefer-binary --only-binary cryptography,pydantic-core \
    -r build/pypy-test-requirements.txt > "$venv.pip.log" 2>&1 || { grep -v "^WARNING: Location" "$venv.pip.log" | tail -n 30; exit 1; }
  touch "$venv/.stamp"
fi
"$venv/bin/python" setup.py -q build_ext --inplace >/dev/null 2>&1
PYTHONPATH="$PWD" ./tools/pytest.sh "$venv/bin/python" -q -p no:cacheprovider "${@:-tests}"
