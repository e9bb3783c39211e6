#!/bin/sh
# Runs the locks lesson with small flags and checks the lines a student should see.
set -eu
out=$("$1" --threads=20 --natural_runs=2 --pause_ms=1 --iterations=1000 --patience_ms=20)
echo "$out"
check() {
  echo "$out" | grep -q -- "$1" || { echo "MISSING: $1"; exit 1; }
}
check "no lock: balance   1 (lost  19)   std::mutex: balance 20"
check "no lock: balance  10 (lost  10)   std::mutex: balance 20"
check "no lock -> -5, std::mutex -> 0"
check "plain (non-reentrant) lock: deadlock: thread 'depositor' waits for 'wallet'"
check "at most 3 inside at once"
check "the watchdog broke 1 deadlock; its report:"
check "    deadlock: thread '"
check "money in the bank 200"
check "fix 2, std::scoped_lock: 20000 transfers, money 200"
if "$1" --threads=0 2>/dev/null; then echo "bad flag accepted"; exit 1; fi
echo PASS
