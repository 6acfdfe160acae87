#!/usr/bin/env bash
# Installs what `make lint-native` needs beyond the build (clang-format),
# only when it is missing. Idempotent.
set -euo pipefail
. "$(dirname "$0")/apt_install.sh"
missing=()
command -v clang-format >/dev/null 2>&1 || missing+=(clang-format)
if ! apt_install "lint tools" ${missing[@]+"${missing[@]}"}; then
  echo "missing system packages: ${missing[*]} (install them, then run make again)" >&2
  exit 1
fi
