#!/usr/bin/env bash
# Smoke test: the queue_ipc lesson's binary runs with small flags, exits 0, and
# prints the lines the README tells the student to look for.
set -euo pipefail
lesson="$1"
out=$("$lesson" --words=10 --pause_ms=0 --increments=1000 --tasks=10 2>&1)
expect() {
  if ! grep -qE "$1" <<<"$out"; then
    echo "missing line matching: $1"
    echo "---- output ----"
    echo "$out"
    exit 1
  fi
}
expect "each child has its own copy\): Ping 10 \+ Pong 10 = 20 words"
expect "counter passed through a Queue: 10 words in total"
expect "terminate\(\) \(SIGTERM\): wrote ABC, reader got A, never read \[BC\]; reader killed by signal 15 \(SIGTERM\)"
expect "a sentinel message *: wrote ABC, reader got ABC, never read \[\]; reader exited with code 0"
expect "closing the queue *: wrote ABC, reader got ABC, never read \[\]; reader exited with code 0"
expect "add3 number = 15"
expect "interleaved load-load-store-store: unlocked 1, locked 2"
expect "locked 2000$"
expect "num = 3.1415927"
expect "arr = \[0, -1, -2, -3, -4, -5, -6, -7, -8, -9\]"
expect "total 55 \(expected 55\)"
expect "child sent \[42, None, 'hello'\]; parent answered \"got it\"; child exited with code 0"
# gflags' --help exits with status 1 by design; we only check it lists our flags.
help=$("$lesson" --help 2>&1 || true)
grep -q "increments" <<<"$help" || { echo "--help lacks the lesson's flags"; exit 1; }
echo "queue_ipc smoke test: ok"
