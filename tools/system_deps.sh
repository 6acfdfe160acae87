#!/usr/bin/env bash
# Installs the system packages the build needs (C headers of Python, OpenSSL
# and zlib, the venv module), only when something is missing. Idempotent.
set -euo pipefail
. "$(dirname "$0")/apt_install.sh"
PYTHON=${PYTHON:-python3}
missing=()
inc=$($PYTHON -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$inc/Python.h" ] || missing+=(python3-dev)
$PYTHON -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
echo '#include <openssl/ssl.h>' | ${CC:-cc} -E - >/dev/null 2>&1 || missing+=(libssl-dev)
echo '#include <zlib.h>' | ${CC:-cc} -E - >/dev/null 2>&1 || missing+=(zlib1g-dev)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ! apt_install "" ${missing[@]+"${missing[@]}"}; then
  echo "missing system packages: ${missing[*]} (install them, then run make again)" >&2
  exit 1
fi
