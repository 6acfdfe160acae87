#!/usr/bin/env bash
# make fuzz / make fuzz-long / make fuzz-seeds: every native/fuzz/fuzz_X.c
# against native/src/X.c (fuzz_ws_frame: ws_protocol.c), under ASan + UBSan.
#
# With clang and its libFuzzer runtime (tools/test_deps.sh installs them):
# coverage-guided, FUZZ_TIME seconds per target, FUZZ_JOBS targets at once,
# each starting from its seed corpus native/fuzz/corpus/X/ and its dictionary
# native/fuzz/X.dict. What libFuzzer adds goes to a temporary directory, never
# into the repository; a crashing input is kept as build/fuzz/X-crash-*.
# Without clang: a gcc build driven by standalone_main.c, which runs the seed
# corpus, then FUZZ_RUNS inputs from its own mutator.
#
#   tools/fuzz.sh          bounded fuzzing, one summary line per target
#   tools/fuzz.sh --seeds  each seed corpus once (a regression check, seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_TIME=${FUZZ_TIME:-20}
FUZZ_RUNS=${FUZZ_RUNS:-200000}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
CC=${CC:-cc}
CLANG=${CLANG-$(command -v clang || true)}
mode=${1:-}
out=build/fuzz
mkdir -p "$out"

# clang without libclang-rt-dev compiles but cannot link a fuzzer.
if [ -n "$CLANG" ] && ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
    "$CLANG" -x c -fsanitize=fuzzer - -o "$out/.probe" >/dev/null 2>&1; then
  echo "fuzz: $CLANG cannot link libFuzzer (libclang-rt-dev missing): standalone mutator" >&2
  CLANG=
fi
rm -f "$out/.probe"
engine=$([ -n "$CLANG" ] && echo libFuzzer || echo standalone)

targets=()
for f in native/fuzz/fuzz_*.c; do
  t=${f#native/fuzz/fuzz_}
  targets+=("${t%.c}")
done

build() {  # build TARGET
  local t=$1 src=native/src/$1.c
  [ "$t" = ws_frame ] && src=native/src/ws_protocol.c
  if [ -n "$CLANG" ]; then
    "$CLANG" -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -fno-omit-frame-pointer -Inative/src "$src" "native/fuzz/fuzz_$t.c" -lcrypto -lz -o "$out/fuzz_$t"
  else
    "$CC" -std=c11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined \
      -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Inative/src -Inative/include \
      "$src" "native/fuzz/fuzz_$t.c" native/fuzz/standalone_main.c -lcrypto -lz -o "$out/fuzz_$t"
  fi
}

# The summary line of one libFuzzer log: runs, speed, coverage, corpus.
summary() {  # summary TARGET LOG SECONDS
  awk -v t="$1" -v secs="$3" '
    /^INFO: Seed:/ { seed = $3 }
    /^#[0-9]+[ \t]+(INITED|DONE)/ {
      for (i = 1; i <= NF; i++) { if ($i == "cov:") cov = $(i+1); if ($i == "ft:") ft = $(i+1); if ($i == "corp:") corp = $(i+1) }
      if ($2 == "INITED") { cov0 = cov; ft0 = ft }
    }
    /^stat::number_of_executed_units:/ { runs = $2 }
    /^stat::average_exec_per_sec:/ { rate = $2 }
    /^stat::new_units_added:/ { added = $2 }
    /^stat::peak_rss_mb:/ { rss = $2 }
    END { printf "%-14s %s s, %s runs (%s/s), cov %s ft %s (seeds alone: cov %s ft %s), corpus %s (+%s), rss %s MB, seed %s\n",
                 t, secs, runs, rate, cov, ft, cov0, ft0, corp, added, rss, seed }' "$2"
}

run() {  # run TARGET: writes $out/TARGET.{out,summary,rc}
  local t=$1 log=$out/$1.out work rc=0 start=$SECONDS
  local seeds=(native/fuzz/corpus/"$t"/*)
  local dict=()
  [ -f "native/fuzz/$t.dict" ] && dict=(-dict="native/fuzz/$t.dict")
  if [ "$mode" = --seeds ]; then
    # Given files, libFuzzer and standalone_main.c alike run each one once.
    "$out/fuzz_$t" "${seeds[@]}" > "$log" 2>&1 || rc=$?
    echo "$(printf '%-14s ' "$t")${#seeds[@]} seed inputs: $([ $rc = 0 ] && echo ok || echo FAILED)" > "$out/$t.summary"
  elif [ -n "$CLANG" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/socketify-fuzz-$t.XXXXXX")
    # libFuzzer adds new inputs to the first directory only: the temporary one.
    "$out/fuzz_$t" -max_total_time="$FUZZ_TIME" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      "${dict[@]}" -artifact_prefix="$out/$t-" "$work" "native/fuzz/corpus/$t" > "$log" 2>&1 || rc=$?
    rm -rf "$work"
    summary "$t" "$log" $((SECONDS - start)) > "$out/$t.summary"
  else
    { "$out/fuzz_$t" "${seeds[@]}" && "$out/fuzz_$t" -runs="$FUZZ_RUNS" -seed=1; } > "$log" 2>&1 || rc=$?
    echo "$(printf '%-14s ' "$t")$(tail -n 1 "$log")" > "$out/$t.summary"
  fi
  echo $rc > "$out/$t.rc"
}

echo "fuzz ($engine${mode:+, $mode}): ${targets[*]}"
for t in "${targets[@]}"; do build "$t"; done

# At most FUZZ_JOBS targets at once; each writes only its own files.
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$FUZZ_JOBS" ]; do wait -n || true; done
  rm -f "$out/$t.rc"
  run "$t" &
done
wait
status=0
for t in "${targets[@]}"; do
  if [ "$(cat "$out/$t.rc" 2>/dev/null)" = 0 ]; then
    cat "$out/$t.summary"
  else
    status=1
    cat "$out/$t.summary" 2>/dev/null || true
    echo "--- $t failed; the end of $out/$t.out:"
    tail -n 40 "$out/$t.out"
  fi
done
exit $status
