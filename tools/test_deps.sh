#!/usr/bin/env bash
# Installs the system programs the test suite drives, only when one is
# missing: headless Chromium (the browser interop test) and redis-server
# (pub/sub across processes, redis.asyncio inside handlers), and clang with
# its libFuzzer runtime (coverage-guided `make fuzz`; without it the fuzz
# targets run under gcc and a standalone mutator). `make run` does not need
# them; `make test` and `make fuzz` call this. Idempotent.
set -euo pipefail
. "$(dirname "$0")/apt_install.sh"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# libFuzzer ships in libclang-rt-dev, which clang only recommends: check that
# a fuzzer links, not merely that clang exists.
if ! command -v clang >/dev/null 2>&1 ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
     clang -x c -fsanitize=fuzzer - -o /dev/null >/dev/null 2>&1; then
  missing+=(clang libclang-rt-dev)
fi
if ! apt_install "test programs" ${missing[@]+"${missing[@]}"}; then
  # The tests that need a missing program skip with a visible reason.
  echo "test programs not installed (tests that need them will skip): ${missing[*]}" >&2
fi
