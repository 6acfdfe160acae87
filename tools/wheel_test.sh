#!/usr/bin/env bash
# make wheel-test: the built artifacts, installed as a user installs them,
# tested against the installed package rather than this checkout.
# - The wheel (dist/*.whl) is installed under every other CPython found and
#   serves one request there (tools/wheel_smoke.py); then, in a fresh venv of
#   the oldest (to prove the cp39-abi3 tag), the whole suite runs.
# - The sdist (dist/*.tar.gz) is built by pip in a fresh venv of yet another
#   CPython (the newest found) and the server-side subset runs there
#   ($SDIST_TESTS: the compat subset plus the version tests).
# The tests run from a copy of tests/ and examples/ outside the checkout with
# SOCKETIFY_TEST_INSTALLED=1, so neither pytest nor the servers it starts can
# import socketify from the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILDER=${PY:-.venv/bin/python}
SDIST_TESTS=${SDIST_TESTS:-tests/test_http_api.py tests/test_ws_conformance.py tests/test_extensions.py tests/test_lifecycle.py tests/test_version.py}
WHEEL_TESTS=${WHEEL_TESTS:-tests}
wheel=$(ls dist/*.whl 2>/dev/null | head -n 1 || true)
sdist=$(ls dist/*.tar.gz 2>/dev/null | head -n 1 || true)
[ -n "$wheel" ] && [ -n "$sdist" ] || { echo "no dist/*.whl or dist/*.tar.gz: run make wheel" >&2; exit 1; }
built=$("$BUILDER" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Other CPythons, oldest first: pyenv's, else pythonX.Y on PATH.
others=()
for v in 3.9 3.10 3.11 3.12 3.13; do
  [ "$v" = "$built" ] && continue
  found=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python 2>/dev/null | tail -n 1 || true)
  [ -n "$found" ] || found=$(command -v "python$v" || true)
  if [ -n "$found" ] && "$found" -c pass >/dev/null 2>&1; then others+=("$found"); fi
done
[ ${#others[@]} -gt 0 ] || { echo "no CPython other than $built found (pyenv or PATH)" >&2; exit 1; }
wheel_py=${others[0]}
sdist_py=${others[${#others[@]}-1]}

work=$ROOT/build/wheel-test
rm -rf "$work" && mkdir -p "$work/tree"
# pyproject.toml: pytest settings and the version the tests expect; docs/ and
# README.md: the documentation examples the tests run.
cp -r tests examples docs README.md pyproject.toml "$work/tree/"
find "$work/tree" -name __pycache__ -prune -exec rm -rf {} +

fresh_venv() {  # fresh_venv DIR PYTHON
  "$2" -m venv "$1"
  "$1/bin/pip" install -q -U pip >/dev/null 2>&1 || true
}

pip_install() {  # pip_install VENV REQUIREMENT [PIP OPTIONS...] (quiet unless it fails)
  "$1/bin/pip" install -q "$2" "${@:3}" > "$1.pip.log" 2>&1 || { grep -v "^WARNING: Location" "$1.pip.log" | tail -n 30; exit 1; }
}

run_tests() {  # run_tests VENV LABEL TESTS...
  local venv=$1 label=$2; shift 2
  local start=$SECONDS
  printf '%-40s ' "$label"
  if (cd "$work/tree" && SOCKETIFY_TEST_INSTALLED=1 "$ROOT/tools/pytest.sh" "$venv/bin/python" -q \
        -p no:cacheprovider --timeout 120 "$@" > "$venv.log" 2>&1); then
    # one summary line per pass of tools/pytest.sh
    echo "$(grep -E '^[0-9]+ (passed|skipped|deselected).* in [0-9.]+s' "$venv.log" | paste -sd ';') ($((SECONDS - start)) s)"
  else
    tail -n 40 "$venv.log"; return 1
  fi
}

status=0
# The same wheel under every other CPython found: installed, one request served.
for py in "${others[@]}"; do
  name=$("$py" -c 'import sys; print("cpython%d.%d" % sys.version_info[:2])')
  fresh_venv "$work/smoke-$name" "$py"
  pip_install "$work/smoke-$name" "$ROOT/$wheel"
  printf '%-40s ' "$(basename "$wheel") on $name"
  (cd "$work" && timeout 60 "$work/smoke-$name/bin/python" "$ROOT/tools/wheel_smoke.py") || status=1
done

name=$("$wheel_py" -c 'import sys; print("cpython%d.%d" % sys.version_info[:2])')
fresh_venv "$work/wheel-$name" "$wheel_py"
pip_install "$work/wheel-$name" "$ROOT/$wheel[test]"
run_tests "$work/wheel-$name" "$(basename "$wheel") on $name" $WHEEL_TESTS || status=1

name=$("$sdist_py" -c 'import sys; print("cpython%d.%d" % sys.version_info[:2])')
fresh_venv "$work/sdist-$name" "$sdist_py"
# No cache: pip keys the wheel it builds from a local sdist by the file's
# path, so an earlier build of the same version at the same path (an earlier
# run in the same clone) would be installed instead of this sdist.
pip_install "$work/sdist-$name" "socketify[test] @ file://$ROOT/$sdist" --no-cache-dir
run_tests "$work/sdist-$name" "$(basename "$sdist") on $name" $SDIST_TESTS || status=1
exit $status
