#!/usr/bin/env bash
# The Python suite in two passes: first every test not marked `serial`, on
# TEST_WORKERS pytest-xdist workers (whole files to one worker, so a module's
# server starts once and its tests keep their order); then the `serial` ones
# alone (they measure a server's RSS, file descriptors or CPU time, or open
# thousands of connections). Most tests wait on a server or a timeout rather
# than compute, so two workers nearly halve the time even on two cores.
# Without pytest-xdist, or with TEST_WORKERS=1, one ordinary pass.
#   tools/pytest.sh PYTHON PYTEST-ARGUMENTS...
set -uo pipefail
py=$1
shift
workers=${TEST_WORKERS:-2}
if [ "$workers" -lt 2 ] || ! "$py" -c 'import xdist' >/dev/null 2>&1; then
  exec "$py" -m pytest "$@"
fi
"$py" -m pytest -n "$workers" --dist loadfile -m "not serial" "$@"
parallel=$?
"$py" -m pytest -m serial "$@"
serial=$?
# 5: no test selected, as when the files given have no serial test
[ $parallel = 5 ] && [ $serial != 5 ] && parallel=0
[ $serial = 5 ] && serial=0
[ $parallel = 0 ] && exit $serial
exit $parallel
