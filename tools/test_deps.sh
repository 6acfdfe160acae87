#!/usr/bin/env bash
# Installs the system programs the test suite drives, only when one is
# missing: headless Chromium (the browser interop test) and redis-server
# (pub/sub across processes, redis.asyncio inside handlers). `make run`
# does not need them; `make test` calls this once. Idempotent.
set -euo pipefail
. "$(dirname "$0")/apt_install.sh"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ! apt_install "test programs" ${missing[@]+"${missing[@]}"}; then
  # The tests that need a missing program skip with a visible reason.
  echo "test programs not installed (tests that need them will skip): ${missing[*]}" >&2
fi
