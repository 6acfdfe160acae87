#!/usr/bin/env bash
# Runs the given tests under every other supported interpreter found here:
# CPython 3.9-3.13 (PATH or pyenv) and PyPy 3 (Debian's pypy3, installed when
# we are root and apt-get exists). Each gets .venv-compat/<name> and its own
# in-place build of the native module; CPython shares the abi3 one.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=("$@")
if ! command -v pypy3 >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pypy3 pypy3-dev >/dev/null 2>&1 || true
fi
pythons=()
for v in ${COMPAT_VERSIONS:-3.9 3.10 3.12 3.13}; do
  found=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python 2>/dev/null | tail -n 1 || true)
  [ -n "$found" ] || found=$(command -v "python$v" || true)
  # pyenv shims exist for versions that are not selected: check it runs
  if [ -n "$found" ] && "$found" -c pass >/dev/null 2>&1; then pythons+=("$found"); fi
done
command -v pypy3 >/dev/null 2>&1 && pythons+=("$(command -v pypy3)")
status=0
for py in "${pythons[@]}"; do
  name=$("$py" -c 'import sys; print(sys.implementation.name + "%d.%d" % sys.version_info[:2])')
  venv=.venv-compat/$name
  if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv" >/dev/null
    "$venv/bin/pip" install -q -U pip setuptools wheel >/dev/null 2>&1 || true
    "$venv/bin/pip" install -q cffi pytest pytest-timeout aiohttp requests msgpack websockets websocket-client >/dev/null
  fi
  if [ "${name#pypy}" != "$name" ]; then
    "$venv/bin/python" setup.py -q build_ext --inplace >/dev/null 2>&1
  fi
  printf '%-12s ' "$name"
  if PYTHONPATH="$PWD" "$venv/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" > "$venv/last.log" 2>&1; then
    tail -n 1 "$venv/last.log"
  else
    tail -n 30 "$venv/last.log"
    status=1
  fi
done
exit $status
