#!/bin/sh
# Runs the threads lesson with small flags and checks the lines a student should see.
set -eu
out=$("$1" --download_ms=10 --threads=3 --beat_ms=1)
echo "$out"
check() {
  echo "$out" | grep -q -- "$1" || { echo "MISSING: $1"; exit 1; }
}
check "callable: Peking Hot.avi took"
check "DownloadTask: Python"
check "Thread-2"
check "after join the sum is 500500"
check "forced to finish 2 1 0"
check "stopped by token: yes"
check "worker: started"
check "child exited with code 0"
if echo "$out" | grep -q "worker: finished"; then echo "detached worker finished?"; exit 1; fi
if "$1" --threads=0 2>/dev/null; then echo "bad flag accepted"; exit 1; fi
echo PASS
