#!/bin/sh
# Runs the threadlocal lesson with small flags and checks the lines a student should see.
set -eu
out=$("$1" --threads=4 --patience_ms=200)
echo "$out"
check() {
  echo "$out" | grep -q -- "$1" || { echo "MISSING: $1"; exit 1; }
}
check "thread bound aaron, saw aaron+aaron; thread bound ss, saw ss+ss"
check "2 of them used their connection 5 times: 2 opened, 2 closed, 2 distinct"
check "4 threads: 1 function-static object, 4 thread_local objects"
check "lock held by another thread at fork:     the child timed out"
check "fix 1, pthread_atfork handlers:          the child got the lock"
check "fix 2, fork from a quiescent point:      the child got the lock"
if "$1" --threads=0 2>/dev/null; then echo "bad flag accepted"; exit 1; fi
echo PASS
