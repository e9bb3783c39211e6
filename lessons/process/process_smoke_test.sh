#!/bin/sh
# Smoke test: the lesson binary runs with small flags, exits 0 and prints the
# lines the README promises.
set -eu
out=$("$1" --download1_ms=20 --download2_ms=30 --times=2 --interval_ms=5 \
  --daemon_lines=4 --unit_ms=5 --sum_to=1000 2>&1)
echo "$out"
check() {
  echo "$out" | grep -q -- "$1" || { echo "missing: $1"; exit 1; }
}
check "== 1. Two downloads"
check "one Process each:"
check "sing: getpid()"
check "daemon=false main ended after"
check "the worker printed 4 of 4, and is gone"
check "active child worker3"
check "on worker3 returned false; IsAlive() = true"
check "1 + ... + 1000 = 500500"
check "exitcode after Terminate(): -15"
"$1" --help 2>&1 | grep -q "multiprocessing.Process" || { echo "no --help"; exit 1; }
echo PASS
