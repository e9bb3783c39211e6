#!/bin/sh
# Smoke test: the lesson binary runs with small flags, exits 0 and prints the
# lines the README promises.
set -eu
out=$("$1" --max_sleep_ms=20 --task_ms=5 --sum_to=1000 --chunk_items=200 2>&1)
echo "$out"
check() {
  echo "$out" | grep -q -- "$1" || { echo "missing: $1"; exit 1; }
}
check "== 1. Pool(4) and five tasks"
check "5 tasks ran in"
check "9 tasks ran in [1-3] processes"
check "Map(Square, 0..9)       = 0 1 4 9 16 25 36 49 64 81"
check "Apply(SumTo, 1000) = 500500"
check "Apply after Close(): an error, at once"
check "4 cancelled, workers reaped"
check "chunksize 1 "
check "task 2 -> ABORTED: .*SIGSEGV"
check "the other 7 tasks -> ok"
"$1" --help 2>&1 | grep -q "multiprocessing.Pool" || { echo "no --help"; exit 1; }
echo PASS
